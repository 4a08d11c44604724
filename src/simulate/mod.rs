//! A seeded simulator of DREAM-style employment trials.
//!
//! [`simulate`] draws a randomised trial: persons in blocks (municipalities)
//! randomised within block, staggered referral weeks, baseline covariates,
//! and for every calendar week from a year before the first referral to the
//! data extract a benefit category with its code and the ordinary hours
//! worked. The weekly process is persistent (Markov):
//!
//! * the category moves between *benefit*, *work placement*, *wage subsidy*
//!   and *none* (self-supporting) with weekly transition probabilities that
//!   depend on the arm and the event week;
//! * employment is an on/off Markov chain whose entry rate depends on the
//!   person's employability (age, education, a latent factor), the arm and
//!   the event week; a job has its own typical hours with weekly jitter.
//!
//! The treatment changes placement and subsidy entry and the job entry rate,
//! scaled by [`TrialSpec::effect`] (1 = the JobFirst-like default, 0 = no
//! effect at all: both arms then follow the control process exactly).
//!
//! The defaults land near the JobFirst midway evaluation's figures (2017): about 7% vs
//! 12% with any ordinary hours at week 35, mean hours 1 h 20 min vs 2 h,
//! treatment placements rising to about a third and falling, and a 13-week
//! activity spell completed by about 20% vs over 50% at week 44. **The data
//! are synthetic**: no real person is in them.
//!
//! Three ways out, with the same draws: [`simulate`] gives the three input
//! tables as polars frames; [`simulate_panel`] writes straight into a
//! [`Panel`] (no register in memory: for register-scale runs);
//! [`write_register`] writes the files, the register to Parquet a chunk of
//! persons at a time. The register-scale scenario of the benchmarks and
//! the `large_register` example is `benches/common/scale.rs`.
//!
//! Determinism: each person has an RNG stream of its own derived from the
//! seed and the person's number, and only integer-derived uniforms are used,
//! so the same seed gives bit-identical data on every platform and with any
//! number of threads.

mod frames;

use frames::{codes_frame, col, frame, frames, persons_frame, register_frame};
use std::ops::RangeInclusive;
use std::path::Path;

use polars::prelude::DataFrame;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::inputs::codes::{Category, CodeTable, WAGE_SUBSIDY, WORK_PLACEMENT};
use crate::inputs::{PersonSpec, Persons};
use crate::panel::{HOURS_SCALE, Panel, Put};
use crate::rng::Rng;
use crate::weeks::Week;
use crate::write::{ParquetBatches, write_csv};

pub mod delivery;

/// Category name of ordinary benefits in the simulated code table.
pub const BENEFIT: &str = "benefit";

/// Settings of a simulated trial. [`TrialSpec::default`] is the
/// JobFirst-like sample.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TrialSpec {
    /// Seed of all random draws.
    pub seed: u64,
    /// Number of persons.
    pub persons: usize,
    /// Share randomised to treatment within each block.
    pub treatment_share: f64,
    /// Number of blocks (municipalities).
    pub blocks: usize,
    /// Week of the first referral.
    pub first_referral: Week,
    /// Referrals are spread over this many weeks from the first.
    pub referral_span: u32,
    /// The extract (end of the register) is this many weeks after the first referral.
    pub follow_up: u32,
    /// Weeks of register history before the first referral.
    pub history: u32,
    /// Scale of the treatment effect: 1 = JobFirst-like, 0 = none.
    pub effect: f64,
    /// Share of persons whose follow-up ends (death, or emigration for two
    /// in three) at a uniform week between referral and the extract; the
    /// register holds the death or emigration code that week and is blank
    /// after it. Drawn from its own seeded stream, so the other persons'
    /// weeks do not change. Default 0 (none); the bundled sample uses 0.01.
    pub ended: f64,
}

