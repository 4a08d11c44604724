//! Balance tests: was the randomisation fine? (methods §6)

use std::ops::RangeInclusive;

use ndarray::Array2;
use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::{Arm, CovariateValues, Persons};
use crate::outcome::Outcome;
use crate::panel::Panel;
use crate::stats::{self, Moments, Variance};
use crate::table::{self, Table};

/// A covariate derived from the register: the sum of `outcome` over the
/// event weeks `weeks` (e.g. −52..=−1); missing for a person not observed at
/// every one of those weeks.
#[derive(Clone, Debug)]
pub struct HistoryCovariate {
    /// Column name in the balance table.
    pub name: String,
    /// What is summed.
    pub outcome: Outcome,
    /// Event weeks summed over.
    pub weeks: RangeInclusive<i32>,
}

impl HistoryCovariate {
    /// The sum of `outcome` over event weeks `weeks`.
    pub fn new(name: &str, outcome: Outcome, weeks: RangeInclusive<i32>) -> HistoryCovariate {
        HistoryCovariate {
            name: name.into(),
            outcome,
            weeks,
        }
    }

    /// Weeks on any public benefit in the `window` weeks before referral.
    pub fn weeks_on_benefit(window: u32) -> HistoryCovariate {
        let w = window as i32;
        Self::new(
            &format!("weeks_on_benefit_{w}"),
            Outcome::any_benefit(),
            -w..=-1,
        )
    }

    /// Weeks with ordinary hours in the `window` weeks before referral.
    pub fn weeks_employed(window: u32) -> HistoryCovariate {
        let w = window as i32;
        Self::new(
            &format!("weeks_employed_{w}"),
            Outcome::employed(0.0),
            -w..=-1,
        )
    }

    /// Total ordinary hours in the `window` weeks before referral.
    pub fn hours(window: u32) -> HistoryCovariate {
        let w = window as i32;
        Self::new(&format!("hours_{w}"), Outcome::hours(), -w..=-1)
    }

    /// The three methods §6 examples over 52 weeks: weeks on benefit, weeks
    /// employed, total hours.
    pub fn defaults() -> Vec<HistoryCovariate> {
        vec![
            Self::weeks_on_benefit(52),
            Self::weeks_employed(52),
            Self::hours(52),
        ]
    }
}

/// Which covariates to test.
#[derive(Clone, Debug, Default)]
pub struct BalanceSpec {
    /// Person-table covariates to include by name; `None`: all of them.
    pub covariates: Option<Vec<String>>,
    /// Covariates derived from the register.
    pub history: Vec<HistoryCovariate>,
}

impl BalanceSpec {
    /// Only these person-table covariates.
    pub fn covariates(mut self, names: &[&str]) -> BalanceSpec {
        self.covariates = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }

    /// Add a register-derived covariate.
    pub fn history(mut self, covariate: HistoryCovariate) -> BalanceSpec {
        self.history.push(covariate);
        self
    }

    /// [`Error::InvalidSetting`] when two covariates would have one name in
    /// the balance table: two history covariates, or a history covariate
    /// and a covariate of `persons`.
    pub fn check_names(&self, persons: &Persons) -> Result<()> {
        for (i, h) in self.history.iter().enumerate() {
            let person = persons.covariates().iter().any(|c| c.name == h.name);
            let twice = self.history[..i].iter().any(|o| o.name == h.name);
            if person || twice {
                return Err(Error::InvalidSetting {
                    name: "balance history".into(),
                    reason: format!(
                        "`{}` is also the name of {}; give the history covariate another \
                         `name`",
                        h.name,
                        if person {
                            "a person-table covariate"
                        } else {
                            "another history covariate"
                        }
                    ),
                });
            }
        }
        Ok(())
    }
}

