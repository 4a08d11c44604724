//! Helpers shared by the integration tests: reading the reference fixtures
//! (plain CSV written by tests/fixtures/effects/make_fixtures.py) and
//! comparing numbers.
#![allow(dead_code)]

use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// The repository's root: the library's folder (the command's tests,
/// in `cli/`, include this module too).
pub fn root() -> PathBuf {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    match dir.file_name() {
        Some(name) if name == "cli" => dir.parent().unwrap_or(dir).to_path_buf(),
        _ => dir.to_path_buf(),
    }
}

/// A minimal analysis file: two outcomes, weeks 0 to 20.
pub const MINIMAL: &str = r#"
title = "t"

[inputs]
persons = "p.csv"
codes = "c.csv"
register = "r.csv"

[weeks]
first = 0
last = 20
snapshot = [10, 20]

[[outcomes]]
kind = "employed"

[[outcomes]]
kind = "hours"
"#;

/// The bundled sample's analysis file.
pub fn sample_file() -> PathBuf {
    root().join("data-samples/jobfirst/analysis.toml")
}

/// The sample analysis through the library, run once per test binary and
/// written to `<target tmp>/<tag>/lib/`: the analysis, its results and
/// where they were written.
pub fn sample(
    tag: &str,
) -> &'static (
    trialpanel::analysis::Analysis,
    trialpanel::analysis::Results,
    PathBuf,
) {
    use std::sync::OnceLock;
    use trialpanel::analysis::{Analysis, Results};
    static SAMPLE: OnceLock<(Analysis, Results, PathBuf)> = OnceLock::new();
    SAMPLE.get_or_init(|| {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(tag).join("lib");
        let _ = std::fs::remove_dir_all(&dir);
        let analysis = Analysis::from_file(sample_file())
            .expect("sample analysis file")
            .with_output_dir(&dir);
        let results = analysis.run().expect("sample analysis runs");
        results
            .write(analysis.output_dir())
            .expect("outputs written");
        (analysis, results, dir)
    })
}

/// Path of a file under tests/fixtures.
pub fn fixture(rel: &str) -> PathBuf {
    root().join("tests/fixtures").join(rel)
}

/// Rows of a fixture CSV as column → text maps (fields may be wrapped in
/// double quotes; no field contains a quote or a comma inside quotes other
/// than bucket labels, which are handled).
pub fn rows(rel: &str) -> Vec<HashMap<String, String>> {
    rows_of(&fixture(rel))
}

/// Rows of any such CSV file.
pub fn rows_of(path: &Path) -> Vec<HashMap<String, String>> {
    let text = std::fs::read_to_string(path).expect("file exists");
    let mut lines = text.lines();
    let header: Vec<String> = split(lines.next().expect("header"));
    lines
        .filter(|l| !l.is_empty())
        .map(|l| header.iter().cloned().zip(split(l)).collect())
        .collect()
}

fn split(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    for ch in line.chars() {
        match ch {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(std::mem::take(&mut field)),
            c => field.push(c),
        }
    }
    out.push(field);
    out
}

/// A numeric field; empty means missing.
pub fn opt(row: &HashMap<String, String>, col: &str) -> Option<f64> {
    let s = row
        .get(col)
        .unwrap_or_else(|| panic!("fixture column {col}"));
    (!s.is_empty()).then(|| s.parse().unwrap_or_else(|_| panic!("{col}: {s}")))
}

/// A required numeric field.
pub fn num(row: &HashMap<String, String>, col: &str) -> f64 {
    opt(row, col).unwrap_or_else(|| panic!("{col} is empty"))
}

/// `a` and `b` agree to a relative tolerance `tol` (absolute near 0), or are
/// both missing.
pub fn assert_close(what: &str, got: Option<f64>, want: Option<f64>, tol: f64) {
    match (got, want) {
        (Some(g), Some(w)) => assert!(
            (g - w).abs() <= tol * w.abs().max(1.0),
            "{what}: got {g}, want {w} (tolerance {tol})"
        ),
        (None, None) => {}
        _ => panic!("{what}: got {got:?}, want {want:?}"),
    }
}

use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons};

/// The 72-person fixture trial (tests/fixtures/effects/trial), blocked by
/// municipality, with `covariates` read from the person table.
pub fn trial_panel(covariates: &[&str]) -> Panel {
    let persons = Persons::read(
        fixture("effects/trial/persons.csv"),
        &PersonSpec::default()
            .block_column("municipality")
            .covariate_columns(covariates),
    )
    .unwrap();
    let codes = CodeTable::read(fixture("effects/trial/codes.csv")).unwrap();
    Panel::builder(&persons, &codes)
        .long_file(
            fixture("effects/trial/register.csv"),
            &LongColumns::default(),
        )
        .unwrap()
}

/// The bundled synthetic JobFirst-like sample, blocked by municipality.
pub fn sample_panel() -> Panel {
    let dir = root().join("data-samples/jobfirst");
    let persons = Persons::read(
        dir.join("persons.csv"),
        &PersonSpec::default().block_column("municipality"),
    )
    .unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    Panel::builder(&persons, &codes)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap()
}

/// A tiny trial from CSV text (person table and long register; codes 651
/// work placement, 621 wage subsidy, 111 benefit), written to a fresh
/// temporary directory named by `tag`, and its panel.
pub fn tiny_panel(tag: &str, persons_csv: &str, register_csv: &str, spec: &PersonSpec) -> Panel {
    let dir = std::env::temp_dir().join(format!("trialpanel-{tag}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("persons.csv"), persons_csv).unwrap();
    std::fs::write(dir.join("register.csv"), register_csv).unwrap();
    std::fs::write(
        dir.join("codes.csv"),
        "code,category\n651,work_placement\n621,wage_subsidy\n111,benefit\n",
    )
    .unwrap();
    let persons = Persons::read(dir.join("persons.csv"), spec).unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_file(dir.join("register.csv"), &LongColumns::default())
        .unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    panel
}

/// A small seeded xorshift generator with Box–Muller normals, for the
/// tests' simulations (independent of the crate's own generator).
pub struct Normals(pub u64);

impl Normals {
    /// Uniform on [0, 1).
    pub fn uniform(&mut self) -> f64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal.
    pub fn normal(&mut self) -> f64 {
        let (u1, u2) = (1.0 - self.uniform(), self.uniform());
        (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
    }
}