impl Default for TrialSpec {
    fn default() -> Self {
        TrialSpec {
            seed: 20_160_307,
            persons: 3_000,
            treatment_share: 0.5,
            blocks: 15,
            first_referral: Week::from_index(2_410), // 2016-W10, checked in tests
            referral_span: 41,
            follow_up: 44,
            history: 52,
            effect: 1.0,
            ended: 0.0,
        }
    }
}

/// A simulated trial: the three input tables as polars frames.
#[derive(Clone, Debug)]
pub struct SimulatedTrial {
    /// `person_id, arm, referral_week, municipality, age, female, education, children`.
    pub persons: DataFrame,
    /// Long register: `person_id, week, code, hours`, one row per person-week
    /// with a code or hours (absent rows mean blank code and 0 hours).
    pub register: DataFrame,
    /// `code, category`.
    pub codes: DataFrame,
    /// First and last register week.
    pub weeks: (Week, Week),
    people: Vec<Person>,
    /// The seed, for the delivery draws ([`delivery`]).
    seed: u64,
}

/// Benefit codes of the simulated register. Illustrative, not the official
/// DREAM code list.
const CODES: [(&str, &str); 8] = [
    ("111", BENEFIT),
    ("130", BENEFIT),
    ("651", WORK_PLACEMENT),
    ("652", WORK_PLACEMENT),
    ("621", WAGE_SUBSIDY),
    ("622", WAGE_SUBSIDY),
    ("990", DEATH),
    ("995", EMIGRATION),
];

/// Synthetic weekly unit costs (DKK) per category of [`CODES`]: the
/// `cost_per_week` column of the simulated code table.
fn cost_per_week(category: &str) -> f64 {
    match category {
        BENEFIT => 4300.0,
        WORK_PLACEMENT => 5000.0,
        WAGE_SUBSIDY => 6500.0,
        _ => 0.0,
    }
}

/// Categories of the codes that end follow-up ([`TrialSpec::ended`]).
const DEATH: &str = "death";
const EMIGRATION: &str = "emigration";
/// Their indices into [`CODES`].
const DEATH_CODE: usize = 6;
const EMIGRATION_CODE: usize = 7;

/// Stream of the end-of-follow-up draws, apart from the persons' own.
const ENDED_STREAM: u64 = 0x656e_6465_645f_6675;

/// Persistent states of the category process.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum State {
    Benefit,
    Placement,
    Subsidy,
    None,
}

/// Weekly probabilities of the processes (for one person, arm and week).
struct Rates {
    benefit_to_placement: f64,
    benefit_to_subsidy: f64,
    benefit_to_none: f64,
    placement_exit: f64,
    placement_to_subsidy: f64,
    subsidy_exit: f64,
    none_exit: f64,
    job_entry: f64,
    job_exit: f64,
}

impl Rates {
    /// Rates at event week `k` for an arm with effect scale `effect`
    /// (0 for control), for a person with employability `emp` (mean ≈ 1).
    fn at(k: i32, effect: f64, emp: f64) -> Rates {
        let after = k >= 0;
        // The treatment's company-directed push is strongest in the first
        // 20 weeks after referral and fades afterwards.
        let push = if !after {
            0.0
        } else if k < 20 {
            effect
        } else {
            effect * 0.35
        };
        Rates {
            benefit_to_placement: if after { 0.0065 } else { 0.002 } + 0.030 * push,
            benefit_to_subsidy: if after { 0.0010 } else { 0.0004 } + 0.0004 * push,
            benefit_to_none: 0.003,
            placement_exit: 0.045,
            placement_to_subsidy: if after {
                0.002 + 0.0015 * effect
            } else {
                0.001
            },
            subsidy_exit: 0.04,
            none_exit: 0.06,
            job_entry: emp
                * if after {
                    0.0028 + 0.0028 * effect
                } else {
                    0.001
                },
            job_exit: 0.03,
        }
    }
}

