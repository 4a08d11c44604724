//! The whole analysis from one analysis file: the library form of
//! `trialpanel run`.
//!
//! An [`Analysis`] is an [`AnalysisConfig`] (read from TOML or built in
//! Rust) plus the directory its relative paths are resolved against.
//! [`Analysis::run`] reads the inputs, aligns the panel and computes every
//! result into [`Results`]; [`Results::write`] writes `effects.csv`,
//! `balance.csv`, `spell_km.csv`, `results.json`, `report.md`, the SVG
//! figures and, as the analysis file asks for them, `process.csv`,
//! `fidelity.csv`, `fidelity_change.csv`, `response.csv`, `cost.csv` and
//! `correlations.csv`.
//!
//! ```
//! use trialpanel::analysis::Analysis;
//!
//! let dir = std::env::temp_dir().join("trialpanel-doc-analysis");
//! let analysis = Analysis::from_file("data-samples/jobfirst/analysis.toml")?
//!     .with_output_dir(&dir);
//! let results = analysis.run()?;                   // everything, in memory
//! let written = results.write(analysis.output_dir())?;  // csv, json, report.md, figures
//! assert!(written.iter().any(|p| p.ends_with("report.md")));
//!
//! let employed = results.outcome("employed").unwrap();
//! let week35 = employed.effects.week(35).unwrap();
//! println!(
//!     "employed at week 35: {:.3} (95% CI {:.3} to {:.3}), significant from week {:?}",
//!     week35.estimate.effect.unwrap(),
//!     week35.estimate.ci_low.unwrap(),
//!     week35.estimate.ci_high.unwrap(),
//!     employed.significant_from.pointwise,
//! );
//! # Ok::<(), trialpanel::Error>(())
//! ```

use std::ops::RangeInclusive;
use std::path::{Path, PathBuf};

pub use crate::config::{
    AnalysisConfig, BalanceConfig, DesignConfig, FamilyConfig, HistoryConfig, InputsConfig,
    OutcomeConfig, OutcomeKind, RegisterForm, ReportConfig, ReportFormat, Unit, WeeksConfig,
};
pub use crate::results::{
    ArmCounts, BlockCount, FollowUp, HoursResults, OutcomeResults, Results, SignificantFrom,
    SpellResults, TrialSummary,
};

use crate::adjust::{self, Adjustment};
use crate::balance::{self, BalanceSpec};
use crate::codes::CodeTable;
use crate::cost::{self, PersonCosts};
use crate::descriptives::HoursAt;
use crate::effects::{self, GroupEffects, RandomisationTest, Significance, WeeklyEffects};
use crate::error::{Error, Result};
use crate::events::EventLog;
use crate::families::{self, FamilyPart, FamilyTest};
use crate::outcome::Outcome;
use crate::panel::{
    AtRisk, CORE_BYTES_PER_CELL, LoadProgress, LoadReport, Panel, default_memory_budget,
    panel_order,
};
use crate::persons::{Arm, Persons};
use crate::process::{self, ProcessCounts, ProcessTable};
use crate::report;
use crate::results::EndedFollowup;
use crate::sites::{self, CorrelationTable, Sources};
use crate::spell::{self, SpellClock};
use crate::sums::WeeklySums;
use crate::survey::Survey;
use crate::table::{self, Table};
use crate::weeks::Week;

/// An analysis ready to run: settings and the directory they are relative to.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    config: AnalysisConfig,
    base: PathBuf,
    source: PathBuf,
}

