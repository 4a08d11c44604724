//! `report.md`: the results of an analysis as a readable trial report.
//!
//! Sections: the design (persons per arm and block, referral span,
//! follow-up, persons followed at the snapshot weeks), the balance table and
//! joint test, one section per outcome (a snapshot table with means per arm,
//! effect, CI, p and n; the week from which the effect stays significant;
//! the randomisation and heterogeneity tests when run; the figure), the
//! families, the process indicators, the staff-survey fidelity, the fidelity
//! overview of traffic lights, the site-level correlations, the cost per
//! effect, the hours descriptives and the Kaplan–Meier summary of the spell. Numbers are
//! rounded here and only here; the CSV and JSON files keep full precision.

mod balance;
mod delivery;
mod descriptives;
mod outcomes;

use std::fmt::{self, Write as _};

use self::delivery::{correlations, cost, overview, process, survey};
use self::descriptives::{hours, spell};
use self::outcomes::{family, outcome};
use super::numbers::*;
use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::report::Overview;
use crate::results::Results;
use crate::stats::Variance;

/// The whole report.
pub fn render(r: &Results) -> Result<String> {
    let mut s = String::new();
    report(&mut s, r).map_err(|e| Error::Internal {
        what: "report.md".into(),
        message: e.to_string(),
    })?;
    Ok(s)
}

/// The report's sections, in order.
fn report(s: &mut String, r: &Results) -> fmt::Result {
    let c = &r.config;
    let level = pct_label(c.design.level);
    writeln!(s, "# {}\n", r.title)?;
    if c.report.synthetic {
        writeln!(
            s,
            "> **Synthetic data.** These data were simulated; no real person, municipality or \
             register record is in them. The numbers show what trialpanel computes, not what any \
             programme achieved.\n"
        )?;
    }
    writeln!(
        s,
        "Computed by trialpanel {} from `{}`, `{}` and `{}`. Effects are treatment − control \
         differences in means among the persons followed at each event week{}, with {level} \
         confidence intervals ({}). Tables are rounded; `effects.csv`, \
         `balance.csv`, `spell_km.csv` and `results.json` hold every number at full precision.\n",
        r.version,
        c.inputs.persons.display(),
        c.inputs.register.display(),
        c.inputs.codes.display(),
        if c.design.blocked {
            " (blocked estimator: block effects weighted by block size; the arms' means in \
             the tables are weighted the same way, so that their difference is the effect)"
        } else {
            ""
        },
        match (&r.trial.clusters, c.design.variance) {
            (Some(_), _) =>
                "CR2 cluster-robust standard errors with Bell–McCaffrey degrees of freedom",
            (None, Variance::Welch) => "Welch standard errors",
            (None, Variance::Pooled) => "pooled-variance standard errors",
        },
    )?;
    if let Some(k) = &r.trial.clusters {
        writeln!(
            s,
            "The trial assigned whole clusters (`{}`): {} treatment and {} control clusters. \
             Every standard error, confidence interval and p-value of the effects and the \
             balance tests treats the cluster as the unit of randomisation, randomisation tests \
             re-draw whole clusters, and the tables count the clusters behind each estimate; \
             the intervals that treat persons as independent are named among the warnings of \
             the design section.\n",
            c.persons.cluster.as_deref().unwrap_or("cluster"),
            k.treatment,
            k.control
        )?;
    }
    if !c.design.adjust.is_empty() {
        writeln!(
            s,
            "Beside each difference in means, the Lin (2013) covariate-adjusted estimate: the \
             coefficient on treatment in a regression on the centred baseline covariates {}{} \
             and their interactions with treatment, with {} standard errors. Missing baseline \
             values are filled with the mean and flagged by an indicator.\n",
            c.design
                .adjust
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", "),
            if c.design.blocked {
                " and block dummies"
            } else {
                ""
            },
            if r.trial.clusters.is_some() {
                "CR2 (Bell–McCaffrey df)"
            } else {
                "HC2"
            },
        )?;
    }
    design(s, r)?;
    writeln!(s, "## Balance at referral\n")?;
    s.push_str(&r.balance.to_markdown());
    s.push('\n');
    for o in &r.outcomes {
        outcome(s, r, o)?;
    }
    for f in &r.families {
        family(s, r, f)?;
    }
    if !r.process.is_empty() {
        process(s, r)?;
    }
    if let Some(f) = &r.fidelity {
        survey(s, r, f)?;
    }
    if let Some(o) = Overview::of(r) {
        overview(s, r, &o)?;
    }
    if !r.correlations.is_empty() {
        correlations(s, r)?;
    }
    if let Some(c) = &r.cost {
        cost(s, c, r.config.design.level, &r.config.report.currency)?;
    }
    if let Some(h) = &r.hours {
        hours(s, r, h)?;
    }
    if let Some(sp) = &r.spell {
        spell(s, r, sp)?;
    }
    Ok(())
}

