//! Process indicators: was the intervention delivered as designed? (methods
//! §11)

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::inputs::EventLog;
use crate::outcome::SpellRule;
use crate::panel::Panel;
use crate::stats::{self, Level, Light, Share, Thresholds};
use crate::table::{self, Table};

/// Process indicators: was the intervention delivered as designed? (methods
/// §11)
///
/// An [`Indicator`] judges each person followed long enough and gives, per
/// site (block) and overall, per arm and for both together, the share that
/// meets it with its Wilson interval and its traffic light ([`Thresholds`]).
/// From the event log ([`EventLog`]): [`Within`] (the first event of a type
/// within d weeks of referral: JobFirst's first talk within 4 weeks, 90%),
/// [`Every`] (an event in each window of m weeks: monthly talks) and
/// [`After`] (an event within d weeks of each event of another type: plan
/// updated after a placement); from the register, [`InactiveRun`] (the
/// longest run of inactive weeks in event weeks 0..=k is shorter than r
/// weeks: fewer than 4 weeks without activity). A person is judged only
/// when followed long enough (to the earlier of the register's follow-up
/// and the log's last week) and referred no earlier than the log's first
/// week (the weeks the log covers, [`EventLog::first_week`]); an event
/// before referral never counts.
///
/// ```
/// use trialpanel::simulate::{simulate, TrialSpec};
/// use trialpanel::estimators::{InactiveRun, inactive_run};
/// use trialpanel::stats::{Level, Thresholds};
/// use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons, SpellRule};
///
/// let trial = simulate(&TrialSpec { persons: 400, ..TrialSpec::default() })?;
/// let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default().block_column("municipality"))?;
/// let codes = CodeTable::from_frame(trial.codes, "codes")?;
/// let panel = Panel::builder(&persons, &codes)
///     .long_frame(trial.register, "register", &LongColumns::default())?;
/// let rule = InactiveRun { name: "active".into(), activity: SpellRule::default(), weeks: 12, shorter_than: 4 };
/// let table = inactive_run(&panel, &rule)?.table(Level::default(), &Thresholds::default());
/// let overall = table.rows.iter().find(|r| r.site == "all" && r.arm.is_none()).unwrap();
/// assert!(overall.share.is_some());
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// A process indicator (`[[process]]` in the analysis file, tagged by
/// `rule`): what a person must meet, judged per person followed long
/// enough.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum Indicator {
    /// From the register: the longest inactive run is short.
    Inactive(InactiveRun),
    /// From the event log: the first event of a type comes early.
    Within(Within),
    /// From the event log: an event of a type in every window.
    Every(Every),
    /// From the event log: a follow-up event after each event of a type.
    After(After),
}

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

/// The first `event` comes within `weeks` weeks of referral: at an event
/// week k with 0 ≤ k < `weeks` (JobFirst: first talk within 4 weeks).
/// Judged over the persons followed through event week `weeks` − 1.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Within {
    /// Indicator name, as in `process.csv`.
    pub name: String,
    /// The event type.
    pub event: String,
    /// The window in weeks, counting the referral week as the first.
    pub weeks: i32,
}

/// At least one `event` in each window of `weeks` weeks after referral
/// (event weeks jm..jm + m − 1, j = 0, 1, ...) that is fully followed and
/// ends by event week `through` (monthly talks: m = 4). A person is judged
/// when one window is; meets the rule when every judged window has an
/// event. The windows' own share is a second row (`<name> (windows)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Every {
    /// Indicator name, as in `process.csv`.
    pub name: String,
    /// The event type.
    pub event: String,
    /// Window length m in weeks.
    pub weeks: i32,
    /// Last event week a judged window may reach; default: as long as
    /// followed.
    #[serde(default)]
    pub through: Option<i32>,
}

/// An `event` (B) within `weeks` weeks of each `after` event (A): for an A
/// at event week a ≥ 0, a B at a..=a + weeks − 1 (plan updated after a
/// placement). An A is judged when followed through a + weeks − 1 (and
/// a ≤ `through`); a person is judged with one judged A, and meets the rule
/// when each has its B. The A events' own share is a second row
/// (`<name> (events)`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct After {
    /// Indicator name, as in `process.csv`.
    pub name: String,
    /// The event type looked for (B).
    pub event: String,
    /// The event type it should follow (A).
    pub after: String,
    /// The window after each A, in weeks, counting A's week as the first.
    pub weeks: i32,
    /// Last event week of a judged A; default: as long as followed.
    #[serde(default)]
    pub through: Option<i32>,
}

