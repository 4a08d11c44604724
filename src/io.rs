//! Reading input tables: CSV or Parquet into a polars `DataFrame`, and a
//! uniform cell view over its columns.
//!
//! CSV files are read with every column as text, so that trialpanel parses
//! each cell itself and can name the row, column and value it rejects.
//! Parquet columns keep their types (integers, floats, text, booleans).

use std::borrow::Cow;
use std::fs::File;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};

use polars::prelude::*;

use crate::error::{Error, Result};

/// Rows and bytes read so far, for a progress line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadProgress {
    /// Data rows read.
    pub rows: u64,
    /// Bytes of the file read (CSV), or of the row groups decoded (Parquet).
    pub bytes: u64,
    /// Size of the file in bytes (0 for an in-memory frame).
    pub total_bytes: u64,
    /// Time since the read started.
    pub elapsed: std::time::Duration,
}

/// How a file is read: rows per batch, and whom to tell how far it got.
#[derive(Clone, Copy)]
pub(crate) struct Pace<'a> {
    /// Rows per batch (CSV blocks and frame slices).
    pub(crate) batch_rows: usize,
    /// Called at most every 250 ms with the rows and bytes read.
    pub(crate) progress: Option<&'a (dyn Fn(&LoadProgress) + Sync)>,
}

/// A table read from one file.
pub(crate) struct Table {
    pub(crate) file: PathBuf,
    df: DataFrame,
    /// Parquet columns not read because trialpanel cannot decode their
    /// type (name, type); an error only if one is used.
    unreadable: Vec<(String, String)>,
}

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

impl Table {
    /// Read a `.csv` or `.parquet` file. A UTF-8 byte-order mark on the first
    /// CSV column name is removed.
    pub(crate) fn read(path: &Path) -> Result<Table> {
        let file = path.to_path_buf();
        let ext = path
            .extension()
            .and_then(|e| e.to_str())
            .map(str::to_ascii_lowercase);
        let meta = std::fs::metadata(path).map_err(|source| Error::Io {
            file: file.clone(),
            source,
        })?;
        if meta.is_dir() {
            return Err(Error::Io {
                file,
                source: std::io::Error::other("is a directory, not a file"),
            });
        }
        if meta.len() == 0 {
            return Err(Error::Empty { file });
        }
        let mut unreadable = Vec::new();
        let df = match ext.as_deref() {
            Some("csv") => {
                // Names checked first: polars would rename a second `x` to
                // `x_duplicated_0`.
                let (names, _) = csv_header(path)?;
                // Not rechunked: the columns are read chunk by chunk, and
                // one copy of a large table is enough.
                let df = CsvReadOptions::default()
                    .with_has_header(true)
                    .with_infer_schema_length(Some(0))
                    .with_rechunk(false)
                    .try_into_reader_with_file_path(Some(file.clone()))
                    .and_then(|r| r.finish())
                    .map_err(|e| {
                        diagnose_csv(path, names.len())
                            .unwrap_or_else(|| parse_error(&file, "CSV", e))
                    })?;
                // The csv crate found a data row that polars did not.
                if df.height() == 0 {
                    return Err(Error::Parse {
                        file,
                        format: "CSV",
                        message: "its lines end in a lone carriage return (CR, old Mac line \
                                  ends); save it with LF or CRLF line ends"
                            .into(),
                    });
                }
                df
            }
            Some("parquet") | Some("pq") => {
                let handle = File::open(path).map_err(|source| Error::Io {
                    file: file.clone(),
                    source,
                })?;
                let mut reader = ParquetReader::new(handle);
                let schema = reader
                    .schema()
                    .map_err(|e| parse_error(&file, "Parquet", e))?;
                let (readable, other): (Vec<_>, Vec<_>) =
                    schema.iter_values().partition(|f| readable_type(&f.dtype));
                unreadable = other
                    .iter()
                    .map(|f| (f.name.to_string(), type_name(&f.dtype)))
                    .collect();
                reader
                    .with_columns(Some(readable.iter().map(|f| f.name.to_string()).collect()))
                    .finish()
                    .map_err(|e| parse_error(&file, "Parquet", e))?
            }
            _ => return Err(Error::UnsupportedFormat { file }),
        };
        let mut table = Table {
            file,
            df,
            unreadable,
        };
        table.strip_bom();
        Ok(table)
    }

