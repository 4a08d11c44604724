//! The activity spell indicator: "13 weeks of company-directed activity",
//! with gap tolerance (methods §5), and the week each person completes a
//! spell.

use std::ops::{Range, RangeInclusive};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::inputs::codes;
use crate::panel::{HOURS_SCALE, Panel};

/// The activity spell indicator: "13 weeks of company-directed activity",
/// with gap tolerance (methods §5), and the week each person completes a
/// spell.
///
/// * A week is **active** if its category is in the activity set (default
///   work placement and wage subsidy) or its ordinary hours exceed a
///   threshold (default: any hours, > 0).
/// * A spell starts at an active week. Inside a spell a run of at most
///   `max_gap` (default 4) inactive weeks does not break it, but gap weeks
///   do not count; a longer inactive run ends it. Inactive weeks before the
///   first active week are not a gap.
/// * The indicator at event week k is 1 once some spell within weeks
///   `first_week..=k` (default 0..=k: history before referral does not count)
///   has reached `min_weeks` (default 13) active weeks, and stays 1.
///
/// [`Outcome::spell`](crate::Outcome::spell) makes the indicator an outcome
/// like any other for the weekly estimator; [`completions`] gives each
/// person's completion week, from which
/// [`time_to_spell`](crate::estimators::time_to_spell) draws the
/// censoring-aware view.
///
/// The definition of a qualifying spell.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpellRule {
    /// Categories that make a week active. Default: `work_placement`,
    /// `wage_subsidy`.
    pub activity: Vec<String>,
    /// A week with ordinary hours above this is active too; `None`: hours
    /// do not count (`false` in an analysis file). Default `Some(0.0)` (any
    /// hours).
    #[serde(with = "crate::inputs::or_false")]
    pub hours_threshold: Option<f64>,
    /// Active weeks a spell needs. Default 13.
    pub min_weeks: u32,
    /// Longest run of inactive weeks that does not break a spell. Default 4.
    pub max_gap: u32,
    /// First event week that may count. Default 0 (the referral week).
    pub first_week: i32,
}

impl Default for SpellRule {
    fn default() -> SpellRule {
        SpellRule {
            activity: vec![codes::WORK_PLACEMENT.into(), codes::WAGE_SUBSIDY.into()],
            hours_threshold: Some(0.0),
            min_weeks: 13,
            max_gap: 4,
            first_week: 0,
        }
    }
}

impl SpellRule {
    /// Categories that make a week active.
    pub fn activity(mut self, categories: &[&str]) -> SpellRule {
        self.activity = categories.iter().map(|c| c.to_string()).collect();
        self
    }

    /// Hours above `threshold` make a week active (`None`: hours do not count).
    pub fn hours_threshold(mut self, threshold: Option<f64>) -> SpellRule {
        self.hours_threshold = threshold;
        self
    }

    /// Active weeks a spell needs.
    pub fn min_weeks(mut self, weeks: u32) -> SpellRule {
        self.min_weeks = weeks;
        self
    }

    /// Longest inactive run that does not break a spell.
    pub fn max_gap(mut self, weeks: u32) -> SpellRule {
        self.max_gap = weeks;
        self
    }

    /// First event week that may count.
    pub fn first_week(mut self, week: i32) -> SpellRule {
        self.first_week = week;
        self
    }

    /// Check the rule against a panel and turn category names into a lookup.
    pub(crate) fn resolve(&self, panel: &Panel) -> Result<Activity> {
        let bad = |reason: String| Error::InvalidSetting {
            name: "spell rule".into(),
            reason,
        };
        if self.min_weeks == 0 {
            return Err(bad("min_weeks must be at least 1".into()));
        }
        let first = self.first_week;
        panel.check_weeks(&(first..=first), "spell rule first_week")?;
        let centihours = match self.hours_threshold {
            None => u32::MAX,
            Some(t) if t.is_finite() && t >= 0.0 => (t * HOURS_SCALE).floor() as u32,
            Some(t) => {
                return Err(bad(format!(
                    "hours_threshold must be ≥ 0 and finite, not {t}"
                )));
            }
        };
        let set = panel
            .codes()
            .category_set(&self.activity, "spell rule activity")?;
        Ok(Activity {
            set,
            centihours,
            min_weeks: self.min_weeks,
            max_gap: self.max_gap,
            first_week: self.first_week,
        })
    }
}

