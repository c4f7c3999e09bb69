//! Where a change's policy was edited: a policy the candidate changed in
//! place (same `@id`, different text) is pointed at the first line that
//! differs from the baseline's, so SARIF results and GitHub annotations mark
//! the edited line instead of the policy's first line (issue 18.8).

use std::collections::BTreeMap;

use cedar_policy::PolicyId;

use crate::load::cedar_files::Policies;

use super::model::Change;

/// Moves every candidate policy location in `changes` (and a change's own
/// location when it is that policy's) to the policy's first edited line. A
/// policy new in the candidate, or one Cedar reads the same on both sides,
/// keeps its first line; so does a policy reference of the baseline side.
pub(super) fn point_at_changed_lines(
    changes: &mut [Change],
    baseline: &Policies,
    candidate: &Policies,
) {
    let mut found: BTreeMap<String, Option<String>> = BTreeMap::new();
    for change in changes {
        for policy in &mut change.policies {
            let Some(first) = candidate
                .location(&policy.id)
                .map(|(file, line)| format!("{file}:{line}"))
            else {
                continue;
            };
            if policy.location.as_deref() != Some(first.as_str()) {
                continue;
            }
            let changed = found
                .entry(policy.id.clone())
                .or_insert_with(|| changed_line(&policy.id, baseline, candidate))
                .clone();
            if let Some(changed) = changed {
                if change.location.as_deref() == Some(first.as_str()) {
                    change.location = Some(changed.clone());
                }
                policy.location = Some(changed);
            }
        }
    }
}

/// `file:line` of the first line of the candidate's policy `id` that differs
/// from the baseline's policy `id`, when both exist and Cedar reads them
/// differently.
fn changed_line(id: &str, baseline: &Policies, candidate: &Policies) -> Option<String> {
    let text = |policies: &Policies| {
        let policy_id = PolicyId::new(id);
        policies
            .set
            .policy(&policy_id)
            .map(|p| p.to_string())
            .or_else(|| policies.set.template(&policy_id).map(|t| t.to_string()))
    };
    if text(baseline)? == text(candidate)? {
        return None;
    }
    let (after_file, after_start) = *candidate.origin.get(id)?;
    let (before_file, before_start) = *baseline.origin.get(id)?;
    let after = source_of(candidate, after_file, after_start)?;
    let before = source_of(baseline, before_file, before_start)?;
    let offset = after
        .lines()
        .zip(before.lines().chain(std::iter::repeat("")))
        .position(|(a, b)| a.trim_end() != b.trim_end())?;
    let source = candidate.files.get(after_file)?;
    let line = source.line_col(after_start).0 + offset;
    Some(format!("{}:{line}", source.display))
}

/// The source of the policy that starts at byte `start` of file `file`: up
/// to the next policy of the same file, or the file's end.
fn source_of(policies: &Policies, file: usize, start: usize) -> Option<&str> {
    let end = policies
        .origin
        .values()
        .filter(|(f, s)| *f == file && *s > start)
        .map(|(_, s)| *s)
        .min();
    let text = &policies.files.get(file)?.text;
    text.get(start..end.unwrap_or(text.len()))
}
