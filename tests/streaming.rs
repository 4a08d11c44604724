//! Streaming register readers (issue 14): the same panel, load report and
//! errors from CSV, Parquet and in-memory frames, for every batch size and
//! number of threads; integer and text person ids give the same panel.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use polars::prelude::*;
use trialpanel::simulate::{self, TrialSpec};
use trialpanel::{CodeTable, Error, LongColumns, Panel, PanelBuilder, Persons, WideColumns};

/// A simulated trial written once: persons.csv, codes.csv,
/// register_long.{csv,parquet}, register_wide.{csv,parquet}.
fn trial() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("streaming-trial");
        let config = TrialSpec {
            persons: 150,
            seed: 11,
            ..TrialSpec::default()
        };
        let sim = simulate::simulate(&config).unwrap();
        sim.write(&dir, true).unwrap();
        let mut wide = sim.wide_register().unwrap();
        let file = std::fs::File::create(dir.join("register_wide.parquet")).unwrap();
        ParquetWriter::new(file).finish(&mut wide).unwrap();
        dir
    })
}

fn inputs(dir: &Path) -> (Persons, CodeTable) {
    let persons = Persons::read(dir.join("persons.csv"), &simulate::person_spec()).unwrap();
    let codes = CodeTable::read(dir.join("codes.csv")).unwrap();
    (persons, codes)
}

fn wide_columns() -> WideColumns {
    WideColumns {
        hours_prefix: Some("h_".into()),
        ..WideColumns::default()
    }
}

/// A person table of `ids` and `arms`, everyone referred in 2016-W10, and
/// a code table mapping `111` to `benefit`.
fn tiny_inputs(ids: &[&str], arms: &[&str]) -> (Persons, CodeTable) {
    let persons = df!(
        "person_id" => ids,
        "arm" => arms,
        "referral_week" => vec!["2016-W10"; ids.len()]
    )
    .unwrap();
    let persons = Persons::from_frame(persons, "persons", &Default::default()).unwrap();
    let codes = CodeTable::from_pairs([("111", "benefit")]).unwrap();
    (persons, codes)
}

/// `load` run on a pool of `threads` threads.
fn on<T: Send>(threads: usize, load: impl FnOnce() -> T + Send) -> T {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .unwrap()
        .install(load)
}

