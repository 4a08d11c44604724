//! The whole analysis from one analysis file: the library form of
//! `trialpanel run`.
//!
//! An [`Analysis`] is an [`AnalysisConfig`] (read from TOML or built in
//! Rust, checked) plus the directory its relative paths are resolved
//! against. Its [`Plan`] says, before any data is read, what is read, how
//! each outcome is estimated and which outputs are written.
//! [`Analysis::run`] carries it out in stages (read the inputs → decide how
//! to read the register → tally the panel, whole or in parts → estimate →
//! warnings → [`Results`]); [`Results::write`] writes the outputs
//! ([`Output`]): `effects.csv`, `balance.csv`, `spell_km.csv`,
//! `results.json`, `report.md`, `report.html`, the SVG figures and, as the
//! analysis file asks for them, `process.csv`, `fidelity.csv`,
//! `fidelity_change.csv`, `response.csv`, `cost.csv` and
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
//!     "employed at week 35: {:.3} (95% CI {:.3} to {:.3}), first significant in week {:?}",
//!     week35.estimate.effect.unwrap(),
//!     week35.estimate.ci_low.unwrap(),
//!     week35.estimate.ci_high.unwrap(),
//!     employed.significant.pointwise.first(),
//! );
//! # Ok::<(), trialpanel::Error>(())
//! ```

mod check;
mod estimate;
mod plan;
mod tally;
mod warnings;

use std::path::{Path, PathBuf};

pub use crate::config::{
    AnalysisConfig, BalanceConfig, DesignConfig, FamilyConfig, HistoryConfig, InputsConfig,
    OutcomeConfig, OutcomeKind, RegisterForm, ReportConfig, ReportFormat, Unit, WeeksConfig,
};
pub use crate::report::Output;
pub use crate::results::{
    ArmCounts, BlockCount, FollowUp, HoursResults, OutcomeResults, Results, Significant,
    SignificantFrom, SpellResults, TrialSummary,
};
pub use check::InputCheck;
pub use plan::{Plan, Reading, Route};

use self::tally::Tally;
use crate::error::{Error, Result};
use crate::estimators::BalanceSpec;
use crate::inputs::{CodeTable, EventLog, Persons, Survey};
use crate::panel::{Panel, PanelBuilder, default_memory_budget, panel_order, wide_span};
use crate::progress::{DrawProgress, DrawReport, LoadProgress, Progress};

/// An analysis ready to run: settings and the directory they are relative to.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    config: AnalysisConfig,
    base: PathBuf,
    source: PathBuf,
}

/// The inputs read before the register, and the persons' panel order.
struct Inputs {
    persons: Persons,
    codes: CodeTable,
    order: Vec<usize>,
    balance: BalanceSpec,
    events: Option<EventLog>,
    survey: Option<Survey>,
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