/// A [`SpellRule`] resolved against a panel's code table.
#[derive(Clone, Debug)]
pub(crate) struct Activity {
    set: [bool; 256],
    /// Hours are stored in hundredths; a week is active when its stored
    /// hours exceed this (`u32::MAX`: never).
    centihours: u32,
    pub(crate) min_weeks: u32,
    pub(crate) max_gap: u32,
    pub(crate) first_week: i32,
}

impl Activity {
    /// The one spell stepper: walks event weeks from the rule's first week
    /// to `last` over the panel persons `first..first + spans.len()` (with
    /// their observed spans), stepping each person counted (observed at the
    /// first week) at each week they are observed, and calls
    /// `visit(k, j, indicator)` for person `first + j` at week k. Behind
    /// the spell outcome's values, its exact weekly sums and the
    /// completions alike.
    pub(crate) fn walk(
        &self,
        panel: &Panel,
        first: usize,
        spans: &[RangeInclusive<i32>],
        last: i32,
        mut visit: impl FnMut(i32, usize, bool),
    ) {
        let start = self.first_week;
        let mut state = vec![SpellState::default(); spans.len()];
        for k in start..=last {
            let (Some(cats), Some(hours)) = (panel.categories(k), panel.centihours(k)) else {
                return;
            };
            for (j, span) in spans.iter().enumerate() {
                if !(span.contains(&start) && span.contains(&k)) {
                    continue;
                }
                let p = first + j;
                let active = self.is_active(cats[p], hours[p]);
                visit(k, j, state[j].step(active, self.min_weeks, self.max_gap));
            }
        }
    }

    /// Is a week with this category and stored hours active?
    #[inline]
    pub(crate) fn is_active(&self, category: u8, centihours: u16) -> bool {
        self.set[usize::from(category)] || u32::from(centihours) > self.centihours
    }
}

/// The state of one person's spell engine, updated one week at a time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SpellState {
    in_spell: bool,
    active: u32,
    gap: u32,
    completed: bool,
}

impl SpellState {
    /// Feed the next week; returns `true` once a spell has been completed
    /// (absorbing).
    #[inline]
    pub(crate) fn step(&mut self, active: bool, min_weeks: u32, max_gap: u32) -> bool {
        if self.completed {
            return true;
        }
        if active {
            if !self.in_spell {
                self.in_spell = true;
                self.active = 0;
            }
            self.active += 1;
            self.gap = 0;
            self.completed = self.active >= min_weeks;
        } else if self.in_spell {
            self.gap += 1;
            if self.gap > max_gap {
                self.in_spell = false;
                self.gap = 0;
            }
        }
        self.completed
    }
}

/// Index of the week at which a spell is completed in a sequence of
/// activity flags, if any: the pure form of the engine.
pub fn completion_index(active: &[bool], min_weeks: u32, max_gap: u32) -> Option<usize> {
    let mut state = SpellState::default();
    active
        .iter()
        .position(|&a| state.step(a, min_weeks, max_gap))
}

/// One person's spell result.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PersonSpell {
    /// Person id.
    pub id: String,
    /// Arm.
    pub arm: Arm,
    /// Event week at which the spell was completed, if it was.
    pub completed: Option<i32>,
    /// Last event week observed (the end of follow-up, within the panel).
    pub last_observed: i32,
}

/// Every person's spell result under one rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Completions {
    /// The rule's first counting week (time 0 of the time-to-spell view).
    pub first_week: i32,
    /// One entry per person observed from `first_week`, in panel order.
    pub persons: Vec<PersonSpell>,
    /// Persons left out because they are not observed at `first_week`.
    pub left_out: usize,
}

/// What the time-to-spell view needs of [`Completions`]: each person's
/// arm, time (the completion week, or the last week observed) and whether
/// the spell was completed, 12 bytes a person. The clocks of consecutive
/// parts of the panel order, appended, are the whole panel's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct SpellClock {
    pub(crate) first_week: i32,
    pub(crate) times: Vec<(Arm, i32, bool)>,
    pub(crate) left_out: usize,
}

