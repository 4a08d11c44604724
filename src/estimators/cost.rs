//! Cost per effect (methods §12): what the programme costs per extra unit
//! of an outcome, with the uncertainty of both.

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use super::design::Design;
use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::inputs::CodeTable;
use crate::outcome::Outcome;
use crate::panel::Panel;
use crate::stats::{self, Estimate, Fieller, Moments, Variance};
use crate::table::{self, Table};

/// `[cost]`: the window, the programme cost and the outcomes priced.
///
/// ```toml
/// [cost]
/// through = 35                        # event weeks 0..=35
/// programme = 6500.0                  # per treated person, in the costs' unit
/// per = ["self_supporting", "spell"]  # outcome names, as in effects.csv
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CostSpec {
    /// Last event week K of the costs (weeks 0..=K).
    pub through: i32,
    /// Programme cost per treated person, added to their cost. Default 0.
    #[serde(default)]
    pub programme: f64,
    /// Outcomes priced: the cost per extra unit of each. Default none.
    #[serde(default)]
    pub per: Vec<String>,
}

/// Highest programme cost per treated person accepted: 10¹² (a larger one
/// is a typo or a sentinel; sums of squares of it would overflow).
pub const MAX_PROGRAMME_COST: f64 = 1e12;

impl CostSpec {
    /// [`Error::InvalidSetting`] unless `through` is from 0 to
    /// [`MAX_RULE_WEEKS`](crate::estimators::MAX_RULE_WEEKS) and
    /// `programme` from 0 to 10¹² (`MAX_PROGRAMME_COST`).
    pub fn check(&self) -> Result<()> {
        let max = crate::estimators::MAX_RULE_WEEKS;
        let reason = if !(0..=max).contains(&self.through) {
            format!("`through` must be from 0 to {max}, not {}", self.through)
        } else if !(0.0..=MAX_PROGRAMME_COST).contains(&self.programme) {
            format!(
                "`programme` must be a number from 0 to {MAX_PROGRAMME_COST:e}, not {}",
                self.programme
            )
        } else {
            return Ok(());
        };
        Err(Error::InvalidSetting {
            name: "cost".into(),
            reason,
        })
    }
}

/// An outcome priced, and how its unit is counted.
#[derive(Clone, Debug)]
pub struct Priced {
    /// The outcome.
    pub outcome: Outcome,
    /// `true`: its value at week K (a spell completed by K, a cumulative
    /// total); `false`: its sum over weeks 0..=K (weeks self-supporting).
    pub at_end: bool,
}

/// Per person (panel order) of a panel or part: arm, cost and the priced
/// outcomes' values, `None` for a person not followed through K.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PersonCosts {
    arms: Vec<Arm>,
    /// Block (site) index of each person, as in the person table.
    blocks: Vec<u32>,
    cost: Vec<Option<f64>>,
    outcomes: Vec<Vec<Option<f64>>>,
}

