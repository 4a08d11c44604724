//! The activity spell engine against a brute-force reference, hand-made
//! cases pinning its semantics, and the spell outcome, Kaplan–Meier curves
//! and log-rank test on the fixture trial against scipy/statsmodels values
//! (tests/fixtures/effects, see its README).

mod common;

use common::{assert_close, num, opt, rows};
use trialpanel::estimators;
use trialpanel::estimators::time_to_spell;
use trialpanel::outcome::{completion_index, completions};
use trialpanel::stats::Level;
use trialpanel::{Design, Error, Outcome, SpellRule, Table};

/// Brute force: the first week e such that some segment [s, e] starts and
/// ends on active weeks, has no inactive run longer than `max_gap`, and
/// holds at least `min_weeks` active weeks. Enumerates every segment.
fn brute_force(active: &[bool], min_weeks: u32, max_gap: u32) -> Option<usize> {
    (0..active.len()).find(|&e| {
        (0..=e).any(|s| {
            if !(active[s] && active[e]) {
                return false;
            }
            let seg = &active[s..=e];
            let mut run = 0u32;
            let gaps_ok = seg.iter().all(|&a| {
                run = if a { 0 } else { run + 1 };
                run <= max_gap
            });
            gaps_ok && seg.iter().filter(|&&a| a).count() as u32 >= min_weeks
        })
    })
}

/// A tiny xorshift generator, so the test needs no extra crate.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn seq(s: &str) -> Vec<bool> {
    s.chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c == '1')
        .collect()
}

#[test]
fn engine_matches_brute_force_on_random_sequences() {
    let mut rng = XorShift(0x2016_0307);
    let mut gaps_seen = [0usize; 7];
    let mut completed = 0;
    for case in 0..20_000 {
        // Alternate active runs (1–8 weeks) and inactive runs of every
        // length 0–6 (plus some long ones), then censor at a random length.
        let mut v = Vec::new();
        if rng.below(2) == 0 {
            v.extend(std::iter::repeat_n(false, rng.below(5) as usize));
        }
        while v.len() < 45 {
            v.extend(std::iter::repeat_n(true, 1 + rng.below(8) as usize));
            let gap = if rng.below(6) == 0 {
                7 + rng.below(5)
            } else {
                rng.below(7)
            } as usize;
            if gap <= 6 {
                gaps_seen[gap] += 1;
            }
            v.extend(std::iter::repeat_n(false, gap));
        }
        let censor = rng.below(v.len() as u64 + 1) as usize;
        let v = &v[..censor];
        let min_weeks = 1 + rng.below(14) as u32;
        let max_gap = rng.below(7) as u32;
        let got = completion_index(v, min_weeks, max_gap);
        assert_eq!(
            got,
            brute_force(v, min_weeks, max_gap),
            "case {case}: min {min_weeks} gap {max_gap} seq {v:?}"
        );
        completed += usize::from(got.is_some());
        // Censoring: a prefix sees the completion iff it happened inside it.
        let cut = rng.below(v.len() as u64 + 1) as usize;
        assert_eq!(
            completion_index(&v[..cut], min_weeks, max_gap),
            got.filter(|&c| c < cut)
        );
    }
    assert!(gaps_seen.iter().all(|&g| g > 1000), "{gaps_seen:?}");
    assert!(completed > 5000 && completed < 19_000, "{completed}");
}

