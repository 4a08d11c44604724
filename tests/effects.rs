//! The estimators against reference values computed independently
//! (tests/fixtures/effects, made by make_fixtures.py with scipy, statsmodels
//! and numpy; provenance in the README there).

mod common;

use std::collections::BTreeMap;

use common::{assert_close, num, opt, rows};
use trialpanel::estimators::{self, DEFAULT_HOURS_BUCKETS};
use trialpanel::estimators::{
    BandSpec, RandomisationSpec, Significance, site_effects, subgroup_effects,
};
use trialpanel::outcome::WeeklySums;
use trialpanel::stats::{self, Level, Moments};
use trialpanel::{
    Arm, CodeTable, Design, Error, LongColumns, Outcome, Panel, PersonSpec, Persons, Table,
    Variance, WeeklyEffects,
};

const TOL: f64 = 1e-9;

fn outcome(name: &str) -> Outcome {
    match name {
        "hours" => Outcome::hours(),
        "employed" => Outcome::employed(0.0),
        "work_placement" => Outcome::work_placement(),
        "cumulative_hours" => Outcome::hours().cumulative(),
        other => panic!("unknown outcome {other}"),
    }
}

#[test]
fn difference_in_means_matches_scipy() {
    let mut samples: BTreeMap<(String, String), Vec<f64>> = BTreeMap::new();
    for r in rows("effects/samples.csv") {
        samples
            .entry((r["case"].clone(), r["arm"].clone()))
            .or_default()
            .push(num(&r, "y"));
    }
    let expected = rows("effects/difference_in_means.csv");
    assert_eq!(expected.len(), 24);
    for want in expected {
        let case = &want["case"];
        let m = |arm: &str| Moments::of(&samples[&(case.clone(), arm.to_string())]);
        let variance = match want["variance"].as_str() {
            "welch" => Variance::Welch,
            _ => Variance::Pooled,
        };
        let e = stats::difference_in_means(
            &m("treatment"),
            &m("control"),
            num(&want, "level"),
            variance,
        );
        let what = |c: &str| format!("{case}/{}/{}: {c}", want["variance"], want["level"]);
        assert_eq!(e.n_treat as f64, num(&want, "n_treat"));
        assert_eq!(e.n_control as f64, num(&want, "n_control"));
        // The offset case (values near 1e6, sd 1–2) loses digits in any
        // floating-point mean; it is checked to 1e-9 relative all the same.
        for (col, got) in [
            ("mean_treat", e.mean_treat),
            ("mean_control", e.mean_control),
            ("sd_treat", e.sd_treat),
            ("sd_control", e.sd_control),
            ("se", e.se),
            ("df", e.df),
            ("p_value", e.p_value),
            ("ratio", e.ratio),
            ("ratio_se", e.ratio_se),
        ] {
            assert_close(&what(col), got, opt(&want, col), TOL);
        }
        // Effect and CI ends are differences of nearby numbers in the
        // offset case: compare on the scale of the se.
        let se = num(&want, "se");
        for (col, got) in [
            ("effect", e.effect),
            ("ci_low", e.ci_low),
            ("ci_high", e.ci_high),
        ] {
            let (g, w) = (got.unwrap(), num(&want, col));
            assert!(
                (g - w).abs() <= 1e-9 * se,
                "{}: got {g}, want {w}",
                what(col)
            );
        }
    }
}

#[test]
fn adjusted_p_values_match_statsmodels() {
    let all = rows("effects/adjusted_p.csv");
    let mut sets: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for r in &all {
        sets.entry(r["set"].clone()).or_default().push(r);
    }
    assert_eq!(sets.len(), 3);
    for (name, rs) in sets {
        let p: Vec<Option<f64>> = rs.iter().map(|r| opt(r, "p")).collect();
        let holm = stats::holm(&p);
        let bh = stats::benjamini_hochberg(&p);
        for (i, r) in rs.iter().enumerate() {
            assert_close(&format!("{name} holm {i}"), holm[i], opt(r, "holm"), 1e-12);
            assert_close(&format!("{name} bh {i}"), bh[i], opt(r, "bh"), 1e-12);
        }
    }
}

