//! Follow-up that ends early (death, emigration): a tiny trial worked out
//! by hand (tests/fixtures/ended), and the tests of differential ending
//! against R survival and chisq.test (make_fixtures.R there).
//!
//! Seven persons referred in 2024-W01, register to W06 (event weeks 0–5):
//! treatment A (work placement every week), B (benefit, death code in
//! week 2), C (benefit, work placement in week 1), G (benefit, emigration
//! code in week 1); control D (benefit), E (work placement in week 0,
//! emigration in week 2), F (work placement in weeks 3–5). After a death or
//! emigration the register is blank, which would otherwise read as
//! self-supporting.

mod common;

use common::{fixture, num, rows};
use trialpanel::analysis::Analysis;
use trialpanel::estimators::weekly_effects_from_sums;
use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};

fn panel() -> Panel {
    let persons = Persons::read(fixture("ended/persons.csv"), &PersonSpec::default()).unwrap();
    let codes = CodeTable::read(fixture("ended/codes.csv")).unwrap();
    Panel::builder(&persons, &codes)
        .long_file(fixture("ended/register.csv"), &LongColumns::default())
        .unwrap()
}

fn close(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: missing"));
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn a_person_stops_counting_from_the_week_follow_up_ends() {
    let panel = panel();
    // At risk: everyone at week 0; G leaves at week 1, B and E at week 2.
    let at = |k| {
        let a = panel.at_risk(k);
        (a.treatment, a.control)
    };
    assert_eq!(
        [at(0), at(1), at(2), at(5)],
        [(4, 3), (3, 3), (2, 2), (2, 2)]
    );
    // Work placement at week 2: treatment A 1, C 0; control D 0, F 0:
    // τ = 0.5, se = √(0.5/2 + 0/2) = 0.5, Welch df = 1, t = 1, p = 0.5 (the
    // Cauchy distribution), CI 0.5 ± t(0.975, 1)·0.5 = 0.5 ± 6.353102.
    let values = Outcome::work_placement().evaluate(&panel, 0..=5).unwrap();
    let e = trialpanel::weekly_effects(&values, &Design::default()).unwrap();
    let w2 = e.week(2).unwrap().estimate;
    assert_eq!((w2.n_treat, w2.n_control), (2, 2));
    close("effect", w2.effect, 0.5);
    close("se", w2.se, 0.5);
    close("df", w2.df, 1.0);
    close("p", w2.p_value, 0.5);
    close("ci_low", w2.ci_low, 0.5 - 6.353102368087364);
    // Self-supporting at week 3: nobody followed is self-supporting (B and
    // E, whose blank weeks would have counted, are no longer followed).
    let s = Outcome::self_supporting().evaluate(&panel, 0..=5).unwrap();
    let e = trialpanel::weekly_effects(&s, &Design::default()).unwrap();
    let w3 = e.week(3).unwrap().estimate;
    assert_eq!((w3.n_treat, w3.n_control), (2, 2));
    assert_eq!((w3.mean_treat, w3.mean_control), (Some(0.0), Some(0.0)));
    // The exact sums agree.
    let sums =
        trialpanel::outcome::WeeklySums::of(&panel, &[Outcome::self_supporting()], 0..=5).unwrap();
    let sums = weekly_effects_from_sums(&sums, &Design::default()).unwrap();
    assert_eq!(sums[0].week(3).unwrap().estimate.n_treat, 2);
    assert_eq!(sums[0].week(3).unwrap().estimate.mean_treat, Some(0.0));
    // Any benefit at week 3: treatment C (benefit) and A (work placement)
    // 2 of 2; control D and F 2 of 2. The weeks after a death are in no
    // state, in the exact sums as in the evaluated values.
    let any = [Outcome::any_benefit()];
    let sums = trialpanel::outcome::WeeklySums::of(&panel, &any, 0..=5).unwrap();
    let sums = weekly_effects_from_sums(&sums, &Design::default()).unwrap();
    let values = Outcome::any_benefit().evaluate(&panel, 0..=5).unwrap();
    let evaluated = trialpanel::weekly_effects(&values, &Design::default()).unwrap();
    for k in 0..=5 {
        let (a, b) = (
            &sums[0].week(k).unwrap().estimate,
            &evaluated.week(k).unwrap().estimate,
        );
        assert_eq!(
            (a.n_treat, a.mean_treat, a.mean_control),
            (b.n_treat, b.mean_treat, b.mean_control)
        );
    }
    assert_eq!(sums[0].week(3).unwrap().estimate.mean_treat, Some(1.0));
    let mut ended: Vec<i32> = (0..panel.n_persons())
        .filter_map(|p| panel.followup_ended(p))
        .collect();
    ended.sort_unstable();
    assert_eq!(ended, [1, 2, 2]);
}

#[test]
fn categories_that_end_follow_up_come_from_the_code_table_or_the_settings() {
    let codes = CodeTable::from_pairs([("111", "benefit"), ("990", "death")])
        .unwrap()
        .with_ends_followup(&["death".into()])
        .unwrap();
    assert!(codes.ends_followup(codes.category("death").unwrap()));
    assert!(!codes.ends_followup(codes.category("benefit").unwrap()));
    let e = CodeTable::from_pairs([("111", "benefit")])
        .unwrap()
        .with_ends_followup(&["death".into()])
        .unwrap_err();
    assert!(
        e.to_string().contains("`death` is not in the code table"),
        "{e}"
    );
    // A value that is not yes or no names its row.
    let dir = std::env::temp_dir().join(format!("trialpanel-ends-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("codes.csv"),
        "code,category,ends_followup\n111,benefit,0\n990,death,maybe\n",
    )
    .unwrap();
    let e = CodeTable::read(dir.join("codes.csv")).unwrap_err();
    assert!(
        matches!(&e, trialpanel::Error::InvalidValue { row: 2, column, .. } if column == "ends_followup"),
        "{e}"
    );
}

#[test]
fn the_analysis_reports_ended_follow_up_and_its_tests() {
    let dir = std::env::temp_dir().join(format!("trialpanel-ended-{}", std::process::id()));
    let results = Analysis::from_file(fixture("ended/analysis.toml"))
        .unwrap()
        .run()
        .unwrap();
    let e = results.trial.followup_ended.as_ref().unwrap();
    assert_eq!((e.persons.treatment, e.persons.control), (2, 1));
    let want = rows("ended/tests.csv");
    let lr = e.log_rank.unwrap();
    close("log-rank", Some(lr.statistic), num(&want[0], "statistic"));
    close("log-rank p", Some(lr.p_value), num(&want[0], "p_value"));
    for (b, w) in e.by_week.iter().zip(&want[1..]) {
        assert_eq!(f64::from(b.week), num(w, "week"));
        let t = b.test.unwrap();
        close("chi-square", Some(t.statistic), num(w, "statistic"));
        close("chi-square p", Some(t.p_value), num(w, "p_value"));
    }
    // Kaplan–Meier of a two-week spell (weeks 0–1 of A; weeks 3–4 of F),
    // censored at the end of follow-up: treatment A completes at week 1
    // with 3 at risk (G, censored at week 0, has left): 1/3; control F at
    // week 4 with D and F at risk (E censored at week 1): 1/2.
    let km = &results.spell.as_ref().unwrap().km;
    let curve = |arm: usize, k: i32| {
        km.curves[arm]
            .iter()
            .rev()
            .find(|r| r.week <= k)
            .map(|r| (r.at_risk, r.cum_incidence))
    };
    let (treatment, control) = (
        trialpanel::Arm::Treatment as usize,
        trialpanel::Arm::Control as usize,
    );
    let (n, c) = curve(treatment, 1).unwrap();
    assert_eq!(n, 3);
    assert!((c - 1.0 / 3.0).abs() < 1e-12, "{c}");
    let (n, c) = curve(control, 4).unwrap();
    assert_eq!(n, 2);
    assert!((c - 0.5).abs() < 1e-12, "{c}");
    results.write(&dir).unwrap();
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("Follow-up ended early"), "{report}");
    // Read in parts (one person per part), the same.
    let mut c = Analysis::from_file(fixture("ended/analysis.toml"))
        .unwrap()
        .config()
        .clone();
    c.inputs.memory_budget_gb = Some(60.0 / 1e9);
    c.outcomes.truncate(2);
    let parts = Analysis::new(c.clone(), fixture("ended"))
        .unwrap()
        .run()
        .unwrap();
    assert!(parts.trial.parts > 1);
    c.inputs.memory_budget_gb = None;
    let whole = Analysis::new(c, fixture("ended")).unwrap().run().unwrap();
    assert_eq!(parts.trial.followup_ended, whole.trial.followup_ended);
    assert_eq!(parts.trial.at_risk, whole.trial.at_risk);
    assert_eq!(
        parts.outcomes[1].effects.rows,
        whole.outcomes[1].effects.rows
    );
}
