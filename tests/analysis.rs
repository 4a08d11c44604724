//! The analysis file, the `trialpanel` command, report.md and the figures
//! (issue 6).

mod common;

use std::path::{Path, PathBuf};

use common::{MINIMAL, sample, sample_file};

use trialpanel::Arm;
use trialpanel::analysis::{Analysis, AnalysisConfig, OutcomeConfig, OutcomeKind};
use trialpanel::{Error, LongColumns, SpellRule};

// ---------------------------------------------------------------- the file

#[test]
fn sample_file_round_trips_through_toml() {
    let text = std::fs::read_to_string(sample_file()).unwrap();
    let config = AnalysisConfig::from_toml(&text, &sample_file()).unwrap();
    let again = AnalysisConfig::from_toml(&config.to_toml().unwrap(), Path::new("x")).unwrap();
    assert_eq!(config, again);
    assert_eq!(config.outcomes.len(), 8);
    assert_eq!(config.persons.block.as_deref(), Some("municipality"));
    assert_eq!(config.weeks.snapshot, Some(vec![13, 26, 35, 44]));
    assert_eq!(config.outcomes[7].spell_rule(), SpellRule::default());
}

#[test]
fn options_that_mean_none_round_trip_as_false() {
    let mut config = AnalysisConfig::from_toml(
        &std::fs::read_to_string(sample_file()).unwrap(),
        &sample_file(),
    )
    .unwrap();
    config.long = Some(LongColumns {
        hours: None,
        ..LongColumns::default()
    });
    config.outcomes[7].rule = Some(SpellRule::default().hours_threshold(None).min_weeks(8));
    let text = config.to_toml().unwrap();
    assert!(text.contains("hours = false"), "{text}");
    assert!(text.contains("hours_threshold = false"), "{text}");
    assert_eq!(
        AnalysisConfig::from_toml(&text, Path::new("x")).unwrap(),
        config
    );
}

#[test]
fn a_minimal_file_takes_documented_defaults() {
    let text = r#"
        [inputs]
        persons = "p.csv"
        codes = "c.csv"
        register = "r.csv"

        [[outcomes]]
        kind = "employed"
    "#;
    let c = AnalysisConfig::from_toml(text, Path::new("a.toml")).unwrap();
    assert_eq!(c.output, PathBuf::from("output"));
    assert_eq!(c.weeks.first, 0);
    assert_eq!(c.weeks.last, None);
    assert_eq!(c.design.design(), trialpanel::Design::default());
    assert!(c.design.adjust.is_empty());
    assert_eq!(c.balance.history.len(), 3);
    assert_eq!(c.report.min_cell, 5);
    assert!(c.report.figures);
    assert_eq!(c.outcomes[0].display_name(), "employed");
}

/// Parse MINIMAL with `edit` applied; the error it gives.
fn error_of(edit: impl FnOnce(String) -> String) -> (Option<usize>, String, String) {
    let text = edit(MINIMAL.to_string());
    match AnalysisConfig::from_toml(&text, Path::new("bad.toml")) {
        Err(Error::AnalysisFile {
            file,
            line,
            key,
            message,
        }) => {
            assert_eq!(file, PathBuf::from("bad.toml"));
            (line, key, message)
        }
        other => panic!("expected an AnalysisFile error for\n{text}\ngot {other:?}"),
    }
}

fn append(extra: &str) -> impl FnOnce(String) -> String + '_ {
    move |s| s + extra
}

#[test]
fn unknown_keys_are_named_with_their_line() {
    let (line, key, message) = error_of(|s| s.replace("title = \"t\"", "titel = \"t\""));
    assert_eq!((line, key.as_str()), (Some(2), "titel"));
    assert!(message.contains("unknown field `titel`"), "{message}");

    let (line, key, _) = error_of(|s| s.replace("codes = \"c.csv\"", "code_table = \"c.csv\""));
    assert_eq!((line, key.as_str()), (Some(6), "inputs.code_table"));

    let (line, key, message) = error_of(append("treshold = 1.0\n"));
    assert_eq!((line, key.as_str()), (Some(19), "outcomes[1].treshold"));
    assert!(message.contains("expected one of"), "{message}");

    let (_, key, _) = error_of(append("[design]\nblock = true\n"));
    assert_eq!(key, "design.block");

    let (_, key, _) = error_of(append("[sites]\nmin_n = 5\n"));
    assert_eq!(key, "sites");
}

