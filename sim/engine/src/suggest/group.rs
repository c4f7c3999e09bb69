//! How used pairs become suggested permits (`suggest --group`): per agent
//! (the default), shared by the principals of a task, or generalized to a
//! resource type or a parent where what a principal used is everything of it
//! that it held, with the evidence for and against each generalization.
//!
//! A generalized permit still narrows one candidate permit and keeps its
//! scope and conditions, so it never allows what that permit did not; in the
//! scenario's world it allows the principal only resources it held, all of
//! which it used, so verification (c) still finds held = needed.

use std::collections::{BTreeMap, BTreeSet};

use cedar_policy::EntityUid;
use privsim_model::result::Pair;
use privsim_model::suggest::Evidence;

use super::{ActionGroup, Ancestry, ResourceSpec};
use crate::load as scenario;

/// The fewest used resources a generalization rests on: one resource used
/// out of one held is no evidence that the type or parent is what is needed.
pub const MIN_EVIDENCE: usize = 2;

/// How a principal's used pairs are grouped into permits: the closed set
/// lives in the model, beside the suggestion contract that carries it.
/// `Agent` (the default): one permit per principal, candidate permit,
/// resource type and group of actions with the same resources, a parent named
/// only when every resource of the type under it in the principal's universe
/// is needed. `Task`: as `Agent`, but permits that come out the same for
/// principals of one type whose sessions share their tasks are one permit for
/// all of them. `ResourceType`: `resource is T` for an action when the
/// principal used it on every resource of `T` it held it on (at least
/// [`MIN_EVIDENCE`]). `Parent`: `resource in P` when the principal used the
/// action on every resource under `P` it held it on (at least
/// [`MIN_EVIDENCE`]).
pub use privsim_model::suggest::Group;

/// Reads a `--group` name.
pub fn parse(text: &str) -> Result<Group, String> {
    Group::from_name(text).ok_or_else(|| {
        format!(
            "`{text}` is not a grouping; expected one of {}",
            Group::names()
        )
    })
}

/// What a principal held and needed, by action (Cedar UID strings).
pub(super) struct Account<'a> {
    /// Resources it held each action on under the candidate.
    pub(super) held: &'a BTreeMap<String, BTreeSet<String>>,
    /// Resources it needs each action on.
    pub(super) needed: &'a BTreeMap<String, BTreeSet<String>>,
}

/// The pairs of one candidate permit as suggested permits, generalized to a
/// resource type (`Group::ResourceType`) or to parents (`Group::Parent`)
/// where the evidence supports it, with the evidence.
pub(super) fn generalized(
    group: Group,
    pairs: &BTreeSet<Pair>,
    account: &Account<'_>,
    ancestry: &mut Ancestry<'_>,
) -> (Vec<(ActionGroup, ResourceSpec)>, Vec<Evidence>) {
    // Per resource type, per action: the resources of these pairs.
    let by_type = super::pairs_by_type(pairs);
    let mut out = Vec::new();
    let mut evidence = Vec::new();
    for (resource_type, actions) in by_type {
        // Actions with the same resource specification share a permit.
        type Key = (bool, Vec<String>, Vec<String>);
        let mut merged: BTreeMap<Key, (Vec<EntityUid>, BTreeSet<String>, ResourceSpec)> =
            BTreeMap::new();
        for (action, resources) in actions {
            let Ok(action_uid) = scenario::parse_uid(&action) else {
                continue;
            };
            let of_type = |set: Option<&BTreeSet<String>>| -> BTreeSet<String> {
                set.into_iter()
                    .flatten()
                    .filter(|r| {
                        scenario::parse_uid(r)
                            .is_ok_and(|uid| uid.type_name().to_string() == resource_type)
                    })
                    .cloned()
                    .collect()
            };
            let held = of_type(account.held.get(&action));
            let needed = of_type(account.needed.get(&action));
            let spec = if group == Group::ResourceType {
                let (spec, found) =
                    by_resource_type(&action, &resource_type, &resources, &held, &needed);
                evidence.push(found);
                spec
            } else {
                let (spec, found) = by_parent(
                    &action,
                    &resource_type,
                    &resources,
                    &held,
                    &needed,
                    ancestry,
                );
                evidence.extend(found);
                spec
            };
            let key = (
                spec.whole_type,
                spec.parents.iter().map(ToString::to_string).collect(),
                spec.singles.iter().map(ToString::to_string).collect(),
            );
            let entry = merged
                .entry(key)
                .or_insert_with(|| (Vec::new(), BTreeSet::new(), spec));
            entry.0.push(action_uid);
            entry.1.extend(resources);
        }
        let mut these: Vec<(ActionGroup, ResourceSpec)> = merged
            .into_values()
            .map(|(actions, resources, spec)| {
                let group = ActionGroup {
                    actions,
                    resource_type: resource_type.clone(),
                    resources,
                };
                (group, spec)
            })
            .collect();
        these.sort_by_key(|(g, _)| {
            g.actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        });
        out.extend(these);
    }
    (out, evidence)
}

