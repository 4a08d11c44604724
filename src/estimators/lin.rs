//! Covariate-adjusted effects: the Lin (2013) estimator (methods §9).

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::estimators::MAX_LEVELS;
use crate::estimators::{Design, Estimator, WeekEffect, WeeklyEffects};
use crate::inputs::{Arm, CovariateValues};
use crate::outcome::OutcomeValues;
use crate::panel::Panel;
use crate::stats::{self, Estimate, Level, Moments};

/// Baseline covariates for [`lin_effects`], one value per panel person,
/// missing values filled and flagged (above).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Adjustment {
    columns: Vec<Column>,
    /// Person-table and history covariates, as named by the caller.
    names: Vec<String>,
    /// Covariates with missing values and how many were filled.
    filled: Vec<(String, usize)>,
}

/// One regressor: its name and a value per panel person.
#[derive(Clone, Debug, PartialEq)]
struct Column {
    name: String,
    values: Vec<f64>,
}

impl Adjustment {
    /// No covariates yet.
    pub fn new() -> Adjustment {
        Adjustment::default()
    }

    /// Add the person-table covariate `name`: numeric as it is, categorical
    /// as one dummy per level after the first (`name=level`); missing
    /// values filled with the mean of the others (a dummy with 0) plus a
    /// missing indicator `name (missing)`.
    pub fn covariate(mut self, panel: &Panel, name: &str) -> Result<Adjustment> {
        let cov = panel.persons().covariate(name, "adjust")?;
        match &cov.values {
            CovariateValues::Numeric(v) => return self.values(name, v),
            CovariateValues::Categorical { levels, .. } if levels.len() > MAX_LEVELS => {
                return Err(Error::InvalidSetting {
                    name: "adjust".into(),
                    reason: format!(
                        "`{name}` has {} levels: free text or an id rather than a category \
                         (each level is a regressor; at most {MAX_LEVELS})",
                        levels.len()
                    ),
                });
            }
            CovariateValues::Categorical { levels, values } => {
                for (l, level) in levels.iter().enumerate().skip(1) {
                    self.columns.push(Column {
                        name: format!("{name}={level}"),
                        values: values
                            .iter()
                            .map(|v| f64::from(u8::from(*v == Some(l as u32))))
                            .collect(),
                    });
                }
                self.flag_missing(name, values);
            }
        }
        self.names.push(name.to_string());
        Ok(self)
    }

    /// Add a numeric covariate given as one value per panel person (such as
    /// a register-history covariate); missing values are filled with the
    /// mean of the others plus a missing indicator `name (missing)`.
    pub fn values(mut self, name: &str, values: &[Option<f64>]) -> Result<Adjustment> {
        let observed = Moments::of(
            &values
                .iter()
                .map(|v| v.unwrap_or(f64::NAN))
                .collect::<Vec<_>>(),
        );
        if observed.n == 0 {
            return Err(Error::InvalidSetting {
                name: "adjust".into(),
                reason: format!("covariate `{name}` has no values"),
            });
        }
        self.columns.push(Column {
            name: name.to_string(),
            values: values.iter().map(|v| v.unwrap_or(observed.mean)).collect(),
        });
        self.flag_missing(name, values);
        self.names.push(name.to_string());
        Ok(self)
    }

    /// With missing `values`: their indicator column, and their count.
    fn flag_missing<T>(&mut self, name: &str, values: &[Option<T>]) {
        let missing = values.iter().filter(|v| v.is_none()).count();
        if missing > 0 {
            self.columns.push(missing_indicator(name, values));
            self.filled.push((name.to_string(), missing));
        }
    }

    /// The covariates with missing values, and how many persons' values
    /// were filled (with the mean, or as the reference level) and flagged.
    pub fn filled(&self) -> &[(String, usize)] {
        &self.filled
    }

    /// The covariates, as named when added.
    pub fn covariates(&self) -> &[String] {
        &self.names
    }

    /// The regressors they expand to (dummies and missing indicators), in
    /// column order.
    pub fn regressors(&self) -> Vec<&str> {
        self.columns.iter().map(|c| c.name.as_str()).collect()
    }
}