impl Analysis {
    /// Read and check an analysis file. Relative paths in it are relative to
    /// the file's directory.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Analysis> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
            file: path.to_path_buf(),
            source,
        })?;
        let config = AnalysisConfig::from_toml(&text, path)?;
        Ok(Analysis {
            config,
            base: path.parent().map(Path::to_path_buf).unwrap_or_default(),
            source: path.to_path_buf(),
        })
    }

    /// An analysis from settings built in Rust; relative paths are relative
    /// to `base_dir`. The settings are checked as an analysis file would be.
    pub fn new(config: AnalysisConfig, base_dir: impl AsRef<Path>) -> Result<Analysis> {
        let source = PathBuf::from("<analysis settings>");
        config.check(&source)?;
        Ok(Analysis {
            config,
            base: base_dir.as_ref().to_path_buf(),
            source,
        })
    }

    /// The settings.
    pub fn config(&self) -> &AnalysisConfig {
        &self.config
    }

    /// The output directory: the `output` setting joined to the analysis
    /// file's directory, with `..` resolved lexically.
    pub fn output_dir(&self) -> PathBuf {
        tidy(&self.base.join(&self.config.output))
    }

    /// Write to `dir` instead of the `output` setting.
    pub fn with_output_dir(mut self, dir: impl AsRef<Path>) -> Analysis {
        self.config.output = std::path::absolute(dir.as_ref()).unwrap_or(dir.as_ref().into());
        self
    }

    /// Write the report in `formats` instead of the `[report] formats`
    /// setting.
    pub fn with_report_formats(mut self, formats: &[ReportFormat]) -> Analysis {
        self.config.report.formats = formats.to_vec();
        self
    }

    /// The panel of every person, read as [`Analysis::run`] reads it when
    /// it fits the memory budget (for planning: [`crate::plan::history_sd`]).
    pub fn panel(&self) -> Result<Panel> {
        let c = &self.config;
        let persons = Persons::read(self.base.join(&c.inputs.persons), &c.persons)?;
        let codes = self.codes()?;
        let order = panel_order(&persons);
        self.build_panel(&persons, &codes, &order, None, None)
    }

    /// The code table with the settings' fallback and follow-up-ending
    /// categories.
    fn codes(&self) -> Result<CodeTable> {
        let c = &self.config;
        let mut codes = CodeTable::read(self.base.join(&c.inputs.codes))?;
        if let Some(fallback) = &c.inputs.fallback_category {
            codes = codes.with_fallback(fallback)?;
        }
        if !c.inputs.ends_followup.is_empty() {
            codes = codes.with_ends_followup(&c.inputs.ends_followup)?;
        }
        Ok(codes)
    }

    /// Run the analysis.
    pub fn run(&self) -> Result<Results> {
        self.run_with_progress(|_| {}, None)
    }

    /// Run the analysis, calling `progress` with a short message (such as
    /// `aligning the register`) as each long step starts, and
    /// `load_progress` with the rows and bytes read while the register is
    /// read (see [`PanelBuilder::progress`](crate::PanelBuilder::progress)).
    ///
    /// **In parts.** When the panel would take more than the memory budget
    /// (`[inputs] memory_budget_gb`), the persons are cut into consecutive
    /// parts of the panel order, each small enough for a fifth of the
    /// budget; the register is read once per part, and each part's exact
    /// weekly sums, spell completions, hours counts, history covariates and
    /// at-risk counts are merged. The results equal those of the whole
    /// panel bit for bit; [`TrialSummary::parts`] says how many parts were
    /// read. What needs every person's values at once (the band,
    /// randomisation inference, sites, a cumulative spell) is refused at
    /// once with [`Error::MemoryBudget`], naming the outcome and setting.
    pub fn run_with_progress(
        &self,
        mut progress: impl FnMut(&str),
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
    ) -> Result<Results> {
        let c = &self.config;
        let path = |p: &Path| self.base.join(p);

        progress("reading the person and code tables");
        let persons = Persons::read(path(&c.inputs.persons), &c.persons)?;
        let codes = self.codes()?;
        let balance_spec = c.balance_spec()?;
        let events = match &c.inputs.events {
            Some(file) => {
                progress("reading the event log");
                Some(EventLog::read(path(file), &persons, &c.events)?)
            }
            None => None,
        };
        let survey = match (&c.inputs.survey, &c.survey) {
            (Some(file), Some(spec)) => {
                progress("reading the staff survey");
                let survey = Survey::read(path(file), spec)?;
                Some(match &c.inputs.invited {
                    Some(invited) => survey.with_invited(path(invited))?,
                    None => survey,
                })
            }
            _ => None,
        };
        // Outcomes that need no person-level values (no band, randomisation
        // or sites) come from one scan of exact integer sums; the others are
        // evaluated into a persons × weeks matrix one at a time.
        // The Lin estimate needs every outcome's values.
        let scanned: Vec<bool> = c
            .outcomes
            .iter()
            .map(|o| {
                !o.needs_person_values()
                    && !o.in_family(&c.families)
                    && o.outcome().has_exact_form()
                    && c.design.adjust.is_empty()
            })
            .collect();

        progress("reading and aligning the register");
        let order = panel_order(&persons);
        // What the estimators assume or drop, said on stderr and in the report.
        let mut assumed: Vec<String> = Vec::new();
        let (tally, mut person_level, parts) =
            match self.plan(&persons, &codes, &order, load_progress)? {
                Plan::Whole(panel) => {
                    let tally = self.tally(
                        &panel,
                        &scanned,
                        &balance_spec,
                        events.as_ref(),
                        &mut progress,
                    )?;
                    let adjustment = self.adjustment(&panel, &balance_spec, &tally.history)?;
                    if let Some(a) = &adjustment {
                        for (name, n) in a.filled() {
                            assumed.push(format!(
                                "the Lin estimate fills the {n} missing values of `{name}` \
                                 (with the mean, or the reference level) and adds a missing \
                                 indicator"
                            ));
                        }
                    }
                    let mut person_level = Vec::with_capacity(c.outcomes.len());
                    for (spec, &scanned) in c.outcomes.iter().zip(&scanned) {
                        person_level.push(if scanned {
                            None
                        } else {
                            progress(&format!("estimating `{}`", spec.display_name()));
                            Some(self.person_level(
                                &panel,
                                spec,
                                tally.weeks.clone(),
                                adjustment.as_ref(),
                            )?)
                        });
                    }
                    (tally, person_level, 1)
                }
                Plan::Parts { size, weeks } => {
                    self.check_parts(&persons, &scanned, weeks)?;
                    let n_parts = persons.len().div_ceil(size);
                    let mut merged: Option<Tally> = None;
                    for (i, rows) in order.chunks(size).enumerate() {
                        progress(&format!(
                            "reading part {} of {n_parts} of the register ({} persons)",
                            i + 1,
                            rows.len()
                        ));
                        let panel =
                            self.build_panel(&persons, &codes, &order, Some(rows), load_progress)?;
                        let part = self.tally(
                            &panel,
                            &scanned,
                            &balance_spec,
                            events.as_ref(),
                            &mut progress,
                        )?;
                        drop(panel);
                        merged = Some(match merged {
                            None => part.with_room_for(persons.len()),
                            Some(acc) => acc.merge(part)?,
                        });
                    }
                    let tally = merged.ok_or_else(|| Error::InvalidSetting {
                        name: "persons".into(),
                        reason: "the person table has no persons".into(),
                    })?;
                    (tally, c.outcomes.iter().map(|_| None).collect(), n_parts)
                }
            };

        let Tally {
            weeks,
            sums,
            spell,
            hours,
            process,
            cost,
            history,
            at_risk,
            ended,
            load,
            observed,
        } = tally;
        let design = c.design.design();
        let last = *weeks.end();
        let snapshot = self.snapshot(last);
        let through = c
            .weeks
            .significant_through
            .or(snapshot.last().copied())
            .unwrap_or(last);

        let mut from_sums = match sums {
            Some(sums) => sums.effects(&design)?,
            None => Vec::new(),
        }
        .into_iter();
        let mut outcomes = Vec::with_capacity(c.outcomes.len());
        let mut family_parts: Vec<Vec<(usize, FamilyPart)>> =
            c.families.iter().map(|_| Vec::new()).collect();
        for (spec, found) in c.outcomes.iter().zip(&mut person_level) {
            let mut estimated = match found.take() {
                Some(estimated) => estimated,
                None => PersonLevel {
                    weekly: from_sums.next().ok_or_else(|| Error::InvalidSetting {
                        name: format!("outcome `{}`", spec.display_name()),
                        reason: "its weekly sums are missing".into(),
                    })?,
                    adjusted: None,
                    randomisation: None,
                    sites: None,
                    subgroups: Vec::new(),
                    family_parts: Vec::new(),
                },
            };
            for (f, at, part) in std::mem::take(&mut estimated.family_parts) {
                family_parts[f].push((at, part));
            }
            outcomes.push(outcome_results(spec, estimated, through));
        }
        let families = self.families(family_parts, &mut outcomes)?;

        let spell = match (
            c.outcomes.iter().find(|o| o.kind == OutcomeKind::Spell),
            spell,
        ) {
            (Some(spec), Some(done)) => {
                progress("Kaplan–Meier time to a completed spell");
                Some(SpellResults::of(done, spec, design.level)?)
            }
            _ => None,
        };
        let hours = match hours {
            Some(h) => Some(HoursResults {
                week: h.week(),
                among_working: h.among_working(design.level),
                distribution: h.distribution(&c.report.hours_buckets)?,
            }),
            None => None,
        };

        progress("balance tests");
        let arms: Vec<Arm> = order.iter().map(|&i| persons.arms()[i]).collect();
        let blocks: Vec<u32> = order.iter().map(|&i| persons.blocks().index[i]).collect();
        let covariates = balance::person_covariates(&persons, &order, &balance_spec)?;
        let history = history
            .into_iter()
            .map(|v| v.into_iter().map(|x| (!x.is_nan()).then_some(x)).collect())
            .collect();
        let clusters: Option<Vec<u32>> = persons
            .clusters()
            .map(|c| order.iter().map(|&i| c.index[i]).collect());
        let balance = balance::balance_of(
            &arms,
            &blocks,
            clusters.as_deref(),
            &balance_spec,
            covariates,
            history,
        )?;

        let mut warnings = persons.warnings().to_vec();
        warnings.extend(load.warnings(observed.0..=observed.1));
        warnings.extend(assumed);
        for o in &outcomes {
            let Some(lin) = &o.adjusted else { continue };
            let weeks = lin.rows.iter().filter(|r| !r.dropped.is_empty()).count();
            let mut dropped: Vec<&str> = lin
                .rows
                .iter()
                .flat_map(|r| r.dropped.iter().map(String::as_str))
                .collect();
            dropped.sort_unstable();
            dropped.dedup();
            if weeks > 0 {
                warnings.push(format!(
                    "the Lin estimate of `{}` dropped {} as constant or collinear at {weeks} of {} \
                     weeks (effects.csv column `dropped`)",
                    lin.outcome,
                    dropped.join(", "),
                    lin.rows.len()
                ));
            }
            let missing = lin.rows.iter().filter(|r| r.note.is_some()).count();
            if missing > 0 {
                warnings.push(format!(
                    "the Lin estimate of `{}` is missing at {missing} weeks (effects.csv column \
                     `note` says why)",
                    lin.outcome
                ));
            }
        }
        if let Some(column) = &c.persons.cluster {
            let assumed: Vec<&str> = [
                (
                    spell.is_some(),
                    "the Kaplan–Meier intervals and the log-rank test",
                ),
                (hours.is_some(), "the tests of the hours descriptives"),
            ]
            .into_iter()
            .filter_map(|(present, what)| present.then_some(what))
            .collect();
            if !assumed.is_empty() {
                warnings.push(format!(
                    "{} treat persons as independent, so with clusters (`{column}`) they are too \
                     narrow; the weekly effects (CR2) are the ones to judge",
                    assumed.join(" and ")
                ));
            }
        }
        let trial = TrialSummary::of(&persons, observed, at_risk, load, parts)
            .with_followup_ended(ended.as_deref(), &snapshot);
        if let Some(e) = &trial.followup_ended
            && e.persons.treatment + e.persons.control > 0
        {
            warnings.push(format!(
                "follow-up ended early for {} treatment and {} control persons (a category that \
                 ends follow-up, such as death or emigration); each counts up to the week before",
                e.persons.treatment, e.persons.control
            ));
        }
        if let Some(log) = &events
            && log.before_referral() > 0
        {
            warnings.push(format!(
                "{} of the {} events in {} are dated before the person's referral week; they \
                 count for no process indicator",
                log.before_referral(),
                log.rows(),
                c.inputs.events.as_deref().unwrap_or(log.file()).display()
            ));
        }
        let process: Vec<ProcessTable> = process
            .iter()
            .map(|p| p.table(design.level, &c.bands))
            .collect();
        let fidelity = survey.map(|s| {
            if !s.skipped().is_empty() {
                warnings.push(format!(
                    "the survey's rows of items in no `[survey] elements` entry were skipped: {}",
                    list(s.skipped().iter().map(|(item, _)| item.as_str()))
                ));
            }
            s.fidelity(design.level, &c.bands)
        });
        let cost = match (cost, &c.cost) {
            (Some(person), Some(spec)) => {
                if c.persons.cluster.is_some() {
                    warnings.push(
                        "the cost per effect takes persons as independent units, while the \
                         effects are cluster-robust: its intervals are too narrow"
                            .into(),
                    );
                }
                Some(person.effects(spec, design.level, c.design.variance, c.design.blocked))
            }
            _ => None,
        };
        let site_effects: Vec<&GroupEffects> =
            outcomes.iter().filter_map(|o| o.sites.as_ref()).collect();
        let sources = Sources {
            process: &process,
            fidelity: fidelity.as_ref(),
            site_effects: &site_effects,
        };
        let correlations = c
            .correlations
            .iter()
            .map(|spec| sites::correlate(spec, &sources, design.level))
            .collect::<Result<Vec<_>>>()?;
        Ok(Results {
            title: c.title.clone(),
            version: env!("CARGO_PKG_VERSION"),
            config: c.clone(),
            snapshot,
            significant_through: through,
            trial,
            outcomes,
            families,
            process,
            fidelity,
            cost,
            correlations,
            spell,
            hours,
            balance,
            warnings,
        })
    }

    /// Each `[[families]]` entry's test from its outcomes' parts (`parts[f]`:
    /// (position of the outcome in the family, its part)), with every
    /// member's row of `outcomes` marked with the family and its p_fwer.
    fn families(
        &self,
        parts: Vec<Vec<(usize, FamilyPart)>>,
        outcomes: &mut [OutcomeResults],
    ) -> Result<Vec<FamilyTest>> {
        let c = &self.config;
        let mut tests = Vec::with_capacity(parts.len());
        for (f, mut these) in c.families.iter().zip(parts) {
            these.sort_by_key(|(at, _)| *at);
            let test = families::combine(
                &f.name,
                these.into_iter().map(|(_, p)| p).collect(),
                c.randomisation.seed,
            )?;
            for m in &test.members {
                let row = outcomes
                    .iter_mut()
                    .find(|o| o.effects.outcome == m.outcome)
                    .and_then(|o| o.effects.rows.iter_mut().find(|r| r.week == m.week));
                if let Some(row) = row {
                    row.family = Some(test.name.clone());
                    row.p_fwer = m.p_fwer;
                }
            }
            tests.push(test);
        }
        Ok(tests)
    }

    /// Weeks of the snapshot tables: the setting, or the multiples of 13
    /// up to 52 among the estimated weeks (which end at `last`).
    fn snapshot(&self, last: i32) -> Vec<i32> {
        let c = &self.config;
        c.weeks.snapshot.clone().unwrap_or_else(|| {
            (1..)
                .map(|i| 13 * i)
                .skip_while(|&k| k < c.weeks.first)
                .take_while(|&k| k <= last && k <= 52)
                .collect()
        })
    }

    /// The memory budget for the panel, in bytes.
    fn memory_budget(&self) -> u64 {
        match self.config.inputs.memory_budget_gb {
            Some(gb) => (gb * 1e9) as u64,
            None => default_memory_budget(),
        }
    }

    /// The first event week the panel keeps: the estimated weeks, the
    /// spell's first week and the balance history windows.
    fn first_event_week(&self) -> i32 {
        let c = &self.config;
        let history = c.balance.history.iter().map(|h| h.weeks).max();
        c.outcomes
            .iter()
            .filter(|o| o.kind == OutcomeKind::Spell)
            .map(|o| o.spell_rule().first_week)
            .chain(history.map(|w| -i32::try_from(w).unwrap_or(i32::MAX)))
            .fold(c.weeks.first, i32::min)
    }

    /// The panel's event weeks when the settings fix them: `[weeks] last`,
    /// or the last week followed after the earliest referral when
    /// `observed_until` is set.
    fn known_weeks(&self, persons: &Persons) -> Option<u64> {
        let c = &self.config;
        let last = match (c.weeks.last, c.inputs.observed_until) {
            (Some(last), _) => last,
            (None, Some(until)) => until.event_week(*persons.referral_weeks().iter().min()?),
            (None, None) => return None,
        };
        u64::try_from(i64::from(last) - i64::from(self.first_event_week()) + 1).ok()
    }

    /// The whole panel when it fits the memory budget, else the size of the
    /// parts to read it in. The window is needed to size the parts: from
    /// the settings, or from a wide register's header (its panel is refused
    /// before reading, with the exact size).
    fn plan(
        &self,
        persons: &Persons,
        codes: &CodeTable,
        order: &[usize],
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
    ) -> Result<Plan> {
        let budget = self.memory_budget();
        let per_week = persons.len() as u64 * CORE_BYTES_PER_CELL as u64;
        let parts = |weeks: u64| -> Result<Plan> {
            let size = (budget / PART_SHARE / (weeks * CORE_BYTES_PER_CELL as u64).max(1)).max(1);
            let size = usize::try_from(size).unwrap_or(usize::MAX);
            if persons.len().div_ceil(size) > MAX_PARTS {
                let largest = persons.len().div_ceil(MAX_PARTS) as u64;
                return Err(Error::MemoryBudget {
                    what: format!(
                        "reading the register in at most {MAX_PARTS} parts (each part reads the \
                         whole register), a panel of {} persons × {weeks} event weeks",
                        persons.len()
                    ),
                    needed: PART_SHARE * largest * weeks * CORE_BYTES_PER_CELL as u64,
                    budget,
                });
            }
            Ok(Plan::Parts { size, weeks })
        };
        if let Some(weeks) = self.known_weeks(persons)
            && weeks.saturating_mul(per_week) > budget
        {
            return parts(weeks);
        }
        match self.build_panel(persons, codes, order, None, load_progress) {
            Ok(panel) => Ok(Plan::Whole(Box::new(panel))),
            Err(Error::MemoryBudget { needed, .. })
                if self.config.inputs.form == RegisterForm::Wide =>
            {
                parts(needed / per_week.max(1))
            }
            Err(Error::MemoryBudget {
                what,
                needed,
                budget,
            }) => Err(Error::MemoryBudget {
                what: format!(
                    "{what} (to read it in parts instead, fix the event-week window: set \
                     `[weeks] last` or `[inputs] observed_until`)"
                ),
                needed,
                budget,
            }),
            Err(e) => Err(e),
        }
    }

    /// Refuse, before reading any part, outcomes that need every person's
    /// values at once.
    fn check_parts(&self, persons: &Persons, scanned: &[bool], weeks: u64) -> Result<()> {
        let c = &self.config;
        let Some(spec) = c
            .outcomes
            .iter()
            .zip(scanned)
            .find(|(_, s)| !**s)
            .map(|o| o.0)
        else {
            return Ok(());
        };
        let setting = match (spec.band, spec.randomisation, spec.sites) {
            (true, _, _) => "`band = true`",
            (_, true, _) => "`randomisation = true`",
            (_, _, true) => "`sites = true`",
            _ if !spec.subgroups.is_empty() => "`subgroups`",
            _ if spec.in_family(&c.families) => "`[[families]]` (re-drawn hypotheses)",
            _ if !c.design.adjust.is_empty() => "`[design] adjust` (the Lin estimate)",
            _ => "`cumulative = true` on a spell (no exact integer form)",
        };
        Err(Error::MemoryBudget {
            what: format!(
                "outcome `{}` with {setting}, which needs every person's values at once (the \
                 whole panel of {} persons × {weeks} event weeks; only exact weekly sums, \
                 spells, hours and balance are read in parts)",
                spec.display_name(),
                persons.len()
            ),
            needed: weeks * persons.len() as u64 * CORE_BYTES_PER_CELL as u64,
            budget: self.memory_budget(),
        })
    }

    /// The panel of `part` (person table rows in panel order), or of every
    /// person; `order` is the persons' [`panel_order`].
    fn build_panel(
        &self,
        persons: &Persons,
        codes: &CodeTable,
        order: &[usize],
        part: Option<&[usize]>,
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
    ) -> Result<Panel> {
        let c = &self.config;
        let mut builder = Panel::builder(persons, codes)
            .with_order(order)
            .ignore_unknown_persons(c.inputs.ignore_unknown_persons)
            .memory_budget(self.memory_budget())
            // Keep the history windows and the estimated weeks, nothing more.
            .first_event_week(self.first_event_week());
        if let Some(share) = c.inputs.max_unknown_share {
            builder = builder.max_unknown_share(share);
        }
        if let Some(w) = c.inputs.observed_from {
            builder = builder.observed_from(w);
        }
        if let Some(w) = c.inputs.observed_until {
            builder = builder.observed_until(w);
        }
        if let Some(report) = load_progress {
            builder = builder.progress(report);
        }
        if let Some(last) = c.weeks.last {
            builder = builder.last_event_week(last);
        }
        if let Some(rows) = part {
            builder = builder.part(rows);
        }
        let register = self.base.join(&c.inputs.register);
        match c.inputs.form {
            RegisterForm::Long => {
                builder.long_file(register, c.long.as_ref().unwrap_or(&Default::default()))
            }
            RegisterForm::Wide => {
                builder.wide_file(register, c.wide.as_ref().unwrap_or(&Default::default()))
            }
        }
    }

    /// The estimated event weeks, checked against the panel's window.
    fn weeks(&self, panel: &Panel) -> Result<RangeInclusive<i32>> {
        let c = &self.config;
        let last = c.weeks.last.unwrap_or(*panel.event_weeks().end());
        let weeks = c.weeks.first..=last;
        panel.check_weeks(&weeks, "weeks")?;
        Ok(weeks)
    }

    /// What the persons of `panel` contribute to the results that add up
    /// over parts of the persons.
    fn tally(
        &self,
        panel: &Panel,
        scanned: &[bool],
        balance_spec: &BalanceSpec,
        events: Option<&EventLog>,
        progress: &mut impl FnMut(&str),
    ) -> Result<Tally> {
        let c = &self.config;
        let weeks = self.weeks(panel)?;
        let outcomes: Vec<Outcome> = c
            .outcomes
            .iter()
            .zip(scanned)
            .filter(|(_, s)| **s)
            .map(|(spec, _)| spec.outcome())
            .collect();
        let sums = if outcomes.is_empty() {
            None
        } else {
            progress(&format!(
                "weekly sums of {} outcomes in one scan",
                outcomes.len()
            ));
            Some(WeeklySums::of(panel, &outcomes, weeks.clone())?)
        };
        let spell = match c.outcomes.iter().find(|o| o.kind == OutcomeKind::Spell) {
            Some(spec) => Some(spell::clock(panel, &spec.spell_rule())?),
            None => None,
        };
        let wants_hours = c
            .outcomes
            .iter()
            .any(|o| matches!(o.kind, OutcomeKind::Hours | OutcomeKind::Employed));
        let hours_week = c
            .report
            .hours_week
            .or(self.snapshot(*weeks.end()).last().copied());
        let hours = match (wants_hours, hours_week) {
            (true, Some(k)) => Some(HoursAt::of(panel, k)?),
            _ => None,
        };
        let process = process::judge_all(&c.process, panel, events)?;
        let cost = match &c.cost {
            Some(spec) => Some(cost::person_costs(panel, spec, &c.priced())?),
            None => None,
        };
        Ok(Tally {
            sums,
            spell,
            hours,
            process,
            cost,
            history: balance::history_values(panel, balance_spec)?
                .into_iter()
                .map(|v| v.into_iter().map(|x| x.unwrap_or(f64::NAN)).collect())
                .collect(),
            at_risk: weeks.clone().map(|k| panel.at_risk(k)).collect(),
            ended: panel.codes().has_ends().then(|| {
                let persons = panel.persons();
                (0..panel.n_persons())
                    .map(|p| {
                        let admin = panel
                            .observed_until()
                            .event_week(persons.referral_weeks()[p]);
                        let ended = panel.followup_ended(p);
                        EndedFollowup {
                            arm: persons.arms()[p],
                            time: ended.unwrap_or(admin),
                            ended: ended.is_some(),
                            admin,
                        }
                    })
                    .collect()
            }),
            load: panel.load_report().clone(),
            observed: (panel.observed_from(), panel.observed_until()),
            weeks,
        })
    }

    /// The effects of an outcome from its evaluated values, with the band,
    /// randomisation test and site effects it asks for, and the Lin
    /// estimate with an `adjustment`.
    fn person_level(
        &self,
        panel: &Panel,
        spec: &OutcomeConfig,
        weeks: RangeInclusive<i32>,
        adjustment: Option<&Adjustment>,
    ) -> Result<PersonLevel> {
        let c = &self.config;
        let design = c.design.design();
        let values = spec.outcome().evaluate(panel, weeks)?;
        let mut weekly = effects::weekly_effects(&values, &design)?;
        if spec.band {
            let band = effects::simultaneous_band(&values, &weekly, &c.band)?;
            weekly = weekly.with_band(band);
        }
        let adjusted = adjustment
            .map(|a| adjust::lin_effects(&values, &design, a))
            .transpose()?;
        let name = spec.display_name();
        let mut family_parts = Vec::new();
        for (f, family) in c.families.iter().enumerate() {
            if let Some(at) = family.outcomes.iter().position(|o| *o == name) {
                let part = FamilyPart::of(
                    &family.name,
                    &values,
                    &weekly,
                    &family.weeks,
                    &design,
                    &c.randomisation,
                )?;
                family_parts.push((f, at, part));
            }
        }
        let randomisation = spec
            .randomisation
            .then(|| effects::randomisation_test(&values, &design, &c.randomisation))
            .transpose()?;
        let sites = spec
            .sites
            .then(|| effects::site_effects(&values, &design, c.report.min_cell))
            .transpose()?;
        let subgroups = spec
            .subgroups
            .iter()
            .map(|by| effects::subgroup_effects(&values, &design, by, c.report.min_cell))
            .collect::<Result<Vec<_>>>()?;
        Ok(PersonLevel {
            weekly,
            adjusted,
            randomisation,
            sites,
            subgroups,
            family_parts,
        })
    }

    /// The covariates of `[design] adjust` over the persons of `panel`:
    /// person-table covariates, or history covariates (`history`: their
    /// values in panel order, NaN for missing, in `spec`'s order).
    fn adjustment(
        &self,
        panel: &Panel,
        spec: &BalanceSpec,
        history: &[Vec<f64>],
    ) -> Result<Option<Adjustment>> {
        let names = &self.config.design.adjust;
        if names.is_empty() {
            return Ok(None);
        }
        let mut adjustment = Adjustment::new();
        for name in names {
            adjustment = match spec.history.iter().position(|h| &h.name == name) {
                Some(i) => {
                    let values: Vec<Option<f64>> = history[i]
                        .iter()
                        .map(|x| (!x.is_nan()).then_some(*x))
                        .collect();
                    adjustment.values(name, &values)?
                }
                None if panel.persons().covariates().iter().any(|c| &c.name == name) => {
                    adjustment.covariate(panel, name)?
                }
                None => {
                    return Err(Error::InvalidSetting {
                        name: "design.adjust".into(),
                        reason: format!(
                            "`{name}` is neither a person-table covariate ({}) nor a \
                             [[balance.history]] covariate ({})",
                            list(panel.persons().covariates().iter().map(|c| c.name.as_str())),
                            list(spec.history.iter().map(|h| h.name.as_str())),
                        ),
                    });
                }
            };
        }
        Ok(Some(adjustment))
    }
}

