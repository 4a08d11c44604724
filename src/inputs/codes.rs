//! The code table: which category each benefit code belongs to.
//!
//! DREAM-type registers hold one benefit code per person and week. The
//! analyst supplies a table with two columns, `code` and `category`, that
//! maps every code to a category such as `work_placement`, `wage_subsidy` or
//! `benefit`. A blank or absent code means no public benefit that week
//! (self-supporting) and has the reserved category [`NONE`].
//!
//! Category names are free text; the defaults of the spell indicator use the
//! names [`WORK_PLACEMENT`] and [`WAGE_SUBSIDY`].

use std::collections::HashMap;
use std::path::Path;

use polars::prelude::DataFrame;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::table::RawTable;

/// Category of a blank or absent code: no public benefit (self-supporting).
pub const NONE: &str = "none";
/// Conventional category name for work placement (virksomhedspraktik).
pub const WORK_PLACEMENT: &str = "work_placement";
/// Conventional category name for wage subsidy (løntilskud).
pub const WAGE_SUBSIDY: &str = "wage_subsidy";

/// Index of a category in a [`CodeTable`]; `Category(0)` is [`NONE`].
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Category(pub u8);

impl Category {
    /// The category of blank codes.
    pub const NONE: Category = Category(0);
    /// A person-week after the person's follow-up ended (a category that
    /// ends follow-up was reached, [`CodeTable::ends_followup`]): not
    /// observed. Only a built panel holds it.
    pub const ENDED: Category = Category(u8::MAX);
}

/// The optional code-table column marking categories that end follow-up.
pub const ENDS_FOLLOWUP: &str = "ends_followup";

/// Categories are stored in one byte; 255 is reserved (while a panel is
/// built, and then for [`Category::ENDED`]).
const MAX_CATEGORIES: usize = 255;

/// A mapping from benefit codes to categories.
#[derive(Clone, Debug, PartialEq)]
pub struct CodeTable {
    categories: Vec<String>,
    codes: FxHashMap<String, Category>,
    fallback: Option<Category>,
    /// Categories that end follow-up, by category number.
    ends: Vec<bool>,
    /// Weekly unit cost of each category, by category number, when the
    /// table has a `cost_per_week` column.
    costs: Option<Vec<f64>>,
    /// The first row (0-based) whose `cost_per_week` is blank: a cost that
    /// is missing, an error once costs are used.
    blank_cost: Option<usize>,
    /// The file (or frame label) read, and its columns.
    file: std::path::PathBuf,
    columns: Vec<String>,
}

/// Highest weekly unit cost accepted: 10⁹ per person-week in any currency
/// (a larger one is a typo or a sentinel, and sums of them would leave the
/// range of a floating-point number).
pub const MAX_COST_PER_WEEK: f64 = 1e9;

/// The code table's optional column of weekly unit costs per category.
pub const COST_PER_WEEK: &str = "cost_per_week";

impl CodeTable {
    /// Read a code table with columns `code` and `category` from CSV or Parquet.
    ///
    /// Codes and categories are trimmed. A blank code, a blank category or a
    /// code listed twice is an error naming the row. An optional column
    /// `ends_followup` (`1`/`true`/`yes` or `0`/`false`/`no`/blank) marks the
    /// categories, such as death and emigration, whose first week ends a
    /// person's follow-up ([`CodeTable::ends_followup`]). An optional
    /// column `cost_per_week` (a number ≥ 0, blank for 0) gives each
    /// category's weekly unit cost ([`CodeTable::cost_per_week`], methods
    /// §12); the codes of one category must agree on it.
    pub fn read(path: impl AsRef<Path>) -> Result<CodeTable> {
        Self::from_table(RawTable::read(path.as_ref())?)
    }

    /// The same from an in-memory DataFrame; `label` names it in errors.
    pub fn from_frame(df: DataFrame, label: &str) -> Result<CodeTable> {
        Self::from_table(RawTable::from_frame(df, label))
    }

