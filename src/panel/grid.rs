//! The grid a register is written into while it is read: person-major
//! tiles of atomic cells, written concurrently by the batches and turned
//! into the panel's week-major columns once.

use std::ops::RangeInclusive;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, AtomicU16, AtomicUsize, Ordering};

use rayon::prelude::*;

use super::{HOURS_SCALE, LoadReport, MAX_HOURS};
use crate::inputs::Category;
use crate::inputs::Persons;
use crate::weeks::Week;

/// Marks a person-week with no register row yet, to detect duplicates.
pub(super) const UNSET: u8 = u8::MAX;

/// [`Grid`]'s mark of a person outside the part being read.
pub(super) const NOT_IN_PART: u32 = u32::MAX;

/// Event weeks per grid tile of a wide grid.
///
/// A grid of at most [`WHOLE_TILE_WEEKS`] event weeks (a known window) is
/// one tile when the memory budget holds two panels (the tile and the
/// columns made from it, for a moment at the end of the load): each
/// person's weeks are then one contiguous run. Otherwise (a window still
/// unknown while the register is read, or a tight budget) tiles of
/// [`TILE_WEEKS`] are created as they are written.
pub(super) const TILE_WEEKS: usize = 8;

/// Widest grid kept as one tile.
pub(super) const WHOLE_TILE_WEEKS: usize = 512;

/// Consecutive event weeks of the grid (all, or [`TILE_WEEKS`]), person-major
/// in person table order (`[row * width + week]`), written concurrently by
/// the register's batches. A person's consecutive register rows then land
/// in one cache line instead of one line per week, and a register sorted
/// like the person table is written front to back; [`Tile::into_columns`]
/// turns the tile into the panel's week-major columns once.
pub(super) struct Tile {
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
    pub(super) fn into_columns(self, order: &[usize]) -> Vec<WeekColumn> {
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
pub(super) struct WeekColumn {
    pub(super) category: Box<[u8]>,
    pub(super) hours: Box<[u16]>,
    pub(super) set: usize,
}

/// One block of persons' slices of every week column.
type BlockSlices<'a> = (Vec<&'a mut [u8]>, Vec<&'a mut [u16]>);

/// The panel while a register is read into it: event-week columns created
/// as they are first written, each person-week written at most once (from
/// any thread).
pub(crate) struct Grid {
    /// `order[p]` = person table row at panel position p.
    pub(super) order: Vec<usize>,
    /// Reading a part: each person table row's position in the part (its
    /// tile row), or [`NOT_IN_PART`]. `None`: every person, whose tile row
    /// is their person table row.
    pub(super) local: Option<Box<[u32]>>,
    /// Event weeks per tile.
    pub(super) per_tile: usize,
    /// Event week of `weeks[0]`.
    pub(super) k_lo: i32,
    /// Observed weeks, when set or known before reading.
    pub(super) from: Option<Week>,
    pub(super) until: Option<Week>,
    /// The grid's `n_columns` event weeks from `k_lo`, in tiles of
    /// [`TILE_WEEKS`], each created when first written.
    pub(super) tiles: Vec<OnceLock<Tile>>,
    pub(super) n_columns: usize,
    /// See [`Grid::checked`].
    pub(super) checked: bool,
    /// Week columns created (an upper bound: racing threads may count one
    /// column twice), and the most the memory budget allows.
    pub(super) columns: AtomicUsize,
    pub(super) max_columns: usize,
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
pub(super) fn tile_width(n_columns: usize, per_tile: usize, t: usize) -> usize {
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
