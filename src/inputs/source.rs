//! A register file read in batches of rows: CSV blocks and slices of an
//! in-memory frame of [`PanelBuilder::batch_rows`](crate::PanelBuilder::batch_rows) rows, or Parquet row
//! groups (a reader decodes a whole row group even for part of it, so the
//! writer's row groups set the batches).
//!
//! Batches are handed to a function in parallel on the current rayon pool;
//! at most a few batches are held at once, so memory does not grow with the
//! file. Only the projected columns are decoded (Parquet) or parsed (CSV).
//!
//! **CSV blocks.** One reading thread cuts the file at line ends outside
//! quoted fields, every `batch_rows` lines or 8 MiB; the workers parse the
//! blocks' fields with the `csv` crate. A quoted field may hold a line end;
//! a line of more than 64 MiB (a file with no line ends) is an error.
//!
//! **Row numbers.** A CSV block's first row is known only once the blocks
//! before it are parsed. In a [`Mode::Parallel`] pass a batch's
//! [`Batch::row_number`] is therefore exact only for Parquet and frames;
//! callers that meet an error in a parallel pass repeat the pass in
//! [`Mode::InOrder`], where batches run one after the other in file order
//! with exact row numbers and the first error is the first in the file.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::sync_channel;

use polars::prelude::DataFrame;
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::inputs::cell::{Cell, Column, invalid_value, missing_value, parse_error};
use crate::inputs::csv;
use crate::inputs::format::{Format, file_size};
use crate::inputs::reading::{Meter, Mode, Pace, Rows};
use crate::inputs::table::RawTable;

/// A register file or frame, its column names known.
pub(crate) struct Source {
    file: PathBuf,
    columns: Vec<String>,
    /// Each column's type where it matters: `Some(type)` for a Parquet
    /// column trialpanel cannot decode, see [`Source::check_types`].
    unreadable: Vec<Option<String>>,
    /// Whether each column is boolean (Parquet or frame).
    boolean: Vec<bool>,
    /// Size of the file in bytes (0 for a frame).
    size: u64,
    kind: Kind,
}

enum Kind {
    /// A file, read as its format says.
    File(Rows),
    /// An in-memory frame.
    Frame(DataFrame),
}

impl Source {
    /// Open a register file of any [`Format`]: read its header or schema.
    /// A file without data rows is [`Error::Empty`].
    pub(crate) fn open(path: &Path) -> Result<Source> {
        let size = file_size(path)?;
        let header = Format::of(path)?.open(path, size)?;
        Ok(Source {
            file: path.to_path_buf(),
            columns: header.columns,
            unreadable: header.unreadable,
            boolean: header.boolean,
            size: header.size,
            kind: Kind::File(header.rows),
        })
    }

    /// An in-memory frame; `label` names it in errors.
    pub(crate) fn frame(df: DataFrame, label: &str) -> Result<Source> {
        let file = PathBuf::from(label);
        if df.height() == 0 {
            return Err(Error::Empty { file });
        }
        Ok(Source {
            file,
            columns: df
                .get_column_names()
                .iter()
                .map(|n| n.to_string())
                .collect(),
            unreadable: vec![None; df.width()],
            boolean: df
                .dtypes()
                .iter()
                .map(|d| *d == polars::prelude::DataType::Boolean)
                .collect(),
            size: 0,
            kind: Kind::Frame(df),
        })
    }

    /// The file (or label) for error messages.
    pub(crate) fn file(&self) -> &Path {
        &self.file
    }

    /// Column names in file order.
    pub(crate) fn columns(&self) -> &[String] {
        &self.columns
    }

    /// Index of column `name`, or [`Error::MissingColumn`].
    pub(crate) fn index(&self, name: &str) -> Result<usize> {
        self.columns
            .iter()
            .position(|c| c == name)
            .ok_or_else(|| Error::MissingColumn {
                file: self.file.clone(),
                column: name.to_string(),
                found: self.columns.join(", "),
            })
    }

    /// [`Error::ColumnType`] for the first of `projection` that has a type
    /// trialpanel cannot decode, or is boolean and in `numeric` (hours).
    pub(crate) fn check_types(&self, projection: &[usize], numeric: &[usize]) -> Result<()> {
        for &j in projection {
            let dtype = match &self.unreadable[j] {
                Some(t) => t.clone(),
                None if self.boolean[j] && numeric.contains(&j) => {
                    "boolean (hours must be numbers)".into()
                }
                None => continue,
            };
            return Err(Error::ColumnType {
                file: self.file.clone(),
                column: self.columns[j].clone(),
                dtype,
            });
        }
        Ok(())
    }

