//! Site-level measures and their correlations across sites (methods §11):
//! does fidelity go with the effect, or with the process indicators?

use std::fmt;
use std::str::FromStr;

use polars::prelude::DataFrame;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::estimators::Fidelity;
use crate::estimators::GroupEffects;
use crate::estimators::{ALL_SITES, ProcessTable};
use crate::inputs::Arm;
use crate::stats::{self, Correlation, Level};
use crate::table::{self, Table};

/// A measure with one value per site.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SiteMeasure {
    /// The treatment arm's share meeting a process indicator.
    Process(String),
    /// A survey element's fidelity at a wave (`None`: the last).
    Fidelity {
        /// Element name.
        element: String,
        /// Wave.
        wave: Option<u32>,
    },
    /// An outcome's site effect at an event week.
    Effect {
        /// Outcome name, as in `effects.csv`.
        outcome: String,
        /// Event week.
        week: i32,
    },
}

impl FromStr for SiteMeasure {
    type Err = Error;

    fn from_str(s: &str) -> Result<SiteMeasure> {
        let bad = |reason: &str| Error::InvalidSetting {
            name: format!("site measure `{s}`"),
            reason: format!(
                "{reason}; write `process:<indicator>`, `fidelity:<element>[@wave]` or \
                 `effect:<outcome>@<week>`"
            ),
        };
        let (kind, rest) = s.split_once(':').ok_or_else(|| bad("no `kind:`"))?;
        let (name, at) = match rest.rsplit_once('@') {
            Some((name, at)) => (name.trim(), Some(at.trim())),
            None => (rest.trim(), None),
        };
        if name.is_empty() {
            return Err(bad("no name"));
        }
        let number = |at: &str| {
            at.parse::<i64>()
                .map_err(|_| bad("the part after `@` is not a whole number"))
        };
        match (kind.trim(), at) {
            ("process", None) => Ok(SiteMeasure::Process(rest.trim().to_string())),
            ("fidelity", at) => Ok(SiteMeasure::Fidelity {
                element: name.to_string(),
                wave: at
                    .map(|a| {
                        number(a).and_then(|w| u32::try_from(w).map_err(|_| bad("negative wave")))
                    })
                    .transpose()?,
            }),
            ("effect", Some(at)) => Ok(SiteMeasure::Effect {
                outcome: name.to_string(),
                week: i32::try_from(number(at)?).map_err(|_| bad("week out of range"))?,
            }),
            ("effect", None) => Err(bad("an effect needs its week")),
            ("process", Some(_)) => Err(bad("a process indicator takes no `@`")),
            _ => Err(bad("unknown kind")),
        }
    }
}

impl fmt::Display for SiteMeasure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SiteMeasure::Process(name) => write!(f, "process:{name}"),
            SiteMeasure::Fidelity {
                element,
                wave: None,
            } => write!(f, "fidelity:{element}"),
            SiteMeasure::Fidelity {
                element,
                wave: Some(w),
            } => write!(f, "fidelity:{element}@{w}"),
            SiteMeasure::Effect { outcome, week } => write!(f, "effect:{outcome}@{week}"),
        }
    }
}

impl Serialize for SiteMeasure {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for SiteMeasure {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// Where the site measures come from.
#[derive(Clone, Copy, Debug)]
pub struct Sources<'a> {
    /// The process indicators' tables.
    pub process: &'a [ProcessTable],
    /// The survey fidelity.
    pub fidelity: Option<&'a Fidelity>,
    /// Each outcome's site effects (outcomes without them are absent).
    pub site_effects: &'a [&'a GroupEffects],
}

impl SiteMeasure {
    /// The measure's value at each site, sorted by site label (sites
    /// without a value left out); [`Error::InvalidSetting`] when the
    /// indicator, element, wave or outcome is not there.
    pub fn values(&self, from: &Sources<'_>) -> Result<Vec<(String, f64)>> {
        let missing = |reason: String| Error::InvalidSetting {
            name: format!("site measure `{self}`"),
            reason,
        };
        let mut out: Vec<(String, f64)> = match self {
            SiteMeasure::Process(name) => {
                let rows: Vec<_> = from
                    .process
                    .iter()
                    .flat_map(|t| &t.rows)
                    .filter(|r| &r.indicator == name)
                    .collect();
                if rows.is_empty() {
                    return Err(missing(format!("no process indicator `{name}`")));
                }
                rows.iter()
                    .filter(|r| r.arm == Some(Arm::Treatment) && r.site != ALL_SITES)
                    .filter_map(|r| Some((r.site.clone(), r.share?.share)))
                    .collect()
            }
            SiteMeasure::Fidelity { element, wave } => {
                let f = from
                    .fidelity
                    .ok_or_else(|| missing("there is no survey (`[inputs] survey`)".into()))?;
                let last = f.rows.iter().map(|r| r.wave).max().unwrap_or(0);
                let wave = wave.unwrap_or(last);
                let rows: Vec<_> = f
                    .elements_at(wave)
                    .filter(|r| &r.element == element)
                    .collect();
                if rows.is_empty() {
                    return Err(missing(format!("no element `{element}` in wave {wave}")));
                }
                rows.iter()
                    .filter(|r| r.site != ALL_SITES)
                    .filter_map(|r| Some((r.site.clone(), r.level?.share)))
                    .collect()
            }
            SiteMeasure::Effect { outcome, week } => {
                let g = from
                    .site_effects
                    .iter()
                    .find(|g| &g.outcome == outcome)
                    .ok_or_else(|| {
                        missing(format!(
                            "outcome `{outcome}` has no site effects (`sites = true`)"
                        ))
                    })?;
                let rows: Vec<_> = g.rows.iter().filter(|r| r.week == *week).collect();
                if rows.is_empty() {
                    return Err(missing(format!("no site effects at week {week}")));
                }
                rows.iter()
                    .filter_map(|r| Some((r.group.clone(), r.estimate.effect?)))
                    .collect()
            }
        };
        out.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(out)
    }
}

