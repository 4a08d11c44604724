use std::ops::{Range, RangeInclusive};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicUsize, Ordering};

use polars::prelude::{Column as PlColumn, DataFrame, IntoColumn, NamedFrom, Series};
use rayon::prelude::*;
use serde::Serialize;

use crate::codes::{Category, CodeTable};
use crate::error::{Error, Result};
pub use crate::io::LoadProgress;
use crate::io::Pace;
use crate::persons::{Arm, Persons};
use crate::weeks::Week;

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
        PanelBuilder {
            persons,
            codes,
            observed_from: None,
            observed_until: None,
            first_event_week: None,
            last_event_week: None,
            ignore_unknown_persons: false,
            max_unknown_share: DEFAULT_MAX_UNKNOWN_SHARE,
            batch_rows: DEFAULT_BATCH_ROWS,
            memory_budget: default_memory_budget(),
            progress: None,
            part: None,
            order: None,
        }
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
        .map_err(|e| Error::InvalidSetting {
            name: "at-risk table".into(),
            reason: e.to_string(),
        })
    }
}

/// Configures how a register is aligned into a [`Panel`].
///
/// Defaults: the observed weeks are those present in the register; the
/// event-week window runs from 52 weeks before referral (or the earliest
/// week the register covers for anyone, if later) to the longest follow-up;
/// register rows for persons not in the person table are an error.
#[derive(Clone, Debug)]
pub struct PanelBuilder<'a> {
    pub(crate) persons: &'a Persons,
    pub(crate) codes: &'a CodeTable,
    pub(crate) observed_from: Option<Week>,
    pub(crate) observed_until: Option<Week>,
    pub(crate) first_event_week: Option<i32>,
    pub(crate) last_event_week: Option<i32>,
    pub(crate) ignore_unknown_persons: bool,
    pub(crate) max_unknown_share: f64,
    batch_rows: usize,
    memory_budget: u64,
    progress: Option<Progress<'a>>,
    /// Person table rows of the part being read, in panel order
    /// ([`PanelBuilder::part`]); `None`: every person.
    part: Option<&'a [usize]>,
    /// [`panel_order`] of the person table, when the caller has it.
    order: Option<&'a [usize]>,
}

/// Default [`PanelBuilder::batch_rows`].
pub(crate) const DEFAULT_BATCH_ROWS: usize = 1 << 16;

impl<'a> PanelBuilder<'a> {
    /// The last week the register covers (the data extract week). Rows after
    /// it are ignored. Default: the last week present in the register.
    pub fn observed_until(mut self, week: Week) -> Self {
        self.observed_until = Some(week);
        self
    }

    /// The first week the register covers. Rows before it are ignored.
    /// Default: the first week present in the register.
    pub fn observed_from(mut self, week: Week) -> Self {
        self.observed_from = Some(week);
        self
    }

    /// Keep event weeks `first..=last` (`first ≤ 0 ≤ last` is not required).
    pub fn event_weeks(mut self, first: i32, last: i32) -> Self {
        self.first_event_week = Some(first);
        self.last_event_week = Some(last);
        self
    }

    /// Keep event weeks from `first` on (the last one stays at its default,
    /// the longest follow-up).
    pub fn first_event_week(mut self, first: i32) -> Self {
        self.first_event_week = Some(first);
        self
    }

    /// Keep event weeks up to `last` (the first one stays at its default).
    pub fn last_event_week(mut self, last: i32) -> Self {
        self.last_event_week = Some(last);
        self
    }

    /// Skip (and count) register rows of persons not in the person table
    /// instead of failing.
    pub fn ignore_unknown_persons(mut self, ignore: bool) -> Self {
        self.ignore_unknown_persons = ignore;
        self
    }

    /// Most share of the register's rows that
    /// [`PanelBuilder::ignore_unknown_persons`] may skip (default 0.05); more
    /// is [`Error::TooManyUnknownPersons`], as ids that lost their leading
    /// zeros or changed case would otherwise empty the panel silently. A
    /// share outside 0–1 is [`Error::InvalidSetting`].
    pub fn max_unknown_share(mut self, share: f64) -> Self {
        self.max_unknown_share = share;
        self
    }

