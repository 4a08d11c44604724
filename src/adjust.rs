//! Covariate-adjusted effects: the Lin (2013) estimator (methods §9).
//!
//! For each event week k, over the persons observed at k with a value, the
//! outcome is regressed on the treatment indicator z, the centred baseline
//! covariates x − x̄ₖ and their interactions z·(x − x̄ₖ); the adjusted effect
//! is the coefficient on z. Its standard error is HC2 with df = n − p
//! (individual randomisation), or CR2 with Bell–McCaffrey df when the person
//! table has clusters, as R estimatr 1.0's `lm_lin(y ~ z, covariates = ~ x,
//! se_type = "HC2")` and `lm_lin(..., clusters = c, se_type = "CR2")`.
//!
//! * An [`Adjustment`] holds the covariate columns, one value per panel
//!   person: numeric columns as they are, categorical ones as dummies (the
//!   first level the reference). A column with missing values is filled
//!   with the mean of its values and gets a missing indicator (White &
//!   Thompson 2005), so no person is dropped. The filled value does not
//!   change the estimate: the indicator and its interaction absorb it.
//! * For a blocked design the blocks enter as dummies, after the
//!   covariates.
//! * Columns that are constant or collinear with earlier columns at a week
//!   are dropped (in column order, as R does) and listed in the row's
//!   `dropped`; when an arm has no more persons than parameters, the
//!   adjusted estimate is missing and the row's `note` says why.
//!
//! ```
//! use trialpanel::simulate::{simulate, TrialSpec};
//! use trialpanel::{lin_effects, Adjustment, CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};
//!
//! let trial = simulate(&TrialSpec { persons: 600, ..TrialSpec::default() })?;
//! let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default())?;
//! let codes = CodeTable::from_frame(trial.codes, "codes")?;
//! let panel = Panel::builder(&persons, &codes)
//!     .long_frame(trial.register, "register", &LongColumns::default())?;
//! let values = Outcome::employed(0.0).evaluate(&panel, 0..=26)?;
//! let adjustment = Adjustment::new().covariate(&panel, "age")?;
//! let lin = lin_effects(&values, &Design::default(), &adjustment)?;
//! let week26 = lin.week(26).unwrap();
//! assert!(week26.estimate.se.is_some());
//! # Ok::<(), trialpanel::Error>(())
//! ```

use nalgebra::{DMatrix, DVector, SymmetricEigen};
use rayon::prelude::*;

use crate::effects::{Design, Estimator, WeekEffect, WeeklyEffects};
use crate::error::{Error, Result};
use crate::outcome::OutcomeValues;
use crate::panel::Panel;
use crate::persons::{Arm, CovariateValues};
use crate::stats::{self, Estimate, Moments};

