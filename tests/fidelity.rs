//! The statistics of the fidelity and cost half of a trial report (issue
//! 19, methods §11–§12) against R (tests/fixtures/fidelity, made by
//! make_fixtures.R): Wilson intervals, Newcombe changes, traffic lights,
//! correlations across sites, Fieller intervals.

mod common;

use common::{num, opt, rows};
use trialpanel::stats::{self, Fieller, Light, Thresholds};

fn close(what: &str, got: f64, want: f64) {
    assert!(
        (got - want).abs() <= 1e-9 * want.abs().max(1.0),
        "{what}: {got} vs {want}"
    );
}

#[test]
fn wilson_intervals_equal_prop_test() {
    let all = rows("fidelity/wilson.csv");
    assert_eq!(all.len(), 20);
    for r in all {
        let (x, n) = (num(&r, "x") as usize, num(&r, "n") as usize);
        let s = stats::wilson(x, n, num(&r, "level")).unwrap();
        close(&format!("{x}/{n} low"), s.ci_low, num(&r, "low"));
        close(&format!("{x}/{n} high"), s.ci_high, num(&r, "high"));
        close("share", s.share, x as f64 / n as f64);
    }
    // Nobody judged: no share.
    assert_eq!(stats::wilson(0, 0, 0.95), None);
    assert_eq!(stats::wilson(3, 2, 0.95), None);
}

#[test]
fn newcombe_changes_equal_the_hybrid_score_interval() {
    for r in rows("fidelity/newcombe.csv") {
        let a = stats::wilson(num(&r, "x1") as usize, num(&r, "n1") as usize, 0.95).unwrap();
        let b = stats::wilson(num(&r, "x2") as usize, num(&r, "n2") as usize, 0.95).unwrap();
        let (d, low, high) = stats::newcombe(&a, &b);
        close("d", d, num(&r, "d"));
        close("low", low, num(&r, "low"));
        close("high", high, num(&r, "high"));
    }
}

#[test]
fn lights_follow_the_thresholds_and_flag_uncertain_sites() {
    // By hand: 69% of 200 (Wilson 95% [62.3, 75.0]) is low and its interval
    // crosses 70; 85 of 100 is high, [76.7, 90.7], and crosses 80; 900 of
    // 1000 is high, [88.0, 91.7], and certain.
    let t = Thresholds::default();
    let light = |x, n| t.light(&stats::wilson(x, n, 0.95).unwrap());
    assert_eq!(light(138, 200), (Light::Low, true));
    assert_eq!(light(85, 100), (Light::High, true));
    assert_eq!(light(900, 1000), (Light::High, false));
    assert_eq!(light(750, 1000), (Light::Middle, false));
}

#[test]
fn correlations_equal_cor_test() {
    for r in rows("fidelity/correlation.csv") {
        let parse = |col: &str| -> Vec<Option<f64>> {
            r[col]
                .split(';')
                .map(|v| Some(v.parse().unwrap()))
                .collect()
        };
        let c = stats::correlation(&parse("x"), &parse("y"), 0.95).unwrap();
        let set = &r["set"];
        assert_eq!(c.n as f64, num(&r, "n"));
        close(&format!("{set} r"), c.pearson, num(&r, "pearson"));
        close(&format!("{set} p"), c.p_value.unwrap(), num(&r, "p_value"));
        close(
            &format!("{set} rho"),
            c.spearman.unwrap(),
            num(&r, "spearman"),
        );
        match (c.ci_low, opt(&r, "ci_low")) {
            (Some(g), Some(w)) => close(&format!("{set} ci"), g, w),
            (None, None) => assert_eq!(set, "three"),
            other => panic!("{set}: {other:?}"),
        }
    }
    // Missing values drop their pair; two pairs are too few.
    let c = stats::correlation(
        &[Some(1.0), None, Some(2.0)],
        &[Some(1.0), Some(5.0), Some(3.0)],
        0.95,
    );
    assert_eq!(c, None);
}

