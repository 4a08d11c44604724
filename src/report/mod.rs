//! The readable forms of a whole analysis: [`markdown`] renders `report.md`,
//! [`html`] turns it into the self-contained `report.html` and [`figures`]
//! draws the SVG figures, all from [`crate::analysis::Results`].
//! (The tidy tables and their CSV files are [`crate::table`].)

pub mod figures;
pub mod html;
pub mod markdown;
mod numbers;
mod write;

pub use write::{MANIFEST, Output, Written};

use crate::estimators::ALL_SITES;
use crate::inputs::Arm;
use crate::results::Results;
use crate::stats::Light;

/// One cell of the fidelity overview: a share, its light and whether its
/// interval crosses a threshold.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Lit {
    /// The share, 0–1.
    pub share: f64,
    /// Its light.
    pub light: Light,
    /// Its interval crosses a threshold.
    pub uncertain: bool,
}

impl Lit {
    /// A cell from a share and its light; `None` when either is missing.
    fn of(share: Option<f64>, light: Option<Light>, uncertain: bool) -> Option<Lit> {
        Some(Lit {
            share: share?,
            light: light?,
            uncertain,
        })
    }
}

/// The fidelity overview: sites × measures (each process indicator's
/// treatment-arm share, each survey element in the last wave) with their
/// lights, as report.md's table and the heat-table figure show it.
#[derive(Clone, Debug, PartialEq)]
pub struct Overview {
    /// Measure labels.
    pub measures: Vec<String>,
    /// Site labels in order, then `all`.
    pub sites: Vec<String>,
    /// `cells[site][measure]`.
    pub cells: Vec<Vec<Option<Lit>>>,
}

impl Overview {
    /// The overview of `r`, or `None` without process indicators or a
    /// survey.
    pub fn of(r: &Results) -> Option<Overview> {
        // (label, site → cell)
        let mut columns: Vec<(String, Vec<(String, Lit)>)> = Vec::new();
        for (rule, t) in r.config.process.iter().zip(&r.process) {
            let cells = t
                .rows
                .iter()
                .filter(|x| x.indicator == rule.name() && x.arm == Some(Arm::Treatment))
                .filter_map(|x| {
                    Some((
                        x.site.clone(),
                        Lit::of(x.share.map(|s| s.share), x.light, x.uncertain)?,
                    ))
                })
                .collect();
            columns.push((rule.name().to_string(), cells));
        }
        if let Some(f) = &r.fidelity {
            let last = f.rows.iter().map(|x| x.wave).max().unwrap_or(0);
            let mut elements: Vec<&str> = f.elements_at(last).map(|x| x.element.as_str()).collect();
            elements.sort_unstable();
            elements.dedup();
            for element in elements {
                let cells = f
                    .elements_at(last)
                    .filter(|x| x.element == element)
                    .filter_map(|x| {
                        Some((
                            x.site.clone(),
                            Lit::of(x.level.map(|l| l.share), x.light, x.uncertain)?,
                        ))
                    })
                    .collect();
                columns.push((format!("{element} (survey, wave {last})"), cells));
            }
        }
        if columns.is_empty() {
            return None;
        }
        let mut sites: Vec<String> = columns
            .iter()
            .flat_map(|c| c.1.iter().map(|x| x.0.clone()))
            .filter(|s| s != ALL_SITES)
            .collect();
        sites.sort_unstable();
        sites.dedup();
        sites.push(ALL_SITES.to_string());
        let cells = sites
            .iter()
            .map(|site| {
                columns
                    .iter()
                    .map(|c| c.1.iter().find(|x| &x.0 == site).map(|x| x.1))
                    .collect()
            })
            .collect();
        Some(Overview {
            measures: columns.into_iter().map(|c| c.0).collect(),
            sites,
            cells,
        })
    }
}
