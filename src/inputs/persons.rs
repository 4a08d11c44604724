//! The person table ([`Persons`], read as [`PersonSpec`] says): who was
//! randomised, to which arm, in which week and where, with the cluster and
//! the baseline covariates.

use std::hash::BuildHasher;
use std::path::{Path, PathBuf};

use hashbrown::HashTable;
use polars::prelude::DataFrame;
use rustc_hash::FxHashMap;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inputs::cell::{Cell, number};
use crate::inputs::labels;
use crate::inputs::table::RawTable;
use crate::weeks::Week;

/// Treatment arm.
#[derive(Copy, Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    /// Business as usual.
    Control = 0,
    /// The new effort.
    Treatment = 1,
}

impl Arm {
    /// Both arms, control first (the panel's order).
    pub const BOTH: [Arm; 2] = [Arm::Control, Arm::Treatment];

    /// `"control"` or `"treatment"`.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Control => "control",
            Arm::Treatment => "treatment",
        }
    }
}

/// Which columns of the person table hold what, and the arm labels.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PersonSpec {
    /// Person id column (default `person_id`).
    pub id: String,
    /// Arm column (default `arm`).
    pub arm: String,
    /// Label of the treatment arm in the arm column (default `treatment`).
    pub treatment_label: String,
    /// Label of the control arm in the arm column (default `control`).
    pub control_label: String,
    /// Referral week column (default `referral_week`); any spelling of
    /// [`Week::parse`].
    pub referral: String,
    /// Block column (municipality/site), if randomisation was blocked.
    pub block: Option<String>,
    /// Cluster column, if any.
    pub cluster: Option<String>,
    /// Covariate columns; `None` means every other column.
    pub covariates: Option<Vec<String>>,
}

impl Default for PersonSpec {
    fn default() -> Self {
        PersonSpec {
            id: "person_id".into(),
            arm: "arm".into(),
            treatment_label: "treatment".into(),
            control_label: "control".into(),
            referral: "referral_week".into(),
            block: None,
            cluster: None,
            covariates: None,
        }
    }
}

impl PersonSpec {
    /// Set the person id column.
    pub fn id_column(mut self, name: &str) -> Self {
        self.id = name.into();
        self
    }
    /// Set the arm column.
    pub fn arm_column(mut self, name: &str) -> Self {
        self.arm = name.into();
        self
    }
    /// Set the labels of the treatment and control arms.
    pub fn arm_labels(mut self, treatment: &str, control: &str) -> Self {
        self.treatment_label = treatment.into();
        self.control_label = control.into();
        self
    }
    /// Set the referral week column.
    pub fn referral_column(mut self, name: &str) -> Self {
        self.referral = name.into();
        self
    }
    /// Set the block (municipality/site) column.
    pub fn block_column(mut self, name: &str) -> Self {
        self.block = Some(name.into());
        self
    }
    /// Set the cluster column.
    pub fn cluster_column(mut self, name: &str) -> Self {
        self.cluster = Some(name.into());
        self
    }
    /// Use only these covariate columns.
    pub fn covariate_columns(mut self, names: &[&str]) -> Self {
        self.covariates = Some(names.iter().map(|s| s.to_string()).collect());
        self
    }
}

/// A baseline covariate.
#[derive(Clone, Debug, PartialEq)]
pub struct Covariate {
    /// Column name.
    pub name: String,
    /// Values, one per person.
    pub values: CovariateValues,
}

/// Values of a covariate; `None` is missing.
#[derive(Clone, Debug, PartialEq)]
pub enum CovariateValues {
    /// A number per person (binary covariates are numeric 0/1).
    Numeric(Vec<Option<f64>>),
    /// A level index per person into `levels` (sorted).
    Categorical {
        /// The distinct values, sorted.
        levels: Vec<String>,
        /// Each person's index into `levels`.
        values: Vec<Option<u32>>,
    },
}

