//! The JobFirst-like analysis on the bundled synthetic sample.
//!
//! ```text
//! cargo run --release --example jobfirst
//! ```
//!
//! Loads the person table, the code table and the long register from
//! `data-samples/jobfirst/`, aligns everyone on their referral week with
//! follow-up censoring at the data extract, and prints the number of persons
//! followed per event week and arm.

use trialpanel::{CodeTable, LongColumns, Panel, PersonSpec, Persons};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/jobfirst");
    let persons = Persons::read(
        dir.join("persons.csv"),
        &PersonSpec::default().block_column("municipality"),
    )?;
    let codes = CodeTable::read(dir.join("codes.csv"))?;
    let panel = Panel::builder(&persons, &codes)
        .long_file(dir.join("register_long.parquet"), &LongColumns::default())?;

    let blocks = persons.blocks().labels.len();
    println!(
        "{} persons in {} blocks; register {} to {}; event weeks {:?}",
        panel.n_persons(),
        blocks,
        panel.observed_from(),
        panel.observed_until(),
        panel.event_weeks()
    );
    println!();
    println!("Persons followed per event week (k = calendar week − referral week)");
    println!("{:>5} {:>9} {:>9}", "week", "treatment", "control");
    for r in panel.at_risk_all().iter().filter(|r| r.week >= 0) {
        println!("{:>5} {:>9} {:>9}", r.week, r.treatment, r.control);
    }
    Ok(())
}
