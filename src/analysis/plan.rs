//! The plan of a run: made from the checked analysis file before any data
//! is read ([`Plan`]: what is read, how each outcome is estimated, which
//! outputs are written), and completed once the person table's size and
//! the panel's event weeks are known ([`Reading`]: the register whole, or
//! in parts that each fit a share of the memory budget).

use std::fmt;

use crate::config::{AnalysisConfig, OutcomeConfig, OutcomeKind};
use crate::error::{Error, Result};
use crate::panel::CORE_BYTES_PER_CELL;
use crate::report::Output;

/// Most parts a register is read in: each part reads the whole register.
pub(crate) const MAX_PARTS: usize = 256;

/// A part's panel takes at most `1 / PART_SHARE` of the memory budget: its
/// transposition at the end of the load holds it twice, and the person
/// table, read buffers and merged results take the rest.
const PART_SHARE: u64 = 5;

/// How one outcome's weekly effects are computed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// From exact integer weekly sums, in one scan of the panel for every
    /// such outcome: no person-level values are kept, and the sums of parts
    /// of the persons merge exactly (methods §7).
    Sums,
    /// From the outcome's persons × weeks values, evaluated one outcome at
    /// a time, because of the setting named (it needs every person's
    /// values at once, or the outcome has no exact integer form).
    Values {
        /// The setting, e.g. `` `band = true` ``.
        because: &'static str,
    },
}

/// What a run of an analysis file does, decided from its settings alone.
#[derive(Clone, Debug, PartialEq)]
pub struct Plan {
    /// The input files, as (role, path as written), in reading order.
    pub inputs: Vec<(&'static str, String)>,
    /// Each outcome's name and route, in the order of the analysis file.
    pub outcomes: Vec<(String, Route)>,
    /// The outputs written, in order.
    pub outputs: Vec<Output>,
    /// The first event week the panel keeps: the estimated weeks, the
    /// spell's first week and the balance history windows.
    pub first_event_week: i32,
}

/// How the register is read, decided before it is read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reading {
    /// Whole, into one panel.
    Whole,
    /// In `parts` consecutive parts of the panel order of at most `size`
    /// persons, each reading the register once, for a panel of `weeks`
    /// event weeks over the memory budget.
    Parts {
        /// Persons per part.
        size: usize,
        /// Number of parts.
        parts: usize,
        /// Event weeks of the panel.
        weeks: u64,
    },
}

impl Plan {
    /// The plan of `config` (checked).
    pub(crate) fn new(config: &AnalysisConfig) -> Plan {
        let c = config;
        let mut inputs = vec![
            ("persons", &c.inputs.persons),
            ("codes", &c.inputs.codes),
            ("register", &c.inputs.register),
        ];
        for (role, file) in [
            ("events", &c.inputs.events),
            ("survey", &c.inputs.survey),
            ("invited", &c.inputs.invited),
        ] {
            if let Some(file) = file {
                inputs.push((role, file));
            }
        }
        Plan {
            inputs: inputs
                .into_iter()
                .map(|(role, p)| (role, p.display().to_string()))
                .collect(),
            outcomes: c
                .outcomes
                .iter()
                .map(|o| (o.display_name(), route(c, o)))
                .collect(),
            outputs: Output::all(c),
            first_event_week: first_event_week(c),
        }
    }

    /// Whether outcome `i` comes from the weekly sums.
    pub(crate) fn summed(&self, i: usize) -> bool {
        self.outcomes.get(i).is_some_and(|(_, r)| *r == Route::Sums)
    }

