//! Quantiles and tail probabilities of the normal, t, chi-square and F
//! distributions (statrs), and the check of a confidence level.

use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, Normal, StudentsT};
use statrs::function::beta::beta_reg;

/// t quantile t(p, df), or the normal quantile when df is infinite.
pub(crate) fn t_quantile(p: f64, df: f64) -> Option<f64> {
    let dist = StudentsT::new(0.0, 1.0, df).ok()?;
    Some(dist.inverse_cdf(p))
}

/// Two-sided p-value of Student's t: P(|T_df| ≥ |t|) = I_{df/(df+t²)}(df/2, ½).
pub(crate) fn t_two_sided_p(t: f64, df: f64) -> Option<f64> {
    if !(t.is_finite() && df > 0.0) {
        return None;
    }
    if df.is_infinite() {
        let dist = StudentsT::new(0.0, 1.0, df).ok()?;
        return Some(2.0 * dist.sf(t.abs()));
    }
    Some(beta_reg(df / 2.0, 0.5, df / (df + t * t)).clamp(0.0, 1.0))
}

/// Upper-tail probability of a chi-square distribution with `df` degrees of
/// freedom.
pub(crate) fn chi_square_sf(x: f64, df: f64) -> Option<f64> {
    let dist = ChiSquared::new(df).ok()?;
    Some(dist.sf(x))
}

/// Standard normal quantile Φ⁻¹(p).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// Two-sided standard normal p-value 2·(1 − Φ(|z|)).
pub(crate) fn normal_two_sided_p(z: f64) -> f64 {
    2.0 * Normal::standard().sf(z.abs())
}

/// Upper-tail probability of the F distribution with (`df1`, `df2`) degrees
/// of freedom.
pub(crate) fn f_sf(f: f64, df1: f64, df2: f64) -> Option<f64> {
    let dist = FisherSnedecor::new(df1, df2).ok()?;
    Some(dist.sf(f))
}
