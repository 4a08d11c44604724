//! The file formats trialpanel reads, told apart by extension in one place
//! ([`Format::of`]); each format's reading lives in its own module.
//!
//! Adding a format is a variant here, its two arms in [`Format::read_table`]
//! and [`Format::open`], and a module that reads a whole table into a frame
//! and opens a register for the batch reader (as a [`SliceReader`] of
//! decoded frames, like Parquet's row groups, or as text blocks like CSV).
//!
//! [`SliceReader`]: crate::inputs::reading::SliceReader

use std::path::Path;

use polars::prelude::DataFrame;

use crate::error::{Error, Result};
use crate::inputs::reading::Header;
use crate::inputs::{csv, parquet};

/// A file format of the inputs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    /// `.csv`: comma-separated text with a header line, UTF-8.
    Csv,
    /// `.parquet` or `.pq`.
    Parquet,
}

impl Format {
    /// The format of `path`, by its extension (any letter case), or
    /// [`Error::UnsupportedFormat`].
    pub(crate) fn of(path: &Path) -> Result<Format> {
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        match ext.as_deref() {
            Some("csv") => Ok(Format::Csv),
            Some("parquet" | "pq") => Ok(Format::Parquet),
            _ => Err(Error::UnsupportedFormat {
                file: path.to_path_buf(),
            }),
        }
    }

    /// A whole table: its readable columns, and the (name, type) of columns
    /// of a type trialpanel cannot decode (an error only if one is used).
    pub(crate) fn read_table(self, path: &Path) -> Result<(DataFrame, Vec<(String, String)>)> {
        match self {
            Format::Csv => Ok((csv::read_frame(path)?, Vec::new())),
            Format::Parquet => parquet::read_frame(path),
        }
    }

    /// A register file of `size` bytes opened for the batch reader: its
    /// header, and how its rows are read.
    pub(crate) fn open(self, path: &Path, size: u64) -> Result<Header> {
        match self {
            Format::Csv => csv::open(path, size),
            Format::Parquet => parquet::open(path, size),
        }
    }
}

/// The size of the file at `path`: [`Error::Io`] when it cannot be read or
/// is a directory, [`Error::Empty`] when it has no bytes.
pub(crate) fn file_size(path: &Path) -> Result<u64> {
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    if meta.is_dir() {
        return Err(io(std::io::Error::other("is a directory, not a file")));
    }
    if meta.len() == 0 {
        return Err(Error::Empty {
            file: path.to_path_buf(),
        });
    }
    Ok(meta.len())
}
