//! Process indicators: was the intervention delivered as designed? (methods
//! §11)
//!
//! An indicator judges each person followed long enough and gives, per site
//! (block) and overall, per arm and for both together, the share that meets
//! it with its Wilson interval and its traffic light
//! ([`Thresholds`]). So far the register-based
//! indicator: the longest run of inactive weeks in event weeks 0..=k is
//! shorter than r weeks (JobFirst: "fewer than 4 weeks without activity",
//! 95%), judged over the persons followed through week k. The event-log
//! indicators (`within`, `every`, `after`) are not built yet.
//!
//! ```
//! use trialpanel::simulate::{simulate, TrialSpec};
//! use trialpanel::process::{InactiveRun, inactive_run};
//! use trialpanel::stats::Thresholds;
//! use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons, SpellRule};
//!
//! let trial = simulate(&TrialSpec { persons: 400, ..TrialSpec::default() })?;
//! let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default().block_column("municipality"))?;
//! let codes = CodeTable::from_frame(trial.codes, "codes")?;
//! let panel = Panel::builder(&persons, &codes)
//!     .long_frame(trial.register, "register", &LongColumns::default())?;
//! let rule = InactiveRun { name: "active".into(), activity: SpellRule::default(), weeks: 12, shorter_than: 4 };
//! let table = inactive_run(&panel, &rule)?.table(0.95, &Thresholds::default());
//! let overall = table.rows.iter().find(|r| r.site == "all" && r.arm.is_none()).unwrap();
//! assert!(overall.share.is_some());
//! # Ok::<(), trialpanel::Error>(())
//! ```

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::panel::Panel;
use crate::persons::Arm;
use crate::spell::SpellRule;
use crate::stats::{self, Light, Share, Thresholds};
use crate::table::{self, Table};

/// The register-based indicator: the longest run of inactive weeks (no
/// activity category, no hours above the rule's threshold) in event weeks
/// 0..=`weeks` is shorter than `shorter_than` weeks.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InactiveRun {
    /// Indicator name, as in `process.csv`.
    pub name: String,
    /// What makes a week active: the rule's `activity` categories and
    /// `hours_threshold` (its spell settings are not used).
    #[serde(default)]
    pub activity: SpellRule,
    /// Judged over event weeks 0..=weeks, for the persons followed through
    /// that week.
    pub weeks: i32,
    /// A person meets the indicator when the longest inactive run is
    /// shorter than this many weeks.
    pub shorter_than: u32,
}

/// Persons judged and meeting an indicator, per site and arm: the counts
/// add up over parts of the persons.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessCounts {
    /// Indicator name.
    pub indicator: String,
    /// Site (block) labels.
    pub sites: Vec<String>,
    /// Per site, per arm (control, treatment): [meeting it, judged].
    pub counts: Vec<[[usize; 2]; 2]>,
}

/// [`InactiveRun`] over the persons of `panel`.
pub fn inactive_run(panel: &Panel, rule: &InactiveRun) -> Result<ProcessCounts> {
    if rule.weeks < 0 || rule.shorter_than == 0 {
        return Err(Error::InvalidSetting {
            name: format!("process `{}`", rule.name),
            reason: "needs weeks ≥ 0 and shorter_than ≥ 1".into(),
        });
    }
    panel.check_weeks(&(0..=rule.weeks), &format!("process `{}`", rule.name))?;
    let activity = rule.activity.resolve(panel)?;
    let persons = panel.persons();
    let sites = persons.blocks().labels.clone();
    let mut counts = vec![[[0usize; 2]; 2]; sites.len()];
    for p in 0..panel.n_persons() {
        let span = panel.observed_span(p);
        if !(*span.start() <= 0 && *span.end() >= rule.weeks) {
            continue;
        }
        let (mut run, mut longest) = (0u32, 0u32);
        for k in 0..=rule.weeks {
            let (Some(c), Some(h)) = (panel.categories(k), panel.centihours(k)) else {
                continue;
            };
            if activity.is_active(c[p], h[p]) {
                run = 0;
            } else {
                run += 1;
                longest = longest.max(run);
            }
        }
        let cell = &mut counts[persons.blocks().index[p] as usize][persons.arms()[p] as usize];
        cell[0] += usize::from(longest < rule.shorter_than);
        cell[1] += 1;
    }
    Ok(ProcessCounts {
        indicator: rule.name.clone(),
        sites,
        counts,
    })
}

