//! Properties checked by the fuzz targets in `fuzz/` and, over their committed
//! seeds, by `cargo test` on stable (`sim/tests/fuzz_seeds.rs`). Each function
//! panics when the property is broken; that is how a fuzzer reports it.

use std::path::Path;

use crate::diag::{Error, SourceFile};
use crate::scenario::{self, LoadOptions};
use crate::time::{self, Instant};

/// Loading any bytes as a scenario file in `folder` never panics, never reads
/// outside `folder`, and either succeeds (and then replays and accounts without
/// panicking) or fails with an error located inside the text it names.
pub fn check_scenario_source(folder: &Path, bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    let file = SourceFile::from_text(
        folder.join("fuzz.toml"),
        "fuzz.toml".to_string(),
        text.to_string(),
    );
    match scenario::load_source(file, &LoadOptions::default()) {
        Ok(loaded) => {
            let result = crate::evaluate(&loaded);
            assert_eq!(
                result.steps.len(),
                loaded.steps.len(),
                "every step is replayed"
            );
        }
        Err(Error::Source(error)) => {
            let location = &error.location;
            let (file, rest) = location.split_once(':').unwrap_or((location.as_str(), ""));
            let mut numbers = rest.split(':').map(|n| n.parse::<usize>().unwrap_or(0));
            let (line, column) = (numbers.next().unwrap_or(0), numbers.next().unwrap_or(0));
            assert!(
                line >= 1 && column >= 1,
                "location `{location}` has no line and column"
            );
            if file == "fuzz.toml" {
                let lines = text.split('\n').count();
                assert!(
                    line <= lines,
                    "location `{location}` is past the last line ({lines})"
                );
            } else {
                assert!(
                    folder.join(file.trim_start_matches("./")).exists() || file.starts_with('<'),
                    "location `{location}` names a file outside the world"
                );
            }
        }
        Err(Error::Io { .. } | Error::Usage(_)) => {}
    }
}

/// Parsing times never panics; a parsed timestamp prints in a form that parses
/// back to the same instant; offsets add up.
pub fn check_time_text(bytes: &[u8]) {
    let Ok(text) = std::str::from_utf8(bytes) else {
        return;
    };
    if let Ok(instant) = Instant::parse_rfc3339(text) {
        let printed = instant.to_string();
        assert_eq!(
            Instant::parse_rfc3339(&printed),
            Ok(instant),
            "`{text}` printed as `{printed}` does not parse back"
        );
    }
    if let Ok(millis) = time::parse_duration(text) {
        assert!(millis >= 0, "`{text}` is a negative duration");
        let start = Instant(0);
        if let Ok(at) = time::parse_time(&format!("+{text}"), start) {
            assert_eq!(at.0, millis);
        }
    }
}
