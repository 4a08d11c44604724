//! Statistical edge cases (a zero-week follow-up, one person per arm, a
//! constant outcome) give missing values or typed errors, never a panic or
//! a made-up number; and results respect the symmetries they must (arm
//! labels swapped, person table reordered).

mod common;

use std::path::PathBuf;

use trialpanel::estimators::time_to_spell;
use trialpanel::estimators::{self, BandSpec, RandomisationSpec};
use trialpanel::estimators::{BalanceSpec, balance};
use trialpanel::outcome::completions;
use trialpanel::stats::Level;
use trialpanel::{
    CodeTable, Design, Error, LongColumns, Outcome, Panel, PersonSpec, Persons, SpellRule,
};

fn tiny(tag: &str, persons: &str, register: &str, spec: &PersonSpec) -> Panel {
    common::tiny_panel(&format!("edge-{tag}"), persons, register, spec)
}

#[test]
fn zero_week_follow_up() {
    // The register ends in the referral week: event week 0 only.
    let panel = tiny(
        "zero",
        "person_id,arm,referral_week\na,treatment,2016-W10\nb,treatment,2016-W10\nc,control,2016-W10\nd,control,2016-W10\n",
        "person_id,week,code,hours\na,2016-W09,111,0\na,2016-W10,651,10\nb,2016-W10,111,0\nc,2016-W10,111,5\nd,2016-W10,111,0\n",
        &PersonSpec::default(),
    );
    assert_eq!(*panel.event_weeks().end(), 0);
    let hours = Outcome::hours().evaluate(&panel, 0..=0).unwrap();
    let weekly = estimators::weekly_effects(&hours, &Design::default()).unwrap();
    assert_eq!(weekly.rows.len(), 1);
    assert_eq!(weekly.rows[0].estimate.effect, Some(2.5));
    // Asking for week 1 is a typed error, not an empty or invented row.
    assert!(matches!(
        Outcome::hours().evaluate(&panel, 0..=1).unwrap_err(),
        Error::InvalidSetting { .. }
    ));
    // Nobody can complete a 13-week spell; the KM curves have one row each
    // and the log-rank test is undefined.
    let done = completions(&panel, &SpellRule::default()).unwrap();
    assert!(
        done.persons
            .iter()
            .all(|p| p.completed.is_none() && p.last_observed == 0)
    );
    let km = time_to_spell(&done, Level::default()).unwrap();
    assert_eq!((km.curves[0].len(), km.curves[1].len()), (1, 1));
    assert_eq!(km.curves[1][0].cum_incidence, 0.0);
    assert_eq!(km.log_rank, None);
}

#[test]
fn one_person_per_arm() {
    let panel = tiny(
        "single",
        "person_id,arm,referral_week,age\na,treatment,2016-W10,30\nb,control,2016-W10,40\n",
        "person_id,week,code,hours\na,2016-W10,651,10\nb,2016-W10,111,4\na,2016-W11,651,12\nb,2016-W11,111,0\n",
        &PersonSpec::default().covariate_columns(&["age"]),
    );
    let hours = Outcome::hours().evaluate(&panel, 0..=1).unwrap();
    let weekly = estimators::weekly_effects(&hours, &Design::default()).unwrap();
    let e = &weekly.rows[0].estimate;
    assert_eq!((e.n_treat, e.n_control, e.effect), (1, 1, Some(6.0)));
    assert_eq!(
        (e.sd_treat, e.se, e.df, e.ci_low, e.p_value),
        (None, None, None, None, None)
    );
    assert_eq!(weekly.rows[0].p_holm, None);
    // Blocked: the one block has fewer than two per arm and is dropped.
    let blocked = estimators::weekly_effects(&hours, &Design::default().blocked(true)).unwrap();
    let r = &blocked.rows[0];
    assert_eq!(
        (r.blocks_used, r.blocks_dropped, r.estimate.effect),
        (Some(0), Some(1), None)
    );
    // No week has an se: no band, and no randomisation p-values.
    let band = estimators::simultaneous_band(&hours, &weekly, &BandSpec::default()).unwrap();
    assert_eq!((band.critical_value, band.weeks.len()), (None, 0));
    let ri =
        estimators::randomisation_test(&hours, &Design::default(), &RandomisationSpec::default())
            .unwrap();
    assert!(ri.p_values.iter().all(Option::is_none) && ri.p_max_t.is_none());
    // Balance: the Welch test is undefined, the joint test says why.
    let b = balance(&panel, &BalanceSpec::default()).unwrap();
    assert_eq!((b.rows[0].diff, b.rows[0].p_value), (Some(-10.0), None));
    assert!(b.joint.f.is_none() && b.joint.note.is_some());
}