    /// Rows per batch when a register is read (default 65,536; a CSV block
    /// also ends at 8 MiB). Batches are read in parallel; the panel, the
    /// load report and every error are the same for every batch size and
    /// number of threads.
    pub fn batch_rows(mut self, rows: usize) -> Self {
        self.batch_rows = rows.max(1);
        self
    }

    /// The most memory the panel core may take, in bytes (default: half of
    /// the machine's memory, or 4 GB where it cannot be read). A register
    /// whose panel would need more fails at once with
    /// [`Error::MemoryBudget`], naming what it needs, before the panel is
    /// filled. (An [`Analysis`](crate::analysis::Analysis) reads such a
    /// register in parts of the persons instead.)
    pub fn memory_budget(mut self, bytes: u64) -> Self {
        self.memory_budget = bytes;
        self
    }

    /// Call `report` with the rows and bytes read so far while the register
    /// is read (about every quarter second, from a reading thread).
    pub fn progress(mut self, report: &'a (dyn Fn(&LoadProgress) + Sync)) -> Self {
        self.progress = Some(Progress(report));
        self
    }

    /// Build the panel of only the persons at person table rows `rows` (a
    /// contiguous run of [`panel_order`]), for an analysis read in parts.
    /// The register is read and checked whole, as for the full panel: its
    /// observed weeks, unknown persons, codes and row count are the same in
    /// every part, and rows of the other parts' persons are skipped after
    /// they are checked. The event-week window must be fixed by the
    /// settings or the register's whole rows so that every part has the
    /// same one; the memory budget applies to the part.
    pub(crate) fn part(mut self, rows: &'a [usize]) -> Self {
        self.part = Some(rows);
        self
    }

    /// The person table's [`panel_order`], already computed, so that the
    /// builder does not sort the persons again.
    pub(crate) fn with_order(mut self, order: &'a [usize]) -> Self {
        self.order = Some(order);
        self
    }

    /// Persons in the panel (the part's, or all).
    fn n_in_panel(&self) -> usize {
        self.part.map_or(self.persons.len(), <[usize]>::len)
    }