#[test]
fn fieller_intervals_equal_the_quadratic_roots() {
    for r in rows("fidelity/fieller.csv") {
        let (ratio, f) = stats::fieller(
            num(&r, "a"),
            num(&r, "b"),
            num(&r, "va"),
            num(&r, "vb"),
            num(&r, "c"),
            num(&r, "q"),
        )
        .unwrap();
        close("ratio", ratio, num(&r, "ratio"));
        match (r["kind"].as_str(), f) {
            ("bounded", Fieller::Bounded { low, high })
            | ("outside", Fieller::Outside { low, high }) => {
                close("low", low, num(&r, "low"));
                close("high", high, num(&r, "high"));
            }
            ("unbounded", Fieller::Unbounded) => {}
            (kind, f) => panic!("{kind}: {f:?}"),
        }
    }
    assert_eq!(stats::fieller(1.0, 0.0, 1.0, 1.0, 0.0, 1.96), None);
}

#[test]
fn the_inactive_run_indicator_by_hand() {
    use trialpanel::process::{InactiveRun, inactive_run};
    use trialpanel::{Arm, PersonSpec, SpellRule, Table};
    // Referral 2024-W01 (W03 for P7), register to W06; judged over event
    // weeks 0..=4, met when the longest inactive run is under 2 weeks.
    // P1 T K1 always active: met. P2 T K1 alternating: longest 1, met.
    // P3 T K2 two inactive weeks first: not met. P4 C K1 never active.
    // P5 C K2 three inactive in a row. P6 C K2 one inactive week: met.
    // P7 T K3 is followed only to week 3: not judged, so K3 is empty.
    let weeks = [
        ("P1", "treatment", "W01", "K1", "651 651 651 651 651 651"),
        ("P2", "treatment", "W01", "K1", "651 111 651 111 651 111"),
        ("P3", "treatment", "W01", "K2", "111 111 651 651 651 651"),
        ("P4", "control", "W01", "K1", "111 111 111 111 111 111"),
        ("P5", "control", "W01", "K2", "651 111 111 111 651 651"),
        ("P6", "control", "W01", "K2", "111 651 651 651 651 651"),
        ("P7", "treatment", "W03", "K3", "651 651 651 651"),
    ];
    let mut persons = String::from("person_id,arm,referral_week,municipality\n");
    let mut register = String::from("person_id,week,code,hours\n");
    for (id, arm, referral, site, codes) in weeks {
        persons.push_str(&format!("{id},{arm},2024-{referral},{site}\n"));
        let first: u32 = referral[1..].parse().unwrap();
        for (i, code) in codes.split(' ').enumerate() {
            register.push_str(&format!("{id},2024-W{:02},{code},0\n", first + i as u32));
        }
    }
    let spec = PersonSpec::default().block_column("municipality");
    let panel = common::tiny_panel("process", &persons, &register, &spec);
    let rule = InactiveRun {
        name: "active".into(),
        activity: SpellRule::default(),
        weeks: 4,
        shorter_than: 2,
    };
    let counts = inactive_run(&panel, &rule).unwrap();
    let table = counts.table(0.95, &Thresholds::default());
    let row = |site: &str, arm: Option<Arm>| {
        table
            .rows
            .iter()
            .find(|r| r.site == site && r.arm == arm)
            .unwrap()
            .share
            .map(|s| (s.hits, s.n))
    };
    assert_eq!(row("K1", Some(Arm::Treatment)), Some((2, 2)));
    assert_eq!(row("K1", Some(Arm::Control)), Some((0, 1)));
    assert_eq!(row("K2", Some(Arm::Treatment)), Some((0, 1)));
    assert_eq!(row("K2", Some(Arm::Control)), Some((1, 2)));
    assert_eq!(row("K3", None), None);
    assert_eq!(row("all", Some(Arm::Treatment)), Some((2, 3)));
    assert_eq!(row("all", None), Some((3, 6)));
    let all = table
        .rows
        .iter()
        .find(|r| r.site == "all" && r.arm.is_none())
        .unwrap();
    assert_eq!(all.share, stats::wilson(3, 6, 0.95));
    assert_eq!(all.light, Some(Light::Low));
    assert_eq!(table.to_frame().unwrap().height(), 4 * 3);
    // The counts of two halves of the persons merge into the whole.
    let mut merged = counts.clone();
    merged.merge(&counts);
    assert_eq!(merged.counts[0][1], [4, 4]);
}
