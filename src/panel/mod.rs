//! The aligned person-week panel: every person's benefit category and
//! hours at each event week k = calendar week − referral week ([`Panel`]),
//! built from a register read in parallel batches ([`PanelBuilder`]), with
//! the follow-up censored at the extract and at categories that end it.

mod builder;
mod grid;
mod read;

use std::ops::{Range, RangeInclusive};

use polars::prelude::{Column as PlColumn, DataFrame, IntoColumn, NamedFrom, Series};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::{Arm, Persons};
use crate::inputs::{Category, CodeTable};
use crate::weeks::Week;

pub(crate) use builder::{CORE_BYTES_PER_CELL, default_memory_budget, panel_order};
pub use builder::{DEFAULT_MAX_UNKNOWN_SHARE, PanelBuilder};
pub(crate) use grid::{Grid, Put, Slot, centihours};
pub use read::wide_span;

/// Hours are stored as hundredths of an hour in a `u16`.
pub const HOURS_SCALE: f64 = 100.0;
/// Largest accepted weekly hours (a week has 168 hours).
pub const MAX_HOURS: f64 = 168.0;
/// Default number of weeks of history before referral kept in the panel.
pub const DEFAULT_HISTORY_WEEKS: i32 = 52;

/// Persons of one arm, one block and (in a clustered design) one cluster: a
/// contiguous range of panel positions, sorted by referral week.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The arm of every person in the group.
    pub arm: Arm,
    /// Block index into [`Persons::blocks`] labels.
    pub block: u32,
    /// Cluster index into [`Persons::clusters`] labels; 0 without clusters.
    pub cluster: u32,
    /// Panel positions of the group's persons.
    pub persons: Range<usize>,
}

/// Number of persons observed at one event week, per arm.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct AtRisk {
    /// Event week.
    pub week: i32,
    /// Treatment persons observed at that week.
    pub treatment: usize,
    /// Control persons observed at that week.
    pub control: usize,
}

/// What loading the register skipped or found, for the analyst's log.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct LoadReport {
    /// Register rows read.
    pub rows: usize,
    /// Rows skipped because their person is not in the person table
    /// (only with [`PanelBuilder::ignore_unknown_persons`]).
    pub unknown_person_rows: usize,
    /// Rows outside the panel's event-week window or the observed weeks.
    pub rows_outside_window: usize,
    /// Persons per arm (control, treatment) with no register data: no
    /// benefit and no hours in any event week kept.
    pub persons_without_data: [usize; 2],
    /// Persons per arm (control, treatment).
    pub persons: [usize; 2],
    /// Runs of observed weeks (first, last) in which a long register has no
    /// row at all, for anyone. Such weeks count as no benefit and no hours
    /// for everyone followed then, which is right only if the register
    /// really covers them (an extract that ends earlier than
    /// `observed_until`, a stray row years away from the rest, a week
    /// missing from the export are not). Always empty for a wide register,
    /// whose header lists its weeks.
    pub weeks_without_rows: Vec<(Week, Week)>,
}

impl LoadReport {
    /// Add the counts of another part of the same register's persons
    /// ([`PanelBuilder::part`]): persons and rows outside the window are
    /// per part; the rows read, unknown persons and weeks without rows are
    /// the whole register's in every part.
    pub(crate) fn add_part(&mut self, other: &LoadReport) {
        self.rows_outside_window += other.rows_outside_window;
        for arm in 0..2 {
            self.persons[arm] += other.persons[arm];
            self.persons_without_data[arm] += other.persons_without_data[arm];
        }
    }

