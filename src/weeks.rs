//! ISO 8601 weeks ([`Week`]): parsing every spelling registers use, and
//! event weeks k = calendar week − referral week.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::excerpt::{VALUE_CHARS, excerpt};

/// The result of building or parsing a [`Week`].
pub type Result<T> = std::result::Result<T, WeekError>;

/// A text that is not an ISO week, or a year, week or date out of range.
/// Inside trialpanel it becomes [`Error::InvalidWeek`](crate::Error::InvalidWeek)
/// (or, for a cell of an input file, an invalid value naming its row).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("invalid week `{}`: {reason}", excerpt(.value, VALUE_CHARS))]
pub struct WeekError {
    /// The offending value, as written.
    pub value: String,
    /// Why it cannot be used.
    pub reason: String,
}

/// An ISO 8601 calendar week, stored as a linear week number.
///
/// A [`Week`] is a calendar week in the ISO 8601 sense: weeks start on Monday
/// and week 1 of a year is the week that holds its first Thursday, so a year
/// has 52 or 53 weeks and the first days of January may belong to the last
/// week of the year before. Internally a week is a linear week number (week 0
/// is 1970-W01, the week starting Monday 1969-12-29), so that the distance
/// between two weeks is a subtraction.
///
/// Accepted spellings ([`Week::parse`]):
///
/// | input | meaning |
/// |---|---|
/// | `2016-W10`, `2016W10`, `2016-W10-3` | ISO week date (the day is ignored) |
/// | `201610` | year and week, six digits |
/// | `2016-03-09`, `20160309` | a date: the ISO week that holds it |
/// | `y_1610` | a DREAM column name: two-digit year (90–99 → 1990s, 00–89 → 2000s) and week |
///
/// An *event week* is `k = calendar week − referral week` (see [`Week::event_week`]):
/// k = 0 is the referral week, negative k is history before referral.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Week(i32);

/// Years accepted by the parser; wide enough for any register.
const YEARS: std::ops::RangeInclusive<i32> = 1900..=2200;

impl Week {
    /// A week after every week the parser accepts (ISO years up to 2200,
    /// whose last week is number 12,001).
    pub(crate) const LAST: Week = Week(12_100);

    /// The week with ISO year `year` and week number `week` (1–52 or 53).
    ///
    /// Week 53 is accepted only in years that have one (e.g. 2015, 2020).
    pub fn from_iso(year: i32, week: u32) -> Result<Week> {
        let weeks = Self::weeks_in_year(year).ok_or_else(|| WeekError {
            value: format!("{year}-W{week:02}"),
            reason: format!("year {year} is outside {}..={}", YEARS.start(), YEARS.end()),
        })?;
        if week == 0 || week > weeks {
            return Err(WeekError {
                value: format!("{year}-W{week:02}"),
                reason: format!("ISO year {year} has weeks 1 to {weeks}"),
            });
        }
        // 4 January is always in week 1; its week's Monday starts week 1.
        let jan4 = days_from_civil(year, 1, 4);
        let monday = jan4 - weekday(jan4);
        Ok(Week(week_of_days(monday) + week as i32 - 1))
    }

    /// The ISO week that holds the date `year-month-day`.
    pub fn from_date(year: i32, month: u32, day: u32) -> Result<Week> {
        let value = format!("{year:04}-{month:02}-{day:02}");
        if !YEARS.contains(&year) {
            return Err(WeekError {
                value,
                reason: format!("year {year} is outside {}..={}", YEARS.start(), YEARS.end()),
            });
        }
        if !(1..=12).contains(&month) || day == 0 || day > days_in_month(year, month) {
            return Err(WeekError {
                value,
                reason: "not a calendar date".into(),
            });
        }
        Ok(Week(week_of_days(days_from_civil(year, month, day))))
    }

