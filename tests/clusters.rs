//! Clustered designs and covariate adjustment against R estimatr 1.0 and
//! sandwich (tests/fixtures/clusters, made by make_fixtures.R; versions in
//! versions.txt there): CR2 differences in means with Bell–McCaffrey df,
//! blocked + clustered, Lin with HC2 and CR2, through the library and the
//! exact sums.

mod common;

use std::collections::HashMap;

use common::{fixture, num, rows};
use trialpanel::outcome::WeeklySums;
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
            ("mde", e.mde),
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
        let tables = trialpanel::estimators::weekly_effects_from_sums(&sums, &design).unwrap();
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
            across_arms,
            row: r,
            ..
        } => {
            assert_eq!(cluster, "cw02");
            assert!(*across_arms);
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
        matches!(&err, Error::ClusterSpans { across_arms: false, row, .. } if *row == last),
        "{err}"
    );
}

#[test]
fn balance_with_clusters_equals_stata_style_cluster_robust_f() {
    let panel = panel(true);
    let spec = trialpanel::estimators::BalanceSpec {
        covariates: Some(vec![
            "age".into(),
            "female".into(),
            "education".into(),
            "late".into(),
        ]),
        history: Vec::new(),
    };
    let b = trialpanel::estimators::balance(&panel, &spec).unwrap();
    let want = &rows("clusters/balance_joint.csv")[0];
    let j = &b.joint;
    assert_eq!(j.n[1] as f64, num(want, "n_treat"));
    assert_eq!(j.n[0] as f64, num(want, "n_control"));
    assert_eq!(j.clusters.map(|g| g as f64), Some(num(want, "clusters")));
    close("joint F", j.f, num(want, "f"));
    close("joint df1", j.df1, num(want, "df1"));
    close("joint df2", j.df2, num(want, "df2"));
    close("joint p", j.p_value, num(want, "p_value"));
    for want in rows("clusters/balance_rows.csv") {
        let row = b
            .rows
            .iter()
            .find(|r| r.covariate == want["covariate"] && r.level.is_none())
            .unwrap();
        assert_eq!(row.test, Some("cr2"));
        close("t", row.statistic, num(&want, "statistic"));
        close("df", row.df1, num(&want, "df"));
        close("p", row.p_value, num(&want, "p_value"));
        assert!(row.clusters_treat.is_some());
    }
    // No chi-square on a categorical covariate of a clustered design.
    let education = b
        .rows
        .iter()
        .find(|r| r.covariate == "education" && r.level.is_none())
        .unwrap();
    assert_eq!(education.test, None);
}
#[test]
fn randomisation_re_draws_whole_clusters() {
    // Four clusters of three persons, two treated; the treated clusters
    // work more. Re-drawing whole clusters there are C(4,2) = 6
    // assignments, and the observed one and its mirror image give the
    // largest |t|: the exact p is 2/6. Re-drawing persons would give about
    // 2/924.
    let mut persons = String::from("person_id,arm,referral_week,caseworker\n");
    let mut register = String::from("person_id,week,code,hours\n");
    for (c, (arm, base)) in [
        ("treatment", 30.0),
        ("treatment", 28.0),
        ("control", 10.0),
        ("control", 12.0),
    ]
    .iter()
    .enumerate()
    {
        for i in 0..3 {
            let id = format!("p{c}{i}");
            persons.push_str(&format!("{id},{arm},2024-W01,cw{c}\n"));
            register.push_str(&format!("{id},2024-W01,111,{}\n", base + i as f64));
        }
    }
    let spec = PersonSpec::default().cluster_column("caseworker");
    let panel = common::tiny_panel("ri-clusters", &persons, &register, &spec);
    let values = Outcome::hours().evaluate(&panel, 0..=0).unwrap();
    let ri = trialpanel::estimators::randomisation_test(
        &values,
        &Design::default(),
        &trialpanel::estimators::RandomisationSpec::new(3000, 7).unwrap(),
    )
    .unwrap();
    let p = ri.p_values[0].unwrap();
    assert!((p - 1.0 / 3.0).abs() < 0.03, "p = {p}");
}

