//! The whole analysis from one analysis file: the library form of
//! `trialpanel run`.
//!
//! An [`Analysis`] is an [`AnalysisConfig`] (read from TOML or built in
//! Rust) plus the directory its relative paths are resolved against.
//! [`Analysis::run`] reads the inputs, aligns the panel and computes every
//! result into [`Results`]; [`Results::write`] writes `effects.csv`,
//! `balance.csv`, `spell_km.csv`, `results.json`, `report.md` and the SVG
//! figures.
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

mod config;
pub(crate) mod or_false;

use std::path::{Path, PathBuf};

use serde::Serialize;

pub use config::{
    AnalysisConfig, BalanceConfig, HistorySpec, Inputs, OutcomeKind, OutcomeSpec, RegisterForm,
    ReportSpec, Unit, WeeksSpec,
};

use crate::balance::{self, Balance};
use crate::codes::CodeTable;
use crate::effects::{self, GroupEffects, RandomisationTest, Significance, WeeklyEffects};
use crate::error::{Error, Result};
use crate::outcome::{self, HoursDistribution, Outcome};
use crate::panel::{AtRisk, LoadProgress, LoadReport, Panel};
use crate::persons::{Arm, Persons};
use crate::report;
use crate::spell::{self, SpellRule, TimeToSpell};
use crate::stats::Estimate;
use crate::sums::WeeklySums;
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

    /// Run the analysis.
    pub fn run(&self) -> Result<Results> {
        self.run_with_progress(|_| {}, None)
    }

    /// Run the analysis, calling `progress` with a short message (such as
    /// `aligning the register`) as each long step starts, and
    /// `load_progress` with the rows and bytes read while the register is
    /// read (see [`PanelBuilder::progress`](crate::PanelBuilder::progress)).
    pub fn run_with_progress(
        &self,
        mut progress: impl FnMut(&str),
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
    ) -> Result<Results> {
        let c = &self.config;
        let path = |p: &Path| self.base.join(p);

        progress("reading the person and code tables");
        let persons = Persons::read(path(&c.inputs.persons), &c.persons)?;
        let mut codes = CodeTable::read(path(&c.inputs.codes))?;
        if let Some(fallback) = &c.inputs.fallback_category {
            codes = codes.with_fallback(fallback)?;
        }

        progress("reading and aligning the register");
        let panel = self.build_panel(&persons, &codes, load_progress)?;
        let mut warnings = persons.warnings().to_vec();
        warnings.extend(panel.load_warnings());
        let window = panel.event_weeks();
        let last = c.weeks.last.unwrap_or(*window.end());
        let weeks = c.weeks.first..=last;
        if !window.contains(&c.weeks.first) || !window.contains(&last) {
            return Err(Error::InvalidSetting {
                name: "weeks".into(),
                reason: format!(
                    "event weeks {}..={last} are not all in the panel, which has {}..={}",
                    c.weeks.first,
                    window.start(),
                    window.end()
                ),
            });
        }
        let snapshot = c.weeks.snapshot.clone().unwrap_or_else(|| {
            (1..)
                .map(|i| 13 * i)
                .skip_while(|&k| k < c.weeks.first)
                .take_while(|&k| k <= last && k <= 52)
                .collect()
        });
        let through = c
            .weeks
            .significant_through
            .or(snapshot.last().copied())
            .unwrap_or(last);

        // Outcomes that need no person-level values (no band, randomisation
        // or sites) come from one scan of exact integer sums; the others are
        // evaluated into a persons × weeks matrix one at a time.
        let mut exact = Vec::with_capacity(c.outcomes.len());
        for spec in &c.outcomes {
            let person_level = spec.band || spec.randomisation || spec.sites;
            exact.push(!person_level && spec.outcome().exact(&panel)?.is_some());
        }
        let scanned: Vec<Outcome> = c
            .outcomes
            .iter()
            .zip(&exact)
            .filter(|(_, e)| **e)
            .map(|(spec, _)| spec.outcome())
            .collect();
        let mut from_sums = if scanned.is_empty() {
            Vec::new()
        } else {
            progress(&format!(
                "weekly effects of {} outcomes in one scan",
                scanned.len()
            ));
            WeeklySums::of(&panel, &scanned, weeks.clone())?.effects(&c.design)?
        }
        .into_iter();
        let mut outcomes = Vec::with_capacity(c.outcomes.len());
        for (spec, &exact) in c.outcomes.iter().zip(&exact) {
            let weekly = if exact {
                from_sums.next()
            } else {
                progress(&format!("estimating `{}`", spec.display_name()));
                None
            };
            outcomes.push(self.estimate(&panel, spec, weekly, weeks.clone(), through)?);
        }

        let spell = match c.outcomes.iter().find(|o| o.kind == OutcomeKind::Spell) {
            Some(spec) => {
                progress("Kaplan–Meier time to a completed spell");
                Some(SpellResults::compute(&panel, spec, c.design.level)?)
            }
            None => None,
        };

        let wants_hours = c
            .outcomes
            .iter()
            .any(|o| matches!(o.kind, OutcomeKind::Hours | OutcomeKind::Employed));
        let hours = match (
            wants_hours,
            c.report.hours_week.or(snapshot.last().copied()),
        ) {
            (true, Some(k)) => Some(HoursResults {
                week: k,
                among_working: outcome::hours_among_working(&panel, k, c.design.level)?,
                distribution: outcome::hours_distribution(&panel, k, &c.report.hours_buckets)?,
            }),
            _ => None,
        };

        progress("balance tests");
        let balance = balance::balance(&panel, &c.balance_spec()?)?;

        Ok(Results {
            title: c.title.clone(),
            version: env!("CARGO_PKG_VERSION"),
            config: c.clone(),
            snapshot,
            significant_through: through,
            trial: TrialSummary::of(&panel, weeks),
            outcomes,
            spell,
            hours,
            balance,
            warnings,
        })
    }

    fn build_panel(
        &self,
        persons: &Persons,
        codes: &CodeTable,
        load_progress: Option<&(dyn Fn(&LoadProgress) + Sync)>,
    ) -> Result<Panel> {
        let c = &self.config;
        let mut builder =
            Panel::builder(persons, codes).ignore_unknown_persons(c.inputs.ignore_unknown_persons);
        if let Some(share) = c.inputs.max_unknown_share {
            builder = builder.max_unknown_share(share);
        }
        if let Some(w) = c.inputs.observed_from {
            builder = builder.observed_from(w);
        }
        if let Some(w) = c.inputs.observed_until {
            builder = builder.observed_until(w);
        }
        if let Some(gb) = c.inputs.memory_budget_gb {
            builder = builder.memory_budget((gb * 1e9) as u64);
        }
        if let Some(report) = load_progress {
            builder = builder.progress(report);
        }
        // Keep the history windows and the estimated weeks, nothing more.
        let history = c.balance.history.iter().map(|h| h.weeks).max();
        let first = c
            .outcomes
            .iter()
            .filter(|o| o.kind == OutcomeKind::Spell)
            .map(|o| o.spell_rule().first_week)
            .chain(history.map(|w| -i32::try_from(w).unwrap_or(i32::MAX)))
            .fold(c.weeks.first, i32::min);
        builder = builder.first_event_week(first);
        if let Some(last) = c.weeks.last {
            builder = builder.last_event_week(last);
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

    /// The results of one outcome: from `weekly`, its effects from the
    /// exact sums, or else from its evaluated values (with the band,
    /// randomisation test and site effects it asks for).
    fn estimate(
        &self,
        panel: &Panel,
        spec: &OutcomeSpec,
        weekly: Option<WeeklyEffects>,
        weeks: std::ops::RangeInclusive<i32>,
        through: i32,
    ) -> Result<OutcomeResults> {
        let c = &self.config;
        let (weekly, randomisation, sites) = match weekly {
            Some(weekly) => (weekly, None, None),
            None => {
                let values = spec.outcome().evaluate(panel, weeks)?;
                let mut weekly = effects::weekly_effects(&values, &c.design)?;
                if spec.band {
                    let band = effects::simultaneous_band(&values, &weekly, &c.band)?;
                    weekly = weekly.with_band(band);
                }
                let randomisation = spec
                    .randomisation
                    .then(|| effects::randomisation_test(&values, &c.design, &c.randomisation))
                    .transpose()?;
                let sites = spec
                    .sites
                    .then(|| effects::site_effects(&values, &c.design, c.report.min_cell))
                    .transpose()?;
                (weekly, randomisation, sites)
            }
        };
        let from = |by| weekly.significant_from(by, through);
        let significant_from = SignificantFrom {
            through,
            pointwise: from(Significance::Pointwise(0.05)),
            holm: from(Significance::Holm(0.05)),
            benjamini_hochberg: from(Significance::BenjaminiHochberg(0.05)),
            band: weekly.band.as_ref().and(from(Significance::Band)),
        };
        Ok(OutcomeResults {
            unit: spec.unit(),
            significant_from,
            randomisation,
            sites,
            effects: weekly,
        })
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

/// Everything an analysis computes; serialised whole as `results.json`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Results {
    /// The report's title.
    pub title: String,
    /// trialpanel version that computed the results.
    pub version: &'static str,
    /// The settings the results were computed with.
    pub config: AnalysisConfig,
    /// Weeks of the snapshot tables.
    pub snapshot: Vec<i32>,
    /// Last week considered by "significant from week k".
    pub significant_through: i32,
    /// Persons, blocks, referral and follow-up.
    pub trial: TrialSummary,
    /// One entry per outcome, in the order of the analysis file.
    pub outcomes: Vec<OutcomeResults>,
    /// Time to a completed spell, when an outcome is a spell.
    pub spell: Option<SpellResults>,
    /// Hours descriptives, when an outcome is `hours` or `employed`.
    pub hours: Option<HoursResults>,
    /// The balance table and the joint test.
    pub balance: Balance,
    /// What the analysis assumed that may be wrong (e.g. observed weeks
    /// without any register row); `trialpanel run` prints them on stderr
    /// and report.md in its design section.
    pub warnings: Vec<String>,
}

/// The trial's design as the data show it.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct TrialSummary {
    /// Persons per arm.
    pub persons: ArmCounts,
    /// Persons per arm in each block (one `all` block when there are none).
    pub blocks: Vec<BlockCount>,
    /// Earliest and latest referral week.
    pub referral_first: Week,
    /// Latest referral week.
    pub referral_last: Week,
    /// First week the register covers.
    pub observed_from: Week,
    /// Last week the register covers (the extract).
    pub observed_until: Week,
    /// Weeks followed after referral (`observed_until − referral`) per arm.
    pub follow_up: Vec<FollowUp>,
    /// Persons followed at each estimated week.
    pub at_risk: Vec<AtRisk>,
    /// Register rows read and ignored.
    pub load: LoadReport,
}

/// A count per arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct ArmCounts {
    /// Treatment arm.
    pub treatment: usize,
    /// Control arm.
    pub control: usize,
}