/// `[[correlations]]`: two site measures to correlate.
///
/// ```toml
/// [[correlations]]
/// x = "fidelity:talks"
/// y = "effect:employed@35"
/// ```
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CorrelationSpec {
    /// The measure on the x axis.
    pub x: SiteMeasure,
    /// The measure on the y axis.
    pub y: SiteMeasure,
}

/// Two site measures side by side and their correlation.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct SiteCorrelation {
    /// The x measure.
    pub x: SiteMeasure,
    /// The y measure.
    pub y: SiteMeasure,
    /// (site, x, y) for the sites with both.
    pub sites: Vec<(String, f64, f64)>,
    /// `None` with fewer than three sites or a constant measure.
    pub correlation: Option<Correlation>,
}

/// Site-level measures and their correlations across sites (methods §11):
/// does fidelity go with the effect, or with the process indicators?
///
/// A measure is written `kind:name`, one value per site:
///
/// * `process:<indicator>`: the treatment arm's share meeting a
///   `[[process]]` indicator (`process:<indicator> (windows)` for the
///   windows or events of `every` and `after`);
/// * `fidelity:<element>` (or `fidelity:<element>@<wave>`): the survey
///   element's fidelity in the last wave (or the wave given);
/// * `effect:<outcome>@<week>`: the site effect of an outcome with
///   `sites = true` at that event week.
///
/// [`correlate`] pairs two measures by site label and gives Pearson's r
/// with its Fisher-z interval and t-test p, Spearman's ρ and n
/// ([`stats::correlation`]). With a dozen sites these are associations,
/// not effects: the report says so.
///
/// ```
/// use trialpanel::estimators::SiteMeasure;
/// let m: SiteMeasure = "effect:employed@35".parse()?;
/// assert_eq!(m, SiteMeasure::Effect { outcome: "employed".into(), week: 35 });
/// assert!("employed".parse::<SiteMeasure>().is_err());
/// # Ok::<(), trialpanel::Error>(())
/// ```
///
/// The sites' values of `spec.x` and `spec.y` and their correlation at
/// `level`.
pub fn correlate(
    spec: &CorrelationSpec,
    from: &Sources<'_>,
    level: Level,
) -> Result<SiteCorrelation> {
    let x = spec.x.values(from)?;
    let y = spec.y.values(from)?;
    let sites: Vec<(String, f64, f64)> = x
        .iter()
        .filter_map(|(s, a)| {
            y.iter()
                .find(|(t, _)| t == s)
                .map(|(_, b)| (s.clone(), *a, *b))
        })
        .collect();
    let xs: Vec<Option<f64>> = sites.iter().map(|s| Some(s.1)).collect();
    let ys: Vec<Option<f64>> = sites.iter().map(|s| Some(s.2)).collect();
    Ok(SiteCorrelation {
        x: spec.x.clone(),
        y: spec.y.clone(),
        correlation: stats::correlation(&xs, &ys, level.get()),
        sites,
    })
}

/// `correlations.csv`: `x, y, n, pearson, ci_low, ci_high, p_value,
/// spearman` (blank where undefined).
pub struct CorrelationTable<'a>(pub &'a [SiteCorrelation]);

impl Table for CorrelationTable<'_> {
    fn to_frame(&self) -> Result<DataFrame> {
        let r = self.0;
        let c = |f: fn(&Correlation) -> Option<f64>| {
            r.iter().map(move |x| x.correlation.as_ref().and_then(f))
        };
        table::frame(
            "correlations",
            vec![
                table::strings("x", r.iter().map(|x| x.x.to_string())),
                table::strings("y", r.iter().map(|x| x.y.to_string())),
                table::counts("n", r.iter().map(|x| Some(x.sites.len()))),
                table::floats("pearson", c(|c| Some(c.pearson))),
                table::floats("ci_low", c(|c| c.ci_low)),
                table::floats("ci_high", c(|c| c.ci_high)),
                table::floats("p_value", c(|c| c.p_value)),
                table::floats("spearman", c(|c| c.spearman)),
            ],
        )
    }
}