/// Labels of a grouping column (blocks or clusters) and each person's index.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Groups {
    /// Distinct labels, sorted.
    pub labels: Vec<String>,
    /// Each person's label index.
    pub index: Vec<u32>,
}

/// The validated person table: who was randomised, to which arm, when, and
/// where.
///
/// One row per person with an id, the arm, the referral week, optionally a
/// block (municipality or site, the unit randomisation was done within) and
/// a cluster, and any number of baseline covariates. Every column that is
/// not one of the design columns is read as a covariate: numeric when every
/// non-missing value is a number, categorical otherwise. Blank cells, `NA`
/// and `.` are missing values.
///
/// ```no_run
/// use trialpanel::{PersonSpec, Persons};
/// let spec = PersonSpec::default()
///     .id_column("pnr")
///     .arm_labels("T", "C")
///     .block_column("municipality");
/// let persons = Persons::read("persons.csv", &spec)?;
/// println!("{} persons", persons.len());
/// # Ok::<(), trialpanel::Error>(())
/// ```
#[derive(Clone, Debug, PartialEq)]
pub struct Persons {
    file: PathBuf,
    spec: PersonSpec,
    arms: Vec<Arm>,
    referral: Vec<Week>,
    blocks: Groups,
    clusters: Option<Groups>,
    covariates: Vec<Covariate>,
    lookup: IdIndex,
    warnings: Vec<String>,
}

/// Person id → person table row.
///
/// Ids are text; an id written as a canonical non-negative integer (`1042`,
/// not `01042` or `+1042`) is also keyed by its value, so that an integer
/// register column is looked up without formatting or string hashing, and
/// `1042` in the register finds the same person whether the column is text
/// or integer. Text ids with leading zeros stay text: `000001` is not `1`.
#[derive(Clone, Debug, Default)]
struct IdIndex {
    /// The ids, by row.
    ids: Vec<String>,
    /// Rows of the ids that are not canonical integers, hashed by id: each
    /// id is stored once, in `ids`.
    text: HashTable<u32>,
    /// Rows of the canonical integer ids, by value.
    int: FxHashMap<u64, u32>,
}

impl PartialEq for IdIndex {
    /// Indices are equal when they hold the same ids at the same rows.
    fn eq(&self, other: &IdIndex) -> bool {
        self.ids == other.ids
    }
}

fn hash(id: &str) -> u64 {
    rustc_hash::FxBuildHasher.hash_one(id)
}

impl IdIndex {
    fn with_capacity(n: usize) -> IdIndex {
        IdIndex {
            ids: Vec::with_capacity(n),
            text: HashTable::with_capacity(n),
            int: FxHashMap::default(),
        }
    }

    /// Add `id` (trimmed) as the next row; if it is there already, its row
    /// and `id` back.
    fn push(&mut self, id: String) -> std::result::Result<(), (u32, String)> {
        let row = self.ids.len() as u32;
        let IdIndex { ids, text, int } = self;
        match canonical_integer(&id) {
            Some(v) => match int.entry(v) {
                std::collections::hash_map::Entry::Occupied(e) => return Err((*e.get(), id)),
                std::collections::hash_map::Entry::Vacant(e) => {
                    e.insert(row);
                }
            },
            None => {
                let h = hash(&id);
                let same = |&r: &u32| ids[r as usize] == id;
                match text.entry(h, same, |&r| hash(&ids[r as usize])) {
                    hashbrown::hash_table::Entry::Occupied(e) => {
                        let first = *e.get();
                        return Err((first, id));
                    }
                    hashbrown::hash_table::Entry::Vacant(e) => {
                        e.insert(row);
                    }
                }
            }
        }
        ids.push(id);
        Ok(())
    }

    fn text(&self, id: &str) -> Option<usize> {
        let id = id.trim();
        match canonical_integer(id) {
            Some(v) => self.int.get(&v),
            None => self.text.find(hash(id), |&r| self.ids[r as usize] == id),
        }
        .map(|&i| i as usize)
    }

