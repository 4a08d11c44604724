//! Benchmarks of panel construction, the at-risk scan, the weekly effects
//! (plain, clustered and covariate-adjusted) and the spell engine.
//!
//! `cargo bench --bench panel` measures a simulated trial of 20,000 persons
//! × 97 register weeks; register-scale benchmarks (100k–5M persons) are in
//! `benches/register.rs`.

use criterion::{Criterion, criterion_group, criterion_main};
use polars::prelude::{IntoColumn, NamedFrom, Series};
use trialpanel::estimators::{self, BandSpec};
use trialpanel::outcome::completions;
use trialpanel::simulate::{TrialSpec, simulate};
use trialpanel::{
    Adjustment, CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons, SpellRule,
    lin_effects,
};

fn bench_panel(c: &mut Criterion) {
    let trial = simulate(&TrialSpec {
        persons: 20_000,
        ..TrialSpec::default()
    })
    .expect("simulation");
    let persons = Persons::from_frame(
        trial.persons.clone(),
        "persons",
        &PersonSpec::default().block_column("municipality"),
    )
    .expect("persons");
    let codes = CodeTable::from_pairs([
        ("111", "benefit"),
        ("130", "benefit"),
        ("651", "work_placement"),
        ("652", "work_placement"),
        ("621", "wage_subsidy"),
        ("622", "wage_subsidy"),
    ])
    .expect("codes");

    c.bench_function("align long register, 20k persons", |b| {
        b.iter(|| {
            Panel::builder(&persons, &codes)
                .long_frame(trial.register.clone(), "register", &LongColumns::default())
                .expect("panel")
        })
    });
    let panel = Panel::builder(&persons, &codes)
        .long_frame(trial.register.clone(), "register", &LongColumns::default())
        .expect("panel");
    c.bench_function("at-risk table, 20k persons x 97 weeks", |b| {
        b.iter(|| panel.at_risk_all())
    });
    c.bench_function("weekly effects of hours, weeks 0..=44, 20k persons", |b| {
        b.iter(|| {
            let values = Outcome::hours().evaluate(&panel, 0..=44).expect("values");
            estimators::weekly_effects(&values, &Design::default()).expect("effects")
        })
    });
    let hours = Outcome::hours().evaluate(&panel, 0..=44).expect("values");
    let weekly = estimators::weekly_effects(&hours, &Design::default()).expect("effects");
    c.bench_function(
        "simultaneous band, 45 weeks, 20k persons, 100k draws",
        |b| b.iter(|| estimators::simultaneous_band(&hours, &weekly, &BandSpec::default())),
    );
    c.bench_function("spell completions, 20k persons", |b| {
        b.iter(|| completions(&panel, &SpellRule::default()).expect("spells"))
    });

    let adjustment = ["age", "female", "education", "children"]
        .iter()
        .try_fold(Adjustment::new(), |a, name| a.covariate(&panel, name))
        .expect("covariates");
    c.bench_function(
        "Lin (HC2) of hours, 4 covariates, weeks 0..=44, 20k persons",
        |b| b.iter(|| lin_effects(&hours, &Design::default(), &adjustment).expect("lin")),
    );

    // The same trial as if four caseworkers per municipality and arm had
    // been randomised: a cluster column nested in arms and blocks.
    let mut clustered = trial.persons.clone();
    let text = |name: &str| -> Vec<String> {
        let column = clustered.column(name).expect("column");
        (0..column.len())
            .map(|i| column.get(i).expect("cell").to_string())
            .collect()
    };
    let caseworker: Vec<String> = text("municipality")
        .iter()
        .zip(text("arm"))
        .enumerate()
        .map(|(i, (m, a))| format!("{m}-{a}-{}", i % 4))
        .collect();
    clustered
        .with_column(Series::new("caseworker".into(), caseworker).into_column())
        .expect("cluster column");
    let persons = Persons::from_frame(
        clustered,
        "persons",
        &PersonSpec::default()
            .block_column("municipality")
            .cluster_column("caseworker"),
    )
    .expect("persons");
    let panel = Panel::builder(&persons, &codes)
        .long_frame(trial.register.clone(), "register", &LongColumns::default())
        .expect("panel");
    let hours = Outcome::hours().evaluate(&panel, 0..=44).expect("values");
    c.bench_function(
        "clustered (CR2) weekly effects of hours, 20k persons",
        |b| {
            b.iter(|| {
                estimators::weekly_effects(&hours, &Design::default().blocked(true)).expect("cr2")
            })
        },
    );
    let adjustment = ["age", "female", "education", "children"]
        .iter()
        .try_fold(Adjustment::new(), |a, name| a.covariate(&panel, name))
        .expect("covariates");
    c.bench_function("Lin (CR2) of hours, 4 covariates, 20k persons", |b| {
        b.iter(|| lin_effects(&hours, &Design::default(), &adjustment).expect("lin"))
    });
}

criterion_group!(benches, bench_panel);
criterion_main!(benches);
