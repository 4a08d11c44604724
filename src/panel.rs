//! The person-week panel, aligned on event weeks.
//!
//! A [`Panel`] holds, for every person and every event week k in a window
//! `k_min..=k_max`, the week's benefit category (one byte) and ordinary hours
//! (two bytes, in hundredths of an hour): three bytes per person-week.
//!
//! **Layout.** Values are stored week-major: all persons' values for event
//! week `k_min`, then all for `k_min + 1`, and so on. Persons are ordered by
//! arm (control first), then block, then referral week, then id. A person is
//! *observed* at event week k when `observed_from ≤ referral + k ≤
//! observed_until`; because persons in a group are sorted by referral week,
//! the persons observed at k form one contiguous range of each (arm, block)
//! group ([`Panel::observed`]). One week's reduction over one arm is
//! therefore a scan of a few contiguous slices, with no branching on
//! follow-up.
//!
//! **Censoring.** `observed_until` defaults to the last week present in the
//! register; a person referred in week r is followed through event week
//! `observed_until − r`. Values at person-weeks that are not observed are
//! stored as `none` and 0 hours and must not be used: reductions go through
//! [`Panel::observed`].
//!
//! **DREAM semantics.** A person with no register row in an observed week
//! has a blank code (category `none`) and 0 hours that week.

use std::ops::{Range, RangeInclusive};

use ndarray::ArrayViewMut2;
use polars::prelude::{Column as PlColumn, DataFrame, IntoColumn, NamedFrom, Series};
use serde::Serialize;

use crate::codes::{Category, CodeTable};
use crate::error::{Error, Result};
use crate::persons::{Arm, Persons};
use crate::weeks::Week;

/// Hours are stored as hundredths of an hour in a `u16`.
pub const HOURS_SCALE: f64 = 100.0;
/// Largest accepted weekly hours (a week has 168 hours).
pub const MAX_HOURS: f64 = 168.0;
/// Default number of weeks of history before referral kept in the panel.
pub const DEFAULT_HISTORY_WEEKS: i32 = 52;

/// Persons of one arm and one block: a contiguous range of panel positions,
/// sorted by referral week.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Group {
    /// The arm of every person in the group.
    pub arm: Arm,
    /// Block index into [`Persons::blocks`] labels.
    pub block: u32,
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
}