#[test]
fn hand_made_cases_pin_the_semantics() {
    let (m, g) = (13, 4);
    // 13 consecutive active weeks: complete at the 13th (index 12).
    assert_eq!(completion_index(&seq("1111111111111"), m, g), Some(12));
    // 12 weeks are not enough.
    assert_eq!(completion_index(&seq("111111111111"), m, g), None);
    // A gap of exactly max_gap (4) keeps the spell; gap weeks do not count:
    // 6 + 7 active weeks complete at index 6 + 4 + 7 − 1 = 16.
    assert_eq!(
        completion_index(&seq("111111 0000 1111111"), m, g),
        Some(16)
    );
    // max_gap + 1 (5) breaks it: the second part alone has 7 weeks.
    assert_eq!(completion_index(&seq("111111 00000 1111111"), m, g), None);
    // ... and a new spell of 13 after the break completes.
    assert_eq!(
        completion_index(&seq("111111 00000 1111111111111"), m, g),
        Some(6 + 5 + 12)
    );
    // Leading inactive weeks are not a gap.
    assert_eq!(
        completion_index(&seq("0000000000 1111111111111"), m, g),
        Some(22)
    );
    // max_gap 0: any inactive week breaks the spell.
    assert_eq!(completion_index(&seq("11 0 11"), 4, 0), None);
    assert_eq!(completion_index(&seq("11 0 11"), 4, 1), Some(4));
    // Several gaps within tolerance add up across the spell.
    assert_eq!(
        completion_index(&seq("111 0000 111 0000 111 0000 1111"), m, g),
        Some(3 + 4 + 3 + 4 + 3 + 4 + 4 - 1)
    );
}

/// The rule the fixture uses: min 4 active weeks, gaps of at most 1.
fn rule() -> SpellRule {
    SpellRule::default().min_weeks(4).max_gap(1)
}

#[test]
fn completions_on_the_trial_match_python_brute_force() {
    let panel = common::trial_panel(&[]);
    let got = completions(&panel, &rule()).unwrap();
    assert_eq!((got.persons.len(), got.left_out), (72, 0));
    let want = rows("effects/trial_spell_persons.csv");
    let mut events = 0;
    for w in want {
        let p = got.persons.iter().find(|p| p.id == w["person_id"]).unwrap();
        assert_eq!(p.completed.map(f64::from), opt(&w, "completed"), "{}", p.id);
        assert_eq!(f64::from(p.last_observed), num(&w, "last_observed"));
        events += usize::from(p.completed.is_some());
    }
    assert!(events > 10);
}

#[test]
fn spell_outcome_gives_weekly_shares_and_effects() {
    let panel = common::trial_panel(&[]);
    let values = Outcome::spell(rule()).evaluate(&panel, -2..=16).unwrap();
    // Missing before week 0; never falls for a person.
    assert!(values.week(-1).unwrap().iter().all(|x| x.is_nan()));
    for p in 0..panel.n_persons() {
        let col: Vec<f64> = (0..=16)
            .map(|k| values.week(k).unwrap()[p])
            .filter(|x| !x.is_nan())
            .collect();
        assert!(col.windows(2).all(|w| w[0] <= w[1]), "person {p}: {col:?}");
    }
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    for w in rows("effects/trial_spell_effects.csv") {
        let k = num(&w, "week") as i32;
        let e = &weekly.week(k).unwrap().estimate;
        assert_eq!(e.n_treat as f64, num(&w, "n_treat"));
        assert_eq!(e.n_control as f64, num(&w, "n_control"));
        for (col, g) in [
            ("mean_treat", e.mean_treat),
            ("mean_control", e.mean_control),
            ("effect", e.effect),
            ("se", e.se),
            ("p_value", e.p_value),
        ] {
            assert_close(&format!("week {k} {col}"), g, opt(&w, col), 1e-9);
        }
    }
}

