//! The JobFirst-like analysis on the bundled synthetic sample.
//!
//! ```text
//! cargo run --release --example jobfirst [OUTPUT_DIR]
//! ```
//!
//! Loads the person table, the code table and the long register from
//! `data-samples/jobfirst/`, aligns everyone on their referral week with
//! follow-up censoring at the data extract, and estimates weekly treatment
//! effects (raw treatment − control differences with 95% Welch CIs, as the
//! JobFirst reports give them) for every outcome over event weeks 0–44. It
//! prints a snapshot at weeks 13, 26, 35 and 44, the simultaneous band and a
//! randomisation test for employment, the hours descriptives at week 35 and
//! the site heterogeneity test, the Kaplan–Meier view of the 13-week
//! activity spell, and the balance table, and writes `effects.csv` (all
//! outcomes, all weeks), `spell_km.csv` and `balance.csv` to OUTPUT_DIR
//! (default `output/jobfirst`).

use std::path::{Path, PathBuf};

use trialpanel::balance::{self, BalanceSpec, HistoryCovariate};
use trialpanel::effects::{
    self, BandOptions, RandomisationOptions, Significance, WeeklyEffects, site_effects,
};
use trialpanel::outcome::{self, DEFAULT_HOURS_BUCKETS};
use trialpanel::spell;
use trialpanel::{
    Arm, CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons, SpellRule,
};