/// 1 where `values` is missing.
fn missing_indicator<T>(name: &str, values: &[Option<T>]) -> Column {
    Column {
        name: format!("{name} (missing)"),
        values: values
            .iter()
            .map(|v| f64::from(u8::from(v.is_none())))
            .collect(),
    }
}

/// Covariate-adjusted effects: the Lin (2013) estimator (methods §9).
///
/// For each event week k, over the persons observed at k with a value, the
/// outcome is regressed on the treatment indicator z, the centred baseline
/// covariates x − x̄ₖ and their interactions z·(x − x̄ₖ); the adjusted effect
/// is the coefficient on z. Its standard error is HC2 with df = n − p
/// (individual randomisation), or CR2 with Bell–McCaffrey df when the person
/// table has clusters, as R estimatr 1.0's `lm_lin(y ~ z, covariates = ~ x,
/// se_type = "HC2")` and `lm_lin(..., clusters = c, se_type = "CR2")`.
///
/// * An [`Adjustment`] holds the covariate columns, one value per panel
///   person: numeric columns as they are, categorical ones as dummies (the
///   first level the reference). A column with missing values is filled
///   with the mean of its values and gets a missing indicator (White &
///   Thompson 2005), so no person is dropped. The filled value does not
///   change the estimate: the indicator and its interaction absorb it.
/// * For a blocked design the blocks enter as dummies, after the
///   covariates.
/// * Columns that are constant or collinear with earlier columns at a week
///   are dropped (in column order, as R does) and listed in the row's
///   `dropped`; when an arm has no more persons than parameters, the
///   adjusted estimate is missing and the row's `note` says why.
///
/// ```
/// use trialpanel::simulate::{simulate, TrialSpec};
/// use trialpanel::{lin_effects, Adjustment, CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};
///
/// let trial = simulate(&TrialSpec { persons: 600, ..TrialSpec::default() })?;
/// let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default())?;
/// let codes = CodeTable::from_frame(trial.codes, "codes")?;
/// let panel = Panel::builder(&persons, &codes)
///     .long_frame(trial.register, "register", &LongColumns::default())?;
/// let values = Outcome::employed(0.0).evaluate(&panel, 0..=26)?;
/// let adjustment = Adjustment::new().covariate(&panel, "age")?;
/// let lin = lin_effects(&values, &Design::default(), &adjustment)?;
/// let week26 = lin.week(26).unwrap();
/// assert!(week26.estimate.se.is_some());
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// The Lin-adjusted weekly effects of `values` (above), in parallel over weeks, with Holm and Benjamini–Hochberg
/// adjustments across weeks. The persons must be those of `values`' panel.
///
/// The cost per week is one pass over the persons for the cross-products
/// of [1, x] (K covariate columns: n·K² operations) and one for the HC2
/// leverages; block dummies cost nothing per person (a person's block is
/// one of the constant columns of its cell), and with clusters each
/// cluster takes (2 + 2(K + B))²·K operations.
pub fn lin_effects(
    values: &OutcomeValues<'_>,
    design: &Design,
    adjustment: &Adjustment,
) -> Result<WeeklyEffects> {
    let panel = values.panel();
    let columns = &adjustment.columns;
    if let Some(c) = columns.iter().find(|c| c.values.len() != panel.n_persons()) {
        return Err(Error::InvalidSetting {
            name: "adjust".into(),
            reason: format!(
                "covariate `{}` has {} values for {} persons",
                c.name,
                c.values.len(),
                panel.n_persons()
            ),
        });
    }
    let model = Model::new(panel, design, columns);
    let weeks: Vec<i32> = values.weeks().collect();
    let rows: Vec<WeekEffect> = weeks
        .par_iter()
        .map(|&k| {
            let row = values.week(k).unwrap_or(&[]);
            let fit = model.fit(row, k, design.level);
            WeekEffect {
                dropped: fit.dropped,
                note: fit.note,
                ..WeekEffect::new(k, fit.estimate)
            }
        })
        .collect();
    let clustered = panel.persons().clusters().is_some();
    Ok(WeeklyEffects::from_rows(
        values.name(),
        *design,
        Estimator::Lin,
        clustered,
        rows,
    ))
}

/// The adjusted estimate at one week, the regressors dropped and why the
/// estimate is missing, if it is.
struct LinFit {
    estimate: Estimate,
    dropped: Vec<String>,
    note: Option<String>,
}

