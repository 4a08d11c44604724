//! Exact weekly sums of the built-in outcomes: one scan of the panel for
//! many outcomes, and registers processed in chunks of persons (methods §4).

use std::ops::{Range, RangeInclusive};

use rayon::prelude::*;
use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::inputs::Category;
use crate::outcome::{Exact, Outcome, Weekly, check_week_zero};
use crate::panel::Panel;
use crate::stats::{CellArms, Moments};
use crate::weeks::Week;

/// Persons per unit of parallel work: a chunk's week slices stay in cache.
const CHUNK: usize = 4096;

/// n, Σy and Σy² of integer values. Bounds: n < 2³² persons and values
/// below 2³² (a cumulative of 20,000 weeks of 168 hours is 3.4·10⁸
/// hundredths), so Σy fits a `u64` and n·Σy² a `u128`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Sums {
    /// Persons with a value.
    pub n: u64,
    /// Σy, in integer units.
    pub sum: u64,
    /// Σy², in integer units squared.
    pub sum_sq: u128,
}

impl Sums {
    fn add(&mut self, other: &Sums) {
        self.n += other.n;
        self.sum += other.sum;
        self.sum_sq += other.sum_sq;
    }

    fn checked_add(self, other: &Sums) -> Option<Sums> {
        Some(Sums {
            n: self.n.checked_add(other.n)?,
            sum: self.sum.checked_add(other.sum)?,
            sum_sq: self.sum_sq.checked_add(other.sum_sq)?,
        })
    }

    /// Moments in outcome units, for values stored as `units` per unit:
    /// ȳ = S/(n·units), Σ(y − ȳ)² = (n·Q − S²)/(n·units²), the numerator
    /// exact.
    pub fn moments(&self, units: f64) -> Moments {
        if self.n == 0 {
            return Moments::default();
        }
        let (n, s) = (u128::from(self.n), u128::from(self.sum));
        // n·Q ≥ S² (Cauchy–Schwarz); saturate rather than wrap on sums
        // that did not come from one sample.
        let centred = (n * self.sum_sq).saturating_sub(s * s);
        let nf = self.n as f64;
        Moments {
            n: self.n as usize,
            mean: self.sum as f64 / (nf * units),
            m2: centred as f64 / (nf * units * units),
        }
    }
}

/// Exact weekly sums of the built-in outcomes: one scan of the panel for
/// many outcomes, and registers processed in chunks of persons (methods §4).
///
/// For every outcome, event week k, block b and arm a, [`WeeklySums`] holds
/// n, Σy and Σy² over the persons observed at k, with y in integer units:
/// 0/1 for indicators (in-state, employed, the spell indicator) and
/// hundredths of an hour for hours and cumulative hours. Integer sums are
/// exact, which gives two things:
///
/// * **chunks merge exactly.** The sums over a register split into chunks
///   of whole persons, merged with [`WeeklySums::merge`], equal the sums over
///   the whole register bit for bit, in any order and with any number of
///   threads. A register larger than memory is processed one chunk of
///   persons at a time (see [`WeeklySums::merge`]).
/// * **no cancellation.** The moments are n, ȳ = S/(n·u) and
///   Σ(y − ȳ)² = (n·Q − S²)/(n·u²) (u the units per outcome unit), with
///   n·Q − S² computed exactly in integers and rounded once.
///
/// [`weekly_effects_from_sums`](crate::estimators::weekly_effects_from_sums)
/// turns the sums into the same tables as
/// [`weekly_effects`](crate::weekly_effects) on [`Outcome::evaluate`]'s
/// values (equal up to the last bits of floating-point rounding). Custom
/// outcomes, whose values are arbitrary floats, have no exact form and go
/// through [`Outcome::evaluate`].
///
/// ```
/// use trialpanel::simulate::{simulate, TrialSpec};
/// use trialpanel::estimators::weekly_effects_from_sums;
/// use trialpanel::outcome::WeeklySums;
/// use trialpanel::{CodeTable, Design, LongColumns, Outcome, Panel, PersonSpec, Persons, SpellRule};
///
/// let trial = simulate(&TrialSpec { persons: 400, ..TrialSpec::default() })?;
/// let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default())?;
/// let codes = CodeTable::from_frame(trial.codes, "codes")?;
/// let panel = Panel::builder(&persons, &codes)
///     .long_frame(trial.register, "register", &LongColumns::default())?;
/// let outcomes = [
///     Outcome::work_placement(),
///     Outcome::hours(),
///     Outcome::employed(0.0).cumulative(),
///     Outcome::spell(SpellRule::default()),
/// ];
/// let sums = WeeklySums::of(&panel, &outcomes, 0..=30)?;
/// let effects = weekly_effects_from_sums(&sums, &Design::default())?;
/// assert_eq!(effects[1].outcome, "hours");
/// assert_eq!(effects[1].rows.len(), 31);
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// Exact per (outcome, event week, cell) sums, a cell being a block's arm,
/// or a cluster when the person table has clusters. See the module
/// documentation.
#[derive(Clone, Debug, PartialEq)]
pub struct WeeklySums {
    outcomes: Vec<String>,
    units: Vec<f64>,
    weeks: RangeInclusive<i32>,
    observed: (Week, Week),
    blocks: Vec<String>,
    /// The cells, sorted.
    cells: Vec<CellKey>,
    /// Each cell's block index into `blocks`.
    cell_block: Vec<usize>,
    /// Index `(outcome · weeks + week) · cells + cell`.
    sums: Vec<Sums>,
}

