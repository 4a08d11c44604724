//! Joining two inputs by label (survey sites against the trial's sites,
//! invited counts against the survey): which labels did not match, how many
//! rows they hold, and the near match of each (the same letters in another
//! case or spacing, or an abbreviation). A join refuses when a label has a
//! near match (a typo) or too many rows fall out, and is said otherwise.

use std::path::Path;

use crate::error::{Error, Result};
use crate::excerpt::{LISTED, VALUE_CHARS, excerpt};

/// Most share of one input's rows whose label the other input lacks before
/// the join is refused (as for unknown persons).
pub(crate) const MAX_UNMATCHED_SHARE: f64 = 0.05;

/// Labels reserved for the overall rows of the outputs.
pub(crate) const RESERVED: [&str; 1] = ["all"];

/// A label of one input that the other lacks.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Unmatched {
    /// The label, as written.
    pub(crate) label: String,
    /// Rows (or answers) with it.
    pub(crate) rows: usize,
    /// The other input's label it nearly matches.
    pub(crate) near: Option<String>,
}

/// Letters and digits only, in lower case: `Kommune A`, `kommune-a` and
/// `KOMMUNEA` are one label.
fn key(label: &str) -> String {
    label
        .chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The label of `known` that `label` nearly matches: the same letters and
/// digits apart from case, spacing and punctuation, or one an abbreviation
/// of the other (a prefix of at least three letters).
pub(crate) fn near_match<'a>(label: &str, known: &'a [String]) -> Option<&'a str> {
    let k = key(label);
    if k.is_empty() {
        return None;
    }
    let same = known.iter().find(|c| key(c) == k);
    let prefix = || {
        known.iter().find(|c| {
            let c = key(c);
            let (short, long) = if c.len() < k.len() {
                (&c, &k)
            } else {
                (&k, &c)
            };
            short.chars().count() >= 3 && long.starts_with(short.as_str())
        })
    };
    same.or_else(prefix).map(String::as_str)
}

/// The labels of `rows` (label, rows with it) that `known` lacks.
pub(crate) fn unmatched(rows: &[(String, usize)], known: &[String]) -> Vec<Unmatched> {
    rows.iter()
        .filter(|(label, _)| !known.contains(label))
        .map(|(label, n)| Unmatched {
            label: label.clone(),
            rows: *n,
            near: near_match(label, known).map(str::to_string),
        })
        .collect()
}

/// `` `a` (12 rows; `A`?), `b` (3 rows) `` for a message, capped like
/// every list of user data.
pub(crate) fn describe(unmatched: &[Unmatched]) -> String {
    let shown: Vec<String> = unmatched
        .iter()
        .take(LISTED)
        .map(|u| {
            let near = u.near.as_deref().map_or(String::new(), |n| {
                format!("; `{}`?", excerpt(n, VALUE_CHARS))
            });
            format!(
                "`{}` ({} rows{near})",
                excerpt(&u.label, VALUE_CHARS),
                u.rows
            )
        })
        .collect();
    match unmatched.len().saturating_sub(LISTED) {
        0 => shown.join(", "),
        n => format!("{} and {n} more", shown.join(", ")),
    }
}

/// The verdict on a join of `file`'s `column` against `other`: an error
/// when a label nearly matches one of `other` (a typo: a case, a space,
/// an abbreviation) or more than [`MAX_UNMATCHED_SHARE`] of the `total`
/// rows fall out; otherwise the warning to give (`None` when all match).
pub(crate) fn verdict(
    file: &Path,
    column: &str,
    other: &str,
    unmatched: &[Unmatched],
    total: usize,
) -> Result<Option<String>> {
    if unmatched.is_empty() {
        return Ok(None);
    }
    let rows: usize = unmatched.iter().map(|u| u.rows).sum();
    let typo = unmatched.iter().any(|u| u.near.is_some());
    let share = rows as f64 / total.max(1) as f64;
    if typo || share > MAX_UNMATCHED_SHARE {
        return Err(Error::UnmatchedLabels {
            file: file.to_path_buf(),
            column: column.into(),
            other: other.into(),
            labels: describe(unmatched),
            rows,
            total,
        });
    }
    Ok(Some(format!(
        "{} of the {total} rows of {} have a `{column}` that {other} lacks, left out of the \
         joined figures: {}",
        rows,
        file.display(),
        describe(unmatched)
    )))
}

/// [`Error::InvalidValue`] when `label` (in `file`'s data row `row`, column
/// `column`) is reserved for the outputs' overall rows.
pub(crate) fn check_not_reserved(file: &Path, row: usize, column: &str, label: &str) -> Result<()> {
    match RESERVED.iter().find(|r| label.trim() == **r) {
        Some(r) => Err(Error::InvalidValue {
            file: file.to_path_buf(),
            row,
            column: column.into(),
            value: label.into(),
            problem: format!("`{r}` names the overall rows of the outputs; rename this site"),
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_matches_are_case_spacing_and_abbreviations() {
        let known: Vec<String> = ["Kommune A", "Aarhus", "Vesthimmerland"]
            .map(String::from)
            .to_vec();
        assert_eq!(near_match("kommune a", &known), Some("Kommune A"));
        assert_eq!(near_match("Kommune-A ", &known), Some("Kommune A"));
        assert_eq!(near_match("Vesthim", &known), Some("Vesthimmerland"));
        assert_eq!(near_match("Aa", &known), None);
        assert_eq!(near_match("Odense", &known), None);
    }

    #[test]
    fn a_join_refuses_typos_and_many_unmatched_rows() {
        let known: Vec<String> = vec!["A".into(), "Bbb".into()];
        let f = Path::new("survey.csv");
        let typo = unmatched(&[("bbb".into(), 1)], &known);
        assert!(verdict(f, "site", "the person table", &typo, 100).is_err());
        let few = unmatched(&[("Zed".into(), 3)], &known);
        let said = verdict(f, "site", "the person table", &few, 100).unwrap();
        assert!(said.unwrap().contains("`Zed` (3 rows)"));
        let many = unmatched(&[("Zed".into(), 30)], &known);
        assert!(verdict(f, "site", "the person table", &many, 100).is_err());
        assert_eq!(verdict(f, "site", "x", &[], 100).unwrap(), None);
    }
}
