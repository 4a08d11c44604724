//! Small pure statistics: moments, the difference in means (Welch/Neyman or
//! pooled, blocked, clustered), multiplicity adjustments, Pearson's
//! chi-square and Cochran's Q (methods §4, §6, §9, §10); shares with Wilson
//! intervals, their changes, traffic lights, correlations across sites and
//! Fieller ratios (methods §11–§12).
//!
//! Every function takes plain numbers and returns plain numbers; nothing here
//! knows about panels or files. Undefined results are `None`, never a made-up
//! number and never a panic.

use ndarray::Array2;
use serde::Serialize;
use statrs::distribution::{ChiSquared, ContinuousCDF, FisherSnedecor, Normal, StudentsT};
use statrs::function::beta::beta_reg;

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
    /// ȳ₁.
    pub mean_treat: Option<f64>,
    /// ȳ₀.
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
    /// The estimate; n, means and sds describe the persons in the used blocks.
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
/// when clustered.
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
        for b in used {
            let w = (b.treat.n + b.control.n) as f64 / n_total;
            effect += w * (b.treat.mean - b.control.mean);
            var += w * w * b.se * b.se;
        }
        let units = clusters.map_or(n_total, |(t, c)| (t + c) as f64);
        e.effect = Some(effect);
        e.se = Some(var.sqrt());
        e.df = Some(units - 2.0 * used.len() as f64);
    }
    if let Some((t, c)) = clusters.filter(|_| !used.is_empty()) {
        e.clusters_treat = Some(t);
        e.clusters_control = Some(c);
    }
    infer(&mut e, level);
    ratio(&mut e, &treat, &control);
    Blocked {
        estimate: e,
        blocks_used: used.len(),
        blocks_dropped: present - used.len(),
    }
}

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

/// Upper-tail probability of a chi-square distribution with `df` degrees of
/// freedom.
pub(crate) fn chi_square_sf(x: f64, df: f64) -> Option<f64> {
    let dist = ChiSquared::new(df).ok()?;
    Some(dist.sf(x))
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

/// Check a confidence level: strictly between 0 and 1.
pub(crate) fn check_level(level: f64) -> crate::error::Result<()> {
    if level > 0.0 && level <= MAX_LEVEL {
        Ok(())
    } else {
        Err(crate::error::Error::InvalidSetting {
            name: "level".into(),
            reason: format!(
                "a confidence level must be above 0 and at most {MAX_LEVEL} \
                 (closer to 1 the critical values are infinite), got {level}"
            ),
        })
    }
}

/// Highest accepted confidence level: 1 − 10⁻⁹. Nearer to 1, 1 − α/2
/// rounds to 1 in floating point and the normal and t quantiles are
/// infinite.
pub(crate) const MAX_LEVEL: f64 = 1.0 - 1e-9;

/// Standard normal quantile Φ⁻¹(p).
pub(crate) fn normal_quantile(p: f64) -> f64 {
    Normal::standard().inverse_cdf(p)
}

/// Two-sided standard normal p-value 2·(1 − Φ(|z|)).
pub(crate) fn normal_two_sided_p(z: f64) -> f64 {
    2.0 * Normal::standard().sf(z.abs())
}

/// One week of a Kaplan–Meier curve, as cumulative incidence F = 1 − S.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct KaplanMeierRow {
    /// Week (time).
    pub week: i32,
    /// Persons at risk at the start of the week (time ≥ week).
    pub at_risk: usize,
    /// Events in the week.
    pub events: usize,
    /// F(week) = 1 − Π_{j ≤ week} (1 − d_j/n_j).
    pub cum_incidence: f64,
    /// Greenwood se: S·√(Σ_{j ≤ week} d_j/(n_j(n_j − d_j))); `None` once S
    /// reaches 0.
    pub se: Option<f64>,
    /// Lower confidence limit of F, from the log-log interval of S
    /// (S^exp(±z·√G/|log S|)); `None` while S = 1 or once S = 0.
    pub ci_low: Option<f64>,
    /// Upper confidence limit of F.
    pub ci_high: Option<f64>,
}