    fn cell(&self, cell: &Cell<'_>) -> Option<usize> {
        match cell {
            Cell::Str(s) => self.text(s),
            Cell::Int(i) => match u64::try_from(*i) {
                Ok(v) => self.int.get(&v).map(|&i| i as usize),
                Err(_) => self.text(&i.to_string()),
            },
            other => self.text(&other.text()),
        }
    }

    /// The index of the ids at rows `order`, in that order.
    fn reordered(&self, order: &[usize]) -> IdIndex {
        let ids: Vec<String> = order.iter().map(|&i| self.ids[i].clone()).collect();
        if order.len() != self.ids.len() {
            let mut index = IdIndex::with_capacity(ids.len());
            for id in ids {
                // Distinct rows of a table of distinct ids.
                let _ = index.push(id);
            }
            return index;
        }
        // A permutation: the same tables with rows renumbered, no hashing
        // again.
        let mut new_row = vec![0u32; order.len()];
        for (p, &row) in order.iter().enumerate() {
            new_row[row] = p as u32;
        }
        let mut index = IdIndex {
            ids,
            text: self.text.clone(),
            int: self.int.clone(),
        };
        for row in index.text.iter_mut().chain(index.int.values_mut()) {
            *row = new_row[*row as usize];
        }
        index
    }
}

/// The value of a canonical decimal integer (no sign, no leading zero
/// unless it is `0`, at most 19 digits), else `None`.
fn canonical_integer(s: &str) -> Option<u64> {
    let b = s.as_bytes();
    let canonical = !b.is_empty()
        && b.len() <= 19
        && b.iter().all(u8::is_ascii_digit)
        && (b[0] != b'0' || b.len() == 1);
    if canonical { s.parse().ok() } else { None }
}

const MISSING_TOKENS: [&str; 2] = ["NA", "."];

fn is_missing(cell: &Cell<'_>) -> bool {
    match cell {
        Cell::Str(s) => {
            let t = s.trim();
            t.is_empty() || MISSING_TOKENS.contains(&t)
        }
        other => other.is_blank(),
    }
}

impl Persons {
    /// Read and validate a person table from a CSV or Parquet file.
    pub fn read(path: impl AsRef<Path>, spec: &PersonSpec) -> Result<Persons> {
        Self::from_table(RawTable::read(path.as_ref())?, spec)
    }

    /// Validate a person table held in a polars `DataFrame`; `label` names it
    /// in error messages.
    pub fn from_frame(df: DataFrame, label: &str, spec: &PersonSpec) -> Result<Persons> {
        Self::from_table(RawTable::from_frame(df, label), spec)
    }