/// Cost per effect (methods §12): what the programme costs per extra unit
/// of an outcome, with the uncertainty of both.
///
/// A person's cost over event weeks 0..=K is the sum of the weekly unit
/// costs of their categories ([`CodeTable::cost_per_week`], the code table's
/// `cost_per_week` column: benefit, wage subsidy, placement) plus, for the
/// treated, a programme cost per person. Over the persons followed through
/// K: the mean cost per arm and the incremental cost Δc = c̄₁ − c̄₀ with its
/// CI (the `[design] variance`); per priced outcome y (the weeks in a state
/// over 0..=K, or the value at K of a spell or cumulative outcome), the
/// effect Δy and the cost per extra unit Δc/Δy with Fieller's interval
/// ([`stats::fieller`]) from cov(Δc, Δy) = Σ_a cov_a(c, y)/n_a and the t
/// quantile at the smaller of the two Welch df. An interval that is not
/// bounded is reported as such (two rays, or every ratio), never clipped.
/// With a blocked design each difference is the blocked estimator and the
/// covariance is summed over the blocks with their squared weights; persons
/// are taken as independent (no cluster-robust version yet).
///
/// ```
/// use trialpanel::estimators::{CostSpec, Priced, person_costs};
/// use trialpanel::simulate::{simulate, TrialSpec};
/// use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};
///
/// let trial = simulate(&TrialSpec { persons: 400, ..TrialSpec::default() })?;
/// let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default())?;
/// let codes = CodeTable::from_frame(trial.codes, "codes")?;
/// assert!(codes.has_costs());
/// let panel = Panel::builder(&persons, &codes)
///     .long_frame(trial.register, "register", &LongColumns::default())?;
/// let spec = CostSpec { through: 26, programme: 5000.0, per: vec!["self_supporting".into()] };
/// let priced = [Priced { outcome: Outcome::self_supporting(), at_end: false }];
/// let costs = person_costs(&panel, &spec, &priced)?.effects(&spec, &Design::default());
/// assert!(costs.cost.effect.is_some());
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// Each person's cost and priced outcomes over event weeks 0..=K of `panel`.
/// [`Error::InvalidSetting`] when K is outside the panel, the programme
/// cost is negative or not finite, or the code table has no costs.
pub fn person_costs(panel: &Panel, spec: &CostSpec, priced: &[Priced]) -> Result<PersonCosts> {
    let codes: &CodeTable = panel.codes();
    spec.check()?;
    codes.check_costs()?;
    let weeks = 0..=spec.through;
    panel.check_weeks(&weeks, "cost.through")?;
    let unit: Vec<f64> = (0..=255u8)
        .map(|c| codes.cost_per_week(crate::inputs::Category(c)))
        .collect();
    let persons = panel.persons();
    let mut cost = vec![Some(0.0); panel.n_persons()];
    for (p, c) in cost.iter_mut().enumerate() {
        let span = panel.observed_span(p);
        if !(*span.start() <= 0 && *span.end() >= spec.through) {
            *c = None;
        } else if persons.arms()[p] == Arm::Treatment {
            *c = Some(spec.programme);
        }
    }
    for k in weeks.clone() {
        let Some(categories) = panel.categories(k) else {
            continue;
        };
        for (c, &category) in cost.iter_mut().zip(categories) {
            if let Some(c) = c {
                *c += unit[usize::from(category)];
            }
        }
    }
    let outcomes = priced
        .iter()
        .map(|x| {
            let window = if x.at_end {
                spec.through..=spec.through
            } else {
                weeks.clone()
            };
            x.outcome.totals(panel, window)
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(PersonCosts {
        arms: persons.arms().to_vec(),
        blocks: persons.blocks().index.clone(),
        cost,
        outcomes,
    })
}

impl PersonCosts {
    /// The persons of `self` followed by those of `other` (the next part of
    /// the panel order).
    pub fn append(&mut self, other: PersonCosts) {
        self.arms.extend(other.arms);
        self.blocks.extend(other.blocks);
        self.cost.extend(other.cost);
        if self.outcomes.is_empty() {
            self.outcomes = other.outcomes;
        } else {
            for (a, b) in self.outcomes.iter_mut().zip(other.outcomes) {
                a.extend(b);
            }
        }
    }

    /// The incremental cost and the cost per extra unit of each priced
    /// outcome (named as `spec.per`) under `design` (its level and
    /// variance); when it is blocked, each difference is the blocked
    /// estimator (block effects weighted by block size, df = N − 2B) and
    /// cov(Δc, Δy) = Σ_b w_b² Σ_a cov_ab(c, y)/n_ab.
    pub fn effects(&self, spec: &CostSpec, design: &Design) -> CostEffects {
        let (level, variance, blocked) = (design.level.get(), design.variance, design.blocked);
        let compare = |keep: &dyn Fn(usize) -> Option<(f64, f64)>| {
            self.compare(keep, level, variance, blocked)
        };
        let (cost, _, _) = compare(&|p| self.cost[p].map(|c| (c, 0.0)));
        let per = spec
            .per
            .iter()
            .zip(&self.outcomes)
            .map(|(name, y)| {
                let (dc, dy, cov) = compare(&|p| self.cost[p].zip(y[p]));
                let ratio = match (dc.effect, dy.effect, dc.se, dy.se, dc.df, dy.df) {
                    (Some(a), Some(b), Some(sa), Some(sb), Some(fa), Some(fb)) => {
                        stats::t_quantile(1.0 - (1.0 - level) / 2.0, fa.min(fb))
                            .and_then(|q| stats::fieller(a, b, sa * sa, sb * sb, cov, q))
                    }
                    _ => None,
                };
                CostPer {
                    outcome: name.clone(),
                    quadrant: Quadrant::of(dc.effect, dy.effect),
                    cost: dc,
                    effect: dy,
                    covariance: cov,
                    ratio: ratio.map(|r| r.0),
                    interval: ratio.map(|r| r.1),
                }
            })
            .collect();
        CostEffects {
            through: spec.through,
            programme: spec.programme,
            blocked,
            cost,
            per,
        }
    }

    /// Δc, Δy and cov(Δc, Δy) over the persons with a pair (c, y) from
    /// `keep`, unblocked or blocked.
    fn compare(
        &self,
        keep: &dyn Fn(usize) -> Option<(f64, f64)>,
        level: f64,
        variance: Variance,
        blocked: bool,
    ) -> (Estimate, Estimate, f64) {
        // Per block (one group when unblocked), per arm: the pairs.
        let groups = if blocked {
            self.blocks
                .iter()
                .map(|&b| b as usize + 1)
                .max()
                .unwrap_or(0)
        } else {
            1
        };
        let mut pairs: Vec<[Vec<(f64, f64)>; 2]> = vec![[Vec::new(), Vec::new()]; groups];
        for p in 0..self.arms.len() {
            if let Some(pair) = keep(p) {
                let g = if blocked { self.blocks[p] as usize } else { 0 };
                pairs[g][self.arms[p] as usize].push(pair);
            }
        }
        let moments = |v: &[(f64, f64)], second: bool| {
            let x: Vec<f64> = v.iter().map(|p| if second { p.1 } else { p.0 }).collect();
            Moments::of(&x)
        };
        let (t, c) = (Arm::Treatment as usize, Arm::Control as usize);
        // Σ_a cov_a(c, y)/n_a of a group.
        let cov_of = |g: &[Vec<(f64, f64)>; 2]| {
            g.iter()
                .map(|arm| covariance(arm) / arm.len().max(1) as f64)
                .sum::<f64>()
        };
        if !blocked {
            let g = &pairs[0];
            let diff = |second| {
                stats::difference_in_means(
                    &moments(&g[t], second),
                    &moments(&g[c], second),
                    level,
                    variance,
                )
            };
            return (diff(false), diff(true), cov_of(g));
        }
        let diff = |second| {
            let blocks: Vec<(Moments, Moments)> = pairs
                .iter()
                .map(|g| (moments(&g[t], second), moments(&g[c], second)))
                .collect();
            stats::blocked_difference_in_means(&blocks, level, variance).estimate
        };
        // The blocks the blocked estimator uses: two persons in each arm.
        let used: Vec<&[Vec<(f64, f64)>; 2]> = pairs
            .iter()
            .filter(|g| g[t].len() >= 2 && g[c].len() >= 2)
            .collect();
        let n: usize = used.iter().map(|g| g[t].len() + g[c].len()).sum();
        let cov = used
            .iter()
            .map(|g| {
                let w = (g[t].len() + g[c].len()) as f64 / n.max(1) as f64;
                w * w * cov_of(g)
            })
            .sum();
        (diff(false), diff(true), cov)
    }
}

/// Sample covariance Σ(x − x̄)(y − ȳ)/(n − 1); 0 for n < 2.
fn covariance(pairs: &[(f64, f64)]) -> f64 {
    let n = pairs.len() as f64;
    if pairs.len() < 2 {
        return 0.0;
    }
    let (mx, my) = pairs
        .iter()
        .fold((0.0, 0.0), |a, &(x, y)| (a.0 + x / n, a.1 + y / n));
    pairs.iter().map(|&(x, y)| (x - mx) * (y - my)).sum::<f64>() / (n - 1.0)
}

/// The cost per extra unit of one outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostPer {
    /// Outcome name.
    pub outcome: String,
    /// Δc over the persons with both values.
    pub cost: Estimate,
    /// Δy over the same persons.
    pub effect: Estimate,
    /// cov(Δc, Δy).
    pub covariance: f64,
    /// Δc / Δy; `None` when either is undefined or Δy = 0.
    pub ratio: Option<f64>,
    /// Its Fieller interval.
    pub interval: Option<Fieller>,
    /// What the ratio means: the quadrant of (Δc, Δy); `None` when either
    /// is undefined or Δy = 0.
    pub quadrant: Option<Quadrant>,
}

/// The quadrant of the point estimates (Δc, Δy) of a priced outcome, which
/// says what the ratio Δc/Δy means. A ratio is never read without it: a
/// negative one is a saving per extra unit when the programme achieves more
/// (dominant) and an extra cost per unit lost when it achieves less
/// (dominated).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Quadrant {
    /// Δc > 0 and Δy > 0: the ratio is the price of one more unit.
    MoreForMore,
    /// Δc ≤ 0 and Δy > 0: it costs no more and achieves more; −ratio is
    /// the saving per extra unit.
    Dominant,
    /// Δc ≥ 0 and Δy < 0: it costs no less and achieves less; −ratio is
    /// the extra cost per unit lost.
    Dominated,
    /// Δc < 0 and Δy < 0: the ratio is the saving per unit lost.
    LessForLess,
}

