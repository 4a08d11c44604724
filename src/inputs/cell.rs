//! One cell of an input column, whatever the format: text (CSV, and text
//! columns of Parquet or a frame), an integer or a float; and the errors
//! that name a cell's file, row, column and value.

use std::borrow::Cow;
use std::path::Path;

use polars::prelude::{Float64Chunked, Int64Chunked, PolarsError, StaticArray, StringChunked};

use crate::error::Error;

/// One cell of a column.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    Str(&'a str),
    Int(i64),
    Float(f64),
}

impl Cell<'_> {
    /// The cell as text, for error messages and text-valued columns.
    pub(crate) fn text(&self) -> Cow<'_, str> {
        match self {
            Cell::Null => Cow::Borrowed(""),
            Cell::Str(s) => Cow::Borrowed(s),
            Cell::Int(i) => Cow::Owned(i.to_string()),
            Cell::Float(x) => Cow::Owned(x.to_string()),
        }
    }

    /// A key that is equal exactly for equal cells, for a text of 1 to 12
    /// bytes (its length and its bytes, the layout of an Arrow string view)
    /// or an integer; `None` for other cells. Memos of distinct values look
    /// cells up by it without hashing or comparing strings.
    pub(crate) fn short_key(&self) -> Option<u128> {
        match self {
            Cell::Str(s) if (1..=12).contains(&s.len()) => {
                let mut buf = [0u8; 16];
                buf[4..4 + s.len()].copy_from_slice(s.as_bytes());
                buf[..4].copy_from_slice(&(s.len() as u32).to_le_bytes());
                Some(u128::from_le_bytes(buf))
            }
            // A length field no text of 1 to 12 bytes has.
            Cell::Int(i) => Some(u128::from(u32::MAX) | u128::from(*i as u64) << 32),
            _ => None,
        }
    }

    /// `true` for a null cell or a text cell that is blank.
    pub(crate) fn is_blank(&self) -> bool {
        match self {
            Cell::Null => true,
            // Most cells start with a visible ASCII character: no trimming.
            Cell::Str(s) => {
                !s.as_bytes().first().is_some_and(u8::is_ascii_graphic) && s.trim().is_empty()
            }
            _ => false,
        }
    }
}

/// A column's data with one concrete type.
pub(crate) enum Column {
    Str(StringChunked),
    Int(Int64Chunked),
    Float(Float64Chunked),
}

impl Column {
    /// Replace `out` with the cells of rows `rows` (typed loops over the
    /// column's arrays, no per-cell dispatch).
    pub(crate) fn fill<'a>(&'a self, rows: std::ops::Range<usize>, out: &mut Vec<Cell<'a>>) {
        out.clear();
        let mut offset = 0;
        let overlap = |offset: usize, len: usize| overlap(&rows, offset, len);
        match self {
            Column::Str(ca) => {
                for arr in ca.downcast_iter() {
                    for i in overlap(offset, arr.len()) {
                        out.push(arr.get(i).map_or(Cell::Null, Cell::Str));
                    }
                    offset += arr.len();
                }
            }
            Column::Int(ca) => {
                for arr in ca.downcast_iter() {
                    for i in overlap(offset, arr.len()) {
                        out.push(arr.get(i).map_or(Cell::Null, Cell::Int));
                    }
                    offset += arr.len();
                }
            }
            Column::Float(ca) => {
                for arr in ca.downcast_iter() {
                    for i in overlap(offset, arr.len()) {
                        out.push(arr.get(i).map_or(Cell::Null, Cell::Float));
                    }
                    offset += arr.len();
                }
            }
        }
    }

    /// The cell at row `i` (null past the end).
    pub(crate) fn cell(&self, i: usize) -> Cell<'_> {
        let cell = match self {
            Column::Str(ca) => ca.get(i).map(Cell::Str),
            Column::Int(ca) => ca.get(i).map(Cell::Int),
            Column::Float(ca) => ca.get(i).map(Cell::Float),
        };
        cell.unwrap_or(Cell::Null)
    }

    /// Replace `out` with the [`Cell::short_key`]s of rows `rows` (0 for a
    /// cell without one). For Arrow string views of up to 12 bytes the key
    /// is the view itself, read without touching the text.
    pub(crate) fn fill_keys(&self, rows: std::ops::Range<usize>, out: &mut Vec<u128>) {
        out.clear();
        let mut offset = 0;
        let overlap = |offset: usize, len: usize| overlap(&rows, offset, len);
        match self {
            Column::Str(ca) => {
                for arr in ca.downcast_iter() {
                    let views = arr.views();
                    for i in overlap(offset, arr.len()) {
                        let v = views[i];
                        let short = (1..=12).contains(&v.length) && is_valid(arr, i);
                        out.push(if short { v.as_u128() } else { 0 });
                    }
                    offset += arr.len();
                }
            }
            Column::Int(ca) => {
                for arr in ca.downcast_iter() {
                    for i in overlap(offset, arr.len()) {
                        let cell = arr.get(i).map_or(Cell::Null, Cell::Int);
                        out.push(cell.short_key().unwrap_or(0));
                    }
                    offset += arr.len();
                }
            }
            Column::Float(_) => out.resize(rows.len(), 0),
        }
    }

    /// The cells, row by row (filled a block of rows at a time in one
    /// typed pass: no per-cell dispatch, and no copy of the whole column).
    pub(crate) fn cells(&self) -> Cells<'_> {
        let len = match self {
            Column::Str(ca) => ca.len(),
            Column::Int(ca) => ca.len(),
            Column::Float(ca) => ca.len(),
        };
        Cells {
            column: self,
            next: 0,
            len,
            block: Vec::new().into_iter(),
        }
    }
}