/// One row of the balance table: a numeric covariate, a categorical
/// covariate's summary row (`level` = `None`), or one of its levels.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BalanceRow {
    /// Covariate name.
    pub covariate: String,
    /// The level, for a categorical covariate's level rows.
    pub level: Option<String>,
    /// Non-missing values in the treatment arm (the joint test: complete
    /// cases).
    pub n_treat: usize,
    /// Non-missing values in the control arm.
    pub n_control: usize,
    /// Missing values in the treatment arm.
    pub missing_treat: usize,
    /// Missing values in the control arm.
    pub missing_control: usize,
    /// Mean (a level row: share of the non-missing with that level).
    pub mean_treat: Option<f64>,
    /// Mean in the control arm.
    pub mean_control: Option<f64>,
    /// Standard deviation (a level row: √(p(1−p))).
    pub sd_treat: Option<f64>,
    /// Standard deviation in the control arm.
    pub sd_control: Option<f64>,
    /// mean_treat − mean_control.
    pub diff: Option<f64>,
    /// Standardised mean difference diff/√((s₁² + s₀²)/2).
    pub smd: Option<f64>,
    /// Variance ratio s₁²/s₀² (numeric covariates).
    pub var_ratio: Option<f64>,
    /// The test in this row: `welch`, `chi-square` or `F`; with clusters
    /// `cr2` (the clustered difference in means, methods §9) for numeric
    /// covariates and levels, and no chi-square.
    pub test: Option<&'static str>,
    /// Its statistic (t, chi-square or F).
    pub statistic: Option<f64>,
    /// Its degrees of freedom (df₁ for F).
    pub df1: Option<f64>,
    /// F's second degrees of freedom.
    pub df2: Option<f64>,
    /// Its p-value.
    pub p_value: Option<f64>,
    /// Chi-square p-value of missing × arm (`None` without missing values).
    pub missing_p_value: Option<f64>,
    /// Clustered design: clusters with a value in the treatment arm.
    pub clusters_treat: Option<usize>,
    /// Clustered design: clusters with a value in the control arm.
    pub clusters_control: Option<usize>,
}

impl BalanceRow {
    fn new(covariate: &str, level: Option<String>) -> BalanceRow {
        BalanceRow {
            covariate: covariate.into(),
            level,
            n_treat: 0,
            n_control: 0,
            missing_treat: 0,
            missing_control: 0,
            mean_treat: None,
            mean_control: None,
            sd_treat: None,
            sd_control: None,
            diff: None,
            smd: None,
            var_ratio: None,
            test: None,
            statistic: None,
            df1: None,
            df2: None,
            p_value: None,
            missing_p_value: None,
            clusters_treat: None,
            clusters_control: None,
        }
    }
}

/// The joint F-test that all covariates' slopes are 0.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct JointTest {
    /// Complete cases used, `[control, treatment]`.
    pub n: [usize; 2],
    /// Whether block fixed effects were included.
    pub block_effects: bool,
    /// F statistic; `None` when undefined (see `note`).
    pub f: Option<f64>,
    /// Numerator df: covariate columns kept.
    pub df1: Option<f64>,
    /// Denominator df: n − 1 − all columns kept.
    pub df2: Option<f64>,
    /// Upper-tail p-value of F(df1, df2).
    pub p_value: Option<f64>,
    /// Design columns dropped as constant or collinear.
    pub dropped: Vec<String>,
    /// Why the test is undefined, when it is.
    pub note: Option<String>,
    /// Clustered design: clusters among the complete cases. The test is then
    /// the cluster-robust Wald F (CR1, df₂ = clusters − 1), as Stata's
    /// `regress …, vce(cluster c)` followed by `test`.
    pub clusters: Option<usize>,
}

/// The balance table and the joint test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Balance {
    /// Per covariate (and level) rows.
    pub rows: Vec<BalanceRow>,
    /// The joint F-test.
    pub joint: JointTest,
    /// History covariates without a value for anyone (the register does
    /// not reach their window before any referral), left out.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub left_out: Vec<String>,
}

/// A covariate's values in panel order.
pub(crate) enum Values {
    Numeric(Vec<Option<f64>>),
    Categorical(Vec<String>, Vec<Option<u32>>),
}