    fn from_table(table: RawTable, spec: &PersonSpec) -> Result<Persons> {
        if table.height() == 0 {
            return Err(Error::Empty { file: table.file });
        }
        let n = table.height();
        let mut lookup = IdIndex::with_capacity(n);
        for (i, cell) in table.column(&spec.id)?.cells().enumerate() {
            if is_missing(&cell) {
                return Err(table.missing(i, &spec.id));
            }
            if let Err((first, id)) = lookup.push(cell.text().trim().to_string()) {
                return Err(Error::DuplicatePerson {
                    file: table.file.clone(),
                    row: i + 1,
                    first_row: first as usize + 1,
                    id,
                });
            }
        }

        let mut arms = Vec::with_capacity(n);
        for (i, cell) in table.column(&spec.arm)?.cells().enumerate() {
            let text = cell.text();
            let label = text.trim();
            arms.push(if label == spec.treatment_label {
                Arm::Treatment
            } else if label == spec.control_label {
                Arm::Control
            } else {
                return Err(Error::UnknownArm {
                    file: table.file.clone(),
                    row: i + 1,
                    column: spec.arm.clone(),
                    value: label.to_string(),
                    expected: format!(
                        "`{}` for treatment or `{}` for control",
                        spec.treatment_label, spec.control_label
                    ),
                });
            });
        }
        for (arm, label) in [
            (Arm::Treatment, &spec.treatment_label),
            (Arm::Control, &spec.control_label),
        ] {
            if !arms.contains(&arm) {
                return Err(Error::EmptyArm {
                    file: table.file.clone(),
                    arm: arm.name(),
                    label: label.clone(),
                });
            }
        }

        let mut referral = Vec::with_capacity(n);
        // Each distinct spelling parsed once.
        let mut parsed: FxHashMap<String, Week> = FxHashMap::default();
        for (i, cell) in table.column(&spec.referral)?.cells().enumerate() {
            if let Some(&week) = parsed.get(cell.text().as_ref()) {
                referral.push(week);
                continue;
            }
            if is_missing(&cell) {
                return Err(table.missing(i, &spec.referral));
            }
            let week = Week::parse(&cell.text()).map_err(|e| {
                let problem = format!("invalid week ({})", e.reason);
                table.invalid(i, &spec.referral, &cell, problem)
            })?;
            parsed.insert(cell.text().into_owned(), week);
            referral.push(week);
        }

        let blocks = match &spec.block {
            Some(col) => {
                let blocks = read_groups(&table, col)?;
                // A block (site) named like the outputs' overall rows.
                if let Some(b) = blocks
                    .labels
                    .iter()
                    .position(|l| labels::RESERVED.contains(&l.as_str()))
                {
                    let row = blocks
                        .index
                        .iter()
                        .position(|&i| i as usize == b)
                        .unwrap_or(0);
                    labels::check_not_reserved(&table.file, row + 1, col, &blocks.labels[b])?;
                }
                blocks
            }
            None => Groups {
                labels: vec!["all".into()],
                index: vec![0; n],
            },
        };
        let clusters = spec
            .cluster
            .as_ref()
            .map(|col| read_groups(&table, col))
            .transpose()?;
        if let (Some(c), Some(col)) = (&clusters, &spec.cluster) {
            check_nesting(&table.file, col, c, &arms, &blocks, spec)?;
        }

        let design: Vec<&str> = [Some(&spec.id), Some(&spec.arm), Some(&spec.referral)]
            .into_iter()
            .chain([spec.block.as_ref(), spec.cluster.as_ref()])
            .flatten()
            .map(String::as_str)
            .collect();
        let names = match &spec.covariates {
            Some(list) => list.clone(),
            None => table
                .column_names()
                .into_iter()
                .filter(|c| !design.contains(&c.as_str()))
                .collect(),
        };
        let mut warnings = Vec::new();
        let covariates = names
            .iter()
            .map(|name| read_covariate(&table, name, &mut warnings))
            .collect::<Result<Vec<_>>>()?;

        Ok(Persons {
            file: table.file,
            spec: spec.clone(),
            arms,
            referral,
            blocks,
            clusters,
            covariates,
            lookup,
            warnings,
        })
    }

    /// Number of persons.
    pub fn len(&self) -> usize {
        self.lookup.ids.len()
    }

    /// Always `false`: a validated person table has persons in both arms.
    pub fn is_empty(&self) -> bool {
        self.lookup.ids.is_empty()
    }

    /// The file (or frame label) the table came from.
    pub fn source(&self) -> &Path {
        &self.file
    }

    /// The column specification used to read the table.
    pub fn spec(&self) -> &PersonSpec {
        &self.spec
    }

    /// Person ids in table order.
    pub fn ids(&self) -> &[String] {
        &self.lookup.ids
    }

    /// Arms in table order.
    pub fn arms(&self) -> &[Arm] {
        &self.arms
    }

    /// Referral weeks in table order.
    pub fn referral_weeks(&self) -> &[Week] {
        &self.referral
    }

    /// Blocks (a single block `all` when no block column was given).
    pub fn blocks(&self) -> &Groups {
        &self.blocks
    }

    /// Clusters, if a cluster column was given.
    pub fn clusters(&self) -> Option<&Groups> {
        self.clusters.as_ref()
    }

    /// Baseline covariates.
    pub fn covariates(&self) -> &[Covariate] {
        &self.covariates
    }

