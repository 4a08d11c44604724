//! The readable forms of a whole analysis: [`markdown`] renders `report.md`
//! and [`figures`] the SVG figures, both from [`crate::analysis::Results`].
//! (The tidy tables and their CSV files are [`crate::table`].)

pub mod figures;
pub mod markdown;

/// A number with at most `digits` decimals and no trailing zeros.
pub(crate) fn trim(x: f64, digits: usize) -> String {
    let s = format!("{x:.digits$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').into()
    } else {
        s
    }
}
