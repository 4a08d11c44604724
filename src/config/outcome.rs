//! One `[[outcomes]]` entry: what is measured, its name and unit, and the
//! extra estimates it asks for.

use serde::{Deserialize, Serialize};

use super::FamilyConfig;
use crate::outcome::{Outcome, SpellRule};

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
    pub(super) fn name(self) -> &'static str {
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
