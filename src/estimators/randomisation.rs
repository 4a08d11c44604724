//! Randomisation inference (methods §4, §10): seeded re-draws of the
//! assignment within blocks (of whole clusters with clusters), or every
//! assignment of a small trial, and the per-week and max-|t| p-values. The
//! re-draws are shared by every outcome of a family ([`redraw`]).

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::design::{Cells, Design, check_draws, estimate, reason, unit_moments};
use crate::error::Result;
use crate::inputs::Arm;
use crate::outcome::OutcomeValues;
use crate::progress::{DrawReport, Draws};
use crate::rng::Rng;
use crate::stats::{self, Moments};
use crate::table::{self, Table};
use polars::prelude::DataFrame;

/// Settings of [`randomisation_test`] (and of the families' re-draws),
/// checked when made: 1 to [`MAX_RANDOMISATION_DRAWS`] re-draws of the
/// assignment (default 1,000) and a seed (default 20160307). In an analysis
/// file, the `[randomisation]` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RandomisationSpec {
    #[serde(deserialize_with = "randomisation_draws")]
    draws: usize,
    seed: u64,
}

impl RandomisationSpec {
    /// `draws` re-draws from `seed`, or [`Error::InvalidSetting`](crate::Error::InvalidSetting) unless 1 ≤
    /// draws ≤ [`MAX_RANDOMISATION_DRAWS`].
    pub fn new(draws: usize, seed: u64) -> Result<RandomisationSpec> {
        check_draws("randomisation draws", draws, MAX_RANDOMISATION_DRAWS)?;
        Ok(RandomisationSpec { draws, seed })
    }

    /// Re-draws of the assignment.
    pub fn draws(&self) -> usize {
        self.draws
    }

    /// Seed of the re-draws.
    pub fn seed(&self) -> u64 {
        self.seed
    }
}

/// `[randomisation] draws`, checked as it is read.
fn randomisation_draws<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<usize, D::Error> {
    let draws = usize::deserialize(d)?;
    check_draws("randomisation draws", draws, MAX_RANDOMISATION_DRAWS)
        .map(|()| draws)
        .map_err(|e| serde::de::Error::custom(reason(e)))
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

/// Most re-draws of the randomisation test: each re-draw recomputes every
/// weekly statistic over all persons (1,000 draws of 100,000 persons × 78
/// weeks take about 16 s on two cores), and the statistics of every draw
/// are kept.
pub const MAX_RANDOMISATION_DRAWS: usize = 100_000;

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
    randomisation(values, design, options, None)
}

/// [`randomisation_test`], telling `report` how many re-draws are done.
pub(crate) fn randomisation(
    values: &OutcomeValues<'_>,
    design: &Design,
    options: &RandomisationSpec,
    report: Option<DrawReport<'_>>,
) -> Result<RandomisationTest> {
    let weeks: Vec<i32> = values.weeks().collect();
    let r = redraw(values, design, options, &weeks, report)?;
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
    report: Option<DrawReport<'_>>,
) -> Result<Redrawn> {
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
    let done = Draws::new(n_draws as u64, report);
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
                let t = t_of(&of_unit);
                done.add(1);
                t
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
                let t = t_of(&unit);
                done.add(1);
                t
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