/// Most parts a register is read in: each part reads the whole register.
const MAX_PARTS: usize = 256;

/// A part's panel takes at most `1 / PART_SHARE` of the memory budget: its
/// transposition at the end of the load holds it twice, and the person
/// table, read buffers and merged results take the rest.
const PART_SHARE: u64 = 5;

/// How the register is read: whole, or in parts of `size` persons (of a
/// panel of `weeks` event weeks).
enum Plan {
    Whole(Box<Panel>),
    Parts { size: usize, weeks: u64 },
}

/// What a part of the persons contributes to the results, in panel order
/// where it is per person; [`Tally::merge`] joins consecutive parts.
struct Tally {
    /// Estimated event weeks.
    weeks: RangeInclusive<i32>,
    /// Exact weekly sums of the scanned outcomes.
    sums: Option<WeeklySums>,
    /// Spell clocks of the spell outcome.
    spell: Option<SpellClock>,
    /// Hours at the hours week.
    hours: Option<HoursAt>,
    /// Counts of each `[[process]]` indicator.
    process: Vec<ProcessCounts>,
    /// Each person's cost and priced outcomes, with `[cost]`.
    cost: Option<PersonCosts>,
    /// History covariates' values, one vector per covariate (NaN:
    /// missing, half the size of an `Option<f64>`).
    history: Vec<Vec<f64>>,
    /// Persons followed at each estimated week.
    at_risk: Vec<AtRisk>,
    /// With categories that end follow-up, per person: arm, the week the
    /// follow-up ended (or its administrative end), whether it ended, and
    /// the administrative end.
    ended: Option<Vec<EndedFollowup>>,
    load: LoadReport,
    observed: (Week, Week),
}

