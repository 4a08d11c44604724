//! Delivery data as they really arrive (issue 27): files joined by a label
//! are checked, outliers cannot stretch the event log's weeks or the
//! survey's waves, blanks are missing (never 0), settings are bounded,
//! names cannot break the report, messages are capped, claims match the
//! numbers, the output folder is safe and a default that cannot be computed
//! is dropped with a warning. Each case edits one file of a small simulated
//! trial and checks the exact error or warning.

mod common;

use std::path::{Path, PathBuf};

use trialpanel::analysis::{Analysis, Results};
use trialpanel::simulate::{TrialSpec, simulate};
use trialpanel::{Error, ErrorKind};

/// The analysis file of the small trial.
const ANALYSIS: &str = r#"
title = "delivery input"
output = "out"

[inputs]
persons = "persons.csv"
codes = "codes.csv"
register = "register_long.parquet"
events = "events.csv"
survey = "survey.csv"
invited = "invited.csv"

[persons]
block = "municipality"
covariates = ["age", "female"]

[weeks]
first = 0
last = 30

[[outcomes]]
kind = "employed"

[[process]]
rule = "within"
name = "first_talk"
event = "talk"
weeks = 4

[[process]]
rule = "every"
name = "monthly_talks"
event = "talk"
weeks = 4

[survey]
scale = ["not at all", "to a small degree", "to some degree", "to a high degree", "to a very high degree"]
elements = { frequent_talks = ["q1", "q2", "q3"], job_focus = ["q4", "q5"] }

[cost]
through = 26
per = ["employed"]

[report]
figures = false
formats = ["md"]
"#;

/// A fresh small trial (300 persons, 4 municipalities, the simulator's
/// delivery data) in its own folder, with [`ANALYSIS`].
fn trial(tag: &str, spec: TrialSpec) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("delivery_input")
        .join(tag);
    let _ = std::fs::remove_dir_all(&dir);
    let sim = simulate(&spec).unwrap();
    sim.write(&dir, false).unwrap();
    sim.write_delivery(&dir).unwrap();
    std::fs::write(dir.join("analysis.toml"), ANALYSIS).unwrap();
    dir
}

fn small() -> TrialSpec {
    TrialSpec {
        persons: 300,
        blocks: 4,
        ..TrialSpec::default()
    }
}

/// Edit one file of the trial as text.
fn edit(dir: &Path, name: &str, f: impl FnOnce(String) -> String) {
    let path = dir.join(name);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, f(text)).unwrap();
}

fn run(dir: &Path) -> Result<Results, Error> {
    Analysis::from_file(dir.join("analysis.toml"))?.run()
}