#[test]
fn chi_square_matches_scipy() {
    for want in rows("effects/chi_square.csv") {
        let table: Vec<Vec<f64>> = want["table"]
            .split('|')
            .map(|row| row.split(' ').map(|x| x.parse().unwrap()).collect())
            .collect();
        let got = stats::pearson_chi_square(&table).unwrap();
        assert_close(
            &want["case"],
            Some(got.statistic),
            opt(&want, "statistic"),
            1e-12,
        );
        assert_eq!(got.df, num(&want, "df"), "{}", want["case"]);
        assert_close(
            &want["case"],
            Some(got.p_value),
            opt(&want, "p_value"),
            1e-9,
        );
    }
    // One non-empty column left: no test.
    assert!(stats::pearson_chi_square(&[vec![3.0, 0.0], vec![4.0, 0.0]]).is_none());
}

#[test]
fn cochran_q_matches_formula() {
    for want in rows("effects/cochran_q.csv") {
        let est: Vec<(Option<f64>, Option<f64>)> = want["estimates"]
            .split(' ')
            .map(|pair| match pair.split_once(':') {
                Some((e, s)) => (Some(e.parse().unwrap()), Some(s.parse().unwrap())),
                None => (None, None),
            })
            .collect();
        let q = stats::cochran_q(&est).unwrap();
        assert_close(
            &want["case"],
            Some(q.statistic),
            opt(&want, "statistic"),
            1e-12,
        );
        assert_eq!(q.df, num(&want, "df"));
        assert_close(&want["case"], Some(q.p_value), opt(&want, "p_value"), 1e-9);
    }
}

/// The weekly effects of `name` at weeks -3..=16 by both routes: evaluated
/// values through `weekly_effects`, and the exact sums of `WeeklySums`.
fn weekly_both_ways(panel: &Panel, name: &str, design: &Design) -> Vec<WeeklyEffects> {
    let values = outcome(name).evaluate(panel, -3..=16).unwrap();
    let from_values = estimators::weekly_effects(&values, design).unwrap();
    let sums = WeeklySums::of(panel, &[outcome(name)], -3..=16).unwrap();
    let from_sums = trialpanel::estimators::weekly_effects_from_sums(&sums, design)
        .unwrap()
        .remove(0);
    vec![from_values, from_sums]
}

#[test]
fn weekly_effects_on_the_trial_match_scipy() {
    let panel = common::trial_panel(&["female"]);
    let expected = rows("effects/trial_effects.csv");
    assert_eq!(expected.len(), 77);
    let mut checked = 0;
    for name in ["hours", "employed", "work_placement", "cumulative_hours"] {
        for got in weekly_both_ways(&panel, name, &Design::default()) {
            assert_eq!(got.outcome, name);
            for want in expected.iter().filter(|r| r["outcome"] == name) {
                let k = num(want, "week") as i32;
                let e = &got.week(k).unwrap().estimate;
                let what = |c: &str| format!("{name} week {k}: {c}");
                assert_eq!(
                    e.n_treat as f64,
                    num(want, "n_treat"),
                    "{}",
                    what("n_treat")
                );
                assert_eq!(e.n_control as f64, num(want, "n_control"), "{}", what("n"));
                for (col, g) in [
                    ("mean_treat", e.mean_treat),
                    ("mean_control", e.mean_control),
                    ("sd_treat", e.sd_treat),
                    ("sd_control", e.sd_control),
                    ("effect", e.effect),
                    ("se", e.se),
                    ("df", e.df),
                    ("ci_low", e.ci_low),
                    ("ci_high", e.ci_high),
                    ("p_value", e.p_value),
                ] {
                    assert_close(&what(col), g, opt(want, col), TOL);
                }
                checked += 1;
            }
            // Cumulative outcomes are undefined before week 0.
            if name == "cumulative_hours" {
                let r = got.week(-1).unwrap();
                assert_eq!((r.estimate.n_treat, r.estimate.effect), (0, None));
            }
        }
    }
    assert_eq!(checked, 2 * 77);
}

