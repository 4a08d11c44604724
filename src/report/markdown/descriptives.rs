//! The descriptive sections: hours among those working and their
//! distribution, and the Kaplan–Meier summary of the spell.

use std::fmt::{self, Write as _};

use crate::config::Unit;
use crate::inputs::Arm;
use crate::report::numbers::*;
use crate::results::{HoursResults, Results, SpellResults};
use crate::stats::ChiSquare;

pub(super) fn hours(s: &mut String, r: &Results, h: &HoursResults) -> fmt::Result {
    let w = &h.among_working;
    writeln!(s, "## Hours at week {}\n", h.week)?;
    writeln!(
        s,
        "Mean ordinary hours of those working (hours > 0): treatment {} (n = {}), control {} \
         (n = {}); difference {} (Welch {}).\n",
        value(Unit::Hours, w.mean_treat, false),
        w.n_treat,
        value(Unit::Hours, w.mean_control, false),
        w.n_control,
        value(Unit::Hours, w.effect, true),
        p_is(w.p_value)
    )?;
    if r.config.report.figures {
        writeln!(
            s,
            "![distribution of positive hours at week {} by arm](figures/{})\n",
            h.week,
            crate::report::figures::HOURS_FILE
        )?;
    }
    let d = &h.distribution;
    writeln!(s, "| Hours | Treatment | Control |\n|---|---:|---:|")?;
    let (st, sc) = (d.shares(Arm::Treatment), d.shares(Arm::Control));
    for (i, bucket) in d.buckets.iter().enumerate() {
        let cell = |arm: Arm, share: Option<f64>| {
            format!(
                "{} ({})",
                d.counts[arm as usize][i],
                share.map_or("–".into(), |x| format!("{}%", fixed(100.0 * x, 1)))
            )
        };
        writeln!(
            s,
            "| {bucket} | {} | {} |",
            cell(Arm::Treatment, st[i]),
            cell(Arm::Control, sc[i])
        )?;
    }
    chi_square(
        s,
        "Pearson",
        d.test,
        "Too few persons working for a chi-square test.",
    )
}

pub(super) fn spell(s: &mut String, r: &Results, sp: &SpellResults) -> fmt::Result {
    let rule = &sp.rule;
    writeln!(s, "## Time to a completed spell (`{}`)\n", sp.outcome)?;
    let hours = rule
        .hours_threshold
        .map_or(String::new(), |t| format!(" or hours above {}", trim(t, 2)));
    writeln!(
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
    )?;
    if r.config.report.figures {
        writeln!(
            s,
            "![Kaplan–Meier cumulative incidence of a completed spell by arm](figures/{})\n",
            crate::report::figures::KM_FILE
        )?;
    }
    writeln!(
        s,
        "| Week | Treatment | Control | Difference |\n|---:|---:|---:|---:|"
    )?;
    let pp = |x: f64, lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
        (Some(lo), Some(hi)) => format!(
            "{}% [{}, {}]",
            fixed(100.0 * x, 1),
            fixed(100.0 * lo, 1),
            fixed(100.0 * hi, 1)
        ),
        _ => format!("{}%", fixed(100.0 * x, 1)),
    };
    for &k in &r.snapshot {
        let curve = |arm: Arm| sp.km.curves[arm as usize].iter().find(|row| row.week == k);
        let (Some(t), Some(c)) = (curve(Arm::Treatment), curve(Arm::Control)) else {
            continue;
        };
        let d = sp.km.difference.iter().find(|d| d.week == k);
        writeln!(
            s,
            "| {k} | {} | {} | {} |",
            pp(t.cum_incidence, t.ci_low, t.ci_high),
            pp(c.cum_incidence, c.ci_low, c.ci_high),
            d.map_or("–".into(), |d| pp(d.difference, d.ci_low, d.ci_high)
                .replace('%', " pp")),
        )?;
    }
    chi_square(
        s,
        "Log-rank",
        sp.km.log_rank,
        "No completed spells: no log-rank test.",
    )
}

/// A paragraph with a chi-square test, or `missing` when it is undefined.
fn chi_square(s: &mut String, name: &str, test: Option<ChiSquare>, missing: &str) -> fmt::Result {
    match test {
        Some(t) => {
            writeln!(
                s,
                "\n{name} chi-square {:.2} ({} df), {}.\n",
                t.statistic,
                t.df,
                p_is(Some(t.p_value))
            )?;
        }
        None => {
            writeln!(s, "\n{missing}\n")?;
        }
    }
    Ok(())
}