/// Hours of a job: bucket weights over (0,5], (5,10], (10,15], (15,20],
/// (20,30], (30,37], (37,45].
const HOUR_BUCKETS: [(f64, f64, f64); 7] = [
    (0.0, 5.0, 0.20),
    (5.0, 10.0, 0.18),
    (10.0, 15.0, 0.14),
    (15.0, 20.0, 0.13),
    (20.0, 30.0, 0.15),
    (30.0, 37.0, 0.15),
    (37.0, 45.0, 0.05),
];

#[derive(Clone, Debug)]
struct Person {
    arm_treated: bool,
    referral: Week,
    block: usize,
    age: u32,
    female: bool,
    education: Option<&'static str>,
    children: bool,
    /// (week, code index into CODES or None for blank, hours)
    weeks: Vec<(Week, Option<usize>, f64)>,
}

/// Simulate a trial with the given settings.
pub fn simulate(config: &TrialSpec) -> Result<SimulatedTrial> {
    validate(config)?;
    let (start, extract) = config.register_weeks();
    let design = Assignment::draw(config);
    let people: Vec<Person> = (0..config.persons)
        .into_par_iter()
        .map(|i| {
            let mut weeks = Vec::with_capacity((extract.index() - start.index() + 1) as usize);
            let mut person = design.person(config, i, |week, code, hours| {
                weeks.push((week, code, hours));
            });
            person.weeks = weeks;
            person
        })
        .collect();
    frames(people, (start, extract), config.seed)
}

/// Simulate a trial straight into a [`Panel`] holding event weeks
/// `event_weeks`, without building the register: the same persons and
/// weeks as [`simulate`] with the same settings (a test checks that the two
/// panels are equal), in a fraction of the memory. For register-scale
/// benchmarks: a long register of 1M persons would have ~10⁸ rows.
///
/// The person table is read with [`person_spec`]; the panel observes the
/// register weeks of [`simulate`] (from `history` weeks before the first
/// referral to the extract).
pub fn simulate_panel(config: &TrialSpec, event_weeks: RangeInclusive<i32>) -> Result<Panel> {
    validate(config)?;
    let (start, extract) = config.register_weeks();
    let design = Assignment::draw(config);
    let people: Vec<Person> = (0..config.persons)
        .into_par_iter()
        .map(|i| design.person(config, i, |_, _, _| {}))
        .collect();
    let persons = Persons::from_frame(persons_frame(&people)?, "persons", &person_spec())?;
    drop(people);
    let codes = code_table()?;
    let category: Vec<Category> = CODES
        .iter()
        .map(|(_, name)| codes.category(name).unwrap_or(Category::NONE))
        .collect();
    let builder = Panel::builder(&persons, &codes)
        .observed_from(start)
        .observed_until(extract)
        .event_weeks(*event_weeks.start(), *event_weeks.end());
    let mut grid = builder.grid(Some((start, extract)))?;
    // In panel order, so that neighbouring persons write neighbouring cells.
    let (rows, outside) = grid
        .order()
        .par_chunks(1024)
        .map(|chunk| {
            let (mut rows, mut outside) = (0usize, 0usize);
            for &row in chunk {
                design.person(config, row, |week, code, h| {
                    let present = code.is_some() || h > 0.0;
                    rows += usize::from(present);
                    let c = code.map_or(Category::NONE, |c| category[c]);
                    // Simulated hours are quarter hours below 48.
                    let centihours = (h * HOURS_SCALE).round() as u16;
                    let put = grid.put(&persons, row, week, c, centihours);
                    outside += usize::from(present && put == Put::Outside);
                });
            }
            (rows, outside)
        })
        .reduce(|| (0, 0), |a, b| (a.0 + b.0, a.1 + b.1));
    grid.report.rows = rows;
    grid.report.rows_outside_window = outside;
    builder.finish(grid, None)
}

