//! The difference in means (methods §4, §9): Welch/Neyman or pooled,
//! blocked, clustered (CR2 with Bell–McCaffrey df), and blocked with
//! clusters.

use serde::Serialize;

use super::estimate::{Estimate, infer};
use super::moments::{Moments, Variance};

/// Relative effect, ratio and its delta-method se from the arm moments.
fn ratio(e: &mut Estimate, treat: &Moments, control: &Moments) {
    let (Some(m1), Some(m0)) = (treat.mean(), control.mean()) else {
        return;
    };
    if m0 == 0.0 {
        return;
    }
    let r = m1 / m0;
    e.ratio = Some(r);
    e.relative_effect = Some(r - 1.0);
    if let (Some(v1), Some(v0)) = (treat.variance(), control.variance()) {
        let (n1, n0) = (treat.n as f64, control.n as f64);
        e.ratio_se = Some((v1 / (n1 * m0 * m0) + m1 * m1 * v0 / (n0 * m0.powi(4))).sqrt());
    }
}

/// The descriptive part of an estimate: n, means and sds per arm.
pub(crate) fn describe(treat: &Moments, control: &Moments) -> Estimate {
    Estimate {
        n_treat: treat.n,
        n_control: control.n,
        mean_treat: treat.mean(),
        mean_control: control.mean(),
        sd_treat: treat.sd(),
        sd_control: control.sd(),
        ..Estimate::default()
    }
}

/// Standard error and df of ȳ₁ − ȳ₀ (methods §4), if both arms have n ≥ 2.
fn se_df(treat: &Moments, control: &Moments, variance: Variance) -> Option<(f64, f64)> {
    let (v1, v0) = (treat.variance()?, control.variance()?);
    let (n1, n0) = (treat.n as f64, control.n as f64);
    match variance {
        Variance::Welch => {
            let (a, b) = (v1 / n1, v0 / n0);
            let df = (a + b) * (a + b) / (a * a / (n1 - 1.0) + b * b / (n0 - 1.0));
            Some(((a + b).sqrt(), df))
        }
        Variance::Pooled => {
            let df = n1 + n0 - 2.0;
            let sp2 = ((n1 - 1.0) * v1 + (n0 - 1.0) * v0) / df;
            Some(((sp2 * (1.0 / n1 + 1.0 / n0)).sqrt(), df))
        }
    }
}

/// Difference in means τ = ȳ₁ − ȳ₀ with se, df, t-based CI at `level`
/// (e.g. 0.95) and two-sided p (methods §4).
pub fn difference_in_means(
    treat: &Moments,
    control: &Moments,
    level: f64,
    variance: Variance,
) -> Estimate {
    let mut e = describe(treat, control);
    if let (Some(m1), Some(m0)) = (e.mean_treat, e.mean_control) {
        e.effect = Some(m1 - m0);
    }
    if let Some((se, df)) = se_df(treat, control, variance) {
        e.se = Some(se);
        e.df = Some(df);
    }
    infer(&mut e, level);
    ratio(&mut e, treat, control);
    e
}

/// The moments of the union of samples.
pub(crate) fn merged<'a>(parts: impl IntoIterator<Item = &'a Moments>) -> Moments {
    parts
        .into_iter()
        .fold(Moments::default(), |acc, m| acc.merge(*m))
}