    /// How the register is read: batch rows and the progress callback.
    pub(crate) fn pace(&self) -> Pace<'a> {
        Pace {
            batch_rows: self.batch_rows,
            progress: self.progress.map(|Progress(f)| f),
        }
    }

    /// An empty grid to fill. `span` is the register's first and last week
    /// when they are known before reading (a wide register's header);
    /// otherwise the observed weeks default to those seen while reading and
    /// event weeks are kept lazily, one column as it is first written.
    pub(crate) fn grid(&self, span: Option<(Week, Week)>) -> Result<Grid> {
        let referral = self.persons.referral_weeks();
        // Non-empty person table: checked when it was read.
        let min_ref = referral
            .iter()
            .min()
            .copied()
            .unwrap_or(Week::from_index(0));
        let max_ref = referral
            .iter()
            .max()
            .copied()
            .unwrap_or(Week::from_index(0));
        let from = self.observed_from.or(span.map(|s| s.0));
        let until = self.observed_until.or(span.map(|s| s.1));
        // Event weeks a register row can land in: the settings, or else what
        // the observed weeks allow (all of ISO years 1900-2200 when unknown).
        let k_lo = self.first_event_week.unwrap_or_else(|| match from {
            Some(f) => (-DEFAULT_HISTORY_WEEKS).max(f.event_week(max_ref)),
            None => -DEFAULT_HISTORY_WEEKS,
        });
        let k_hi = self
            .last_event_week
            .unwrap_or_else(|| until.unwrap_or(Week::LAST).event_week(min_ref));
        let span = i64::from(k_hi) - i64::from(k_lo) + 1;
        let n_lazy = usize::try_from(span.clamp(0, MAX_SPAN)).unwrap_or(0);
        // A window fixed by the settings or by known observed weeks: refuse
        // an oversized panel before reading anything.
        if let (Some(first), Some(last)) = (self.first_event_week, self.last_event_week) {
            let weeks = (i64::from(last) - i64::from(first) + 1).clamp(0, MAX_SPAN);
            self.check_budget(weeks as usize, "")?;
        }
        if let (Some(from), Some(until)) = (from, until) {
            let (k_min, k_max) = self.window(from, until)?;
            self.check_budget((k_max - k_min + 1) as usize, "")?;
        }

        let (order, local) = match self.part {
            None => (
                self.order
                    .map_or_else(|| panel_order(self.persons), <[usize]>::to_vec),
                None,
            ),
            Some(rows) => {
                let mut local = vec![NOT_IN_PART; self.persons.len()].into_boxed_slice();
                for (i, &row) in rows.iter().enumerate() {
                    local[row] = i as u32;
                }
                (rows.to_vec(), Some(local))
            }
        };
        // One tile when the window is known and the transposition's moment
        // of two copies fits the budget; else tiles of TILE_WEEKS.
        let whole = n_lazy <= WHOLE_TILE_WEEKS
            && (2 * n_lazy * order.len() * CORE_BYTES_PER_CELL) as u64 <= self.memory_budget;
        let per_tile = if whole { n_lazy.max(1) } else { TILE_WEEKS };
        Ok(Grid {
            order,
            local,
            k_lo,
            from,
            until,
            per_tile,
            tiles: (0..n_lazy.div_ceil(per_tile))
                .map(|_| OnceLock::new())
                .collect(),
            n_columns: n_lazy,
            checked: false,
            columns: AtomicUsize::new(0),
            max_columns: usize::try_from(
                self.memory_budget / (self.n_in_panel().max(1) * CORE_BYTES_PER_CELL) as u64,
            )
            .unwrap_or(usize::MAX),
            report: LoadReport::default(),
        })
    }

    /// Turn a filled grid into the panel. `seen` is the first and last week
    /// of the register's rows, for the observed weeks not set or known.
    pub(crate) fn finish(&self, grid: Grid, seen: Option<(Week, Week)>) -> Result<Panel> {
        let Grid {
            order,
            local,
            per_tile,
            k_lo,
            from,
            until,
            tiles,
            n_columns: n_grid,
            checked: _,
            columns: _,
            max_columns: _,
            mut report,
        } = grid;
        let (Some(from), Some(until)) = (from.or(seen.map(|s| s.0)), until.or(seen.map(|s| s.1)))
        else {
            return Err(Error::InvalidSetting {
                name: "observed weeks".into(),
                reason: "the register has no rows to take them from; set observed_from and \
                         observed_until"
                    .into(),
            });
        };
        let (k_min, k_max) = self.window(from, until)?;
        let n = order.len();
        let n_weeks = (k_max - k_min + 1) as usize;
        self.check_budget(n_weeks, "")?;
        // Every grid week as a column (`None`: its tile was never written),
        // tile by tile, each tile freed once transposed. A part's tiles hold
        // its persons in panel order already.
        let tile_rows: Vec<usize> = match local {
            Some(_) => (0..n).collect(),
            None => order.clone(),
        };
        let mut columns: Vec<Option<WeekColumn>> = tiles
            .into_par_iter()
            .map(|t| match t.into_inner() {
                Some(t) => t.into_columns(&tile_rows).into_iter().map(Some).collect(),
                None => Vec::new(),
            })
            .collect::<Vec<Vec<_>>>()
            .into_iter()
            .enumerate()
            .flat_map(|(t, cols)| {
                let pad = tile_width(n_grid, per_tile, t) - cols.len();
                cols.into_iter().chain((0..pad).map(|_| None))
            })
            .collect();
        let (category, hours): (Vec<_>, Vec<_>) = (k_min..=k_max)
            .map(|k| {
                let column = usize::try_from(i64::from(k) - i64::from(k_lo))
                    .ok()
                    .and_then(|i| columns.get_mut(i))
                    .and_then(Option::take);
                match column {
                    Some(c) => (c.category, c.hours),
                    None => (
                        vec![Category::NONE.0; n].into_boxed_slice(),
                        vec![0u16; n].into_boxed_slice(),
                    ),
                }
            })
            .unzip();
        // Rows written to event weeks that the final window does not keep
        // (none, as the window's defaults are the bounds `put` used; each
        // such row set one cell).
        report.rows_outside_window += columns.iter().flatten().map(|c| c.set).sum::<usize>();
        drop(columns);

        drop(tile_rows);
        let persons = self.persons.reordered(&order);
        let mut has_data = vec![false; n];
        for (c, h) in category.iter().zip(&hours) {
            for ((d, &c), &h) in has_data.iter_mut().zip(c.iter()).zip(h.iter()) {
                *d |= c != Category::NONE.0 || h != 0;
            }
        }
        for (&arm, &d) in persons.arms().iter().zip(&has_data) {
            report.persons[arm as usize] += 1;
            report.persons_without_data[arm as usize] += usize::from(!d);
        }
        let mut groups: Vec<Group> = Vec::new();
        let cluster = |p: usize| persons.clusters().map_or(0, |c| c.index[p]);
        for (p, (&arm, &block)) in persons
            .arms()
            .iter()
            .zip(&persons.blocks().index)
            .enumerate()
        {
            let cluster = cluster(p);
            match groups.last_mut() {
                Some(g) if g.arm == arm && g.block == block && g.cluster == cluster => {
                    g.persons.end = p + 1
                }
                _ => groups.push(Group {
                    arm,
                    block,
                    cluster,
                    persons: p..p + 1,
                }),
            }
        }
        let mut panel = Panel {
            persons,
            groups,
            k_min,
            n_weeks,
            observed_from: from,
            observed_until: until,
            codes: self.codes.clone(),
            category,
            hours,
            ended: None,
            report,
        };
        panel.end_followup();
        Ok(panel)
    }

    /// [`Error::MemoryBudget`] when a panel of `n_weeks` event weeks would
    /// not fit in the budget (`at_least` is prefixed to the week count when
    /// the final count is not known yet).
    pub(crate) fn check_budget(&self, n_weeks: usize, at_least: &str) -> Result<()> {
        let n = self.n_in_panel();
        let needed = (n_weeks as u64).saturating_mul(n as u64 * CORE_BYTES_PER_CELL as u64);
        if needed <= self.memory_budget {
            return Ok(());
        }
        Err(Error::MemoryBudget {
            what: format!("a panel of {n} persons × {at_least}{n_weeks} event weeks"),
            needed,
            budget: self.memory_budget,
        })
    }

    /// Check the observed weeks against the referral weeks and fix the
    /// event-week window `k_min..=k_max`.
    fn window(&self, from: Week, until: Week) -> Result<(i32, i32)> {
        if from > until {
            return Err(Error::InvalidSetting {
                name: "observed weeks".into(),
                reason: format!("observed_from {from} is after observed_until {until}"),
            });
        }
        let referral = self.persons.referral_weeks();
        if let Some((row, &r)) = referral
            .iter()
            .enumerate()
            .find(|&(_, &r)| r < from || r > until)
        {
            return Err(Error::ReferralOutsideRegister {
                file: self.persons.source().to_path_buf(),
                row: row + 1,
                id: self.persons.ids()[row].clone(),
                referral: r,
                from,
                until,
            });
        }
        let min_ref = referral.iter().min().copied().unwrap_or(from);
        let max_ref = referral.iter().max().copied().unwrap_or(from);
        let k_min = self
            .first_event_week
            .unwrap_or((-DEFAULT_HISTORY_WEEKS).max(from.event_week(max_ref)));
        let k_max = self.last_event_week.unwrap_or(until.event_week(min_ref));
        if k_min > k_max || i64::from(k_max) - i64::from(k_min) >= MAX_SPAN {
            return Err(Error::InvalidSetting {
                name: "event-week window".into(),
                reason: format!(
                    "event weeks {k_min} to {k_max} (from the observed weeks {from} to {until}, \
                     and in an analysis file from [weeks] first and last, the balance history \
                     windows and the spell's first week): the first must not be after the last, \
                     and the window must be under {MAX_SPAN} weeks"
                ),
            });
        }
        Ok((k_min, k_max))
    }
}

