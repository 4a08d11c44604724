//! The analysis file: its settings, one type per TOML table, read and
//! checked once ([`AnalysisConfig::from_toml`], [`AnalysisConfig::check`])
//! before any data are read; the results record them and the pipeline
//! ([`crate::analysis`], which re-exports them) plans from them.

mod check;
mod outcome;
mod toml;

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

pub use outcome::{OutcomeConfig, OutcomeKind, Unit};

use crate::error::{Error, Result};
use crate::estimators::{
    BalanceSpec, BandSpec, CorrelationSpec, CostSpec, DEFAULT_HOURS_BUCKETS, Design,
    HistoryCovariate, Indicator, Priced, RandomisationSpec,
};
use crate::inputs::{EventSpec, LongColumns, PersonSpec, SurveySpec, WideColumns};
use crate::outcome::Outcome;
use crate::stats::{Level, Thresholds, Variance};
use crate::weeks::Week;

/// A whole analysis, as written in an analysis file (TOML): what to read,
/// how the trial was designed, what to estimate and where to write it.
///
/// Every table and key is described on this type and the types of its
/// fields; the bundled `data-samples/jobfirst/analysis.toml` uses most of
/// them. Unknown keys are errors (a misspelt key would otherwise silently
/// fall back to a default).
///
/// ```toml
/// title = "JobFirst (synthetic sample)"
/// output = "output"                  # relative to the analysis file
///
/// [inputs]
/// persons = "persons.csv"            # CSV or Parquet, relative to the file
/// codes = "codes.csv"
/// register = "register_long.parquet"
/// form = "long"                      # or "wide" (DREAM)
/// observed_until = "2017-W02"        # the extract week; default: last week present
///
/// [persons]                          # columns of the person table (PersonSpec)
/// block = "municipality"
///
/// [weeks]
/// first = 0
/// last = 44
/// snapshot = [13, 26, 35, 44]
///
/// [[outcomes]]
/// kind = "employed"
/// band = true
///
/// [[outcomes]]
/// kind = "spell"
/// rule = { min_weeks = 13, max_gap = 4 }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnalysisConfig {
    /// Title of the report. Default: "Trial report".
    #[serde(default = "default_title")]
    pub title: String,
    /// Output directory, relative to the analysis file. Default `output`.
    #[serde(default = "default_output")]
    pub output: PathBuf,
    /// `[inputs]`: the files and how to read them.
    pub inputs: InputsConfig,
    /// `[persons]`: person-table columns and arm labels ([`PersonSpec`]).
    #[serde(default)]
    pub persons: PersonSpec,
    /// `[long]`: long-register columns ([`LongColumns`]); only with
    /// `form = "long"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub long: Option<LongColumns>,
    /// `[wide]`: DREAM-wide column prefixes ([`WideColumns`]); only with
    /// `form = "wide"`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wide: Option<WideColumns>,
    /// `[weeks]`: the event weeks estimated and shown.
    #[serde(default)]
    pub weeks: WeeksConfig,
    /// `[design]`: blocked or not, level, variance and covariate
    /// adjustment.
    #[serde(default)]
    pub design: DesignConfig,
    /// `[band]`: simultaneous-band draws and seed ([`BandSpec`]).
    #[serde(default)]
    pub band: BandSpec,
    /// `[randomisation]`: randomisation-test draws and seed
    /// ([`RandomisationSpec`]).
    #[serde(default)]
    pub randomisation: RandomisationSpec,
    /// `[[outcomes]]`: one table per outcome, in report order.
    pub outcomes: Vec<OutcomeConfig>,
    /// `[balance]`: covariates of the balance table.
    #[serde(default)]
    pub balance: BalanceConfig,
    /// `[report]`: descriptives and figures.
    #[serde(default)]
    pub report: ReportConfig,
    /// `[[families]]`: named families of (outcome, week) hypotheses with
    /// family-wise error control. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub families: Vec<FamilyConfig>,
    /// `[[process]]`: process indicators ([`Indicator`], tagged by `rule`:
    /// `inactive`, `within`, `every`, `after`): per site and arm the share
    /// meeting each, in `process.csv` and the report. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub process: Vec<Indicator>,
    /// `[events]`: columns of the event log ([`EventSpec`]).
    #[serde(default)]
    pub events: EventSpec,
    /// `[survey]`: columns, answer scale and elements of the staff survey
    /// ([`SurveySpec`]); with `[inputs] survey`. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<SurveySpec>,
    /// `[cost]`: the cost per effect ([`CostSpec`]); needs a
    /// `cost_per_week` column in the code table. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost: Option<CostSpec>,
    /// `[[correlations]]`: pairs of site measures to correlate across
    /// sites ([`CorrelationSpec`]). Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub correlations: Vec<CorrelationSpec>,
    /// `[bands]`: the traffic-light thresholds of process shares (`high`,
    /// `low`, as shares). Default 0.80 and 0.70.
    #[serde(default)]
    pub bands: Thresholds,
}

