//! The simultaneous confidence band over the weeks of one outcome
//! (methods §4): τₖ ± c·seₖ with c the quantile of max_k |Z_k| for Z
//! Gaussian with the correlation of the weekly estimates, from person-level
//! (or cluster-level) contributions. Seeded, parallel over batches of
//! draws, each with its own stream: the same seed gives the same band
//! whatever the number of threads.

use ndarray::{Array2, Axis};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::design::{Cells, Design, cell_arms, check_draws, reason, unit_moments};
use super::weekly::{Band, WeeklyEffects};
use crate::error::Result;
use crate::inputs::Arm;
use crate::outcome::OutcomeValues;
use crate::progress::{DrawReport, Draws};
use crate::rng::Rng;
use crate::stats::{self, Level, Moments};

/// Settings of [`simultaneous_band`], checked when made: 1 to
/// [`MAX_BAND_DRAWS`] Gaussian draws (default 100,000) and a seed (default
/// 20160307). In an analysis file, the `[band]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BandSpec {
    #[serde(deserialize_with = "band_draws")]
    draws: usize,
    seed: u64,
}

impl BandSpec {
    /// `draws` Gaussian draws from `seed`, or [`Error::InvalidSetting`](crate::Error::InvalidSetting)
    /// unless 1 ≤ draws ≤ [`MAX_BAND_DRAWS`].
    pub fn new(draws: usize, seed: u64) -> Result<BandSpec> {
        check_draws("band draws", draws, MAX_BAND_DRAWS)?;
        Ok(BandSpec { draws, seed })
    }

    /// Gaussian draws for the critical value.
    pub fn draws(&self) -> usize {
        self.draws
    }

    /// Seed of the draws.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// `[band] draws`, checked as it is read.
fn band_draws<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<usize, D::Error> {
    let draws = usize::deserialize(d)?;
    check_draws("band draws", draws, MAX_BAND_DRAWS)
        .map(|()| draws)
        .map_err(|e| serde::de::Error::custom(reason(e)))
}

impl Default for BandSpec {
    fn default() -> BandSpec {
        BandSpec {
            draws: 100_000,
            seed: 20_160_307,
        }
    }
}

/// Most draws of the simultaneous band: its cost is the draws times the
/// weeks squared, whatever the number of persons (10⁷ draws of 78 weeks
/// take about half a minute on two cores).
pub const MAX_BAND_DRAWS: usize = 10_000_000;

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
    band(values, effects, options, None)
}

/// [`simultaneous_band`], telling `report` how many of the draws are done.
pub(crate) fn band(
    values: &OutcomeValues<'_>,
    effects: &WeeklyEffects,
    options: &BandSpec,
    report: Option<DrawReport<'_>>,
) -> Result<Band> {
    let design = effects.design;
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
    let draws = Draws::new(options.draws as u64, report);
    band.critical_value = Some(max_abs_quantile(&lower, design.level, options, &draws));
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
fn max_abs_quantile(lower: &Array2<f64>, level: Level, options: &BandSpec, done: &Draws) -> f64 {
    let dim = lower.nrows();
    let batches = options.draws.div_ceil(DRAW_BATCH);
    let mut maxima: Vec<f64> = (0..batches)
        .into_par_iter()
        .flat_map_iter(|b| {
            let mut rng = Rng::new(options.seed, b as u64);
            let count = DRAW_BATCH.min(options.draws - b * DRAW_BATCH);
            let mut e = vec![0.0; dim];
            let maxima = (0..count)
                .map(|_| {
                    normals(&mut rng, &mut e);
                    (0..dim)
                        .map(|i| {
                            let row = lower.row(i);
                            (0..=i).map(|j| row[j] * e[j]).sum::<f64>().abs()
                        })
                        .fold(0.0, f64::max)
                })
                .collect::<Vec<f64>>();
            done.add(count as u64);
            maxima
        })
        .collect();
    maxima.sort_by(f64::total_cmp);
    let rank = ((level.get() * maxima.len() as f64).ceil() as usize).clamp(1, maxima.len());
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

#[cfg(test)]
mod tests {
    use super::*;

    fn quantile(r: Array2<f64>) -> f64 {
        let options = BandSpec::new(200_000, 11).unwrap();
        max_abs_quantile(
            &stats::cholesky(&r, 1e-12).0,
            Level::default(),
            &options,
            &Draws::new(0, None),
        )
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
