//! The delivery sections: process indicators, staff-survey fidelity, the
//! fidelity overview of traffic lights, site-level correlations and the
//! cost per effect.

use std::fmt::{self, Write as _};

use crate::estimators::{CostEffects, Fidelity};
use crate::inputs::{Arm, SurveyJoin};
use crate::report::Overview;
use crate::report::numbers::*;
use crate::results::Results;
use crate::stats::{Fieller, Level, Light};

/// The process indicators: per site, the share meeting each with its
/// Wilson interval and traffic light, per arm.
pub(super) fn process(s: &mut String, r: &Results) -> fmt::Result {
    let b = &r.config.bands;
    writeln!(
        s,
        "## Process indicators\n\nShares of the persons judged that meet each indicator, with \
         {} Wilson intervals; lights: high ≥ {:.0}%, middle ≥ {:.0}%, low below; `?` marks a \
         light whose interval crosses a threshold.\n",
        pct_label(r.config.design.level),
        100.0 * b.high,
        100.0 * b.low
    )?;
    if let Some(e) = &r.events {
        writeln!(
            s,
            "The event log covers weeks {} to {} ({} events); a person is judged by its rules \
             when referred in those weeks and followed long enough in them.\n",
            e.first_week, e.last_week, e.events
        )?;
    }
    for (rule, t) in r.config.process.iter().zip(&r.process) {
        writeln!(s, "`{}`: {}.\n", rule.name(), rule.describe())?;
        let mut indicators: Vec<&str> = t.rows.iter().map(|x| x.indicator.as_str()).collect();
        indicators.dedup();
        for indicator in indicators {
            let rows: Vec<_> = t.rows.iter().filter(|x| x.indicator == indicator).collect();
            writeln!(
                s,
                "| `{indicator}` | Treatment | Control | Both |\n|---|---:|---:|---:|"
            )?;
            let mut sites: Vec<&str> = rows.iter().map(|x| x.site.as_str()).collect();
            sites.dedup();
            for site in sites {
                let cell = |arm: Option<Arm>| {
                    rows.iter()
                        .find(|x| x.site == site && x.arm == arm)
                        .and_then(|x| x.share.map(|sh| (sh, x.light, x.uncertain)))
                        .map_or("– (none judged)".into(), |(sh, light, uncertain)| {
                            let interval = match sh.interval() {
                                Some((low, high)) => {
                                    format!("[{:.1}, {:.1}]", 100.0 * low, 100.0 * high)
                                }
                                None => "(no interval: one person)".into(),
                            };
                            format!(
                                "{:.1}% {interval} {}{} (n = {})",
                                100.0 * sh.share,
                                light.map_or("", |l| l.name()),
                                if uncertain { "?" } else { "" },
                                sh.n
                            )
                        })
                };
                writeln!(
                    s,
                    "| {} | {} | {} | {} |",
                    label(site),
                    cell(Some(Arm::Treatment)),
                    cell(Some(Arm::Control)),
                    cell(None)
                )?;
            }
            s.push('\n');
        }
    }
    Ok(())
}

/// A share with its interval, in percent, and its light.
fn lit(share: f64, interval: Option<(f64, f64)>, light: Option<Light>, uncertain: bool) -> String {
    let interval = match interval {
        Some((low, high)) => format!("[{:.0}, {:.0}]", 100.0 * low, 100.0 * high),
        None => "(no interval: one respondent)".into(),
    };
    format!(
        "{:.0}% {interval} {}{}",
        100.0 * share,
        light.map_or("", Light::name),
        if uncertain { "?" } else { "" }
    )
}

/// What the survey's joins matched: the trial's sites with answers and the
/// site-waves with an invited count, and the rows left out unmatched.
fn joined(s: &mut String, j: &SurveyJoin) -> fmt::Result {
    let mut parts = Vec::new();
    if let Some((answered, sites)) = j.trial_sites {
        parts.push(format!(
            "{answered} of the trial's {sites} sites have answers{}",
            match j.answers_left_out {
                0 => String::new(),
                n => format!(" ({n} answers of sites the trial lacks left out)"),
            }
        ));
    }
    if let Some((counted, all)) = j.invited {
        parts.push(format!(
            "{counted} of the survey's {all} site-waves have an invited count{}",
            match j.invited_left_out {
                0 => String::new(),
                n => format!(" ({n} invited rows of sites the survey lacks left out)"),
            }
        ));
    }
    if parts.is_empty() {
        return Ok(());
    }
    writeln!(s, "Joined by site label: {}.\n", parts.join("; "))
}