type Load = fn(PanelBuilder<'_>, &Path) -> Result<Panel, Error>;

const FORMS: [(&str, Load); 5] = [
    ("long CSV", |b, d| {
        b.long_file(d.join("register_long.csv"), &LongColumns::default())
    }),
    ("long Parquet", |b, d| {
        b.long_file(d.join("register_long.parquet"), &LongColumns::default())
    }),
    ("long frame", |b, d| {
        let df = CsvReadOptions::default()
            .with_infer_schema_length(Some(0))
            .try_into_reader_with_file_path(Some(d.join("register_long.csv")))
            .unwrap()
            .finish()
            .unwrap();
        b.long_frame(df, "register", &LongColumns::default())
    }),
    ("wide CSV", |b, d| {
        b.wide_file(d.join("register_wide.csv"), &wide_columns())
    }),
    ("wide Parquet", |b, d| {
        b.wide_file(d.join("register_wide.parquet"), &wide_columns())
    }),
];

#[test]
fn every_form_batch_size_and_thread_count_gives_the_same_panel() {
    let dir = trial();
    let (persons, codes) = inputs(dir);
    let reference = FORMS[0].1(Panel::builder(&persons, &codes), dir).unwrap();
    assert!(reference.load_report().rows > 10_000);
    for (form, load) in FORMS {
        for batch in [7, 1000, 1 << 16] {
            for threads in [1, 2, 3] {
                let panel = on(threads, || {
                    load(Panel::builder(&persons, &codes).batch_rows(batch), dir).unwrap()
                });
                let what = format!("{form}, {batch} rows per batch, {threads} threads");
                // The wide form has a row per person, not per person-week.
                if form.starts_with("wide") {
                    assert_eq!(panel.n_persons(), reference.n_persons(), "{what}");
                    assert_eq!(panel.event_weeks(), reference.event_weeks(), "{what}");
                    for k in panel.event_weeks() {
                        assert_eq!(panel.categories(k), reference.categories(k), "{what}, {k}");
                        assert_eq!(panel.centihours(k), reference.centihours(k), "{what}, {k}");
                    }
                    assert_eq!(panel.persons(), reference.persons(), "{what}");
                } else {
                    assert!(panel == reference, "{what}: panel differs");
                }
            }
        }
    }
}

#[test]
fn observed_weeks_and_window_settings_agree_across_forms() {
    let dir = trial();
    let (persons, codes) = inputs(dir);
    let until = trialpanel::Week::parse("2017-W02").unwrap();
    let build = || {
        Panel::builder(&persons, &codes)
            .observed_until(until)
            .event_weeks(-10, 20)
            .batch_rows(5)
    };
    let long = build()
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap();
    let wide = build()
        .wide_file(dir.join("register_wide.csv"), &wide_columns())
        .unwrap();
    assert_eq!(long.observed_until(), until);
    assert_eq!(long.event_weeks(), -10..=20);
    for k in long.event_weeks() {
        assert_eq!(long.categories(k), wide.categories(k), "week {k}");
        assert_eq!(long.centihours(k), wide.centihours(k), "week {k}");
    }
    assert!(long.load_report().rows_outside_window > 0);
}

/// The same trial with ids `1, 2, …` instead of `P000001, …`: as text in
/// CSV and as Int64 in Parquet.
#[test]
fn integer_and_text_ids_give_the_same_panel() {
    let dir = trial();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("streaming-int-ids");
    std::fs::create_dir_all(&out).unwrap();
    let strip = |text: String| {
        text.lines()
            .map(|l| match l.strip_prefix('P') {
                Some(rest) => rest.trim_start_matches('0').to_string(),
                None => l.to_string(),
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    for f in ["persons.csv", "register_long.csv"] {
        let text = std::fs::read_to_string(dir.join(f)).unwrap();
        std::fs::write(out.join(f), strip(text)).unwrap();
    }
    std::fs::copy(dir.join("codes.csv"), out.join("codes.csv")).unwrap();
    let mut df = CsvReadOptions::default()
        .with_infer_schema_length(Some(1000))
        .try_into_reader_with_file_path(Some(out.join("register_long.csv")))
        .unwrap()
        .finish()
        .unwrap();
    assert_eq!(df.column("person_id").unwrap().dtype(), &DataType::Int64);
    let file = std::fs::File::create(out.join("register_int.parquet")).unwrap();
    ParquetWriter::new(file).finish(&mut df).unwrap();

    let (persons, codes) = inputs(&out);
    let text = Panel::builder(&persons, &codes)
        .long_file(out.join("register_long.csv"), &LongColumns::default())
        .unwrap();
    let int = Panel::builder(&persons, &codes)
        .long_file(out.join("register_int.parquet"), &LongColumns::default())
        .unwrap();
    assert!(text == int, "integer ids give another panel");
    // The same values as the original text ids (in another panel order:
    // ties in arm, block and referral are ordered by id text).
    let (p0, c0) = inputs(dir);
    let original = Panel::builder(&p0, &c0)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap();
    let sorted = |p: &Panel, k| {
        let mut v = p.categories(k).unwrap().to_vec();
        v.sort_unstable();
        v
    };
    for k in original.event_weeks() {
        assert_eq!(sorted(&original, k), sorted(&int, k), "week {k}");
    }
}

#[test]
fn an_integer_id_does_not_match_a_text_id_with_leading_zeros() {
    let (persons, codes) = tiny_inputs(&["007", "8"], &["treatment", "control"]);
    let register = df!(
        "person_id" => [7i64, 8],
        "week" => ["2016-W10", "2016-W10"],
        "code" => ["111", "111"],
        "hours" => [0.0, 0.0]
    )
    .unwrap();
    match Panel::builder(&persons, &codes).long_frame(register, "register", &LongColumns::default())
    {
        Err(Error::UnknownPersons { rows, first_id, .. }) => {
            assert_eq!((rows, first_id.as_str()), (1, "7"))
        }
        other => panic!("{other:?}"),
    }
}

/// Every register case of the bad-input catalogue gives the same error
/// (message included) for every batch size and thread count.
#[test]
fn catalogue_errors_do_not_depend_on_batches_or_threads() {
    let bad = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let file = |case: &str, name: &str| {
        let own = bad.join(case).join(name);
        if own.exists() {
            own
        } else {
            bad.join("_base").join(name)
        }
    };
    let mut checked = 0;
    for entry in std::fs::read_dir(&bad).unwrap() {
        let case = entry.unwrap().file_name().to_string_lossy().into_owned();
        let dir = bad.join(&case);
        if !dir.is_dir() {
            continue;
        }
        let spec = trialpanel::PersonSpec::default();
        let Ok(persons) = Persons::read(file(&case, "persons.csv"), &spec) else {
            continue;
        };
        let Ok(codes) = CodeTable::read(file(&case, "codes.csv")) else {
            continue;
        };
        let load = |batch: usize| {
            let b = Panel::builder(&persons, &codes).batch_rows(batch);
            let wide = dir.join("register_wide.csv");
            let r = if wide.exists() {
                b.wide_file(wide, &WideColumns::default())
            } else {
                b.long_file(file(&case, "register.csv"), &LongColumns::default())
            };
            r.map(|p| p.load_report().clone())
                .map_err(|e| e.to_string())
        };
        let reference = load(1 << 16);
        for batch in [1, 2, 3] {
            for threads in [1, 3] {
                assert_eq!(
                    on(threads, || load(batch)),
                    reference,
                    "{case}: {batch} rows, {threads} threads"
                );
            }
        }
        checked += usize::from(reference.is_err());
    }
    assert!(checked >= 10, "only {checked} failing cases checked");
}

/// A duplicate person-week whose rows are far apart, in different batches
/// read by different threads, is still reported at its second row.
#[test]
fn a_duplicate_far_apart_is_found_at_its_second_row() {
    let dir = trial();
    let (persons, codes) = inputs(dir);
    let text = std::fs::read_to_string(dir.join("register_long.csv")).unwrap();
    let out = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("streaming-duplicate.csv");
    let lines: Vec<&str> = text.lines().collect();
    // Copy a row from early in the file to its end; the first row whose
    // copy is inside the panel's window (the others are not duplicates).
    let n = lines.len(); // data rows once the copy is appended
    let duplicated = (1..200).find(|&i| {
        let mut with_copy = lines.clone();
        with_copy.push(lines[i]);
        std::fs::write(&out, with_copy.join("\n")).unwrap();
        Panel::builder(&persons, &codes)
            .long_file(&out, &LongColumns::default())
            .is_err()
    });
    assert!(duplicated.is_some(), "no row to duplicate");
    for (batch, threads) in [(1 << 16, 1), (3, 2), (50, 3)] {
        let e = on(threads, || {
            Panel::builder(&persons, &codes)
                .batch_rows(batch)
                .long_file(&out, &LongColumns::default())
                .unwrap_err()
        });
        match e {
            Error::DuplicatePersonWeek { row, .. } => assert_eq!(row, n, "{batch}, {threads}"),
            e => panic!("{e:?}"),
        }
    }
}

#[test]
fn a_panel_over_the_memory_budget_fails_naming_the_setting() {
    let dir = trial();
    let (persons, codes) = inputs(dir);
    let e = Panel::builder(&persons, &codes)
        .memory_budget(10_000)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap_err();
    assert!(
        matches!(e, Error::MemoryBudget { budget: 10_000, .. }),
        "{e:?}"
    );
    assert!(e.to_string().contains("memory_budget"), "{e}");
}

#[test]
fn unused_parquet_columns_of_any_type_are_not_read() {
    let (persons, codes) = tiny_inputs(&["a", "b"], &["treatment", "control"]);
    let note = Series::new(
        "note".into(),
        [
            Series::new("".into(), [1i64, 2]),
            Series::new("".into(), [3i64]),
        ],
    );
    let mut register = df!(
        "person_id" => ["a", "b"],
        "week" => ["2016-W10", "2016-W11"],
        "code" => ["111", ""],
        "hours" => [1.5, 0.0]
    )
    .unwrap();
    register.with_column(note.into_column()).unwrap();
    let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("streaming-list-column.parquet");
    ParquetWriter::new(std::fs::File::create(&path).unwrap())
        .finish(&mut register)
        .unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_file(&path, &LongColumns::default())
        .unwrap();
    assert_eq!(panel.load_report().rows, 2);
    // A used column of an unsupported type is named.
    let columns = LongColumns {
        code: "note".into(),
        ..LongColumns::default()
    };
    match Panel::builder(&persons, &codes).long_file(&path, &columns) {
        Err(Error::ColumnType { column, .. }) => assert_eq!(column, "note"),
        other => panic!("{other:?}"),
    }
}

/// With the observed weeks given, an oversized panel is refused before the
/// register is read: the register's bad row is never reached.
#[test]
fn a_known_window_over_budget_fails_before_reading() {
    let bad = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/bad");
    let persons = Persons::read(bad.join("_base/persons.csv"), &Default::default()).unwrap();
    let codes = CodeTable::read(bad.join("_base/codes.csv")).unwrap();
    let register = bad.join("wrong_type/register.csv");
    fn weeks(b: PanelBuilder<'_>) -> PanelBuilder<'_> {
        b.observed_from("2016-W01".parse().unwrap())
            .observed_until("2016-W40".parse().unwrap())
    }
    let read = weeks(Panel::builder(&persons, &codes))
        .long_file(&register, &LongColumns::default())
        .unwrap_err();
    assert!(matches!(read, Error::InvalidValue { .. }), "{read:?}");
    let refused = weeks(Panel::builder(&persons, &codes).memory_budget(100))
        .long_file(&register, &LongColumns::default())
        .unwrap_err();
    match refused {
        Error::MemoryBudget { needed, budget, .. } => {
            assert_eq!((needed > budget, budget), (true, 100))
        }
        e => panic!("{e:?}"),
    }
}

mod never_panics {
    use std::path::PathBuf;

    use proptest::prelude::*;
    use trialpanel::{CodeTable, LongColumns, Panel, Persons, WideColumns};

    /// A person table and code table in a folder of the test's own
    /// (`tag`): a file rewritten while another test's reader maps it would
    /// end that test with SIGBUS.
    fn setup(tag: &str) -> (Persons, CodeTable, PathBuf) {
        let dir =
            PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join(format!("streaming-any-bytes-{tag}"));
        std::fs::create_dir_all(&dir).unwrap();
        let persons = dir.join("persons.csv");
        std::fs::write(
            &persons,
            "person_id,arm,referral_week\nA,treatment,2016-W10\n7,control,2016-W11\n",
        )
        .unwrap();
        let persons = Persons::read(&persons, &Default::default()).unwrap();
        let codes = CodeTable::from_pairs([("111", "benefit"), ("651", "work_placement")]).unwrap();
        (persons, codes, dir)
    }

    /// Text that looks like a register: headers, ids, weeks, codes, hours,
    /// quotes, separators and line ends, in any order.
    fn register_text() -> impl Strategy<Value = Vec<u8>> {
        let pieces = prop::sample::select(vec![
            "person_id",
            "week",
            "code",
            "hours",
            "y_1610",
            "y_1611",
            "y_1653",
            "h_1610",
            "A",
            "7",
            "07",
            "2016-W10",
            "2016-W11",
            "201612",
            "111",
            "651",
            "999",
            "2.5",
            "-1",
            "NaN",
            "\"",
            ",",
            ",",
            "\n",
            "\n",
            "\r\n",
            " ",
            "\u{feff}",
            "\u{ff}",
        ]);
        let header = prop::sample::select(vec![
            "",
            "person_id,week,code,hours\n",
            "person_id,y_1610,y_1611,h_1610,h_1611\n",
        ]);
        (header, prop::collection::vec(pieces, 0..80))
            .prop_map(|(h, v)| format!("{h}{}", v.concat()).into_bytes())
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

        /// Any text as a long or a wide register, with any batch size and
        /// event-week window: a panel or an error, never a panic.
        #[test]
        fn any_register_text_is_a_panel_or_an_error(
            text in register_text(),
            batch in 1usize..5,
            first in prop::sample::select(vec![None, Some(-3), Some(i32::MIN), Some(i32::MAX)]),
        ) {
            let (persons, codes, dir) = setup("register");
            let path = dir.join(format!("register-{batch}.csv"));
            std::fs::write(&path, &text).unwrap();
            let builder = || {
                let b = Panel::builder(&persons, &codes).batch_rows(batch);
                match first {
                    Some(k) => b.first_event_week(k),
                    None => b,
                }
            };
            let _ = builder().long_file(&path, &LongColumns::default());
            let wide = WideColumns { hours_prefix: Some("h_".into()), ..WideColumns::default() };
            let _ = builder().wide_file(&path, &wide);
        }

        /// Any text as a person table (read by polars, and on failure
        /// again by the csv crate to name the row): a table or an error
        /// whose message is short, never a panic.
        #[test]
        fn any_person_table_text_is_a_table_or_a_short_error(
            body in register_text(),
            header in prop::sample::select(vec!["", "person_id,arm,referral_week\n", "person_id,arm,arm\n"]),
            rows in prop::sample::select(vec!["", "A,treatment,2016-W10\n7,control,201611\n"]),
        ) {
            let (_, _, dir) = setup("persons");
            let path = dir.join("persons-any.csv");
            let mut text = format!("{header}{rows}").into_bytes();
            text.extend(body);
            std::fs::write(&path, &text).unwrap();
            if let Err(e) = Persons::read(&path, &Default::default()) {
                prop_assert!(e.to_string().len() < 1000, "{e}");
            }
        }
    }
}

/// Weeks without any register row: at the end (an extract week past the
/// data), in the middle (a week missing from the export) and a stray row
/// years away from the rest.
#[test]
fn weeks_without_rows_are_reported_as_runs() {
    use trialpanel::Week;
    let (persons, codes) = tiny_inputs(&["a", "b"], &["treatment", "control"]);
    let w = |s: &str| Week::parse(s).unwrap();
    let try_load = |weeks: &[&str], until: Option<&str>| {
        let n = weeks.len();
        let register = df!(
            "person_id" => vec!["a"; n],
            "week" => weeks.to_vec(),
            "code" => vec!["111"; n],
            "hours" => vec![0.0; n]
        )
        .unwrap();
        let mut b = Panel::builder(&persons, &codes);
        if let Some(u) = until {
            b = b.observed_until(w(u));
        }
        b.long_frame(register, "register", &LongColumns::default())
    };
    let load = |weeks: &[&str], until: Option<&str>| try_load(weeks, until).unwrap();
    let full = load(&["2016-W10", "2016-W11", "2016-W12"], None);
    assert!(full.load_report().weeks_without_rows.is_empty());
    // (b has no rows at all: only the warning about the arms.)
    let weeks_warning = |p: &Panel| {
        p.load_warnings()
            .into_iter()
            .find(|w| w.contains("of the observed weeks"))
    };
    assert_eq!(weeks_warning(&full), None);

    let late = load(&["2016-W10", "2016-W11", "2016-W12"], Some("2016-W15"));
    assert_eq!(
        late.load_report().weeks_without_rows,
        vec![(w("2016-W13"), w("2016-W15"))]
    );
    let warning = &weeks_warning(&late).unwrap();
    assert!(warning.contains("3 of the observed weeks"), "{warning}");
    assert!(
        warning.contains("set `observed_until` to 2016-W12"),
        "{warning}"
    );

    let hole = load(&["2016-W10", "2016-W12"], None);
    assert_eq!(
        hole.load_report().weeks_without_rows,
        vec![(w("2016-W11"), w("2016-W11"))]
    );
    assert!(
        weeks_warning(&hole)
            .unwrap()
            .contains("check that the export holds every week")
    );

    // A stray row years after the rest, with the extract week not set: the
    // observed weeks it would stretch are refused, naming the setting.
    match try_load(&["2016-W10", "2016-W11", "2030-W01"], None) {
        Err(Error::InvalidSetting { name, reason }) => {
            assert_eq!(name, "observed_until");
            assert!(
                reason.contains("rows stop at 2016-W11")
                    && reason.contains("only 1 week(s) with rows lie beyond a gap"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    // The same before the rest, with observed_from not set.
    match try_load(&["1999-W10", "2016-W10", "2016-W11"], None) {
        Err(Error::InvalidSetting { name, .. }) => assert_eq!(name, "observed_from"),
        other => panic!("{other:?}"),
    }
    // Set explicitly, the weeks are kept, and their emptiness is said.
    let stray = load(&["2016-W10", "2016-W11", "2030-W01"], Some("2030-W01"));
    let runs = &stray.load_report().weeks_without_rows;
    assert_eq!(runs, &vec![(w("2016-W12"), w("2029-W52"))]);
}

/// The grid is one person-major tile when the window is known and two
/// panels fit the memory budget, else tiles of a few weeks: both give the
/// same panel.
#[test]
fn a_tight_memory_budget_gives_the_same_panel() {
    let dir = trial();
    let (persons, codes) = inputs(dir);
    let until = trialpanel::Week::parse("2017-W02").unwrap();
    let build = || {
        Panel::builder(&persons, &codes)
            .observed_until(until)
            .event_weeks(-30, 40)
    };
    let register = dir.join("register_long.parquet");
    let whole = build()
        .long_file(&register, &LongColumns::default())
        .unwrap();
    let tight = build()
        .memory_budget(whole.core_bytes() as u64 + 1)
        .long_file(&register, &LongColumns::default())
        .unwrap();
    assert!(tight == whole, "panels differ");
}

/// A register with rows for one arm only: the persons without any data are
/// counted per arm and said.
#[test]
fn an_arm_without_register_data_is_said() {
    let (persons, codes) = tiny_inputs(
        &["a", "b", "c", "d"],
        &["treatment", "control", "treatment", "control"],
    );
    let register = df!(
        "person_id" => ["a", "a", "c"],
        "week" => ["2016-W10", "2016-W11", "2016-W11"],
        "code" => ["111", "111", "111"],
        "hours" => [0.0, 0.0, 0.0]
    )
    .unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_frame(register, "register", &LongColumns::default())
        .unwrap();
    let report = panel.load_report();
    assert_eq!(
        (report.persons, report.persons_without_data),
        ([2, 2], [2, 0])
    );
    let warnings = panel.load_warnings();
    assert!(
        warnings.iter().any(|w| w.contains(
            "0 of 2 treatment persons (0.0%) and 2 of 2 control persons (100.0%) have no register data"
        )),
        "{warnings:?}"
    );
}

/// The panel's persons, reordered into panel order, still find every id
/// at its panel position (the id index is renumbered, not rebuilt).
#[test]
fn panel_persons_find_their_ids_at_their_positions() {
    let dir = trial();
    let (persons, codes) = inputs(dir);
    let panel = Panel::builder(&persons, &codes)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())
        .unwrap();
    let reordered = panel.persons();
    for (p, id) in reordered.ids().iter().enumerate() {
        assert_eq!(reordered.position(id), Some(p), "{id}");
        let row = persons.position(id).unwrap();
        assert_eq!(persons.ids()[row], *id);
    }
    assert_eq!(reordered.position("no such person"), None);
}
