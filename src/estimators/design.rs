//! The design of a comparison ([`Design`]: blocked or not, confidence
//! level, variance) and the cells and units it compares: persons or
//! clusters, within blocks or subgroups; the estimate of one event week
//! from each cell's arms (methods §4, §9).

use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::panel::Panel;
use crate::stats::{self, CellArms, Estimate, Level, Moments, Variance};

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
    /// Confidence level of intervals. Default 0.95.
    pub level: Level,
    /// Welch (default) or pooled variance.
    pub variance: Variance,
}

impl Default for Design {
    fn default() -> Design {
        Design {
            blocked: false,
            level: Level::default(),
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

    /// Confidence level, e.g. `Level::new(0.90)?`.
    pub fn level(mut self, level: Level) -> Design {
        self.level = level;
        self
    }

    /// Variance estimator.
    pub fn variance(mut self, variance: Variance) -> Design {
        self.variance = variance;
        self
    }
}

/// Which persons are compared with which, and the units of inference.
///
/// Every person belongs to a cell (0, or the block, or subgroup × block)
/// and to a unit: without clusters the unit is `2·cell + arm`; with
/// clusters it is the cluster (within the subgroup), whose arm and cell are
/// the same for all its persons.
pub(super) struct Cells {
    /// Each panel person's unit.
    pub(super) unit: Vec<u32>,
    /// Each unit's (cell, arm).
    pub(super) of_unit: Vec<(u32, Arm)>,
    pub(super) n_cells: usize,
    pub(super) clustered: bool,
}

impl Cells {
    /// The cluster of unit `u` (clustered: units are label × cluster).
    pub(super) fn cluster_of(&self, u: usize, n_labels: usize) -> u32 {
        (u % (self.of_unit.len() / n_labels.max(1)).max(1)) as u32
    }
}

impl Cells {
    /// Cells for `design`, optionally split first by `labels` (one label per
    /// panel person, `n_labels` of them).
    pub(super) fn new(panel: &Panel, design: &Design, labels: Option<(&[u32], usize)>) -> Cells {
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
    pub(super) fn arms(&self, units: &[Moments], of_unit: &[(u32, Arm)]) -> Vec<CellArms> {
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
pub(super) fn unit_moments(
    panel: &Panel,
    row: &[f64],
    k: i32,
    unit: &[u32],
    n_units: usize,
) -> Vec<Moments> {
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
                stats::difference_in_means(&t, &c, design.level.get(), design.variance),
                None,
            );
        }
        (false, true) => {
            let (t, c) = cells.first().cloned().unwrap_or_default();
            return (
                stats::clustered_difference_in_means(&t, &c, design.level.get()),
                None,
            );
        }
        (true, false) => {
            let blocks: Vec<(Moments, Moments)> = cells.iter().map(merged).collect();
            stats::blocked_difference_in_means(&blocks, design.level.get(), design.variance)
        }
        (true, true) => stats::blocked_clustered_difference_in_means(cells, design.level.get()),
    };
    (b.estimate, Some((b.blocks_used, b.blocks_dropped)))
}

/// Each cell's arms at event week `k` for the units of `cells`.
pub(super) fn cell_arms(panel: &Panel, row: &[f64], k: i32, cells: &Cells) -> Vec<CellArms> {
    let units = unit_moments(panel, row, k, &cells.unit, cells.of_unit.len());
    cells.arms(&units, &cells.of_unit)
}

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

/// The reason of a setting's error, for a message that names the setting
/// itself (the analysis file's key).
pub(crate) fn reason(e: Error) -> String {
    match e {
        Error::InvalidSetting { reason, .. } => reason,
        other => other.to_string(),
    }
}
