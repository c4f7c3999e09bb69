//! The Markdown report within the size of a GitHub comment.
//!
//! GitHub refuses pull-request comments over 65,536 characters, and a run of
//! many scenarios, or of scenarios with long traces, says more than that. The
//! report is therefore laid out against a budget, [`MARKDOWN_LIMIT`]
//! characters:
//!
//! 1. When the whole report fits, it is the template's body as it is.
//! 2. Otherwise the overview comes first, and every scenario gets a section
//!    of one of three sizes: in full (the template's `scenario` macro),
//!    compact (`scenario_compact`: verdict, counts, one line per failure and
//!    finding) or none (its row in the overview only, without a link).
//!    Room is given in stages ([`STAGES`]): compact sections for failed
//!    scenarios, then for those with findings; full sections for failed
//!    ones, then for those with findings; compact, then full sections for
//!    passing ones. Within a stage, scenarios are taken in run order, each
//!    one that still fits. Sections stay in run order, and a closing note
//!    (`shortened`) says how many were shortened and where the rest is.
//! 3. When not even the overview fits, it is cut after its last line that
//!    fits, and a note (`cut_short`) says so.
//!
//! Every choice depends on the view alone, so the output is deterministic.

use minijinja::value::Value;
use minijinja::{Error, State};

/// The longest Markdown report, in characters (Unicode scalar values, as
/// GitHub counts them). GitHub refuses comments over 65,536 characters; the
/// rest is left for what a CI step adds around the report (a heading, a
/// marker comment, a link to the job).
pub const MARKDOWN_LIMIT: usize = 60_000;

/// The order in which sections get room: (importance, size). Failed
/// scenarios are most important, then those with findings, then passing
/// ones. Every failure and finding gets its line before any section is shown
/// in full; a passing scenario's section says little beyond its row in the
/// overview, so those come last.
const STAGES: [(u8, Size); 6] = [
    (0, Size::Compact),
    (1, Size::Compact),
    (0, Size::Full),
    (1, Size::Full),
    (2, Size::Compact),
    (2, Size::Full),
];

/// How much of a scenario a report shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Size {
    Full,
    Compact,
    Omitted,
}

/// The Markdown report within [`MARKDOWN_LIMIT`] characters, given the
/// template's output for the whole report (`whole`) and the state it was
/// rendered in, whose macros render the parts.
pub(super) fn fit(whole: &str, state: &mut State<'_, '_>) -> Result<String, Error> {
    if chars(whole) <= MARKDOWN_LIMIT {
        return Ok(whole.to_string());
    }
    let run = state
        .lookup("run")
        .ok_or_else(|| Error::new(minijinja::ErrorKind::UndefinedError, "no `run`"))?;
    let scenarios: Vec<Value> = run.get_attr("scenarios")?.try_iter()?.collect();
    let total = scenarios.len();

    // The overview with every link is at least as long as with fewer links.
    let overview = call(
        state,
        "overview",
        &[run.clone(), Value::from(Vec::<usize>::new())],
    )?;
    // The note is longest when it names both compact and omitted sections.
    let note_bound = chars(&call(
        state,
        "shortened",
        &[Value::from(shortened_sentence(total, total, total))],
    )?);
    let Some(budget) = MARKDOWN_LIMIT.checked_sub(chars(&overview) + note_bound) else {
        return cut_short(state, &run, total);
    };

    let mut full = Vec::with_capacity(total);
    let mut compact = Vec::with_capacity(total);
    let mut importance = Vec::with_capacity(total);
    for scenario in &scenarios {
        full.push(call(state, "scenario", std::slice::from_ref(scenario))?);
        compact.push(call(
            state,
            "scenario_compact",
            std::slice::from_ref(scenario),
        )?);
        importance.push(match scenario.get_attr("status")?.as_str() {
            Some("fail") => 0u8,
            Some("findings") => 1,
            _ => 2,
        });
    }
    let full_len: Vec<usize> = full.iter().map(|s| chars(s)).collect();
    let compact_len: Vec<usize> = compact.iter().map(|s| chars(s)).collect();
    let mut sizes = vec![Size::Omitted; total];
    let mut used = 0;
    for (group, stage) in STAGES {
        for i in (0..total).filter(|&i| importance[i] == group) {
            match (stage, sizes[i]) {
                (Size::Compact, Size::Omitted) => {
                    // A section in full no longer than the compact one is taken instead.
                    let (size, cost) = if full_len[i] <= compact_len[i] {
                        (Size::Full, full_len[i])
                    } else {
                        (Size::Compact, compact_len[i])
                    };
                    if used + cost <= budget {
                        sizes[i] = size;
                        used += cost;
                    }
                }
                (Size::Full, Size::Compact) => {
                    // Here the full section is the longer one.
                    let widened = used - compact_len[i] + full_len[i];
                    if widened <= budget {
                        sizes[i] = Size::Full;
                        used = widened;
                    }
                }
                _ => {}
            }
        }
    }

    let omitted: Vec<usize> = (0..total)
        .filter(|&i| sizes[i] == Size::Omitted)
        .map(|i| i + 1)
        .collect();
    let compacted = sizes.iter().filter(|&&s| s == Size::Compact).count();
    let mut text = if omitted.is_empty() {
        overview
    } else {
        call(
            state,
            "overview",
            &[run.clone(), Value::from(omitted.clone())],
        )?
    };
    for (i, size) in sizes.iter().enumerate() {
        match size {
            Size::Full => text.push_str(&full[i]),
            Size::Compact => text.push_str(&compact[i]),
            Size::Omitted => {}
        }
    }
    text.push_str(&call(
        state,
        "shortened",
        &[Value::from(shortened_sentence(
            compacted,
            omitted.len(),
            total,
        ))],
    )?);
    // The budget holds by construction; should it not, cutting keeps the limit.
    if chars(&text) > MARKDOWN_LIMIT {
        return cut_short(state, &run, total);
    }
    Ok(text)
}

