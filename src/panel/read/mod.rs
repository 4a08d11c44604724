//! Reading a register into the panel: long (one row per person-week) or
//! DREAM-wide (one row per person), from a file of any input format or a
//! frame, in parallel batches written into the panel's [`Grid`].
//!
//! A parallel pass checks each batch on its own; if any row is bad, an
//! in-order pass finds the first bad row of the file, so that the error is
//! the same for any batch size or number of threads. What the register
//! does not say (unknown persons, unmapped codes, stray rows far from the
//! others) is counted over all batches and refused or warned about once.

mod long;
mod memo;
mod wide;

pub use wide::wide_span;

use std::path::Path;

use polars::prelude::DataFrame;
use rustc_hash::{FxHashMap, FxHashSet};

use crate::error::{Error, Result};
use crate::inputs::cell::Cell;
use crate::inputs::source::{Batch, Source};
use crate::inputs::{LongColumns, WideColumns};
use crate::panel::{Grid, Panel, PanelBuilder};
use crate::weeks::{Week, WeekSource, stray_setting};

impl PanelBuilder<'_> {
    /// Build the panel from a long register file (CSV or Parquet), read in
    /// parallel batches (see [`PanelBuilder::batch_rows`]).
    pub fn long_file(self, path: impl AsRef<Path>, columns: &LongColumns) -> Result<Panel> {
        self.long(&Source::open(path.as_ref())?, columns)
    }

    /// Build the panel from a long register in a `DataFrame`; `label` names
    /// it in errors.
    pub fn long_frame(self, df: DataFrame, label: &str, columns: &LongColumns) -> Result<Panel> {
        self.long(&Source::frame(df, label)?, columns)
    }

    /// Build the panel from a DREAM-wide register file (CSV or Parquet).
    /// Only the week columns that some person's event-week window reaches
    /// are parsed.
    pub fn wide_file(self, path: impl AsRef<Path>, columns: &WideColumns) -> Result<Panel> {
        self.wide(&Source::open(path.as_ref())?, columns)
    }

    /// Build the panel from a DREAM-wide register in a `DataFrame`.
    pub fn wide_frame(self, df: DataFrame, label: &str, columns: &WideColumns) -> Result<Panel> {
        self.wide(&Source::frame(df, label)?, columns)
    }
}

/// The register reaches more event weeks than the memory budget holds.
fn over_budget(builder: &PanelBuilder<'_>, grid: &Grid) -> Error {
    match builder.check_budget(grid.max_columns() + 1, "at least ") {
        Err(e) => e,
        Ok(()) => Error::Internal {
            what: "the memory budget".into(),
            message: "the grid is full though the panel fits the budget".into(),
        },
    }
}

/// Rows of a batch checked together, one column at a time.
const SUB_ROWS: usize = 1 << 11;

/// The first error of a batch in row order: the smallest (row, rank),
/// where the rank orders the checks made on one row.
#[derive(Default)]
struct FirstError(Option<(usize, usize, Error)>);

impl FirstError {
    fn note(&mut self, row: usize, rank: usize, e: Error) {
        if self
            .0
            .as_ref()
            .is_none_or(|&(r, k, _)| (row, rank) < (r, k))
        {
            self.0 = Some((row, rank, e));
        }
    }

    /// Rows worth checking: through the first error's row.
    fn bound(&self, n: usize) -> usize {
        self.0.as_ref().map_or(n, |&(r, ..)| (r + 1).min(n))
    }

    /// Rows before the first error's row.
    fn before(&self, n: usize) -> usize {
        self.0.as_ref().map_or(n, |&(r, ..)| r.min(n))
    }

    fn or<T>(self, ok: T) -> Result<T> {
        match self.0 {
            Some((.., e)) => Err(e),
            None => Ok(ok),
        }
    }
}

fn week_error(batch: &Batch<'_>, i: usize, cell: &Cell<'_>, problem: Option<String>) -> Error {
    match problem {
        None => batch.missing(i, 1),
        Some(p) => batch.invalid(i, 1, cell, format!("invalid week ({p})")),
    }
}

/// A parallel pass that wrote some person-week twice (an unchecked grid
/// does not look) fails, to be repeated in file order, where the checked
/// grid names the duplicate's row (this error is never shown: the repeat
/// finds the duplicate).
fn check_no_race(grid: &Grid, stored: impl Iterator<Item = usize>) -> Result<()> {
    let stored: usize = stored.sum();
    let set = grid.set_cells();
    if stored == set {
        return Ok(());
    }
    Err(Error::Internal {
        what: "the register".into(),
        message: format!("{stored} person-weeks stored in {set} cells: a duplicate person-week"),
    })
}

