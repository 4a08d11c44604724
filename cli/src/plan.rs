//! `trialpanel plan`: the minimum detectable effect per event week of a
//! planned trial ([`trialpanel::estimators`]), from the command line.

use std::io::Write;
use std::path::PathBuf;

use trialpanel::analysis::Analysis;
use trialpanel::estimators::{self as plan, PlanSpec};
use trialpanel::{Table, Week};

/// The options of `trialpanel plan`.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("sd_source").required(true).args(["sd", "analysis"])))]
pub struct PlanArgs {
    /// Persons to randomise to treatment and control.
    #[arg(long, value_name = "T,C", value_parser = persons)]
    persons: Option<(usize, usize)>,
    /// Referrals spread evenly over these ISO weeks.
    #[arg(long, value_name = "W1..W2", value_parser = weeks)]
    referrals: Option<(Week, Week)>,
    /// The week of the data extract (the last week followed).
    #[arg(long, value_name = "WEEK", value_parser = week)]
    extract: Option<Week>,
    /// The outcome's standard deviation (for a share p: sqrt(p(1-p))).
    #[arg(long, value_name = "X")]
    sd: Option<f64>,
    /// Or estimate the sd from the register history of an analysis file's persons (with
    /// --outcome); --persons, --referrals and --extract then default to that trial's.
    #[arg(long, value_name = "FILE", requires = "outcome")]
    analysis: Option<PathBuf>,
    /// The outcome (as named in the analysis file) whose history gives the sd.
    #[arg(long, value_name = "NAME", requires = "analysis")]
    outcome: Option<String>,
    /// Weeks before referral of that history.
    #[arg(long, value_name = "WEEKS", default_value_t = 52, requires = "analysis",
          value_parser = clap::value_parser!(u32).range(1..=i64::from(MAX_HISTORY)))]
    history: u32,
    /// Event weeks of the table.
    #[arg(long = "weeks", value_name = "A..B", default_value = "0..52", value_parser = event_weeks)]
    weeks: (i32, i32),
    /// Confidence level.
    #[arg(long, value_name = "X", default_value_t = 0.95)]
    level: f64,
    /// Power, at least 0.5 and below 1.
    #[arg(long, value_name = "X", default_value_t = 0.8)]
    power: f64,
    /// Also write the table as CSV.
    #[arg(long, value_name = "FILE")]
    csv: Option<PathBuf>,
}

/// Most history weeks for the sd: the register's usual reach.
const MAX_HISTORY: u32 = 520;

/// `A..B` (also `A..=B`) split in two.
fn pair(v: &str) -> Result<(&str, &str), String> {
    v.split_once("..=")
        .or_else(|| v.split_once(".."))
        .ok_or_else(|| format!("needs a range `A..B`, not `{v}`"))
}

fn persons(v: &str) -> Result<(usize, usize), String> {
    let bad = || format!("needs `T,C` (persons in treatment and control), not `{v}`");
    let (t, c) = v.split_once(',').ok_or_else(bad)?;
    Ok((
        t.trim().parse().map_err(|_| bad())?,
        c.trim().parse().map_err(|_| bad())?,
    ))
}

fn week(v: &str) -> Result<Week, String> {
    Week::parse(v).map_err(|e| e.to_string())
}

fn weeks(v: &str) -> Result<(Week, Week), String> {
    let (f, l) = pair(v)?;
    Ok((week(f)?, week(l)?))
}

fn event_weeks(v: &str) -> Result<(i32, i32), String> {
    let (f, l) = pair(v)?;
    let number = |x: &str| {
        x.trim()
            .parse::<i32>()
            .map_err(|_| format!("needs whole event weeks `A..B`, not `{v}`"))
    };
    Ok((number(f)?, number(l)?))
}

pub fn run(a: PlanArgs) -> Result<(), Box<dyn std::error::Error>> {
    let mut out = std::io::stdout().lock();
    let (persons, referrals, mut extract, mut sd) = (a.persons, a.referrals, a.extract, a.sd);
    let mut source = String::from("given");
    let mut own: Option<PlanSpec> = None;
    if let (Some(file), Some(name)) = (&a.analysis, &a.outcome) {
        let analysis = Analysis::from_file(file)?;
        let spec = analysis
            .config()
            .outcomes
            .iter()
            .find(|o| &o.display_name() == name)
            .ok_or_else(|| format!("{}: no outcome named `{name}`", file.display()))?;
        let panel = analysis.panel()?;
        let weeks = -i32::try_from(a.history)?..=-1;
        sd = plan::history_sd(&panel, &spec.outcome(), weeks)?;
        source = format!(
            "from the register history of {} persons ({name} over the {} weeks before referral)",
            panel.n_persons(),
            a.history
        );
        extract = extract.or(Some(panel.observed_until()));
        // The trial's own referrals, unless a planned spread is given.
        if persons.is_none() && referrals.is_none() {
            let sd = sd.ok_or("the history has fewer than two values: give --sd")?;
            let extract = extract.ok_or("give --extract WEEK")?;
            own = Some(PlanSpec::from_persons(panel.persons(), extract, sd));
        }
    }
    let sd = sd.ok_or("the history has fewer than two values: give --sd")?;
    let as_in_table = own.is_some();
    let spec = match own {
        Some(spec) => spec,
        None => PlanSpec::even(
            persons.ok_or("give --persons T,C")?,
            referrals.ok_or("give --referrals FIRST..LAST")?,
            extract.ok_or("give --extract WEEK")?,
            sd,
        )?,
    }
    .weeks(a.weeks.0..=a.weeks.1)
    .level(trialpanel::stats::Level::new(a.level)?)
    .power(a.power);
    let mde = plan::minimum_detectable_effects(&spec)?;
    let (t, c) = spec.persons();
    let (first, last) = (
        spec.referrals.first().map(|r| r.0),
        spec.referrals.last().map(|r| r.0),
    );
    writeln!(
        out,
        "Minimum detectable effect at {:.0}% power, {:.0}% level: {t:.0} + {c:.0} persons \
         referred {} to {}{}, extract {}, sd {sd:.4} ({source}).",
        100.0 * spec.power,
        100.0 * spec.level.get(),
        first.map_or("–".into(), |w| w.to_string()),
        last.map_or("–".into(), |w| w.to_string()),
        if as_in_table {
            " as in the person table"
        } else {
            " evenly"
        },
        spec.extract
    )?;
    writeln!(
        out,
        "{:>5} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "week", "n_treat", "n_control", "se", "df", "mde"
    )?;
    let show =
        |x: Option<f64>, digits: usize| x.map_or("–".to_string(), |x| format!("{x:.digits$}"));
    for r in &mde.rows {
        writeln!(
            out,
            "{:>5} {:>10.1} {:>10.1} {:>10} {:>8} {:>10}",
            r.week,
            r.n_treat,
            r.n_control,
            show(r.se, 5),
            show(r.df, 1),
            show(r.mde, 5)
        )?;
    }
    if let Some(path) = &a.csv {
        mde.write_csv(path)?;
    }
    Ok(())
}