/// What a cell of [`WeeklySums`] sums over: one arm of a block, or one
/// cluster (which lies in one arm of one block).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct CellKey {
    block: String,
    cluster: Option<String>,
    arm: Arm,
}

/// Tasks scanned at a time: bounds the memory of the per-task sums.
const TASK_BATCH: usize = 256;

impl WeeklySums {
    /// Sums of `outcomes` at event weeks `weeks` over the persons of
    /// `panel`: one scan of the panel's bytes for all outcomes, in parallel
    /// over chunks of persons.
    ///
    /// Fails when `weeks` is not inside the panel's window, when an outcome
    /// has no exact form (custom ones), or as [`Outcome::evaluate`] fails.
    pub fn of(
        panel: &Panel,
        outcomes: &[Outcome],
        weeks: RangeInclusive<i32>,
    ) -> Result<WeeklySums> {
        panel.check_weeks(&weeks, "weekly sums")?;
        let mut exact = Vec::with_capacity(outcomes.len());
        for o in outcomes {
            exact.push(o.exact(panel)?.ok_or_else(|| {
                Error::InvalidSetting {
                    name: format!("outcome `{}`", o.name()),
                    reason: "it has no exact integer form (a custom outcome, or a cumulative of a \
                         spell or of a cumulative): use Outcome::evaluate and weekly_effects"
                        .into(),
                }
            })?);
        }
        let cumulative = exact.iter().any(|e| matches!(e, Exact::Cumulative(_)));
        if cumulative && *weeks.end() >= 0 {
            check_week_zero(panel)?;
        }
        let units = exact
            .iter()
            .map(|e| match e {
                Exact::Weekly(w) | Exact::Cumulative(w) => w.scale(),
                Exact::Spell(_) => 1.0,
            })
            .collect();

        let n_weeks = weeks.clone().count();
        let persons = panel.persons();
        let blocks = persons.blocks().labels.clone();
        let key = |g: &crate::panel::Group| CellKey {
            block: blocks[g.block as usize].clone(),
            cluster: persons
                .clusters()
                .map(|c| c.labels[g.cluster as usize].clone()),
            arm: g.arm,
        };
        let mut cells: Vec<CellKey> = match persons.clusters() {
            None => (0..blocks.len())
                .flat_map(|b| {
                    Arm::BOTH.map(|arm| CellKey {
                        block: blocks[b].clone(),
                        cluster: None,
                        arm,
                    })
                })
                .collect(),
            Some(_) => panel.groups().iter().map(key).collect(),
        };
        cells.sort_unstable();
        cells.dedup();
        let per_task = exact.len() * n_weeks;
        let tasks: Vec<(usize, Range<usize>)> = panel
            .groups()
            .iter()
            .flat_map(|g| {
                let cell = cells.binary_search(&key(g)).unwrap_or(0);
                g.persons
                    .clone()
                    .step_by(CHUNK)
                    .map(move |s| (cell, s..(s + CHUNK).min(g.persons.end)))
            })
            .collect();
        let mut sums = vec![Sums::default(); per_task * cells.len()];
        for batch in tasks.chunks(TASK_BATCH) {
            let parts: Vec<Vec<Sums>> = batch
                .par_iter()
                .map(|(_, persons)| scan(panel, &exact, &weeks, persons.clone()))
                .collect();
            for ((cell, _), part) in batch.iter().zip(parts) {
                for (i, s) in part.iter().enumerate() {
                    sums[i * cells.len() + cell].add(s);
                }
            }
        }
        Ok(WeeklySums {
            outcomes: outcomes.iter().map(|o| o.name().to_string()).collect(),
            units,
            weeks,
            observed: (panel.observed_from(), panel.observed_until()),
            cell_block: cell_blocks(&cells, &blocks),
            blocks,
            cells,
            sums,
        })
    }