impl Tally {
    /// The per-person vectors with room for `n` persons: appending the
    /// other parts then copies nothing.
    fn with_room_for(mut self, n: usize) -> Tally {
        for v in &mut self.history {
            v.reserve_exact(n.saturating_sub(v.len()));
        }
        if let Some(clock) = &mut self.spell {
            clock
                .times
                .reserve_exact(n.saturating_sub(clock.times.len()));
        }
        self
    }

    /// `self` followed by the next part `next`.
    fn merge(mut self, next: Tally) -> Result<Tally> {
        if next.weeks != self.weeks || next.observed != self.observed {
            return Err(Error::InvalidSetting {
                name: "parts".into(),
                reason: "the parts of the register have different event or observed weeks".into(),
            });
        }
        self.sums = match (self.sums, &next.sums) {
            (Some(a), Some(b)) => Some(a.merge(b)?),
            (a, _) => a,
        };
        if let (Some(a), Some(b)) = (&mut self.spell, next.spell) {
            a.append(b);
        }
        if let (Some(a), Some(b)) = (&mut self.hours, &next.hours) {
            a.merge(b)?;
        }
        for (a, b) in self.process.iter_mut().zip(&next.process) {
            a.merge(b);
        }
        if let (Some(a), Some(b)) = (&mut self.cost, next.cost) {
            a.append(b);
        }
        for (a, b) in self.history.iter_mut().zip(next.history) {
            a.extend(b);
        }
        if let (Some(a), Some(b)) = (&mut self.ended, next.ended) {
            a.extend(b);
        }
        for (a, b) in self.at_risk.iter_mut().zip(&next.at_risk) {
            a.treatment += b.treatment;
            a.control += b.control;
        }
        self.load.add_part(&next.load);
        Ok(self)
    }
}

