//! Survey fidelity: how far staff say they deliver the model's core
//! elements, from waves of a staff survey (methods §11; Jobrettet Samtale
//! II).
//!
//! The responses are one row per respondent, wave and item with an ordinal
//! answer (CSV or Parquet: respondent, site, wave, item, answer). `[survey]`
//! in the analysis file ([`SurveySpec`]) gives the ordered answer scale, how
//! many of its top answers count as delivered (default 2: "to a high" and
//! "to a very high degree") and which items make up each element.
//!
//! Per site (and `all`) and wave: an **item**'s fidelity is the share of
//! its answers in the top categories, with a Wilson interval; an
//! **element**'s is the mean of its answered items' shares, with a Wald
//! interval from the linearised variance that takes the respondents as
//! clusters (an element of one answered item has that item's Wilson
//! interval). The **change** from the first to the last wave is in
//! percentage points with the MOVER interval of the two waves' intervals:
//! Newcombe's hybrid score interval for items. Response rates come from an
//! optional table of the numbers invited (site, wave, invited).
//!
//! ```
//! use polars::prelude::*;
//! use trialpanel::survey::{Survey, SurveySpec};
//! use trialpanel::stats::Thresholds;
//!
//! let spec = SurveySpec {
//!     scale: ["no", "some", "high", "very high"].map(String::from).to_vec(),
//!     elements: [("talks".to_string(), vec!["q1".to_string(), "q2".to_string()])].into(),
//!     ..SurveySpec::default()
//! };
//! let answers = df!("respondent" => ["r1", "r1", "r2", "r2"], "site" => ["A"; 4],
//!                   "wave" => [1, 1, 1, 1], "item" => ["q1", "q2", "q1", "q2"],
//!                   "answer" => ["high", "some", "very high", "high"])?;
//! let survey = Survey::from_frame(answers, "survey", &spec)?;
//! let fidelity = survey.fidelity(0.95, &Thresholds::default());
//! let talks = fidelity.rows.iter().find(|r| r.item.is_none() && r.site == "all").unwrap();
//! assert_eq!(talks.level.unwrap().share, 0.75);   // mean of q1 (2/2) and q2 (1/2)
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use polars::prelude::DataFrame;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::io::{self, Table as Input};
use crate::process::ALL_SITES;
use crate::stats::{self, Light, Thresholds};
use crate::table::{self, Table};

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
struct Answer {
    respondent: u32,
    site: u32,
    /// Index into [`Survey::waves`].
    wave: u32,
    /// Index into the items.
    item: u32,
    top: bool,
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
    fn respondents_at(&self, site: &str, wave: u32) -> usize {
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

    /// Fidelity per element and item, site (and `all`) and wave, the changes
    /// from the first to the last wave, and response rates, at `level`.
    pub fn fidelity(&self, level: f64, thresholds: &Thresholds) -> Fidelity {
        let mut sites: Vec<(String, Option<u32>)> = self
            .sites
            .iter()
            .enumerate()
            .map(|(i, s)| (s.clone(), Some(i as u32)))
            .collect();
        sites.push((ALL_SITES.to_string(), None));
        let mut rows = Vec::new();
        let mut changes = Vec::new();
        let (first, last) = (0u32, self.waves.len() as u32 - 1);
        for (site, at) in &sites {
            let mut by_wave: Vec<Vec<Option<Level>>> = Vec::new();
            for w in 0..self.waves.len() as u32 {
                let mine: Vec<&Answer> = self
                    .answers
                    .iter()
                    .filter(|a| a.wave == w && at.is_none_or(|s| a.site == s))
                    .collect();
                let mut levels = Vec::new();
                for (e, element) in self.elements.iter().enumerate() {
                    let (n, elem_level, item_levels) = self.element(e, &mine, level);
                    let mut push = |item: Option<&str>, n: usize, l: Option<Level>| {
                        let light = l.map(|l| thresholds.light_of(l.share, l.ci_low, l.ci_high));
                        rows.push(FidelityRow {
                            element: element.clone(),
                            item: item.map(str::to_string),
                            site: site.clone(),
                            wave: self.waves[w as usize],
                            n,
                            level: l,
                            light: light.map(|l| l.0),
                            uncertain: light.is_some_and(|l| l.1),
                        });
                        levels.push(l);
                    };
                    push(None, n, elem_level);
                    for (name, n, l) in item_levels {
                        push(Some(name), n, l);
                    }
                }
                by_wave.push(levels);
            }
            if last == first {
                continue;
            }
            // The rows of this site's first and last waves, in the same order.
            let labels: Vec<(String, Option<String>)> = rows
                [rows.len() - by_wave[last as usize].len()..]
                .iter()
                .map(|r| (r.element.clone(), r.item.clone()))
                .collect();
            for (j, (element, item)) in labels.into_iter().enumerate() {
                let (a, b) = (by_wave[first as usize][j], by_wave[last as usize][j]);
                let change = match (a, b) {
                    (Some(a), Some(b)) => Some(stats::mover(
                        (a.share, a.ci_low, a.ci_high),
                        (b.share, b.ci_low, b.ci_high),
                    )),
                    _ => None,
                };
                changes.push(FidelityChange {
                    element,
                    item,
                    site: site.clone(),
                    first_wave: self.waves[first as usize],
                    last_wave: self.waves[last as usize],
                    change,
                });
            }
        }
        let response = self
            .invited
            .iter()
            .map(|(site, wave, invited)| {
                let respondents = self.respondents_at(site, *wave);
                ResponseRate {
                    site: site.clone(),
                    wave: *wave,
                    invited: *invited,
                    respondents,
                    rate: (*invited > 0).then(|| respondents as f64 / *invited as f64),
                }
            })
            .collect();
        Fidelity {
            rows,
            changes,
            response,
        }
    }

    /// Element `e` over `answers` (one site and wave): respondents with an
    /// answer, its level, and per item (name, answers, level).
    fn element<'s>(
        &'s self,
        e: usize,
        answers: &[&Answer],
        level: f64,
    ) -> (usize, Option<Level>, Vec<ItemLevel<'s>>) {
        let items: Vec<u32> = (0..self.items.len() as u32)
            .filter(|&i| self.items[i as usize].0 == e)
            .collect();
        let mut per_item = Vec::new();
        // Answered items: (item, n, share).
        let mut shares: FxHashMap<u32, (usize, f64)> = FxHashMap::default();
        for &i in &items {
            let (mut x, mut n) = (0usize, 0usize);
            for a in answers.iter().filter(|a| a.item == i) {
                n += 1;
                x += usize::from(a.top);
            }
            let w = stats::wilson(x, n, level).map(|s| Level {
                share: s.share,
                ci_low: s.ci_low,
                ci_high: s.ci_high,
            });
            if let Some(l) = w {
                shares.insert(i, (n, l.share));
            }
            per_item.push((self.items[i as usize].1.as_str(), n, w));
        }
        // Linearised contributions z_r = (1/I') Σ_i (x_ri − p_i)/n_i.
        let answered = shares.len() as f64;
        let mut z: BTreeMap<u32, f64> = BTreeMap::new();
        for a in answers {
            if let Some(&(n, p)) = shares.get(&a.item) {
                *z.entry(a.respondent).or_default() +=
                    (f64::from(u8::from(a.top)) - p) / n as f64 / answered;
            }
        }
        let n = z.len();
        let level = match shares.len() {
            0 => None,
            1 => per_item.iter().find_map(|x| x.2),
            _ if n < 2 => None,
            _ => {
                let mut sorted: Vec<(u32, (usize, f64))> = shares.into_iter().collect();
                sorted.sort_unstable_by_key(|x| x.0);
                let share = sorted.iter().map(|x| x.1.1).sum::<f64>() / answered;
                let sum_sq: f64 = z.values().map(|v| v * v).sum();
                let se = (n as f64 / (n as f64 - 1.0) * sum_sq).sqrt();
                let q = stats::normal_quantile(1.0 - (1.0 - level) / 2.0);
                Some(Level {
                    share,
                    ci_low: (share - q * se).max(0.0),
                    ci_high: (share + q * se).min(1.0),
                })
            }
        };
        (n, level, per_item)
    }
}