#[test]
fn values_of_the_wrong_type_or_kind_are_named() {
    let (_, key, message) = error_of(append("[design]\nlevel = \"high\"\n"));
    assert_eq!(key, "design.level");
    assert!(message.contains("invalid type"), "{message}");

    let (_, key, message) = error_of(|s| s.replace("kind = \"hours\"", "kind = \"earnings\""));
    assert_eq!(key, "outcomes[1].kind");
    assert!(message.contains("unknown variant `earnings`"), "{message}");

    let (_, key, _) = error_of(append("[design]\nvariance = \"robust\"\n"));
    assert_eq!(key, "design.variance");

    let (_, key, message) = error_of(|s| {
        s.replace(
            "register = \"r.csv\"",
            "register = \"r.csv\"\nobserved_until = \"2016-W53\"",
        )
    });
    assert_eq!(key, "inputs.observed_until");
    assert!(message.contains("2016-W53"), "{message}");

    let (_, key, _) = error_of(|s| s.replace("last = 20", "last = 20.5"));
    assert_eq!(key, "weeks.last");

    let (_, key, message) = error_of(append("rule = { hours_threshold = true }\n"));
    assert_eq!(key, "outcomes[1].rule");
    assert!(message.contains("`false` for none"), "{message}");
}

#[test]
fn syntax_errors_and_missing_tables_are_reported() {
    let (line, _, message) = error_of(|s| s.replace("first = 0", "first = "));
    assert_eq!(line, Some(10));
    assert!(!message.is_empty());

    let (_, _, message) = error_of(|s| s.replace("[inputs]", "[input]"));
    assert!(message.contains("missing field `inputs`") || message.contains("unknown field"));
}