/// Write the trial of `config` to `dir` as `persons.csv`, `codes.csv` and
/// `register_long.parquet` without holding the register in memory: the
/// register is simulated and written `chunk` persons at a time, one Parquet
/// row group per chunk. The files equal those of [`simulate`] and
/// [`SimulatedTrial::write`] up to row groups. For registers too large for
/// [`simulate`] (a 1M-person register has about 10⁸ rows).
pub fn write_register(config: &TrialSpec, dir: &Path, chunk: usize) -> Result<()> {
    validate(config)?;
    std::fs::create_dir_all(dir).map_err(|e| Error::Write {
        file: dir.to_path_buf(),
        message: e.to_string(),
    })?;
    let design = Assignment::draw(config);
    let people: Vec<Person> = (0..config.persons)
        .into_par_iter()
        .map(|i| design.person(config, i, |_, _, _| {}))
        .collect();
    write_csv(&mut persons_frame(&people)?, &dir.join("persons.csv"))?;
    drop(people);
    write_csv(&mut codes_frame()?, &dir.join("codes.csv"))?;
    let mut writer = None;
    for first in (0..config.persons).step_by(chunk.max(1)) {
        let people: Vec<Person> = (first..(first + chunk.max(1)).min(config.persons))
            .into_par_iter()
            .map(|i| {
                let mut weeks = Vec::new();
                let mut person = design.person(config, i, |w, c, h| weeks.push((w, c, h)));
                person.weeks = weeks;
                person
            })
            .collect();
        let batch = register_frame(&people, first)?;
        let w = match &mut writer {
            Some(w) => w,
            None => writer.insert(ParquetBatches::create(
                &dir.join("register_long.parquet"),
                &batch,
            )?),
        };
        w.write(&batch)?;
    }
    writer.map_or(Ok(()), ParquetBatches::finish)
}

/// The [`PersonSpec`] of the simulated person table: blocks in
/// `municipality`, covariates `age, female, education, children`.
pub fn person_spec() -> PersonSpec {
    PersonSpec::default()
        .block_column("municipality")
        .covariate_columns(&["age", "female", "education", "children"])
}

/// The simulated code table (codes of [`SimulatedTrial::codes`]).
pub fn code_table() -> Result<CodeTable> {
    CodeTable::from_frame(codes_frame()?, "simulated codes")
}

impl TrialSpec {
    /// The bundled sample (`data-samples/jobfirst`, made by the
    /// `make_sample` example): the defaults with 1% of the persons reaching
    /// a death or emigration code that ends their follow-up.
    pub fn sample() -> TrialSpec {
        TrialSpec {
            ended: 0.01,
            ..TrialSpec::default()
        }
    }

    /// First and last register week: `history` weeks before the first
    /// referral to the extract, `follow_up` weeks after it.
    fn register_weeks(&self) -> (Week, Week) {
        (
            self.first_referral.plus(-(self.history as i32)),
            self.first_referral.plus(self.follow_up as i32),
        )
    }
}

/// The design draws: blocks, referral weeks and the randomisation within
/// blocks (one sequential stream).
struct Assignment {
    block: Vec<usize>,
    referral: Vec<Week>,
    treated: Vec<bool>,
}

