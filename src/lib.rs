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
//!   placement or wage subsidy.
//!
//! trialpanel validates them and aligns every person's weeks on the week
//! they were drawn: a [`Panel`] of event weeks k = calendar week − referral
//! week, censored at the end of the register (late referrals are followed
//! for fewer weeks). Everything downstream works on that panel.
//!
//! ## The whole analysis from one file
//!
//! An analysis file (TOML) names the inputs, the design, the outcomes, the
//! balance covariates and the output directory; [`analysis::Analysis`] runs
//! it and writes `effects.csv`, `balance.csv`, `spell_km.csv`,
//! `results.json`, `report.md` and SVG figures. The `trialpanel run
//! <analysis.toml>` command does the same.
//!
//! ```no_run
//! let analysis = trialpanel::analysis::Analysis::from_file("data-samples/jobfirst/analysis.toml")?;
//! let results = analysis.run()?;
//! results.write(analysis.output_dir())?;
//! # Ok::<(), trialpanel::Error>(())
//! ```
//!
//! ## Example: the pieces by hand
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
//!
//! ## A short tour
//!
//! 1. **Inputs.** [`Persons::read`] takes the person table (id, arm, referral
//!    week, optional block and covariates, configured by [`PersonSpec`]);
//!    [`CodeTable::read`] the code → category table; the register is read
//!    by [`PanelBuilder::long_file`] or [`PanelBuilder::wide_file`]. Every
//!    problem in the files is an [`Error`] naming file, row, column and value.
//! 2. **Panel.** [`Panel`] holds category and hours per person and event week;
//!    [`Panel::at_risk`] counts who is followed at each week.
//! 3. **Outcomes.** An [`Outcome`] (in-state shares, hours, employed,
//!    cumulative sums, the activity spell indicator, or your own closure)
//!    evaluated on the panel gives
//!    [`OutcomeValues`]: a weeks × persons matrix with missing values where a
//!    person is not followed.
//! 4. **Effects.** [`weekly_effects`] compares the arms week by week under a
//!    [`Design`] (blocked or not, level, Welch or pooled variance; CR2 when
//!    the person table has clusters); then
//!    [`effects::simultaneous_band`], [`effects::randomisation_test`],
//!    [`effects::subgroup_effects`] and [`effects::site_effects`];
//!    [`lin_effects`] adjusts for baseline covariates. Every
//!    table has the same [`Estimate`] columns ([`table::ESTIMATE_COLUMNS`]).
//! 5. **Balance.** [`balance::balance`] tests every baseline and
//!    register-history covariate and the joint F-test.
//! 6. **Output.** Every result table implements [`Table`]: a polars
//!    DataFrame (`to_frame`) or a CSV file (`write_csv`);
//!    [`report::markdown`] and [`report::figures`] render a whole
//!    [`analysis::Results`] as report.md and SVG.
//!
//! ## The public API at a glance
//!
//! | step | names |
//! |---|---|
//! | inputs | [`Persons`], [`PersonSpec`], [`Arm`], [`CodeTable`], [`Category`], [`LongColumns`], [`WideColumns`] |
//! | panel | [`Panel`], [`PanelBuilder`], [`AtRisk`], [`LoadReport`], [`LoadProgress`] |
//! | outcomes | [`Outcome`], [`OutcomeValues`], [`SpellRule`] |
//! | estimators | [`weekly_effects`], [`Design`], [`WeeklyEffects`], [`Estimator`]; [`lin_effects`], [`Adjustment`]; [`effects::simultaneous_band`], [`effects::randomisation_test`], [`effects::subgroup_effects`], [`effects::site_effects`]; [`sums::WeeklySums`]; [`spell::completions`], [`spell::time_to_spell`]; [`balance::balance`]; [`descriptives::HoursAt`] |
//! | results | [`Estimate`] (the columns of every table), [`Variance`], [`Table`] (`to_frame`, `write_csv`), [`analysis::Results`] |
//! | pipeline | [`analysis::Analysis`], [`analysis::AnalysisConfig`] |
//! | many outcomes | [`families::family_test`], [`families::FamilyTest`]; [`stats::westfall_young`] |
//! | process and fidelity | [`events::EventLog`], [`events::EventColumns`]; [`process::Indicator`] (`judge`), [`process::judge_all`], [`process::ProcessTable`]; [`survey::Survey`], [`survey::SurveySpec`], [`survey::Fidelity`]; [`sites::SiteMeasure`], [`sites::correlate`]; [`stats::wilson`], [`stats::ratio_share`], [`stats::newcombe`], [`stats::mover`], [`stats::Thresholds`], [`stats::correlation`] |
//! | cost | [`cost::CostSpec`], [`cost::person_costs`], [`cost::CostEffects`]; [`stats::fieller`] |
//! | planning | [`plan::minimum_detectable_effects`], [`plan::PlanSpec`], [`plan::history_sd`]; [`stats::mde`] |
//! | plain statistics | [`stats::difference_in_means`], [`stats::blocked_difference_in_means`], [`stats::clustered_difference_in_means`], [`stats::blocked_clustered_difference_in_means`], [`stats::holm`], [`stats::benjamini_hochberg`], [`stats::pearson_chi_square`], [`stats::cochran_q`], [`stats::kaplan_meier`], [`stats::log_rank`] |
//! | errors | [`Error`], [`Result`] |
//!
//! ## Naming
//!
//! Settings of a library computation end in `Spec` ([`PersonSpec`],
//! [`balance::BalanceSpec`], [`effects::BandSpec`],
//! [`effects::RandomisationSpec`], [`simulate::TrialSpec`], [`plan::PlanSpec`],
//! [`survey::SurveySpec`], [`cost::CostSpec`], [`sites::CorrelationSpec`]); the analysis
//! file's tables end in `Config` ([`analysis::AnalysisConfig`] and one type
//! per table: [`analysis::InputsConfig`], [`analysis::WeeksConfig`],
//! [`analysis::DesignConfig`], [`analysis::FamilyConfig`],
//! [`analysis::OutcomeConfig`], [`analysis::BalanceConfig`],
//! [`analysis::HistoryConfig`], [`analysis::ReportConfig`]). Three domain
//! nouns keep their names: [`Design`] (the randomisation design, as in
//! estimatr), [`SpellRule`] and the column maps [`LongColumns`] and
//! [`WideColumns`].
//!
//! ## Modules
//!
//! * the root: the inputs ([`Persons`], [`codes`], the register readers on
//!   [`PanelBuilder`]), ISO weeks ([`Week`]), the aligned [`Panel`] and
//!   [`Outcome`]s, each documented on its type;
//! * [`codes`]: the code table and the built-in category names;
//! * [`descriptives`]: hours among those working and their distribution;
//! * [`effects`]: weekly effects, band, randomisation inference, subgroups
//!   and sites;
//! * [`spell`]: the 13-week activity spell indicator with gap tolerance,
//!   and the Kaplan–Meier time to a completed spell;
//! * [`balance`]: balance tests of the randomisation;
//! * [`sums`]: exact weekly sums of the built-in outcomes, one scan for
//!   many outcomes, merged across chunks of persons (registers larger than
//!   memory);
//! * [`stats`]: the small pure statistics underneath (moments, Welch,
//!   blocked estimator, Holm/BH, chi-square, Cochran's Q);
//! * [`analysis`]: the analysis file and the whole pipeline (`trialpanel run`);
//! * [`table`]: the [`Table`] trait of every result table, the shared
//!   estimate columns and CSV;
//! * [`report`]: report.md and SVG figures;
//! * [`simulate`]: a seeded simulator of DREAM-style trials (the bundled
//!   sample comes from it);
//! * [`Error`]: the one error type.

#![warn(missing_docs)]

/// The README's Rust examples, compiled by `cargo test` so that the guide
/// cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

pub mod analysis;
mod config;
mod error;
pub mod estimators;
mod excerpt;
pub mod inputs;
pub mod outcome;
pub mod panel;
pub mod report;
mod results;
mod rng;
pub mod simulate;
pub mod stats;
pub mod table;
mod weeks;

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
