//! `trialpanel`: run an analysis file from the command line, or plan a
//! trial.
//!
//! ```text
//! trialpanel run data-samples/jobfirst/analysis.toml
//! trialpanel plan --persons 1500,1500 --referrals 2016-W01..2016-W26 --extract 2017-W02 --sd 0.45
//! ```
//!
//! Everything it does is [`trialpanel::analysis::Analysis`]; this crate
//! only parses the arguments, prints progress on stderr and a summary on
//! stdout. It is a library ([`main`]) so that other front ends (the Python
//! package) run exactly the same command; the `trialpanel` binary is
//! `main` with a faster allocator. The arguments are few, so they are
//! parsed by hand rather than with an argument-parsing crate.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use trialpanel::analysis::{Analysis, ReportFormat};

use trialpanel::LoadProgress;

mod plan;

const HELP: &str = "\
trialpanel: weekly treatment effects, activity spells and balance tests for
randomised employment trials, from one analysis file.

USAGE:
    trialpanel run <ANALYSIS.toml> [OPTIONS]
    trialpanel check <ANALYSIS.toml>
    trialpanel plan [PLAN OPTIONS]
    trialpanel --help | --version

COMMANDS:
    run     Read the person table, code table and register named in the
            analysis file, align every person on the referral week, and write
            to the output directory:
              effects.csv     weekly effects of every outcome (full precision)
              balance.csv     balance table, joint F test as the last row
              spell_km.csv    Kaplan-Meier curves of the spell (if a spell outcome)
              results.json    everything above and more (settings, at-risk
                              counts, bands, randomisation and site tests)
              report.md       the readable report
              report.html     the same report in one self-contained file
                              (figures inline; opens in any browser)
              figures/*.svg   effects per outcome, Kaplan-Meier, hours,
                              fidelity lights, site correlations
              process.csv, fidelity.csv, fidelity_change.csv, response.csv,
              cost.csv, correlations.csv
                              the delivery half, as the analysis file asks
    check   Read and check the analysis file only (keys, types, outcome
            definitions, weeks) and print the plan: the files it reads, how
            each outcome is estimated and the files it writes; reads no
            data.
    plan    Print the minimum detectable effect (80% power) per event week
            of a planned trial, before its data exist.

OPTIONS (plan):
    --persons <T,C>          Persons to randomise to treatment and control.
    --referrals <W1..W2>     Referrals spread evenly over these ISO weeks.
    --extract <WEEK>         The week of the data extract (last week followed).
    --sd <X>                 The outcome's standard deviation (a share p:
                             sqrt(p(1-p))).
    --analysis <FILE>        Or: estimate the sd from the register history of
      --outcome <NAME>       the persons of an analysis file (outcome NAME
      [--history <WEEKS>]    over the WEEKS weeks before referral, default
                             52); --persons, --referrals and --extract then
                             default to that trial's.
    --weeks <A..B>           Event weeks (default 0..52).
    --level <X>              Confidence level (default 0.95).
    --power <X>              Power (default 0.8).
    --csv <FILE>             Also write the table as CSV.

OPTIONS (run):
    -o, --output <DIR>    Write to DIR instead of the file's `output` setting
                          (which is relative to the analysis file).
    -j, --threads <N>     Worker threads, 1 to 256 (default: one per core).
                          Results are bit-identical for every N.
    --format <LIST>       Report forms, `md`, `html` or `md,html` (default: the
                          analysis file's `[report] formats`, both unless set).
    -q, --quiet           No progress messages on stderr.
    -h, --help            Print this help.
    -V, --version         Print the version.

The analysis file (TOML) is described in the guide, docs/guide/
02-analysis-files.md; data-samples/jobfirst/analysis.toml uses most keys.

EXIT STATUS:
    0 success; 1 the analysis failed (the message names the file, row,
    column or key and the offending value); 2 the command line is wrong.
";

struct Args {
    command: Command,
    analysis: PathBuf,
    output: Option<PathBuf>,
    threads: Option<usize>,
    formats: Option<Vec<ReportFormat>>,
    quiet: bool,
}

#[derive(PartialEq)]
enum Command {
    Run,
    Check,
}

enum Parsed {
    Go(Args),
    Print(String),
}

fn parse(mut args: impl Iterator<Item = String>) -> Result<Parsed, String> {
    let mut command = None;
    let mut analysis = None;
    let mut output = None;
    let mut threads = None;
    let mut formats = None;
    let mut quiet = false;
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "-h" | "--help" | "help" => return Ok(Parsed::Print(HELP.into())),
            "-V" | "--version" => {
                return Ok(Parsed::Print(format!(
                    "trialpanel {}\n",
                    env!("CARGO_PKG_VERSION")
                )));
            }
            "-o" | "--output" => output = Some(PathBuf::from(value("--output")?)),
            "-j" | "--threads" => {
                let v = value("--threads")?;
                threads = match v.parse::<usize>() {
                    Ok(n) if (1..=MAX_THREADS).contains(&n) => Some(n),
                    _ => {
                        return Err(format!(
                            "--threads needs a whole number from 1 to {MAX_THREADS}, not `{v}`"
                        ));
                    }
                };
            }
            "--format" => {
                let v = value("--format")?;
                formats = Some(
                    v.split(',')
                        .map(str::parse::<ReportFormat>)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|_| {
                            format!("--format takes `md`, `html` or `md,html`, not `{v}`")
                        })?,
                );
            }
            "-q" | "--quiet" => quiet = true,
            "run" if command.is_none() => command = Some(Command::Run),
            "check" if command.is_none() => command = Some(Command::Check),
            other if other.starts_with('-') => return Err(format!("unknown option `{other}`")),
            other if command.is_some() && analysis.is_none() => {
                analysis = Some(PathBuf::from(other))
            }
            other => return Err(format!("unexpected argument `{other}`")),
        }
    }
    let command = command.ok_or("give a command: `run` or `check`")?;
    let analysis = analysis.ok_or("give the analysis file, e.g. `trialpanel run analysis.toml`")?;
    if command == Command::Check && (output.is_some() || threads.is_some() || formats.is_some()) {
        return Err("`check` takes no --output, --threads or --format".into());
    }
    Ok(Parsed::Go(Args {
        command,
        analysis,
        output,
        threads,
        formats,
        quiet,
    }))
}

/// The `trialpanel` command with the arguments `args` (without the
/// program's name): runs it, printing to stdout and stderr, and returns
/// the exit status (0 success, 1 the analysis failed, 2 a wrong command
/// line).
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let mut args = args.into_iter().peekable();
    if args.peek().map(String::as_str) == Some("plan") {
        args.next();
        return match plan::parse(args) {
            Ok(args) => match plan::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("trialpanel: error: {e}");
                    ExitCode::from(1)
                }
            },
            Err(message) => {
                eprintln!("trialpanel: {message}\nRun `trialpanel --help` for usage.");
                ExitCode::from(2)
            }
        };
    }
    let args = match parse(args) {
        Ok(Parsed::Go(args)) => args,
        Ok(Parsed::Print(text)) => {
            print!("{text}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("trialpanel: {message}\nRun `trialpanel --help` for usage.");
            return ExitCode::from(2);
        }
    };
    match run(&args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trialpanel: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Most worker threads: each has its own stack, and far more threads than
/// cores only adds scheduling.
const MAX_THREADS: usize = 256;

fn run(args: &Args) -> Result<(), Box<dyn std::error::Error>> {
    let start = Instant::now();
    let mut analysis = Analysis::from_file(&args.analysis)?;
    if args.command == Command::Check {
        println!(
            "{}: OK ({} outcomes)\n{}",
            args.analysis.display(),
            analysis.config().outcomes.len(),
            analysis.plan()
        );
        return Ok(());
    }
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .build_global()?;
    }
    if let Some(dir) = &args.output {
        analysis = analysis.with_output_dir(dir);
    }
    if let Some(formats) = &args.formats {
        analysis = analysis.with_report_formats(formats);
    }
    let quiet = args.quiet;
    // Rows and bytes read, on one line redrawn in place, only on a terminal.
    let load_line = |p: &LoadProgress| {
        let seconds = start.elapsed().as_secs_f64();
        let share = match p.total_bytes {
            0 => String::new(),
            total => format!(" of {:.2} GB", total as f64 / 1e9),
        };
        let rate = p.bytes as f64 / 1e6 / p.elapsed.as_secs_f64().max(1e-3);
        eprint!(
            "\r[{seconds:>6.1} s]   {:.1}M rows, {:.2} GB{share} read, {rate:.0} MB/s   ",
            p.rows as f64 / 1e6,
            p.bytes as f64 / 1e9,
        );
    };
    let terminal = !quiet && std::io::stderr().is_terminal();
    let results = analysis.run_with_progress(
        |step| {
            if !quiet {
                if terminal {
                    // Clear the progress line, if any.
                    eprint!("\r\x1b[K");
                }
                eprintln!("[{:>6.1} s] {step}", start.elapsed().as_secs_f64());
            }
        },
        terminal.then_some(&load_line as &(dyn Fn(&LoadProgress) + Sync)),
    )?;
    // Warnings are not progress: printed even with --quiet.
    for w in &results.warnings {
        eprintln!("trialpanel: warning: {w}");
    }
    let dir = analysis.output_dir();
    if !quiet {
        eprintln!(
            "[{:>6.1} s] writing to {}",
            start.elapsed().as_secs_f64(),
            dir.display()
        );
    }
    let written = results.write(&dir)?;
    // What an earlier run in the folder left: said even with --quiet.
    if !written.replaced.is_empty() {
        eprintln!(
            "trialpanel: replaced {} files of an earlier run in {}",
            written.replaced.len(),
            dir.display()
        );
    }
    if !written.removed.is_empty() {
        let names: Vec<String> = written
            .removed
            .iter()
            .map(|p| p.strip_prefix(&dir).unwrap_or(p).display().to_string())
            .collect();
        eprintln!(
            "trialpanel: removed {} outputs of an earlier run that this one does not write: {}",
            names.len(),
            names.join(", ")
        );
    }
    let t = &results.trial;
    println!(
        "trialpanel: {} persons ({} treated, {} controls), {} outcomes over event weeks {}..={}; \
         wrote {} files to {} in {:.1} s (open {})",
        t.persons.treatment + t.persons.control,
        t.persons.treatment,
        t.persons.control,
        results.outcomes.len(),
        t.at_risk.first().map_or(0, |a| a.week),
        t.at_risk.last().map_or(0, |a| a.week),
        written.len(),
        dir.display(),
        start.elapsed().as_secs_f64(),
        if results.config.report.formats.contains(&ReportFormat::Html) {
            "report.html"
        } else {
            "report.md"
        }
    );
    Ok(())
}
