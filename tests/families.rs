//! Families of hypotheses: Westfall–Young step-down p-values against a
//! brute-force enumeration of every assignment of a tiny trial, and the
//! family-wise error rate of a null simulation.

mod common;

use trialpanel::estimators::RandomisationSpec;
use trialpanel::estimators::family_test;
use trialpanel::stats::{self, Moments};
use trialpanel::{Design, Outcome, PersonSpec, Variance};

#[test]
fn westfall_young_equals_brute_force_enumeration() {
    // Eight persons, four treated: C(8, 4) = 70 assignments, all of them
    // enumerated by the library (draws ≥ 70) and here.
    let hours = [
        [12.0, 30.5],
        [0.0, 22.0],
        [35.0, 37.0],
        [8.5, 0.0],
        [0.0, 4.0],
        [3.0, 0.0],
        [15.0, 9.5],
        [0.0, 0.0],
    ];
    let arms = [
        "treatment",
        "treatment",
        "treatment",
        "treatment",
        "control",
        "control",
        "control",
        "control",
    ];
    let mut persons = String::from("person_id,arm,referral_week\n");
    let mut register = String::from("person_id,week,code,hours\n");
    for (i, (h, arm)) in hours.iter().zip(arms).enumerate() {
        persons.push_str(&format!("p{i},{arm},2024-W01\n"));
        for (w, x) in h.iter().enumerate() {
            register.push_str(&format!("p{i},2024-W0{},111,{x}\n", w + 1));
        }
    }
    let panel = common::tiny_panel("families", &persons, &register, &PersonSpec::default());
    let values = [
        Outcome::hours().evaluate(&panel, 0..=1).unwrap(),
        Outcome::employed(0.0).evaluate(&panel, 0..=1).unwrap(),
    ];
    let weeks = [0, 1];
    let family = family_test(
        "primary",
        &[(&values[0], &weeks[..]), (&values[1], &weeks[..])],
        &Design::default(),
        &RandomisationSpec::new(1000, 3).unwrap(),
    )
    .unwrap();
    assert!(family.exact);
    assert_eq!(family.draws, 70);

    // Brute force: t of every hypothesis under every assignment.
    let t_of = |treated: &[bool]| -> Vec<Option<f64>> {
        let mut out = Vec::new();
        for v in &values {
            for &k in &weeks {
                let y = v.week(k).unwrap();
                let arm = |want: bool| -> Vec<f64> {
                    (0..8)
                        .filter(|&p| treated[p] == want)
                        .map(|p| y[panel_index(&panel, p)])
                        .collect()
                };
                let e = stats::difference_in_means(
                    &Moments::of(&arm(true)),
                    &Moments::of(&arm(false)),
                    0.95,
                    Variance::Welch,
                );
                out.push(e.t);
            }
        }
        out
    };
    let observed = t_of(&[true, true, true, true, false, false, false, false]);
    let mut all = Vec::new();
    for mask in 0u32..256 {
        if mask.count_ones() == 4 {
            let treated: Vec<bool> = (0..8).map(|p| mask & (1 << p) != 0).collect();
            all.push(t_of(&treated));
        }
    }
    assert_eq!(all.len(), 70);
    // p_j = max over i with |t_i| ≥ |t_j| of P(max_{l : |t_l| ≤ |t_i|} |T*_l| ≥ |t_i|).
    let size = |t: Option<f64>| t.map(f64::abs);
    for (j, m) in family.members.iter().enumerate() {
        let Some(tj) = size(observed[j]) else {
            assert_eq!(m.p_fwer, None);
            continue;
        };
        let mut want = 0.0f64;
        for i in 0..observed.len() {
            let Some(ti) = size(observed[i]) else {
                continue;
            };
            if ti < tj {
                continue;
            }
            let hits = all
                .iter()
                .filter(|t| {
                    (0..observed.len())
                        .filter(|&l| size(observed[l]).is_some_and(|tl| tl <= ti))
                        .filter_map(|l| size(t[l]))
                        .fold(f64::NEG_INFINITY, f64::max)
                        >= ti * (1.0 - 1e-9)
                })
                .count();
            want = want.max(hits as f64 / 70.0);
        }
        let got = m.p_fwer.unwrap();
        assert!(
            (got - want).abs() < 1e-12,
            "{} week {}: {got} vs {want}",
            m.outcome,
            m.week
        );
        assert!(got >= m.p_randomisation.unwrap() - 1e-12);
        assert_eq!(m.t, observed[j]);
    }
}

/// Panel position of person table row `row` (the tiny trial's persons are
/// all referred the same week, so the panel order is arm, then id).
fn panel_index(panel: &trialpanel::Panel, row: usize) -> usize {
    let id = format!("p{row}");
    (0..panel.n_persons())
        .find(|&p| panel.persons().ids()[p] == id)
        .unwrap()
}

