//! Alignment, censoring and DREAM semantics on the hand-checked panel in
//! tests/data/small (expected values worked out in its README), and the
//! long and wide forms of the bundled sample giving identical panels.

use std::path::PathBuf;

use trialpanel::HOURS_SCALE;
use trialpanel::{Arm, CodeTable, LongColumns, Panel, PersonSpec, Persons, Week, WideColumns};

fn small(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/small")
        .join(file)
}

fn small_inputs() -> (Persons, CodeTable) {
    let persons = Persons::read(
        small("persons.csv"),
        &PersonSpec::default().block_column("block"),
    )
    .unwrap();
    let codes = CodeTable::read(small("codes.csv")).unwrap();
    (persons, codes)
}

fn wide_columns() -> WideColumns {
    WideColumns {
        hours_prefix: Some("h_".into()),
        ..WideColumns::default()
    }
}

#[test]
fn small_panel_alignment_and_censoring() {
    let (persons, codes) = small_inputs();
    let panel = Panel::builder(&persons, &codes)
        .long_file(small("register_long.csv"), &LongColumns::default())
        .unwrap();
    assert_eq!(panel.event_weeks(), -5..=4);
    assert_eq!(panel.observed_from(), Week::parse("2016-W50").unwrap());
    assert_eq!(panel.observed_until(), Week::parse("2017-W03").unwrap());

    let expected_treat = [0, 0, 1, 1, 2, 2, 2, 2, 1, 1];
    let expected_control = [1, 1, 1, 2, 3, 3, 2, 2, 2, 1];
    let at_risk = panel.at_risk_all();
    assert_eq!(at_risk.len(), 10);
    for (i, r) in at_risk.iter().enumerate() {
        assert_eq!(r.week, i as i32 - 5);
        assert_eq!(r.treatment, expected_treat[i], "treatment at k={}", r.week);
        assert_eq!(r.control, expected_control[i], "control at k={}", r.week);
    }
    // Outside the window nobody is followed.
    assert_eq!(panel.at_risk(5).treatment + panel.at_risk(5).control, 0);

    let pos = |id: &str| panel.persons().position(id).unwrap();
    let cat = |id: &str, k: i32| {
        panel
            .category_at(pos(id), k)
            .map(|c| panel.codes().name(c).to_string())
    };
    let hours = |id: &str, k: i32| panel.hours_at(pos(id), k);

    assert_eq!(cat("A", 0).as_deref(), Some("work_placement"));
    assert_eq!(hours("A", 0), Some(0.0));
    assert_eq!(cat("A", 1).as_deref(), Some("work_placement"));
    assert_eq!(hours("A", 1), Some(10.5));
    assert_eq!(cat("A", 2).as_deref(), Some("none"));
    assert_eq!(hours("A", 2), Some(0.0));
    assert_eq!(cat("A", 3).as_deref(), Some("none"));
    assert_eq!(hours("A", 3), Some(20.0));
    assert_eq!(cat("A", 4).as_deref(), Some("none"));
    assert_eq!(cat("A", -1).as_deref(), Some("none"));
    assert_eq!(cat("A", -2), None, "before the register starts");
    assert_eq!(cat("B", -1).as_deref(), Some("benefit"));
    assert_eq!(hours("B", -1), Some(0.0));
    assert_eq!(hours("B", 4), Some(3.25));
    assert_eq!(cat("E", 0).as_deref(), Some("benefit"));
    assert_eq!(hours("E", 0), Some(1.0));
    assert_eq!(cat("E", 1), None, "E is followed through week 0 only");
    assert_eq!(cat("C", 0).as_deref(), Some("wage_subsidy"));
    assert_eq!(hours("C", 0), Some(37.0));
    assert_eq!(panel.followed_until(pos("E")), Some(0));
    assert_eq!(panel.followed_until(pos("A")), Some(4));

    // Panel order: control first, then block, then referral week.
    let order: Vec<&str> = panel.persons().ids().iter().map(String::as_str).collect();
    assert_eq!(order, ["B", "E", "D", "A", "C"]);
    let groups: Vec<(Arm, usize)> = panel
        .groups()
        .iter()
        .map(|g| (g.arm, g.persons.len()))
        .collect();
    assert_eq!(
        groups,
        [
            (Arm::Control, 2),
            (Arm::Control, 1),
            (Arm::Treatment, 1),
            (Arm::Treatment, 1)
        ]
    );

    // Week slices: B (position 0) at k = 4 has 3.25 h stored as 325.
    assert_eq!(panel.centihours(4).unwrap()[0], 325);
    assert_eq!(
        f64::from(panel.centihours(4).unwrap()[0]) / HOURS_SCALE,
        3.25
    );

    // The at-risk table as a DataFrame.
    let df = panel.at_risk_frame().unwrap();
    assert_eq!(df.height(), 10);
    let names: Vec<String> = df
        .get_column_names()
        .iter()
        .map(|s| s.to_string())
        .collect();
    assert_eq!(names, ["week", "n_treat", "n_control"]);
}