    /// The covariate called `name`, or an [`Error::InvalidSetting`] listing
    /// the covariates there are (`what` names the setting, e.g. `subgroup`).
    pub fn covariate(&self, name: &str, what: &str) -> Result<&Covariate> {
        self.covariates
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| Error::InvalidSetting {
                name: what.into(),
                reason: format!(
                    "`{name}` is not a covariate of the person table (covariates: {})",
                    crate::excerpt::list(self.covariates.iter().map(|c| &c.name))
                ),
            })
    }

    /// Row index of the person with id `id`.
    pub fn position(&self, id: &str) -> Option<usize> {
        self.lookup.text(id)
    }

    /// A person whose id equals `id` once leading zeros are dropped or
    /// letter case ignored (ids written differently in two files), if any.
    /// A scan of the table: for error messages only.
    pub fn near_match(&self, id: &str) -> Option<&str> {
        let id = id.trim();
        let unpadded = |s: &str| {
            let t = s.trim_start_matches('0');
            if t.is_empty() && !s.is_empty() {
                "0"
            } else {
                t
            }
            .to_string()
        };
        let (plain, lower) = (unpadded(id), id.to_lowercase());
        self.lookup
            .ids
            .iter()
            .find(|p| p.as_str() != id && (unpadded(p) == plain || p.to_lowercase() == lower))
            .map(String::as_str)
    }

    /// What reading the table assumed that may be wrong (a numeric column
    /// read as categorical because of a few values that are not numbers).
    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }

    /// Row index of the person named by a register cell (text or integer id).
    pub(crate) fn position_of(&self, cell: &Cell<'_>) -> Option<usize> {
        self.lookup.cell(cell)
    }

    /// The persons at rows `order`, in that order: a permutation of
    /// `0..len`, or distinct rows of one part of the table (whose block and
    /// cluster labels stay those of the whole table).
    pub(crate) fn reordered(&self, order: &[usize]) -> Persons {
        let pick = |g: &Groups| Groups {
            labels: g.labels.clone(),
            index: order.iter().map(|&i| g.index[i]).collect(),
        };
        Persons {
            file: self.file.clone(),
            spec: self.spec.clone(),
            arms: order.iter().map(|&i| self.arms[i]).collect(),
            referral: order.iter().map(|&i| self.referral[i]).collect(),
            blocks: pick(&self.blocks),
            clusters: self.clusters.as_ref().map(pick),
            covariates: self
                .covariates
                .iter()
                .map(|c| Covariate {
                    name: c.name.clone(),
                    values: match &c.values {
                        CovariateValues::Numeric(v) => {
                            CovariateValues::Numeric(order.iter().map(|&i| v[i]).collect())
                        }
                        CovariateValues::Categorical { levels, values } => {
                            CovariateValues::Categorical {
                                levels: levels.clone(),
                                values: order.iter().map(|&i| values[i]).collect(),
                            }
                        }
                    },
                })
                .collect(),
            lookup: self.lookup.reordered(order),
            warnings: self.warnings.clone(),
        }
    }
}

fn read_groups(table: &RawTable, col: &str) -> Result<Groups> {
    let mut labels = Labels::default();
    let mut index = Vec::with_capacity(table.height());
    for (i, cell) in table.column(col)?.cells().enumerate() {
        if is_missing(&cell) {
            return Err(table.missing(i, col));
        }
        index.push(labels.code(cell.text().trim()));
    }
    let (labels, recode) = labels.sorted();
    for c in &mut index {
        *c = recode[*c as usize];
    }
    Ok(Groups { labels, index })
}

