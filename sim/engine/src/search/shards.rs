//! `privsim fuzz merge`: the results of a campaign's shards
//! (`privsim fuzz --shard I/N`) combined into the campaign's result.
//!
//! Shard `I` of `N` runs a contiguous run of the campaign's `--jobs`
//! workers ([`super::shard_workers`]), each exactly as the whole campaign
//! would run it (its seed and its share of the budget depend only on the
//! seed, the budget and the number of jobs). So the shards in order are the
//! workers in order, and merging them as the search merges its workers gives
//! the whole campaign's findings: the same findings, in the same order, with
//! the same traces (the first found in worker order is kept). What a result
//! file cannot carry is said: the distinct states are summed (a state two
//! shards reached counts twice), and caveats are those of every shard.
//!
//! Proofs are combined only where sound: breadth-first search proves "no
//! violation up to depth K" for the campaign only when every shard proved it
//! for its part (the proof is the least depth over the shards); a never
//! rule takes its strongest verdict (a rule any shard's search broke is
//! broken); every shard 1 to N must be there, once.

use std::collections::BTreeSet;

use privsim_model::caveat::{SearchLimit, SearchLimitKind};
use privsim_model::result::{Finding, FindingKind, RunResult, ScenarioResult};

/// Merges the results of shards `1/N` to `N/N` of one campaign (in any
/// order); an error (lowercase sentence) when they are not exactly that.
pub fn merge(mut results: Vec<(String, RunResult)>) -> Result<RunResult, String> {
    if results.is_empty() {
        return Err("no shard results given".to_string());
    }
    // Each result's shard, from its first searched scenario.
    let mut keyed = Vec::new();
    for (name, result) in results.drain(..) {
        let shard = result
            .scenarios
            .iter()
            .find_map(|s| s.search.as_ref())
            .and_then(|search| search.shard)
            .ok_or_else(|| {
                format!("`{name}` is not the result of a shard (`privsim fuzz --shard I/N --format json`)")
            })?;
        for scenario in &result.scenarios {
            if scenario.search.as_ref().and_then(|s| s.shard) != Some(shard) {
                return Err(format!(
                    "`{name}`: scenario `{}` is not from shard {}/{}",
                    scenario.file, shard.index, shard.count
                ));
            }
        }
        keyed.push((shard, name, result));
    }
    keyed.sort_by_key(|(shard, _, _)| shard.index);
    let count = keyed[0].0.count;
    for (shard, name, _) in &keyed {
        if shard.count != count {
            return Err(format!(
                "`{name}` is shard {}/{}, of another number of shards than {count}",
                shard.index, shard.count
            ));
        }
    }
    for (position, (shard, name, _)) in keyed.iter().enumerate() {
        if shard.index != position + 1 {
            let missing = position + 1;
            return Err(if shard.index < missing {
                format!(
                    "shard {}/{count} is given twice (again in `{name}`)",
                    shard.index
                )
            } else {
                format!(
                    "shard {missing}/{count} is missing: a merge of part of a campaign would claim what was not searched"
                )
            });
        }
    }
    if keyed.len() != count {
        return Err(format!(
            "shard {}/{count} is missing: a merge of part of a campaign would claim what was not searched",
            keyed.len() + 1
        ));
    }
    let first = &keyed[0].2;
    for (_, name, result) in &keyed[1..] {
        let files = |r: &RunResult| {
            r.scenarios
                .iter()
                .map(|s| s.file.clone())
                .collect::<Vec<_>>()
        };
        if files(result) != files(first) {
            return Err(format!(
                "`{name}` searched other scenarios than `{}`",
                keyed[0].1
            ));
        }
    }
    let mut merged = first.clone();
    for (index, base) in merged.scenarios.iter_mut().enumerate() {
        let parts: Vec<&ScenarioResult> =
            keyed.iter().map(|(_, _, r)| &r.scenarios[index]).collect();
        merge_scenario(base, &parts)?;
    }
    Ok(merged)
}

/// A search finding's identity, as the search deduplicates them: the same
/// invariant broken by the same principal with the same action (and
/// delegator, grant or rule). For access assertions the resource too, so a
/// missing and an unexpected resource stay apart.
fn identity(finding: &Finding) -> (String, String, String, String, String, String, String) {
    (
        finding.kind.to_string(),
        finding.principal.clone(),
        finding.action.clone(),
        finding.delegator.clone().unwrap_or_default(),
        finding.grant.clone().unwrap_or_default(),
        finding.rule.clone().unwrap_or_default(),
        if finding.kind == FindingKind::Access {
            finding.resource.clone()
        } else {
            String::new()
        },
    )
}