#[test]
fn the_band_covariance_sums_contributions_within_clusters() {
    let panel = panel(true);
    let values = Outcome::hours().evaluate(&panel, 0..=24).unwrap();
    let weeks = [3, 10, 20];
    let got = trialpanel::estimators::weekly_covariance(&values, &Design::default(), &weeks);
    // By hand: ψᵢₖ = ±(yᵢₖ − ȳₐₖ)/nₐₖ, summed per cluster, V = Σ_g ψ_g ψ_gᵀ.
    let persons = panel.persons();
    let clusters = persons.clusters().unwrap();
    let arms = persons.arms();
    let psi: Vec<Vec<f64>> = weeks
        .iter()
        .map(|&k| {
            let y = values.week(k).unwrap();
            let stats = |arm| {
                let v: Vec<f64> = (0..y.len())
                    .filter(|&p| arms[p] == arm && !y[p].is_nan())
                    .map(|p| y[p])
                    .collect();
                (v.iter().sum::<f64>() / v.len() as f64, v.len() as f64)
            };
            let (t, c) = (
                stats(trialpanel::Arm::Treatment),
                stats(trialpanel::Arm::Control),
            );
            let mut per = vec![0.0; clusters.labels.len()];
            for p in (0..y.len()).filter(|&p| !y[p].is_nan()) {
                per[clusters.index[p] as usize] += match arms[p] {
                    trialpanel::Arm::Treatment => (y[p] - t.0) / t.1,
                    trialpanel::Arm::Control => -(y[p] - c.0) / c.1,
                };
            }
            per
        })
        .collect();
    for a in 0..weeks.len() {
        for b in 0..weeks.len() {
            let want: f64 = psi[a].iter().zip(&psi[b]).map(|(x, y)| x * y).sum();
            close(&format!("V[{a},{b}]"), Some(got[(a, b)]), want);
        }
    }
}

#[test]
fn clustered_intervals_cover_under_a_strong_cluster_effect() {
    // Why the cluster column matters: 600 null trials that assign 20
    // caseworkers (sizes 5 to 40) to the arms, 10 each, with a cluster
    // effect of sd 1 and person noise of sd 1 (intra-cluster correlation
    // 0.5). The CR2 interval with Bell–McCaffrey df covers the true effect 0
    // in 95 ± 2.5% of the trials; the interval that treats persons as
    // independent (Welch) covers far less.
    use trialpanel::stats::{self, Moments};
    let mut rng = common::Normals(0x9e37_79b9_7f4a_7c15);
    let trials = 600;
    let (mut clustered, mut welch) = (0, 0);
    for _ in 0..trials {
        let mut order: Vec<usize> = (0..20).collect();
        for i in (1..order.len()).rev() {
            let j = (rng.uniform() * (i + 1) as f64) as usize;
            order.swap(i, j.min(i));
        }
        let (mut t, mut c) = (Vec::new(), Vec::new());
        let (mut all_t, mut all_c) = (Vec::new(), Vec::new());
        for (rank, &g) in order.iter().enumerate() {
            let size = 5 + (g * 35) / 19;
            let effect = rng.normal();
            let y: Vec<f64> = (0..size).map(|_| effect + rng.normal()).collect();
            if rank < 10 {
                all_t.extend(&y);
                t.push(Moments::of(&y));
            } else {
                all_c.extend(&y);
                c.push(Moments::of(&y));
            }
        }
        let e = stats::clustered_difference_in_means(&t, &c, 0.95);
        clustered += usize::from(e.ci_low.unwrap() <= 0.0 && 0.0 <= e.ci_high.unwrap());
        let w = stats::difference_in_means(
            &Moments::of(&all_t),
            &Moments::of(&all_c),
            0.95,
            trialpanel::Variance::Welch,
        );
        welch += usize::from(w.ci_low.unwrap() <= 0.0 && 0.0 <= w.ci_high.unwrap());
    }
    let share = |n: usize| n as f64 / trials as f64;
    assert!(
        (share(clustered) - 0.95).abs() <= 0.025,
        "CR2 coverage {}",
        share(clustered)
    );
    assert!(share(welch) < 0.80, "Welch coverage {}", share(welch));
}

