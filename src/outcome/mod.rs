//! The outcome kernel: what is measured for a person at an event week,
//! from the panel ([`Outcome`]: in-state shares, hours, employed,
//! cumulative sums, the activity spell indicator, or a custom closure),
//! evaluated into a weeks × persons matrix ([`OutcomeValues`]) or summed
//! exactly per week, block and arm in one scan for many outcomes
//! ([`WeeklySums`]); and each person's spell completion ([`completions`]).

mod spell;
mod sums;

pub use spell::{Completions, PersonSpell, SpellRule, completion_index, completions};
pub use sums::{Sums, WeeklySums};

pub(crate) use spell::{Activity, SpellClock, clock};

use std::fmt;
use std::ops::RangeInclusive;
use std::sync::Arc;

use ndarray::{Array2, ArrayViewMut2, Axis};
use rayon::prelude::*;

use crate::error::{Error, Result};
use crate::inputs::codes::{self, Category};
use crate::panel::{HOURS_SCALE, Panel};

/// Persons per parallel work unit when evaluating outcomes.
const CHUNK: usize = 2048;

/// The signature of a custom outcome: the value for one person at one event
/// week, from that person's history. Return `NaN` for "undefined here".
pub type CustomFn = dyn Fn(&History<'_>) -> f64 + Send + Sync;

/// How to compute an outcome: a value per person and event week (methods
/// §3). Cheap to clone.
///
/// An [`Outcome`] says how to compute the value from a person's weekly
/// category and hours; [`Outcome::evaluate`] computes it for every person of
/// a [`Panel`] over a range of event weeks, giving [`OutcomeValues`]: a
/// weeks × persons matrix in which a missing value (person not observed that
/// week, or the outcome undefined there) is `NaN`.
///
/// | constructor | value at event week k |
/// |---|---|
/// | [`Outcome::in_state`] | 1 if the week's category is in the set, else 0 |
/// | [`Outcome::work_placement`], [`Outcome::wage_subsidy`] | in-state for that category |
/// | [`Outcome::any_benefit`] | 1 for any category other than `none` |
/// | [`Outcome::self_supporting`] | 1 for category `none` (no public benefit) |
/// | [`Outcome::hours`] | ordinary hours, zeros included |
/// | [`Outcome::employed`] | 1 if hours > threshold |
/// | [`Outcome::cumulative`] | Σ of the outcome over weeks 0..=k; missing unless the person is observed at every week 0..=k |
/// | [`Outcome::custom`] | any function of the person's categories and hours up to k |
/// | [`Outcome::spell`] | 1 once a qualifying activity spell is completed ([`SpellRule`]) |
///
/// The descriptive extras of methods §3 (hours among those working, the
/// distribution of positive hours with a chi-square test) are
/// [`hours_among_working`](crate::estimators::hours_among_working) and
/// [`hours_distribution`](crate::estimators::hours_distribution).
#[derive(Clone)]
pub struct Outcome {
    name: String,
    kind: Kind,
}

#[derive(Clone)]
enum Kind {
    InState(States),
    Hours,
    Employed(f64),
    Cumulative(Box<Kind>),
    Custom(Arc<CustomFn>),
    Spell(SpellRule),
}

#[derive(Clone, Debug)]
enum States {
    Named(Vec<String>),
    AnyBenefit,
}

impl fmt::Debug for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outcome").field("name", &self.name).finish()
    }
}

impl Outcome {
    /// 1 if the week's category is one of `categories` (names from the code
    /// table, or `"none"` for self-supporting), else 0.
    pub fn in_state(name: &str, categories: &[&str]) -> Outcome {
        Outcome {
            name: name.into(),
            kind: Kind::InState(States::Named(
                categories.iter().map(|c| c.to_string()).collect(),
            )),
        }
    }

    /// In work placement (category `work_placement`).
    pub fn work_placement() -> Outcome {
        Outcome::in_state(codes::WORK_PLACEMENT, &[codes::WORK_PLACEMENT])
    }

