//! Weekly effects (methods §4): τₖ = ȳ₁ₖ − ȳ₀ₖ over the persons observed
//! at each event week k, with Welch (or pooled) se, df, CI and p, or the
//! blocked estimator, and with clusters their CR2 forms (methods §9); Holm
//! and Benjamini–Hochberg adjusted p-values across the weeks. From an
//! outcome's values ([`weekly_effects`]) or from exact weekly sums
//! ([`weekly_effects_from_sums`]).
//!
//! Runs in parallel over weeks and gives bit-identical results whatever
//! the number of threads: each week's sums run in one thread in a fixed
//! order.

use std::path::Path;

use polars::prelude::{Column, DataFrame};
use rayon::prelude::*;
use serde::Serialize;

use super::design::{Cells, Design, cell_arms, estimate};
use crate::error::Result;
use crate::outcome::OutcomeValues;
use crate::outcome::WeeklySums;
use crate::stats::{self, CellArms, Estimate, Level};
use crate::table::{self, Table};

/// One row of [`WeeklyEffects`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeekEffect {
    /// Event week k.
    pub week: i32,
    /// The estimate at k.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// Blocked design: blocks used at k (at least two persons per arm).
    pub blocks_used: Option<usize>,
    /// Blocked design: blocks with persons at k that were dropped.
    pub blocks_dropped: Option<usize>,
    /// Holm-adjusted p-value across the weeks of the table.
    pub p_holm: Option<f64>,
    /// Benjamini–Hochberg adjusted p-value across the weeks of the table.
    pub p_bh: Option<f64>,
    /// Lower end of the simultaneous band, once one is attached.
    pub band_low: Option<f64>,
    /// Upper end of the simultaneous band, once one is attached.
    pub band_high: Option<f64>,
    /// The `[[families]]` entry this (outcome, week) belongs to, if any.
    pub family: Option<String>,
    /// Its Westfall–Young family-wise adjusted p-value.
    pub p_fwer: Option<f64>,
    /// Lin estimator: regressors dropped at k as constant or collinear.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped: Vec<String>,
    /// Why the estimate is missing, when the estimator says so (Lin: too
    /// few persons or clusters for its parameters).
    pub note: Option<String>,
}

impl WeekEffect {
    /// A row with `estimate` at week `k` and nothing else.
    pub(crate) fn new(k: i32, estimate: Estimate) -> WeekEffect {
        WeekEffect {
            week: k,
            estimate,
            blocks_used: None,
            blocks_dropped: None,
            p_holm: None,
            p_bh: None,
            band_low: None,
            band_high: None,
            family: None,
            p_fwer: None,
            dropped: Vec::new(),
            note: None,
        }
    }
}

/// Which estimator a table of weekly effects comes from.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Estimator {
    /// The difference in means (blocked, clustered: methods §4, §9).
    #[default]
    Difference,
    /// The Lin covariate-adjusted estimate ([`lin_effects`](crate::lin_effects)).
    Lin,
}

impl Estimator {
    /// `difference` or `lin`, as in `effects.csv`.
    pub fn as_str(&self) -> &'static str {
        match self {
            Estimator::Difference => "difference",
            Estimator::Lin => "lin",
        }
    }
}

/// A simultaneous confidence band over the weeks of [`WeeklyEffects`]
/// ([`simultaneous_band`](crate::estimators::simultaneous_band)).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    /// Simultaneous coverage probability (the design's level).
    pub level: Level,
    /// Gaussian draws used.
    pub draws: usize,
    /// Seed of the draws.
    pub seed: u64,
    /// c: the `level` quantile of max_k |Z_k|; `None` when no week has a
    /// defined, positive se.
    pub critical_value: Option<f64>,
    /// The weeks the band covers (those with a defined, positive se).
    pub weeks: Vec<i32>,
}

/// Weekly effects of one outcome: one [`WeekEffect`] per event week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct WeeklyEffects {
    /// Outcome name.
    pub outcome: String,
    /// The estimator.
    pub estimator: Estimator,
    /// The design used.
    pub design: Design,
    /// `true` when the person table has clusters: every standard error is
    /// cluster-robust (CR2) and randomisation re-draws whole clusters.
    pub clustered: bool,
    /// One row per event week, ascending.
    pub rows: Vec<WeekEffect>,
    /// The simultaneous band, once attached with [`WeeklyEffects::with_band`].
    pub band: Option<Band>,
}

/// The weeks in which an effect is significant
/// ([`WeeklyEffects::significant_weeks`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SignificantWeeks {
    /// Runs of consecutive tested weeks that are significant, as (first,
    /// last) event weeks, ascending.
    pub runs: Vec<(i32, i32)>,
    /// Weeks significant.
    pub significant: usize,
    /// Weeks with a defined test.
    pub tested: usize,
}

impl SignificantWeeks {
    /// The first significant week.
    pub fn first(&self) -> Option<i32> {
        self.runs.first().map(|r| r.0)
    }
}

