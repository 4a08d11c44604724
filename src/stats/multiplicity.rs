//! Multiplicity adjustments across tests (methods §4, §10): Holm,
//! Benjamini–Hochberg and the Westfall–Young step-down max-|t|.

/// Relative tolerance for "as extreme as observed", so that re-draws that
/// tie with the observed statistic count as ties despite rounding.
const TIE_TOLERANCE: f64 = 1e-9;

/// |t*| at least |t|, up to a relative 10⁻⁹ (ties despite rounding).
pub(crate) fn as_extreme(star: f64, obs: f64) -> bool {
    star.abs() >= obs.abs() * (1.0 - TIE_TOLERANCE)
}

/// Westfall–Young step-down max-|t| adjusted p-values (Westfall & Young
/// 1993, algorithm 2.8) of hypotheses with observed statistics `observed`
/// and their values `drawn[b][j]` under re-draw b of the assignment.
///
/// Order the hypotheses with a defined t by |t|, largest first:
/// |t₍₁₎| ≥ … ≥ |t₍ₘ₎|. In each re-draw take the successive maxima
/// u₍ⱼ₎ = max_{l ≥ j} |t*₍ₗ₎| (over the defined t*); p̃₍ⱼ₎ is the share of
/// re-draws with u₍ⱼ₎ ≥ |t₍ⱼ₎|, as (1 + count)/(1 + B) for B random
/// re-draws or count/B when `exact` (every assignment, the observed one
/// among them); then p₍ⱼ₎ = max(p₍ⱼ₋₁₎, p̃₍ⱼ₎). Each p is at least the
/// hypothesis's own randomisation p; `None` where t is undefined.
pub fn westfall_young(
    observed: &[Option<f64>],
    drawn: &[Vec<Option<f64>>],
    exact: bool,
) -> Vec<Option<f64>> {
    let mut order: Vec<usize> = (0..observed.len())
        .filter(|&j| observed[j].is_some())
        .collect();
    let size = |j: usize| observed[j].map_or(0.0, f64::abs);
    order.sort_by(|&a, &b| size(b).total_cmp(&size(a)).then(a.cmp(&b)));
    let mut count = vec![0usize; order.len()];
    for draw in drawn {
        let mut u = f64::NEG_INFINITY;
        for (pos, &j) in order.iter().enumerate().rev() {
            if let Some(t) = draw.get(j).copied().flatten() {
                u = u.max(t.abs());
            }
            count[pos] += usize::from(u.is_finite() && as_extreme(u, size(j)));
        }
    }
    let b = drawn.len();
    let mut out = vec![None; observed.len()];
    let mut running = 0.0f64;
    for (pos, &j) in order.iter().enumerate() {
        let p = if exact {
            count[pos] as f64 / b.max(1) as f64
        } else {
            (1 + count[pos]) as f64 / (1 + b) as f64
        };
        running = running.max(p).min(1.0);
        out[j] = Some(running);
    }
    out
}

/// Holm's step-down adjusted p-values; `None` entries are skipped and stay
/// `None` (m counts the defined p-values).
pub fn holm(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let order = sorted_defined(p);
    let m = order.len();
    let mut out = vec![None; p.len()];
    let mut running: f64 = 0.0;
    for (rank, &i) in order.iter().enumerate() {
        let raw = p[i].unwrap_or(1.0);
        running = running.max(((m - rank) as f64 * raw).min(1.0));
        out[i] = Some(running);
    }
    out
}

/// Benjamini–Hochberg adjusted p-values (false discovery rate); `None`
/// entries are skipped and stay `None`.
pub fn benjamini_hochberg(p: &[Option<f64>]) -> Vec<Option<f64>> {
    let order = sorted_defined(p);
    let m = order.len();
    let mut out = vec![None; p.len()];
    let mut running: f64 = 1.0;
    for (rank, &i) in order.iter().enumerate().rev() {
        let raw = p[i].unwrap_or(1.0);
        running = running.min(m as f64 / (rank + 1) as f64 * raw).min(1.0);
        out[i] = Some(running);
    }
    out
}

/// Indices of the defined p-values, ascending by p (ties by index).
fn sorted_defined(p: &[Option<f64>]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..p.len()).filter(|&i| p[i].is_some()).collect();
    order.sort_by(|&a, &b| p[a].unwrap_or(1.0).total_cmp(&p[b].unwrap_or(1.0)));
    order
}