impl Assignment {
    fn draw(config: &TrialSpec) -> Assignment {
        let mut design = Rng::new(config.seed, u64::MAX);
        let block_weights: Vec<f64> = (0..config.blocks)
            .scan(0.0, |acc, _| {
                *acc += 0.5 + design.uniform();
                Some(*acc)
            })
            .collect();
        // Referrals are front-loaded: weight falls linearly to 30% over the span.
        let span = config.referral_span.max(1);
        let referral_weights: Vec<f64> = (0..span)
            .scan(0.0, |acc, j| {
                *acc += 1.0 - 0.7 * f64::from(j) / f64::from(span);
                Some(*acc)
            })
            .collect();
        let mut block = Vec::with_capacity(config.persons);
        let mut referral = Vec::with_capacity(config.persons);
        for _ in 0..config.persons {
            block.push(design.pick(&block_weights));
            referral.push(
                config
                    .first_referral
                    .plus(design.pick(&referral_weights) as i32),
            );
        }
        let mut members: Vec<Vec<usize>> = vec![Vec::new(); config.blocks];
        for (i, &b) in block.iter().enumerate() {
            members[b].push(i);
        }
        let mut treated = vec![false; config.persons];
        for m in &mut members {
            design.shuffle(m);
            let n_treat = (m.len() as f64 * config.treatment_share).round() as usize;
            for &i in &m[..n_treat] {
                treated[i] = true;
            }
        }
        Assignment {
            block,
            referral,
            treated,
        }
    }

    /// Person `i` (its own stream), calling `week(week, code, hours)` for
    /// every register week; the returned person has no `weeks`.
    fn person(
        &self,
        config: &TrialSpec,
        i: usize,
        week: impl FnMut(Week, Option<usize>, f64),
    ) -> Person {
        let (start, end) = config.register_weeks();
        let mut week = week;
        // The week the follow-up ends, and its code, from a stream of its own.
        let ended = (config.ended > 0.0)
            .then(|| {
                let mut rng = Rng::new(config.seed ^ ENDED_STREAM, i as u64);
                let hit = rng.uniform() < config.ended;
                let span = end.index() - self.referral[i].index() + 1;
                let at = self.referral[i].plus(rng.below(span.max(1) as u64) as i32);
                let code = if rng.uniform() < 1.0 / 3.0 {
                    DEATH_CODE
                } else {
                    EMIGRATION_CODE
                };
                hit.then_some((at, code))
            })
            .flatten();
        simulate_person(
            &mut Rng::new(config.seed, i as u64),
            self.treated[i],
            self.referral[i],
            self.block[i],
            config.effect,
            (start, end),
            |w, code, hours| match ended {
                Some((at, c)) if w == at => week(w, Some(c), 0.0),
                Some((at, _)) if w > at => week(w, None, 0.0),
                _ => week(w, code, hours),
            },
        )
    }
}

fn validate(config: &TrialSpec) -> Result<()> {
    let bad = |name: &str, reason: &str| {
        Err(Error::InvalidSetting {
            name: name.into(),
            reason: reason.into(),
        })
    };
    if config.persons < 2 {
        return bad("persons", "at least 2 persons are needed");
    }
    if config.blocks == 0 {
        return bad("blocks", "at least one block is needed");
    }
    if !(config.treatment_share > 0.0 && config.treatment_share < 1.0) {
        return bad("treatment_share", "must be strictly between 0 and 1");
    }
    if config.referral_span > config.follow_up + 1 {
        return bad(
            "referral_span",
            "referrals must fall before the extract week",
        );
    }
    if !config.effect.is_finite() || config.effect < 0.0 || config.effect > 2.0 {
        return bad("effect", "must be between 0 and 2");
    }
    if !(0.0..=1.0).contains(&config.ended) {
        return bad("ended", "must be a share between 0 and 1");
    }
    Ok(())
}

