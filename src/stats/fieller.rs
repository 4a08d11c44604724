//! Fieller's interval of a ratio of two estimates (methods §12).

use serde::Serialize;

/// A Fieller interval of a ratio (methods §12).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Fieller {
    /// A bounded interval [low, high].
    Bounded {
        /// Lower end.
        low: f64,
        /// Upper end.
        high: f64,
    },
    /// The whole line but (low, high): (−∞, low] ∪ [high, ∞), when the
    /// denominator is not significantly different from 0.
    Outside {
        /// Upper end of the lower ray.
        low: f64,
        /// Lower end of the upper ray.
        high: f64,
    },
    /// Every ratio: the data do not bound it at all.
    Unbounded,
}

/// The ratio a/b of two estimates and Fieller's interval at critical value
/// `q` (e.g. t(0.975, df)): the θ with (a − θb)² ≤ q²(v_a − 2θc + θ²v_b),
/// for variances v_a, v_b and covariance c (Fieller 1954). `None` when
/// b = 0.
pub fn fieller(a: f64, b: f64, var_a: f64, var_b: f64, cov: f64, q: f64) -> Option<(f64, Fieller)> {
    if b == 0.0 {
        return None;
    }
    let q2 = q * q;
    // (b² − q²v_b)θ² − 2(ab − q²c)θ + (a² − q²v_a) ≤ 0.
    let qa = b * b - q2 * var_b;
    let qb = a * b - q2 * cov;
    let qc = a * a - q2 * var_a;
    let disc = qb * qb - qa * qc;
    let ratio = a / b;
    let interval = if qa > 0.0 {
        let root = disc.max(0.0).sqrt();
        Fieller::Bounded {
            low: (qb - root) / qa,
            high: (qb + root) / qa,
        }
    } else if disc > 0.0 && qa < 0.0 {
        let root = disc.sqrt();
        let (x, y) = ((qb + root) / qa, (qb - root) / qa);
        Fieller::Outside {
            low: x.min(y),
            high: x.max(y),
        }
    } else {
        Fieller::Unbounded
    };
    Some((ratio, interval))
}