#[test]
fn the_family_wise_error_rate_of_null_trials_is_five_percent() {
    // 1,000 null trials of 40 persons (20 treated), six correlated
    // hypotheses (three outcomes at two weeks), 199 re-draws each. Any
    // Westfall–Young p ≤ 0.05 in 5 ± 2% of the trials; any unadjusted
    // randomisation p ≤ 0.05 in far more.
    let mut rng = common::Normals(0x9e37_79b9_7f4a_7c15);
    let (trials, draws, n) = (1000, 199, 40);
    let (mut family_wise, mut per_test) = (0, 0);
    for _ in 0..trials {
        let y: Vec<[f64; 6]> = (0..n)
            .map(|_| {
                let (a, b, c) = (rng.normal(), rng.normal(), rng.normal());
                let a2 = a + 0.5 * rng.normal();
                [a, a2, a + b, a2 + b, c, c + rng.normal()]
            })
            .collect();
        let t_of = |treated: &[bool]| -> Vec<Option<f64>> {
            (0..6)
                .map(|h| {
                    let arm = |want: bool| -> Vec<f64> {
                        (0..n)
                            .filter(|&p| treated[p] == want)
                            .map(|p| y[p][h])
                            .collect()
                    };
                    stats::difference_in_means(
                        &Moments::of(&arm(true)),
                        &Moments::of(&arm(false)),
                        0.95,
                        Variance::Welch,
                    )
                    .t
                })
                .collect()
        };
        let observed: Vec<bool> = (0..n).map(|p| p < n / 2).collect();
        let t = t_of(&observed);
        let drawn: Vec<Vec<Option<f64>>> = (0..draws)
            .map(|_| {
                let mut a = observed.clone();
                for i in (1..n).rev() {
                    let j = ((rng.uniform() * (i + 1) as f64) as usize).min(i);
                    a.swap(i, j);
                }
                t_of(&a)
            })
            .collect();
        let wy = stats::westfall_young(&t, &drawn, false);
        family_wise += usize::from(wy.iter().flatten().any(|&p| p <= 0.05));
        let single = (0..6).any(|h| {
            let hits = drawn
                .iter()
                .filter(|d| d[h].unwrap().abs() >= t[h].unwrap().abs())
                .count();
            (1 + hits) as f64 / (1 + draws) as f64 <= 0.05
        });
        per_test += usize::from(single);
    }
    let fwer = family_wise as f64 / trials as f64;
    let any = per_test as f64 / trials as f64;
    assert!((fwer - 0.05).abs() <= 0.02, "family-wise error rate {fwer}");
    assert!(any > 0.12, "per-test rejections {any}");
}

#[test]
fn the_sample_analysis_reports_its_primary_family() {
    use trialpanel::analysis::Analysis;
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("data-samples/jobfirst/analysis.toml");
    let dir = std::env::temp_dir().join(format!("trialpanel-families-{}", std::process::id()));
    let analysis = Analysis::from_file(&file).unwrap().with_output_dir(&dir);
    let results = analysis.run().unwrap();
    let family = &results.families[0];
    assert_eq!(family.name, "primary");
    assert_eq!(family.members.len(), 6);
    for m in &family.members {
        // Step-down p-values are never below the hypothesis's own.
        assert!(m.p_fwer.unwrap() >= m.p_randomisation.unwrap());
        assert!(m.p_holm.unwrap() >= m.p_value.unwrap());
        let row = results
            .outcome(&m.outcome)
            .unwrap()
            .effects
            .week(m.week)
            .unwrap();
        assert_eq!(row.family.as_deref(), Some("primary"));
        assert_eq!(row.p_fwer, m.p_fwer);
    }
    // The same re-draws as the outcome's own randomisation test.
    let employed = results.outcome("employed").unwrap();
    let ri = employed.randomisation.as_ref().unwrap();
    let at = |k: i32| ri.p_values[ri.weeks.iter().position(|&w| w == k).unwrap()];
    assert_eq!(family.members[0].p_randomisation, at(13));
    results.write(&dir).unwrap();
    let report = std::fs::read_to_string(dir.join("report.md")).unwrap();
    assert!(report.contains("## Family `primary`"), "{report}");
    let rows = common::rows_of(&dir.join("effects.csv"));
    assert_eq!(rows.iter().filter(|r| r["family"] == "primary").count(), 6);

    // Families are checked with the analysis file.
    let text = std::fs::read_to_string(&file).unwrap();
    for (extra, needle) in [
        (
            "[[families]]\nname = \"x\"\noutcomes = [\"nothing\"]\nweeks = [13]\n",
            "not an outcome",
        ),
        (
            "[[families]]\nname = \"y\"\noutcomes = [\"employed\"]\nweeks = [13]\n",
            "already in a family",
        ),
        (
            "[[families]]\nname = \"z\"\noutcomes = [\"hours\"]\nweeks = [99]\n",
            "not estimated",
        ),
    ] {
        let bad = dir.join("bad.toml");
        std::fs::write(&bad, format!("{text}\n{extra}")).unwrap();
        let e = Analysis::from_file(&bad).unwrap_err().to_string();
        assert!(e.contains(needle) && e.contains("families[1]"), "{e}");
    }
}
