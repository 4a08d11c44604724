//! `trialpanel`: run an analysis file from the command line, check it, or
//! plan a trial.
//!
//! ```text
//! trialpanel run data-samples/jobfirst/analysis.toml
//! trialpanel check data-samples/jobfirst/analysis.toml
//! trialpanel plan --persons 1500,1500 --referrals 2016-W01..2016-W26 --extract 2017-W02 --sd 0.45
//! ```
//!
//! Everything it does is [`trialpanel::analysis::Analysis`]; this crate
//! parses the arguments (with clap: subcommands, generated help), prints
//! progress on stderr and a summary on stdout. It is a library ([`main`])
//! so that other front ends (the Python package) run exactly the same
//! command; the `trialpanel` binary is `main` with a faster allocator.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

use clap::{Args, Parser, Subcommand};
use trialpanel::analysis::{Analysis, ReportFormat};
use trialpanel::progress::Progress;

mod plan;

const AFTER_HELP: &str = "\
The analysis file (TOML) is described in the guide, docs/guide/02-analysis-files.md;
data-samples/jobfirst/analysis.toml uses most keys.

Exit status: 0 success; 1 the analysis failed (the message names the file, row, column
or key and the offending value); 2 the command line is wrong.";

const RUN_ABOUT: &str = "\
Read the person table, code table and register named in the analysis file, align every
person on the referral week, estimate, and write to the output directory:
  effects.csv     weekly effects of every outcome (full precision)
  balance.csv     balance table, joint F test as the last row
  spell_km.csv    Kaplan-Meier curves of the spell (with a spell outcome)
  results.json    everything above and more (settings, at-risk counts, bands,
                  randomisation and site tests)
  report.md       the readable report
  report.html     the same report in one self-contained file (figures inline)
  figures/*.svg   effects per outcome, Kaplan-Meier, hours, fidelity lights,
                  site correlations
  process.csv, fidelity.csv, fidelity_change.csv, response.csv, cost.csv,
  correlations.csv   the delivery half, as the analysis file asks
  trialpanel-manifest.txt   the files this run wrote
A run never writes over one of its inputs, and removes the files of an earlier run in the
folder that it no longer writes (other files are left alone).";

/// Weekly treatment effects, activity spells, balance tests, fidelity and cost for
/// randomised employment trials, from one analysis file.
#[derive(Parser)]
#[command(
    name = "trialpanel",
    version,
    arg_required_else_help = true,
    after_help = AFTER_HELP,
    disable_help_subcommand = false
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run an analysis file: read the inputs, estimate, write every output.
    #[command(long_about = RUN_ABOUT, after_help = AFTER_HELP)]
    Run(RunArgs),
    /// Check an analysis file and its inputs without reading the register's rows, and print
    /// the plan.
    #[command(
        long_about = "Check the analysis file (keys, types, outcome definitions, weeks) and \
                      everything in its inputs that can be checked without reading the \
                      register's rows: the person and code tables, the event log and the \
                      survey are read and checked, the register's header must hold the columns \
                      the analysis reads, and the categories, event types, covariates and \
                      sites the settings name must exist. Then print the plan: the files it \
                      reads, how each outcome is estimated and the files it writes.",
        after_help = AFTER_HELP
    )]
    Check(CheckArgs),
    /// Print the minimum detectable effect (80% power) per event week of a planned trial.
    #[command(after_help = AFTER_HELP)]
    Plan(plan::PlanArgs),
}

#[derive(Args)]
struct RunArgs {
    /// The analysis file (TOML).
    #[arg(value_name = "ANALYSIS.toml")]
    analysis: PathBuf,
    /// Write to DIR instead of the file's `output` setting (relative to the analysis file).
    #[arg(short, long, value_name = "DIR")]
    output: Option<PathBuf>,
    /// Worker threads (default: one per core); results are bit-identical for every N.
    #[arg(short = 'j', long, value_name = "N",
          value_parser = clap::value_parser!(u16).range(1..=MAX_THREADS))]
    threads: Option<u16>,
    /// Report forms: `md`, `html` or `md,html` (default: the analysis file's `[report]
    /// formats`, both unless set).
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = report_format)]
    format: Option<Vec<ReportFormat>>,
    /// No progress messages on stderr (warnings are still printed).
    #[arg(short, long)]
    quiet: bool,
}

#[derive(Args)]
struct CheckArgs {
    /// The analysis file (TOML).
    #[arg(value_name = "ANALYSIS.toml")]
    analysis: PathBuf,
    /// No progress messages on stderr.
    #[arg(short, long)]
    quiet: bool,
}

/// Most worker threads: each has its own stack, and far more threads than
/// cores only adds scheduling.
const MAX_THREADS: i64 = 256;

fn report_format(text: &str) -> Result<ReportFormat, String> {
    text.parse::<ReportFormat>()
        .map_err(|_| format!("`{text}` is neither `md` nor `html`"))
}

/// The `trialpanel` command with the arguments `args` (without the
/// program's name): runs it, printing to stdout and stderr, and returns
/// the exit status (0 success, 1 the analysis failed, 2 a wrong command
/// line). Output into a closed pipe (`trialpanel plan … | head`) ends the
/// command quietly with status 0.
pub fn main(args: impl IntoIterator<Item = String>) -> ExitCode {
    let program = std::iter::once("trialpanel".to_string());
    let cli = match Cli::try_parse_from(program.chain(args)) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout with status 0; usage errors to
            // stderr with status 2. A closed pipe is not an error here.
            let _ = e.print();
            return ExitCode::from(e.exit_code().clamp(0, 255) as u8);
        }
    };
    let outcome = match cli.command {
        Command::Run(args) => run(&args),
        Command::Check(args) => check(&args),
        Command::Plan(args) => plan::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) if broken_pipe(e.as_ref()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trialpanel: error: {e}");
            ExitCode::from(1)
        }
    }
}

/// Whether `e` is a write into a closed pipe (the reader, such as `head`,
/// has what it wanted).
fn broken_pipe(e: &(dyn std::error::Error + 'static)) -> bool {
    e.downcast_ref::<std::io::Error>()
        .is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe)
}

type Outcome = Result<(), Box<dyn std::error::Error>>;

/// Progress steps on stderr with the time since `start`; within a long step
/// (the register's rows, a band's or a randomisation test's draws) a line
/// redrawn in place, on a terminal only.
struct Reporter {
    start: Instant,
    quiet: bool,
    terminal: bool,
}

impl Reporter {
    fn new(quiet: bool) -> Reporter {
        Reporter {
            start: Instant::now(),
            quiet,
            terminal: !quiet && std::io::stderr().is_terminal(),
        }
    }

    fn seconds(&self) -> f64 {
        self.start.elapsed().as_secs_f64()
    }

    fn step(&self, step: &str) {
        if self.quiet {
            return;
        }
        if self.terminal {
            // Clear the progress line, if any.
            eprint!("\r\x1b[K");
        }
        eprintln!("[{:>6.1} s] {step}", self.seconds());
    }

    fn detail(&self, p: &Progress) {
        let line = match p {
            Progress::Load(p) => {
                let share = match p.total_bytes {
                    0 => String::new(),
                    total => format!(" of {:.2} GB", total as f64 / 1e9),
                };
                let rate = p.bytes as f64 / 1e6 / p.elapsed.as_secs_f64().max(1e-3);
                format!(
                    "{:.1}M rows, {:.2} GB{share} read, {rate:.0} MB/s",
                    p.rows as f64 / 1e6,
                    p.bytes as f64 / 1e9
                )
            }
            Progress::Draws(p) => format!(
                "{} of {} draws{}",
                p.done,
                p.total,
                p.left().map_or(String::new(), |t| format!(
                    ", about {:.0} s left",
                    t.as_secs_f64().ceil()
                ))
            ),
        };
        eprint!("\r[{:>6.1} s]   {line}   ", self.seconds());
    }
}

fn check(args: &CheckArgs) -> Outcome {
    let reporter = Reporter::new(args.quiet);
    let analysis = Analysis::from_file(&args.analysis)?;
    let inputs = analysis.check_inputs(|step| reporter.step(step))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}: OK ({} outcomes)\n{}\n{}",
        args.analysis.display(),
        analysis.config().outcomes.len(),
        inputs,
        analysis.plan()
    )?;
    Ok(())
}

fn run(args: &RunArgs) -> Outcome {
    let reporter = Reporter::new(args.quiet);
    let mut analysis = Analysis::from_file(&args.analysis)?;
    if let Some(n) = args.threads {
        rayon::ThreadPoolBuilder::new()
            .num_threads(usize::from(n))
            .build_global()?;
    }
    if let Some(dir) = &args.output {
        analysis = analysis.with_output_dir(dir);
    }
    if let Some(formats) = &args.format {
        analysis = analysis.with_report_formats(formats);
    }
    let detail = |p: &Progress| reporter.detail(p);
    let results = analysis.run_with_progress(
        |step| reporter.step(step),
        reporter
            .terminal
            .then_some(&detail as &(dyn Fn(&Progress) + Sync)),
    )?;
    // Warnings are not progress: printed even with --quiet.
    for w in &results.warnings {
        eprintln!("trialpanel: warning: {w}");
    }
    let dir = analysis.output_dir();
    reporter.step(&format!("writing to {}", dir.display()));
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
    writeln!(
        std::io::stdout().lock(),
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
        reporter.seconds(),
        if results.config.report.formats.contains(&ReportFormat::Html) {
            "report.html"
        } else {
            "report.md"
        }
    )?;
    Ok(())
}
