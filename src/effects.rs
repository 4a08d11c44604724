//! Treatment effects per event week (methods §4).
//!
//! Each estimator is one function taking [`OutcomeValues`] and a [`Design`]
//! (blocked or not, confidence level, variance) and returning a tidy table
//! whose rows carry the same [`Estimate`] columns:
//!
//! * [`weekly_effects`]: τₖ = ȳ₁ₖ − ȳ₀ₖ over the persons observed at k, with
//!   Welch (or pooled) se, df, CI and p, or the blocked estimator; Holm and
//!   Benjamini–Hochberg adjusted p-values across the weeks;
//! * [`simultaneous_band`]: a band covering the whole curve of weekly effects
//!   with the chosen probability, from the person-level covariance of the
//!   weekly estimates;
//! * [`randomisation_test`]: p-values from seeded re-draws of the assignment;
//! * [`subgroup_effects`] and [`site_effects`]: the same estimates within
//!   subgroups or sites, with small-cell suppression and a heterogeneity test.
//!
//! **Clusters.** When the person table has a cluster column
//! ([`PersonSpec::cluster_column`](crate::PersonSpec::cluster_column)),
//! every one of them treats the cluster as the unit of randomisation
//! (methods §9): CR2 standard errors with Bell–McCaffrey df (blocked:
//! df = J − 2B), re-draws of whole clusters, ψ summed within clusters; each
//! row counts its clusters. The covariate-adjusted estimate beside these is
//! [`lin_effects`](crate::lin_effects).
//!
//! Everything runs in parallel (over weeks, band draws or randomisation
//! draws) and gives bit-identical results whatever the number of threads:
//! each week's sums run in one thread in a fixed order, and each batch of
//! random draws has its own seeded stream.

use std::path::Path;

use ndarray::{Array2, Axis};
use polars::prelude::{Column, DataFrame};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::outcome::OutcomeValues;
use crate::panel::Panel;
use crate::persons::{Arm, CovariateValues};
use crate::rng::Rng;
use crate::stats::{self, ChiSquare, Estimate, Moments, Variance};
use crate::table::{self, Table};

/// The design of the comparison: how the estimator treats blocks, the
/// confidence level and the variance estimator. Clusters are not a setting
/// here: they come with the persons (a cluster column), so that a clustered
/// trial cannot be analysed as if persons were randomised.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Design {
    /// Randomised within blocks (the person table's block column): use the
    /// blocked estimator, and re-draw the assignment within blocks.
    /// Default `false`.
    pub blocked: bool,
    /// Confidence level of intervals, in (0, 1). Default 0.95.
    pub level: f64,
    /// Welch (default) or pooled variance.
    pub variance: Variance,
}

impl Default for Design {
    fn default() -> Design {
        Design {
            blocked: false,
            level: 0.95,
            variance: Variance::Welch,
        }
    }
}

impl Design {
    /// Use the blocked estimator (randomisation within blocks).
    pub fn blocked(mut self, blocked: bool) -> Design {
        self.blocked = blocked;
        self
    }

    /// Confidence level, e.g. 0.90.
    pub fn level(mut self, level: f64) -> Design {
        self.level = level;
        self
    }

    /// Variance estimator.
    pub fn variance(mut self, variance: Variance) -> Design {
        self.variance = variance;
        self
    }

    pub(crate) fn check(&self) -> Result<()> {
        stats::check_level(self.level)
    }
}

/// Which persons are compared with which, and the units of inference.
///
/// Every person belongs to a cell (0, or the block, or subgroup × block)
/// and to a unit: without clusters the unit is `2·cell + arm`; with
/// clusters it is the cluster (within the subgroup), whose arm and cell are
/// the same for all its persons.
struct Cells {
    /// Each panel person's unit.
    unit: Vec<u32>,
    /// Each unit's (cell, arm).
    of_unit: Vec<(u32, Arm)>,
    n_cells: usize,
    clustered: bool,
}

/// The (treatment, control) moments of one cell, per unit: one entry per
/// arm without clusters, one per cluster with them.
pub(crate) type CellArms = (Vec<Moments>, Vec<Moments>);

impl Cells {
    /// Cells for `design`, optionally split first by `labels` (one label per
    /// panel person, `n_labels` of them).
    fn new(panel: &Panel, design: &Design, labels: Option<(&[u32], usize)>) -> Cells {
        let persons = panel.persons();
        let blocks = &persons.blocks().index;
        let n_blocks = if design.blocked {
            persons.blocks().labels.len()
        } else {
            1
        };
        let n_labels = labels.map_or(1, |(_, n)| n);
        let cell = |p: usize| {
            let block = if design.blocked { blocks[p] } else { 0 };
            labels.map_or(0, |(l, _)| l[p]) * n_blocks as u32 + block
        };
        let n_cells = n_labels * n_blocks;
        let arms = persons.arms();
        match persons.clusters() {
            None => Cells {
                unit: (0..panel.n_persons())
                    .map(|p| 2 * cell(p) + arms[p] as u32)
                    .collect(),
                of_unit: (0..n_cells as u32)
                    .flat_map(|c| Arm::BOTH.map(|arm| (c, arm)))
                    .collect(),
                n_cells,
                clustered: false,
            },
            Some(clusters) => {
                let n_clusters = clusters.labels.len() as u32;
                let mut of_unit = vec![(0, Arm::Control); n_labels * n_clusters as usize];
                let unit = (0..panel.n_persons())
                    .map(|p| {
                        let u = labels.map_or(0, |(l, _)| l[p]) * n_clusters + clusters.index[p];
                        of_unit[u as usize] = (cell(p), arms[p]);
                        u
                    })
                    .collect();
                Cells {
                    unit,
                    of_unit,
                    n_cells,
                    clustered: true,
                }
            }
        }
    }

