//! The simulator: deterministic whatever the thread count, reproduces the
//! bundled sample byte for byte, and lands near the JobFirst magnitudes.

use std::path::{Path, PathBuf};

use trialpanel::simulate::{SimulatedTrial, TrialSpec, simulate};
use trialpanel::{Arm, CodeTable, Error, LongColumns, Panel, PersonSpec, Persons, Week};

fn in_pool(threads: usize, config: &TrialSpec) -> SimulatedTrial {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(|| simulate(config).unwrap())
}

#[test]
fn same_seed_same_data_for_any_thread_count() {
    let config = TrialSpec {
        persons: 400,
        ..TrialSpec::default()
    };
    let one = in_pool(1, &config);
    let two = in_pool(2, &config);
    let three = in_pool(3, &config);
    for other in [&two, &three] {
        assert!(one.persons.equals_missing(&other.persons));
        assert!(one.register.equals_missing(&other.register));
    }
    let other_seed = simulate(&TrialSpec { seed: 1, ..config }).unwrap();
    assert!(!one.register.equals_missing(&other_seed.register));
}

#[test]
fn the_documented_command_regenerates_the_bundled_sample() {
    let bundled = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst");
    let fresh = Path::new(env!("CARGO_TARGET_TMPDIR")).join("sample");
    let trial = simulate(&TrialSpec::sample()).unwrap();
    trial.write(&fresh, false).unwrap();
    trial.write_delivery(&fresh).unwrap();
    for file in [
        "persons.csv",
        "codes.csv",
        "register_wide.csv",
        "events.csv",
        "survey.csv",
        "invited.csv",
    ] {
        let a = std::fs::read(bundled.join(file)).unwrap();
        let b = std::fs::read(fresh.join(file)).unwrap();
        assert!(a == b, "{file} differs from a fresh simulation");
    }
    assert_eq!(
        TrialSpec::default().first_referral,
        Week::parse("2016-W10").unwrap()
    );
}

#[test]
fn defaults_land_near_the_jobfirst_magnitudes() {
    let trial = simulate(&TrialSpec::default()).unwrap();
    let persons = Persons::from_frame(
        trial.persons.clone(),
        "persons",
        &PersonSpec::default().block_column("municipality"),
    )
    .unwrap();
    let codes = CodeTable::from_pairs(
        [
            ("111", "benefit"),
            ("130", "benefit"),
            ("651", "work_placement"),
        ]
        .into_iter()
        .chain([
            ("652", "work_placement"),
            ("621", "wage_subsidy"),
            ("622", "wage_subsidy"),
        ]),
    )
    .unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_frame(trial.register.clone(), "register", &LongColumns::default())
        .unwrap();
    let placement = codes.category("work_placement").unwrap().0;

    // Share per arm at week k of persons meeting `f(category, centihours)`.
    let share = |k: i32, f: &dyn Fn(u8, u16) -> bool| {
        let (cats, hours) = (panel.categories(k).unwrap(), panel.centihours(k).unwrap());
        let mut n = [0.0f64; 2];
        let mut hit = [0.0f64; 2];
        for (g, range) in panel.observed(k) {
            for p in range {
                n[g.arm as usize] += 1.0;
                hit[g.arm as usize] += f64::from(u8::from(f(cats[p], hours[p])));
            }
        }
        [hit[0] / n[0], hit[1] / n[1]]
    };
    let (c, t) = (Arm::Control as usize, Arm::Treatment as usize);

    // The JobFirst midway evaluation (2017): any ordinary hours at week 35, 7% vs 12%.
    let hours35 = share(35, &|_, h| h > 0);
    assert!((0.04..0.10).contains(&hours35[c]), "{hours35:?}");
    assert!((0.09..0.16).contains(&hours35[t]), "{hours35:?}");
    // Mean hours about ½ hour at start in both arms.
    let start = share(0, &|_, h| h > 0);
    assert!(start[c] < 0.06 && start[t] < 0.06, "{start:?}");
    // Placements: control low, treatment rising to about a third, then falling.
    let peak = (10..=25).map(|k| share(k, &|cat, _| cat == placement)[t]);
    let peak = peak.fold(0.0, f64::max);
    assert!((0.25..0.45).contains(&peak), "peak {peak}");
    assert!(share(40, &|cat, _| cat == placement)[t] < peak);
    assert!(share(20, &|cat, _| cat == placement)[c] < 0.12);

    // With no effect the arms follow the same process.
    let null = simulate(&TrialSpec {
        effect: 0.0,
        ..TrialSpec::default()
    })
    .unwrap();
    assert_eq!(null.persons.height(), 3000);
}

#[test]
fn invalid_settings_are_typed_errors() {
    for config in [
        TrialSpec {
            persons: 1,
            ..TrialSpec::default()
        },
        TrialSpec {
            treatment_share: 1.0,
            ..TrialSpec::default()
        },
        TrialSpec {
            blocks: 0,
            ..TrialSpec::default()
        },
        TrialSpec {
            effect: f64::NAN,
            ..TrialSpec::default()
        },
        TrialSpec {
            referral_span: 60,
            ..TrialSpec::default()
        },
    ] {
        assert!(matches!(
            simulate(&config),
            Err(Error::InvalidSetting { .. })
        ));
    }
}

#[test]
fn register_written_in_chunks_equals_the_simulated_one() {
    let config = TrialSpec {
        persons: 300,
        ..TrialSpec::default()
    };
    let dir = std::env::temp_dir().join(format!("trialpanel-chunks-{}", std::process::id()));
    trialpanel::simulate::write_register(&config, &dir, 70).unwrap();
    let trial = simulate(&config).unwrap();
    let spec = trialpanel::simulate::person_spec();
    let from_files = Persons::read(dir.join("persons.csv"), &spec).unwrap();
    let from_frame = Persons::from_frame(trial.persons.clone(), "x", &spec).unwrap();
    assert_eq!(from_files.ids(), from_frame.ids());
    assert_eq!(from_files.covariates(), from_frame.covariates());
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    let written = Panel::builder(&from_files, &codes)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap();
    let simulated = Panel::builder(&from_files, &codes)
        .long_frame(trial.register.clone(), "x", &LongColumns::default())
        .unwrap();
    assert_eq!(written.load_report().rows, trial.register.height());
    for k in written.event_weeks() {
        assert_eq!(written.categories(k), simulated.categories(k), "week {k}");
        assert_eq!(written.centihours(k), simulated.centihours(k), "week {k}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}
