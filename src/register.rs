//! Reading weekly registers, long or DREAM-wide, into a [`Panel`].
//!
//! * **Long** form: one row per person-week with columns `person_id, week,
//!   code, hours` (names configurable in [`LongColumns`]). Weeks in any
//!   spelling of [`Week::parse`]. A blank code is `none`; a blank hours cell
//!   is 0. A person-week listed twice is an error.
//! * **Wide** (DREAM) form: one row per person, a code column per week named
//!   `y_YYWW` and optionally an hours column per week with another prefix
//!   ([`WideColumns`]). Every week between the first and the last code column
//!   must have a column.
//!
//! Hours must be finite and within 0–168; they are stored to the nearest
//! hundredth of an hour. Codes missing from the code table are an error that
//! lists each with its count, unless the code table has a fallback.

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::codes::Category;
use crate::error::{Error, Result};
use crate::io::{Cell, Table, number};
use crate::panel::{Panel, PanelBuilder, Slot, centihours};
use crate::weeks::Week;

/// Column names of a long register.
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
    #[serde(with = "crate::analysis::or_false")]
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
    /// Build the panel from a long register file (CSV or Parquet).
    pub fn long_file(self, path: impl AsRef<Path>, columns: &LongColumns) -> Result<Panel> {
        let table = Table::read(path.as_ref())?;
        self.long(&table, columns)
    }

    /// Build the panel from a long register in a `DataFrame`; `label` names
    /// it in errors.
    pub fn long_frame(self, df: DataFrame, label: &str, columns: &LongColumns) -> Result<Panel> {
        self.long(&Table::from_frame(df, label), columns)
    }

    /// Build the panel from a DREAM-wide register file (CSV or Parquet).
    pub fn wide_file(self, path: impl AsRef<Path>, columns: &WideColumns) -> Result<Panel> {
        let table = Table::read(path.as_ref())?;
        self.wide(&table, columns)
    }

    /// Build the panel from a DREAM-wide register in a `DataFrame`.
    pub fn wide_frame(self, df: DataFrame, label: &str, columns: &WideColumns) -> Result<Panel> {
        self.wide(&Table::from_frame(df, label), columns)
    }

    fn long(&self, table: &Table, columns: &LongColumns) -> Result<Panel> {
        if table.height() == 0 {
            return Err(Error::Empty {
                file: table.file.clone(),
            });
        }
        let ids = table.column(&columns.id)?;
        let codes = table.column(&columns.code)?;
        let hours = columns
            .hours
            .as_ref()
            .map(|h| table.column(h).map(|c| (h.as_str(), c)))
            .transpose()?;
        let weeks = parse_weeks(table, &columns.week)?;
        let (first, last) = weeks.iter().fold(
            (Week::from_index(i32::MAX), Week::from_index(i32::MIN)),
            |(a, b), &w| (a.min(w), b.max(w)),
        );
        let mut grid = self.grid(first, last)?;
        let mut people = PersonLookup::new(self, table, &columns.id);
        let mut categories = CategoryLookup::new(self);
        let mut hours_cells = hours.as_ref().map(|(_, c)| c.cells());
        grid.report.rows = table.height();
        for (i, ((id, code), &week)) in ids.cells().zip(codes.cells()).zip(&weeks).enumerate() {
            let h = match (hours_cells.as_mut().and_then(Iterator::next), &hours) {
                (Some(cell), Some((name, _))) => parse_hours(table, i, name, &cell)?,
                _ => 0,
            };
            let Some(row) = people.find(i, &id)? else {
                continue;
            };
            let category = categories.find(&code);
            let Slot::At(at) = grid.slot(self.persons, row, week) else {
                grid.report.rows_outside_window += 1;
                continue;
            };
            grid.set_hours(at, h);
            if !grid.set_category(at, category.unwrap_or(Category::NONE)) {
                return Err(Error::DuplicatePersonWeek {
                    file: table.file.clone(),
                    row: i + 1,
                    id: id.text().trim().to_string(),
                    week: week.to_string(),
                });
            }
        }
        grid.report.unknown_person_rows = people.finish()?;
        categories.finish(table)?;
        Ok(self.finish(grid))
    }

    fn wide(&self, table: &Table, columns: &WideColumns) -> Result<Panel> {
        if table.height() == 0 {
            return Err(Error::Empty {
                file: table.file.clone(),
            });
        }
        let code_cols = week_columns(table, &columns.code_prefix)?;
        let (Some(&(first, _)), Some(&(last, _))) = (code_cols.first(), code_cols.last()) else {
            return Err(Error::MissingColumn {
                file: table.file.clone(),
                column: format!("{}YYWW (weekly code columns)", columns.code_prefix),
                found: table.column_names().join(", "),
            });
        };
        check_contiguous(table, &code_cols, first..=last, &columns.code_prefix)?;
        let mut grid = self.grid(first, last)?;
        let hours_cols = match &columns.hours_prefix {
            Some(prefix) => {
                let cols = week_columns(table, prefix)?;
                check_contiguous(table, &cols, grid.observed_weeks(), prefix)?;
                cols
            }
            None => Vec::new(),
        };

        // Person table row of each register row (None: unknown, skipped).
        let mut people = PersonLookup::new(self, table, &columns.id);
        let mut seen: HashMap<usize, usize> = HashMap::new();
        let mut rows = Vec::with_capacity(table.height());
        for (i, id) in table.column(&columns.id)?.cells().enumerate() {
            let row = people.find(i, &id)?;
            if let Some(r) = row
                && let Some(first_row) = seen.insert(r, i)
            {
                return Err(Error::DuplicatePerson {
                    file: table.file.clone(),
                    row: i + 1,
                    first_row: first_row + 1,
                    id: id.text().trim().to_string(),
                });
            }
            rows.push(row);
        }
        grid.report.unknown_person_rows = people.finish()?;
        grid.report.rows = table.height();

        let mut categories = CategoryLookup::new(self);
        for (week, name) in &code_cols {
            for (i, code) in table.column(name)?.cells().enumerate() {
                let Some(row) = rows[i] else { continue };
                let category = categories.find(&code);
                if let Slot::At(at) = grid.slot(self.persons, row, *week) {
                    grid.set_category(at, category.unwrap_or(Category::NONE));
                }
            }
        }
        categories.finish(table)?;
        for (week, name) in &hours_cols {
            for (i, h) in table.column(name)?.cells().enumerate() {
                let Some(row) = rows[i] else { continue };
                if let Slot::At(at) = grid.slot(self.persons, row, *week) {
                    grid.set_hours(at, parse_hours(table, i, name, &h)?);
                }
            }
        }
        Ok(self.finish(grid))
    }
}

