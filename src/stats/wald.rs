//! The cluster-robust Wald test of linear constraints on the cell means of
//! a saturated cell-means model, with the CR2 variance and the Hotelling T²
//! small-sample approximation "HTZ" of Pustejovsky and Tipton (2018), as R
//! clubSandwich's `Wald_test(lm(y ~ 0 + cell), constraints, vcovCR(type =
//! "CR2"), test = "HTZ")` (methods §10). It tests that several groups'
//! effects are equal (sites, subgroup levels) when each group rests on a
//! few clusters, where Cochran's Q, which takes each group's variance as
//! known, rejects far too often.
//!
//! For cell means the hat matrix is 1/n_c within a cell, so every matrix of
//! the CR2 adjustment and of HTZ's degrees of freedom has a closed form per
//! cluster and cell: cluster j with m persons and residual sum S in cell c
//! contributes u = S/√(1 − m/n_c) to the cell's CR2 score, and the terms of
//! the degrees of freedom reduce to p × p sums over the clusters (p cells),
//! so the test costs O(persons + clusters·cells² + p³) whatever the number
//! of clusters.

use nalgebra::{DMatrix, DVector};
use serde::Serialize;

use super::distributions::f_sf;

/// One cluster's persons in one cell: their number and the sum of their
/// residuals from the cell mean; or, for persons who are each their own
/// cluster, all of a cell's persons at once.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct ClusterCell {
    /// The cluster (any id, unique to the cluster).
    pub(crate) cluster: u32,
    /// The cell, an index into the cell totals.
    pub(crate) cell: usize,
    /// m, the cluster's persons in the cell.
    pub(crate) n: usize,
    /// S = Σ (y − ȳ_c) over them.
    pub(crate) residual: f64,
    /// How many clusters of m persons this part stands for (1 for a
    /// cluster; the cell's persons for clusters of one person each, m = 1),
    /// and Σ S² over them. Several clusters are only in one cell.
    pub(crate) count: usize,
    pub(crate) square: f64,
}

impl ClusterCell {
    /// Cluster `cluster`'s m persons in `cell` with residual sum S.
    pub(crate) fn cluster(cluster: u32, cell: usize, n: usize, residual: f64) -> ClusterCell {
        ClusterCell {
            cluster,
            cell,
            n,
            residual,
            count: 1,
            square: residual * residual,
        }
    }

    /// The `n` persons of `cell`, each its own cluster (id `cluster`),
    /// with Σ (y − ȳ_c)² = `m2`.
    pub(crate) fn persons(cluster: u32, cell: usize, n: usize, m2: f64) -> ClusterCell {
        ClusterCell {
            cluster,
            cell,
            n: 1,
            residual: 0.0,
            count: n,
            square: m2,
        }
    }
}

/// An HTZ Wald test: F = (η − q + 1)/(η·q)·Q on (q, η − q + 1) df, with Q
/// the Wald statistic of the q constraints under the CR2 variance and η
/// the degrees of freedom of the Hotelling T² approximation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct WaldTest {
    /// The Wald statistic Q = (Cβ)ᵀ(C·V·Cᵀ)⁻¹(Cβ).
    pub wald: f64,
    /// The F statistic.
    pub f: f64,
    /// q, the constraints.
    pub df1: f64,
    /// η − q + 1.
    pub df2: f64,
    /// Upper-tail p-value of F on (df1, df2).
    pub p_value: f64,
}

