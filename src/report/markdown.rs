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

use std::fmt::Write as _;

use super::trim;
use crate::config::Unit;
use crate::estimators::Balance;
use crate::estimators::CostEffects;
use crate::estimators::FamilyTest;
use crate::estimators::Fidelity;
use crate::inputs::Arm;
use crate::report::Overview;
use crate::results::{HoursResults, OutcomeResults, Results, SpellResults};
use crate::stats::{ChiSquare, Fieller, Level, Light, Variance};

/// The whole report.
pub fn render(r: &Results) -> String {
    let mut s = String::new();
    let c = &r.config;
    let level = pct_label(c.design.level);
    let _ = writeln!(s, "# {}\n", r.title);
    if c.report.synthetic {
        let _ = writeln!(
            s,
            "> **Synthetic data.** These data were simulated; no real person, municipality or \
             register record is in them. The numbers show what trialpanel computes, not what any \
             programme achieved.\n"
        );
    }
    let _ = writeln!(
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
            " (blocked estimator: block effects weighted by block size)"
        } else {
            ""
        },
        match (&r.trial.clusters, c.design.variance) {
            (Some(_), _) =>
                "CR2 cluster-robust standard errors with Bell–McCaffrey degrees of freedom",
            (None, Variance::Welch) => "Welch standard errors",
            (None, Variance::Pooled) => "pooled-variance standard errors",
        },
    );
    if let Some(k) = &r.trial.clusters {
        let _ = writeln!(
            s,
            "The trial assigned whole clusters (`{}`): {} treatment and {} control clusters. \
             Every standard error, confidence interval and p-value treats the cluster as the \
             unit of randomisation, randomisation tests re-draw whole clusters, and the tables \
             count the clusters behind each estimate.\n",
            c.persons.cluster.as_deref().unwrap_or("cluster"),
            k.treatment,
            k.control
        );
    }
    if !c.design.adjust.is_empty() {
        let _ = writeln!(
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
        );
    }
    design(&mut s, r);
    let _ = writeln!(s, "## Balance at referral\n");
    s.push_str(&r.balance.to_markdown());
    s.push('\n');
    for o in &r.outcomes {
        outcome(&mut s, r, o);
    }
    for f in &r.families {
        family(&mut s, r, f);
    }
    if !r.process.is_empty() {
        process(&mut s, r);
    }
    if let Some(f) = &r.fidelity {
        survey(&mut s, r, f);
    }
    if let Some(o) = Overview::of(r) {
        overview(&mut s, r, &o);
    }
    if !r.correlations.is_empty() {
        correlations(&mut s, r);
    }
    if let Some(c) = &r.cost {
        cost(&mut s, c);
    }
    if let Some(h) = &r.hours {
        hours(&mut s, r, h);
    }
    if let Some(sp) = &r.spell {
        spell(&mut s, r, sp);
    }
    s
}

/// `n` of `of` as a percentage with one decimal (`–` of none).
fn percent(n: usize, of: usize) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}