/// One `[[families]]` entry: hypotheses a report reads together, tested
/// with Westfall–Young step-down p-values from the `[randomisation]`
/// re-draws (the same re-draws for every outcome) and Holm within the
/// family.
///
/// ```toml
/// [[families]]
/// name = "primary"
/// outcomes = ["employed", "spell"]
/// weeks = [13, 26, 35]
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FamilyConfig {
    /// Family name, as written in `effects.csv`'s `family` column.
    pub name: String,
    /// Outcome names (as in `effects.csv`).
    pub outcomes: Vec<String>,
    /// Event weeks; every outcome contributes each of them.
    pub weeks: Vec<i32>,
}

fn default_title() -> String {
    "Trial report".into()
}

fn default_output() -> PathBuf {
    "output".into()
}

/// `[design]`: how effects are estimated. The clusters come from the
/// person table's cluster column (`[persons] cluster`): with one, every
/// standard error is cluster-robust (methods §9).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DesignConfig {
    /// Randomised within blocks (`[persons] block`): the blocked estimator,
    /// re-draws within blocks. Default `false`.
    pub blocked: bool,
    /// Confidence level, in (0, 1). Default 0.95.
    pub level: Level,
    /// `"welch"` (default) or `"pooled"`.
    pub variance: Variance,
    /// Baseline covariates of the Lin-adjusted estimate written beside the
    /// difference in means: person-table covariates and names of
    /// `[[balance.history]]` covariates (blocks enter as dummies when
    /// `blocked`). Default: none, no adjusted estimate.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub adjust: Vec<String>,
}

impl Default for DesignConfig {
    fn default() -> DesignConfig {
        let d = Design::default();
        DesignConfig {
            blocked: d.blocked,
            level: d.level,
            variance: d.variance,
            adjust: Vec::new(),
        }
    }
}

impl DesignConfig {
    /// The estimators' [`Design`].
    pub fn design(&self) -> Design {
        Design::default()
            .blocked(self.blocked)
            .level(self.level)
            .variance(self.variance)
    }
}

/// `[inputs]`: the three input files (paths relative to the analysis file)
/// and how to align the register.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputsConfig {
    /// Person table (CSV or Parquet).
    pub persons: PathBuf,
    /// Code table (CSV or Parquet; columns `code, category`).
    pub codes: PathBuf,
    /// Weekly register (CSV or Parquet).
    pub register: PathBuf,
    /// `"long"` (default) or `"wide"`.
    #[serde(default)]
    pub form: RegisterForm,
    /// First week the register covers. Default: the first week present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_from: Option<Week>,
    /// Last week the register covers (the extract week). Default: the last
    /// week present.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_until: Option<Week>,
    /// Skip register rows of persons missing from the person table instead
    /// of failing. Default `false`.
    #[serde(default)]
    pub ignore_unknown_persons: bool,
    /// Most share of register rows that `ignore_unknown_persons` may skip
    /// (default 0.05); more is an error, as ids written differently in the
    /// two files would otherwise drop rows silently.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unknown_share: Option<f64>,
    /// Category for codes missing from the code table. Default: none (such
    /// codes are an error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback_category: Option<String>,
    /// Categories whose first week (from referral on) ends a person's
    /// follow-up, such as death and emigration, besides those the code
    /// table's `ends_followup` column marks. Default: none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ends_followup: Vec<String>,
    /// Most memory the panel may take, in gigabytes (10⁹ bytes). Default:
    /// half of the machine's memory. A register whose panel needs more
    /// fails before it is read, saying how much it needs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_budget_gb: Option<f64>,
    /// The event log (CSV or Parquet; columns in `[events]`) of the
    /// event-log process indicators. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub events: Option<PathBuf>,
    /// Staff-survey responses (CSV or Parquet; settings in `[survey]`).
    /// Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub survey: Option<PathBuf>,
    /// Staff invited per site and wave (columns `site`, `wave`,
    /// `invited`), for the survey's response rates. Default: none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invited: Option<PathBuf>,
}

