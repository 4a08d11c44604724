//! The JobFirst-like analysis on the bundled synthetic sample.
//!
//! ```text
//! cargo run --release --example jobfirst [OUTPUT_DIR]
//! ```
//!
//! Runs `data-samples/jobfirst/analysis.toml` through the library, exactly
//! what `trialpanel run data-samples/jobfirst/analysis.toml` does: reads the
//! person table, code table and long register, aligns everyone on their
//! referral week with follow-up censoring at the extract, and estimates the
//! weekly effects of eight outcomes over event weeks 0–44 (with the
//! simultaneous band, a randomisation test and site heterogeneity for
//! employment), the hours descriptives at week 35, the Kaplan–Meier view of
//! the 13-week activity spell and the balance table; and the delivery half
//! from the synthetic case-management log and staff survey: process
//! indicators per municipality, survey fidelity, their traffic lights,
//! site-level correlations and the cost per effect. Writes `report.md`,
//! `effects.csv`, `balance.csv`, `spell_km.csv`, `process.csv`,
//! `fidelity.csv`, `cost.csv`, `results.json`, `report.html` (the same
//! report in one self-contained file) and `figures/*.svg` (among
//! them `fidelity_lights.svg`) to OUTPUT_DIR (default `output/jobfirst`),
//! and prints a short summary with the fidelity overview.

use std::path::Path;

use trialpanel::Arm;
use trialpanel::analysis::Analysis;
use trialpanel::report::Overview;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut analysis = Analysis::from_file(root.join("data-samples/jobfirst/analysis.toml"))?;
    if let Some(dir) = std::env::args().nth(1) {
        analysis = analysis.with_output_dir(dir);
    }
    let results = analysis.run_with_progress(|step| eprintln!("… {step}"), None)?;
    let dir = analysis.output_dir();
    let written = results.write(&dir)?;

    let t = &results.trial;
    println!("{}", results.title);
    println!(
        "{} persons ({} treated, {} controls) in {} municipalities; referrals {} to {}; extract {}",
        t.persons.treatment + t.persons.control,
        t.persons.treatment,
        t.persons.control,
        t.blocks.len(),
        t.referral_first,
        t.referral_last,
        t.observed_until,
    );
    println!();
    let k = results.detail_week;
    println!("Week {k}: treatment vs control, effect (95% CI); first week significant (p < 0.05)");
    for o in &results.outcomes {
        let Some(w) = o.effects.week(k) else { continue };
        let e = &w.estimate;
        let num = |x: Option<f64>| x.map_or("–".into(), |x| format!("{x:.3}"));
        println!(
            "  {:<22} {:>7} vs {:>7}  {:>7} [{}, {}]  {}",
            o.effects.outcome,
            num(e.mean_treat),
            num(e.mean_control),
            num(e.effect),
            num(e.ci_low),
            num(e.ci_high),
            o.significant
                .pointwise
                .first()
                .map_or("never".into(), |k| format!("week {k}")),
        );
    }
    if let Some(sp) = &results.spell {
        let at = |arm: Arm| {
            sp.km.curves[arm as usize]
                .iter()
                .find(|r| r.week == k)
                .map_or("–".into(), |r| format!("{:.1}%", 100.0 * r.cum_incidence))
        };
        println!(
            "  Kaplan–Meier: a {}-week spell completed by week {k}: {} vs {}",
            sp.rule.min_weeks,
            at(Arm::Treatment),
            at(Arm::Control)
        );
    }
    let j = &results.balance.joint;
    if let (Some(f), Some(p)) = (j.f, j.p_value) {
        println!(
            "  Balance: joint F = {f:.3}, p = {p:.3} (no sign of failed randomisation if p is large)"
        );
    }
    if let Some(o) = Overview::of(&results) {
        println!();
        println!(
            "Fidelity overview (treatment arm; survey: last wave; ? = interval crosses a threshold):"
        );
        let width = o.sites.iter().map(String::len).max().unwrap_or(0);
        for (j, measure) in o.measures.iter().enumerate() {
            println!("  [{}] {measure}", j + 1);
        }
        let head: Vec<String> = (1..=o.measures.len())
            .map(|j| format!("{:>7}", format!("[{j}]")))
            .collect();
        println!("  {:width$} {}", "", head.join(""));
        for (site, cells) in o.sites.iter().zip(&o.cells) {
            let cells: Vec<String> = cells
                .iter()
                .map(|c| {
                    c.map_or(format!("{:>7}", "–"), |c| {
                        let light = &c.light.name()[..1].to_uppercase();
                        format!(
                            "{:>7}",
                            format!(
                                "{:.0}{light}{}",
                                100.0 * c.share,
                                if c.uncertain { "?" } else { "" }
                            )
                        )
                    })
                })
                .collect();
            println!("  {site:width$} {}", cells.join(""));
        }
        println!("  (H high ≥ 80%, M middle ≥ 70%, L low; synthetic data)");
    }
    if let Some(c) = &results.cost {
        for p in &c.per {
            let said = match (p.quadrant, p.ratio) {
                (Some(q), Some(r)) => format!("{}, {:.0} {}", q.describe(), r.abs(), q.per_unit()),
                _ => "no ratio (no effect or undefined)".into(),
            };
            println!("  {} (weeks 0–{}): {said}", p.outcome, c.through);
        }
    }
    println!();
    println!(
        "Wrote {} files to {}; start with {}",
        written.len(),
        dir.display(),
        dir.join("report.html").display()
    );
    Ok(())
}
