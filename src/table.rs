//! Tidy result tables: the [`Table`] trait that every result table
//! implements, and the columns they share.
//!
//! Every estimator's table carries the same estimate columns, in this order
//! ([`ESTIMATE_COLUMNS`]): `n_treat, n_control, mean_treat, mean_control,
//! sd_treat, sd_control, effect, se, df, ci_low, ci_high, p_value, mde,
//! relative_effect, ratio, ratio_se, clusters_treat, clusters_control`
//! (the clusters are empty unless the person table has clusters). A missing value is a null in the
//! DataFrame and an empty cell in CSV; numbers are written at full precision
//! (shortest representation that reads back to the same `f64`).

use std::path::Path;

use polars::prelude::{Column, DataFrame, IntoColumn, NamedFrom, Series};

use crate::error::{Error, Result};
use crate::stats::{Estimate, Light};

/// A result that is one tidy table: as a polars `DataFrame`, or as CSV.
pub trait Table {
    /// The table as a `DataFrame` (missing values are nulls).
    fn to_frame(&self) -> Result<DataFrame>;

    /// Write the table to CSV: an empty cell for a missing value, numbers
    /// at full precision.
    fn write_csv(&self, path: impl AsRef<Path>) -> Result<()>
    where
        Self: Sized,
    {
        write_csv(&mut self.to_frame()?, path)
    }
}

/// The estimate columns shared by every result table.
pub const ESTIMATE_COLUMNS: [&str; 18] = [
    "n_treat",
    "n_control",
    "mean_treat",
    "mean_control",
    "sd_treat",
    "sd_control",
    "effect",
    "se",
    "df",
    "ci_low",
    "ci_high",
    "p_value",
    "mde",
    "relative_effect",
    "ratio",
    "ratio_se",
    "clusters_treat",
    "clusters_control",
];

/// Build a DataFrame from columns of equal length; `label` names the table
/// in the (unexpected) error.
pub(crate) fn frame(label: &str, columns: Vec<Column>) -> Result<DataFrame> {
    let height = columns.first().map_or(0, Column::len);
    DataFrame::new(height, columns).map_err(|e| Error::Internal {
        what: format!("the {label} table"),
        message: e.to_string(),
    })
}

/// Frames of the same columns stacked into one; `label` names the table
/// in the (unexpected) error. No frames: an empty frame.
pub(crate) fn stack(label: &str, frames: Vec<DataFrame>) -> Result<DataFrame> {
    let mut frames = frames.into_iter();
    let mut all = frames.next().unwrap_or_default();
    for f in frames {
        all.vstack_mut(&f).map_err(|e| Error::Internal {
            what: format!("the {label} table"),
            message: e.to_string(),
        })?;
    }
    Ok(all)
}

/// A column of optional floats.
pub(crate) fn floats(name: &str, values: impl IntoIterator<Item = Option<f64>>) -> Column {
    Series::new(
        name.into(),
        values.into_iter().collect::<Vec<Option<f64>>>(),
    )
    .into_column()
}

/// A column of optional counts.
pub(crate) fn counts(name: &str, values: impl IntoIterator<Item = Option<usize>>) -> Column {
    let v: Vec<Option<u64>> = values.into_iter().map(|c| c.map(|c| c as u64)).collect();
    Series::new(name.into(), v).into_column()
}

/// A column of booleans.
pub(crate) fn flags(name: &str, values: impl IntoIterator<Item = bool>) -> Column {
    Series::new(name.into(), values.into_iter().collect::<Vec<bool>>()).into_column()
}

/// A column of strings.
pub(crate) fn strings(name: &str, values: impl IntoIterator<Item = String>) -> Column {
    Series::new(name.into(), values.into_iter().collect::<Vec<String>>()).into_column()
}

/// A column of optional strings (null for `None`).
pub(crate) fn optional_strings(
    name: &str,
    values: impl IntoIterator<Item = Option<String>>,
) -> Column {
    Series::new(
        name.into(),
        values.into_iter().collect::<Vec<Option<String>>>(),
    )
    .into_column()
}

