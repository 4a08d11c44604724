//! Property tests (issue 8): on random small trials from the simulator, no
//! result depends on the order of the person table or the register rows, on
//! the register's form (long or DREAM-wide) or on the number of threads;
//! swapping the arm labels flips every effect; a person with no register
//! rows changes only what it should.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use trialpanel::estimators::{self, Balance, BalanceSpec, HistoryCovariate};
use trialpanel::estimators::{TimeToSpell, time_to_spell};
use trialpanel::outcome::completions;
use trialpanel::simulate::{TrialSpec, simulate};
use trialpanel::stats::Level;
use trialpanel::{
    CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons, SpellRule, WeeklyEffects,
    WideColumns,
};

/// Everything compared between runs.
#[derive(Debug, PartialEq)]
struct Summary {
    at_risk: Vec<trialpanel::AtRisk>,
    effects: Vec<WeeklyEffects>,
    km: TimeToSpell,
    balance: Balance,
}

#[derive(Clone, Copy)]
enum Register<'a> {
    Long(&'a str),
    Wide(&'a str),
}

fn summary(dir: &Path, persons_file: &str, register: Register<'_>) -> Summary {
    summary_with(dir, persons_file, register, Design::default().blocked(true))
}

/// [`summary`] with the effects of `design`.
fn summary_with(dir: &Path, persons_file: &str, register: Register<'_>, design: Design) -> Summary {
    let persons = Persons::read(
        dir.join(persons_file),
        &PersonSpec::default()
            .block_column("municipality")
            .covariate_columns(&["age", "female", "education"]),
    )
    .expect("persons");
    let codes = CodeTable::read(dir.join("codes.csv")).expect("codes");
    let builder = Panel::builder(&persons, &codes);
    let panel = match register {
        Register::Long(f) => builder.long_file(dir.join(f), &LongColumns::default()),
        Register::Wide(f) => builder.wide_file(
            dir.join(f),
            &WideColumns {
                hours_prefix: Some("h_".into()),
                ..WideColumns::default()
            },
        ),
    }
    .expect("panel");
    let weeks = 0..=12;
    let effects = [
        Outcome::employed(0.0),
        Outcome::hours(),
        Outcome::work_placement(),
        Outcome::hours().cumulative(),
        Outcome::spell(SpellRule::default().min_weeks(4).max_gap(1)),
    ]
    .iter()
    .map(|o| {
        let values = o.evaluate(&panel, weeks.clone()).expect("values");
        trialpanel::weekly_effects(&values, &design).expect("effects")
    })
    .collect();
    let done = completions(&panel, &SpellRule::default().min_weeks(4).max_gap(1)).expect("spells");
    Summary {
        at_risk: panel.at_risk_all(),
        effects,
        km: time_to_spell(&done, Level::default()).expect("km"),
        balance: estimators::balance(
            &panel,
            &BalanceSpec::default().history(HistoryCovariate::weeks_employed(6)),
        )
        .expect("balance"),
    }
}

/// A simulated trial written to a fresh directory.
fn trial_dir(seed: u64, persons: usize) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("properties")
        .join(format!("{seed:016x}-{persons}"));
    let trial = simulate(&TrialSpec {
        seed,
        persons,
        blocks: 3,
        referral_span: 8,
        follow_up: 20,
        history: 8,
        ..TrialSpec::default()
    })
    .expect("simulation");
    trial.write(&dir, true).expect("files");
    dir
}

/// Shuffle the data lines of a CSV file (the header stays first).
fn shuffled(dir: &Path, file: &str, seed: u64) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let header = lines.remove(0);
    let mut state = seed | 1;
    for i in (1..lines.len()).rev() {
        // xorshift64*: a reproducible permutation from the seed.
        state ^= state >> 12;
        state ^= state << 25;
        state ^= state >> 27;
        let j = (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % (i as u64 + 1)) as usize;
        lines.swap(i, j);
    }
    let name = format!("shuffled_{file}");
    std::fs::write(dir.join(&name), format!("{header}\n{}\n", lines.join("\n"))).unwrap();
    name
}

