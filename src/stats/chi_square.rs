//! Chi-square tests: Pearson's test of a contingency table and Cochran's
//! Q of heterogeneity (methods §6, §10).

use serde::Serialize;

use super::distributions::chi_square_sf;

/// A chi-square test result.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct ChiSquare {
    /// The statistic.
    pub statistic: f64,
    /// Degrees of freedom.
    pub df: f64,
    /// Upper-tail p-value.
    pub p_value: f64,
}

/// Pearson's chi-square test of independence on a contingency table
/// (rows × columns of counts), without continuity correction. Rows and
/// columns whose total is 0 are left out (they carry no information and
/// would divide by zero); `None` when fewer than two rows or columns remain.
pub fn pearson_chi_square(table: &[Vec<f64>]) -> Option<ChiSquare> {
    let n_cols = table.iter().map(Vec::len).max().unwrap_or(0);
    let cell = |r: usize, c: usize| table[r].get(c).copied().unwrap_or(0.0);
    let row_tot: Vec<f64> = (0..table.len())
        .map(|r| (0..n_cols).map(|c| cell(r, c)).sum())
        .collect();
    let col_tot: Vec<f64> = (0..n_cols)
        .map(|c| (0..table.len()).map(|r| cell(r, c)).sum())
        .collect();
    let rows: Vec<usize> = (0..table.len()).filter(|&r| row_tot[r] > 0.0).collect();
    let cols: Vec<usize> = (0..n_cols).filter(|&c| col_tot[c] > 0.0).collect();
    if rows.len() < 2 || cols.len() < 2 {
        return None;
    }
    let total: f64 = row_tot.iter().sum();
    let mut statistic = 0.0;
    for &r in &rows {
        for &c in &cols {
            let expected = row_tot[r] * col_tot[c] / total;
            statistic += (cell(r, c) - expected).powi(2) / expected;
        }
    }
    let df = ((rows.len() - 1) * (cols.len() - 1)) as f64;
    Some(ChiSquare {
        statistic,
        df,
        p_value: chi_square_sf(statistic, df)?,
    })
}

/// Cochran's Q test of heterogeneity of independent estimates
/// `(estimate, se)`: Q = Σ w_s(τ_s − τ̄)², w_s = 1/se_s², τ̄ = Σw_sτ_s/Σw_s,
/// df = S − 1. Estimates with a missing or zero se are left out; `None` when
/// fewer than two remain.
pub fn cochran_q(estimates: &[(Option<f64>, Option<f64>)]) -> Option<ChiSquare> {
    let usable: Vec<(f64, f64)> = estimates
        .iter()
        .filter_map(|&(e, se)| Some((e?, 1.0 / (se? * se?))))
        .filter(|(_, w)| w.is_finite())
        .collect();
    if usable.len() < 2 {
        return None;
    }
    let w_sum: f64 = usable.iter().map(|(_, w)| w).sum();
    let pooled = usable.iter().map(|(e, w)| w * e).sum::<f64>() / w_sum;
    let statistic: f64 = usable.iter().map(|(e, w)| w * (e - pooled).powi(2)).sum();
    let df = (usable.len() - 1) as f64;
    Some(ChiSquare {
        statistic,
        df,
        p_value: chi_square_sf(statistic, df)?,
    })
}