    /// In wage subsidy (category `wage_subsidy`).
    pub fn wage_subsidy() -> Outcome {
        Outcome::in_state(codes::WAGE_SUBSIDY, &[codes::WAGE_SUBSIDY])
    }

    /// On any public benefit: any category other than `none`.
    pub fn any_benefit() -> Outcome {
        Outcome {
            name: "any_benefit".into(),
            kind: Kind::InState(States::AnyBenefit),
        }
    }

    /// Self-supporting: no public benefit that week (category `none`).
    pub fn self_supporting() -> Outcome {
        Outcome::in_state("self_supporting", &[codes::NONE])
    }

    /// Ordinary hours worked in the week (0 when none).
    pub fn hours() -> Outcome {
        Outcome {
            name: "hours".into(),
            kind: Kind::Hours,
        }
    }

    /// 1 if ordinary hours exceed `threshold` (methods default 0), else 0.
    /// Named `employed`.
    pub fn employed(threshold: f64) -> Outcome {
        Outcome {
            name: "employed".into(),
            kind: Kind::Employed(threshold),
        }
    }

    /// The sum of this outcome over event weeks 0..=k, defined for persons
    /// observed at every one of those weeks (missing before week 0). Named
    /// `cumulative_<name>`.
    pub fn cumulative(self) -> Outcome {
        Outcome {
            name: format!("cumulative_{}", self.name),
            kind: Kind::Cumulative(Box::new(self.kind)),
        }
    }

    /// Any function of a person's categories and hours up to event week k
    /// (see [`History`]). A `NaN` result is a missing value; an infinite one
    /// is an error.
    pub fn custom(name: &str, f: impl Fn(&History<'_>) -> f64 + Send + Sync + 'static) -> Outcome {
        Outcome {
            name: name.into(),
            kind: Kind::Custom(Arc::new(f)),
        }
    }

    /// The activity spell indicator (methods §5): 1 from the week a qualifying
    /// spell is completed, 0 before; missing before the rule's first week
    /// and for persons not observed from it. Named `spell`.
    pub fn spell(rule: SpellRule) -> Outcome {
        Outcome {
            name: "spell".into(),
            kind: Kind::Spell(rule),
        }
    }

    /// The same outcome under another name.
    pub fn named(mut self, name: &str) -> Outcome {
        self.name = name.into();
        self
    }

    /// The outcome's name (the `outcome` column of result tables).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Compute the outcome for every person of `panel` at event weeks
    /// `weeks`, in parallel over persons.
    ///
    /// Fails when `weeks` is empty or not inside the panel's window, when a
    /// category is not in the code table, when a cumulative outcome is asked
    /// for a panel without week 0, or when a custom function returns an
    /// infinite value.
    pub fn evaluate<'p>(
        &self,
        panel: &'p Panel,
        weeks: RangeInclusive<i32>,
    ) -> Result<OutcomeValues<'p>> {
        self.check_weeks(panel, &weeks)?;
        let eval = Eval::resolve(&self.kind, &self.name, panel)?;
        let mut values = Array2::from_elem((weeks.clone().count(), panel.n_persons()), f64::NAN);
        values
            .axis_chunks_iter_mut(Axis(1), CHUNK)
            .into_par_iter()
            .enumerate()
            .map(|(i, mut chunk)| eval.fill(panel, i * CHUNK, &weeks, &mut chunk.view_mut()))
            .collect::<Result<()>>()?;
        Ok(OutcomeValues {
            panel,
            name: self.name.clone(),
            first_week: *weeks.start(),
            values,
        })
    }
}

impl Outcome {
    fn check_weeks(&self, panel: &Panel, weeks: &RangeInclusive<i32>) -> Result<()> {
        panel.check_weeks(weeks, &format!("weeks of outcome `{}`", self.name))
    }