#[test]
fn blocked_estimator_on_the_trial_matches_formula() {
    let panel = common::trial_panel(&["female"]);
    let expected = rows("effects/trial_blocked.csv");
    assert!(expected.len() > 60);
    let mut dropped_somewhere = false;
    for name in ["hours", "employed", "work_placement", "cumulative_hours"] {
        for got in weekly_both_ways(&panel, name, &Design::default().blocked(true)) {
            for want in expected.iter().filter(|r| r["outcome"] == name) {
                let k = num(want, "week") as i32;
                let r = got.week(k).unwrap();
                let what = |c: &str| format!("blocked {name} week {k}: {c}");
                for (col, g) in [
                    ("effect", r.estimate.effect),
                    ("se", r.estimate.se),
                    ("df", r.estimate.df),
                    ("ci_low", r.estimate.ci_low),
                    ("ci_high", r.estimate.ci_high),
                    ("p_value", r.estimate.p_value),
                ] {
                    assert_close(&what(col), g, opt(want, col), TOL);
                }
                assert_eq!(r.blocks_used, Some(num(want, "blocks_used") as usize));
                assert_eq!(r.blocks_dropped, Some(num(want, "blocks_dropped") as usize));
                dropped_somewhere |= r.blocks_dropped > Some(0);
            }
        }
    }
    assert!(dropped_somewhere, "the fixture exercises dropped blocks");
}

#[test]
fn subgroups_and_site_heterogeneity_match_scipy() {
    let panel = common::trial_panel(&["female"]);
    let subs = rows("effects/trial_subgroups.csv");
    let sites = rows("effects/trial_sites.csv");
    for name in ["hours", "employed", "work_placement", "cumulative_hours"] {
        let values = outcome(name).evaluate(&panel, -3..=16).unwrap();
        let got = subgroup_effects(&values, &Design::default(), "female", 1).unwrap();
        assert_eq!(got.by, "female");
        for want in subs.iter().filter(|r| r["outcome"] == name) {
            let k = num(want, "week") as i32;
            let level = num(want, "female");
            let r = got
                .rows
                .iter()
                .find(|r| r.week == k && r.group.parse::<f64>().ok() == Some(level))
                .unwrap();
            let what = |c: &str| format!("{name} female={level} week {k}: {c}");
            assert_eq!(r.estimate.n_treat as f64, num(want, "n_treat"));
            for (col, g) in [
                ("effect", r.estimate.effect),
                ("se", r.estimate.se),
                ("df", r.estimate.df),
                ("p_value", r.estimate.p_value),
            ] {
                assert_close(&what(col), g, opt(want, col), TOL);
            }
        }
        let got = site_effects(&values, &Design::default(), 1).unwrap();
        for want in sites.iter().filter(|r| r["outcome"] == name) {
            let k = num(want, "week") as i32;
            let h = got.heterogeneity.iter().find(|h| h.week == k).unwrap();
            assert_eq!(h.sites as f64, num(want, "sites"));
            for (col, g) in [
                ("statistic", h.test.map(|t| t.statistic)),
                ("df", h.test.map(|t| t.df)),
                ("p_value", h.test.map(|t| t.p_value)),
            ] {
                assert_close(&format!("{name} Q week {k}: {col}"), g, opt(want, col), TOL);
            }
        }
    }
}

#[test]
fn small_cells_are_flagged_not_dropped() {
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::hours().evaluate(&panel, 0..=16).unwrap();
    let sites = site_effects(&values, &Design::default(), 5).unwrap();
    // Every (site, week) is present.
    assert_eq!(sites.rows.len(), 3 * 17);
    let small: Vec<_> = sites.rows.iter().filter(|r| r.suppressed).collect();
    assert!(!small.is_empty());
    for r in &small {
        assert!(r.estimate.n_treat < 5 || r.estimate.n_control < 5);
        assert_eq!((r.estimate.mean_treat, r.estimate.effect), (None, None));
    }
    for r in sites.rows.iter().filter(|r| !r.suppressed) {
        assert!(r.estimate.n_treat >= 5 && r.estimate.n_control >= 5);
        assert!(r.estimate.effect.is_some());
    }
    let frame = sites.to_frame().unwrap();
    assert_eq!(frame.height(), 51);
    assert!(frame.column("suppressed").is_ok() && frame.column("site").is_ok());
}