    /// Run `f` on every batch of the columns `projection` (indices into
    /// [`Source::columns`]); the results in file order.
    pub(crate) fn batches<T: Send>(
        &self,
        projection: &[usize],
        pace: Pace<'_>,
        mode: Mode,
        f: impl Fn(&Batch<'_>) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let meter = Meter::new(pace, self.size);
        let batch_rows = pace.batch_rows;
        match &self.kind {
            Kind::File(Rows::Text { data_start }) => {
                self.csv_batches(*data_start, projection, batch_rows, &meter, mode, f)
            }
            Kind::File(Rows::Slices(reader)) => {
                let slices = reader.slices();
                let rows: usize = slices.iter().map(|(_, n)| n).sum();
                let bytes_per_row = self.size as f64 / rows.max(1) as f64;
                let names: Vec<String> = projection
                    .iter()
                    .map(|&j| self.columns[j].clone())
                    .collect();
                self.frame_batches(&slices, mode, &f, |(offset, len)| {
                    let df = reader.read(&names, offset, len)?;
                    meter.add(len as u64, (len as f64 * bytes_per_row) as u64);
                    self.frame_batch(df, projection, offset)
                })
            }
            Kind::Frame(df) => {
                let slices: Vec<(usize, usize)> = cut(0, df.height(), batch_rows).collect();
                self.frame_batches(&slices, mode, &f, |(offset, len)| {
                    let names: Vec<&str> = projection
                        .iter()
                        .map(|&j| self.columns[j].as_str())
                        .collect();
                    let part = df
                        .select(names)
                        .map_err(|e| parse_error(&self.file, "frame", e))?
                        .slice(offset as i64, len);
                    self.frame_batch(part, projection, offset)
                })
            }
        }
    }

    /// A batch of a decoded frame whose columns are `projection`, in order.
    fn frame_batch(&self, df: DataFrame, projection: &[usize], offset: usize) -> Result<Batch<'_>> {
        let rows = df.height();
        let table = RawTable::from_frame(df, &self.file.to_string_lossy());
        let columns = projection
            .iter()
            .map(|&j| table.column(&self.columns[j]))
            .collect::<Result<Vec<_>>>()?;
        Ok(Batch {
            source: self,
            projection: projection.to_vec(),
            first_row: Some(offset),
            data: Data::Frame { columns, rows },
        })
    }