/// Balance tests: was the randomisation fine? (methods §6)
///
/// Covariates come from the person table (numeric, binary 0/1 or
/// categorical, with missing values) and from the register before referral
/// ([`HistoryCovariate`]: the sum of any [`Outcome`] over a window of event
/// weeks, e.g. weeks on benefit in the 52 weeks before referral).
///
/// * numeric and binary: n and missing per arm, means, sds, difference,
///   SMD = (x̄₁ − x̄₀)/√((s₁² + s₀²)/2), variance ratio s₁²/s₀², Welch t test;
/// * categorical: share of each level per arm, SMD per level
///   ((p₁ − p₀)/√((p₁(1−p₁) + p₀(1−p₀))/2)), Pearson chi-square (no
///   continuity correction) on the arm × level table;
/// * every covariate: a chi-square test that missingness does not differ by
///   arm;
/// * jointly: OLS of the 0/1 treatment indicator on all covariates
///   (categoricals as dummies, the first level the reference), complete
///   cases, F-test that all slopes are 0, with block fixed effects when the
///   person table has blocks.
///
/// Undefined values (an sd with one person, an SMD of a constant covariate,
/// a test with one level) are missing, never NaN.
///
/// Balance of every covariate of `spec` between the arms of `panel`, and
/// the joint test (with block fixed effects when the person table has more
/// than one block).
pub fn balance(panel: &Panel, spec: &BalanceSpec) -> Result<Balance> {
    let persons = panel.persons();
    spec.check_names(persons)?;
    let order: Vec<usize> = (0..persons.len()).collect();
    let covariates = person_covariates(persons, &order, spec)?;
    let history = history_values(panel, spec)?;
    balance_of(
        persons.arms(),
        &persons.blocks().index,
        persons.clusters().map(|c| c.index.as_slice()),
        spec,
        covariates,
        history,
    )
}

/// [`balance`] from its inputs, all in one order of the persons: their
/// arms, block and (clustered design) cluster indices, the person-table
/// covariates ([`person_covariates`]) and the history covariates' values
/// ([`history_values`], one vector per `spec.history`).
pub(crate) fn balance_of(
    arms: &[Arm],
    blocks: &[u32],
    clusters: Option<&[u32]>,
    spec: &BalanceSpec,
    mut covariates: Vec<(String, Values)>,
    history: Vec<Vec<Option<f64>>>,
) -> Result<Balance> {
    let mut left_out = Vec::new();
    for (h, values) in spec.history.iter().zip(history) {
        if values.iter().all(Option::is_none) {
            left_out.push(h.name.clone());
            continue;
        }
        covariates.push((h.name.clone(), Values::Numeric(values)));
    }
    if covariates.is_empty() && !left_out.is_empty() {
        // Every covariate asked for was left out: an empty table, said.
        return Ok(Balance {
            rows: Vec::new(),
            joint: JointTest {
                n: [0, 0],
                block_effects: false,
                f: None,
                df1: None,
                df2: None,
                p_value: None,
                dropped: Vec::new(),
                note: Some("no covariate has values".into()),
                clusters: None,
            },
            left_out,
        });
    }
    if covariates.is_empty() {
        return Err(Error::InvalidSetting {
            name: "balance".into(),
            reason: "no covariates: name person-table covariates (PersonSpec::covariate_columns) or add history covariates".into(),
        });
    }
    let mut rows = Vec::new();
    for (name, values) in &covariates {
        match values {
            Values::Numeric(v) => rows.push(numeric_row(name, v, arms, clusters)),
            Values::Categorical(levels, v) => {
                rows.extend(categorical_rows(name, levels, v, arms, clusters))
            }
        }
    }
    let joint = joint_test(arms, blocks, clusters, covariates);
    Ok(Balance {
        rows,
        joint,
        left_out,
    })
}

/// Most levels of a categorical balance covariate: each level is a column
/// of the joint test, and a column of free text or ids would make one per
/// person (seconds of work for a meaningless test).
pub const MAX_LEVELS: usize = 200;