    /// The outcome names, in the order given.
    pub fn outcomes(&self) -> &[String] {
        &self.outcomes
    }

    /// The event weeks summed.
    pub fn weeks(&self) -> RangeInclusive<i32> {
        self.weeks.clone()
    }

    /// Block labels, sorted.
    pub fn blocks(&self) -> &[String] {
        &self.blocks
    }

    /// The sums of outcome number `outcome` at event week `k` in block
    /// number `block` (into [`WeeklySums::blocks`]) and arm `arm`.
    pub fn get(&self, outcome: usize, k: i32, block: usize, arm: Arm) -> Option<Sums> {
        let w = usize::try_from(k - self.weeks.start()).ok()?;
        let ok =
            outcome < self.outcomes.len() && self.weeks.contains(&k) && block < self.blocks.len();
        ok.then(|| {
            let mut total = Sums::default();
            for (c, key) in self.cells.iter().enumerate() {
                if self.cell_block[c] == block && key.arm == arm {
                    total.add(&self.at(outcome, w, c));
                }
            }
            total
        })
    }

    fn at(&self, outcome: usize, week: usize, cell: usize) -> Sums {
        let n_weeks = self.weeks.clone().count();
        self.sums[(outcome * n_weeks + week) * self.cells.len() + cell]
    }

    /// The arms of each block (`blocked`) or of the whole trial at week
    /// index `w`: per cluster with clusters, else one moments per arm from
    /// the exact sums over the cell's blocks.
    pub(crate) fn cell_arms(&self, outcome: usize, w: usize, blocked: bool) -> Vec<CellArms> {
        let u = self.units[outcome];
        let n_cells = if blocked { self.blocks.len() } else { 1 };
        let cell_of = |c: usize| if blocked { self.cell_block[c] } else { 0 };
        if self.clustered() {
            let mut out: Vec<CellArms> = vec![(Vec::new(), Vec::new()); n_cells];
            for (c, key) in self.cells.iter().enumerate() {
                let (t, k) = &mut out[cell_of(c)];
                let arm = if key.arm == Arm::Treatment { t } else { k };
                arm.push(self.at(outcome, w, c).moments(u));
            }
            return out;
        }
        let mut totals = vec![[Sums::default(); 2]; n_cells];
        for (c, key) in self.cells.iter().enumerate() {
            totals[cell_of(c)][key.arm as usize].add(&self.at(outcome, w, c));
        }
        totals
            .iter()
            .map(|t| {
                (
                    vec![t[Arm::Treatment as usize].moments(u)],
                    vec![t[Arm::Control as usize].moments(u)],
                )
            })
            .collect()
    }

