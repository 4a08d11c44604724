//! Moments of a sample and of samples merged; the variance estimators.

use serde::Serialize;

/// Count, mean and sum of squared deviations of a sample (missing values
/// excluded).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Moments {
    /// Number of values.
    pub n: usize,
    /// Mean (0 when `n = 0`).
    pub mean: f64,
    /// Σ (y − ȳ)².
    pub m2: f64,
}

impl Moments {
    /// Moments of the non-NaN values of `values`, by the corrected two-pass
    /// algorithm (accurate even when the mean is large relative to the
    /// spread).
    pub fn of(values: &[f64]) -> Moments {
        let (mut n, mut sum) = (0usize, 0.0);
        for &y in values.iter().filter(|y| !y.is_nan()) {
            n += 1;
            sum += y;
        }
        if n == 0 {
            return Moments::default();
        }
        let mean = sum / n as f64;
        let (mut dev, mut dev2) = (0.0, 0.0);
        for &y in values.iter().filter(|y| !y.is_nan()) {
            dev += y - mean;
            dev2 += (y - mean) * (y - mean);
        }
        Moments {
            n,
            mean: mean + dev / n as f64,
            m2: (dev2 - dev * dev / n as f64).max(0.0),
        }
    }

    /// The moments of the union of two samples (Chan et al.'s update).
    pub fn merge(self, other: Moments) -> Moments {
        if self.n == 0 {
            return other;
        }
        if other.n == 0 {
            return self;
        }
        let n = self.n + other.n;
        let delta = other.mean - self.mean;
        let (na, nb, nn) = (self.n as f64, other.n as f64, n as f64);
        Moments {
            n,
            mean: self.mean + delta * nb / nn,
            m2: self.m2 + other.m2 + delta * delta * na * nb / nn,
        }
    }

    /// The mean, if `n ≥ 1`.
    pub fn mean(&self) -> Option<f64> {
        (self.n >= 1).then_some(self.mean)
    }

    /// Sample variance s² = Σ(y − ȳ)²/(n − 1), if `n ≥ 2`.
    pub fn variance(&self) -> Option<f64> {
        (self.n >= 2).then(|| self.m2 / (self.n - 1) as f64)
    }

    /// Sample standard deviation s, if `n ≥ 2`.
    pub fn sd(&self) -> Option<f64> {
        self.variance().map(f64::sqrt)
    }
}

/// The (treatment, control) moments of one cell, per unit: one entry per
/// arm without clusters, one per cluster with them.
pub(crate) type CellArms = (Vec<Moments>, Vec<Moments>);

/// How the standard error of a difference in means is computed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Variance {
    /// Neyman / Welch: se = √(s₁²/n₁ + s₀²/n₀), Welch–Satterthwaite df.
    #[default]
    Welch,
    /// Pooled: se = s_p·√(1/n₁ + 1/n₀), s_p² = ((n₁−1)s₁² + (n₀−1)s₀²)/(n₁+n₀−2),
    /// df = n₁ + n₀ − 2.
    Pooled,
}