/// The person-table covariates `spec` asks for, as values of the persons
/// at rows `order`, in that order.
pub(crate) fn person_covariates(
    persons: &Persons,
    order: &[usize],
    spec: &BalanceSpec,
) -> Result<Vec<(String, Values)>> {
    let available = persons.covariates();
    let names: Vec<String> = match &spec.covariates {
        Some(n) => n.clone(),
        None => available.iter().map(|c| c.name.clone()).collect(),
    };
    let mut out = Vec::new();
    for name in names {
        let cov = persons.covariate(&name, "balance covariates")?;
        let values = match &cov.values {
            CovariateValues::Numeric(v) => Values::Numeric(order.iter().map(|&i| v[i]).collect()),
            CovariateValues::Categorical { levels, .. } if levels.len() > MAX_LEVELS => {
                return Err(Error::InvalidSetting {
                    name: "balance covariates".into(),
                    reason: format!(
                        "`{name}` has {} distinct values among {} persons: free text or an \
                             id rather than a category (more than {MAX_LEVELS} levels); leave it \
                             out by listing the covariates",
                        levels.len(),
                        persons.len()
                    ),
                });
            }
            CovariateValues::Categorical { levels, values } => {
                Values::Categorical(levels.clone(), order.iter().map(|&i| values[i]).collect())
            }
        };
        out.push((name, values));
    }
    Ok(out)
}

/// The values of `spec`'s history covariates over the persons of `panel`,
/// in panel order.
pub(crate) fn history_values(panel: &Panel, spec: &BalanceSpec) -> Result<Vec<Vec<Option<f64>>>> {
    spec.history
        .iter()
        .map(|h| h.outcome.totals(panel, h.weeks.clone()))
        .collect()
}

/// Counts of (present, missing) per arm.
fn missing_counts<T>(values: &[Option<T>], arms: &[Arm]) -> [[usize; 2]; 2] {
    let mut c = [[0usize; 2]; 2];
    for (v, &a) in values.iter().zip(arms) {
        c[a as usize][usize::from(v.is_none())] += 1;
    }
    c
}

/// Fill the n / missing columns and the missingness test.
fn fill_missing(row: &mut BalanceRow, counts: [[usize; 2]; 2]) {
    let [c, t] = counts;
    row.n_treat = t[0];
    row.n_control = c[0];
    row.missing_treat = t[1];
    row.missing_control = c[1];
    let table = vec![
        vec![c[0] as f64, c[1] as f64],
        vec![t[0] as f64, t[1] as f64],
    ];
    row.missing_p_value = stats::pearson_chi_square(&table).map(|t| t.p_value);
}

/// SMD from a difference and two variances; `None` when both are 0.
fn smd(diff: Option<f64>, v1: Option<f64>, v0: Option<f64>) -> Option<f64> {
    let pooled = ((v1? + v0?) / 2.0).sqrt();
    (pooled > 0.0).then(|| diff.map(|d| d / pooled)).flatten()
}

/// The clustered difference in means of `values` (CR2, methods §9): its p
/// and the clusters per arm go into `row`, replacing the Welch test.
fn clustered_test(row: &mut BalanceRow, values: &[Option<f64>], arms: &[Arm], clusters: &[u32]) {
    let n = clusters.iter().max().map_or(0, |&c| c as usize + 1);
    let mut per: Vec<Vec<f64>> = vec![Vec::new(); n];
    let mut arm_of = vec![Arm::Control; n];
    for ((v, &a), &c) in values.iter().zip(arms).zip(clusters) {
        arm_of[c as usize] = a;
        if let Some(x) = v {
            per[c as usize].push(*x);
        }
    }
    let (mut t, mut k) = (Vec::new(), Vec::new());
    for (c, x) in per.iter().enumerate() {
        let m = Moments::of(x);
        match arm_of[c] {
            Arm::Treatment => t.push(m),
            Arm::Control => k.push(m),
        }
    }
    let e = stats::clustered_difference_in_means(&t, &k, 0.95);
    row.test = Some("cr2");
    row.statistic = e.t;
    row.df1 = e.df;
    row.p_value = e.p_value;
    row.clusters_treat = e.clusters_treat;
    row.clusters_control = e.clusters_control;
}