#[test]
fn small_panel_long_and_wide_are_identical() {
    let (persons, codes) = small_inputs();
    let long = Panel::builder(&persons, &codes)
        .long_file(small("register_long.csv"), &LongColumns::default())
        .unwrap();
    let wide = Panel::builder(&persons, &codes)
        .wide_file(small("register_wide.csv"), &wide_columns())
        .unwrap();
    assert_eq!(long.event_weeks(), wide.event_weeks());
    for k in long.event_weeks() {
        assert_eq!(long.categories(k), wide.categories(k), "week {k}");
        assert_eq!(long.centihours(k), wide.centihours(k), "week {k}");
    }
    assert_eq!(long.at_risk_all(), wide.at_risk_all());
    assert_eq!(long.persons(), wide.persons());
}

#[test]
fn observed_until_and_window_can_be_set() {
    let (persons, codes) = small_inputs();
    let until = Week::parse("2017-W03").unwrap();
    let panel = Panel::builder(&persons, &codes)
        .observed_until(until)
        .event_weeks(0, 2)
        .long_file(small("register_long.csv"), &LongColumns::default())
        .unwrap();
    assert_eq!(panel.event_weeks(), 0..=2);
    assert_eq!(panel.at_risk(0).treatment, 2);
    assert_eq!(panel.at_risk(0).control, 3);
    assert_eq!(panel.at_risk(-1).control, 0, "outside the window");
    // Rows outside the window (k < 0 or k > 2) are counted, not used.
    assert_eq!(panel.load_report().rows, 8);
    assert_eq!(panel.load_report().rows_outside_window, 3);

    // Ending the register earlier censors more: A at k=3 (2017-W02) is gone.
    let earlier = Panel::builder(&persons, &codes)
        .observed_until(Week::parse("2017-W01").unwrap())
        .observed_from(Week::parse("2016-W50").unwrap())
        .long_file(small("register_long.csv"), &LongColumns::default());
    // E was referred in 2017-W03, after the new end: a referral outside the register.
    assert!(matches!(
        earlier,
        Err(trialpanel::Error::ReferralOutsideRegister { row: 5, .. })
    ));
}

#[test]
fn absurd_event_week_windows_are_errors_not_overflows() {
    let (persons, codes) = small_inputs();
    for (first, last) in [(i32::MIN, i32::MAX), (3, 2), (-30_000, 0)] {
        let err = Panel::builder(&persons, &codes)
            .event_weeks(first, last)
            .long_file(small("register_long.csv"), &LongColumns::default())
            .unwrap_err();
        assert!(
            matches!(err, trialpanel::Error::InvalidSetting { .. }),
            "{err:?}"
        );
    }
}

#[test]
fn bundled_sample_long_and_wide_give_identical_panels() {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst");
    let persons = Persons::read(
        dir.join("persons.csv"),
        &PersonSpec::default().block_column("municipality"),
    )
    .unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    let long = Panel::builder(&persons, &codes)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap();
    let wide = Panel::builder(&persons, &codes)
        .wide_file(dir.join("register_wide.csv"), &wide_columns())
        .unwrap();
    assert_eq!(long.n_persons(), 3000);
    assert_eq!(persons.blocks().labels.len(), 15);
    assert_eq!(long.event_weeks(), -52..=44);
    for k in long.event_weeks() {
        assert_eq!(long.categories(k), wide.categories(k), "week {k}");
        assert_eq!(long.centihours(k), wide.centihours(k), "week {k}");
    }
    assert_eq!(long.persons(), wide.persons());
    assert_eq!(long.at_risk_all(), wide.at_risk_all());
    // Earliest referrals are followed 44 weeks, the latest a few.
    // (but a death or emigration code in the referral week ends it there).
    let first = long.at_risk(0);
    let ended_at_referral = (0..3000)
        .filter(|&p| long.followup_ended(p) == Some(0))
        .count();
    assert_eq!(first.treatment + first.control, 3000 - ended_at_referral);
    assert!(
        (0..3000)
            .filter(|&p| long.followup_ended(p).is_some())
            .count()
            > 10
    );
    let last = long.at_risk(44);
    assert!(last.treatment > 0 && last.control > 0);
    assert!(last.treatment + last.control < 300);
}
