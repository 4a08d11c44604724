//! The statistics of the fidelity and cost half of a trial report (issue
//! 19, methods §11–§12) against R (tests/fixtures/fidelity, made by
//! make_fixtures.R): Wilson intervals, Newcombe changes, traffic lights,
//! correlations across sites, Fieller intervals.

mod common;

use common::{num, opt, rows};
use trialpanel::Design;
use trialpanel::stats::{self, Fieller, Level, Light, Thresholds};

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
        close(&format!("{x}/{n} low"), s.ci_low.unwrap(), num(&r, "low"));
        close(
            &format!("{x}/{n} high"),
            s.ci_high.unwrap(),
            num(&r, "high"),
        );
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
        let (d, low, high) = stats::newcombe(&a, &b).unwrap();
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
    use trialpanel::estimators::{InactiveRun, inactive_run};
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
    let table = counts.table(Level::default(), &Thresholds::default());
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

/// The hand-worked event-log trial of `the_event_log_rules_by_hand`:
/// persons, a register of benefit weeks through 2024-W12 and the events.
fn event_trial(tag: &str) -> (trialpanel::Panel, trialpanel::inputs::EventLog) {
    use trialpanel::PersonSpec;
    use trialpanel::inputs::{EventLog, EventSpec};
    let persons = "person_id,arm,referral_week,municipality\n\
                   P1,treatment,2024-W01,K1\nP2,treatment,2024-W01,K1\n\
                   P3,control,2024-W01,K2\nP4,treatment,2024-W08,K2\n\
                   P5,control,2024-W11,K1\nP6,treatment,2024-W01,K3\n";
    let mut register = String::from("person_id,week,code,hours\n");
    for id in ["P1", "P2", "P3", "P4", "P5", "P6"] {
        for w in 1..=12 {
            register.push_str(&format!("{id},2024-W{w:02},111,0\n"));
        }
    }
    let spec = PersonSpec::default().block_column("municipality");
    let panel = common::tiny_panel(tag, persons, &register, &spec);
    let events = "person_id,date,event\n\
                  P1,2024-01-01,talk\nP1,2024-W05,talk\nP1,2024-02-26,talk\nP1,2024-W03,cv\n\
                  P1,2024-W04,placement\nP1,2024-W05,plan\n\
                  P2,2024-W04,talk\nP2,2024-W06,talk\nP2,2024-W10,placement\n\
                  P3,2023-W50,talk\nP3,2024-W05,talk\n\
                  P4,2024-W08,talk\nP4,2024-W12,placement\n";
    let dir = std::env::temp_dir().join(format!("trialpanel-{tag}-log-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("events.csv"), events).unwrap();
    let log = EventLog::read(
        dir.join("events.csv"),
        panel.persons(),
        &EventSpec::default(),
    )
    .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    (panel, log)
}

#[test]
fn the_event_log_rules_by_hand() {
    use trialpanel::Arm;
    use trialpanel::estimators::{After, Every, Indicator, Within};
    // Register and log end 2024-W12: persons referred in W01 are followed
    // through event week 11, P4 (W08) through 4, P5 (W11) through 1.
    // Event weeks: P1 talks 0, 4, 8, cv 2, placement 3, plan 4; P2 talks 3,
    // 5, placement 9; P3 talks −3 (before referral: does not count) and 4;
    // P4 talk 0, placement 4; P6 has no events.
    let (panel, log) = event_trial("rules");
    assert_eq!(log.rows(), 13);
    assert_eq!(log.before_referral(), 1); // P3's talk in 2023-W50
    assert_eq!(log.types(), ["cv", "placement", "plan", "talk"]);
    let count = |rule: Indicator| {
        let table = rule
            .judge(&panel, Some(&log))
            .unwrap()
            .table(Level::default(), &Thresholds::default());
        move |indicator: &str, site: &str, arm: Option<Arm>| {
            table
                .rows
                .iter()
                .find(|r| r.indicator == indicator && r.site == site && r.arm == arm)
                .unwrap()
                .share
                .map(|s| (s.hits, s.n))
        }
    };
    let t = Some(Arm::Treatment);
    let c = Some(Arm::Control);

    // Within 4 weeks (event weeks 0–3), judged when followed through 3: P1
    // (0) P2 (3) P4 (0) met; P3 (−3, 4) and P6 not; P5 not judged, so K1's
    // control arm is empty.
    let within = count(Indicator::Within(Within {
        name: "talk_4w".into(),
        event: "talk".into(),
        weeks: 4,
    }));
    assert_eq!(within("talk_4w", "K1", t), Some((2, 2)));
    assert_eq!(within("talk_4w", "K1", c), None);
    assert_eq!(within("talk_4w", "K2", c), Some((0, 1)));
    assert_eq!(within("talk_4w", "all", t), Some((3, 4)));
    assert_eq!(within("talk_4w", "all", None), Some((3, 5)));

    // Every 4 weeks: windows 0–3, 4–7, 8–11 for W01 referrals (P1 3 of 3,
    // P2 2 of 3, P3 1 of 3, P6 0 of 3), one window for P4 (1 of 1), none for
    // P5 (not judged).
    let every = count(Indicator::Every(Every {
        name: "monthly".into(),
        event: "talk".into(),
        weeks: 4,
        through: None,
    }));
    assert_eq!(every("monthly", "all", t), Some((2, 4)));
    assert_eq!(every("monthly", "all", c), Some((0, 1)));
    assert_eq!(every("monthly (windows)", "all", t), Some((6, 10)));
    assert_eq!(every("monthly (windows)", "all", None), Some((7, 13)));
    // One person judged (P3, 1 of 3 windows): the share, no interval, and
    // its light uncertain.
    assert_eq!(every("monthly (windows)", "K2", c), Some((1, 3)));
    let one = Indicator::Every(Every {
        name: "monthly".into(),
        event: "talk".into(),
        weeks: 4,
        through: None,
    })
    .judge(&panel, Some(&log))
    .unwrap()
    .table(Level::default(), &Thresholds::default());
    let p3 = one
        .rows
        .iter()
        .find(|r| r.indicator == "monthly (windows)" && r.site == "K2" && r.arm == c)
        .unwrap();
    let share = p3.share.unwrap();
    assert!((share.share - 1.0 / 3.0).abs() < 1e-15);
    assert_eq!(
        (share.ci_low, share.ci_high, p3.uncertain),
        (None, None, true)
    );
    // `through = 7` keeps the first two windows: P1 2/2, P2 2/2, P6 0/2.
    let early = count(Indicator::Every(Every {
        name: "monthly".into(),
        event: "talk".into(),
        weeks: 4,
        through: Some(7),
    }));
    assert_eq!(early("monthly", "all", t), Some((3, 4)));
    assert_eq!(early("monthly (windows)", "all", t), Some((5, 7)));

    // A plan within 2 weeks of each placement: P1 (3 → 4) met, P2 (9, none)
    // not; P4's placement at 4 is not judged (followed to 4 < 4 + 1).
    let after = count(Indicator::After(After {
        name: "plan_after".into(),
        event: "plan".into(),
        after: "placement".into(),
        weeks: 2,
        through: None,
    }));
    assert_eq!(after("plan_after", "K1", t), Some((1, 2)));
    assert_eq!(after("plan_after", "K2", t), None);
    assert_eq!(after("plan_after (events)", "all", None), Some((1, 2)));

    // The windows' ratio interval equals R's (sandwich HC1 of the weighted
    // mean of h/w with weights w, tests/fixtures/fidelity/ratio.csv).
    let counts = Indicator::Every(Every {
        name: "monthly".into(),
        event: "talk".into(),
        weeks: 4,
        through: None,
    })
    .judge(&panel, Some(&log))
    .unwrap();
    let table = counts.table(Level::default(), &Thresholds::default());
    for r in rows("fidelity/ratio.csv") {
        let arm = match r["arm"].as_str() {
            "treatment" => t,
            "control" => c,
            _ => None,
        };
        let got = table
            .rows
            .iter()
            .find(|x| x.indicator == "monthly (windows)" && x.site == "all" && x.arm == arm)
            .and_then(|x| x.share)
            .unwrap();
        close("ratio", got.share, num(&r, "share"));
        close("ratio low", got.ci_low.unwrap(), num(&r, "low").max(0.0));
        close("ratio high", got.ci_high.unwrap(), num(&r, "high").min(1.0));
    }
    // Parts merge into the whole.
    let mut twice = counts.clone();
    twice.merge(&counts);
    assert_eq!(
        twice.units.unwrap().sums[0][1][1],
        2 * counts.units.unwrap().sums[0][1][1]
    );
}

#[test]
fn event_log_rules_need_the_log_and_known_types() {
    use trialpanel::estimators::{Indicator, Within};
    let (panel, log) = event_trial("types");
    let rule = Indicator::Within(Within {
        name: "cv".into(),
        event: "CV".into(),
        weeks: 4,
    });
    let err = rule.judge(&panel, Some(&log)).unwrap_err().to_string();
    assert!(err.contains("event type `CV` does not occur"), "{err}");
    assert!(
        err.contains("types found: cv, placement, plan, talk"),
        "{err}"
    );
    let err = rule.judge(&panel, None).unwrap_err().to_string();
    assert!(err.contains("needs an event log"), "{err}");
    let zero = Indicator::Within(Within {
        name: "cv".into(),
        event: "cv".into(),
        weeks: 0,
    });
    assert!(zero.judge(&panel, Some(&log)).is_err());
}

fn survey_spec() -> trialpanel::inputs::SurveySpec {
    use trialpanel::inputs::SurveySpec;
    let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    SurveySpec {
        scale: items(&["not at all", "some", "high", "very high"]),
        elements: [
            ("talks".to_string(), items(&["q1", "q2"])),
            ("cv".to_string(), items(&["q3"])),
            ("plan".to_string(), items(&["q4"])),
        ]
        .into(),
        ..SurveySpec::default()
    }
}

#[test]
fn survey_fidelity_equals_the_r_reference() {
    use trialpanel::inputs::Survey;
    let survey = Survey::read(common::fixture("fidelity/survey.csv"), &survey_spec()).unwrap();
    assert_eq!(survey.sites(), ["A", "B", "C"]);
    assert_eq!(survey.waves(), [1, 3]);
    assert_eq!(survey.skipped(), [("bg1".to_string(), 31)]);
    let f = trialpanel::estimators::fidelity(&survey, Level::default(), &Thresholds::default());
    let reference = rows("fidelity/survey_reference.csv");
    assert_eq!(reference.len(), 7 * 7); // A, B, all × 2 waves and C × 1; 7 rows each
    for r in &reference {
        let item = (!r["item"].is_empty()).then(|| r["item"].clone());
        let wave: u32 = r["wave"].parse().unwrap();
        let got = f
            .rows
            .iter()
            .find(|x| {
                x.element == r["element"] && x.item == item && x.site == r["site"] && x.wave == wave
            })
            .unwrap_or_else(|| panic!("{r:?}"));
        let what = format!("{} {:?} {} {wave}", r["element"], item, r["site"]);
        assert_eq!(got.n, num(r, "n") as usize, "{what}");
        match (got.level, opt(r, "share")) {
            (Some(l), Some(share)) => {
                close(&what, l.share, share);
                match (l.interval(), opt(r, "low"), opt(r, "high")) {
                    (Some((low, high)), Some(want_low), Some(want_high)) => {
                        close(&what, low, want_low);
                        close(&what, high, want_high);
                        let light = Thresholds::default().light_of(l.share, low, high);
                        assert_eq!((got.light, got.uncertain), (Some(light.0), light.1));
                    }
                    // One respondent: the share, no interval, an uncertain light.
                    (None, None, None) => assert!(got.uncertain, "{what}"),
                    other => panic!("{what}: {other:?}"),
                }
            }
            (None, None) => assert_eq!(got.light, None),
            (a, b) => panic!("{what}: {a:?} vs {b:?}"),
        }
    }
    // Nobody answered q4 at B in wave 3; C has no wave 3.
    let none = |element: &str, site: &str| {
        f.rows
            .iter()
            .find(|x| x.element == element && x.site == site && x.wave == 3)
            .unwrap()
            .level
    };
    assert_eq!(none("plan", "B"), None);
    assert_eq!(none("talks", "C"), None);
    for r in rows("fidelity/survey_change.csv") {
        let item = (!r["item"].is_empty()).then(|| r["item"].clone());
        let got = f
            .changes
            .iter()
            .find(|x| x.element == r["element"] && x.item == item && x.site == r["site"])
            .unwrap();
        assert_eq!((got.first_wave, got.last_wave), (1, 3));
        match (got.change, opt(&r, "change")) {
            (Some((d, low, high)), Some(want)) => {
                close("change", d, want);
                close("change low", low, num(&r, "low"));
                close("change high", high, num(&r, "high"));
            }
            (None, None) => {}
            (a, b) => panic!("{r:?}: {a:?} vs {b:?}"),
        }
    }
    assert_eq!(trialpanel::Table::to_frame(&f).unwrap().width(), 10);
}

#[test]
fn an_element_whose_respondents_answer_every_item_has_the_mean_and_se_of_their_shares() {
    // By hand: four respondents answer both items; their top shares are
    // 1, 1/2, 1/2, 1/2, so the element is 0.625 (the items: 3/4 and 2/4)
    // with se = sd/√R = 0.25/2 and the interval 0.625 ± 1.959964 · 0.125.
    use polars::prelude::*;
    use trialpanel::inputs::Survey;
    let df = df!(
        "respondent" => ["a", "a", "b", "b", "c", "c", "d", "d"],
        "site" => ["S"; 8],
        "wave" => [1; 8],
        "item" => ["q1", "q2", "q1", "q2", "q1", "q2", "q1", "q2"],
        "answer" => ["high", "very high", "high", "some", "some", "high", "very high", "not at all"]
    )
    .unwrap();
    let mut spec = survey_spec();
    spec.elements = [(
        "talks".to_string(),
        vec!["q1".to_string(), "q2".to_string()],
    )]
    .into();
    let survey = Survey::from_frame(df, "survey", &spec).unwrap();
    let f = trialpanel::estimators::fidelity(&survey, Level::default(), &Thresholds::default());
    let element = f
        .rows
        .iter()
        .find(|r| r.item.is_none() && r.site == "S")
        .unwrap();
    let l = element.level.unwrap();
    let half = 1.959963984540054 * 0.125;
    close("share", l.share, 0.625);
    close("low", l.ci_low.unwrap(), 0.625 - half);
    close("high", l.ci_high.unwrap(), 0.625 + half);
    assert_eq!(element.n, 4);
    // One wave: no changes.
    assert!(f.changes.is_empty());
}

/// The panel of the cost fixture (tests/fixtures/cost), persons read with
/// `spec`.
fn cost_panel(spec: &trialpanel::PersonSpec) -> trialpanel::Panel {
    use trialpanel::{CodeTable, LongColumns, Panel, Persons};
    let dir = common::fixture("cost");
    let persons = Persons::read(dir.join("persons.csv"), spec).unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    Panel::builder(&persons, &codes)
        .long_file(dir.join("register.csv"), &LongColumns::default())
        .unwrap()
}

/// Δc, Δy, their se, df and covariance, the ratio and its bounded Fieller
/// interval against a reference row (tests/fixtures/cost).
fn check_cost_per(
    s: &trialpanel::estimators::CostPer,
    r: &std::collections::HashMap<String, String>,
) {
    close("dc", s.cost.effect.unwrap(), num(r, "dc"));
    close("se c", s.cost.se.unwrap(), num(r, "se_c"));
    close("df c", s.cost.df.unwrap(), num(r, "df_c"));
    close("dy", s.effect.effect.unwrap(), num(r, "dy"));
    close("se y", s.effect.se.unwrap(), num(r, "se_y"));
    close("df y", s.effect.df.unwrap(), num(r, "df_y"));
    close("cov", s.covariance, num(r, "cov"));
    close("ratio", s.ratio.unwrap(), num(r, "ratio"));
    match s.interval.unwrap() {
        Fieller::Bounded { low, high } => {
            close("fieller low", low, num(r, "low"));
            close("fieller high", high, num(r, "high"));
        }
        f => panic!("{f:?}"),
    }
}

#[test]
fn cost_per_effect_equals_the_r_reference() {
    use trialpanel::estimators::{CostSpec, Priced, person_costs};
    use trialpanel::{Outcome, PersonSpec};
    let panel = cost_panel(&PersonSpec::default());
    let spec = CostSpec {
        through: 8,
        programme: 2000.0,
        per: vec!["self_supporting".into(), "placement_weeks".into()],
    };
    let priced = [
        Priced {
            outcome: Outcome::self_supporting(),
            at_end: false,
        },
        // A cumulative outcome at K is its weekly sum over 0..=K.
        Priced {
            outcome: Outcome::work_placement().cumulative(),
            at_end: true,
        },
    ];
    let costs = person_costs(&panel, &spec, &priced).unwrap();
    let e = costs.effects(&spec, &Design::default());
    let r = &rows("cost/reference.csv")[0];
    assert_eq!((e.cost.n_treat, e.cost.n_control), (14, 18));
    close(
        "mean treat",
        e.cost.mean_treat.unwrap(),
        num(r, "mean_treat"),
    );
    close(
        "mean control",
        e.cost.mean_control.unwrap(),
        num(r, "mean_control"),
    );
    close("dc", e.cost.effect.unwrap(), num(r, "dc"));
    check_cost_per(&e.per[0], r);
    // The placement weeks priced at K equal their weekly sum over 0..=K.
    let weekly = person_costs(
        &panel,
        &spec,
        &[Priced {
            outcome: Outcome::work_placement(),
            at_end: false,
        }],
    )
    .unwrap()
    .effects(&spec, &Design::default());
    assert_eq!(e.per[1].effect.effect, weekly.per[0].effect.effect);
    // cost.csv: one `cost` row, then cost, effect and cost per unit per outcome.
    let frame = trialpanel::Table::to_frame(&e).unwrap();
    assert_eq!(frame.height(), 1 + 3 * 2);
    // Halves of the persons appended give the whole.
    let mut whole = costs.clone();
    whole.append(costs.clone());
    let doubled = whole.effects(&spec, &Design::default());
    assert_eq!(doubled.cost.n_treat, 28);
    close("same mean", doubled.cost.effect.unwrap(), num(r, "dc"));
}

#[test]
fn cost_needs_costs_in_the_code_table() {
    use trialpanel::estimators::{CostSpec, person_costs};
    let (panel, _) = event_trial("cost");
    let spec = CostSpec {
        through: 4,
        programme: 0.0,
        per: Vec::new(),
    };
    let err = person_costs(&panel, &spec, &[]).unwrap_err().to_string();
    assert!(err.contains("missing column `cost_per_week`"), "{err}");
}

/// The bundled sample's analysis, run once.
fn sample_results() -> &'static trialpanel::analysis::Results {
    use std::sync::OnceLock;
    static RESULTS: OnceLock<trialpanel::analysis::Results> = OnceLock::new();
    RESULTS.get_or_init(|| {
        let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("data-samples/jobfirst/analysis.toml");
        trialpanel::analysis::Analysis::from_file(file)
            .unwrap()
            .run()
            .unwrap()
    })
}

#[test]
fn the_sample_lands_near_the_reports_delivery_figures() {
    use trialpanel::Arm;
    // Synthetic, so only near: JobFirst's overview (treatment arm) and
    // Jobrettet Samtale II's last-wave fidelity 69 / 65 / 87%.
    let r = sample_results();
    let share = |indicator: &str| {
        r.process
            .iter()
            .flat_map(|t| &t.rows)
            .find(|x| x.indicator == indicator && x.site == "all" && x.arm == Some(Arm::Treatment))
            .and_then(|x| x.share)
            .unwrap()
            .share
    };
    for (indicator, report, tolerance) in [
        ("first_talk_within_4_weeks", 0.90, 0.03),
        ("monthly_talks", 0.84, 0.05),
        ("cv_within_4_weeks", 0.82, 0.04),
        ("plan_within_4_weeks", 0.99, 0.02),
        ("plan_updated_after_placement", 0.85, 0.05),
    ] {
        let got = share(indicator);
        assert!((got - report).abs() <= tolerance, "{indicator}: {got}");
    }
    let f = r.fidelity.as_ref().unwrap();
    for (element, report) in [
        ("frequent_talks", 0.69),
        ("job_focus", 0.65),
        ("individual_plan", 0.87),
    ] {
        let got = f
            .elements_at(6)
            .find(|x| x.element == element && x.site == "all")
            .and_then(|x| x.level)
            .unwrap()
            .share;
        assert!((got - report).abs() <= 0.07, "{element}: {got}");
    }
    // Fifteen municipalities and `all`, six waves.
    let sites: std::collections::BTreeSet<&str> = f.rows.iter().map(|x| x.site.as_str()).collect();
    assert_eq!(sites.len(), 16);
    assert!(f.response.len() == 15 * 6 && f.response.iter().all(|x| x.rate.is_some()));
}

#[test]
fn site_correlations_pair_the_sites_measures() {
    use trialpanel::Arm;
    let r = sample_results();
    let c = &r.correlations[1];
    assert_eq!(c.x.to_string(), "fidelity:frequent_talks");
    assert_eq!(c.y.to_string(), "process:monthly_talks");
    assert_eq!(c.sites.len(), 15);
    let f = r.fidelity.as_ref().unwrap();
    for (site, x, y) in &c.sites {
        let fidelity = f
            .elements_at(6)
            .find(|row| row.element == "frequent_talks" && &row.site == site)
            .and_then(|row| row.level)
            .unwrap()
            .share;
        let process = r
            .process
            .iter()
            .flat_map(|t| &t.rows)
            .find(|row| {
                row.indicator == "monthly_talks"
                    && &row.site == site
                    && row.arm == Some(Arm::Treatment)
            })
            .and_then(|row| row.share)
            .unwrap()
            .share;
        assert_eq!((*x, *y), (fidelity, process), "{site}");
    }
    // Pearson's r by its formula over the pairs.
    let n = c.sites.len() as f64;
    let (mx, my) = c
        .sites
        .iter()
        .fold((0.0, 0.0), |a, s| (a.0 + s.1 / n, a.1 + s.2 / n));
    let (sxy, sxx, syy) = c.sites.iter().fold((0.0, 0.0, 0.0), |a, s| {
        (
            a.0 + (s.1 - mx) * (s.2 - my),
            a.1 + (s.1 - mx).powi(2),
            a.2 + (s.2 - my).powi(2),
        )
    });
    close(
        "r",
        c.correlation.unwrap().pearson,
        sxy / (sxx * syy).sqrt(),
    );
}

#[test]
fn delivery_data_are_seeded() {
    use trialpanel::simulate::{TrialSpec, simulate};
    let spec = TrialSpec {
        persons: 300,
        ..TrialSpec::default()
    };
    let (a, b) = (simulate(&spec).unwrap(), simulate(&spec).unwrap());
    assert_eq!(a.event_log().unwrap(), b.event_log().unwrap());
    assert_eq!(a.staff_survey().unwrap(), b.staff_survey().unwrap());
    let other = simulate(&TrialSpec {
        seed: 7,
        ..spec.clone()
    })
    .unwrap();
    assert_ne!(a.event_log().unwrap(), other.event_log().unwrap());
    // Written in chunks without the trial in memory: the same rows.
    let dir = std::env::temp_dir().join(format!("trialpanel-delivery-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    trialpanel::simulate::delivery::write_event_log(&spec, &dir, 64).unwrap();
    let chunked = std::fs::read_to_string(dir.join("events.csv")).unwrap();
    a.write_delivery(&dir).unwrap();
    let whole = std::fs::read_to_string(dir.join("events.csv")).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(chunked, whole);
}

#[test]
fn an_event_log_reads_alike_from_csv_parquet_and_a_frame() {
    use polars::prelude::*;
    use trialpanel::inputs::{EventLog, EventSpec};
    use trialpanel::{PersonSpec, Persons};
    let sample = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst");
    let persons = Persons::read(sample.join("persons.csv"), &PersonSpec::default()).unwrap();
    let csv = EventLog::read(sample.join("events.csv"), &persons, &EventSpec::default()).unwrap();
    let mut df = CsvReadOptions::default()
        .try_into_reader_with_file_path(Some(sample.join("events.csv")))
        .unwrap()
        .finish()
        .unwrap();
    let path =
        std::env::temp_dir().join(format!("trialpanel-events-{}.parquet", std::process::id()));
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .with_row_group_size(Some(4096))
        .finish(&mut df)
        .unwrap();
    let parquet = EventLog::read(&path, &persons, &EventSpec::default()).unwrap();
    std::fs::remove_file(&path).unwrap();
    let frame = EventLog::from_frame(df, "events", &persons, &EventSpec::default()).unwrap();
    let panel = common::sample_panel();
    let rule = trialpanel::estimators::Indicator::Every(trialpanel::estimators::Every {
        name: "monthly".into(),
        event: "talk".into(),
        weeks: 4,
        through: None,
    });
    let want = rule.judge(&panel, Some(&csv)).unwrap();
    for log in [&parquet, &frame] {
        assert_eq!(log.rows(), csv.rows());
        assert_eq!(log.types(), csv.types());
        assert_eq!(log.last_week(), csv.last_week());
        assert_eq!(rule.judge(&panel, Some(log)).unwrap(), want);
    }
    assert_eq!(
        csv.types(),
        ["cv", "placement", "plan", "plan_update", "talk"]
    );
}

#[test]
fn a_blocked_design_blocks_the_cost_per_effect_too() {
    use trialpanel::analysis::Analysis;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data-samples/jobfirst/analysis.toml");
    let mut config = Analysis::from_file(&file).unwrap().config().clone();
    config.design.blocked = true;
    config.families.clear();
    for o in &mut config.outcomes {
        o.band = false;
        o.randomisation = false;
    }
    let results = Analysis::new(config, file.parent().unwrap())
        .unwrap()
        .run()
        .unwrap();
    let (blocked, unblocked) = (
        results.cost.unwrap(),
        sample_results().cost.clone().unwrap(),
    );
    assert!(blocked.blocked && !unblocked.blocked);
    // The blocked estimator's df: the persons followed through K less 2 per block.
    let n = (blocked.cost.n_treat + blocked.cost.n_control) as f64;
    assert_eq!(blocked.cost.df, Some(n - 2.0 * 15.0));
    assert_ne!(blocked.cost.effect, unblocked.cost.effect);
    assert!(
        !results
            .warnings
            .iter()
            .any(|w| w.contains("cost per effect"))
    );
}

#[test]
fn blocked_cost_per_effect_equals_estimatr() {
    use trialpanel::estimators::{CostSpec, Priced, person_costs};
    use trialpanel::{Outcome, PersonSpec};
    let panel = cost_panel(&PersonSpec::default().block_column("site"));
    let spec = CostSpec {
        through: 8,
        programme: 2000.0,
        per: vec!["self_supporting".into()],
    };
    let priced = [Priced {
        outcome: Outcome::self_supporting(),
        at_end: false,
    }];
    let e = person_costs(&panel, &spec, &priced)
        .unwrap()
        .effects(&spec, &Design::default().blocked(true));
    let r = &rows("cost/reference_blocked.csv")[0];
    assert!(e.blocked);
    check_cost_per(&e.per[0], r);
    // The overall incremental cost is the same blocked difference.
    close("cost", e.cost.effect.unwrap(), num(r, "dc"));
}