/// Default [`PanelBuilder::max_unknown_share`].
pub const DEFAULT_MAX_UNKNOWN_SHARE: f64 = 0.05;

/// Bytes per person-week of the panel core: a category byte and a `u16` of
/// hundredths of an hour.
pub(crate) const CORE_BYTES_PER_CELL: usize = 3;

/// A window wider than the span of all ISO weeks 1900-2200 cannot hold data.
const MAX_SPAN: i64 = 20_000;

/// Marks a person-week with no register row yet, to detect duplicates.
const UNSET: u8 = u8::MAX;

/// [`Grid`]'s mark of a person outside the part being read.
const NOT_IN_PART: u32 = u32::MAX;

/// Person table rows in panel order: arm, block, cluster, referral week, then person
/// id (not table order, so that reordering the person table changes no
/// result, not even in the last bit).
pub(crate) fn panel_order(persons: &Persons) -> Vec<usize> {
    let blocks = &persons.blocks().index;
    let (arms, referral, ids) = (persons.arms(), persons.referral_weeks(), persons.ids());
    let clusters = persons.clusters().map(|c| c.index.as_slice());
    let cluster = |p: usize| clusters.map_or(0, |c| c[p]);
    let mut order: Vec<usize> = (0..persons.len()).collect();
    // Ids are unique, so the order is total and an unstable sort is exact.
    order.par_sort_unstable_by(|&a, &b| {
        (arms[a], blocks[a], cluster(a), referral[a])
            .cmp(&(arms[b], blocks[b], cluster(b), referral[b]))
            .then_with(|| ids[a].cmp(&ids[b]))
    });
    order
}