    /// Parse any of the spellings in the module documentation.
    pub fn parse(input: &str) -> Result<Week> {
        let s = input.trim();
        let fail = |reason: &str| WeekError {
            value: input.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = s.strip_prefix("y_").or_else(|| s.strip_prefix("Y_")) {
            return Self::from_dream_digits(rest).map_err(|e| relabel(e, input));
        }
        let bytes = s.as_bytes();
        let all_digits = |b: &[u8]| !b.is_empty() && b.iter().all(u8::is_ascii_digit);
        // YYYY-Www, YYYYWww, YYYY-Www-D
        if let Some(pos) = s.find(['W', 'w']) {
            let year_part = s[..pos].strip_suffix('-').unwrap_or(&s[..pos]);
            let week_part = &s[pos + 1..];
            let week_part = match week_part.split_once('-') {
                Some((w, d)) if d.len() == 1 && matches!(d.as_bytes()[0], b'1'..=b'7') => w,
                Some(_) => return Err(fail("expected YYYY-Www or YYYY-Www-D")),
                None => week_part,
            };
            if year_part.len() != 4
                || !all_digits(year_part.as_bytes())
                || week_part.len() != 2
                || !all_digits(week_part.as_bytes())
            {
                return Err(fail("expected YYYY-Www"));
            }
            let year = parse_num(year_part);
            let week = parse_num(week_part) as u32;
            return Self::from_iso(year, week).map_err(|e| relabel(e, input));
        }
        // YYYY-MM-DD
        if bytes.len() == 10 && bytes[4] == b'-' && bytes[7] == b'-' {
            let (y, m, d) = (&s[..4], &s[5..7], &s[8..]);
            if ![y, m, d].iter().all(|p| all_digits(p.as_bytes())) {
                return Err(fail("expected a date YYYY-MM-DD"));
            }
            return Self::from_date(parse_num(y), parse_num(m) as u32, parse_num(d) as u32)
                .map_err(|e| relabel(e, input));
        }
        if all_digits(bytes) {
            return match bytes.len() {
                6 => Self::from_iso(parse_num(&s[..4]), parse_num(&s[4..]) as u32)
                    .map_err(|e| relabel(e, input)),
                8 => Self::from_date(
                    parse_num(&s[..4]),
                    parse_num(&s[4..6]) as u32,
                    parse_num(&s[6..]) as u32,
                )
                .map_err(|e| relabel(e, input)),
                _ => Err(fail("expected six digits YYYYWW or eight digits YYYYMMDD")),
            };
        }
        Err(fail(
            "expected YYYY-Www, YYYYWW, a date YYYY-MM-DD or a DREAM name y_YYWW",
        ))
    }

    /// Parse a DREAM-style column name `<prefix>YYWW`, e.g. `y_1610` with prefix `y_`.
    ///
    /// Returns `Ok(None)` when `name` does not start with `prefix` (the column
    /// is not a week column), and an error when it does but the rest is not a
    /// valid two-digit year and week.
    pub fn from_dream_column(name: &str, prefix: &str) -> Result<Option<Week>> {
        match name.strip_prefix(prefix) {
            None => Ok(None),
            Some(rest) => Self::from_dream_digits(rest)
                .map(Some)
                .map_err(|e| relabel(e, name)),
        }
    }

    /// The DREAM column name of this week: `prefix` followed by `YYWW`.
    pub fn dream_column(self, prefix: &str) -> String {
        let (year, week) = self.iso();
        format!("{prefix}{:02}{week:02}", year.rem_euclid(100))
    }

    fn from_dream_digits(digits: &str) -> Result<Week> {
        if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(WeekError {
                value: digits.to_string(),
                reason: "expected four digits YYWW after the prefix".into(),
            });
        }
        let yy = parse_num(&digits[..2]);
        let year = if yy >= 90 { 1900 + yy } else { 2000 + yy };
        Self::from_iso(year, parse_num(&digits[2..]) as u32)
    }

    /// ISO year and week number.
    pub fn iso(self) -> (i32, u32) {
        // The Thursday of a week decides its ISO year.
        let thursday = self.0 * 7;
        let (year, _, _) = civil_from_days(thursday);
        let week = (thursday - days_from_civil(year, 1, 1)) / 7 + 1;
        (year, week as u32)
    }

    /// Number of ISO weeks (52 or 53) in ISO year `year`, or `None` outside
    /// the supported years 1900–2200.
    pub fn weeks_in_year(year: i32) -> Option<u32> {
        if !YEARS.contains(&year) {
            return None;
        }
        // A year has 53 weeks when 28 December (always in its last week) is in week 53.
        let dec28 = days_from_civil(year, 12, 28);
        let last = Week(week_of_days(dec28));
        let first = Week(week_of_days(days_from_civil(year, 1, 4)));
        Some((last.0 - first.0 + 1) as u32)
    }

    /// The linear week number (0 = 1970-W01).
    pub fn index(self) -> i32 {
        self.0
    }

    /// The week with linear number `index` (0 = 1970-W01).
    pub fn from_index(index: i32) -> Week {
        Week(index)
    }

    /// Event week of `self` for a person referred in `referral`: `self − referral`
    /// (saturating at the ends of `i32`).
    pub fn event_week(self, referral: Week) -> i32 {
        self.0.saturating_sub(referral.0)
    }

    /// The week `k` weeks after `self` (`k` may be negative; saturates at
    /// the ends of the linear week range instead of overflowing).
    pub fn plus(self, k: i32) -> Week {
        Week(self.0.saturating_add(k))
    }
}

impl fmt::Display for Week {
    /// Formats as `YYYY-Www`, e.g. `2016-W10`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (year, week) = self.iso();
        write!(f, "{year:04}-W{week:02}")
    }
}

impl FromStr for Week {
    type Err = WeekError;
    fn from_str(s: &str) -> Result<Week> {
        Week::parse(s)
    }
}

