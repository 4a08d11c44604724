//! Null coverage, by simulation: with no true effect, the pointwise 95% CI
//! must cover 0 in 93.5–96.5% of at least 2,000 simulated trials, and the
//! simultaneous 95% band must cover the whole (zero) curve in about 95%.
//!
//! Each trial is an independent simulated register (its own seed) with
//! `effect = 0`, so both arms follow the same process; randomisation is
//! within 4 blocks. The outcome is "employed" (hours > 0), whose share is
//! 5–15%: a realistic binary outcome, not a convenient normal one.

use trialpanel::estimators::{self, BandSpec};
use trialpanel::simulate::{TrialSpec, simulate};
use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};

const TRIALS: u64 = 2000;
const WEEKS: std::ops::RangeInclusive<i32> = 0..=12;
const WEEK: i32 = 6;

/// (pointwise CI at WEEK covers 0, band covers 0 at every week).
fn one_trial(seed: u64) -> (bool, bool) {
    let config = TrialSpec {
        seed,
        persons: 800,
        blocks: 4,
        referral_span: 6,
        follow_up: 18,
        history: 0,
        effect: 0.0,
        ..TrialSpec::default()
    };
    let sim = simulate(&config).unwrap();
    let persons = Persons::from_frame(sim.persons, "persons", &PersonSpec::default()).unwrap();
    let codes = CodeTable::from_frame(sim.codes, "codes").unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_frame(sim.register, "register", &LongColumns::default())
        .unwrap();
    let values = Outcome::employed(0.0).evaluate(&panel, WEEKS).unwrap();
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    let band = estimators::simultaneous_band(&values, &weekly, &BandSpec::new(4000, seed).unwrap())
        .unwrap();
    assert_eq!(band.weeks.len(), 13, "every week has a defined se");
    let weekly = weekly.with_band(band);
    let r = weekly.week(WEEK).unwrap();
    let covers = r.estimate.ci_low.unwrap() <= 0.0 && 0.0 <= r.estimate.ci_high.unwrap();
    let band_covers = weekly
        .rows
        .iter()
        .all(|r| r.band_low.unwrap() <= 0.0 && 0.0 <= r.band_high.unwrap());
    (covers, band_covers)
}

#[test]
fn confidence_intervals_and_band_cover_the_null_at_the_nominal_rate() {
    use rayon::prelude::*;
    let results: Vec<(bool, bool)> = (0..TRIALS)
        .into_par_iter()
        .map(|s| one_trial(1 + s))
        .collect();
    let share = |f: fn(&(bool, bool)) -> bool| {
        results.iter().filter(|r| f(r)).count() as f64 / TRIALS as f64
    };
    let pointwise = share(|r| r.0);
    let band = share(|r| r.1);
    eprintln!("pointwise coverage {pointwise}, band coverage {band}");
    assert!(
        (0.935..=0.965).contains(&pointwise),
        "pointwise coverage {pointwise}"
    );
    // "About 95%": within 2 percentage points (4.4 binomial sd for 2,000 trials).
    assert!((0.93..=0.97).contains(&band), "band coverage {band}");
}