/// A progress callback; a newtype so that the builder stays `Debug`.
#[derive(Clone, Copy)]
pub(crate) struct Progress<'a>(&'a (dyn Fn(&LoadProgress) + Sync));

impl std::fmt::Debug for Progress<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Progress(..)")
    }
}

/// Default [`PanelBuilder::memory_budget`]: half of the machine's memory
/// (`MemTotal` of `/proc/meminfo`), or 4 GB where it cannot be read.
pub(crate) fn default_memory_budget() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|text| {
            let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
            let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
            Some(kib * 1024 / 2)
        })
        .unwrap_or(4_000_000_000)
}

/// Event weeks per grid tile of a wide grid.
///
/// A grid of at most [`WHOLE_TILE_WEEKS`] event weeks (a known window) is
/// one tile when the memory budget holds two panels (the tile and the
/// columns made from it, for a moment at the end of the load): each
/// person's weeks are then one contiguous run. Otherwise (a window still
/// unknown while the register is read, or a tight budget) tiles of
/// [`TILE_WEEKS`] are created as they are written.
const TILE_WEEKS: usize = 8;

/// Widest grid kept as one tile.
const WHOLE_TILE_WEEKS: usize = 512;

/// Consecutive event weeks of the grid (all, or [`TILE_WEEKS`]), person-major
/// in person table order (`[row * width + week]`), written concurrently by
/// the register's batches. A person's consecutive register rows then land
/// in one cache line instead of one line per week, and a register sorted
/// like the person table is written front to back; [`Tile::into_columns`]
/// turns the tile into the panel's week-major columns once.
struct Tile {
    width: usize,
    category: Box<[AtomicU8]>,
    hours: Box<[AtomicU16]>,
}

impl Tile {
    fn new(n: usize, width: usize) -> Tile {
        Tile {
            width,
            category: (0..n * width).map(|_| AtomicU8::new(UNSET)).collect(),
            hours: (0..n * width).map(|_| AtomicU16::new(0)).collect(),
        }
    }

