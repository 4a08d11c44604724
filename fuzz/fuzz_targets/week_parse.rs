//! Any string given as a week: an error or a week that prints and parses
//! back to itself (ISO and DREAM spellings).
#![no_main]

use libfuzzer_sys::fuzz_target;
use trialpanel::Week;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(week) = Week::parse(text) {
        let printed = week.to_string();
        assert_eq!(Week::parse(&printed).ok(), Some(week), "{text:?} → {printed}");
        let (year, _) = week.iso();
        if (1990..2090).contains(&year) {
            let column = week.dream_column("y_");
            assert_eq!(
                Week::from_dream_column(&column, "y_").ok().flatten(),
                Some(week),
                "{column}"
            );
        }
    }
});