/// A validated person-week panel. See the module documentation for its layout.
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    persons: Persons,
    groups: Vec<Group>,
    k_min: i32,
    n_weeks: usize,
    observed_from: Week,
    observed_until: Week,
    codes: CodeTable,
    category: Vec<u8>,
    hours: Vec<u16>,
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
        }
    }

    /// Persons in panel order (arm, block, referral week, id).
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
        self.category.len() * std::mem::size_of::<u8>()
            + self.hours.len() * std::mem::size_of::<u16>()
    }

    /// What loading skipped.
    pub fn load_report(&self) -> &LoadReport {
        &self.report
    }

    fn offset(&self, k: i32) -> Option<usize> {
        self.event_weeks()
            .contains(&k)
            .then(|| (k - self.k_min) as usize * self.n_persons())
    }

    /// Categories of all persons at event week `k` (panel order), or `None`
    /// when `k` is outside the panel's window.
    pub fn categories(&self, k: i32) -> Option<&[u8]> {
        let start = self.offset(k)?;
        Some(&self.category[start..start + self.n_persons()])
    }

    /// Hours in hundredths of an hour of all persons at event week `k`.
    /// Divide by [`HOURS_SCALE`] for hours.
    pub fn centihours(&self, k: i32) -> Option<&[u16]> {
        let start = self.offset(k)?;
        Some(&self.hours[start..start + self.n_persons()])
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

    /// `true` when panel person `p` is observed at event week `k`.
    pub fn is_observed(&self, p: usize, k: i32) -> bool {
        self.observed_span(p).contains(&k)
    }

    /// The event weeks at which panel person `p` is observed: the panel's
    /// window intersected with `observed_from − referral ..= observed_until −
    /// referral` (empty for an unknown `p`).
    pub fn observed_span(&self, p: usize) -> RangeInclusive<i32> {
        let window = self.event_weeks();
        let Some(&referral) = self.persons.referral_weeks().get(p) else {
            return *window.end()..=*window.start() - 1;
        };
        let first = self.observed_from.event_week(referral).max(*window.start());
        let last = self.observed_until.event_week(referral).min(*window.end());
        first..=last
    }

    /// Last event week at which panel person `p` is observed
    /// (`observed_until − referral`).
    pub fn followed_until(&self, p: usize) -> Option<i32> {
        self.persons
            .referral_weeks()
            .get(p)
            .map(|&r| self.observed_until.event_week(r))
    }

    /// For each group, the panel positions of its persons observed at event
    /// week `k`: a contiguous range (empty when none is observed or `k` is
    /// outside the window).
    pub fn observed(&self, k: i32) -> impl Iterator<Item = (&Group, Range<usize>)> + '_ {
        let inside = self.event_weeks().contains(&k);
        let referral = self.persons.referral_weeks();
        let (lo, hi) = (self.observed_from.plus(-k), self.observed_until.plus(-k));
        self.groups.iter().map(move |g| {
            if !inside {
                return (g, g.persons.start..g.persons.start);
            }
            let r = &referral[g.persons.clone()];
            let start = g.persons.start + r.partition_point(|&w| w < lo);
            let end = g.persons.start + r.partition_point(|&w| w <= hi);
            (g, start..end.max(start))
        })
    }

    /// Persons observed at event week `k`, per arm.
    pub fn at_risk(&self, k: i32) -> AtRisk {
        let mut n = [0usize; 2];
        for (g, range) in self.observed(k) {
            n[g.arm as usize] += range.len();
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
}

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

    /// Check the observed span against the referral weeks, fix the window and
    /// return an empty grid to fill.
    pub(crate) fn grid(&self, first: Week, last: Week) -> Result<Grid> {
        let from = self.observed_from.unwrap_or(first);
        let until = self.observed_until.unwrap_or(last);
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
        // Non-empty person table: checked when it was read.
        let min_ref = referral.iter().min().copied().unwrap_or(from);
        let max_ref = referral.iter().max().copied().unwrap_or(from);
        let k_min = self
            .first_event_week
            .unwrap_or((-DEFAULT_HISTORY_WEEKS).max(from.event_week(max_ref)));
        let k_max = self.last_event_week.unwrap_or(until.event_week(min_ref));
        // A window wider than the span of all ISO weeks 1900-2200 cannot hold data.
        const MAX_SPAN: i64 = 20_000;
        if k_min > k_max || i64::from(k_max) - i64::from(k_min) >= MAX_SPAN {
            return Err(Error::InvalidSetting {
                name: "event_weeks".into(),
                reason: format!(
                    "event weeks {k_min} to {k_max}: the first must not be after the last, \
                     and the window must be under {MAX_SPAN} weeks"
                ),
            });
        }
        let n_weeks = (k_max - k_min + 1) as usize;
        let cells = n_weeks
            .checked_mul(self.persons.len())
            .filter(|&c| c <= isize::MAX as usize / 4)
            .ok_or_else(|| Error::InvalidSetting {
                name: "event_weeks".into(),
                reason: format!(
                    "{n_weeks} weeks × {} persons do not fit in memory",
                    self.persons.len()
                ),
            })?;

        // Panel order: arm, block, referral week, then person id (not table
        // order, so that reordering the person table changes no result, not
        // even in the last bit).
        let blocks = &self.persons.blocks().index;
        let arms = self.persons.arms();
        let ids = self.persons.ids();
        let mut order: Vec<usize> = (0..self.persons.len()).collect();
        order.sort_by(|&a, &b| {
            (arms[a], blocks[a], referral[a])
                .cmp(&(arms[b], blocks[b], referral[b]))
                .then_with(|| ids[a].cmp(&ids[b]))
        });
        let mut position = vec![0u32; order.len()];
        for (p, &row) in order.iter().enumerate() {
            position[row] = p as u32;
        }
        Ok(Grid {
            order,
            position,
            k_min,
            n_weeks,
            from,
            until,
            category: vec![UNSET; cells],
            hours: vec![0; cells],
            report: LoadReport::default(),
        })
    }

    /// Turn a filled grid into the panel.
    pub(crate) fn finish(&self, mut grid: Grid) -> Panel {
        for c in grid.category.iter_mut() {
            if *c == UNSET {
                *c = Category::NONE.0;
            }
        }
        let persons = self.persons.reordered(&grid.order);
        let mut groups: Vec<Group> = Vec::new();
        for (p, (&arm, &block)) in persons
            .arms()
            .iter()
            .zip(&persons.blocks().index)
            .enumerate()
        {
            match groups.last_mut() {
                Some(g) if g.arm == arm && g.block == block => g.persons.end = p + 1,
                _ => groups.push(Group {
                    arm,
                    block,
                    persons: p..p + 1,
                }),
            }
        }
        Panel {
            persons,
            groups,
            k_min: grid.k_min,
            n_weeks: grid.n_weeks,
            observed_from: grid.from,
            observed_until: grid.until,
            codes: self.codes.clone(),
            category: grid.category,
            hours: grid.hours,
            report: grid.report,
        }
    }
}

