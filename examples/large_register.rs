//! A register-scale run: simulate a trial of a given size straight into a
//! panel, run the analysis stages, and print the wall time of each stage
//! and the peak memory.
//!
//! ```text
//! cargo run --release --example large_register [PERSONS] [OUTPUT_DIR]
//! cargo run --release --example large_register -- files PERSONS DIR [--csv] [--wide]
//!     [--write-only] [--budget=GB] [--events]
//! ```
//!
//! `files` writes the same trial to DIR as files (`persons.csv`,
//! `codes.csv`, a long `register_long.parquet` in row groups of 8,192
//! persons, and `analysis.toml` running the five outcomes, the spell and
//! balance), unless DIR already has them, and then times, in this one
//! process, polars' bare `read_parquet` of the register against
//! trialpanel's streaming load of it into the panel: the ratio that
//! BENCHMARKS.md quotes. `trialpanel run DIR/analysis.toml` is then the
//! end-to-end run. `--csv` also writes the register as a long CSV
//! (`register_long.csv`, `analysis_csv.toml`); `--wide` as a DREAM-wide CSV
//! of 1,539 week columns from 1991-W01 (`register_wide.csv`,
//! `analysis_wide.toml`): the simulated weeks, and synthetic codes in about
//! 70% of the other weeks so that the file is as dense as a real extract.
//! `--write-only` skips the timing (polars' whole frame of a 5M register
//! takes more memory than the analysis); `--budget=GB` also writes
//! `analysis_budget.toml`, the same analysis with `memory_budget_gb = GB`,
//! which reads a panel larger than GB in parts; `--events` also writes the
//! synthetic case-management log (`events.csv`, about nine events a person)
//! and `analysis_events.toml`, the same analysis with the sample's five
//! process indicators (four from the log, one from the register).
//!
//! PERSONS defaults to 1,000,000 (accepts `100k`, `1M`, `5M`); OUTPUT_DIR
//! to `output/large_register`. The scenario (104 event weeks, 98
//! municipalities, five outcomes, the 13-week spell, ten balance
//! covariates) is `benches/common/scale.rs`, the one the benchmarks
//! measure; BENCHMARKS.md has the results on a 2-core machine. Writes
//! `effects.csv` and `balance.csv`. Peak memory is the process's high-water
//! resident set (VmHWM, Linux only).

#[path = "../benches/common/scale.rs"]
mod scale;

use std::path::PathBuf;
use std::time::Instant;

