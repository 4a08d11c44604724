//! A register-scale run: simulate a trial of a given size straight into a
//! panel, run the analysis stages, and print the wall time of each stage
//! and the peak memory.
//!
//! ```text
//! cargo run --release --example large_register [PERSONS] [OUTPUT_DIR]
//! cargo run --release --example large_register -- files PERSONS DIR
//! ```
//!
//! `files` writes the same trial to DIR as files (`persons.csv`,
//! `codes.csv`, a long `register_long.parquet` in row groups of 50,000
//! persons, and `analysis.toml` running the five outcomes, the spell and
//! balance), unless DIR already has them, and then times, in this one
//! process, polars' bare `read_parquet` of the register against
//! trialpanel's streaming load of it into the panel: the ratio that
//! BENCHMARKS.md quotes. `trialpanel run DIR/analysis.toml` is then the
//! end-to-end run.
//!
//! PERSONS defaults to 1,000,000 (accepts `100k`, `1M`, `5M`); OUTPUT_DIR
//! to `output/large_register`. The scenario (104 event weeks, 98
//! municipalities, five outcomes, the 13-week spell, ten balance
//! covariates) is `trialpanel::simulate::scale`, the one the benchmarks
//! measure; BENCHMARKS.md has the results on a 2-core machine. Writes
//! `effects.csv` and `balance.csv`. Peak memory is the process's high-water
//! resident set (VmHWM, Linux only).

use std::path::PathBuf;
use std::time::Instant;

use trialpanel::balance;
use trialpanel::effects::{self, BandOptions};
use trialpanel::simulate::{self, scale};
use trialpanel::spell;
use trialpanel::sums::WeeklySums;
use trialpanel::{Design, Outcome};

// Batches allocate and free large buffers; the system allocator returns
// them to the kernel, which zeroes fresh pages for the next batch.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1).peekable();
    if args.peek().map(String::as_str) == Some("files") {
        args.next();
        let persons = args
            .next()
            .and_then(|a| parse_size(&a))
            .ok_or("files: give PERSONS such as 1M")?;
        let dir = PathBuf::from(args.next().ok_or("files: give DIR")?);
        return files(persons, &dir);
    }
    let persons = match args.next() {
        Some(a) => parse_size(&a).ok_or_else(|| {
            format!("PERSONS: expected a number such as 1000000 or 1M, got `{a}`")
        })?,
        None => 1_000_000,
    };
    let dir = PathBuf::from(
        args.next()
            .unwrap_or_else(|| "output/large_register".into()),
    );
    std::fs::create_dir_all(&dir)?;
    let mut clock = Stages::default();

    let panel = simulate::simulate_panel(&scale::config(persons), scale::EVENT_WEEKS)?;
    clock.stage("simulate into the panel");
    let weeks = panel.event_weeks().count();
    let person_weeks = panel.n_persons() * weeks;
    println!(
        "panel: {} persons × {weeks} event weeks; core {:.2} GB, {:.1} bytes per person-week",
        panel.n_persons(),
        panel.core_bytes() as f64 / 1e9,
        panel.core_bytes() as f64 / person_weeks as f64
    );

    let mut total = 0u64;
    for k in panel.event_weeks() {
        total += panel
            .categories(k)
            .map_or(0, |c| c.iter().map(|&x| u64::from(x)).sum::<u64>());
        total += panel
            .centihours(k)
            .map_or(0, |h| h.iter().map(|&x| u64::from(x)).sum::<u64>());
    }
    clock.stage(&format!("one pass over the panel bytes (checksum {total})"));

    let design = Design::default().blocked(true);
    let mut outcomes = scale::outcomes();
    outcomes.push(Outcome::spell(scale::spell_rule()));
    let weekly = WeeklySums::of(&panel, &outcomes, scale::EFFECT_WEEKS)?.effects(&design)?;
    clock.stage("weekly effects: five outcomes + spell indicator");

    let completions = spell::completions(&panel, &scale::spell_rule())?;
    let km = spell::time_to_spell(&completions, design.level)?;
    clock.stage("spell completions and Kaplan–Meier");

    let balance = balance::balance(&panel, &scale::balance_spec())?;
    clock.stage("balance, 10 covariates + joint test");

    let employed = Outcome::employed(0.0).evaluate(&panel, scale::EFFECT_WEEKS)?;
    let employed_effects = effects::weekly_effects(&employed, &Design::default())?;
    let band = effects::simultaneous_band(&employed, &employed_effects, &BandOptions::default())?;
    drop(employed);
    clock.stage("simultaneous band of `employed` (100k draws)");

    effects::write_effects_csv(&weekly, dir.join("effects.csv"))?;
    balance.write_csv(dir.join("balance.csv"))?;
    clock.stage("write effects.csv and balance.csv");

    println!();
    for e in &weekly {
        if let Some(r) = e.week(26) {
            let est = &r.estimate;
            println!(
                "{:<20} week 26: {:>9.4} vs {:>9.4}, effect {:>8.4} (95% CI {:.4} to {:.4})",
                e.outcome,
                est.mean_treat.unwrap_or(f64::NAN),
                est.mean_control.unwrap_or(f64::NAN),
                est.effect.unwrap_or(f64::NAN),
                est.ci_low.unwrap_or(f64::NAN),
                est.ci_high.unwrap_or(f64::NAN),
            );
        }
    }
    println!(
        "band critical value {:.3}; log-rank p {}; joint balance p {}",
        band.critical_value.unwrap_or(f64::NAN),
        km.log_rank
            .map_or("–".into(), |t| format!("{:.3}", t.p_value)),
        balance
            .joint
            .p_value
            .map_or("–".into(), |p| format!("{p:.3}")),
    );
    clock.report(&dir);
    Ok(())
}

