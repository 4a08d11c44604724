//! The tidy estimate every table shares ([`Estimate`]), its inference
//! from an se and df, and the minimum detectable effect.

use serde::Serialize;

use super::distributions::{t_quantile, t_two_sided_p};

/// One treatment–control comparison: the columns every estimator reports.
///
/// Every `Option` is `None` when the quantity is undefined (methods §4): the
/// means of an arm with n = 0; sd, se, df, CI and p when an arm has n < 2;
/// df, t, CI and p when se = 0; relative effect and ratio when ȳ₀ = 0.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Estimate {
    /// n₁, persons in the treatment arm.
    pub n_treat: usize,
    /// n₀, persons in the control arm.
    pub n_control: usize,
    /// ȳ₁: the treatment arm's mean, or for the blocked estimator the
    /// block-weighted mean Σ_b (N_b/N)·ȳ₁_b (so that ȳ₁ − ȳ₀ = τ).
    pub mean_treat: Option<f64>,
    /// ȳ₀, as ȳ₁.
    pub mean_control: Option<f64>,
    /// s₁ (denominator n₁ − 1).
    pub sd_treat: Option<f64>,
    /// s₀ (denominator n₀ − 1).
    pub sd_control: Option<f64>,
    /// τ = ȳ₁ − ȳ₀ (or the block-weighted τ for the blocked estimator).
    pub effect: Option<f64>,
    /// Standard error of τ.
    pub se: Option<f64>,
    /// Degrees of freedom of the t reference distribution.
    pub df: Option<f64>,
    /// t = τ / se.
    pub t: Option<f64>,
    /// Lower end of the confidence interval τ − t(1−α/2, df)·se.
    pub ci_low: Option<f64>,
    /// Upper end of the confidence interval τ + t(1−α/2, df)·se.
    pub ci_high: Option<f64>,
    /// Two-sided p-value of τ = 0 from Student's t with df.
    pub p_value: Option<f64>,
    /// Relative effect ȳ₁/ȳ₀ − 1 (its se equals `ratio_se`).
    pub relative_effect: Option<f64>,
    /// Ratio r = ȳ₁/ȳ₀.
    pub ratio: Option<f64>,
    /// Delta-method se of r: √(s₁²/(n₁ȳ₀²) + ȳ₁²s₀²/(n₀ȳ₀⁴)), which equals
    /// |r|·√(s₁²/(n₁ȳ₁²) + s₀²/(n₀ȳ₀²)) when ȳ₁ ≠ 0 and stays defined when
    /// ȳ₁ = 0.
    pub ratio_se: Option<f64>,
    /// Minimum detectable effect at 80% power and the estimate's level:
    /// (t(1−α/2, df) + t(0.80, df))·se (Bloom 1995): the smallest true
    /// effect this comparison would have found with probability 0.8.
    pub mde: Option<f64>,
    /// Clustered design: clusters with a value in the treatment arm.
    pub clusters_treat: Option<usize>,
    /// Clustered design: clusters with a value in the control arm.
    pub clusters_control: Option<usize>,
}

/// Fill t, CI and p from effect, se and df at confidence `level`.
pub(crate) fn infer(e: &mut Estimate, level: f64) {
    let (Some(effect), Some(se), Some(df)) = (e.effect, e.se, e.df) else {
        return;
    };
    if !(se > 0.0 && df > 0.0 && se.is_finite()) {
        e.df = None;
        return;
    }
    let t = effect / se;
    e.t = Some(t);
    e.p_value = t_two_sided_p(t, df);
    if let Some(q) = t_quantile(1.0 - (1.0 - level) / 2.0, df) {
        e.ci_low = Some(effect - q * se);
        e.ci_high = Some(effect + q * se);
    }
    e.mde = mde(se, df, level, MDE_POWER);
}

/// Power at which [`Estimate::mde`] is given.
pub const MDE_POWER: f64 = 0.8;

/// Minimum detectable effect (t(1−α/2, df) + t(power, df))·se of a
/// two-sided test at `level` (Bloom 1995); `None` when se or df is not
/// positive.
pub fn mde(se: f64, df: f64, level: f64, power: f64) -> Option<f64> {
    if !(se > 0.0 && se.is_finite() && df > 0.0) {
        return None;
    }
    let a = t_quantile(1.0 - (1.0 - level) / 2.0, df)?;
    let b = t_quantile(power, df)?;
    Some((a + b) * se)
}