    /// Per person (panel order): the sum of the outcome over event weeks
    /// `weeks`, missing for a person not observed at every one of them (or
    /// with a missing value there). The register-history covariates of
    /// [`crate::estimators::balance`] are such totals. Weekly built-in outcomes are
    /// summed exactly in integer units in one pass over the weeks' bytes;
    /// others through [`Outcome::evaluate`].
    pub fn totals(&self, panel: &Panel, weeks: RangeInclusive<i32>) -> Result<Vec<Option<f64>>> {
        self.check_weeks(panel, &weeks)?;
        let Some(Exact::Weekly(weekly)) = self.exact(panel)? else {
            let values = self.evaluate(panel, weeks)?;
            return Ok(values
                .matrix()
                .sum_axis(Axis(0))
                .iter()
                .map(|&s| (!s.is_nan()).then_some(s))
                .collect());
        };
        let n = panel.n_persons();
        let starts: Vec<usize> = (0..n).step_by(CHUNK).collect();
        let (scale, from, to) = (weekly.scale(), *weeks.start(), *weeks.end());
        Ok(starts
            .par_iter()
            .flat_map_iter(|&first| {
                let persons = first..(first + CHUNK).min(n);
                let spans: Vec<RangeInclusive<i32>> =
                    persons.map(|p| panel.observed_span(p)).collect();
                // Defined for the persons observed through the window.
                let mut total = vec![None; spans.len()];
                weekly.walk_sums(panel, first, &spans, from, to, |k, j, sum| {
                    if k == to {
                        total[j] = Some(sum as f64 / scale);
                    }
                });
                total
            })
            .collect())
    }
}

/// An outcome resolved against a panel's code table.
enum Eval<'a> {
    InState(Box<[bool; 256]>),
    Hours,
    Employed(f64),
    /// The cumulative sum of a built-in outcome, in integer units.
    Running(Weekly),
    /// The cumulative sum of a custom outcome's values.
    Cumulative(Box<Eval<'a>>),
    Custom(&'a CustomFn, &'a str),
    Spell(Box<Activity>),
}

impl<'a> Eval<'a> {
    fn resolve(kind: &'a Kind, name: &'a str, panel: &Panel) -> Result<Eval<'a>> {
        Ok(match kind {
            Kind::InState(States::AnyBenefit) => {
                let mut set = Box::new([true; 256]);
                set[usize::from(Category::NONE.0)] = false;
                // A week after follow-up ended is in no state.
                set[usize::from(Category::ENDED.0)] = false;
                Eval::InState(set)
            }
            Kind::InState(States::Named(names)) => Eval::InState(Box::new(
                panel
                    .codes()
                    .category_set(names, &format!("outcome `{name}`"))?,
            )),
            Kind::Hours => Eval::Hours,
            Kind::Employed(t) if t.is_finite() => Eval::Employed(*t),
            Kind::Employed(t) => {
                return Err(Error::InvalidSetting {
                    name: format!("outcome `{name}`"),
                    reason: format!("the hours threshold must be a finite number, not {t}"),
                });
            }
            Kind::Cumulative(inner) => {
                let inner = Eval::resolve(inner, name, panel)?;
                match Weekly::of(&inner) {
                    Some(w) => Eval::Running(w),
                    None => Eval::Cumulative(Box::new(inner)),
                }
            }
            Kind::Custom(f) => Eval::Custom(f.as_ref(), name),
            Kind::Spell(rule) => Eval::Spell(Box::new(rule.resolve(panel)?)),
        })
    }

    /// Fill `out` (weeks × persons `first..first + out.ncols()`) with the
    /// values at `weeks`; missing stays `NaN`.
    fn fill(
        &self,
        panel: &Panel,
        first: usize,
        weeks: &RangeInclusive<i32>,
        out: &mut ArrayViewMut2<'_, f64>,
    ) -> Result<()> {
        let persons = first..first + out.ncols();
        let spans: Vec<RangeInclusive<i32>> =
            persons.clone().map(|p| panel.observed_span(p)).collect();
        match self {
            Eval::Running(w) => return fill_running(w, panel, first, weeks, &spans, out),
            Eval::Cumulative(inner) => {
                return fill_cumulative(inner, panel, first, weeks, &spans, out);
            }
            Eval::Spell(activity) => {
                fill_spell(activity, panel, first, weeks, &spans, out);
                return Ok(());
            }
            _ => {}
        }
        for (row, k) in out.axis_iter_mut(Axis(0)).zip(weeks.clone()) {
            let (Some(cats), Some(hours)) = (panel.categories(k), panel.centihours(k)) else {
                continue;
            };
            for ((j, y), span) in row.into_iter().enumerate().zip(&spans) {
                if !span.contains(&k) {
                    continue;
                }
                let p = first + j;
                *y = match self {
                    Eval::InState(set) => f64::from(u8::from(set[usize::from(cats[p])])),
                    Eval::Hours => f64::from(hours[p]) / HOURS_SCALE,
                    Eval::Employed(t) => {
                        f64::from(u8::from(f64::from(hours[p]) / HOURS_SCALE > *t))
                    }
                    Eval::Custom(f, name) => {
                        let v = f(&History {
                            panel,
                            person: p,
                            week: k,
                        });
                        if v.is_infinite() {
                            return Err(Error::InvalidSetting {
                                name: format!("outcome `{name}`"),
                                reason: format!(
                                    "the custom function returned {v} for person {} at event week {k}",
                                    panel.persons().ids()[p]
                                ),
                            });
                        }
                        v
                    }
                    Eval::Running(_) | Eval::Cumulative(_) | Eval::Spell(_) => f64::NAN,
                };
            }
        }
        Ok(())
    }
}