/// The HTZ test that `contrast` · β = 0, for the cell means β of cells with
/// `n[c]` persons and means `mean[c]`, from `parts`, every (cluster, cell)
/// with persons. `None` when a cell of the contrast has fewer than two
/// clusters (its CR2 variance is not defined), when the constraints'
/// variance is singular, or when η ≤ q − 1.
pub(crate) fn htz_test(
    n: &[usize],
    mean: &[f64],
    parts: &[ClusterCell],
    contrast: &DMatrix<f64>,
) -> Option<WaldTest> {
    let p = n.len();
    let q = contrast.nrows();
    if q == 0 || contrast.ncols() != p || mean.len() != p {
        return None;
    }
    let used: Vec<bool> = (0..p)
        .map(|c| contrast.column(c).iter().any(|x| *x != 0.0))
        .collect();
    // Each part's share of its cell; a cluster holding a whole used cell
    // leaves its CR2 adjustment undefined.
    let share = |x: &ClusterCell| x.n as f64 / n[x.cell] as f64;
    if parts
        .iter()
        .any(|x| used[x.cell] && (n[x.cell] == 0 || share(x) >= 1.0))
    {
        return None;
    }
    // Group the parts by cluster (stable, so sums run in a fixed order).
    let mut by_cluster: Vec<&ClusterCell> = parts.iter().filter(|x| used[x.cell]).collect();
    by_cluster.sort_by_key(|x| (x.cluster, x.cell));
    let clusters: Vec<&[&ClusterCell]> =
        by_cluster.chunk_by(|a, b| a.cluster == b.cluster).collect();

    // The CR2 variance of the cell means: V = Σ_j u_j u_jᵀ / (n nᵀ).
    let mut v = DMatrix::<f64>::zeros(p, p);
    // The p × p sums of HTZ's degrees of freedom (see the module docs):
    // A = Σ_j α_j α_jᵀ, X = Σ_j (α_j ∘ α_j) d_jᵀ, D = Σ_j d_j d_jᵀ with
    // α_jc = m/(√(1 − m/n_c)·n_c^{3/2}) and d_jc = m/(n_c²(1 − m/n_c)).
    let (mut a, mut x, mut d) = (v.clone(), v.clone(), v.clone());
    for cluster in &clusters {
        // (cell, u, α, d, the part) per part: u = S/(√(1 − m/n_c)·n_c).
        let terms: Vec<(usize, f64, f64, f64, &ClusterCell)> = cluster
            .iter()
            .map(|part| {
                let (m, nc) = (part.n as f64, n[part.cell] as f64);
                let keep = 1.0 - m / nc;
                (
                    part.cell,
                    part.residual / keep.sqrt() / nc,
                    m / (keep.sqrt() * nc.powf(1.5)),
                    m / (nc * nc * keep),
                    *part,
                )
            })
            .collect();
        for (i, &(c1, u1, a1, d1, part)) in terms.iter().enumerate() {
            for (j, &(c2, u2, a2, d2, _)) in terms.iter().enumerate() {
                if i == j {
                    // The part's `count` clusters, each paired with itself.
                    let (k, m, nc) = (part.count as f64, part.n as f64, n[c1] as f64);
                    v[(c1, c1)] += part.square / ((1.0 - m / nc) * nc * nc);
                    a[(c1, c1)] += k * a1 * a1;
                    x[(c1, c1)] += k * a1 * a1 * d1;
                    d[(c1, c1)] += k * d1 * d1;
                } else {
                    v[(c1, c2)] += u1 * u2;
                    a[(c1, c2)] += a1 * a2;
                    x[(c1, c2)] += a1 * a1 * d2;
                    d[(c1, c2)] += d1 * d2;
                }
            }
        }
    }
    let beta = DVector::from_column_slice(mean);
    let cb = contrast * &beta;
    let cvc = contrast * &v * contrast.transpose();
    let wald = cvc.cholesky()?.solve(&cb).dot(&cb);
    // Ω = C diag(1/n) Cᵀ, the working model's variance of Cβ, and
    // G = Cᵀ Ω⁻¹ C.
    let inv_n = DMatrix::from_diagonal(&DVector::from_iterator(
        p,
        n.iter().map(|&k| if k > 0 { 1.0 / k as f64 } else { 0.0 }),
    ));
    let omega = contrast * inv_n * contrast.transpose();
    let g = contrast.transpose() * omega.cholesky()?.solve(contrast);
    // Σ_{s,t} of clubSandwich's total variance matrix, summed over the
    // constraints: Σ_{i,j} (G_ij² + G_ii·G_jj)·(A_ij² − X_ij − X_ji + D_ij).
    let mut total = 0.0;
    for i in 0..p {
        for j in 0..p {
            let k = a[(i, j)] * a[(i, j)] - x[(i, j)] - x[(j, i)] + d[(i, j)];
            total += (g[(i, j)] * g[(i, j)] + g[(i, i)] * g[(j, j)]) * k;
        }
    }
    let q = q as f64;
    let eta = q * (q + 1.0) / total;
    let df2 = eta - q + 1.0;
    if !(df2 > 0.0 && wald.is_finite()) {
        return None;
    }
    let f = df2 / (eta * q) * wald;
    Some(WaldTest {
        wald,
        f,
        df1: q,
        df2,
        p_value: f_sf(f, q, df2)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(name: &str) -> Vec<Vec<String>> {
        let path = format!("{}/tests/fixtures/htz/{name}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        text.lines()
            .skip(1)
            .map(|l| l.split(',').map(str::to_string).collect())
            .collect()
    }

    fn num(s: &str) -> f64 {
        s.parse().unwrap_or(f64::NAN)
    }

    /// Every case of `tests/fixtures/htz` (made by its `make.R` with R
    /// clubSandwich 0.5.8) to 1e-10: Q, F, its df and p.
    #[test]
    fn equals_clubsandwich_wald_test_htz() {
        let (data, constraints, reference) = (
            read("data.csv"),
            read("constraints.csv"),
            read("reference.csv"),
        );
        assert_eq!(reference.len(), 4);
        for r in &reference {
            let case = r[0].as_str();
            let rows: Vec<(u32, usize, f64)> = data
                .iter()
                .filter(|d| d[0] == case)
                .map(|d| (num(&d[1]) as u32, num(&d[2]) as usize, num(&d[3])))
                .collect();
            let cons: Vec<(usize, usize, f64)> = constraints
                .iter()
                .filter(|d| d[0] == case)
                .map(|d| (num(&d[1]) as usize, num(&d[2]) as usize, num(&d[3])))
                .collect();
            let p = rows.iter().map(|x| x.1).max().unwrap_or(0) + 1;
            let q = cons.iter().map(|x| x.0).max().unwrap_or(0) + 1;
            let mut contrast = DMatrix::zeros(q, p);
            for &(i, c, v) in &cons {
                contrast[(i, c)] = v;
            }
            let mut n = vec![0usize; p];
            let mut sum = vec![0.0; p];
            for &(_, c, y) in &rows {
                n[c] += 1;
                sum[c] += y;
            }
            let mean: Vec<f64> = (0..p).map(|c| sum[c] / n[c] as f64).collect();
            let mut parts: Vec<ClusterCell> = Vec::new();
            for &(cluster, cell, y) in &rows {
                match parts
                    .iter_mut()
                    .find(|x| x.cluster == cluster && x.cell == cell)
                {
                    Some(x) => {
                        x.n += 1;
                        x.residual += y - mean[cell];
                    }
                    None => parts.push(ClusterCell::cluster(cluster, cell, 1, y - mean[cell])),
                }
            }
            for x in &mut parts {
                x.square = x.residual * x.residual;
            }
            let t = htz_test(&n, &mean, &parts, &contrast).unwrap();
            let close = |a: f64, b: &str| (a - num(b)).abs() <= 1e-10 * num(b).abs().max(1.0);
            assert!(close(t.wald, &r[1]), "{case}: Q {} vs {}", t.wald, r[1]);
            assert!(close(t.f, &r[2]), "{case}: F {} vs {}", t.f, r[2]);
            assert!(close(t.df1, &r[3]), "{case}: df1 {} vs {}", t.df1, r[3]);
            assert!(close(t.df2, &r[4]), "{case}: df2 {} vs {}", t.df2, r[4]);
            assert!(
                close(t.p_value, &r[5]),
                "{case}: p {} vs {}",
                t.p_value,
                r[5]
            );
        }
    }

    /// Persons given per cell (each their own cluster) give the test of
    /// one part per person: the `sites_persons` case both ways.
    #[test]
    fn persons_at_once_equal_one_part_per_person() {
        let data = read("data.csv");
        let rows: Vec<(usize, f64)> = data
            .iter()
            .filter(|d| d[0] == "sites_persons")
            .map(|d| (num(&d[2]) as usize, num(&d[3])))
            .collect();
        let p = 6;
        let mut n = vec![0usize; p];
        let mut sum = vec![0.0; p];
        for &(c, y) in &rows {
            n[c] += 1;
            sum[c] += y;
        }
        let mean: Vec<f64> = (0..p).map(|c| sum[c] / n[c] as f64).collect();
        let each: Vec<ClusterCell> = rows
            .iter()
            .enumerate()
            .map(|(i, &(c, y))| ClusterCell::cluster(i as u32, c, 1, y - mean[c]))
            .collect();
        let at_once: Vec<ClusterCell> = (0..p)
            .map(|c| {
                let m2 = rows
                    .iter()
                    .filter(|r| r.0 == c)
                    .map(|r| (r.1 - mean[c]).powi(2))
                    .sum();
                ClusterCell::persons(c as u32, c, n[c], m2)
            })
            .collect();
        let contrast = DMatrix::from_row_slice(
            2,
            6,
            &[
                -1.0, 1.0, 0.0, 0.0, 1.0, -1.0, 0.0, 0.0, -1.0, 1.0, 1.0, -1.0,
            ],
        );
        let (a, b) = (
            htz_test(&n, &mean, &each, &contrast).unwrap(),
            htz_test(&n, &mean, &at_once, &contrast).unwrap(),
        );
        for (x, y) in [(a.wald, b.wald), (a.df2, b.df2), (a.p_value, b.p_value)] {
            assert!((x - y).abs() < 1e-12 * x.abs().max(1.0), "{x} vs {y}");
        }
    }

    #[test]
    fn a_cell_of_one_cluster_has_no_test() {
        // Two cells; the second is one cluster's.
        let parts = [
            ClusterCell::cluster(0, 0, 2, 0.5),
            ClusterCell::cluster(1, 0, 2, -0.5),
            ClusterCell::cluster(2, 1, 3, 0.0),
        ];
        let contrast = DMatrix::from_row_slice(1, 2, &[1.0, -1.0]);
        assert_eq!(htz_test(&[4, 3], &[0.0, 1.0], &parts, &contrast), None);
    }
}