impl Indicator {
    /// The indicator's name.
    pub fn name(&self) -> &str {
        match self {
            Indicator::Inactive(r) => &r.name,
            Indicator::Within(r) => &r.name,
            Indicator::Every(r) => &r.name,
            Indicator::After(r) => &r.name,
        }
    }

    /// The rule in words, for the report.
    pub fn describe(&self) -> String {
        match self {
            Indicator::Inactive(r) => format!(
                "the longest run of inactive weeks in event weeks 0–{} is shorter than {} weeks, \
                 among the persons followed through week {}; a week is active when the register \
                 has {}{} (the event log's talks and contacts do not count, so this is lower \
                 than a count of any contact)",
                r.weeks,
                r.shorter_than,
                r.weeks,
                r.activity
                    .activity
                    .iter()
                    .map(|c| format!("`{c}`"))
                    .collect::<Vec<_>>()
                    .join(" or "),
                match r.activity.hours_threshold {
                    Some(t) => format!(", or hours above {t}"),
                    None => String::new(),
                }
            ),
            Indicator::Within(r) => format!(
                "a first `{}` event in event weeks 0–{} (within {} weeks of referral), among the \
                 persons followed through week {}",
                r.event,
                r.weeks - 1,
                r.weeks,
                r.weeks - 1
            ),
            Indicator::Every(r) => format!(
                "a `{}` event in every fully followed window of {} weeks after referral{}; the \
                 persons meeting it in all their windows, and the share of windows met",
                r.event,
                r.weeks,
                r.through
                    .map_or(String::new(), |t| format!(" up to week {t}"))
            ),
            Indicator::After(r) => format!(
                "a `{}` event within {} weeks of each `{}` event{}; the persons meeting it after \
                 each, and the share of `{}` events followed",
                r.event,
                r.weeks,
                r.after,
                r.through
                    .map_or(String::new(), |t| format!(" up to week {t}")),
                r.after
            ),
        }
    }

    /// `true` for the rules read from the event log.
    pub fn needs_events(&self) -> bool {
        !matches!(self, Indicator::Inactive(_))
    }

    /// [`Error::InvalidSetting`] unless every window and week is within
    /// its range (a window of 1 to [`MAX_RULE_WEEKS`] weeks; `through` and
    /// the inactive rule's `weeks` from 0 to [`MAX_RULE_WEEKS`]; a run
    /// shorter than 1 to `weeks` + 1 weeks) and the rule means something
    /// (an `after` rule looks for another event type than the one it
    /// follows).
    pub fn check(&self) -> Result<()> {
        let max = MAX_RULE_WEEKS;
        let problem = match self {
            Indicator::Inactive(r) if !(0..=max).contains(&r.weeks) => {
                Some(format!("weeks must be from 0 to {max}, not {}", r.weeks))
            }
            Indicator::Inactive(r)
                if r.shorter_than < 1 || i64::from(r.shorter_than) > i64::from(r.weeks) + 1 =>
            {
                Some(format!(
                    "shorter_than must be from 1 to weeks + 1 = {} (a longer run cannot fit in \
                     the weeks judged, so everyone would meet it), not {}",
                    r.weeks + 1,
                    r.shorter_than
                ))
            }
            Indicator::Within(Within { weeks, .. })
            | Indicator::Every(Every { weeks, .. })
            | Indicator::After(After { weeks, .. })
                if !(1..=max).contains(weeks) =>
            {
                Some(format!("weeks must be from 1 to {max}, not {weeks}"))
            }
            Indicator::Every(Every {
                through: Some(t), ..
            })
            | Indicator::After(After {
                through: Some(t), ..
            }) if !(0..=max).contains(t) => {
                Some(format!("through must be from 0 to {max}, not {t}"))
            }
            Indicator::After(r) if r.event.trim() == r.after.trim() => Some(format!(
                "looks for `{}` after `{}`: an event always follows itself, so every person \
                 would meet it; name two different event types",
                r.event, r.after
            )),
            _ => None,
        };
        match problem {
            Some(reason) => Err(Error::InvalidSetting {
                name: format!("process `{}`", self.name()),
                reason,
            }),
            None => Ok(()),
        }
    }

    /// The indicator over the persons of `panel`, with the event log
    /// `events` for the event-log rules ([`Error::InvalidSetting`] when it
    /// is needed and absent, or names an event type it lacks).
    pub fn judge(&self, panel: &Panel, events: Option<&EventLog>) -> Result<ProcessCounts> {
        let slots = events.map(|log| log.slots(panel.persons()));
        self.judge_in(panel, events.zip(slots.as_deref()))
    }