/// A built-in outcome in integer units, for the exact sums of
/// [`crate::outcome::sums`]: indicators are 0/1, hours are hundredths of an hour.
pub(crate) enum Exact {
    /// A function of the week's category and hours.
    Weekly(Weekly),
    /// Σ of a weekly value over event weeks 0..=k.
    Cumulative(Weekly),
    /// The activity spell indicator.
    Spell(Box<Activity>),
}

/// A function of one week's category and stored hours, in integer units.
pub(crate) enum Weekly {
    InState(Box<[bool; 256]>),
    Hours,
    /// Employed: stored hours of at least this many hundredths.
    Employed(u32),
}

impl Weekly {
    /// The value of a week with category `c` and `h` hundredths of an hour.
    #[inline]
    pub(crate) fn value(&self, c: u8, h: u16) -> u32 {
        match self {
            Weekly::InState(set) => u32::from(set[usize::from(c)]),
            Weekly::Hours => u32::from(h),
            Weekly::Employed(min) => u32::from(u32::from(h) >= *min),
        }
    }

    /// Integer units per unit of the outcome (100 for hours, else 1).
    pub(crate) fn scale(&self) -> f64 {
        match self {
            Weekly::Hours => HOURS_SCALE,
            _ => 1.0,
        }
    }

    fn of(eval: &Eval<'_>) -> Option<Weekly> {
        match eval {
            Eval::InState(set) => Some(Weekly::InState(set.clone())),
            Eval::Hours => Some(Weekly::Hours),
            // The smallest stored value counted by `hours > t` exactly as
            // `Eval::Employed` counts it (u32::MAX: none is).
            Eval::Employed(t) => Some(Weekly::Employed(
                (0..=u32::from(u16::MAX))
                    .find(|&h| f64::from(h) / HOURS_SCALE > *t)
                    .unwrap_or(u32::MAX),
            )),
            Eval::Running(_) | Eval::Cumulative(_) | Eval::Custom(..) | Eval::Spell(_) => None,
        }
    }

