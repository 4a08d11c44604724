//! Every malformed input of the foundation gives its typed error naming the
//! file, the row/column and the offending value.

use std::path::{Path, PathBuf};

use trialpanel::{CodeTable, Error, LongColumns, Panel, PersonSpec, Persons, WideColumns};

/// A fresh folder for one test's files.
fn dir(test: &str) -> PathBuf {
    let d = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("errors")
        .join(test);
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p
}

const PERSONS: &str =
    "person_id,arm,referral_week\n1,treatment,2016-W10\n2,control,2016-W10\n3,control,2016-W11\n";
const CODES: &str = "code,category\n111,benefit\n651,work_placement\n";

/// Load persons, codes and a long register given as text.
fn load_long(test: &str, persons: &str, codes: &str, register: &str) -> Result<Panel, Error> {
    let d = dir(test);
    let persons = Persons::read(write(&d, "persons.csv", persons), &PersonSpec::default())?;
    let codes = CodeTable::read(write(&d, "codes.csv", codes))?;
    Panel::builder(&persons, &codes)
        .long_file(write(&d, "register.csv", register), &LongColumns::default())
}

fn file_name(p: &Path) -> String {
    p.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn missing_column_lists_what_is_there() {
    let err = load_long(
        "missing_column",
        PERSONS,
        CODES,
        "person_id,wk,code,hours\n1,2016-W10,111,0\n",
    )
    .unwrap_err();
    match &err {
        Error::MissingColumn {
            file,
            column,
            found,
        } => {
            assert_eq!(file_name(file), "register.csv");
            assert_eq!(column, "week");
            assert_eq!(found, "person_id, wk, code, hours");
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("missing column `week`"));

    // A misspelled hours column is an error too, not silently zero hours.
    let err = load_long(
        "missing_hours",
        PERSONS,
        CODES,
        "person_id,week,code,Hours\n1,2016-W10,111,0\n",
    )
    .unwrap_err();
    assert!(matches!(err, Error::MissingColumn { ref column, .. } if column == "hours"));
}

#[test]
fn bad_week_names_row_column_and_value() {
    let err = load_long(
        "bad_week",
        PERSONS,
        CODES,
        "person_id,week,code,hours\n1,2016-W10,111,0\n2,2016-W60,111,0\n",
    )
    .unwrap_err();
    match err {
        Error::InvalidValue {
            row,
            column,
            value,
            problem,
            ..
        } => {
            assert_eq!(
                (row, column.as_str(), value.as_str()),
                (2, "week", "2016-W60")
            );
            assert!(problem.contains("invalid week"), "{problem}");
        }
        other => panic!("{other:?}"),
    }
    // Week 53 in a 52-week year, in the person table.
    let d = dir("bad_referral");
    let err = Persons::read(
        write(
            &d,
            "p.csv",
            "person_id,arm,referral_week\n1,treatment,2016-W53\n2,control,2016-W10\n",
        ),
        &PersonSpec::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { row: 1, ref column, ref value, .. } if column == "referral_week" && value == "2016-W53"),
        "{err:?}"
    );
}

#[test]
fn unknown_arm_label() {
    let d = dir("unknown_arm");
    let err = Persons::read(
        write(
            &d,
            "p.csv",
            "person_id,arm,referral_week\n1,treatment,2016-W10\n2,Control,2016-W10\n",
        ),
        &PersonSpec::default(),
    )
    .unwrap_err();
    match err {
        Error::UnknownArm {
            row, value, column, ..
        } => {
            assert_eq!(
                (row, value.as_str(), column.as_str()),
                (2, "Control", "arm")
            );
        }
        other => panic!("{other:?}"),
    }
    // Configured labels are accepted.
    let p = Persons::read(
        write(
            &d,
            "q.csv",
            "person_id,group,referral_week\n1,T,2016-W10\n2,C,2016-W10\n",
        ),
        &PersonSpec::default()
            .arm_column("group")
            .arm_labels("T", "C"),
    )
    .unwrap();
    assert_eq!(p.len(), 2);
}

#[test]
fn empty_arm() {
    let d = dir("empty_arm");
    let err = Persons::read(
        write(
            &d,
            "p.csv",
            "person_id,arm,referral_week\n1,control,2016-W10\n2,control,2016-W10\n",
        ),
        &PersonSpec::default(),
    )
    .unwrap_err();
    assert!(
        matches!(
            err,
            Error::EmptyArm {
                arm: "treatment",
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn duplicate_person() {
    let d = dir("dup_person");
    let err = Persons::read(
        write(&d, "p.csv", "person_id,arm,referral_week\n1,treatment,2016-W10\n2,control,2016-W10\n1,control,2016-W11\n"),
        &PersonSpec::default(),
    )
    .unwrap_err();
    assert!(
        matches!(err, Error::DuplicatePerson { row: 3, first_row: 1, ref id, .. } if id == "1"),
        "{err:?}"
    );
}

#[test]
fn duplicate_person_week_even_with_another_spelling() {
    let err = load_long(
        "dup_person_week",
        PERSONS,
        CODES,
        "person_id,week,code,hours\n3,2016-W11,,0\n1,2016-W10,111,0\n1,201610,651,2\n",
    )
    .unwrap_err();
    match err {
        Error::DuplicatePersonWeek { row, id, week, .. } => {
            assert_eq!((row, id.as_str(), week.as_str()), (3, "1", "2016-W10"));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_hours() {
    for (test, value, fragment) in [
        ("hours_negative", "-1", "between 0 and 168"),
        ("hours_too_many", "169", "between 0 and 168"),
        ("hours_nan", "NaN", "finite"),
        ("hours_inf", "inf", "finite"),
        ("hours_text", "seven", "not a number"),
    ] {
        let err = load_long(
            test,
            PERSONS,
            CODES,
            &format!("person_id,week,code,hours\n1,2016-W11,111,0\n2,2016-W10,111,{value}\n"),
        )
        .unwrap_err();
        match err {
            Error::InvalidValue {
                row,
                column,
                value: v,
                problem,
                ..
            } => {
                assert_eq!(
                    (row, column.as_str(), v.as_str()),
                    (2, "hours", value),
                    "{test}"
                );
                assert!(problem.contains(fragment), "{test}: {problem}");
            }
            other => panic!("{test}: {other:?}"),
        }
    }
}

#[test]
fn referral_outside_register() {
    let err = load_long(
        "referral_outside",
        "person_id,arm,referral_week\n1,treatment,2016-W10\n2,control,2016-W30\n",
        CODES,
        "person_id,week,code,hours\n1,2016-W10,111,0\n2,2016-W12,111,0\n",
    )
    .unwrap_err();
    match err {
        Error::ReferralOutsideRegister {
            row,
            id,
            referral,
            from,
            until,
            ..
        } => {
            assert_eq!(row, 2);
            assert_eq!(id, "2");
            assert_eq!(referral.to_string(), "2016-W30");
            assert_eq!(
                (from.to_string(), until.to_string()),
                ("2016-W10".into(), "2016-W12".into())
            );
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn unmapped_codes_are_all_listed_with_counts_unless_a_fallback_is_set() {
    let register = "person_id,week,code,hours\n1,2016-W10,999,0\n2,2016-W10,888,0\n3,2016-W11,999,0\n1,2016-W11,111,0\n";
    let err = load_long("unmapped", PERSONS, CODES, register).unwrap_err();
    match &err {
        Error::UnmappedCodes { codes, .. } => {
            assert_eq!(codes, &[("999".to_string(), 2), ("888".to_string(), 1)]);
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("`999` (2 rows)"));

    let d = dir("fallback");
    let persons = Persons::read(write(&d, "p.csv", PERSONS), &PersonSpec::default()).unwrap();
    let codes = CodeTable::read(write(&d, "c.csv", CODES))
        .unwrap()
        .with_fallback("other")
        .unwrap();
    let panel = Panel::builder(&persons, &codes)
        .long_file(write(&d, "r.csv", register), &LongColumns::default())
        .unwrap();
    let p = panel.persons().position("1").unwrap();
    assert_eq!(
        panel.codes().name(panel.category_at(p, 0).unwrap()),
        "other"
    );
    assert_eq!(
        panel.codes().name(panel.category_at(p, 1).unwrap()),
        "benefit"
    );
}

#[test]
fn unknown_persons_fail_by_default_and_are_counted_when_ignored() {
    let register =
        "person_id,week,code,hours\n1,2016-W10,111,0\n77,2016-W10,111,0\n77,2016-W11,111,0\n";
    let err = load_long("unknown_persons", PERSONS, CODES, register).unwrap_err();
    assert!(
        matches!(err, Error::UnknownPersons { rows: 2, persons: 1, first_row: 2, ref first_id, .. } if first_id == "77"),
        "{err:?}"
    );
    let d = dir("unknown_ignored");
    let persons = Persons::read(write(&d, "p.csv", PERSONS), &PersonSpec::default()).unwrap();
    let codes = CodeTable::read(write(&d, "c.csv", CODES)).unwrap();
    let register = write(&d, "r.csv", register);
    // Two of three rows are more than the default 5% that may be skipped:
    // the files' ids most likely do not match.
    let err = Panel::builder(&persons, &codes)
        .ignore_unknown_persons(true)
        .long_file(&register, &LongColumns::default())
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TooManyUnknownPersons {
                rows: 2,
                total: 3,
                persons: 1,
                first_row: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("(66.7%)") && err.to_string().contains("leading zeros"),
        "{err}"
    );
    let panel = Panel::builder(&persons, &codes)
        .ignore_unknown_persons(true)
        .max_unknown_share(1.0)
        .long_file(&register, &LongColumns::default())
        .unwrap();
    assert_eq!(panel.load_report().unknown_person_rows, 2);
    assert!(
        panel.load_warnings()[0].contains("2 of 3 register rows (66.67%)"),
        "{:?}",
        panel.load_warnings()
    );
    let bad_share = Panel::builder(&persons, &codes)
        .ignore_unknown_persons(true)
        .max_unknown_share(1.5)
        .long_file(&register, &LongColumns::default())
        .unwrap_err();
    assert!(
        matches!(bad_share, Error::InvalidSetting { ref name, .. } if name == "max_unknown_share"),
        "{bad_share:?}"
    );
}

/// Ids that lost their leading zeros in one file (text `000001` in the
/// person table, integer 1 in the register) match nobody: with
/// `ignore_unknown_persons` every row would be dropped and every effect
/// would be 0, so the load is refused instead.
#[test]
fn ids_written_differently_in_the_two_files_are_refused() {
    let d = dir("leading_zeros");
    let persons =
        "person_id,arm,referral_week\n000001,treatment,2016-W10\n000002,control,2016-W10\n";
    let register = "person_id,week,code,hours\n1,2016-W10,111,0\n2,2016-W10,111,0\n";
    let persons = Persons::read(write(&d, "p.csv", persons), &PersonSpec::default()).unwrap();
    let codes = CodeTable::read(write(&d, "c.csv", CODES)).unwrap();
    let err = Panel::builder(&persons, &codes)
        .ignore_unknown_persons(true)
        .long_file(write(&d, "r.csv", register), &LongColumns::default())
        .unwrap_err();
    assert!(
        matches!(err, Error::TooManyUnknownPersons { rows: 2, total: 2, ref first_id, .. } if first_id == "1"),
        "{err:?}"
    );
    // The near match is named.
    assert!(
        err.to_string()
            .contains("`1` is person `000001` of the person table written differently"),
        "{err}"
    );
    // Letter case too, and without ignore_unknown_persons.
    let persons = "person_id,arm,referral_week\nAB1,treatment,2016-W10\nAB2,control,2016-W10\n";
    let register = "person_id,week,code,hours\nab1,2016-W10,111,0\n";
    let err = load_long("letter_case", persons, CODES, register).unwrap_err();
    assert!(
        matches!(err, Error::UnknownPersons { ref hint, .. } if hint.contains("`ab1` is person `AB1`")),
        "{err:?}"
    );
}

#[test]
fn code_table_errors() {
    let d = dir("code_table");
    let err = CodeTable::read(write(
        &d,
        "c.csv",
        "code,category\n111,benefit\n651,work_placement\n111,other\n",
    ))
    .unwrap_err();
    assert!(
        matches!(err, Error::DuplicateCode { row: 3, first_row: 1, ref code, .. } if code == "111"),
        "{err:?}"
    );
    let err = CodeTable::read(write(&d, "b.csv", "code,category\n111,\n")).unwrap_err();
    assert!(matches!(err, Error::MissingValue { row: 1, ref column, .. } if column == "category"));
}

#[test]
fn empty_header_only_and_unsupported_files() {
    let d = dir("empty");
    let err = Persons::read(write(&d, "empty.csv", ""), &PersonSpec::default()).unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err:?}");
    let err = Persons::read(
        write(&d, "header.csv", "person_id,arm,referral_week\n"),
        &PersonSpec::default(),
    )
    .unwrap_err();
    assert!(matches!(err, Error::Empty { .. }), "{err:?}");
    let err = Persons::read(write(&d, "p.xlsx", "x"), &PersonSpec::default()).unwrap_err();
    assert!(matches!(err, Error::UnsupportedFormat { .. }), "{err:?}");
    let err = Persons::read(d.join("absent.csv"), &PersonSpec::default()).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn wide_register_errors() {
    let d = dir("wide");
    let persons = Persons::read(write(&d, "p.csv", PERSONS), &PersonSpec::default()).unwrap();
    let codes = CodeTable::read(write(&d, "c.csv", CODES)).unwrap();
    let build = |name: &str, text: &str| {
        Panel::builder(&persons, &codes).wide_file(write(&d, name, text), &WideColumns::default())
    };
    // A 1989 column read as 2089: the gap error says why.
    let err = build("y89.csv", "person_id,y_1610,y_1611,y_8901\n1,111,,\n").unwrap_err();
    assert!(
        matches!(err, Error::MissingColumn { ref found, .. } if found.contains("`y_8901` is week 1 of 2089")),
        "{err:?}"
    );
    // Hours columns with the code columns' prefix: every code read as hours.
    let same = WideColumns {
        hours_prefix: Some("y_".into()),
        ..WideColumns::default()
    };
    let err = Panel::builder(&persons, &codes)
        .wide_file(write(&d, "same.csv", "person_id,y_1610\n1,111\n"), &same)
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidSetting { ref name, .. } if name == "hours_prefix"),
        "{err:?}"
    );
    // A week column missing between the first and the last.
    let err = build("gap.csv", "person_id,y_1610,y_1612\n1,111,\n2,,\n3,,\n").unwrap_err();
    assert!(
        matches!(err, Error::MissingColumn { ref column, .. } if column == "y_1611"),
        "{err:?}"
    );
    // A column that has the prefix but is not a week.
    let err = build("badname.csv", "person_id,y_1610,y_16xx\n1,111,\n").unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { ref column, .. } if column == "y_16xx"),
        "{err:?}"
    );
    // The same person twice.
    let err = build("dup.csv", "person_id,y_1610,y_1611\n1,111,\n2,,\n1,,\n").unwrap_err();
    assert!(
        matches!(
            err,
            Error::DuplicatePerson {
                row: 3,
                first_row: 1,
                ..
            }
        ),
        "{err:?}"
    );
    // No week columns at all.
    let err = build("none.csv", "person_id,x\n1,2\n").unwrap_err();
    assert!(matches!(err, Error::MissingColumn { .. }), "{err:?}");
    // Bad hours in a wide hours column name the column.
    let err = Panel::builder(&persons, &codes)
        .wide_file(
            write(
                &d,
                "hours.csv",
                "person_id,y_1610,y_1611,h_1610,h_1611\n1,111,,0,-2\n2,,,0,0\n3,,,0,0\n",
            ),
            &WideColumns {
                hours_prefix: Some("h_".into()),
                ..WideColumns::default()
            },
        )
        .unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { row: 1, ref column, ref value, .. } if column == "h_1611" && value == "-2"),
        "{err:?}"
    );
}

#[test]
fn covariates_are_typed_and_missing_values_recognised() {
    use trialpanel::CovariateValues;
    let d = dir("covariates");
    let p = Persons::read(
        write(
            &d,
            "p.csv",
            "person_id,arm,referral_week,age,edu\n1,treatment,2016-W10,30,basic\n2,control,2016-W10,NA,\n3,control,2016-W10,.,higher\n",
        ),
        &PersonSpec::default(),
    )
    .unwrap();
    let cov = p.covariates();
    assert_eq!(cov.len(), 2);
    assert_eq!(
        cov[0].values,
        CovariateValues::Numeric(vec![Some(30.0), None, None])
    );
    assert_eq!(
        cov[1].values,
        CovariateValues::Categorical {
            levels: vec!["basic".into(), "higher".into()],
            values: vec![Some(0), None, Some(1)],
        }
    );
}

#[test]
fn bom_crlf_and_quoted_fields_are_read_and_non_utf8_names_the_cell() {
    let d = dir("quirks");
    let text = "\u{feff}person_id,arm,referral_week,note\r\n1,treatment,2016-W10,\"a, b\"\r\n2,control,2016-W10,c\r\n";
    let p = Persons::read(write(&d, "p.csv", text), &PersonSpec::default()).unwrap();
    assert_eq!(p.ids(), ["1", "2"]);
    assert_eq!(p.referral_weeks()[1].to_string(), "2016-W10");
    match &p.covariates()[0].values {
        trialpanel::CovariateValues::Categorical { levels, .. } => {
            assert_eq!(levels, &["a, b".to_string(), "c".to_string()]);
        }
        other => panic!("{other:?}"),
    }
    let path = d.join("latin1.csv");
    std::fs::write(
        &path,
        b"person_id,arm,referral_week,town\n1,treatment,2016-W10,K\xf8ge\n2,control,2016-W10,x\n",
    )
    .unwrap();
    // Named by row and column (it was a bare parse error before).
    let err = Persons::read(&path, &PersonSpec::default()).unwrap_err();
    assert!(
        matches!(err, Error::InvalidValue { row: 1, ref column, .. } if column == "town"),
        "{err:?}"
    );
}

/// Two columns with one name (a spreadsheet export, a bad join): the
/// error names both positions instead of a column that polars invented
/// (`arm_duplicated_0`).
#[test]
fn duplicate_column_names_are_named() {
    let persons = "person_id,arm,referral_week,arm\n1,treatment,2016-W10,x\n2,control,2016-W10,y\n";
    match load_long(
        "dup_person_columns",
        persons,
        CODES,
        "person_id,week,code,hours\n",
    )
    .unwrap_err()
    {
        Error::DuplicateColumn {
            column,
            first,
            second,
            ..
        } => assert_eq!((column.as_str(), first, second), ("arm", 2, 4)),
        e => panic!("{e:?}"),
    }
    let register = "person_id,week,code,week\n1,2016-W10,111,2016-W11\n";
    let err = load_long("dup_register_columns", PERSONS, CODES, register).unwrap_err();
    assert!(
        matches!(err, Error::DuplicateColumn { ref column, first: 2, second: 4, .. } if column == "week"),
        "{err:?}"
    );
    assert!(
        err.to_string()
            .contains("columns 2 and 4 are both named `week`"),
        "{err}"
    );
}

/// One Danish decimal comma (or `NaN`) in a column of numbers makes it a
/// categorical covariate: said, with the row and value, never silently.
#[test]
fn a_few_non_numbers_in_a_numeric_covariate_are_said() {
    let d = dir("decimal_comma");
    let mut csv = String::from("person_id,arm,referral_week,age\n");
    for i in 0..20 {
        let arm = if i % 2 == 0 { "treatment" } else { "control" };
        let age = if i == 6 {
            "\"41,5\"".to_string()
        } else {
            format!("{}", 30 + i)
        };
        csv.push_str(&format!("{i},{arm},2016-W10,{age}\n"));
    }
    let persons = Persons::read(write(&d, "p.csv", &csv), &PersonSpec::default()).unwrap();
    let w = persons.warnings();
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("covariate `age`")
            && w[0].contains("19 of its 20 values are numbers")
            && w[0].contains("row 7 holds `41,5`"),
        "{w:?}"
    );
    // A column that is categorical through and through says nothing.
    let mut text = String::from("person_id,arm,referral_week,group\n");
    for i in 0..20 {
        let arm = if i % 2 == 0 { "treatment" } else { "control" };
        text.push_str(&format!("{i},{arm},2016-W10,g{i}\n"));
    }
    let persons = Persons::read(write(&d, "q.csv", &text), &PersonSpec::default()).unwrap();
    assert!(persons.warnings().is_empty(), "{:?}", persons.warnings());
}

/// A table without line ends (a 70 MB single line) is refused after its
/// first 64 MiB, not parsed whole.
#[test]
fn a_file_without_line_ends_is_refused_early() {
    let d = dir("no_line_ends");
    let text = "person_id ".repeat(7_000_000);
    let err = Persons::read(write(&d, "p.csv", &text), &PersonSpec::default()).unwrap_err();
    assert!(
        matches!(err, Error::Parse { ref message, .. } if message.contains("no line end in the first 64 MiB")),
        "{err:?}"
    );
}

#[test]
fn every_error_has_a_kind_and_names_its_file_row_and_column() {
    use trialpanel::ErrorKind;
    let reg = "person_id,week,code,hours\n1,2016-W10,111,0\n";
    let cases: Vec<(&str, Error, ErrorKind)> = vec![
        (
            "bad_hours",
            load_long(
                "kind_value",
                PERSONS,
                CODES,
                "person_id,week,code,hours\n1,2016-W10,111,x\n",
            )
            .unwrap_err(),
            ErrorKind::Value,
        ),
        (
            "missing_column",
            load_long(
                "kind_format",
                PERSONS,
                CODES,
                "person_id,wk,code,hours\n1,2016-W10,111,0\n",
            )
            .unwrap_err(),
            ErrorKind::Format,
        ),
        (
            "duplicate_person",
            load_long(
                "kind_inconsistent",
                "person_id,arm,referral_week\n1,treatment,2016-W10\n1,control,2016-W10\n",
                CODES,
                reg,
            )
            .unwrap_err(),
            ErrorKind::Inconsistent,
        ),
        (
            "missing_file",
            Persons::read("/no/such/persons.csv", &PersonSpec::default()).unwrap_err(),
            ErrorKind::Io,
        ),
        (
            "level",
            trialpanel::stats::Level::new(2.0).unwrap_err(),
            ErrorKind::Setting,
        ),
        (
            "budget",
            {
                let d = dir("kind_limit");
                let persons =
                    Persons::read(write(&d, "persons.csv", PERSONS), &PersonSpec::default())
                        .unwrap();
                let codes = CodeTable::read(write(&d, "codes.csv", CODES)).unwrap();
                Panel::builder(&persons, &codes)
                    .memory_budget(1)
                    .event_weeks(0, 10)
                    .long_file(write(&d, "register.csv", reg), &LongColumns::default())
                    .unwrap_err()
            },
            ErrorKind::Limit,
        ),
    ];
    for (name, err, kind) in cases {
        assert_eq!(err.kind(), kind, "{name}: {err}");
    }
    // The accessors carry what a caller (or a Python exception) shows.
    let err = load_long(
        "kind_accessors",
        PERSONS,
        CODES,
        "person_id,week,code,hours\n1,2016-W10,111,0\n2,2016-W10,111,x\n",
    )
    .unwrap_err();
    assert_eq!(err.file().map(file_name).as_deref(), Some("register.csv"));
    assert_eq!((err.row(), err.column()), (Some(2), Some("hours")));
    let err = trialpanel::stats::Level::new(2.0).unwrap_err();
    assert_eq!((err.file(), err.row(), err.column()), (None, None, None));
}