    fn from_table(table: RawTable) -> Result<CodeTable> {
        if table.height() == 0 {
            return Err(Error::Empty { file: table.file });
        }
        let codes = table.column("code")?;
        let categories = table.column("category")?;
        let mut out = CodeTable::empty();
        out.file = table.file.clone();
        out.columns = table.column_names();
        let mut first_row: HashMap<String, usize> = HashMap::new();
        for (i, (code, category)) in codes.cells().zip(categories.cells()).enumerate() {
            if code.is_blank() {
                return Err(table.invalid(
                    i,
                    "code",
                    &code,
                    "blank code in code table (a blank register code always means `none`)",
                ));
            }
            if category.is_blank() {
                return Err(table.missing(i, "category"));
            }
            let code_text = code.text().trim().to_string();
            if let Some(&first) = first_row.get(&code_text) {
                return Err(Error::DuplicateCode {
                    file: table.file.clone(),
                    row: i + 1,
                    first_row: first + 1,
                    code: code_text,
                });
            }
            first_row.insert(code_text.clone(), i);
            let id = out
                .intern(category.text().trim())
                .map_err(|reason| table.invalid(i, "category", &category, reason))?;
            out.codes.insert(code_text, id);
        }
        if table.column_names().iter().any(|c| c == ENDS_FOLLOWUP) {
            let ends = table.column(ENDS_FOLLOWUP)?;
            for (i, (cell, code)) in ends.cells().zip(codes.cells()).enumerate() {
                let yes = match cell.text().trim().to_ascii_lowercase().as_str() {
                    "1" | "true" | "yes" => true,
                    "" | "0" | "false" | "no" => false,
                    _ => {
                        return Err(table.invalid(
                            i,
                            ENDS_FOLLOWUP,
                            &cell,
                            "not 1/true/yes or 0/false/no",
                        ));
                    }
                };
                if yes && let Some(c) = out.codes.get(code.text().trim()).copied() {
                    out.ends[usize::from(c.0)] = true;
                }
            }
        }
        if table.column_names().iter().any(|c| c == COST_PER_WEEK) {
            let costs = table.column(COST_PER_WEEK)?;
            let mut per: Vec<Option<(f64, usize)>> = vec![None; MAX_CATEGORIES + 1];
            for (i, (cell, code)) in costs.cells().zip(codes.cells()).enumerate() {
                let cost = match crate::inputs::cell::number(&cell) {
                    Ok(Some(x)) if (0.0..=MAX_COST_PER_WEEK).contains(&x) => x,
                    Ok(None) => {
                        // Missing, not 0: an error once the costs are used.
                        out.blank_cost.get_or_insert(i);
                        continue;
                    }
                    _ => {
                        return Err(table.invalid(
                            i,
                            COST_PER_WEEK,
                            &cell,
                            format!("not a number from 0 to {MAX_COST_PER_WEEK:e}"),
                        ));
                    }
                };
                let Some(c) = out.codes.get(code.text().trim()).copied() else {
                    continue;
                };
                match per[usize::from(c.0)] {
                    Some((other, row)) if other != cost => {
                        return Err(table.invalid(
                            i,
                            COST_PER_WEEK,
                            &cell,
                            format!(
                                "category `{}` costs {other} per week in row {}",
                                out.name(c),
                                row + 1
                            ),
                        ));
                    }
                    Some(_) => {}
                    None => per[usize::from(c.0)] = Some((cost, i)),
                }
            }
            out.costs = Some(per.iter().map(|c| c.map_or(0.0, |c| c.0)).collect());
        }
        Ok(out)
    }

    /// Mark the categories `names` as ending follow-up: a person is followed
    /// up to the week before the first week (from referral on) with one of
    /// them (methods §10).
    pub fn with_ends_followup(mut self, names: &[String]) -> Result<CodeTable> {
        for (c, yes) in self
            .category_set(names, "ends_followup")?
            .iter()
            .enumerate()
        {
            if *yes {
                self.ends[c] = true;
            }
        }
        Ok(self)
    }

    /// `true` when category `c` ends follow-up.
    pub fn ends_followup(&self, c: Category) -> bool {
        self.ends.get(usize::from(c.0)).copied().unwrap_or(false)
    }

    /// The weekly unit cost of category `c` (0 for `none`, an ended
    /// follow-up and a table without costs).
    pub fn cost_per_week(&self, c: Category) -> f64 {
        match &self.costs {
            Some(costs) if c != Category::ENDED => {
                costs.get(usize::from(c.0)).copied().unwrap_or(0.0)
            }
            _ => 0.0,
        }
    }

    /// `true` when the table has a `cost_per_week` column.
    pub fn has_costs(&self) -> bool {
        self.costs.is_some()
    }