/// The staff survey: each element per site in the last wave with the change
/// since the first, and the response rates.
pub(super) fn survey(s: &mut String, r: &Results, f: &Fidelity) -> fmt::Result {
    let waves: Vec<u32> = {
        let mut w: Vec<u32> = f.rows.iter().map(|x| x.wave).collect();
        w.sort_unstable();
        w.dedup();
        w
    };
    let (Some(&first), Some(&last)) = (waves.first(), waves.last()) else {
        return Ok(());
    };
    writeln!(
        s,
        "## Fidelity from the staff survey

Share answering in the top {} of the {} answers (`{}` and above) per core element, the mean of its items' shares, with {} intervals (Wilson for one item; respondents as clusters for several); waves {}. The change is from wave {first} to wave {last}, in percentage points with Newcombe's (MOVER) interval. `fidelity.csv` has every item, site and wave.\n",
        r.config.survey.as_ref().map_or(0, |x| x.top),
        r.config.survey.as_ref().map_or(0, |x| x.scale.len()),
        r.config
            .survey
            .as_ref()
            .and_then(|x| x.scale.get(x.scale.len() - x.top))
            .map_or("", String::as_str),
        pct_label(r.config.design.level),
        waves.iter().map(u32::to_string).collect::<Vec<_>>().join(", ")
    )?;
    joined(s, &f.join)?;
    writeln!(
        s,
        "| Element | Site | Wave {last} | n | Change since wave {first} |\n|---|---|---:|---:|---:|"
    )?;
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
            lit(l.share, l.interval(), row.light, row.uncertain)
        });
        writeln!(
            s,
            "| {} | {} | {level} | {} | {change} |",
            row.element,
            label(&row.site),
            row.n
        )?;
    }
    s.push('\n');
    if !f.response.is_empty() {
        writeln!(
            s,
            "Response rates:\n\n| Site | Wave | Invited | Respondents | Rate |\n|---|---:|---:|---:|---:|"
        )?;
        for x in &f.response {
            writeln!(
                s,
                "| {} | {} | {} | {} | {} |",
                label(&x.site),
                x.wave,
                x.invited,
                x.respondents,
                x.rate.map_or("–".into(), |v| format!("{:.0}%", 100.0 * v))
            )?;
        }
        s.push('\n');
    }
    Ok(())
}

/// The fidelity overview: sites × measures with their lights.
pub(super) fn overview(s: &mut String, r: &Results, o: &Overview) -> fmt::Result {
    let b = &r.config.bands;
    writeln!(
        s,
        "## Fidelity overview\n\nTreatment-arm shares of each process indicator and the survey elements in the last wave, per site: high ≥ {:.0}%, middle ≥ {:.0}%, low below; `?` marks a site whose {} interval crosses a threshold.\n",
        100.0 * b.high,
        100.0 * b.low,
        pct_label(r.config.design.level)
    )?;
    writeln!(s, "| Site | {} |", o.measures.join(" | "))?;
    writeln!(s, "|---|{}", "---:|".repeat(o.measures.len()))?;
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
        writeln!(s, "| {} | {} |", label(site), cells.join(" | "))?;
    }
    if r.config.report.figures {
        writeln!(
            s,
            "\n![fidelity overview](figures/{})",
            crate::report::figures::LIGHTS_FILE
        )?;
    }
    s.push('\n');
    Ok(())
}

/// Correlations of site measures, with the caveat they need.
pub(super) fn correlations(s: &mut String, r: &Results) -> fmt::Result {
    writeln!(
        s,
        "## Site-level correlations\n\nThese are associations across a few sites, not effects: a site that delivers more may differ in many other ways, and with n sites one or two can drive r. Pearson's r with its Fisher-z {level} interval and t-test p, and Spearman's ρ.\n\n| x | y | Sites | Pearson r [{level} CI] | p | Spearman ρ |\n|---|---|---:|---:|---:|---:|",
        level = pct_label(r.config.design.level)
    )?;
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
        writeln!(
            s,
            "| `{}` | `{}` | {} | {pearson} | {p} | {rho} |",
            c.x,
            c.y,
            c.sites.len()
        )?;
    }
    s.push('\n');
    if r.config.report.figures {
        for (i, c) in r.correlations.iter().enumerate() {
            if !c.sites.is_empty() {
                writeln!(
                    s,
                    "![`{}` against `{}` across sites](figures/{})\n",
                    c.y,
                    c.x,
                    crate::report::figures::correlation_file(i)
                )?;
            }
        }
    }
    Ok(())
}

/// The cost per effect.
pub(super) fn cost(s: &mut String, c: &CostEffects, level: Level) -> fmt::Result {
    let money = |x: Option<f64>| x.map_or("–".into(), |v| format!("{v:.0}"));
    let e = &c.cost;
    writeln!(
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
    )?;
    if c.per.is_empty() {
        return Ok(());
    }
    writeln!(
        s,
        "| Outcome | Extra units per person [{level} CI] | Cost per extra unit | {level} Fieller interval |\n|---|---:|---:|---|",
        level = pct_label(level)
    )?;
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
        writeln!(
            s,
            "| {} | {} [{}, {}] | {} | {interval} |",
            p.outcome,
            number(p.effect.effect, 2),
            number(p.effect.ci_low, 2),
            number(p.effect.ci_high, 2),
            money(p.ratio)
        )?;
    }
    writeln!(
        s,
        "\nA negative cost per extra unit is a saving: the programme costs less and achieves more. Units: weeks in the state over weeks 0–{}, or a spell completed by week {}.\n",
        c.through, c.through
    )?;
    Ok(())
}