impl Quadrant {
    /// The quadrant of (Δc, Δy); `None` when either is undefined or Δy = 0.
    pub fn of(cost: Option<f64>, effect: Option<f64>) -> Option<Quadrant> {
        let (c, y) = (cost?, effect?);
        if y == 0.0 || !c.is_finite() || !y.is_finite() {
            return None;
        }
        Some(match (y > 0.0, c > 0.0, c < 0.0) {
            (true, true, _) => Quadrant::MoreForMore,
            (true, false, _) => Quadrant::Dominant,
            (false, _, false) => Quadrant::Dominated,
            (false, _, true) => Quadrant::LessForLess,
        })
    }

    /// `more_for_more`, `dominant`, `dominated`, `less_for_less` (cost.csv).
    pub fn name(self) -> &'static str {
        match self {
            Quadrant::MoreForMore => "more_for_more",
            Quadrant::Dominant => "dominant",
            Quadrant::Dominated => "dominated",
            Quadrant::LessForLess => "less_for_less",
        }
    }

    /// What the programme does, in words: "costs more and achieves more".
    pub fn describe(self) -> &'static str {
        match self {
            Quadrant::MoreForMore => "costs more and achieves more",
            Quadrant::Dominant => "dominant: costs no more and achieves more",
            Quadrant::Dominated => "dominated: costs no less and achieves less",
            Quadrant::LessForLess => "costs less and achieves less",
        }
    }

    /// What |Δc/Δy| is per unit of the outcome: "per extra unit",
    /// "saved per extra unit", "extra per unit lost", "saved per unit lost".
    pub fn per_unit(self) -> &'static str {
        match self {
            Quadrant::MoreForMore => "per extra unit",
            Quadrant::Dominant => "saved per extra unit",
            Quadrant::Dominated => "extra per unit lost",
            Quadrant::LessForLess => "saved per unit lost",
        }
    }
}

