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
                                    format!(
                                        "[{}, {}]",
                                        fixed(100.0 * low, 1),
                                        fixed(100.0 * high, 1)
                                    )
                                }
                                None => "(no interval: one person)".into(),
                            };
                            format!(
                                "{}% {interval} {}{} (n = {})",
                                fixed(100.0 * sh.share, 1),
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
        Some((low, high)) => format!("[{}, {}]", fixed(100.0 * low, 0), fixed(100.0 * high, 0)),
        None => "(no interval: one respondent)".into(),
    };
    format!(
        "{}% {interval} {}{}",
        fixed(100.0 * share, 0),
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
                    "{} pp [{}, {}]",
                    signed(100.0 * d, 0),
                    signed(100.0 * lo, 0),
                    signed(100.0 * hi, 0)
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
                x.rate
                    .map_or("–".into(), |v| format!("{}%", fixed(100.0 * v, 0)))
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
                        "{}% {}{}",
                        fixed(100.0 * c.share, 0),
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
                    (Some(l), Some(h)) => {
                        format!("{} [{}, {}]", fixed(k.pearson, 2), fixed(l, 2), fixed(h, 2))
                    }
                    _ => format!("{} (no interval with n ≤ 3)", fixed(k.pearson, 2)),
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

/// The cost per effect: the costs per arm, and per priced outcome its
/// effect, the incremental cost, the quadrant that says what their ratio
/// means, the ratio in those words and its Fieller interval.
pub(super) fn cost(s: &mut String, c: &CostEffects, level: Level, currency: &str) -> fmt::Result {
    let e = &c.cost;
    writeln!(
        s,
        "## Cost per effect\n\nCost per person over event weeks 0–{} (the weekly unit costs of the code table's categories{}), among the persons followed through week {}: treatment {} (n = {}), control {} (n = {}); incremental cost {} [{}, {}] ({}), {}.\n",
        c.through,
        if c.programme > 0.0 {
            format!(
                ", plus a programme cost of {} per treated person",
                money(Some(c.programme), currency)
            )
        } else {
            String::new()
        },
        c.through,
        money(e.mean_treat, currency),
        e.n_treat,
        money(e.mean_control, currency),
        e.n_control,
        money(e.effect, currency),
        grouped(e.ci_low),
        grouped(e.ci_high),
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
        "| Outcome | Effect per person [{level} CI] | Incremental cost [{level} CI] | Result | Cost per unit | {level} Fieller interval of cost ÷ effect |\n|---|---:|---:|---|---:|---|",
        level = pct_label(level)
    )?;
    for p in &c.per {
        let interval = match p.interval {
            Some(Fieller::Bounded { low, high }) => {
                format!("{} to {}", grouped(Some(low)), grouped(Some(high)))
            }
            Some(Fieller::Outside { low, high }) => format!(
                "unbounded: below {} or above {} (the effect is not clearly different from 0)",
                grouped(Some(low)),
                grouped(Some(high))
            ),
            Some(Fieller::Unbounded) => "unbounded: any value (the data do not bound it)".into(),
            None => "–".into(),
        };
        let unclear = |e: &crate::stats::Estimate| match (e.ci_low, e.ci_high) {
            (Some(l), Some(h)) => l <= 0.0 && 0.0 <= h,
            _ => true,
        };
        let unclear = match (unclear(&p.cost), unclear(&p.effect)) {
            (false, false) => "",
            (true, false) => " (the cost difference is not clearly different from 0)",
            (false, true) => " (the effect is not clearly different from 0)",
            (true, true) => " (neither difference is clearly different from 0)",
        };
        let (result, per_unit) = match (p.quadrant, p.ratio) {
            (Some(q), Some(r)) => (
                format!("{}{unclear}", q.describe()),
                format!("{} {}", money(Some(r.abs()), currency), q.per_unit()),
            ),
            _ if p.effect.effect == Some(0.0) => {
                ("no difference in the outcome".into(), "–".into())
            }
            _ => ("– (undefined)".into(), "–".into()),
        };
        writeln!(
            s,
            "| {} | {} [{}, {}] | {} [{}, {}] | {result} | {per_unit} | {interval} |",
            p.outcome,
            number(p.effect.effect, 2),
            number(p.effect.ci_low, 2),
            number(p.effect.ci_high, 2),
            money(p.cost.effect, currency),
            grouped(p.cost.ci_low),
            grouped(p.cost.ci_high),
        )?;
    }
    writeln!(
        s,
        "\nThe result is read from the point estimates of the incremental cost and the effect: the programme costs more or less, and achieves more or less, than the control arm's services. The cost per unit is their ratio in the result's words (the price of one more unit, the saving per extra unit, the extra cost per unit lost or the saving per unit lost); the Fieller interval is that of the signed ratio cost ÷ effect, negative where the two differ in sign. Where the effect's interval includes 0 the ratio's interval is unbounded and the result may lie in another quadrant. Units: weeks in the state over weeks 0–{}, or a spell completed by week {}; amounts in {currency}.\n",
        c.through, c.through
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::estimators::{CostPer, Quadrant};
    use crate::stats::Estimate;

    /// An estimate of `effect` with its interval.
    fn estimate(effect: f64, low: f64, high: f64) -> Estimate {
        Estimate {
            n_treat: 100,
            n_control: 100,
            effect: Some(effect),
            ci_low: Some(low),
            ci_high: Some(high),
            ..Estimate::default()
        }
    }

    /// The cost section's row of one priced outcome with incremental cost
    /// `dc` and effect `dy` (both clearly different from 0 unless `wide`).
    fn row(dc: f64, dy: f64, wide: bool) -> String {
        let spread = |x: f64| if wide { x.abs() * 2.0 } else { x.abs() / 2.0 };
        let cost = estimate(dc, dc - spread(dc), dc + spread(dc));
        let effect = estimate(dy, dy - spread(dy), dy + spread(dy));
        let c = CostEffects {
            through: 26,
            programme: 0.0,
            blocked: false,
            cost,
            per: vec![CostPer {
                outcome: "y".into(),
                cost,
                effect,
                covariance: 0.0,
                ratio: Some(dc / dy),
                interval: None,
                quadrant: Quadrant::of(Some(dc), Some(dy)),
            }],
        };
        let mut s = String::new();
        cost_section(&mut s, &c);
        s.lines()
            .find(|l| l.starts_with("| y |"))
            .unwrap_or_default()
            .to_string()
    }

    fn cost_section(s: &mut String, c: &CostEffects) {
        cost(s, c, Level::default(), "DKK").unwrap_or_default();
    }

    #[test]
    fn each_cost_quadrant_is_said_in_its_own_words() {
        let more = row(12_000.0, 0.3, false);
        assert!(more.contains("| costs more and achieves more |"), "{more}");
        assert!(more.contains("| 40,000 DKK per extra unit |"), "{more}");
        let dominant = row(-3_000.0, 0.5, false);
        assert!(
            dominant.contains("dominant: costs no more and achieves more"),
            "{dominant}"
        );
        assert!(
            dominant.contains("| 6,000 DKK saved per extra unit |"),
            "{dominant}"
        );
        let dominated = row(14_240.0, -0.35, false);
        assert!(
            dominated.contains("dominated: costs no less and achieves less"),
            "{dominated}"
        );
        assert!(
            dominated.contains("| 40,686 DKK extra per unit lost |"),
            "{dominated}"
        );
        assert!(!dominated.contains("saving"), "{dominated}");
        let less = row(-8_000.0, -0.2, false);
        assert!(less.contains("| costs less and achieves less |"), "{less}");
        assert!(
            less.contains("| 40,000 DKK saved per unit lost |"),
            "{less}"
        );
        // Never a bare negative ratio: the cost-per-unit cell is |Δc/Δy| in words.
        for r in [&more, &dominant, &dominated, &less] {
            let per_unit = r.split('|').nth(5).unwrap_or_default().trim();
            assert!(
                per_unit.ends_with("unit") || per_unit.ends_with("lost"),
                "{r}"
            );
            assert!(!per_unit.starts_with('-'), "{r}");
        }
        // A quadrant read from estimates that are not clearly non-zero says so.
        let unclear = row(14_240.0, -0.35, true);
        assert!(unclear.contains("dominated: costs no less and achieves less (neither difference is clearly different from 0)"), "{unclear}");
    }

    #[test]
    fn quadrants_follow_the_signs_of_cost_and_effect() {
        assert_eq!(
            Quadrant::of(Some(1.0), Some(1.0)),
            Some(Quadrant::MoreForMore)
        );
        assert_eq!(Quadrant::of(Some(0.0), Some(1.0)), Some(Quadrant::Dominant));
        assert_eq!(
            Quadrant::of(Some(-1.0), Some(1.0)),
            Some(Quadrant::Dominant)
        );
        assert_eq!(
            Quadrant::of(Some(0.0), Some(-1.0)),
            Some(Quadrant::Dominated)
        );
        assert_eq!(
            Quadrant::of(Some(1.0), Some(-1.0)),
            Some(Quadrant::Dominated)
        );
        assert_eq!(
            Quadrant::of(Some(-1.0), Some(-1.0)),
            Some(Quadrant::LessForLess)
        );
        assert_eq!(Quadrant::of(Some(1.0), Some(0.0)), None);
        assert_eq!(Quadrant::of(None, Some(1.0)), None);
        assert_eq!(Quadrant::of(Some(f64::NAN), Some(1.0)), None);
    }
}