/// The results, which must carry a warning containing each of `parts`,
/// also in report.md.
fn warned(dir: &Path, parts: &[&str]) -> Results {
    let results = run(dir).unwrap();
    let found = results
        .warnings
        .iter()
        .find(|w| parts.iter().all(|p| w.contains(p)));
    let Some(w) = found else {
        panic!("no warning with {parts:?} in {:#?}", results.warnings);
    };
    let report = results.to_markdown().unwrap();
    assert!(
        report.contains(w.as_str()),
        "the report lacks the warning {w}"
    );
    results
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn the_small_trial_runs_clean() {
    let dir = trial("clean", small());
    let results = run(&dir).unwrap();
    assert!(
        results.warnings.iter().all(|w| !w.contains("site")),
        "{:#?}",
        results.warnings
    );
    let events = results.events.as_ref().unwrap();
    assert_eq!(events.outside, 0);
    assert!(events.first_week <= events.last_week);
    let f = results.fidelity.as_ref().unwrap();
    let site_waves = f.join.invited.unwrap().1;
    assert_eq!(f.join.trial_sites, Some((4, 4)));
    assert_eq!(f.join.invited, Some((site_waves, site_waves)));
    assert_eq!((f.join.answers_left_out, f.join.invited_left_out), (0, 0));
    // The delivery sections name the level the intervals have.
    edit(&dir, "analysis.toml", |t| {
        t.replace("[[outcomes]]", "[design]\nlevel = 0.9\n\n[[outcomes]]")
    });
    let md = run(&dir).unwrap().to_markdown().unwrap();
    assert!(md.contains("with 90% Wilson intervals"), "process level");
    assert!(
        md.contains("with 90% intervals (Wilson for one item"),
        "survey level"
    );
    assert!(
        md.contains("| Incremental cost [90% CI] | Result | Cost per unit | 90% Fieller interval"),
        "cost level"
    );
    assert!(!md.contains("95%"), "a 95% left at level 0.9");
}

// ---------------------------------------------------------------- joins

#[test]
fn a_survey_site_written_differently_is_refused_with_its_near_match() {
    let dir = trial("survey_site_case", small());
    // The survey export (and its invited counts) spell a site in lower case.
    edit(&dir, "survey.csv", |t| {
        t.replace(",Kommune B,", ",kommune b,")
    });
    edit(&dir, "invited.csv", |t| {
        t.replace("Kommune B,", "kommune b,")
    });
    match run(&dir).unwrap_err() {
        Error::UnmatchedLabels {
            file,
            column,
            labels,
            other,
            ..
        } => {
            assert_eq!(
                (file_name(&file).as_str(), column.as_str()),
                ("survey.csv", "site")
            );
            assert!(
                labels.contains("`kommune b`") && labels.contains("`Kommune B`?"),
                "{labels}"
            );
            assert_eq!(other, "the person table's sites");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn a_few_survey_rows_of_an_unknown_site_are_said_many_refused() {
    let dir = trial("survey_site_extra", small());
    // Three answers from a site the trial does not have.
    edit(&dir, "survey.csv", |t| {
        t + "X1,Nordkommune,1,q1,to a high degree\nX1,Nordkommune,1,q2,to a high degree\n\
             X1,Nordkommune,1,q3,not at all\n"
    });
    let results = warned(
        &dir,
        &[
            "have a `site` that the person table's sites lacks",
            "`Nordkommune` (3 rows)",
        ],
    );
    // Left out of every figure, the overall share too, and said.
    let f = results.fidelity.as_ref().unwrap();
    assert!(f.rows.iter().all(|r| r.site != "Nordkommune"));
    assert_eq!(f.join.answers_left_out, 3);
    let clean = run(&trial("survey_site_extra_clean", small())).unwrap();
    assert_eq!(f.rows, clean.fidelity.as_ref().unwrap().rows);
    let md = results.to_markdown().unwrap();
    assert!(
        md.contains("Joined by site label: 4 of the trial's 4 sites have answers (3 answers of sites the trial lacks left out)"),
        "join sentence missing"
    );
    // A whole site's answers under an unknown name: too many to leave out.
    let dir = trial("survey_site_many", small());
    edit(&dir, "survey.csv", |t| {
        t.replace(",Kommune C,", ",Sydkommune,")
    });
    edit(&dir, "invited.csv", |t| {
        t.replace("Kommune C,", "Sydkommune,")
    });
    let err = run(&dir).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Inconsistent, "{err}");
    assert!(err.to_string().contains("`Sydkommune`"), "{err}");
}

#[test]
fn a_site_called_all_is_refused_in_every_input() {
    let dir = trial("all_person", small());
    edit(&dir, "persons.csv", |t| {
        t.replacen(",Kommune A,", ",all,", 1)
    });
    match run(&dir).unwrap_err() {
        Error::InvalidValue {
            file,
            column,
            value,
            problem,
            ..
        } => {
            assert_eq!(file_name(&file), "persons.csv");
            assert_eq!((column.as_str(), value.as_str()), ("municipality", "all"));
            assert!(problem.contains("overall rows"), "{problem}");
        }
        e => panic!("{e:?}"),
    }
    let dir = trial("all_survey", small());
    edit(&dir, "survey.csv", |t| {
        t.replacen(",Kommune A,", ",all,", 1)
    });
    match run(&dir).unwrap_err() {
        Error::InvalidValue {
            file, row, column, ..
        } => {
            assert_eq!(file_name(&file), "survey.csv");
            assert_eq!((row, column.as_str()), (1, "site"));
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn the_invited_table_joins_the_survey_without_duplicates_or_typos() {
    // A site and wave listed twice.
    let dir = trial("invited_twice", small());
    edit(&dir, "invited.csv", |t| t + "Kommune A,1,30\n");
    match run(&dir).unwrap_err() {
        Error::InvalidValue { file, problem, .. } => {
            assert_eq!(file_name(&file), "invited.csv");
            assert!(
                problem.contains("already have an invited count in row 1"),
                "{problem}"
            );
        }
        e => panic!("{e:?}"),
    }
    // A site written differently.
    let dir = trial("invited_typo", small());
    edit(&dir, "invited.csv", |t| {
        t.replace("Kommune D,", "Kommune  D,")
    });
    match run(&dir).unwrap_err() {
        Error::UnmatchedLabels { file, labels, .. } => {
            assert_eq!(file_name(&file), "invited.csv");
            assert!(labels.contains("`Kommune D`?"), "{labels}");
        }
        e => panic!("{e:?}"),
    }
    // A survey site and wave without a count: no response rate, said.
    let dir = trial("invited_missing", small());
    edit(&dir, "invited.csv", |t| {
        t.lines()
            .filter(|l| *l != t.lines().nth(1).unwrap())
            .map(|l| format!("{l}\n"))
            .collect()
    });
    let results = warned(
        &dir,
        &["has no invited count for 1 site-waves", "Kommune A wave 1"],
    );
    let f = results.fidelity.as_ref().unwrap();
    assert!(
        !f.response
            .iter()
            .any(|r| r.site == "Kommune A" && r.wave == 1)
    );
    let all = f.join.invited.unwrap().1;
    assert_eq!(f.join.invited, Some((all - 1, all)));
    let md = results.to_markdown().unwrap();
    assert!(md.contains(&format!(
        "{} of the survey's {all} site-waves have an invited count",
        all - 1
    )));
    // An invited count of a site the survey lacks: no response rate of 0%.
    let dir = trial("invited_extra", small());
    edit(&dir, "invited.csv", |t| t + "Nordkommune,1,12\n");
    let results = warned(
        &dir,
        &[
            "have a `site` that the survey lacks",
            "`Nordkommune` (1 rows)",
        ],
    );
    let f = results.fidelity.as_ref().unwrap();
    assert!(f.response.iter().all(|r| r.site != "Nordkommune"));
    assert_eq!(f.join.invited_left_out, 1);
}

// ---------------------------------------------------------------- outliers

#[test]
fn a_stray_event_date_cannot_stretch_the_log() {
    let dir = trial("event_2061", small());
    let first = |t: &str| {
        t.lines()
            .nth(1)
            .unwrap()
            .split(',')
            .next()
            .unwrap()
            .to_string()
    };
    let person = first(&std::fs::read_to_string(dir.join("events.csv")).unwrap());
    edit(&dir, "events.csv", |t| {
        t + &format!("{person},2061-W10,talk\n")
    });
    match run(&dir).unwrap_err() {
        Error::InvalidSetting { name, reason } => {
            assert_eq!(name, "events.until");
            assert!(
                reason.contains("2061-W10") && reason.contains("stray"),
                "{reason}"
            );
        }
        e => panic!("{e:?}"),
    }
    // Setting the weeks the log covers leaves the stray out, and says so.
    let clean = run(&trial("event_2061_clean", small())).unwrap();
    let last = clean.events.as_ref().unwrap().last_week;
    edit(&dir, "analysis.toml", |t| {
        t.replace(
            "[survey]",
            &format!("[events]\nuntil = \"{last}\"\n\n[survey]"),
        )
    });
    let results = warned(
        &dir,
        &[
            "1 events in events.csv are dated outside",
            &last.to_string(),
        ],
    );
    assert_eq!(results.events.as_ref().unwrap().outside, 1);
    // The shares are those of the clean log.
    assert_eq!(results.process, clean.process);
    let report = results.to_markdown().unwrap();
    assert!(report.contains("The event log covers weeks") && report.contains(&last.to_string()));
}

#[test]
fn a_stray_survey_wave_cannot_become_the_last_wave() {
    let dir = trial("wave_60", small());
    edit(&dir, "survey.csv", |t| {
        t + "S01-02,Kommune A,60,q1,not at all\n"
    });
    match run(&dir).unwrap_err() {
        Error::InvalidSetting { name, reason } => {
            assert_eq!(name, "survey.waves");
            assert!(
                reason.contains("wave 60") && reason.contains("1 answers"),
                "{reason}"
            );
        }
        e => panic!("{e:?}"),
    }
    edit(&dir, "analysis.toml", |t| {
        t.replace("[survey]\n", "[survey]\nwaves = [1, 2, 3, 4, 5, 6]\n")
    });
    let results = warned(
        &dir,
        &["1 survey rows of waves not in `[survey] waves` were left out"],
    );
    let f = results.fidelity.unwrap();
    assert!(f.rows.iter().all(|r| r.wave <= 6));
}

// ---------------------------------------------------------------- blanks

#[test]
fn a_blank_unit_cost_is_missing_not_zero() {
    let dir = trial("blank_cost", small());
    edit(&dir, "codes.csv", |t| t.replacen(",0,4300.0", ",0,", 1));
    match run(&dir).unwrap_err() {
        Error::MissingValue { file, row, column } => {
            assert_eq!(file_name(&file), "codes.csv");
            assert_eq!((row, column.as_str()), (1, "cost_per_week"));
        }
        e => panic!("{e:?}"),
    }
    // Without [cost] the blank is never used.
    edit(&dir, "analysis.toml", |t| {
        t.replace("[cost]\nthrough = 26\nper = [\"employed\"]\n", "")
    });
    run(&dir).unwrap();
}

#[test]
fn a_cost_beyond_any_budget_is_refused() {
    let dir = trial("huge_cost", small());
    edit(&dir, "codes.csv", |t| {
        t.replacen(",0,4300.0", ",0,1e308", 1)
    });
    match run(&dir).unwrap_err() {
        Error::InvalidValue {
            file,
            row,
            column,
            problem,
            ..
        } => {
            assert_eq!(file_name(&file), "codes.csv");
            assert_eq!((row, column.as_str()), (1, "cost_per_week"));
            assert!(problem.contains("from 0 to 1e9"), "{problem}");
        }
        e => panic!("{e:?}"),
    }
    let dir = trial("huge_programme", small());
    edit(&dir, "analysis.toml", |t| {
        t.replace("through = 26\n", "through = 26\nprogramme = 1e300\n")
    });
    let err = run(&dir).unwrap_err();
    assert!(
        err.to_string()
            .contains("`programme` must be a number from 0 to 1e12"),
        "{err}"
    );
}

#[test]
fn an_element_item_the_survey_never_asks_is_refused() {
    let dir = trial("item_typo", small());
    edit(&dir, "analysis.toml", |t| t.replace("\"q5\"]", "\"Q5\"]"));
    match run(&dir).unwrap_err() {
        Error::InvalidSetting { name, reason } => {
            assert_eq!(name, "survey.elements");
            assert!(
                reason.contains("item `Q5` of element `job_focus`"),
                "{reason}"
            );
            assert!(reason.contains("did you mean `q5`?"), "{reason}");
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn an_unanswered_item_is_said_where_its_element_is_averaged_without_it() {
    let dir = trial("item_blank", small());
    // Every answer to q2 at Kommune B in wave 3 left blank.
    edit(&dir, "survey.csv", |t| {
        t.lines()
            .map(|l| {
                if l.contains(",Kommune B,3,q2,") {
                    let keep: Vec<&str> = l.splitn(5, ',').take(4).collect();
                    format!("{},\n", keep.join(","))
                } else {
                    format!("{l}\n")
                }
            })
            .collect()
    });
    warned(
        &dir,
        &["1 survey items had no answer", "q2 at Kommune B wave 3"],
    );
}

// ---------------------------------------------------------------- settings

#[test]
fn a_lin_estimate_with_more_parameters_than_persons_is_refused_before_reading() {
    let dir = trial(
        "lin_parameters",
        TrialSpec {
            persons: 100,
            blocks: 2,
            ..TrialSpec::default()
        },
    );
    // A categorical covariate of 60 levels: 60 parameters per arm of ~50.
    edit(&dir, "persons.csv", |t| {
        t.lines()
            .enumerate()
            .map(|(i, l)| match i {
                0 => format!("{l},group\n"),
                _ => format!("{l},g{}\n", i % 60),
            })
            .collect()
    });
    edit(&dir, "analysis.toml", |t| {
        t.replace(
            "covariates = [\"age\", \"female\"]",
            "covariates = [\"age\", \"female\", \"group\"]",
        )
        .replace(
            "[[outcomes]]",
            "[design]\nadjust = [\"group\"]\n\n[[outcomes]]",
        )
    });
    match run(&dir).unwrap_err() {
        Error::InvalidSetting { name, reason } => {
            assert_eq!(name, "design.adjust");
            assert!(
                reason.contains("fits 60 parameters in each arm"),
                "{reason}"
            );
        }
        e => panic!("{e:?}"),
    }
}

#[test]
fn plan_power_below_one_half_is_refused() {
    use trialpanel::Week;
    use trialpanel::estimators::{PlanSpec, minimum_detectable_effects};
    let w = |s: &str| Week::parse(s).unwrap();
    let spec = PlanSpec::even(
        (500, 500),
        (w("2016-W01"), w("2016-W26")),
        w("2017-W02"),
        0.4,
    )
    .unwrap()
    .power(0.02);
    let err = minimum_detectable_effects(&spec).unwrap_err().to_string();
    assert!(err.contains("at least 0.5 and below 1"), "{err}");
}

#[test]
fn a_history_covariate_named_like_a_person_column_is_refused() {
    let dir = trial("history_clash", small());
    edit(&dir, "analysis.toml", |t| {
        t + "\n[balance]\n[[balance.history]]\noutcome = \"employed\"\nweeks = 26\nname = \"age\"\n"
    });
    match run(&dir).unwrap_err() {
        Error::InvalidSetting { reason, .. } => {
            assert!(
                reason.contains("`age` is also the name of a person-table covariate"),
                "{reason}"
            )
        }
        e => panic!("{e:?}"),
    }
}

// ---------------------------------------------------------------- names

#[test]
fn names_cannot_break_the_report_and_data_labels_are_escaped() {
    let dir = trial("element_name", small());
    edit(&dir, "analysis.toml", |t| {
        t.replace("job_focus =", "\"job | focus\" =")
    });
    let err = run(&dir).unwrap_err().to_string();
    assert!(err.contains("would break the report's tables"), "{err}");
    // A site label with markup and a bar: escaped in report.md, no raw
    // markup in report.html.
    let dir = trial("site_markup", small());
    for name in ["persons.csv", "survey.csv", "invited.csv"] {
        edit(&dir, name, |t| t.replace("Kommune A", "<b>A|1</b>"));
    }
    let results = run(&dir).unwrap();
    let md = results.to_markdown().unwrap();
    assert!(
        md.contains("| \\<b\\>A\\|1\\</b\\> |"),
        "escaped label missing"
    );
    let html = results.to_html().unwrap();
    assert!(!html.contains("<b>A"), "raw markup in report.html");
    assert!(html.contains("&lt;b&gt;A|1&lt;/b&gt;"));
}

// ---------------------------------------------------------------- messages

#[test]
fn lists_in_messages_are_capped() {
    let dir = trial("many_types", small());
    let first = std::fs::read_to_string(dir.join("events.csv")).unwrap();
    let person = first
        .lines()
        .nth(1)
        .unwrap()
        .split(',')
        .next()
        .unwrap()
        .to_string();
    // 500 case notes as event types, one of them 300 characters long.
    edit(&dir, "events.csv", |mut t| {
        for i in 0..500 {
            t.push_str(&format!(
                "{person},2016-W20,note {i} {}\n",
                "x".repeat(if i == 0 { 300 } else { 3 })
            ));
        }
        t
    });
    edit(&dir, "analysis.toml", |t| {
        t.replace(
            "event = \"talk\"\nweeks = 4\n\n[[process]]",
            "event = \"telephone\"\nweeks = 4\n\n[[process]]",
        )
    });
    let err = run(&dir).unwrap_err().to_string();
    assert!(err.contains("does not occur"), "{err}");
    assert!(err.contains("and 485 more"), "{err}");
    assert!(err.len() < 3000, "{} bytes", err.len());
}

// ---------------------------------------------------------------- claims

#[test]
fn with_clusters_the_report_names_the_intervals_that_ignore_them() {
    let dir = trial("clusters", small());
    // Caseworkers nested in municipality and arm.
    edit(&dir, "persons.csv", |t| {
        let mut lines = t.lines();
        let head = lines.next().unwrap();
        let mut out = format!("{head},caseworker\n");
        for (i, l) in lines.enumerate() {
            let f: Vec<&str> = l.split(',').collect();
            out.push_str(&format!("{l},{}-{}-{}\n", f[3], f[1], i % 3));
        }
        out
    });
    edit(&dir, "analysis.toml", |t| {
        t.replace(
            "block = \"municipality\"",
            "block = \"municipality\"\ncluster = \"caseworker\"",
        )
    });
    let results = warned(
        &dir,
        &[
            "the process shares' intervals and their traffic lights",
            "treat persons as independent",
        ],
    );
    let md = results.to_markdown().unwrap();
    assert!(md.contains("the intervals that treat persons as independent are named"));
}

// ---------------------------------------------------------------- outputs

#[test]
fn outputs_never_replace_an_input_and_stale_ones_are_removed() {
    let dir = trial("output_folder", small());
    // An input named like an output, written to the same folder.
    std::fs::rename(dir.join("events.csv"), dir.join("process.csv")).unwrap();
    edit(&dir, "analysis.toml", |t| {
        t.replace("events = \"events.csv\"", "events = \"process.csv\"")
            .replace("output = \"out\"", "output = \".\"")
    });
    let analysis = Analysis::from_file(dir.join("analysis.toml")).unwrap();
    let results = analysis.run().unwrap();
    let before = std::fs::read(dir.join("process.csv")).unwrap();
    match results.write(analysis.output_dir()).unwrap_err() {
        Error::Write { file, message } => {
            assert_eq!(file_name(&file), "process.csv");
            assert!(message.contains("would replace the input"), "{message}");
        }
        e => panic!("{e:?}"),
    }
    assert_eq!(std::fs::read(dir.join("process.csv")).unwrap(), before);
    assert!(!dir.join("effects.csv").exists(), "nothing is written");

    // Two runs in one folder: the second replaces the first's files and
    // removes the one it no longer writes (cost.csv without [cost]).
    let dir = trial("manifest", small());
    let out = dir.join("out");
    let analysis = Analysis::from_file(dir.join("analysis.toml")).unwrap();
    let first = analysis.run().unwrap().write(&out).unwrap();
    assert!(out.join("cost.csv").exists());
    let manifest = std::fs::read_to_string(out.join(trialpanel::report::MANIFEST)).unwrap();
    assert!(manifest.lines().any(|l| l == "cost.csv"), "{manifest}");
    assert!(first.replaced.is_empty() && first.removed.is_empty());
    std::fs::write(out.join("notes.txt"), "mine").unwrap();
    edit(&dir, "analysis.toml", |t| {
        t.replace("[cost]\nthrough = 26\nper = [\"employed\"]\n", "")
    });
    let analysis = Analysis::from_file(dir.join("analysis.toml")).unwrap();
    let second = analysis.run().unwrap().write(&out).unwrap();
    assert_eq!(second.removed, vec![out.join("cost.csv")]);
    assert!(second.replaced.contains(&out.join("effects.csv")));
    assert!(!out.join("cost.csv").exists());
    assert_eq!(
        std::fs::read_to_string(out.join("notes.txt")).unwrap(),
        "mine"
    );
}

// ---------------------------------------------------------------- defaults

#[test]
fn default_history_covariates_without_values_are_dropped_and_said() {
    // A register that starts at the first referral: no one has 52 weeks
    // of history.
    let dir = trial(
        "no_history",
        TrialSpec {
            history: 0,
            ..small()
        },
    );
    let results = warned(&dir, &["`weeks_on_benefit_52` has no value for anyone"]);
    assert_eq!(
        results.balance.left_out,
        ["weeks_on_benefit_52", "weeks_employed_52", "hours_52"]
    );
    assert!(
        results
            .balance
            .rows
            .iter()
            .all(|r| !r.covariate.ends_with("_52"))
    );
    assert!(
        results.balance.joint.f.is_some(),
        "the person covariates are still tested"
    );
}

#[test]
fn an_element_answered_by_one_respondent_has_its_share_without_interval() {
    use polars::prelude::*;
    use trialpanel::estimators::fidelity;
    use trialpanel::inputs::{Survey, SurveySpec};
    use trialpanel::stats::{Level, Thresholds};
    let spec = SurveySpec {
        scale: ["no", "some", "high", "very high"]
            .map(String::from)
            .to_vec(),
        elements: [(
            "talks".to_string(),
            vec!["q1".to_string(), "q2".to_string()],
        )]
        .into(),
        ..SurveySpec::default()
    };
    let answers = df!("respondent" => ["r1", "r1", "r2", "r2", "r3", "r3"],
                      "site" => ["A", "A", "B", "B", "B", "B"],
                      "wave" => [1, 1, 1, 1, 1, 1],
                      "item" => ["q1", "q2", "q1", "q2", "q1", "q2"],
                      "answer" => ["high", "some", "high", "high", "no", "high"])
    .unwrap();
    let survey = Survey::from_frame(answers, "survey", &spec).unwrap();
    let f = fidelity(&survey, Level::default(), &Thresholds::default());
    let a = f
        .rows
        .iter()
        .find(|r| r.item.is_none() && r.site == "A")
        .unwrap();
    // One respondent: q1 1/1, q2 0/1, the element their mean, no interval.
    let level = a.level.unwrap();
    assert_eq!(
        (a.n, level.share, level.ci_low, level.ci_high),
        (1, 0.5, None, None)
    );
    assert!(a.uncertain);
}
