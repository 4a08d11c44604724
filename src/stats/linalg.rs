//! Small dense linear algebra for the Lin estimate and the band:
//! Cholesky factors and least squares from cross-products.

use ndarray::Array2;

/// Lower Cholesky factor L (LLᵀ = A) of a symmetric positive semi-definite
/// matrix. A column whose pivot is at most `tol` times its diagonal entry
/// (a column that earlier columns explain, or a zero column) is dropped:
/// its column of L is 0 and `kept[j]` is `false`.
pub(crate) fn cholesky(a: &Array2<f64>, tol: f64) -> (Array2<f64>, Vec<bool>) {
    let diagonal: Vec<f64> = a.diag().to_vec();
    cholesky_scaled(a, tol, &diagonal)
}

/// [`cholesky`], dropping column j when its pivot is at most `tol ·
/// scale[j]`: for cross-products formed by cancellation (centred after
/// summing), whose diagonal can itself be rounding noise, `scale` is the
/// size of the sums it came from.
pub(crate) fn cholesky_scaled(
    a: &Array2<f64>,
    tol: f64,
    scale: &[f64],
) -> (Array2<f64>, Vec<bool>) {
    let n = a.nrows();
    let mut l = Array2::<f64>::zeros((n, n));
    let mut kept = vec![false; n];
    for j in 0..n {
        let d = a[(j, j)] - (0..j).map(|k| l[(j, k)] * l[(j, k)]).sum::<f64>();
        if !(d > tol * scale[j] && d > 0.0) {
            continue;
        }
        kept[j] = true;
        let pivot = d.sqrt();
        l[(j, j)] = pivot;
        for i in j + 1..n {
            let s = a[(i, j)] - (0..j).map(|k| l[(i, k)] * l[(j, k)]).sum::<f64>();
            l[(i, j)] = s / pivot;
        }
    }
    (l, kept)
}

/// Result of [`least_squares`].
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LeastSquares {
    /// Residual sum of squares.
    pub rss: f64,
    /// Which columns were used (the others are collinear with earlier ones).
    pub kept: Vec<bool>,
    /// The coefficients (0 for a dropped column).
    pub beta: Vec<f64>,
    /// (XᵀX)⁻¹ over the kept columns, in their order.
    pub inverse: nalgebra::DMatrix<f64>,
}

/// Ordinary least squares from cross-products XᵀX, Xᵀy and yᵀy (of centred
/// data when an intercept is implied): RSS = yᵀy − zᵀz with Lz = Xᵀy,
/// dropping collinear columns (relative pivot tolerance 1e-10).
pub(crate) fn least_squares(xtx: &Array2<f64>, xty: &[f64], yty: f64) -> LeastSquares {
    let (l, kept) = cholesky(xtx, 1e-10);
    let mut z = vec![0.0; xty.len()];
    for j in 0..xty.len() {
        if kept[j] {
            z[j] = (xty[j] - (0..j).map(|k| l[(j, k)] * z[k]).sum::<f64>()) / l[(j, j)];
        }
    }
    // Lᵀβ = z over the kept columns.
    let n = xty.len();
    let mut beta = vec![0.0; n];
    for j in (0..n).rev().filter(|&j| kept[j]) {
        let s: f64 = (j + 1..n).map(|i| l[(i, j)] * beta[i]).sum();
        beta[j] = (z[j] - s) / l[(j, j)];
    }
    let index: Vec<usize> = (0..n).filter(|&j| kept[j]).collect();
    let lk = nalgebra::DMatrix::from_fn(index.len(), index.len(), |i, j| l[(index[i], index[j])]);
    let inverse = lk
        .clone()
        .try_inverse()
        .map(|li| li.transpose() * li)
        .unwrap_or_else(|| nalgebra::DMatrix::zeros(index.len(), index.len()));
    LeastSquares {
        rss: (yty - z.iter().map(|v| v * v).sum::<f64>()).max(0.0),
        kept,
        beta,
        inverse,
    }
}
