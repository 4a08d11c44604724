//! Reading and writing the analysis file's TOML text, with errors that
//! give the line and the dotted key of the problem.

use std::path::Path;

use super::AnalysisConfig;
use crate::error::{Error, Result};

impl AnalysisConfig {
    /// Parse an analysis file's text; `file` names it in errors. Checks
    /// everything that can be checked without the data ([`Self::check`]).
    pub fn from_toml(text: &str, file: &Path) -> Result<AnalysisConfig> {
        let config: AnalysisConfig = toml::from_str(text).map_err(|e| {
            let (line, key) = e
                .span()
                .map_or((None, String::new()), |span| locate(text, span.start));
            Error::AnalysisFile {
                file: file.to_path_buf(),
                line,
                key,
                message: e.message().trim().to_string(),
            }
        })?;
        config.check(file)?;
        Ok(config)
    }

    /// The analysis file text of this configuration.
    pub fn to_toml(&self) -> Result<String> {
        toml::to_string(self).map_err(|e| Error::Internal {
            what: "the analysis file text".into(),
            message: e.to_string(),
        })
    }
}

/// Line (from 1) and dotted key path of byte offset `at` in a TOML text:
/// the key on that line (if the line is `key = ...`) below the nearest
/// `[table]` or `[[array]]` header, with the array entry's index.
fn locate(text: &str, at: usize) -> (Option<usize>, String) {
    let at = at.min(text.len());
    let line_start = text
        .get(..at)
        .and_then(|b| b.rfind('\n'))
        .map_or(0, |i| i + 1);
    let line_no = text[..line_start].matches('\n').count() + 1;
    let this_line = text[line_start..].lines().next().unwrap_or("");
    // The table a line belongs to: the last header at or above it.
    let mut table = String::new();
    let mut arrays: std::collections::HashMap<String, usize> = Default::default();
    for line in text[..line_start].lines().chain([this_line]) {
        let t = line.trim();
        if let Some(name) = t.strip_prefix("[[").and_then(|r| r.split("]]").next()) {
            let name = name.trim().to_string();
            let n = arrays
                .entry(name.clone())
                .and_modify(|n| *n += 1)
                .or_insert(0);
            table = format!("{name}[{n}]");
        } else if let Some(name) = t.strip_prefix('[').and_then(|r| r.split(']').next()) {
            table = name.trim().to_string();
        }
    }
    let t = this_line.trim();
    if t.starts_with('[') {
        return (Some(line_no), table);
    }
    // `key = value`, or a bare unknown key (serde points at the key).
    let key = t
        .split_once('=')
        .map_or(t, |(k, _)| k)
        .trim()
        .trim_matches('"');
    let path = match (table.is_empty(), key.is_empty()) {
        (true, _) => key.to_string(),
        (false, true) => table,
        (false, false) => format!("{table}.{key}"),
    };
    (Some(line_no), path)
}