/// A column of event weeks.
pub(crate) fn weeks(values: impl IntoIterator<Item = i32>) -> Column {
    Series::new("week".into(), values.into_iter().collect::<Vec<i32>>()).into_column()
}

/// A row of a table of lit shares: (share, low, high) (the interval
/// missing when undefined), its light and whether it is uncertain.
pub(crate) type LitRow = (Option<(f64, Option<f64>, Option<f64>)>, Option<Light>, bool);

/// The columns `share, ci_low, ci_high, band, uncertain` of a table of
/// lit shares (process.csv, fidelity.csv).
pub(crate) fn lit_columns(rows: &[LitRow]) -> Vec<Column> {
    vec![
        floats("share", rows.iter().map(|r| r.0.map(|v| v.0))),
        floats("ci_low", rows.iter().map(|r| r.0.and_then(|v| v.1))),
        floats("ci_high", rows.iter().map(|r| r.0.and_then(|v| v.2))),
        optional_strings(
            "band",
            rows.iter().map(|r| r.1.map(|l| l.name().to_string())),
        ),
        flags("uncertain", rows.iter().map(|r| r.2)),
    ]
}

/// The [`ESTIMATE_COLUMNS`] for a list of estimates.
pub(crate) fn estimate_columns(rows: &[&Estimate]) -> Vec<Column> {
    let f =
        |name: &str, get: fn(&Estimate) -> Option<f64>| floats(name, rows.iter().map(|e| get(e)));
    vec![
        counts("n_treat", rows.iter().map(|e| Some(e.n_treat))),
        counts("n_control", rows.iter().map(|e| Some(e.n_control))),
        f("mean_treat", |e| e.mean_treat),
        f("mean_control", |e| e.mean_control),
        f("sd_treat", |e| e.sd_treat),
        f("sd_control", |e| e.sd_control),
        f("effect", |e| e.effect),
        f("se", |e| e.se),
        f("df", |e| e.df),
        f("ci_low", |e| e.ci_low),
        f("ci_high", |e| e.ci_high),
        f("p_value", |e| e.p_value),
        f("mde", |e| e.mde),
        f("relative_effect", |e| e.relative_effect),
        f("ratio", |e| e.ratio),
        f("ratio_se", |e| e.ratio_se),
        counts("clusters_treat", rows.iter().map(|e| e.clusters_treat)),
        counts("clusters_control", rows.iter().map(|e| e.clusters_control)),
    ]
}

/// Write a result table to CSV (empty cell for missing, full precision).
pub(crate) fn write_csv(df: &mut DataFrame, path: impl AsRef<Path>) -> Result<()> {
    crate::write::write_csv(df, path.as_ref())
}

/// Write a text file (a report, JSON or SVG), naming the file on failure.
pub(crate) fn write_text(text: &str, path: &Path) -> Result<()> {
    std::fs::write(path, text).map_err(|e| Error::Write {
        file: path.to_path_buf(),
        message: e.to_string(),
    })
}

/// Longest name a user may give a row of the outputs (an indicator, an
/// element, a family, a covariate).
pub(crate) const MAX_NAME_CHARS: usize = 80;

/// Why `name` cannot label rows of the outputs, or `None`: a name given in
/// the settings reaches the CSV files, report.md's tables and report.html
/// as it is, so it is checked once, where it is written (data labels, such
/// as sites, are escaped by the report instead).
pub(crate) fn name_problem(name: &str) -> Option<String> {
    if name.trim().is_empty() {
        return Some("a name must not be empty".into());
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Some(format!("a name has at most {MAX_NAME_CHARS} characters"));
    }
    if let Some(c) = name.chars().find(|c| c.is_control() || "|`<>".contains(*c)) {
        return Some(format!(
            "`{}` contains {}, which would break the report's tables or reach report.html \
             as markup; use letters, digits, spaces and `_-.,:()`",
            name.escape_debug(),
            match c {
                '|' => "`|`".to_string(),
                '`' => "a backtick".to_string(),
                '<' | '>' => format!("`{c}`"),
                _ => "a line break or another control character".to_string(),
            }
        ));
    }
    None
}