    /// The tile's weeks as plain week-major arrays in panel order (`order`:
    /// person table rows by panel position; a person-week with no row
    /// becomes `none`, 0 hours), each with its number of cells written.
    fn into_columns(self, order: &[usize]) -> Vec<WeekColumn> {
        // Blocks of persons in parallel; a block's slices of every column
        // stay in cache while its persons' runs are copied into them.
        const BLOCK: usize = 1024;
        let (n, w) = (order.len(), self.width);
        let mut category: Vec<Box<[u8]>> = (0..w).map(|_| vec![0; n].into()).collect();
        let mut hours: Vec<Box<[u16]>> = (0..w).map(|_| vec![0; n].into()).collect();
        let n_blocks = n.div_ceil(BLOCK);
        let mut blocks: Vec<BlockSlices<'_>> = (0..n_blocks)
            .map(|_| (Vec::with_capacity(w), Vec::with_capacity(w)))
            .collect();
        for column in category.iter_mut() {
            for (b, part) in column.chunks_mut(BLOCK).enumerate() {
                blocks[b].0.push(part);
            }
        }
        for column in hours.iter_mut() {
            for (b, part) in column.chunks_mut(BLOCK).enumerate() {
                blocks[b].1.push(part);
            }
        }
        let set = blocks
            .into_par_iter()
            .zip(order.par_chunks(BLOCK))
            .map(|((mut cats, mut hrs), rows)| {
                let mut set = vec![0usize; w];
                for (i, &row) in rows.iter().enumerate() {
                    let run = row * w..(row + 1) * w;
                    for (j, (c, h)) in self.category[run.clone()]
                        .iter()
                        .zip(&self.hours[run])
                        .enumerate()
                    {
                        let c = c.load(Ordering::Relaxed);
                        set[j] += usize::from(c != UNSET);
                        cats[j][i] = if c == UNSET { Category::NONE.0 } else { c };
                        hrs[j][i] = h.load(Ordering::Relaxed);
                    }
                }
                set
            })
            .reduce(
                || vec![0usize; w],
                |a, b| a.iter().zip(&b).map(|(x, y)| x + y).collect(),
            );
        category
            .into_iter()
            .zip(hours)
            .zip(set)
            .map(|((category, hours), set)| WeekColumn {
                category,
                hours,
                set,
            })
            .collect()
    }
}

/// One event week of the panel, made from a [`Tile`], and how many of its
/// cells the register wrote.
struct WeekColumn {
    category: Box<[u8]>,
    hours: Box<[u16]>,
    set: usize,
}

/// One block of persons' slices of every week column.
type BlockSlices<'a> = (Vec<&'a mut [u8]>, Vec<&'a mut [u16]>);

/// The panel while a register is read into it: event-week columns created
/// as they are first written, each person-week written at most once (from
/// any thread).
pub(crate) struct Grid {
    /// `order[p]` = person table row at panel position p.
    order: Vec<usize>,
    /// Reading a part: each person table row's position in the part (its
    /// tile row), or [`NOT_IN_PART`]. `None`: every person, whose tile row
    /// is their person table row.
    local: Option<Box<[u32]>>,
    /// Event weeks per tile.
    per_tile: usize,
    /// Event week of `weeks[0]`.
    k_lo: i32,
    /// Observed weeks, when set or known before reading.
    from: Option<Week>,
    until: Option<Week>,
    /// The grid's `n_columns` event weeks from `k_lo`, in tiles of
    /// [`TILE_WEEKS`], each created when first written.
    tiles: Vec<OnceLock<Tile>>,
    n_columns: usize,
    /// See [`Grid::checked`].
    checked: bool,
    /// Week columns created (an upper bound: racing threads may count one
    /// column twice), and the most the memory budget allows.
    columns: AtomicUsize,
    max_columns: usize,
    pub(crate) report: LoadReport,
}

/// One person's place in a [`Grid`] ([`Grid::slot`]): grid column
/// `week.index() − base`, kept when in `first..=last`, of tile row `row`.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Slot {
    base: i64,
    first: i64,
    last: i64,
    row: usize,
}

/// What [`Grid::put`] did with a register value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Put {
    /// Written.
    Stored,
    /// The person-week already had a value (it is overwritten); only
    /// from a [`Grid::checked`] grid.
    Duplicate,
    /// Outside the event-week window or the observed weeks: not kept.
    Outside,
    /// A new event week that the memory budget has no room for.
    OverBudget,
}

impl Grid {
    /// The most event weeks the memory budget allows.
    pub(crate) fn max_columns(&self) -> usize {
        self.max_columns
    }

    /// Person table rows in panel order.
    pub(crate) fn order(&self) -> &[usize] {
        &self.order
    }

    /// Calendar weeks of person table row `row` that the grid can keep
    /// (empty when none): the observed weeks known so far intersected with
    /// the event weeks it holds.
    pub(crate) fn kept_weeks(&self, persons: &Persons, row: usize) -> RangeInclusive<Week> {
        let referral = persons.referral_weeks()[row];
        let lo = referral.plus(self.k_lo);
        let last = i64::from(self.k_lo) + self.n_columns as i64 - 1;
        let hi = referral.plus(i32::try_from(last).unwrap_or(i32::MAX));
        let lo = self.from.map_or(lo, |f| lo.max(f));
        let hi = self.until.map_or(hi, |u| hi.min(u));
        lo..=hi
    }