impl SpellClock {
    pub(crate) fn of(done: &Completions) -> SpellClock {
        SpellClock {
            first_week: done.first_week,
            times: done
                .persons
                .iter()
                .map(|s| SpellClock::time(s.arm, s.completed, s.last_observed))
                .collect(),
            left_out: done.left_out,
        }
    }

    /// One person's entry: the completion week, or else the last week
    /// observed (censored).
    fn time(arm: Arm, completed: Option<i32>, last_observed: i32) -> (Arm, i32, bool) {
        (arm, completed.unwrap_or(last_observed), completed.is_some())
    }

    /// Append the clock of the next part of the panel.
    pub(crate) fn append(&mut self, next: SpellClock) {
        self.times.extend(next.times);
        self.left_out += next.left_out;
    }

    /// Persons of `arm`, and those of them who completed a spell.
    pub(crate) fn counts(&self, arm: Arm) -> (usize, usize) {
        let of_arm = self.times.iter().filter(|t| t.0 == arm);
        (of_arm.clone().count(), of_arm.filter(|t| t.2).count())
    }
}

/// Per person: the week the spell was completed, or none with the last week
/// observed. Persons not observed from `first_week` (the register starts
/// after their referral) are left out and counted: their early weeks are
/// unknown. One pass per person, in parallel over persons.
pub fn completions(panel: &Panel, rule: &SpellRule) -> Result<Completions> {
    let ids = panel.persons().ids();
    let arms = panel.persons().arms();
    let (persons, left_out) =
        person_spells(panel, rule, |p, completed, last_observed| PersonSpell {
            id: ids[p].clone(),
            arm: arms[p],
            completed,
            last_observed,
        })?;
    Ok(Completions {
        first_week: rule.first_week,
        persons,
        left_out,
    })
}

/// Each person's spell clock ([`SpellClock`]): [`completions`] without the
/// ids.
pub(crate) fn clock(panel: &Panel, rule: &SpellRule) -> Result<SpellClock> {
    let arms = panel.persons().arms();
    let (times, left_out) = person_spells(panel, rule, |p, completed, last_observed| {
        SpellClock::time(arms[p], completed, last_observed)
    })?;
    Ok(SpellClock {
        first_week: rule.first_week,
        times,
        left_out,
    })
}

/// `make(p, completed, last observed)` for every panel person `p` observed
/// from the rule's first week, in panel order, and how many are left out;
/// one pass per person, in parallel over persons.
fn person_spells<T: Send>(
    panel: &Panel,
    rule: &SpellRule,
    make: impl Fn(usize, Option<i32>, i32) -> T + Sync,
) -> Result<(Vec<T>, usize)> {
    let activity = rule.resolve(panel)?;
    let n = panel.n_persons();
    let chunks: Vec<Range<usize>> = (0..n)
        .step_by(CHUNK)
        .map(|s| s..(s + CHUNK).min(n))
        .collect();
    let parts: Vec<Vec<T>> = chunks
        .into_par_iter()
        .map(|range| completions_of(panel, &activity, range, &make))
        .collect();
    let persons: Vec<T> = parts.into_iter().flatten().collect();
    let left_out = n - persons.len();
    Ok((persons, left_out))
}

const CHUNK: usize = 2048;

fn completions_of<T>(
    panel: &Panel,
    activity: &Activity,
    persons: Range<usize>,
    make: &impl Fn(usize, Option<i32>, i32) -> T,
) -> Vec<T> {
    let spans: Vec<_> = persons.clone().map(|p| panel.observed_span(p)).collect();
    let last = spans
        .iter()
        .map(|s| *s.end())
        .max()
        .unwrap_or(activity.first_week);
    let mut completed: Vec<Option<i32>> = vec![None; persons.len()];
    activity.walk(panel, persons.start, &spans, last, |k, j, done| {
        if done && completed[j].is_none() {
            completed[j] = Some(k);
        }
    });
    persons
        .enumerate()
        .filter(|(j, _)| spans[*j].contains(&activity.first_week))
        .map(|(j, p)| make(p, completed[j], *spans[j].end()))
        .collect()
}