    /// [`Indicator::judge`] with the panel's persons already looked up in
    /// the log.
    fn judge_in(
        &self,
        panel: &Panel,
        events: Option<(&EventLog, &[(u32, u32)])>,
    ) -> Result<ProcessCounts> {
        self.check()?;
        let what = format!("process `{}`", self.name());
        let (log, slots) = match (self, events) {
            (Indicator::Inactive(rule), _) => return inactive_run(panel, rule),
            (_, Some(found)) => found,
            (_, None) => {
                return Err(Error::InvalidSetting {
                    name: what,
                    reason: "an event-log rule needs an event log (`[inputs] events`)".into(),
                });
            }
        };
        let judge: Judge = match self {
            Indicator::Inactive(rule) => return inactive_run(panel, rule),
            Indicator::Within(r) => {
                let (kind, d) = (log.kind(&r.event, &what)?, r.weeks);
                Box::new(move |weeks: &[i32], base: i32, kinds: &[u32], end: i32| {
                    let met = weeks
                        .iter()
                        .zip(kinds)
                        .any(|(&w, &t)| t == kind && (0..d).contains(&(w - base)));
                    Judged::person(end >= d - 1, met)
                })
            }
            Indicator::Every(r) => {
                let (kind, m) = (log.kind(&r.event, &what)?, r.weeks);
                let through = r.through.unwrap_or(i32::MAX);
                Box::new(move |weeks: &[i32], base: i32, kinds: &[u32], end: i32| {
                    let last = end.min(through);
                    let windows = if last < 0 { 0 } else { (last + 1) / m };
                    // One pass over the events: the windows with one.
                    let mut hit = vec![false; windows as usize];
                    for (&w, &t) in weeks.iter().zip(kinds) {
                        let k = w - base;
                        if t == kind && k >= 0 && k < windows * m {
                            hit[(k / m) as usize] = true;
                        }
                    }
                    let met = hit.iter().filter(|&&h| h).count() as u64;
                    Judged::units(windows as u64, met)
                })
            }
            Indicator::After(r) => {
                let (kind, first) = (log.kind(&r.event, &what)?, log.kind(&r.after, &what)?);
                let (d, through) = (r.weeks, r.through.unwrap_or(i32::MAX));
                Box::new(move |weeks: &[i32], base: i32, kinds: &[u32], end: i32| {
                    if !kinds.contains(&first) {
                        return Judged::units(0, 0);
                    }
                    // The B event weeks, in order (the events are sorted by week).
                    let b: Vec<i32> = weeks
                        .iter()
                        .zip(kinds)
                        .filter(|&(_, &t)| t == kind)
                        .map(|(&w, _)| w - base)
                        .collect();
                    let (mut judged, mut met) = (0u64, 0u64);
                    for (&w, &t) in weeks.iter().zip(kinds) {
                        let a = w - base;
                        if t == first && a >= 0 && a <= through && a + d - 1 <= end {
                            judged += 1;
                            let next = b.partition_point(|&k| k < a);
                            met += u64::from(b.get(next).is_some_and(|&k| k < a + d));
                        }
                    }
                    Judged::units(judged, met)
                })
            }
        };
        let persons = panel.persons();
        let (first, last) = (log.first_week(), log.last_week());
        let (counts, units) = tally_persons(panel, |p| {
            let followed = panel.followed_until(p)?;
            let referral = persons.referral_weeks()[p];
            // The log does not cover the start of this person's follow-up.
            if referral < first {
                return None;
            }
            let end = followed.min(last.event_week(referral));
            let (weeks, kinds) = log.events_at(slots[p]);
            let j = judge(weeks, referral.index(), kinds, end);
            j.judged.then_some(j)
        });
        let sites = persons.blocks().labels.clone();
        let unit = match self {
            Indicator::Every(_) => Some("windows"),
            Indicator::After(_) => Some("events"),
            _ => None,
        };
        Ok(ProcessCounts {
            indicator: self.name().to_string(),
            sites,
            counts,
            units: unit.map(|name| Units {
                name: name.to_string(),
                sums: units,
            }),
        })
    }
}

/// Every indicator of `rules` over the persons of `panel`, each person
/// looked up in the event log once for all of them.
pub fn judge_all(
    rules: &[Indicator],
    panel: &Panel,
    events: Option<&EventLog>,
) -> Result<Vec<ProcessCounts>> {
    let slots = match events {
        Some(log) if rules.iter().any(Indicator::needs_events) => Some(log.slots(panel.persons())),
        _ => None,
    };
    let events = events.zip(slots.as_deref());
    rules
        .iter()
        .map(|rule| rule.judge_in(panel, events))
        .collect()
}

