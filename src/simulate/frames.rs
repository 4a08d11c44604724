//! The simulated trial as frames and files: the person table, the long
//! and DREAM-wide registers and the code table.

use std::path::Path;

use polars::prelude::{Column as PlColumn, DataFrame, IntoColumn, NamedFrom, Series};

use super::{
    CODES, DEATH, EMIGRATION, Person, SimulatedTrial, block_name, cost_per_week, person_id,
};
use crate::error::{Error, Result};
use crate::weeks::Week;
use crate::write::{write_csv, write_parquet};

pub(super) fn frame(cols: Vec<PlColumn>) -> Result<DataFrame> {
    let height = cols.first().map_or(0, |c| c.len());
    DataFrame::new(height, cols).map_err(|e| Error::Internal {
        what: "a simulated table".into(),
        message: e.to_string(),
    })
}

pub(super) fn ids_column(n: usize) -> PlColumn {
    Series::new(
        "person_id".into(),
        (0..n).map(person_id).collect::<Vec<_>>(),
    )
    .into_column()
}

pub(super) fn col(name: &str, s: Series) -> PlColumn {
    s.with_name(name.into()).into_column()
}

pub(super) fn persons_frame(people: &[Person]) -> Result<DataFrame> {
    let n = people.len();
    frame(vec![
        ids_column(n),
        col(
            "arm",
            Series::new(
                "".into(),
                people
                    .iter()
                    .map(|p| {
                        if p.arm_treated {
                            "treatment"
                        } else {
                            "control"
                        }
                    })
                    .collect::<Vec<_>>(),
            ),
        ),
        col(
            "referral_week",
            Series::new(
                "".into(),
                people
                    .iter()
                    .map(|p| p.referral.to_string())
                    .collect::<Vec<_>>(),
            ),
        ),
        col(
            "municipality",
            Series::new(
                "".into(),
                people
                    .iter()
                    .map(|p| block_name(p.block))
                    .collect::<Vec<_>>(),
            ),
        ),
        col(
            "age",
            Series::new("".into(), people.iter().map(|p| p.age).collect::<Vec<_>>()),
        ),
        col(
            "female",
            Series::new(
                "".into(),
                people
                    .iter()
                    .map(|p| u32::from(p.female))
                    .collect::<Vec<_>>(),
            ),
        ),
        col(
            "education",
            Series::new(
                "".into(),
                people.iter().map(|p| p.education).collect::<Vec<_>>(),
            ),
        ),
        col(
            "children",
            Series::new(
                "".into(),
                people
                    .iter()
                    .map(|p| u32::from(p.children))
                    .collect::<Vec<_>>(),
            ),
        ),
    ])
}

/// The long register rows of `people`, the first of whom is person number
/// `first`: one row per week with a code or hours.
pub(super) fn register_frame(people: &[Person], first: usize) -> Result<DataFrame> {
    let (mut ids, mut wk, mut code, mut hours) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (i, p) in people.iter().enumerate() {
        for &(w, c, h) in &p.weeks {
            if c.is_some() || h > 0.0 {
                ids.push(person_id(first + i));
                wk.push(w.to_string());
                code.push(c.map(|c| CODES[c].0));
                hours.push(h);
            }
        }
    }
    frame(vec![
        col("person_id", Series::new("".into(), ids)),
        col("week", Series::new("".into(), wk)),
        col("code", Series::new("".into(), code)),
        col("hours", Series::new("".into(), hours)),
    ])
}

pub(super) fn frames(
    people: Vec<Person>,
    weeks: (Week, Week),
    seed: u64,
) -> Result<SimulatedTrial> {
    let persons = persons_frame(&people)?;
    let register = register_frame(&people, 0)?;
    Ok(SimulatedTrial {
        persons,
        register,
        codes: codes_frame()?,
        weeks,
        people,
        seed,
    })
}

pub(super) fn codes_frame() -> Result<DataFrame> {
    frame(vec![
        col(
            "code",
            Series::new("".into(), CODES.iter().map(|c| c.0).collect::<Vec<_>>()),
        ),
        col(
            "category",
            Series::new("".into(), CODES.iter().map(|c| c.1).collect::<Vec<_>>()),
        ),
        col(
            crate::inputs::codes::ENDS_FOLLOWUP,
            Series::new(
                "".into(),
                CODES
                    .iter()
                    .map(|c| i32::from(c.1 == DEATH || c.1 == EMIGRATION))
                    .collect::<Vec<_>>(),
            ),
        ),
        col(
            crate::inputs::codes::COST_PER_WEEK,
            Series::new(
                "".into(),
                CODES.iter().map(|c| cost_per_week(c.1)).collect::<Vec<_>>(),
            ),
        ),
    ])
}

impl SimulatedTrial {
    /// The register in DREAM-wide form: `person_id`, a code column `y_YYWW`
    /// per week (blank = no benefit) and an hours column `h_YYWW` per week.
    pub fn wide_register(&self) -> Result<DataFrame> {
        let (first, last) = self.weeks;
        let n_weeks = (last.index() - first.index() + 1) as usize;
        let people = &self.people;
        let mut cols = vec![ids_column(people.len())];
        for j in 0..n_weeks {
            let name = first.plus(j as i32).dream_column("y_");
            let codes: Vec<Option<&str>> = people
                .iter()
                .map(|p| p.weeks[j].1.map(|c| CODES[c].0))
                .collect();
            cols.push(Series::new(name.into(), codes).into_column());
        }
        for j in 0..n_weeks {
            let name = first.plus(j as i32).dream_column("h_");
            let hours: Vec<f64> = people.iter().map(|p| p.weeks[j].2).collect();
            cols.push(Series::new(name.into(), hours).into_column());
        }
        frame(cols)
    }

    /// Write the sample files into `dir`: `persons.csv`, `codes.csv`,
    /// `register_long.parquet`, `register_long.csv` (optional, large) and
    /// `register_wide.csv`.
    pub fn write(&self, dir: &Path, long_csv: bool) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::Write {
            file: dir.to_path_buf(),
            message: e.to_string(),
        })?;
        write_csv(&mut self.persons.clone(), &dir.join("persons.csv"))?;
        write_csv(&mut self.codes.clone(), &dir.join("codes.csv"))?;
        write_parquet(
            &mut self.register.clone(),
            &dir.join("register_long.parquet"),
        )?;
        if long_csv {
            write_csv(&mut self.register.clone(), &dir.join("register_long.csv"))?;
        }
        write_csv(&mut self.wide_register()?, &dir.join("register_wide.csv"))
    }
}
