//! The minimum detectable effect: the formula and the planner against R
//! (tests/fixtures/plan, made by make_fixtures.R), the planner's persons
//! followed against a simulated trial's panel, and the power of an effect
//! equal to the MDE by simulation.

mod common;

use common::{num, opt, rows};
use trialpanel::estimators::{PlanSpec, minimum_detectable_effects};
use trialpanel::simulate::{TrialSpec, simulate};
use trialpanel::stats::{self, Moments};
use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons, Variance, Week};

/// Relative agreement: 1e-8, the precision of statrs' t quantiles at
/// large df (R's qt is exact to double precision).
fn close(what: &str, got: Option<f64>, want: Option<f64>) {
    match (got, want) {
        (Some(g), Some(w)) => assert!((g - w).abs() <= 1e-8 * w.abs(), "{what}: {g} vs {w}"),
        (None, None) => {}
        other => panic!("{what}: {other:?}"),
    }
}

#[test]
fn mde_is_blooms_formula() {
    let grid = rows("plan/mde.csv");
    assert_eq!(grid.len(), 48);
    for r in grid {
        let got = stats::mde(
            num(&r, "se"),
            num(&r, "df"),
            num(&r, "level"),
            num(&r, "power"),
        );
        close(&format!("{r:?}"), got, Some(num(&r, "mde")));
    }
    assert_eq!(stats::mde(0.0, 10.0, 0.95, 0.8), None);
    assert_eq!(stats::mde(1.0, 0.0, 0.95, 0.8), None);
}

#[test]
fn an_even_plan_equals_r() {
    let spec = PlanSpec::even(
        (1500, 1200),
        (
            Week::parse("2016-W01").unwrap(),
            Week::parse("2016-W26").unwrap(),
        ),
        Week::parse("2017-W02").unwrap(),
        0.45,
    )
    .unwrap()
    .weeks(0..=60);
    let plan = minimum_detectable_effects(&spec).unwrap();
    for want in rows("plan/plan_even.csv") {
        let k = num(&want, "week") as i32;
        let got = plan.week(k).unwrap();
        let what = |c: &str| format!("week {k}: {c}");
        close(&what("n_treat"), Some(got.n_treat), opt(&want, "n_treat"));
        close(
            &what("n_control"),
            Some(got.n_control),
            opt(&want, "n_control"),
        );
        close(&what("se"), got.se, opt(&want, "se"));
        close(&what("df"), got.df, opt(&want, "df"));
        close(&what("mde"), got.mde, opt(&want, "mde"));
    }
    // Bad plans are errors, not numbers.
    assert!(minimum_detectable_effects(&spec.clone().power(1.0)).is_err());
    let mut no_sd = spec.clone();
    no_sd.sd = f64::NAN;
    assert!(minimum_detectable_effects(&no_sd).is_err());
    assert!(
        PlanSpec::even(
            (10, 10),
            (
                Week::parse("2016-W26").unwrap(),
                Week::parse("2016-W01").unwrap()
            ),
            Week::parse("2017-W02").unwrap(),
            1.0
        )
        .is_err()
    );
}

#[test]
fn a_true_effect_equal_to_the_mde_is_found_in_80_percent_of_trials() {
    // The simulator's trial (front-loaded referrals over 41 weeks, extract
    // 44 weeks after the first): the plan from its person table follows
    // exactly the persons its panel follows.
    let trial = simulate(&TrialSpec {
        persons: 600,
        ..TrialSpec::default()
    })
    .unwrap();
    let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default()).unwrap();
    let codes = CodeTable::from_frame(trial.codes, "codes").unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_frame(trial.register, "register", &LongColumns::default())
        .unwrap();
    let sd = 2.0;
    let spec = PlanSpec::from_persons(panel.persons(), panel.observed_until(), sd).weeks(0..=44);
    let plan = minimum_detectable_effects(&spec).unwrap();
    for row in &plan.rows {
        let at = panel.at_risk(row.week);
        assert_eq!(
            (row.n_treat, row.n_control),
            (at.treatment as f64, at.control as f64),
            "week {}",
            row.week
        );
    }
    // At two weeks (many and few persons followed), 2,000 trials with a
    // true effect equal to the MDE: the Welch test at 5% rejects in 80%
    // (Monte Carlo sd 0.9 points).
    let mut rng = common::Normals(0x2545_f491_4f6c_dd1d);
    for k in [10, 40] {
        let row = plan.week(k).unwrap();
        let (n1, n0) = (row.n_treat as usize, row.n_control as usize);
        let effect = row.mde.unwrap();
        let trials = 2000;
        let mut rejected = 0;
        for _ in 0..trials {
            let t: Vec<f64> = (0..n1).map(|_| effect + sd * rng.normal()).collect();
            let c: Vec<f64> = (0..n0).map(|_| sd * rng.normal()).collect();
            let e = stats::difference_in_means(
                &Moments::of(&t),
                &Moments::of(&c),
                0.95,
                Variance::Welch,
            );
            rejected += usize::from(e.p_value.unwrap() < 0.05);
        }
        let power = rejected as f64 / trials as f64;
        assert!(
            (power - 0.8).abs() < 0.03,
            "week {k} (n {n1}/{n0}): power {power}"
        );
    }
}