fn design(s: &mut String, r: &Results) {
    let t = &r.trial;
    let _ = writeln!(s, "## Design\n");
    let _ = writeln!(s, "| | Treatment | Control |\n|---|---:|---:|");
    let _ = writeln!(
        s,
        "| Persons randomised | {} | {} |",
        t.persons.treatment, t.persons.control
    );
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
    let _ = writeln!(
        s,
        "| Persons with no register data (no benefit, no hours in any week kept) | {} | {} |",
        without(Arm::Treatment),
        without(Arm::Control)
    );
    let _ = writeln!(
        s,
        "| Weeks followed after referral (min / median / max) | {} | {} |\n",
        follow(Arm::Treatment),
        follow(Arm::Control)
    );
    let _ = writeln!(
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
    );
    for w in &r.warnings {
        let _ = writeln!(s, "**Warning:** {w}.\n");
    }
    if let Some(e) = &t.followup_ended {
        let ends: Vec<String> = r
            .config
            .inputs
            .ends_followup
            .iter()
            .map(|c| format!("`{c}`"))
            .collect();
        let _ = writeln!(
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
        );
        let _ = writeln!(
            s,
            "| Week | Ended by then (T / C) | Followed to then (T / C) | χ² p |\n|---:|---:|---:|---:|"
        );
        for b in &e.by_week {
            let _ = writeln!(
                s,
                "| {} | {} / {} | {} / {} | {} |",
                b.week,
                b.ended.treatment,
                b.ended.control,
                b.followed.treatment,
                b.followed.control,
                p_value(b.test.map(|t| t.p_value))
            );
        }
        s.push('\n');
    }
    if t.parts > 1 {
        let _ = writeln!(
            s,
            "The panel of all persons was larger than the memory budget, so the register was \
             read {} times, once for each of {} parts of the persons, and the exact weekly sums, \
             spells, hours and balance covariates of the parts were merged: the numbers are \
             those of the whole panel.\n",
            t.parts, t.parts
        );
    }
    if t.load.unknown_person_rows + t.load.rows_outside_window > 0 {
        let _ = writeln!(
            s,
            "Of {} register rows, {} belonged to persons not in the person table and {} lay \
             outside the observed weeks or the event-week window; they were not used.\n",
            t.load.rows, t.load.unknown_person_rows, t.load.rows_outside_window
        );
    }
    if t.blocks.len() > 1 {
        let _ = writeln!(
            s,
            "Persons per block (`{}`):\n\n| Block | Treatment | Control |\n|---|---:|---:|",
            r.config.persons.block.as_deref().unwrap_or("block")
        );
        for b in &t.blocks {
            let _ = writeln!(
                s,
                "| {} | {} | {} |",
                b.block, b.persons.treatment, b.persons.control
            );
        }
        s.push('\n');
    }
    let _ = writeln!(
        s,
        "Persons followed at the snapshot weeks:\n\n| Week | Treatment | Control |\n|---:|---:|---:|"
    );
    for k in &r.snapshot {
        if let Some(a) = t.at_risk.iter().find(|a| a.week == *k) {
            let _ = writeln!(s, "| {k} | {} | {} |", a.treatment, a.control);
        }
    }
    s.push('\n');
}

fn outcome(s: &mut String, r: &Results, o: &OutcomeResults) {
    let e = &o.effects;
    let _ = writeln!(s, "## Outcome `{}` ({})\n", e.outcome, unit_label(o.unit));
    if r.config.report.figures {
        let _ = writeln!(
            s,
            "![{}: weekly means by arm and the effect with its confidence band](figures/{})\n",
            e.outcome,
            super::figures::effects_file(&e.outcome)
        );
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
    let _ = writeln!(
        s,
        "| Week | n (T / C) |{clusters_head} Treatment | Control | Effect | {level} CI | p | MDE |{lin_head}\n\
         |---:|---:|{clusters_rule}---:|---:|---:|---:|---:|---:|{lin_rule}",
    );
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
        let _ = writeln!(
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
        );
    }
    s.push('\n');
    let _ = writeln!(
        s,
        "MDE: the minimum detectable effect at 80% power and the {level} level, \
         (t(1−α/2, df) + t(0.80, df))·se: a smaller true effect would likely have gone unseen.\n"
    );
    if !notes.is_empty() {
        let _ = writeln!(s, "Adjusted estimate: {}.\n", notes.join("; "));
    }
    let f = &o.significant_from;
    let from = |k: Option<i32>| k.map_or("never".into(), |k| format!("from week {k}"));
    let _ = write!(
        s,
        "Significant at 5% in every week through week {}: pointwise {}; Holm-adjusted {}; \
         Benjamini–Hochberg {}",
        f.through,
        from(f.pointwise),
        from(f.holm),
        from(f.benjamini_hochberg)
    );
    match &e.band {
        Some(b) => {
            let c = b
                .critical_value
                .map_or("undefined".into(), |c| format!("{c:.2}"));
            let _ = writeln!(
                s,
                "; simultaneous {} band (c = {c}, {} draws) {}.\n",
                pct_label(b.level),
                b.draws,
                from(f.band)
            );
        }
        None => s.push_str(".\n\n"),
    }
    if let Some(ri) = &o.randomisation {
        let at = |k: i32| {
            ri.weeks
                .iter()
                .position(|&w| w == k)
                .and_then(|i| ri.p_values[i])
        };
        let _ = writeln!(
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
            f.through,
            p_is(at(f.through))
        );
    }
    subgroups(s, o, f.through);
    if let Some(sites) = &o.sites
        && let Some(h) = sites.heterogeneity.iter().find(|h| h.week == f.through)
    {
        let cells = sites.rows.iter().filter(|x| x.week == f.through);
        let suppressed = cells.clone().filter(|x| x.suppressed).count();
        let test = h
            .test
            .map_or("undefined (fewer than two sites)".into(), |t| {
                format!(
                    "Cochran's Q = {:.2} ({} df), {}",
                    t.statistic,
                    t.df,
                    p_is(Some(t.p_value))
                )
            });
        let _ = writeln!(
            s,
            "Across sites at week {}: {test}; {} sites in the test, {suppressed} of {} site \
             cells suppressed (fewer than {} persons in an arm).\n",
            f.through,
            h.sites,
            cells.count(),
            sites.min_n
        );
    }
}

