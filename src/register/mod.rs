pub(crate) mod source;

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use polars::prelude::DataFrame;
use rustc_hash::{FxHashMap, FxHashSet};
use serde::{Deserialize, Serialize};

use self::source::{Batch, Mode, Source};
use crate::codes::Category;
use crate::error::{Error, Result};
use crate::io::{Cell, number};
use crate::panel::{Grid, Panel, PanelBuilder, Put, Slot, centihours};
use crate::weeks::Week;

/// Column names of a long register.
///
/// Registers, long or DREAM-wide, are read into a [`Panel`] by
/// [`PanelBuilder::long_file`] and [`PanelBuilder::wide_file`]:
///
/// * **Long** form: one row per person-week with columns `person_id, week,
///   code, hours` (names configurable in [`LongColumns`]). Weeks in any
///   spelling of [`Week::parse`]. A blank code is `none`; a blank hours cell
///   is 0. A person-week listed twice is an error.
/// * **Wide** (DREAM) form: one row per person, a code column per week named
///   `y_YYWW` and optionally an hours column per week with another prefix
///   ([`WideColumns`]). Every week between the first and the last code column
///   must have a column.
///
/// Hours must be finite and within 0–168; they are stored to the nearest
/// hundredth of an hour. Codes missing from the code table are an error that
/// lists each with its count, unless the code table has a fallback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LongColumns {
    /// Person id (default `person_id`).
    pub id: String,
    /// Calendar week (default `week`).
    pub week: String,
    /// Benefit code (default `code`).
    pub code: String,
    /// Ordinary hours (default `hours`); `None` for a register without hours,
    /// in which case every week has 0 hours (`false` in an analysis file).
    #[serde(with = "crate::or_false")]
    pub hours: Option<String>,
}

impl Default for LongColumns {
    fn default() -> Self {
        LongColumns {
            id: "person_id".into(),
            week: "week".into(),
            code: "code".into(),
            hours: Some("hours".into()),
        }
    }
}

/// Column names of a DREAM-wide register.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WideColumns {
    /// Person id (default `person_id`).
    pub id: String,
    /// Prefix of the weekly code columns (default `y_`, as in `y_1610`).
    pub code_prefix: String,
    /// Prefix of the weekly hours columns, e.g. `h_`; `None` for no hours.
    pub hours_prefix: Option<String>,
}