#[test]
fn settings_that_cannot_work_are_named() {
    type Edit = Box<dyn FnOnce(String) -> String>;
    let cases: Vec<(Edit, &str, &str)> = vec![
        (
            Box::new(append("[design]\nlevel = 1.5\n")),
            "design.level",
            "above 0 and at most 0.999999999",
        ),
        // So near 1 that the critical values are infinite.
        (
            Box::new(append("[design]\nlevel = 0.9999999999999999\n")),
            "design.level",
            "the critical values are infinite",
        ),
        (
            Box::new(append("[band]\ndraws = 0\n")),
            "band.draws",
            "between 1 and 10000000, not 0",
        ),
        (
            Box::new(append("[randomisation]\ndraws = 0\n")),
            "randomisation.draws",
            "between 1 and 100000, not 0",
        ),
        // Draw counts that would run for hours or abort on allocation.
        (
            Box::new(append("[band]\ndraws = 1000000000\n")),
            "band.draws",
            "between 1 and 10000000",
        ),
        (
            Box::new(append("[randomisation]\ndraws = 10000000000\n")),
            "randomisation.draws",
            "between 1 and 100000",
        ),
        (
            Box::new(append("[randomisation]\ndraws = 9223372036854775807\n")),
            "randomisation.draws",
            "between 1 and 100000",
        ),
        // Week numbers, rules and buckets a typo made absurd.
        (
            Box::new(|s: String| s.replace("first = 0", "first = -99999")),
            "weeks.first",
            "must be from -1040 to 1040, not -99999",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"spell\"\nrule = { activity = [\"work_placement\"], min_weeks = 0 }\n",
            )),
            "outcomes[2].rule.min_weeks",
            "must be from 1 to 1040, not 0",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"spell\"\nrule = { activity = [\"work_placement\"], max_gap = 5000 }\n",
            )),
            "outcomes[2].rule.max_gap",
            "must be from 0 to 1040, not 5000",
        ),
        (
            Box::new(append("[report]\nhours_buckets = [10.0, 5.0]\n")),
            "report.hours_buckets",
            "needs increasing upper bounds",
        ),
        (
            Box::new(|s: String| s.replace("title = \"t\"", "title = \"a <b>report</b>\"")),
            "title",
            "must be one line without `<` or `>`",
        ),
        (
            Box::new(|s: String| s.replace("title = \"t\"", "title = \"two\\nlines\"")),
            "title",
            "must be one line",
        ),
        (
            Box::new(append("[report]\nmin_cell = 0\n")),
            "report.min_cell",
            "at least 1",
        ),
        (
            Box::new(append("threshold = 2.0\n")),
            "outcomes[1].threshold",
            "only to kind = \"employed\"",
        ),
        (
            Box::new(append("categories = [\"a\"]\n")),
            "outcomes[1].categories",
            "only to kind = \"in_state\"",
        ),
        (
            Box::new(append("rule = { min_weeks = 8 }\n")),
            "outcomes[1].rule",
            "only to kind = \"spell\"",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"in_state\"\nname = \"edu\"\n",
            )),
            "outcomes[2].categories",
            "at least one category",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"in_state\"\ncategories = [\"x\"]\n",
            )),
            "outcomes[2].name",
            "needs a name",
        ),
        (
            Box::new(append("[[outcomes]]\nkind = \"hours\"\n")),
            "outcomes[2].name",
            "already named `hours`",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"employed\"\nname = \"a/b\"\n",
            )),
            "outcomes[2].name",
            "letters, digits",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"spell\"\n[[outcomes]]\nkind = \"spell\"\nname = \"spell8\"\n",
            )),
            "outcomes[3].kind",
            "only one spell outcome",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"spell\"\ncumulative = true\n",
            )),
            "outcomes[2].cumulative",
            "already cumulative",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"employed\"\nname = \"e2\"\nthreshold = -1.0\n",
            )),
            "outcomes[2].threshold",
            "finite and ≥ 0",
        ),
        (
            Box::new(|s: String| s.replace("last = 20", "last = -1")),
            "weeks.last",
            "before weeks.first",
        ),
        (
            Box::new(|s: String| s.replace("[10, 20]", "[10, 21]")),
            "weeks.snapshot[1]",
            "outside",
        ),
        (
            Box::new(|s: String| s.replace("[10, 20]", "[10, 20]\nsignificant_through = 30")),
            "weeks.significant_through",
            "outside",
        ),
        (
            Box::new(append("[report]\nhours_week = -3\n")),
            "report.hours_week",
            "outside",
        ),
        (
            Box::new(|s: String| {
                let head = s.split("[[outcomes]]").next().unwrap().to_string();
                head.replace("title = \"t\"", "title = \"t\"\noutcomes = []")
            }),
            "outcomes",
            "at least one [[outcomes]] entry",
        ),
        (
            Box::new(append("[wide]\nhours_prefix = \"h_\"\n")),
            "wide",
            "form = \\\"wide\\\"",
        ),
        (
            Box::new(append(
                "[balance]\n[[balance.history]]\noutcome = \"earnings\"\nweeks = 52\n",
            )),
            "balance.history[0].outcome",
            "neither a built-in outcome",
        ),
        (
            Box::new(append(
                "[balance]\n[[balance.history]]\noutcome = \"hours\"\nweeks = 0\n",
            )),
            "balance.history[0].weeks",
            "at least 1 week",
        ),
        (
            Box::new(append(
                "[[outcomes]]\nkind = \"hours\"\ncumulative = true\n[balance]\n[[balance.history]]\noutcome = \"cumulative_hours\"\nweeks = 26\n",
            )),
            "balance.history[0].outcome",
            "after referral only",
        ),
        (
            Box::new(append(
                "[balance]\n[[balance.history]]\noutcome = \"hours\"\nweeks = 52\n[[balance.history]]\noutcome = \"hours\"\nweeks = 52\n",
            )),
            "balance.history[1].name",
            "hours_52",
        ),
        // The fidelity and cost settings (issue 19).
        (
            Box::new(append(
                "[[process]]\nrule = \"within\"\nname = \"talk\"\nevent = \"talk\"\nweeks = 4\n",
            )),
            "process[0]",
            "reads the event log: set `[inputs] events`",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"every\"\nname = \"talk\"\nevent = \"talk\"\nweeks = 0\n"
            }),
            "process[0]",
            "weeks must be from 1 to 520, not 0",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"within\"\nname = \"talk\"\nevent = \"talk\"\nweeks = 2147483647\n"
            }),
            "process[0]",
            "weeks must be from 1 to 520, not 2147483647",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"after\"\nname = \"talk\"\nevent = \"talk\"\nafter = \"talk\"\nweeks = 2\n"
            }),
            "process[0]",
            "an event always follows itself",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"every\"\nname = \"talk\"\nevent = \"talk\"\nweeks = 4\nthrough = -1\n"
            }),
            "process[0]",
            "through must be from 0 to 520, not -1",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"inactive\"\nname = \"idle\"\nweeks = 12\nshorter_than = 14\n"
            }),
            "process[0]",
            "shorter_than must be from 1 to weeks + 1 = 13",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"within\"\nname = \"talk | cv\"\nevent = \"talk\"\nweeks = 4\n"
            }),
            "process[0].name",
            "would break the report",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nevents = \"e.csv\"",
                ) + "[[process]]\nrule = \"within\"\nname = \"<b>talk</b>\"\nevent = \"talk\"\nweeks = 4\n"
            }),
            "process[0].name",
            "contains `<`",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nsurvey = \"s.csv\"",
                )
            }),
            "survey",
            "needs a `[survey]` table",
        ),
        (
            Box::new(|s: String| {
                s.replace(
                    "register = \"r.csv\"",
                    "register = \"r.csv\"\nsurvey = \"s.csv\"",
                ) + "[survey]\nscale = [\"no\", \"yes\"]\ntop = 2\nelements = { a = [\"q1\"] }\n"
            }),
            "survey",
            "more than `top` = 2",
        ),
        (
            Box::new(append("[cost]\nthrough = 10\nper = [\"spell\"]\n")),
            "cost.per",
            "`spell` is not an outcome",
        ),
        (
            Box::new(append(
                "[[correlations]]\nx = \"effect:employed@10\"\ny = \"fidelity:talks\"\n",
            )),
            "correlations[0]",
            "needs `sites = true`",
        ),
        (
            Box::new(append(
                "[[correlations]]\nx = \"employed\"\ny = \"fidelity:talks\"\n",
            )),
            "correlations[0].x",
            "write `process:<indicator>`",
        ),
    ];
    for (edit, want_key, want_message) in cases {
        let (_, key, message) = error_of(edit);
        assert_eq!(key, want_key, "{message}");
        let want = want_message.replace("\\\"", "\"");
        assert!(message.contains(&want), "{key}: `{message}` lacks `{want}`");
    }
}

