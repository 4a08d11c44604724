//! [`PanelBuilder`]: the settings of aligning a register into a
//! [`Panel`], the event-week window, the memory budget, and the panel
//! finished from a filled [`Grid`].

use std::sync::OnceLock;
use std::sync::atomic::AtomicUsize;

use rayon::prelude::*;

use super::grid::{Grid, NOT_IN_PART, TILE_WEEKS, WHOLE_TILE_WEEKS, WeekColumn, tile_width};
use super::{DEFAULT_HISTORY_WEEKS, Group, LoadReport, Panel};
use crate::error::{Error, Result};
use crate::inputs::Persons;
use crate::inputs::reading::{DEFAULT_BATCH_ROWS, Pace};
use crate::inputs::{Category, CodeTable};
use crate::progress::LoadProgress;
use crate::weeks::Week;

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

impl<'a> PanelBuilder<'a> {
    /// The defaults (see [`PanelBuilder`]); [`Panel::builder`] is the
    /// usual way to start.
    pub(super) fn new(persons: &'a Persons, codes: &'a CodeTable) -> PanelBuilder<'a> {
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

    /// The number of event weeks of the panel when it is known before the
    /// register is read: from the settings (the event-week window, or the
    /// observed weeks) or from `span`, the first and last week of a wide
    /// register's header ([`wide_span`](crate::panel::wide_span)). `None`
    /// when only reading a long register tells. A planner compares
    /// `weeks × persons × 3 bytes` with the memory budget before reading.
    pub fn known_weeks(&self, span: Option<(Week, Week)>) -> Option<u64> {
        let referral = self.persons.referral_weeks();
        let (min_ref, max_ref) = (*referral.iter().min()?, *referral.iter().max()?);
        let from = self.observed_from.or(span.map(|s| s.0));
        let until = self.observed_until.or(span.map(|s| s.1));
        let k_lo = self.first_event_week.unwrap_or_else(|| match from {
            Some(f) => (-DEFAULT_HISTORY_WEEKS).max(f.event_week(max_ref)),
            None => -DEFAULT_HISTORY_WEEKS,
        });
        let k_hi = match self.last_event_week {
            Some(last) => last,
            None => until?.event_week(min_ref),
        };
        u64::try_from(i64::from(k_hi) - i64::from(k_lo) + 1).ok()
    }

    /// The memory budget, in bytes.
    pub fn budget(&self) -> u64 {
        self.memory_budget
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