/// CR2 variance and Bell–McCaffrey df of ȳ₁ − ȳ₀ in a cluster-randomised
/// comparison, from the moments of each cluster (methods §9), when each arm
/// has at least two clusters with values.
///
/// For X = [1, z] with z constant within clusters, the hat matrix of cluster
/// g in arm a is H_gg = J/n_a, so with q_g = n_g/n_a and the cluster's
/// residual sum E_g = n_g(ȳ_g − ȳ_a):
///
/// * V = Σ_a Σ_{g∈a} E_g² / (n_a (n_a − n_g)) (the CR2 sandwich);
/// * df = (1/n₁ + 1/n₀)² / Σ_a n_a⁻² [Σ q_g² + (Σ r_g)² − Σ r_g²],
///   r_g = q_g²/(1 − q_g) (Bell & McCaffrey's Satterthwaite df under the
///   working model of independent, homoscedastic errors).
///
/// These equal R estimatr's `lm_robust(y ~ z, clusters = c, se_type =
/// "CR2")`; with every cluster a singleton they are the HC2 variance
/// s₁²/n₁ + s₀²/n₀ and the Welch df at equal variances.
fn cr2_var_df(treat: &[Moments], control: &[Moments]) -> Option<(f64, f64)> {
    let mut var = 0.0;
    let mut frobenius = 0.0;
    let mut trace = 0.0;
    for arm in [treat, control] {
        let clusters: Vec<&Moments> = arm.iter().filter(|m| m.n > 0).collect();
        if clusters.len() < 2 {
            return None;
        }
        let pooled = merged(clusters.iter().copied());
        let n = pooled.n as f64;
        let (mut sum_q2, mut sum_r, mut sum_r2) = (0.0, 0.0, 0.0);
        for m in clusters {
            let ng = m.n as f64;
            let e = ng * (m.mean - pooled.mean);
            var += e * e / (n * (n - ng));
            let q = ng / n;
            let r = q * q / (1.0 - q);
            sum_q2 += q * q;
            sum_r += r;
            sum_r2 += r * r;
        }
        trace += 1.0 / n;
        frobenius += (sum_q2 + sum_r * sum_r - sum_r2) / (n * n);
    }
    Some((var, trace * trace / frobenius))
}

/// Difference in means of a cluster-randomised comparison, from the moments
/// of each cluster of each arm: τ = ȳ₁ − ȳ₀ over the persons, with the CR2
/// standard error and Bell–McCaffrey df (see methods §9; equal to R
/// estimatr's `difference_in_means(y ~ z, clusters = c)`). se, df, CI and p
/// are missing unless each arm has at least two clusters with values.
pub fn clustered_difference_in_means(
    treat: &[Moments],
    control: &[Moments],
    level: f64,
) -> Estimate {
    let (t, c) = (merged(treat), merged(control));
    let mut e = describe(&t, &c);
    if let (Some(m1), Some(m0)) = (e.mean_treat, e.mean_control) {
        e.effect = Some(m1 - m0);
    }
    if let Some((var, df)) = cr2_var_df(treat, control) {
        e.se = Some(var.sqrt());
        e.df = Some(df);
    }
    e.clusters_treat = Some(treat.iter().filter(|m| m.n > 0).count());
    e.clusters_control = Some(control.iter().filter(|m| m.n > 0).count());
    infer(&mut e, level);
    ratio(&mut e, &t, &c);
    e
}

/// The blocked estimator and how many blocks it used.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Blocked {
    /// The estimate over the used blocks: n and sds of their persons; the
    /// means block-weighted, ȳₐ = Σ_b (N_b/N)·ȳₐ_b, so that ȳ₁ − ȳ₀ = τ;
    /// the ratio ȳ₁/ȳ₀ of those means with the delta-method se from
    /// var(ȳₐ) = Σ_b (N_b/N)²·sₐ_b²/nₐ_b.
    pub estimate: Estimate,
    /// B, blocks with at least two persons in each arm.
    pub blocks_used: usize,
    /// Blocks with at least one person but fewer than two in an arm.
    pub blocks_dropped: usize,
}

