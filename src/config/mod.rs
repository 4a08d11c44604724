//! The analysis file's settings types, one per TOML table, below the
//! results and the pipeline that use them (re-exported from
//! [`crate::analysis`]).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimators::DEFAULT_HOURS_BUCKETS;
use crate::estimators::Indicator;
use crate::estimators::{BalanceSpec, HistoryCovariate};
use crate::estimators::{BandSpec, Design, RandomisationSpec};
use crate::estimators::{CorrelationSpec, SiteMeasure};
use crate::estimators::{CostSpec, Priced};
use crate::inputs::EventColumns;
use crate::inputs::PersonSpec;
use crate::inputs::SurveySpec;
use crate::inputs::{LongColumns, WideColumns};
use crate::outcome::Outcome;
use crate::outcome::SpellRule;
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
    /// `[events]`: columns of the event log ([`EventColumns`]).
    #[serde(default)]
    pub events: EventColumns,
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

/// One `[[outcomes]]` entry.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutcomeConfig {
    /// What is measured.
    pub kind: OutcomeKind,
    /// Name in tables and file names. Default: the kind (`cumulative_` +
    /// the kind when cumulative). Required for `in_state`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `in_state` only: the categories (from the code table, or `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub categories: Option<Vec<String>>,
    /// `employed` only: hours above this count as employed. Default 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub threshold: Option<f64>,
    /// `spell` only: the spell rule ([`SpellRule`]). Default: 13 active
    /// weeks, gaps of up to 4 weeks, work placement, wage subsidy or hours.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rule: Option<SpellRule>,
    /// Sum over weeks 0..=k instead of the week's value (not for `spell`).
    #[serde(default)]
    pub cumulative: bool,
    /// Also compute the simultaneous band.
    #[serde(default)]
    pub band: bool,
    /// Also run the randomisation test.
    #[serde(default)]
    pub randomisation: bool,
    /// Also estimate per block (site) with Cochran's Q (needs a block column).
    #[serde(default)]
    pub sites: bool,
    /// Also estimate within the levels of these person-table covariates,
    /// with the treatment × subgroup interaction test; cells with fewer
    /// than `[report] min_cell` persons in an arm are flagged. Default:
    /// none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub subgroups: Vec<String>,
}

/// The kinds of outcome an analysis file can name (methods §3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OutcomeKind {
    /// In work placement (0/1).
    WorkPlacement,
    /// In wage subsidy (0/1).
    WageSubsidy,
    /// On any public benefit (0/1).
    AnyBenefit,
    /// No public benefit (0/1).
    SelfSupporting,
    /// In one of `categories` (0/1).
    InState,
    /// Ordinary hours in the week.
    Hours,
    /// Hours above `threshold` (0/1).
    Employed,
    /// The activity spell indicator (0/1).
    Spell,
}

impl OutcomeKind {
    fn name(self) -> &'static str {
        match self {
            OutcomeKind::WorkPlacement => "work_placement",
            OutcomeKind::WageSubsidy => "wage_subsidy",
            OutcomeKind::AnyBenefit => "any_benefit",
            OutcomeKind::SelfSupporting => "self_supporting",
            OutcomeKind::InState => "in_state",
            OutcomeKind::Hours => "hours",
            OutcomeKind::Employed => "employed",
            OutcomeKind::Spell => "spell",
        }
    }
}

/// What one unit of an outcome is, for labels and formatting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Unit {
    /// A 0/1 indicator: its mean is a share.
    Share,
    /// Hours per week.
    Hours,
    /// Hours summed since referral.
    CumulativeHours,
    /// Weeks (a cumulative indicator).
    Weeks,
}

impl OutcomeConfig {
    /// An outcome of this kind with default settings.
    pub fn new(kind: OutcomeKind) -> OutcomeConfig {
        OutcomeConfig {
            kind,
            name: None,
            categories: None,
            threshold: None,
            rule: None,
            cumulative: false,
            band: false,
            randomisation: false,
            sites: false,
            subgroups: Vec::new(),
        }
    }