impl Default for WideColumns {
    fn default() -> Self {
        WideColumns {
            id: "person_id".into(),
            code_prefix: "y_".into(),
            hours_prefix: None,
        }
    }
}

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

    fn long(&self, source: &Source, columns: &LongColumns) -> Result<Panel> {
        let mut projection = vec![
            source.index(&columns.id)?,
            source.index(&columns.week)?,
            source.index(&columns.code)?,
        ];
        if let Some(h) = &columns.hours {
            projection.push(source.index(h)?);
        }
        source.check_types(&projection, &projection[3..])?;
        // A parallel pass; if any row is bad, an in-order pass finds the
        // first bad row of the file (the same error for any batch size or
        // number of threads).
        let pass = |mode| {
            let grid = self.grid(None)?.checked(mode == Mode::InOrder);
            let out = source.batches(&projection, self.pace(), mode, |batch| {
                self.long_batch(&grid, batch, projection.len() == 4)
            })?;
            check_no_race(&grid, out.iter().map(|b| b.stored))?;
            Ok::<_, Error>((grid, out))
        };
        let (mut grid, out) = match pass(Mode::Parallel) {
            Ok(done) => done,
            Err(e @ Error::MemoryBudget { .. }) => return Err(e),
            Err(_) => pass(Mode::InOrder)?,
        };
        let totals = Totals::merge(out.iter().map(|b| &b.totals));
        let seen = out
            .iter()
            .filter_map(|b| b.seen)
            .reduce(|a, b| (a.0.min(b.0), a.1.max(b.1)));
        grid.report.rows = totals.rows;
        grid.report.rows_outside_window = out.iter().map(|b| b.outside).sum();
        grid.report.unknown_person_rows = totals.unknown_persons(self, source)?;
        totals.unmapped_codes(source)?;
        let mut weeks: Vec<Week> = out.iter().flat_map(|b| b.weeks.iter().copied()).collect();
        weeks.sort_unstable();
        weeks.dedup();
        self.check_stray_rows(&weeks)?;
        let mut panel = self.finish(grid, seen)?;
        let observed = panel.observed_from()..=panel.observed_until();
        panel.report_mut().weeks_without_rows = gaps(&weeks, observed);
        Ok(panel)
    }

    /// Align one batch of a long register; columns id, week, code[, hours].
    ///
    /// [`SUB_ROWS`] rows at a time, column by column: the weeks, the hours,
    /// the persons, the categories, then the grid. A row's checks rank
    /// week, hours, id, then duplicate, and the batch's error is the first
    /// in (row, rank) order, as reading row by row would find it.
    fn long_batch(&self, grid: &Grid, batch: &Batch<'_>, has_hours: bool) -> Result<LongBatch> {
        let mut cols = batch.columns()?;
        let n = cols.rows();
        let mut first = FirstError::default();
        if let Some((row, e)) = cols.take_broken() {
            first.note(row, 0, e);
        }
        let mut out = LongBatch::default();
        out.totals.rows = n;
        let (mut week_memo, mut person_memo, mut code_memo) = (
            WeekMemo::default(),
            PersonMemo::default(),
            CodeMemo::default(),
        );
        let (mut weeks, mut hours, mut people, mut categories) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let mut hour_cells: Vec<Cell<'_>> = Vec::new();
        // Short keys of the id, week and code cells: most rows are found
        // by their key, and only the others read their cell.
        let mut keys: [Vec<u128>; 3] = Default::default();
        let mut start = 0;
        while start < first.bound(n) {
            let rows = start..(start + SUB_ROWS).min(first.bound(n));
            for (j, buf) in keys.iter_mut().enumerate() {
                cols.fill_keys(j, rows.clone(), buf);
            }
            if has_hours {
                cols.fill(3, rows.clone(), &mut hour_cells);
            }
            let [id_keys, week_keys, code_keys] = &keys;

            weeks.clear();
            for (l, &key) in week_keys.iter().enumerate() {
                match week_memo.week(key, || cols.cell(1, start + l)) {
                    Ok(w) => weeks.push(w),
                    Err(problem) => {
                        let cell = cols.cell(1, start + l);
                        first.note(start + l, 1, week_error(batch, start + l, &cell, problem));
                        break;
                    }
                }
            }
            out.seen = weeks.iter().fold(out.seen, |seen, &w| match seen {
                None => Some((w, w)),
                Some((a, b)) => Some((w.min(a), w.max(b))),
            });

            hours.clear();
            for (l, cell) in hour_cells.iter().enumerate() {
                match parse_hours(batch, start + l, 3, cell) {
                    Ok(h) => hours.push(h),
                    Err(e) => {
                        first.note(start + l, 2, e);
                        break;
                    }
                }
            }

            people.clear();
            for (l, &key) in id_keys.iter().enumerate() {
                let id = || cols.cell(0, start + l);
                match person_memo.find(self, key, id, &mut out.totals, batch, start + l) {
                    Ok(p) => people.push(p),
                    Err(e) => {
                        first.note(start + l, 3, e);
                        break;
                    }
                }
            }

            categories.clear();
            for (l, (&key, p)) in code_keys.iter().zip(&people).enumerate() {
                categories.push(match p {
                    None => Category::NONE,
                    Some(_) => {
                        code_memo.find(self, key, || cols.cell(2, start + l), &mut out.totals)
                    }
                });
            }

            // Rows before the first error go into the grid.
            let placed = first.before(n).saturating_sub(start);
            let mut slot: Option<(usize, Option<Slot>)> = None;
            for (l, ((&week, &person), &category)) in weeks
                .iter()
                .zip(&people)
                .zip(&categories)
                .take(placed)
                .enumerate()
            {
                let Some(person) = person else { continue };
                let h = hours.get(l).copied().unwrap_or(0);
                let at = match slot {
                    Some((p, at)) if p == person => at,
                    _ => slot.insert((person, grid.slot(self.persons, person))).1,
                };
                // A person of another part: checked, not kept.
                let Some(at) = at else { continue };
                match grid.put_at(&at, week, category, h) {
                    Put::Stored => out.stored += 1,
                    Put::Outside => out.outside += 1,
                    Put::OverBudget => return Err(over_budget(self, grid)),
                    Put::Duplicate => {
                        let e = Error::DuplicatePersonWeek {
                            file: batch.file().to_path_buf(),
                            row: batch.row_number(start + l),
                            id: cols.cell(0, start + l).text().trim().to_string(),
                            week: week.to_string(),
                        };
                        first.note(start + l, 4, e);
                        break;
                    }
                }
            }
            start = rows.end;
        }
        out.weeks = week_memo.weeks();
        first.or(out)
    }

    fn wide(&self, source: &Source, columns: &WideColumns) -> Result<Panel> {
        if columns.hours_prefix.as_deref() == Some(columns.code_prefix.as_str()) {
            return Err(Error::InvalidSetting {
                name: "hours_prefix".into(),
                reason: format!(
                    "is the same as code_prefix `{}`: the hours columns need a prefix of their \
                     own (such as `h_`)",
                    columns.code_prefix
                ),
            });
        }
        let id = source.index(&columns.id)?;
        let code_cols = week_columns(source, &columns.code_prefix)?;
        let (Some(&(first, _)), Some(&(last, _))) = (code_cols.first(), code_cols.last()) else {
            return Err(Error::MissingColumn {
                file: source.file().to_path_buf(),
                column: format!("{}YYWW (weekly code columns)", columns.code_prefix),
                found: source.columns().join(", "),
            });
        };
        check_contiguous(source, &code_cols, first..=last, &columns.code_prefix)?;
        let observed = self.observed_from.unwrap_or(first)..=self.observed_until.unwrap_or(last);
        let hours_cols = match &columns.hours_prefix {
            Some(prefix) => {
                let cols = week_columns(source, prefix)?;
                check_contiguous(source, &cols, observed, prefix)?;
                cols
            }
            None => Vec::new(),
        };
        let grid = self.grid(Some((first, last)))?;
        // The weeks some person's window reaches: only their columns are read.
        let (lo, hi) = (0..self.persons.len())
            .map(|row| grid.kept_weeks(self.persons, row))
            .fold((Week::LAST, Week::from_index(i32::MIN)), |(a, b), r| {
                (a.min(*r.start()), b.max(*r.end()))
            });
        let (lo, hi) = (lo.max(first), hi.min(last));
        let needed = |cols: &[(Week, usize)]| -> Vec<usize> {
            cols.iter()
                .filter(|(w, _)| (lo..=hi).contains(w))
                .map(|c| c.1)
                .collect()
        };
        let codes = needed(&code_cols);
        let hours = needed(&hours_cols);
        let first_needed = code_cols
            .iter()
            .find(|(w, _)| (lo..=hi).contains(w))
            .map_or(first, |c| c.0);
        let mut projection = vec![id];
        projection.extend(&codes);
        projection.extend(&hours);
        source.check_types(&projection, &hours)?;
        let layout = WideLayout {
            first: first_needed,
            weeks: codes.len(),
            has_hours: !hours.is_empty(),
        };

        let pass = |mode| {
            let grid = self
                .grid(Some((first, last)))?
                .checked(mode == Mode::InOrder);
            let first_rows: Vec<AtomicUsize> = (0..self.persons.len())
                .map(|_| AtomicUsize::new(0))
                .collect();
            let out = source.batches(&projection, self.pace(), mode, |batch| {
                self.wide_batch(&grid, batch, &layout, &first_rows)
            })?;
            check_no_race(&grid, out.iter().map(|b| b.stored))?;
            Ok::<_, Error>((grid, out))
        };
        drop(grid);
        let (mut grid, out) = match pass(Mode::Parallel) {
            Ok(done) => done,
            Err(e @ Error::MemoryBudget { .. }) => return Err(e),
            Err(_) => pass(Mode::InOrder)?,
        };
        let totals = Totals::merge(out.iter());
        grid.report.rows = totals.rows;
        grid.report.unknown_person_rows = totals.unknown_persons(self, source)?;
        totals.unmapped_codes(source)?;
        self.finish(grid, Some((first, last)))
    }

    /// Align one batch of a wide register: projected columns are the id,
    /// then `layout.weeks` code columns from `layout.first`, then as many
    /// hours columns. [`SUB_ROWS`] rows at a time, column by column, errors
    /// in (row, rank) order as in [`PanelBuilder::long_batch`]: id,
    /// duplicate person, then each week's hours.
    fn wide_batch(
        &self,
        grid: &Grid,
        batch: &Batch<'_>,
        layout: &WideLayout,
        first_rows: &[AtomicUsize],
    ) -> Result<Totals> {
        let mut cols = batch.columns()?;
        let n = cols.rows();
        let mut first = FirstError::default();
        if let Some((row, e)) = cols.take_broken() {
            first.note(row, 0, e);
        }
        let mut totals = Totals {
            rows: n,
            ..Totals::default()
        };
        let (mut person_memo, mut code_memo) = (PersonMemo::default(), CodeMemo::default());
        let (mut ids, mut hours) = (Vec::new(), Vec::new());
        let (mut id_keys, mut code_keys) = (Vec::new(), Vec::new());
        let (mut people, mut spans, mut slots) = (Vec::new(), Vec::new(), Vec::new());
        let mut start = 0;
        while start < first.bound(n) {
            let rows = start..(start + SUB_ROWS).min(first.bound(n));
            cols.fill(0, rows.clone(), &mut ids);
            cols.fill_keys(0, rows.clone(), &mut id_keys);
            people.clear();
            for (l, (id, &key)) in ids.iter().zip(&id_keys).enumerate() {
                let i = start + l;
                let person = match person_memo.find(self, key, || *id, &mut totals, batch, i) {
                    Ok(p) => p,
                    Err(e) => {
                        first.note(i, 1, e);
                        break;
                    }
                };
                if let Some(p) = person {
                    let here = batch.row_number(i);
                    if let Err(first_row) = first_rows[p].compare_exchange(
                        0,
                        here,
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                    ) {
                        let e = Error::DuplicatePerson {
                            file: batch.file().to_path_buf(),
                            row: here,
                            first_row,
                            id: id.text().trim().to_string(),
                        };
                        first.note(i, 2, e);
                        break;
                    }
                }
                people.push(person);
            }
            slots.clear();
            slots.extend(
                people
                    .iter()
                    .map(|p| p.and_then(|p| grid.slot(self.persons, p))),
            );
            // Each person's kept weeks as column indices `from..until` (none
            // for a person of another part).
            spans.clear();
            spans.extend(people.iter().zip(&slots).map(|(p, slot)| {
                let (Some(p), Some(_)) = (*p, slot) else {
                    return 0..0;
                };
                let kept = grid.kept_weeks(self.persons, p);
                let from = kept.start().event_week(layout.first).max(0);
                let until = (kept.end().event_week(layout.first) + 1).clamp(0, layout.weeks as i32);
                from as usize..until.max(from) as usize
            }));
            for w in 0..layout.weeks {
                let week = layout.first.plus(w as i32);
                let j = 1 + layout.weeks + w;
                cols.fill_keys(1 + w, rows.clone(), &mut code_keys);
                if layout.has_hours {
                    cols.fill(j, rows.clone(), &mut hours);
                }
                let checked = first.bound(n).saturating_sub(start);
                for (l, (slot, span)) in slots.iter().zip(&spans).enumerate().take(checked) {
                    let (Some(slot), true) = (slot, span.contains(&w)) else {
                        continue;
                    };
                    let code = || cols.cell(1 + w, start + l);
                    let category = code_memo.find(self, code_keys[l], code, &mut totals);
                    let h = match hours.get(l).filter(|_| layout.has_hours) {
                        None => 0,
                        Some(cell) => match parse_hours(batch, start + l, j, cell) {
                            Ok(h) => h,
                            Err(e) => {
                                first.note(start + l, 3 + w, e);
                                break;
                            }
                        },
                    };
                    match grid.put_at(slot, week, category, h) {
                        Put::Stored => totals.stored += 1,
                        Put::OverBudget => return Err(over_budget(self, grid)),
                        Put::Outside | Put::Duplicate => {}
                    }
                }
            }
            start = rows.end;
        }
        first.or(totals)
    }
}

