//! The output files of an analysis: which files an analysis file asks for
//! ([`Output::all`], also shown by its plan) and writing them from its
//! [`Results`] ([`Results::write`]), each file by its renderer.

use std::path::{Path, PathBuf};

use crate::config::{AnalysisConfig, OutcomeKind, ReportFormat};
use crate::error::{Error, Result};
use crate::estimators::{CorrelationTable, write_effects_csv};
use crate::report;
use crate::results::Results;
use crate::table::{self, Table};

/// One output of an analysis, in the order they are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Output {
    /// `effects.csv`: every outcome's weekly effects (and Lin estimates).
    Effects,
    /// `balance.csv`: the balance table and the joint test.
    Balance,
    /// `spell_km.csv`: the Kaplan–Meier curves of the spell (with a spell
    /// outcome).
    SpellKm,
    /// `process.csv`: the `[[process]]` indicators.
    Process,
    /// `fidelity.csv`: survey fidelity per element, item, site and wave.
    Fidelity,
    /// `fidelity_change.csv`: first-to-last-wave changes.
    FidelityChange,
    /// `response.csv`: survey response rates (with invited counts).
    Response,
    /// `cost.csv`: the cost per effect (with `[cost]`).
    Cost,
    /// `correlations.csv`: the `[[correlations]]` across sites.
    Correlations,
    /// `results.json`: everything.
    Json,
    /// `report.md`.
    Markdown,
    /// `report.html`: the report in one self-contained file.
    Html,
    /// `figures/*.svg`: the SVG figures.
    Figures,
}

impl Output {
    /// The outputs `config` asks for, in the order they are written.
    pub fn all(config: &AnalysisConfig) -> Vec<Output> {
        let c = config;
        let formats = &c.report.formats;
        [
            (Output::Effects, true),
            (Output::Balance, true),
            (
                Output::SpellKm,
                c.outcomes.iter().any(|o| o.kind == OutcomeKind::Spell),
            ),
            (Output::Process, !c.process.is_empty()),
            (Output::Fidelity, c.inputs.survey.is_some()),
            (Output::FidelityChange, c.inputs.survey.is_some()),
            (
                Output::Response,
                c.inputs.survey.is_some() && c.inputs.invited.is_some(),
            ),
            (Output::Cost, c.cost.is_some()),
            (Output::Correlations, !c.correlations.is_empty()),
            (Output::Json, true),
            (Output::Markdown, formats.contains(&ReportFormat::Md)),
            (Output::Html, formats.contains(&ReportFormat::Html)),
            (Output::Figures, c.report.figures),
        ]
        .into_iter()
        .filter_map(|(o, wanted)| wanted.then_some(o))
        .collect()
    }

    /// The file name (`figures/*.svg` for the figures).
    pub fn file_name(self) -> &'static str {
        match self {
            Output::Effects => "effects.csv",
            Output::Balance => "balance.csv",
            Output::SpellKm => "spell_km.csv",
            Output::Process => "process.csv",
            Output::Fidelity => "fidelity.csv",
            Output::FidelityChange => "fidelity_change.csv",
            Output::Response => "response.csv",
            Output::Cost => "cost.csv",
            Output::Correlations => "correlations.csv",
            Output::Json => "results.json",
            Output::Markdown => "report.md",
            Output::Html => "report.html",
            Output::Figures => "figures/*.svg",
        }
    }
}

impl Results {
    /// The results of the outcome named `name`.
    pub fn outcome(&self, name: &str) -> Option<&crate::results::OutcomeResults> {
        self.outcomes.iter().find(|o| o.effects.outcome == name)
    }

    /// `results.json`: everything, pretty-printed.
    pub fn to_json(&self) -> Result<String> {
        serde_json::to_string_pretty(self).map_err(|e| Error::Internal {
            what: "results.json".into(),
            message: e.to_string(),
        })
    }

    /// `report.md`: the readable report (see [`report::markdown`]).
    pub fn to_markdown(&self) -> Result<String> {
        report::markdown::render(self)
    }

    /// `report.html`: the same report as one self-contained HTML5 file,
    /// figures inlined (see [`report::html`]).
    pub fn to_html(&self) -> Result<String> {
        Ok(report::html::render(
            &self.title,
            &self.to_markdown()?,
            &self.figures()?,
        ))
    }

    /// The SVG figures (file name, SVG text), unless `[report] figures =
    /// false`.
    fn figures(&self) -> Result<Vec<(String, String)>> {
        if self.config.report.figures {
            report::figures::all(self)
        } else {
            Ok(Vec::new())
        }
    }