fn family(s: &mut String, r: &Results, f: &FamilyTest) {
    let _ = writeln!(s, "## Family `{}`\n", f.name);
    let _ = writeln!(
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
    );
    let _ = writeln!(
        s,
        "| Outcome | Week | Effect | p | Holm | Randomisation p | Westfall–Young p |\n\
         |---|---:|---:|---:|---:|---:|---:|"
    );
    for m in &f.members {
        let unit = r.outcome(&m.outcome).map_or(Unit::Share, |o| o.unit);
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} | {} | {} |",
            m.outcome,
            m.week,
            value(unit, m.effect, true),
            p_value(m.p_value),
            p_value(m.p_holm),
            p_value(m.p_randomisation),
            p_value(m.p_fwer)
        );
    }
    s.push('\n');
}

/// Each subgroup table of an outcome at the week significance is read
/// through: the effect per level and the interaction test.
fn subgroups(s: &mut String, o: &OutcomeResults, through: i32) {
    for g in &o.subgroups {
        let _ = writeln!(
            s,
            "Effects by `{}` at week {through}:\n\n| {} | n (T / C) | Effect | CI | p |\n|---|---:|---:|---:|---:|",
            g.by, g.by
        );
        for row in g.rows.iter().filter(|x| x.week == through) {
            let e = &row.estimate;
            let ci = match (e.ci_low, e.ci_high) {
                (Some(lo), Some(hi)) => interval(o.unit, lo, hi),
                _ => "–".into(),
            };
            let _ = writeln!(
                s,
                "| {} | {} / {} | {} | {ci} | {} |",
                row.group,
                e.n_treat,
                e.n_control,
                if row.suppressed {
                    format!("suppressed (fewer than {} in an arm)", g.min_n)
                } else {
                    value(o.unit, e.effect, true)
                },
                p_value(e.p_value)
            );
        }
        let test = g
            .heterogeneity
            .iter()
            .find(|h| h.week == through)
            .and_then(|h| h.interaction.map(|i| (h.sites, i)));
        let _ = match test {
            Some((levels, i)) => writeln!(
                s,
                "\nTreatment × `{}` interaction over {levels} levels: F({}, {}) = {:.2}, {}.\n",
                g.by,
                i.df1,
                i.df2,
                i.f,
                p_is(Some(i.p_value))
            ),
            None => writeln!(
                s,
                "\nNo interaction test (fewer than two levels with an estimate, or a blocked or \
                 clustered design).\n"
            ),
        };
    }
}

