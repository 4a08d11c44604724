//! Exact weekly sums: the same effects as the evaluated-values route, the
//! simulator's direct panel equal to the one built from its register, and
//! chunks of persons merging into the whole bit for bit.

use trialpanel::outcome::WeeklySums;
use trialpanel::simulate::{self, SimulatedTrial, TrialSpec, simulate, simulate_panel};
use trialpanel::{
    Arm, CodeTable, Design, Error, LongColumns, Outcome, Panel, Persons, SpellRule, Variance,
    estimators,
};

/// A simulated trial whose register starts 10 weeks before the first
/// referral, so that persons referred early are not observed at event week
/// -15 (the spell rule starting there must leave them out).
fn trial(persons: usize) -> SimulatedTrial {
    simulate(&TrialSpec {
        persons,
        history: 10,
        ..TrialSpec::default()
    })
    .unwrap()
}

/// The panel of `persons_frame`'s persons (all of the register's rows of
/// other persons skipped), observing the trial's register weeks and
/// holding event weeks -20..=40.
fn panel_of(trial: &SimulatedTrial, persons_frame: polars::prelude::DataFrame) -> Panel {
    let persons = Persons::from_frame(persons_frame, "persons", &simulate::person_spec()).unwrap();
    let codes = CodeTable::from_frame(trial.codes.clone(), "simulated codes").unwrap();
    Panel::builder(&persons, &codes)
        .observed_from(trial.weeks.0)
        .observed_until(trial.weeks.1)
        .event_weeks(-20, 40)
        .ignore_unknown_persons(true)
        .max_unknown_share(1.0)
        .long_frame(trial.register.clone(), "register", &LongColumns::default())
        .unwrap()
}

fn outcomes() -> Vec<Outcome> {
    vec![
        Outcome::work_placement(),
        Outcome::any_benefit(),
        Outcome::self_supporting(),
        Outcome::hours(),
        Outcome::employed(0.0),
        Outcome::employed(10.5).named("employed_over_10_5"),
        Outcome::hours().cumulative(),
        Outcome::employed(0.0).cumulative(),
        Outcome::spell(SpellRule::default()),
        Outcome::spell(SpellRule::default().first_week(-15).max_gap(0)).named("strict_spell"),
    ]
}

#[test]
fn sums_give_the_effects_of_evaluated_values() {
    let trial = trial(1500);
    let panel = panel_of(&trial, trial.persons.clone());
    let weeks = -12..=40;
    let sums = WeeklySums::of(&panel, &outcomes(), weeks.clone()).unwrap();
    for design in [
        Design::default(),
        Design::default().blocked(true),
        Design::default()
            .variance(Variance::Pooled)
            .level(trialpanel::stats::Level::new(0.9).unwrap()),
    ] {
        let from_sums = trialpanel::estimators::weekly_effects_from_sums(&sums, &design).unwrap();
        for (outcome, got) in outcomes().iter().zip(&from_sums) {
            let values = outcome.evaluate(&panel, weeks.clone()).unwrap();
            let want = estimators::weekly_effects(&values, &design).unwrap();
            assert_eq!(got.outcome, want.outcome);
            assert_eq!(got.rows.len(), want.rows.len());
            for (g, w) in got.rows.iter().zip(&want.rows) {
                let what = format!("{} week {} {design:?}", got.outcome, g.week);
                assert_eq!(g.estimate.n_treat, w.estimate.n_treat, "{what}");
                assert_eq!(g.estimate.n_control, w.estimate.n_control, "{what}");
                assert_eq!(g.blocks_used, w.blocks_used, "{what}");
                let (ge, we) = (&g.estimate, &w.estimate);
                for (col, a, b) in [
                    ("mean_treat", ge.mean_treat, we.mean_treat),
                    ("sd_control", ge.sd_control, we.sd_control),
                    ("effect", ge.effect, we.effect),
                    ("se", ge.se, we.se),
                    ("df", ge.df, we.df),
                    ("ci_low", ge.ci_low, we.ci_low),
                    ("p_value", ge.p_value, we.p_value),
                    ("p_holm", g.p_holm, w.p_holm),
                ] {
                    match (a, b) {
                        (Some(a), Some(b)) => assert!(
                            (a - b).abs() <= 1e-11 * b.abs().max(1e-3),
                            "{what} {col}: {a} vs {b}"
                        ),
                        (a, b) => assert_eq!(a, b, "{what} {col}"),
                    }
                }
            }
        }
    }
    // The sample is informative: effects exist and counts fall with censoring.
    let hours =
        &trialpanel::estimators::weekly_effects_from_sums(&sums, &Design::default()).unwrap()[3];
    assert!(hours.week(10).unwrap().estimate.effect.is_some());
    let n = |k: i32| hours.week(k).unwrap().estimate.n_treat;
    assert!(n(40) < n(0));
}

#[test]
fn the_direct_simulated_panel_equals_the_one_from_the_register() {
    let config = TrialSpec {
        persons: 700,
        ..TrialSpec::default()
    };
    let trial = simulate(&config).unwrap();
    let from_register = panel_of(&trial, trial.persons.clone());
    let direct = simulate_panel(&config, -20..=40).unwrap();
    assert!(direct.load_report().rows > 0);
    assert_eq!(direct, from_register);
}

