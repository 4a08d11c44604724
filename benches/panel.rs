//! Benchmarks of panel construction, the at-risk scan, the weekly effects
//! and the spell engine.
//!
//! `cargo bench --bench panel` measures a simulated trial of 20,000 persons
//! × 97 register weeks; register-scale benchmarks (100k–5M persons) are in
//! `benches/register.rs`.

use criterion::{Criterion, criterion_group, criterion_main};
use trialpanel::effects::{self, BandSpec};
use trialpanel::simulate::{TrialSpec, simulate};
use trialpanel::spell;
use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons, SpellRule};

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
            effects::weekly_effects(&values, &Design::default()).expect("effects")
        })
    });
    let hours = Outcome::hours().evaluate(&panel, 0..=44).expect("values");
    let weekly = effects::weekly_effects(&hours, &Design::default()).expect("effects");
    c.bench_function(
        "simultaneous band, 45 weeks, 20k persons, 100k draws",
        |b| b.iter(|| effects::simultaneous_band(&hours, &weekly, &BandSpec::default())),
    );
    c.bench_function("spell completions, 20k persons", |b| {
        b.iter(|| spell::completions(&panel, &SpellRule::default()).expect("spells"))
    });
}

criterion_group!(benches, bench_panel);
criterion_main!(benches);
