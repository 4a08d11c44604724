//! Planning a trial: the minimum detectable effect per event week before
//! the data exist (methods §10).

use std::ops::RangeInclusive;

use polars::prelude::DataFrame;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::{Arm, Persons};
use crate::outcome::Outcome;
use crate::panel::Panel;
use crate::stats::{self, Level, MDE_POWER, Moments};
use crate::table::{self, Table};
use crate::weeks::Week;

/// What [`minimum_detectable_effects`] needs to know of a planned trial.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct PlanSpec {
    /// Expected persons per referral week: (week, treatment, control).
    pub referrals: Vec<(Week, f64, f64)>,
    /// The week of the data extract: the last week followed.
    pub extract: Week,
    /// Event weeks to plan for (0..=52 unless set).
    pub weeks: RangeInclusive<i32>,
    /// The outcome's standard deviation (a share p has √(p(1 − p))).
    pub sd: f64,
    /// Confidence level of the analysis (0.95 unless set).
    pub level: Level,
    /// Power (0.80 unless set).
    pub power: f64,
}

/// Most referral weeks of a plan (about 190 years).
const MAX_REFERRAL_WEEKS: i32 = 10_000;

impl PlanSpec {
    /// A plan of `treatment` and `control` persons referred evenly over the
    /// weeks `first_referral..=last_referral`, analysed at `extract`, for
    /// an outcome of standard deviation `sd`.
    pub fn even(
        (treatment, control): (usize, usize),
        (first_referral, last_referral): (Week, Week),
        extract: Week,
        sd: f64,
    ) -> Result<PlanSpec> {
        let span = last_referral.event_week(first_referral);
        if !(0..MAX_REFERRAL_WEEKS).contains(&span) {
            return Err(bad(
                "referrals",
                format!("{first_referral}..{last_referral} is not a range of referral weeks"),
            ));
        }
        let r = f64::from(span + 1);
        Ok(PlanSpec::with_referrals(
            (0..=span)
                .map(|j| {
                    (
                        first_referral.plus(j),
                        treatment as f64 / r,
                        control as f64 / r,
                    )
                })
                .collect(),
            extract,
            sd,
        ))
    }

    /// A plan with the referrals of an existing person table (a pilot, or
    /// the trial itself): its persons per referral week and arm.
    pub fn from_persons(persons: &Persons, extract: Week, sd: f64) -> PlanSpec {
        let mut counts: std::collections::BTreeMap<Week, (f64, f64)> = Default::default();
        for (&week, &arm) in persons.referral_weeks().iter().zip(persons.arms()) {
            let c = counts.entry(week).or_default();
            match arm {
                Arm::Treatment => c.0 += 1.0,
                Arm::Control => c.1 += 1.0,
            }
        }
        PlanSpec::with_referrals(
            counts.into_iter().map(|(w, (t, c))| (w, t, c)).collect(),
            extract,
            sd,
        )
    }

    fn with_referrals(referrals: Vec<(Week, f64, f64)>, extract: Week, sd: f64) -> PlanSpec {
        PlanSpec {
            referrals,
            extract,
            weeks: 0..=52,
            sd,
            level: Level::default(),
            power: MDE_POWER,
        }
    }

    /// The event weeks to plan for.
    pub fn weeks(mut self, weeks: RangeInclusive<i32>) -> PlanSpec {
        self.weeks = weeks;
        self
    }

    /// The confidence level of the analysis.
    pub fn level(mut self, level: Level) -> PlanSpec {
        self.level = level;
        self
    }

    /// The power.
    pub fn power(mut self, power: f64) -> PlanSpec {
        self.power = power;
        self
    }

    /// Persons per arm in the plan.
    pub fn persons(&self) -> (f64, f64) {
        self.referrals
            .iter()
            .fold((0.0, 0.0), |(t, c), r| (t + r.1, c + r.2))
    }
}

fn bad(name: &str, reason: String) -> Error {
    Error::InvalidSetting {
        name: format!("plan.{name}"),
        reason,
    }
}

/// One event week of a [`Mde`] table.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MdeRow {
    /// Event week k.
    pub week: i32,
    /// Expected persons followed at k, treatment arm.
    pub n_treat: f64,
    /// Expected persons followed at k, control arm.
    pub n_control: f64,
    /// Standard error of the difference in means.
    pub se: Option<f64>,
    /// Welch df at equal variances.
    pub df: Option<f64>,
    /// Minimum detectable effect; `None` with fewer than two persons
    /// followed in an arm.
    pub mde: Option<f64>,
}

/// The minimum detectable effect per event week of a planned trial.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mde {
    /// The plan.
    pub spec: PlanSpec,
    /// One row per event week.
    pub rows: Vec<MdeRow>,
}

impl Mde {
    /// The row of event week `k`.
    pub fn week(&self, k: i32) -> Option<&MdeRow> {
        self.rows.iter().find(|r| r.week == k)
    }
}