    /// Write every output of [`Output::all`] into `dir` (created if
    /// needed), and the list of them, [`MANIFEST`].
    ///
    /// An output that would replace one of the input files read is refused
    /// before anything is written (`output = "."` beside an input named
    /// `effects.csv`). Files of an earlier run in `dir` that this run
    /// replaces are listed in [`Written::replaced`]; files the earlier
    /// run's manifest lists that this run does not write (a figure of an
    /// outcome since renamed, `cost.csv` of a run with `[cost]`) are
    /// removed, so that the folder never mixes two runs, and listed in
    /// [`Written::removed`]. Files trialpanel did not write are never
    /// touched.
    pub fn write(&self, dir: impl AsRef<Path>) -> Result<Written> {
        let dir = dir.as_ref();
        let markdown = self.to_markdown()?;
        let figures = self.figures()?;
        let outputs = Output::all(&self.config);
        let mut planned: Vec<PathBuf> = Vec::new();
        for output in &outputs {
            match output {
                Output::Figures => planned.extend(
                    figures
                        .iter()
                        .map(|(name, _)| dir.join("figures").join(name)),
                ),
                o => planned.push(dir.join(o.file_name())),
            }
        }
        planned.push(dir.join(MANIFEST));
        self.refuse_inputs(&planned)?;
        create_dir(dir)?;
        let earlier = read_manifest(dir);
        let replaced: Vec<PathBuf> = planned.iter().filter(|p| p.exists()).cloned().collect();
        let mut files = Vec::new();
        for output in outputs {
            let path = dir.join(output.file_name());
            match output {
                Output::Effects => {
                    let tables = self
                        .outcomes
                        .iter()
                        .flat_map(|o| std::iter::once(&o.effects).chain(&o.adjusted));
                    write_effects_csv(tables, &path)?;
                }
                Output::Balance => self.balance.write_csv(&path)?,
                Output::SpellKm => match &self.spell {
                    Some(spell) => spell.km.write_csv(&path)?,
                    None => continue,
                },
                Output::Process => {
                    let frames = self
                        .process
                        .iter()
                        .map(|p| p.to_frame())
                        .collect::<Result<Vec<_>>>()?;
                    table::write_csv(&mut table::stack("process.csv", frames)?, &path)?;
                }
                Output::Fidelity | Output::FidelityChange | Output::Response => {
                    let Some(f) = &self.fidelity else { continue };
                    match output {
                        Output::Fidelity => f.write_csv(&path)?,
                        Output::FidelityChange => table::write_csv(&mut f.changes_frame()?, &path)?,
                        _ => table::write_csv(&mut f.response_frame()?, &path)?,
                    }
                }
                Output::Cost => match &self.cost {
                    Some(cost) => cost.write_csv(&path)?,
                    None => continue,
                },
                Output::Correlations => CorrelationTable(&self.correlations).write_csv(&path)?,
                Output::Json => table::write_text(&self.to_json()?, &path)?,
                Output::Markdown => table::write_text(&markdown, &path)?,
                Output::Html => {
                    let html = report::html::render(&self.title, &markdown, &figures);
                    table::write_text(&html, &path)?;
                }
                Output::Figures => {
                    if figures.is_empty() {
                        continue;
                    }
                    create_dir(&dir.join("figures"))?;
                    for (name, svg) in &figures {
                        let path = dir.join("figures").join(name);
                        table::write_text(svg, &path)?;
                        files.push(path);
                    }
                    continue;
                }
            }
            files.push(path);
        }
        let mut removed = Vec::new();
        for name in earlier {
            let path = dir.join(&name);
            if !files.contains(&path) && path.is_file() {
                std::fs::remove_file(&path).map_err(|e| Error::Write {
                    file: path.clone(),
                    message: format!("cannot remove this output of an earlier run: {e}"),
                })?;
                removed.push(path);
            }
        }
        let manifest = dir.join(MANIFEST);
        table::write_text(&manifest_text(dir, &files), &manifest)?;
        files.push(manifest);
        Ok(Written {
            files,
            replaced,
            removed,
        })
    }

    /// [`Error::Write`] when one of `outputs` is one of the input files.
    fn refuse_inputs(&self, outputs: &[PathBuf]) -> Result<()> {
        let same = |a: &Path, b: &Path| match (a.canonicalize(), b.canonicalize()) {
            (Ok(a), Ok(b)) => a == b,
            _ => false,
        };
        for out in outputs {
            if let Some(input) = self.inputs.iter().find(|i| same(out, i)) {
                return Err(Error::Write {
                    file: out.clone(),
                    message: format!(
                        "this output would replace the input {}; write the outputs to another \
                         folder (`output` in the analysis file, or --output)",
                        input.display()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// The list of the files a run wrote, one path per line relative to the
/// output folder: the next run in the folder removes those it does not
/// write again.
pub const MANIFEST: &str = "trialpanel-manifest.txt";

/// The files [`Results::write`] wrote, replaced and removed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Written {
    /// Every file written, the manifest last.
    pub files: Vec<PathBuf>,
    /// Files that existed before and were written over (an earlier run's).
    pub replaced: Vec<PathBuf>,
    /// Files an earlier run wrote that this one did not, removed.
    pub removed: Vec<PathBuf>,
}

impl std::ops::Deref for Written {
    type Target = [PathBuf];

    /// The files written.
    fn deref(&self) -> &[PathBuf] {
        &self.files
    }
}

/// The files listed in `dir`'s manifest (none without one), kept to those
/// inside `dir`.
fn read_manifest(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string(dir.join(MANIFEST))
        .map(|text| {
            text.lines()
                .skip_while(|l| l.starts_with('#'))
                .map(PathBuf::from)
                .filter(|p| {
                    p.components()
                        .all(|c| matches!(c, std::path::Component::Normal(_)))
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The manifest of `files`, relative to `dir`.
fn manifest_text(dir: &Path, files: &[PathBuf]) -> String {
    let mut text = String::from(
        "# The files trialpanel wrote in this folder; the next run here removes those it does \
         not write again.\n",
    );
    for f in files {
        let rel = f.strip_prefix(dir).unwrap_or(f);
        text.push_str(&rel.to_string_lossy().replace('\\', "/"));
        text.push('\n');
    }
    text
}

fn create_dir(dir: &Path) -> Result<()> {
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        file: dir.to_path_buf(),
        message: e.to_string(),
    })
}
