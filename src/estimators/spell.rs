//! The time to a completed activity spell (methods §5): Kaplan–Meier
//! cumulative incidence of completing a spell, per arm, with Greenwood
//! standard errors, the difference between arms, and a log-rank test.
//! Because later weeks are seen only for earlier referrals, the share with
//! the spell indicator can fall from one week to the next; this is the
//! censoring-aware view.

use polars::prelude::DataFrame;
use serde::Serialize;

use crate::error::Result;
use crate::inputs::Arm;
use crate::outcome::{Completions, SpellClock};
use crate::stats::{self, ChiSquare, KaplanMeierRow, Level};
use crate::table::{self, Table};

/// Kaplan–Meier cumulative incidence of a completed spell, per arm, with
/// their difference and a log-rank test.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TimeToSpell {
    /// Confidence level of the intervals.
    pub level: Level,
    /// `[control, treatment]` curves, one row per week from `first_week` to
    /// the arm's last week with anyone at risk.
    pub curves: [Vec<KaplanMeierRow>; 2],
    /// Treatment − control cumulative incidence per week where both curves
    /// have a row.
    pub difference: Vec<IncidenceDifference>,
    /// Log-rank test of equal completion hazards (1 df); `None` without
    /// events.
    pub log_rank: Option<ChiSquare>,
}

/// Difference of the cumulative incidences at one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct IncidenceDifference {
    /// Event week.
    pub week: i32,
    /// F₁(k) − F₀(k).
    pub difference: f64,
    /// √(se₁² + se₀²) (the arms are independent); `None` when a Greenwood se
    /// is undefined.
    pub se: Option<f64>,
    /// Normal-approximation confidence interval.
    pub ci_low: Option<f64>,
    /// Upper end.
    pub ci_high: Option<f64>,
    /// Two-sided normal p-value.
    pub p_value: Option<f64>,
}

/// Time to a completed spell: each person's completion week (an event) or
/// last observed week (censored) from [`completions`](crate::outcome::completions), Kaplan–Meier per
/// arm ([`stats::kaplan_meier`]), the difference between arms per week, and
/// the log-rank test ([`stats::log_rank`]).
pub fn time_to_spell(spells: &Completions, level: Level) -> Result<TimeToSpell> {
    time_to_spell_of(&SpellClock::of(spells), level)
}

/// [`time_to_spell`] from the persons' clocks.
pub(crate) fn time_to_spell_of(clock: &SpellClock, level: Level) -> Result<TimeToSpell> {
    let times = |arm: Arm| -> Vec<(i32, bool)> {
        clock
            .times
            .iter()
            .filter(|t| t.0 == arm)
            .map(|&(_, time, done)| (time, done))
            .collect()
    };
    let (t0, t1) = (times(Arm::Control), times(Arm::Treatment));
    let first = clock.first_week;
    let curves = [
        stats::kaplan_meier(&t0, first, level.get()),
        stats::kaplan_meier(&t1, first, level.get()),
    ];
    let z = stats::normal_quantile(level.upper());
    let difference = curves[1]
        .iter()
        .filter_map(|r1| {
            let r0 = curves[0].iter().find(|r| r.week == r1.week)?;
            let difference = r1.cum_incidence - r0.cum_incidence;
            let se = r1.se.zip(r0.se).map(|(a, b)| (a * a + b * b).sqrt());
            let ci = se.map(|s| (difference - z * s, difference + z * s));
            Some(IncidenceDifference {
                week: r1.week,
                difference,
                se,
                ci_low: ci.map(|c| c.0),
                ci_high: ci.map(|c| c.1),
                p_value: se
                    .filter(|&s| s > 0.0)
                    .map(|s| stats::normal_two_sided_p(difference / s)),
            })
        })
        .collect();
    Ok(TimeToSpell {
        level,
        curves,
        difference,
        log_rank: stats::log_rank(&t1, &t0),
    })
}

impl Table for TimeToSpell {
    /// The curves as a tidy table (`spell_km.csv`): `arm, week, at_risk,
    /// events, cum_incidence, se, ci_low, ci_high`.
    fn to_frame(&self) -> Result<DataFrame> {
        let rows: Vec<(Arm, &KaplanMeierRow)> = [Arm::Control, Arm::Treatment]
            .into_iter()
            .flat_map(|a| self.curves[a as usize].iter().map(move |r| (a, r)))
            .collect();
        table::frame(
            "spell Kaplan-Meier",
            vec![
                table::strings("arm", rows.iter().map(|(a, _)| a.name().to_string())),
                table::weeks(rows.iter().map(|(_, r)| r.week)),
                table::counts("at_risk", rows.iter().map(|(_, r)| Some(r.at_risk))),
                table::counts("events", rows.iter().map(|(_, r)| Some(r.events))),
                table::floats(
                    "cum_incidence",
                    rows.iter().map(|(_, r)| Some(r.cum_incidence)),
                ),
                table::floats("se", rows.iter().map(|(_, r)| r.se)),
                table::floats("ci_low", rows.iter().map(|(_, r)| r.ci_low)),
                table::floats("ci_high", rows.iter().map(|(_, r)| r.ci_high)),
            ],
        )
    }
}