impl Table for Mde {
    /// `week, n_treat, n_control, se, df, mde`.
    fn to_frame(&self) -> Result<DataFrame> {
        let f = |name: &str, get: fn(&MdeRow) -> Option<f64>| {
            table::floats(name, self.rows.iter().map(get))
        };
        table::frame(
            "minimum detectable effects",
            vec![
                table::weeks(self.rows.iter().map(|r| r.week)),
                f("n_treat", |r| Some(r.n_treat)),
                f("n_control", |r| Some(r.n_control)),
                f("se", |r| r.se),
                f("df", |r| r.df),
                f("mde", |r| r.mde),
            ],
        )
    }
}

/// Planning a trial: the minimum detectable effect per event week before
/// the data exist (methods §10).
///
/// A trial analysed at the extract week E follows, at event week k, the
/// persons referred in weeks up to E − k. With referrals spread evenly over
/// R weeks ([`PlanSpec::even`]) that is the share #{r : r + k ≤ E}/R of
/// each arm; with the referrals of a pilot or an existing person table
/// ([`PlanSpec::from_persons`]) it is their count. For an outcome of
/// standard deviation σ (in the control arm) the difference in means at
/// week k then has
///
/// * n_a expected persons followed per arm,
/// * se = σ·√(1/n₁ + 1/n₀),
/// * df = the Welch–Satterthwaite df at equal variances,
/// * MDE = (t(1 − α/2, df) + t(power, df))·se (Bloom 1995),
///
/// the effect the trial detects with probability `power` at that week.
/// σ can come from a pilot, or from the register history of comparable
/// persons ([`history_sd`]).
///
/// ```
/// use trialpanel::estimators::{PlanSpec, minimum_detectable_effects};
/// use trialpanel::Week;
///
/// let referrals = (Week::parse("2016-W01")?, Week::parse("2016-W26")?);
/// let spec = PlanSpec::even((1500, 1500), referrals, Week::parse("2017-W02")?, 0.45)?;
/// let spec = spec.weeks(0..=52);
/// let mde = minimum_detectable_effects(&spec)?;
/// let week26 = mde.week(26).unwrap();
/// println!("week 26: {:.1} pp", 100.0 * week26.mde.unwrap());
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// The MDE per event week of the planned trial `spec` (as above): at event
/// week k, the persons referred in weeks up
/// to the extract − k are followed.
pub fn minimum_detectable_effects(spec: &PlanSpec) -> Result<Mde> {
    if !(spec.power >= 0.5 && spec.power < 1.0) {
        return Err(bad(
            "power",
            format!(
                "must be at least 0.5 and below 1 (usually 0.8), not {}: with less than even \
                 power the MDE lies below what the test can call significant (and below α/2 it \
                 is negative)",
                spec.power
            ),
        ));
    }
    if !(spec.sd.is_finite() && spec.sd > 0.0) {
        return Err(bad(
            "sd",
            format!("must be a positive number, not {}", spec.sd),
        ));
    }
    let (t, c) = spec.persons();
    if !(t > 0.0 && c > 0.0) {
        return Err(bad("persons", "both arms need persons".into()));
    }
    const MAX_WEEKS: usize = 10_000;
    if spec.weeks.clone().count() > MAX_WEEKS {
        return Err(bad("weeks", format!("at most {MAX_WEEKS} event weeks")));
    }
    let rows = spec
        .weeks
        .clone()
        .map(|k| {
            let (n1, n0) = spec
                .referrals
                .iter()
                .filter(|(r, _, _)| r.plus(k) <= spec.extract)
                .fold((0.0, 0.0), |(a, b), r| (a + r.1, b + r.2));
            let (se, df) = if n1 >= 2.0 && n0 >= 2.0 {
                let (a, b) = (1.0 / n1, 1.0 / n0);
                let df = (a + b).powi(2) / (a * a / (n1 - 1.0) + b * b / (n0 - 1.0));
                (Some(spec.sd * (a + b).sqrt()), Some(df))
            } else {
                (None, None)
            };
            MdeRow {
                week: k,
                n_treat: n1,
                n_control: n0,
                se,
                df,
                mde: se
                    .zip(df)
                    .and_then(|(se, df)| stats::mde(se, df, spec.level.get(), spec.power)),
            }
        })
        .collect();
    Ok(Mde {
        spec: spec.clone(),
        rows,
    })
}

/// The standard deviation of `outcome` over the event weeks `weeks` before
/// referral (e.g. −52..=−1) of the persons of `panel`, pooled over persons
/// and weeks: a planning value for σ from the register history of
/// comparable persons. `None` without two values.
pub fn history_sd(
    panel: &Panel,
    outcome: &Outcome,
    weeks: RangeInclusive<i32>,
) -> Result<Option<f64>> {
    let values = outcome.evaluate(panel, weeks.clone())?;
    let all = weeks
        .filter_map(|k| values.week(k))
        .map(Moments::of)
        .fold(Moments::default(), Moments::merge);
    Ok(all.sd())
}
