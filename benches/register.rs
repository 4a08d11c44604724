//! Register-scale benchmarks (issue 7; results and commands in
//! BENCHMARKS.md).
//!
//! `cargo bench --bench register` runs every size: 100k, 1M and 5M persons
//! × 104 event weeks of the scenario in `benches/common/scale.rs`,
//! simulated straight into a panel. `TRIALPANEL_BENCH_SIZES=100000,1000000`
//! picks sizes. Per size:
//!
//! * `one pass`: reading every byte of the panel core once (the floor);
//! * `five outcomes`: weekly effects of the five scenario outcomes at once;
//! * `spell indicator`: its weekly effects, and per-person completions with
//!   Kaplan–Meier;
//! * `balance`: ten covariates with the joint test;
//! * `core`: five outcomes + spell indicator + balance (the 1.5 s target);
//! * `band`: simultaneous band of one outcome (100k and 1M);
//! * `polars group-by`: the weekly means and variances of the same five
//!   outcomes by a straightforward polars group-by on a long person-week
//!   frame (1M only: the frame takes 4.4 GB);
//!
//! and, at 100k only, aligning a long register frame and 1,000
//! randomisation draws. `load parquet 1M` builds the panel from a
//! 1M-person long register in Parquet (written once to the temp dir).

#[path = "common/scale.rs"]
mod scale;

use std::hint::black_box;
use std::path::PathBuf;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group, criterion_main};
use polars::prelude::{
    Column, DataFrame, Float64Chunked, Int32Chunked, IntoColumn, IntoSeries, NewChunkedArray,
};
use rayon::prelude::*;
use trialpanel::estimators;
use trialpanel::estimators::time_to_spell;
use trialpanel::estimators::{BandSpec, RandomisationSpec};
use trialpanel::outcome::WeeklySums;
use trialpanel::outcome::completions;
use trialpanel::simulate;
use trialpanel::stats::Level;
use trialpanel::{Arm, CodeTable, Design, LongColumns, Outcome, Panel, Persons};

fn sizes() -> Vec<usize> {
    std::env::var("TRIALPANEL_BENCH_SIZES")
        .ok()
        .map(|s| s.split(',').filter_map(|x| x.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000, 1_000_000, 5_000_000])
}

fn label(n: usize) -> String {
    match n {
        n if n >= 1_000_000 && n % 1_000_000 == 0 => format!("{}M", n / 1_000_000),
        n if n >= 1000 && n % 1000 == 0 => format!("{}k", n / 1000),
        n => n.to_string(),
    }
}

/// Σ of every category byte and every hours value: one read of the panel
/// core, in parallel over weeks.
fn one_pass(panel: &Panel) -> u64 {
    panel
        .event_weeks()
        .collect::<Vec<_>>()
        .par_iter()
        .map(|&k| {
            let c: u64 = panel
                .categories(k)
                .map_or(0, |c| c.iter().map(|&x| u64::from(x)).sum());
            let h: u64 = panel
                .centihours(k)
                .map_or(0, |h| h.iter().map(|&x| u64::from(x)).sum());
            c + h
        })
        .sum()
}

fn core(panel: &Panel) -> usize {
    let mut outcomes = scale::outcomes();
    outcomes.push(Outcome::spell(scale::spell_rule()));
    let sums = WeeklySums::of(panel, &outcomes, scale::EFFECT_WEEKS).expect("sums");
    let effects = estimators::weekly_effects_from_sums(&sums, &Design::default().blocked(true))
        .expect("effects");
    let balance = estimators::balance(panel, &scale::balance_spec()).expect("balance");
    effects.len() + balance.rows.len()
}

/// The long person-week frame of the five outcomes (observed weeks only;
/// a missing value is null) with `week` and `arm` keys.
fn long_frame(panel: &Panel) -> DataFrame {
    let weeks: Vec<i32> = scale::EFFECT_WEEKS.collect();
    let rows: Vec<(i32, usize)> = weeks
        .iter()
        .flat_map(|&k| {
            panel
                .observed(k)
                .flat_map(move |(_, r)| r.map(move |p| (k, p)))
        })
        .collect();
    let arms = panel.persons().arms();
    let mut columns: Vec<Column> = vec![
        Int32Chunked::from_iter_values("week".into(), rows.iter().map(|r| r.0)).into_column(),
        Int32Chunked::from_iter_values(
            "arm".into(),
            rows.iter().map(|r| i32::from(arms[r.1] == Arm::Treatment)),
        )
        .into_column(),
    ];
    for outcome in scale::outcomes() {
        let values = outcome
            .evaluate(panel, scale::EFFECT_WEEKS)
            .expect("values");
        let first = *scale::EFFECT_WEEKS.start();
        let col: Float64Chunked = rows
            .iter()
            .map(|&(k, p)| {
                let y = values.matrix()[((k - first) as usize, p)];
                (!y.is_nan()).then_some(y)
            })
            .collect();
        columns.push(
            col.into_series()
                .with_name(outcome.name().into())
                .into_column(),
        );
    }
    DataFrame::new(rows.len(), columns).expect("frame")
}