use trialpanel::estimators::time_to_spell;
use trialpanel::estimators::{self, BandSpec};
use trialpanel::outcome::WeeklySums;
use trialpanel::outcome::completions;
use trialpanel::simulate;
use trialpanel::{Design, Outcome, Table};

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
        let flags: Vec<String> = args.collect();
        files(persons, &dir, !flags.iter().any(|f| f == "--write-only"))?;
        if let Some(gb) = flags.iter().find_map(|f| f.strip_prefix("--budget=")) {
            let gb: f64 = gb.parse().map_err(|_| "--budget=GB needs a number")?;
            std::fs::write(
                dir.join("analysis_budget.toml"),
                ANALYSIS.replace(
                    "[inputs]\n",
                    &format!("[inputs]\nmemory_budget_gb = {gb}\n"),
                ),
            )?;
        }
        if flags.iter().any(|f| f == "--csv") {
            long_csv(&dir)?;
        }
        if flags.iter().any(|f| f == "--events") {
            if !dir.join("events.csv").exists() {
                let start = Instant::now();
                simulate::delivery::write_event_log(
                    &scale::config(persons),
                    &dir,
                    scale::ROW_GROUP_PERSONS,
                )?;
                eprintln!("wrote events.csv in {:.1} s", start.elapsed().as_secs_f64());
            }
            std::fs::write(
                dir.join("analysis_events.toml"),
                ANALYSIS.replace("[inputs]\n", "[inputs]\nevents = \"events.csv\"\n") + PROCESS,
            )?;
        }
        if flags.iter().any(|f| f == "--wide") {
            wide_csv(&dir)?;
        }
        return Ok(());
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
    let sums = WeeklySums::of(&panel, &outcomes, scale::EFFECT_WEEKS)?;
    let weekly = estimators::weekly_effects_from_sums(&sums, &design)?;
    clock.stage("weekly effects: five outcomes + spell indicator");

    let completions = completions(&panel, &scale::spell_rule())?;
    let km = time_to_spell(&completions, design.level)?;
    clock.stage("spell completions and Kaplan–Meier");

    let balance = estimators::balance(&panel, &scale::balance_spec())?;
    clock.stage("balance, 10 covariates + joint test");

    let employed = Outcome::employed(0.0).evaluate(&panel, scale::EFFECT_WEEKS)?;
    let employed_effects = estimators::weekly_effects(&employed, &Design::default())?;
    let band = estimators::simultaneous_band(&employed, &employed_effects, &BandSpec::default())?;
    drop(employed);
    clock.stage("simultaneous band of `employed` (100k draws)");

    estimators::write_effects_csv(&weekly, dir.join("effects.csv"))?;
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
fn files(
    persons: usize,
    dir: &std::path::Path,
    compare: bool,
) -> Result<(), Box<dyn std::error::Error>> {
    use polars::prelude::{ParquetReader, SerReader};
    use trialpanel::{CodeTable, LongColumns, Panel, Persons};

    let register = dir.join("register_long.parquet");
    if !register.exists() {
        let start = Instant::now();
        simulate::write_register(&scale::config(persons), dir, scale::ROW_GROUP_PERSONS)?;
        eprintln!(
            "wrote {} in {:.1} s",
            dir.display(),
            start.elapsed().as_secs_f64()
        );
    }
    std::fs::write(dir.join("analysis.toml"), ANALYSIS)?;
    if !compare {
        return Ok(());
    }
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

/// Write `register_long.csv` from the Parquet register, a row group at a time.
fn long_csv(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use polars::prelude::{CsvWriter, ParquetReader, SerReader, SerWriter};
    let path = dir.join("register_long.csv");
    std::fs::write(
        dir.join("analysis_csv.toml"),
        ANALYSIS.replace("register_long.parquet", "register_long.csv"),
    )?;
    if path.exists() {
        return Ok(());
    }
    let register = dir.join("register_long.parquet");
    let mut reader = ParquetReader::new(std::fs::File::open(&register)?);
    let groups: Vec<usize> = reader
        .get_metadata()?
        .row_groups
        .iter()
        .map(|g| g.num_rows())
        .collect();
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path)?);
    let mut offset = 0;
    for (i, n) in groups.into_iter().enumerate() {
        let mut df = ParquetReader::new(std::fs::File::open(&register)?)
            .with_slice(Some((offset, n)))
            .finish()?;
        CsvWriter::new(&mut out)
            .include_header(i == 0)
            .finish(&mut df)?;
        offset += n;
    }
    eprintln!(
        "wrote {} ({:.0} MB)",
        path.display(),
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );
    Ok(())
}