#[test]
fn kaplan_meier_and_log_rank_match_statsmodels() {
    let panel = common::trial_panel(&[]);
    let c = completions(&panel, &rule()).unwrap();
    let km = time_to_spell(&c, Level::default()).unwrap();
    let want = rows("effects/trial_spell_km.csv");
    let mut checked = 0;
    for w in &want {
        let arm = if w["arm"] == "treatment" { 1 } else { 0 };
        let k = num(w, "week") as i32;
        let r = km.curves[arm].iter().find(|r| r.week == k).unwrap();
        let what = |c: &str| format!("{} week {k} {c}", w["arm"]);
        assert_eq!(r.at_risk as f64, num(w, "at_risk"), "{}", what("at_risk"));
        assert_eq!(r.events as f64, num(w, "events"), "{}", what("events"));
        assert_close(
            &what("F"),
            Some(r.cum_incidence),
            opt(w, "cum_incidence"),
            1e-12,
        );
        assert_close(&what("se"), r.se, opt(w, "se"), 1e-10);
        assert_close(&what("ci_low"), r.ci_low, opt(w, "ci_low"), 1e-10);
        assert_close(&what("ci_high"), r.ci_high, opt(w, "ci_high"), 1e-10);
        checked += 1;
    }
    assert_eq!(checked, km.curves[0].len() + km.curves[1].len());
    let lr = &rows("effects/trial_spell_logrank.csv")[0];
    let test = km.log_rank.unwrap();
    assert_close(
        "log-rank",
        Some(test.statistic),
        opt(lr, "statistic"),
        1e-10,
    );
    assert_close("log-rank p", Some(test.p_value), opt(lr, "p_value"), 1e-9);
    // The difference is F₁ − F₀ with se √(se₁² + se₀²).
    let d = km.difference.iter().find(|d| d.week == 8).unwrap();
    let (f1, f0) = (&km.curves[1][8], &km.curves[0][8]);
    assert_eq!(d.difference, f1.cum_incidence - f0.cum_incidence);
    let se = (f1.se.unwrap().powi(2) + f0.se.unwrap().powi(2)).sqrt();
    assert_close("diff se", d.se, Some(se), 1e-15);
    assert!(d.ci_low.unwrap() > 0.0 && d.p_value.unwrap() < 0.05);
    assert_eq!(km.to_frame().unwrap().height(), checked);
}

#[test]
fn spell_results_do_not_depend_on_thread_count() {
    let panel = common::trial_panel(&[]);
    let run = |threads| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(threads)
            .build()
            .unwrap()
            .install(|| {
                let c = completions(&panel, &rule()).unwrap();
                let v = Outcome::spell(rule()).evaluate(&panel, 0..=16).unwrap();
                let bits: Vec<u64> = v.matrix().iter().map(|x| x.to_bits()).collect();
                (c, bits)
            })
    };
    assert_eq!(run(1), run(3));
}

#[test]
fn invalid_rules_are_typed_errors() {
    let panel = common::trial_panel(&[]);
    let is_setting = |e: Error| matches!(e, Error::InvalidSetting { .. });
    for bad in [
        SpellRule::default().min_weeks(0),
        SpellRule::default().first_week(500),
        SpellRule::default().activity(&["no_such_category"]),
        SpellRule::default().hours_threshold(Some(-1.0)),
    ] {
        assert!(is_setting(completions(&panel, &bad).unwrap_err()));
        assert!(is_setting(
            Outcome::spell(bad).evaluate(&panel, 0..=3).unwrap_err()
        ));
    }
    let c = completions(&panel, &rule()).unwrap();
    assert!(is_setting(Level::new(1.5).unwrap_err()));
    assert!(time_to_spell(&c, Level::new(0.9).unwrap()).is_ok());
}

#[test]
fn bundled_sample_spell_lands_near_spec_section_8() {
    let panel = common::sample_panel();
    let values = Outcome::spell(SpellRule::default())
        .evaluate(&panel, 0..=44)
        .unwrap();
    let weekly = estimators::weekly_effects(&values, &Design::default()).unwrap();
    // The JobFirst midway evaluation (2017): control about 20%, effect about 25 points at week 35,
    // significant from week 14.
    let e = weekly.week(35).unwrap().estimate;
    assert!((0.1..0.25).contains(&e.mean_control.unwrap()));
    assert!((0.2..0.4).contains(&e.effect.unwrap()));
    let from = weekly
        .significant_from(estimators::Significance::Pointwise(0.05), 44)
        .unwrap();
    assert!((12..=16).contains(&from), "significant from week {from}");
    // Kaplan–Meier: treatment near or above 50% by week 44, control near 20%.
    let km = time_to_spell(
        &completions(&panel, &SpellRule::default()).unwrap(),
        Level::default(),
    )
    .unwrap();
    let at44 = |arm: usize| {
        km.curves[arm]
            .iter()
            .find(|r| r.week == 44)
            .unwrap()
            .cum_incidence
    };
    assert!(at44(1) > 0.4 && (0.12..0.3).contains(&at44(0)));
}