    /// The one running sum of a built-in outcome, in integer units: over
    /// the panel persons `first..first + spans.len()` (with their observed
    /// spans) and event weeks `from..=to`, for each person observed at
    /// `from`, the sum of the outcome over weeks `from..=k`, passed to
    /// `visit(k, j, sum)` for person `first + j` at each week k they are
    /// observed. Behind cumulative outcomes (from week 0), their exact
    /// weekly sums and the history totals alike.
    pub(crate) fn walk_sums(
        &self,
        panel: &Panel,
        first: usize,
        spans: &[RangeInclusive<i32>],
        from: i32,
        to: i32,
        mut visit: impl FnMut(i32, usize, u64),
    ) {
        let mut running = vec![0u64; spans.len()];
        for k in from..=to {
            let (Some(cats), Some(hours)) = (panel.categories(k), panel.centihours(k)) else {
                return;
            };
            for (j, span) in spans.iter().enumerate() {
                if !(span.contains(&from) && span.contains(&k)) {
                    continue;
                }
                let p = first + j;
                running[j] += u64::from(self.value(cats[p], hours[p]));
                visit(k, j, running[j]);
            }
        }
    }
}

impl Outcome {
    /// `true` when the outcome has an exact integer form
    /// ([`Outcome::exact`]): all built-in outcomes but a cumulative spell
    /// and a cumulative of a cumulative.
    pub(crate) fn has_exact_form(&self) -> bool {
        match &self.kind {
            Kind::Custom(_) => false,
            Kind::Cumulative(inner) => !matches!(
                **inner,
                Kind::Custom(_) | Kind::Spell(_) | Kind::Cumulative(_)
            ),
            _ => true,
        }
    }

    /// The outcome in integer units, or `None` for an outcome that has no
    /// exact integer form (a custom outcome, a cumulative spell or a
    /// cumulative of a cumulative). Fails as [`Outcome::evaluate`] does for
    /// categories missing from the code table or a bad threshold.
    pub(crate) fn exact(&self, panel: &Panel) -> Result<Option<Exact>> {
        Ok(match Eval::resolve(&self.kind, &self.name, panel)? {
            Eval::Running(w) => Some(Exact::Cumulative(w)),
            Eval::Spell(activity) => Some(Exact::Spell(activity)),
            eval => Weekly::of(&eval).map(Exact::Weekly),
        })
    }
}

/// A cumulative outcome at weeks ≥ 0 needs week 0, where its sum starts,
/// in the panel.
pub(crate) fn check_week_zero(panel: &Panel) -> Result<()> {
    panel.check_weeks(&(0..=0), "cumulative outcome (its sum starts at week 0)")
}

/// The cumulative outcome of a built-in outcome for the persons of one
/// chunk, from [`Weekly::walk_sums`].
fn fill_running(
    w: &Weekly,
    panel: &Panel,
    first: usize,
    weeks: &RangeInclusive<i32>,
    spans: &[RangeInclusive<i32>],
    out: &mut ArrayViewMut2<'_, f64>,
) -> Result<()> {
    let last = *weeks.end();
    if last < 0 {
        return Ok(());
    }
    check_week_zero(panel)?;
    let scale = w.scale();
    w.walk_sums(panel, first, spans, 0, last, |k, j, sum| {
        if weeks.contains(&k) {
            out[((k - weeks.start()) as usize, j)] = sum as f64 / scale;
        }
    });
    Ok(())
}

/// Running sums of a custom outcome's values `inner` over weeks 0..=k for
/// the persons of one chunk.
fn fill_cumulative(
    inner: &Eval<'_>,
    panel: &Panel,
    first: usize,
    weeks: &RangeInclusive<i32>,
    spans: &[RangeInclusive<i32>],
    out: &mut ArrayViewMut2<'_, f64>,
) -> Result<()> {
    let last = *weeks.end();
    if last < 0 {
        return Ok(());
    }
    check_week_zero(panel)?;
    let mut base = Array2::from_elem((last as usize + 1, out.ncols()), f64::NAN);
    inner.fill(panel, first, &(0..=last), &mut base.view_mut())?;
    let mut running: Vec<f64> = spans
        .iter()
        .map(|s| if s.contains(&0) { 0.0 } else { f64::NAN })
        .collect();
    for (k, row) in (0..=last).zip(base.axis_iter(Axis(0))) {
        for (sum, y) in running.iter_mut().zip(row) {
            *sum += y;
        }
        if weeks.contains(&k) {
            let mut target = out.row_mut((k - weeks.start()) as usize);
            for ((t, &sum), span) in target.iter_mut().zip(&running).zip(spans) {
                if span.contains(&k) {
                    *t = sum;
                }
            }
        }
    }
    Ok(())
}

