//! The long register: one row per person-week (`person_id, week, code,
//! hours`).

use super::memo::{CodeMemo, PersonMemo, WeekMemo, parse_hours};
use super::{FirstError, SUB_ROWS, Totals, check_no_race, gaps, over_budget, week_error};
use crate::error::{Error, Result};
use crate::inputs::Category;
use crate::inputs::LongColumns;
use crate::inputs::cell::Cell;
use crate::inputs::reading::Mode;
use crate::inputs::source::{Batch, Source};
use crate::panel::{Grid, Panel, PanelBuilder, Put, Slot};
use crate::weeks::Week;

impl PanelBuilder<'_> {
    pub(super) fn long(&self, source: &Source, columns: &LongColumns) -> Result<Panel> {
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