/// Persons per arm in one block.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct BlockCount {
    /// Block label.
    pub block: String,
    /// Persons per arm.
    pub persons: ArmCounts,
}

/// Distribution of follow-up in one arm, in weeks after referral.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FollowUp {
    /// The arm.
    pub arm: Arm,
    /// Shortest follow-up.
    pub min: i32,
    /// Median follow-up (mean of the two middle values for an even count).
    pub median: f64,
    /// Longest follow-up.
    pub max: i32,
}

impl TrialSummary {
    fn of(panel: &Panel, weeks: std::ops::RangeInclusive<i32>) -> TrialSummary {
        let persons = panel.persons();
        let arms = persons.arms();
        let blocks = persons.blocks();
        let mut per_block = vec![[0usize; 2]; blocks.labels.len()];
        for (&b, &arm) in blocks.index.iter().zip(arms) {
            per_block[b as usize][arm as usize] += 1;
        }
        let counts = |c: [usize; 2]| ArmCounts {
            treatment: c[Arm::Treatment as usize],
            control: c[Arm::Control as usize],
        };
        let until = panel.observed_until();
        let referral = persons.referral_weeks();
        let follow_up = Arm::BOTH
            .iter()
            .rev()
            .filter_map(|&arm| {
                let mut weeks: Vec<i32> = (0..persons.len())
                    .filter(|&p| arms[p] == arm)
                    .map(|p| until.event_week(referral[p]))
                    .collect();
                weeks.sort_unstable();
                let n = weeks.len();
                let median = match n {
                    0 => return None,
                    _ if n % 2 == 1 => f64::from(weeks[n / 2]),
                    _ => (f64::from(weeks[n / 2 - 1]) + f64::from(weeks[n / 2])) / 2.0,
                };
                Some(FollowUp {
                    arm,
                    min: weeks[0],
                    median,
                    max: weeks[n - 1],
                })
            })
            .collect();
        TrialSummary {
            persons: counts(
                per_block
                    .iter()
                    .fold([0, 0], |a, c| [a[0] + c[0], a[1] + c[1]]),
            ),
            blocks: blocks
                .labels
                .iter()
                .zip(&per_block)
                .map(|(label, &c)| BlockCount {
                    block: label.clone(),
                    persons: counts(c),
                })
                .collect(),
            referral_first: referral.iter().min().copied().unwrap_or(until),
            referral_last: referral.iter().max().copied().unwrap_or(until),
            observed_from: panel.observed_from(),
            observed_until: until,
            follow_up,
            at_risk: weeks.map(|k| panel.at_risk(k)).collect(),
            load: panel.load_report().clone(),
        }
    }
}

