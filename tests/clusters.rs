//! Clustered designs and covariate adjustment against R estimatr 1.0 and
//! sandwich (tests/fixtures/clusters, made by make_fixtures.R; versions in
//! versions.txt there): CR2 differences in means with Bell–McCaffrey df,
//! blocked + clustered, Lin with HC2 and CR2, through the library and the
//! exact sums.

mod common;

use std::collections::HashMap;

use common::{fixture, num, rows};
use trialpanel::sums::WeeklySums;
use trialpanel::{
    Adjustment, CodeTable, Design, Error, LongColumns, Outcome, Panel, PersonSpec, Persons,
    WeeklyEffects, lin_effects, weekly_effects,
};

/// Relative agreement asked of every estimate (the 1e-8).
const REL: f64 = 1e-8;

fn close(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: missing, want {want}"));
    assert!(
        (got - want).abs() <= REL * want.abs() + 1e-12,
        "{what}: got {got}, want {want}"
    );
}

fn spec(clustered: bool) -> PersonSpec {
    let spec = PersonSpec::default()
        .block_column("municipality")
        .covariate_columns(&["age", "female", "education", "late"]);
    if clustered {
        spec.cluster_column("caseworker")
    } else {
        spec
    }
}

fn panel(clustered: bool) -> Panel {
    let persons = Persons::read(fixture("clusters/persons.csv"), &spec(clustered)).unwrap();
    let codes = CodeTable::read(fixture("clusters/codes.csv")).unwrap();
    Panel::builder(&persons, &codes)
        .long_file(fixture("clusters/register.csv"), &LongColumns::default())
        .unwrap()
}

fn outcome(name: &str) -> Outcome {
    match name {
        "hours" => Outcome::hours(),
        _ => Outcome::employed(0.0),
    }
}

fn adjustment(panel: &Panel) -> Adjustment {
    ["age", "female", "education", "late"]
        .iter()
        .fold(Adjustment::new(), |a, c| a.covariate(panel, c).unwrap())
}

/// The reference rows of `case`, by (outcome, week).
fn reference(case: &str) -> HashMap<(String, i32), HashMap<String, String>> {
    let all = rows("clusters/reference.csv");
    let picked: HashMap<_, _> = all
        .into_iter()
        .filter(|r| r["case"] == case)
        .map(|r| ((r["outcome"].clone(), num(&r, "week") as i32), r))
        .collect();
    assert_eq!(picked.len(), 50, "{case}: 2 outcomes × 25 weeks");
    picked
}

fn check(case: &str, outcome: &str, effects: &WeeklyEffects) {
    let want = reference(case);
    for row in &effects.rows {
        let w = &want[&(outcome.to_string(), row.week)];
        let what = |c: &str| format!("{case}/{outcome}/week {}: {c}", row.week);
        let e = &row.estimate;
        assert_eq!(e.n_treat as f64, num(w, "n_treat"), "{}", what("n_treat"));
        assert_eq!(
            e.n_control as f64,
            num(w, "n_control"),
            "{}",
            what("n_control")
        );
        for (col, got) in [
            ("effect", e.effect),
            ("se", e.se),
            ("df", e.df),
            ("ci_low", e.ci_low),
            ("ci_high", e.ci_high),
            ("p_value", e.p_value),
        ] {
            close(&what(col), got, num(w, col));
        }
    }
    assert_eq!(effects.rows.len(), 25);
}

#[test]
fn clustered_difference_in_means_equals_estimatr_cr2() {
    let panel = panel(true);
    for name in ["hours", "employed"] {
        let values = outcome(name).evaluate(&panel, 0..=24).unwrap();
        let plain = weekly_effects(&values, &Design::default()).unwrap();
        assert!(plain.clustered);
        check("difference_cr2", name, &plain);
        let blocked = weekly_effects(&values, &Design::default().blocked(true)).unwrap();
        check("blocked_cr2", name, &blocked);
        // Every clustered row counts its clusters.
        assert!(
            plain
                .rows
                .iter()
                .all(|r| r.estimate.clusters_treat >= Some(2))
        );
    }
}

