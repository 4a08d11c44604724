//! Hours descriptives at one event week: mean hours among those working
//! and the distribution of positive hours over buckets, by arm.

use polars::prelude::{DataFrame, IntoColumn, NamedFrom, Series};
use serde::Serialize;

use crate::error::{Error, Result};
use crate::inputs::Arm;
use crate::inputs::Category;
use crate::outcome::Sums;
use crate::panel::{HOURS_SCALE, MAX_HOURS, Panel};
use crate::stats::{self, ChiSquare, Estimate, Level, Variance};
use crate::table::Table;

/// Default upper bounds of the positive-hours buckets:
/// (0,5], (5,10], (10,15], (15,20], (20,30], (30,37], >37.
pub const DEFAULT_HOURS_BUCKETS: [f64; 6] = [5.0, 10.0, 15.0, 20.0, 30.0, 37.0];

/// Largest stored hours value, in hundredths of an hour.
const MAX_CENTIHOURS: usize = (MAX_HOURS * HOURS_SCALE) as usize;

/// Hours descriptives at one event week: mean hours among those working
/// and the distribution of positive hours over buckets, by arm.
///
/// Both come from [`HoursAt`]: how many persons observed at the week have
/// each positive number of hundredths of an hour, per arm. These are exact
/// counts, so the counts of disjoint parts of the persons add up
/// ([`HoursAt::merge`]) to those of all of them, bit for bit: an analysis
/// read in parts of persons merges them.
///
/// ```
/// use trialpanel::estimators::{HoursAt, DEFAULT_HOURS_BUCKETS};
/// use trialpanel::stats::Level;
/// use trialpanel::simulate::{simulate, TrialSpec};
/// use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons};
///
/// let trial = simulate(&TrialSpec { persons: 400, ..TrialSpec::default() })?;
/// let persons = Persons::from_frame(trial.persons, "persons", &PersonSpec::default())?;
/// let codes = CodeTable::from_frame(trial.codes, "codes")?;
/// let panel = Panel::builder(&persons, &codes)
///     .long_frame(trial.register, "register", &LongColumns::default())?;
/// let hours = HoursAt::of(&panel, 26)?;
/// let working = hours.among_working(Level::default());
/// let buckets = hours.distribution(&DEFAULT_HOURS_BUCKETS)?;
/// assert_eq!(buckets.counts[1].iter().sum::<usize>(), working.n_treat);
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// Persons observed at one event week by their positive hours, per arm:
/// `counts[arm][h]` persons worked `h` hundredths of an hour (`h ≥ 1`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HoursAt {
    week: i32,
    counts: [Vec<u64>; 2],
}

impl HoursAt {
    /// The counts over the persons of `panel` observed at event week `k`.
    pub fn of(panel: &Panel, k: i32) -> Result<HoursAt> {
        panel.check_weeks(&(k..=k), "hours week")?;
        let hours = panel.centihours(k).unwrap_or_default();
        let cats = panel.categories(k).unwrap_or_default();
        let mut counts = [
            vec![0u64; MAX_CENTIHOURS + 1],
            vec![0u64; MAX_CENTIHOURS + 1],
        ];
        for (g, range) in panel.observed(k) {
            let arm = &mut counts[g.arm as usize];
            for (&h, &c) in hours[range.clone()].iter().zip(&cats[range]) {
                // Stored hours are at most MAX_HOURS (checked when read); a
                // week after follow-up ended is not observed.
                if c == Category::ENDED.0 {
                    continue;
                }
                if let Some(c) = arm.get_mut(usize::from(h)) {
                    *c += 1;
                }
            }
        }
        Ok(HoursAt { week: k, counts })
    }

    /// The event week counted.
    pub fn week(&self) -> i32 {
        self.week
    }

    /// Add the counts of `other`, a disjoint set of persons at the same
    /// week.
    pub fn merge(&mut self, other: &HoursAt) -> Result<()> {
        if other.week != self.week {
            return Err(Error::InvalidSetting {
                name: "hours".into(),
                reason: format!(
                    "cannot merge the hours of event week {} into those of week {}",
                    other.week, self.week
                ),
            });
        }
        for (mine, theirs) in self.counts.iter_mut().zip(&other.counts) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        Ok(())
    }

    /// Persons with positive hours and exact Σh, Σh² (hundredths) in `arm`.
    fn working(&self, arm: Arm) -> Sums {
        let mut s = Sums::default();
        for (h, &c) in self.counts[arm as usize].iter().enumerate().skip(1) {
            let h = h as u64;
            s.n += c;
            s.sum += c * h;
            s.sum_sq += u128::from(c) * u128::from(h * h);
        }
        s
    }