fn simulate_person(
    rng: &mut Rng,
    treated: bool,
    referral: Week,
    block: usize,
    effect: f64,
    (start, end): (Week, Week),
    mut emit: impl FnMut(Week, Option<usize>, f64),
) -> Person {
    let age = 18 + rng.below(47) as u32;
    let female = rng.bernoulli(0.48);
    let children = rng.bernoulli(if age < 45 { 0.4 } else { 0.2 });
    let education = {
        let u = rng.uniform();
        if u < 0.03 {
            None
        } else if u < 0.45 {
            Some("compulsory")
        } else if u < 0.85 {
            Some("vocational")
        } else {
            Some("higher")
        }
    };
    let mut emp = 0.5 + rng.uniform();
    emp *= match education {
        Some("compulsory") => 0.75,
        Some("higher") => 1.4,
        _ => 1.0,
    };
    if age < 30 {
        emp *= 1.25;
    } else if age >= 55 {
        emp *= 0.7;
    }
    let benefit_code = if rng.bernoulli(0.4) { 0 } else { 1 };
    let placement_code = 2 + rng.below(2) as usize;
    let subsidy_code = 4 + rng.below(2) as usize;
    let effect = if treated { effect } else { 0.0 };

    // Start near the pre-referral steady state.
    let mut state = match rng.uniform() {
        u if u < 0.02 => State::Placement,
        u if u < 0.03 => State::Subsidy,
        u if u < 0.07 => State::None,
        _ => State::Benefit,
    };
    let pre = Rates::at(-1, 0.0, emp);
    let mut job_hours = rng
        .bernoulli(pre.job_entry / (pre.job_entry + pre.job_exit))
        .then(|| draw_job_hours(rng));
    for w in start.index()..=end.index() {
        let week = Week::from_index(w);
        let k = week.event_week(referral);
        let r = Rates::at(k, effect, emp);
        state = step(rng, state, &r);
        job_hours = match job_hours {
            Some(_) if rng.bernoulli(r.job_exit) => None,
            Some(h) => Some(h),
            None if rng.bernoulli(r.job_entry) => Some(draw_job_hours(rng)),
            None => None,
        };
        let hours = job_hours.map_or(0.0, |h| {
            // Weekly jitter of ±2 hours in quarter hours, never below 0.25.
            let jitter = (rng.below(17) as f64 - 8.0) * 0.25;
            (h + jitter).max(0.25)
        });
        let code = match state {
            State::Benefit => Some(benefit_code),
            State::Placement => Some(placement_code),
            State::Subsidy => Some(subsidy_code),
            State::None => None,
        };
        emit(week, code, hours);
    }
    Person {
        arm_treated: treated,
        referral,
        block,
        age,
        female,
        education,
        children,
        weeks: Vec::new(),
    }
}

fn step(rng: &mut Rng, state: State, r: &Rates) -> State {
    let u = rng.uniform();
    match state {
        State::Benefit => {
            if u < r.benefit_to_placement {
                State::Placement
            } else if u < r.benefit_to_placement + r.benefit_to_subsidy {
                State::Subsidy
            } else if u < r.benefit_to_placement + r.benefit_to_subsidy + r.benefit_to_none {
                State::None
            } else {
                State::Benefit
            }
        }
        State::Placement => {
            if u < r.placement_to_subsidy {
                State::Subsidy
            } else if u < r.placement_to_subsidy + r.placement_exit {
                State::Benefit
            } else {
                State::Placement
            }
        }
        State::Subsidy if u < r.subsidy_exit => State::Benefit,
        State::None if u < r.none_exit => State::Benefit,
        other => other,
    }
}

fn draw_job_hours(rng: &mut Rng) -> f64 {
    let mut cum = [0.0; HOUR_BUCKETS.len()];
    let mut acc = 0.0;
    for (c, b) in cum.iter_mut().zip(&HOUR_BUCKETS) {
        acc += b.2;
        *c = acc;
    }
    let (lo, hi, _) = HOUR_BUCKETS[rng.pick(&cum)];
    // Quarter hours strictly inside (lo, hi].
    let steps = ((hi - lo) * 4.0) as u64;
    lo + 0.25 * (1 + rng.below(steps)) as f64
}

/// `Kommune A` … `Kommune Z`, then `Kommune 27`, `Kommune 28`, ….
fn block_name(b: usize) -> String {
    match u8::try_from(b) {
        Ok(b) if b < 26 => format!("Kommune {}", char::from(b'A' + b)),
        _ => format!("Kommune {}", b + 1),
    }
}

fn person_id(i: usize) -> String {
    format!("P{:06}", i + 1)
}