/// Results for one outcome.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct OutcomeResults {
    /// What one unit of the outcome is.
    pub unit: Unit,
    /// Weekly effects (with the band when asked for).
    pub effects: WeeklyEffects,
    /// From which week the effect stays significant at 5%.
    pub significant_from: SignificantFrom,
    /// Randomisation test, when asked for.
    pub randomisation: Option<RandomisationTest>,
    /// Per-site effects and heterogeneity, when asked for.
    pub sites: Option<GroupEffects>,
}

/// The first week from which every testable week through `through` is
/// significant at 5%, by each criterion (`None`: no such week).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct SignificantFrom {
    /// Last week considered.
    pub through: i32,
    /// Pointwise p < 0.05.
    pub pointwise: Option<i32>,
    /// Holm-adjusted p < 0.05 across weeks.
    pub holm: Option<i32>,
    /// Benjamini–Hochberg-adjusted p < 0.05 across weeks.
    pub benjamini_hochberg: Option<i32>,
    /// The simultaneous band excludes 0 (when a band was computed).
    pub band: Option<i32>,
}

/// Time to a completed spell.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SpellResults {
    /// Name of the spell outcome.
    pub outcome: String,
    /// The rule.
    pub rule: SpellRule,
    /// Persons in the analysis per arm (observed at the rule's first week).
    pub persons: ArmCounts,
    /// Persons who completed a spell while followed, per arm.
    pub completed: ArmCounts,
    /// Persons left out (not observed at the rule's first week).
    pub left_out: usize,
    /// Kaplan–Meier curves, difference and log-rank test.
    pub km: TimeToSpell,
}