#[test]
fn covariance_of_weekly_estimates_matches_numpy() {
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::hours().evaluate(&panel, 0..=3).unwrap();
    let v = estimators::weekly_covariance(&values, &Design::default(), &[0, 1, 2, 3]);
    for want in rows("effects/trial_covariance.csv") {
        let (a, b) = (num(&want, "week_a") as usize, num(&want, "week_b") as usize);
        assert_close(
            &format!("V[{a},{b}]"),
            Some(v[(a, b)]),
            opt(&want, "covariance"),
            1e-10,
        );
    }
}

#[test]
fn hours_descriptives_match_scipy() {
    let panel = common::trial_panel(&["female"]);
    let dist = estimators::hours_distribution(&panel, 5, &DEFAULT_HOURS_BUCKETS).unwrap();
    let want = rows("effects/trial_hours_week5.csv");
    for (j, r) in want.iter().enumerate() {
        assert_eq!(dist.buckets[j], r["bucket"]);
        assert_eq!(
            dist.counts[Arm::Treatment as usize][j] as f64,
            num(r, "n_treat")
        );
        assert_eq!(
            dist.counts[Arm::Control as usize][j] as f64,
            num(r, "n_control")
        );
    }
    let t = &rows("effects/trial_hours_week5_test.csv")[0];
    let test = dist.test.unwrap();
    assert_close("chi2", Some(test.statistic), opt(t, "statistic"), 1e-12);
    assert_eq!(test.df, num(t, "df"));
    assert_close("chi2 p", Some(test.p_value), opt(t, "p_value"), 1e-9);
    let working = estimators::hours_among_working(&panel, 5, Level::default()).unwrap();
    assert_eq!(working.n_treat as f64, num(t, "n_working_treat"));
    assert_eq!(working.n_control as f64, num(t, "n_working_control"));
    assert_close(
        "mean working",
        working.mean_treat,
        opt(t, "mean_working_treat"),
        TOL,
    );
    assert_close(
        "mean working",
        working.mean_control,
        opt(t, "mean_working_control"),
        TOL,
    );
    assert_close("working p", working.p_value, opt(t, "working_p_value"), TOL);
    let frame = dist.to_frame().unwrap();
    assert_eq!(frame.height(), 7);
}

#[test]
fn randomisation_p_values_are_exact_when_every_assignment_is_enumerated() {
    let persons = Persons::read(
        common::fixture("effects/ri/persons.csv"),
        &PersonSpec::default(),
    )
    .unwrap();
    let codes = CodeTable::read(common::fixture("effects/ri/codes.csv")).unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_file(
            common::fixture("effects/ri/register.csv"),
            &LongColumns::default(),
        )
        .unwrap();
    let values = Outcome::hours().evaluate(&panel, 0..=1).unwrap();
    let draws = 20_000;
    let ri = estimators::randomisation_test(
        &values,
        &Design::default(),
        &RandomisationSpec::new(draws, 7).unwrap(),
    )
    .unwrap();
    let exact = rows("effects/ri_exact.csv");
    // C(10, 5) = 252 assignments ≤ 20,000 draws: every one is enumerated
    // and the p-values are exact.
    assert!(ri.exact);
    assert_eq!(ri.draws, 252);
    for (i, want) in exact.iter().take(2).enumerate() {
        assert_close("t", ri.t[i], opt(want, "t"), 1e-9);
        let (p, w) = (ri.p_values[i].unwrap(), num(want, "p_exact"));
        assert!((p - w).abs() < 1e-12, "week {i}: p {p} vs exact {w}");
    }
    let (p, w) = (ri.p_max_t.unwrap(), num(&exact[2], "p_exact"));
    assert_close("max |t|", ri.max_abs_t, opt(&exact[2], "t"), 1e-9);
    assert!((p - w).abs() < 1e-12, "max-t: p {p} vs exact {w}");
    assert_eq!(ri.to_frame().unwrap().height(), 2);
    // With fewer draws than assignments the re-draws are random, and the
    // p-values approach the exact ones: Monte Carlo sd ≤ 0.016 with 200
    // draws; allow 4 sd.
    let ri = estimators::randomisation_test(
        &values,
        &Design::default(),
        &RandomisationSpec::new(200, 7).unwrap(),
    )
    .unwrap();
    assert!(!ri.exact);
    for (i, want) in exact.iter().take(2).enumerate() {
        let (p, w) = (ri.p_values[i].unwrap(), num(want, "p_exact"));
        assert!(
            (p - w).abs() < 4.0 * (0.25f64 / 200.0).sqrt(),
            "week {i}: p {p} vs {w}"
        );
    }
}