/// Baseline covariates for [`lin_effects`], one value per panel person,
/// missing values filled and flagged (see the [module](self) docs).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Adjustment {
    columns: Vec<Column>,
    /// Person-table and history covariates, as named by the caller.
    names: Vec<String>,
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
                if values.iter().any(Option::is_none) {
                    self.columns.push(missing_indicator(name, values));
                }
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
        if values.iter().any(Option::is_none) {
            self.columns.push(missing_indicator(name, values));
        }
        self.names.push(name.to_string());
        Ok(self)
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

    /// The regressors plus, for a blocked design, the block dummies.
    fn with_blocks(&self, panel: &Panel, design: &Design) -> Vec<Column> {
        let mut columns = self.columns.clone();
        if design.blocked {
            let blocks = panel.persons().blocks();
            for (b, label) in blocks.labels.iter().enumerate().skip(1) {
                columns.push(Column {
                    name: format!("block={label}"),
                    values: blocks
                        .index
                        .iter()
                        .map(|&i| f64::from(u8::from(i as usize == b)))
                        .collect(),
                });
            }
        }
        columns
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

/// The Lin-adjusted weekly effects of `values` (see the [module](self)
/// docs), in parallel over weeks, with Holm and Benjamini–Hochberg
/// adjustments across weeks. The persons must be those of `values`' panel.
pub fn lin_effects(
    values: &OutcomeValues<'_>,
    design: &Design,
    adjustment: &Adjustment,
) -> Result<WeeklyEffects> {
    design.check()?;
    let panel = values.panel();
    let columns = adjustment.with_blocks(panel, design);
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
    let weeks: Vec<i32> = values.weeks().collect();
    let rows: Vec<WeekEffect> = weeks
        .par_iter()
        .map(|&k| {
            let row = values.week(k).unwrap_or(&[]);
            let fit = lin_week(panel, row, k, &columns, design.level);
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

/// A person's row in the arm basis v = [1, x − x̄]: the full regressors are
/// [1, z, x − x̄, z·(x − x̄)] = T_a·v.
fn arm_basis(columns: &[Column], p: usize, means: &[f64], v: &mut [f64]) {
    v[0] = 1.0;
    for (j, c) in columns.iter().enumerate() {
        v[j + 1] = c.values[p] - means[j];
    }
}

/// T_a: the full regressors from the arm basis, restricted to `kept`.
fn full_from_arm(k: usize, arm: Arm, kept: &[usize]) -> DMatrix<f64> {
    let a = f64::from(u8::from(arm == Arm::Treatment));
    DMatrix::from_fn(kept.len(), k + 1, |r, c| {
        let full = kept[r];
        match full {
            0 => f64::from(u8::from(c == 0)),
            1 => a * f64::from(u8::from(c == 0)),
            f if f < 2 + k => f64::from(u8::from(c == f - 1)),
            f => a * f64::from(u8::from(c == f - 1 - k)),
        }
    })
}

fn lin_week(panel: &Panel, row: &[f64], k: i32, columns: &[Column], level: f64) -> LinFit {
    let n_cov = columns.len();
    let persons = panel.persons();
    let clusters = persons.clusters();
    // Pass 1: the persons used and the covariate means over them.
    let mut used: Vec<usize> = Vec::new();
    for (_, range) in panel.observed(k) {
        used.extend(range.filter(|&p| row.get(p).is_some_and(|y| !y.is_nan())));
    }
    let by_arm = |arm: Arm| {
        Moments::of(
            &used
                .iter()
                .filter(|&&p| persons.arms()[p] == arm)
                .map(|&p| row[p])
                .collect::<Vec<_>>(),
        )
    };
    let (treat, control) = (by_arm(Arm::Treatment), by_arm(Arm::Control));
    let mut estimate = Estimate {
        n_treat: treat.n,
        n_control: control.n,
        mean_treat: treat.mean(),
        mean_control: control.mean(),
        sd_treat: treat.sd(),
        sd_control: control.sd(),
        ..Estimate::default()
    };
    let missing = |estimate: Estimate, note: String| LinFit {
        estimate,
        dropped: Vec::new(),
        note: Some(note),
    };
    if treat.n == 0 || control.n == 0 {
        return missing(estimate, "an arm has no persons".into());
    }
    let means: Vec<f64> = columns
        .iter()
        .map(|c| used.iter().map(|&p| c.values[p]).sum::<f64>() / used.len() as f64)
        .collect();

    // Pass 2: cross-products per unit (cluster, or arm) in the arm basis.
    let unit_of = |p: usize| -> usize {
        match clusters {
            Some(c) => c.index[p] as usize,
            None => persons.arms()[p] as usize,
        }
    };
    let n_units = clusters.map_or(2, |c| c.labels.len());
    let dim = n_cov + 1;
    let mut gram = vec![DMatrix::<f64>::zeros(dim, dim); n_units];
    let mut xty = vec![DVector::<f64>::zeros(dim); n_units];
    let mut unit_arm = vec![None; n_units];
    let mut v = vec![0.0; dim];
    for &p in &used {
        arm_basis(columns, p, &means, &mut v);
        let u = unit_of(p);
        unit_arm[u] = Some(persons.arms()[p]);
        let (g, b) = (&mut gram[u], &mut xty[u]);
        for i in 0..dim {
            b[i] += v[i] * row[p];
            for j in 0..=i {
                g[(i, j)] += v[i] * v[j];
            }
        }
    }
    for g in &mut gram {
        g.fill_upper_triangle_with_lower_triangle();
    }

    // The full cross-product, its collinear columns dropped in order.
    let p_full = 2 + 2 * n_cov;
    let all: Vec<usize> = (0..p_full).collect();
    let units: Vec<(usize, Arm)> = (0..n_units)
        .filter_map(|u| unit_arm[u].map(|a| (u, a)))
        .collect();
    let full_of = |kept: &[usize], u: usize, a: Arm| -> (DMatrix<f64>, DVector<f64>) {
        let t = full_from_arm(n_cov, a, kept);
        (&t * &gram[u] * t.transpose(), &t * &xty[u])
    };
    let mut xtx = DMatrix::<f64>::zeros(p_full, p_full);
    for &(u, a) in &units {
        xtx += full_of(&all, u, a).0;
    }
    let kept = independent_columns(&xtx);
    let name = |f: usize| match f {
        0 => "(intercept)".to_string(),
        1 => "z".to_string(),
        f if f < 2 + n_cov => columns[f - 2].name.clone(),
        f => format!("z:{}", columns[f - 2 - n_cov].name),
    };
    let dropped: Vec<String> = (0..p_full)
        .filter(|f| !kept.contains(f))
        .map(name)
        .collect();
    let Some(z) = kept.iter().position(|&f| f == 1) else {
        return missing(estimate, "the treatment indicator is collinear".into());
    };
    // Parameters per arm: its intercept and its kept slopes (the control
    // arm's x − x̄, the treatment arm's x − x̄ or z·(x − x̄)).
    for (arm, m) in [(Arm::Treatment, &treat), (Arm::Control, &control)] {
        let slope = |j: usize| {
            kept.contains(&(2 + j)) || (arm == Arm::Treatment && kept.contains(&(2 + n_cov + j)))
        };
        let params = 1 + (0..n_cov).filter(|&j| slope(j)).count();
        if m.n <= params {
            let arm = if arm == Arm::Treatment {
                "treatment"
            } else {
                "control"
            };
            return LinFit {
                dropped,
                ..missing(
                    estimate,
                    format!("the {arm} arm has {} persons for {params} parameters", m.n),
                )
            };
        }
    }
    let count = |arm| units.iter().filter(|(_, a)| *a == arm).count();
    if clusters.is_some() {
        estimate.clusters_treat = Some(count(Arm::Treatment));
        estimate.clusters_control = Some(count(Arm::Control));
        if count(Arm::Treatment) < 2 || count(Arm::Control) < 2 {
            return LinFit {
                dropped,
                ..missing(estimate, "an arm has fewer than two clusters".into())
            };
        }
    }
    let mut xtx = DMatrix::<f64>::zeros(kept.len(), kept.len());
    let mut xy = DVector::<f64>::zeros(kept.len());
    let mut per_unit: Vec<(DMatrix<f64>, DVector<f64>)> = Vec::with_capacity(units.len());
    for &(u, a) in &units {
        let (c, d) = full_of(&kept, u, a);
        xtx += &c;
        xy += &d;
        per_unit.push((c, d));
    }
    let Some(inverse) = xtx.clone().cholesky().map(|c| c.inverse()) else {
        return LinFit {
            dropped,
            ..missing(estimate, "the regressors are collinear".into())
        };
    };
    let beta = &inverse * &xy;
    estimate.effect = Some(beta[z]);
    let rank = kept.len() as f64;

    let (var, df) = match clusters {
        None => {
            // Pass 3 (HC2): leverages and residuals per person.
            let mut meat = DMatrix::<f64>::zeros(kept.len(), kept.len());
            let t = [Arm::Control, Arm::Treatment].map(|a| full_from_arm(n_cov, a, &kept));
            let arm_inverse = t.clone().map(|t| t.transpose() * &inverse * &t);
            let arm_beta = t.clone().map(|t| t.transpose() * &beta);
            let mut arm_meat = [
                DMatrix::<f64>::zeros(dim, dim),
                DMatrix::<f64>::zeros(dim, dim),
            ];
            let mut v = DVector::<f64>::zeros(dim);
            for &p in &used {
                arm_basis(columns, p, &means, v.as_mut_slice());
                let a = persons.arms()[p] as usize;
                let h = (v.transpose() * &arm_inverse[a] * &v)[0];
                if h >= 1.0 - COLLINEAR {
                    return LinFit {
                        dropped,
                        ..missing(estimate, format!("a person has leverage 1 at week {k}"))
                    };
                }
                let e = row[p] - arm_beta[a].dot(&v);
                let w = e * e / (1.0 - h);
                arm_meat[a].ger(w, &v, &v, 1.0);
            }
            for a in 0..2 {
                meat += &t[a] * &arm_meat[a] * t[a].transpose();
            }
            let v = &inverse * meat * &inverse;
            (v[(z, z)], used.len() as f64 - rank)
        }
        Some(_) => match cr2(&per_unit, &inverse, &beta, z) {
            Some(vd) => vd,
            None => {
                return LinFit {
                    dropped,
                    ..missing(estimate, "the Bell–McCaffrey df is undefined".into())
                };
            }
        },
    };
    estimate.se = Some(var.max(0.0).sqrt());
    estimate.df = Some(df);
    stats::infer(&mut estimate, level);
    LinFit {
        estimate,
        dropped,
        note: None,
    }
}

/// The columns of the symmetric `xtx` that are not (numerically) linear
/// combinations of earlier columns, in order: a pivoted Cholesky without
/// pivoting, dropping a column whose pivot is at most [`COLLINEAR`] times
/// its diagonal (or that is zero).
fn independent_columns(xtx: &DMatrix<f64>) -> Vec<usize> {
    let n = xtx.nrows();
    let a = ndarray::Array2::from_shape_fn((n, n), |(i, j)| xtx[(i, j)]);
    let (_, kept) = stats::cholesky(&a, COLLINEAR);
    (0..n).filter(|&j| kept[j]).collect()
}

/// CR2 variance of coefficient `z` and its Bell–McCaffrey df from the
/// clusters' cross-products (C_g = X_gᵀX_g, d_g = X_gᵀy_g) in the kept
/// basis, with M = (XᵀX)⁻¹ and the coefficients β (methods §9).
///
/// With C_g = V D Vᵀ (positive eigenvalues) and S = D^½ Vᵀ M V D^½ = P Λ Pᵀ,
/// the cluster's hat block H_gg has the eigenvalues Λ, so
/// X_gᵀ A_g e = b + V D^½ P φ(Λ) Pᵀ D^-½ Vᵀ b with b = d_g − C_g β,
/// A_g = (I − H_gg)^-½ and φ(λ) = (1 − λ)^-½ − 1 (−1 for λ = 1, the
/// pseudo-inverse). The df is (tr G)²/‖G‖²_F for G = D − WᵀMW, the
/// Bell–McCaffrey matrix with d_g = ‖A_g X_g m‖², w_g = X_gᵀ A_g X_g m and
/// m = M e_z. `None` when the df is undefined (‖G‖_F = 0).
fn cr2(
    units: &[(DMatrix<f64>, DVector<f64>)],
    inverse: &DMatrix<f64>,
    beta: &DVector<f64>,
    z: usize,
) -> Option<(f64, f64)> {
    let dim = inverse.nrows();
    let m = inverse.column(z).into_owned();
    let mut meat = DMatrix::<f64>::zeros(dim, dim);
    let mut diag = Vec::with_capacity(units.len());
    let mut w = Vec::with_capacity(units.len());
    for (c, d) in units {
        let b = d - c * beta;
        let eig = SymmetricEigen::new(c.clone());
        let top = eig.eigenvalues.iter().copied().fold(0.0, f64::max);
        let positive: Vec<usize> = (0..dim)
            .filter(|&i| eig.eigenvalues[i] > COLLINEAR * top && top > 0.0)
            .collect();
        let r = positive.len();
        // V D^½ (dim × r) and D^-½ Vᵀ (r × dim).
        let v_half = DMatrix::from_fn(dim, r, |i, j| {
            eig.eigenvectors[(i, positive[j])] * eig.eigenvalues[positive[j]].sqrt()
        });
        let v_inv_half = DMatrix::from_fn(r, dim, |i, j| {
            eig.eigenvectors[(j, positive[i])] / eig.eigenvalues[positive[i]].sqrt()
        });
        let s = v_half.transpose() * inverse * &v_half;
        let se = SymmetricEigen::new(s);
        let phi = |lambda: f64| {
            if lambda >= 1.0 - COLLINEAR {
                -1.0
            } else {
                1.0 / (1.0 - lambda).sqrt() - 1.0
            }
        };
        let p = &se.eigenvectors;
        let f = DMatrix::from_diagonal(&se.eigenvalues.map(phi));
        let f2 = DMatrix::from_diagonal(&se.eigenvalues.map(|l| (1.0 + phi(l)).powi(2) - 1.0));
        let left = &v_half * p;
        let t = &b + &left * &f * p.transpose() * &v_inv_half * &b;
        meat.ger(1.0, &t, &t, 1.0);
        // Bell–McCaffrey pieces.
        let half_m = left.transpose() * &m;
        let d_g = m.dot(&(c * &m)) + half_m.dot(&(&f2 * &half_m));
        let w_g = c * &m + &left * &f * &half_m;
        diag.push(d_g);
        w.push(w_g);
    }
    let v = inverse * meat * inverse;
    // G = D − WᵀMW: tr G and ‖G‖²_F = Σ d² − 2 Σ d_g w_gᵀMw_g + tr((MQ)²).
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
    (frobenius > 0.0).then(|| (v[(z, z)], trace * trace / frobenius))
}