    /// Each cell's arms from the units' moments (units in index order).
    fn arms(&self, units: &[Moments], of_unit: &[(u32, Arm)]) -> Vec<CellArms> {
        let mut cells: Vec<CellArms> = vec![(Vec::new(), Vec::new()); self.n_cells];
        for (m, &(c, arm)) in units.iter().zip(of_unit) {
            let (t, k) = &mut cells[c as usize];
            match arm {
                Arm::Treatment => t.push(*m),
                Arm::Control => k.push(*m),
            }
        }
        cells
    }
}

/// Moments of the non-missing values at event week `k` per unit, over the
/// persons observed at k. Two passes in panel order.
fn unit_moments(panel: &Panel, row: &[f64], k: i32, unit: &[u32], n_units: usize) -> Vec<Moments> {
    let mut n = vec![0usize; n_units];
    let mut sum = vec![0.0f64; n_units];
    for (_, range) in panel.observed(k) {
        for p in range {
            let y = row[p];
            if !y.is_nan() {
                let s = unit[p] as usize;
                n[s] += 1;
                sum[s] += y;
            }
        }
    }
    let mean: Vec<f64> = n
        .iter()
        .zip(&sum)
        .map(|(&n, &s)| if n > 0 { s / n as f64 } else { 0.0 })
        .collect();
    let mut dev = vec![0.0f64; n_units];
    let mut dev2 = vec![0.0f64; n_units];
    for (_, range) in panel.observed(k) {
        for p in range {
            let y = row[p];
            if !y.is_nan() {
                let s = unit[p] as usize;
                let d = y - mean[s];
                dev[s] += d;
                dev2[s] += d * d;
            }
        }
    }
    (0..n_units)
        .map(|s| {
            if n[s] == 0 {
                return Moments::default();
            }
            let nn = n[s] as f64;
            Moments {
                n: n[s],
                mean: mean[s] + dev[s] / nn,
                m2: (dev2[s] - dev[s] * dev[s] / nn).max(0.0),
            }
        })
        .collect()
}

/// The estimate from each cell's arms: the difference in means when the
/// design is not blocked (one cell), the blocked estimator otherwise; with
/// clusters, their CR2 forms (methods §9).
pub(crate) fn estimate(
    cells: &[CellArms],
    design: &Design,
    clustered: bool,
) -> (Estimate, Option<(usize, usize)>) {
    let merged = |(t, c): &CellArms| (stats::merged(t), stats::merged(c));
    let b = match (design.blocked, clustered) {
        (false, false) => {
            let (t, c) = cells.first().map(merged).unwrap_or_default();
            return (
                stats::difference_in_means(&t, &c, design.level, design.variance),
                None,
            );
        }
        (false, true) => {
            let (t, c) = cells.first().cloned().unwrap_or_default();
            return (
                stats::clustered_difference_in_means(&t, &c, design.level),
                None,
            );
        }
        (true, false) => {
            let blocks: Vec<(Moments, Moments)> = cells.iter().map(merged).collect();
            stats::blocked_difference_in_means(&blocks, design.level, design.variance)
        }
        (true, true) => stats::blocked_clustered_difference_in_means(cells, design.level),
    };
    (b.estimate, Some((b.blocks_used, b.blocks_dropped)))
}

/// Each cell's arms at event week `k` for the units of `cells`.
fn cell_arms(panel: &Panel, row: &[f64], k: i32, cells: &Cells) -> Vec<CellArms> {
    let units = unit_moments(panel, row, k, &cells.unit, cells.of_unit.len());
    cells.arms(&units, &cells.of_unit)
}

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

/// How "significant" is judged by [`WeeklyEffects::significant_from`].
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
        let verdict = |r: &WeekEffect| -> Option<bool> {
            match by {
                Significance::Pointwise(a) => r.estimate.p_value.map(|p| p < a),
                Significance::Holm(a) => r.p_holm.map(|p| p < a),
                Significance::BenjaminiHochberg(a) => r.p_bh.map(|p| p < a),
                Significance::Band => match (r.band_low, r.band_high) {
                    (Some(lo), Some(hi)) => Some(lo > 0.0 || hi < 0.0),
                    _ => None,
                },
            }
        };
        let mut from = None;
        for r in self.rows.iter().rev().filter(|r| r.week <= through) {
            match verdict(r) {
                Some(true) => from = Some(r.week),
                Some(false) => break,
                None => {}
            }
        }
        from
    }

    /// Attach a simultaneous band computed by [`simultaneous_band`] for these
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
    design.check()?;
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

/// Settings of [`simultaneous_band`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandSpec {
    /// Gaussian draws for the critical value. Default 100,000.
    pub draws: usize,
    /// Seed of the draws. Default 20160307.
    pub seed: u64,
}

impl Default for BandSpec {
    fn default() -> BandSpec {
        BandSpec {
            draws: 100_000,
            seed: 20_160_307,
        }
    }
}

/// A simultaneous confidence band over weeks.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Band {
    /// Simultaneous coverage probability (the design's level).
    pub level: f64,
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

/// Draws per seeded stream; streams are the unit of parallel work.
const DRAW_BATCH: usize = 1024;