/// Blocked difference in means (methods §4): τ = Σ_b (N_b/N)·τ_b,
/// se = √(Σ_b (N_b/N)²·se_b²), df = N − 2B, over the B blocks with at least
/// two persons in each arm. `blocks[b]` holds the (treatment, control)
/// moments of block b.
pub fn blocked_difference_in_means(
    blocks: &[(Moments, Moments)],
    level: f64,
    variance: Variance,
) -> Blocked {
    let used: Vec<BlockPart> = blocks
        .iter()
        .filter(|(t, c)| t.n >= 2 && c.n >= 2)
        .map(|(t, c)| BlockPart {
            treat: *t,
            control: *c,
            se: se_df(t, c, variance).map_or(0.0, |(se, _)| se),
            clusters: None,
        })
        .collect();
    let present = blocks.iter().filter(|(t, c)| t.n + c.n > 0).count();
    combine_blocks(&used, present, level)
}

/// Blocked and clustered difference in means (methods §9): the blocked
/// estimator over the blocks with at least two clusters with values in each
/// arm, τ_b and se_b from [`clustered_difference_in_means`] within block b,
/// and df = J − 2B for the J clusters of the B blocks used, as R estimatr's
/// `difference_in_means(y ~ z, blocks = b, clusters = c)`. `blocks[b]` holds
/// the per-cluster (treatment, control) moments of block b.
pub fn blocked_clustered_difference_in_means(
    blocks: &[(Vec<Moments>, Vec<Moments>)],
    level: f64,
) -> Blocked {
    let clusters = |arm: &[Moments]| arm.iter().filter(|m| m.n > 0).count();
    let used: Vec<BlockPart> = blocks
        .iter()
        .filter(|(t, c)| clusters(t) >= 2 && clusters(c) >= 2)
        .map(|(t, c)| BlockPart {
            treat: merged(t),
            control: merged(c),
            se: cr2_var_df(t, c).map_or(0.0, |(v, _)| v.sqrt()),
            clusters: Some((clusters(t), clusters(c))),
        })
        .collect();
    let present = blocks
        .iter()
        .filter(|(t, c)| clusters(t) + clusters(c) > 0)
        .count();
    combine_blocks(&used, present, level)
}

/// One block used by the blocked estimator: its arms' moments, the se of
/// its difference and (clustered) its clusters per arm.
struct BlockPart {
    treat: Moments,
    control: Moments,
    se: f64,
    clusters: Option<(usize, usize)>,
}

