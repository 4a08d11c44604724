//! The DREAM-wide register: one row per person, a code column per week
//! (`y_YYWW`) and optionally an hours column per week.

use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::memo::{CodeMemo, PersonMemo, parse_hours};
use super::{FirstError, SUB_ROWS, Totals, check_no_race, over_budget};
use crate::error::{Error, Result};
use crate::inputs::WideColumns;
use crate::inputs::reading::Mode;
use crate::inputs::source::{Batch, Source};
use crate::panel::{Grid, Panel, PanelBuilder, Put};
use crate::weeks::Week;

/// The first and last week of a DREAM-wide register's code columns, read
/// from its header alone (for planning the memory before reading).
pub fn wide_span(path: &Path, columns: &WideColumns) -> Result<(Week, Week)> {
    let source = Source::open(path)?;
    let cols = week_columns(&source, &columns.code_prefix)?;
    match (cols.first(), cols.last()) {
        (Some(&(first, _)), Some(&(last, _))) => Ok((first, last)),
        _ => Err(Error::MissingColumn {
            file: source.file().to_path_buf(),
            column: format!("{}YYWW (weekly code columns)", columns.code_prefix),
            found: source.columns().join(", "),
        }),
    }
}

impl PanelBuilder<'_> {
    pub(super) fn wide(&self, source: &Source, columns: &WideColumns) -> Result<Panel> {
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

/// Where a wide batch's week columns are.
struct WideLayout {
    /// Week of the first projected code column.
    first: Week,
    /// Number of code (and of hours) columns.
    weeks: usize,
    has_hours: bool,
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
            Err(e) => {
                return Err(Error::InvalidValue {
                    file: source.file().to_path_buf(),
                    row: 0,
                    column: name.clone(),
                    value: name.clone(),
                    problem: format!("column name is not a DREAM week ({})", e.reason),
                });
            }
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