/// The simultaneous band for `effects` (computed from `values` with the same
/// design): τₖ ± c·seₖ, where c is the `level` quantile of max_k |Z_k| for Z
/// Gaussian with the correlation of the weekly estimates. The covariance
/// comes from person-level contributions ψᵢₖ = Tᵢ(Yᵢₖ−ȳ₁ₖ)/n₁ₖ −
/// (1−Tᵢ)(Yᵢₖ−ȳ₀ₖ)/n₀ₖ (block-weighted for a blocked design), summed over
/// persons observed in both weeks (methods §4). Attach it with
/// [`WeeklyEffects::with_band`].
pub fn simultaneous_band(
    values: &OutcomeValues<'_>,
    effects: &WeeklyEffects,
    options: &BandSpec,
) -> Result<Band> {
    let design = effects.design;
    design.check()?;
    check_draws("band draws", options.draws, MAX_BAND_DRAWS)?;
    let weeks: Vec<i32> = effects
        .rows
        .iter()
        .filter(|r| r.estimate.se.is_some_and(|s| s > 0.0) && values.week(r.week).is_some())
        .map(|r| r.week)
        .collect();
    let mut band = Band {
        level: design.level,
        draws: options.draws,
        seed: options.seed,
        critical_value: None,
        weeks,
    };
    if band.weeks.is_empty() {
        return Ok(band);
    }
    let correlation = correlation(&weekly_covariance(values, &design, &band.weeks));
    let (lower, _) = stats::cholesky(&correlation, 1e-12);
    band.critical_value = Some(max_abs_quantile(&lower, design.level, options));
    Ok(band)
}

/// Covariance of the weekly estimates at `weeks` (weeks × weeks), from
/// person-level contributions: V_kl = Σᵢ ψᵢₖψᵢₗ over persons with a value in
/// both weeks, ψᵢₖ = Tᵢ(Yᵢₖ−ȳ₁ₖ)/n₁ₖ − (1−Tᵢ)(Yᵢₖ−ȳ₀ₖ)/n₀ₖ (methods §4); for a
/// blocked design ψᵢₖ uses the means and counts of i's block and is weighted
/// by N_b/N, with persons of dropped blocks contributing 0. With clusters,
/// ψ is summed within each cluster first, V_kl = Σ_g ψ_gk ψ_gl (methods §9).
/// Weeks outside `values` give zero rows.
pub fn weekly_covariance(
    values: &OutcomeValues<'_>,
    design: &Design,
    weeks: &[i32],
) -> Array2<f64> {
    let psi = contributions(values, design, weeks);
    psi.dot(&psi.t())
}

/// Ψ: weeks × units matrix of ψ summed over each unit's persons: persons
/// without clusters, clusters with them (0 where a unit is not used at k).
fn contributions(values: &OutcomeValues<'_>, design: &Design, weeks: &[i32]) -> Array2<f64> {
    let panel = values.panel();
    let cells = Cells::new(panel, design, None);
    let cluster_of = panel
        .persons()
        .clusters()
        .map(|c| (&c.index, c.labels.len()));
    let columns = cluster_of.map_or(panel.n_persons(), |(_, n)| n);
    let mut psi = Array2::<f64>::zeros((weeks.len(), columns));
    psi.axis_iter_mut(Axis(0))
        .into_par_iter()
        .zip(weeks.par_iter())
        .for_each(|(mut out, &k)| {
            let row = values.week(k).unwrap_or(&[]);
            let m: Vec<(Moments, Moments)> = cell_arms(panel, row, k, &cells)
                .iter()
                .map(|(t, c)| (stats::merged(t), stats::merged(c)))
                .collect();
            let units = unit_moments(panel, row, k, &cells.unit, cells.of_unit.len());
            let arm_units = |cell: usize, arm: Arm| {
                units
                    .iter()
                    .zip(&cells.of_unit)
                    .filter(|(u, o)| u.n > 0 && o.0 as usize == cell && o.1 == arm)
                    .count()
            };
            let least = if design.blocked { 2 } else { 1 };
            let used = |cell: usize, (t, c): &(Moments, Moments)| {
                if cells.clustered {
                    arm_units(cell, Arm::Treatment) >= least.max(2)
                        && arm_units(cell, Arm::Control) >= least.max(2)
                } else {
                    t.n >= least && c.n >= least
                }
            };
            let used: Vec<bool> = m.iter().enumerate().map(|(i, x)| used(i, x)).collect();
            let n_used: usize = m
                .iter()
                .zip(&used)
                .filter(|(_, u)| **u)
                .map(|((t, c), _)| t.n + c.n)
                .sum();
            let weight: Vec<f64> = m
                .iter()
                .zip(&used)
                .map(|(x, &u)| match (u, design.blocked) {
                    (false, _) => 0.0,
                    (true, true) => (x.0.n + x.1.n) as f64 / n_used as f64,
                    (true, false) => 1.0,
                })
                .collect();
            for (_, range) in panel.observed(k) {
                for p in range {
                    let y = row[p];
                    let (cell, arm) = cells.of_unit[cells.unit[p] as usize];
                    let (cell, w) = (cell as usize, weight[cell as usize]);
                    if y.is_nan() || w == 0.0 {
                        continue;
                    }
                    let (t, c) = &m[cell];
                    let value = match arm {
                        Arm::Treatment => w * (y - t.mean) / t.n as f64,
                        Arm::Control => -w * (y - c.mean) / c.n as f64,
                    };
                    match cluster_of {
                        Some((index, _)) => out[index[p] as usize] += value,
                        None => out[p] = value,
                    }
                }
            }
        });
    psi
}