/// Relative pivot below which a column counts as collinear with earlier
/// ones (and an eigenvalue of a cluster's cross-product as zero).
const COLLINEAR: f64 = 1e-10;

/// The Lin regression of one outcome's weeks.
///
/// The full regressors, in R's order, are [1, z, x − x̄, d − d̄, z·(x − x̄),
/// z·(d − d̄)]: K covariate columns x and, for a blocked design, B − 1 block
/// dummies d. Every person of a cell (arm a, block b) has the same z and
/// d, so the full row is L_ab·u for the short row u = [1, x − c] (c the
/// covariates' means over all persons, for accuracy) and a cell matrix
/// L_ab that also carries the week's means. Cross-products are summed per
/// unit (a cluster, or a cell) over short rows, and mapped to the full
/// basis once per unit.
struct Model<'a> {
    panel: &'a Panel,
    columns: &'a [Column],
    /// c: each covariate's mean over all persons.
    shift: Vec<f64>,
    /// Block of each panel person (0 unblocked), and the block labels.
    block: Vec<u32>,
    blocks: Vec<String>,
}

impl<'a> Model<'a> {
    fn new(panel: &'a Panel, design: &Design, columns: &'a [Column]) -> Model<'a> {
        let n = panel.n_persons().max(1) as f64;
        let groups = panel.persons().blocks();
        let (block, blocks) = if design.blocked {
            (groups.index.clone(), groups.labels.clone())
        } else {
            (vec![0; panel.n_persons()], vec!["all".into()])
        };
        Model {
            panel,
            columns,
            shift: columns
                .iter()
                .map(|c| c.values.iter().sum::<f64>() / n)
                .collect(),
            block,
            blocks,
        }
    }

    /// K, covariate columns.
    fn k(&self) -> usize {
        self.columns.len()
    }

    /// Block dummies, B − 1.
    fn dummies(&self) -> usize {
        self.blocks.len() - 1
    }

    /// Regressors of the full model.
    fn p(&self) -> usize {
        2 + 2 * (self.k() + self.dummies())
    }

    fn name(&self, f: usize) -> String {
        let all = self.k() + self.dummies();
        let x = |j: usize| {
            if j < self.k() {
                self.columns[j].name.clone()
            } else {
                format!("block={}", self.blocks[j - self.k() + 1])
            }
        };
        match f {
            0 => "(intercept)".into(),
            1 => "z".into(),
            f if f < 2 + all => x(f - 2),
            f => format!("z:{}", x(f - 2 - all)),
        }
    }

    /// The short row u = [1, x − c] of person `p`.
    fn short_row(&self, p: usize, u: &mut [f64]) {
        u[0] = 1.0;
        for (j, c) in self.columns.iter().enumerate() {
            u[j + 1] = c.values[p] - self.shift[j];
        }
    }

    /// L_ab restricted to the rows `kept`: full row = L·u, for the week's
    /// covariate means `means` (of x − c) and block shares `shares`.
    fn cell_map(
        &self,
        arm: Arm,
        b: usize,
        means: &[f64],
        shares: &[f64],
        kept: &[usize],
    ) -> DMatrix<f64> {
        let a = f64::from(u8::from(arm == Arm::Treatment));
        let (k, all) = (self.k(), self.k() + self.dummies());
        let full = |f: usize, c: usize| -> f64 {
            // Column c of u: 0 the intercept, 1 + j covariate j.
            let (x, scale) = match f {
                0 => return f64::from(u8::from(c == 0)),
                1 => return a * f64::from(u8::from(c == 0)),
                f if f < 2 + all => (f - 2, 1.0),
                f => (f - 2 - all, a),
            };
            scale
                * if x < k {
                    if c == 0 {
                        -means[x]
                    } else {
                        f64::from(u8::from(c == x + 1))
                    }
                } else if c == 0 {
                    let d = x - k + 1;
                    f64::from(u8::from(b == d)) - shares[d]
                } else {
                    0.0
                }
        };
        DMatrix::from_fn(kept.len(), k + 1, |r, c| full(kept[r], c))
    }

    fn fit(&self, row: &[f64], k: i32, level: Level) -> LinFit {
        let panel = self.panel;
        let persons = panel.persons();
        let arms = persons.arms();
        let clusters = persons.clusters();
        let dim = self.k() + 1;
        // Pass 1: the persons used, their arms' moments, the covariate
        // means and the block shares over them.
        let mut used: Vec<usize> = Vec::new();
        for (_, range) in panel.observed(k) {
            used.extend(range.filter(|&p| row.get(p).is_some_and(|y| !y.is_nan())));
        }
        let by_arm = |arm: Arm| {
            let v: Vec<f64> = used
                .iter()
                .filter(|&&p| arms[p] == arm)
                .map(|&p| row[p])
                .collect();
            Moments::of(&v)
        };
        let (treat, control) = (by_arm(Arm::Treatment), by_arm(Arm::Control));
        let mut estimate = stats::describe(&treat, &control);
        let missing = |estimate: Estimate, dropped: Vec<String>, note: String| LinFit {
            estimate,
            dropped,
            note: Some(note),
        };
        if treat.n == 0 || control.n == 0 {
            return missing(estimate, Vec::new(), "an arm has no persons".into());
        }
        let n = used.len() as f64;
        let mut u = vec![0.0; dim];
        let mut means = vec![0.0; self.k()];
        let mut range = vec![(f64::INFINITY, f64::NEG_INFINITY); self.k()];
        let mut shares = vec![0.0; self.blocks.len()];
        for &p in &used {
            self.short_row(p, &mut u);
            for ((m, r), &x) in means.iter_mut().zip(&mut range).zip(&u[1..]) {
                *m += x;
                *r = (r.0.min(x), r.1.max(x));
            }
            shares[self.block[p] as usize] += 1.0;
        }
        // A covariate constant at this week centres to exactly 0 (and is
        // dropped), not to rounding noise.
        for (m, r) in means.iter_mut().zip(&range) {
            *m = if r.0 == r.1 { r.0 } else { *m / n };
        }
        for s in &mut shares {
            *s /= n;
        }

        // Pass 2: short cross-products per unit (cluster, or cell).
        let n_blocks = self.blocks.len();
        let unit_of = |p: usize| -> usize {
            match clusters {
                Some(c) => c.index[p] as usize,
                None => self.block[p] as usize * 2 + arms[p] as usize,
            }
        };
        let n_units = clusters.map_or(2 * n_blocks, |c| c.labels.len());
        let mut units = vec![Unit::new(dim); n_units];
        // A unit's persons are consecutive in panel order: sum each run in
        // a flat lower triangle, then add it to its unit.
        let mut tri = vec![0.0; dim * (dim + 1) / 2];
        let mut ty = vec![0.0; dim];
        let mut current: Option<usize> = None;
        let flush = |units: &mut [Unit], at: Option<usize>, tri: &mut [f64], ty: &mut [f64]| {
            let Some(at) = at else { return };
            let unit = &mut units[at];
            let mut t = 0;
            for (i, y) in ty.iter_mut().enumerate() {
                unit.xty[i] += std::mem::take(y);
                for j in 0..=i {
                    unit.gram[(i, j)] += std::mem::take(&mut tri[t]);
                    t += 1;
                }
            }
        };
        for &p in &used {
            let at = unit_of(p);
            if current != Some(at) {
                flush(&mut units, current, &mut tri, &mut ty);
                current = Some(at);
                units[at].cell = Some((arms[p], self.block[p] as usize));
            }
            self.short_row(p, &mut u);
            let y = row[p];
            let mut t = 0;
            for i in 0..dim {
                let ui = u[i];
                ty[i] += ui * y;
                for &uj in &u[..=i] {
                    tri[t] += ui * uj;
                    t += 1;
                }
            }
        }
        flush(&mut units, current, &mut tri, &mut ty);
        let units: Vec<Unit> = units
            .into_iter()
            .filter(|u| u.cell.is_some())
            .map(|mut u| {
                u.gram.fill_upper_triangle_with_lower_triangle();
                u
            })
            .collect();

        // The full cross-products; collinear columns dropped in order.
        let p_full = self.p();
        let all: Vec<usize> = (0..p_full).collect();
        let mut maps: Vec<Option<DMatrix<f64>>> = vec![None; 2 * n_blocks];
        let mut xtx = DMatrix::<f64>::zeros(p_full, p_full);
        let mut xty = DVector::<f64>::zeros(p_full);
        for unit in &units {
            let (arm, b) = unit.cell.unwrap_or((Arm::Control, 0));
            let l = maps[2 * b + arm as usize]
                .get_or_insert_with(|| self.cell_map(arm, b, &means, &shares, &all));
            xtx += &*l * &unit.gram * l.transpose();
            xty += &*l * &unit.xty;
        }
        // The sizes the centred cross-products came from: a covariate's
        // Σ(x − c)² + n·(x̄ − c)², n for the intercept, z and dummies.
        let all_x = self.k() + self.dummies();
        let scale: Vec<f64> = (0..p_full)
            .map(|f| {
                let x = match f {
                    0 | 1 => return xtx[(f, f)],
                    f if f < 2 + all_x => f - 2,
                    f => f - 2 - all_x,
                };
                if x < self.k() {
                    let sq: f64 = units.iter().map(|u| u.gram[(x + 1, x + 1)]).sum();
                    sq + n * means[x] * means[x]
                } else {
                    n
                }
            })
            .collect();
        let kept = independent_columns(&xtx, &scale);
        let dropped: Vec<String> = (0..p_full)
            .filter(|f| !kept.contains(f))
            .map(|f| self.name(f))
            .collect();
        let Some(z) = kept.iter().position(|&f| f == 1) else {
            return missing(
                estimate,
                dropped,
                "the treatment indicator is collinear".into(),
            );
        };
        // Parameters per arm: its cells and its kept covariate slopes.
        for (arm, m) in [(Arm::Treatment, &treat), (Arm::Control, &control)] {
            let all_x = self.k() + self.dummies();
            let slope = |j: usize| {
                kept.contains(&(2 + j))
                    || (arm == Arm::Treatment && kept.contains(&(2 + all_x + j)))
            };
            let cells = (0..n_blocks)
                .filter(|&b| units.iter().any(|u| u.cell == Some((arm, b))))
                .count();
            let params = cells + (0..self.k()).filter(|&j| slope(j)).count();
            if m.n <= params {
                let arm = if arm == Arm::Treatment {
                    "treatment"
                } else {
                    "control"
                };
                return missing(
                    estimate,
                    dropped,
                    format!("the {arm} arm has {} persons for {params} parameters", m.n),
                );
            }
        }
        if clusters.is_some() {
            let count = |arm| {
                units
                    .iter()
                    .filter(|u| u.cell.is_some_and(|c| c.0 == arm))
                    .count()
            };
            estimate.clusters_treat = Some(count(Arm::Treatment));
            estimate.clusters_control = Some(count(Arm::Control));
            if count(Arm::Treatment) < 2 || count(Arm::Control) < 2 {
                return missing(
                    estimate,
                    dropped,
                    "an arm has fewer than two clusters".into(),
                );
            }
        }
        // The kept basis: the kept rows of each cell's map and of the sums.
        let kept_maps: Vec<Option<DMatrix<f64>>> = maps
            .iter()
            .map(|m| m.as_ref().map(|l| l.select_rows(&kept)))
            .collect();
        let map_of = |arm: Arm, b: usize| -> DMatrix<f64> {
            kept_maps[2 * b + arm as usize]
                .clone()
                .unwrap_or_else(|| self.cell_map(arm, b, &means, &shares, &kept))
        };
        let xtx = xtx.select_rows(&kept).select_columns(&kept);
        let xy = xty.select_rows(&kept);
        let mut factors: Vec<(DMatrix<f64>, DVector<f64>)> = Vec::new();
        let unit_maps: Vec<DMatrix<f64>> = units
            .iter()
            .map(|unit| {
                let (arm, b) = unit.cell.unwrap_or((Arm::Control, 0));
                map_of(arm, b)
            })
            .collect();
        let Some(inverse) = xtx.cholesky().map(|c| c.inverse()) else {
            return missing(estimate, dropped, "the regressors are collinear".into());
        };
        let beta = &inverse * &xy;
        estimate.effect = Some(beta[z]);
        let m = inverse.column(z).into_owned();

        let (var, df) = match clusters {
            None => {
                // Pass 3 (HC2): per person, through the cell's short
                // forms: h = uᵀ(LᵀML)u, e = y − uᵀLᵀβ, ω = uᵀLᵀm.
                let cells: Vec<Option<ShortForms>> = (0..2 * n_blocks)
                    .map(|c| {
                        let arm = if c % 2 == 1 {
                            Arm::Treatment
                        } else {
                            Arm::Control
                        };
                        units.iter().any(|u| u.cell == Some((arm, c / 2))).then(|| {
                            let l = map_of(arm, c / 2);
                            ShortForms {
                                leverage: l.transpose() * &inverse * &l,
                                beta: l.transpose() * &beta,
                                weight: l.transpose() * &m,
                            }
                        })
                    })
                    .collect();
                let mut var = 0.0;
                let mut v = DVector::<f64>::zeros(dim);
                for &p in &used {
                    self.short_row(p, v.as_mut_slice());
                    let Some(ShortForms {
                        leverage: a,
                        beta: b,
                        weight: w,
                    }) = &cells[self.block[p] as usize * 2 + arms[p] as usize]
                    else {
                        continue;
                    };
                    // vᵀAv without a temporary (once per person and week).
                    let h: f64 = (0..dim)
                        .map(|i| v[i] * (0..dim).map(|j| a[(i, j)] * v[j]).sum::<f64>())
                        .sum();
                    if h >= 1.0 - COLLINEAR {
                        return missing(
                            estimate,
                            dropped,
                            format!(
                                "at week {k} one person alone determines a coefficient (for \
                                 example the only person of their arm with a covariate's level), \
                                 so the HC2 standard error is undefined; merge rare levels or \
                                 adjust for fewer covariates"
                            ),
                        );
                    }
                    let e = row[p] - b.dot(&v);
                    let omega = w.dot(&v);
                    var += omega * omega * e * e / (1.0 - h);
                }
                (var, n - kept.len() as f64)
            }
            Some(_) => {
                for (unit, l) in units.iter().zip(&unit_maps) {
                    let Some(f) = thin_factor(&unit.gram) else {
                        continue;
                    };
                    // b_g = X_gᵀe_g = L(s_g − G_g Lᵀβ).
                    let local_beta = l.transpose() * &beta;
                    let b = l * (&unit.xty - &unit.gram * local_beta);
                    factors.push((l * f, b));
                }
                match cr2(&factors, &inverse, &m) {
                    Some(vd) => vd,
                    None => {
                        return missing(
                            estimate,
                            dropped,
                            "one cluster alone determines a coefficient, so the Bell–McCaffrey degrees of \
                             freedom are undefined; merge rare levels or adjust for fewer covariates"
                                .into(),
                        );
                    }
                }
            }
        };
        estimate.se = Some(var.max(0.0).sqrt());
        estimate.df = Some(df);
        stats::infer(&mut estimate, level.get());
        LinFit {
            estimate,
            dropped,
            note: None,
        }
    }
}