#[test]
fn band_critical_value_for_one_week_is_the_normal_quantile() {
    // With a single week the band is the pointwise normal interval:
    // c = Φ⁻¹(0.975) = 1.959964 up to Monte Carlo error (sd ≈ 0.005 for
    // 200,000 draws).
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::hours().evaluate(&panel, 4..=4).unwrap();
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    let options = BandSpec::new(200_000, 1).unwrap();
    let band = estimators::simultaneous_band(&values, &weekly, &options).unwrap();
    let c = band.critical_value.unwrap();
    assert!((c - 1.959964).abs() < 0.02, "c = {c}");
    let weekly = weekly.with_band(band);
    let r = weekly.week(4).unwrap();
    let (e, se) = (r.estimate.effect.unwrap(), r.estimate.se.unwrap());
    assert_eq!(r.band_low, Some(e - c * se));
    assert_eq!(r.band_high, Some(e + c * se));
}

#[test]
fn band_is_wider_than_pointwise_and_narrower_than_bonferroni() {
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::hours().evaluate(&panel, 0..=12).unwrap();
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    let band = estimators::simultaneous_band(&values, &weekly, &BandSpec::default()).unwrap();
    let c = band.critical_value.unwrap();
    let k = band.weeks.len() as f64;
    // Positively correlated weeks need less than the Šidák value for 13
    // independent weeks, Φ⁻¹((1 + 0.95^(1/13))/2) = 2.8831 (scipy
    // norm.ppf), itself just under Bonferroni's 2.8905; allow 0.02 for Monte
    // Carlo error.
    assert_eq!(k, 13.0);
    assert!(c > 1.96 && c < 2.8831 + 0.02, "c = {c}");
}

#[test]
fn significant_from_follows_the_definition() {
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::work_placement().evaluate(&panel, -3..=16).unwrap();
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    let through = 12;
    let from = weekly.significant_from(Significance::Pointwise(0.05), through);
    // Recompute by scanning backwards by hand.
    let mut expect = None;
    for r in weekly.rows.iter().rev().filter(|r| r.week <= through) {
        match r.estimate.p_value {
            Some(p) if p < 0.05 => expect = Some(r.week),
            Some(_) => break,
            None => {}
        }
    }
    assert_eq!(from, expect);
    assert!(
        from.is_some_and(|k| k >= 0),
        "placements differ after referral"
    );
    // Holm is stricter than pointwise.
    let holm = weekly.significant_from(Significance::Holm(0.05), through);
    assert!(holm.is_none() || holm >= from);
}

#[test]
fn significant_weeks_are_runs_of_tested_weeks() {
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::work_placement().evaluate(&panel, -3..=16).unwrap();
    let mut weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    // Set the p-values by hand: weeks -3..=16 are 20 rows; significant at
    // -1, 0, 1, (2 untested), 3, then 6, and 9..=16 untested.
    let p = |k: i32| match k {
        -1 | 0 | 1 | 3 | 6 => Some(0.01),
        2 | 9..=16 => None,
        _ => Some(0.5),
    };
    for r in &mut weekly.rows {
        r.estimate.p_value = p(r.week);
    }
    let w = weekly.significant_weeks(Significance::Pointwise(0.05));
    assert_eq!(w.runs, vec![(-1, 3), (6, 6)]);
    assert_eq!((w.significant, w.tested, w.first()), (5, 11, Some(-1)));
    // Through week 8 the last tested week (8) is not significant.
    assert_eq!(
        weekly.significant_from(Significance::Pointwise(0.05), 8),
        None
    );
    assert_eq!(
        weekly.significant_from(Significance::Pointwise(0.05), 6),
        Some(6)
    );
}

