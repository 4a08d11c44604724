//! What every reader of the inputs shares: the pace of a read (rows per
//! batch, whom to tell how far it got), its progress, how batches are run,
//! a register's header as a format reads it, and the contract of a file
//! decoded a slice of rows at a time.

use std::sync::atomic::{AtomicU64, Ordering};

use polars::prelude::DataFrame;

use crate::error::Result;
use crate::progress::{LoadProgress, Throttle};

/// Rows per batch of a read, unless set otherwise
/// ([`PanelBuilder::batch_rows`](crate::PanelBuilder::batch_rows)).
pub(crate) const DEFAULT_BATCH_ROWS: usize = 1 << 16;

/// How a file is read: rows per batch, and whom to tell how far it got.
#[derive(Clone, Copy)]
pub(crate) struct Pace<'a> {
    /// Rows per batch (CSV blocks and frame slices).
    pub(crate) batch_rows: usize,
    /// Called at most every 250 ms with the rows and bytes read.
    pub(crate) progress: Option<&'a (dyn Fn(&LoadProgress) + Sync)>,
}

/// How batches are run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// In parallel; a batch's error stops the pass.
    Parallel,
    /// One after the other in file order, with exact row numbers.
    InOrder,
}

/// A register's header as its format reads it: the column names, which of
/// them cannot be decoded or are boolean, the file's size, and how its rows
/// are read.
pub(crate) struct Header {
    pub(crate) columns: Vec<String>,
    /// `Some(type)` for a column trialpanel cannot decode (Parquet).
    pub(crate) unreadable: Vec<Option<String>>,
    /// Whether each column is boolean (Parquet).
    pub(crate) boolean: Vec<bool>,
    /// Size of the file in bytes.
    pub(crate) size: u64,
    pub(crate) rows: Rows,
}

/// How a register file's rows are read.
pub(crate) enum Rows {
    /// Text lines (CSV); data start at byte `data_start`, after the header.
    Text { data_start: u64 },
    /// Decoded a slice at a time (Parquet's row groups).
    Slices(Box<dyn SliceReader>),
}

/// A file decoded a slice of rows at a time into a frame (Parquet's row
/// groups): the batches are its slices.
pub(crate) trait SliceReader: Send + Sync {
    /// The slices `(offset, len)` of rows decoded at once, in file order.
    fn slices(&self) -> Vec<(usize, usize)>;

    /// The columns `names` of rows `offset..offset + len`.
    fn read(&self, names: &[String], offset: usize, len: usize) -> Result<DataFrame>;
}

/// Rows and bytes read so far, reported at most every quarter second.
pub(crate) struct Meter<'a> {
    pace: Pace<'a>,
    rows: AtomicU64,
    bytes: AtomicU64,
    total: u64,
    throttle: Throttle,
}

impl<'a> Meter<'a> {
    pub(crate) fn new(pace: Pace<'a>, total: u64) -> Meter<'a> {
        Meter {
            pace,
            rows: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            total,
            throttle: Throttle::new(),
        }
    }

    pub(crate) fn add(&self, rows: u64, bytes: u64) {
        let rows = self.rows.fetch_add(rows, Ordering::Relaxed) + rows;
        let bytes = self.bytes.fetch_add(bytes, Ordering::Relaxed) + bytes;
        if let Some(report) = self.pace.progress
            && let Some(elapsed) = self.throttle.due()
        {
            report(&LoadProgress {
                rows,
                bytes,
                total_bytes: self.total,
                elapsed,
            });
        }
    }
}
