//! How the report writes numbers and labels: rounding, units, p-values,
//! percentages and confidence levels, and the labels that come from the
//! data (sites, covariate levels), escaped for Markdown and HTML. Every
//! rounded number of report.md and the figures is written here; the CSV
//! and JSON files keep full precision and the labels as they are.

use crate::config::Unit;
use crate::stats::Level;

/// A label from the data (a site, a covariate or its level) as Markdown
/// text: the characters that would start a table cell, inline markup or
/// HTML (a bar, backslash, backtick, `*`, brackets, `<`, `>` and `&`; an
/// underscore inside a word is plain text in Markdown)
/// are escaped with a backslash, and a line
/// break or other control character becomes a space, so a label can never
/// break a table or reach report.html as markup.
pub(crate) fn label(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() {
            out.push(' ');
        } else {
            if "|\\`*[]<>&".contains(c) {
                out.push('\\');
            }
            out.push(c);
        }
    }
    out
}

/// A number with at most `digits` decimals and no trailing zeros.
pub(crate) fn trim(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').into()
    } else {
        s
    }
}

/// `n` of `of` as a percentage with one decimal (`–` of none).
pub(crate) fn percent(n: usize, of: usize) -> String {
    if of == 0 {
        "–".into()
    } else {
        format!("{:.1}%", 100.0 * n as f64 / of as f64)
    }
}
/// What the outcome's values are, for headings.
pub(crate) fn unit_label(unit: Unit) -> &'static str {
    match unit {
        Unit::Share => "share of persons",
        Unit::Hours => "ordinary hours per week",
        Unit::CumulativeHours => "hours since referral",
        Unit::Weeks => "weeks since referral",
    }
}
/// A mean (`difference = false`: a share as a percentage) or a difference
/// (percentage points); hours also as hours and minutes.
pub(crate) fn value(unit: Unit, x: Option<f64>, difference: bool) -> String {
    let Some(x) = x else { return "–".into() };
    match unit {
        Unit::Share if difference => format!("{:.1} pp", 100.0 * x),
        Unit::Share => format!("{:.1}%", 100.0 * x),
        Unit::Hours | Unit::CumulativeHours => format!("{x:.2} ({})", hours_minutes(x)),
        Unit::Weeks => format!("{x:.2}"),
    }
}
pub(crate) fn interval(unit: Unit, lo: f64, hi: f64) -> String {
    match unit {
        Unit::Share => format!("[{:.1}, {:.1}] pp", 100.0 * lo, 100.0 * hi),
        _ => format!("[{lo:.2}, {hi:.2}]"),
    }
}
/// Hours as `1 h 55 min` (rounded to the minute; `−` for negative values).
pub(crate) fn hours_minutes(hours: f64) -> String {
    if !hours.is_finite() {
        return "–".into();
    }
    let minutes = (hours.abs() * 60.0).round() as u64;
    let sign = if hours < 0.0 && minutes > 0 {
        "−"
    } else {
        ""
    };
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{sign}{m} min"),
        (h, 0) => format!("{sign}{h} h"),
        (h, m) => format!("{sign}{h} h {m} min"),
    }
}
/// A p-value for a table: `<0.001`, `0.123` or `–`.
pub(crate) fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => format!("{p:.3}"),
        None => "–".into(),
    }
}
/// `p = 0.123`, `p < 0.001` or `p undefined`.
pub(crate) fn p_is(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {p:.3}"),
        None => "p undefined".into(),
    }
}
/// A number with `digits` decimals, `–` when missing.
pub(crate) fn number(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |x| format!("{x:.digits$}"))
}
/// `0.95` → `95%`.
pub(crate) fn pct_label(level: Level) -> String {
    format!("{}%", trim(100.0 * level.get(), 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hours_and_minutes() {
        assert_eq!(hours_minutes(1.0 + 55.0 / 60.0), "1 h 55 min");
        assert_eq!(hours_minutes(0.75), "45 min");
        assert_eq!(hours_minutes(2.0), "2 h");
        assert_eq!(hours_minutes(-0.5), "−30 min");
        assert_eq!(hours_minutes(-0.001), "0 min");
        assert_eq!(hours_minutes(f64::NAN), "–");
    }

    #[test]
    fn levels_print_without_trailing_zeros() {
        assert_eq!(pct_label(Level::default()), "95%");
        assert_eq!(pct_label(Level::new(0.975).unwrap()), "97.5%");
        assert_eq!(trim(20.0, 1), "20");
    }
}