/// Weekly means, variances and counts per (week, arm) by polars' group-by,
/// then the Welch difference per week: what an analyst would write first.
#[allow(deprecated)] // eager GroupBy: the `lazy` feature would add minutes to every build
fn polars_weekly(df: &DataFrame) -> usize {
    let names: Vec<String> = scale::outcomes()
        .iter()
        .map(|o| o.name().to_string())
        .collect();
    let grouped = df
        .group_by(["week", "arm"])
        .expect("group_by")
        .select(names);
    let mean = grouped.mean().expect("mean");
    let var = grouped.var(1).expect("var");
    let count = grouped.count().expect("count");
    mean.height() + var.height() + count.height()
}

fn bench_sizes(c: &mut Criterion) {
    for n in sizes() {
        let name = label(n);
        let panel = simulate::simulate_panel(&scale::config(n), scale::EVENT_WEEKS).expect("panel");
        let mut group = c.benchmark_group(format!("register {name}"));
        group.sample_size(10).warm_up_time(Duration::from_secs(1));
        group.bench_function("one pass over the panel bytes", |b| {
            b.iter(|| black_box(one_pass(&panel)))
        });
        group.bench_function("five outcomes, weekly effects", |b| {
            b.iter(|| {
                let sums = WeeklySums::of(&panel, &scale::outcomes(), scale::EFFECT_WEEKS);
                sums.and_then(|s| {
                    estimators::weekly_effects_from_sums(&s, &Design::default().blocked(true))
                })
                .expect("effects")
            })
        });
        group.bench_function("spell indicator, weekly effects", |b| {
            b.iter(|| {
                let spell = [Outcome::spell(scale::spell_rule())];
                let sums = WeeklySums::of(&panel, &spell, scale::EFFECT_WEEKS);
                sums.and_then(|s| estimators::weekly_effects_from_sums(&s, &Design::default()))
                    .expect("effects")
            })
        });
        group.bench_function("spell completions and Kaplan-Meier", |b| {
            b.iter(|| {
                let done = completions(&panel, &scale::spell_rule()).expect("spells");
                time_to_spell(&done, Level::default()).expect("km")
            })
        });
        group.bench_function("balance, 10 covariates", |b| {
            b.iter(|| estimators::balance(&panel, &scale::balance_spec()).expect("balance"))
        });
        group.bench_function("core: five outcomes + spell + balance", |b| {
            b.iter(|| black_box(core(&panel)))
        });
        if n <= 1_000_000 {
            let values = Outcome::employed(0.0)
                .evaluate(&panel, scale::EFFECT_WEEKS)
                .expect("values");
            let weekly = estimators::weekly_effects(&values, &Design::default()).expect("effects");
            group.bench_function("simultaneous band, 78 weeks, 100k draws", |b| {
                b.iter(|| estimators::simultaneous_band(&values, &weekly, &BandSpec::default()))
            });
        }
        if n == 100_000 {
            let values = Outcome::employed(0.0)
                .evaluate(&panel, scale::EFFECT_WEEKS)
                .expect("values");
            let options = RandomisationSpec::default();
            group.bench_function("randomisation test, 1,000 draws", |b| {
                b.iter(|| estimators::randomisation_test(&values, &Design::default(), &options))
            });
            let trial = simulate::simulate(&scale::config(n)).expect("trial");
            let persons =
                Persons::from_frame(trial.persons.clone(), "persons", &simulate::person_spec())
                    .expect("persons");
            let codes = simulate::code_table().expect("codes");
            group.bench_function(
                BenchmarkId::new("align long register frame", trial.register.height()),
                |b| b.iter(|| align(&persons, &codes, trial.register.clone())),
            );
        }
        if n == 1_000_000 {
            let df = long_frame(&panel);
            group.bench_function("polars group-by baseline, five outcomes", |b| {
                b.iter(|| black_box(polars_weekly(&df)))
            });
        }
        group.finish();
    }
}

fn align(persons: &Persons, codes: &CodeTable, register: DataFrame) -> Panel {
    Panel::builder(persons, codes)
        .event_weeks(*scale::EVENT_WEEKS.start(), *scale::EVENT_WEEKS.end())
        .long_frame(register, "register", &LongColumns::default())
        .expect("panel")
}

/// The 1M-person register written as Parquet (once; reused while the file
/// exists), and the time to build the panel from it.
fn bench_parquet(c: &mut Criterion) {
    if !sizes().contains(&1_000_000) {
        return;
    }
    let config = scale::config(1_000_000);
    let dir: PathBuf = std::env::temp_dir().join("trialpanel-bench-1M");
    if !dir.join("register_long.parquet").exists() {
        simulate::write_register(&config, &dir, scale::ROW_GROUP_PERSONS).expect("write register");
    }
    let persons =
        Persons::read(dir.join("persons.csv"), &simulate::person_spec()).expect("persons");
    let codes = CodeTable::read(dir.join("codes.csv")).expect("codes");
    let mut group = c.benchmark_group("register 1M");
    group.sample_size(10).warm_up_time(Duration::from_secs(1));
    group.bench_function("build panel from long Parquet", |b| {
        b.iter(|| {
            Panel::builder(&persons, &codes)
                .event_weeks(*scale::EVENT_WEEKS.start(), *scale::EVENT_WEEKS.end())
                .long_file(dir.join("register_long.parquet"), &LongColumns::default())
                .expect("panel")
        })
    });
    group.finish();
}

criterion_group!(benches, bench_sizes, bench_parquet);
criterion_main!(benches);