/// An item's name, answers and level.
type ItemLevel<'s> = (&'s str, usize, Option<Level>);

/// A share with its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct Level {
    /// The share, 0–1.
    pub share: f64,
    /// Lower end of its interval.
    pub ci_low: f64,
    /// Upper end of its interval.
    pub ci_high: f64,
}

/// One row of `fidelity.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FidelityRow {
    /// Element name.
    pub element: String,
    /// Item name, or `None` on the element's row.
    pub item: Option<String>,
    /// Site label, or `all`.
    pub site: String,
    /// Wave.
    pub wave: u32,
    /// Answers (item) or respondents with an answer (element).
    pub n: usize,
    /// The fidelity, `None` when nobody answered (or, for an element of
    /// several items, fewer than two respondents did).
    pub level: Option<Level>,
    /// Its traffic light.
    pub light: Option<Light>,
    /// The interval crosses a threshold.
    pub uncertain: bool,
}

/// The change of an element's or item's fidelity from the first to the
/// last wave at a site.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FidelityChange {
    /// Element name.
    pub element: String,
    /// Item name, or `None` for the element.
    pub item: Option<String>,
    /// Site label, or `all`.
    pub site: String,
    /// The first wave of the survey.
    pub first_wave: u32,
    /// The last wave of the survey.
    pub last_wave: u32,
    /// (change, low, high) as shares; `None` when either wave has none.
    pub change: Option<(f64, f64, f64)>,
}

