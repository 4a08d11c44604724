//! How the simulated programme was delivered: a synthetic case-management
//! event log and a synthetic staff survey for a [`SimulatedTrial`], landing
//! near the JobFirst and Jobrettet Samtale II fidelity figures. **The data
//! are synthetic.**
//!
//! Each site (municipality) has a delivery strength f_s (a standard normal
//! draw from the seed) that shifts, on the logit scale, both how often its
//! caseworkers deliver and how its staff answer the survey, so the two
//! correlate across sites; the simulated effects do not depend on it.
//!
//! * [`SimulatedTrial::event_log`]: `person_id, date, event` with ISO weeks
//!   as dates. Treated persons: a first `talk` within 4 weeks of referral
//!   (90%), a `talk` in each later 4-week window (98.5% each), a `cv`
//!   (82%) and a `plan` (99%) within 4 weeks, a `placement` at the start
//!   of each placement or subsidy spell and a `plan_update` within 2 weeks
//!   of it (85%). Controls get the usual service, less of each. One person
//!   in fifty has a screening `talk` the week before referral.
//! * [`SimulatedTrial::staff_survey`]: `respondent, site, wave, item,
//!   answer` over six waves on a five-answer scale, and `site, wave,
//!   invited`. Elements `frequent_talks` (q1–q3), `job_focus` (q4, q5) and
//!   `individual_plan` (q6, q7) rise linearly from 52 / 51 / 73% top-box in
//!   wave 1 to 69 / 65 / 87% in wave 6; the driver `leadership` (l1, l2)
//!   stays near 60%. About 80% of the 10–24 staff invited answer each wave.

use std::path::Path;

use polars::prelude::{DataFrame, NamedFrom, Series};

use rayon::prelude::*;

use super::{
    Assignment, CODES, Person, SimulatedTrial, TrialSpec, block_name, col, frame, person_id,
    validate,
};
use crate::error::{Error, Result};
use crate::inputs::codes::{WAGE_SUBSIDY, WORK_PLACEMENT};
use crate::rng::Rng;
use crate::weeks::Week;
use crate::write::write_csv;

/// Stream of the delivery draws, apart from the persons' own.
const DELIVERY_STREAM: u64 = 0x6465_6c69_7665_7279;

/// The survey's answer scale, lowest first.
pub const SCALE: [&str; 5] = [
    "not at all",
    "to a small degree",
    "to some degree",
    "to a high degree",
    "to a very high degree",
];

/// Survey elements: (name, items, top-box share in wave 1, in the last).
pub const ELEMENTS: [(&str, &[&str], f64, f64); 4] = [
    ("frequent_talks", &["q1", "q2", "q3"], 0.52, 0.69),
    ("job_focus", &["q4", "q5"], 0.51, 0.65),
    ("individual_plan", &["q6", "q7"], 0.73, 0.87),
    ("leadership", &["l1", "l2"], 0.58, 0.62),
];

/// Number of survey waves.
pub const WAVES: u32 = 6;

fn logit(p: f64) -> f64 {
    (p / (1.0 - p)).ln()
}

fn expit(x: f64) -> f64 {
    1.0 / (1.0 + (-x).exp())
}

impl SimulatedTrial {
    /// The synthetic case-management event log (see the module docs).
    pub fn event_log(&self) -> Result<DataFrame> {
        let strength = site_strength(self.seed, self.sites());
        let (mut ids, mut dates, mut events) = (Vec::new(), Vec::new(), Vec::new());
        for (i, p) in self.people.iter().enumerate() {
            for (week, event) in person_events(self.seed, &strength, i, p, self.weeks.1) {
                ids.push(person_id(i));
                dates.push(week.to_string());
                events.push(event.to_string());
            }
        }
        frame(vec![
            col("person_id", Series::new("".into(), ids)),
            col("date", Series::new("".into(), dates)),
            col("event", Series::new("".into(), events)),
        ])
    }

    /// Number of sites (blocks).
    fn sites(&self) -> usize {
        self.people.iter().map(|p| p.block + 1).max().unwrap_or(0)
    }

    /// Write `events.csv`, `survey.csv` and `invited.csv` into `dir`;
    /// returns the numbers of events and of survey answers.
    pub fn write_delivery(&self, dir: &Path) -> Result<(usize, usize)> {
        let mut events = self.event_log()?;
        let (mut survey, mut invited) = self.staff_survey()?;
        write_csv(&mut events, &dir.join("events.csv"))?;
        write_csv(&mut survey, &dir.join("survey.csv"))?;
        write_csv(&mut invited, &dir.join("invited.csv"))?;
        Ok((events.height(), survey.height()))
    }