/// Rows per block of [`Column::cells`].
const CELL_BLOCK: usize = 4096;

/// The iterator of [`Column::cells`].
pub(crate) struct Cells<'a> {
    column: &'a Column,
    next: usize,
    len: usize,
    block: std::vec::IntoIter<Cell<'a>>,
}

impl<'a> Iterator for Cells<'a> {
    type Item = Cell<'a>;

    fn next(&mut self) -> Option<Cell<'a>> {
        if let Some(cell) = self.block.next() {
            return Some(cell);
        }
        if self.next >= self.len {
            return None;
        }
        let rows = self.next..(self.next + CELL_BLOCK).min(self.len);
        self.next = rows.end;
        let mut buf = Vec::with_capacity(rows.len());
        self.column.fill(rows, &mut buf);
        self.block = buf.into_iter();
        self.block.next()
    }
}

/// The rows of `rows` inside an array of `len` rows starting at row
/// `offset`, as indices into the array.
fn overlap(rows: &std::ops::Range<usize>, offset: usize, len: usize) -> std::ops::Range<usize> {
    rows.start.max(offset) - offset..rows.end.min(offset + len).max(offset) - offset
}

/// Whether row `i` of an Arrow array is not null.
fn is_valid<A: StaticArray>(array: &A, i: usize) -> bool {
    array.is_valid(i)
}

/// [`Error::InvalidValue`] at 1-based data row `row`.
pub(crate) fn invalid_value(
    file: &Path,
    row: usize,
    column: &str,
    value: &Cell<'_>,
    problem: impl Into<String>,
) -> Error {
    Error::InvalidValue {
        file: file.to_path_buf(),
        row,
        column: column.to_string(),
        value: value.text().into_owned(),
        problem: problem.into(),
    }
}

/// [`Error::MissingValue`] at 1-based data row `row`.
pub(crate) fn missing_value(file: &Path, row: usize, column: &str) -> Error {
    Error::MissingValue {
        file: file.to_path_buf(),
        row,
        column: column.to_string(),
    }
}

pub(crate) fn parse_error(file: &Path, format: &'static str, err: PolarsError) -> Error {
    Error::Parse {
        file: file.to_path_buf(),
        format,
        message: err.to_string(),
    }
}

/// Parse a cell as a finite number. Text is trimmed; blank is `Ok(None)`.
pub(crate) fn number(cell: &Cell<'_>) -> std::result::Result<Option<f64>, &'static str> {
    let x = match cell {
        Cell::Null => return Ok(None),
        Cell::Int(i) => *i as f64,
        Cell::Float(x) => *x,
        Cell::Str(s) => {
            let t = s.trim();
            if t.is_empty() {
                return Ok(None);
            }
            t.parse::<f64>().map_err(|_| "not a number")?
        }
    };
    if x.is_finite() {
        Ok(Some(x))
    } else {
        Err("not a finite number")
    }
}