impl PanelBuilder<'_> {
    /// Refuse observed weeks that a few stray rows would stretch: when the
    /// first or last observed week is taken from the register (not set)
    /// and a few weeks with rows lie beyond a long run of weeks without any
    /// (`weeks::strays`), those rows are most likely a typo (2071 for 2017)
    /// and would make every week between count as followed and blank.
    /// `weeks`: the distinct weeks with rows, sorted.
    fn check_stray_rows(&self, weeks: &[Week]) -> Result<()> {
        let inside = |w: &&Week| {
            self.observed_from.is_none_or(|f| **w >= f)
                && self.observed_until.is_none_or(|u| **w <= u)
        };
        let weeks: Vec<Week> = weeks.iter().filter(inside).copied().collect();
        let stray = stray_setting(
            &weeks,
            &WeekSource {
                from: ("observed_from", self.observed_from.is_some()),
                until: ("observed_until", self.observed_until.is_some()),
                rows: "the register's rows",
                unit: "rows",
                harm: "they would make every week between count as followed with no benefit \
                       and no hours",
            },
        );
        match stray {
            Some((name, reason)) => Err(Error::InvalidSetting { name, reason }),
            None => Ok(()),
        }
    }
}

/// The runs of weeks in `observed` that are not in `weeks` (sorted).
fn gaps(weeks: &[Week], observed: std::ops::RangeInclusive<Week>) -> Vec<(Week, Week)> {
    let mut out = Vec::new();
    let mut next = *observed.start();
    for &w in weeks.iter().filter(|w| observed.contains(w)) {
        if w > next {
            out.push((next, w.plus(-1)));
        }
        next = w.plus(1);
    }
    if next <= *observed.end() {
        out.push((next, *observed.end()));
    }
    out
}

/// Rows, unknown persons and unmapped codes of one batch, or merged.
#[derive(Default)]
struct Totals {
    rows: usize,
    /// Person-weeks written (wide registers; see [`check_no_race`]).
    stored: usize,
    unknown_rows: usize,
    unknown_ids: FxHashSet<String>,
    /// The first unknown id: its 1-based row (`row_number` in the batch's
    /// pass; made exact by `merge`) and id.
    first_unknown: Option<(usize, String)>,
    unmapped: FxHashMap<String, usize>,
}

impl Totals {
    /// Merge batch totals in file order. The first unknown row is counted
    /// from the rows of the batches before it.
    fn merge<'t>(batches: impl Iterator<Item = &'t Totals>) -> Totals {
        let mut all = Totals::default();
        for t in batches {
            if all.first_unknown.is_none()
                && let Some((row, id)) = &t.first_unknown
            {
                all.first_unknown = Some((all.rows + row, id.clone()));
            }
            all.rows += t.rows;
            all.unknown_rows += t.unknown_rows;
            all.unknown_ids.extend(t.unknown_ids.iter().cloned());
            for (code, n) in &t.unmapped {
                *all.unmapped.entry(code.clone()).or_insert(0) += n;
            }
        }
        all
    }

    /// Rows skipped for unknown persons, or the error when skipping is not
    /// allowed.
    fn unknown_persons(&self, builder: &PanelBuilder<'_>, source: &Source) -> Result<usize> {
        let share = builder.max_unknown_share;
        if !(0.0..=1.0).contains(&share) {
            return Err(Error::InvalidSetting {
                name: "max_unknown_share".into(),
                reason: format!("must be a share between 0 and 1, not {share}"),
            });
        }
        let Some((row, id)) = &self.first_unknown else {
            return Ok(0);
        };
        let file = source.file().to_path_buf();
        let hint = builder.persons.near_match(id).map_or(String::new(), |p| {
            format!(
                "; `{}` is person `{}` of the person table written differently",
                crate::excerpt::excerpt(id, crate::excerpt::VALUE_CHARS),
                crate::excerpt::excerpt(p, crate::excerpt::VALUE_CHARS)
            )
        });
        if !builder.ignore_unknown_persons {
            return Err(Error::UnknownPersons {
                file,
                rows: self.unknown_rows,
                persons: self.unknown_ids.len(),
                first_row: *row,
                first_id: id.clone(),
                hint,
            });
        }
        if self.unknown_rows as f64 > share * self.rows as f64 {
            return Err(Error::TooManyUnknownPersons {
                file,
                rows: self.unknown_rows,
                total: self.rows,
                percent: 100.0 * self.unknown_rows as f64 / self.rows.max(1) as f64,
                max_percent: 100.0 * share,
                persons: self.unknown_ids.len(),
                first_row: *row,
                first_id: id.clone(),
                hint,
            });
        }
        Ok(self.unknown_rows)
    }

    /// Codes missing from the code table, most frequent first.
    fn unmapped_codes(&self, source: &Source) -> Result<()> {
        if self.unmapped.is_empty() {
            return Ok(());
        }
        let mut codes: Vec<(String, usize)> =
            self.unmapped.iter().map(|(c, n)| (c.clone(), *n)).collect();
        codes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Err(Error::UnmappedCodes {
            file: source.file().to_path_buf(),
            codes,
        })
    }
}
