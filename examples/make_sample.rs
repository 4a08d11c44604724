//! Regenerate the bundled synthetic JobFirst-like sample.
//!
//! ```text
//! cargo run --release --example make_sample -- data-samples/jobfirst
//! ```
//!
//! Writes `persons.csv`, `codes.csv` (with synthetic unit costs),
//! `register_long.parquet` and `register_wide.csv` into the given folder,
//! from the simulator's defaults (`TrialSpec::default()`, seed 20160307)
//! with 1% of the persons reaching a death or emigration code that ends
//! their follow-up; and the synthetic delivery data: `events.csv` (the
//! case-management log), `survey.csv` and `invited.csv` (six waves of a
//! staff survey in the 15 municipalities). Same command, same bytes.

use std::path::PathBuf;

use trialpanel::simulate::{TrialSpec, simulate};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "data-samples/jobfirst".into()),
    );
    let config = TrialSpec::sample();
    let trial = simulate(&config)?;
    trial.write(&dir, false)?;
    let (events, answers) = trial.write_delivery(&dir)?;
    println!(
        "wrote {} persons and {} register rows (weeks {} to {}), {} events and {} survey \
         answers to {}",
        trial.persons.height(),
        trial.register.height(),
        trial.weeks.0,
        trial.weeks.1,
        events,
        answers,
        dir.display()
    );
    Ok(())
}