/// Layout of the register file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RegisterForm {
    /// One row per person-week.
    #[default]
    Long,
    /// One row per person, a column per week (DREAM).
    Wide,
}

/// `[weeks]`: which event weeks are estimated and which the report shows.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WeeksConfig {
    /// First event week estimated. Default 0 (the referral week).
    pub first: i32,
    /// Last event week estimated. Default: the longest follow-up.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last: Option<i32>,
    /// Weeks of the report's snapshot tables. Default: 13, 26, 39, 52 up to
    /// the last week.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub snapshot: Option<Vec<i32>>,
    /// "Significant from week k" looks at weeks through this one. Default:
    /// the last snapshot week.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub significant_through: Option<i32>,
}

/// `[balance]`: which covariates the balance table shows.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct BalanceConfig {
    /// Person-table covariates by name. Default: all of them.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub covariates: Option<Vec<String>>,
    /// `[[balance.history]]`: covariates summed from the register before
    /// referral. Default: weeks on benefit, weeks employed and hours in the
    /// 52 weeks before referral; `history = []` for none.
    pub history: Vec<HistoryConfig>,
}

impl Default for BalanceConfig {
    fn default() -> BalanceConfig {
        let history = |outcome: &str| HistoryConfig {
            outcome: outcome.into(),
            weeks: 52,
            name: None,
        };
        BalanceConfig {
            covariates: None,
            history: vec![
                history("any_benefit"),
                history("employed"),
                history("hours"),
            ],
        }
    }
}

/// One `[[balance.history]]` entry: an outcome summed over the `weeks` weeks
/// before referral (event weeks −weeks..=−1).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HistoryConfig {
    /// A built-in outcome kind without parameters (`any_benefit`,
    /// `employed`, `hours`, `work_placement`, `wage_subsidy`,
    /// `self_supporting`) or the name of an `[[outcomes]]` entry that is
    /// neither cumulative nor a spell.
    pub outcome: String,
    /// Length of the window in weeks (≥ 1).
    pub weeks: u32,
    /// Column name. Default: `weeks_on_benefit_52`, `weeks_employed_52`,
    /// `hours_52` for the three standard ones, else `<outcome>_<weeks>`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// `[report]`: descriptives and figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReportConfig {
    /// Week of the hours descriptives (hours among those working, the
    /// distribution of positive hours); shown when an outcome is `hours` or
    /// `employed`. Default: the last snapshot week.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hours_week: Option<i32>,
    /// Upper bounds of the hours buckets. Default 5, 10, 15, 20, 30, 37.
    pub hours_buckets: Vec<f64>,
    /// Site and subgroup cells with fewer persons in an arm are suppressed.
    /// Default 5.
    pub min_cell: usize,
    /// Draw the SVG figures. Default `true`.
    pub figures: bool,
    /// The report's forms: `md` (report.md) and `html` (report.html, one
    /// self-contained file). Default both.
    pub formats: Vec<ReportFormat>,
    /// The data are synthetic: the report says so at the top. Default
    /// `false`.
    pub synthetic: bool,
    /// The currency of the code table's `cost_per_week` and `[cost]
    /// programme`, written after every amount of the report. Default `DKK`.
    pub currency: String,
}

