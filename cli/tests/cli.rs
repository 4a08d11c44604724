//! The `trialpanel` command: `run` writes what the library computes, its
//! help, `check`, usage errors and exit codes; `run` on the clustered
//! fixture gives the estimatr numbers; `plan` prints and writes the MDE
//! table.

#[path = "../../tests/common/mod.rs"]
mod common;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{MINIMAL, fixture, num, opt, rows, sample, sample_file};

fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("cli")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

/// The estimatr reference of the clustered fixture (case, outcome, week).
fn reference(case: &str) -> HashMap<(String, i32), HashMap<String, String>> {
    rows("clusters/reference.csv")
        .into_iter()
        .filter(|r| r["case"] == case)
        .map(|r| ((r["outcome"].clone(), num(&r, "week") as i32), r))
        .collect()
}

/// Agreement with R: 1e-8 relative.
fn close(what: &str, got: Option<f64>, want: f64) {
    let got = got.unwrap_or_else(|| panic!("{what}: missing, want {want}"));
    assert!(
        (got - want).abs() <= 1e-8 * want.abs() + 1e-12,
        "{what}: got {got}, want {want}"
    );
}

fn trialpanel(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trialpanel"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn trialpanel_run_writes_the_same_numbers_as_the_library() {
    let (_, results, lib_dir) = sample("cli");
    let dir = out_dir("cli");
    let out = trialpanel(&[
        "run",
        sample_file().to_str().unwrap(),
        "--output",
        dir.to_str().unwrap(),
        "--threads",
        "1",
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("reading and aligning the register"),
        "{stderr}"
    );
    assert!(stderr.contains("estimating `employed`"), "{stderr}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(stdout.lines().count(), 1, "one summary line: {stdout}");
    assert!(
        stdout.contains("3000 persons") && stdout.contains("report.html"),
        "{stdout}"
    );
    for name in [
        "effects.csv",
        "balance.csv",
        "spell_km.csv",
        "report.md",
        "report.html",
        "fidelity.csv",
        "cost.csv",
    ] {
        assert_eq!(
            std::fs::read(dir.join(name)).unwrap(),
            std::fs::read(lib_dir.join(name)).unwrap(),
            "{name}"
        );
    }
    // results.json differs only in the output directory it records.
    let json = |d: &Path| -> serde_json::Value {
        let mut v: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(d.join("results.json")).unwrap())
                .unwrap();
        v["config"]["output"] = serde_json::Value::Null;
        v
    };
    assert_eq!(json(&dir), json(lib_dir));
    assert_eq!(
        json(&dir)["outcomes"][0]["effects"]["outcome"],
        results.outcomes[0].effects.outcome
    );
}

#[test]
fn trialpanel_help_check_and_errors() {
    let help = trialpanel(&["--help"]);
    assert!(help.status.success());
    let text = String::from_utf8_lossy(&help.stdout);
    for option in ["run", "check", "plan", "--version", "Exit status"] {
        assert!(text.contains(option), "--help lacks {option}");
    }
    let run_help = trialpanel(&["run", "--help"]);
    assert!(run_help.status.success());
    let text = String::from_utf8_lossy(&run_help.stdout);
    for option in [
        "--output",
        "--threads",
        "--quiet",
        "--format",
        "report.md",
        "report.html",
        "trialpanel-manifest.txt",
    ] {
        assert!(text.contains(option), "run --help lacks {option}");
    }
    // `plan --help` is help, not a missing value; bare `trialpanel` lists
    // every command.
    let plan_help = trialpanel(&["plan", "--help"]);
    assert_eq!(plan_help.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&plan_help.stdout).contains("--referrals"));
    let bare = trialpanel(&[]);
    assert_eq!(bare.status.code(), Some(2));
    let listed = String::from_utf8_lossy(&bare.stderr);
    for command in ["run", "check", "plan"] {
        assert!(
            listed.contains(&format!("  {command} ")),
            "bare lacks {command}: {listed}"
        );
    }
    // `--format md` writes report.md and no report.html.
    let dir = out_dir("md-only");
    let md_only = trialpanel(&[
        "run",
        sample_file().to_str().unwrap(),
        "-q",
        "--format",
        "md",
        "-o",
        dir.to_str().unwrap(),
    ]);
    assert!(md_only.status.success());
    assert!(dir.join("report.md").exists() && !dir.join("report.html").exists());
    let usage = trialpanel(&["run", "a.toml", "--format", "pdf"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&usage.stderr).contains("`pdf` is neither `md` nor `html`"));

    let check = trialpanel(&["check", sample_file().to_str().unwrap()]);
    assert!(check.status.success());
    let plan = String::from_utf8_lossy(&check.stdout);
    assert!(plan.contains("OK (8 outcomes)"), "{plan}");
    // `check` prints the plan: what is read, each outcome's route, the outputs.
    assert!(plan.contains("register  register_long.parquet"), "{plan}");
    assert!(
        plan.contains("employed                 from person-level values (`band = true`)"),
        "{plan}"
    );
    assert!(
        plan.contains("work_placement           from exact weekly sums"),
        "{plan}"
    );
    assert!(
        plan.contains("writes: effects.csv, balance.csv, spell_km.csv"),
        "{plan}"
    );

    let usage = trialpanel(&["run"]);
    assert_eq!(usage.status.code(), Some(2));
    let usage = trialpanel(&["frobnicate", "a.toml"]);
    assert_eq!(usage.status.code(), Some(2));
    let usage = trialpanel(&["run", "a.toml", "--threads", "zero"]);
    assert_eq!(usage.status.code(), Some(2));
    // Thousands of threads would each need a stack: refused before any work.
    let usage = trialpanel(&["run", "a.toml", "--threads", "20000"]);
    assert_eq!(usage.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&usage.stderr).contains("20000 is not in 1..=256"),
        "{}",
        String::from_utf8_lossy(&usage.stderr)
    );

    let dir = out_dir("bad");
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.toml");
    std::fs::write(
        &bad,
        MINIMAL.replace("kind = \"hours\"", "kind = \"hours\"\ntreshold = 1"),
    )
    .unwrap();
    let failed = trialpanel(&["run", bad.to_str().unwrap()]);
    assert_eq!(failed.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert!(
        stderr.contains("line 19, key `outcomes[1].treshold`"),
        "{stderr}"
    );
}