/// Correlation matrix of a covariance matrix with positive diagonal.
fn correlation(cov: &Array2<f64>) -> Array2<f64> {
    let d: Vec<f64> = cov.diag().iter().map(|v| v.sqrt()).collect();
    Array2::from_shape_fn(cov.dim(), |(i, j)| {
        if i == j {
            1.0
        } else {
            (cov[(i, j)] / (d[i] * d[j])).clamp(-1.0, 1.0)
        }
    })
}

/// The `level` quantile (type 1: the ⌈level·R⌉-th smallest) of max_k |Z_k|
/// over R draws of Z = L·e, e standard normal.
fn max_abs_quantile(lower: &Array2<f64>, level: f64, options: &BandSpec) -> f64 {
    let dim = lower.nrows();
    let batches = options.draws.div_ceil(DRAW_BATCH);
    let mut maxima: Vec<f64> = (0..batches)
        .into_par_iter()
        .flat_map_iter(|b| {
            let mut rng = Rng::new(options.seed, b as u64);
            let count = DRAW_BATCH.min(options.draws - b * DRAW_BATCH);
            let mut e = vec![0.0; dim];
            (0..count)
                .map(|_| {
                    normals(&mut rng, &mut e);
                    (0..dim)
                        .map(|i| {
                            let row = lower.row(i);
                            (0..=i).map(|j| row[j] * e[j]).sum::<f64>().abs()
                        })
                        .fold(0.0, f64::max)
                })
                .collect::<Vec<f64>>()
        })
        .collect();
    maxima.sort_by(f64::total_cmp);
    let rank = ((level * maxima.len() as f64).ceil() as usize).clamp(1, maxima.len());
    maxima[rank - 1]
}

/// Fill `out` with independent standard normals (Box–Muller).
fn normals(rng: &mut Rng, out: &mut [f64]) {
    for pair in out.chunks_mut(2) {
        let u1 = 1.0 - rng.uniform();
        let u2 = rng.uniform();
        let radius = (-2.0 * u1.ln()).sqrt();
        let angle = std::f64::consts::TAU * u2;
        pair[0] = radius * angle.cos();
        if let Some(second) = pair.get_mut(1) {
            *second = radius * angle.sin();
        }
    }
}

/// Settings of [`randomisation_test`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomisationSpec {
    /// Re-draws of the assignment. Default 1,000.
    pub draws: usize,
    /// Seed. Default 20160307.
    pub seed: u64,
}

impl Default for RandomisationSpec {
    fn default() -> RandomisationSpec {
        RandomisationSpec {
            draws: 1000,
            seed: 20_160_307,
        }
    }
}

/// Result of [`randomisation_test`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct RandomisationTest {
    /// Outcome name.
    pub outcome: String,
    /// Re-draws used: the draws asked for, or every assignment (`exact`).
    pub draws: usize,
    /// `true` when there were no more possible assignments than draws asked
    /// for, so every one was enumerated: the p-values are exact,
    /// #{|t*| ≥ |t|}/N over the N assignments (the observed one among them).
    pub exact: bool,
    /// Seed.
    pub seed: u64,
    /// Event weeks.
    pub weeks: Vec<i32>,
    /// Observed t = τ/se per week (`None` where undefined).
    pub t: Vec<Option<f64>>,
    /// Randomisation p-value per week: (1 + #{|t*ₖ| ≥ |tₖ|}) / (1 + R), R the
    /// re-draws with a defined t*ₖ.
    pub p_values: Vec<Option<f64>>,
    /// max_k |t_k| over weeks with a defined t.
    pub max_abs_t: Option<f64>,
    /// p-value of max_k |t_k|, the same formula over the re-draws' maxima:
    /// one test of "no effect in any week".
    pub p_max_t: Option<f64>,
}

impl Table for RandomisationTest {
    /// The tidy table: `outcome, week, t, p_value` (randomisation p).
    fn to_frame(&self) -> Result<DataFrame> {
        table::frame(
            "randomisation test",
            vec![
                table::strings("outcome", self.weeks.iter().map(|_| self.outcome.clone())),
                table::weeks(self.weeks.iter().copied()),
                table::floats("t", self.t.iter().copied()),
                table::floats("p_value", self.p_values.iter().copied()),
            ],
        )
    }
}

/// Most draws of the simultaneous band: its cost is the draws times the
/// weeks squared, whatever the number of persons (10⁷ draws of 78 weeks
/// take about half a minute on two cores).
pub const MAX_BAND_DRAWS: usize = 10_000_000;

/// Most re-draws of the randomisation test: each re-draw recomputes every
/// weekly statistic over all persons (1,000 draws of 100,000 persons × 78
/// weeks take about 16 s on two cores), and the statistics of every draw
/// are kept.
pub const MAX_RANDOMISATION_DRAWS: usize = 100_000;

/// `draws` must be between 1 and `max`.
pub(crate) fn check_draws(name: &str, draws: usize, max: usize) -> Result<()> {
    if (1..=max).contains(&draws) {
        return Ok(());
    }
    Err(Error::InvalidSetting {
        name: name.into(),
        reason: format!("must be between 1 and {max}, not {draws}"),
    })
}