/// Each cluster lies in one arm and one block (methods §9): the first row
/// that breaks this is an error naming the cluster and both rows.
fn check_nesting(
    file: &Path,
    column: &str,
    clusters: &Groups,
    arms: &[Arm],
    blocks: &Groups,
    spec: &PersonSpec,
) -> Result<()> {
    let mut first: Vec<Option<usize>> = vec![None; clusters.labels.len()];
    for (row, &c) in clusters.index.iter().enumerate() {
        let Some(f) = first[c as usize] else {
            first[c as usize] = Some(row);
            continue;
        };
        let arm = |r: usize| match arms[r] {
            Arm::Treatment => format!("arm `{}`", spec.treatment_label),
            Arm::Control => format!("arm `{}`", spec.control_label),
        };
        let block = |r: usize| format!("block `{}`", blocks.labels[blocks.index[r] as usize]);
        let (across_arms, a, b) = if arms[row] != arms[f] {
            (true, arm(f), arm(row))
        } else if blocks.index[row] != blocks.index[f] {
            (false, block(f), block(row))
        } else {
            continue;
        };
        return Err(Error::ClusterSpans {
            file: file.to_path_buf(),
            row: row + 1,
            column: column.to_string(),
            cluster: clusters.labels[c as usize].clone(),
            across_arms,
            seen: format!("{a} in row {}, {b} in row {}", f + 1, row + 1),
        });
    }
    Ok(())
}

/// Distinct labels numbered as first seen; [`Labels::sorted`] sorts them.
#[derive(Default)]
struct Labels(FxHashMap<String, u32>);

impl Labels {
    /// The number of `label`.
    fn code(&mut self, label: &str) -> u32 {
        if let Some(&c) = self.0.get(label) {
            return c;
        }
        let c = self.0.len() as u32;
        self.0.insert(label.to_string(), c);
        c
    }

    /// The labels sorted, and each first-seen number's index among them.
    fn sorted(self) -> (Vec<String>, Vec<u32>) {
        let mut labels: Vec<(String, u32)> = self.0.into_iter().collect();
        labels.sort_unstable();
        let mut recode = vec![0u32; labels.len()];
        for (i, (_, c)) in labels.iter().enumerate() {
            recode[*c as usize] = i as u32;
        }
        (labels.into_iter().map(|l| l.0).collect(), recode)
    }
}

/// A covariate column: numeric when every value present is a finite
/// number, else categorical. A column of numbers with a few other values
/// (`41,5` with a decimal comma, `NaN`) is read as categorical and said in
/// `warnings`.
fn read_covariate(table: &RawTable, name: &str, warnings: &mut Vec<String>) -> Result<Covariate> {
    let col = table.column(name)?;
    let mut numbers = Vec::with_capacity(table.height());
    // Values present, of which numbers, and the first that is not one.
    let (mut present, mut n_numbers, mut first_text) = (0usize, 0usize, None);
    for (i, cell) in col.cells().enumerate() {
        let value = if is_missing(&cell) {
            Ok(None)
        } else {
            number(&cell)
        };
        match value {
            Ok(v) => {
                present += usize::from(v.is_some());
                n_numbers += usize::from(v.is_some());
                numbers.push(v);
            }
            Err(_) => {
                present += 1;
                first_text.get_or_insert(i);
            }
        }
    }
    let values = match first_text {
        None => CovariateValues::Numeric(numbers),
        Some(row) => {
            drop(numbers);
            if n_numbers * 10 >= present * 9 {
                warnings.push(format!(
                    "covariate `{name}` of {} is read as categorical although {n_numbers} of its \
                     {present} values are numbers: row {} holds `{}`, not a number (a decimal \
                     comma? write 41.5)",
                    table.file.display(),
                    row + 1,
                    crate::excerpt::excerpt(&col.cell(row).text(), crate::excerpt::VALUE_CHARS),
                ));
            }
            let mut labels = Labels::default();
            let mut values: Vec<Option<u32>> = col
                .cells()
                .map(|c| (!is_missing(&c)).then(|| labels.code(c.text().trim())))
                .collect();
            let (levels, recode) = labels.sorted();
            for v in values.iter_mut().flatten() {
                *v = recode[*v as usize];
            }
            CovariateValues::Categorical { levels, values }
        }
    };
    Ok(Covariate {
        name: name.to_string(),
        values,
    })
}