#[test]
fn a_clustered_analysis_read_in_parts_equals_the_whole() {
    use trialpanel::analysis::Analysis;
    let base = Analysis::from_file(fixture("clusters/analysis.toml")).unwrap();
    let mut c = base.config().clone();
    c.design.adjust.clear();
    for o in &mut c.outcomes {
        o.randomisation = false;
    }
    for blocked in [false, true] {
        c.design.blocked = blocked;
        c.inputs.memory_budget_gb = None;
        let whole = Analysis::new(c.clone(), fixture("clusters"))
            .unwrap()
            .run()
            .unwrap();
        // 133 persons × 25 event weeks × 3 bytes: a tenth of it per part.
        c.inputs.memory_budget_gb = Some(5.0 * 133.0 * 25.0 * 3.0 / 10.0 / 1e9);
        let parts = Analysis::new(c.clone(), fixture("clusters"))
            .unwrap()
            .run()
            .unwrap();
        assert!(parts.trial.parts > 5, "{}", parts.trial.parts);
        for (w, p) in whole.outcomes.iter().zip(&parts.outcomes) {
            assert!(w.effects.clustered);
            assert_eq!(w.effects.rows, p.effects.rows);
        }
        assert_eq!(whole.balance, parts.balance);
    }
    // The Lin estimate needs every person's values: refused before reading.
    let mut c = base.config().clone();
    c.inputs.memory_budget_gb = Some(1e-6);
    let e = Analysis::new(c, fixture("clusters"))
        .unwrap()
        .run()
        .unwrap_err();
    assert!(
        matches!(e, Error::MemoryBudget { .. }) && e.to_string().contains("adjust"),
        "{e}"
    );
}

#[test]
fn site_and_subgroup_effects_are_clustered_too() {
    let panel = panel(true);
    let values = Outcome::hours().evaluate(&panel, 0..=24).unwrap();
    let sites = trialpanel::estimators::site_effects(&values, &Design::default(), 1).unwrap();
    let female =
        trialpanel::estimators::subgroup_effects(&values, &Design::default(), "female", 1).unwrap();
    let want = rows("clusters/groups.csv");
    assert_eq!(want.len(), 2 * (3 + 2));
    for w in &want {
        let table = if w["by"] == "site" { &sites } else { &female };
        let week = num(w, "week") as i32;
        let row = table
            .rows
            .iter()
            .find(|r| r.week == week && r.group == w["group"])
            .unwrap_or_else(|| panic!("{} {} week {week}", w["by"], w["group"]));
        let e = &row.estimate;
        let what = |c: &str| format!("{} {} week {week}: {c}", w["by"], w["group"]);
        assert_eq!(e.n_treat as f64, num(w, "n_treat"));
        assert_eq!(
            e.clusters_treat.map(|c| c as f64),
            Some(num(w, "clusters_treat"))
        );
        assert_eq!(
            e.clusters_control.map(|c| c as f64),
            Some(num(w, "clusters_control"))
        );
        for col in ["effect", "se", "df", "ci_low", "ci_high", "p_value"] {
            let got = match col {
                "effect" => e.effect,
                "se" => e.se,
                "df" => e.df,
                "ci_low" => e.ci_low,
                "ci_high" => e.ci_high,
                _ => e.p_value,
            };
            close(&what(col), got, num(w, col));
        }
    }
}

