//! What a run assumed, filled, dropped or could not match, in words: every
//! warning goes to stderr (`trialpanel run`) and into the report's design
//! section, in this order.

use super::Inputs;
use super::estimate::Estimated;
use crate::config::AnalysisConfig;
use crate::results::OutcomeResults;

/// Every warning of a run, in the order the report lists them.
pub(super) fn collect(c: &AnalysisConfig, inputs: &Inputs, e: &Estimated) -> Vec<String> {
    let trial = &e.trial;
    let mut warnings = inputs.persons.warnings().to_vec();
    warnings.extend(e.load.warnings(trial.observed_from..=trial.observed_until));
    if let Some(a) = &e.adjustment {
        for (name, n) in a.filled() {
            warnings.push(format!(
                "the Lin estimate fills the {n} missing values of `{name}` (with the mean, or \
                 the reference level) and adds a missing indicator"
            ));
        }
    }
    for name in &e.balance.left_out {
        warnings.push(format!(
            "the balance covariate `{name}` has no value for anyone (the register does not \
             reach its window before any referral; set `observed_from` earlier or change \
             `[[balance.history]]`) and was left out of the balance table"
        ));
    }
    for o in &e.outcomes {
        warnings.extend(lin(o));
    }
    if let Some(column) = &c.persons.cluster {
        let assumed: Vec<&str> = [
            (
                e.spell.is_some(),
                "the Kaplan–Meier intervals and the log-rank test",
            ),
            (e.hours.is_some(), "the tests of the hours descriptives"),
            (
                !e.process.is_empty(),
                "the process shares' intervals and their traffic lights",
            ),
        ]
        .into_iter()
        .filter_map(|(present, what)| present.then_some(what))
        .collect();
        if !assumed.is_empty() {
            warnings.push(format!(
                "{} treat persons as independent, so with clusters (`{column}`) they are too \
                 narrow; the weekly effects (CR2) are the ones to judge",
                assumed.join(" and ")
            ));
        }
    }
    if let Some(ended) = &trial.followup_ended
        && ended.persons.treatment + ended.persons.control > 0
    {
        warnings.push(format!(
            "follow-up ended early for {} treatment and {} control persons (a category that \
             ends follow-up, such as death or emigration); each counts up to the week before",
            ended.persons.treatment, ended.persons.control
        ));
    }
    if let (Some(log), Some(e)) = (&inputs.events, &e.events) {
        let file = c.inputs.events.as_deref().unwrap_or(log.file()).display();
        if e.before_referral > 0 {
            warnings.push(format!(
                "{} of the {} events in {file} are dated before the person's referral week; they \
                 count for no process indicator",
                e.before_referral, e.events
            ));
        }
        if e.outside > 0 {
            warnings.push(format!(
                "{} events in {file} are dated outside the weeks `[events] from` and `until` set \
                 as covered ({} to {}) and were left out",
                e.outside, e.first_week, e.last_week
            ));
        }
        if e.not_covered > 0 {
            warnings.push(format!(
                "{} persons were referred before the first week {file} covers ({}); the \
                 event-log indicators do not judge them",
                e.not_covered, e.first_week
            ));
        }
    }
    if let Some(survey) = &inputs.survey {
        if !survey.skipped().is_empty() {
            warnings.push(format!(
                "the survey's rows of items in no `[survey] elements` entry were skipped: {}",
                crate::excerpt::list(survey.skipped().iter().map(|(i, _)| i))
            ));
        }
        if survey.left_out() > 0 {
            warnings.push(format!(
                "{} survey rows of waves not in `[survey] waves` were left out",
                survey.left_out()
            ));
        }
        warnings.extend(survey.join_warnings().iter().cloned());
    }
    if let Some(f) = &e.fidelity
        && !f.unanswered.is_empty()
    {
        let cases: Vec<String> = f
            .unanswered
            .iter()
            .map(|u| format!("{} at {} wave {}", u.item, u.site, u.wave))
            .collect();
        warnings.push(format!(
            "{} survey items had no answer at a site and wave where the rest of their element \
             had; the element there is the mean of the items answered: {}",
            cases.len(),
            crate::excerpt::list(&cases)
        ));
    }
    if c.cost.is_some() && c.persons.cluster.is_some() {
        warnings.push(
            "the cost per effect takes persons as independent units, while the effects are \
             cluster-robust: its intervals are too narrow"
                .into(),
        );
    }
    warnings
}

/// What the Lin estimate of `o` dropped as constant or collinear, and the
/// weeks it is missing.
fn lin(o: &OutcomeResults) -> Vec<String> {
    let Some(lin) = &o.adjusted else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let weeks = lin.rows.iter().filter(|r| !r.dropped.is_empty()).count();
    let mut dropped: Vec<&str> = lin
        .rows
        .iter()
        .flat_map(|r| r.dropped.iter().map(String::as_str))
        .collect();
    dropped.sort_unstable();
    dropped.dedup();
    if weeks > 0 {
        out.push(format!(
            "the Lin estimate of `{}` dropped {} as constant or collinear at {weeks} of {} weeks \
             (effects.csv column `dropped`)",
            lin.outcome,
            crate::excerpt::list(&dropped),
            lin.rows.len()
        ));
    }
    let missing = lin.rows.iter().filter(|r| r.note.is_some()).count();
    if missing > 0 {
        out.push(format!(
            "the Lin estimate of `{}` is missing at {missing} weeks (effects.csv column `note` \
             says why)",
            lin.outcome
        ));
    }
    out
}