/// Randomisation inference: re-draw the assignment `draws` times (a random
/// permutation of the arm labels, within blocks when the design is blocked,
/// so every re-draw has the observed arm sizes; of whole clusters' arm
/// labels when the person table has clusters, methods §9), recompute the
/// weekly t statistics, and report per-week p-values and the p-value of
/// max_k|t_k|.
/// Seeded and parallel over draws; the same seed gives the same p-values
/// whatever the number of threads.
pub fn randomisation_test(
    values: &OutcomeValues<'_>,
    design: &Design,
    options: &RandomisationSpec,
) -> Result<RandomisationTest> {
    let weeks: Vec<i32> = values.weeks().collect();
    let r = redraw(values, design, options, &weeks)?;
    let max_abs = |t: &[Option<f64>]| t.iter().flatten().map(|t| t.abs()).reduce(f64::max);
    let observed_max = max_abs(&r.observed);
    let p_values = (0..weeks.len())
        .map(|i| r.p_value(r.observed[i], r.drawn.iter().map(|t| t[i])))
        .collect();
    let p_max_t = r.p_value(observed_max, r.drawn.iter().map(|t| max_abs(t)));
    Ok(RandomisationTest {
        outcome: values.name().to_string(),
        draws: r.drawn.len(),
        exact: r.exact,
        seed: options.seed,
        weeks,
        t: r.observed,
        p_values,
        max_abs_t: observed_max,
        p_max_t,
    })
}

/// The observed and re-drawn t statistics of an outcome at some weeks.
pub(crate) struct Redrawn {
    /// Observed t per week.
    pub observed: Vec<Option<f64>>,
    /// t per re-draw and week.
    pub drawn: Vec<Vec<Option<f64>>>,
    /// Every assignment was enumerated (the observed one among them).
    pub exact: bool,
}

impl Redrawn {
    /// The randomisation p-value of `observed` among `stars`: (1 + #{|t*| ≥
    /// |t|})/(1 + R) over the R re-draws with a defined t*, or #{|t*| ≥
    /// |t|}/N over all N assignments when they were enumerated.
    pub fn p_value(
        &self,
        observed: Option<f64>,
        stars: impl Iterator<Item = Option<f64>>,
    ) -> Option<f64> {
        let obs = observed?;
        let (mut hits, mut n) = (0usize, 0usize);
        for s in stars.flatten() {
            n += 1;
            hits += usize::from(stats::as_extreme(s, obs));
        }
        Some(if self.exact {
            hits as f64 / n.max(1) as f64
        } else {
            (1 + hits) as f64 / (1 + n) as f64
        })
    }
}

/// Who is re-drawn: the members of each cell (persons, or clusters) and
/// their observed arms; each re-draw permutes the arms within each cell.
struct Assignments {
    members: Vec<Vec<usize>>,
    arms: Vec<Vec<Arm>>,
    /// Every assignment in order, when there are at most as many as the
    /// draws asked for: the count per cell and in all.
    exact: Option<(Vec<u128>, usize)>,
}

impl Assignments {
    fn new(members: Vec<Vec<usize>>, arms: Vec<Vec<Arm>>, draws: usize) -> Assignments {
        let per_cell: Option<Vec<u128>> = arms
            .iter()
            .map(|a| {
                let k = a.iter().filter(|&&x| x == Arm::Treatment).count();
                binomial(a.len(), k)
            })
            .collect();
        let exact = per_cell.and_then(|c| {
            let total = c
                .iter()
                .try_fold(1u128, |acc, &x| acc.checked_mul(x))
                .filter(|&t| t <= draws as u128)?;
            Some((c, total as usize))
        });
        Assignments {
            members,
            arms,
            exact,
        }
    }

    /// Number of re-draws: every assignment, or `draws`.
    fn count(&self, draws: usize) -> usize {
        self.exact.as_ref().map_or(draws, |e| e.1)
    }

    /// The arms of draw `d`, per cell and member: the `d`-th assignment in
    /// the order of the cells' combinations (exact), or a seeded shuffle.
    fn draw(&self, d: usize, seed: u64) -> Vec<Vec<Arm>> {
        match &self.exact {
            Some((per_cell, _)) => {
                let mut rank = d as u128;
                self.arms
                    .iter()
                    .zip(per_cell)
                    .map(|(arms, &count)| {
                        let (here, rest) = (rank % count, rank / count);
                        rank = rest;
                        let k = arms.iter().filter(|&&x| x == Arm::Treatment).count();
                        combination(arms.len(), k, here)
                    })
                    .collect()
            }
            None => {
                let mut rng = Rng::new(seed, d as u64);
                self.arms
                    .iter()
                    .map(|a| {
                        let mut a = a.clone();
                        rng.shuffle(&mut a);
                        a
                    })
                    .collect()
            }
        }
    }
}

/// C(n, k), or `None` beyond u128.
fn binomial(n: usize, k: usize) -> Option<u128> {
    let k = k.min(n - k);
    (0..k).try_fold(1u128, |acc, i| {
        Some(acc.checked_mul((n - i) as u128)? / (i as u128 + 1))
    })
}

/// The `rank`-th (lexicographic) choice of `k` treated among `n`, as arms.
fn combination(n: usize, mut k: usize, mut rank: u128) -> Vec<Arm> {
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        // Choices that treat member i: C(n − i − 1, k − 1).
        let with = if k == 0 {
            0
        } else {
            binomial(n - i - 1, k - 1).unwrap_or(u128::MAX)
        };
        if k > 0 && rank < with {
            out.push(Arm::Treatment);
            k -= 1;
        } else {
            rank -= with;
            out.push(Arm::Control);
        }
    }
    out
}