#[test]
fn data_dependent_settings_fail_when_the_analysis_runs() {
    let text = std::fs::read_to_string(sample_file()).unwrap();
    let text = text.replace(
        "[[outcomes]]\nkind = \"work_placement\"",
        "[[outcomes]]\nkind = \"in_state\"\nname = \"education\"\ncategories = [\"education\"]",
    );
    let config = AnalysisConfig::from_toml(&text, &sample_file()).unwrap();
    let analysis = Analysis::new(config, sample_file().parent().unwrap()).unwrap();
    match analysis.run() {
        Err(Error::InvalidSetting { reason, .. }) => {
            assert!(reason.contains("education"), "{reason}")
        }
        other => panic!("expected InvalidSetting, got {other:?}"),
    }
}

#[test]
fn a_missing_analysis_file_is_an_io_error() {
    assert!(matches!(
        Analysis::from_file("no/such/analysis.toml"),
        Err(Error::Io { .. })
    ));
}

// ---------------------------------------------------------------- outputs

#[test]
fn every_output_is_written_with_the_documented_columns() {
    let (_, results, dir) = sample("analysis");
    for name in [
        "effects.csv",
        "balance.csv",
        "spell_km.csv",
        "results.json",
        "report.md",
        "figures/spell_km.svg",
        "figures/hours_distribution.svg",
    ] {
        assert!(dir.join(name).is_file(), "{name} missing");
    }
    for o in &results.outcomes {
        let f = dir.join(format!("figures/effects_{}.svg", o.effects.outcome));
        assert!(f.is_file(), "{}", f.display());
    }
    let header = |name: &str| {
        std::fs::read_to_string(dir.join(name))
            .unwrap()
            .lines()
            .next()
            .unwrap()
            .to_string()
    };
    assert_eq!(
        header("effects.csv"),
        "outcome,estimator,week,n_treat,n_control,mean_treat,mean_control,sd_treat,sd_control,\
         effect,se,df,ci_low,ci_high,p_value,mde,relative_effect,ratio,ratio_se,clusters_treat,\
         clusters_control,blocks_used,blocks_dropped,p_holm,p_bh,family,p_fwer,band_low,band_high,\
         dropped,note"
    );
    assert_eq!(
        header("balance.csv"),
        "covariate,level,n_treat,n_control,missing_treat,missing_control,mean_treat,mean_control,\
         sd_treat,sd_control,diff,smd,var_ratio,test,statistic,df1,df2,p_value,missing_p_value,\
         clusters_treat,clusters_control"
    );
    assert_eq!(
        header("spell_km.csv"),
        "arm,week,at_risk,events,cum_incidence,se,ci_low,ci_high"
    );
    // Every outcome and week of the analysis is in effects.csv.
    let rows = common::rows_of(&dir.join("effects.csv"));
    assert_eq!(rows.len(), 8 * 45);
}