/// A cell's HC2 pieces on short rows u: the leverage matrix LᵀML, the
/// short coefficients Lᵀβ and the weights Lᵀm of the contrast.
struct ShortForms {
    leverage: DMatrix<f64>,
    beta: DVector<f64>,
    weight: DVector<f64>,
}

/// Cross-products of one unit's short rows.
#[derive(Clone)]
struct Unit {
    /// (arm, block) of its persons; `None` without persons at the week.
    cell: Option<(Arm, usize)>,
    gram: DMatrix<f64>,
    xty: DVector<f64>,
}

impl Unit {
    fn new(dim: usize) -> Unit {
        Unit {
            cell: None,
            gram: DMatrix::zeros(dim, dim),
            xty: DVector::zeros(dim),
        }
    }
}

/// A thin factor F (dim × r, full column rank) with
/// F·Fᵀ = `gram`, from its eigenvalues above [`COLLINEAR`] times the
/// largest; `None` for a zero matrix.
fn thin_factor(gram: &DMatrix<f64>) -> Option<DMatrix<f64>> {
    let eig = SymmetricEigen::new(gram.clone());
    let top = eig.eigenvalues.iter().copied().fold(0.0, f64::max);
    let positive: Vec<usize> = (0..gram.nrows())
        .filter(|&i| top > 0.0 && eig.eigenvalues[i] > COLLINEAR * top)
        .collect();
    (!positive.is_empty()).then(|| {
        DMatrix::from_fn(gram.nrows(), positive.len(), |i, j| {
            eig.eigenvectors[(i, positive[j])] * eig.eigenvalues[positive[j]].sqrt()
        })
    })
}