#[test]
fn results_are_identical_with_one_and_three_threads() {
    let panel = common::trial_panel(&["female"]);
    let run = |threads: usize| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let values = Outcome::hours().evaluate(&panel, -3..=16).unwrap();
                let design = Design::default().blocked(true);
                let weekly = estimators::weekly_effects(&values, &design).unwrap();
                let band = estimators::simultaneous_band(
                    &values,
                    &weekly,
                    &BandSpec::new(5000, 3).unwrap(),
                )
                .unwrap();
                let ri = estimators::randomisation_test(
                    &values,
                    &design,
                    &RandomisationSpec::new(300, 3).unwrap(),
                )
                .unwrap();
                let sub = subgroup_effects(&values, &design, "female", 3).unwrap();
                (values.matrix().clone(), weekly.with_band(band), ri, sub)
            })
    };
    let (a, b) = (run(1), run(3));
    let bits = |m: &ndarray::Array2<f64>| m.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    assert_eq!(bits(&a.0), bits(&b.0));
    assert_eq!(a.1, b.1);
    assert_eq!(a.2, b.2);
    assert_eq!(a.3, b.3);
}

#[test]
fn effects_csv_has_the_required_columns_and_full_precision() {
    let panel = common::trial_panel(&["female"]);
    let all: Vec<_> = ["hours", "work_placement"]
        .iter()
        .map(|n| {
            let values = outcome(n).evaluate(&panel, -3..=16).unwrap();
            estimators::weekly_effects(&values, &Design::default()).unwrap()
        })
        .collect();
    let dir = std::env::temp_dir().join(format!("trialpanel-effects-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("effects.csv");
    estimators::write_effects_csv(&all, &path).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    let header = text.lines().next().unwrap();
    assert!(header.starts_with(
        "outcome,estimator,week,n_treat,n_control,mean_treat,mean_control,sd_treat,sd_control,effect,se,df,ci_low,ci_high,p_value"
    ));
    let parsed = common::rows_of(&path);
    assert_eq!(parsed.len(), 40);
    for (r, (outcome, w)) in parsed.iter().zip(
        all.iter()
            .flat_map(|e| e.rows.iter().map(move |r| (&e.outcome, r))),
    ) {
        assert_eq!(&r["outcome"], outcome);
        assert_eq!(r["week"], w.week.to_string());
        // Every value reads back bit for bit; missing values are empty.
        for (col, v) in [
            ("mean_treat", w.estimate.mean_treat),
            ("effect", w.estimate.effect),
            ("se", w.estimate.se),
            ("df", w.estimate.df),
            ("p_value", w.estimate.p_value),
            ("p_holm", w.p_holm),
        ] {
            assert_eq!(opt(r, col), v, "{outcome} week {} {col}", w.week);
        }
    }
    // Work placement before referral: se = 0, so df, CI and p are empty.
    let pre = parsed
        .iter()
        .find(|r| r["outcome"] == "work_placement" && r["week"] == "-1")
        .unwrap();
    assert_eq!(pre["se"], "0.0");
    assert_eq!((pre["df"].as_str(), pre["p_value"].as_str()), ("", ""));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn custom_outcome_and_fixed_cohort() {
    let panel = common::trial_panel(&["female"]);
    // A custom outcome equal to "employed", and one that peeks at history:
    // worked in this or the previous week.
    let custom = Outcome::custom("worked", |h| {
        f64::from(u8::from(h.hours(h.week()).unwrap_or(0.0) > 0.0))
    });
    let a = custom.evaluate(&panel, 0..=10).unwrap();
    let b = Outcome::employed(0.0).evaluate(&panel, 0..=10).unwrap();
    let bits = |m: &ndarray::Array2<f64>| m.iter().map(|x| x.to_bits()).collect::<Vec<u64>>();
    assert_eq!(bits(a.matrix()), bits(b.matrix()));
    let lag = Outcome::custom("worked_2w", |h| {
        let k = h.week();
        let worked = |j| h.hours(j).is_some_and(|x| x > 0.0);
        assert!(h.hours(k + 1).is_none(), "no peeking into the future");
        f64::from(u8::from(worked(k) || worked(k - 1)))
    });
    let lagged = lag.evaluate(&panel, 0..=10).unwrap();
    for k in 0..=10 {
        for (x, y) in lagged.week(k).unwrap().iter().zip(b.week(k).unwrap()) {
            assert!(x.is_nan() == y.is_nan() && (x.is_nan() || x >= y));
        }
    }
    // Fixed cohort: persons followed through week 12 only, same n every week.
    let cohort = Outcome::hours()
        .evaluate(&panel, 0..=12)
        .unwrap()
        .fixed_cohort(12);
    let weekly = estimators::weekly_effects(&cohort, &Design::default()).unwrap();
    let n0 = weekly.rows[0].estimate.n_treat + weekly.rows[0].estimate.n_control;
    assert!(n0 > 0 && n0 < panel.n_persons());
    assert!(
        weekly
            .rows
            .iter()
            .all(|r| r.estimate.n_treat + r.estimate.n_control == n0)
    );
    // An infinite custom value is an error naming the outcome and person.
    let bad = Outcome::custom("bad", |_| f64::INFINITY);
    let err = bad.evaluate(&panel, 0..=0).unwrap_err();
    assert!(
        err.to_string().contains("bad") && err.to_string().contains("T0"),
        "{err}"
    );
}

#[test]
fn invalid_settings_are_typed_errors() {
    let panel = common::trial_panel(&["female"]);
    let values = Outcome::hours().evaluate(&panel, 0..=3).unwrap();
    let is_setting = |e: Error| matches!(e, Error::InvalidSetting { .. });
    // Settings are checked once, when they are made: an estimator cannot
    // be given a confidence level of 1 or NaN, or zero draws.
    assert!(is_setting(Level::new(1.0).unwrap_err()));
    assert!(is_setting(Level::new(f64::NAN).unwrap_err()));
    assert!(is_setting(Level::new(0.0).unwrap_err()));
    assert!(is_setting(
        Outcome::hours().evaluate(&panel, 0..=99).unwrap_err()
    ));
    assert!(is_setting(
        Outcome::in_state("x", &["no_such_category"])
            .evaluate(&panel, 0..=1)
            .unwrap_err()
    ));
    assert!(is_setting(
        subgroup_effects(&values, &Design::default(), "age", 5).unwrap_err()
    ));
    assert!(is_setting(
        subgroup_effects(&values, &Design::default(), "female", 0).unwrap_err()
    ));
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    assert!(is_setting(BandSpec::new(0, 1).unwrap_err()));
    assert!(is_setting(
        BandSpec::new(estimators::MAX_BAND_DRAWS + 1, 1).unwrap_err()
    ));
    assert!(is_setting(RandomisationSpec::new(0, 1).unwrap_err()));
    assert!(
        estimators::simultaneous_band(&values, &weekly, &BandSpec::new(10, 1).unwrap()).is_ok()
    );
    assert!(is_setting(
        estimators::hours_distribution(&panel, 3, &[5.0, 5.0]).unwrap_err()
    ));
    assert!(is_setting(
        estimators::hours_distribution(&panel, 300, &DEFAULT_HOURS_BUCKETS).unwrap_err()
    ));
    assert!(is_setting(
        Outcome::employed(f64::NAN)
            .evaluate(&panel, 0..=1)
            .unwrap_err()
    ));
}

#[test]
fn bundled_sample_effects_have_the_signs_and_sizes_of_spec_section_8() {
    let panel = common::sample_panel();
    let at = |o: Outcome, k: i32| {
        let values = o.evaluate(&panel, 0..=44).unwrap();
        let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
        weekly.week(k).unwrap().estimate
    };
    // Any ordinary hours at week 35: the JobFirst midway evaluation has 7% vs 12%, significant.
    let e = at(Outcome::employed(0.0), 35);
    assert!((0.05..0.09).contains(&e.mean_control.unwrap()));
    assert!((0.09..0.15).contains(&e.mean_treat.unwrap()));
    assert!(e.ci_low.unwrap() > 0.0);
    // Mean hours at week 35: the evaluation has 1 h 20 min vs 2 h 05 min (effect 0.75 h).
    let e = at(Outcome::hours(), 35);
    assert!((1.0..1.7).contains(&e.mean_control.unwrap()));
    assert!((1.6..2.5).contains(&e.mean_treat.unwrap()));
    assert!((0.3..1.5).contains(&e.effect.unwrap()));
    // Work placement: treatment around 30%, control low.
    let e = at(Outcome::work_placement(), 13);
    assert!((0.2..0.4).contains(&e.mean_treat.unwrap()));
    assert!(e.mean_control.unwrap() < 0.12);
    // Wage subsidy: about a point higher after week 13.
    let e = at(Outcome::wage_subsidy(), 26);
    assert!((0.0..0.04).contains(&e.effect.unwrap()));
}