fn numeric_row(
    name: &str,
    values: &[Option<f64>],
    arms: &[Arm],
    clusters: Option<&[u32]>,
) -> BalanceRow {
    let mut row = BalanceRow::new(name, None);
    fill_missing(&mut row, missing_counts(values, arms));
    let arm_values = |arm: Arm| -> Vec<f64> {
        values
            .iter()
            .zip(arms)
            .filter(|(_, a)| **a == arm)
            .filter_map(|(v, _)| *v)
            .collect()
    };
    let (m1, m0) = (
        Moments::of(&arm_values(Arm::Treatment)),
        Moments::of(&arm_values(Arm::Control)),
    );
    let e = stats::difference_in_means(&m1, &m0, 0.95, Variance::Welch);
    row.mean_treat = e.mean_treat;
    row.mean_control = e.mean_control;
    row.sd_treat = e.sd_treat;
    row.sd_control = e.sd_control;
    row.diff = e.effect;
    row.smd = smd(e.effect, m1.variance(), m0.variance());
    row.var_ratio = m1
        .variance()
        .zip(m0.variance())
        .filter(|(_, v0)| *v0 > 0.0)
        .map(|(v1, v0)| v1 / v0);
    row.test = Some("welch");
    row.statistic = e.t;
    row.df1 = e.df;
    row.p_value = e.p_value;
    if let Some(c) = clusters {
        clustered_test(&mut row, values, arms, c);
    }
    row
}

fn categorical_rows(
    name: &str,
    levels: &[String],
    values: &[Option<u32>],
    arms: &[Arm],
    clusters: Option<&[u32]>,
) -> Vec<BalanceRow> {
    let mut table = vec![vec![0.0f64; levels.len()]; 2];
    for (v, &a) in values.iter().zip(arms) {
        if let Some(l) = v {
            table[a as usize][*l as usize] += 1.0;
        }
    }
    let counts = missing_counts(values, arms);
    let mut summary = BalanceRow::new(name, None);
    fill_missing(&mut summary, counts);
    // Pearson's chi-square assumes independent persons: with clusters each
    // level gets the clustered test instead, and the joint test covers all.
    if clusters.is_none() {
        summary.test = Some("chi-square");
        if let Some(t) = stats::pearson_chi_square(&table) {
            summary.statistic = Some(t.statistic);
            summary.df1 = Some(t.df);
            summary.p_value = Some(t.p_value);
        }
    }
    let (n0, n1) = (counts[0][0] as f64, counts[1][0] as f64);
    let mut rows = vec![summary];
    for (l, level) in levels.iter().enumerate() {
        let mut row = BalanceRow::new(name, Some(level.clone()));
        row.n_treat = counts[1][0];
        row.n_control = counts[0][0];
        let share = |count: f64, n: f64| (n > 0.0).then(|| count / n);
        let (p1, p0) = (share(table[1][l], n1), share(table[0][l], n0));
        row.mean_treat = p1;
        row.mean_control = p0;
        row.sd_treat = p1.map(|p| (p * (1.0 - p)).sqrt());
        row.sd_control = p0.map(|p| (p * (1.0 - p)).sqrt());
        row.diff = p1.zip(p0).map(|(a, b)| a - b);
        row.smd = smd(
            row.diff,
            p1.map(|p| p * (1.0 - p)),
            p0.map(|p| p * (1.0 - p)),
        );
        if let Some(c) = clusters {
            let indicator: Vec<Option<f64>> = values
                .iter()
                .map(|v| v.map(|v| f64::from(u8::from(v as usize == l))))
                .collect();
            clustered_test(&mut row, &indicator, arms, c);
        }
        rows.push(row);
    }
    rows
}