    /// Run `f` over slices `(offset, len)`, each loaded by `load`.
    fn frame_batches<'s, T: Send>(
        &'s self,
        slices: &[(usize, usize)],
        mode: Mode,
        f: &(impl Fn(&Batch<'_>) -> Result<T> + Sync),
        load: impl Fn((usize, usize)) -> Result<Batch<'s>> + Sync,
    ) -> Result<Vec<T>> {
        match mode {
            Mode::InOrder => slices.iter().map(|&s| f(&load(s)?)).collect(),
            Mode::Parallel => {
                // After an error the remaining batches are skipped (`None`);
                // the error itself makes the collected result an error.
                let failed = AtomicBool::new(false);
                let out: Vec<Option<T>> = slices
                    .par_iter()
                    .map(|&s| {
                        if failed.load(Ordering::Relaxed) {
                            return Ok(None);
                        }
                        let out = load(s).and_then(|b| f(&b));
                        if out.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        out.map(Some)
                    })
                    .collect::<Result<_>>()?;
                Ok(out.into_iter().flatten().collect())
            }
        }
    }

    fn csv_batches<T: Send>(
        &self,
        data_start: u64,
        projection: &[usize],
        batch_rows: usize,
        meter: &Meter<'_>,
        mode: Mode,
        f: impl Fn(&Batch<'_>) -> Result<T> + Sync,
    ) -> Result<Vec<T>> {
        let batch = |block: Vec<u8>, first_row: Option<usize>| Batch {
            source: self,
            projection: projection.to_vec(),
            first_row,
            data: Data::Csv(block),
        };
        let capacity = 2 * rayon::current_num_threads();
        std::thread::scope(|scope| {
            let (tx, rx) = sync_channel::<Result<Vec<u8>>>(capacity);
            let reader = scope.spawn(move || {
                let mut send = |block| tx.send(block).is_ok();
                if let Err(e) = csv::split(&self.file, data_start, batch_rows, meter, &mut send) {
                    send(Err(e));
                }
            });
            let out = match mode {
                Mode::InOrder => {
                    let mut next_row = 0;
                    let mut out = Vec::new();
                    for block in rx.iter() {
                        let b = batch(block?, Some(next_row));
                        next_row += b.count_rows()?;
                        out.push(f(&b)?);
                    }
                    Ok(out)
                }
                Mode::Parallel => {
                    let mut out: Vec<(usize, T)> = rx
                        .into_iter()
                        .enumerate()
                        .par_bridge()
                        .map(|(i, block)| Ok((i, f(&batch(block?, None))?)))
                        .collect::<Result<_>>()?;
                    out.sort_by_key(|(i, _)| *i);
                    Ok(out.into_iter().map(|(_, t)| t).collect())
                }
            };
            // The reader stops at its next send once the receiver is gone.
            let _ = reader.join();
            out
        })
    }
}

/// `(offset, len)` slices of at most `size` rows covering `offset..offset + n`.
fn cut(offset: usize, n: usize, size: usize) -> impl Iterator<Item = (usize, usize)> {
    (0..n)
        .step_by(size.max(1))
        .map(move |s| (offset + s, size.min(n - s)))
}

/// One batch of rows of the projected columns.
pub(crate) struct Batch<'s> {
    source: &'s Source,
    projection: Vec<usize>,
    /// Data row index (0-based) of the batch's first row, when known.
    first_row: Option<usize>,
    data: Data,
}

enum Data {
    /// Whole CSV lines, not yet split into fields.
    Csv(Vec<u8>),
    /// The projected columns.
    Frame { columns: Vec<Column>, rows: usize },
}

/// A batch's projected columns, each readable as cells in row order.
pub(crate) struct Columns<'b> {
    rows: usize,
    columns: Vec<Cells<'b>>,
    /// A row that cannot be split into fields (a CSV row with the wrong
    /// number of fields or a field that is not UTF-8), and its error. The
    /// columns hold only the rows before it.
    broken: Option<(usize, Error)>,
}

enum Cells<'b> {
    /// CSV fields: the column's text and each field's end.
    Text {
        text: String,
        ends: Vec<usize>,
    },
    Frame(&'b Column),
}

impl<'b> Columns<'b> {
    /// Number of rows in the columns (before a broken row).
    pub(crate) fn rows(&self) -> usize {
        self.rows
    }

    /// Replace `out` with the cells of projected column `j` at rows `rows`.
    pub(crate) fn fill<'c>(
        &'c self,
        j: usize,
        rows: std::ops::Range<usize>,
        out: &mut Vec<Cell<'c>>,
    ) {
        match &self.columns[j] {
            Cells::Frame(column) => column.fill(rows, out),
            Cells::Text { text, ends } => {
                out.clear();
                out.extend(text_cells(text, ends, rows));
            }
        }
    }

    /// The cell of projected column `j` at row `i`.
    pub(crate) fn cell(&self, j: usize, i: usize) -> Cell<'_> {
        match &self.columns[j] {
            Cells::Frame(column) => column.cell(i),
            Cells::Text { text, ends } => text_cells(text, ends, i..i + 1)
                .next()
                .unwrap_or(Cell::Null),
        }
    }

    /// Replace `out` with the [`Cell::short_key`]s of projected column `j`
    /// at rows `rows` (0 for a cell without one).
    pub(crate) fn fill_keys(&self, j: usize, rows: std::ops::Range<usize>, out: &mut Vec<u128>) {
        match &self.columns[j] {
            Cells::Frame(column) => column.fill_keys(rows, out),
            Cells::Text { text, ends } => {
                out.clear();
                out.extend(text_cells(text, ends, rows).map(|c| c.short_key().unwrap_or(0)));
            }
        }
    }

    /// The broken row (see [`Columns`]), taken out.
    pub(crate) fn take_broken(&mut self) -> Option<(usize, Error)> {
        self.broken.take()
    }
}

/// The cells of CSV column text `text` (fields ending at `ends`) at rows
/// `rows` (clipped to the rows there are).
fn text_cells<'c>(
    text: &'c str,
    ends: &'c [usize],
    rows: std::ops::Range<usize>,
) -> impl Iterator<Item = Cell<'c>> + 'c {
    let rows = rows.start.min(ends.len())..rows.end.min(ends.len());
    let first = rows.start.checked_sub(1).map_or(0, |i| ends[i]);
    ends[rows].iter().scan(first, move |a, &b| {
        let cell = Cell::Str(text.get(*a..b).unwrap_or_default());
        *a = b;
        Some(cell)
    })
}

