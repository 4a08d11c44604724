//! Kaplan–Meier cumulative incidence with Greenwood standard errors, and
//! the log-rank test (methods §5).

use serde::Serialize;

use super::chi_square::ChiSquare;
use super::distributions::{chi_square_sf, normal_quantile};

/// One week of a Kaplan–Meier curve, as cumulative incidence F = 1 − S.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KaplanMeierRow {
    /// Week (time).
    pub week: i32,
    /// Persons at risk at the start of the week (time ≥ week).
    pub at_risk: usize,
    /// Events in the week.
    pub events: usize,
    /// F(week) = 1 − Π_{j ≤ week} (1 − d_j/n_j).
    pub cum_incidence: f64,
    /// Greenwood se: S·√(Σ_{j ≤ week} d_j/(n_j(n_j − d_j))); `None` once S
    /// reaches 0.
    pub se: Option<f64>,
    /// Lower confidence limit of F, from the log-log interval of S
    /// (S^exp(±z·√G/|log S|)); `None` while S = 1 or once S = 0.
    pub ci_low: Option<f64>,
    /// Upper confidence limit of F.
    pub ci_high: Option<f64>,
}

/// Kaplan–Meier cumulative incidence for discrete times `(time, event)`
/// (`event = false`: censored at `time`, still at risk at `time`), one row
/// per week from `first` to the last time, with Greenwood se and log-log
/// confidence intervals at `level`.
pub fn kaplan_meier(times: &[(i32, bool)], first: i32, level: f64) -> Vec<KaplanMeierRow> {
    let Some(last) = times.iter().map(|t| t.0).max() else {
        return Vec::new();
    };
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let mut sorted: Vec<(i32, bool)> = times.to_vec();
    sorted.sort_unstable();
    let mut at_risk = sorted.len();
    let (mut idx, mut surv, mut greenwood) = (0usize, 1.0f64, 0.0f64);
    let mut rows = Vec::new();
    for week in first..=last {
        // Times before `first` leave the risk set without counting.
        while idx < sorted.len() && sorted[idx].0 < week {
            idx += 1;
            at_risk -= 1;
        }
        let n = at_risk;
        let mut events = 0;
        let mut j = idx;
        while j < sorted.len() && sorted[j].0 == week {
            events += usize::from(sorted[j].1);
            j += 1;
        }
        if n == 0 {
            break;
        }
        if events > 0 {
            surv *= 1.0 - events as f64 / n as f64;
            greenwood += if n > events {
                events as f64 / (n as f64 * (n - events) as f64)
            } else {
                f64::INFINITY
            };
        }
        let se = greenwood.is_finite().then(|| surv * greenwood.sqrt());
        let ci = (surv > 0.0 && surv < 1.0 && greenwood.is_finite()).then(|| {
            let spread = z * greenwood.sqrt() / surv.ln().abs();
            (
                1.0 - surv.powf((-spread).exp()),
                1.0 - surv.powf(spread.exp()),
            )
        });
        rows.push(KaplanMeierRow {
            week,
            at_risk: n,
            events,
            cum_incidence: 1.0 - surv,
            se,
            ci_low: ci.map(|c| c.0),
            ci_high: ci.map(|c| c.1),
        });
    }
    rows
}

/// Log-rank test of equal hazards in two groups of discrete `(time, event)`
/// data: Σ(O₁ − E₁) over event times, hypergeometric variance
/// Σ n₁n₀d(n − d)/(n²(n − 1)), statistic (O₁ − E₁)²/V on 1 df. `None` when
/// the variance is 0 (no events, or one group empty).
pub fn log_rank(group1: &[(i32, bool)], group0: &[(i32, bool)]) -> Option<ChiSquare> {
    let mut times: Vec<i32> = group1
        .iter()
        .chain(group0)
        .filter(|t| t.1)
        .map(|t| t.0)
        .collect();
    times.sort_unstable();
    times.dedup();
    let count = |g: &[(i32, bool)], t: i32| {
        let n = g.iter().filter(|x| x.0 >= t).count() as f64;
        let d = g.iter().filter(|x| x.0 == t && x.1).count() as f64;
        (n, d)
    };
    let (mut diff, mut var) = (0.0, 0.0);
    for t in times {
        let ((n1, d1), (n0, d0)) = (count(group1, t), count(group0, t));
        let (n, d) = (n1 + n0, d1 + d0);
        diff += d1 - n1 * d / n;
        if n > 1.0 {
            var += n1 * n0 * d * (n - d) / (n * n * (n - 1.0));
        }
    }
    if var <= 0.0 {
        return None;
    }
    let statistic = diff * diff / var;
    Some(ChiSquare {
        statistic,
        df: 1.0,
        p_value: chi_square_sf(statistic, 1.0)?,
    })
}
