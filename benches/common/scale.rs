//! The register-scale scenario of the benchmarks (`benches/register.rs`)
//! and the `large_register` example, so that both measure the same work.
//! Included by both with `#[path]`; not part of the library.

use std::ops::RangeInclusive;

use trialpanel::estimators::{BalanceSpec, HistoryCovariate};
use trialpanel::simulate::TrialSpec;
use trialpanel::{Outcome, SpellRule};

/// Event weeks of the panel: 26 weeks of history and 78 of follow-up,
/// 104 in all.
pub const EVENT_WEEKS: RangeInclusive<i32> = -26..=77;

/// Weeks of the weekly effects: referral to the end of the panel.
pub const EFFECT_WEEKS: RangeInclusive<i32> = 0..=77;

/// Persons per Parquet row group of the scenario's register files
/// (`simulate::write_register`): about 1.3M rows, near
/// pyarrow's default of 1Mi rows. A row group is decoded whole, so its
/// size bounds the reader's buffers.
pub const ROW_GROUP_PERSONS: usize = 8_192;

/// `persons` persons in 98 municipalities, referred over 26 weeks; the
/// register runs from 26 weeks before the first referral to 90 weeks
/// after it, so persons referred late are censored from event week 64.
pub fn config(persons: usize) -> TrialSpec {
    TrialSpec {
        persons,
        blocks: 98,
        referral_span: 26,
        follow_up: 90,
        history: 26,
        ..TrialSpec::default()
    }
}

/// The five outcomes estimated at once: work placement, any benefit,
/// hours, employed, and cumulative weeks employed.
pub fn outcomes() -> Vec<Outcome> {
    vec![
        Outcome::work_placement(),
        Outcome::any_benefit(),
        Outcome::hours(),
        Outcome::employed(0.0),
        Outcome::employed(0.0).cumulative(),
    ]
}

/// The spell rule: the methods default (13 active weeks, gaps up to 4).
pub fn spell_rule() -> SpellRule {
    SpellRule::default()
}

/// Ten balance covariates: the four of the person table and six
/// register histories (weeks on benefit, weeks employed and hours over
/// the 13 and 26 weeks before referral).
pub fn balance_spec() -> BalanceSpec {
    [13, 26]
        .into_iter()
        .flat_map(|w| {
            [
                HistoryCovariate::weeks_on_benefit(w),
                HistoryCovariate::weeks_employed(w),
                HistoryCovariate::hours(w),
            ]
        })
        .fold(
            BalanceSpec::default().covariates(&["age", "female", "education", "children"]),
            BalanceSpec::history,
        )
}