impl SpellResults {
    fn compute(panel: &Panel, spec: &OutcomeSpec, level: f64) -> Result<SpellResults> {
        let rule = spec.spell_rule();
        let done = spell::completions(panel, &rule)?;
        let km = spell::time_to_spell(&done, level)?;
        let count = |arm: Arm, completed: bool| {
            done.persons
                .iter()
                .filter(|p| p.arm == arm && (!completed || p.completed.is_some()))
                .count()
        };
        Ok(SpellResults {
            outcome: spec.display_name(),
            persons: ArmCounts {
                treatment: count(Arm::Treatment, false),
                control: count(Arm::Control, false),
            },
            completed: ArmCounts {
                treatment: count(Arm::Treatment, true),
                control: count(Arm::Control, true),
            },
            left_out: done.left_out,
            rule,
            km,
        })
    }
}

/// Hours descriptives at one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HoursResults {
    /// Event week.
    pub week: i32,
    /// Mean hours of those working (hours > 0), by arm, Welch test.
    pub among_working: Estimate,
    /// Distribution of positive hours over buckets, chi-square test.
    pub distribution: HoursDistribution,
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

    /// Write every output into `dir` (created if needed): `effects.csv`,
    /// `balance.csv`, `spell_km.csv` (with a spell outcome), `results.json`,
    /// `report.md` and, unless `report.figures = false`, the SVG figures in
    /// `figures/`. Returns the paths written.
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
        effects::write_effects_csv(self.outcomes.iter().map(|o| &o.effects), out("effects.csv"))?;
        self.balance.write_csv(out("balance.csv"))?;
        if let Some(spell) = &self.spell {
            report::write_csv(&mut spell.km.to_frame()?, out("spell_km.csv"))?;
        }
        report::write_text(&self.to_json()?, &out("results.json"))?;
        report::write_text(&self.to_markdown(), &out("report.md"))?;
        if self.config.report.figures {
            mkdir(&dir.join("figures"))?;
            for (name, svg) in report::figures::all(self)? {
                report::write_text(&svg, &out(&format!("figures/{name}")))?;
            }
        }
        Ok(written)
    }
}