#[test]
fn exact_sums_give_the_clustered_estimates() {
    let panel = panel(true);
    let outcomes = [Outcome::hours(), Outcome::employed(0.0)];
    let sums = WeeklySums::of(&panel, &outcomes, 0..=24).unwrap();
    for (design, case) in [
        (Design::default(), "difference_cr2"),
        (Design::default().blocked(true), "blocked_cr2"),
    ] {
        let tables = sums.effects(&design).unwrap();
        check(case, "hours", &tables[0]);
        check(case, "employed", &tables[1]);
        for t in &tables {
            assert!(t.clustered);
        }
    }
}

#[test]
fn lin_equals_estimatr_lm_lin() {
    for (clustered, design, case) in [
        (false, Design::default(), "lin_hc2"),
        (true, Design::default(), "lin_cr2"),
        (true, Design::default().blocked(true), "lin_cr2_blocked"),
    ] {
        let panel = panel(clustered);
        let adjust = adjustment(&panel);
        for name in ["hours", "employed"] {
            let values = outcome(name).evaluate(&panel, 0..=24).unwrap();
            let lin = lin_effects(&values, &design, &adjust).unwrap();
            assert_eq!(lin.estimator.as_str(), "lin");
            check(case, name, &lin);
            // The columns R reports as NA are the ones dropped here.
            let mut want: HashMap<i32, Vec<String>> = HashMap::new();
            for r in rows("clusters/dropped.csv") {
                if r["case"] == case && r["outcome"] == name {
                    want.entry(num(&r, "week") as i32)
                        .or_default()
                        .push(r["regressor"].clone());
                }
            }
            for row in &lin.rows {
                let expected = want.get(&row.week).cloned().unwrap_or_default();
                assert_eq!(row.dropped, expected, "{case}/{name}/week {}", row.week);
            }
        }
    }
}

#[test]
fn covariates_expand_to_dummies_and_missing_indicators() {
    let panel = panel(false);
    let adjust = adjustment(&panel);
    assert_eq!(
        adjust.regressors(),
        [
            "age",
            "age (missing)",
            "female",
            "education=secondary",
            "education=tertiary",
            "late"
        ]
    );
}

#[test]
fn a_cluster_in_both_arms_is_an_error_naming_it() {
    let dir = std::env::temp_dir().join(format!("trialpanel-span-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(fixture("clusters/persons.csv")).unwrap();
    // Move the first person of cw02 into the other arm.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let row = lines.iter().position(|l| l.contains("\"cw02\"")).unwrap();
    let line = lines[row].clone();
    lines[row] = if line.contains("\"treatment\"") {
        line.replace("\"treatment\"", "\"control\"")
    } else {
        line.replace("\"control\"", "\"treatment\"")
    };
    std::fs::write(dir.join("persons.csv"), lines.join("\n")).unwrap();
    let err = Persons::read(dir.join("persons.csv"), &spec(true)).unwrap_err();
    match &err {
        Error::ClusterSpans {
            cluster,
            what,
            row: r,
            ..
        } => {
            assert_eq!(cluster, "cw02");
            assert_eq!(*what, "both arms");
            assert!(*r >= 2);
        }
        other => panic!("unexpected error {other}"),
    }
    assert!(err.to_string().contains("caseworker"), "{err}");

    // And one in two blocks.
    let mut lines: Vec<String> = text.lines().map(String::from).collect();
    let rows: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| l.contains("\"cw02\""))
        .map(|(i, _)| i)
        .collect();
    let last = *rows.last().unwrap();
    lines[last] = lines[last].replace("\"north\"", "\"south\"");
    std::fs::write(dir.join("persons.csv"), lines.join("\n")).unwrap();
    let err = Persons::read(dir.join("persons.csv"), &spec(true)).unwrap_err();
    assert!(
        matches!(&err, Error::ClusterSpans { what: "two blocks", row, .. } if *row == last),
        "{err}"
    );
}