/// The joint F-test on complete cases: regress the assignment on the
/// covariates (with block fixed effects when there are blocks) and test that
/// every covariate coefficient is 0. By Frisch–Waugh–Lovell the block
/// effects are absorbed by demeaning y and the covariate columns within
/// blocks: RSS_full is the residual sum of squares of demeaned y on the
/// demeaned columns, RSS_restricted = Σ(y − ȳ_b)², and F = ((RSS_r −
/// RSS_f)/q) / (RSS_f/(n − 1 − k)) with q the covariate columns kept and k
/// all parameters but the intercept (blocks present − 1 + q). The cost is
/// n·q² rather than n·(blocks + q)².
///
/// With clusters, the covariance of the slopes is the cluster-robust CR1
/// sandwich c·M(Σ_g u_g u_gᵀ)M, M = (X̃ᵀX̃)⁻¹, u_g = Σ_{i∈g} x̃ᵢeᵢ,
/// c = G/(G−1)·(n−1)/(n−k−1), and F = β̂ᵀV⁻¹β̂/q on (q, G − 1) df, as
/// Stata's `regress …, vce(cluster c)` + `test` (the block dummies count
/// in k; by Frisch–Waugh–Lovell the slopes' sandwich is that of the
/// demeaned regression).
fn joint_test(
    arms: &[Arm],
    blocks: &[u32],
    clusters: Option<&[u32]>,
    covariates: Vec<(String, Values)>,
) -> JointTest {
    let n = arms.len();
    let complete: Vec<u32> = (0..n as u32)
        .filter(|&p| {
            covariates.iter().all(|(_, v)| match v {
                Values::Numeric(x) => x[p as usize].is_some(),
                Values::Categorical(_, x) => x[p as usize].is_some(),
            })
        })
        .collect();
    // Each covariate's values are freed as soon as its columns are made.
    let mut names: Vec<String> = Vec::new();
    let mut columns: Vec<Vec<f64>> = Vec::new();
    for (name, values) in covariates {
        match values {
            Values::Numeric(x) => {
                columns.push(
                    complete
                        .iter()
                        .map(|&p| x[p as usize].unwrap_or(0.0))
                        .collect(),
                );
                names.push(name);
            }
            Values::Categorical(levels, x) => {
                for (l, level) in levels.iter().enumerate().skip(1) {
                    names.push(format!("{name}={level}"));
                    columns.push(
                        complete
                            .iter()
                            .map(|&p| f64::from(u8::from(x[p as usize] == Some(l as u32))))
                            .collect(),
                    );
                }
            }
        }
    }
    // Blocks by their index; labels with no person take no column.
    let n_groups = blocks.iter().max().map_or(1, |&b| b as usize + 1);
    let block_effects = n_groups > 1;
    let block_of: Vec<usize> = complete
        .iter()
        .map(|&p| {
            if block_effects {
                blocks[p as usize] as usize
            } else {
                0
            }
        })
        .collect();
    let y: Vec<f64> = complete
        .iter()
        .map(|&p| f64::from(arms[p as usize] as u8))
        .collect();
    let mut counts = [0usize; 2];
    for &p in &complete {
        counts[arms[p as usize] as usize] += 1;
    }
    let mut out = JointTest {
        n: counts,
        block_effects,
        f: None,
        df1: None,
        df2: None,
        p_value: None,
        dropped: Vec::new(),
        note: None,
        clusters: clusters.map(|c| {
            let mut seen: Vec<u32> = complete.iter().map(|&p| c[p as usize]).collect();
            seen.sort_unstable();
            seen.dedup();
            seen.len()
        }),
    };
    if counts.contains(&0) {
        out.note = Some("no complete cases in one arm".into());
        return out;
    }
    let mut y = y;
    let (xtx, xty, yty) = within_cross_products(&mut columns, &mut y, &block_of, n_groups);
    let full = stats::least_squares(&xtx, &xty, yty);
    out.dropped = (0..names.len())
        .filter(|j| !full.kept[*j])
        .map(|j| names[j].clone())
        .collect();
    let mut present = vec![false; n_groups];
    for &b in &block_of {
        present[b] = true;
    }
    let kept_blocks = present.iter().filter(|&&x| x).count().saturating_sub(1);
    let df1 = full.kept.iter().filter(|&&k| k).count();
    let kept_total = kept_blocks + df1;
    let n_used = complete.len();
    if df1 == 0 {
        out.note = Some("no covariate column varies among complete cases".into());
        return out;
    }
    if n_used <= kept_total + 1 {
        out.note = Some(format!(
            "{} parameters but only {n_used} complete cases",
            kept_total + 1
        ));
        return out;
    }
    let df2 = (n_used - 1 - kept_total) as f64;
    out.df1 = Some(df1 as f64);
    out.df2 = Some(df2);
    if full.rss <= 0.0 {
        out.note = Some("the covariates predict the assignment exactly".into());
        return out;
    }
    if let (Some(c), Some(g)) = (clusters, out.clusters) {
        let of: Vec<u32> = complete.iter().map(|&p| c[p as usize]).collect();
        return cluster_robust_f(out, &columns, &y, &of, g, &full, kept_total + 1);
    }
    let f = ((yty - full.rss).max(0.0) / df1 as f64) / (full.rss / df2);
    out.f = Some(f);
    out.p_value = stats::f_sf(f, df1 as f64, df2);
    out
}