/// The columns of the symmetric `xtx` that are not (numerically) linear
/// combinations of earlier columns, in order: a Cholesky without pivoting
/// that drops a column whose pivot is at most [`COLLINEAR`] times its
/// `scale` (or that is zero).
fn independent_columns(xtx: &DMatrix<f64>, scale: &[f64]) -> Vec<usize> {
    let n = xtx.nrows();
    let a = ndarray::Array2::from_shape_fn((n, n), |(i, j)| xtx[(i, j)]);
    let (_, kept) = stats::cholesky_scaled(&a, COLLINEAR, scale);
    (0..n).filter(|&j| kept[j]).collect()
}

/// CR2 variance of the contrast m = M·e_z and its Bell–McCaffrey df, from
/// each cluster's thin factor F_g (X_gᵀX_g = F_gF_gᵀ, full column rank) and
/// b_g = X_gᵀe_g in the kept basis, with M = (XᵀX)⁻¹ (methods §9).
///
/// With S = F_gᵀMF_g = PΛPᵀ (the nonzero eigenvalues of the hat block
/// H_gg), A_g = (I − H_gg)^-½ gives
/// mᵀX_gᵀA_g e = mᵀ(b + F P φ(Λ) Pᵀ (FᵀF)⁻¹Fᵀ b), φ(λ) = (1 − λ)^-½ − 1
/// (−1 for λ = 1, the pseudo-inverse). The df is (tr G)²/‖G‖²_F for
/// G = D − WᵀMW, with d_g = ‖A_gX_g m‖² = fᵀf + fᵀPψPᵀf, ψ = (1 + φ)² − 1,
/// w_g = X_gᵀA_gX_g m = F(f + PφPᵀf) and f = Fᵀm. `None` when the df is
/// undefined (‖G‖_F = 0).
fn cr2(
    units: &[(DMatrix<f64>, DVector<f64>)],
    inverse: &DMatrix<f64>,
    m: &DVector<f64>,
) -> Option<(f64, f64)> {
    let dim = inverse.nrows();
    let mut var = 0.0;
    let mut diag = Vec::with_capacity(units.len());
    let mut w = Vec::with_capacity(units.len());
    let phi = |lambda: f64| {
        if lambda >= 1.0 - COLLINEAR {
            -1.0
        } else {
            1.0 / (1.0 - lambda).sqrt() - 1.0
        }
    };
    for (f, b) in units {
        let s = f.transpose() * inverse * f;
        let eig = SymmetricEigen::new(s);
        let p = &eig.eigenvectors;
        let ph = DMatrix::from_diagonal(&eig.eigenvalues.map(phi));
        let ps = DMatrix::from_diagonal(&eig.eigenvalues.map(|l| (1.0 + phi(l)).powi(2) - 1.0));
        let ftf = f.transpose() * f;
        let Some(ftf_inv) = ftf.cholesky().map(|c| c.inverse()) else {
            continue;
        };
        let t = b + f * (p * &ph * p.transpose() * ftf_inv * f.transpose() * b);
        let contrast = m.dot(&t);
        var += contrast * contrast;
        let fm = f.transpose() * m;
        let pf = p.transpose() * &fm;
        diag.push(fm.dot(&fm) + pf.dot(&(&ps * &pf)));
        w.push(f * (&fm + p * (&ph * &pf)));
    }
    // tr G and ‖G‖²_F = Σ d² − 2 Σ d_g w_gᵀMw_g + tr((MQ)²), Q = Σ w_g w_gᵀ.
    let mut trace = 0.0;
    let mut cross = 0.0;
    let mut q = DMatrix::<f64>::zeros(dim, dim);
    for (d, wg) in diag.iter().zip(&w) {
        let mw = wg.dot(&(inverse * wg));
        trace += d - mw;
        cross += d * d - 2.0 * d * mw;
        q.ger(1.0, wg, wg, 1.0);
    }
    let mq = inverse * q;
    let frobenius = cross + (&mq * &mq).trace();
    (frobenius > 0.0).then(|| (var, trace * trace / frobenius))
}