    /// The synthetic staff survey and the numbers invited (see the module
    /// docs): (`respondent, site, wave, item, answer`, `site, wave,
    /// invited`).
    pub fn staff_survey(&self) -> Result<(DataFrame, DataFrame)> {
        let strength = site_strength(self.seed, self.sites());
        let mut rng = Rng::new(self.seed ^ DELIVERY_STREAM, u64::MAX);
        let (mut respondent, mut site, mut item_of, mut answer_of, mut waves) =
            (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
        let (mut inv_site, mut inv_wave, mut invited) = (Vec::new(), Vec::new(), Vec::new());
        for (s, &f) in strength.iter().enumerate() {
            let staff = 10 + rng.below(15) as usize;
            for wave in 1..=WAVES {
                inv_site.push(block_name(s));
                inv_wave.push(wave);
                invited.push(staff as u32);
                let t = f64::from(wave - 1) / f64::from(WAVES - 1);
                for j in 0..staff {
                    if !rng.bernoulli(0.8) {
                        continue;
                    }
                    for (_, items, from, to) in ELEMENTS {
                        let p = expit(logit(from + (to - from) * t) + 0.5 * f);
                        for item in items {
                            let answer = if rng.bernoulli(0.03) {
                                ""
                            } else if rng.bernoulli(p) {
                                SCALE[3 + usize::from(rng.bernoulli(0.4))]
                            } else {
                                SCALE[rng.below(3) as usize]
                            };
                            respondent.push(format!("S{:02}-{:02}", s + 1, j + 1));
                            site.push(block_name(s));
                            item_of.push((*item).to_string());
                            answer_of.push(answer.to_string());
                            waves.push(wave);
                        }
                    }
                }
            }
        }
        let survey = frame(vec![
            col("respondent", Series::new("".into(), respondent)),
            col("site", Series::new("".into(), site)),
            col("wave", Series::new("".into(), waves)),
            col("item", Series::new("".into(), item_of)),
            col("answer", Series::new("".into(), answer_of)),
        ])?;
        let invited = frame(vec![
            col("site", Series::new("".into(), inv_site)),
            col("wave", Series::new("".into(), inv_wave)),
            col("invited", Series::new("".into(), invited)),
        ])?;
        Ok((survey, invited))
    }
}

/// Delivery strength f_s of each of `sites` sites: approximately standard
/// normal (the sum of twelve uniforms − 6), from the seed; site s has the
/// same strength whatever the number of sites.
fn site_strength(seed: u64, sites: usize) -> Vec<f64> {
    let mut rng = Rng::new(seed, DELIVERY_STREAM);
    (0..sites)
        .map(|_| (0..12).map(|_| rng.uniform()).sum::<f64>() - 6.0)
        .collect()
}

/// The events of person `i` (`p`, with its register weeks) up to the week
/// `last`: (week, event type), from the person's own delivery stream.
fn person_events(
    seed: u64,
    strength: &[f64],
    i: usize,
    p: &Person,
    last: Week,
) -> Vec<(Week, &'static str)> {
    let mut rng = Rng::new(seed ^ DELIVERY_STREAM, i as u64);
    let shift = 0.6 * strength.get(p.block).copied().unwrap_or(0.0);
    let chance = |treated: f64, control: f64| {
        expit(logit(if p.arm_treated { treated } else { control }) + shift)
    };
    let mut out = Vec::new();
    let mut push = |k: i32, event: &'static str| {
        let week = p.referral.plus(k);
        if week <= last {
            out.push((week, event));
        }
    };
    let horizon = last.index() - p.referral.index();
    if rng.bernoulli(0.02) {
        push(-1, "talk");
    }
    let first = if rng.bernoulli(chance(0.90, 0.55)) {
        rng.below(4) as i32
    } else {
        4 + rng.below(6) as i32
    };
    push(first, "talk");
    let every = chance(0.985, 0.70);
    for window in (first / 4 + 1).. {
        if window * 4 > horizon {
            break;
        }
        if rng.bernoulli(every) {
            push(window * 4 + rng.below(4) as i32, "talk");
        }
    }
    for (event, treated, control) in [("cv", 0.82, 0.50), ("plan", 0.99, 0.75)] {
        let k = if rng.bernoulli(chance(treated, control)) {
            rng.below(4) as i32
        } else {
            4 + rng.below(10) as i32
        };
        push(k, event);
    }
    // A placement event where a placement or subsidy spell starts.
    let active =
        |c: Option<usize>| c.is_some_and(|c| matches!(CODES[c].1, WORK_PLACEMENT | WAGE_SUBSIDY));
    let mut before = false;
    for &(week, code, _) in &p.weeks {
        let now = active(code);
        let k = week.index() - p.referral.index();
        if now && !before && k >= 0 {
            push(k, "placement");
            if rng.bernoulli(chance(0.85, 0.55)) {
                push(k + rng.below(2) as i32, "plan_update");
            } else if rng.bernoulli(0.5) {
                push(k + 2 + rng.below(4) as i32, "plan_update");
            }
        }
        before = now;
    }
    out
}

/// Write the event log of the trial of `config` to `dir/events.csv`
/// without holding the trial in memory, `chunk` persons at a time: the
/// rows of [`SimulatedTrial::event_log`] for the same settings, for
/// register-scale runs (the `large_register` example).
pub fn write_event_log(config: &TrialSpec, dir: &Path, chunk: usize) -> Result<()> {
    use std::io::Write as _;
    validate(config)?;
    let path = dir.join("events.csv");
    let fail = |e: std::io::Error| Error::Write {
        file: path.clone(),
        message: e.to_string(),
    };
    let mut out = std::io::BufWriter::new(std::fs::File::create(&path).map_err(fail)?);
    writeln!(out, "person_id,date,event").map_err(fail)?;
    let design = Assignment::draw(config);
    let strength = site_strength(config.seed, config.blocks);
    let last = config.register_weeks().1;
    for first in (0..config.persons).step_by(chunk.max(1)) {
        let lines: Vec<String> = (first..(first + chunk.max(1)).min(config.persons))
            .into_par_iter()
            .map(|i| {
                let mut weeks = Vec::new();
                let mut p = design.person(config, i, |w, c, h| weeks.push((w, c, h)));
                p.weeks = weeks;
                let id = person_id(i);
                person_events(config.seed, &strength, i, &p, last)
                    .into_iter()
                    .map(|(week, event)| format!("{id},{week},{event}\n"))
                    .collect()
            })
            .collect();
        for l in lines {
            out.write_all(l.as_bytes()).map_err(fail)?;
        }
    }
    out.flush().map_err(fail)
}
