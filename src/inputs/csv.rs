//! CSV: the header, whole tables read by polars with every column as text
//! (so that trialpanel parses each cell itself and can name the row, column
//! and value it rejects), and registers cut into blocks of whole lines for
//! the batch reader. A problem polars cannot place is found again with the
//! `csv` crate, so that the error names the row.

use std::fs::File;
use std::io::{BufRead, Read};
use std::path::Path;

use polars::prelude::{CsvReadOptions, DataFrame, SerReader};

use crate::error::{Error, Result};
use crate::inputs::cell::{Cell, invalid_value, parse_error};
use crate::inputs::reading::{Header, Meter, Rows};

/// A CSV block ends after this many bytes (at the next line end).
const BLOCK_BYTES: usize = 8 << 20;
/// Bytes read from a CSV file at a time.
const READ_BYTES: usize = 1 << 20;

/// A whole CSV table, every column as text. Names are checked first
/// (polars would rename a second `x` to `x_duplicated_0`).
pub(crate) fn read_frame(path: &Path) -> Result<DataFrame> {
    let file = path.to_path_buf();
    let (names, _) = header(path)?;
    // Not rechunked: the columns are read chunk by chunk, and one copy of a
    // large table is enough.
    let df = CsvReadOptions::default()
        .with_has_header(true)
        .with_infer_schema_length(Some(0))
        .with_rechunk(false)
        .try_into_reader_with_file_path(Some(file.clone()))
        .and_then(|r| r.finish())
        .map_err(|e| diagnose(path, names.len()).unwrap_or_else(|| parse_error(&file, "CSV", e)))?;
    // The csv crate found a data row that polars did not.
    if df.height() == 0 {
        return Err(Error::Parse {
            file,
            format: "CSV",
            message: "its lines end in a lone carriage return (CR, old Mac line ends); save \
                      it with LF or CRLF line ends"
                .into(),
        });
    }
    Ok(df)
}

/// A CSV register of `size` bytes for the batch reader: its header read.
pub(crate) fn open(path: &Path, size: u64) -> Result<Header> {
    let (columns, data_start) = header(path)?;
    Ok(Header {
        unreadable: vec![None; columns.len()],
        boolean: vec![false; columns.len()],
        columns,
        size,
        rows: Rows::Text { data_start },
    })
}

/// Longest accepted CSV line (and header).
pub(crate) const MAX_LINE_BYTES: usize = 64 << 20;

/// The column names of a CSV file (a UTF-8 byte-order mark removed) and
/// the byte offset of its first data row. A file with no data row after
/// the header is [`Error::Empty`].
pub(crate) fn header(path: &Path) -> Result<(Vec<String>, u64)> {
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
        .map_err(|e| error(&file, e))?;
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
        .map_err(|e| error(&file, e))?;
    if !any {
        return Err(Error::Empty { file });
    }
    Ok((columns, data_start))
}

/// A parse error of the csv crate, naming the file.
pub(crate) fn error(file: &Path, e: csv::Error) -> Error {
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
fn diagnose(path: &Path, width: usize) -> Option<Error> {
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

/// Read a CSV file from `start` and pass it to `send` in blocks of whole
/// lines: `batch_rows` lines or [`BLOCK_BYTES`], whichever comes first. A
/// line end inside a quoted field (an odd number of `"` since the block
/// began) does not end a line. Stops when `send` returns `false`.
pub(crate) fn split(
    path: &Path,
    start: u64,
    batch_rows: usize,
    meter: &Meter<'_>,
    send: &mut dyn FnMut(Result<Vec<u8>>) -> bool,
) -> Result<()> {
    use std::io::{Seek, SeekFrom};
    let io = |source| Error::Io {
        file: path.to_path_buf(),
        source,
    };
    let mut handle = File::open(path).map_err(io)?;
    handle.seek(SeekFrom::Start(start)).map_err(io)?;
    let mut buf: Vec<u8> = Vec::with_capacity(READ_BYTES);
    let (mut scanned, mut quoted, mut lines) = (0usize, false, 0usize);
    loop {
        let old = buf.len();
        buf.resize(old + READ_BYTES, 0);
        let n = handle.read(&mut buf[old..]).map_err(io)?;
        buf.truncate(old + n);
        meter.add(0, n as u64);
        if n == 0 {
            if !buf.is_empty() {
                meter.add(lines as u64 + 1, 0);
                send(Ok(buf));
            }
            return Ok(());
        }
        while let Some(i) = memchr::memchr2(b'"', b'\n', &buf[scanned..]) {
            let at = scanned + i;
            scanned = at + 1;
            if buf[at] == b'"' {
                quoted = !quoted;
                continue;
            }
            if quoted {
                continue;
            }
            lines += 1;
            if lines >= batch_rows || scanned >= BLOCK_BYTES {
                let rest = buf.split_off(scanned);
                meter.add(lines as u64, 0);
                if !send(Ok(std::mem::replace(&mut buf, rest))) {
                    return Ok(());
                }
                scanned = 0;
                lines = 0;
            }
        }
        scanned = buf.len();
        if lines == 0 && buf.len() > MAX_LINE_BYTES {
            return Err(Error::Parse {
                file: path.to_path_buf(),
                format: "CSV",
                message: format!(
                    "a line longer than {} MiB (a file without line ends, or an unclosed quote)",
                    MAX_LINE_BYTES >> 20
                ),
            });
        }
    }
}
