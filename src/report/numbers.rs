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

/// `x` with `digits` decimals, never `-0.0`: a value that rounds to zero
/// has no sign. Every rounded number of the report is written through this.
pub(crate) fn fixed(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.bytes().all(|b| b == b'0' || b == b'.') => rest.to_string(),
        _ => s,
    }
}

/// `x` with `digits` decimals and its sign: `+1.2`, `-0.3`, and `0.0` for a
/// value that rounds to zero.
pub(crate) fn signed(x: f64, digits: usize) -> String {
    let s = fixed(x, digits);
    if s.starts_with('-') || s.bytes().all(|b| b == b'0' || b == b'.') {
        s
    } else {
        format!("+{s}")
    }
}

/// `x` rounded to a whole number with thousands separators: `14,240`,
/// `-40,864`; `–` when missing.
pub(crate) fn grouped(x: Option<f64>) -> String {
    let Some(x) = x else { return "–".into() };
    let s = fixed(x, 0);
    let (sign, digits) = match s.strip_prefix('-') {
        Some(d) => ("-", d),
        None => ("", s.as_str()),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return s; // inf or NaN
    }
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(c);
    }
    format!("{sign}{out}")
}

/// An amount of money: [`grouped`] and the currency, `14,240 DKK`.
pub(crate) fn money(x: Option<f64>, currency: &str) -> String {
    match x {
        Some(_) if !currency.is_empty() => format!("{} {currency}", grouped(x)),
        _ => grouped(x),
    }
}

/// A number with at most `digits` decimals and no trailing zeros.
pub(crate) fn trim(x: f64, digits: usize) -> String {
    let s = fixed(x, digits);
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
        format!("{}%", fixed(100.0 * n as f64 / of as f64, 1))
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
/// (percentage points); hours in hours (the heading says the unit).
pub(crate) fn value(unit: Unit, x: Option<f64>, difference: bool) -> String {
    let Some(x) = x else { return "–".into() };
    match unit {
        Unit::Share if difference => format!("{} pp", fixed(100.0 * x, 1)),
        Unit::Share => format!("{}%", fixed(100.0 * x, 1)),
        Unit::Hours | Unit::CumulativeHours => fixed(x, 2),
        Unit::Weeks => fixed(x, 2),
    }
}
pub(crate) fn interval(unit: Unit, lo: f64, hi: f64) -> String {
    match unit {
        Unit::Share => format!("[{}, {}] pp", fixed(100.0 * lo, 1), fixed(100.0 * hi, 1)),
        _ => format!("[{}, {}]", fixed(lo, 2), fixed(hi, 2)),
    }
}
/// A p-value for a table: `<0.001`, `0.123` or `–`.
pub(crate) fn p_value(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "<0.001".into(),
        Some(p) => fixed(p, 3),
        None => "–".into(),
    }
}
/// `p = 0.123`, `p < 0.001` or `p undefined`.
pub(crate) fn p_is(p: Option<f64>) -> String {
    match p {
        Some(p) if p < 0.001 => "p < 0.001".into(),
        Some(p) => format!("p = {}", fixed(p, 3)),
        None => "p undefined".into(),
    }
}
/// A number with `digits` decimals, `–` when missing.
pub(crate) fn number(x: Option<f64>, digits: usize) -> String {
    x.map_or("–".into(), |x| fixed(x, digits))
}
/// `0.95` → `95%`.
pub(crate) fn pct_label(level: Level) -> String {
    format!("{}%", trim(100.0 * level.get(), 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounded_numbers_have_no_negative_zero_and_group_thousands() {
        assert_eq!(fixed(-0.0004, 1), "0.0");
        assert_eq!(fixed(-0.04, 1), "0.0");
        assert_eq!(fixed(-0.06, 1), "-0.1");
        assert_eq!(fixed(-0.0, 0), "0");
        assert_eq!(signed(0.3, 0), "0");
        assert_eq!(signed(-0.3, 0), "0");
        assert_eq!(signed(17.4, 0), "+17");
        assert_eq!(signed(-3.2, 0), "-3");
        assert_eq!(grouped(Some(14240.4)), "14,240");
        assert_eq!(grouped(Some(-40864.0)), "-40,864");
        assert_eq!(grouped(Some(999.6)), "1,000");
        assert_eq!(grouped(Some(-0.2)), "0");
        assert_eq!(grouped(Some(1234567.0)), "1,234,567");
        assert_eq!(grouped(None), "–");
        assert_eq!(money(Some(6500.0), "DKK"), "6,500 DKK");
        assert_eq!(money(None, "DKK"), "–");
        assert_eq!(value(Unit::Share, Some(-0.0001), true), "0.0 pp");
    }

    #[test]
    fn levels_print_without_trailing_zeros() {
        assert_eq!(pct_label(Level::default()), "95%");
        assert_eq!(pct_label(Level::new(0.975).unwrap()), "97.5%");
        assert_eq!(trim(20.0, 1), "20");
    }
}