    /// Warnings for the analyst: what the load assumed that may be wrong.
    pub fn warnings(&self, observed: RangeInclusive<Week>) -> Vec<String> {
        let mut out = Vec::new();
        if self.unknown_person_rows > 0 {
            out.push(format!(
                "{} of {} register rows ({:.2}%) belong to persons not in the person table and \
                 were skipped (`ignore_unknown_persons`)",
                self.unknown_person_rows,
                self.rows,
                100.0 * self.unknown_person_rows as f64 / self.rows.max(1) as f64
            ));
        }
        let share =
            |arm: usize| self.persons_without_data[arm] as f64 / self.persons[arm].max(1) as f64;
        let (c, t) = (share(0), share(1));
        if c.max(t) >= 0.5 || (c - t).abs() >= 0.1 {
            out.push(format!(
                "{} of {} treatment persons ({:.1}%) and {} of {} control persons ({:.1}%) have \
                 no register data (no benefit and no hours in any week kept): check that the \
                 register covers both arms and that its ids match the person table",
                self.persons_without_data[1],
                self.persons[1],
                100.0 * t,
                self.persons_without_data[0],
                self.persons[0],
                100.0 * c
            ));
        }
        let n: i32 = self
            .weeks_without_rows
            .iter()
            .map(|(a, b)| b.event_week(*a) + 1)
            .sum();
        if n == 0 {
            return out;
        }
        let runs: Vec<String> = self
            .weeks_without_rows
            .iter()
            .take(5)
            .map(|(a, b)| {
                if a == b {
                    a.to_string()
                } else {
                    format!("{a} to {b}")
                }
            })
            .collect();
        let more = if self.weeks_without_rows.len() > 5 {
            ", ..."
        } else {
            ""
        };
        let mut advice = Vec::new();
        if let Some(&(a, b)) = self.weeks_without_rows.last()
            && b == *observed.end()
        {
            advice.push(format!(
                "if the extract ends before {a}, set `observed_until` to {}",
                a.plus(-1)
            ));
        }
        if let Some(&(a, b)) = self.weeks_without_rows.first()
            && a == *observed.start()
        {
            advice.push(format!(
                "if the register starts after {b}, set `observed_from` to {}",
                b.plus(1)
            ));
        }
        if advice.is_empty() {
            advice.push("check that the export holds every week".into());
        }
        out.push(format!(
            "the register has no rows at all in {n} of the observed weeks {} to {} ({}{more}); \
             they were counted as weeks without benefit and without hours for everyone followed \
             then: {}",
            observed.start(),
            observed.end(),
            runs.join(", "),
            advice.join("; ")
        ));
        out
    }
}

/// A validated person-week panel, aligned on event weeks.
///
/// A [`Panel`] holds, for every person and every event week k in a window
/// `k_min..=k_max`, the week's benefit category (one byte) and ordinary hours
/// (two bytes, in hundredths of an hour): three bytes per person-week.
///
/// **Layout.** Values are stored week-major: all persons' values for event
/// week `k_min`, then all for `k_min + 1`, and so on. Persons are ordered by
/// arm (control first), then block, then referral week, then id. A person is
/// *observed* at event week k when `observed_from ≤ referral + k ≤
/// observed_until`; because persons in a group are sorted by referral week,
/// the persons observed at k form one contiguous range of each (arm, block)
/// group ([`Panel::observed`]). One week's reduction over one arm is
/// therefore a scan of a few contiguous slices, with no branching on
/// follow-up.
///
/// **Censoring.** `observed_until` defaults to the last week present in the
/// register; a person referred in week r is followed through event week
/// `observed_until − r`. Values at person-weeks that are not observed are
/// stored as `none` and 0 hours and must not be used: reductions go through
/// [`Panel::observed`].
///
/// **DREAM semantics.** A person with no register row in an observed week
/// has a blank code (category `none`) and 0 hours that week.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    persons: Persons,
    groups: Vec<Group>,
    k_min: i32,
    n_weeks: usize,
    observed_from: Week,
    observed_until: Week,
    codes: CodeTable,
    /// One column of all persons' categories per event week.
    category: Vec<Box<[u8]>>,
    /// One column of all persons' hundredths of an hour per event week.
    hours: Vec<Box<[u16]>>,
    /// When some person's follow-up ended early: each person's first event
    /// week (≥ 0) with a category that ends follow-up, `i32::MAX` for none.
    /// The cells from that week on hold [`Category::ENDED`] and 0 hours.
    ended: Option<Vec<i32>>,
    report: LoadReport,
}

impl Panel {
    /// Start building a panel for `persons` whose codes map through `codes`.
    pub fn builder<'a>(persons: &'a Persons, codes: &'a CodeTable) -> PanelBuilder<'a> {
        PanelBuilder::new(persons, codes)
    }

    /// Persons in panel order (arm, block, cluster, referral week, id).
    pub fn persons(&self) -> &Persons {
        &self.persons
    }

    /// Number of persons.
    pub fn n_persons(&self) -> usize {
        self.persons.len()
    }

    /// The (arm, block) groups, control groups first.
    pub fn groups(&self) -> &[Group] {
        &self.groups
    }

    /// The code table the categories come from.
    pub fn codes(&self) -> &CodeTable {
        &self.codes
    }

    /// Event weeks held: `k_min..=k_max`.
    pub fn event_weeks(&self) -> RangeInclusive<i32> {
        self.k_min..=self.k_min + self.n_weeks as i32 - 1
    }