impl ProcessCounts {
    /// The counts of both `self` and `other` (disjoint persons, the same
    /// indicator), sites matched by label.
    pub fn merge(&mut self, other: &ProcessCounts) {
        for (site, c) in other.sites.iter().zip(&other.counts) {
            let at = match self.sites.iter().position(|s| s == site) {
                Some(i) => i,
                None => {
                    self.sites.push(site.clone());
                    self.counts.push([[0; 2]; 2]);
                    self.sites.len() - 1
                }
            };
            add(&mut self.counts[at], c);
        }
    }

    /// The shares per site and overall (`all`), per arm and for both arms
    /// (`arm` = `None`), with Wilson intervals at `level` and their lights.
    pub fn table(&self, level: f64, thresholds: &Thresholds) -> ProcessTable {
        let mut rows = Vec::new();
        let mut total = [[0usize; 2]; 2];
        let mut push = |site: &str, c: &[[usize; 2]; 2]| {
            for arm in [Some(Arm::Treatment), Some(Arm::Control), None] {
                let (hits, n) = match arm {
                    Some(a) => (c[a as usize][0], c[a as usize][1]),
                    None => (c[0][0] + c[1][0], c[0][1] + c[1][1]),
                };
                let share = stats::wilson(hits, n, level);
                let light = share.map(|s| thresholds.light(&s));
                rows.push(ProcessRow {
                    indicator: self.indicator.clone(),
                    site: site.to_string(),
                    arm,
                    share,
                    light: light.map(|l| l.0),
                    uncertain: light.is_some_and(|l| l.1),
                });
            }
        };
        for (site, c) in self.sites.iter().zip(&self.counts) {
            add(&mut total, c);
            if self.sites.len() > 1 {
                push(site, c);
            }
        }
        push(ALL_SITES, &total);
        ProcessTable { rows }
    }
}

/// `into += from`, cell by cell.
fn add(into: &mut [[usize; 2]; 2], from: &[[usize; 2]; 2]) {
    for (a, b) in into.iter_mut().flatten().zip(from.iter().flatten()) {
        *a += b;
    }
}

/// The site label of the overall rows.
pub const ALL_SITES: &str = "all";

/// One row of a [`ProcessTable`].
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessRow {
    /// Indicator name.
    pub indicator: String,
    /// Site label, or `all`.
    pub site: String,
    /// The arm, or `None` for both.
    pub arm: Option<Arm>,
    /// The share of the persons judged, with its Wilson interval; `None`
    /// when nobody was judged (an empty site).
    pub share: Option<Share>,
    /// Its traffic light.
    pub light: Option<Light>,
    /// The interval crosses a threshold of the lights.
    pub uncertain: bool,
}

/// An indicator's shares per site, arm and overall.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ProcessTable {
    /// Sites in label order, then `all`; per site treatment, control, both.
    pub rows: Vec<ProcessRow>,
}

impl Table for ProcessTable {
    /// `process.csv`: `indicator, site, arm, n, share, ci_low, ci_high,
    /// band, uncertain` (arm blank for both arms; n 0 and the rest blank
    /// for an empty site).
    fn to_frame(&self) -> Result<DataFrame> {
        let r = &self.rows;
        table::frame(
            "process",
            vec![
                table::strings("indicator", r.iter().map(|x| x.indicator.clone())),
                table::strings("site", r.iter().map(|x| x.site.clone())),
                table::optional_strings(
                    "arm",
                    r.iter().map(|x| x.arm.map(|a| a.name().to_string())),
                ),
                table::counts("n", r.iter().map(|x| Some(x.share.map_or(0, |s| s.n)))),
                table::floats("share", r.iter().map(|x| x.share.map(|s| s.share))),
                table::floats("ci_low", r.iter().map(|x| x.share.map(|s| s.ci_low))),
                table::floats("ci_high", r.iter().map(|x| x.share.map(|s| s.ci_high))),
                table::optional_strings(
                    "band",
                    r.iter().map(|x| {
                        x.light.map(|l| {
                            match l {
                                Light::High => "high",
                                Light::Middle => "middle",
                                Light::Low => "low",
                            }
                            .to_string()
                        })
                    }),
                ),
                table::flags("uncertain", r.iter().map(|x| x.uncertain)),
            ],
        )
    }
}