/// The process indicators: per site, the share meeting each with its
/// Wilson interval and traffic light, per arm.
fn process(s: &mut String, r: &Results) {
    let b = &r.config.bands;
    let _ = writeln!(
        s,
        "## Process indicators\n\nShares of the persons judged that meet each indicator, with \
         95% Wilson intervals; lights: high ≥ {:.0}%, middle ≥ {:.0}%, low below; `?` marks a \
         light whose interval crosses a threshold.\n",
        100.0 * b.high,
        100.0 * b.low
    );
    for (rule, t) in r.config.process.iter().zip(&r.process) {
        let _ = writeln!(s, "`{}`: {}.\n", rule.name(), rule.describe());
        let mut indicators: Vec<&str> = t.rows.iter().map(|x| x.indicator.as_str()).collect();
        indicators.dedup();
        for indicator in indicators {
            let rows: Vec<_> = t.rows.iter().filter(|x| x.indicator == indicator).collect();
            let _ = writeln!(
                s,
                "| `{indicator}` | Treatment | Control | Both |\n|---|---:|---:|---:|"
            );
            let mut sites: Vec<&str> = rows.iter().map(|x| x.site.as_str()).collect();
            sites.dedup();
            for site in sites {
                let cell = |arm: Option<Arm>| {
                    rows.iter()
                        .find(|x| x.site == site && x.arm == arm)
                        .and_then(|x| x.share.map(|sh| (sh, x.light, x.uncertain)))
                        .map_or("– (none judged)".into(), |(sh, light, uncertain)| {
                            format!(
                                "{:.1}% [{:.1}, {:.1}] {}{} (n = {})",
                                100.0 * sh.share,
                                100.0 * sh.ci_low,
                                100.0 * sh.ci_high,
                                light.map_or("", |l| l.name()),
                                if uncertain { "?" } else { "" },
                                sh.n
                            )
                        })
                };
                let _ = writeln!(
                    s,
                    "| {site} | {} | {} | {} |",
                    cell(Some(Arm::Treatment)),
                    cell(Some(Arm::Control)),
                    cell(None)
                );
            }
            s.push('\n');
        }
    }
}

/// A share with its interval, in percent, and its light.
fn lit(share: f64, low: f64, high: f64, light: Option<Light>, uncertain: bool) -> String {
    format!(
        "{:.0}% [{:.0}, {:.0}] {}{}",
        100.0 * share,
        100.0 * low,
        100.0 * high,
        light.map_or("", Light::name),
        if uncertain { "?" } else { "" }
    )
}

/// The staff survey: each element per site in the last wave with the change
/// since the first, and the response rates.
fn survey(s: &mut String, r: &Results, f: &Fidelity) {
    let waves: Vec<u32> = {
        let mut w: Vec<u32> = f.rows.iter().map(|x| x.wave).collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    let (Some(&first), Some(&last)) = (waves.first(), waves.last()) else {
        return;
    };
    let _ = writeln!(
        s,
        "## Fidelity from the staff survey

Share answering in the top {} of the {} answers (`{}` and above) per core element, the mean of its items' shares, with 95% intervals (Wilson for one item; respondents as clusters for several); waves {}. The change is from wave {first} to wave {last}, in percentage points with Newcombe's (MOVER) interval. `fidelity.csv` has every item, site and wave.\n",
        r.config.survey.as_ref().map_or(0, |x| x.top),
        r.config.survey.as_ref().map_or(0, |x| x.scale.len()),
        r.config
            .survey
            .as_ref()
            .and_then(|x| x.scale.get(x.scale.len() - x.top))
            .map_or("", String::as_str),
        waves.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    );
    let _ = writeln!(
        s,
        "| Element | Site | Wave {last} | n | Change since wave {first} |\n|---|---|---:|---:|---:|"
    );
    for row in f.elements_at(last) {
        let change = f
            .changes
            .iter()
            .find(|c| c.item.is_none() && c.element == row.element && c.site == row.site)
            .and_then(|c| c.change)
            .map_or("–".into(), |(d, lo, hi)| {
                format!(
                    "{:+.0} pp [{:+.0}, {:+.0}]",
                    100.0 * d,
                    100.0 * lo,
                    100.0 * hi
                )
            });
        let level = row.level.map_or("– (no answers)".into(), |l| {
            lit(l.share, l.ci_low, l.ci_high, row.light, row.uncertain)
        });
        let _ = writeln!(
            s,
            "| {} | {} | {level} | {} | {change} |",
            row.element, row.site, row.n
        );
    }
    s.push('\n');
    if !f.response.is_empty() {
        let _ = writeln!(
            s,
            "Response rates:\n\n| Site | Wave | Invited | Respondents | Rate |\n|---|---:|---:|---:|---:|"
        );
        for x in &f.response {
            let _ = writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                x.site,
                x.wave,
                x.invited,
                x.respondents,
                x.rate.map_or("–".into(), |v| format!("{:.0}%", 100.0 * v))
            );
        }
        s.push('\n');
    }
}

