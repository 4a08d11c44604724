//! Writing tables: the result CSV files and the simulator's registers
//! (CSV and Parquet, one row group at a time for large files).

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::prelude::{CsvWriter, DataFrame, ParquetWriter, PolarsError, SerWriter};

use crate::error::{Error, Result};

/// Create `path` for writing, and a mapper of writer errors that names it.
fn create(path: &Path) -> Result<(File, impl Fn(PolarsError) -> Error + '_)> {
    let write_err = move |message: String| Error::Write {
        file: path.to_path_buf(),
        message,
    };
    let file = File::create(path).map_err(|e| write_err(e.to_string()))?;
    Ok((file, move |e: PolarsError| write_err(e.to_string())))
}

/// Write a DataFrame to CSV (empty cell for missing values, full precision).
pub(crate) fn write_csv(df: &mut DataFrame, path: &Path) -> Result<()> {
    let (file, err) = create(path)?;
    CsvWriter::new(file)
        .include_header(true)
        .finish(df)
        .map_err(err)
}

/// Write a DataFrame to Parquet.
pub(crate) fn write_parquet(df: &mut DataFrame, path: &Path) -> Result<()> {
    let (file, err) = create(path)?;
    ParquetWriter::new(file).finish(df).map(|_| ()).map_err(err)
}

/// A Parquet file written one DataFrame (row group) at a time.
pub(crate) struct ParquetBatches {
    path: PathBuf,
    writer: polars::io::parquet::write::BatchedWriter<File>,
}

impl ParquetBatches {
    /// Create `path` for frames with the schema of `first` (not written).
    pub(crate) fn create(path: &Path, first: &DataFrame) -> Result<ParquetBatches> {
        let (file, err) = create(path)?;
        let writer = ParquetWriter::new(file)
            .batched(first.schema())
            .map_err(&err)?;
        Ok(ParquetBatches {
            path: path.to_path_buf(),
            writer,
        })
    }

    /// Append `df` as one row group.
    pub(crate) fn write(&mut self, df: &DataFrame) -> Result<()> {
        self.writer.write_batch(df).map_err(|e| self.error(e))
    }

    /// Write the file's footer.
    pub(crate) fn finish(self) -> Result<()> {
        self.writer.finish().map(|_| ()).map_err(|e| self.error(e))
    }

    fn error(&self, e: PolarsError) -> Error {
        Error::Write {
            file: self.path.clone(),
            message: e.to_string(),
        }
    }
}