impl<'s> Batch<'s> {
    /// The projected columns; a CSV block is split into fields here.
    pub(crate) fn columns(&self) -> Result<Columns<'_>> {
        match &self.data {
            Data::Frame { columns, rows } => Ok(Columns {
                rows: *rows,
                columns: columns.iter().map(Cells::Frame).collect(),
                broken: None,
            }),
            Data::Csv(block) => self.split_fields(block),
        }
    }

    fn split_fields(&self, block: &[u8]) -> Result<Columns<'_>> {
        let width = self.source.columns.len();
        let mut reader = ::csv::ReaderBuilder::new()
            .has_headers(false)
            .flexible(true)
            .from_reader(block);
        let mut record = ::csv::ByteRecord::new();
        let mut bytes: Vec<Vec<u8>> = vec![Vec::new(); self.projection.len()];
        let mut ends: Vec<Vec<usize>> = vec![Vec::new(); self.projection.len()];
        let (mut rows, mut broken) = (0, None);
        while reader
            .read_byte_record(&mut record)
            .map_err(|e| csv::error(&self.source.file, e))?
        {
            if record.len() != width {
                let message = format!(
                    "row {} has {} fields where the header has {width}",
                    self.row_number(rows),
                    record.len()
                );
                broken = Some((
                    rows,
                    Error::Parse {
                        file: self.source.file.clone(),
                        format: "CSV",
                        message,
                    },
                ));
                break;
            }
            for (j, &c) in self.projection.iter().enumerate() {
                bytes[j].extend_from_slice(&record[c]);
                ends[j].push(bytes[j].len());
            }
            rows += 1;
        }
        let mut columns = Vec::with_capacity(bytes.len());
        for (j, (b, ends)) in bytes.into_iter().zip(ends).enumerate() {
            match String::from_utf8(b) {
                Ok(text) => columns.push(Cells::Text { text, ends }),
                Err(e) => {
                    // The first field that is not UTF-8; the columns keep the
                    // rows before it.
                    let bad = ends.partition_point(|&end| end <= e.utf8_error().valid_up_to());
                    let start = bad.checked_sub(1).map_or(0, |i| ends[i]);
                    let field = &e.as_bytes()[start..ends[bad]];
                    let value = String::from_utf8_lossy(field).into_owned();
                    let problem = "not UTF-8 text (save the file as UTF-8)";
                    if broken.as_ref().is_none_or(|(row, _)| bad < *row) {
                        broken = Some((bad, self.invalid(bad, j, &Cell::Str(&value), problem)));
                    }
                    let text = String::from_utf8_lossy(e.as_bytes()).into_owned();
                    columns.push(Cells::Text { text, ends });
                }
            }
        }
        if let Some((row, _)) = &broken {
            rows = rows.min(*row);
        }
        Ok(Columns {
            rows,
            columns,
            broken,
        })
    }

    /// Number of rows (splits a CSV block).
    fn count_rows(&self) -> Result<usize> {
        let mut columns = self.columns()?;
        Ok(columns.rows() + usize::from(columns.take_broken().is_some()))
    }

    /// 1-based data row number of the batch's row `index` (exact in
    /// [`Mode::InOrder`] and for Parquet and frames).
    pub(crate) fn row_number(&self, index: usize) -> usize {
        self.first_row.unwrap_or(0) + index + 1
    }

    /// The file (or label) for error messages.
    pub(crate) fn file(&self) -> &Path {
        &self.source.file
    }

    /// The name of projected column `j`.
    pub(crate) fn column(&self, j: usize) -> &str {
        &self.source.columns[self.projection[j]]
    }

    /// [`Error::InvalidValue`] at row `index`, projected column `j`.
    pub(crate) fn invalid(
        &self,
        index: usize,
        j: usize,
        value: &Cell<'_>,
        problem: impl Into<String>,
    ) -> Error {
        invalid_value(
            &self.source.file,
            self.row_number(index),
            self.column(j),
            value,
            problem,
        )
    }

    /// [`Error::MissingValue`] at row `index`, projected column `j`.
    pub(crate) fn missing(&self, index: usize, j: usize) -> Error {
        missing_value(&self.source.file, self.row_number(index), self.column(j))
    }
}