/// The fidelity overview: sites × measures with their lights.
fn overview(s: &mut String, r: &Results, o: &Overview) {
    let b = &r.config.bands;
    let _ = writeln!(
        s,
        "## Fidelity overview\n\nTreatment-arm shares of each process indicator and the survey elements in the last wave, per site: high ≥ {:.0}%, middle ≥ {:.0}%, low below; `?` marks a site whose 95% interval crosses a threshold.\n",
        100.0 * b.high,
        100.0 * b.low
    );
    let _ = writeln!(s, "| Site | {} |", o.measures.join(" | "));
    let _ = writeln!(s, "|---|{}", "---:|".repeat(o.measures.len()));
    for (site, cells) in o.sites.iter().zip(&o.cells) {
        let cells: Vec<String> = cells
            .iter()
            .map(|c| {
                c.map_or("–".into(), |c| {
                    format!(
                        "{:.0}% {}{}",
                        100.0 * c.share,
                        c.light.name(),
                        if c.uncertain { "?" } else { "" }
                    )
                })
            })
            .collect();
        let _ = writeln!(s, "| {site} | {} |", cells.join(" | "));
    }
    if r.config.report.figures {
        let _ = writeln!(
            s,
            "\n![fidelity overview](figures/{})",
            super::figures::LIGHTS_FILE
        );
    }
    s.push('\n');
}

/// Correlations of site measures, with the caveat they need.
fn correlations(s: &mut String, r: &Results) {
    let _ = writeln!(
        s,
        "## Site-level correlations\n\nThese are associations across a few sites, not effects: a site that delivers more may differ in many other ways, and with n sites one or two can drive r. Pearson's r with its Fisher-z 95% interval and t-test p, and Spearman's ρ.\n\n| x | y | Sites | Pearson r [95% CI] | p | Spearman ρ |\n|---|---|---:|---:|---:|---:|"
    );
    for c in &r.correlations {
        let (pearson, p, rho) = match &c.correlation {
            Some(k) => (
                match (k.ci_low, k.ci_high) {
                    (Some(l), Some(h)) => format!("{:.2} [{l:.2}, {h:.2}]", k.pearson),
                    _ => format!("{:.2} (no interval with n ≤ 3)", k.pearson),
                },
                p_value(k.p_value),
                number(k.spearman, 2),
            ),
            None => (
                "– (too few sites or a constant)".into(),
                "–".into(),
                "–".into(),
            ),
        };
        let _ = writeln!(
            s,
            "| `{}` | `{}` | {} | {pearson} | {p} | {rho} |",
            c.x,
            c.y,
            c.sites.len()
        );
    }
    s.push('\n');
    if r.config.report.figures {
        for (i, c) in r.correlations.iter().enumerate() {
            if !c.sites.is_empty() {
                let _ = writeln!(
                    s,
                    "![`{}` against `{}` across sites](figures/{})\n",
                    c.y,
                    c.x,
                    super::figures::correlation_file(i)
                );
            }
        }
    }
}