/// The cluster-robust Wald F of the joint test (see [`joint_test`]) from
/// the demeaned columns and y, each person's cluster (`g` distinct), the
/// fit and the parameter count `params` (intercept, blocks, covariates).
fn cluster_robust_f(
    mut out: JointTest,
    columns: &[Vec<f64>],
    y: &[f64],
    cluster: &[u32],
    g: usize,
    full: &stats::LeastSquares,
    params: usize,
) -> JointTest {
    let kept: Vec<usize> = (0..columns.len()).filter(|&j| full.kept[j]).collect();
    let q = kept.len();
    if g <= q {
        out.note = Some(format!(
            "{q} covariate columns need more than {g} clusters for a cluster-robust test"
        ));
        out.df2 = None;
        return out;
    }
    let n_clusters = cluster.iter().max().map_or(0, |&c| c as usize + 1);
    let mut u = vec![nalgebra::DVector::<f64>::zeros(q); n_clusters];
    for i in 0..y.len() {
        let e = y[i]
            - (0..columns.len())
                .map(|j| full.beta[j] * columns[j][i])
                .sum::<f64>();
        let ug = &mut u[cluster[i] as usize];
        for (a, &j) in kept.iter().enumerate() {
            ug[a] += columns[j][i] * e;
        }
    }
    let mut meat = nalgebra::DMatrix::<f64>::zeros(q, q);
    for ug in &u {
        meat.ger(1.0, ug, ug, 1.0);
    }
    let n = y.len() as f64;
    let scale = g as f64 / (g as f64 - 1.0) * (n - 1.0) / (n - params as f64);
    let v = (&full.inverse * meat * &full.inverse) * scale;
    let b = nalgebra::DVector::from_iterator(q, kept.iter().map(|&j| full.beta[j]));
    let Some(chol) = v.cholesky() else {
        out.note = Some("the cluster-robust covariance of the slopes is singular".into());
        return out;
    };
    let f = b.dot(&chol.solve(&b)) / q as f64;
    let df2 = g as f64 - 1.0;
    out.df2 = Some(df2);
    out.f = Some(f);
    out.p_value = stats::f_sf(f, q as f64, df2);
    out
}