    /// Whether the sums are per cluster.
    pub(crate) fn clustered(&self) -> bool {
        self.cells.iter().any(|c| c.cluster.is_some())
    }

    /// The sums over the persons of both `self` and `other`, which must be
    /// disjoint sets of persons summed for the same outcomes, weeks and
    /// observed weeks. Block labels are matched by name, so each chunk may
    /// hold only some blocks.
    ///
    /// **A register larger than memory.** Split the person table and the
    /// register by person into chunks that fit (for example one Parquet
    /// file per range of person ids); for each chunk build a panel with the
    /// same [`PanelBuilder::observed_from`](crate::PanelBuilder::observed_from)
    /// and [`observed_until`](crate::PanelBuilder::observed_until) (the
    /// defaults come from each chunk's own register and would differ), take
    /// [`WeeklySums::of`], and merge. The result equals the one-panel sums
    /// bit for bit.
    pub fn merge(self, other: &WeeklySums) -> Result<WeeklySums> {
        let differ = |what: &str| {
            Err(Error::InvalidSetting {
                name: "weekly sums".into(),
                reason: format!("cannot merge sums with different {what}"),
            })
        };
        if self.outcomes != other.outcomes || self.units != other.units {
            return differ("outcomes");
        }
        if self.weeks != other.weeks {
            return differ("event weeks");
        }
        if self.observed != other.observed {
            return differ("observed weeks (set observed_from and observed_until for every chunk)");
        }
        if self.clustered() != other.clustered() {
            return differ("designs (clustered and not)");
        }
        let mut blocks = self.blocks.clone();
        blocks.extend(other.blocks.iter().cloned());
        blocks.sort_unstable();
        blocks.dedup();
        let mut cells = self.cells.clone();
        cells.extend(other.cells.iter().cloned());
        cells.sort_unstable();
        cells.dedup();
        // A cluster lies in one block and arm: in two cells it spans them.
        if let Some(w) = cells
            .windows(2)
            .find(|w| w[0].cluster.is_some() && w[0].cluster == w[1].cluster)
        {
            return Err(Error::InvalidSetting {
                name: "weekly sums".into(),
                reason: format!(
                    "cluster `{}` is in block `{}` ({:?}) in one part and block `{}` ({:?}) in \
                     the other",
                    w[0].cluster.as_deref().unwrap_or_default(),
                    w[0].block,
                    w[0].arm,
                    w[1].block,
                    w[1].arm
                ),
            });
        }
        let mut merged = WeeklySums {
            sums: Vec::new(),
            cell_block: cell_blocks(&cells, &blocks),
            blocks,
            cells,
            ..self.clone()
        };
        let per_cell = merged.outcomes.len() * merged.weeks.clone().count();
        let n_cells = merged.cells.len();
        merged.sums = vec![Sums::default(); per_cell * n_cells];
        for part in [&self, other] {
            let at: Vec<usize> = part
                .cells
                .iter()
                .map(|c| merged.cells.binary_search(c).unwrap_or(0))
                .collect();
            for (i, s) in part.sums.iter().enumerate() {
                let (row, cell) = (i / part.cells.len(), i % part.cells.len());
                let target = row * n_cells + at[cell];
                merged.sums[target] =
                    merged.sums[target]
                        .checked_add(s)
                        .ok_or_else(|| Error::Limit {
                            what: "the merged weekly sums".into(),
                            limit: "at most 2^32 persons in a cell".into(),
                        })?;
            }
        }
        Ok(merged)
    }
}

/// Each cell's block index into the sorted `blocks`.
fn cell_blocks(cells: &[CellKey], blocks: &[String]) -> Vec<usize> {
    cells
        .iter()
        .map(|c| blocks.binary_search(&c.block).unwrap_or(0))
        .collect()
}