/// Per site and arm, the persons judged and met ([met, judged]) and the
/// unit sums ([Σh, Σw, Σh², Σw², Σhw]) of the verdicts `judge` gives each
/// person of `panel` (`None`: not judged), over chunks of persons in
/// parallel (integer sums: the same for any number of threads).
fn tally_persons(panel: &Panel, judge: impl Fn(usize) -> Option<Judged> + Sync) -> Tallies {
    use rayon::prelude::*;
    let persons = panel.persons();
    let sites = persons.blocks().labels.len();
    let empty = || (vec![[[0usize; 2]; 2]; sites], vec![[[0u64; 5]; 2]; sites]);
    let starts: Vec<usize> = (0..panel.n_persons()).step_by(PERSONS_PER_TASK).collect();
    starts
        .par_iter()
        .map(|&first| {
            let (mut counts, mut units) = empty();
            for p in first..(first + PERSONS_PER_TASK).min(panel.n_persons()) {
                let Some(j) = judge(p) else { continue };
                let (site, arm) = (
                    persons.blocks().index[p] as usize,
                    persons.arms()[p] as usize,
                );
                counts[site][arm][0] += usize::from(j.met);
                counts[site][arm][1] += 1;
                let (w, h) = j.units;
                for (s, v) in units[site][arm].iter_mut().zip([h, w, h * h, w * w, h * w]) {
                    *s += v;
                }
            }
            (counts, units)
        })
        .reduce(empty, |mut a, b| {
            for (x, y) in a.0.iter_mut().zip(&b.0) {
                add(x, y);
            }
            for (x, y) in a.1.iter_mut().zip(&b.1) {
                add(x, y);
            }
            a
        })
}

/// Per site and arm: [met, judged] persons, and the unit sums.
type Tallies = (Vec<[[usize; 2]; 2]>, Vec<[[u64; 5]; 2]>);

/// Persons per parallel task of [`tally_persons`].
const PERSONS_PER_TASK: usize = 16_384;

/// A person's verdict from their events' week indices, their referral
/// week's index (event week = week − referral), the events' types and the
/// last event week they are followed.
type Judge = Box<dyn Fn(&[i32], i32, &[u32], i32) -> Judged + Sync>;

/// One person under a rule: judged at all, meeting it, and for the rules
/// with windows or events the (judged, met) units.
struct Judged {
    judged: bool,
    met: bool,
    units: (u64, u64),
}

impl Judged {
    fn person(judged: bool, met: bool) -> Judged {
        Judged {
            judged,
            met,
            units: (0, 0),
        }
    }

    /// Judged when a unit is; met when all are.
    fn units(judged: u64, met: u64) -> Judged {
        Judged {
            judged: judged > 0,
            met: met == judged,
            units: (judged, met),
        }
    }
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
    /// The windows or events judged, for `every` and `after`.
    pub units: Option<Units>,
}

/// The windows (`every`) or A events (`after`) judged: per site and arm,
/// over the persons judged, the sums [Σh, Σw, Σh², Σw², Σhw] of each
/// person's met (h) and judged (w) units.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Units {
    /// `windows` or `events`.
    pub name: String,
    /// Per site, per arm (control, treatment).
    pub sums: Vec<[[u64; 5]; 2]>,
}