/// Kaplan–Meier cumulative incidence for discrete times `(time, event)`
/// (`event = false`: censored at `time`, still at risk at `time`), one row
/// per week from `first` to the last time, with Greenwood se and log-log
/// confidence intervals at `level`.
pub fn kaplan_meier(times: &[(i32, bool)], first: i32, level: f64) -> Vec<KaplanMeierRow> {
    let Some(last) = times.iter().map(|t| t.0).max() else {
        return Vec::new();
    };
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let mut sorted: Vec<(i32, bool)> = times.to_vec();
    sorted.sort_unstable();
    let mut at_risk = sorted.len();
    let (mut idx, mut surv, mut greenwood) = (0usize, 1.0f64, 0.0f64);
    let mut rows = Vec::new();
    for week in first..=last {
        // Times before `first` leave the risk set without counting.
        while idx < sorted.len() && sorted[idx].0 < week {
            idx += 1;
            at_risk -= 1;
        }
        let n = at_risk;
        let mut events = 0;
        let mut j = idx;
        while j < sorted.len() && sorted[j].0 == week {
            events += usize::from(sorted[j].1);
            j += 1;
        }
        if n == 0 {
            break;
        }
        if events > 0 {
            surv *= 1.0 - events as f64 / n as f64;
            greenwood += if n > events {
                events as f64 / (n as f64 * (n - events) as f64)
            } else {
                f64::INFINITY
            };
        }
        let se = greenwood.is_finite().then(|| surv * greenwood.sqrt());
        let ci = (surv > 0.0 && surv < 1.0 && greenwood.is_finite()).then(|| {
            let spread = z * greenwood.sqrt() / surv.ln().abs();
            (
                1.0 - surv.powf((-spread).exp()),
                1.0 - surv.powf(spread.exp()),
            )
        });
        rows.push(KaplanMeierRow {
            week,
            at_risk: n,
            events,
            cum_incidence: 1.0 - surv,
            se,
            ci_low: ci.map(|c| c.0),
            ci_high: ci.map(|c| c.1),
        });
    }
    rows
}

/// Log-rank test of equal hazards in two groups of discrete `(time, event)`
/// data: Σ(O₁ − E₁) over event times, hypergeometric variance
/// Σ n₁n₀d(n − d)/(n²(n − 1)), statistic (O₁ − E₁)²/V on 1 df. `None` when
/// the variance is 0 (no events, or one group empty).
pub fn log_rank(group1: &[(i32, bool)], group0: &[(i32, bool)]) -> Option<ChiSquare> {
    let mut times: Vec<i32> = group1
        .iter()
        .chain(group0)
        .filter(|t| t.1)
        .map(|t| t.0)
        .collect();
    times.sort_unstable();
    times.dedup();
    let count = |g: &[(i32, bool)], t: i32| {
        let n = g.iter().filter(|x| x.0 >= t).count() as f64;
        let d = g.iter().filter(|x| x.0 == t && x.1).count() as f64;
        (n, d)
    };
    let (mut diff, mut var) = (0.0, 0.0);
    for t in times {
        let ((n1, d1), (n0, d0)) = (count(group1, t), count(group0, t));
        let (n, d) = (n1 + n0, d1 + d0);
        diff += d1 - n1 * d / n;
        if n > 1.0 {
            var += n1 * n0 * d * (n - d) / (n * n * (n - 1.0));
        }
    }
    if var <= 0.0 {
        return None;
    }
    let statistic = diff * diff / var;
    Some(ChiSquare {
        statistic,
        df: 1.0,
        p_value: chi_square_sf(statistic, 1.0)?,
    })
}

/// Upper-tail probability of the F distribution with (`df1`, `df2`) degrees
/// of freedom.
pub(crate) fn f_sf(f: f64, df1: f64, df2: f64) -> Option<f64> {
    let dist = FisherSnedecor::new(df1, df2).ok()?;
    Some(dist.sf(f))
}

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

/// A share with its Wilson score interval (methods §11).
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Share {
    /// Persons (or windows, answers) judged.
    pub n: usize,
    /// Of them, those meeting the rule.
    pub hits: usize,
    /// hits / n.
    pub share: f64,
    /// Lower end of the Wilson interval.
    pub ci_low: f64,
    /// Upper end of the Wilson interval.
    pub ci_high: f64,
}

/// `hits` of `n` with the Wilson score interval at `level`:
/// (p̂ + z²/2n ± z√(p̂(1 − p̂)/n + z²/4n²)) / (1 + z²/n), z = Φ⁻¹(1 − α/2)
/// (Wilson 1927; R's `prop.test(correct = FALSE)`). `None` when n = 0 or
/// hits > n.
pub fn wilson(hits: usize, n: usize, level: f64) -> Option<Share> {
    if n == 0 || hits > n {
        return None;
    }
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    let (nf, p) = (n as f64, hits as f64 / n as f64);
    let z2 = z * z;
    let centre = (p + z2 / (2.0 * nf)) / (1.0 + z2 / nf);
    let half = z * (p * (1.0 - p) / nf + z2 / (4.0 * nf * nf)).sqrt() / (1.0 + z2 / nf);
    Some(Share {
        n,
        hits,
        share: p,
        ci_low: (centre - half).max(0.0),
        ci_high: (centre + half).min(1.0),
    })
}

