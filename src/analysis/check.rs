//! `trialpanel check`: everything a run checks before it reads the
//! register's rows, so that a missing file, a misspelt column or a setting
//! the data cannot meet fails in seconds, not after the register.

use std::fmt;

use super::{Analysis, Inputs};
use crate::config::{OutcomeKind, RegisterForm};
use crate::error::{Error, Result};
use crate::estimators::Indicator;
use crate::inputs::source::Source;

/// What [`Analysis::check_inputs`] read and found consistent with the
/// settings.
#[derive(Clone, Debug, PartialEq)]
pub struct InputCheck {
    /// Persons per arm (treatment, control) and sites (blocks).
    pub persons: (usize, usize),
    /// Sites of the person table's block column (0 without one).
    pub sites: usize,
    /// Codes and categories of the code table.
    pub codes: (usize, usize),
    /// Events of the event log, and their types, when there is one.
    pub events: Option<(usize, usize)>,
    /// Answers of the staff survey, when there is one.
    pub answers: Option<usize>,
    /// The register's columns that the analysis reads.
    pub register: Vec<String>,
}

impl fmt::Display for InputCheck {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(
            f,
            "inputs checked (the register's rows are not read):\n  persons: {} treated, {} \
             controls{}",
            self.persons.0,
            self.persons.1,
            match self.sites {
                0 => String::new(),
                n => format!(", {n} sites"),
            }
        )?;
        writeln!(
            f,
            "  codes: {} codes in {} categories",
            self.codes.0, self.codes.1
        )?;
        if let Some((events, types)) = self.events {
            writeln!(f, "  event log: {events} events of {types} types")?;
        }
        if let Some(answers) = self.answers {
            writeln!(f, "  staff survey: {answers} answers")?;
        }
        write!(f, "  register: columns {}", self.register.join(", "))
    }
}

impl Analysis {
    /// Check everything that can be checked without reading the register's
    /// rows: the person table, the code table, the event log and the
    /// survey are read with all their checks (as [`Analysis::run`] reads
    /// them); the register's header must hold the columns the analysis
    /// reads; and the settings that name data must find them: the
    /// categories of outcomes and process rules in the code table, the
    /// event types of process rules in the event log, subgroup covariates
    /// in the person table, and two sites or more for `sites`. `progress`
    /// is called as each step starts.
    pub fn check_inputs(&self, mut progress: impl FnMut(&str)) -> Result<InputCheck> {
        let inputs = self.read_inputs(&mut progress)?;
        progress("checking the register's columns");
        let register = self.register_columns()?;
        self.check_settings_against(&inputs)?;
        let arms = inputs.persons.arms();
        let treated = arms
            .iter()
            .filter(|a| **a == crate::inputs::Arm::Treatment)
            .count();
        Ok(InputCheck {
            persons: (treated, arms.len() - treated),
            sites: inputs.persons.blocks().labels.len()
                * usize::from(self.config.persons.block.is_some()),
            codes: (inputs.codes.len(), inputs.codes.categories().len()),
            events: inputs.events.as_ref().map(|e| (e.rows(), e.types().len())),
            answers: inputs.survey.as_ref().map(|s| s.answers().len()),
            register,
        })
    }

    /// The register's columns that a run reads, checked in its header
    /// (long) or as the week columns' prefixes (wide).
    fn register_columns(&self) -> Result<Vec<String>> {
        let c = &self.config;
        let path = self.path(&c.inputs.register);
        match c.inputs.form {
            RegisterForm::Long => {
                let source = Source::open(&path)?;
                let long = c.long.clone().unwrap_or_default();
                let mut names = vec![long.id.clone(), long.week.clone(), long.code.clone()];
                names.extend(long.hours.clone());
                let at = names
                    .iter()
                    .map(|n| source.index(n))
                    .collect::<Result<Vec<usize>>>()?;
                source.check_types(&at, &at[3..])?;
                Ok(names)
            }
            RegisterForm::Wide => {
                let wide = c.wide.clone().unwrap_or_default();
                let (first, last) = crate::panel::wide_span(&path, &wide)?;
                let mut names = vec![
                    wide.id.clone(),
                    format!("{}* ({first} to {last})", wide.code_prefix),
                ];
                names.extend(wide.hours_prefix.as_ref().map(|h| format!("{h}*")));
                Ok(names)
            }
        }
    }

    /// The settings that name data, against the tables read.
    fn check_settings_against(&self, inputs: &Inputs) -> Result<()> {
        let c = &self.config;
        let codes = &inputs.codes;
        for (i, o) in c.outcomes.iter().enumerate() {
            if let Some(categories) = &o.categories {
                codes.category_set(categories, &format!("outcomes[{i}].categories"))?;
            }
            if o.kind == OutcomeKind::Spell {
                let rule = o.spell_rule();
                codes.category_set(&rule.activity, &format!("outcomes[{i}].rule.activity"))?;
            }
            for name in &o.subgroups {
                inputs
                    .persons
                    .covariate(name, &format!("outcomes[{i}].subgroups"))?;
            }
            if o.sites && inputs.persons.blocks().labels.len() < 2 {
                return Err(Error::InvalidSetting {
                    name: format!("outcomes[{i}].sites"),
                    reason: "site effects need a `[persons] block` column with at least two sites"
                        .into(),
                });
            }
        }
        for (i, rule) in c.process.iter().enumerate() {
            let what = format!("process[{i}]");
            match rule {
                Indicator::Inactive(r) => {
                    codes.category_set(&r.activity.activity, &format!("{what}.activity"))?;
                }
                Indicator::Within(r) => self.event_type(inputs, &r.event, &what)?,
                Indicator::Every(r) => self.event_type(inputs, &r.event, &what)?,
                Indicator::After(r) => {
                    self.event_type(inputs, &r.event, &what)?;
                    self.event_type(inputs, &r.after, &what)?;
                }
            }
        }
        Ok(())
    }

    /// `name` must be an event type of the log.
    fn event_type(&self, inputs: &Inputs, name: &str, what: &str) -> Result<()> {
        match &inputs.events {
            Some(log) => log.kind(name, what).map(|_| ()),
            None => Err(Error::InvalidSetting {
                name: what.into(),
                reason: "the rule reads the event log: give `[inputs] events`".into(),
            }),
        }
    }
}