#[test]
fn constant_outcome() {
    // Nobody works: hours are 0 for everyone.
    let panel = tiny(
        "constant",
        "person_id,arm,referral_week\na,treatment,2016-W10\nb,treatment,2016-W10\nc,control,2016-W10\nd,control,2016-W10\n",
        "person_id,week,code,hours\na,2016-W10,651,0\nb,2016-W10,111,0\nc,2016-W10,111,0\nd,2016-W11,111,0\n",
        &PersonSpec::default(),
    );
    let hours = Outcome::hours().evaluate(&panel, 0..=1).unwrap();
    let weekly = estimators::weekly_effects(&hours, &Design::default()).unwrap();
    for r in &weekly.rows {
        let e = &r.estimate;
        assert_eq!((e.effect, e.se), (Some(0.0), Some(0.0)));
        assert_eq!(
            (e.df, e.t, e.ci_low, e.ci_high, e.p_value),
            (None, None, None, None, None)
        );
        assert_eq!((e.ratio, e.relative_effect), (None, None));
    }
    let band = estimators::simultaneous_band(&hours, &weekly, &BandSpec::default()).unwrap();
    assert_eq!(band.critical_value, None);
}

#[test]
fn swapping_arm_labels_flips_the_effect() {
    let dir = common::fixture("effects/trial");
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    let build = |spec: PersonSpec| {
        let persons =
            Persons::read(dir.join("persons.csv"), &spec.block_column("municipality")).unwrap();
        Panel::builder(&persons, &codes)
            .long_file(dir.join("register.csv"), &LongColumns::default())
            .unwrap()
    };
    let normal = build(PersonSpec::default());
    let swapped = build(PersonSpec::default().arm_labels("control", "treatment"));
    for design in [Design::default(), Design::default().blocked(true)] {
        let a = estimators::weekly_effects(
            &Outcome::hours().evaluate(&normal, 0..=12).unwrap(),
            &design,
        )
        .unwrap();
        let b = estimators::weekly_effects(
            &Outcome::hours().evaluate(&swapped, 0..=12).unwrap(),
            &design,
        )
        .unwrap();
        for (x, y) in a.rows.iter().zip(&b.rows) {
            let (ex, ey) = (&x.estimate, &y.estimate);
            assert_eq!((ex.n_treat, ex.n_control), (ey.n_control, ey.n_treat));
            let close = |u: f64, v: f64| (u - v).abs() <= 1e-12 * u.abs().max(1.0);
            assert!(
                close(ex.effect.unwrap(), -ey.effect.unwrap()),
                "week {}",
                x.week
            );
            assert!(close(ex.se.unwrap(), ey.se.unwrap()));
            assert!(close(ex.p_value.unwrap(), ey.p_value.unwrap()));
        }
    }
}

#[test]
fn reordering_the_person_table_changes_nothing() {
    let dir = common::fixture("effects/trial");
    let text = std::fs::read_to_string(dir.join("persons.csv")).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    lines.reverse();
    let tmp = std::env::temp_dir().join(format!("trialpanel-reorder-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();
    std::fs::write(
        tmp.join("persons.csv"),
        format!("{header}\n{}\n", lines.join("\n")),
    )
    .unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    let spec = PersonSpec::default().block_column("municipality");
    let build = |p: PathBuf| {
        let persons = Persons::read(p, &spec).unwrap();
        Panel::builder(&persons, &codes)
            .long_file(dir.join("register.csv"), &LongColumns::default())
            .unwrap()
    };
    let (a, b) = (
        build(dir.join("persons.csv")),
        build(tmp.join("persons.csv")),
    );
    std::fs::remove_dir_all(&tmp).unwrap();
    for outcome in [
        Outcome::hours(),
        Outcome::spell(SpellRule::default().min_weeks(4)),
    ] {
        let design = Design::default().blocked(true);
        let x =
            estimators::weekly_effects(&outcome.evaluate(&a, 0..=12).unwrap(), &design).unwrap();
        let y =
            estimators::weekly_effects(&outcome.evaluate(&b, 0..=12).unwrap(), &design).unwrap();
        assert_eq!(x, y);
    }
}