/// `a, b, c`, or `none`.
fn list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    let names: Vec<&str> = names.collect();
    if names.is_empty() {
        "none".into()
    } else {
        names.join(", ")
    }
}

/// An outcome's effects from its person-level values.
struct PersonLevel {
    weekly: WeeklyEffects,
    adjusted: Option<WeeklyEffects>,
    /// (family, position of the outcome in it, its part of the family).
    family_parts: Vec<(usize, usize, FamilyPart)>,
    randomisation: Option<RandomisationTest>,
    sites: Option<GroupEffects>,
    subgroups: Vec<GroupEffects>,
}

/// The results of one outcome from its weekly effects.
fn outcome_results(spec: &OutcomeConfig, estimated: PersonLevel, through: i32) -> OutcomeResults {
    let PersonLevel {
        weekly,
        adjusted,
        randomisation,
        sites,
        subgroups,
        ..
    } = estimated;
    let from = |by| weekly.significant_from(by, through);
    let significant_from = SignificantFrom {
        through,
        pointwise: from(Significance::Pointwise(0.05)),
        holm: from(Significance::Holm(0.05)),
        benjamini_hochberg: from(Significance::BenjaminiHochberg(0.05)),
        band: weekly.band.as_ref().and(from(Significance::Band)),
    };
    OutcomeResults {
        unit: spec.unit(),
        significant_from,
        randomisation,
        sites,
        subgroups,
        effects: weekly,
        adjusted,
    }
}