    /// [`Error::InvalidSetting`] named `what` unless event weeks `weeks`
    /// are non-empty and inside the panel's window: the one check, and the
    /// one wording, of every computation that reads given weeks.
    pub(crate) fn check_weeks(&self, weeks: &RangeInclusive<i32>, what: &str) -> Result<()> {
        let window = self.event_weeks();
        if !weeks.is_empty() && window.contains(weeks.start()) && window.contains(weeks.end()) {
            return Ok(());
        }
        Err(Error::InvalidSetting {
            name: what.into(),
            reason: format!(
                "event weeks {}..={} are not all inside the panel's event weeks {}..={}",
                weeks.start(),
                weeks.end(),
                window.start(),
                window.end()
            ),
        })
    }

    /// First calendar week the register covers.
    pub fn observed_from(&self) -> Week {
        self.observed_from
    }

    /// Last calendar week the register covers (the end of follow-up).
    pub fn observed_until(&self) -> Week {
        self.observed_until
    }

    /// Bytes of the panel core, the category and hours arrays: 3 per
    /// person-week.
    pub fn core_bytes(&self) -> usize {
        self.n_weeks * self.n_persons() * CORE_BYTES_PER_CELL
    }

    /// What loading skipped.
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    /// [`LoadReport::warnings`] for this panel's observed weeks.
    pub fn load_warnings(&self) -> Vec<String> {
        self.report
            .warnings(self.observed_from..=self.observed_until)
    }

    pub(crate) fn report_mut(&mut self) -> &mut LoadReport {
        &mut self.report
    }

    fn offset(&self, k: i32) -> Option<usize> {
        self.event_weeks()
            .contains(&k)
            .then(|| (k - self.k_min) as usize)
    }

    /// Categories of all persons at event week `k` (panel order), or `None`
    /// when `k` is outside the panel's window.
    pub fn categories(&self, k: i32) -> Option<&[u8]> {
        Some(&self.category[self.offset(k)?])
    }

    /// Hours in hundredths of an hour of all persons at event week `k`.
    /// Divide by [`HOURS_SCALE`] for hours.
    pub fn centihours(&self, k: i32) -> Option<&[u16]> {
        Some(&self.hours[self.offset(k)?])
    }

    /// Category of panel person `p` at event week `k`, if observed.
    pub fn category_at(&self, p: usize, k: i32) -> Option<Category> {
        self.is_observed(p, k)
            .then(|| self.categories(k).map(|c| Category(c[p])))
            .flatten()
    }

    /// Hours of panel person `p` at event week `k`, if observed.
    pub fn hours_at(&self, p: usize, k: i32) -> Option<f64> {
        self.is_observed(p, k)
            .then(|| self.centihours(k).map(|h| f64::from(h[p]) / HOURS_SCALE))
            .flatten()
    }

    /// Mark the weeks after each person's follow-up ended (methods §10):
    /// from the first week at or after referral whose category ends
    /// follow-up, the person is not observed.
    fn end_followup(&mut self) {
        if !self.codes.has_ends() {
            return;
        }
        let n = self.n_persons();
        let mut ended = vec![i32::MAX; n];
        for k in self.k_min.max(0)..=*self.event_weeks().end() {
            let Some(w) = self.offset(k) else { continue };
            for (p, end) in ended.iter_mut().enumerate() {
                if *end == i32::MAX
                    && self.codes.ends_followup(Category(self.category[w][p]))
                    && self.admin_span(p).contains(&k)
                {
                    *end = k;
                }
            }
        }
        for (p, &end) in ended.iter().enumerate() {
            if end == i32::MAX {
                continue;
            }
            for k in end..=*self.event_weeks().end() {
                if let Some(w) = self.offset(k) {
                    self.category[w][p] = Category::ENDED.0;
                    self.hours[w][p] = 0;
                }
            }
        }
        // Kept only when someone's follow-up ended: its presence is the
        // cheap test of `has_ended_followup`.
        if ended.iter().any(|&k| k != i32::MAX) {
            self.ended = Some(ended);
        }
    }

    /// The event week at which panel person `p`'s follow-up ended (its
    /// first week with a category that ends follow-up), if it did.
    pub fn followup_ended(&self, p: usize) -> Option<i32> {
        self.ended
            .as_ref()
            .and_then(|e| e.get(p).copied())
            .filter(|&k| k != i32::MAX)
    }

