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
use crate::inputs::labels;
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
    /// the warnings); an item no row asks is an error.
    pub elements: BTreeMap<String, Vec<String>>,
    /// The waves used; the rows of other waves are left out (counted and
    /// said). Default: every wave present, refused when the first or last
    /// has a handful of answers (a stray row: wave 60 for 6).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub waves: Option<Vec<u32>>,
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
            waves: None,
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
            if let Some(problem) = crate::table::name_problem(element) {
                return bad(format!("element: {problem}"));
            }
            if items.is_empty() {
                return bad(format!("element `{element}` has no items"));
            }
            if let Some(problem) = items.iter().find_map(|i| crate::table::name_problem(i)) {
                return bad(format!("item of `{element}`: {problem}"));
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

/// [`Error::InvalidSetting`] naming an element's item that no row of the
/// survey asks (a typo in `[survey] elements`, or an item of another
/// survey), with its near match among the items the file has.
fn never_asked(
    file: &Path,
    items: &[(usize, String)],
    rows: &[usize],
    skipped: &BTreeMap<String, usize>,
    spec: &SurveySpec,
) -> Result<()> {
    let Some(i) = rows.iter().position(|&n| n == 0) else {
        return Ok(());
    };
    let present: Vec<String> = items
        .iter()
        .zip(rows)
        .filter(|(_, n)| **n > 0)
        .map(|((_, name), _)| name.clone())
        .chain(skipped.keys().cloned())
        .collect();
    let element = spec
        .elements
        .keys()
        .nth(items[i].0)
        .map_or("", String::as_str);
    let near = labels::near_match(&items[i].1, &present)
        .map_or(String::new(), |m| format!("; did you mean `{m}`?"));
    Err(Error::InvalidSetting {
        name: "survey.elements".into(),
        reason: format!(
            "item `{}` of element `{element}` is asked in no row of {} (items found: {}){near}",
            items[i].1,
            file.display(),
            crate::excerpt::list(&present)
        ),
    })
}

/// Fewest answers of a first or last wave, as a share of the median wave's,
/// before it is taken for a stray (wave 60 for 6).
const STRAY_WAVE_SHARE: f64 = 0.05;

/// [`Error::InvalidSetting`] when the first or last wave has fewer than
/// [`STRAY_WAVE_SHARE`] of the median wave's answers: a handful of stray
/// rows would otherwise become "the first wave" or "the last wave" of every
/// change. `raw`: (respondent, site, wave, item, top) answers.
fn stray_waves(file: &Path, raw: &[(u32, u32, u32, u32, bool)], waves: &[u32]) -> Result<()> {
    if waves.len() < 3 {
        return Ok(());
    }
    let count = |w: u32| raw.iter().filter(|a| a.2 == w).count();
    let mut counts: Vec<usize> = waves.iter().map(|&w| count(w)).collect();
    let median = {
        let mut c = counts.clone();
        c.sort_unstable();
        c[c.len() / 2]
    };
    let small = |n: usize| (n as f64) < STRAY_WAVE_SHARE * median as f64;
    let (first, last) = (counts[0], counts.pop().unwrap_or_default());
    let stray = if small(last) {
        Some((waves[waves.len() - 1], last, "last"))
    } else if small(first) {
        Some((waves[0], first, "first"))
    } else {
        None
    };
    match stray {
        Some((wave, n, edge)) => Err(Error::InvalidSetting {
            name: "survey.waves".into(),
            reason: format!(
                "wave {wave}, the {edge} wave of {}, has {n} answers against {median} in the \
                 median wave (stray rows?); it would be the {edge} wave of every change. Set \
                 `[survey] waves` to the waves to use",
                file.display()
            ),
        }),
        None => Ok(()),
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
    /// Rows of waves not in `[survey] waves`, left out.
    left_out: usize,
    /// What joins to other inputs left unmatched.
    join_warnings: Vec<String>,
    /// What the joins matched.
    join: SurveyJoin,
}

/// What joining the survey to the other inputs matched, for the report:
/// every join says what matched as well as what did not.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct SurveyJoin {
    /// The trial's sites (the person table's blocks) with survey answers,
    /// and the trial's sites; `None` when the trial has no sites to join.
    pub trial_sites: Option<(usize, usize)>,
    /// Answers of sites the trial lacks, left out.
    pub answers_left_out: usize,
    /// The survey's site-waves with an invited count, and its site-waves;
    /// `None` without an invited table.
    pub invited: Option<(usize, usize)>,
    /// Rows of the invited table of sites the survey lacks, left out.
    pub invited_left_out: usize,
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
        // Rows of each element item (blank answers too), and of waves not used.
        let mut item_rows = vec![0usize; items.len()];
        let mut left_out = 0usize;
        let scale = || crate::excerpt::list(spec.scale.iter().map(|a| format!("`{a}`")));
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
            labels::check_not_reserved(&table.file, i + 1, &spec.site, &s)?;
            let w_text = text(&wave, &spec.wave)?;
            let w: u32 = w_text.parse().map_err(|_| {
                table.invalid(i, &spec.wave, &wave.cell(i), "not a whole number ≥ 0")
            })?;
            if spec.waves.as_ref().is_some_and(|keep| !keep.contains(&w)) {
                left_out += 1;
                continue;
            }
            item_rows[item_at as usize] += 1;
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
        never_asked(&table.file, &items, &item_rows, &skipped, spec)?;
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
        if spec.waves.is_none() {
            stray_waves(&table.file, &raw, &waves)?;
        }
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
            left_out,
            join_warnings: Vec::new(),
            join: SurveyJoin::default(),
        })
    }

    /// With the numbers invited per site and wave (a `.csv` or `.parquet`
    /// table with columns `site`, `wave`, `invited`), for response rates.
    ///
    /// The invited table is joined to the survey by site and wave: a site
    /// or wave listed twice is an error naming both rows; a site the survey
    /// lacks is refused when it nearly matches one of the survey's (a typo)
    /// or more than 5% of the rows fall out, and said otherwise
    /// ([`Survey::join_warnings`]); a site and wave of the survey without
    /// an invited count is said too (no response rate for it).
    pub fn with_invited(mut self, path: impl AsRef<Path>) -> Result<Survey> {
        let table = Input::read(path.as_ref())?;
        let [site, wave, invited] = ["site", "wave", "invited"].map(|c| table.column(c));
        let (site, wave, invited) = (site?, wave?, invited?);
        let mut first: FxHashMap<(String, u32), usize> = FxHashMap::default();
        let mut rows: BTreeMap<String, usize> = BTreeMap::new();
        for i in 0..table.height() {
            let s = site.cell(i).text().trim().to_string();
            if s.is_empty() {
                return Err(table.missing(i, "site"));
            }
            labels::check_not_reserved(&table.file, i + 1, "site", &s)?;
            let whole = |c: &io::Column, name: &str| {
                c.cell(i)
                    .text()
                    .trim()
                    .parse::<u32>()
                    .map_err(|_| table.invalid(i, name, &c.cell(i), "not a whole number ≥ 0"))
            };
            let (w, n) = (whole(&wave, "wave")?, whole(&invited, "invited")? as usize);
            if let Some(row) = first.insert((s.clone(), w), i) {
                return Err(table.invalid(
                    i,
                    "site",
                    &site.cell(i),
                    format!(
                        "site and wave {w} already have an invited count in row {}",
                        row + 1
                    ),
                ));
            }
            *rows.entry(s.clone()).or_default() += 1;
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
        let rows: Vec<(String, usize)> = rows.into_iter().collect();
        let unmatched = labels::unmatched(&rows, &self.sites);
        let said = labels::verdict(
            &table.file,
            "site",
            "the survey",
            &unmatched,
            table.height(),
        )?;
        self.join_warnings.extend(said);
        // The counts of sites the survey lacks would be response rates of 0.
        let before = self.invited.len();
        let sites = &self.sites;
        self.invited.retain(|(s, _, _)| sites.contains(s));
        self.join.invited_left_out = before - self.invited.len();
        let mut uncounted = Vec::new();
        for (s, site) in self.sites.iter().enumerate() {
            for (w, wave) in self.waves.iter().enumerate() {
                let answered = self.respondents.contains_key(&(s as u32, w as u32));
                if answered && !first.contains_key(&(site.clone(), *wave)) {
                    uncounted.push(format!("{site} wave {wave}"));
                }
            }
        }
        self.join.invited = Some(self.invited_coverage());
        if !uncounted.is_empty() {
            self.join_warnings.push(format!(
                "{} has no invited count for {} site-waves of the survey, which get no response \
                 rate: {}",
                table.file.display(),
                uncounted.len(),
                crate::excerpt::list(&uncounted)
            ));
        }
        Ok(self)
    }

    /// What joining the survey to other inputs (the invited table, the
    /// trial's sites) left unmatched, in words.
    pub fn join_warnings(&self) -> &[String] {
        &self.join_warnings
    }

    /// Join the survey's sites to the trial's (`sites`, the person table's
    /// blocks): a survey site the trial lacks is refused when it nearly
    /// matches a trial site (a typo) or holds more than 5% of the answers,
    /// and otherwise left out (its answers and invited counts) and said;
    /// trial sites without answers are said.
    pub fn join_sites(mut self, sites: &[String]) -> Result<Survey> {
        let mut per: Vec<(String, usize)> = self.sites.iter().map(|s| (s.clone(), 0)).collect();
        for a in &self.answers {
            per[a.site as usize].1 += 1;
        }
        let unmatched = labels::unmatched(&per, sites);
        let said = labels::verdict(
            &self.file,
            "site",
            "the person table's sites",
            &unmatched,
            self.answers.len(),
        )?;
        self.join_warnings.extend(said);
        self.drop_sites(
            &unmatched
                .iter()
                .map(|u| u.label.as_str())
                .collect::<Vec<_>>(),
        );
        let answered = sites.iter().filter(|s| self.sites.contains(s)).count();
        self.join.trial_sites = Some((answered, sites.len()));
        let silent: Vec<&String> = sites.iter().filter(|s| !self.sites.contains(s)).collect();
        if !silent.is_empty() {
            self.join_warnings.push(format!(
                "{} of the trial's {} sites have no survey answers: {}",
                silent.len(),
                sites.len(),
                crate::excerpt::list(silent)
            ));
        }
        Ok(self)
    }

    /// Leave out the answers, respondent counts and invited counts of the
    /// sites `drop`, keeping the other sites' indices in label order.
    fn drop_sites(&mut self, drop: &[&str]) {
        if drop.is_empty() {
            return;
        }
        let mut at = vec![None; self.sites.len()];
        let mut kept = Vec::new();
        for (old, site) in self.sites.iter().enumerate() {
            if !drop.contains(&site.as_str()) {
                at[old] = Some(kept.len() as u32);
                kept.push(site.clone());
            }
        }
        let before = self.answers.len();
        self.answers.retain(|a| at[a.site as usize].is_some());
        self.join.answers_left_out += before - self.answers.len();
        for a in &mut self.answers {
            a.site = at[a.site as usize].unwrap_or_default();
        }
        self.respondents = self
            .respondents
            .iter()
            .filter_map(|(&(s, w), &n)| at[s as usize].map(|s| ((s, w), n)))
            .collect();
        let before = self.invited.len();
        self.invited.retain(|(s, _, _)| kept.contains(s));
        self.join.invited_left_out += before - self.invited.len();
        self.sites = kept;
        if self.join.invited.is_some() {
            self.join.invited = Some(self.invited_coverage());
        }
    }

    /// The survey's site-waves with an invited count, and its site-waves.
    fn invited_coverage(&self) -> (usize, usize) {
        let listed: rustc_hash::FxHashSet<(&str, u32)> = self
            .invited
            .iter()
            .map(|(s, w, _)| (s.as_str(), *w))
            .collect();
        let counted = self
            .respondents
            .keys()
            .filter(|&&(s, w)| {
                listed.contains(&(self.sites[s as usize].as_str(), self.waves[w as usize]))
            })
            .count();
        (counted, self.respondents.len())
    }

    /// What joining the survey to the other inputs matched.
    pub fn join(&self) -> &SurveyJoin {
        &self.join
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

    /// Rows of the waves not in `[survey] waves`, left out.
    pub fn left_out(&self) -> usize {
        self.left_out
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