/// The share of units met, r = Σh / Σw, when person i has w_i units judged
/// and h_i of them met (windows with a talk, placements followed by a plan
/// update): the ratio estimator with persons as clusters and its Wald
/// interval r ± z·se, se² = N/(N − 1) · Σ(h_i − r·w_i)² / (Σw)², clipped
/// to [0, 1] (Cochran 1977, §6.4). `sums` = [Σh, Σw, Σh², Σw², Σhw] over
/// the N persons. `None` when N < 2 or no unit was judged.
pub fn ratio_share(sums: [u64; 5], persons: usize, level: f64) -> Option<Share> {
    let [h, w, hh, ww, hw] = sums.map(|x| x as f64);
    if persons < 2 || w == 0.0 || sums[0] > sums[1] {
        return None;
    }
    let r = h / w;
    let n = persons as f64;
    // Σ(h − r·w)², never below 0 in floating point.
    let resid = (hh - 2.0 * r * hw + r * r * ww).max(0.0);
    let se = (n / (n - 1.0) * resid).sqrt() / w;
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    Some(Share {
        n: sums[1] as usize,
        hits: sums[0] as usize,
        share: r,
        ci_low: (r - z * se).max(0.0),
        ci_high: (r + z * se).min(1.0),
    })
}

/// The change `later − earlier` of two independent shares with Newcombe's
/// hybrid score interval (Newcombe 1998, method 10): [`mover`] of the two
/// Wilson intervals. Returns (d, low, high).
pub fn newcombe(earlier: &Share, later: &Share) -> (f64, f64, f64) {
    mover(
        (earlier.share, earlier.ci_low, earlier.ci_high),
        (later.share, later.ci_low, later.ci_high),
    )
}

/// The difference d = p₂ − p₁ of two independent estimates, each given as
/// (estimate, low, high), with the MOVER interval (Zou & Donner 2008):
/// d − √((p₂ − l₂)² + (u₁ − p₁)²) to d + √((u₂ − p₂)² + (p₁ − l₁)²).
/// With Wilson intervals it is Newcombe's. Returns (d, low, high).
pub fn mover(earlier: (f64, f64, f64), later: (f64, f64, f64)) -> (f64, f64, f64) {
    let ((p1, l1, u1), (p2, l2, u2)) = (earlier, later);
    let d = p2 - p1;
    let low = d - ((p2 - l2).powi(2) + (u1 - p1).powi(2)).sqrt();
    let high = d + ((u2 - p2).powi(2) + (p1 - l1).powi(2)).sqrt();
    (d, low, high)
}

/// A traffic light for a share (methods §11).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Light {
    /// At least the high threshold.
    High,
    /// At least the low threshold, below the high one.
    Middle,
    /// Below the low threshold.
    Low,
}

impl Light {
    /// `high`, `middle` or `low`, as in the output files.
    pub fn name(self) -> &'static str {
        match self {
            Light::High => "high",
            Light::Middle => "middle",
            Light::Low => "low",
        }
    }
}

/// Thresholds of the traffic lights, as shares: high ≥ `high`, middle ≥
/// `low`, low below. Default 0.80 and 0.70 (Jobrettet Samtale II).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, serde::Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Thresholds {
    /// Lower bound of high.
    pub high: f64,
    /// Lower bound of middle.
    pub low: f64,
}

impl Default for Thresholds {
    fn default() -> Thresholds {
        Thresholds {
            high: 0.80,
            low: 0.70,
        }
    }
}

impl Thresholds {
    /// The light of `share`, and whether its interval crosses a threshold
    /// (the light is then uncertain).
    pub fn light(&self, share: &Share) -> (Light, bool) {
        self.light_of(share.share, share.ci_low, share.ci_high)
    }

    /// The light of a share `share` with interval [`low`, `high`], and
    /// whether the interval crosses a threshold.
    pub fn light_of(&self, share: f64, low: f64, high: f64) -> (Light, bool) {
        let light = if share >= self.high {
            Light::High
        } else if share >= self.low {
            Light::Middle
        } else {
            Light::Low
        };
        let crosses = [self.high, self.low].iter().any(|&t| low < t && t <= high);
        (light, crosses)
    }
}

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