/// Within-group cross-products: XᵀX, Xᵀy and yᵀy of the columns and y
/// demeaned within the groups `group` (`n_groups` of them; one group is
/// plain centring, the implicit intercept). Two passes (means, then
/// deviations); the products run in parallel, each in a fixed order.
fn within_cross_products(
    columns: &mut [Vec<f64>],
    y: &mut Vec<f64>,
    group: &[usize],
    n_groups: usize,
) -> (Array2<f64>, Vec<f64>, f64) {
    // Demeaned in place: the columns are n × p numbers already.
    let demean = |v: &mut Vec<f64>| {
        let (mut sum, mut n) = (vec![0.0; n_groups], vec![0usize; n_groups]);
        for (&x, &g) in v.iter().zip(group) {
            sum[g] += x;
            n[g] += 1;
        }
        let mean: Vec<f64> = sum
            .iter()
            .zip(&n)
            .map(|(&s, &n)| if n > 0 { s / n as f64 } else { 0.0 })
            .collect();
        for (x, &g) in v.iter_mut().zip(group) {
            *x -= mean[g];
        }
    };
    columns.par_iter_mut().for_each(demean);
    demean(y);
    let (xs, yc) = (&*columns, &*y);
    let dot = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x * y).sum::<f64>();
    let p = xs.len();
    let pairs: Vec<(usize, usize)> = (0..p).flat_map(|i| (i..p).map(move |j| (i, j))).collect();
    let products: Vec<f64> = pairs
        .par_iter()
        .map(|&(i, j)| dot(&xs[i], &xs[j]))
        .collect();
    let mut xtx = Array2::zeros((p, p));
    for (&(i, j), &v) in pairs.iter().zip(&products) {
        xtx[(i, j)] = v;
        xtx[(j, i)] = v;
    }
    let xty = xs.par_iter().map(|x| dot(x, yc)).collect();
    (xtx, xty, dot(yc, yc))
}

impl Balance {
    fn joint_row(&self) -> BalanceRow {
        let j = &self.joint;
        let mut row = BalanceRow::new("joint", None);
        row.n_control = j.n[0];
        row.n_treat = j.n[1];
        row.test = Some(if j.clusters.is_some() {
            "F cluster-robust"
        } else {
            "F"
        });
        row.statistic = j.f;
        row.df1 = j.df1;
        row.df2 = j.df2;
        row.p_value = j.p_value;
        row
    }
}

impl Table for Balance {
    /// The tidy table (`balance.csv`): `covariate, level, n_treat,
    /// n_control, missing_treat, missing_control, mean_treat, mean_control,
    /// sd_treat, sd_control, diff, smd, var_ratio, test, statistic, df1,
    /// df2, p_value, missing_p_value, clusters_treat, clusters_control`;
    /// the joint test is the last row, with covariate `joint`, test `F`
    /// (`F cluster-robust` with clusters) and n = complete cases.
    fn to_frame(&self) -> Result<DataFrame> {
        let joint = self.joint_row();
        let rows: Vec<&BalanceRow> = self.rows.iter().chain(std::iter::once(&joint)).collect();
        let f = |name: &str, get: fn(&BalanceRow) -> Option<f64>| {
            table::floats(name, rows.iter().map(|r| get(r)))
        };
        let c = |name: &str, get: fn(&BalanceRow) -> usize| {
            table::counts(name, rows.iter().map(|r| Some(get(r))))
        };
        table::frame(
            "balance",
            vec![
                table::strings("covariate", rows.iter().map(|r| r.covariate.clone())),
                table::optional_strings("level", rows.iter().map(|r| r.level.clone())),
                c("n_treat", |r| r.n_treat),
                c("n_control", |r| r.n_control),
                c("missing_treat", |r| r.missing_treat),
                c("missing_control", |r| r.missing_control),
                f("mean_treat", |r| r.mean_treat),
                f("mean_control", |r| r.mean_control),
                f("sd_treat", |r| r.sd_treat),
                f("sd_control", |r| r.sd_control),
                f("diff", |r| r.diff),
                f("smd", |r| r.smd),
                f("var_ratio", |r| r.var_ratio),
                table::optional_strings("test", rows.iter().map(|r| r.test.map(String::from))),
                f("statistic", |r| r.statistic),
                f("df1", |r| r.df1),
                f("df2", |r| r.df2),
                f("p_value", |r| r.p_value),
                f("missing_p_value", |r| r.missing_p_value),
                table::counts("clusters_treat", rows.iter().map(|r| r.clusters_treat)),
                table::counts("clusters_control", rows.iter().map(|r| r.clusters_control)),
            ],
        )
    }
}
