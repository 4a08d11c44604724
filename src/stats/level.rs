//! A confidence level, checked once when it is made ([`Level`]): every
//! interval, test and band takes one, so none re-checks it.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Highest accepted confidence level: 1 − 10⁻⁹. Nearer to 1, 1 − α/2
/// rounds to 1 in floating point and the normal and t quantiles are
/// infinite.
pub const MAX_LEVEL: f64 = 1.0 - 1e-9;

/// A confidence level in (0, [`MAX_LEVEL`]]: 0.95 for 95% intervals.
///
/// ```
/// use trialpanel::stats::Level;
///
/// let level = Level::new(0.90)?;
/// assert_eq!(level.get(), 0.90);
/// assert_eq!(Level::default().get(), 0.95);
/// assert!(Level::new(1.5).is_err());
/// # Ok::<(), trialpanel::Error>(())
/// ```
#[derive(Clone, Copy, Debug, PartialEq, PartialOrd, Serialize, Deserialize)]
#[serde(try_from = "f64", into = "f64")]
pub struct Level(f64);

impl Level {
    /// `level`, or [`Error::InvalidSetting`] unless 0 < level ≤
    /// [`MAX_LEVEL`].
    pub fn new(level: f64) -> Result<Level> {
        if level > 0.0 && level <= MAX_LEVEL {
            Ok(Level(level))
        } else {
            Err(Error::InvalidSetting {
                name: "level".into(),
                reason: format!(
                    "a confidence level must be above 0 and at most {MAX_LEVEL} (closer to 1 the \
                     critical values are infinite), got {level}"
                ),
            })
        }
    }

    /// The level as a number.
    pub fn get(self) -> f64 {
        self.0
    }

    /// 1 − α/2, the quantile of a two-sided interval.
    pub(crate) fn upper(self) -> f64 {
        1.0 - (1.0 - self.0) / 2.0
    }
}

impl Default for Level {
    /// 0.95.
    fn default() -> Level {
        Level(0.95)
    }
}

impl TryFrom<f64> for Level {
    type Error = Error;

    fn try_from(level: f64) -> Result<Level> {
        Level::new(level)
    }
}

impl From<Level> for f64 {
    fn from(level: Level) -> f64 {
        level.0
    }
}