/// Σ_b (N_b/N)·τ_b with se √Σ_b (N_b/N)²·se_b² and df N − 2B, or J − 2B
/// when clustered; the block-weighted means of the arms and their ratio.
fn combine_blocks(used: &[BlockPart], present: usize, level: f64) -> Blocked {
    let treat = merged(used.iter().map(|b| &b.treat));
    let control = merged(used.iter().map(|b| &b.control));
    let mut e = describe(&treat, &control);
    let clusters = used
        .iter()
        .map(|b| b.clusters)
        .try_fold((0, 0), |(t, c), b| b.map(|(bt, bc)| (t + bt, c + bc)));
    if !used.is_empty() {
        let n_total = (treat.n + control.n) as f64;
        let (mut effect, mut var) = (0.0, 0.0);
        // Block-weighted means per arm and the variances of those means.
        let (mut m1, mut m0, mut v1, mut v0) = (0.0, 0.0, 0.0, 0.0);
        for b in used {
            let w = (b.treat.n + b.control.n) as f64 / n_total;
            effect += w * (b.treat.mean - b.control.mean);
            var += w * w * b.se * b.se;
            m1 += w * b.treat.mean;
            m0 += w * b.control.mean;
            v1 += w * w * b.treat.variance().unwrap_or(0.0) / b.treat.n as f64;
            v0 += w * w * b.control.variance().unwrap_or(0.0) / b.control.n as f64;
        }
        let units = clusters.map_or(n_total, |(t, c)| (t + c) as f64);
        e.effect = Some(effect);
        e.se = Some(var.sqrt());
        e.df = Some(units - 2.0 * used.len() as f64);
        e.mean_treat = Some(m1);
        e.mean_control = Some(m0);
        if m0 != 0.0 {
            let r = m1 / m0;
            e.ratio = Some(r);
            e.relative_effect = Some(r - 1.0);
            e.ratio_se = Some((v1 / (m0 * m0) + m1 * m1 * v0 / m0.powi(4)).sqrt());
        }
    }
    if let Some((t, c)) = clusters.filter(|_| !used.is_empty()) {
        e.clusters_treat = Some(t);
        e.clusters_control = Some(c);
    }
    infer(&mut e, level);
    Blocked {
        estimate: e,
        blocks_used: used.len(),
        blocks_dropped: present - used.len(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_merge_matches_direct() {
        let a = [1.0, 2.0, 4.0];
        let b = [7.0, f64::NAN, 8.0];
        let all = [1.0, 2.0, 4.0, 7.0, 8.0];
        let merged = Moments::of(&a).merge(Moments::of(&b));
        let direct = Moments::of(&all);
        assert_eq!(merged.n, 5);
        assert!((merged.mean - direct.mean).abs() < 1e-14);
        assert!((merged.m2 - direct.m2).abs() < 1e-12);
        // Hand: mean 4.4, Σ(y−4.4)² = 11.56+5.76+0.16+6.76+12.96 = 37.2.
        assert!((direct.m2 - 37.2).abs() < 1e-12);
    }

    #[test]
    fn blocked_means_are_block_weighted_and_add_up_to_the_effect() {
        // Block 1: treatment 1, 2, 3; control 0, 1 (N = 5). Block 2:
        // treatment 4, 6; control 2, 2, 5 (N = 5). By hand: weights 1/2;
        // ȳ₁ = (2 + 5)/2 = 3.5, ȳ₀ = (0.5 + 3)/2 = 1.75, τ = 1.75, r = 2;
        // var(ȳ₁) = ¼(1/3 + 2/2) = 1/3, var(ȳ₀) = ¼(0.5/2 + 3/3) = 0.3125,
        // se(r) = √(var₁/ȳ₀² + ȳ₁²·var₀/ȳ₀⁴) = 0.7190318509781667.
        let blocks = [
            (Moments::of(&[1.0, 2.0, 3.0]), Moments::of(&[0.0, 1.0])),
            (Moments::of(&[4.0, 6.0]), Moments::of(&[2.0, 2.0, 5.0])),
        ];
        let e = blocked_difference_in_means(&blocks, 0.95, Variance::Welch).estimate;
        assert_eq!((e.mean_treat, e.mean_control), (Some(3.5), Some(1.75)));
        assert_eq!(e.effect, Some(1.75));
        assert_eq!(e.ratio, Some(2.0));
        assert!((e.ratio_se.unwrap_or_default() - 0.7190318509781667).abs() < 1e-15);
        assert_eq!((e.n_treat, e.n_control), (5, 5));
    }

    #[test]
    fn undefined_cases_are_missing() {
        let none = Moments::default();
        let one = Moments::of(&[3.0]);
        let two = Moments::of(&[1.0, 1.0]);
        let e = difference_in_means(&none, &two, 0.95, Variance::Welch);
        assert_eq!((e.mean_treat, e.effect, e.se), (None, None, None));
        let e = difference_in_means(&one, &two, 0.95, Variance::Welch);
        assert_eq!(e.effect, Some(2.0));
        assert_eq!(
            (e.sd_treat, e.se, e.df, e.p_value),
            (None, None, None, None)
        );
        let e = difference_in_means(&two, &two, 0.95, Variance::Welch);
        assert_eq!((e.effect, e.se), (Some(0.0), Some(0.0)));
        assert_eq!((e.df, e.t, e.ci_low, e.p_value), (None, None, None, None));
        let zero = Moments::of(&[0.0, 0.0]);
        let e = difference_in_means(&two, &zero, 0.95, Variance::Welch);
        assert_eq!((e.ratio, e.relative_effect), (None, None));
    }
}