    /// What a run reads, estimates and writes, from the settings alone.
    pub fn plan(&self) -> Plan {
        Plan::new(&self.config)
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
    /// it fits the memory budget (for planning: [`crate::estimators::history_sd`]).
    pub fn panel(&self) -> Result<Panel> {
        let persons = Persons::read(self.path(&self.config.inputs.persons), &self.config.persons)?;
        let codes = self.codes()?;
        let order = panel_order(&persons);
        self.read_register(self.builder_of(&persons, &codes, &order))
    }

    /// Run the analysis.
    pub fn run(&self) -> Result<Results> {
        self.run_with_progress(|_| {}, None)
    }

    /// Run the analysis, calling `progress` with a short message (such as
    /// `reading and aligning the register`) as each long step starts, and
    /// `detail` at most every quarter second within the long steps: the
    /// rows and bytes read while the register is read
    /// ([`Progress::Load`](crate::progress::Progress), see
    /// [`PanelBuilder::progress`](crate::PanelBuilder::progress)) and the
    /// draws done of a simultaneous band or a randomisation test
    /// ([`Progress::Draws`](crate::progress::Progress), with the time left
    /// at the pace so far).
    ///
    /// **In parts.** When the panel would take more than the memory budget
    /// (`[inputs] memory_budget_gb`), the plan cuts the persons into
    /// consecutive parts of the panel order ([`Reading::Parts`]), each
    /// small enough for a fifth of the budget; the register is read once
    /// per part, and each part's exact weekly sums, spell completions,
    /// hours counts, history covariates and at-risk counts are merged. The
    /// results equal those of the whole panel bit for bit;
    /// [`TrialSummary::parts`] says how many parts were read. What needs
    /// every person's values at once (the band, randomisation inference,
    /// sites, a cumulative spell) is refused before the register is read,
    /// with [`Error::MemoryBudget`] naming the outcome and setting.
    pub fn run_with_progress(
        &self,
        mut progress: impl FnMut(&str),
        detail: Option<&(dyn Fn(&Progress) + Sync)>,
    ) -> Result<Results> {
        let load = |p: &LoadProgress| {
            if let Some(d) = detail {
                d(&Progress::Load(*p));
            }
        };
        let draws = |p: &DrawProgress| {
            if let Some(d) = detail {
                d(&Progress::Draws(*p));
            }
        };
        let load_progress = detail.map(|_| &load as &(dyn Fn(&LoadProgress) + Sync));
        let draw_progress = detail.map(|_| &draws as DrawReport<'_>);
        let plan = self.plan();
        let inputs = self.read_inputs(&mut progress)?;
        progress("reading and aligning the register");
        let reading = self.reading(&plan, &inputs)?;
        let read = match reading {
            Reading::Whole => {
                self.read_whole(&plan, &inputs, &mut progress, load_progress, draw_progress)?
            }
            Reading::Parts { size, parts, .. } => {
                self.read_parts(&plan, &inputs, size, parts, &mut progress, load_progress)?
            }
        };
        let estimated = estimate::estimate(&self.config, &inputs, read, &mut progress)?;
        let warnings = warnings::collect(&self.config, &inputs, &estimated);
        let files = plan
            .inputs
            .iter()
            .map(|(_, f)| self.path(Path::new(f)))
            .collect();
        Ok(estimated.into_results(&self.config, warnings, files))
    }

    /// The person table, code table, event log and survey, and the balance
    /// specification (checked against the settings before the register is
    /// read).
    fn read_inputs(&self, progress: &mut impl FnMut(&str)) -> Result<Inputs> {
        let c = &self.config;
        progress("reading the person and code tables");
        let persons = Persons::read(self.path(&c.inputs.persons), &c.persons)?;
        let codes = self.codes()?;
        let balance = c.balance_spec()?;
        balance.check_names(&persons)?;
        estimate::check_adjustment(c, &persons)?;
        let events = match &c.inputs.events {
            Some(file) => {
                progress("reading the event log");
                Some(EventLog::read(self.path(file), &persons, &c.events)?)
            }
            None => None,
        };
        let survey = match (&c.inputs.survey, &c.survey) {
            (Some(file), Some(spec)) => {
                progress("reading the staff survey");
                let mut survey = Survey::read(self.path(file), spec)?;
                if let Some(invited) = &c.inputs.invited {
                    survey = survey.with_invited(self.path(invited))?;
                }
                if c.persons.block.is_some() {
                    survey = survey.join_sites(&persons.blocks().labels)?;
                }
                Some(survey)
            }
            _ => None,
        };
        let order = panel_order(&persons);
        Ok(Inputs {
            persons,
            codes,
            order,
            balance,
            events,
            survey,
        })
    }

    /// How to read the register: the plan's decision for this person table
    /// and the panel's event weeks when the settings or a wide register's
    /// header fix them.
    fn reading(&self, plan: &Plan, inputs: &Inputs) -> Result<Reading> {
        let c = &self.config;
        let builder = self.builder(inputs, None);
        let span = match c.inputs.form {
            RegisterForm::Wide => Some(wide_span(
                &self.path(&c.inputs.register),
                c.wide.as_ref().unwrap_or(&Default::default()),
            )?),
            RegisterForm::Long => None,
        };
        plan.reading(
            inputs.persons.len(),
            builder.known_weeks(span),
            builder.budget(),
        )
    }

    /// The whole panel's tally and the person-level effects of the outcomes
    /// routed through their values (with the Lin estimate's covariates).
    fn read_whole(
        &self,
        plan: &Plan,
        inputs: &Inputs,
        progress: &mut impl FnMut(&str),
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
        draw_progress: Option<DrawReport<'_>>,
    ) -> Result<estimate::Read> {
        let c = &self.config;
        let builder = self.builder(inputs, load_progress);
        // A long register's window is known only once it is read: say how
        // to fix it, so that the plan can read an oversized panel in parts.
        let unknown_window = c.inputs.form == RegisterForm::Long
            && c.weeks.last.is_none()
            && c.inputs.observed_until.is_none();
        let panel = self.read_register(builder).map_err(|e| match e {
            Error::MemoryBudget {
                what,
                needed,
                budget,
            } if unknown_window => Error::MemoryBudget {
                what: format!(
                    "{what} (to read it in parts instead, fix the event-week window: set \
                     `[weeks] last` or `[inputs] observed_until`)"
                ),
                needed,
                budget,
            },
            e => e,
        })?;
        let tally = Tally::of(c, plan, &panel, inputs, progress)?;
        let adjustment = estimate::adjustment(c, &panel, &inputs.balance, &tally.history)?;
        let mut effects = Vec::with_capacity(c.outcomes.len());
        for (i, spec) in c.outcomes.iter().enumerate() {
            effects.push(if plan.summed(i) {
                None
            } else {
                progress(&format!("estimating `{}`", spec.display_name()));
                let weeks = tally.weeks.clone();
                Some(estimate::of_values(
                    c,
                    &panel,
                    spec,
                    weeks,
                    adjustment.as_ref(),
                    progress,
                    draw_progress,
                )?)
            });
        }
        Ok(estimate::Read {
            tally,
            effects,
            adjustment,
            parts: 1,
        })
    }

    /// The tallies of `parts` consecutive parts of at most `size` persons,
    /// merged; every outcome comes from the weekly sums.
    fn read_parts(
        &self,
        plan: &Plan,
        inputs: &Inputs,
        size: usize,
        parts: usize,
        progress: &mut impl FnMut(&str),
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
    ) -> Result<estimate::Read> {
        let c = &self.config;
        let mut merged: Option<Tally> = None;
        for (i, rows) in inputs.order.chunks(size).enumerate() {
            progress(&format!(
                "reading part {} of {parts} of the register ({} persons)",
                i + 1,
                rows.len()
            ));
            let builder = self.builder(inputs, load_progress).part(rows);
            let panel = self.read_register(builder)?;
            let part = Tally::of(c, plan, &panel, inputs, progress)?;
            drop(panel);
            merged = Some(match merged {
                None => part.with_room_for(inputs.persons.len()),
                Some(acc) => acc.merge(part)?,
            });
        }
        let tally = merged.ok_or_else(|| Error::Internal {
            what: "reading in parts".into(),
            message: "no part was read".into(),
        })?;
        Ok(estimate::Read {
            tally,
            effects: c.outcomes.iter().map(|_| None).collect(),
            adjustment: None,
            parts,
        })
    }

    /// `p` relative to the analysis file's directory.
    fn path(&self, p: &Path) -> PathBuf {
        self.base.join(p)
    }

    /// The code table with the settings' fallback and follow-up-ending
    /// categories.
    fn codes(&self) -> Result<CodeTable> {
        let c = &self.config;
        let mut codes = CodeTable::read(self.path(&c.inputs.codes))?;
        if let Some(fallback) = &c.inputs.fallback_category {
            codes = codes.with_fallback(fallback)?;
        }
        if !c.inputs.ends_followup.is_empty() {
            codes = codes.with_ends_followup(&c.inputs.ends_followup)?;
        }
        Ok(codes)
    }

    /// The memory budget for the panel, in bytes.
    fn memory_budget(&self) -> u64 {
        match self.config.inputs.memory_budget_gb {
            Some(gb) => (gb * 1e9) as u64,
            None => default_memory_budget(),
        }
    }

    /// A panel builder of the inputs' persons with the settings, reporting
    /// the rows read to `load_progress`.
    fn builder<'a>(
        &self,
        inputs: &'a Inputs,
        load_progress: Option<&'a (dyn Fn(&LoadProgress) + Sync)>,
    ) -> PanelBuilder<'a> {
        let builder = self.builder_of(&inputs.persons, &inputs.codes, &inputs.order);
        match load_progress {
            Some(report) => builder.progress(report),
            None => builder,
        }
    }

