//! Benchmarks of panel construction and the at-risk scan.
//!
//! `cargo bench --bench panel`. Register-scale benchmarks (100k–5M persons)
//! are planned in the performance issue; these measure the foundation on a
//! simulated trial of 20,000 persons × 97 register weeks.

use criterion::{Criterion, criterion_group, criterion_main};
use trialpanel::simulate::{TrialConfig, simulate};
use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons};

fn bench_panel(c: &mut Criterion) {
    let trial = simulate(&TrialConfig {
        persons: 20_000,
        ..TrialConfig::default()
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
}

criterion_group!(benches, bench_panel);
criterion_main!(benches);
