//! # trialpanel
//!
//! Weekly registers of a randomised employment trial → the numbers an
//! evaluation report stands on.
//!
//! Analysts of labour-market trials (JobFirst, Jobrettet Samtale and the
//! like) start from three inputs:
//!
//! * a **person table**: who was randomised, to which arm, in which week
//!   (the *referral week*) and where (the block, e.g. the municipality);
//! * a **weekly register** of the DREAM type: one benefit code and the
//!   ordinary hours worked per person and calendar week, in long form
//!   (`person_id, week, code, hours`) or DREAM-wide form (`y_YYWW` columns);
//! * a **code table** mapping each benefit code to a category such as work
//!   placement or wage subsidy;
//!
//! and, for the delivery half, a case-management event log, a staff survey
//! and unit costs. trialpanel validates them and aligns every person's weeks
//! on the week they were drawn: a [`Panel`] of event weeks k = calendar
//! week − referral week, censored at the end of the register. Everything
//! downstream works on that panel. The guide (`docs/guide/` in the
//! repository) says how to use it; `docs/methods.md` gives every formula.
//!
//! ## The whole analysis from one file
//!
//! An analysis file (TOML) names the inputs, the design, the outcomes, the
//! balance covariates, the delivery measures and the output directory;
//! [`analysis::Analysis`] plans it ([`analysis::Plan`]), runs it and writes
//! the outputs listed by [`report::Output`]. The `trialpanel run
//! <analysis.toml>` command does the same.
//!
//! ```no_run
//! let analysis = trialpanel::analysis::Analysis::from_file("data-samples/jobfirst/analysis.toml")?;
//! let results = analysis.run()?;
//! results.write(analysis.output_dir())?;
//! # Ok::<(), trialpanel::Error>(())
//! ```
//!
//! ## The pieces by hand
//!
//! Weekly effects of the treatment on employment (any ordinary hours), with
//! 95% Welch confidence intervals, over event weeks 0–44:
//!
//! ```no_run
//! use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons};
//!
//! let persons = Persons::read(
//!     "data-samples/jobfirst/persons.csv",
//!     &PersonSpec::default().block_column("municipality"),
//! )?;
//! let codes = CodeTable::read("data-samples/jobfirst/codes.csv")?;
//! let panel = Panel::builder(&persons, &codes)
//!     .long_file("data-samples/jobfirst/register_long.parquet", &LongColumns::default())?;
//!
//! let employed = Outcome::employed(0.0).evaluate(&panel, 0..=44)?;
//! let weekly = trialpanel::weekly_effects(&employed, &Design::default())?;
//! for r in &weekly.rows {
//!     let e = &r.estimate;
//!     println!(
//!         "week {:>2}: n = {}/{}, effect {:?}, 95% CI {:?} to {:?}",
//!         r.week, e.n_treat, e.n_control, e.effect, e.ci_low, e.ci_high
//!     );
//! }
//! trialpanel::estimators::write_effects_csv(&[weekly], "effects.csv")?;
//! # Ok::<(), trialpanel::Error>(())
//! ```
//!
//! Undefined numbers (an sd with one person, a CI when both arms are
//! constant) are `None` and empty cells in CSV, never a made-up value.
//! Settings are checked once, when they are made ([`stats::Level`],
//! [`estimators::BandSpec::new`], an analysis file when it is read), so an
//! estimator never meets an impossible one.
//!
//! ## The layers
//!
//! Each module is a layer, and each imports only those below it:
//!
//! * [`inputs`]: the person table ([`Persons`], [`PersonSpec`]), the code
//!   table ([`CodeTable`]), the register's columns ([`LongColumns`],
//!   [`WideColumns`]), the event log ([`inputs::EventLog`]) and the staff
//!   survey ([`inputs::Survey`]), from CSV, Parquet or a polars frame;
//! * [`panel`]: the aligned [`Panel`], built by [`PanelBuilder`] from a
//!   register read in parallel batches, with persons at risk ([`AtRisk`]);
//! * [`outcome`]: what is measured per person and week ([`Outcome`],
//!   evaluated into [`OutcomeValues`]), the activity spell ([`SpellRule`]),
//!   exact weekly sums of many outcomes in one scan
//!   ([`outcome::WeeklySums`]);
//! * [`estimators`]: one function per estimate, each returning a tidy
//!   table whose rows carry the same [`Estimate`] columns;
//! * [`analysis`]: the analysis file ([`analysis::AnalysisConfig`]), the
//!   plan and the run, and the [`analysis::Results`];
//! * [`report`]: report.md, report.html and the SVG figures of the results,
//!   and writing every output;
//! * underneath: [`stats`] (the pure statistics), [`table`] (the [`Table`]
//!   trait of every result table), [`Week`], [`Error`];
//! * beside: [`simulate`], a seeded simulator of DREAM-style trials (the
//!   bundled sample and the benchmarks come from it).
//!
//! ## The public API at a glance
//!
//! | step | names |
//! |---|---|
//! | inputs | [`Persons`], [`PersonSpec`], [`Arm`], [`CodeTable`], [`Category`], [`LongColumns`], [`WideColumns`]; [`inputs::EventLog`], [`inputs::EventSpec`]; [`inputs::Survey`], [`inputs::SurveySpec`] |
//! | panel | [`Panel`], [`PanelBuilder`], [`AtRisk`], [`LoadReport`], [`LoadProgress`] |
//! | outcomes | [`Outcome`], [`OutcomeValues`], [`History`], [`SpellRule`]; [`outcome::completions`]; [`outcome::WeeklySums`] |
//! | weekly effects | [`weekly_effects`], [`estimators::weekly_effects_from_sums`], [`Design`], [`WeeklyEffects`], [`Estimator`]; [`estimators::simultaneous_band`], [`estimators::BandSpec`]; [`estimators::randomisation_test`], [`estimators::RandomisationSpec`]; [`estimators::site_effects`], [`estimators::subgroup_effects`] |
//! | adjustment | [`lin_effects`], [`Adjustment`] |
//! | spell and balance | [`estimators::time_to_spell`]; [`estimators::balance`], [`estimators::BalanceSpec`], [`estimators::HistoryCovariate`]; [`estimators::hours_among_working`], [`estimators::hours_distribution`] |
//! | many outcomes | [`estimators::family_test`], [`estimators::FamilyTest`]; [`stats::westfall_young`] |
//! | process and fidelity | [`estimators::Indicator`] (`judge`), [`estimators::judge_all`], [`estimators::ProcessTable`]; [`estimators::fidelity`], [`estimators::Fidelity`]; [`estimators::SiteMeasure`], [`estimators::correlate`] |
//! | cost | [`estimators::CostSpec`], [`estimators::person_costs`], [`estimators::CostEffects`]; [`stats::fieller`] |
//! | planning | [`estimators::minimum_detectable_effects`], [`estimators::PlanSpec`], [`estimators::history_sd`]; [`stats::mde`] |
//! | results | [`Estimate`] (the columns of every table), [`Variance`], [`stats::Level`], [`Table`] (`to_frame`, `write_csv`), [`analysis::Results`] |
//! | pipeline | [`analysis::Analysis`], [`analysis::AnalysisConfig`], [`analysis::Plan`], [`report::Output`] |
//! | plain statistics | [`stats::difference_in_means`], [`stats::blocked_difference_in_means`], [`stats::clustered_difference_in_means`], [`stats::blocked_clustered_difference_in_means`], [`stats::holm`], [`stats::benjamini_hochberg`], [`stats::pearson_chi_square`], [`stats::cochran_q`], [`stats::kaplan_meier`], [`stats::log_rank`], [`stats::wilson`], [`stats::newcombe`], [`stats::correlation`] |
//! | errors | [`Error`] (with [`Error::kind`], [`ErrorKind`]), [`Result`], [`WeekError`] |
//!
//! ## Naming
//!
//! Settings of a library computation end in `Spec` ([`PersonSpec`],
//! [`estimators::BalanceSpec`], [`estimators::BandSpec`],
//! [`estimators::RandomisationSpec`], [`simulate::TrialSpec`],
//! [`estimators::PlanSpec`], [`inputs::SurveySpec`],
//! [`estimators::CostSpec`], [`estimators::CorrelationSpec`]); the analysis
//! file's tables end in `Config` ([`analysis::AnalysisConfig`] and one type
//! per table). Three domain nouns keep their names: [`Design`] (the
//! randomisation design, as in estimatr), [`SpellRule`] and the column maps
//! [`LongColumns`] and [`WideColumns`].