    /// A panel builder with the settings' window, observed weeks, unknown
    /// persons and memory budget; `order` is the persons' [`panel_order`].
    fn builder_of<'a>(
        &self,
        persons: &'a Persons,
        codes: &'a CodeTable,
        order: &'a [usize],
    ) -> PanelBuilder<'a> {
        let c = &self.config;
        let mut builder = Panel::builder(persons, codes)
            .with_order(order)
            .ignore_unknown_persons(c.inputs.ignore_unknown_persons)
            .memory_budget(self.memory_budget())
            // Keep the history windows and the estimated weeks, nothing more.
            .first_event_week(self.plan().first_event_week);
        if let Some(share) = c.inputs.max_unknown_share {
            builder = builder.max_unknown_share(share);
        }
        if let Some(w) = c.inputs.observed_from {
            builder = builder.observed_from(w);
        }
        if let Some(w) = c.inputs.observed_until {
            builder = builder.observed_until(w);
        }
        if let Some(last) = c.weeks.last {
            builder = builder.last_event_week(last);
        }
        builder
    }

    /// Read the register with `builder`.
    fn read_register(&self, builder: PanelBuilder<'_>) -> Result<Panel> {
        let c = &self.config;
        let register = self.path(&c.inputs.register);
        match c.inputs.form {
            RegisterForm::Long => {
                builder.long_file(register, c.long.as_ref().unwrap_or(&Default::default()))
            }
            RegisterForm::Wide => {
                builder.wide_file(register, c.wide.as_ref().unwrap_or(&Default::default()))
            }
        }
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