    /// How to read a register whose panel has `persons` persons and, when
    /// known before reading, `weeks` event weeks, within `budget` bytes:
    /// whole when it fits (or its size is known only once read; the panel
    /// builder then keeps to the budget), else in parts of at most a fifth
    /// of the budget. Reading in parts is refused, before anything is
    /// read, when it would take more than [`MAX_PARTS`] parts or an outcome
    /// needs every person's values at once.
    pub(crate) fn reading(
        &self,
        persons: usize,
        weeks: Option<u64>,
        budget: u64,
    ) -> Result<Reading> {
        let cell = CORE_BYTES_PER_CELL as u64;
        let Some(weeks) = weeks.filter(|w| w.saturating_mul(persons as u64 * cell) > budget) else {
            return Ok(Reading::Whole);
        };
        let size = (budget / PART_SHARE / (weeks * cell).max(1)).max(1);
        let size = usize::try_from(size).unwrap_or(usize::MAX);
        let parts = persons.div_ceil(size);
        if parts > MAX_PARTS {
            let largest = persons.div_ceil(MAX_PARTS) as u64;
            return Err(Error::MemoryBudget {
                what: format!(
                    "reading the register in at most {MAX_PARTS} parts (each part reads the \
                     whole register), a panel of {persons} persons × {weeks} event weeks"
                ),
                needed: PART_SHARE * largest * weeks * cell,
                budget,
            });
        }
        if let Some((name, because)) = self.outcomes.iter().find_map(|(n, r)| match r {
            Route::Values { because } => Some((n, because)),
            Route::Sums => None,
        }) {
            return Err(Error::MemoryBudget {
                what: format!(
                    "outcome `{name}` with {because}, which needs every person's values at once \
                     (the whole panel of {persons} persons × {weeks} event weeks; only exact \
                     weekly sums, spells, hours and balance are read in parts)"
                ),
                needed: weeks * persons as u64 * cell,
                budget,
            });
        }
        Ok(Reading::Parts { size, parts, weeks })
    }
}

/// How `spec` is estimated: from the exact sums unless a setting needs its
/// values (the first such setting, in the order the refusal names them).
fn route(c: &AnalysisConfig, spec: &OutcomeConfig) -> Route {
    let because = if spec.band {
        "`band = true`"
    } else if spec.randomisation {
        "`randomisation = true`"
    } else if spec.sites {
        "`sites = true`"
    } else if !spec.subgroups.is_empty() {
        "`subgroups`"
    } else if spec.in_family(&c.families) {
        "`[[families]]` (re-drawn hypotheses)"
    } else if !c.design.adjust.is_empty() {
        "`[design] adjust` (the Lin estimate)"
    } else if !spec.outcome().has_exact_form() {
        "`cumulative = true` on a spell (no exact integer form)"
    } else {
        return Route::Sums;
    };
    Route::Values { because }
}

/// The first event week the panel keeps: the estimated weeks, the spell's
/// first week and the balance history windows.
fn first_event_week(c: &AnalysisConfig) -> i32 {
    let history = c.balance.history.iter().map(|h| h.weeks).max();
    c.outcomes
        .iter()
        .filter(|o| o.kind == OutcomeKind::Spell)
        .map(|o| o.spell_rule().first_week)
        .chain(history.map(|w| -i32::try_from(w).unwrap_or(i32::MAX)))
        .fold(c.weeks.first, i32::min)
}

impl fmt::Display for Plan {
    /// The plan as `trialpanel check` prints it: inputs, outcomes with
    /// their routes, outputs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "reads:")?;
        for (role, file) in &self.inputs {
            writeln!(f, "  {role:<9} {file}")?;
        }
        writeln!(
            f,
            "aligns event weeks from {} (the panel keeps history from there)",
            self.first_event_week
        )?;
        writeln!(f, "estimates:")?;
        for (name, route) in &self.outcomes {
            match route {
                Route::Sums => writeln!(f, "  {name:<24} from exact weekly sums")?,
                Route::Values { because } => {
                    writeln!(f, "  {name:<24} from person-level values ({because})")?
                }
            }
        }
        let mut files: Vec<&str> = self.outputs.iter().map(|o| o.file_name()).collect();
        files.push(crate::report::MANIFEST);
        write!(f, "writes: {}", files.join(", "))
    }
}
