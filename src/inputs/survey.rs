//! The staff survey: one row per respondent, wave and item with an
//! ordinal answer (CSV or Parquet: respondent, site, wave, item, answer),
//! and optionally the numbers invited per site and wave (methods §11).
//! `[survey]` in the analysis file ([`SurveySpec`]) gives the ordered
//! answer scale, how many of its top answers count as delivered (default 2:
//! "to a high" and "to a very high degree") and which items make up each
//! element. The fidelity itself is computed by
//! [`fidelity`](crate::estimators::fidelity).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inputs::cell as io;
use crate::inputs::table::RawTable as Input;

/// `[survey]`: the columns of the survey responses, the answer scale and
/// the items of each element.
///
/// ```toml
/// [survey]
/// scale = ["not at all", "to a small degree", "to some degree", "to a high degree", "to a very high degree"]
/// top = 2
/// elements = { talks = ["q1", "q2"], cv = ["q3"] }
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SurveySpec {
    /// Respondent id column. Default `respondent`.
    pub respondent: String,
    /// Site (job centre, municipality) column. Default `site`.
    pub site: String,
    /// Wave column (a whole number ≥ 0). Default `wave`.
    pub wave: String,
    /// Item column. Default `item`.
    pub item: String,
    /// Answer column; a blank answer is no answer. Default `answer`.
    pub answer: String,
    /// The answers in order, lowest first. Required.
    pub scale: Vec<String>,
    /// How many of the highest answers count as fidelity. Default 2.
    pub top: usize,
    /// Element name → its items. Rows of other items are skipped (said in
    /// the warnings).
    pub elements: BTreeMap<String, Vec<String>>,
}

impl Default for SurveySpec {
    fn default() -> Self {
        SurveySpec {
            respondent: "respondent".into(),
            site: "site".into(),
            wave: "wave".into(),
            item: "item".into(),
            answer: "answer".into(),
            scale: Vec::new(),
            top: 2,
            elements: BTreeMap::new(),
        }
    }
}

impl SurveySpec {
    /// [`Error::InvalidSetting`] unless the scale has distinct answers, more
    /// than `top` ≥ 1 of them, and every element has items, each in one
    /// element.
    pub fn check(&self) -> Result<()> {
        let bad = |reason: String| {
            Err(Error::InvalidSetting {
                name: "survey".into(),
                reason,
            })
        };
        let mut scale = self.scale.clone();
        scale.sort_unstable();
        scale.dedup();
        if scale.len() != self.scale.len() || self.top == 0 || self.top >= self.scale.len() {
            return bad(format!(
                "needs a `scale` of distinct answers with more than `top` = {} ≥ 1 of them \
                 (it has {})",
                self.top,
                self.scale.len()
            ));
        }
        if self.elements.is_empty() {
            return bad("needs `elements`, each a list of items".into());
        }
        let mut seen: FxHashMap<&str, &str> = FxHashMap::default();
        for (element, items) in &self.elements {
            if items.is_empty() {
                return bad(format!("element `{element}` has no items"));
            }
            for item in items {
                if let Some(other) = seen.insert(item, element) {
                    return bad(format!(
                        "item `{item}` is in elements `{other}` and `{element}`"
                    ));
                }
            }
        }
        Ok(())
    }
}

/// One answer read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Answer {
    /// Index of the respondent, in order of appearance.
    pub(crate) respondent: u32,
    /// Index into [`Survey::sites`].
    pub(crate) site: u32,
    /// Index into [`Survey::waves`].
    pub(crate) wave: u32,
    /// Index into [`Survey::items`].
    pub(crate) item: u32,
    /// The answer is one of the top `[survey] top` of the scale.
    pub(crate) top: bool,
}

/// Survey responses, checked.
#[derive(Clone, Debug)]
pub struct Survey {
    file: PathBuf,
    elements: Vec<String>,
    /// (element index, item name), in element then spec order.
    items: Vec<(usize, String)>,
    sites: Vec<String>,
    waves: Vec<u32>,
    answers: Vec<Answer>,
    /// Distinct respondents per (site, wave index).
    respondents: FxHashMap<(u32, u32), usize>,
    invited: Vec<(String, u32, usize)>,
    skipped: Vec<(String, usize)>,
}