/// [`InactiveRun`] over the persons of `panel`.
pub fn inactive_run(panel: &Panel, rule: &InactiveRun) -> Result<ProcessCounts> {
    Indicator::Inactive(rule.clone()).check()?;
    panel.check_weeks(&(0..=rule.weeks), &format!("process `{}`", rule.name))?;
    let activity = rule.activity.resolve(panel)?;
    let (counts, _) = tally_persons(panel, |p| {
        let span = panel.observed_span(p);
        if !(*span.start() <= 0 && *span.end() >= rule.weeks) {
            return None;
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
        Some(Judged::person(true, longest < rule.shorter_than))
    });
    let sites = panel.persons().blocks().labels.clone();
    Ok(ProcessCounts {
        indicator: rule.name.clone(),
        sites,
        counts,
        units: None,
    })
}

impl ProcessCounts {
    /// The counts of both `self` and `other` (disjoint persons, the same
    /// indicator), sites matched by label.
    pub fn merge(&mut self, other: &ProcessCounts) {
        for (i, (site, c)) in other.sites.iter().zip(&other.counts).enumerate() {
            let at = match self.sites.iter().position(|s| s == site) {
                Some(i) => i,
                None => {
                    self.sites.push(site.clone());
                    self.counts.push([[0; 2]; 2]);
                    if let Some(u) = &mut self.units {
                        u.sums.push([[0; 5]; 2]);
                    }
                    self.sites.len() - 1
                }
            };
            add(&mut self.counts[at], c);
            if let (Some(u), Some(o)) = (&mut self.units, &other.units) {
                add(&mut u.sums[at], &o.sums[i]);
            }
        }
    }

    /// The shares per site and overall (`all`), per arm and for both arms
    /// (`arm` = `None`), with Wilson intervals at `level` and their lights.
    pub fn table(&self, level: Level, thresholds: &Thresholds) -> ProcessTable {
        let mut rows = Vec::new();
        let mut row = |indicator: &str, site: &str, arm: Option<Arm>, share: Option<Share>| {
            let light = share.map(|s| thresholds.light(&s));
            rows.push(ProcessRow {
                indicator: indicator.to_string(),
                site: site.to_string(),
                arm,
                share,
                light: light.map(|l| l.0),
                uncertain: light.is_some_and(|l| l.1),
            });
        };
        // Per site and arm: [met, judged] persons, then the unit sums.
        let cells: Vec<[[u64; 7]; 2]> = (0..self.sites.len())
            .map(|i| {
                let units = self.units.as_ref().map_or([[0; 5]; 2], |u| u.sums[i]);
                std::array::from_fn(|a| {
                    let (c, u) = (self.counts[i][a], units[a]);
                    [c[0] as u64, c[1] as u64, u[0], u[1], u[2], u[3], u[4]]
                })
            })
            .collect();
        let mut total = [[0u64; 7]; 2];
        for c in &cells {
            add(&mut total, c);
        }
        let mut sites: Vec<(&str, &[[u64; 7]; 2])> = Vec::new();
        if self.sites.len() > 1 {
            sites.extend(self.sites.iter().map(String::as_str).zip(&cells));
        }
        sites.push((ALL_SITES, &total));
        let of_arm = |t: &[[u64; 7]; 2], arm: Option<Arm>| -> [u64; 7] {
            match arm {
                Some(a) => t[a as usize],
                None => std::array::from_fn(|j| t[0][j] + t[1][j]),
            }
        };
        let arms = [Some(Arm::Treatment), Some(Arm::Control), None];
        for &(site, t) in &sites {
            for arm in arms {
                let s = of_arm(t, arm);
                row(
                    &self.indicator,
                    site,
                    arm,
                    stats::wilson(s[0] as usize, s[1] as usize, level.get()),
                );
            }
        }
        if let Some(units) = &self.units {
            let indicator = format!("{} ({})", self.indicator, units.name);
            for &(site, t) in &sites {
                for arm in arms {
                    let s = of_arm(t, arm);
                    let sums = [s[2], s[3], s[4], s[5], s[6]];
                    row(
                        &indicator,
                        site,
                        arm,
                        stats::ratio_share(sums, s[1] as usize, level.get()),
                    );
                }
            }
        }
        ProcessTable { rows }
    }
}

/// `into += from`, cell by cell.
fn add<T: Copy + std::ops::AddAssign, const N: usize>(into: &mut [[T; N]; 2], from: &[[T; N]; 2]) {
    for (a, b) in into.iter_mut().flatten().zip(from.iter().flatten()) {
        *a += *b;
    }
}

/// The site label of the overall rows.
pub const ALL_SITES: &str = "all";

/// Longest window, and latest week, of a process rule: ten years of
/// weeks (a longer one is a typo, and one near `i32::MAX` would wrap).
pub const MAX_RULE_WEEKS: i32 = 520;

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
        let lit: Vec<_> = r
            .iter()
            .map(|x| {
                (
                    x.share.map(|s| (s.share, s.ci_low, s.ci_high)),
                    x.light,
                    x.uncertain,
                )
            })
            .collect();
        let mut columns = vec![
            table::strings("indicator", r.iter().map(|x| x.indicator.clone())),
            table::strings("site", r.iter().map(|x| x.site.clone())),
            table::optional_strings("arm", r.iter().map(|x| x.arm.map(|a| a.name().to_string()))),
            table::counts("n", r.iter().map(|x| Some(x.share.map_or(0, |s| s.n)))),
        ];
        columns.extend(table::lit_columns(&lit));
        table::frame("process", columns)
    }
}