/// The overview without links (no section follows), cut after its last line
/// that fits, and the note that it was cut.
fn cut_short(state: &mut State<'_, '_>, run: &Value, total: usize) -> Result<String, Error> {
    let every: Vec<usize> = (1..=total).collect();
    let overview = call(state, "overview", &[run.clone(), Value::from(every)])?;
    let note = call(state, "cut_short", &[])?;
    let keep = MARKDOWN_LIMIT.saturating_sub(chars(&note));
    let mut text = cut_at_line(&overview, keep).to_string();
    text.push_str(&note);
    Ok(text)
}

/// The longest prefix of `text` of whole lines (each with its line break)
/// and at most `limit` characters.
fn cut_at_line(text: &str, limit: usize) -> &str {
    let end = text
        .char_indices()
        .nth(limit)
        .map_or(text.len(), |(at, _)| at);
    if end == text.len() {
        return text;
    }
    text[..end].rfind('\n').map_or("", |at| &text[..=at])
}

/// What the closing note says was shortened, e.g. `Of 18 scenarios, 9 are
/// summarized above: …`.
fn shortened_sentence(compact: usize, omitted: usize, total: usize) -> String {
    let of = format!(
        "Of {total} {},",
        if total == 1 { "scenario" } else { "scenarios" }
    );
    let compact_part = (compact > 0).then(|| {
        format!(
            "{compact} {} summarized above (verdict, counts, one line per failure and finding)",
            if compact == 1 { "is" } else { "are" }
        )
    });
    let omitted_part = (omitted > 0).then(|| {
        format!(
            "{omitted} {} only {} row in the table at the top",
            if omitted == 1 { "has" } else { "have" },
            if omitted == 1 { "its" } else { "their" }
        )
    });
    match (compact_part, omitted_part) {
        (Some(c), Some(o)) => format!("{of} {c}, and {o}."),
        (Some(c), None) => format!("{of} {c}."),
        (None, Some(o)) => format!("{of} {o}."),
        (None, None) => format!("{of} none is shortened."),
    }
}

fn call(state: &mut State<'_, '_>, name: &str, args: &[Value]) -> Result<String, Error> {
    state.call_macro(name, args)
}

fn chars(text: &str) -> usize {
    text.chars().count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_at_a_line_break() {
        assert_eq!(cut_at_line("ab\ncd\nef\n", 5), "ab\n");
        assert_eq!(cut_at_line("ab\ncd\nef\n", 6), "ab\ncd\n");
        assert_eq!(cut_at_line("ab\ncd\n", 60), "ab\ncd\n");
        assert_eq!(cut_at_line("abcdef", 3), "");
        assert_eq!(cut_at_line("é\nàb\n", 3), "é\n");
    }

    #[test]
    fn the_note_counts_what_was_shortened() {
        assert_eq!(
            shortened_sentence(1, 0, 2),
            "Of 2 scenarios, 1 is summarized above (verdict, counts, one line per failure and finding)."
        );
        assert_eq!(
            shortened_sentence(3, 1, 20),
            "Of 20 scenarios, 3 are summarized above (verdict, counts, one line per failure and finding), and 1 has only its row in the table at the top."
        );
        assert_eq!(
            shortened_sentence(0, 5, 5),
            "Of 5 scenarios, 5 have only their row in the table at the top."
        );
    }
}