/// The cost per effect.
fn cost(s: &mut String, c: &CostEffects) {
    let money = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.0}"));
    let e = &c.cost;
    let _ = writeln!(
        s,
        "## Cost per effect\n\nCost per person over event weeks 0–{} (the weekly unit costs of the code table's categories{}), among the persons followed through week {}: treatment {} (n = {}), control {} (n = {}); incremental cost {} [{}, {}] ({}), {}.\n",
        c.through,
        if c.programme > 0.0 {
            format!(
                ", plus a programme cost of {:.0} per treated person",
                c.programme
            )
        } else {
            String::new()
        },
        c.through,
        money(e.mean_treat),
        e.n_treat,
        money(e.mean_control),
        e.n_control,
        money(e.effect),
        money(e.ci_low),
        money(e.ci_high),
        p_is(e.p_value),
        if c.blocked {
            "blocked as the effects are (block differences weighted by block size)"
        } else {
            "unblocked as the effects are"
        }
    );
    if c.per.is_empty() {
        return;
    }
    let _ = writeln!(
        s,
        "| Outcome | Extra units per person [95% CI] | Cost per extra unit | 95% Fieller interval |\n|---|---:|---:|---|"
    );
    for p in &c.per {
        let interval = match p.interval {
            Some(Fieller::Bounded { low, high }) => format!("{low:.0} to {high:.0}"),
            Some(Fieller::Outside { low, high }) => format!(
                "unbounded: below {low:.0} or above {high:.0} (the effect is not clearly \
                 different from 0)"
            ),
            Some(Fieller::Unbounded) => "unbounded: any value (the data do not bound it)".into(),
            None => "–".into(),
        };
        let _ = writeln!(
            s,
            "| {} | {} [{}, {}] | {} | {interval} |",
            p.outcome,
            number(p.effect.effect, 2),
            number(p.effect.ci_low, 2),
            number(p.effect.ci_high, 2),
            money(p.ratio)
        );
    }
    let _ = writeln!(
        s,
        "\nA negative cost per extra unit is a saving: the programme costs less and achieves more. Units: weeks in the state over weeks 0–{}, or a spell completed by week {}.\n",
        c.through, c.through
    );
}

fn hours(s: &mut String, r: &Results, h: &HoursResults) {
    let w = &h.among_working;
    let _ = writeln!(s, "## Hours at week {}\n", h.week);
    let _ = writeln!(
        s,
        "Mean ordinary hours of those working (hours > 0): treatment {} (n = {}), control {} \
         (n = {}); difference {} (Welch {}).\n",
        value(Unit::Hours, w.mean_treat, false),
        w.n_treat,
        value(Unit::Hours, w.mean_control, false),
        w.n_control,
        value(Unit::Hours, w.effect, true),
        p_is(w.p_value)
    );
    if r.config.report.figures {
        let _ = writeln!(
            s,
            "![distribution of positive hours at week {} by arm](figures/{})\n",
            h.week,
            super::figures::HOURS_FILE
        );
    }
    let d = &h.distribution;
    let _ = writeln!(s, "| Hours | Treatment | Control |\n|---|---:|---:|");
    let (st, sc) = (d.shares(Arm::Treatment), d.shares(Arm::Control));
    for (i, bucket) in d.buckets.iter().enumerate() {
        let cell = |arm: Arm, share: Option<f64>| {
            format!(
                "{} ({})",
                d.counts[arm as usize][i],
                share.map_or("–".into(), |x| format!("{:.1}%", 100.0 * x))
            )
        };
        let _ = writeln!(
            s,
            "| {bucket} | {} | {} |",
            cell(Arm::Treatment, st[i]),
            cell(Arm::Control, sc[i])
        );
    }
    chi_square(
        s,
        "Pearson",
        d.test,
        "Too few persons working for a chi-square test.",
    );
}