/// Respondents of the invited, per site and wave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct ResponseRate {
    /// Site label.
    pub site: String,
    /// Wave.
    pub wave: u32,
    /// Staff invited.
    pub invited: usize,
    /// Distinct respondents with a row in the survey.
    pub respondents: usize,
    /// respondents / invited; `None` when nobody was invited.
    pub rate: Option<f64>,
}

/// Survey fidelity: `fidelity.csv`, `fidelity_change.csv` and, with the
/// numbers invited, `response.csv`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Fidelity {
    /// Per site (then `all`), wave, element then its items.
    pub rows: Vec<FidelityRow>,
    /// Per site, element then its items.
    pub changes: Vec<FidelityChange>,
    /// Per site and wave, as the invited table lists them.
    pub response: Vec<ResponseRate>,
}

impl Fidelity {
    /// The element rows of `wave` at each site, as (element, site, level).
    pub fn elements_at(&self, wave: u32) -> impl Iterator<Item = &FidelityRow> {
        self.rows
            .iter()
            .filter(move |r| r.item.is_none() && r.wave == wave)
    }

    /// `fidelity_change.csv`: `element, item, site, first_wave, last_wave,
    /// change, ci_low, ci_high` (shares; item blank on element rows).
    pub fn changes_frame(&self) -> Result<DataFrame> {
        let c = &self.changes;
        table::frame(
            "fidelity_change",
            vec![
                table::strings("element", c.iter().map(|x| x.element.clone())),
                table::optional_strings("item", c.iter().map(|x| x.item.clone())),
                table::strings("site", c.iter().map(|x| x.site.clone())),
                table::counts("first_wave", c.iter().map(|x| Some(x.first_wave as usize))),
                table::counts("last_wave", c.iter().map(|x| Some(x.last_wave as usize))),
                table::floats("change", c.iter().map(|x| x.change.map(|v| v.0))),
                table::floats("ci_low", c.iter().map(|x| x.change.map(|v| v.1))),
                table::floats("ci_high", c.iter().map(|x| x.change.map(|v| v.2))),
            ],
        )
    }

    /// `response.csv`: `site, wave, invited, respondents, rate`.
    pub fn response_frame(&self) -> Result<DataFrame> {
        let r = &self.response;
        table::frame(
            "response",
            vec![
                table::strings("site", r.iter().map(|x| x.site.clone())),
                table::counts("wave", r.iter().map(|x| Some(x.wave as usize))),
                table::counts("invited", r.iter().map(|x| Some(x.invited))),
                table::counts("respondents", r.iter().map(|x| Some(x.respondents))),
                table::floats("rate", r.iter().map(|x| x.rate)),
            ],
        )
    }
}

impl Table for Fidelity {
    /// `fidelity.csv`: `element, item, site, wave, n, share, ci_low,
    /// ci_high, band, uncertain` (item blank on element rows; share and
    /// the rest blank when nobody answered).
    fn to_frame(&self) -> Result<DataFrame> {
        let r = &self.rows;
        let lit: Vec<_> = r
            .iter()
            .map(|x| {
                (
                    x.level.map(|l| (l.share, l.ci_low, l.ci_high)),
                    x.light,
                    x.uncertain,
                )
            })
            .collect();
        let mut columns = vec![
            table::strings("element", r.iter().map(|x| x.element.clone())),
            table::optional_strings("item", r.iter().map(|x| x.item.clone())),
            table::strings("site", r.iter().map(|x| x.site.clone())),
            table::counts("wave", r.iter().map(|x| Some(x.wave as usize))),
            table::counts("n", r.iter().map(|x| Some(x.n))),
        ];
        columns.extend(table::lit_columns(&lit));
        table::frame("fidelity", columns)
    }
}
