//! Effects within subgroups and sites (methods §4, §10): the weekly
//! estimate within each level of a person-table covariate or each block,
//! with small-cell suppression, and per week the tests that the groups'
//! effects are equal.

use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::Serialize;

use super::design::{Cells, Design, estimate, unit_moments};
use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::inputs::CovariateValues;
use crate::outcome::OutcomeValues;
use crate::panel::Panel;
use crate::stats::{self, ChiSquare, ClusterCell, Estimate, Moments, WaldTest};
use crate::table::{self, Table};
use nalgebra::DMatrix;

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
    /// With clusters, the test the report gives: the CR2 Wald test that
    /// the groups' effects are equal, with the Hotelling T² small-sample
    /// approximation (HTZ), as R clubSandwich's `Wald_test(test = "HTZ")`
    /// on the cell means (methods §10). Unlike Q it stays valid with a few
    /// clusters per group; it uses the groups whose effect has a defined,
    /// positive se. `None` without clusters (Q and the interaction F are
    /// valid there) or with fewer than two groups.
    pub htz: Option<WaldTest>,
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
fn heterogeneity(
    rows: &[GroupEffect],
    weeks: &[i32],
    htz: Vec<Option<WaldTest>>,
    interaction: bool,
) -> Vec<Heterogeneity> {
    weeks
        .iter()
        .zip(htz)
        .map(|(&k, htz)| {
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
                htz,
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

/// Per (group, week) estimates for labelled persons (not yet suppressed),
/// and per week the HTZ test that the groups' effects are equal; in
/// parallel over weeks.
fn group_rows(
    values: &OutcomeValues<'_>,
    design: &Design,
    labels: &Labels,
) -> (Vec<GroupEffect>, Vec<Option<WaldTest>>) {
    let panel = values.panel();
    let cells = Cells::new(panel, design, Some((&labels.of, labels.names.len())));
    let per_label = cells.n_cells / labels.names.len().max(1);
    let weeks: Vec<i32> = values.weeks().collect();
    let by_week: Vec<(Vec<GroupEffect>, Option<WaldTest>)> = weeks
        .par_iter()
        .map(|&k| {
            let row = values.week(k).unwrap_or(&[]);
            let units = unit_moments(panel, row, k, &cells.unit, cells.of_unit.len());
            let m = cells.arms(&units, &cells.of_unit);
            let rows: Vec<GroupEffect> = m
                .chunks(per_label.max(1))
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
                .collect();
            let tested: Vec<bool> = rows
                .iter()
                .map(|r| r.estimate.effect.is_some() && r.estimate.se.is_some_and(|s| s > 0.0))
                .collect();
            // With clusters only: without them Cochran's Q keeps its level.
            let htz = cells
                .clustered
                .then(|| equal_effects(&units, &cells, &tested))
                .flatten();
            (rows, htz)
        })
        .collect();
    let (by_week, htz): (Vec<Vec<GroupEffect>>, Vec<Option<WaldTest>>) =
        by_week.into_iter().unzip();
    let mut rows: Vec<GroupEffect> = by_week.into_iter().flatten().collect();
    rows.sort_by(|a, b| {
        let ia = labels.names.iter().position(|n| *n == a.group);
        let ib = labels.names.iter().position(|n| *n == b.group);
        ia.cmp(&ib).then(a.week.cmp(&b.week))
    });
    (rows, htz)
}

/// The HTZ test at one week that the effects of the `tested` groups are
/// equal ([`stats::htz_test`]), from the units' moments. The model's cells
/// are (group, block, arm); a group's effect is the difference of its arms'
/// means, or, blocked, Σ_b (N_b/N)·(ȳ₁_b − ȳ₀_b) over the blocks with at
/// least two units in each arm, as its estimate. Units are clusters (each
/// one cluster's persons in a cell) or, without clusters, a cell's persons,
/// each their own cluster.
fn equal_effects(units: &[Moments], cells: &Cells, tested: &[bool]) -> Option<WaldTest> {
    let groups = tested.len();
    let blocks = cells.n_cells / groups.max(1);
    let p = 2 * cells.n_cells;
    let model_cell = |u: usize| {
        let (cell, arm) = cells.of_unit[u];
        2 * cell as usize + arm as usize
    };
    let mut n = vec![0usize; p];
    let mut sum = vec![0.0f64; p];
    let mut units_in = vec![0usize; p];
    for (u, m) in units.iter().enumerate().filter(|(_, m)| m.n > 0) {
        let c = model_cell(u);
        n[c] += m.n;
        sum[c] += m.n as f64 * m.mean;
        units_in[c] += 1;
    }
    let mean: Vec<f64> = (0..p)
        .map(|c| if n[c] > 0 { sum[c] / n[c] as f64 } else { 0.0 })
        .collect();
    // Each tested group's effect as weights on the model's cells.
    let effects: Vec<Vec<(usize, f64)>> = (0..groups)
        .filter(|&g| tested[g])
        .map(|g| {
            let used: Vec<usize> = (g * blocks..(g + 1) * blocks)
                .filter(|&b| {
                    let enough = |c: usize| if cells.clustered { units_in[c] } else { n[c] };
                    enough(2 * b) >= 2 && enough(2 * b + 1) >= 2
                })
                .collect();
            let total: usize = used.iter().map(|&b| n[2 * b] + n[2 * b + 1]).sum();
            used.iter()
                .flat_map(|&b| {
                    let w = (n[2 * b] + n[2 * b + 1]) as f64 / total as f64;
                    [
                        (2 * b + Arm::Treatment as usize, w),
                        (2 * b + Arm::Control as usize, -w),
                    ]
                })
                .collect()
        })
        .collect();
    let q = effects.len().checked_sub(1).filter(|&q| q > 0)?;
    let mut contrast = DMatrix::<f64>::zeros(q, p);
    for (i, effect) in effects[..q].iter().enumerate() {
        for &(c, w) in effect {
            contrast[(i, c)] += w;
        }
        for &(c, w) in &effects[q] {
            contrast[(i, c)] -= w;
        }
    }
    let parts: Vec<ClusterCell> = units
        .iter()
        .enumerate()
        .filter(|(_, m)| m.n > 0)
        .map(|(u, m)| {
            let c = model_cell(u);
            if cells.clustered {
                let cluster = cells.cluster_of(u, groups);
                ClusterCell::cluster(cluster, c, m.n, m.n as f64 * (m.mean - mean[c]))
            } else {
                ClusterCell::persons(u as u32, c, m.n, m.m2)
            }
        })
        .collect();
    stats::htz_test(&n, &mean, &parts, &contrast)
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
    check_min_n(min_n)?;
    let labels = covariate_labels(values.panel(), by)?;
    let (full, htz) = group_rows(values, design, &labels);
    let weeks: Vec<i32> = values.weeks().collect();
    let plain = !design.blocked && values.panel().persons().clusters().is_none();
    let heterogeneity = heterogeneity(&full, &weeks, htz, plain);
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
    let (full, htz) = group_rows(values, &plain, &labels);
    let heterogeneity = heterogeneity(&full, &weeks, htz, panel.persons().clusters().is_none());
    Ok(GroupEffects {
        outcome: values.name().to_string(),
        by: "site".into(),
        min_n,
        rows: suppress(full, min_n),
        heterogeneity,
    })
}
