//! The bad-input catalogue (issue 8): every folder under tests/data/bad
//! gives its exact error (tests/data/bad/README.md lists them).

use std::path::{Path, PathBuf};

use trialpanel::{CodeTable, Error, LongColumns, Panel, PersonSpec, Persons, WideColumns};

fn bad(case: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/bad")
        .join(case)
}

/// The case's own file, or the base trial's.
fn file(case: &str, name: &str) -> PathBuf {
    let own = bad(case).join(name);
    if own.exists() {
        own
    } else {
        bad("_base").join(name)
    }
}

/// Load a case: person table, code table, then the register (wide when the
/// case has `register_wide.csv`).
fn load(case: &str) -> Result<Panel, Error> {
    let spec = PersonSpec::default();
    let spec = if case == "bom_crlf_quoted" {
        spec.block_column("municipality")
    } else if case.starts_with("cluster_") {
        spec.block_column("municipality")
            .cluster_column("caseworker")
    } else {
        spec
    };
    let persons = Persons::read(file(case, "persons.csv"), &spec)?;
    let codes = CodeTable::read(file(case, "codes.csv"))?;
    let wide = bad(case).join("register_wide.csv");
    if wide.exists() {
        Panel::builder(&persons, &codes).wide_file(wide, &WideColumns::default())
    } else {
        Panel::builder(&persons, &codes)
            .long_file(file(case, "register.csv"), &LongColumns::default())
    }
}

