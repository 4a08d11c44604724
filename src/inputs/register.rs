//! The register's columns: long (one row per person-week) or DREAM-wide
//! (one row per person, a column per week). The register itself is read
//! into the panel by [`PanelBuilder`](crate::PanelBuilder).

use serde::{Deserialize, Serialize};

/// Column names of a long register.
///
/// Registers, long or DREAM-wide, are read into a [`Panel`](crate::Panel) by
/// [`PanelBuilder::long_file`](crate::PanelBuilder::long_file) and
/// [`PanelBuilder::wide_file`](crate::PanelBuilder::wide_file):
///
/// * **Long** form: one row per person-week with columns `person_id, week,
///   code, hours` (names configurable in [`LongColumns`]). Weeks in any
///   spelling of [`Week::parse`](crate::Week::parse). A blank code is `none`; a blank hours cell
///   is 0. A person-week listed twice is an error.
/// * **Wide** (DREAM) form: one row per person, a code column per week named
///   `y_YYWW` and optionally an hours column per week with another prefix
///   ([`WideColumns`]). Every week between the first and the last code column
///   must have a column.
///
/// Hours must be finite and within 0–168; they are stored to the nearest
/// hundredth of an hour. Codes missing from the code table are an error that
/// lists each with its count, unless the code table has a fallback.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LongColumns {
    /// Person id (default `person_id`).
    pub id: String,
    /// Calendar week (default `week`).
    pub week: String,
    /// Benefit code (default `code`).
    pub code: String,
    /// Ordinary hours (default `hours`); `None` for a register without hours,
    /// in which case every week has 0 hours (`false` in an analysis file).
    #[serde(with = "crate::inputs::or_false")]
    pub hours: Option<String>,
}

impl Default for LongColumns {
    fn default() -> Self {
        LongColumns {
            id: "person_id".into(),
            week: "week".into(),
            code: "code".into(),
            hours: Some("hours".into()),
        }
    }
}

/// Column names of a DREAM-wide register.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct WideColumns {
    /// Person id (default `person_id`).
    pub id: String,
    /// Prefix of the weekly code columns (default `y_`, as in `y_1610`).
    pub code_prefix: String,
    /// Prefix of the weekly hours columns, e.g. `h_`; `None` for no hours.
    pub hours_prefix: Option<String>,
}

impl Default for WideColumns {
    fn default() -> Self {
        WideColumns {
            id: "person_id".into(),
            code_prefix: "y_".into(),
            hours_prefix: None,
        }
    }
}
