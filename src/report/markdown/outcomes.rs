//! The outcome sections: the snapshot table of each outcome with its
//! significance, randomisation, site and subgroup results, and the
//! families' tests.

use std::fmt::{self, Write as _};

use crate::config::Unit;
use crate::estimators::{FamilyTest, Heterogeneity, SignificantWeeks};
use crate::report::numbers::*;
use crate::results::{OutcomeResults, Results};

pub(super) fn outcome(s: &mut String, r: &Results, o: &OutcomeResults) -> fmt::Result {
    let e = &o.effects;
    writeln!(s, "## Outcome `{}` ({})\n", e.outcome, unit_label(o.unit))?;
    if r.config.report.figures {
        writeln!(
            s,
            "![{}: weekly means by arm and the effect with its confidence band](figures/{})\n",
            e.outcome,
            crate::report::figures::effects_file(&e.outcome)
        )?;
    }
    let level = pct_label(e.design.level);
    let (clusters_head, clusters_rule) = if e.clustered {
        (" Clusters (T / C) |", "---:|")
    } else {
        ("", "")
    };
    let (lin_head, lin_rule) = if o.adjusted.is_some() {
        (format!(" Adjusted | {level} CI | p |"), "---:|---:|---:|")
    } else {
        (String::new(), "")
    };
    writeln!(
        s,
        "| Week | n (T / C) |{clusters_head} Treatment | Control | Effect | {level} CI | p | MDE |{lin_head}\n\
         |---:|---:|{clusters_rule}---:|---:|---:|---:|---:|---:|{lin_rule}",
    )?;
    let ci = |est: &crate::stats::Estimate| match (est.ci_low, est.ci_high) {
        (Some(lo), Some(hi)) => interval(o.unit, lo, hi),
        _ => "–".into(),
    };
    let mut notes = Vec::new();
    for k in &r.snapshot {
        let Some(w) = e.week(*k) else { continue };
        let est = &w.estimate;
        let clusters = match (e.clustered, est.clusters_treat, est.clusters_control) {
            (true, Some(t), Some(c)) => format!(" {t} / {c} |"),
            (true, _, _) => " – |".into(),
            (false, _, _) => String::new(),
        };
        let lin = match o.adjusted.as_ref().and_then(|a| a.week(*k)) {
            Some(a) => {
                if let Some(note) = &a.note {
                    notes.push(format!("week {k}: {note}"));
                }
                if !a.dropped.is_empty() {
                    notes.push(format!("week {k}: dropped {}", a.dropped.join(", ")));
                }
                format!(
                    " {} | {} | {} |",
                    value(o.unit, a.estimate.effect, true),
                    ci(&a.estimate),
                    p_value(a.estimate.p_value)
                )
            }
            None if o.adjusted.is_some() => " – | – | – |".into(),
            None => String::new(),
        };
        writeln!(
            s,
            "| {k} | {} / {} |{clusters} {} | {} | {} | {} | {} | {} |{lin}",
            est.n_treat,
            est.n_control,
            value(o.unit, est.mean_treat, false),
            value(o.unit, est.mean_control, false),
            value(o.unit, est.effect, true),
            ci(est),
            p_value(est.p_value),
            value(o.unit, est.mde, true),
        )?;
    }
    s.push('\n');
    writeln!(
        s,
        "MDE: the minimum detectable effect at 80% power and the {level} level, \
         (t(1−α/2, df) + t(0.80, df))·se: a smaller true effect would likely have gone unseen.\n"
    )?;
    if !notes.is_empty() {
        writeln!(s, "Adjusted estimate: {}.\n", notes.join("; "))?;
    }
    let f = &o.significant;
    write!(
        s,
        "Significant at the {}% level (the intervals' level): pointwise {}; Holm-adjusted {}; \
         Benjamini–Hochberg {}",
        trim(100.0 * f.alpha, 2),
        weeks_said(&f.pointwise),
        weeks_said(&f.holm),
        weeks_said(&f.benjamini_hochberg)
    )?;
    if let (Some(b), Some(weeks)) = (&e.band, &f.band) {
        let c = b.critical_value.map_or("undefined".into(), |c| fixed(c, 2));
        write!(
            s,
            "; the simultaneous {} band (c = {c}, {} draws) excludes 0 {}",
            pct_label(b.level),
            b.draws,
            weeks_said(weeks)
        )?;
    }
    s.push('.');
    if let Some(from) = &f.from {
        match from.from {
            Some(k) => write!(
                s,
                " Every tested week from week {k} through week {} is significant pointwise.",
                from.through
            )?,
            None => write!(
                s,
                " Week {} is not significant pointwise, so no run of significant weeks reaches it.",
                from.through
            )?,
        }
    }
    s.push_str("\n\n");
    if let Some(ri) = &o.randomisation {
        let at = |k: i32| {
            ri.weeks
                .iter()
                .position(|&w| w == k)
                .and_then(|i| ri.p_values[i])
        };
        writeln!(
            s,
            "Randomisation test ({} re-draws of the assignment{}{}): p for the largest |t| over \
             weeks: {}; at week {}: {}.\n",
            ri.draws,
            if e.clustered {
                " of whole clusters"
            } else {
                ""
            },
            if r.config.design.blocked {
                " within blocks"
            } else {
                ""
            },
            p_is(ri.p_max_t),
            r.detail_week,
            p_is(at(r.detail_week))
        )?;
    }
    subgroups(s, o, r.detail_week)?;
    if let Some(sites) = &o.sites
        && let Some(h) = sites.heterogeneity.iter().find(|h| h.week == r.detail_week)
    {
        let cells = sites.rows.iter().filter(|x| x.week == r.detail_week);
        let suppressed = cells.clone().filter(|x| x.suppressed).count();
        writeln!(
            s,
            "Equal effects across sites at week {}: {}; {suppressed} of {} site cells \
             suppressed (fewer than {} persons in an arm).\n",
            r.detail_week,
            equal_effects(h, "sites"),
            cells.count(),
            sites.min_n
        )?;
    }
    Ok(())
}