#[test]
fn the_pipeline_gives_the_same_numbers_as_the_separate_functions() {
    use trialpanel::estimators::{self, BandSpec};
    use trialpanel::{CodeTable, Outcome, Panel, PersonSpec, Persons};
    let (_, results, _) = sample("analysis");
    let dir = sample_file().parent().unwrap().to_path_buf();
    let persons = Persons::read(
        dir.join("persons.csv"),
        &PersonSpec::default()
            .block_column("municipality")
            .covariate_columns(&["age", "female", "education", "children"]),
    )
    .unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    let panel = Panel::builder(&persons, &codes)
        .observed_until("2017-W02".parse().unwrap())
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap();
    let values = Outcome::employed(0.0).evaluate(&panel, 0..=44).unwrap();
    let weekly = estimators::weekly_effects(&values, &Default::default()).unwrap();
    let band = estimators::simultaneous_band(&values, &weekly, &BandSpec::default()).unwrap();
    let mut weekly = weekly.with_band(band);
    // The family marks its rows; the estimates are those of the library.
    for r in &mut weekly.rows {
        if let Some(m) = results.families[0]
            .members
            .iter()
            .find(|m| m.outcome == "employed" && m.week == r.week)
        {
            r.family = Some("primary".into());
            r.p_fwer = m.p_fwer;
        }
    }
    assert_eq!(results.outcome("employed").unwrap().effects, weekly);
    // Outcomes without band, randomisation or sites come from one scan of
    // exact sums: equal to WeeklySums, and to the evaluated values' table
    // up to floating-point rounding.
    let placement = Outcome::work_placement();
    let sums =
        trialpanel::outcome::WeeklySums::of(&panel, std::slice::from_ref(&placement), 0..=44)
            .unwrap();
    let sums = estimators::weekly_effects_from_sums(&sums, &Default::default()).unwrap();
    let piped = &results.outcome("work_placement").unwrap().effects;
    assert_eq!(piped, &sums[0]);
    let matrix = estimators::weekly_effects(
        &placement.evaluate(&panel, 0..=44).unwrap(),
        &Default::default(),
    )
    .unwrap();
    for (a, b) in piped.rows.iter().zip(&matrix.rows) {
        assert_eq!(a.estimate.n_treat, b.estimate.n_treat);
        for (x, y) in [
            (a.estimate.effect, b.estimate.effect),
            (a.estimate.se, b.estimate.se),
            (a.estimate.p_value, b.estimate.p_value),
        ] {
            let (x, y) = (x.unwrap(), y.unwrap());
            assert!(
                (x - y).abs() <= 1e-11 * (1.0 + y.abs()),
                "week {}: {x} vs {y}",
                a.week
            );
        }
    }
    // The balance table uses the 52-week history the panel keeps.
    let balance = trialpanel::estimators::balance(
        &panel,
        &trialpanel::estimators::BalanceSpec::default()
            .history(trialpanel::estimators::HistoryCovariate::weeks_on_benefit(
                52,
            ))
            .history(trialpanel::estimators::HistoryCovariate::weeks_employed(52))
            .history(trialpanel::estimators::HistoryCovariate::hours(52)),
    )
    .unwrap();
    assert_eq!(results.balance, balance);
}

#[test]
fn results_json_holds_everything() {
    let (_, results, dir) = sample("analysis");
    let text = std::fs::read_to_string(dir.join("results.json")).unwrap();
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["outcomes"].as_array().unwrap().len(), 8);
    assert_eq!(json["trial"]["persons"]["treatment"], 1502);
    assert_eq!(json["config"]["weeks"]["last"], 44);
    let employed = &json["outcomes"][4];
    assert_eq!(employed["effects"]["outcome"], "employed");
    let week35 = &employed["effects"]["rows"][35];
    let want = results
        .outcome("employed")
        .unwrap()
        .effects
        .week(35)
        .unwrap();
    assert_eq!(week35["week"], 35);
    assert_eq!(week35["effect"].as_f64(), want.estimate.effect);
    assert!(employed["randomisation"]["p_max_t"].is_number());
    assert!(employed["sites"]["heterogeneity"].is_array());
    assert!(json["spell"]["km"]["log_rank"]["statistic"].is_number());
    assert_eq!(json["hours"]["week"], 35);
}

