//! ISO 8601 week parsing and arithmetic, checked against Python's
//! `datetime.isocalendar()` (fixtures in tests/fixtures, provenance in
//! tests/fixtures/README.md) and hand-checked edge cases.

use trialpanel::{Error, Week, WeekError};

fn fixture(name: &str) -> Vec<Vec<String>> {
    let path = format!("{}/tests/fixtures/{name}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(path)
        .expect("fixture exists")
        .lines()
        .skip(1)
        .map(|l| l.split(',').map(str::to_string).collect())
        .collect()
}

#[test]
fn dates_map_to_the_iso_week_python_gives() {
    let rows = fixture("iso_weeks.csv");
    assert!(rows.len() > 3000);
    for r in rows {
        let (year, week): (i32, u32) = (r[1].parse().unwrap(), r[2].parse().unwrap());
        let from_date = Week::parse(&r[0]).unwrap();
        assert_eq!(from_date.iso(), (year, week), "date {}", r[0]);
        assert_eq!(
            Week::from_iso(year, week).unwrap(),
            from_date,
            "date {}",
            r[0]
        );
        let compact = r[0].replace('-', "");
        assert_eq!(Week::parse(&compact).unwrap(), from_date);
    }
}

#[test]
fn weeks_per_year_match_python() {
    for r in fixture("iso_weeks_per_year.csv") {
        let (year, weeks): (i32, u32) = (r[0].parse().unwrap(), r[1].parse().unwrap());
        assert_eq!(Week::weeks_in_year(year), Some(weeks), "year {year}");
        assert!(Week::from_iso(year, weeks).is_ok());
        assert!(Week::from_iso(year, weeks + 1).is_err());
    }
}

#[test]
fn week_53_only_in_long_years() {
    for year in [1998, 2004, 2009, 2015, 2020, 2026] {
        assert_eq!(
            Week::parse(&format!("{year}-W53")).unwrap().iso(),
            (year, 53)
        );
    }
    for year in [2016, 2017, 2018, 2019, 2021] {
        let WeekError { value, reason } = Week::parse(&format!("{year}-W53")).unwrap_err();
        assert_eq!(value, format!("{year}-W53"));
        assert!(reason.contains("weeks 1 to 52"), "{reason}");
        // Inside trialpanel's one error type it keeps both.
        match Error::from(WeekError { value, reason }) {
            Error::InvalidWeek { value, .. } => assert_eq!(value, format!("{year}-W53")),
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(Week::parse("2016-W00").is_err());
}

#[test]
fn year_boundaries() {
    // 1 January 2016 is a Friday: it belongs to 2015-W53.
    assert_eq!(Week::parse("2016-01-01").unwrap().to_string(), "2015-W53");
    // 31 December 2018 is a Monday: it belongs to 2019-W01.
    assert_eq!(Week::parse("2018-12-31").unwrap().to_string(), "2019-W01");
    assert_eq!(Week::parse("2010-01-03").unwrap().to_string(), "2009-W53");
    // Distances across year ends: 2016 has 52 weeks, 2015 has 53.
    let w = |s: &str| Week::parse(s).unwrap();
    assert_eq!(w("2017-W01").event_week(w("2016-W52")), 1);
    assert_eq!(w("2016-W01").event_week(w("2015-W53")), 1);
    assert_eq!(w("2016-W01").event_week(w("2015-W01")), 53);
    assert_eq!(w("2017-W01").event_week(w("2016-W01")), 52);
    assert_eq!(w("2016-W10").plus(44).to_string(), "2017-W02");
    // 2015 has 53 weeks, so 52 weeks before 2016-W10 is 2015-W11.
    assert_eq!(w("2016-W10").plus(-52).to_string(), "2015-W11");
    assert_eq!(w("2016-W10").plus(-53).to_string(), "2015-W10");
}

#[test]
fn all_spellings_agree() {
    let w = Week::parse("2016-W10").unwrap();
    for s in [
        "2016W10",
        "2016w10",
        "201610",
        "2016-W10-1",
        "2016-W10-7",
        "2016-03-07",
        "2016-03-13",
        "20160309",
        "y_1610",
        " 2016-W10 ",
    ] {
        assert_eq!(Week::parse(s).unwrap(), w, "{s}");
    }
    assert_eq!(w.to_string(), "2016-W10");
    assert_eq!(w.dream_column("y_"), "y_1610");
    assert_eq!("2016-W10".parse::<Week>().unwrap(), w);
}

#[test]
fn two_digit_dream_years() {
    let col = |s: &str| {
        Week::from_dream_column(s, "y_")
            .unwrap()
            .unwrap()
            .to_string()
    };
    assert_eq!(col("y_9001"), "1990-W01");
    assert_eq!(col("y_9952"), "1999-W52");
    assert_eq!(col("y_0001"), "2000-W01");
    assert_eq!(col("y_8901"), "2089-W01");
    assert_eq!(col("y_1553"), "2015-W53");
    assert!(Week::from_dream_column("y_1653", "y_").is_err());
    assert!(Week::from_dream_column("y_16a1", "y_").is_err());
    assert!(Week::from_dream_column("y_161", "y_").is_err());
    assert_eq!(Week::from_dream_column("person_id", "y_").unwrap(), None);
    assert_eq!(
        Week::from_dream_column("h_1610", "h_").unwrap(),
        Week::parse("2016-W10").ok()
    );
}

#[test]
fn bad_spellings_are_errors_that_quote_the_input() {
    for s in [
        "",
        "2016",
        "2016-W1",
        "2016-W100",
        "16-W10",
        "2016-13-01",
        "2016-02-30",
        "2015-02-29",
        "20161",
        "abc",
        "2016-W10-8",
        "y_16",
        "1899-W10",
        "2016-3-7",
    ] {
        match Week::parse(s) {
            Err(WeekError { value, .. }) => assert_eq!(value, s),
            other => panic!("{s:?} gave {other:?}"),
        }
    }
    // 29 February exists in leap years only.
    assert_eq!(Week::parse("2016-02-29").unwrap().to_string(), "2016-W09");
}

#[test]
fn serde_uses_the_iso_spelling() {
    #[derive(serde::Serialize, serde::Deserialize)]
    struct S {
        w: Week,
    }
    let s: S = serde_json_like("2016-W10");
    assert_eq!(s.w.to_string(), "2016-W10");

    // A tiny deserializer round trip through serde's value types.
    fn serde_json_like(text: &str) -> S {
        use serde::de::IntoDeserializer;
        let de: serde::de::value::StrDeserializer<'_, serde::de::value::Error> =
            text.into_deserializer();
        S {
            w: serde::Deserialize::deserialize(de).unwrap(),
        }
    }
}