    /// Wrap an in-memory frame; `label` stands for the file name in errors.
    pub(crate) fn from_frame(df: DataFrame, label: &str) -> Table {
        Table {
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

/// Longest accepted CSV line (and header).
pub(crate) const MAX_LINE_BYTES: usize = 64 << 20;

/// The column names of a CSV file (a UTF-8 byte-order mark removed) and
/// the byte offset of its first data row. A file with no data row after
/// the header is [`Error::Empty`].
pub(crate) fn csv_header(path: &Path) -> Result<(Vec<String>, u64)> {
    let file = path.to_path_buf();
    let handle = File::open(path).map_err(|source| Error::Io {
        file: file.clone(),
        source,
    })?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(std::io::BufReader::new(handle.take(MAX_LINE_BYTES as u64)));
    let mut header = csv::ByteRecord::new();
    if let Some(head) = reader.get_mut().fill_buf().ok()
        && (head.starts_with(&[0xFF, 0xFE]) || head.starts_with(&[0xFE, 0xFF]))
    {
        return Err(Error::Parse {
            file,
            format: "CSV",
            message: "the file is UTF-16 text; save it as UTF-8".into(),
        });
    }
    let found = reader
        .read_byte_record(&mut header)
        .map_err(|e| csv_error(&file, e))?;
    if !found {
        return Err(Error::Empty { file });
    }
    if reader.position().byte() >= MAX_LINE_BYTES as u64 {
        return Err(Error::Parse {
            file,
            format: "CSV",
            message: format!(
                "no line end in the first {} MiB (a file without line ends, or an unclosed \
                 quote in the header)",
                MAX_LINE_BYTES >> 20
            ),
        });
    }
    let mut columns = Vec::with_capacity(header.len());
    for (j, name) in header.iter().enumerate() {
        let name = std::str::from_utf8(name).map_err(|_| Error::Parse {
            file: file.clone(),
            format: "CSV",
            message: format!("the name of column {} is not UTF-8 text", j + 1),
        })?;
        let name = if j == 0 {
            name.strip_prefix('\u{feff}').unwrap_or(name)
        } else {
            name
        };
        if let Some(first) = columns.iter().position(|c| c == name) {
            return Err(Error::DuplicateColumn {
                file,
                column: name.to_string(),
                first: first + 1,
                second: j + 1,
            });
        }
        columns.push(name.to_string());
    }
    let data_start = reader.position().byte();

    let mut first = csv::ByteRecord::new();
    let any = reader
        .read_byte_record(&mut first)
        .map_err(|e| csv_error(&file, e))?;
    if !any {
        return Err(Error::Empty { file });
    }
    Ok((columns, data_start))
}

pub(crate) fn csv_error(file: &Path, e: csv::Error) -> Error {
    Error::Parse {
        file: file.to_path_buf(),
        format: "CSV",
        message: e.to_string(),
    }
}

/// Longest accepted field of a person or code table.
const MAX_FIELD_BYTES: usize = 1 << 20;

/// The first problem of a CSV table that polars would not read, found again
/// with the csv crate so that the error names the row (and column) and
/// quotes only a short excerpt: a row with the wrong number of fields, a
/// field that is not UTF-8, or one of more than 1 MiB (an unclosed quote).
/// `None` when this reading finds nothing wrong.
fn diagnose_csv(path: &Path, width: usize) -> Option<Error> {
    let file = path.to_path_buf();
    let parse = |message: String| Error::Parse {
        file: file.clone(),
        format: "CSV",
        message,
    };
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .from_path(path)
        .ok()?;
    let names: Vec<String> = reader
        .byte_headers()
        .ok()?
        .iter()
        .map(|h| String::from_utf8_lossy(h).into_owned())
        .collect();
    let mut record = csv::ByteRecord::new();
    let mut row = 0;
    loop {
        match reader.read_byte_record(&mut record) {
            Ok(false) => return None,
            Ok(true) => row += 1,
            Err(e) => return Some(parse(format!("row {}: {e}", row + 1))),
        }
        for (j, field) in record.iter().enumerate() {
            if field.len() > MAX_FIELD_BYTES {
                return Some(parse(format!(
                    "row {row}, column {}: a field of more than {} MiB (an unclosed quote?)",
                    j + 1,
                    MAX_FIELD_BYTES >> 20
                )));
            }
            if field.contains(&b'\n') {
                return Some(parse(format!(
                    "row {row}, column {}: a field runs over a line end (an unclosed quote?)",
                    j + 1
                )));
            }
            if std::str::from_utf8(field).is_err() {
                return Some(invalid_value(
                    path,
                    row,
                    names.get(j).map_or("?", String::as_str),
                    &Cell::Str(&String::from_utf8_lossy(field)),
                    "not UTF-8 text (save the file as UTF-8)",
                ));
            }
        }
        if record.len() != width {
            let quote = if record.iter().any(|f| f.contains(&b'\n')) {
                " (a field runs over a line end: an unclosed quote?)"
            } else {
                ""
            };
            return Some(parse(format!(
                "row {row} has {} fields where the header has {width}{quote}",
                record.len()
            )));
        }
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