pub(super) fn family(s: &mut String, r: &Results, f: &FamilyTest) -> fmt::Result {
    writeln!(s, "## Family `{}`\n", f.name)?;
    writeln!(
        s,
        "{} hypotheses read together. Westfall–Young p: step-down max-|t| adjusted p-values from \
         {} of the assignment{}, the same re-draws for every outcome, so the family-wise error \
         rate is at most 5% for p < 0.05; Holm: the estimates' own p-values adjusted within the \
         family.\n",
        f.members.len(),
        if f.exact {
            format!("all {} possible re-draws", f.draws)
        } else {
            format!("{} seeded re-draws", f.draws)
        },
        if r.config.design.blocked {
            " within blocks"
        } else {
            ""
        },
    )?;
    writeln!(
        s,
        "| Outcome | Week | Effect | p | Holm | Randomisation p | Westfall–Young p |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    )?;
    for m in &f.members {
        let unit = r.outcome(&m.outcome).map_or(Unit::Share, |o| o.unit);
        writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.outcome,
            m.week,
            value(unit, m.effect, true),
            p_value(m.p_value),
            p_value(m.p_holm),
            p_value(m.p_randomisation),
            p_value(m.p_fwer)
        )?;
    }
    s.push('\n');
    Ok(())
}

/// Each subgroup table of an outcome at the week significance is read
/// through: the effect per level and the interaction test.
fn subgroups(s: &mut String, o: &OutcomeResults, week: i32) -> fmt::Result {
    for g in &o.subgroups {
        writeln!(
            s,
            "Effects by `{}` at week {week}:\n\n| {} | n (T / C) | Effect | CI | p |\n|---|---:|---:|---:|---:|",
            g.by,
            label(&g.by)
        )?;
        for row in g.rows.iter().filter(|x| x.week == week) {
            let e = &row.estimate;
            let ci = match (e.ci_low, e.ci_high) {
                (Some(lo), Some(hi)) => interval(o.unit, lo, hi),
                _ => "–".into(),
            };
            writeln!(
                s,
                "| {} | {} / {} | {} | {ci} | {} |",
                label(&row.group),
                e.n_treat,
                e.n_control,
                if row.suppressed {
                    format!("suppressed (fewer than {} in an arm)", g.min_n)
                } else {
                    value(o.unit, e.effect, true)
                },
                p_value(e.p_value)
            )?;
        }
        if let Some(h) = g.heterogeneity.iter().find(|h| h.week == week) {
            writeln!(
                s,
                "\nEqual effects across the levels of `{}` (the treatment × `{}` interaction): \
                 {}.\n",
                g.by,
                g.by,
                equal_effects(h, "levels")
            )?;
        }
    }
    Ok(())
}

/// Where an effect is significant, in words: `in weeks 6–41, 43 (37 of 45
/// weeks tested)`, `in no week (0 of 45 weeks tested)`; at most 8 runs.
fn weeks_said(w: &SignificantWeeks) -> String {
    const RUNS: usize = 8;
    if w.tested == 0 {
        return "untested (no week has a test)".into();
    }
    if w.runs.is_empty() {
        return format!("in no week (0 of {} weeks tested)", w.tested);
    }
    let mut runs: Vec<String> = w
        .runs
        .iter()
        .take(RUNS)
        .map(|&(a, b)| {
            if a == b {
                a.to_string()
            } else {
                format!("{a}–{b}")
            }
        })
        .collect();
    if w.runs.len() > RUNS {
        runs.push(format!("and {} more runs", w.runs.len() - RUNS));
    }
    format!(
        "in week{} {} ({} of {} weeks tested)",
        if w.significant == 1 { "" } else { "s" },
        runs.join(", "),
        w.significant,
        w.tested
    )
}

/// The test that the groups' effects are equal, in words: with clusters
/// the HTZ Wald test (valid with few clusters per group); without them
/// Cochran's Q for sites, and for a covariate's levels the treatment ×
/// level interaction F where it is defined, else Q (`groups`: "sites",
/// "levels").
fn equal_effects(h: &Heterogeneity, groups: &str) -> String {
    let interaction = h.interaction.filter(|_| groups == "levels");
    match (h.htz, interaction, h.test) {
        (Some(t), _, _) => format!(
            "F({}, {}) = {}, {} over {} {groups} (the cluster-robust CR2 Wald test with the HTZ \
             small-sample approximation)",
            t.df1,
            fixed(t.df2, 1),
            fixed(t.f, 2),
            p_is(Some(t.p_value)),
            h.sites
        ),
        (None, Some(i), _) => format!(
            "F({}, {}) = {}, {} over {} {groups} (the interaction F of the regression with HC2 \
             standard errors)",
            i.df1,
            i.df2,
            fixed(i.f, 2),
            p_is(Some(i.p_value)),
            h.sites
        ),
        (None, None, Some(q)) => format!(
            "Cochran's Q = {} ({} df), {} over {} {groups}",
            fixed(q.statistic, 2),
            q.df,
            p_is(Some(q.p_value)),
            h.sites
        ),
        (None, None, None) => format!("no test (fewer than two {groups} with an estimate)"),
    }
}
