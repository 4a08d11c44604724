//! Any text as an analysis file: an error, or settings that print as TOML
//! and read back to the same settings.
#![no_main]

use std::path::Path;

use libfuzzer_sys::fuzz_target;
use trialpanel::analysis::AnalysisConfig;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(config) = AnalysisConfig::from_toml(text, Path::new("fuzz.toml")) {
        let printed = config.to_toml().expect("valid settings print");
        let again = AnalysisConfig::from_toml(&printed, Path::new("printed.toml"))
            .unwrap_or_else(|e| panic!("printed settings do not read back: {e}\n{printed}"));
        assert_eq!(config, again, "{printed}");
    }
});