/// The observed and re-drawn t of `values` at `weeks`: `options.draws`
/// seeded permutations of the arms within cells (persons, or whole
/// clusters), or every assignment when there are no more than that. The
/// d-th re-draw is the same assignment for every outcome of one panel and
/// design, so statistics of several outcomes can be combined per draw.
pub(crate) fn redraw(
    values: &OutcomeValues<'_>,
    design: &Design,
    options: &RandomisationSpec,
    weeks: &[i32],
) -> Result<Redrawn> {
    design.check()?;
    check_draws(
        "randomisation draws",
        options.draws,
        MAX_RANDOMISATION_DRAWS,
    )?;
    let panel = values.panel();
    let cells = Cells::new(panel, design, None);
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); cells.n_cells];
    if cells.clustered {
        // Clusters with persons in the panel, per cell.
        let mut seen = vec![false; cells.of_unit.len()];
        for &u in &cells.unit {
            seen[u as usize] = true;
        }
        for (u, &(c, _)) in cells.of_unit.iter().enumerate() {
            if seen[u] {
                members[c as usize].push(u);
            }
        }
    } else {
        for (p, &s) in cells.unit.iter().enumerate() {
            members[s as usize / 2].push(p);
        }
    }
    let arms: Vec<Vec<Arm>> = members
        .iter()
        .map(|m| {
            m.iter()
                .map(|&i| {
                    if cells.clustered {
                        cells.of_unit[i].1
                    } else {
                        cells.of_unit[cells.unit[i] as usize].1
                    }
                })
                .collect()
        })
        .collect();
    let assignments = Assignments::new(members, arms, options.draws);
    let n_draws = assignments.count(options.draws);
    let (observed, drawn) = if cells.clustered {
        // Whole clusters are re-drawn: their moments at each week stay, only
        // their arms change.
        let units: Vec<Vec<Moments>> = weeks
            .par_iter()
            .map(|&k| {
                let row = values.week(k).unwrap_or(&[]);
                unit_moments(panel, row, k, &cells.unit, cells.of_unit.len())
            })
            .collect();
        let t_of = |of_unit: &[(u32, Arm)]| -> Vec<Option<f64>> {
            units
                .iter()
                .map(|u| estimate(&cells.arms(u, of_unit), design, true).0.t)
                .collect()
        };
        let drawn = (0..n_draws)
            .into_par_iter()
            .map(|d| {
                let mut of_unit = cells.of_unit.clone();
                for (m, arms) in assignments
                    .members
                    .iter()
                    .zip(assignments.draw(d, options.seed))
                {
                    for (&u, a) in m.iter().zip(arms) {
                        of_unit[u].1 = a;
                    }
                }
                t_of(&of_unit)
            })
            .collect();
        (t_of(&cells.of_unit), drawn)
    } else {
        let t_of = |unit: &[u32]| -> Vec<Option<f64>> {
            weeks
                .iter()
                .map(|&k| {
                    let row = values.week(k).unwrap_or(&[]);
                    let m = unit_moments(panel, row, k, unit, cells.of_unit.len());
                    estimate(&cells.arms(&m, &cells.of_unit), design, false).0.t
                })
                .collect()
        };
        let drawn = (0..n_draws)
            .into_par_iter()
            .map(|d| {
                let mut unit = cells.unit.clone();
                for (m, arms) in assignments
                    .members
                    .iter()
                    .zip(assignments.draw(d, options.seed))
                {
                    for (&p, a) in m.iter().zip(arms) {
                        unit[p] = cells.unit[p] - cells.unit[p] % 2 + a as u32;
                    }
                }
                t_of(&unit)
            })
            .collect();
        (t_of(&cells.unit), drawn)
    };
    Ok(Redrawn {
        observed,
        drawn,
        exact: assignments.exact.is_some(),
    })
}

/// One row of a subgroup or site table.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupEffect {
    /// The subgroup level or site label.
    pub group: String,
    /// Event week.
    pub week: i32,
    /// The estimate; with `suppressed`, only `n_treat` and `n_control` are
    /// kept and every other value is missing.
    #[serde(flatten)]
    pub estimate: Estimate,
    /// Blocked design: blocks used.
    pub blocks_used: Option<usize>,
    /// Blocked design: blocks dropped.
    pub blocks_dropped: Option<usize>,
    /// `true` when an arm has fewer than the minimum number of persons.
    pub suppressed: bool,
}

/// Estimates within subgroups or sites, week by week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct GroupEffects {
    /// Outcome name.
    pub outcome: String,
    /// What the groups are: the covariate name, or `site`.
    pub by: String,
    /// Cells with fewer persons than this in an arm are suppressed.
    pub min_n: usize,
    /// One row per (group, week), groups in label order.
    pub rows: Vec<GroupEffect>,
    /// Per week, the tests of equal effects across the groups.
    pub heterogeneity: Vec<Heterogeneity>,
}

/// Test of heterogeneity of site effects at one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Heterogeneity {
    /// Event week.
    pub week: i32,
    /// Sites in the test (a defined, positive se).
    pub sites: usize,
    /// Cochran's Q = Σ w_s(τ_s − τ̄)², w_s = 1/se_s², with df = S − 1 and
    /// its chi-square p-value; `None` with fewer than two sites.
    pub test: Option<ChiSquare>,
    /// The treatment × group interaction F test: F = Q/(S − 1) on
    /// (S − 1, n − 2S) df, n the persons of the S groups: the Wald F of the
    /// interaction coefficients of the regression y ~ z·group with HC2
    /// standard errors (for which the groups' estimates are independent
    /// with Welch variances). Only for unblocked estimates of a trial
    /// without clusters (`None` otherwise).
    pub interaction: Option<Interaction>,
}

