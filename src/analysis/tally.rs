//! What the persons of one panel (the whole register, or one part of the
//! persons) contribute to the results that add up over parts: exact weekly
//! sums, spell clocks, hours counts, process counts, costs, history
//! covariates, persons at risk, early ends of follow-up. The tallies of
//! consecutive parts merge into the whole panel's, bit for bit.

use std::ops::RangeInclusive;

use super::Inputs;
use super::plan::Plan;
use crate::config::{AnalysisConfig, OutcomeKind};
use crate::error::{Error, Result};
use crate::estimators::{self, HoursAt, PersonCosts, ProcessCounts};
use crate::outcome::{Outcome, SpellClock, WeeklySums};
use crate::panel::{AtRisk, LoadReport, Panel};
use crate::results::EndedFollowup;
use crate::weeks::Week;

/// What a part of the persons contributes to the results, in panel order
/// where it is per person; [`Tally::merge`] joins consecutive parts.
pub(super) struct Tally {
    /// Estimated event weeks.
    pub(super) weeks: RangeInclusive<i32>,
    /// Exact weekly sums of the outcomes routed through them.
    pub(super) sums: Option<WeeklySums>,
    /// Spell clocks of the spell outcome.
    pub(super) spell: Option<SpellClock>,
    /// Hours at the hours week.
    pub(super) hours: Option<HoursAt>,
    /// Counts of each `[[process]]` indicator.
    pub(super) process: Vec<ProcessCounts>,
    /// Each person's cost and priced outcomes, with `[cost]`.
    pub(super) cost: Option<PersonCosts>,
    /// History covariates' values, one vector per covariate (NaN:
    /// missing, half the size of an `Option<f64>`).
    pub(super) history: Vec<Vec<f64>>,
    /// Persons followed at each estimated week.
    pub(super) at_risk: Vec<AtRisk>,
    /// With categories that end follow-up, per person: arm, the week the
    /// follow-up ended (or its administrative end), whether it ended, and
    /// the administrative end.
    pub(super) ended: Option<Vec<EndedFollowup>>,
    pub(super) load: LoadReport,
    pub(super) observed: (Week, Week),
}

/// The estimated event weeks: `[weeks] first` to `[weeks] last` or the
/// panel's last week, checked against the panel's window.
pub(super) fn estimated_weeks(c: &AnalysisConfig, panel: &Panel) -> Result<RangeInclusive<i32>> {
    let last = c.weeks.last.unwrap_or(*panel.event_weeks().end());
    let weeks = c.weeks.first..=last;
    panel.check_weeks(&weeks, "weeks")?;
    Ok(weeks)
}

/// Weeks of the snapshot tables: the setting, or the multiples of 13 up to
/// 52 among the estimated weeks (which end at `last`).
pub(super) fn snapshot(c: &AnalysisConfig, last: i32) -> Vec<i32> {
    c.weeks.snapshot.clone().unwrap_or_else(|| {
        (1..)
            .map(|i| 13 * i)
            .skip_while(|&k| k < c.weeks.first)
            .take_while(|&k| k <= last && k <= 52)
            .collect()
    })
}

impl Tally {
    /// What the persons of `panel` contribute.
    pub(super) fn of(
        c: &AnalysisConfig,
        plan: &Plan,
        panel: &Panel,
        inputs: &Inputs,
        progress: &mut impl FnMut(&str),
    ) -> Result<Tally> {
        let weeks = estimated_weeks(c, panel)?;
        let summed: Vec<Outcome> = c
            .outcomes
            .iter()
            .enumerate()
            .filter(|(i, _)| plan.summed(*i))
            .map(|(_, spec)| spec.outcome())
            .collect();
        let sums = if summed.is_empty() {
            None
        } else {
            progress(&format!(
                "weekly sums of {} outcomes in one scan",
                summed.len()
            ));
            Some(WeeklySums::of(panel, &summed, weeks.clone())?)
        };
        let spell = match c.outcomes.iter().find(|o| o.kind == OutcomeKind::Spell) {
            Some(spec) => Some(crate::outcome::clock(panel, &spec.spell_rule())?),
            None => None,
        };
        let wants_hours = c
            .outcomes
            .iter()
            .any(|o| matches!(o.kind, OutcomeKind::Hours | OutcomeKind::Employed));
        let hours_week = c
            .report
            .hours_week
            .or(snapshot(c, *weeks.end()).last().copied());
        let hours = match (wants_hours, hours_week) {
            (true, Some(k)) => Some(HoursAt::of(panel, k)?),
            _ => None,
        };
        let process = estimators::judge_all(&c.process, panel, inputs.events.as_ref())?;
        let cost = match &c.cost {
            Some(spec) => Some(estimators::person_costs(panel, spec, &c.priced())?),
            None => None,
        };
        Ok(Tally {
            sums,
            spell,
            hours,
            process,
            cost,
            history: estimators::history_values(panel, &inputs.balance)?
                .into_iter()
                .map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
                .collect(),
            at_risk: weeks.clone().map(|k| panel.at_risk(k)).collect(),
            ended: panel.codes().has_ends().then(|| ended_followup(panel)),
            load: panel.load_report().clone(),
            observed: (panel.observed_from(), panel.observed_until()),
            weeks,
        })
    }

    /// The per-person vectors with room for `n` persons: appending the
    /// other parts then copies nothing.
    pub(super) fn with_room_for(mut self, n: usize) -> Tally {
        for v in &mut self.history {
            v.reserve_exact(n.saturating_sub(v.len()));
        }
        if let Some(clock) = &mut self.spell {
            clock
                .times
                .reserve_exact(n.saturating_sub(clock.times.len()));
        }
        self
    }

    /// `self` followed by the next part `next`.
    pub(super) fn merge(mut self, next: Tally) -> Result<Tally> {
        if next.weeks != self.weeks || next.observed != self.observed {
            return Err(Error::Internal {
                what: "reading in parts".into(),
                message: "the parts of the register have different event or observed weeks".into(),
            });
        }
        self.sums = match (self.sums, &next.sums) {
            (Some(a), Some(b)) => Some(a.merge(b)?),
            (a, _) => a,
        };
        if let (Some(a), Some(b)) = (&mut self.spell, next.spell) {
            a.append(b);
        }
        if let (Some(a), Some(b)) = (&mut self.hours, &next.hours) {
            a.merge(b)?;
        }
        for (a, b) in self.process.iter_mut().zip(&next.process) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.cost, next.cost) {
            a.append(b);
        }
        for (a, b) in self.history.iter_mut().zip(next.history) {
            a.extend(b);
        }
        if let (Some(a), Some(b)) = (&mut self.ended, next.ended) {
            a.extend(b);
        }
        for (a, b) in self.at_risk.iter_mut().zip(&next.at_risk) {
            a.treatment += b.treatment;
            a.control += b.control;
        }
        self.load.add_part(&next.load);
        Ok(self)
    }
}

/// Each person's follow-up: the week it ended early, or its administrative
/// end (the extract week − referral).
fn ended_followup(panel: &Panel) -> Vec<EndedFollowup> {
    let persons = panel.persons();
    (0..panel.n_persons())
        .map(|p| {
            let admin = panel
                .observed_until()
                .event_week(persons.referral_weeks()[p]);
            let ended = panel.followup_ended(p);
            EndedFollowup {
                arm: persons.arms()[p],
                time: ended.unwrap_or(admin),
                ended: ended.is_some(),
                admin,
            }
        })
        .collect()
}