/// Write the trial's files (if missing) and time polars' bare read of the
/// register against trialpanel's load of it.
fn files(persons: usize, dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use polars::prelude::{ParquetReader, SerReader};
    use trialpanel::{CodeTable, LongColumns, Panel, Persons};

    let register = dir.join("register_long.parquet");
    if !register.exists() {
        let start = Instant::now();
        simulate::write_register(&scale::config(persons), dir, 50_000)?;
        eprintln!(
            "wrote {} in {:.1} s",
            dir.display(),
            start.elapsed().as_secs_f64()
        );
    }
    std::fs::write(dir.join("analysis.toml"), ANALYSIS)?;
    let size = std::fs::metadata(&register)?.len();

    let start = Instant::now();
    let df = ParquetReader::new(std::fs::File::open(&register)?).finish()?;
    let polars = start.elapsed().as_secs_f64();
    let rows = df.height();
    drop(df);

    let start = Instant::now();
    let people = Persons::read(dir.join("persons.csv"), &simulate::person_spec())?;
    let codes = CodeTable::read(dir.join("codes.csv"))?;
    let tables = start.elapsed().as_secs_f64();
    let start = Instant::now();
    let panel = Panel::builder(&people, &codes)
        .first_event_week(*scale::EVENT_WEEKS.start())
        .long_file(&register, &LongColumns::default())?;
    let load = start.elapsed().as_secs_f64();
    println!(
        "register: {rows} rows, {:.0} MB; panel {} persons × {} weeks",
        size as f64 / 1e6,
        panel.n_persons(),
        panel.event_weeks().count()
    );
    println!("polars read_parquet (whole frame):       {polars:>6.2} s");
    println!("trialpanel person and code tables:       {tables:>6.2} s");
    println!("trialpanel register → panel (streamed):  {load:>6.2} s");
    println!(
        "ratio, trialpanel load / polars read:    {:>6.2}",
        load / polars
    );
    println!(
        "run it: trialpanel run {}",
        dir.join("analysis.toml").display()
    );
    Ok(())
}

/// The analysis of the benchmark scenario: five outcomes, the spell and
/// balance with history covariates, as `trialpanel run` takes it.
const ANALYSIS: &str = r#"# Written by `large_register files`: the register-scale scenario.
title = "Register-scale benchmark (SYNTHETIC data)"
output = "output"

[inputs]
persons = "persons.csv"
codes = "codes.csv"
register = "register_long.parquet"

[persons]
block = "municipality"
covariates = ["age", "female", "education", "children"]

[weeks]
first = 0
last = 77

[design]
blocked = true

[[outcomes]]
kind = "work_placement"

[[outcomes]]
kind = "any_benefit"

[[outcomes]]
kind = "hours"

[[outcomes]]
kind = "employed"

[[outcomes]]
kind = "employed"
cumulative = true

[[outcomes]]
kind = "spell"

[balance]
covariates = ["age", "female", "education", "children"]

[[balance.history]]
outcome = "any_benefit"
weeks = 26

[[balance.history]]
outcome = "employed"
weeks = 26

[[balance.history]]
outcome = "hours"
weeks = 26
"#;

/// `1000000`, `100k`, `1M`, `5M`.
fn parse_size(text: &str) -> Option<usize> {
    let t = text.trim();
    let (digits, factor) = match t.chars().last()? {
        'k' | 'K' => (&t[..t.len() - 1], 1_000),
        'm' | 'M' => (&t[..t.len() - 1], 1_000_000),
        _ => (t, 1),
    };
    digits
        .replace('_', "")
        .parse::<usize>()
        .ok()?
        .checked_mul(factor)
}

/// Wall time per stage.
struct Stages {
    start: Instant,
    last: Instant,
    rows: Vec<(String, f64)>,
}

impl Default for Stages {
    fn default() -> Stages {
        let now = Instant::now();
        Stages {
            start: now,
            last: now,
            rows: Vec::new(),
        }
    }
}

impl Stages {
    fn stage(&mut self, name: &str) {
        let now = Instant::now();
        self.rows
            .push((name.to_string(), (now - self.last).as_secs_f64()));
        eprintln!("… {name}: {:.2} s", (now - self.last).as_secs_f64());
        self.last = now;
    }

    fn report(&self, dir: &std::path::Path) {
        println!("\n{:<55} {:>9}", "stage", "wall (s)");
        for (name, secs) in &self.rows {
            println!("{name:<55} {secs:>9.2}");
        }
        println!(
            "{:<55} {:>9.2}",
            "total",
            (self.last - self.start).as_secs_f64()
        );
        match peak_memory_kb() {
            Some(kb) => println!("peak memory (VmHWM): {:.2} GB", kb as f64 * 1024.0 / 1e9),
            None => println!("peak memory: unavailable (needs /proc/self/status)"),
        }
        println!("tables written to {}", dir.display());
    }
}

/// The high-water resident set in kB, from /proc/self/status.
fn peak_memory_kb() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}