/// Costs per arm, the incremental cost and the cost per extra unit.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct CostEffects {
    /// Last event week K of the costs.
    pub through: i32,
    /// Programme cost per treated person.
    pub programme: f64,
    /// The differences are blocked.
    pub blocked: bool,
    /// Mean cost per person per arm and Δc.
    pub cost: Estimate,
    /// Per priced outcome.
    pub per: Vec<CostPer>,
}

impl Table for CostEffects {
    /// `cost.csv`: `measure, outcome, n_treat, n_control, mean_treat,
    /// mean_control, estimate, se, df, ci_low, ci_high, interval,
    /// quadrant`. Rows: `cost` (Δc over everyone followed through K), then
    /// per outcome `cost`, `effect` (Δy) and `cost_per_unit` (Δc/Δy;
    /// `interval` `bounded`, `outside` for (−∞, ci_low] ∪ [ci_high, ∞), or
    /// `unbounded` with the limits blank; `quadrant` what the ratio means:
    /// `more_for_more`, `dominant`, `dominated` or `less_for_less`).
    fn to_frame(&self) -> Result<DataFrame> {
        let mut rows: Vec<(&str, &str, &Estimate, Option<&CostPer>)> =
            vec![("cost", "", &self.cost, None)];
        for p in &self.per {
            rows.push(("cost", &p.outcome, &p.cost, None));
            rows.push(("effect", &p.outcome, &p.effect, None));
            rows.push(("cost_per_unit", &p.outcome, &p.effect, Some(p)));
        }
        let limits = |r: &(&str, &str, &Estimate, Option<&CostPer>)| match r.3 {
            None => (r.2.ci_low, r.2.ci_high, None),
            Some(p) => match p.interval {
                Some(Fieller::Bounded { low, high }) => (Some(low), Some(high), Some("bounded")),
                Some(Fieller::Outside { low, high }) => (Some(low), Some(high), Some("outside")),
                Some(Fieller::Unbounded) => (None, None, Some("unbounded")),
                None => (None, None, None),
            },
        };
        let estimate = |r: &(&str, &str, &Estimate, Option<&CostPer>)| match r.3 {
            None => r.2.effect,
            Some(p) => p.ratio,
        };
        let own = |r: &(&str, &str, &Estimate, Option<&CostPer>),
                   f: fn(&Estimate) -> Option<f64>| {
            if r.3.is_some() { None } else { f(r.2) }
        };
        table::frame(
            "cost",
            vec![
                table::strings("measure", rows.iter().map(|r| r.0.to_string())),
                table::strings("outcome", rows.iter().map(|r| r.1.to_string())),
                table::counts("n_treat", rows.iter().map(|r| Some(r.2.n_treat))),
                table::counts("n_control", rows.iter().map(|r| Some(r.2.n_control))),
                table::floats("mean_treat", rows.iter().map(|r| own(r, |e| e.mean_treat))),
                table::floats(
                    "mean_control",
                    rows.iter().map(|r| own(r, |e| e.mean_control)),
                ),
                table::floats("estimate", rows.iter().map(estimate)),
                table::floats("se", rows.iter().map(|r| own(r, |e| e.se))),
                table::floats("df", rows.iter().map(|r| own(r, |e| e.df))),
                table::floats("ci_low", rows.iter().map(|r| limits(r).0)),
                table::floats("ci_high", rows.iter().map(|r| limits(r).1)),
                table::optional_strings(
                    "interval",
                    rows.iter().map(|r| limits(r).2.map(str::to_string)),
                ),
                table::optional_strings(
                    "quadrant",
                    rows.iter()
                        .map(|r| r.3.and_then(|p| p.quadrant).map(|q| q.name().to_string())),
                ),
            ],
        )
    }
}