#[test]
fn report_md_shows_design_balance_snapshots_hours_and_spell() {
    let (_, results, dir) = sample("analysis");
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    for needle in [
        "## Design",
        "| Persons randomised | 1502 | 1498 |",
        "| Kommune A | 66 | 66 |",
        "## Balance at referral",
        "Joint test",
        "## Outcome `employed` (share of persons)",
        "![employed: weekly means by arm and the effect with its confidence band](figures/effects_employed.svg)",
        "## Hours at week 35",
        "## Time to a completed spell (`spell`)",
        "Log-rank chi-square",
        "Randomisation test (1000 re-draws",
        "Equal effects across sites at week 35: Cochran's Q = ",
    ] {
        assert!(report.contains(needle), "report.md lacks `{needle}`");
    }
    // Persons without any register data, per arm (treatment first).
    let load = &results.trial.load;
    assert_eq!(load.persons, [1498, 1502]);
    let row = format!(
        "| Persons with no register data (no benefit, no hours in any week kept) | {} ({:.1}%) | {} ({:.1}%) |",
        load.persons_without_data[1],
        100.0 * load.persons_without_data[1] as f64 / 1502.0,
        load.persons_without_data[0],
        100.0 * load.persons_without_data[0] as f64 / 1498.0,
    );
    assert!(report.contains(&row), "report.md lacks `{row}`");
    // Snapshot rows carry the rounded estimates of the results.
    for o in &results.outcomes {
        for k in &results.snapshot {
            let e = &o.effects.week(*k).unwrap().estimate;
            let row = format!("| {k} | {} / {} |", e.n_treat, e.n_control);
            assert!(report.contains(&row), "{}: {row}", o.effects.outcome);
        }
    }
    let e = &results
        .outcome("employed")
        .unwrap()
        .effects
        .week(35)
        .unwrap()
        .estimate;
    let row = format!(
        "| 35 | {} / {} | {:.1}% | {:.1}% | {:.1} pp |",
        e.n_treat,
        e.n_control,
        100.0 * e.mean_treat.unwrap(),
        100.0 * e.mean_control.unwrap(),
        100.0 * e.effect.unwrap()
    );
    assert!(report.contains(&row), "{row}");
    // Hours in hours with two decimals (the heading names the unit).
    let h = &results
        .outcome("hours")
        .unwrap()
        .effects
        .week(35)
        .unwrap()
        .estimate;
    let hours = format!(
        "| {:.2} | {:.2} |",
        h.mean_treat.unwrap(),
        h.mean_control.unwrap()
    );
    assert!(report.contains(&hours), "{hours}");
    assert!(!report.contains(" min)"), "hours with minutes");
    // Where the spell's effect is significant: its first week and runs,
    // as the weekly p-values say.
    let spell = results.outcome("spell").unwrap();
    let p: Vec<(i32, bool)> = spell
        .effects
        .rows
        .iter()
        .filter_map(|r| r.estimate.p_value.map(|p| (r.week, p < 0.05)))
        .collect();
    let first = p.iter().find(|x| x.1).map(|x| x.0).unwrap();
    let significant = p.iter().filter(|x| x.1).count();
    let w = &spell.significant.pointwise;
    assert_eq!(
        (w.first(), w.significant, w.tested),
        (Some(first), significant, p.len())
    );
    let run = format!("pointwise in weeks {first}–");
    assert!(report.contains(&run), "{run}");
    assert!(report.contains(&format!("({significant} of {} weeks tested)", p.len())));
}

// ---------------------------------------------------------------- figures

/// Points of the polylines drawn in `colour`, each as its list of (x, y).
fn polylines(svg: &str, colour: &str) -> Vec<Vec<(f64, f64)>> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("polyline") && n.attribute("stroke") == Some(colour))
        .map(|n| {
            n.attribute("points")
                .unwrap()
                .split_whitespace()
                .map(|p| {
                    let (x, y) = p.split_once(',').unwrap();
                    (x.parse().unwrap(), y.parse().unwrap())
                })
                .collect()
        })
        .collect()
}

fn texts(svg: &str) -> Vec<String> {
    let doc = roxmltree::Document::parse(svg).expect("well-formed SVG");
    doc.descendants()
        .filter(|n| n.has_tag_name("text"))
        .filter_map(|n| n.text().map(|t| t.trim().to_string()))
        .collect()
}

const TREATMENT: &str = "#0072B2";
const CONTROL: &str = "#D55E00";

/// The longest polyline of a colour follows `values`: one point per value,
/// x increasing, y (pixels, downwards) moving against the value.
fn assert_series(svg: &str, colour: &str, values: &[f64]) {
    let lines = polylines(svg, colour);
    let line = lines.iter().max_by_key(|l| l.len()).expect("a series");
    assert_eq!(line.len(), values.len(), "{colour}: points");
    for (w, v) in line.windows(2).zip(values.windows(2)) {
        assert!(w[1].0 > w[0].0);
        let (dy, dv) = (w[1].1 - w[0].1, v[1] - v[0]);
        assert!(dy * dv <= 0.0, "{colour}: y moves with the value");
    }
}