/// `trialpanel run` on the fixture's analysis file, into a fresh directory.
fn run_cli(tag: &str) -> std::path::PathBuf {
    let dir =
        std::env::temp_dir().join(format!("trialpanel-clusters-{tag}-{}", std::process::id()));
    let out = Command::new(env!("CARGO_BIN_EXE_trialpanel"))
        .args(["run", fixture("clusters/analysis.toml").to_str().unwrap()])
        .args(["--output", dir.to_str().unwrap()])
        .output()
        .expect("the binary runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    dir
}

#[test]
fn trialpanel_run_writes_the_estimatr_numbers() {
    let dir = run_cli("run");
    let written = common::rows_of(&dir.join("effects.csv"));
    // One row per outcome × estimator × week.
    assert_eq!(written.len(), 2 * 2 * 25);
    for (estimator, case) in [("difference", "difference_cr2"), ("lin", "lin_cr2")] {
        let want = reference(case);
        for row in written.iter().filter(|r| r["estimator"] == estimator) {
            let key = (row["outcome"].clone(), num(row, "week") as i32);
            let w = &want[&key];
            for col in ["effect", "se", "df", "ci_low", "ci_high", "p_value"] {
                let what = format!("{case}/{}/week {}: {col}", key.0, key.1);
                close(&what, common::opt(row, col), num(w, col));
            }
            assert!(common::opt(row, "clusters_treat").is_some());
        }
    }
    // The lin rows list the regressors dropped where `late` is constant.
    let week22 = written
        .iter()
        .find(|r| r["estimator"] == "lin" && r["outcome"] == "hours" && r["week"] == "22")
        .unwrap();
    assert_eq!(week22["dropped"], "late; z:late");

    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("CR2 cluster-robust"), "{report}");
    assert!(
        report.contains("12 treatment and 12 control clusters"),
        "{report}"
    );
    assert!(
        report.contains("| Week | n (T / C) | Clusters (T / C) |"),
        "{report}"
    );
    assert!(report.contains("Adjusted |"), "{report}");
    assert!(
        report.contains("re-draws of the assignment of whole clusters"),
        "{report}"
    );
    assert!(
        report.contains("cluster-robust Wald F over 24 clusters"),
        "{report}"
    );
    // What the Lin estimate assumed and dropped is said.
    assert!(
        report.contains("fills the 12 missing values of `age`"),
        "{report}"
    );
    assert!(
        report.contains("dropped late, z:late as constant or collinear at 3 of 25 weeks"),
        "{report}"
    );
    // What still assumes independent persons says so.
    assert!(
        report.contains("the tests of the hours descriptives treat persons as independent"),
        "{report}"
    );

    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    let hours = &json["outcomes"][0];
    assert_eq!(hours["effects"]["clustered"], true);
    assert_eq!(hours["adjusted"]["estimator"], "lin");
    assert_eq!(json["trial"]["clusters"]["treatment"], 12);
}

