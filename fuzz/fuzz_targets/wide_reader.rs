//! Any bytes as a DREAM-wide register (CSV) for a fixed two-person trial:
//! an error or a panel, never a panic.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use trialpanel::{CodeTable, Panel, PersonSpec, Persons, WideColumns};

fn setup() -> &'static (Persons, CodeTable, PathBuf) {
    static SETUP: OnceLock<(Persons, CodeTable, PathBuf)> = OnceLock::new();
    SETUP.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("trialpanel-fuzz-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("temp dir");
        let persons = dir.join("persons.csv");
        std::fs::write(
            &persons,
            "person_id,arm,referral_week\nA,treatment,2016-W10\nB,control,2016-W11\n",
        )
        .expect("persons");
        let persons = Persons::read(&persons, &PersonSpec::default()).expect("persons");
        let codes = CodeTable::from_pairs([("111", "benefit"), ("651", "work_placement")])
            .expect("codes");
        (persons, codes, dir.join("register.csv"))
    })
}

fuzz_target!(|data: &[u8]| {
    let (persons, codes, path) = setup();
    if std::fs::write(path, data).is_err() {
        return;
    }
    let columns = WideColumns {
        hours_prefix: Some("h_".into()),
        ..WideColumns::default()
    };
    if let Ok(panel) = Panel::builder(persons, codes).wide_file(path, &columns) {
        // A panel that loads answers every query.
        let _ = panel.at_risk_all();
        for k in panel.event_weeks() {
            let _ = panel.categories(k);
        }
    }
});