impl Survey {
    /// Read survey responses (`.csv` or `.parquet`).
    pub fn read(path: impl AsRef<Path>, spec: &SurveySpec) -> Result<Survey> {
        Self::from_input(Input::read(path.as_ref())?, spec)
    }

    /// Survey responses held in a polars `DataFrame`; `label` names it in
    /// errors.
    pub fn from_frame(df: DataFrame, label: &str, spec: &SurveySpec) -> Result<Survey> {
        Self::from_input(Input::from_frame(df, label), spec)
    }

    fn from_input(table: Input, spec: &SurveySpec) -> Result<Survey> {
        spec.check()?;
        if table.height() == 0 {
            return Err(Error::Empty { file: table.file });
        }
        let elements: Vec<String> = spec.elements.keys().cloned().collect();
        let items: Vec<(usize, String)> = spec
            .elements
            .values()
            .enumerate()
            .flat_map(|(e, items)| items.iter().map(move |i| (e, i.trim().to_string())))
            .collect();
        let item_index: FxHashMap<&str, u32> = items
            .iter()
            .enumerate()
            .map(|(i, (_, name))| (name.as_str(), i as u32))
            .collect();
        let top_from = spec.scale.len() - spec.top;
        let answer_index: FxHashMap<&str, usize> = spec
            .scale
            .iter()
            .enumerate()
            .map(|(i, a)| (a.trim(), i))
            .collect();
        let columns = [
            &spec.respondent,
            &spec.site,
            &spec.wave,
            &spec.item,
            &spec.answer,
        ]
        .map(|c| table.column(c));
        let [respondent, site, wave, item, answer] = columns;
        let (respondent, site, wave, item, answer) = (respondent?, site?, wave?, item?, answer?);

        let mut respondents: FxHashMap<String, u32> = FxHashMap::default();
        let mut sites: FxHashMap<String, u32> = FxHashMap::default();
        let mut raw: Vec<(u32, u32, u32, u32, bool)> = Vec::new();
        // (respondent, wave) → (site, row); (respondent, wave, item) → row.
        let mut where_: FxHashMap<(u32, u32), (u32, usize)> = FxHashMap::default();
        let mut answered: FxHashMap<(u32, u32, u32), usize> = FxHashMap::default();
        let mut skipped: BTreeMap<String, usize> = BTreeMap::new();
        let scale = || {
            spec.scale
                .iter()
                .map(|a| format!("`{a}`"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        for i in 0..table.height() {
            let text = |c: &io::Column, name: &str| -> Result<String> {
                let t = c.cell(i).text().trim().to_string();
                if t.is_empty() {
                    Err(table.missing(i, name))
                } else {
                    Ok(t)
                }
            };
            let item_name = text(&item, &spec.item)?;
            let Some(&item_at) = item_index.get(item_name.as_str()) else {
                *skipped.entry(item_name).or_default() += 1;
                continue;
            };
            let r = text(&respondent, &spec.respondent)?;
            let s = text(&site, &spec.site)?;
            let w_text = text(&wave, &spec.wave)?;
            let w: u32 = w_text.parse().map_err(|_| {
                table.invalid(i, &spec.wave, &wave.cell(i), "not a whole number ≥ 0")
            })?;
            let next = respondents.len() as u32;
            let r = *respondents.entry(r).or_insert(next);
            let next = sites.len() as u32;
            let s = *sites.entry(s).or_insert(next);
            match where_.get(&(r, w)) {
                Some(&(other, row)) if other != s => {
                    return Err(table.invalid(
                        i,
                        &spec.site,
                        &site.cell(i),
                        format!(
                            "respondent answered for another site in wave {w} (row {})",
                            row + 1
                        ),
                    ));
                }
                Some(_) => {}
                None => {
                    where_.insert((r, w), (s, i));
                }
            }
            if let Some(row) = answered.insert((r, w, item_at), i) {
                return Err(table.invalid(
                    i,
                    &spec.item,
                    &item.cell(i),
                    format!(
                        "respondent already answered this item in wave {w} (row {})",
                        row + 1
                    ),
                ));
            }
            let a = answer.cell(i);
            let a_text = a.text();
            let a_text = a_text.trim();
            if a_text.is_empty() {
                continue;
            }
            let Some(&at) = answer_index.get(a_text) else {
                return Err(table.invalid(
                    i,
                    &spec.answer,
                    &a,
                    format!("not on the answer scale ({})", scale()),
                ));
            };
            raw.push((r, s, w, item_at, at >= top_from));
        }
        if raw.is_empty() {
            return Err(Error::InvalidSetting {
                name: "survey".into(),
                reason: format!(
                    "{} has no answers to the items of `[survey] elements`",
                    table.file.display()
                ),
            });
        }
        // Sites sorted by label, waves ascending.
        let mut site_labels: Vec<(String, u32)> = sites.into_iter().collect();
        site_labels.sort_unstable();
        let mut site_at = vec![0u32; site_labels.len()];
        for (new, (_, old)) in site_labels.iter().enumerate() {
            site_at[*old as usize] = new as u32;
        }
        let mut waves: Vec<u32> = raw.iter().map(|a| a.2).collect();
        waves.extend(where_.keys().map(|k| k.1));
        waves.sort_unstable();
        waves.dedup();
        let wave_at = |w: u32| waves.binary_search(&w).unwrap_or_default() as u32;
        let mut counted: FxHashMap<(u32, u32), usize> = FxHashMap::default();
        for (&(_, w), &(s, _)) in &where_ {
            *counted
                .entry((site_at[s as usize], wave_at(w)))
                .or_default() += 1;
        }
        let answers = raw
            .iter()
            .map(|&(r, s, w, item, top)| Answer {
                respondent: r,
                site: site_at[s as usize],
                wave: wave_at(w),
                item,
                top,
            })
            .collect();
        Ok(Survey {
            file: table.file,
            elements,
            items,
            sites: site_labels.into_iter().map(|(l, _)| l).collect(),
            waves: waves.clone(),
            answers,
            respondents: counted,
            invited: Vec::new(),
            skipped: skipped.into_iter().collect(),
        })
    }

    /// With the numbers invited per site and wave (a `.csv` or `.parquet`
    /// table with columns `site`, `wave`, `invited`), for response rates.
    pub fn with_invited(mut self, path: impl AsRef<Path>) -> Result<Survey> {
        let table = Input::read(path.as_ref())?;
        let [site, wave, invited] = ["site", "wave", "invited"].map(|c| table.column(c));
        let (site, wave, invited) = (site?, wave?, invited?);
        for i in 0..table.height() {
            let s = site.cell(i).text().trim().to_string();
            if s.is_empty() {
                return Err(table.missing(i, "site"));
            }
            let whole = |c: &io::Column, name: &str| {
                c.cell(i)
                    .text()
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| table.invalid(i, name, &c.cell(i), "not a whole number ≥ 0"))
            };
            let (w, n) = (whole(&wave, "wave")?, whole(&invited, "invited")? as usize);
            let answered = self.respondents_at(&s, w);
            if answered > n {
                return Err(table.invalid(
                    i,
                    "invited",
                    &invited.cell(i),
                    format!("fewer than the {answered} respondents of the survey"),
                ));
            }
            self.invited.push((s, w, n));
        }
        Ok(self)
    }

    /// Distinct respondents of site `site` in wave `wave`.
    pub(crate) fn respondents_at(&self, site: &str, wave: u32) -> usize {
        match (
            self.sites.binary_search_by(|s| s.as_str().cmp(site)),
            self.waves.binary_search(&wave),
        ) {
            (Ok(s), Ok(w)) => self
                .respondents
                .get(&(s as u32, w as u32))
                .copied()
                .unwrap_or(0),
            _ => 0,
        }
    }

    /// The file (or frame label) read.
    pub fn file(&self) -> &Path {
        &self.file
    }

    /// Sites, sorted.
    pub fn sites(&self) -> &[String] {
        &self.sites
    }

    /// Waves, ascending.
    pub fn waves(&self) -> &[u32] {
        &self.waves
    }

    /// Items not in any element, with their rows (skipped).
    pub fn skipped(&self) -> &[(String, usize)] {
        &self.skipped
    }

    /// Element names, in `[survey] elements` order.
    pub(crate) fn elements(&self) -> &[String] {
        &self.elements
    }

    /// (element index, item name) of every item, in element then spec
    /// order.
    pub(crate) fn items(&self) -> &[(usize, String)] {
        &self.items
    }

    /// The answers read (blank answers left out).
    pub(crate) fn answers(&self) -> &[Answer] {
        &self.answers
    }

    /// (site, wave, invited) as the invited table lists them.
    pub(crate) fn invited(&self) -> &[(String, u32, usize)] {
        &self.invited
    }
}
