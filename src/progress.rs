//! How far a long step got, for a progress line: the rows and bytes of a
//! read ([`LoadProgress`]) or the draws of a re-sampling step (the
//! simultaneous band, a randomisation test: [`DrawProgress`]), reported
//! from any thread at most every quarter second. Reporting never changes a
//! result.

use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Rows and bytes read so far, for a progress line.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LoadProgress {
    /// Data rows read.
    pub rows: u64,
    /// Bytes of the file read (CSV), or of the row groups decoded (Parquet).
    pub bytes: u64,
    /// Size of the file in bytes (0 for an in-memory frame).
    pub total_bytes: u64,
    /// Time since the read started.
    pub elapsed: std::time::Duration,
}

/// Draws done so far in a re-sampling step.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DrawProgress {
    /// Draws done.
    pub done: u64,
    /// Draws the step makes.
    pub total: u64,
    /// Time since the step started.
    pub elapsed: Duration,
}

impl DrawProgress {
    /// The time the remaining draws take at the pace so far (`None` before
    /// the first draw).
    pub fn left(&self) -> Option<Duration> {
        (self.done > 0).then(|| {
            self.elapsed
                .mul_f64((self.total.saturating_sub(self.done)) as f64 / self.done as f64)
        })
    }
}

/// How far a long step of [`Analysis::run_with_progress`](crate::analysis::Analysis::run_with_progress)
/// got.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Reading the register.
    Load(LoadProgress),
    /// Drawing: the band's normal draws or a randomisation test's re-draws.
    Draws(DrawProgress),
}

/// Whom a re-sampling step tells how far it got.
pub(crate) type DrawReport<'a> = &'a (dyn Fn(&DrawProgress) + Sync);

/// At most one report every quarter second, from any thread.
pub(crate) struct Throttle {
    start: Instant,
    last: Mutex<Instant>,
}

impl Throttle {
    pub(crate) fn new() -> Throttle {
        Throttle {
            start: Instant::now(),
            last: Mutex::new(Instant::now()),
        }
    }

    /// The time since the start when a report is due now (a quarter second
    /// after the last one, and no other thread is reporting).
    pub(crate) fn due(&self) -> Option<Duration> {
        let mut last = self.last.try_lock().ok()?;
        (last.elapsed() >= Duration::from_millis(250)).then(|| {
            *last = Instant::now();
            self.start.elapsed()
        })
    }
}

/// Draws counted from any thread, reported through a [`DrawReport`].
pub(crate) struct Draws<'a> {
    total: u64,
    done: AtomicU64,
    throttle: Throttle,
    report: Option<DrawReport<'a>>,
}

impl<'a> Draws<'a> {
    pub(crate) fn new(total: u64, report: Option<DrawReport<'a>>) -> Draws<'a> {
        Draws {
            total,
            done: AtomicU64::new(0),
            throttle: Throttle::new(),
            report,
        }
    }

    /// `n` more draws done.
    pub(crate) fn add(&self, n: u64) {
        let done = self.done.fetch_add(n, Ordering::Relaxed) + n;
        if let Some(report) = self.report
            && let Some(elapsed) = self.throttle.due()
        {
            report(&DrawProgress {
                done,
                total: self.total,
                elapsed,
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_time_left_is_at_the_pace_so_far() {
        let p = DrawProgress {
            done: 250,
            total: 1000,
            elapsed: Duration::from_secs(5),
        };
        assert_eq!(p.left(), Some(Duration::from_secs(15)));
        assert_eq!(DrawProgress { done: 0, ..p }.left(), None);
    }
}
