//! The estimators: one function per estimate, taking an outcome's values
//! (or exact sums, or the panel) and the design, returning a tidy table.

mod balance;
mod band;
mod cost;
mod descriptives;
mod design;
mod families;
mod fidelity;
mod groups;
mod lin;
mod mde;
mod process;
mod randomisation;
mod sites;
mod spell;
mod weekly;

pub use balance::{
    Balance, BalanceRow, BalanceSpec, HistoryCovariate, JointTest, MAX_LEVELS, balance,
};
pub use band::{BandSpec, MAX_BAND_DRAWS, simultaneous_band, weekly_covariance};
pub use cost::{CostEffects, CostPer, CostSpec, PersonCosts, Priced, Quadrant, person_costs};
pub use descriptives::{
    DEFAULT_HOURS_BUCKETS, HoursAt, HoursDistribution, hours_among_working, hours_distribution,
};
pub use design::Design;
pub use families::{FamilyMember, FamilyTest, MAX_MEMBERS, family_test};
pub use fidelity::{Fidelity, FidelityChange, FidelityLevel, FidelityRow, ResponseRate, fidelity};
pub use groups::{
    GroupEffect, GroupEffects, Heterogeneity, Interaction, site_effects, subgroup_effects,
};
pub use lin::{Adjustment, lin_effects};
pub use mde::{Mde, MdeRow, PlanSpec, history_sd, minimum_detectable_effects};
pub use process::{
    ALL_SITES, After, Every, InactiveRun, Indicator, MAX_RULE_WEEKS, ProcessCounts, ProcessRow,
    ProcessTable, Units, Within, inactive_run, judge_all,
};
pub use randomisation::{
    MAX_RANDOMISATION_DRAWS, RandomisationSpec, RandomisationTest, randomisation_test,
};
pub use sites::{
    CorrelationSpec, CorrelationTable, SiteCorrelation, SiteMeasure, Sources, correlate,
};
pub use spell::{IncidenceDifference, TimeToSpell, time_to_spell};
pub use weekly::{
    Band, Estimator, Significance, SignificantWeeks, WeekEffect, WeeklyEffects, effects_frame,
    weekly_effects, weekly_effects_from_sums, write_effects_csv,
};

pub(crate) use balance::{balance_of, history_values, person_covariates};
pub(crate) use band::band;
pub(crate) use families::{FamilyPart, combine};
pub(crate) use randomisation::{randomisation, redraw};
pub(crate) use spell::time_to_spell_of;