    /// The name used in tables: `name`, else the kind (with `cumulative_`).
    pub fn display_name(&self) -> String {
        match (&self.name, self.cumulative) {
            (Some(n), _) => n.clone(),
            (None, true) => format!("cumulative_{}", self.kind.name()),
            (None, false) => self.kind.name().into(),
        }
    }

    /// The unit of the outcome's values.
    pub fn unit(&self) -> Unit {
        match (self.kind, self.cumulative) {
            (OutcomeKind::Hours, false) => Unit::Hours,
            (OutcomeKind::Hours, true) => Unit::CumulativeHours,
            (_, true) => Unit::Weeks,
            (_, false) => Unit::Share,
        }
    }

    /// The [`Outcome`] this entry describes.
    pub fn outcome(&self) -> Outcome {
        let base = match self.kind {
            OutcomeKind::WorkPlacement => Outcome::work_placement(),
            OutcomeKind::WageSubsidy => Outcome::wage_subsidy(),
            OutcomeKind::AnyBenefit => Outcome::any_benefit(),
            OutcomeKind::SelfSupporting => Outcome::self_supporting(),
            OutcomeKind::InState => {
                let cats: Vec<&str> = self
                    .categories
                    .iter()
                    .flatten()
                    .map(String::as_str)
                    .collect();
                Outcome::in_state("in_state", &cats)
            }
            OutcomeKind::Hours => Outcome::hours(),
            OutcomeKind::Employed => Outcome::employed(self.threshold.unwrap_or(0.0)),
            OutcomeKind::Spell => Outcome::spell(self.spell_rule()),
        };
        let outcome = if self.cumulative {
            base.cumulative()
        } else {
            base
        };
        outcome.named(&self.display_name())
    }

    /// Whether a `[[families]]` entry names this outcome (its hypotheses
    /// are re-drawn, which needs its person-level values).
    pub(crate) fn in_family(&self, families: &[FamilyConfig]) -> bool {
        let name = self.display_name();
        families.iter().any(|f| f.outcomes.contains(&name))
    }

    /// The spell rule (`rule`, or the default).
    pub fn spell_rule(&self) -> SpellRule {
        self.rule.clone().unwrap_or_default()
    }
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
        }
    }
}

impl AnalysisConfig {
    /// Parse an analysis file's text; `file` names it in errors. Checks
    /// everything that can be checked without the data ([`Self::check`]).
    pub fn from_toml(text: &str, file: &Path) -> Result<AnalysisConfig> {
        let config: AnalysisConfig = toml::from_str(text).map_err(|e| {
            let (line, key) = e
                .span()
                .map_or((None, String::new()), |span| locate(text, span.start));
            Error::AnalysisFile {
                file: file.to_path_buf(),
                line,
                key,
                message: e.message().trim().to_string(),
            }
        })?;
        config.check(file)?;
        Ok(config)
    }