#[test]
fn effects_figures_are_well_formed_and_draw_the_weekly_means() {
    let (_, results, dir) = sample("analysis");
    for o in &results.outcomes {
        let svg =
            std::fs::read_to_string(dir.join(format!("figures/effects_{}.svg", o.effects.outcome)))
                .unwrap();
        let scale = if o.unit == trialpanel::analysis::Unit::Share {
            100.0
        } else {
            1.0
        };
        let means = |arm: Arm| -> Vec<f64> {
            o.effects
                .rows
                .iter()
                .map(|r| {
                    scale
                        * match arm {
                            Arm::Treatment => r.estimate.mean_treat.unwrap(),
                            Arm::Control => r.estimate.mean_control.unwrap(),
                        }
                })
                .collect()
        };
        assert_series(&svg, TREATMENT, &means(Arm::Treatment));
        assert_series(&svg, CONTROL, &means(Arm::Control));
        let effect: Vec<f64> = o
            .effects
            .rows
            .iter()
            .map(|r| scale * r.estimate.effect.unwrap())
            .collect();
        assert_series(&svg, "#000000", &effect);
        let t = texts(&svg);
        for label in [
            "treatment",
            "control",
            "effect",
            "95% CI",
            "event week (0 = referral week)",
            "Persons followed (treatment above, control below)",
        ] {
            assert!(
                t.iter().any(|x| x == label),
                "{}: {label}",
                o.effects.outcome
            );
        }
        assert_eq!(
            t.iter().any(|x| x == "simultaneous 95% band"),
            o.effects.band.is_some()
        );
        // The number followed at week 0 under the axis.
        let n0 = o.effects.rows[0].estimate.n_treat.to_string();
        assert!(t.contains(&n0));
    }
    let employed = std::fs::read_to_string(dir.join("figures/effects_employed.svg")).unwrap();
    assert!(texts(&employed).iter().any(|x| x == "share of persons (%)"));
    let hours = std::fs::read_to_string(dir.join("figures/effects_hours.svg")).unwrap();
    assert!(texts(&hours).iter().any(|x| x == "ordinary hours per week"));
}

#[test]
fn kaplan_meier_figure_draws_both_step_curves() {
    let (_, results, dir) = sample("analysis");
    let svg = std::fs::read_to_string(dir.join("figures/spell_km.svg")).unwrap();
    let km = &results.spell.as_ref().unwrap().km;
    for (arm, colour) in [(Arm::Treatment, TREATMENT), (Arm::Control, CONTROL)] {
        let rows = &km.curves[arm as usize];
        let lines = polylines(&svg, colour);
        let curve = lines.iter().max_by_key(|l| l.len()).unwrap();
        // A step function: a vertical and a horizontal move per week.
        assert_eq!(curve.len(), 2 * rows.len() - 1, "{arm:?}");
        let top = curve.iter().map(|p| p.1).fold(f64::INFINITY, f64::min);
        assert_eq!(
            curve.last().unwrap().1,
            top,
            "the curve ends at its maximum"
        );
    }
    let t = texts(&svg);
    assert!(
        t.iter()
            .any(|x| x == "completed a spell (%, cumulative incidence)")
    );
    assert!(t.iter().any(|x| x.starts_with("treatment (95% CI")));
    assert!(t.contains(&km.curves[0][0].at_risk.to_string()));
}

#[test]
fn hours_figure_has_one_bar_per_bucket_and_arm() {
    let (_, results, dir) = sample("analysis");
    let svg = std::fs::read_to_string(dir.join("figures/hours_distribution.svg")).unwrap();
    let doc = roxmltree::Document::parse(&svg).unwrap();
    let d = &results.hours.as_ref().unwrap().distribution;
    for colour in [TREATMENT, CONTROL] {
        let bars = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect") && n.attribute("fill") == Some(colour))
            .count();
        assert_eq!(
            bars,
            d.buckets.len() + 1,
            "{colour}: a bar per bucket and a legend key"
        );
    }
    let t = texts(&svg);
    for b in &d.buckets {
        assert!(t.contains(b), "{b}");
    }
    assert!(t.iter().any(|x| x == "share of those working (%)"));
}

// ---------------------------------------------------------------- command line
#[test]
fn a_wide_register_gives_the_same_effects_as_the_long_one() {
    let long_text = std::fs::read_to_string(sample_file()).unwrap();
    let wide_text = long_text
        .replace(
            "register = \"register_long.parquet\"",
            "register = \"register_wide.csv\"",
        )
        .replace("form = \"long\"", "form = \"wide\"")
        .replace(
            "[long]\nid = \"person_id\"\nweek = \"week\"\ncode = \"code\"\nhours = \"hours\"",
            "[wide]\nhours_prefix = \"h_\"",
        );
    // `employed` on the exact-sums path (no band, randomisation or sites)
    // and on the evaluated-values path (with sites).
    let run = |text: &str, sites: bool| {
        let mut config = AnalysisConfig::from_toml(text, &sample_file()).unwrap();
        config.outcomes.retain(|o| o.kind == OutcomeKind::Employed);
        config.families.clear();
        config.cost = None;
        config.correlations.clear();
        config.outcomes[0] = OutcomeConfig {
            band: false,
            randomisation: false,
            sites,
            ..config.outcomes[0].clone()
        };
        Analysis::new(config, sample_file().parent().unwrap())
            .unwrap()
            .run()
            .unwrap()
    };
    for sites in [false, true] {
        let (wide, long) = (run(&wide_text, sites), run(&long_text, sites));
        let (w, l) = (&wide.outcomes[0].effects, &long.outcomes[0].effects);
        assert_eq!(w.rows.len(), l.rows.len());
        for (w, l) in w.rows.iter().zip(&l.rows) {
            assert_eq!(w.estimate, l.estimate, "week {}, sites {sites}", w.week);
        }
        assert_eq!(wide.balance, long.balance);
    }
}