/// The register reaches more event weeks than the memory budget holds.
fn over_budget(builder: &PanelBuilder<'_>, grid: &Grid) -> Error {
    match builder.check_budget(grid.max_columns() + 1, "at least ") {
        Err(e) => e,
        Ok(()) => Error::InvalidSetting {
            name: "memory_budget".into(),
            reason: "the panel does not fit in the memory budget".into(),
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

/// Where a wide batch's week columns are.
struct WideLayout {
    /// Week of the first projected code column.
    first: Week,
    /// Number of code (and of hours) columns.
    weeks: usize,
    has_hours: bool,
}

/// A parallel pass that wrote some person-week twice (an unchecked grid
/// does not look) fails, to be repeated in file order, where the checked
/// grid names the duplicate's row.
fn check_no_race(grid: &Grid, stored: impl Iterator<Item = usize>) -> Result<()> {
    let stored: usize = stored.sum();
    let set = grid.set_cells();
    if stored == set {
        return Ok(());
    }
    Err(Error::InvalidSetting {
        name: "register".into(),
        reason: format!("{stored} person-weeks stored in {set} cells: a duplicate person-week"),
    })
}

impl PanelBuilder<'_> {
    /// Refuse observed weeks that a few stray rows would stretch: when the
    /// first or last observed week is taken from the register (not set),
    /// and at most [`STRAY_WEEKS`] weeks with rows (fewer than on the other
    /// side) lie beyond a run of more than [`STRAY_GAP`] weeks without any
    /// row, those rows are most likely a typo (2071 for 2017) and would make
    /// every week between count as followed and blank. `weeks`: the
    /// distinct weeks with rows, sorted.
    fn check_stray_rows(&self, weeks: &[Week]) -> Result<()> {
        let inside = |w: &&Week| {
            self.observed_from.is_none_or(|f| **w >= f)
                && self.observed_until.is_none_or(|u| **w <= u)
        };
        let weeks: Vec<Week> = weeks.iter().filter(inside).copied().collect();
        let far = |pair: &[Week]| pair[1].event_week(pair[0]) > STRAY_GAP;
        let refuse = |name: &str, edge: &str, kept: Week, stray: &[Week]| {
            Err(Error::InvalidSetting {
                name: name.into(),
                reason: format!(
                    "the register's rows {edge} at {kept}, and only {} week(s) with rows lie \
                     beyond a gap of more than {STRAY_GAP} weeks, from {} to {} (stray rows?); \
                     they would make every week between count as followed with no benefit and \
                     no hours. Set `{name}` (for example to {kept}) to leave them out",
                    stray.len(),
                    stray[0],
                    stray[stray.len() - 1]
                ),
            })
        };
        if self.observed_until.is_none()
            && let Some(i) = weeks.windows(2).rposition(far)
            && weeks.len() - (i + 1) <= STRAY_WEEKS
            && weeks.len() - (i + 1) < i + 1
        {
            return refuse("observed_until", "stop", weeks[i], &weeks[i + 1..]);
        }
        if self.observed_from.is_none()
            && let Some(i) = weeks.windows(2).position(far)
            && i < STRAY_WEEKS
            && i + 1 < weeks.len() - (i + 1)
        {
            return refuse("observed_from", "start", weeks[i + 1], &weeks[..=i]);
        }
        Ok(())
    }
}

/// A run of more weeks than this without any register row, with only a few
/// weeks of rows beyond it, marks stray rows ([`PanelBuilder::check_stray_rows`]).
const STRAY_GAP: i32 = 26;
/// Most weeks with rows beyond such a gap that count as stray.
const STRAY_WEEKS: usize = 4;

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

/// What one batch of a long register found beyond [`Totals`].
#[derive(Default)]
struct LongBatch {
    totals: Totals,
    /// The distinct weeks of the batch's rows.
    weeks: Vec<Week>,
    /// Person-weeks written (see [`check_no_race`]).
    stored: usize,
    /// First and last week of the batch's rows.
    seen: Option<(Week, Week)>,
    /// Rows of known persons outside the window or the observed weeks.
    outside: usize,
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
                crate::error::excerpt(id, crate::error::VALUE_CHARS),
                crate::error::excerpt(p, crate::error::VALUE_CHARS)
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

/// A direct-mapped cache from [`Cell::short_key`]s to values: one slot
/// per key hash, a later key taking the slot. A few instructions per
/// lookup for the few distinct weeks and codes of a register.
struct ShortCache<V> {
    slots: Box<[(u128, Option<V>)]>,
}

impl<V: Copy> Default for ShortCache<V> {
    fn default() -> Self {
        ShortCache {
            slots: vec![(0, None); 1 << SHORT_CACHE_BITS].into_boxed_slice(),
        }
    }
}

/// Slots of a [`ShortCache`]: 2^9.
const SHORT_CACHE_BITS: u32 = 9;

impl<V: Copy> ShortCache<V> {
    fn slot(key: u128) -> usize {
        let mixed = ((key as u64) ^ (key >> 64) as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15);
        (mixed >> (64 - SHORT_CACHE_BITS)) as usize
    }

    /// The value of `key` (0: no key).
    fn get(&self, key: u128) -> Option<V> {
        if key == 0 {
            return None;
        }
        match self.slots[Self::slot(key)] {
            (k, v) if k == key => v,
            _ => None,
        }
    }

    fn put(&mut self, key: u128, value: V) {
        if key != 0 {
            self.slots[Self::slot(key)] = (key, Some(value));
        }
    }
}

/// Week cells → weeks, each distinct spelling parsed once per batch.
#[derive(Default)]
struct WeekMemo {
    short: ShortCache<Week>,
    text: FxHashMap<String, Week>,
    int: FxHashMap<i64, Week>,
}

impl WeekMemo {
    /// The distinct weeks seen.
    fn weeks(&self) -> Vec<Week> {
        let mut w: Vec<Week> = self
            .text
            .values()
            .chain(self.int.values())
            .copied()
            .collect();
        w.sort_unstable();
        w.dedup();
        w
    }

    /// The week of the cell with [`Cell::short_key`] `key` (0 for none),
    /// or `Err(None)` for a blank cell, `Err(Some(reason))` for one that is
    /// not a week. `cell` is called only when the key is not known.
    #[inline]
    fn week<'c>(
        &mut self,
        key: u128,
        cell: impl FnOnce() -> Cell<'c>,
    ) -> std::result::Result<Week, Option<String>> {
        match self.short.get(key) {
            Some(w) => Ok(w),
            None => self.week_of(key, &cell()),
        }
    }

    /// [`WeekMemo::week`] of a cell whose key is not cached.
    fn week_of(&mut self, key: u128, cell: &Cell<'_>) -> std::result::Result<Week, Option<String>> {
        if cell.is_blank() {
            return Err(None);
        }
        let w = self.week_slow(cell)?;
        self.short.put(key, w);
        Ok(w)
    }

    fn week_slow(&mut self, cell: &Cell<'_>) -> std::result::Result<Week, Option<String>> {
        let parse = |text: &str| {
            Week::parse(text).map_err(|e| match e {
                Error::InvalidWeek { reason, .. } => Some(reason),
                other => Some(other.to_string()),
            })
        };
        match cell {
            Cell::Int(v) => match self.int.get(v) {
                Some(&w) => Ok(w),
                None => {
                    let w = parse(&v.to_string())?;
                    self.int.insert(*v, w);
                    Ok(w)
                }
            },
            other => {
                let text = other.text();
                match self.text.get(text.as_ref()) {
                    Some(&w) => Ok(w),
                    None => {
                        let w = parse(&text)?;
                        self.text.insert(text.into_owned(), w);
                        Ok(w)
                    }
                }
            }
        }
    }
}

/// Register ids → person table rows, remembering the last id (registers
/// are usually sorted by person).
#[derive(Default)]
struct PersonMemo {
    /// The last id's [`Cell::short_key`] (0: none, then its text) and its
    /// row.
    last: Option<(u128, String, Option<usize>)>,
}

impl PersonMemo {
    /// The person table row of the id with [`Cell::short_key`] `key` (0
    /// for none); `None` for an unknown id (counted in `totals`); an error
    /// for a blank id. `id` gives the cell, read only when the key is not
    /// the last one's or the person is unknown.
    #[inline]
    fn find<'c>(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        id: impl Fn() -> Cell<'c>,
        totals: &mut Totals,
        batch: &Batch<'_>,
        i: usize,
    ) -> Result<Option<usize>> {
        // Most rows: the same known person as the row before.
        if let Some((last, _, Some(found))) = &self.last
            && key != 0
            && *last == key
        {
            return Ok(Some(*found));
        }
        self.find_cell(builder, key, &id(), totals, batch, i)
    }

    /// [`PersonMemo::find`] past the last known person.
    fn find_cell(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        id: &Cell<'_>,
        totals: &mut Totals,
        batch: &Batch<'_>,
        i: usize,
    ) -> Result<Option<usize>> {
        let same = match &self.last {
            Some((last, _, found)) if key != 0 && *last == key => Some(*found),
            Some((0, last, found)) if key == 0 && matches!(id, Cell::Str(s) if s == last) => {
                Some(*found)
            }
            _ => None,
        };
        let found = match same {
            Some(found) => found,
            None => {
                if id.is_blank() {
                    return Err(batch.missing(i, 0));
                }
                let found = builder.persons.position_of(id);
                let text = if key != 0 {
                    String::new()
                } else {
                    id.text().into_owned()
                };
                self.last = Some((key, text, found));
                found
            }
        };
        if found.is_none() {
            let text = id.text().trim().to_string();
            totals
                .first_unknown
                .get_or_insert_with(|| (i + 1, text.clone()));
            totals.unknown_rows += 1;
            totals.unknown_ids.insert(text);
        }
        Ok(found)
    }
}

/// Register codes → categories, each distinct code looked up once per
/// batch; unmapped codes counted in [`Totals`].
#[derive(Default)]
struct CodeMemo {
    short: ShortCache<Category>,
    seen: FxHashMap<String, Option<Category>>,
}

impl CodeMemo {
    /// The category of the code with [`Cell::short_key`] `key` (0 for
    /// none); `code` gives the cell, read only when the key is not known.
    #[inline]
    fn find<'c>(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        code: impl FnOnce() -> Cell<'c>,
        totals: &mut Totals,
    ) -> Category {
        match self.short.get(key) {
            Some(c) => c,
            None => self.find_cell(builder, key, &code(), totals),
        }
    }

    /// [`CodeMemo::find`] of a code whose key is not cached.
    fn find_cell(
        &mut self,
        builder: &PanelBuilder<'_>,
        key: u128,
        code: &Cell<'_>,
        totals: &mut Totals,
    ) -> Category {
        if code.is_blank() {
            return Category::NONE;
        }
        let text = code.text();
        let found = match self.seen.get(text.as_ref()) {
            Some(&c) => c,
            None => {
                let c = builder.codes.lookup(&text);
                self.seen.insert(text.to_string(), c);
                c
            }
        };
        match found {
            // Only mapped codes are cached: each unmapped one is counted.
            Some(c) => self.short.put(key, c),
            None => *totals.unmapped.entry(text.trim().to_string()).or_insert(0) += 1,
        }
        found.unwrap_or(Category::NONE)
    }
}