    /// The analysis file text of this configuration.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Internal {
            what: "the analysis file text".into(),
            message: e.to_string(),
        })
    }

    /// Check the settings that do not need the data: the register form and
    /// its column table agree, outcome entries carry only their own keys and
    /// have distinct names, the weeks are ordered, history windows refer to
    /// known outcomes. The data-dependent checks (categories in the code
    /// table, weeks inside the panel, covariates present) happen when the
    /// analysis runs.
    pub fn check(&self, file: &Path) -> Result<()> {
        let bad = |key: String, message: String| Error::AnalysisFile {
            file: file.to_path_buf(),
            line: None,
            key,
            message,
        };
        match (self.inputs.form, &self.long, &self.wide) {
            (RegisterForm::Long, _, Some(_)) => {
                return Err(bad(
                    "wide".into(),
                    "a [wide] table needs `form = \"wide\"` in [inputs]".into(),
                ));
            }
            (RegisterForm::Wide, Some(_), _) => {
                return Err(bad(
                    "long".into(),
                    "a [long] table needs `form = \"long\"` in [inputs]".into(),
                ));
            }
            _ => {}
        }
        if let Some(gb) = self.inputs.memory_budget_gb
            && !(gb.is_finite() && gb > 0.0)
        {
            return Err(bad(
                "inputs.memory_budget_gb".into(),
                format!("must be a positive number of gigabytes, not {gb}"),
            ));
        }
        if self.report.min_cell == 0 {
            return Err(bad("report.min_cell".into(), "must be at least 1".into()));
        }
        self.check_weeks(&bad)?;
        self.check_outcomes(&bad)?;
        self.check_families(&bad)?;
        let b = &self.bands;
        if !(0.0 <= b.low && b.low <= b.high && b.high <= 1.0) {
            return Err(bad(
                "bands".into(),
                format!(
                    "needs 0 ≤ low ≤ high ≤ 1 (shares), not low {} and high {}",
                    b.low, b.high
                ),
            ));
        }
        let mut names = HashSet::new();
        for (i, p) in self.process.iter().enumerate() {
            let name = p.name();
            if name.trim().is_empty() || !names.insert(name.to_string()) {
                return Err(bad(
                    format!("process[{i}].name"),
                    format!("`{name}` is empty or used twice"),
                ));
            }
            check_setting(file, &format!("process[{i}]"), || p.check())?;
            if p.needs_events() && self.inputs.events.is_none() {
                return Err(bad(
                    format!("process[{i}]"),
                    format!("rule of `{name}` reads the event log: set `[inputs] events`"),
                ));
            }
        }
        self.check_fidelity(file, &bad)?;
        self.check_history(&bad)
    }

    /// The survey needs its file and settings together, the cost names
    /// known outcomes, and each correlation measures that exist.
    fn check_fidelity(&self, file: &Path, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        match (&self.inputs.survey, &self.survey) {
            (Some(_), None) => {
                return Err(bad(
                    "survey".into(),
                    "`[inputs] survey` needs a `[survey]` table (scale and elements)".into(),
                ));
            }
            (None, Some(_)) => {
                return Err(bad(
                    "inputs.survey".into(),
                    "`[survey]` needs the survey file".into(),
                ));
            }
            (Some(_), Some(spec)) => check_setting(file, "survey", || spec.check())?,
            (None, None) => {}
        }
        if self.inputs.invited.is_some() && self.inputs.survey.is_none() {
            return Err(bad(
                "inputs.invited".into(),
                "response rates need a survey".into(),
            ));
        }
        let known: Vec<String> = self.outcomes.iter().map(|o| o.display_name()).collect();
        if let Some(cost) = &self.cost {
            for name in &cost.per {
                if !known.contains(name) {
                    return Err(bad(
                        "cost.per".into(),
                        format!(
                            "`{name}` is not an outcome (outcomes: {})",
                            known.join(", ")
                        ),
                    ));
                }
            }
        }
        for (i, c) in self.correlations.iter().enumerate() {
            for m in [&c.x, &c.y] {
                let problem = match m {
                    SiteMeasure::Process(name) => (!self.process.iter().any(|p| {
                        let n = p.name();
                        name == n
                            || name
                                .strip_prefix(n)
                                .is_some_and(|r| r == " (windows)" || r == " (events)")
                    }))
                    .then(|| format!("no `[[process]]` indicator `{name}`")),
                    SiteMeasure::Fidelity { element, .. } => match &self.survey {
                        None => Some("a fidelity measure needs `[survey]`".into()),
                        Some(s) => (!s.elements.contains_key(element))
                            .then(|| format!("no `[survey] elements` entry `{element}`")),
                    },
                    SiteMeasure::Effect { outcome, week } => {
                        match self.outcomes.iter().find(|o| &o.display_name() == outcome) {
                            None => Some(format!("`{outcome}` is not an outcome")),
                            Some(o) if !o.sites => {
                                Some(format!("outcome `{outcome}` needs `sites = true`"))
                            }
                            Some(_)
                                if *week < self.weeks.first
                                    || self.weeks.last.is_some_and(|l| *week > l) =>
                            {
                                Some(format!("week {week} is not estimated"))
                            }
                            Some(_) => None,
                        }
                    }
                };
                if let Some(reason) = problem {
                    return Err(bad(format!("correlations[{i}]"), reason));
                }
            }
        }
        Ok(())
    }

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

    /// Families have distinct names, known outcomes, weeks inside the
    /// estimated ones, and no (outcome, week) in two families.
    fn check_families(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let known: Vec<String> = self.outcomes.iter().map(|o| o.display_name()).collect();
        let mut names = HashSet::new();
        let mut taken: HashSet<(String, i32)> = HashSet::new();
        for (i, f) in self.families.iter().enumerate() {
            let key = |field: &str| format!("families[{i}].{field}");
            if f.name.trim().is_empty() || !names.insert(f.name.clone()) {
                return Err(bad(
                    key("name"),
                    format!("`{}` is empty or used twice", f.name),
                ));
            }
            if f.outcomes.is_empty() || f.weeks.is_empty() {
                return Err(bad(
                    key("outcomes"),
                    "a family needs outcomes and weeks".into(),
                ));
            }
            let size = f.outcomes.len() * f.weeks.len();
            if size > crate::estimators::MAX_MEMBERS {
                return Err(bad(
                    key("weeks"),
                    format!(
                        "{size} hypotheses; a family holds at most {}",
                        crate::estimators::MAX_MEMBERS
                    ),
                ));
            }
            for o in &f.outcomes {
                if !known.contains(o) {
                    return Err(bad(
                        key("outcomes"),
                        format!("`{o}` is not an outcome (outcomes: {})", known.join(", ")),
                    ));
                }
                for &k in &f.weeks {
                    let inside = k >= self.weeks.first && self.weeks.last.is_none_or(|l| k <= l);
                    if !inside {
                        return Err(bad(key("weeks"), format!("week {k} is not estimated")));
                    }
                    if !taken.insert((o.clone(), k)) {
                        return Err(bad(
                            key("outcomes"),
                            format!("`{o}` at week {k} is already in a family"),
                        ));
                    }
                }
            }
        }
        Ok(())
    }

    fn check_weeks(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let w = &self.weeks;
        if let Some(last) = w.last
            && last < w.first
        {
            return Err(bad(
                "weeks.last".into(),
                format!("{last} is before weeks.first = {}", w.first),
            ));
        }
        let inside = |k: i32| k >= w.first && w.last.is_none_or(|last| k <= last);
        let range = || match w.last {
            Some(last) => format!("{}..={last}", w.first),
            None => format!("{}..", w.first),
        };
        for (i, &k) in w.snapshot.iter().flatten().enumerate() {
            if !inside(k) {
                return Err(bad(
                    format!("weeks.snapshot[{i}]"),
                    format!("week {k} is outside the estimated weeks {}", range()),
                ));
            }
        }
        for (key, k) in [
            ("weeks.significant_through", w.significant_through),
            ("report.hours_week", self.report.hours_week),
        ] {
            if let Some(k) = k
                && !inside(k)
            {
                return Err(bad(
                    key.into(),
                    format!("week {k} is outside the estimated weeks {}", range()),
                ));
            }
        }
        Ok(())
    }

    fn check_outcomes(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        if self.outcomes.is_empty() {
            return Err(bad(
                "outcomes".into(),
                "give at least one [[outcomes]] entry".into(),
            ));
        }
        let mut names = HashSet::new();
        let mut spell: Option<usize> = None;
        for (i, o) in self.outcomes.iter().enumerate() {
            let key = |field: &str| format!("outcomes[{i}].{field}");
            let only = |field: &str, set: bool, kind: OutcomeKind| {
                if set && o.kind != kind {
                    Err(bad(
                        key(field),
                        format!(
                            "applies only to kind = \"{}\", not \"{}\"",
                            kind.name(),
                            o.kind.name()
                        ),
                    ))
                } else {
                    Ok(())
                }
            };
            only("categories", o.categories.is_some(), OutcomeKind::InState)?;
            only("threshold", o.threshold.is_some(), OutcomeKind::Employed)?;
            only("rule", o.rule.is_some(), OutcomeKind::Spell)?;
            if o.kind == OutcomeKind::InState {
                if o.name.is_none() {
                    return Err(bad(key("name"), "an in_state outcome needs a name".into()));
                }
                if o.categories.as_ref().is_none_or(Vec::is_empty) {
                    return Err(bad(
                        key("categories"),
                        "an in_state outcome needs at least one category".into(),
                    ));
                }
            }
            if let Some(t) = o.threshold
                && !(t.is_finite() && t >= 0.0)
            {
                return Err(bad(
                    key("threshold"),
                    format!("must be finite and ≥ 0, not {t}"),
                ));
            }
            if o.kind == OutcomeKind::Spell {
                if o.cumulative {
                    return Err(bad(
                        key("cumulative"),
                        "a spell indicator is already cumulative".into(),
                    ));
                }
                if let Some(first) = spell {
                    return Err(bad(
                        key("kind"),
                        format!(
                            "only one spell outcome per analysis (outcomes[{first}] is one); \
                             spell_km.csv and the Kaplan–Meier section describe one rule"
                        ),
                    ));
                }
                spell = Some(i);
            }
            let name = o.display_name();
            let file_safe = |c: char| c.is_ascii_alphanumeric() || "_-.".contains(c);
            if name.is_empty() || !name.chars().all(file_safe) {
                return Err(bad(
                    key("name"),
                    format!(
                        "`{name}`: outcome names also name figure files; \
                         use letters, digits, `_`, `-` and `.`"
                    ),
                ));
            }
            if !names.insert(name.clone()) {
                return Err(bad(
                    key("name"),
                    format!("another outcome is already named `{name}`; give this one a name"),
                ));
            }
        }
        Ok(())
    }

    fn check_history(&self, bad: &impl Fn(String, String) -> Error) -> Result<()> {
        let mut names = HashSet::new();
        for (i, h) in self.balance.history.iter().enumerate() {
            let key = |field: &str| format!("balance.history[{i}].{field}");
            if h.weeks == 0 {
                return Err(bad(
                    key("weeks"),
                    "the window must be at least 1 week".into(),
                ));
            }
            self.history_outcome(h)
                .map_err(|message| bad(key("outcome"), message))?;
            if !names.insert(h.column_name()) {
                return Err(bad(
                    key("name"),
                    format!("another history covariate is named `{}`", h.column_name()),
                ));
            }
        }
        Ok(())
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

/// Run a library check and name the analysis-file key in its error.
fn check_setting(file: &Path, key: &str, check: impl FnOnce() -> Result<()>) -> Result<()> {
    check().map_err(|e| match e {
        Error::InvalidSetting { reason, .. } => Error::AnalysisFile {
            file: file.to_path_buf(),
            line: None,
            key: key.into(),
            message: reason,
        },
        other => other,
    })
}

/// Line (from 1) and dotted key path of byte offset `at` in a TOML text:
/// the key on that line (if the line is `key = ...`) below the nearest
/// `[table]` or `[[array]]` header, with the array entry's index.
fn locate(text: &str, at: usize) -> (Option<usize>, String) {
    let at = at.min(text.len());
    let line_start = text
        .get(..at)
        .and_then(|b| b.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_no = text[..line_start].matches('\n').count() + 1;
    let this_line = text[line_start..].lines().next().unwrap_or("");
    // The table a line belongs to: the last header at or above it.
    let mut table = String::new();
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    for line in text[..line_start].lines().chain([this_line]) {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = arrays
                .entry(name.clone())
                .and_modify(|n| *n += 1)
                .or_insert(0);
            table = format!("{name}[{n}]");
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    let t = this_line.trim();
    if t.starts_with('[') {
        return (Some(line_no), table);
    }
    // `key = value`, or a bare unknown key (serde points at the key).
    let key = t
        .split_once('=')
        .map_or(t, |(k, _)| k)
        .trim()
        .trim_matches('"');
    let path = match (table.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    (Some(line_no), path)
}