/// Marks a person-week with no register row yet, to detect duplicates.
const UNSET: u8 = u8::MAX;

/// The panel's arrays while a register is read into them.
pub(crate) struct Grid {
    /// `order[p]` = person table row at panel position p.
    order: Vec<usize>,
    /// `position[row]` = panel position of person table row `row`.
    position: Vec<u32>,
    k_min: i32,
    n_weeks: usize,
    from: Week,
    until: Week,
    category: Vec<u8>,
    hours: Vec<u16>,
    pub(crate) report: LoadReport,
}

/// See [`Grid::arrays_mut`].
pub(crate) type GridArrays<'a> = (
    &'a [usize],
    i32,
    ArrayViewMut2<'a, u8>,
    ArrayViewMut2<'a, u16>,
);

/// Outcome of placing a register value.
pub(crate) enum Slot {
    /// Index into the panel arrays.
    At(usize),
    /// Outside the event-week window or the observed weeks.
    Outside,
}

impl Grid {
    pub(crate) fn observed_weeks(&self) -> RangeInclusive<Week> {
        self.from..=self.until
    }

    /// Where the value of person table row `row` at calendar week `week` goes.
    pub(crate) fn slot(&self, persons: &Persons, row: usize, week: Week) -> Slot {
        if week < self.from || week > self.until {
            return Slot::Outside;
        }
        let k = week.event_week(persons.referral_weeks()[row]) - self.k_min;
        if k < 0 || k as usize >= self.n_weeks {
            return Slot::Outside;
        }
        let p = self.position[row] as usize;
        Slot::At(k as usize * self.order.len() + p)
    }

    /// Set the category at `at`; `false` if it was already set (a duplicate).
    pub(crate) fn set_category(&mut self, at: usize, c: Category) -> bool {
        let cell = &mut self.category[at];
        let fresh = *cell == UNSET;
        *cell = c.0;
        fresh
    }

    pub(crate) fn set_hours(&mut self, at: usize, centihours: u16) {
        self.hours[at] = centihours;
    }

    /// For filling the grid directly: the person table row at each panel
    /// position, the first event week, and the category and hours arrays
    /// as weeks × persons views (unfilled categories are marked and become
    /// `none` when the panel is finished).
    pub(crate) fn arrays_mut(&mut self) -> Result<GridArrays<'_>> {
        let shape = (self.n_weeks, self.order.len());
        let invalid = |e: ndarray::ShapeError| Error::InvalidSetting {
            name: "panel".into(),
            reason: e.to_string(),
        };
        Ok((
            &self.order,
            self.k_min,
            ArrayViewMut2::from_shape(shape, &mut self.category).map_err(invalid)?,
            ArrayViewMut2::from_shape(shape, &mut self.hours).map_err(invalid)?,
        ))
    }
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