/// Write `register_wide.csv`: `person_id` and a code column `y_YYWW` for
/// each of 1,539 weeks from 1991-W01.
fn wide_csv(dir: &std::path::Path) -> Result<(), Box<dyn std::error::Error>> {
    use std::collections::HashMap;
    use std::io::Write;

    use polars::prelude::{ParquetReader, SerReader};
    use trialpanel::Week;

    const WEEKS: usize = 1539;
    const CODES: [&str; 6] = ["111", "130", "651", "652", "621", "622"];
    let path = dir.join("register_wide.csv");
    let (from, until) = scale_register_weeks();
    std::fs::write(
        dir.join("analysis_wide.toml"),
        ANALYSIS_WIDE.replace("EXTRACT", &until.to_string()),
    )?;
    if path.exists() {
        return Ok(());
    }
    let first = Week::from_iso(1991, 1)?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, std::fs::File::create(&path)?);
    write!(out, "person_id")?;
    for w in 0..WEEKS {
        write!(out, ",{}", first.plus(w as i32).dream_column("y_"))?;
    }
    writeln!(out)?;
    let persons = std::fs::read_to_string(dir.join("persons.csv"))?;
    let ids: Vec<&str> = persons
        .lines()
        .skip(1)
        .filter_map(|l| l.split(',').next())
        .collect();
    let register = dir.join("register_long.parquet");
    let mut reader = ParquetReader::new(std::fs::File::open(&register)?);
    let groups: Vec<usize> = reader
        .get_metadata()?
        .row_groups
        .iter()
        .map(|g| g.num_rows())
        .collect();
    let mut weeks: HashMap<String, usize> = HashMap::new();
    let mut next = 0; // next person to write
    let mut row: Vec<&str> = vec![""; WEEKS];
    // A person's row: synthetic history outside the simulated weeks, then
    // the register's codes inside them.
    let mut flush = |out: &mut std::io::BufWriter<std::fs::File>,
                     person: usize,
                     cells: &[(usize, String)]|
     -> std::io::Result<()> {
        for (w, cell) in row.iter_mut().enumerate() {
            let week = first.plus(w as i32);
            let h = (person as u64 + 1).wrapping_mul(0x9E37_79B9_7F4A_7C15)
                ^ (w as u64).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            let h = h ^ (h >> 29);
            *cell = if (from..=until).contains(&week) || h % 10 >= 7 {
                ""
            } else {
                CODES[(h % 6) as usize]
            };
        }
        write!(out, "{}", ids[person])?;
        let mut at = 0;
        for (w, cell) in row.iter().enumerate() {
            let code = match cells.get(at) {
                Some((cw, code)) if *cw == w => {
                    at += 1;
                    code.as_str()
                }
                _ => cell,
            };
            write!(out, ",{code}")?;
        }
        writeln!(out)
    };
    let mut offset = 0;
    for n in groups {
        let df = ParquetReader::new(std::fs::File::open(&register)?)
            .with_slice(Some((offset, n)))
            .finish()?;
        offset += n;
        let (id, week, code) = (
            df.column("person_id")?.str()?,
            df.column("week")?.str()?,
            df.column("code")?.str()?,
        );
        let mut cells: Vec<(usize, String)> = Vec::new();
        let mut current: Option<String> = None;
        for ((i, w), c) in id.iter().zip(week.iter()).zip(code.iter()) {
            let (Some(i), Some(w)) = (i, w) else { continue };
            if current.as_deref() != Some(i) {
                if let Some(cur) = current.take() {
                    while ids[next] != cur {
                        flush(&mut out, next, &[])?;
                        next += 1;
                    }
                    flush(&mut out, next, &cells)?;
                    next += 1;
                    cells.clear();
                }
                current = Some(i.to_string());
            }
            let len = weeks.len();
            let k = *weeks
                .entry(w.to_string())
                .or_insert_with(|| Week::parse(w).map_or(len, |wk| wk.event_week(first) as usize));
            cells.push((k, c.unwrap_or("").to_string()));
        }
        if let Some(cur) = current {
            while ids[next] != cur {
                flush(&mut out, next, &[])?;
                next += 1;
            }
            flush(&mut out, next, &cells)?;
            next += 1;
        }
    }
    while next < ids.len() {
        flush(&mut out, next, &[])?;
        next += 1;
    }
    out.flush()?;
    eprintln!(
        "wrote {} ({:.0} MB)",
        path.display(),
        std::fs::metadata(&path)?.len() as f64 / 1e6
    );
    Ok(())
}

/// First and last register week of the scale scenario.
fn scale_register_weeks() -> (trialpanel::Week, trialpanel::Week) {
    let c = scale::config(1);
    (
        c.first_referral.plus(-(c.history as i32)),
        c.first_referral.plus(c.follow_up as i32),
    )
}

/// The benchmark analysis on the DREAM-wide register (codes only, no
/// hours); the extract week is the simulated register's last week.
const ANALYSIS_WIDE: &str = r#"# Written by `large_register files --wide`.
title = "Register-scale benchmark, DREAM-wide (SYNTHETIC data)"
output = "output_wide"

[inputs]
persons = "persons.csv"
codes = "codes.csv"
register = "register_wide.csv"
form = "wide"
observed_until = "EXTRACT"

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
kind = "wage_subsidy"

[[outcomes]]
kind = "spell"

[balance]
covariates = ["age", "female", "education", "children"]

[[balance.history]]
outcome = "any_benefit"
weeks = 26
"#;

/// The analysis of the benchmark scenario: five outcomes, the spell and
/// balance with history covariates, as `trialpanel run` takes it.
/// The process indicators of `analysis_events.toml` (`--events`).
const PROCESS: &str = r#"
[[process]]
rule = "within"
name = "first_talk_within_4_weeks"
event = "talk"
weeks = 4

[[process]]
rule = "every"
name = "monthly_talks"
event = "talk"
weeks = 4

[[process]]
rule = "within"
name = "cv_within_4_weeks"
event = "cv"
weeks = 4

[[process]]
rule = "after"
name = "plan_updated_after_placement"
event = "plan_update"
after = "placement"
weeks = 2

[[process]]
rule = "inactive"
name = "fewer_than_4_inactive_weeks"
weeks = 12
shorter_than = 4
"#;

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