impl Serialize for Week {
    fn serialize<S: Serializer>(&self, serializer: S) -> std::result::Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Week {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> std::result::Result<Week, D::Error> {
        let s = String::deserialize(deserializer)?;
        Week::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A few weeks with data beyond a long run of weeks without any, at the
/// start or the end of a file's weeks: most likely typos (2071 for 2017)
/// that would stretch the weeks the file is taken to cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Strays {
    /// The last week (at the end) or first week (at the start) kept.
    pub(crate) kept: Week,
    /// The first and last stray week.
    pub(crate) from: Week,
    pub(crate) to: Week,
    /// Weeks with data among the strays.
    pub(crate) weeks: usize,
}

/// A run of more weeks than this without data, with only a few weeks of
/// data beyond it, marks strays ([`strays`]).
pub(crate) const STRAY_GAP: i32 = 26;
/// Most weeks with data beyond such a gap that count as strays.
pub(crate) const STRAY_WEEKS: usize = 4;

/// The strays at the start and at the end of `weeks` (the distinct weeks
/// with data, sorted): at most [`STRAY_WEEKS`] weeks, fewer than on the
/// other side, beyond a run of more than [`STRAY_GAP`] weeks without data.
pub(crate) fn strays(weeks: &[Week]) -> (Option<Strays>, Option<Strays>) {
    let far = |pair: &[Week]| pair[1].event_week(pair[0]) > STRAY_GAP;
    let start = weeks
        .windows(2)
        .position(far)
        .filter(|&i| i < STRAY_WEEKS && i + 1 < weeks.len() - (i + 1))
        .map(|i| Strays {
            kept: weeks[i + 1],
            from: weeks[0],
            to: weeks[i],
            weeks: i + 1,
        });
    let end = weeks
        .windows(2)
        .rposition(far)
        .filter(|&i| weeks.len() - (i + 1) <= STRAY_WEEKS && weeks.len() - (i + 1) < i + 1)
        .map(|i| Strays {
            kept: weeks[i],
            from: weeks[i + 1],
            to: weeks[weeks.len() - 1],
            weeks: weeks.len() - (i + 1),
        });
    (start, end)
}

/// Where a file's weeks come from, for [`stray_setting`]: the settings that
/// bound them (their names, and whether each is set) and the words for its
/// rows.
pub(crate) struct WeekSource<'a> {
    /// The settings of the first and last week, e.g. `observed_from`.
    pub(crate) from: (&'a str, bool),
    pub(crate) until: (&'a str, bool),
    /// `the register's rows`, `the events of events.csv`.
    pub(crate) rows: &'a str,
    /// `rows`, `events`.
    pub(crate) unit: &'a str,
    /// What the strays would do, e.g. `they would make every week between
    /// count as followed with no benefit and no hours`.
    pub(crate) harm: &'a str,
}

/// The setting to give, and why, when a few stray weeks ([`strays`]) lie
/// beyond an edge of `weeks` whose setting is not given: the last week
/// first, then the first (the callers make it an `InvalidSetting` error).
pub(crate) fn stray_setting(weeks: &[Week], source: &WeekSource) -> Option<(String, String)> {
    let (start, end) = strays(weeks);
    let unset = [(source.until, "stop", end), (source.from, "start", start)];
    unset.into_iter().find_map(|((name, set), edge, stray)| {
        let s = stray.filter(|_| !set)?;
        Some((
            name.to_string(),
            format!(
                "{} {edge} at {}, and only {} week(s) with {} lie beyond a gap of more than \
                 {STRAY_GAP} weeks, from {} to {} (stray {}?); {}. Set `{name}` (for example \
                 to {}) to leave them out",
                source.rows,
                s.kept,
                s.weeks,
                source.unit,
                s.from,
                s.to,
                source.unit,
                source.harm,
                s.kept
            ),
        ))
    })
}

/// Keep the reason but report the whole input the user gave.
fn relabel(err: WeekError, input: &str) -> WeekError {
    WeekError {
        value: input.to_string(),
        reason: err.reason,
    }
}

/// Digits only, at most four: checked by the callers.
fn parse_num(digits: &str) -> i32 {
    digits
        .bytes()
        .fold(0, |acc, b| acc * 10 + i32::from(b - b'0'))
}

/// Linear week of a day count (days since 1970-01-01).
fn week_of_days(days: i32) -> i32 {
    // Monday 1969-12-29 is day -3 and starts week 0.
    (days + 3).div_euclid(7)
}

/// Day of the week, Monday = 0 (1970-01-01 was a Thursday).
fn weekday(days: i32) -> i32 {
    (days + 3).rem_euclid(7)
}

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(year: i32, month: u32, day: u32) -> i32 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = month as i32;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i32 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i32) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i32::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_round_trip() {
        for days in -40_000..40_000 {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(days_from_civil(1970, 1, 1), 0);
        assert_eq!(weekday(0), 3); // Thursday
    }
}