#[test]
fn adjust_takes_history_covariates_and_names_unknown_ones() {
    use trialpanel::analysis::Analysis;
    let base = Analysis::from_file(fixture("clusters/analysis.toml")).unwrap();
    let mut c = base.config().clone();
    c.balance.history = vec![trialpanel::analysis::HistoryConfig {
        outcome: "hours".into(),
        weeks: 4,
        name: Some("hours_before".into()),
    }];
    c.design.adjust = vec!["age".into(), "hours_before".into()];
    c.outcomes.truncate(1);
    let results = Analysis::new(c.clone(), fixture("clusters"))
        .unwrap()
        .run()
        .unwrap();
    let lin = results.outcomes[0].adjusted.as_ref().unwrap();
    // The same estimate from the library, with the history totals as values.
    let panel = panel(true);
    let before = Outcome::hours().totals(&panel, -4..=-1).unwrap();
    let adjustment = Adjustment::new()
        .covariate(&panel, "age")
        .unwrap()
        .values("hours_before", &before)
        .unwrap();
    assert!(adjustment.regressors().contains(&"hours_before (missing)"));
    let values = Outcome::hours().evaluate(&panel, 0..=24).unwrap();
    let direct = lin_effects(&values, &Design::default(), &adjustment).unwrap();
    assert_eq!(lin.rows, direct.rows);

    c.design.adjust = vec!["shoe_size".into()];
    let e = Analysis::new(c, fixture("clusters"))
        .unwrap()
        .run()
        .unwrap_err();
    let text = e.to_string();
    assert!(
        text.contains("design.adjust") && text.contains("shoe_size"),
        "{text}"
    );
    assert!(
        text.contains("hours_before") && text.contains("education"),
        "{text}"
    );
}

#[test]
fn the_subgroup_interaction_test_equals_the_hc2_regression() {
    let individual = panel(false);
    let values = Outcome::hours().evaluate(&individual, 0..=24).unwrap();
    for want in rows("clusters/interaction.csv") {
        let by = &want["by"];
        let table =
            trialpanel::estimators::subgroup_effects(&values, &Design::default(), by, 1).unwrap();
        let week = num(&want, "week") as i32;
        let h = table.heterogeneity.iter().find(|h| h.week == week).unwrap();
        let i = h.interaction.unwrap();
        let what = |c: &str| format!("{by} week {week}: {c}");
        close(&what("F"), Some(i.f), num(&want, "f"));
        close(&what("df1"), Some(i.df1), num(&want, "df1"));
        close(&what("df2"), Some(i.df2), num(&want, "df2"));
        close(&what("p"), Some(i.p_value), num(&want, "p_value"));
    }
    // With clusters there is no interaction F (the test is not
    // cluster-robust), only Cochran's Q.
    let clustered_panel = panel(true);
    let clustered = Outcome::hours().evaluate(&clustered_panel, 0..=24).unwrap();
    let table =
        trialpanel::estimators::subgroup_effects(&clustered, &Design::default(), "female", 1)
            .unwrap();
    assert!(table.heterogeneity.iter().all(|h| h.interaction.is_none()));

    // Through the analysis file.
    use trialpanel::analysis::Analysis;
    let mut c = Analysis::from_file(fixture("clusters/analysis.toml"))
        .unwrap()
        .config()
        .clone();
    c.persons.cluster = None;
    c.design.adjust.clear();
    c.outcomes[0].subgroups = vec!["education".into()];
    let results = Analysis::new(c, fixture("clusters"))
        .unwrap()
        .run()
        .unwrap();
    let table = &results.outcomes[0].subgroups[0];
    let h = table.heterogeneity.iter().find(|h| h.week == 20).unwrap();
    let want = rows("clusters/interaction.csv")
        .into_iter()
        .find(|r| r["by"] == "education" && r["week"] == "20")
        .unwrap();
    close("analysis F", h.interaction.map(|i| i.f), num(&want, "f"));
    let report = results.to_markdown().unwrap();
    // Without clusters the report gives this interaction F (methods §10).
    let shown = table
        .heterogeneity
        .iter()
        .find(|h| h.week == results.detail_week)
        .unwrap();
    let f = shown.interaction.unwrap();
    assert!(shown.htz.is_none(), "HTZ is for clustered designs");
    let said = format!(
        "Equal effects across the levels of `education` (the treatment × `education` \
         interaction): F(2, {}) = {:.2}",
        f.df2, f.f
    );
    assert!(report.contains(&said), "{said}");
}