const SNAPSHOT: [i32; 4] = [13, 26, 35, 44];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = root.join("data-samples/jobfirst");
    let out = std::env::args()
        .nth(1)
        .map_or_else(|| root.join("output/jobfirst"), PathBuf::from);
    std::fs::create_dir_all(&out)?;

    let persons = Persons::read(
        dir.join("persons.csv"),
        &PersonSpec::default()
            .block_column("municipality")
            .covariate_columns(&["age", "female", "education", "children"]),
    )?;
    let codes = CodeTable::read(dir.join("codes.csv"))?;
    let panel = Panel::builder(&persons, &codes)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())?;
    println!(
        "Synthetic JobFirst-like sample: {} persons in {} municipalities; register {} to {}",
        panel.n_persons(),
        persons.blocks().labels.len(),
        panel.observed_from(),
        panel.observed_until(),
    );

    let weeks = 0..=44;
    let design = Design::default();
    let outcomes = [
        Outcome::work_placement(),
        Outcome::wage_subsidy(),
        Outcome::any_benefit(),
        Outcome::self_supporting(),
        Outcome::employed(0.0),
        Outcome::hours(),
        Outcome::hours().cumulative(),
        Outcome::spell(SpellRule::default()),
    ];
    let mut all: Vec<WeeklyEffects> = Vec::new();
    for o in &outcomes {
        let values = o.evaluate(&panel, weeks.clone())?;
        let mut weekly = effects::weekly_effects(&values, &design)?;
        if ["employed", "hours", "spell"].contains(&o.name()) {
            let band = effects::simultaneous_band(&values, &weekly, &BandOptions::default())?;
            weekly = weekly.with_band(band);
        }
        all.push(weekly);
    }

    println!();
    println!("Weekly effects, treatment − control (95% CI); n = persons followed that week");
    println!(
        "{:<26} {:>4} {:>11} {:>9} {:>9} {:>9} {:>21} {:>8}",
        "outcome", "week", "n (T/C)", "treat", "control", "effect", "95% CI", "p"
    );
    for weekly in &all {
        for k in SNAPSHOT {
            let Some(r) = weekly.week(k) else { continue };
            let e = &r.estimate;
            println!(
                "{:<26} {:>4} {:>11} {:>9} {:>9} {:>9} {:>21} {:>8}",
                weekly.outcome,
                k,
                format!("{}/{}", e.n_treat, e.n_control),
                num(e.mean_treat),
                num(e.mean_control),
                num(e.effect),
                match (e.ci_low, e.ci_high) {
                    (Some(lo), Some(hi)) => format!("[{lo:.3}, {hi:.3}]"),
                    _ => "–".into(),
                },
                pval(e.p_value),
            );
        }
    }

    println!();
    println!("Significant from week k on, through week 35:");
    for weekly in &all {
        let from = |by| {
            weekly
                .significant_from(by, 35)
                .map_or("never".into(), |k| format!("week {k}"))
        };
        let band = weekly
            .band
            .as_ref()
            .and_then(|b| b.critical_value)
            .map_or(String::new(), |c| {
                format!(
                    "; simultaneous 95% band (c = {c:.2}): from {}",
                    from(Significance::Band)
                )
            });
        println!(
            "{:<26} p < 0.05 from {}; Holm from {}{band}",
            weekly.outcome,
            from(Significance::Pointwise(0.05)),
            from(Significance::Holm(0.05)),
        );
    }

    let employed = Outcome::employed(0.0).evaluate(&panel, weeks.clone())?;
    let ri = effects::randomisation_test(&employed, &design, &RandomisationOptions::default())?;
    println!();
    println!(
        "Randomisation test, employed, {} re-draws: p(max_k |t_k|) = {}; week 35 p = {}",
        ri.draws,
        num(ri.p_max_t),
        num(ri
            .weeks
            .iter()
            .position(|&k| k == 35)
            .and_then(|i| ri.p_values[i])),
    );

    let working = outcome::hours_among_working(&panel, 35, 0.95)?;
    let dist = outcome::hours_distribution(&panel, 35, &DEFAULT_HOURS_BUCKETS)?;
    println!();
    println!(
        "Week 35, hours among those working: treatment {} (n = {}), control {} (n = {})",
        num(working.mean_treat),
        working.n_treat,
        num(working.mean_control),
        working.n_control
    );
    println!("{:>9} {:>10} {:>10}", "hours", "treatment", "control");
    let (st, sc) = (dist.shares(Arm::Treatment), dist.shares(Arm::Control));
    for ((bucket, t), c) in dist.buckets.iter().zip(st).zip(sc) {
        println!("{bucket:>9} {:>10} {:>10}", pct(t), pct(c));
    }
    if let Some(test) = dist.test {
        println!(
            "Pearson chi-square {:.2}, df {}, p = {:.3}",
            test.statistic, test.df, test.p_value
        );
    }

    let sites = site_effects(&employed, &design, 5)?;
    if let Some(h) = sites.heterogeneity.iter().find(|h| h.week == 35) {
        println!();
        println!(
            "Employed at week 35 across {} municipalities: Cochran's Q = {}, p = {} ({} of {} cells suppressed, n < 5)",
            h.sites,
            num(h.test.map(|t| t.statistic)),
            num(h.test.map(|t| t.p_value)),
            sites
                .rows
                .iter()
                .filter(|r| r.week == 35 && r.suppressed)
                .count(),
            sites.rows.iter().filter(|r| r.week == 35).count(),
        );
    }

    // Time to a completed 13-week activity spell: Kaplan–Meier, censored at
    // the end of follow-up (the raw weekly share above can fall because late
    // weeks are seen only for early referrals).
    let completions = spell::completions(&panel, &SpellRule::default())?;
    let km = spell::time_to_spell(&completions, 0.95)?;
    println!();
    println!("13-week activity spell, Kaplan–Meier cumulative incidence (95% CI)");
    println!(
        "{:>4} {:>24} {:>24} {:>24}",
        "week", "treatment", "control", "difference"
    );
    for k in [13, 20, 26, 35, 44] {
        let curve = |arm: Arm| km.curves[arm as usize].iter().find(|r| r.week == k);
        let fmt = |x: f64, lo: Option<f64>, hi: Option<f64>| match (lo, hi) {
            (Some(lo), Some(hi)) => format!("{x:.3} [{lo:.3}, {hi:.3}]"),
            _ => format!("{x:.3}"),
        };
        let (Some(t), Some(c)) = (curve(Arm::Treatment), curve(Arm::Control)) else {
            continue;
        };
        let d = km.difference.iter().find(|d| d.week == k);
        println!(
            "{k:>4} {:>24} {:>24} {:>24}",
            fmt(t.cum_incidence, t.ci_low, t.ci_high),
            fmt(c.cum_incidence, c.ci_low, c.ci_high),
            d.map_or("–".into(), |d| fmt(d.difference, d.ci_low, d.ci_high)),
        );
    }
    if let Some(lr) = km.log_rank {
        println!(
            "Log-rank chi-square {:.1} (1 df), p = {}",
            lr.statistic,
            pval(Some(lr.p_value))
        );
    }

    // Balance: was the randomisation fine?
    let bal = balance::balance(
        &panel,
        &BalanceSpec::default()
            .history(HistoryCovariate::weeks_on_benefit(52))
            .history(HistoryCovariate::weeks_employed(52))
            .history(HistoryCovariate::hours(52)),
    )?;
    println!();
    println!("Balance at referral (baseline covariates and the 52 weeks before referral)");
    println!();
    print!("{}", bal.to_markdown());
    bal.write_csv(out.join("balance.csv"))?;

    let path = out.join("effects.csv");
    effects::write_effects_csv(&all, &path)?;
    let km_path = out.join("spell_km.csv");
    trialpanel::report::write_csv(&mut km.to_frame()?, &km_path)?;
    println!();
    println!(
        "Wrote {}, {} and balance.csv",
        path.display(),
        km_path.display()
    );
    Ok(())
}

fn num(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{x:.3}"))
}

fn pval(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "<0.001".into(),
        other => num(other),
    }
}

fn pct(x: Option<f64>) -> String {
    x.map_or("–".into(), |x| format!("{:.1}%", 100.0 * x))
}