/// `a/b/../c` → `a/c` (lexically: `..` after a normal component removes it).
fn tidy(path: &Path) -> PathBuf {
    use std::path::Component;
    let mut out = PathBuf::new();
    for c in path.components() {
        match c {
            Component::ParentDir
                if matches!(out.components().next_back(), Some(Component::Normal(_))) =>
            {
                out.pop();
            }
            Component::CurDir => {}
            c => out.push(c),
        }
    }
    out
}

impl Results {
    /// The results of the outcome named `name`.
    pub fn outcome(&self, name: &str) -> Option<&OutcomeResults> {
        self.outcomes.iter().find(|o| o.effects.outcome == name)
    }

    /// `results.json`: everything, pretty-printed.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::InvalidSetting {
            name: "results.json".into(),
            reason: e.to_string(),
        })
    }

    /// `report.md`: the readable report (see [`report::markdown`]).
    pub fn to_markdown(&self) -> String {
        report::markdown::render(self)
    }

    /// `report.html`: the same report as one self-contained HTML5 file,
    /// figures inlined (see [`report::html`]).
    pub fn to_html(&self) -> Result<String> {
        let figures = if self.config.report.figures {
            report::figures::all(self)?
        } else {
            Vec::new()
        };
        Ok(report::html::render(
            &self.title,
            &self.to_markdown(),
            &figures,
        ))
    }

    /// Write every output into `dir` (created if needed): `effects.csv`,
    /// `balance.csv`, `spell_km.csv` (with a spell outcome), `process.csv`
    /// (with `[[process]]`), `fidelity.csv`, `fidelity_change.csv` and
    /// `response.csv` (with a survey; the last with invited counts),
    /// `cost.csv` (with `[cost]`), `correlations.csv` (with
    /// `[[correlations]]`), `results.json`, `report.md` and `report.html`
    /// (as `[report] formats` asks) and, unless `report.figures = false`, the
    /// SVG figures in `figures/`. Returns the paths written.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Vec<PathBuf>> {
        let dir = dir.as_ref();
        let mut written = Vec::new();
        let mkdir = |d: &Path| {
            std::fs::create_dir_all(d).map_err(|e| Error::Write {
                file: d.to_path_buf(),
                message: e.to_string(),
            })
        };
        mkdir(dir)?;
        let mut out = |name: &str| {
            let p = dir.join(name);
            written.push(p.clone());
            p
        };
        let tables = self
            .outcomes
            .iter()
            .flat_map(|o| std::iter::once(&o.effects).chain(&o.adjusted));
        effects::write_effects_csv(tables, out("effects.csv"))?;
        self.balance.write_csv(out("balance.csv"))?;
        if let Some(spell) = &self.spell {
            spell.km.write_csv(out("spell_km.csv"))?;
        }
        if !self.process.is_empty() {
            let mut frames = self.process.iter().map(|p| p.to_frame());
            let mut all = frames.next().transpose()?.unwrap_or_default();
            for f in frames {
                all.vstack_mut(&f?).map_err(|e| Error::InvalidSetting {
                    name: "process.csv".into(),
                    reason: e.to_string(),
                })?;
            }
            table::write_csv(&mut all, out("process.csv"))?;
        }
        if let Some(f) = &self.fidelity {
            f.write_csv(out("fidelity.csv"))?;
            table::write_csv(&mut f.changes_frame()?, out("fidelity_change.csv"))?;
            if !f.response.is_empty() {
                table::write_csv(&mut f.response_frame()?, out("response.csv"))?;
            }
        }
        if let Some(cost) = &self.cost {
            cost.write_csv(out("cost.csv"))?;
        }
        if !self.correlations.is_empty() {
            CorrelationTable(&self.correlations).write_csv(out("correlations.csv"))?;
        }
        table::write_text(&self.to_json()?, &out("results.json"))?;
        let formats = &self.config.report.formats;
        let markdown = self.to_markdown();
        if formats.contains(&ReportFormat::Md) {
            table::write_text(&markdown, &out("report.md"))?;
        }
        let figures = if self.config.report.figures {
            report::figures::all(self)?
        } else {
            Vec::new()
        };
        if formats.contains(&ReportFormat::Html) {
            let html = report::html::render(&self.title, &markdown, &figures);
            table::write_text(&html, &out("report.html"))?;
        }
        if !figures.is_empty() {
            mkdir(&dir.join("figures"))?;
            for (name, svg) in &figures {
                table::write_text(svg, &out(&format!("figures/{name}")))?;
            }
        }
        Ok(written)
    }
}