#[test]
fn the_readme_figures_are_what_the_pipeline_draws() {
    let (_, _, dir) = sample("analysis");
    for name in ["effects_employed.svg", "fidelity_lights.svg"] {
        let docs = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("docs")
            .join(name);
        assert!(
            std::fs::read(docs).unwrap() == std::fs::read(dir.join("figures").join(name)).unwrap(),
            "docs/{name} is stale: run `cargo run --release --example jobfirst` and copy \
             output/jobfirst/figures/{name} to docs/"
        );
    }
}

#[test]
fn follow_up_summary_matches_the_person_table() {
    // Independently of the week arithmetic: every referral is in 2016 (52
    // ISO weeks) and the extract is 2017-W02, so follow-up = 52 + 2 − week.
    let (_, results, _) = sample("analysis");
    let text =
        std::fs::read_to_string(sample_file().parent().unwrap().join("persons.csv")).unwrap();
    for arm in [Arm::Treatment, Arm::Control] {
        let mut weeks: Vec<i32> = text
            .lines()
            .skip(1)
            .filter(|l| l.split(',').nth(1) == Some(arm.name()))
            .map(|l| {
                let r = l.split(',').nth(2).unwrap();
                assert!(r.starts_with("2016-W"), "{r}");
                54 - r[6..].parse::<i32>().unwrap()
            })
            .collect();
        weeks.sort_unstable();
        let n = weeks.len();
        let median = if n % 2 == 1 {
            f64::from(weeks[n / 2])
        } else {
            f64::from(weeks[n / 2 - 1] + weeks[n / 2]) / 2.0
        };
        let f = results
            .trial
            .follow_up
            .iter()
            .find(|f| f.arm == arm)
            .unwrap();
        assert_eq!(
            (f.min, f.median, f.max),
            (weeks[0], median, weeks[n - 1]),
            "{arm:?}"
        );
        let persons = &results.trial.persons;
        let count = if arm == Arm::Treatment {
            persons.treatment
        } else {
            persons.control
        };
        assert_eq!(count, n);
    }
}
#[test]
fn sample_outputs_are_unchanged() {
    // Recorded outputs (tests/fixtures/sample_outputs/README.md): a refactor
    // must leave every number of the sample as it was, byte for byte.
    let (_, _, dir) = sample("analysis");
    let recorded = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/sample_outputs");
    for name in [
        "effects.csv",
        "balance.csv",
        "spell_km.csv",
        "process.csv",
        "fidelity.csv",
        "fidelity_change.csv",
        "cost.csv",
        "correlations.csv",
    ] {
        let now = std::fs::read_to_string(dir.join(name)).unwrap();
        let then = std::fs::read_to_string(recorded.join(name)).unwrap();
        assert!(
            now == then,
            "{name} differs from the recorded sample output"
        );
    }
}

/// The sample's register-based process indicator against an independent
/// count of `register_wide.csv` (tests/fixtures/fidelity/inactive_sample.py,
/// Python standard library, written without reading trialpanel): the same
/// persons judged and met at every site and arm. The share is low because
/// the simulated activity builds up over the first weeks, and the report
/// says what counts as an active week.
#[test]
fn the_sample_inactive_indicator_equals_an_independent_count() {
    let (_, results, dir) = sample("analysis");
    let table = results
        .config
        .process
        .iter()
        .zip(&results.process)
        .find(|(rule, _)| rule.name() == "fewer_than_4_inactive_weeks")
        .map(|(_, t)| t)
        .unwrap();
    let want = common::rows("fidelity/inactive_sample.csv");
    assert_eq!(want.len(), 48);
    for w in &want {
        let arm = match w["arm"].as_str() {
            "treatment" => Some(Arm::Treatment),
            "control" => Some(Arm::Control),
            _ => None,
        };
        let row = table
            .rows
            .iter()
            .find(|r| r.site == w["site"] && r.arm == arm)
            .unwrap();
        let share = row.share.unwrap();
        let (judged, met): (usize, usize) =
            (w["judged"].parse().unwrap(), w["met"].parse().unwrap());
        assert_eq!(share.n, judged, "{w:?}");
        assert!(
            (share.share * judged as f64 - met as f64).abs() < 1e-9,
            "{w:?}"
        );
    }
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("the event log's talks and contacts do not count"));
}
