//! Parquet: whole tables, and registers read a row group at a time (a
//! reader decodes a whole row group even for part of it, so the writer's
//! row groups set the batches). Columns keep their types; those trialpanel
//! cannot decode are named in an error only if they are used.

use std::fs::File;
use std::path::{Path, PathBuf};

use polars::io::parquet::metadata::FileMetadataRef;
use polars::prelude::{ArrowDataType, DataFrame, ParallelStrategy, ParquetReader, SerReader};

use crate::error::{Error, Result};
use crate::inputs::cell::parse_error;
use crate::inputs::reading::{Header, Rows, SliceReader};

/// A whole Parquet table: the readable columns, and the (name, type) of
/// those of a type trialpanel cannot decode.
pub(crate) fn read_frame(path: &Path) -> Result<(DataFrame, Vec<(String, String)>)> {
    let file = path.to_path_buf();
    let mut reader = ParquetReader::new(open_file(path)?);
    let schema = reader
        .schema()
        .map_err(|e| parse_error(&file, "Parquet", e))?;
    let (readable, other): (Vec<_>, Vec<_>) =
        schema.iter_values().partition(|f| readable_type(&f.dtype));
    let unreadable = other
        .iter()
        .map(|f| (f.name.to_string(), type_name(&f.dtype)))
        .collect();
    let df = reader
        .with_columns(Some(readable.iter().map(|f| f.name.to_string()).collect()))
        .finish()
        .map_err(|e| parse_error(&file, "Parquet", e))?;
    Ok((df, unreadable))
}

/// A Parquet register of `size` bytes for the batch reader: its schema and
/// row groups read. A file without rows is [`Error::Empty`].
pub(crate) fn open(path: &Path, size: u64) -> Result<Header> {
    let file = path.to_path_buf();
    let mut reader = ParquetReader::new(open_file(path)?);
    let schema = reader
        .schema()
        .map_err(|e| parse_error(&file, "Parquet", e))?;
    let metadata = reader
        .get_metadata()
        .map_err(|e| parse_error(&file, "Parquet", e))?
        .clone();
    if metadata.num_rows == 0 {
        return Err(Error::Empty { file });
    }
    let fields: Vec<_> = schema.iter_values().collect();
    let columns = fields.iter().map(|f| f.name.to_string()).collect();
    let unreadable = fields
        .iter()
        .map(|f| (!readable_type(&f.dtype)).then(|| type_name(&f.dtype)))
        .collect();
    let boolean = fields
        .iter()
        .map(|f| f.dtype == ArrowDataType::Boolean)
        .collect();
    let groups = RowGroups { file, metadata };
    Ok(Header {
        columns,
        unreadable,
        boolean,
        size,
        rows: Rows::Slices(Box::new(groups)),
    })
}

fn open_file(path: &Path) -> Result<File> {
    File::open(path).map_err(|source| Error::Io {
        file: path.to_path_buf(),
        source,
    })
}

/// A Parquet file read a row group at a time.
struct RowGroups {
    file: PathBuf,
    metadata: FileMetadataRef,
}

impl SliceReader for RowGroups {
    fn slices(&self) -> Vec<(usize, usize)> {
        let mut slices = Vec::with_capacity(self.metadata.row_groups.len());
        let mut offset = 0;
        for rg in &self.metadata.row_groups {
            let n = rg.num_rows();
            slices.push((offset, n));
            offset += n;
        }
        slices
    }

    fn read(&self, names: &[String], offset: usize, len: usize) -> Result<DataFrame> {
        let mut reader = ParquetReader::new(open_file(&self.file)?)
            .with_columns(Some(names.to_vec()))
            .with_slice(Some((offset, len)))
            .read_parallel(ParallelStrategy::None);
        reader.set_metadata(self.metadata.clone());
        reader
            .finish()
            .map_err(|e| parse_error(&self.file, "Parquet", e))
    }
}

/// Whether trialpanel decodes Parquet columns of this Arrow type: text,
/// integers, floating point, booleans and all-null columns. Others (decimal,
/// dates and times, lists, structs, dictionaries) are not read; using one
/// is [`Error::ColumnType`].
pub(crate) fn readable_type(dtype: &ArrowDataType) -> bool {
    use ArrowDataType as A;
    matches!(
        dtype,
        A::Null
            | A::Boolean
            | A::Int8
            | A::Int16
            | A::Int32
            | A::Int64
            | A::UInt8
            | A::UInt16
            | A::UInt32
            | A::UInt64
            | A::Float32
            | A::Float64
            | A::Utf8
            | A::LargeUtf8
            | A::Utf8View
    )
}

/// A Parquet column type for an error message, with what to do.
pub(crate) fn type_name(dtype: &ArrowDataType) -> String {
    use ArrowDataType as A;
    let name = match dtype {
        A::Decimal(p, s) | A::Decimal32(p, s) | A::Decimal64(p, s) | A::Decimal256(p, s) => {
            format!("decimal({p}, {s})")
        }
        A::Date32 | A::Date64 => "date".into(),
        A::Timestamp(..) => "timestamp".into(),
        other => format!("{other:?}"),
    };
    format!("{name} (store it as text, an integer or a floating-point number)")
}