#[test]
fn trialpanel_plan_prints_and_writes_the_table() {
    let dir = std::env::temp_dir().join(format!("trialpanel-plan-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv = dir.join("mde.csv");
    let out = plan(&[
        "--persons",
        "1500,1200",
        "--referrals",
        "2016-W01..2016-W26",
        "--extract",
        "2017-W02",
        "--sd",
        "0.45",
        "--weeks",
        "0..60",
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("Minimum detectable effect at 80% power"),
        "{stdout}"
    );
    let written = common::rows_of(&csv);
    assert_eq!(written.len(), 61);
    let want = rows("plan/plan_even.csv");
    let w40 = want.iter().find(|r| r["week"] == "40").unwrap();
    let g40 = written.iter().find(|r| r["week"] == "40").unwrap();
    close("mde at 40", opt(g40, "mde"), num(w40, "mde"));
    // From an analysis file: the sd from the register history.
    let sample = sample_file();
    let out = plan(&[
        "--analysis",
        sample.to_str().unwrap(),
        "--outcome",
        "employed",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("register history of 3000 persons"));
    // A wrong command line exits with 2 and says why.
    let out = plan(&["--persons", "1500"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("needs `T,C`"));
    let out = plan(&["--persons", "1500,1500"]);
    assert_eq!(out.status.code(), Some(2), "neither --sd nor --analysis");
    // Output into a closed pipe ends quietly: no panic, status 0.
    let mut child = Command::new(env!("CARGO_BIN_EXE_trialpanel"))
        .args([
            "plan",
            "--persons",
            "1500,1500",
            "--referrals",
            "2016-W01..2016-W26",
            "--extract",
            "2017-W02",
            "--sd",
            "0.45",
            "--weeks",
            "0..2000",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let done = child.wait_with_output().unwrap();
    assert_eq!(done.status.code(), Some(0));
    assert!(
        !String::from_utf8_lossy(&done.stderr).contains("panicked"),
        "{}",
        String::from_utf8_lossy(&done.stderr)
    );
}

/// `trialpanel plan ARGS`.
fn plan(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_trialpanel"))
        .arg("plan")
        .args(args)
        .output()
        .unwrap()
}

/// An extract week set past the register's last week: the weeks without
/// any row are said on stderr (even with --quiet), in report.md and in
/// results.json, with the setting that fixes them.
#[test]
fn observed_weeks_without_register_rows_are_flagged() {
    let dir = out_dir("late-extract");
    std::fs::create_dir_all(&dir).unwrap();
    let text = std::fs::read_to_string(sample_file()).unwrap().replace(
        "observed_until = \"2017-W02\"",
        "observed_until = \"2017-W08\"",
    );
    let file = sample_file().with_file_name("late_extract.toml");
    let file = dir.join(file.file_name().unwrap());
    let data = sample_file().parent().unwrap().to_path_buf();
    // Relative input paths resolve against the analysis file's directory.
    let text = [
        "persons.csv",
        "codes.csv",
        "register_long.parquet",
        "events.csv",
        "survey.csv",
        "invited.csv",
    ]
    .iter()
    .fold(text, |t, f| {
        t.replace(
            &format!("\"{f}\""),
            &format!("\"{}\"", data.join(f).display()),
        )
    });
    std::fs::write(&file, text).unwrap();
    let out = trialpanel(&[
        "run",
        file.to_str().unwrap(),
        "-q",
        "-o",
        dir.to_str().unwrap(),
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: the register has no rows at all in 6 of the observed weeks")
            && stderr.contains("(2017-W03 to 2017-W08)")
            && stderr.contains("set `observed_until` to 2017-W02"),
        "{stderr}"
    );
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(
        report.contains("**Warning:** the register has no rows at all"),
        "{report}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("results.json")).unwrap()).unwrap();
    // This warning and the sample's own ones (its deaths and emigrations,
    // the events before referral).
    let warnings = json["warnings"].as_array().unwrap();
    assert_eq!(warnings.len(), 3, "{warnings:?}");
    assert!(
        warnings[1]
            .as_str()
            .unwrap()
            .starts_with("follow-up ended early")
    );
    assert_eq!(
        json["trial"]["load"]["weeks_without_rows"][0],
        serde_json::json!(["2017-W03", "2017-W08"])
    );
    // The sample itself, with its real extract week, has no other warning.
    let warnings = &sample("cli").1.warnings;
    assert_eq!(warnings.len(), 2, "{warnings:?}");
    assert!(warnings[0].starts_with("follow-up ended early for 18 treatment and 18 control"));
    assert!(warnings[1].ends_with("they count for no process indicator"));
}

/// `check` reads every input but the register's rows: a misspelt register
/// column, a missing event log, a category or event type the data lack
/// fail there, as `run` would, before any register row is read.
#[test]
fn check_finds_what_run_would_refuse_without_reading_the_register() {
    let sample = std::fs::read_to_string(sample_file()).unwrap();
    let dir = out_dir("check-inputs");
    std::fs::create_dir_all(&dir).unwrap();
    let samples = sample_file().parent().unwrap().to_path_buf();
    let absolute = |text: &str| {
        let mut t = text.to_string();
        for f in [
            "persons.csv",
            "codes.csv",
            "register_long.parquet",
            "events.csv",
            "survey.csv",
            "invited.csv",
        ] {
            t = t.replace(
                &format!("\"{f}\""),
                &format!("\"{}\"", samples.join(f).display()),
            );
        }
        t
    };
    let cases = [
        (
            "hours_column",
            sample.replace("[inputs]", "[long]\nhours = \"hour\"\n\n[inputs]"),
            "hour",
        ),
        (
            "missing_events",
            sample.replace("\"events.csv\"", "\"no_such_events.csv\""),
            "no_such_events.csv",
        ),
        (
            "event_type",
            sample.replacen("event = \"talk\"", "event = \"Talk\"", 1),
            "event type `Talk` does not occur",
        ),
    ];
    for (tag, text, want) in cases {
        let file = dir.join(format!("{tag}.toml"));
        std::fs::write(&file, absolute(&text)).unwrap();
        let out = trialpanel(&["check", "-q", file.to_str().unwrap()]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{tag}: {stderr}");
        assert!(stderr.contains(want), "{tag}: {stderr}");
    }
    let ok = trialpanel(&["check", "-q", sample_file().to_str().unwrap()]);
    let stdout = String::from_utf8_lossy(&ok.stdout);
    assert!(
        stdout.contains("persons: 1502 treated, 1498 controls, 15 sites"),
        "{stdout}"
    );
    assert!(
        stdout.contains("register: columns person_id, week, code, hours"),
        "{stdout}"
    );
}
