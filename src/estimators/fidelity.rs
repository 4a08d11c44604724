//! Survey fidelity: how far staff say they deliver the model's core
//! elements, from waves of a staff survey (methods §11; Jobrettet Samtale
//! II).

use std::collections::BTreeMap;

use polars::prelude::DataFrame;
use rustc_hash::FxHashMap;
use serde::Serialize;

use crate::error::Result;
use crate::estimators::ALL_SITES;
use crate::inputs::{Answer, Survey, SurveyJoin};
use crate::stats::{self, Light, Thresholds};
use crate::table::{self, Table};

/// Survey fidelity: how far staff say they deliver the model's core
/// elements, from waves of a staff survey (methods §11; Jobrettet Samtale
/// II).
///
/// The responses are one row per respondent, wave and item with an ordinal
/// answer (CSV or Parquet: respondent, site, wave, item, answer). `[survey]`
/// in the analysis file ([`SurveySpec`](crate::inputs::SurveySpec)) gives the ordered answer scale, how
/// many of its top answers count as delivered (default 2: "to a high" and
/// "to a very high degree") and which items make up each element.
///
/// Per site (and `all`) and wave: an **item**'s fidelity is the share of
/// its answers in the top categories, with a Wilson interval; an
/// **element**'s is the mean of its answered items' shares, with a Wald
/// interval from the linearised variance that takes the respondents as
/// clusters (an element of one answered item has that item's Wilson
/// interval). The **change** from the first to the last wave is in
/// percentage points with the MOVER interval of the two waves' intervals:
/// Newcombe's hybrid score interval for items. Response rates come from an
/// optional table of the numbers invited (site, wave, invited).
///
/// ```
/// use polars::prelude::*;
/// use trialpanel::inputs::{Survey, SurveySpec};
/// use trialpanel::estimators::fidelity;
/// use trialpanel::stats::{Level, Thresholds};
///
/// let spec = SurveySpec {
///     scale: ["no", "some", "high", "very high"].map(String::from).to_vec(),
///     elements: [("talks".to_string(), vec!["q1".to_string(), "q2".to_string()])].into(),
///     ..SurveySpec::default()
/// };
/// let answers = df!("respondent" => ["r1", "r1", "r2", "r2"], "site" => ["A"; 4],
///                   "wave" => [1, 1, 1, 1], "item" => ["q1", "q2", "q1", "q2"],
///                   "answer" => ["high", "some", "very high", "high"])?;
/// let survey = Survey::from_frame(answers, "survey", &spec)?;
/// let fidelity = fidelity(&survey, Level::default(), &Thresholds::default());
/// let talks = fidelity.rows.iter().find(|r| r.item.is_none() && r.site == "all").unwrap();
/// assert_eq!(talks.level.unwrap().share, 0.75);   // mean of q1 (2/2) and q2 (1/2)
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
///
/// Fidelity per element and item, site (and `all`) and wave, the changes
/// from the first to the last wave, and response rates, at `level`.
pub fn fidelity(survey: &Survey, level: stats::Level, thresholds: &Thresholds) -> Fidelity {
    let mut sites: Vec<(String, Option<u32>)> = survey
        .sites()
        .iter()
        .enumerate()
        .map(|(i, s)| (s.clone(), Some(i as u32)))
        .collect();
    sites.push((ALL_SITES.to_string(), None));
    let mut rows = Vec::new();
    let mut changes = Vec::new();
    let mut unanswered = Vec::new();
    let (first, last) = (0u32, survey.waves().len() as u32 - 1);
    for (site, at) in &sites {
        let mut by_wave: Vec<Vec<Option<FidelityLevel>>> = Vec::new();
        for w in 0..survey.waves().len() as u32 {
            let mine: Vec<&Answer> = survey
                .answers()
                .iter()
                .filter(|a| a.wave == w && at.is_none_or(|s| a.site == s))
                .collect();
            let mut levels = Vec::new();
            for (e, name) in survey.elements().iter().enumerate() {
                let (n, elem_level, item_levels) = element(survey, e, &mine, level);
                let mut push = |item: Option<&str>, n: usize, l: Option<FidelityLevel>| {
                    let light = l.map(|l| match l.interval() {
                        Some((low, high)) => thresholds.light_of(l.share, low, high),
                        None => (thresholds.light_of(l.share, l.share, l.share).0, true),
                    });
                    rows.push(FidelityRow {
                        element: name.clone(),
                        item: item.map(str::to_string),
                        site: site.clone(),
                        wave: survey.waves()[w as usize],
                        n,
                        level: l,
                        light: light.map(|l| l.0),
                        uncertain: light.is_some_and(|l| l.1),
                    });
                    levels.push(l);
                };
                push(None, n, elem_level);
                let answered = item_levels.iter().any(|x| x.1 > 0);
                for (item, n, l) in item_levels {
                    if answered && n == 0 && at.is_some() {
                        unanswered.push(Unanswered {
                            element: name.clone(),
                            item: item.to_string(),
                            site: site.clone(),
                            wave: survey.waves()[w as usize],
                        });
                    }
                    push(Some(item), n, l);
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
                (Some(a), Some(b)) => match (a.interval(), b.interval()) {
                    (Some((l1, u1)), Some((l2, u2))) => {
                        Some(stats::mover((a.share, l1, u1), (b.share, l2, u2)))
                    }
                    _ => None,
                },
                _ => None,
            };
            changes.push(FidelityChange {
                element,
                item,
                site: site.clone(),
                first_wave: survey.waves()[first as usize],
                last_wave: survey.waves()[last as usize],
                change,
            });
        }
    }
    let response = survey
        .invited()
        .iter()
        .map(|(site, wave, invited)| {
            let respondents = survey.respondents_at(site, *wave);
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
        unanswered,
        join: survey.join().clone(),
    }
}

/// Element `e` over `answers` (one site and wave): respondents with an
/// answer, its level, and per item (name, answers, level).
fn element<'s>(
    survey: &'s Survey,
    e: usize,
    answers: &[&Answer],
    level: stats::Level,
) -> (usize, Option<FidelityLevel>, Vec<ItemLevel<'s>>) {
    let items: Vec<u32> = (0..survey.items().len() as u32)
        .filter(|&i| survey.items()[i as usize].0 == e)
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
        let w = stats::wilson(x, n, level.get()).map(|s| FidelityLevel {
            share: s.share,
            ci_low: s.ci_low,
            ci_high: s.ci_high,
        });
        if let Some(l) = w {
            shares.insert(i, (n, l.share));
        }
        per_item.push((survey.items()[i as usize].1.as_str(), n, w));
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
    // The mean of the answered items' shares, summed in item order.
    let mut sorted: Vec<(u32, (usize, f64))> = shares.into_iter().collect();
    sorted.sort_unstable_by_key(|x| x.0);
    let mean = sorted.iter().map(|x| x.1.1).sum::<f64>() / answered;
    let level = match sorted.len() {
        0 => None,
        1 => per_item.iter().find_map(|x| x.2),
        // One respondent: the share is theirs; no interval.
        _ if n < 2 => Some(FidelityLevel {
            share: mean,
            ci_low: None,
            ci_high: None,
        }),
        _ => {
            let share = mean;
            let sum_sq: f64 = z.values().map(|v| v * v).sum();
            let se = (n as f64 / (n as f64 - 1.0) * sum_sq).sqrt();
            let q = stats::normal_quantile(level.upper());
            Some(FidelityLevel {
                share,
                ci_low: Some((share - q * se).max(0.0)),
                ci_high: Some((share + q * se).min(1.0)),
            })
        }
    };
    (n, level, per_item)
}

/// An item's name, answers and level.
type ItemLevel<'s> = (&'s str, usize, Option<FidelityLevel>);

/// A share with its interval.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct FidelityLevel {
    /// The share, 0–1.
    pub share: f64,
    /// Lower end of its interval; `None` when undefined (an element of
    /// several items answered by one respondent).
    pub ci_low: Option<f64>,
    /// Upper end of its interval.
    pub ci_high: Option<f64>,
}

impl FidelityLevel {
    /// The interval, when it is defined.
    pub fn interval(&self) -> Option<(f64, f64)> {
        self.ci_low.zip(self.ci_high)
    }
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
    pub level: Option<FidelityLevel>,
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
    /// The items without any answer at a site and wave where other items
    /// of their element have answers: the element there is the mean of
    /// the answered items.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub unanswered: Vec<Unanswered>,
    /// What joining the survey to the trial's sites and the invited table
    /// matched.
    pub join: SurveyJoin,
}

/// An element's item that nobody answered at a site and wave.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Unanswered {
    /// Element name.
    pub element: String,
    /// Item name.
    pub item: String,
    /// Site label.
    pub site: String,
    /// Wave.
    pub wave: u32,
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