/// How "significant" is judged by [`WeeklyEffects::significant_from`] and
/// [`WeeklyEffects::significant_weeks`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Significance {
    /// Unadjusted p-value below alpha.
    Pointwise(f64),
    /// Holm-adjusted p-value below alpha.
    Holm(f64),
    /// Benjamini–Hochberg adjusted p-value below alpha.
    BenjaminiHochberg(f64),
    /// The simultaneous band excludes 0.
    Band,
}

impl Significance {
    /// Whether week `r` is significant; `None` without a defined test.
    fn verdict(self, r: &WeekEffect) -> Option<bool> {
        match self {
            Significance::Pointwise(a) => r.estimate.p_value.map(|p| p < a),
            Significance::Holm(a) => r.p_holm.map(|p| p < a),
            Significance::BenjaminiHochberg(a) => r.p_bh.map(|p| p < a),
            Significance::Band => match (r.band_low, r.band_high) {
                (Some(lo), Some(hi)) => Some(lo > 0.0 || hi < 0.0),
                _ => None,
            },
        }
    }
}

impl WeeklyEffects {
    /// The row of event week `k`.
    pub fn week(&self, k: i32) -> Option<&WeekEffect> {
        self.rows.iter().find(|r| r.week == k)
    }

    /// The first week from which the effect stays significant through event
    /// week `through`: every later week up to `through` with a defined test
    /// is significant too ("significant from week 14 onwards"). Weeks without
    /// a defined test are skipped; `None` when the last testable week up to
    /// `through` is not significant. Late weeks rest on few (early-referred)
    /// persons, so `through` is usually the last week the report discusses.
    pub fn significant_from(&self, by: Significance, through: i32) -> Option<i32> {
        let mut from = None;
        for r in self.rows.iter().rev().filter(|r| r.week <= through) {
            match by.verdict(r) {
                Some(true) => from = Some(r.week),
                Some(false) => break,
                None => {}
            }
        }
        from
    }

    /// Where the effect is significant by `by`: the runs of consecutive
    /// tested weeks that are significant (a week without a defined test
    /// neither breaks nor extends a run), with the counts of significant
    /// and tested weeks. Unlike [`WeeklyEffects::significant_from`] it
    /// looks at every week, so an effect significant in weeks 6–41 is said
    /// to be whatever happens in the last, thinly followed weeks.
    pub fn significant_weeks(&self, by: Significance) -> SignificantWeeks {
        let mut out = SignificantWeeks::default();
        let mut open = false;
        for r in &self.rows {
            let Some(significant) = by.verdict(r) else {
                continue;
            };
            out.tested += 1;
            if !significant {
                open = false;
                continue;
            }
            out.significant += 1;
            match out.runs.last_mut() {
                Some(run) if open => run.1 = r.week,
                _ => out.runs.push((r.week, r.week)),
            }
            open = true;
        }
        out
    }

    /// Attach a simultaneous band computed by [`simultaneous_band`](super::simultaneous_band) for these
    /// effects: fills `band_low`/`band_high` = effect ∓ c·se.
    pub fn with_band(mut self, band: Band) -> WeeklyEffects {
        for r in &mut self.rows {
            let (lo, hi) = match (band.critical_value, r.estimate.effect, r.estimate.se) {
                (Some(c), Some(e), Some(se)) if band.weeks.contains(&r.week) => {
                    (Some(e - c * se), Some(e + c * se))
                }
                _ => (None, None),
            };
            r.band_low = lo;
            r.band_high = hi;
        }
        self.band = Some(band);
        self
    }
}

impl Table for WeeklyEffects {
    /// The tidy table: `outcome, estimator, week`, the estimate columns,
    /// then `blocks_used, blocks_dropped, p_holm, p_bh, family, p_fwer,
    /// band_low, band_high, dropped, note` (`dropped`: the regressors
    /// dropped at that week, separated by `; `).
    fn to_frame(&self) -> Result<DataFrame> {
        effects_frame(std::slice::from_ref(self))
    }
}

