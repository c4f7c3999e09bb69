//! How numbers in the result contract are written: durations, percentages
//! and lists. The engine writes some contract fields with them and the
//! reports write the rest, so both agree to the character.

/// A duration in the largest units that keep it exact, e.g. `1h 5m`, `90ms`.
pub fn duration(millis: i64) -> String {
    if millis < 0 {
        return format!("-{}", duration(millis.saturating_neg()));
    }
    if millis == 0 {
        return "0s".to_string();
    }
    let units = [
        (86_400_000, "d"),
        (3_600_000, "h"),
        (60_000, "m"),
        (1_000, "s"),
        (1, "ms"),
    ];
    let mut rest = millis;
    let mut parts = Vec::new();
    for (size, unit) in units {
        if rest >= size {
            parts.push(format!("{}{unit}", rest / size));
            rest %= size;
        }
    }
    parts.join(" ")
}

/// Numbers joined with commas, e.g. `1, 4, 7`.
pub fn join_numbers(numbers: &[usize]) -> String {
    numbers
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A ratio as a percentage with one decimal, e.g. `33.3%`.
pub fn percent(ratio: f64) -> String {
    format!("{:.1}%", ratio * 100.0)
}

/// A change of a ratio in percentage points, signed, e.g. `-66.7`.
pub fn points(change: f64) -> String {
    let value = change * 100.0;
    // `-0.0` prints as `-0.0`; a change that rounds to nothing is `+0.0`.
    if value.abs() < 0.05 {
        "+0.0".to_string()
    } else {
        format!("{value:+.1}")
    }
}