/// Parse a week column, memoising distinct spellings.
fn parse_weeks(table: &Table, name: &str) -> Result<Vec<Week>> {
    let col = table.column(name)?;
    let mut memo: HashMap<String, Week> = HashMap::new();
    let mut out = Vec::with_capacity(table.height());
    for (i, cell) in col.cells().enumerate() {
        if cell.is_blank() {
            return Err(table.missing(i, name));
        }
        let text = cell.text();
        let week = match memo.get(text.as_ref()) {
            Some(&w) => w,
            None => {
                let w = Week::parse(&text).map_err(|e| week_error(table, i, name, &cell, e))?;
                memo.insert(text.into_owned(), w);
                w
            }
        };
        out.push(week);
    }
    Ok(out)
}

fn week_error(table: &Table, i: usize, column: &str, cell: &Cell<'_>, err: Error) -> Error {
    match err {
        Error::InvalidWeek { reason, .. } => {
            table.invalid(i, column, cell, format!("invalid week ({reason})"))
        }
        other => other,
    }
}

fn parse_hours(table: &Table, i: usize, column: &str, cell: &Cell<'_>) -> Result<u16> {
    let hours = number(cell).map_err(|problem| table.invalid(i, column, cell, problem))?;
    centihours(hours.unwrap_or(0.0)).map_err(|problem| table.invalid(i, column, cell, problem))
}