#[test]
fn chunks_of_persons_merge_into_the_whole_bit_for_bit() {
    let trial = trial(3000);
    let whole_panel = panel_of(&trial, trial.persons.clone());
    let weeks = -10..=40;
    let whole = WeeklySums::of(&whole_panel, &outcomes(), weeks.clone()).unwrap();

    // Uneven chunks of whole persons; the first holds only some blocks.
    let bounds = [0, 40, 1700, 3000];
    let chunks: Vec<WeeklySums> = bounds
        .windows(2)
        .map(|w| {
            let frame = trial.persons.slice(w[0] as i64, w[1] - w[0]);
            WeeklySums::of(&panel_of(&trial, frame), &outcomes(), weeks.clone()).unwrap()
        })
        .collect();
    assert!(chunks[0].blocks().len() < whole.blocks().len());

    let forward = chunks[0]
        .clone()
        .merge(&chunks[1])
        .unwrap()
        .merge(&chunks[2])
        .unwrap();
    let backward = chunks[2]
        .clone()
        .merge(&chunks[1])
        .unwrap()
        .merge(&chunks[0])
        .unwrap();
    assert_eq!(forward, whole);
    assert_eq!(backward, whole);
    let design = Design::default().blocked(true);
    assert_eq!(
        trialpanel::estimators::weekly_effects_from_sums(&forward, &design).unwrap(),
        trialpanel::estimators::weekly_effects_from_sums(&whole, &design).unwrap()
    );
    // The merged counts are the persons observed per week and arm.
    let at_risk = whole_panel.at_risk(5);
    let treated: u64 = (0..whole.blocks().len())
        .map(|b| forward.get(0, 5, b, Arm::Treatment).unwrap().n)
        .sum();
    assert_eq!(treated as usize, at_risk.treatment);
}

#[test]
fn sums_are_identical_whatever_the_number_of_threads() {
    let panel = simulate_panel(
        &TrialSpec {
            persons: 5000,
            ..TrialSpec::default()
        },
        -20..=44,
    )
    .unwrap();
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| WeeklySums::of(&panel, &outcomes(), 0..=44).unwrap())
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn what_cannot_be_summed_or_merged_is_a_typed_error() {
    let trial = trial(300);
    let panel = panel_of(&trial, trial.persons.clone());
    let custom = Outcome::custom("twice_hours", |h| {
        2.0 * h.hours(h.week()).unwrap_or(f64::NAN)
    });
    let err = WeeklySums::of(&panel, &[Outcome::hours(), custom], 0..=10).unwrap_err();
    assert!(
        matches!(&err, Error::InvalidSetting { name, .. } if name == "outcome `twice_hours`"),
        "{err}"
    );
    assert!(matches!(
        WeeklySums::of(&panel, &[Outcome::hours()], 0..=99),
        Err(Error::InvalidSetting { .. })
    ));

    let sums = WeeklySums::of(&panel, &[Outcome::hours()], 0..=10).unwrap();
    let other_weeks = WeeklySums::of(&panel, &[Outcome::hours()], 0..=9).unwrap();
    assert!(sums.clone().merge(&other_weeks).is_err());
    let other_outcome = WeeklySums::of(&panel, &[Outcome::employed(0.0)], 0..=10).unwrap();
    assert!(sums.clone().merge(&other_outcome).is_err());
    // A chunk whose observed weeks default to its own register's differs.
    let persons =
        Persons::from_frame(trial.persons.clone(), "persons", &simulate::person_spec()).unwrap();
    let codes = CodeTable::from_frame(trial.codes.clone(), "simulated codes").unwrap();
    let short = Panel::builder(&persons, &codes)
        .observed_until(trial.weeks.1.plus(-2))
        .event_weeks(-20, 40)
        .long_frame(trial.register.clone(), "register", &LongColumns::default())
        .unwrap();
    let censored = WeeklySums::of(&short, &[Outcome::hours()], 0..=10).unwrap();
    let err = sums.merge(&censored).unwrap_err();
    assert!(err.to_string().contains("observed weeks"), "{err}");
}

#[test]
fn exact_totals_equal_the_sums_of_evaluated_values() {
    let trial = trial(800);
    let panel = panel_of(&trial, trial.persons.clone());
    let custom = Outcome::custom("double_hours", |h| {
        2.0 * h.hours(h.week()).unwrap_or(f64::NAN)
    });
    for outcome in [
        Outcome::any_benefit(),
        Outcome::hours(),
        Outcome::employed(0.0),
        custom,
    ] {
        let weeks = -13..=-1;
        let totals = outcome.totals(&panel, weeks.clone()).unwrap();
        let values = outcome.evaluate(&panel, weeks).unwrap();
        let mut missing = 0;
        for (p, got) in totals.iter().enumerate() {
            let column = values.matrix().column(p);
            let want = column.sum();
            match got {
                Some(g) => assert!(
                    (g - want).abs() <= 1e-9 * want.abs().max(1.0),
                    "{g} vs {want}"
                ),
                None => {
                    assert!(want.is_nan());
                    missing += 1;
                }
            }
        }
        // Persons referred in the first weeks are not observed 13 weeks before.
        assert!(missing > 0 && missing < totals.len(), "{missing}");
    }
}