fn spell(s: &mut String, r: &Results, sp: &SpellResults) {
    let rule = &sp.rule;
    let _ = writeln!(s, "## Time to a completed spell (`{}`)\n", sp.outcome);
    let hours = rule
        .hours_threshold
        .map_or(String::new(), |t| format!(" or hours above {}", trim(t, 2)));
    let _ = writeln!(
        s,
        "A spell counts when {} active weeks are reached from event week {} on, gaps of up to {} \
         inactive weeks allowed (not counted); a week is active when its category is {}{hours}. \
         Kaplan–Meier cumulative incidence per arm, censored at the end of follow-up, with {} \
         log-log confidence intervals; the difference has a normal interval. {} treated and {} \
         controls are in the analysis ({} left out: not observed at week {}); {} and {} \
         completed a spell while followed.\n",
        rule.min_weeks,
        rule.first_week,
        rule.max_gap,
        rule.activity
            .iter()
            .map(|a| format!("`{a}`"))
            .collect::<Vec<_>>()
            .join(" or "),
        pct_label(sp.km.level),
        sp.persons.treatment,
        sp.persons.control,
        sp.left_out,
        rule.first_week,
        sp.completed.treatment,
        sp.completed.control,
    );
    if r.config.report.figures {
        let _ = writeln!(
            s,
            "![Kaplan–Meier cumulative incidence of a completed spell by arm](figures/{})\n",
            super::figures::KM_FILE
        );
    }
    let _ = writeln!(
        s,
        "| Week | Treatment | Control | Difference |\n|---:|---:|---:|---:|"
    );
    let pp = |x: f64, lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(lo), Some(hi)) => format!("{:.1}% [{:.1}, {:.1}]", 100.0 * x, 100.0 * lo, 100.0 * hi),
        _ => format!("{:.1}%", 100.0 * x),
    };
    for &k in &r.snapshot {
        let curve = |arm: Arm| sp.km.curves[arm as usize].iter().find(|row| row.week == k);
        let (Some(t), Some(c)) = (curve(Arm::Treatment), curve(Arm::Control)) else {
            continue;
        };
        let d = sp.km.difference.iter().find(|d| d.week == k);
        let _ = writeln!(
            s,
            "| {k} | {} | {} | {} |",
            pp(t.cum_incidence, t.ci_low, t.ci_high),
            pp(c.cum_incidence, c.ci_low, c.ci_high),
            d.map_or("–".into(), |d| pp(d.difference, d.ci_low, d.ci_high)
                .replace('%', " pp")),
        );
    }
    chi_square(
        s,
        "Log-rank",
        sp.km.log_rank,
        "No completed spells: no log-rank test.",
    );
}

/// A paragraph with a chi-square test, or `missing` when it is undefined.
fn chi_square(s: &mut String, name: &str, test: Option<ChiSquare>, missing: &str) {
    match test {
        Some(t) => {
            let _ = writeln!(
                s,
                "\n{name} chi-square {:.2} ({} df), {}.\n",
                t.statistic,
                t.df,
                p_is(Some(t.p_value))
            );
        }
        None => {
            let _ = writeln!(s, "\n{missing}\n");
        }
    }
}

/// What the outcome's values are, for headings.
fn unit_label(unit: Unit) -> &'static str {
    match unit {
        Unit::Share => "share of persons",
        Unit::Hours => "ordinary hours per week",
        Unit::CumulativeHours => "hours since referral",
        Unit::Weeks => "weeks since referral",
    }
}

/// A mean (`difference = false`: a share as a percentage) or a difference
/// (percentage points); hours also as hours and minutes.
fn value(unit: Unit, x: Option<f64>, difference: bool) -> String {
    let Some(x) = x else { return "–".into() };
    match unit {
        Unit::Share if difference => format!("{:.1} pp", 100.0 * x),
        Unit::Share => format!("{:.1}%", 100.0 * x),
        Unit::Hours | Unit::CumulativeHours => format!("{x:.2} ({})", hours_minutes(x)),
        Unit::Weeks => format!("{x:.2}"),
    }
}

fn interval(unit: Unit, lo: f64, hi: f64) -> String {
    match unit {
        Unit::Share => format!("[{:.1}, {:.1}] pp", 100.0 * lo, 100.0 * hi),
        _ => format!("[{lo:.2}, {hi:.2}]"),
    }
}

/// Hours as `1 h 55 min` (rounded to the minute; `−` for negative values).
pub fn hours_minutes(hours: f64) -> String {
    if !hours.is_finite() {
        return "–".into();
    }
    let minutes = (hours.abs() * 60.0).round() as u64;
    let sign = if hours < 0.0 && minutes > 0 {
        "−"
    } else {
        ""
    };
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{sign}{m} min"),
        (h, 0) => format!("{sign}{h} h"),
        (h, m) => format!("{sign}{h} h {m} min"),
    }
}