fn design(s: &mut String, r: &Results) -> fmt::Result {
    let t = &r.trial;
    writeln!(s, "## Design\n")?;
    writeln!(s, "| | Treatment | Control |\n|---|---:|---:|")?;
    writeln!(
        s,
        "| Persons randomised | {} | {} |",
        t.persons.treatment, t.persons.control
    )?;
    let follow = |arm: Arm| {
        t.follow_up
            .iter()
            .find(|f| f.arm == arm)
            .map_or("–".into(), |f| {
                format!("{} / {} / {}", f.min, trim(f.median, 1), f.max)
            })
    };
    let without = |arm: Arm| {
        let (n, of) = (
            t.load.persons_without_data[arm as usize],
            t.load.persons[arm as usize],
        );
        format!("{n} ({})", percent(n, of))
    };
    writeln!(
        s,
        "| Persons with no register data (no benefit, no hours in any week kept) | {} | {} |",
        without(Arm::Treatment),
        without(Arm::Control)
    )?;
    writeln!(
        s,
        "| Weeks followed after referral (min / median / max) | {} | {} |\n",
        follow(Arm::Treatment),
        follow(Arm::Control)
    )?;
    writeln!(
        s,
        "Referrals from {} to {}; the register covers {} to {} (the extract). Event week 0 is \
         the referral week; everyone is followed up to the extract{}, so late referrals are seen \
         for fewer weeks and the number of persons behind each week falls.\n",
        t.referral_first,
        t.referral_last,
        t.observed_from,
        t.observed_until,
        if t.followup_ended.is_some() {
            " (or until the follow-up ended early, below)"
        } else {
            ""
        }
    )?;
    for w in &r.warnings {
        writeln!(s, "**Warning:** {w}.\n")?;
    }
    if let Some(e) = &t.followup_ended {
        let ends: Vec<String> = r
            .config
            .inputs
            .ends_followup
            .iter()
            .map(|c| format!("`{c}`"))
            .collect();
        writeln!(
            s,
            "Follow-up ended early{} for {} treatment and {} control persons: each is followed \
             up to the week before the first such week and counts in no share, mean or \
             Kaplan–Meier curve after it. Log-rank test that the time to an early end is the \
             same in both arms: {}.\n",
            if ends.is_empty() {
                " (codes marked `ends_followup` in the code table)".to_string()
            } else {
                format!(
                    " (categories {} and the code table's marks)",
                    ends.join(", ")
                )
            },
            e.persons.treatment,
            e.persons.control,
            e.log_rank
                .map_or("undefined (no early end)".into(), |t| format!(
                    "χ² = {:.2}, {}",
                    t.statistic,
                    p_is(Some(t.p_value))
                )),
        )?;
        writeln!(
            s,
            "| Week | Ended by then (T / C) | Followed to then (T / C) | χ² p |\n|---:|---:|---:|---:|"
        )?;
        for b in &e.by_week {
            writeln!(
                s,
                "| {} | {} / {} | {} / {} | {} |",
                b.week,
                b.ended.treatment,
                b.ended.control,
                b.followed.treatment,
                b.followed.control,
                p_value(b.test.map(|t| t.p_value))
            )?;
        }
        s.push('\n');
    }
    if t.parts > 1 {
        writeln!(
            s,
            "The panel of all persons was larger than the memory budget, so the register was \
             read {} times, once for each of {} parts of the persons, and the exact weekly sums, \
             spells, hours and balance covariates of the parts were merged: the numbers are \
             those of the whole panel.\n",
            t.parts, t.parts
        )?;
    }
    if t.load.unknown_person_rows + t.load.rows_outside_window > 0 {
        writeln!(
            s,
            "Of {} register rows, {} belonged to persons not in the person table and {} lay \
             outside the observed weeks or the event-week window; they were not used.\n",
            t.load.rows, t.load.unknown_person_rows, t.load.rows_outside_window
        )?;
    }
    if t.blocks.len() > 1 {
        writeln!(
            s,
            "Persons per block (`{}`):\n\n| Block | Treatment | Control |\n|---|---:|---:|",
            r.config.persons.block.as_deref().unwrap_or("block")
        )?;
        for b in &t.blocks {
            writeln!(
                s,
                "| {} | {} | {} |",
                label(&b.block),
                b.persons.treatment,
                b.persons.control
            )?;
        }
        s.push('\n');
    }
    writeln!(
        s,
        "Persons followed at the snapshot weeks:\n\n| Week | Treatment | Control |\n|---:|---:|---:|"
    )?;
    for k in &r.snapshot {
        if let Some(a) = t.at_risk.iter().find(|a| a.week == *k) {
            writeln!(s, "| {k} | {} | {} |", a.treatment, a.control)?;
        }
    }
    s.push('\n');
    Ok(())
}