    /// The costs, for computing with them: [`Error::MissingValue`] naming
    /// the first row whose `cost_per_week` is blank (a blank is a missing
    /// cost, never 0), or [`Error::MissingColumn`] without the column.
    pub fn check_costs(&self) -> Result<()> {
        if !self.has_costs() {
            return Err(Error::MissingColumn {
                file: self.file.clone(),
                column: COST_PER_WEEK.into(),
                found: self.columns.join(", "),
            });
        }
        match self.blank_cost {
            Some(row) => Err(Error::MissingValue {
                file: self.file.clone(),
                row: row + 1,
                column: COST_PER_WEEK.into(),
            }),
            None => Ok(()),
        }
    }

    /// `true` when some category ends follow-up.
    pub fn has_ends(&self) -> bool {
        self.ends.contains(&true)
    }

    /// Build a code table from `(code, category)` pairs.
    pub fn from_pairs<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<CodeTable> {
        let mut out = CodeTable::empty();
        for (code, category) in pairs {
            let code = code.trim();
            if code.is_empty() || out.codes.contains_key(code) {
                return Err(Error::InvalidSetting {
                    name: "code table".into(),
                    reason: format!("code `{code}` is blank or listed twice"),
                });
            }
            let id = out
                .intern(category.trim())
                .map_err(|reason| Error::InvalidSetting {
                    name: "code table".into(),
                    reason: reason.into(),
                })?;
            out.codes.insert(code.to_string(), id);
        }
        Ok(out)
    }

    /// Map codes that are not in the table to `category` instead of failing.
    pub fn with_fallback(mut self, category: &str) -> Result<CodeTable> {
        let id = self
            .intern(category.trim())
            .map_err(|reason| Error::InvalidSetting {
                name: "fallback category".into(),
                reason: reason.into(),
            })?;
        self.fallback = Some(id);
        Ok(self)
    }

    fn empty() -> CodeTable {
        CodeTable {
            categories: vec![NONE.to_string()],
            codes: FxHashMap::default(),
            fallback: None,
            ends: vec![false; MAX_CATEGORIES + 1],
            costs: None,
            blank_cost: None,
            file: std::path::PathBuf::new(),
            columns: Vec::new(),
        }
    }

    fn intern(&mut self, name: &str) -> std::result::Result<Category, &'static str> {
        if name.is_empty() {
            return Err("blank category name");
        }
        if let Some(i) = self.categories.iter().position(|c| c == name) {
            return Ok(Category(i as u8));
        }
        if self.categories.len() >= MAX_CATEGORIES {
            return Err("more than 254 categories");
        }
        self.categories.push(name.to_string());
        Ok(Category((self.categories.len() - 1) as u8))
    }

    /// The category of a register code: blank → [`Category::NONE`]; a code not
    /// in the table → the fallback, or `None` when there is no fallback.
    pub fn lookup(&self, code: &str) -> Option<Category> {
        let code = code.trim();
        if code.is_empty() {
            return Some(Category::NONE);
        }
        self.codes.get(code).copied().or(self.fallback)
    }

    /// All category names; the index is the [`Category`] number.
    pub fn categories(&self) -> &[String] {
        &self.categories
    }

    /// The category called `name`, if the table has it.
    pub fn category(&self, name: &str) -> Option<Category> {
        self.categories
            .iter()
            .position(|c| c == name)
            .map(|i| Category(i as u8))
    }

    /// The categories `names` as a membership table indexed by category
    /// number; a name not in the table is [`Error::InvalidSetting`] named
    /// `what`, listing the table's categories.
    pub(crate) fn category_set(&self, names: &[String], what: &str) -> Result<[bool; 256]> {
        let mut set = [false; 256];
        for name in names {
            let c = self.category(name).ok_or_else(|| Error::InvalidSetting {
                name: what.into(),
                reason: format!(
                    "category `{name}` is not in the code table (it has: {})",
                    crate::excerpt::list(&self.categories)
                ),
            })?;
            set[usize::from(c.0)] = true;
        }
        Ok(set)
    }

    /// Name of category `c`.
    pub fn name(&self, c: Category) -> &str {
        self.categories
            .get(usize::from(c.0))
            .map_or("?", String::as_str)
    }

    /// Number of codes in the table.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// `true` when the table maps no code.
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    /// `(code, category name)` pairs sorted by code, e.g. for writing the table.
    pub fn entries(&self) -> Vec<(&str, &str)> {
        let mut v: Vec<_> = self
            .codes
            .iter()
            .map(|(code, &c)| (code.as_str(), self.name(c)))
            .collect();
        v.sort_unstable();
        v
    }
}