#![warn(missing_docs)]

/// The README's and the guide's Rust examples, compiled by `cargo test` so
/// that the documents cannot drift from the API.
#[cfg(doctest)]
mod guide {
    #[doc = include_str!("../README.md")]
    struct Readme;
    #[doc = include_str!("../docs/guide/01-running.md")]
    struct Running;
    #[doc = include_str!("../docs/guide/02-analysis-files.md")]
    struct AnalysisFiles;
    #[doc = include_str!("../docs/guide/03-inputs.md")]
    struct Inputs;
    #[doc = include_str!("../docs/guide/04-outcomes-and-effects.md")]
    struct OutcomesAndEffects;
    #[doc = include_str!("../docs/guide/05-clusters-and-adjustment.md")]
    struct ClustersAndAdjustment;
    #[doc = include_str!("../docs/guide/06-fidelity-and-cost.md")]
    struct FidelityAndCost;
    #[doc = include_str!("../docs/guide/07-large-registers.md")]
    struct LargeRegisters;
    #[doc = include_str!("../docs/guide/08-bad-input.md")]
    struct BadInput;
    #[doc = include_str!("../docs/guide/09-library.md")]
    struct Library;
    #[doc = include_str!("../docs/guide/10-architecture.md")]
    struct Architecture;
}

pub mod analysis;
mod config;
mod error;
pub mod estimators;
mod excerpt;
pub mod inputs;
pub mod outcome;
pub mod panel;
pub mod progress;
pub mod report;
mod results;
mod rng;
pub mod simulate;
pub mod stats;
pub mod table;
mod weeks;
mod write;

pub use error::{Error, ErrorKind, Result};
pub use estimators::{Adjustment, Design, Estimator, WeeklyEffects, lin_effects, weekly_effects};
pub use inputs::{
    Arm, Category, CodeTable, Covariate, CovariateValues, Groups, LoadProgress, LongColumns,
    PersonSpec, Persons, WideColumns,
};
pub use outcome::{CustomFn, History, Outcome, OutcomeValues, SpellRule};
pub use panel::{
    AtRisk, DEFAULT_HISTORY_WEEKS, DEFAULT_MAX_UNKNOWN_SHARE, Group, HOURS_SCALE, LoadReport,
    MAX_HOURS, Panel, PanelBuilder,
};
pub use stats::{Estimate, Variance};
pub use table::Table;
pub use weeks::{Week, WeekError};