/// An F test of equal effects across groups.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Interaction {
    /// F statistic.
    pub f: f64,
    /// Numerator df, groups − 1.
    pub df1: f64,
    /// Denominator df, persons − 2 · groups.
    pub df2: f64,
    /// Upper-tail p-value.
    pub p_value: f64,
}

/// Per week the tests that the groups' effects are equal: Cochran's Q and,
/// with `interaction`, its F form (see [`Heterogeneity`]).
fn heterogeneity(rows: &[GroupEffect], weeks: &[i32], interaction: bool) -> Vec<Heterogeneity> {
    weeks
        .iter()
        .map(|&k| {
            let at: Vec<&GroupEffect> = rows.iter().filter(|r| r.week == k).collect();
            let est: Vec<(Option<f64>, Option<f64>)> = at
                .iter()
                .map(|r| (r.estimate.effect, r.estimate.se))
                .collect();
            let used: Vec<&&GroupEffect> = at
                .iter()
                .filter(|r| r.estimate.effect.is_some() && r.estimate.se.is_some_and(|s| s > 0.0))
                .collect();
            let test = stats::cochran_q(&est);
            let n: usize = used
                .iter()
                .map(|r| r.estimate.n_treat + r.estimate.n_control)
                .sum();
            let groups = used.len() as f64;
            let interaction = test.filter(|_| interaction).and_then(|q| {
                let (df1, df2) = (groups - 1.0, n as f64 - 2.0 * groups);
                let f = q.statistic / df1;
                (df1 > 0.0 && df2 > 0.0).then_some(())?;
                Some(Interaction {
                    f,
                    df1,
                    df2,
                    p_value: stats::f_sf(f, df1, df2)?,
                })
            });
            Heterogeneity {
                week: k,
                sites: used.len(),
                test,
                interaction,
            }
        })
        .collect()
}

impl Table for GroupEffects {
    /// The tidy table: `outcome, <by>, week`, the estimate columns, then
    /// `blocks_used, blocks_dropped, suppressed`.
    fn to_frame(&self) -> Result<DataFrame> {
        let estimates: Vec<&Estimate> = self.rows.iter().map(|r| &r.estimate).collect();
        let mut columns = vec![
            table::strings("outcome", self.rows.iter().map(|_| self.outcome.clone())),
            table::strings(&self.by, self.rows.iter().map(|r| r.group.clone())),
            table::weeks(self.rows.iter().map(|r| r.week)),
        ];
        columns.extend(table::estimate_columns(&estimates));
        columns.extend([
            table::counts("blocks_used", self.rows.iter().map(|r| r.blocks_used)),
            table::counts("blocks_dropped", self.rows.iter().map(|r| r.blocks_dropped)),
            table::flags("suppressed", self.rows.iter().map(|r| r.suppressed)),
        ]);
        table::frame("group effects", columns)
    }
}

/// Per-person group labels and their names.
struct Labels {
    of: Vec<u32>,
    names: Vec<String>,
}

/// Labels from a person-table covariate: categorical levels, or the distinct
/// values of a numeric covariate; a missing value is its own group
/// `(missing)`.
fn covariate_labels(panel: &Panel, name: &str) -> Result<Labels> {
    let cov = panel.persons().covariate(name, "subgroup")?;
    const MAX_LEVELS: usize = 100;
    let (mut names, codes): (Vec<String>, Vec<Option<u32>>) = match &cov.values {
        CovariateValues::Categorical { levels, values } => (levels.clone(), values.clone()),
        CovariateValues::Numeric(values) => {
            let mut distinct: Vec<f64> = values.iter().flatten().copied().collect();
            distinct.sort_by(f64::total_cmp);
            distinct.dedup();
            if distinct.len() > MAX_LEVELS {
                return Err(Error::InvalidSetting {
                    name: "subgroup".into(),
                    reason: format!(
                        "`{name}` has {} distinct values; subgroups need at most {MAX_LEVELS} (cut it into classes first)",
                        distinct.len()
                    ),
                });
            }
            let codes = values
                .iter()
                .map(|v| v.map(|x| distinct.partition_point(|&d| d < x) as u32))
                .collect();
            (distinct.iter().map(|d| d.to_string()).collect(), codes)
        }
    };
    let missing = names.len() as u32;
    if codes.iter().any(Option::is_none) {
        names.push("(missing)".into());
    }
    Ok(Labels {
        of: codes.iter().map(|c| c.unwrap_or(missing)).collect(),
        names,
    })
}

/// Per (group, week) estimates for labelled persons, in parallel over weeks
/// (not yet suppressed).
fn group_rows(values: &OutcomeValues<'_>, design: &Design, labels: &Labels) -> Vec<GroupEffect> {
    let panel = values.panel();
    let cells = Cells::new(panel, design, Some((&labels.of, labels.names.len())));
    let per_label = cells.n_cells / labels.names.len().max(1);
    let weeks: Vec<i32> = values.weeks().collect();
    let by_week: Vec<Vec<GroupEffect>> = weeks
        .par_iter()
        .map(|&k| {
            let m = cell_arms(panel, values.week(k).unwrap_or(&[]), k, &cells);
            m.chunks(per_label.max(1))
                .zip(&labels.names)
                .map(|(arms, name)| {
                    let (estimate, blocks) = estimate(arms, design, cells.clustered);
                    GroupEffect {
                        group: name.clone(),
                        week: k,
                        estimate,
                        blocks_used: blocks.map(|b| b.0),
                        blocks_dropped: blocks.map(|b| b.1),
                        suppressed: false,
                    }
                })
                .collect()
        })
        .collect();
    let mut rows: Vec<GroupEffect> = by_week.into_iter().flatten().collect();
    rows.sort_by(|a, b| {
        let ia = labels.names.iter().position(|n| *n == a.group);
        let ib = labels.names.iter().position(|n| *n == b.group);
        ia.cmp(&ib).then(a.week.cmp(&b.week))
    });
    rows
}