/// The spell indicator for the persons of one chunk: the engine runs from
/// the rule's first week, one state per person.
fn fill_spell(
    activity: &Activity,
    panel: &Panel,
    first: usize,
    weeks: &RangeInclusive<i32>,
    spans: &[RangeInclusive<i32>],
    out: &mut ArrayViewMut2<'_, f64>,
) {
    activity.walk(panel, first, spans, *weeks.end(), |k, j, done| {
        if weeks.contains(&k) {
            out[((k - weeks.start()) as usize, j)] = f64::from(u8::from(done));
        }
    });
}

/// One person's weeks up to event week k, as seen by a custom outcome.
/// Weeks after k, and weeks at which the person is not observed, are `None`.
pub struct History<'a> {
    panel: &'a Panel,
    person: usize,
    week: i32,
}

impl History<'_> {
    /// The event week k the value is for.
    pub fn week(&self) -> i32 {
        self.week
    }

    /// The person's id.
    pub fn person_id(&self) -> &str {
        &self.panel.persons().ids()[self.person]
    }

    /// Category at event week `j ≤ k`, if observed.
    pub fn category(&self, j: i32) -> Option<Category> {
        (j <= self.week)
            .then(|| self.panel.category_at(self.person, j))
            .flatten()
    }

    /// Category name at event week `j ≤ k`, if observed.
    pub fn category_name(&self, j: i32) -> Option<&str> {
        self.category(j).map(|c| self.panel.codes().name(c))
    }

    /// Ordinary hours at event week `j ≤ k`, if observed.
    pub fn hours(&self, j: i32) -> Option<f64> {
        (j <= self.week)
            .then(|| self.panel.hours_at(self.person, j))
            .flatten()
    }

    /// The event weeks `j ≤ k` at which the person is observed.
    pub fn observed_weeks(&self) -> RangeInclusive<i32> {
        let span = self.panel.observed_span(self.person);
        *span.start()..=(*span.end()).min(self.week)
    }
}

/// An outcome computed over a range of event weeks: weeks × persons (panel
/// order), `NaN` where missing.
#[derive(Clone, Debug)]
pub struct OutcomeValues<'p> {
    panel: &'p Panel,
    name: String,
    first_week: i32,
    values: Array2<f64>,
}

impl<'p> OutcomeValues<'p> {
    /// The panel the values come from.
    pub fn panel(&self) -> &'p Panel {
        self.panel
    }

    /// The outcome's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The event weeks covered.
    pub fn weeks(&self) -> RangeInclusive<i32> {
        self.first_week..=self.first_week + self.values.nrows() as i32 - 1
    }

    /// The values of all persons (panel order) at event week `k`.
    pub fn week(&self, k: i32) -> Option<&[f64]> {
        let i = usize::try_from(k - self.first_week).ok()?;
        (i < self.values.nrows())
            .then(|| self.values.row(i).to_slice())
            .flatten()
    }

    /// The whole weeks × persons matrix.
    pub fn matrix(&self) -> &Array2<f64> {
        &self.values
    }

    /// Keep only persons followed through event week `last` (a fixed
    /// cohort: the same persons behind every week). Others become missing.
    pub fn fixed_cohort(mut self, last: i32) -> OutcomeValues<'p> {
        let panel = self.panel;
        for (p, mut column) in self.values.axis_iter_mut(Axis(1)).enumerate() {
            if panel.followed_until(p).is_none_or(|f| f < last) {
                column.fill(f64::NAN);
            }
        }
        self
    }
}