fn error(case: &str) -> Error {
    match load(case) {
        Err(e) => e,
        Ok(_) => panic!("{case}: loaded without an error"),
    }
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn the_base_trial_loads() {
    let panel = load("_base").unwrap();
    assert_eq!(panel.n_persons(), 4);
}

#[test]
fn empty_files_and_header_only() {
    assert!(
        matches!(error("empty_file"), Error::Empty { file } if file_name(&file) == "persons.csv")
    );
    assert!(
        matches!(error("header_only"), Error::Empty { file } if file_name(&file) == "register.csv")
    );
}

#[test]
fn missing_and_misspelled_columns() {
    match error("missing_column") {
        Error::MissingColumn { column, found, .. } => {
            assert_eq!(column, "referral_week");
            assert!(found.contains("person_id") && found.contains("arm"));
        }
        e => panic!("{e:?}"),
    }
    match error("misspelled_column") {
        Error::MissingColumn { column, found, .. } => {
            assert_eq!(column, "week");
            assert!(found.contains("wek"), "{found}");
        }
        e => panic!("{e:?}"),
    }
    match error("wide_missing_week") {
        Error::MissingColumn { column, .. } => assert_eq!(column, "y_1611"),
        e => panic!("{e:?}"),
    }
}

#[test]
fn wrong_types_and_bad_hours_name_row_column_and_value() {
    for (case, row, value) in [
        ("wrong_type", 3, "five"),
        ("negative_hours", 7, "-2.5"),
        ("nan_hours", 7, "NaN"),
        ("infinite_hours", 7, "inf"),
    ] {
        match error(case) {
            Error::InvalidValue {
                file,
                row: r,
                column,
                value: v,
                ..
            } => {
                assert_eq!(file_name(&file), "register.csv", "{case}");
                assert_eq!((r, column.as_str()), (row, "hours"), "{case}");
                assert!(v.eq_ignore_ascii_case(value), "{case}: {v}");
            }
            e => panic!("{case}: {e:?}"),
        }
    }
    match error("week_53") {
        Error::InvalidValue {
            row, column, value, ..
        } => assert_eq!(
            (row, column.as_str(), value.as_str()),
            (8, "week", "2016-W53")
        ),
        e => panic!("{e:?}"),
    }
}

#[test]
fn non_utf8_names_the_cell_and_bom_crlf_quotes_read_fine() {
    match error("non_utf8") {
        Error::InvalidValue {
            file,
            row,
            column,
            problem,
            ..
        } => {
            assert_eq!(file_name(&file), "register.csv");
            assert_eq!((row, column.as_str()), (5, "code"));
            assert!(problem.contains("not UTF-8"), "{problem}");
        }
        e => panic!("{e:?}"),
    }
    let panel = load("bom_crlf_quoted").unwrap();
    let base = load("_base").unwrap();
    assert_eq!(panel.at_risk_all(), base.at_risk_all());
    assert_eq!(
        panel.persons().blocks().labels,
        vec!["B".to_string(), "Kommune, A".to_string()]
    );
}

#[test]
fn duplicates() {
    match error("duplicate_person") {
        Error::DuplicatePerson {
            row, first_row, id, ..
        } => assert_eq!((row, first_row, id.as_str()), (5, 3, "C")),
        e => panic!("{e:?}"),
    }
    match error("duplicate_person_week") {
        Error::DuplicatePersonWeek { row, id, .. } => assert_eq!((row, id.as_str()), (8, "A")),
        e => panic!("{e:?}"),
    }
    match error("duplicate_code") {
        Error::DuplicateCode {
            row,
            first_row,
            code,
            ..
        } => assert_eq!((row, first_row, code.as_str()), (3, 1, "111")),
        e => panic!("{e:?}"),
    }
}

#[test]
fn persons_arms_referrals_and_codes() {
    match error("unknown_person") {
        Error::UnknownPersons {
            rows,
            persons,
            first_id,
            ..
        } => assert_eq!((rows, persons, first_id.as_str()), (2, 1, "Z")),
        e => panic!("{e:?}"),
    }
    match error("unknown_arm") {
        Error::UnknownArm { row, value, .. } => assert_eq!((row, value.as_str()), (5, "placebo")),
        e => panic!("{e:?}"),
    }
    assert!(matches!(
        error("empty_arm"),
        Error::EmptyArm { arm: "control", .. }
    ));
    match error("referral_after_register") {
        Error::ReferralOutsideRegister { row, id, .. } => assert_eq!((row, id.as_str()), (5, "E")),
        e => panic!("{e:?}"),
    }
    match error("unmapped_code") {
        Error::UnmappedCodes { codes, .. } => assert_eq!(codes, vec![("999".to_string(), 1)]),
        e => panic!("{e:?}"),
    }
}

/// Parquet column types (`parquet_types/`, made by its `make.py`): unused
/// columns of any type never block reading; a used column trialpanel cannot
/// decode is named with its type; boolean hours are refused; an unsigned
/// value past the integer range is out of range at its row, never read as 0.
#[test]
fn parquet_column_types_are_read_or_named() {
    let dir = bad("parquet_types");
    let persons = Persons::read(file("_base", "persons.csv"), &PersonSpec::default()).unwrap();
    let codes = CodeTable::read(file("_base", "codes.csv")).unwrap();
    let long = |name: &str| {
        Panel::builder(&persons, &codes).long_file(dir.join(name), &LongColumns::default())
    };
    let base = load("_base").unwrap();
    let unused = long("register_unused_types.parquet").unwrap();
    for k in base.event_weeks() {
        assert_eq!(unused.categories(k), base.categories(k), "week {k}");
        assert_eq!(unused.centihours(k), base.centihours(k), "week {k}");
    }
    match long("register_decimal_hours.parquet").unwrap_err() {
        Error::ColumnType { column, dtype, .. } => {
            assert_eq!(column, "hours");
            assert!(dtype.starts_with("decimal(10, 2)"), "{dtype}");
        }
        e => panic!("{e:?}"),
    }
    match long("register_bool_hours.parquet").unwrap_err() {
        Error::ColumnType { column, dtype, .. } => {
            assert_eq!(column, "hours");
            assert!(dtype.contains("boolean"), "{dtype}");
        }
        e => panic!("{e:?}"),
    }
    match long("register_u64_hours.parquet").unwrap_err() {
        Error::InvalidValue {
            row, column, value, ..
        } => assert_eq!(
            (row, column.as_str(), value.as_str()),
            (2, "hours", "18446744073709551615")
        ),
        e => panic!("{e:?}"),
    }
    // A date column in the person table: read when not used, named when
    // it would be a covariate.
    let listed = PersonSpec::default().covariate_columns(&[]);
    let p = Persons::read(dir.join("persons_date.parquet"), &listed).unwrap();
    assert_eq!(p.len(), 4);
    match Persons::read(dir.join("persons_date.parquet"), &PersonSpec::default()).unwrap_err() {
        Error::ColumnType { column, dtype, .. } => {
            assert_eq!(column, "birth");
            assert!(dtype.starts_with("date"), "{dtype}");
        }
        e => panic!("{e:?}"),
    }
}

/// CSV person tables that real exports produce: each error names the row
/// (and column) and quotes at most a short excerpt, never the file.
#[test]
fn malformed_csv_tables_name_the_row() {
    let message = |case: &str| match error(case) {
        e @ (Error::Parse { .. } | Error::InvalidValue { .. }) => e.to_string(),
        e => panic!("{case}: {e:?}"),
    };
    let quote = message("persons_unclosed_quote");
    assert!(
        quote.contains("row 3, column 1: a field runs over a line end (an unclosed quote?)"),
        "{quote}"
    );
    let ragged = message("persons_ragged_row");
    assert!(
        ragged.contains("row 3 has 4 fields where the header has 3"),
        "{ragged}"
    );
    assert!(message("persons_cr_line_ends").contains("lone carriage return"));
    match error("persons_latin1") {
        Error::InvalidValue { row, column, .. } => {
            assert_eq!((row, column.as_str()), (3, "person_id"))
        }
        e => panic!("{e:?}"),
    }
    assert!(message("persons_utf16").contains("UTF-16"));
}

/// A 2 MB cell is quoted as a 60-character excerpt with its length.
#[test]
fn error_messages_quote_only_an_excerpt() {
    let dir = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("catalogue-huge-cell");
    std::fs::create_dir_all(&dir).unwrap();
    let persons = dir.join("persons.csv");
    let huge = "x".repeat(2_000_000);
    std::fs::write(
        &persons,
        format!("person_id,arm,referral_week\nA,treatment,2016-W10\nB,{huge},2016-W10\n"),
    )
    .unwrap();
    let e = Persons::read(&persons, &PersonSpec::default()).unwrap_err();
    let text = e.to_string();
    assert!(matches!(e, Error::UnknownArm { row: 2, .. }), "{e:?}");
    assert!(text.len() < 400, "{} bytes", text.len());
    assert!(text.contains("(2000000 bytes in all)"), "{text}");
}

#[test]
fn a_cluster_across_arms_or_blocks_names_the_cluster_and_both_rows() {
    match error("cluster_spans_arms") {
        Error::ClusterSpans {
            file,
            row,
            column,
            cluster,
            across_arms,
            seen,
            ..
        } => {
            assert_eq!(file_name(&file), "persons.csv");
            assert_eq!(row, 4);
            assert_eq!(seen, "arm `treatment` in row 1, arm `control` in row 4");
            assert_eq!(
                (column.as_str(), cluster.as_str(), across_arms),
                ("caseworker", "cw1", true)
            );
        }
        e => panic!("{e:?}"),
    }
    let e = error("cluster_spans_blocks");
    assert!(
        matches!(&e, Error::ClusterSpans { row: 3, across_arms: false, cluster, .. } if cluster == "cw1"),
        "{e:?}"
    );
    assert!(
        e.to_string().contains("block `K1`") && e.to_string().contains("block `K2`"),
        "{e}"
    );
}

/// The event log of a case, read against the base person table.
fn event_error(case: &str) -> Error {
    use trialpanel::inputs::{EventLog, EventSpec};
    let persons = Persons::read(file(case, "persons.csv"), &PersonSpec::default()).unwrap();
    match EventLog::read(file(case, "events.csv"), &persons, &EventSpec::default()) {
        Err(e) => e,
        Ok(_) => panic!("{case}: read without an error"),
    }
}

#[test]
fn bad_event_logs_name_row_column_and_value() {
    match event_error("events_unknown_person") {
        Error::InvalidValue {
            file,
            row,
            column,
            value,
            problem,
        } => {
            assert_eq!((file_name(&file).as_str(), row), ("events.csv", 3));
            assert_eq!((column.as_str(), value.as_str()), ("person_id", "a"));
            assert!(problem.contains("not in the person table"), "{problem}");
            assert!(problem.contains("the person table has `A`"), "{problem}");
        }
        e => panic!("{e:?}"),
    }
    match event_error("events_bad_date") {
        Error::InvalidValue {
            row, column, value, ..
        } => assert_eq!(
            (row, column.as_str(), value.as_str()),
            (1, "date", "2016-02-30")
        ),
        e => panic!("{e:?}"),
    }
    match event_error("events_missing_type") {
        Error::MissingValue { row, column, .. } => assert_eq!((row, column.as_str()), (4, "event")),
        e => panic!("{e:?}"),
    }
}

/// The survey of a case, with its invited table when it has one.
fn survey_error(case: &str) -> Error {
    use trialpanel::inputs::{Survey, SurveySpec};
    let spec = SurveySpec {
        scale: ["low", "middle", "high", "very high"]
            .map(String::from)
            .to_vec(),
        elements: [(
            "talks".to_string(),
            vec!["q1".to_string(), "q2".to_string()],
        )]
        .into(),
        ..SurveySpec::default()
    };
    let read = Survey::read(bad(case).join("survey.csv"), &spec).and_then(|s| {
        let invited = bad(case).join("invited.csv");
        if invited.exists() {
            s.with_invited(invited)
        } else {
            Ok(s)
        }
    });
    match read {
        Err(e) => e,
        Ok(_) => panic!("{case}: read without an error"),
    }
}

#[test]
fn bad_surveys_name_row_column_and_value() {
    let cases = [
        (
            "survey_off_scale",
            2,
            "answer",
            "Very High",
            "not on the answer scale",
        ),
        ("survey_bad_wave", 2, "wave", "one", "not a whole number"),
        (
            "survey_duplicate_answer",
            3,
            "item",
            "q1",
            "already answered this item in wave 1 (row 1)",
        ),
        (
            "survey_two_sites",
            2,
            "site",
            "B",
            "another site in wave 1 (row 1)",
        ),
        (
            "survey_invited_too_few",
            1,
            "invited",
            "2",
            "fewer than the 3 respondents",
        ),
    ];
    for (case, want_row, want_column, want_value, want_problem) in cases {
        match survey_error(case) {
            Error::InvalidValue {
                row,
                column,
                value,
                problem,
                ..
            } => {
                assert_eq!(
                    (row, column.as_str(), value.as_str()),
                    (want_row, want_column, want_value),
                    "{case}"
                );
                assert!(problem.contains(want_problem), "{case}: {problem}");
            }
            e => panic!("{case}: {e:?}"),
        }
    }
}

#[test]
fn bad_unit_costs_name_row_and_value() {
    for (case, want_row, want_value, want_problem) in [
        (
            "cost_per_week_disagrees",
            3,
            "4200",
            "category `benefit` costs 4300 per week in row 1",
        ),
        (
            "cost_per_week_negative",
            2,
            "-5",
            "not a number from 0 to 1e9",
        ),
    ] {
        match error(case) {
            Error::InvalidValue {
                file,
                row,
                column,
                value,
                problem,
            } => {
                assert_eq!(file_name(&file), "codes.csv");
                assert_eq!(
                    (row, column.as_str(), value.as_str()),
                    (want_row, "cost_per_week", want_value)
                );
                assert!(problem.contains(want_problem), "{case}: {problem}");
            }
            e => panic!("{case}: {e:?}"),
        }
    }
}