fn edit(dir: &Path, file: &str, name: &str, f: impl FnOnce(&str) -> String) -> String {
    let text = std::fs::read_to_string(dir.join(file)).unwrap();
    std::fs::write(dir.join(name), f(&text)).unwrap();
    name.to_string()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn order_form_and_threads_change_nothing(
        seed in any::<u64>(),
        persons in 30usize..120,
        order in any::<u64>(),
        threads in 1usize..4,
    ) {
        let dir = trial_dir(seed, persons);
        let base = summary(&dir, "persons.csv", Register::Long("register_long.csv"));
        let p = shuffled(&dir, "persons.csv", order);
        let r = shuffled(&dir, "register_long.csv", order.rotate_left(17));
        prop_assert_eq!(&summary(&dir, &p, Register::Long(&r)), &base);
        prop_assert_eq!(&summary(&dir, "persons.csv", Register::Wide("register_wide.csv")), &base);
        let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
        let in_pool = pool.install(|| summary(&dir, &p, Register::Long("register_long.csv")));
        prop_assert_eq!(&in_pool, &base);
    }

    #[test]
    fn swapping_the_arm_labels_flips_every_effect(seed in any::<u64>(), persons in 30usize..120) {
        let dir = trial_dir(seed, persons);
        let base = summary(&dir, "persons.csv", Register::Long("register_long.csv"));
        let swapped = edit(&dir, "persons.csv", "swapped.csv", |t| {
            t.replace(",treatment,", ",TMP,").replace(",control,", ",treatment,").replace(",TMP,", ",control,")
        });
        let flipped = summary(&dir, &swapped, Register::Long("register_long.csv"));
        for (a, b) in base.effects.iter().zip(&flipped.effects) {
            for (x, y) in a.rows.iter().zip(&b.rows) {
                let (x, y) = (&x.estimate, &y.estimate);
                prop_assert_eq!((x.n_treat, x.n_control), (y.n_control, y.n_treat));
                prop_assert_eq!(x.effect.map(|e| -e), y.effect);
                prop_assert_eq!(x.se, y.se);
                prop_assert_eq!(x.ci_low.map(|e| -e), y.ci_high);
                prop_assert_eq!(x.p_value, y.p_value);
            }
        }
        prop_assert_eq!(base.km.curves[0].clone(), flipped.km.curves[1].clone());
    }

    #[test]
    fn a_person_without_register_rows_only_adds_to_its_arm(seed in any::<u64>(), persons in 30usize..120) {
        let dir = trial_dir(seed, persons);
        // Unblocked: a blocked design's means are block-weighted, and a new
        // person moves the weights of every block.
        let plain = Design::default();
        let base = summary_with(&dir, "persons.csv", Register::Long("register_long.csv"), plain);
        // A treated person referred in the same week as the first person.
        let extra = edit(&dir, "persons.csv", "extra.csv", |t| {
            let first = t.lines().nth(1).unwrap();
            let referral = first.split(',').nth(2).unwrap();
            format!("{t}ZZZ,treatment,{referral},Kommune A,40,1,\n")
        });
        let more = summary_with(&dir, &extra, Register::Long("register_long.csv"), plain);
        for (a, b) in base.at_risk.iter().zip(&more.at_risk) {
            prop_assert_eq!(a.control, b.control);
            prop_assert!(b.treatment == a.treatment || b.treatment == a.treatment + 1);
        }
        let employed = (&base.effects[0], &more.effects[0]);
        for (x, y) in employed.0.rows.iter().zip(&employed.1.rows) {
            let (x, y) = (&x.estimate, &y.estimate);
            prop_assert_eq!(x.n_control, y.n_control);
            prop_assert_eq!(x.mean_control, y.mean_control);
            prop_assert_eq!(x.sd_control, y.sd_control);
            if y.n_treat == x.n_treat + 1 {
                // The new person is 0 (no hours): the treated sum is unchanged.
                let sum = |e: &trialpanel::Estimate| e.mean_treat.unwrap() * e.n_treat as f64;
                prop_assert!((sum(x) - sum(y)).abs() < 1e-9);
            } else {
                prop_assert_eq!(x, y);
            }
        }
    }
}