/// `resource is T` when every held resource of the type was used (and at
/// least [`MIN_EVIDENCE`] were); else the resources listed.
fn by_resource_type(
    action: &str,
    resource_type: &str,
    resources: &BTreeSet<String>,
    held: &BTreeSet<String>,
    needed: &BTreeSet<String>,
) -> (ResourceSpec, Evidence) {
    let used = held.intersection(needed).count();
    let all_used = held.is_subset(needed);
    let generalized = all_used && used >= MIN_EVIDENCE;
    let note = if generalized {
        format!(
            "{action} on {resource_type}: used {used} of {} held: generalized to `resource is {resource_type}` (which also reaches resources of {resource_type} the world does not hold yet)",
            held.len()
        )
    } else if all_used {
        format!(
            "{action} on {resource_type}: used {used} of {} held: too few to generalize (at least {MIN_EVIDENCE}); listed",
            held.len()
        )
    } else {
        format!(
            "{action} on {resource_type}: only {used} of {} held used: not generalized; listed",
            held.len()
        )
    };
    let spec = if generalized {
        ResourceSpec {
            whole_type: true,
            parents: Vec::new(),
            singles: Vec::new(),
        }
    } else {
        ResourceSpec {
            whole_type: false,
            parents: Vec::new(),
            singles: resources
                .iter()
                .filter_map(|r| scenario::parse_uid(r).ok())
                .collect(),
        }
    };
    let evidence = Evidence {
        action: action.to_string(),
        resource_type: resource_type.to_string(),
        parent: None,
        held: held.len(),
        used,
        generalized,
        note,
    };
    (spec, evidence)
}

/// `resource in P` for each parent P under which every held resource of the
/// type was used (at least [`MIN_EVIDENCE`], each in P at every time of the
/// run), choosing the parent that covers most and then the deepest; the
/// resources no chosen parent covers are listed. One piece of evidence per
/// parent of a used resource.
fn by_parent(
    action: &str,
    resource_type: &str,
    resources: &BTreeSet<String>,
    held: &BTreeSet<String>,
    needed: &BTreeSet<String>,
    ancestry: &mut Ancestry<'_>,
) -> (ResourceSpec, Vec<Evidence>) {
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    for resource in resources {
        if let Ok(uid) = scenario::parse_uid(resource) {
            candidates.extend(ancestry.of(&uid).some.iter().cloned());
        }
    }
    // Per candidate parent: held resources under it (at some time), how many
    // of them were used, and the resources of these pairs always under it.
    let mut judged: BTreeMap<String, (usize, usize, BTreeSet<String>)> = BTreeMap::new();
    for parent in &candidates {
        let mut held_under = 0;
        let mut used_under = 0;
        let mut covered = BTreeSet::new();
        for resource in held {
            let Ok(uid) = scenario::parse_uid(resource) else {
                continue;
            };
            if ancestry.of(&uid).some.contains(parent) {
                held_under += 1;
                if needed.contains(resource) {
                    used_under += 1;
                }
            }
        }
        for resource in resources {
            if let Ok(uid) = scenario::parse_uid(resource)
                && ancestry.of(&uid).every.contains(parent)
            {
                covered.insert(resource.clone());
            }
        }
        judged.insert(parent.clone(), (held_under, used_under, covered));
    }
    let mut remaining: BTreeSet<String> = resources.clone();
    let mut chosen: Vec<String> = Vec::new();
    loop {
        let mut best: Option<(usize, usize, String)> = None;
        for (parent, (held_under, used_under, covered)) in &judged {
            if chosen.contains(parent) || used_under < held_under {
                continue;
            }
            let gain = covered.intersection(&remaining).count();
            if gain == 0 || *used_under < MIN_EVIDENCE {
                continue;
            }
            let depth = scenario::parse_uid(parent).map_or(0, |p| ancestry.of(&p).some.len());
            if best
                .as_ref()
                .is_none_or(|(g, d, _)| (gain, depth) > (*g, *d))
            {
                best = Some((gain, depth, parent.clone()));
            }
        }
        let Some((_, _, parent)) = best else { break };
        if let Some((_, _, covered)) = judged.get(&parent) {
            remaining.retain(|r| !covered.contains(r));
        }
        chosen.push(parent);
    }
    let mut evidence = Vec::new();
    for (parent, (held_under, used_under, _)) in &judged {
        let generalized = chosen.contains(parent);
        let note = if generalized {
            format!(
                "{action} on {resource_type} in {}: used {used_under} of {held_under} held: generalized to `resource in {}` (which also reaches resources added to it later)",
                parent, parent
            )
        } else if used_under == held_under && *used_under < MIN_EVIDENCE {
            format!(
                "{action} on {resource_type} in {}: used {used_under} of {held_under} held: too few to generalize (at least {MIN_EVIDENCE}); listed",
                parent
            )
        } else if used_under == held_under {
            format!(
                "{action} on {resource_type} in {}: used {used_under} of {held_under} held, but a parent covering more was chosen, or the used resources are not in it at every time; not generalized",
                parent
            )
        } else {
            format!(
                "{action} on {resource_type} in {}: only {used_under} of {held_under} held used: not generalized",
                parent
            )
        };
        evidence.push(Evidence {
            action: action.to_string(),
            resource_type: resource_type.to_string(),
            parent: Some(parent.clone()),
            held: *held_under,
            used: *used_under,
            generalized,
            note,
        });
    }
    let spec = ResourceSpec {
        whole_type: false,
        parents: chosen
            .iter()
            .filter_map(|p| scenario::parse_uid(p).ok())
            .collect(),
        singles: remaining
            .iter()
            .filter_map(|r| scenario::parse_uid(r).ok())
            .collect(),
    };
    (spec, evidence)
}