    /// Where person table row `row`'s register rows go (`None`: the person
    /// is in another part): worked out once per person, then
    /// [`Grid::put_at`] per row.
    pub(crate) fn slot(&self, persons: &Persons, row: usize) -> Option<Slot> {
        let tile_row = match &self.local {
            Some(local) => match local[row] {
                NOT_IN_PART => return None,
                i => i as usize,
            },
            None => row,
        };
        let kept = self.kept_weeks(persons, row);
        let base = i64::from(persons.referral_weeks()[row].index()) + i64::from(self.k_lo);
        Some(Slot {
            base,
            first: i64::from(kept.start().index()) - base,
            last: (i64::from(kept.end().index()) - base).min(self.n_columns as i64 - 1),
            row: tile_row,
        })
    }

    /// Write the category and hours of person table row `row` at calendar
    /// week `week`.
    pub(crate) fn put(
        &self,
        persons: &Persons,
        row: usize,
        week: Week,
        c: Category,
        centihours: u16,
    ) -> Put {
        match self.slot(persons, row) {
            Some(slot) => self.put_at(&slot, week, c, centihours),
            None => Put::Outside,
        }
    }

    /// [`Grid::put`] for the person of `slot`.
    pub(crate) fn put_at(&self, slot: &Slot, week: Week, c: Category, centihours: u16) -> Put {
        let i = i64::from(week.index()) - slot.base;
        if i < slot.first.max(0) || i > slot.last {
            return Put::Outside;
        }
        // 0 ≤ i < n_columns: checked above.
        let i = i as usize;
        let (t, j) = (i / self.per_tile, i % self.per_tile);
        let tile_slot = &self.tiles[t];
        let tile = match tile_slot.get() {
            Some(tile) => tile,
            None => {
                // The budget counts whole tiles: refused once the tiles
                // made so far reach it.
                let width = tile_width(self.n_columns, self.per_tile, t);
                if self.columns.fetch_add(width, Ordering::Relaxed) >= self.max_columns {
                    return Put::OverBudget;
                }
                tile_slot.get_or_init(|| Tile::new(self.order.len(), width))
            }
        };
        let cell = slot.row * tile.width + j;
        // Plain stores, no atomic swap: a locked swap, and even a load of
        // the cell, waits for every cache miss.
        let fresh = !self.checked || tile.category[cell].load(Ordering::Relaxed) == UNSET;
        tile.category[cell].store(c.0, Ordering::Relaxed);
        tile.hours[cell].store(centihours, Ordering::Relaxed);
        if fresh { Put::Stored } else { Put::Duplicate }
    }

    /// Make [`Grid::put`] read each cell before writing it and report
    /// [`Put::Duplicate`] for one already written (from one thread, in
    /// file order). Unchecked, every write reports [`Put::Stored`], and
    /// duplicates show as fewer [`Grid::set_cells`] than writes.
    pub(crate) fn checked(mut self, checked: bool) -> Grid {
        self.checked = checked;
        self
    }

    /// Number of person-weeks written: the number of [`Put::Stored`]
    /// exactly when no person-week was written twice.
    pub(crate) fn set_cells(&self) -> usize {
        self.tiles
            .par_iter()
            .filter_map(OnceLock::get)
            .map(|t| {
                t.category
                    .iter()
                    .filter(|x| x.load(Ordering::Relaxed) != UNSET)
                    .count()
            })
            .sum()
    }
}

/// Width of tile `t` of a grid of `n_columns` event weeks in tiles of
/// `per_tile`.
fn tile_width(n_columns: usize, per_tile: usize, t: usize) -> usize {
    n_columns.saturating_sub(t * per_tile).min(per_tile)
}

/// Hours as stored: hundredths of an hour, rounded to nearest. Fails for
/// values that are not finite or outside `0..=168`.
pub(crate) fn centihours(hours: f64) -> std::result::Result<u16, &'static str> {
    if !hours.is_finite() {
        return Err("hours must be a finite number");
    }
    if !(0.0..=MAX_HOURS).contains(&hours) {
        return Err("hours must be between 0 and 168");
    }
    Ok((hours * HOURS_SCALE).round() as u16)
}