/// A p-value for a table: `<0.001`, `0.123` or `–`.
pub(crate) fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "–".into(),
    }
}

/// `p = 0.123`, `p < 0.001` or `p undefined`.
fn p_is(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {p:.3}"),
        None => "p undefined".into(),
    }
}

/// A number with `digits` decimals, `–` when missing.
pub(crate) fn number(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |x| format!("{x:.digits$}"))
}

/// `0.95` → `95%`.
fn pct_label(level: Level) -> String {
    format!("{}%", trim(100.0 * level.get(), 2))
}

impl Balance {
    /// A balance table in the style of a trial report (Markdown): mean (sd)
    /// or share per arm, difference, SMD and p, then the joint test.
    pub fn to_markdown(&self) -> String {
        let (num, p) = (number, p_value);
        let mut s = String::from(
            "| Covariate | Treatment | Control | Difference | SMD | p |\n|---|---:|---:|---:|---:|---:|\n",
        );
        for r in &self.rows {
            let missing = r.missing_treat + r.missing_control;
            let note = if missing > 0 {
                format!(" ({missing} missing)")
            } else {
                String::new()
            };
            let line = match (&r.level, r.test) {
                (Some(level), _) => format!(
                    "| {} = {level} | {}% | {}% | {} pp | {} | {} |",
                    r.covariate,
                    num(r.mean_treat.map(|x| 100.0 * x), 1),
                    num(r.mean_control.map(|x| 100.0 * x), 1),
                    num(r.diff.map(|x| 100.0 * x), 1),
                    num(r.smd, 3),
                    if r.test.is_some() {
                        p(r.p_value)
                    } else {
                        String::new()
                    },
                ),
                (None, Some("chi-square")) => format!(
                    "| {}{note} | n = {} | n = {} | | | {} |",
                    r.covariate,
                    r.n_treat,
                    r.n_control,
                    p(r.p_value)
                ),
                // A categorical covariate of a clustered design: its levels
                // carry the tests.
                (None, None) => format!(
                    "| {}{note} | n = {} | n = {} | | | |",
                    r.covariate, r.n_treat, r.n_control
                ),
                _ => format!(
                    "| {}{note} | {} ({}) | {} ({}) | {} | {} | {} |",
                    r.covariate,
                    num(r.mean_treat, 2),
                    num(r.sd_treat, 2),
                    num(r.mean_control, 2),
                    num(r.sd_control, 2),
                    num(r.diff, 2),
                    num(r.smd, 3),
                    p(r.p_value)
                ),
            };
            s.push_str(&line);
            s.push('\n');
        }
        let j = &self.joint;
        let _ = write!(
            s,
            "\nJoint test (OLS of treatment on all covariates{}, n = {}{}): ",
            if j.block_effects {
                ", block fixed effects"
            } else {
                ""
            },
            j.n[0] + j.n[1],
            j.clusters.map_or(String::new(), |g| format!(
                "; cluster-robust Wald F over {g} clusters"
            )),
        );
        match (j.f, j.df1, j.df2) {
            (Some(f), Some(d1), Some(d2)) => {
                let _ = writeln!(s, "F({d1}, {d2}) = {f:.3}, p = {}", p(j.p_value));
            }
            _ => {
                let _ = writeln!(s, "undefined ({})", j.note.as_deref().unwrap_or("–"));
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_minutes() {
        assert_eq!(hours_minutes(1.0 + 55.0 / 60.0), "1 h 55 min");
        assert_eq!(hours_minutes(0.75), "45 min");
        assert_eq!(hours_minutes(2.0), "2 h");
        assert_eq!(hours_minutes(-0.5), "−30 min");
        assert_eq!(hours_minutes(-0.001), "0 min");
        assert_eq!(hours_minutes(f64::NAN), "–");
    }

    #[test]
    fn levels_print_without_trailing_zeros() {
        assert_eq!(pct_label(Level::default()), "95%");
        assert_eq!(pct_label(Level::new(0.975).unwrap()), "97.5%");
        assert_eq!(trim(20.0, 1), "20");
    }
}