fn merge_scenario(base: &mut ScenarioResult, parts: &[&ScenarioResult]) -> Result<(), String> {
    let mut searches = Vec::new();
    for part in parts {
        let Some(search) = &part.search else {
            return Err(format!(
                "scenario `{}` was not searched in every shard",
                part.file
            ));
        };
        searches.push(search);
    }
    let first = searches[0];
    for search in &searches[1..] {
        if search.strategy != first.strategy
            || search.seed != first.seed
            || search.jobs != first.jobs
        {
            return Err(format!(
                "scenario `{}`: the shards were searched with other strategies, seeds or jobs; they are not one campaign",
                base.file
            ));
        }
    }
    // Replay findings (no trace, no counterexample) are the same in every
    // shard: the first shard's are kept. Search findings in shard order,
    // the first of each identity kept; proof findings after them, except
    // for a rule some shard's search broke (the whole campaign would not
    // have proven it).
    let replay: Vec<Finding> = base
        .findings
        .iter()
        .filter(|f| f.trace.is_empty() && f.counterexample.is_none())
        .cloned()
        .collect();
    let mut seen = BTreeSet::new();
    let mut search = Vec::new();
    for part in parts {
        for finding in part.findings.iter().filter(|f| !f.trace.is_empty()) {
            if seen.insert(identity(finding)) {
                search.push(finding.clone());
            }
        }
    }
    let broken: BTreeSet<String> = search.iter().filter_map(|f| f.rule.clone()).collect();
    let mut proofs = Vec::new();
    let mut proven = BTreeSet::new();
    for part in parts {
        for finding in part
            .findings
            .iter()
            .filter(|f| f.trace.is_empty() && f.counterexample.is_some())
        {
            let rule = finding.rule.clone().unwrap_or_default();
            if !broken.contains(&rule) && proven.insert(identity(finding)) {
                proofs.push(finding.clone());
            }
        }
    }
    base.findings = replay;
    base.findings.extend(search);
    base.findings.extend(proofs);
    base.summary.findings = base.findings.len();
    base.passed = base.passed && parts.iter().all(|p| p.passed);
    // Never rules: the strongest verdict of any shard.
    for (index, rule) in base.never_rules.iter_mut().enumerate() {
        for part in parts {
            let Some(other) = part.never_rules.get(index).filter(|o| o.rule == rule.rule) else {
                return Err(format!(
                    "scenario `{}`: the shards list other never rules",
                    base.file
                ));
            };
            if other.verdict.position() < rule.verdict.position() {
                *rule = other.clone();
            }
        }
    }
    // A policy some shard's search saw decide was exercised.
    for (index, usage) in base.policy_use.iter_mut().enumerate() {
        usage.search = parts.iter().any(|p| {
            p.policy_use
                .get(index)
                .is_some_and(|u| u.id == usage.id && u.search)
        });
    }
    crate::replay::note_unexercised(base);
    let mut summary = first.clone();
    summary.moves = searches.iter().map(|s| s.moves).sum();
    summary.states = searches.iter().map(|s| s.states).sum();
    summary.max_depth = searches.iter().map(|s| s.max_depth).max().unwrap_or(0);
    // Proven for the campaign only up to the depth every shard proved.
    summary.exhaustive_depth = searches
        .iter()
        .map(|s| s.exhaustive_depth)
        .collect::<Option<Vec<usize>>>()
        .and_then(|depths| depths.into_iter().min());
    summary.budget_exhausted = searches.iter().any(|s| s.budget_exhausted);
    summary.interrupted = searches.iter().any(|s| s.interrupted);
    // Every shard's limits once, in shard order, except each shard's own
    // `shard` limit: the merged result covers the whole campaign.
    let mut limits: Vec<SearchLimit> = Vec::new();
    for search in &searches {
        if search.limits.len() != search.caveats.len() {
            return Err(format!(
                "scenario `{}`: a shard's search has caveats without their `limits` (written by an older privsim); run the shard again",
                base.file
            ));
        }
        for limit in &search.limits {
            if limit.kind() != SearchLimitKind::Shard && !limits.contains(limit) {
                limits.push(limit.clone());
            }
        }
    }
    limits.push(SearchLimit::Merged {
        shards: parts.len(),
    });
    summary.set_limits(limits);
    summary.shard = None;
    base.search = Some(summary);
    Ok(())
}
