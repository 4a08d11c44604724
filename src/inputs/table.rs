//! A whole input table (the person table, the code table, the survey...)
//! read from a file of any [`Format`] or wrapped from a frame, with typed
//! access to its columns as [`Cell`]s.

use std::path::{Path, PathBuf};

use polars::prelude::{ChunkAgg, DataFrame, DataType};

use crate::error::{Error, Result};
use crate::inputs::cell::{Cell, Column, invalid_value, missing_value};
use crate::inputs::format::{Format, file_size};

/// A table read from one file (or wrapped from a frame), its columns not
/// yet interpreted: the inputs' readers take typed cells from it.
pub(crate) struct RawTable {
    pub(crate) file: PathBuf,
    df: DataFrame,
    /// Parquet columns not read because trialpanel cannot decode their
    /// type (name, type); an error only if one is used.
    unreadable: Vec<(String, String)>,
}

impl RawTable {
    /// Read a table file of any [`Format`]. A UTF-8 byte-order mark on the
    /// first column name is removed.
    pub(crate) fn read(path: &Path) -> Result<RawTable> {
        file_size(path)?;
        let (df, unreadable) = Format::of(path)?.read_table(path)?;
        let mut table = RawTable {
            file: path.to_path_buf(),
            df,
            unreadable,
        };
        table.strip_bom();
        Ok(table)
    }

    /// Wrap an in-memory frame; `label` stands for the file name in errors.
    pub(crate) fn from_frame(df: DataFrame, label: &str) -> RawTable {
        RawTable {
            file: PathBuf::from(label),
            df,
            unreadable: Vec::new(),
        }
    }

    fn strip_bom(&mut self) {
        let first = self.df.get_column_names().first().map(|n| n.to_string());
        if let Some(name) = first
            && let Some(clean) = name.strip_prefix('\u{feff}')
        {
            let clean = clean.to_string();
            // Renaming to a fresh name cannot fail unless it collides; if it
            // does, the BOM-prefixed name stays and the missing-column error
            // will show it.
            let _ = self.df.rename(&name, clean.into());
        }
    }

    /// Number of data rows.
    pub(crate) fn height(&self) -> usize {
        self.df.height()
    }

    /// Column names: the columns read, then any Parquet columns of a type
    /// trialpanel cannot read.
    pub(crate) fn column_names(&self) -> Vec<String> {
        self.df
            .get_column_names()
            .iter()
            .map(|n| n.to_string())
            .chain(self.unreadable.iter().map(|(n, _)| n.clone()))
            .collect()
    }

    /// The column `name`, or [`Error::MissingColumn`].
    pub(crate) fn column(&self, name: &str) -> Result<Column> {
        if let Some((_, dtype)) = self.unreadable.iter().find(|(n, _)| n == name) {
            return Err(Error::ColumnType {
                file: self.file.clone(),
                column: name.to_string(),
                dtype: dtype.clone(),
            });
        }
        let col = self.df.column(name).map_err(|_| Error::MissingColumn {
            file: self.file.clone(),
            column: name.to_string(),
            found: self.column_names().join(", "),
        })?;
        let series = col.as_materialized_series();
        let dtype = series.dtype();
        let type_error = || Error::ColumnType {
            file: self.file.clone(),
            column: name.to_string(),
            dtype: dtype.to_string(),
        };
        let cast = |to: &DataType| series.cast(to).map_err(|_| type_error());
        Ok(match dtype {
            DataType::String => Column::Str(series.str().map_err(|_| type_error())?.clone()),
            DataType::Float64 | DataType::Float32 => Column::Float(
                cast(&DataType::Float64)?
                    .f64()
                    .map_err(|_| type_error())?
                    .clone(),
            ),
            DataType::Null => Column::Str(
                cast(&DataType::String)?
                    .str()
                    .map_err(|_| type_error())?
                    .clone(),
            ),
            // Values past i64::MAX keep their exact text (an id stays the
            // id; as hours it is out of range at its row).
            DataType::UInt64
                if series
                    .u64()
                    .ok()
                    .and_then(|ca| ca.max())
                    .is_some_and(|m| m > i64::MAX as u64) =>
            {
                Column::Str(
                    cast(&DataType::String)?
                        .str()
                        .map_err(|_| type_error())?
                        .clone(),
                )
            }
            d if d.is_integer() || matches!(d, DataType::Boolean) => Column::Int(
                cast(&DataType::Int64)?
                    .i64()
                    .map_err(|_| type_error())?
                    .clone(),
            ),
            _ => return Err(type_error()),
        })
    }

    /// An [`Error::InvalidValue`] at data row `index` (0-based) of `column`.
    pub(crate) fn invalid(
        &self,
        index: usize,
        column: &str,
        value: &Cell<'_>,
        problem: impl Into<String>,
    ) -> Error {
        invalid_value(&self.file, index + 1, column, value, problem)
    }

    /// An [`Error::MissingValue`] at data row `index` (0-based) of `column`.
    pub(crate) fn missing(&self, index: usize, column: &str) -> Error {
        missing_value(&self.file, index + 1, column)
    }
}