/// Flag rows where an arm has fewer than `min_n` persons and blank their
/// statistics (the counts stay).
fn suppress(rows: Vec<GroupEffect>, min_n: usize) -> Vec<GroupEffect> {
    rows.into_iter()
        .map(|mut r| {
            if r.estimate.n_treat < min_n || r.estimate.n_control < min_n {
                r.suppressed = true;
                r.estimate = Estimate {
                    n_treat: r.estimate.n_treat,
                    n_control: r.estimate.n_control,
                    ..Estimate::default()
                };
            }
            r
        })
        .collect()
}

fn check_min_n(min_n: usize) -> Result<()> {
    if min_n == 0 {
        return Err(Error::InvalidSetting {
            name: "min_n".into(),
            reason: "the minimum cell size must be at least 1".into(),
        });
    }
    Ok(())
}

/// Weekly effects within each level of the person-table covariate `by`
/// (categorical, or a numeric one with few distinct values; missing values
/// form a `(missing)` group). Cells where an arm has fewer than `min_n`
/// persons are kept and flagged `suppressed`, with their statistics blanked.
/// Per week, the tests of equal effects across the levels
/// ([`Heterogeneity`]: Cochran's Q and the treatment × subgroup
/// interaction F), over every level with a defined se.
pub fn subgroup_effects(
    values: &OutcomeValues<'_>,
    design: &Design,
    by: &str,
    min_n: usize,
) -> Result<GroupEffects> {
    design.check()?;
    check_min_n(min_n)?;
    let labels = covariate_labels(values.panel(), by)?;
    let full = group_rows(values, design, &labels);
    let weeks: Vec<i32> = values.weeks().collect();
    let plain = !design.blocked && values.panel().persons().clusters().is_none();
    let heterogeneity = heterogeneity(&full, &weeks, plain);
    Ok(GroupEffects {
        outcome: values.name().to_string(),
        by: by.to_string(),
        min_n,
        rows: suppress(full, min_n),
        heterogeneity,
    })
}

/// Weekly effects within each site (the blocks of the person table, e.g.
/// municipalities), with small-cell suppression as in [`subgroup_effects`],
/// and per week Cochran's Q test that the site effects are equal. The test
/// uses every site with a defined, positive se, suppressed or not (it
/// publishes no cell). The design's `blocked` flag is irrelevant here: each
/// site is one block.
pub fn site_effects(
    values: &OutcomeValues<'_>,
    design: &Design,
    min_n: usize,
) -> Result<GroupEffects> {
    design.check()?;
    check_min_n(min_n)?;
    let panel = values.panel();
    let blocks = panel.persons().blocks();
    if blocks.labels.len() < 2 {
        return Err(Error::InvalidSetting {
            name: "sites".into(),
            reason: "site effects need a block column with at least two sites (PersonSpec::block_column)".into(),
        });
    }
    let labels = Labels {
        of: blocks.index.clone(),
        names: blocks.labels.clone(),
    };
    let plain = design.blocked(false);
    let weeks: Vec<i32> = values.weeks().collect();
    let full = group_rows(values, &plain, &labels);
    let heterogeneity = heterogeneity(&full, &weeks, panel.persons().clusters().is_none());
    Ok(GroupEffects {
        outcome: values.name().to_string(),
        by: "site".into(),
        min_n,
        rows: suppress(full, min_n),
        heterogeneity,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quantile(r: Array2<f64>) -> f64 {
        let options = BandSpec {
            draws: 200_000,
            seed: 11,
        };
        max_abs_quantile(&stats::cholesky(&r, 1e-12).0, 0.95, &options)
    }

    #[test]
    fn max_quantile_for_independent_weeks_is_sidak() {
        // Φ⁻¹((1 + 0.95^(1/5))/2) = 2.568763 (scipy norm.ppf); Monte Carlo
        // sd of the estimate is about 0.006 with 200,000 draws.
        let c = quantile(Array2::eye(5));
        assert!((c - 2.568763).abs() < 0.025, "c = {c}");
    }

    #[test]
    fn max_quantile_for_identical_weeks_is_pointwise() {
        // Perfectly correlated weeks: one normal, c = Φ⁻¹(0.975) = 1.959964.
        let c = quantile(Array2::from_elem((4, 4), 1.0));
        assert!((c - 1.959964).abs() < 0.02, "c = {c}");
    }

    #[test]
    fn cholesky_reproduces_the_matrix() {
        let r = ndarray::arr2(&[[1.0, 0.5, 0.2], [0.5, 1.0, 0.3], [0.2, 0.3, 1.0]]);
        let (l, kept) = stats::cholesky(&r, 1e-12);
        assert_eq!(kept, vec![true; 3]);
        let back = l.dot(&l.t());
        for (a, b) in back.iter().zip(r.iter()) {
            assert!((a - b).abs() < 1e-12);
        }
    }
}