/// Hours of a cell, in hundredths.
fn parse_hours(batch: &Batch<'_>, i: usize, j: usize, cell: &Cell<'_>) -> Result<u16> {
    if let Cell::Str(s) = cell
        && let Some(h) = plain_centihours(s)
    {
        return Ok(h);
    }
    let hours = number(cell).map_err(|problem| batch.invalid(i, j, cell, problem))?;
    centihours(hours.unwrap_or(0.0)).map_err(|problem| batch.invalid(i, j, cell, problem))
}

/// Hundredths of an hour of `h`, `h.d` or `h.dd` (1–3 digits before the
/// point) up to 168 hours, without a float parse; `None` for anything
/// else. The same as `centihours` of the parsed float: for n ≤ 16,800,
/// rounding f64(n / 100) · 100 gives n back.
fn plain_centihours(s: &str) -> Option<u16> {
    let (whole, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |t: &str| t.bytes().all(|b| b.is_ascii_digit());
    if whole.is_empty() || whole.len() > 3 || frac.len() > 2 || !digits(whole) || !digits(frac) {
        return None;
    }
    let value = |t: &str| t.bytes().fold(0u32, |a, d| a * 10 + u32::from(d - b'0'));
    let h = value(whole) * 100 + value(frac) * if frac.len() == 1 { 10 } else { 1 };
    let max = (crate::panel::MAX_HOURS * crate::panel::HOURS_SCALE) as u32;
    u16::try_from(h).ok().filter(|_| h <= max)
}

/// The week columns with `prefix` (their weeks and column indices), sorted
/// by week. A column that has the prefix but no valid `YYWW` after it is an
/// error.
fn week_columns(source: &Source, prefix: &str) -> Result<Vec<(Week, usize)>> {
    let mut cols = Vec::new();
    for (j, name) in source.columns().iter().enumerate() {
        match Week::from_dream_column(name, prefix) {
            Ok(Some(w)) => cols.push((w, j)),
            Ok(None) => {}
            Err(Error::InvalidWeek { reason, .. }) => {
                return Err(Error::InvalidValue {
                    file: source.file().to_path_buf(),
                    row: 0,
                    column: name.clone(),
                    value: name.clone(),
                    problem: format!("column name is not a DREAM week ({reason})"),
                });
            }
            Err(other) => return Err(other),
        }
    }
    cols.sort();
    Ok(cols)
}

/// Every week of `span` must have exactly one column.
fn check_contiguous(
    source: &Source,
    cols: &[(Week, usize)],
    span: std::ops::RangeInclusive<Week>,
    prefix: &str,
) -> Result<()> {
    let name = |j: usize| source.columns()[j].clone();
    if let Some(pair) = cols.windows(2).find(|p| p[0].0 == p[1].0) {
        return Err(Error::InvalidValue {
            file: source.file().to_path_buf(),
            row: 0,
            column: name(pair[1].1),
            value: name(pair[1].1),
            problem: format!(
                "a second column for week {} (also `{}`)",
                pair[0].0,
                name(pair[0].1)
            ),
        });
    }
    let have: std::collections::HashSet<Week> = cols.iter().map(|c| c.0).collect();
    let (from, until) = (span.start().index(), span.end().index());
    if let Some(w) = (from..=until)
        .map(Week::from_index)
        .find(|w| !have.contains(w))
    {
        return Err(Error::MissingColumn {
            file: source.file().to_path_buf(),
            column: w.dream_column(prefix),
            found: format!(
                "week columns {} to {} with a gap{}",
                cols.first().map_or(String::new(), |c| name(c.1)),
                cols.last().map_or(String::new(), |c| name(c.1)),
                // Columns 50 years apart: most likely `y_8901` read as 2089.
                if until - from > 50 * 52 {
                    "; two-digit years 90–99 are read as the 1990s and 00–89 as the 2000s, so \
                     a column such as `y_8901` is week 1 of 2089: drop or rename columns \
                     before 1990"
                } else {
                    ""
                }
            ),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{ShortCache, plain_centihours};
    use crate::io::Cell;
    use crate::panel::centihours;

    /// Keys are equal exactly for equal cells: texts of 1 to 12 bytes by
    /// length and bytes, integers apart from texts; others have none.
    #[test]
    fn short_keys_tell_cells_apart() {
        let texts = [
            "1",
            "01",
            "1 ",
            "a",
            "A",
            "2016-W10",
            "2016-W1",
            "201610",
            "12345678901",
            "123456789012",
            "æøå",
            "\u{0}",
        ];
        let keys: Vec<u128> = texts
            .iter()
            .map(|t| Cell::Str(t).short_key().unwrap())
            .collect();
        for (i, a) in keys.iter().enumerate() {
            for (j, b) in keys.iter().enumerate() {
                assert_eq!(a == b, i == j, "{:?} {:?}", texts[i], texts[j]);
            }
        }
        let one = Cell::Int(1).short_key().unwrap();
        assert!(!keys.contains(&one));
        assert_ne!(one, Cell::Int(-1).short_key().unwrap());
        for none in [
            Cell::Str(""),
            Cell::Str("1234567890123"),
            Cell::Null,
            Cell::Float(1.0),
        ] {
            assert_eq!(none.short_key(), None, "{none:?}");
        }
    }

    /// A cache slot holds the last key written to it: a lookup gives that
    /// key's value or nothing, never another key's value.
    #[test]
    fn the_short_cache_never_answers_for_another_key() {
        let mut cache = ShortCache::<u32>::default();
        let keys: Vec<u128> = (0..5_000u32)
            .map(|i| Cell::Str(&i.to_string()).short_key().unwrap())
            .collect();
        for (i, &k) in keys.iter().enumerate() {
            cache.put(k, i as u32);
        }
        let mut hits = 0;
        for (i, &k) in keys.iter().enumerate() {
            if let Some(v) = cache.get(k) {
                assert_eq!(v, i as u32);
                hits += 1;
            }
        }
        // 5,000 keys in 512 slots: most were evicted, some remain.
        assert!(hits > 0 && hits <= 512, "{hits}");
        assert_eq!(cache.get(0), None);
    }

    /// The fast path equals parsing the float for every value it takes.
    #[test]
    fn plain_hours_equal_the_float_parse() {
        for n in 0..=16_800u32 {
            let (whole, frac) = (n / 100, n % 100);
            for text in [format!("{whole}.{frac:02}"), format!("{whole}")] {
                let want = centihours(text.parse::<f64>().unwrap()).ok();
                assert_eq!(plain_centihours(&text), want, "{text}");
            }
            if frac % 10 == 0 {
                let text = format!("{whole}.{}", frac / 10);
                assert_eq!(
                    plain_centihours(&text),
                    centihours(text.parse().unwrap()).ok(),
                    "{text}"
                );
            }
        }
        for text in [
            "", ".5", "1.", "1.234", "-1", "1e2", "169", "168.01", " 5", "0x1",
        ] {
            if let Some(h) = plain_centihours(text) {
                assert_eq!(
                    Some(h),
                    text.parse::<f64>().ok().and_then(|x| centihours(x).ok()),
                    "{text}"
                );
            }
        }
    }
}
