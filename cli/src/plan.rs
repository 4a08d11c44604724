//! `trialpanel plan`: the minimum detectable effect per event week of a
//! planned trial ([`trialpanel::estimators`]), from the command line.

use std::path::PathBuf;

use trialpanel::analysis::Analysis;
use trialpanel::estimators::{self as plan, PlanSpec};
use trialpanel::{Table, Week};

/// The parsed options of `trialpanel plan`.
pub struct PlanArgs {
    persons: Option<(usize, usize)>,
    referrals: Option<(Week, Week)>,
    extract: Option<Week>,
    sd: Option<f64>,
    analysis: Option<PathBuf>,
    outcome: Option<String>,
    history: u32,
    weeks: (i32, i32),
    level: f64,
    power: f64,
    csv: Option<PathBuf>,
}

/// Most history weeks for the sd: the register's usual reach.
const MAX_HISTORY: u32 = 520;

fn number<T: std::str::FromStr>(name: &str, v: &str) -> Result<T, String> {
    v.parse()
        .map_err(|_| format!("{name} needs a number, not `{v}`"))
}

fn week(name: &str, v: &str) -> Result<Week, String> {
    Week::parse(v).map_err(|e| format!("{name}: {e}"))
}

/// `A..B` (also `A..=B`) split in two.
fn pair<'a>(name: &str, v: &'a str) -> Result<(&'a str, &'a str), String> {
    v.split_once("..=")
        .or_else(|| v.split_once(".."))
        .ok_or_else(|| format!("{name} needs a range `A..B`, not `{v}`"))
}

pub fn parse(mut args: impl Iterator<Item = String>) -> Result<PlanArgs, String> {
    let mut a = PlanArgs {
        persons: None,
        referrals: None,
        extract: None,
        sd: None,
        analysis: None,
        outcome: None,
        history: 52,
        weeks: (0, 52),
        level: 0.95,
        power: 0.8,
        csv: None,
    };
    while let Some(arg) = args.next() {
        let v = args.next().ok_or_else(|| format!("{arg} needs a value"))?;
        match arg.as_str() {
            "--persons" => {
                let (t, c) = v
                    .split_once(',')
                    .ok_or_else(|| format!("--persons needs `T,C`, not `{v}`"))?;
                a.persons = Some((
                    number("--persons", t.trim())?,
                    number("--persons", c.trim())?,
                ));
            }
            "--referrals" => {
                let (f, l) = pair("--referrals", &v)?;
                a.referrals = Some((week("--referrals", f)?, week("--referrals", l)?));
            }
            "--extract" => a.extract = Some(week("--extract", &v)?),
            "--sd" => a.sd = Some(number("--sd", &v)?),
            "--analysis" => a.analysis = Some(PathBuf::from(v)),
            "--outcome" => a.outcome = Some(v),
            "--history" => {
                a.history = number("--history", &v)?;
                if !(1..=MAX_HISTORY).contains(&a.history) {
                    return Err(format!("--history needs 1 to {MAX_HISTORY} weeks, not {v}"));
                }
            }
            "--weeks" => {
                let (f, l) = pair("--weeks", &v)?;
                a.weeks = (number("--weeks", f)?, number("--weeks", l)?);
            }
            "--level" => a.level = number("--level", &v)?,
            "--power" => a.power = number("--power", &v)?,
            "--csv" => a.csv = Some(PathBuf::from(v)),
            other => return Err(format!("unknown plan option `{other}`")),
        }
    }
    match (&a.sd, &a.analysis, &a.outcome) {
        (Some(_), None, None) | (None, Some(_), Some(_)) => Ok(a),
        (Some(_), Some(_), _) => Err("give --sd or --analysis with --outcome, not both".into()),
        _ => Err("give the outcome's --sd, or --analysis and --outcome to estimate it".into()),
    }
}

pub fn run(a: PlanArgs) -> Result<(), Box<dyn std::error::Error>> {
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
    println!(
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
    );
    println!(
        "{:>5} {:>10} {:>10} {:>10} {:>8} {:>10}",
        "week", "n_treat", "n_control", "se", "df", "mde"
    );
    let show =
        |x: Option<f64>, digits: usize| x.map_or("–".to_string(), |x| format!("{x:.digits$}"));
    for r in &mde.rows {
        println!(
            "{:>5} {:>10.1} {:>10.1} {:>10} {:>8} {:>10}",
            r.week,
            r.n_treat,
            r.n_control,
            show(r.se, 5),
            show(r.df, 1),
            show(r.mde, 5)
        );
    }
    if let Some(path) = &a.csv {
        mde.write_csv(path)?;
    }
    Ok(())
}