/// A form of the report.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    /// `report.md`.
    Md,
    /// `report.html`.
    Html,
}

impl std::str::FromStr for ReportFormat {
    type Err = Error;

    fn from_str(s: &str) -> Result<ReportFormat> {
        match s.trim() {
            "md" => Ok(ReportFormat::Md),
            "html" => Ok(ReportFormat::Html),
            other => Err(Error::InvalidSetting {
                name: "report format".into(),
                reason: format!("`{other}` is neither `md` nor `html`"),
            }),
        }
    }
}

impl Default for ReportConfig {
    fn default() -> ReportConfig {
        ReportConfig {
            hours_week: None,
            hours_buckets: DEFAULT_HOURS_BUCKETS.to_vec(),
            min_cell: 5,
            figures: true,
            formats: vec![ReportFormat::Md, ReportFormat::Html],
            synthetic: false,
            currency: "DKK".into(),
        }
    }
}

impl AnalysisConfig {
    /// The `[cost] per` outcomes, priced by their sum over the weeks or,
    /// for a spell or cumulative outcome, their value at the last week.
    pub(crate) fn priced(&self) -> Vec<Priced> {
        let Some(cost) = &self.cost else {
            return Vec::new();
        };
        cost.per
            .iter()
            .filter_map(|name| self.outcomes.iter().find(|o| &o.display_name() == name))
            .map(|o| Priced {
                outcome: o.outcome(),
                at_end: o.cumulative || o.kind == OutcomeKind::Spell,
            })
            .collect()
    }

    /// The outcome a history entry sums, or why it cannot.
    fn history_outcome(&self, h: &HistoryConfig) -> std::result::Result<Outcome, String> {
        if let Some(o) = self.outcomes.iter().find(|o| o.display_name() == h.outcome) {
            if o.cumulative || o.kind == OutcomeKind::Spell {
                return Err(format!(
                    "outcome `{}` is defined after referral only (cumulative or spell)",
                    h.outcome
                ));
            }
            return Ok(o.outcome());
        }
        let kind: OutcomeKind =
            serde::Deserialize::deserialize(serde::de::value::StrDeserializer::<
                serde::de::value::Error,
            >::new(&h.outcome))
            .map_err(|_| {
                format!(
                    "`{}` is neither a built-in outcome nor the name of an [[outcomes]] entry",
                    h.outcome
                )
            })?;
        match kind {
            OutcomeKind::InState | OutcomeKind::Spell => Err(format!(
                "`{}` needs parameters: define it in [[outcomes]] and use its name",
                h.outcome
            )),
            _ => Ok(OutcomeConfig::new(kind).outcome()),
        }
    }

    /// The balance specification: chosen covariates and history windows.
    pub fn balance_spec(&self) -> Result<BalanceSpec> {
        let history = self
            .balance
            .history
            .iter()
            .enumerate()
            .map(|(i, h)| {
                let outcome = self
                    .history_outcome(h)
                    .map_err(|reason| Error::InvalidSetting {
                        name: format!("balance.history[{i}].outcome"),
                        reason,
                    })?;
                let w = i32::try_from(h.weeks).unwrap_or(i32::MAX);
                Ok(HistoryCovariate::new(&h.column_name(), outcome, -w..=-1))
            })
            .collect::<Result<Vec<_>>>()?;
        Ok(BalanceSpec {
            covariates: self.balance.covariates.clone(),
            history,
        })
    }
}

impl HistoryConfig {
    /// The covariate's column name in the balance table.
    pub fn column_name(&self) -> String {
        if let Some(name) = &self.name {
            return name.clone();
        }
        // The three standard windows keep the names HistoryCovariate gives them.
        let w = self.weeks;
        match self.outcome.as_str() {
            "any_benefit" => HistoryCovariate::weeks_on_benefit(w).name,
            "employed" => HistoryCovariate::weeks_employed(w).name,
            "hours" => HistoryCovariate::hours(w).name,
            other => format!("{other}_{w}"),
        }
    }
}