/// One chunk of persons (panel positions within one group): the sums per
/// (outcome, week index), scanning each week's bytes once.
fn scan(
    panel: &Panel,
    exact: &[Exact],
    weeks: &RangeInclusive<i32>,
    persons: Range<usize>,
) -> Vec<Sums> {
    let n_weeks = weeks.clone().count();
    let mut out = vec![Sums::default(); exact.len() * n_weeks];
    let row_of = |k: i32| weeks.contains(&k).then(|| (k - weeks.start()) as usize);
    let ended = panel.has_ended_followup();
    // Weekly values: persons of a group are sorted by referral week, so
    // those observed at k are one range of the chunk.
    for k in weeks.clone() {
        let (Some(cats), Some(hours), Some(r)) =
            (panel.categories(k), panel.centihours(k), row_of(k))
        else {
            continue;
        };
        let obs = panel.observed_among(persons.clone(), k);
        let (cats, hours) = (&cats[obs.clone()], &hours[obs]);
        // A week after follow-up ended is not observed: counted once per
        // week, for every outcome.
        let n = if ended {
            cats.iter().filter(|&&c| c != Category::ENDED.0).count()
        } else {
            cats.len()
        } as u64;
        for (o, e) in exact.iter().enumerate() {
            if let Exact::Weekly(w) = e {
                out[o * n_weeks + r].add(&weekly_sums(w, n, cats, hours));
            }
        }
    }
    // Cumulative sums and the spell indicator from their one stepper each.
    let spans: Vec<RangeInclusive<i32>> = persons.clone().map(|p| panel.observed_span(p)).collect();
    let mut add = |o: usize, k: i32, y: u64| {
        if let Some(r) = row_of(k) {
            let s = &mut out[o * n_weeks + r];
            s.n += 1;
            s.sum += y;
            s.sum_sq += u128::from(y) * u128::from(y);
        }
    };
    for (o, e) in exact.iter().enumerate() {
        match e {
            Exact::Weekly(_) => {}
            Exact::Cumulative(w) if *weeks.end() >= 0 => {
                w.walk_sums(
                    panel,
                    persons.start,
                    &spans,
                    0,
                    *weeks.end(),
                    |k, _, sum| add(o, k, sum),
                );
            }
            Exact::Cumulative(_) => {}
            Exact::Spell(a) => a.walk(panel, persons.start, &spans, *weeks.end(), |k, _, done| {
                add(o, k, u64::from(done))
            }),
        }
    }
    out
}

/// Sums of a weekly value over one week's `n` observed persons of a chunk
/// (the weeks after a follow-up ended have 0 hours and count in no state).
fn weekly_sums(w: &Weekly, n: u64, cats: &[u8], hours: &[u16]) -> Sums {
    let indicator = |sum: u64| Sums {
        n,
        sum,
        sum_sq: u128::from(sum),
    };
    match w {
        Weekly::InState(set) => {
            indicator(cats.iter().map(|&c| u64::from(set[usize::from(c)])).sum())
        }
        Weekly::Employed(min) => {
            indicator(hours.iter().filter(|&&h| u32::from(h) >= *min).count() as u64)
        }
        Weekly::Hours => {
            // A chunk's Σh² < 4096 · 65535² fits a u64.
            let (mut sum, mut sum_sq) = (0u64, 0u64);
            for &h in hours {
                let h = u64::from(h);
                sum += h;
                sum_sq += h * h;
            }
            Sums {
                n,
                sum,
                sum_sq: u128::from(sum_sq),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moments_from_sums_match_two_pass() {
        // y = 1.25, 2.5, 40 hours in hundredths.
        let s = Sums {
            n: 3,
            sum: 125 + 250 + 4000,
            sum_sq: 125 * 125 + 250 * 250 + 4000 * 4000,
        };
        let m = s.moments(100.0);
        let reference = Moments::of(&[1.25, 2.5, 40.0]);
        assert_eq!(m.n, 3);
        assert!((m.mean - reference.mean).abs() < 1e-14);
        assert!((m.m2 - reference.m2).abs() < 1e-12 * reference.m2);
        assert_eq!(Sums::default().moments(1.0), Moments::default());
    }
}