/// Several outcomes' weekly effects stacked into one tidy table (the
/// `effects.csv` layout), in the order given: one row per outcome ×
/// estimator × week.
pub fn effects_frame<'a>(all: impl IntoIterator<Item = &'a WeeklyEffects>) -> Result<DataFrame> {
    let rows: Vec<(&WeeklyEffects, &WeekEffect)> = all
        .into_iter()
        .flat_map(|e| e.rows.iter().map(move |r| (e, r)))
        .collect();
    let estimates: Vec<&Estimate> = rows.iter().map(|(_, r)| &r.estimate).collect();
    let mut columns: Vec<Column> = vec![
        table::strings("outcome", rows.iter().map(|(e, _)| e.outcome.clone())),
        table::strings(
            "estimator",
            rows.iter().map(|(e, _)| e.estimator.as_str().to_string()),
        ),
        table::weeks(rows.iter().map(|(_, r)| r.week)),
    ];
    columns.extend(table::estimate_columns(&estimates));
    columns.extend([
        table::counts("blocks_used", rows.iter().map(|(_, r)| r.blocks_used)),
        table::counts("blocks_dropped", rows.iter().map(|(_, r)| r.blocks_dropped)),
        table::floats("p_holm", rows.iter().map(|(_, r)| r.p_holm)),
        table::floats("p_bh", rows.iter().map(|(_, r)| r.p_bh)),
        table::optional_strings("family", rows.iter().map(|(_, r)| r.family.clone())),
        table::floats("p_fwer", rows.iter().map(|(_, r)| r.p_fwer)),
        table::floats("band_low", rows.iter().map(|(_, r)| r.band_low)),
        table::floats("band_high", rows.iter().map(|(_, r)| r.band_high)),
        table::optional_strings(
            "dropped",
            rows.iter()
                .map(|(_, r)| (!r.dropped.is_empty()).then(|| r.dropped.join("; "))),
        ),
        table::optional_strings("note", rows.iter().map(|(_, r)| r.note.clone())),
    ]);
    table::frame("effects", columns)
}

/// Write several outcomes' weekly effects to one CSV file (`effects.csv`).
pub fn write_effects_csv<'a>(
    all: impl IntoIterator<Item = &'a WeeklyEffects>,
    path: impl AsRef<Path>,
) -> Result<()> {
    table::write_csv(&mut effects_frame(all)?, path)
}

/// The weekly estimator: for every event week of `values`, the comparison
/// of treatment and control over the persons observed that week (methods §4),
/// plus Holm and Benjamini–Hochberg adjusted p-values across the weeks.
/// Runs in parallel over weeks.
pub fn weekly_effects(values: &OutcomeValues<'_>, design: &Design) -> Result<WeeklyEffects> {
    let panel = values.panel();
    let cells = Cells::new(panel, design, None);
    let weeks: Vec<i32> = values.weeks().collect();
    Ok(weekly_table(
        values.name(),
        design,
        cells.clustered,
        &weeks,
        |k| cell_arms(panel, values.week(k).unwrap_or(&[]), k, &cells),
    ))
}

/// The weekly effects of every outcome of `sums` (one table each, in the
/// order given), as [`weekly_effects`] computes them from the outcomes'
/// values: the difference in means, or the blocked estimator for a blocked
/// design, with clusters their CR2 forms, with Holm and
/// Benjamini–Hochberg adjustments across weeks.
pub fn weekly_effects_from_sums(sums: &WeeklySums, design: &Design) -> Result<Vec<WeeklyEffects>> {
    let weeks: Vec<i32> = sums.weeks().collect();
    let first = *sums.weeks().start();
    Ok(sums
        .outcomes()
        .iter()
        .enumerate()
        .map(|(o, name)| {
            weekly_table(name, design, sums.clustered(), &weeks, |k| {
                sums.cell_arms(o, (k - first) as usize, design.blocked)
            })
        })
        .collect())
}

/// The weekly table from each week's per-cell arms (one cell, or one per
/// block for a blocked design; per cluster with clusters), in parallel over
/// weeks, with the Holm and Benjamini–Hochberg adjustments across weeks.
pub(crate) fn weekly_table(
    outcome: &str,
    design: &Design,
    clustered: bool,
    weeks: &[i32],
    cells_at: impl Fn(i32) -> Vec<CellArms> + Sync,
) -> WeeklyEffects {
    let rows: Vec<WeekEffect> = weeks
        .par_iter()
        .map(|&k| {
            let (estimate, blocks) = estimate(&cells_at(k), design, clustered);
            WeekEffect {
                blocks_used: blocks.map(|b| b.0),
                blocks_dropped: blocks.map(|b| b.1),
                ..WeekEffect::new(k, estimate)
            }
        })
        .collect();
    WeeklyEffects::from_rows(outcome, *design, Estimator::Difference, clustered, rows)
}

impl WeeklyEffects {
    /// The table of `rows` (ascending weeks), with the Holm and
    /// Benjamini–Hochberg adjustments across them.
    pub(crate) fn from_rows(
        outcome: &str,
        design: Design,
        estimator: Estimator,
        clustered: bool,
        mut rows: Vec<WeekEffect>,
    ) -> WeeklyEffects {
        let p: Vec<Option<f64>> = rows.iter().map(|r| r.estimate.p_value).collect();
        for ((r, h), b) in rows
            .iter_mut()
            .zip(stats::holm(&p))
            .zip(stats::benjamini_hochberg(&p))
        {
            r.p_holm = h;
            r.p_bh = b;
        }
        WeeklyEffects {
            outcome: outcome.to_string(),
            estimator,
            design,
            clustered,
            rows,
            band: None,
        }
    }
}