    /// `true` when panel person `p` is observed at event week `k`.
    pub fn is_observed(&self, p: usize, k: i32) -> bool {
        self.observed_span(p).contains(&k)
    }

    /// The event weeks at which panel person `p` is observed: the panel's
    /// window intersected with `observed_from − referral ..= observed_until −
    /// referral` (empty for an unknown `p`).
    pub fn observed_span(&self, p: usize) -> RangeInclusive<i32> {
        let span = self.admin_span(p);
        match self.followup_ended(p) {
            Some(end) => *span.start()..=(*span.end()).min(end - 1),
            None => span,
        }
    }

    /// The observed span without follow-up ending: the window intersected
    /// with the observed weeks.
    fn admin_span(&self, p: usize) -> RangeInclusive<i32> {
        let window = self.event_weeks();
        let Some(&referral) = self.persons.referral_weeks().get(p) else {
            return *window.end()..=*window.start() - 1;
        };
        let first = self.observed_from.event_week(referral).max(*window.start());
        let last = self.observed_until.event_week(referral).min(*window.end());
        first..=last
    }

    /// Last event week at which panel person `p` is observed
    /// (`observed_until − referral`, or the week before the follow-up
    /// ended).
    pub fn followed_until(&self, p: usize) -> Option<i32> {
        let admin = self
            .persons
            .referral_weeks()
            .get(p)
            .map(|&r| self.observed_until.event_week(r))?;
        Some(match self.followup_ended(p) {
            Some(end) => admin.min(end - 1),
            None => admin,
        })
    }

    /// `true` when some person's follow-up ended early.
    pub fn has_ended_followup(&self) -> bool {
        self.ended.is_some()
    }

    /// For each group, the panel positions of its persons observed at event
    /// week `k`: a contiguous range (empty when none is observed or `k` is
    /// outside the window). When follow-up can end early, the range also
    /// holds persons whose follow-up ended: their cells at `k` are
    /// [`Category::ENDED`] (and their outcome values missing).
    pub fn observed(&self, k: i32) -> impl Iterator<Item = (&Group, Range<usize>)> + '_ {
        self.groups
            .iter()
            .map(move |g| (g, self.observed_among(g.persons.clone(), k)))
    }

    /// The panel positions among `persons` (a run of one group's persons,
    /// which are sorted by referral week) observed at event week `k`: a
    /// contiguous range, empty when `k` is outside the window.
    pub(crate) fn observed_among(&self, persons: Range<usize>, k: i32) -> Range<usize> {
        if !self.event_weeks().contains(&k) {
            return persons.start..persons.start;
        }
        let referral = &self.persons.referral_weeks()[persons.clone()];
        let (lo, hi) = (self.observed_from.plus(-k), self.observed_until.plus(-k));
        let start = persons.start + referral.partition_point(|&w| w < lo);
        let end = persons.start + referral.partition_point(|&w| w <= hi);
        start..end.max(start)
    }

    /// Persons observed at event week `k`, per arm.
    pub fn at_risk(&self, k: i32) -> AtRisk {
        let mut n = [0usize; 2];
        let ended = self.has_ended_followup();
        let cats = self.categories(k).unwrap_or_default();
        for (g, range) in self.observed(k) {
            n[g.arm as usize] += if ended {
                cats[range]
                    .iter()
                    .filter(|&&c| c != Category::ENDED.0)
                    .count()
            } else {
                range.len()
            };
        }
        AtRisk {
            week: k,
            treatment: n[Arm::Treatment as usize],
            control: n[Arm::Control as usize],
        }
    }

    /// [`Panel::at_risk`] for every event week of the panel.
    pub fn at_risk_all(&self) -> Vec<AtRisk> {
        self.event_weeks().map(|k| self.at_risk(k)).collect()
    }

    /// The at-risk counts as a tidy table: `week, n_treat, n_control`.
    pub fn at_risk_frame(&self) -> Result<DataFrame> {
        let rows = self.at_risk_all();
        let col = |name: &str, f: &dyn Fn(&AtRisk) -> i64| -> PlColumn {
            Series::new(name.into(), rows.iter().map(f).collect::<Vec<i64>>()).into_column()
        };
        DataFrame::new(
            rows.len(),
            vec![
                col("week", &|r| i64::from(r.week)),
                col("n_treat", &|r| r.treatment as i64),
                col("n_control", &|r| r.control as i64),
            ],
        )
        .map_err(|e| Error::Internal {
            what: "the at-risk table".into(),
            message: e.to_string(),
        })
    }
}
