//! An analysis whose panel is larger than the memory budget is read in
//! parts of the persons and merged (issue 14): the same results as the
//! whole panel, bit for bit, for every register form; what cannot be
//! merged is refused before any part is read.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;
use trialpanel::Error;
use trialpanel::WideColumns;
use trialpanel::analysis::{Analysis, AnalysisConfig, OutcomeConfig, RegisterForm, Results};

fn sample_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst")
}

/// The sample's register in all four forms: its long Parquet and wide CSV,
/// and a long CSV and a wide Parquet converted from them.
fn registers() -> &'static [(RegisterForm, PathBuf); 4] {
    static FILES: OnceLock<[(RegisterForm, PathBuf); 4]> = OnceLock::new();
    FILES.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("parts");
        std::fs::create_dir_all(&dir).unwrap();
        let long = sample_dir().join("register_long.parquet");
        let wide = sample_dir().join("register_wide.csv");
        let mut df = ParquetReader::new(std::fs::File::open(&long).unwrap())
            .finish()
            .unwrap();
        let long_csv = dir.join("register_long.csv");
        CsvWriter::new(std::fs::File::create(&long_csv).unwrap())
            .finish(&mut df)
            .unwrap();
        let mut df = CsvReadOptions::default()
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(wide.clone()))
            .unwrap()
            .finish()
            .unwrap();
        let wide_parquet = dir.join("register_wide.parquet");
        ParquetWriter::new(std::fs::File::create(&wide_parquet).unwrap())
            .finish(&mut df)
            .unwrap();
        [
            (RegisterForm::Long, long),
            (RegisterForm::Long, long_csv),
            (RegisterForm::Wide, wide),
            (RegisterForm::Wide, wide_parquet),
        ]
    })
}

/// The sample analysis without what needs every person's values (band,
/// randomisation, sites), on `register`, with a memory budget in bytes.
fn config(form: RegisterForm, register: &Path, budget: Option<f64>) -> AnalysisConfig {
    let mut c = Analysis::from_file(sample_dir().join("analysis.toml"))
        .unwrap()
        .config()
        .clone();
    for o in &mut c.outcomes {
        o.band = false;
        o.randomisation = false;
        o.sites = false;
    }
    c.families.clear();
    // The site effects behind a correlation need every person at once; the
    // process indicators, the survey and the cost are kept.
    c.correlations.retain(|k| {
        ![&k.x, &k.y]
            .iter()
            .any(|m| m.to_string().starts_with("effect:"))
    });
    c.inputs.form = form;
    c.inputs.register = register.to_path_buf();
    c.inputs.memory_budget_gb = budget.map(|b| b / 1e9);
    if form == RegisterForm::Wide {
        c.long = None;
        c.wide = Some(WideColumns {
            hours_prefix: Some("h_".into()),
            ..WideColumns::default()
        });
    }
    c
}

fn run(config: AnalysisConfig) -> Result<Results, Error> {
    Analysis::new(config, sample_dir())?.run()
}

/// Bytes of the sample's whole panel: 3,000 persons × event weeks −52..=44.
const WHOLE_PANEL: f64 = 3000.0 * 97.0 * 3.0;

/// `parts` with the fields that say how it was read set to `whole`'s.
fn as_whole(mut parts: Results, whole: &Results) -> Results {
    parts.trial.parts = whole.trial.parts;
    parts.config.inputs.memory_budget_gb = whole.config.inputs.memory_budget_gb;
    parts
}

#[test]
fn parts_give_the_results_of_the_whole_panel_bit_for_bit() {
    for (form, register) in registers() {
        let whole = run(config(*form, register, None)).unwrap();
        assert_eq!(whole.trial.parts, 1);
        let parts = run(config(*form, register, Some(0.75 * WHOLE_PANEL))).unwrap();
        let n = parts.trial.parts;
        assert!(n > 1, "{}", register.display());
        assert!(
            parts
                .to_markdown()
                .unwrap()
                .contains(&format!("read {n} times, once for each of {n} parts"))
        );
        assert_eq!(as_whole(parts, &whole), whole, "{}", register.display());
    }
}

#[test]
fn parts_do_not_depend_on_their_size_or_the_threads() {
    let (form, register) = &registers()[0];
    let whole = run(config(*form, register, None)).unwrap();
    for (budget, threads) in [(0.05, 1), (0.5, 2), (0.9, 1)] {
        let config = config(*form, register, Some(budget * WHOLE_PANEL));
        let parts = rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| run(config))
            .unwrap();
        assert!(parts.trial.parts > 1);
        assert_eq!(as_whole(parts, &whole), whole, "budget {budget}");
    }
}

#[test]
fn what_needs_every_person_at_once_is_refused_before_reading() {
    let (form, register) = &registers()[0];
    for (what, set) in [
        ("band = true", (|o| o.band = true) as fn(&mut OutcomeConfig)),
        ("randomisation = true", |o| o.randomisation = true),
        ("sites = true", |o| o.sites = true),
    ] {
        let mut c = config(*form, register, Some(0.3 * WHOLE_PANEL));
        set(&mut c.outcomes[4]);
        let mut steps = Vec::new();
        let e = Analysis::new(c, sample_dir())
            .unwrap()
            .run_with_progress(|s| steps.push(s.to_string()), None)
            .unwrap_err();
        let text = e.to_string();
        assert!(matches!(e, Error::MemoryBudget { .. }), "{e:?}");
        assert!(text.contains(what) && text.contains("`employed`"), "{text}");
        assert!(text.contains("memory_budget_gb"), "{text}");
        assert!(!steps.iter().any(|s| s.contains("part")), "{steps:?}");
    }
}

#[test]
fn parts_need_a_known_window_and_a_bounded_count() {
    let (form, register) = &registers()[0];
    // Neither `[weeks] last` nor `observed_until`: the window of a long
    // register is known only once it is read.
    let mut c = config(*form, register, Some(0.3 * WHOLE_PANEL));
    c.weeks.last = None;
    c.weeks.snapshot = Some(vec![13]);
    c.weeks.significant_through = Some(13);
    c.inputs.observed_until = None;
    let e = run(c).unwrap_err();
    assert!(matches!(e, Error::MemoryBudget { .. }), "{e:?}");
    assert!(e.to_string().contains("set `[weeks] last`"), "{e}");

    // More than 256 parts (each reads the whole register) is refused.
    let e = run(config(*form, register, Some(WHOLE_PANEL / 1000.0))).unwrap_err();
    assert!(matches!(e, Error::MemoryBudget { .. }), "{e:?}");
    assert!(e.to_string().contains("at most 256 parts"), "{e}");
}

#[test]
fn a_wide_header_sizes_the_parts_when_the_settings_do_not() {
    let (form, register) = &registers()[2];
    let unset = |budget| {
        let mut c = config(*form, register, budget);
        c.weeks.last = None;
        c.weeks.snapshot = Some(vec![13, 26]);
        c.weeks.significant_through = Some(26);
        c.inputs.observed_until = None;
        c
    };
    let whole = run(unset(None)).unwrap();
    let parts = run(unset(Some(0.75 * WHOLE_PANEL))).unwrap();
    assert!(parts.trial.parts > 1);
    assert_eq!(as_whole(parts, &whole), whole);
}
