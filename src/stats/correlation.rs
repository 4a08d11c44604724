//! Correlations across sites: Pearson with a Fisher-z interval, and
//! Spearman (methods §11).

use serde::Serialize;

use super::distributions::{normal_quantile, t_two_sided_p};

/// A correlation across sites (methods §11).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Correlation {
    /// Pairs used (both values present).
    pub n: usize,
    /// Pearson's r.
    pub pearson: f64,
    /// Fisher-z interval of r: tanh(atanh r ± z/√(n − 3)); `None` for
    /// n ≤ 3 or |r| = 1.
    pub ci_low: Option<f64>,
    /// Upper end of the Fisher-z interval.
    pub ci_high: Option<f64>,
    /// Two-sided p of r = 0: t = r√((n − 2)/(1 − r²)) on n − 2 df; `None`
    /// for n < 3.
    pub p_value: Option<f64>,
    /// Spearman's ρ: Pearson's r of the ranks (ties share their mean rank).
    pub spearman: Option<f64>,
}

/// Pearson's r (with the Fisher-z interval at `level` and the t-test p)
/// and Spearman's ρ of the pairs of `x` and `y` with both values present
/// (R's `cor.test`). `None` with fewer than three pairs or a constant
/// variable.
pub fn correlation(x: &[Option<f64>], y: &[Option<f64>], level: f64) -> Option<Correlation> {
    let pairs: Vec<(f64, f64)> = x
        .iter()
        .zip(y)
        .filter_map(|(a, b)| Some(((*a)?, (*b)?)))
        .filter(|(a, b)| a.is_finite() && b.is_finite())
        .collect();
    let n = pairs.len();
    if n < 3 {
        return None;
    }
    let r = pearson(&pairs)?;
    let nf = n as f64;
    let (ci_low, ci_high) = if n > 3 && r.abs() < 1.0 {
        let z = normal_quantile(1.0 - (1.0 - level) / 2.0) / (nf - 3.0).sqrt();
        (Some((r.atanh() - z).tanh()), Some((r.atanh() + z).tanh()))
    } else {
        (None, None)
    };
    let p_value = if r.abs() < 1.0 {
        t_two_sided_p(r * ((nf - 2.0) / (1.0 - r * r)).sqrt(), nf - 2.0)
    } else {
        Some(0.0)
    };
    let rank = |v: Vec<f64>| -> Vec<f64> {
        let mut order: Vec<usize> = (0..v.len()).collect();
        order.sort_by(|&a, &b| v[a].total_cmp(&v[b]));
        let mut ranks = vec![0.0; v.len()];
        let mut i = 0;
        while i < order.len() {
            let mut j = i;
            while j + 1 < order.len() && v[order[j + 1]] == v[order[i]] {
                j += 1;
            }
            let mean = (i + j) as f64 / 2.0 + 1.0;
            for &o in &order[i..=j] {
                ranks[o] = mean;
            }
            i = j + 1;
        }
        ranks
    };
    let rx = rank(pairs.iter().map(|p| p.0).collect());
    let ry = rank(pairs.iter().map(|p| p.1).collect());
    let ranked: Vec<(f64, f64)> = rx.into_iter().zip(ry).collect();
    Some(Correlation {
        n,
        pearson: r,
        ci_low,
        ci_high,
        p_value,
        spearman: pearson(&ranked),
    })
}

/// Pearson's r of pairs, by the centred sums; `None` for a constant one.
fn pearson(pairs: &[(f64, f64)]) -> Option<f64> {
    let n = pairs.len() as f64;
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |(a, b), (x, y)| (a + x / n, b + y / n));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (x, y) in pairs {
        sxy += (x - mx) * (y - my);
        sxx += (x - mx) * (x - mx);
        syy += (y - my) * (y - my);
    }
    (sxx > 0.0 && syy > 0.0).then(|| (sxy / (sxx * syy).sqrt()).clamp(-1.0, 1.0))
}