/// The week columns with `prefix`, sorted by week. A column that has the
/// prefix but no valid `YYWW` after it is an error.
fn week_columns(table: &Table, prefix: &str) -> Result<Vec<(Week, String)>> {
    let mut cols = Vec::new();
    for name in table.column_names() {
        match Week::from_dream_column(&name, prefix) {
            Ok(Some(w)) => cols.push((w, name)),
            Ok(None) => {}
            Err(Error::InvalidWeek { reason, .. }) => {
                return Err(Error::InvalidValue {
                    file: table.file.clone(),
                    row: 0,
                    column: name.clone(),
                    value: name,
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
    table: &Table,
    cols: &[(Week, String)],
    span: std::ops::RangeInclusive<Week>,
    prefix: &str,
) -> Result<()> {
    if let Some(pair) = cols.windows(2).find(|p| p[0].0 == p[1].0) {
        return Err(Error::InvalidValue {
            file: table.file.clone(),
            row: 0,
            column: pair[1].1.clone(),
            value: pair[1].1.clone(),
            problem: format!(
                "a second column for week {} (also `{}`)",
                pair[0].0, pair[0].1
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
            file: table.file.clone(),
            column: w.dream_column(prefix),
            found: format!(
                "week columns {} to {} with a gap",
                cols.first().map_or(String::new(), |c| c.1.clone()),
                cols.last().map_or(String::new(), |c| c.1.clone())
            ),
        });
    }
    Ok(())
}

/// Register person ids → person table rows, counting unknown ids.
struct PersonLookup<'a> {
    builder: &'a PanelBuilder<'a>,
    table: &'a Table,
    column: &'a str,
    unknown_rows: usize,
    unknown_ids: std::collections::HashSet<String>,
    first: Option<(usize, String)>,
}

impl<'a> PersonLookup<'a> {
    fn new(builder: &'a PanelBuilder<'a>, table: &'a Table, column: &'a str) -> Self {
        PersonLookup {
            builder,
            table,
            column,
            unknown_rows: 0,
            unknown_ids: Default::default(),
            first: None,
        }
    }

    fn find(&mut self, i: usize, id: &Cell<'_>) -> Result<Option<usize>> {
        if id.is_blank() {
            return Err(self.table.missing(i, self.column));
        }
        match self.builder.persons.position_of(id) {
            Some(row) => Ok(Some(row)),
            None => {
                let text = id.text().trim().to_string();
                self.first.get_or_insert_with(|| (i, text.clone()));
                self.unknown_rows += 1;
                self.unknown_ids.insert(text);
                Ok(None)
            }
        }
    }

    /// Number of rows skipped, or the error when skipping is not allowed.
    fn finish(self) -> Result<usize> {
        match self.first {
            Some((row, id)) if !self.builder.ignore_unknown_persons => Err(Error::UnknownPersons {
                file: self.table.file.clone(),
                rows: self.unknown_rows,
                persons: self.unknown_ids.len(),
                first_row: row + 1,
                first_id: id,
            }),
            _ => Ok(self.unknown_rows),
        }
    }
}

/// Register codes → categories, collecting unmapped codes with their counts.
struct CategoryLookup<'a> {
    builder: &'a PanelBuilder<'a>,
    unmapped: HashMap<String, usize>,
}

impl<'a> CategoryLookup<'a> {
    fn new(builder: &'a PanelBuilder<'a>) -> Self {
        CategoryLookup {
            builder,
            unmapped: HashMap::new(),
        }
    }

    fn find(&mut self, code: &Cell<'_>) -> Option<Category> {
        if code.is_blank() {
            return Some(Category::NONE);
        }
        let text = code.text();
        let found = self.builder.codes.lookup(&text);
        if found.is_none() {
            *self.unmapped.entry(text.trim().to_string()).or_insert(0) += 1;
        }
        found
    }

    fn finish(self, table: &Table) -> Result<()> {
        if self.unmapped.is_empty() {
            return Ok(());
        }
        let mut codes: Vec<(String, usize)> = self.unmapped.into_iter().collect();
        codes.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        Err(Error::UnmappedCodes {
            file: table.file.clone(),
            codes,
        })
    }
}
