//! Shares with Wilson intervals, ratio shares, changes (Newcombe, MOVER)
//! and traffic lights (methods §11).

use serde::Serialize;

use super::distributions::normal_quantile;

/// A share with its interval (methods §11): Wilson's for persons, the
/// ratio estimator's for units judged within persons.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Share {
    /// Persons (or windows, answers) judged.
    pub n: usize,
    /// Of them, those meeting the rule.
    pub hits: usize,
    /// hits / n.
    pub share: f64,
    /// Lower end of the interval; `None` when it is undefined (units of a
    /// single person).
    pub ci_low: Option<f64>,
    /// Upper end of the interval.
    pub ci_high: Option<f64>,
}

impl Share {
    /// The interval, when it is defined.
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.ci_low.zip(self.ci_high)
    }
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
        ci_low: Some((centre - half).max(0.0)),
        ci_high: Some((centre + half).min(1.0)),
    })
}

/// The share of units met, r = Σh / Σw, when person i has w_i units judged
/// and h_i of them met (windows with a talk, placements followed by a plan
/// update): the ratio estimator with persons as clusters and its Wald
/// interval r ± z·se, se² = N/(N − 1) · Σ(h_i − r·w_i)² / (Σw)², clipped
/// to [0, 1] (Cochran 1977, §6.4). `sums` = [Σh, Σw, Σh², Σw², Σhw] over
/// the N persons. `None` when no unit was judged; the interval is missing
/// (the share is not) when N = 1.
pub fn ratio_share(sums: [u64; 5], persons: usize, level: f64) -> Option<Share> {
    let [h, w, hh, ww, hw] = sums.map(|x| x as f64);
    if persons == 0 || w == 0.0 || sums[0] > sums[1] {
        return None;
    }
    let r = h / w;
    if persons == 1 {
        return Some(Share {
            n: sums[1] as usize,
            hits: sums[0] as usize,
            share: r,
            ci_low: None,
            ci_high: None,
        });
    }
    let n = persons as f64;
    // Σ(h − r·w)², never below 0 in floating point.
    let resid = (hh - 2.0 * r * hw + r * r * ww).max(0.0);
    let se = (n / (n - 1.0) * resid).sqrt() / w;
    let z = normal_quantile(1.0 - (1.0 - level) / 2.0);
    Some(Share {
        n: sums[1] as usize,
        hits: sums[0] as usize,
        share: r,
        ci_low: Some((r - z * se).max(0.0)),
        ci_high: Some((r + z * se).min(1.0)),
    })
}

/// The change `later − earlier` of two independent shares with Newcombe's
/// hybrid score interval (Newcombe 1998, method 10): [`mover`] of the two
/// Wilson intervals. Returns (d, low, high); `None` when an interval is
/// missing.
pub fn newcombe(earlier: &Share, later: &Share) -> Option<(f64, f64, f64)> {
    let ((l1, u1), (l2, u2)) = (earlier.interval()?, later.interval()?);
    Some(mover((earlier.share, l1, u1), (later.share, l2, u2)))
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
    /// The light of `share`, and whether it is uncertain: its interval
    /// crosses a threshold, or it has none.
    pub fn light(&self, share: &Share) -> (Light, bool) {
        match share.interval() {
            Some((low, high)) => self.light_of(share.share, low, high),
            None => (self.light_of(share.share, share.share, share.share).0, true),
        }
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