    /// Mean hours among those working (hours > 0), per arm, compared as a
    /// Welch difference in means at `level`: n counts the persons working;
    /// the moments are exact sums rounded once (see [`Sums::moments`]).
    pub fn among_working(&self, level: Level) -> Estimate {
        let at = |arm| self.working(arm).moments(HOURS_SCALE);
        stats::difference_in_means(
            &at(Arm::Treatment),
            &at(Arm::Control),
            level.get(),
            Variance::Welch,
        )
    }

    /// The distribution of positive hours over buckets with upper bounds
    /// `bounds` (increasing, positive; a last open bucket `>max` is added),
    /// by arm, with Pearson's chi-square test.
    pub fn distribution(&self, bounds: &[f64]) -> Result<HoursDistribution> {
        let increasing = bounds.windows(2).all(|w| w[0] < w[1]);
        if bounds.is_empty() || !increasing || !bounds.iter().all(|b| b.is_finite() && *b > 0.0) {
            return Err(Error::InvalidSetting {
                name: "hours buckets".into(),
                reason: format!("bounds must be positive, finite and increasing, got {bounds:?}"),
            });
        }
        let mut counts = [
            vec![0usize; bounds.len() + 1],
            vec![0usize; bounds.len() + 1],
        ];
        for (arm, by_hours) in counts.iter_mut().zip(&self.counts) {
            for (h, &c) in by_hours.iter().enumerate().skip(1) {
                let x = h as f64 / HOURS_SCALE;
                arm[bounds.partition_point(|&b| b < x)] += c as usize;
            }
        }
        let mut buckets: Vec<String> = Vec::with_capacity(bounds.len() + 1);
        let mut lower = 0.0;
        for b in bounds {
            buckets.push(format!("({lower},{b}]"));
            lower = *b;
        }
        buckets.push(format!(">{lower}"));
        let table: Vec<Vec<f64>> = counts
            .iter()
            .map(|row| row.iter().map(|&c| c as f64).collect())
            .collect();
        Ok(HoursDistribution {
            week: self.week,
            buckets,
            test: stats::pearson_chi_square(&table),
            counts,
        })
    }
}

/// Mean hours among those working at event week `k` of `panel`
/// ([`HoursAt::among_working`]).
pub fn hours_among_working(panel: &Panel, k: i32, level: Level) -> Result<Estimate> {
    Ok(HoursAt::of(panel, k)?.among_working(level))
}

/// The distribution of positive hours at event week `k` of `panel`
/// ([`HoursAt::distribution`]).
pub fn hours_distribution(panel: &Panel, k: i32, bounds: &[f64]) -> Result<HoursDistribution> {
    HoursAt::of(panel, k)?.distribution(bounds)
}

/// The distribution of positive hours over buckets, by arm, at one week.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HoursDistribution {
    /// Event week.
    pub week: i32,
    /// Bucket labels such as `(0,5]` and `>37`.
    pub buckets: Vec<String>,
    /// Persons with hours in each bucket: `[control, treatment]`.
    pub counts: [Vec<usize>; 2],
    /// Pearson chi-square (no continuity correction) on the arm × bucket
    /// table; `None` when fewer than two buckets or arms have persons.
    pub test: Option<ChiSquare>,
}

impl HoursDistribution {
    /// Share of each arm's working persons in each bucket (missing when the
    /// arm has nobody working).
    pub fn shares(&self, arm: Arm) -> Vec<Option<f64>> {
        let counts = &self.counts[arm as usize];
        let total: usize = counts.iter().sum();
        counts
            .iter()
            .map(|&c| (total > 0).then(|| c as f64 / total as f64))
            .collect()
    }
}

impl Table for HoursDistribution {
    /// Tidy table: `bucket, n_treat, n_control, share_treat, share_control`.
    fn to_frame(&self) -> Result<DataFrame> {
        let count = |arm: Arm| {
            self.counts[arm as usize]
                .iter()
                .map(|&c| c as u64)
                .collect::<Vec<u64>>()
        };
        crate::table::frame(
            "hours distribution",
            vec![
                Series::new("bucket".into(), self.buckets.clone()).into_column(),
                Series::new("n_treat".into(), count(Arm::Treatment)).into_column(),
                Series::new("n_control".into(), count(Arm::Control)).into_column(),
                Series::new("share_treat".into(), self.shares(Arm::Treatment)).into_column(),
                Series::new("share_control".into(), self.shares(Arm::Control)).into_column(),
            ],
        )
    }
}
