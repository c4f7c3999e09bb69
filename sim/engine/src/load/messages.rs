//! Small text helpers of the loader's messages: a first line, a shortened
//! value, the closest known name to a typo.

pub(super) fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or("")
}

pub(super) fn truncate(text: &str) -> String {
    if text.chars().count() > 80 {
        format!("{}…", text.chars().take(80).collect::<String>())
    } else {
        text.to_string()
    }
}

/// The candidate closest to `written` by edit distance, when it is close
/// enough to be a likely typo (two edits, or a third of its length, away).
pub(super) fn closest(written: &str, candidates: &[String]) -> Option<String> {
    let distance = |a: &str, b: &str| {
        let b: Vec<char> = b.chars().collect();
        let mut previous: Vec<usize> = (0..=b.len()).collect();
        for (i, ca) in a.chars().enumerate() {
            let mut current = vec![i + 1];
            for (j, cb) in b.iter().enumerate() {
                let substitute = previous[j] + usize::from(ca != *cb);
                current.push(substitute.min(previous[j + 1] + 1).min(current[j] + 1));
            }
            previous = current;
        }
        previous[b.len()]
    };
    candidates
        .iter()
        .map(|c| (distance(written, c), c))
        .filter(|(d, _)| *d > 0 && *d <= (written.chars().count() / 3).max(2))
        .min()
        .map(|(_, c)| c.clone())
}
