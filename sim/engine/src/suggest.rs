//! Right-sized policy suggestions (`privsim suggest`): for every principal that
//! acts in a scenario, Cedar permits that allow exactly the pairs its workflow
//! needs, verified by replaying the scenario against them before anyone sees them.
//!
//! Three stages, each a public function so tests can drive them one by one:
//!
//! - [`plan`] reads the candidate's replay: which decision every step must keep,
//!   which pairs each principal *needs* (its allowed steps not expected to be
//!   denied, what its `[[access]]` assertions require, and what its delegates
//!   use), which candidate permit allowed each of them, and whether a
//!   suggestion is possible at all.
//! - [`render`] writes the suggested policy set as Cedar text: the candidate's
//!   forbids and the permits of other principals as they were, the candidate's
//!   permits that could apply to a right-sized principal closed to it with a
//!   trailing `unless { principal == … }`, and per right-sized principal one
//!   permit per (candidate permit, resource type, action group), scoped to its
//!   principal, actions and resources and keeping the candidate permit's own
//!   scope and conditions. A suggested permit therefore never allows what the
//!   permit it narrows did not, at any time or in any context.
//! - [`verify`] parses that text the way `privsim run --policies` would, checks
//!   strict validation, replays the scenario with it and accounts for it again:
//!   (a) every step gets its intended decision, every access assertion holds
//!   and no new invariant finding appears, (b) no principal holds a pair the
//!   candidate did not give it, or for longer, (c) each principal holds
//!   exactly the pairs the plan says it needs.
//!
//! docs/suggest.md describes the behaviour and the JSON document.

pub mod delegator;
pub mod group;
pub mod proof;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::PathBuf;

use cedar_policy::{
    ActionConstraint, Authorizer, Effect, EntityUid, Policy, PolicyId, PrincipalConstraint,
    ResourceConstraint, Template,
};
use serde_json::{Value, json};

use crate::load::cedar_files;
use crate::load::{self as scenario, Scenario};
use crate::world::World;
use privsim_model::diag::SourceFile;
use privsim_model::result::{CeilingDecision, Decision, Metrics, Pair, ScenarioResult, StepResult};
pub use privsim_model::suggest::{
    Check, Evidence, PrincipalSuggestion, PrincipalVerification, RequiredPair, ScenarioSuggestion,
    Status, SuggestRun, SuggestedPolicy,
};

pub use delegator::DelegatorPath;
pub use group::Group;

/// How `suggest` treats a scenario's `[[access]]` assertions, and which
/// principals it right-sizes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Options {
    /// Treat the pairs `[[access]]` assertions require as needed, so the
    /// suggestion keeps them (and the assertions keep holding). By default a
    /// suggestion allows exactly what the workflow's steps use, and an assertion
    /// that pins more access is reported in the notes.
    pub keep_access: bool,
    /// Right-size only the acting principals these select (`--only`); empty:
    /// every acting principal. The others keep exactly what they held.
    pub only: Vec<Selector>,
    /// How used pairs are grouped into permits (`--group`).
    pub group: Group,
    /// Limit each suggested permit to the delegators its uses were made for,
    /// where the scenario exposes the delegator to policies (`--by-delegator`).
    pub by_delegator: bool,
}

/// One `--only` value: a principal, or an entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// Exactly this principal (`Agent::"bot"`).
    Principal(EntityUid),
    /// Every principal of this type: the whole name (`Helpdesk::Agent`), or,
    /// written without a namespace, the type of that name in any namespace
    /// (`Agent`).
    Type(String),
}

impl Selector {
    /// Reads `Agent::"bot"` as a principal and `Agent` or `Helpdesk::Agent`
    /// as a type; anything else is an error saying what was expected.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.contains('"') {
            return scenario::parse_uid(text)
                .map(Selector::Principal)
                .map_err(|_| format!("`{text}` is not an entity uid such as `Agent::\"bot\"`"));
        }
        let is_name = !text.is_empty()
            && text.split("::").all(|part| {
                let mut chars = part.chars();
                chars
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                    && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
        if is_name {
            Ok(Selector::Type(text.to_string()))
        } else {
            Err(format!(
                "`{text}` is neither an entity type such as `Agent` nor a principal such as `Agent::\"bot\"`"
            ))
        }
    }

    /// Whether this selects `principal`.
    pub fn selects(&self, principal: &EntityUid) -> bool {
        match self {
            Selector::Principal(only) => only == principal,
            Selector::Type(name) => {
                let type_name = principal.type_name().to_string();
                type_name == *name
                    || (!name.contains("::")
                        && type_name.rsplit("::").next() == Some(name.as_str()))
            }
        }
    }
}

/// The error (for `privsim suggest`) for the first `--only` that selects no principal taking a step
/// in any scenario, with the quoted form when that is what was meant.
pub fn only_selects_nobody(only: &[Selector], acting: &BTreeSet<EntityUid>) -> Option<String> {
    let selector = only
        .iter()
        .find(|selector| !acting.iter().any(|uid| selector.selects(uid)))?;
    let mut message =
        format!("`--only {selector}` selects no principal that takes a step in any scenario given");
    let quoted = match selector {
        Selector::Type(name) => name
            .rsplit_once("::")
            .map(|(kind, id)| format!("{kind}::\"{id}\""))
            .filter(|uid| acting.iter().any(|a| a.to_string() == *uid)),
        Selector::Principal(_) => None,
    };
    match quoted {
        Some(uid) => message.push_str(&format!(
            " (it reads as an entity type); the principal is written with its id quoted: `--only '{uid}'`"
        )),
        None => {
            let listed: Vec<String> = acting.iter().take(10).map(ToString::to_string).collect();
            message.push_str(&format!(
                "; those that do: {}{}",
                listed.join(", "),
                if acting.len() > listed.len() { ", ..." } else { "" }
            ));
        }
    }
    Some(message)
}

impl std::fmt::Display for Selector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Selector::Principal(uid) => write!(f, "{uid}"),
            Selector::Type(name) => f.write_str(name),
        }
    }
}

/// Replays a scenario against its candidate policies, and when it can, suggests
/// and verifies a right-sized policy set allowing exactly what its steps use.
pub fn suggest(scenario: &Scenario) -> ScenarioSuggestion {
    suggest_with(scenario, Options::default())
}

/// [`suggest`] with options.
pub fn suggest_with(scenario: &Scenario, options: Options) -> ScenarioSuggestion {
    suggest_from(scenario, &crate::accounting::evaluate(scenario), options)
}

/// [`suggest_with`] from the candidate's replay and accounting
/// ([`crate::accounting::evaluate`]), when the caller has it already.
pub fn suggest_from(
    scenario: &Scenario,
    candidate: &ScenarioResult,
    options: Options,
) -> ScenarioSuggestion {
    let plan = plan(scenario, candidate, options.clone());
    let mut suggestion = ScenarioSuggestion {
        name: scenario.name.clone(),
        file: scenario.file.display.clone(),
        policy_files: candidate.policy_files.clone(),
        status: Status::Refused,
        refusals: plan.refusals.clone(),
        repairs: plan.repairs.clone(),
        notes: plan.notes.clone(),
        kept: Vec::new(),
        narrowed: Vec::new(),
        replaced: Vec::new(),
        policies: String::new(),
        output: None,
        principals: candidate
            .principals
            .iter()
            .map(|account| PrincipalSuggestion {
                principal: account.principal.clone(),
                needed: plan
                    .needed
                    .get(&account.principal)
                    .map(|pairs| pairs.iter().cloned().collect())
                    .unwrap_or_default(),
                right_sized: plan.principals.contains_key(&account.principal),
                left_out: plan.kept_by_choice.contains(&account.principal),
                required: plan
                    .required
                    .get(&account.principal)
                    .map(|pairs| {
                        pairs
                            .iter()
                            .map(|(pair, because)| RequiredPair {
                                action: pair.action.clone(),
                                resource: pair.resource.clone(),
                                because: because.clone(),
                            })
                            .collect()
                    })
                    .unwrap_or_default(),
                policies: Vec::new(),
                before: account.metrics.clone(),
                after: None,
                verification: None,
                evidence: Vec::new(),
            })
            .collect(),
        workflow: None,
        validation: None,
        proof: None,
        group: (options.group != Group::Agent).then_some(options.group),
    };
    if !plan.refusals.is_empty() {
        return suggestion;
    }
    let rendered = render(scenario, &plan);
    let verification = verify(scenario, candidate, &plan, &rendered.text);
    let mut validation = verification.validation.clone();
    validation.failures.splice(0..0, rendered.problems.clone());
    validation.passed = validation.failures.is_empty();
    suggestion.status = if validation.passed && verification.passed() {
        Status::Verified
    } else {
        Status::Failed
    };
    suggestion.notes.extend(rendered.notes.iter().cloned());
    suggestion.notes.extend(verification.notes.iter().cloned());
    suggestion.kept = rendered.kept;
    suggestion.narrowed = rendered.narrowed;
    suggestion.replaced = rendered.replaced;
    suggestion.policies = rendered.text;
    for principal in &mut suggestion.principals {
        principal.policies = rendered
            .policies
            .get(&principal.principal)
            .cloned()
            .unwrap_or_default();
        principal.after = verification.after.get(&principal.principal).cloned();
        principal.verification = verification.principals.get(&principal.principal).cloned();
        principal.evidence = rendered
            .evidence
            .get(&principal.principal)
            .cloned()
            .unwrap_or_default();
    }
    suggestion.workflow = Some(verification.workflow);
    suggestion.validation = Some(validation);
    suggestion
}

/// What a suggestion must achieve, worked out from the scenario and the
/// candidate's replay.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    /// Whether `[[access]]` assertions count as needs (see [`Options::keep_access`]).
    pub keep_access: bool,
    /// Why no suggestion can be made; empty when one can.
    pub refusals: Vec<String>,
    /// Assertions the suggestion deliberately does not keep.
    pub notes: Vec<String>,
    /// Expectations the candidate fails that withholding access repairs.
    pub repairs: Vec<String>,
    /// Per step, in order: the decision the suggestion must give (`allow`,
    /// `deny` or `error`): the step's expected decision, else the candidate's.
    pub intended: Vec<Decision>,
    /// The principals being right-sized: every principal that takes a step
    /// (and that `--only` selects, when given).
    pub principals: BTreeMap<String, EntityUid>,
    /// Principals that take a step but that `--only` leaves as they are: they
    /// keep exactly what they held, like principals that take no step.
    pub kept_by_choice: BTreeSet<String>,
    /// Per accounted principal: the pairs it must hold under the suggestion.
    /// For a right-sized principal, what it needs; for one that takes no step
    /// (e.g. it only receives a grant), everything it held: it keeps its permits.
    pub needed: BTreeMap<String, BTreeSet<Pair>>,
    /// Per right-sized principal: pairs none of its own allowed steps use
    /// that it is still allowed, with why: an access assertion requires it, or
    /// a delegate uses it and the delegation ceiling needs the delegator to be
    /// allowed it too (in the delegate's context; counted as needed only when
    /// the candidate let it hold the pair in its own).
    pub required: BTreeMap<String, BTreeMap<Pair, String>>,
    /// Per principal, per candidate permit: the needed pairs the suggestion
    /// narrows that permit to. Each use of a needed pair (a step, an access
    /// assertion, a delegate's step) was allowed by at least one of the
    /// permits chosen for it.
    pub sources: BTreeMap<String, BTreeMap<String, BTreeSet<Pair>>>,
    /// Candidate policies that errored on some step: never dropped, so the
    /// errors (and `expect = "error"`) stay as they were.
    pub erroring: BTreeSet<String>,
    /// How used pairs are grouped into permits.
    pub group: Group,
    /// Per right-sized principal, per action: the resources it held under
    /// the candidate (the evidence of `--group resource-type` and `parent`).
    pub held: BTreeMap<String, BTreeMap<String, BTreeSet<String>>>,
    /// Per right-sized principal: the tasks of its sessions (`None` when one
    /// of its steps has none), for `--group task`.
    pub tasks: BTreeMap<String, Option<BTreeSet<String>>>,
    /// With `--by-delegator`: where the requests carry the delegator.
    pub delegator_path: Option<DelegatorPath>,
    /// With `--by-delegator`: per right-sized principal, per pair it is
    /// allowed, the delegators (Cedar UID strings) its uses were made for;
    /// `None` when some use was made without one.
    pub delegators: BTreeMap<String, BTreeMap<Pair, Option<BTreeSet<String>>>>,
}

/// A use of a pair the suggestion must keep allowing, with the candidate
/// permits that allowed it, and why it is needed when no own step uses it.
struct Use {
    principal: String,
    pair: Pair,
    reason: Vec<String>,
    required_by: Option<String>,
    /// Whether the principal must hold the pair. A delegate's step needs its
    /// delegator allowed the pair in the delegate's context, which the
    /// delegator need not hold in its own: then the pair gets a permit but
    /// is not counted as needed.
    held: bool,
    /// The context of the request that used it (none for an access assertion).
    context: Option<std::sync::Arc<Value>>,
}

/// Works out what the suggestion must do, or why none can be made.
///
/// A failing expectation the candidate could only meet by allowing *more*
/// (a step expected `allow` or `error` that it decides otherwise, an access
/// assertion missing resources) makes a suggestion impossible: it is refused.
/// One it could meet by allowing *less* (a step expected `deny` that it allows,
/// an access assertion with unexpected resources) is repaired: the pair is not
/// needed, so the suggestion withholds it.
///
/// A right-sized principal needs: the pairs of its allowed steps not expected
/// to be denied; the pairs its `[[access]]` assertions require; and the pairs
/// of such steps of its delegates that the candidate also allowed it, so that
/// the delegation ceiling holds as it did.
pub fn plan(scenario: &Scenario, candidate: &ScenarioResult, options: Options) -> Plan {
    let mut plan = Plan::default();
    let acting: BTreeSet<&String> = candidate.steps.iter().map(|s| &s.principal).collect();
    let selected = |uid: &EntityUid| {
        options.only.is_empty() || options.only.iter().any(|only| only.selects(uid))
    };
    for only in &options.only {
        let matches = candidate.principals.iter().any(|account| {
            acting.contains(&account.principal)
                && scenario::parse_uid(&account.principal).is_ok_and(|uid| only.selects(&uid))
        });
        if !matches {
            plan.notes.push(format!(
                "`--only {only}` selects no principal that takes a step, so it right-sizes nothing"
            ));
        }
    }
    for account in &candidate.principals {
        let Ok(uid) = scenario::parse_uid(&account.principal) else {
            continue;
        };
        if acting.contains(&account.principal) && !selected(&uid) {
            plan.kept_by_choice.insert(account.principal.clone());
        }
        if acting.contains(&account.principal) && selected(&uid) {
            plan.principals.insert(account.principal.clone(), uid);
            plan.needed.entry(account.principal.clone()).or_default();
            plan.sources.entry(account.principal.clone()).or_default();
        } else {
            plan.needed.insert(
                account.principal.clone(),
                account
                    .held
                    .iter()
                    .map(|h| Pair {
                        action: h.action.clone(),
                        resource: h.resource.clone(),
                    })
                    .collect(),
            );
        }
    }
    plan.erroring = candidate
        .steps
        .iter()
        .flat_map(|s| s.errors.iter().filter_map(|e| e.policy.clone()))
        .collect();
    let authorizer = Authorizer::new();
    let reason_of = |request: &cedar_policy::Request, segment: usize| -> Vec<String> {
        let Some(segment) = scenario.world.segments.get(segment) else {
            return Vec::new();
        };
        let response = authorizer.is_authorized(request, &scenario.policies.set, &segment.entities);
        crate::world::determining(&response)
    };
    let mut uses = Vec::new();
    for (position, step) in candidate.steps.iter().enumerate() {
        let expected = step.expectation.as_ref().and_then(|e| e.decision);
        let label = step_label(&candidate.file, step);
        if let Some(expected) = expected
            && !decision_is(step, expected)
        {
            if expected == Decision::Deny && plan.kept_by_choice.contains(&step.principal) {
                plan.refusals.push(format!(
                    "{label} expects deny, but the candidate allows {} {} on {}, and `--only` leaves that principal's access as it is",
                    step.principal, step.action, step.resource
                ));
            } else if expected == Decision::Deny {
                plan.repairs.push(format!(
                    "{label} expects deny; the candidate allows {} on {}, which the suggestion withholds",
                    step.action, step.resource
                ));
            } else {
                plan.refusals.push(format!(
                    "{label} expects {expected}, but the candidate policies decide {}; a narrower policy set cannot change that",
                    step.decision
                ));
            }
        }
        let intended = expected.unwrap_or(step.decision);
        let pair = Pair {
            action: step.action.clone(),
            resource: step.resource.clone(),
        };
        if step.decision == Decision::Allow && intended != Decision::Deny {
            uses.push(Use {
                principal: step.principal.clone(),
                pair: pair.clone(),
                reason: step.determining_policies.clone(),
                required_by: None,
                held: true,
                context: scenario.steps.get(position).map(|s| s.context.clone()),
            });
            let ceiling = scenario.steps.get(position).map(|s| &s.ceiling);
            for (delegator, request) in ceiling.into_iter().flatten() {
                let key = delegator.to_string();
                let allowed = step
                    .delegation_ceiling
                    .iter()
                    .any(|c| c.delegator == key && c.decision == CeilingDecision::Allow);
                if let (true, true, Some(request), Some(source)) = (
                    allowed,
                    plan.principals.contains_key(&key),
                    request,
                    scenario.steps.get(position),
                ) {
                    let held = candidate
                        .principals
                        .iter()
                        .find(|a| a.principal == key)
                        .is_some_and(|a| {
                            a.held
                                .iter()
                                .any(|h| h.action == pair.action && h.resource == pair.resource)
                        });
                    uses.push(Use {
                        held,
                        context: Some(source.context.clone()),
                        principal: key,
                        pair: pair.clone(),
                        reason: reason_of(request, source.segment),
                        required_by: Some(format!(
                            "its delegate {} uses it at step {}",
                            step.principal, step.index
                        )),
                    });
                }
            }
        }
        plan.intended.push(intended);
    }
    plan.keep_access = options.keep_access;
    for access in &candidate.access {
        let label = format!(
            "access #{} ({}:{})",
            access.index, candidate.file, access.line
        );
        if !options.keep_access {
            if plan.principals.contains_key(&access.principal) {
                plan.notes.push(format!(
                    "{label} pins {} {} to [{}]; the suggestion allows only what the steps use, so the assertion may no longer hold (`--keep-access` keeps what it requires)",
                    access.principal,
                    access.action,
                    access.expected.join(", ")
                ));
            }
            continue;
        }
        if !access.missing.is_empty() {
            plan.refusals.push(format!(
                "{label} requires {} to hold {} on [{}], which the candidate policies do not allow; a narrower policy set cannot add it",
                access.principal,
                access.action,
                access.missing.join(", ")
            ));
            continue;
        }
        if !plan.principals.contains_key(&access.principal) {
            if !access.passed {
                plan.refusals.push(format!(
                    "{label} fails for {}, which takes no step, so `suggest` does not change its policies",
                    access.principal
                ));
            }
            continue;
        }
        if !access.unexpected.is_empty() {
            plan.repairs.push(format!(
                "{label}: the candidate also allows {} {} on [{}], which the suggestion withholds",
                access.principal,
                access.action,
                access.unexpected.join(", ")
            ));
        }
        let Some(check) = access
            .index
            .checked_sub(1)
            .and_then(|i| scenario.access.get(i))
        else {
            continue;
        };
        for resource in &access.expected {
            let Some((_, request)) = check
                .candidates
                .iter()
                .find(|(uid, _)| &uid.to_string() == resource)
            else {
                continue;
            };
            uses.push(Use {
                principal: access.principal.clone(),
                pair: Pair {
                    action: access.action.clone(),
                    resource: resource.clone(),
                },
                reason: reason_of(request, check.segment),
                required_by: Some(format!("access #{} requires it", access.index)),
                held: true,
                context: None,
            });
        }
    }
    plan.group = options.group;
    for (key, uid) in &plan.principals {
        plan.tasks.insert(key.clone(), tasks_of(scenario, uid));
        if let Some(account) = candidate.principals.iter().find(|a| &a.principal == key) {
            let held = plan.held.entry(key.clone()).or_default();
            for pair in &account.held {
                held.entry(pair.action.clone())
                    .or_default()
                    .insert(pair.resource.clone());
            }
        }
    }
    if options.by_delegator {
        by_delegator(&mut plan, scenario, &uses);
    }
    choose_sources(&mut plan, uses);
    plan
}

/// The tasks of a principal's steps' sessions; `None` when one of its steps
/// has no session or its session no task.
fn tasks_of(scenario: &Scenario, principal: &EntityUid) -> Option<BTreeSet<String>> {
    let mut tasks = BTreeSet::new();
    for step in scenario.steps.iter().filter(|s| &s.principal == principal) {
        let task = step
            .session
            .and_then(|i| scenario.sessions.get(i))
            .and_then(|s| s.task.clone())?;
        tasks.insert(task);
    }
    (!tasks.is_empty()).then_some(tasks)
}

/// Records, per right-sized principal and pair, the delegators its uses were
/// made for, as the requests carried them; a pair used once without one is
/// not narrowed. Notes where the delegator is found, or that it is not.
fn by_delegator(plan: &mut Plan, scenario: &Scenario, uses: &[Use]) {
    let Some(path) = delegator::find(scenario) else {
        plan.notes.push(
            "`--by-delegator`: the scenario does not expose the delegator to policies (no `[facts]` `delegator` or `root` key, and no context entry of the delegated requests holds it), so no permit is narrowed by delegator".to_string(),
        );
        return;
    };
    let mut without: BTreeMap<String, usize> = BTreeMap::new();
    for item in uses {
        if !plan.principals.contains_key(&item.principal) {
            continue;
        }
        let value = item.context.as_ref().and_then(|c| path.value_in(c));
        let entry = plan
            .delegators
            .entry(item.principal.clone())
            .or_default()
            .entry(item.pair.clone())
            .or_insert_with(|| Some(BTreeSet::new()));
        match value {
            Some(value) => {
                if let Some(set) = entry.as_mut() {
                    set.insert(value);
                }
            }
            None => {
                if entry.is_some() {
                    *entry = None;
                    *without.entry(item.principal.clone()).or_default() += 1;
                }
            }
        }
    }
    plan.notes.push(format!(
        "`--by-delegator`: suggested permits are narrowed to the delegators their uses were made for, as the requests carry them at {}",
        path.describe()
    ));
    for (principal, count) in without {
        plan.notes.push(format!(
            "`--by-delegator`: {principal} used {count} pair(s) in requests without a delegator at `{}`; the permits for them are not narrowed by delegator",
            path.expression()
        ));
    }
    plan.delegator_path = Some(path);
}

/// Picks, for every use of a needed pair, a candidate permit that allowed it,
/// reusing permits already chosen so the suggestion stays small.
fn choose_sources(plan: &mut Plan, uses: Vec<Use>) {
    let own: BTreeSet<(&String, &Pair)> = uses
        .iter()
        .filter(|u| u.required_by.is_none())
        .map(|u| (&u.principal, &u.pair))
        .collect();
    let held: BTreeSet<(&String, &Pair)> = uses
        .iter()
        .filter(|u| u.held)
        .map(|u| (&u.principal, &u.pair))
        .collect();
    for item in &uses {
        if let Some(why) = &item.required_by
            && plan.principals.contains_key(&item.principal)
            && !own.contains(&(&item.principal, &item.pair))
        {
            let why = if held.contains(&(&item.principal, &item.pair)) {
                why.clone()
            } else {
                format!("{why} (allowed in the delegate's context only, so not held)")
            };
            plan.required
                .entry(item.principal.clone())
                .or_default()
                .entry(item.pair.clone())
                .or_insert(why);
        }
    }
    let mut chosen: BTreeMap<(String, Pair), BTreeSet<String>> = BTreeMap::new();
    let mut load: BTreeMap<(String, String), usize> = BTreeMap::new();
    for item in uses {
        if !plan.principals.contains_key(&item.principal) {
            continue;
        }
        let Some(needed) = plan.needed.get_mut(&item.principal) else {
            continue;
        };
        if item.held {
            needed.insert(item.pair.clone());
        }
        let for_pair = chosen
            .entry((item.principal.clone(), item.pair.clone()))
            .or_default();
        if item.reason.iter().any(|id| for_pair.contains(id)) {
            continue;
        }
        let best = item.reason.iter().max_by(|a, b| {
            let load_of = |id: &String| {
                load.get(&(item.principal.clone(), id.clone()))
                    .copied()
                    .unwrap_or(0)
            };
            load_of(a).cmp(&load_of(b)).then_with(|| b.cmp(a))
        });
        if let Some(best) = best.cloned() {
            for_pair.insert(best.clone());
            *load.entry((item.principal.clone(), best)).or_default() += 1;
        }
    }
    for ((principal, pair), sources) in chosen {
        let Some(by_source) = plan.sources.get_mut(&principal) else {
            continue;
        };
        for source in sources {
            by_source.entry(source).or_default().insert(pair.clone());
        }
    }
}

/// Whether a step's outcome is `decision`, as expectations judge it (`error`:
/// the request was rejected or a policy errored).
fn decision_is(step: &StepResult, decision: Decision) -> bool {
    match decision {
        Decision::Error => step.decision == Decision::Error || !step.errors.is_empty(),
        other => step.decision == other,
    }
}

fn step_label(file: &str, step: &StepResult) -> String {
    let name = step
        .name
        .as_ref()
        .map(|n| format!(" \"{n}\""))
        .unwrap_or_default();
    format!("step {}{name} ({file}:{})", step.index, step.line)
}

/// The suggested policy set as Cedar text, and what became of each candidate policy.
#[derive(Debug, Clone, Default)]
pub struct Rendered {
    /// The whole policy set.
    pub text: String,
    /// Candidate policies kept unchanged.
    pub kept: Vec<String>,
    /// Candidate permits closed to the right-sized principals.
    pub narrowed: Vec<String>,
    /// Candidate permits dropped because they applied only to a right-sized principal.
    pub replaced: Vec<String>,
    /// Per principal: its suggested permits.
    pub policies: BTreeMap<String, Vec<SuggestedPolicy>>,
    /// Policies that could not be written faithfully (a bug, reported as a failed check).
    pub problems: Vec<String>,
    /// How shared permits were closed: by type, or by name and why.
    pub notes: Vec<String>,
    /// Per principal: the evidence for and against each generalization
    /// (`--group resource-type` or `parent`).
    pub evidence: BTreeMap<String, Vec<Evidence>>,
}

/// Writes the suggested policy set for a plan (see the module documentation).
pub fn render(scenario: &Scenario, plan: &Plan) -> Rendered {
    let mut rendered = Rendered::default();
    let mut ancestry = Ancestry::new(&scenario.world);
    let mut sections: Vec<String> = Vec::new();
    let mut header = String::new();
    let _ = writeln!(
        header,
        "// Right-sized policies generated by `privsim suggest` for the scenario\n// {} ({}),\n// from the candidate policies {}.",
        comment_text(&format!("\"{}\"", scenario.name)),
        comment_text(&scenario.file.display),
        comment_text(
            &scenario
                .policies
                .files
                .iter()
                .map(|f| f.display.clone())
                .collect::<Vec<_>>()
                .join(", ")
        )
    );
    let _ = write!(
        header,
        "// Each principal that acts in the scenario is allowed exactly what its workflow\n// needs; the other principals keep the candidate's permits."
    );
    sections.push(header);

    let set = &scenario.policies.set;
    let mut order: Vec<(&String, &(usize, usize))> = scenario.policies.origin.iter().collect();
    order.sort_by_key(|(id, origin)| (**origin, (*id).clone()));
    let mut taken: BTreeSet<String> = scenario.policies.origin.keys().cloned().collect();
    taken.extend(set.policies().map(|p| p.id().to_string()));
    taken.extend(set.templates().map(|t| t.id().to_string()));
    for (id, _) in order {
        let policy_id = PolicyId::new(id);
        if let Some(template) = set.template(&policy_id) {
            let guard: BTreeSet<&String> = if template.effect() == Effect::Permit {
                set.policies()
                    .filter(|p| p.template_id() == Some(&policy_id))
                    .flat_map(|link| {
                        applicable(
                            &plan.principals,
                            &link.principal_constraint(),
                            &mut ancestry,
                        )
                    })
                    .collect()
            } else {
                BTreeSet::new()
            };
            let constraints: Vec<PrincipalConstraint> = set
                .policies()
                .filter(|p| p.template_id() == Some(&policy_id))
                .map(|link| link.principal_constraint())
                .collect();
            let guard = closing_condition(id, &guard, &constraints, scenario, plan, &mut ancestry);
            rendered.notes.extend(guard.note.clone());
            let source = Source::Template(template);
            push_candidate(&mut rendered, &mut sections, id, &source, &guard);
        } else if let Some(policy) = set.policy(&policy_id).filter(|p| p.is_static()) {
            if policy.effect() == Effect::Permit
                && !plan.erroring.contains(id)
                && let PrincipalConstraint::Eq(only) = policy.principal_constraint()
                && plan.principals.contains_key(&only.to_string())
            {
                rendered.replaced.push(id.clone());
                continue;
            }
            let guard: BTreeSet<&String> = if policy.effect() == Effect::Permit {
                applicable(
                    &plan.principals,
                    &policy.principal_constraint(),
                    &mut ancestry,
                )
                .into_iter()
                .collect()
            } else {
                BTreeSet::new()
            };
            let guard = closing_condition(
                id,
                &guard,
                &[policy.principal_constraint()],
                scenario,
                plan,
                &mut ancestry,
            );
            rendered.notes.extend(guard.note.clone());
            let source = Source::Policy(policy);
            push_candidate(&mut rendered, &mut sections, id, &source, &guard);
        }
    }
    if !rendered.replaced.is_empty() {
        sections.push(format!(
            "// Replaced by the suggested permits below: {}.",
            comment_text(&rendered.replaced.join(", "))
        ));
    }

    let drafts = drafts(scenario, plan, &mut ancestry, &mut rendered);
    let shares = |key: &String| {
        drafts
            .iter()
            .filter(|d| d.principals.len() > 1 && d.principals.contains(key))
            .count()
    };
    let mut shared_policies: Vec<(Vec<String>, SuggestedPolicy)> = Vec::new();
    for (principal_key, principal) in &plan.principals {
        let needed = plan.needed.get(principal_key);
        let required = plan.required.get(principal_key);
        let own = needed.map_or(0, |needed| {
            needed
                .iter()
                .filter(|pair| !required.is_some_and(|r| r.contains_key(*pair)))
                .count()
        });
        let also = required.map_or(0, BTreeMap::len);
        let name = principal_name(principal, &plan.principals);
        let mut policies = Vec::new();
        for draft in drafts
            .iter()
            .filter(|d| d.principals.len() == 1 && d.principals.contains(principal_key))
        {
            let base = format!("suggest-{name}-{}", draft.action_ids());
            let id = unique_id(&base, &mut taken);
            let who = comment_text(&principal.to_string());
            if let Some(policy) = write_draft(
                scenario,
                plan,
                draft,
                &id,
                &who,
                &mut ancestry,
                &mut rendered,
            ) {
                policies.push(policy);
            }
        }
        let shared = shares(principal_key);
        let mut summary = match (policies.is_empty() && shared == 0, also) {
            (true, _) => "needs nothing, so it gets no permit".to_string(),
            (false, 0) => format!("allowed the {own} pair(s) its steps use"),
            (false, _) => format!(
                "allowed the {own} pair(s) its steps use and {also} that access assertions or its delegates require"
            ),
        };
        if shared > 0 {
            let _ = write!(
                summary,
                ", through {shared} permit(s) shared with the other principals of its task (below) and its own"
            );
        }
        let mut section = format!("// {}: {summary}.", comment_text(&principal.to_string()));
        for policy in &policies {
            section.push_str("\n\n");
            section.push_str(&policy.text);
        }
        sections.push(section);
        rendered.policies.insert(principal_key.clone(), policies);
    }
    for draft in drafts.iter().filter(|d| d.principals.len() > 1) {
        let task = draft.task.clone().unwrap_or_default();
        let base = format!("suggest-task-{}-{}", slug(&task), draft.action_ids());
        let id = unique_id(&base, &mut taken);
        let who = format!(
            "{} (task {})",
            comment_text(&draft.principals.join(", ")),
            comment_text(&cedar_string(&task))
        );
        if let Some(mut policy) = write_draft(
            scenario,
            plan,
            draft,
            &id,
            &who,
            &mut ancestry,
            &mut rendered,
        ) {
            policy.shared_by = draft.principals.clone();
            sections.push(format!(
                "// Shared by {}, whose sessions all have the task {}: each used these pairs.\n\n{}",
                comment_text(&draft.principals.join(", ")),
                comment_text(&cedar_string(&task)),
                policy.text
            ));
            shared_policies.push((draft.principals.clone(), policy));
        }
    }
    for (principals, policy) in shared_policies {
        for principal in principals {
            rendered
                .policies
                .entry(principal)
                .or_default()
                .push(policy.clone());
        }
    }
    for principal in plan.needed.keys() {
        if plan.kept_by_choice.contains(principal) {
            sections.push(format!(
                "// {} is left out by `--only`: it is not right-sized and keeps the candidate's permits.",
                comment_text(principal)
            ));
        } else if !plan.principals.contains_key(principal) {
            sections.push(format!(
                "// {} takes no step: it is not right-sized and keeps the candidate's permits.",
                comment_text(principal)
            ));
        }
    }
    rendered.text = sections.join("\n\n");
    rendered.text.push('\n');
    rendered
}

/// One suggested permit before it is written: for one principal, or shared
/// by the principals of a task (`--group task`).
struct Draft {
    /// The principals it names (Cedar UID strings), in order.
    principals: Vec<String>,
    /// The candidate permit it narrows.
    source_id: String,
    group: ActionGroup,
    spec: ResourceSpec,
    /// The delegators it is limited to (`--by-delegator`), if any.
    delegators: Option<BTreeSet<String>>,
    /// The task its principals share, for a shared permit.
    task: Option<String>,
}

impl Draft {
    fn action_ids(&self) -> String {
        self.group
            .actions
            .iter()
            .map(|a| a.id().unescaped().to_string())
            .collect::<Vec<_>>()
            .join("-")
    }
}

/// The permits to suggest, in order: per right-sized principal, per
/// candidate permit it relied on, per delegator set (`--by-delegator`), per
/// resource type and group of actions, with resources written as the
/// grouping says; with `--group task`, drafts that came out the same for
/// principals of one type whose sessions share their tasks are merged.
fn drafts(
    scenario: &Scenario,
    plan: &Plan,
    ancestry: &mut Ancestry<'_>,
    rendered: &mut Rendered,
) -> Vec<Draft> {
    let set = &scenario.policies.set;
    let mut drafts = Vec::new();
    let no_held = BTreeMap::new();
    for (principal_key, principal) in &plan.principals {
        let Some(sources) = plan.sources.get(principal_key) else {
            continue;
        };
        let universe = universe_by_action(scenario, principal);
        let mut needed: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for pair in plan.needed.get(principal_key).into_iter().flatten() {
            needed
                .entry(pair.action.clone())
                .or_default()
                .insert(pair.resource.clone());
        }
        let account = group::Account {
            held: plan.held.get(principal_key).unwrap_or(&no_held),
            needed: &needed,
        };
        for (source_id, pairs) in sources {
            if set.policy(&PolicyId::new(source_id)).is_none() {
                rendered.problems.push(format!(
                    "the candidate has no permit `{source_id}` to narrow"
                ));
                continue;
            }
            for (delegators, part) in by_delegators(pairs, plan.delegators.get(principal_key)) {
                let specs: Vec<(ActionGroup, ResourceSpec)> = match plan.group {
                    Group::ResourceType | Group::Parent => {
                        let (specs, found) =
                            group::generalized(plan.group, &part, &account, ancestry);
                        let known = rendered.evidence.entry(principal_key.clone()).or_default();
                        for evidence in found {
                            if !known.contains(&evidence) {
                                known.push(evidence);
                            }
                        }
                        specs
                    }
                    Group::Agent | Group::Task => action_groups(&part)
                        .into_iter()
                        .map(|g| {
                            let spec = resource_spec(&g, &universe, ancestry);
                            (g, spec)
                        })
                        .collect(),
                };
                for (group, spec) in specs {
                    drafts.push(Draft {
                        principals: vec![principal_key.clone()],
                        source_id: source_id.clone(),
                        group,
                        spec,
                        delegators: delegators.clone(),
                        task: None,
                    });
                }
            }
        }
    }
    if plan.group != Group::Task {
        return drafts;
    }
    let mut merged: Vec<Draft> = Vec::new();
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut members: BTreeMap<(Vec<String>, String), BTreeSet<String>> = BTreeMap::new();
    for draft in drafts {
        let principal = &draft.principals[0];
        let Some(Some(tasks)) = plan.tasks.get(principal) else {
            merged.push(draft);
            continue;
        };
        let Some(uid) = plan.principals.get(principal) else {
            merged.push(draft);
            continue;
        };
        let key = format!(
            "{:?}|{}|{}|{:?}|{}|{:?}|{:?}|{:?}",
            tasks,
            uid.type_name(),
            draft.source_id,
            draft
                .group
                .actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>(),
            draft.group.resource_type,
            draft.spec,
            draft.group.resources,
            draft.delegators
        );
        members
            .entry((tasks.iter().cloned().collect(), uid.type_name().to_string()))
            .or_default()
            .insert(principal.clone());
        if let Some(&at) = index.get(&key) {
            let shared = &mut merged[at];
            shared.principals.push(principal.clone());
            shared.task = tasks.iter().next().cloned();
            continue;
        }
        index.insert(key, merged.len());
        merged.push(draft);
    }
    let shared: Vec<&Draft> = merged.iter().filter(|d| d.principals.len() > 1).collect();
    for ((tasks, _), principals) in &members {
        let tasks = tasks
            .iter()
            .map(|t| cedar_string(t))
            .collect::<Vec<_>>()
            .join(", ");
        let sharing = shared
            .iter()
            .filter(|d| d.principals.iter().all(|p| principals.contains(p)))
            .count();
        if principals.len() > 1 {
            let own: Vec<String> = principals
                .iter()
                .map(|p| {
                    let alone = merged
                        .iter()
                        .filter(|d| d.principals.len() == 1 && &d.principals[0] == p)
                        .count();
                    format!("{p}: {alone}")
                })
                .collect();
            rendered.notes.push(format!(
                "`--group task`: {} share the task(s) {tasks}: {sharing} permit(s) are shared, where each of them used the same pairs through the same candidate permit; permits of their own (used by one of them only, so not generalized): {}",
                principals.iter().cloned().collect::<Vec<_>>().join(", "),
                own.join(", ")
            ));
        }
    }
    merged
}

/// The needed pairs of one candidate permit split by the delegators their
/// uses were made for (`--by-delegator`): one part per delegator set, and
/// `None` for pairs used without a delegator. Without delegators, one part.
fn by_delegators(
    pairs: &BTreeSet<Pair>,
    delegators: Option<&BTreeMap<Pair, Option<BTreeSet<String>>>>,
) -> Vec<(Option<BTreeSet<String>>, BTreeSet<Pair>)> {
    let Some(delegators) = delegators else {
        return vec![(None, pairs.clone())];
    };
    let mut parts: BTreeMap<Option<BTreeSet<String>>, BTreeSet<Pair>> = BTreeMap::new();
    for pair in pairs {
        let key = delegators.get(pair).cloned().flatten();
        parts.entry(key).or_default().insert(pair.clone());
    }
    parts.into_iter().collect()
}

/// Writes one draft as a suggested permit, or records why it cannot be.
fn write_draft(
    scenario: &Scenario,
    plan: &Plan,
    draft: &Draft,
    id: &str,
    who: &str,
    ancestry: &mut Ancestry<'_>,
    rendered: &mut Rendered,
) -> Option<SuggestedPolicy> {
    let source = scenario
        .policies
        .set
        .policy(&PolicyId::new(&draft.source_id))?;
    let principals: Vec<EntityUid> = draft
        .principals
        .iter()
        .filter_map(|p| plan.principals.get(p).cloned())
        .collect();
    let mut extra = Vec::new();
    if let (Some(path), Some(delegators)) = (&plan.delegator_path, &draft.delegators) {
        extra.push(path.condition(delegators));
    }
    let narrowing = Narrowing {
        id,
        principals: &principals,
        by_type: principals.len() > 1 && whole_type_of(scenario, plan, &principals),
        who,
        source_id: &draft.source_id,
        source,
        group: &draft.group,
        spec: &draft.spec,
        extra: &extra,
    };
    match narrowed_permit(&narrowing, ancestry) {
        Ok(text) => Some(SuggestedPolicy {
            id: id.to_string(),
            narrows: draft.source_id.clone(),
            text,
            shared_by: Vec::new(),
            delegators: draft.delegators.iter().flatten().cloned().collect(),
        }),
        Err(problem) => {
            rendered.problems.push(problem);
            None
        }
    }
}

/// Whether these principals (all of one type) are every principal of their
/// type: every entity of it in the world at any time, and every principal of
/// it accounted in the run.
fn whole_type_of(scenario: &Scenario, plan: &Plan, principals: &[EntityUid]) -> bool {
    let Some(first) = principals.first() else {
        return false;
    };
    let type_name = first.type_name().to_string();
    let members: BTreeSet<String> = principals.iter().map(ToString::to_string).collect();
    let in_world = scenario.world.segments.iter().all(|segment| {
        segment.entities.iter().all(|entity| {
            let uid = entity.uid();
            uid.type_name().to_string() != type_name || members.contains(&uid.to_string())
        })
    });
    let accounted = plan
        .needed
        .keys()
        .all(|key| match scenario::parse_uid(key) {
            Ok(uid) => uid.type_name().to_string() != type_name || members.contains(key),
            Err(_) => true,
        });
    in_world && accounted
}

/// A task as an id part: lowercase letters, digits and dashes, at most 32.
fn slug(task: &str) -> String {
    let mut out = String::new();
    for c in task.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') && !out.is_empty() {
            out.push('-');
        }
        if out.len() >= 32 {
            break;
        }
    }
    let out = out.trim_end_matches('-').to_string();
    if out.is_empty() {
        "shared".to_string()
    } else {
        out
    }
}

/// A candidate policy or template, for writing it out.
enum Source<'a> {
    Policy(&'a Policy),
    Template(&'a Template),
}

impl Source<'_> {
    fn has_id_annotation(&self) -> bool {
        match self {
            Source::Policy(p) => p.annotation("id").is_some(),
            Source::Template(t) => t.annotation("id").is_some(),
        }
    }

    fn text(&self) -> Option<String> {
        match self {
            Source::Policy(p) => p.to_cedar(),
            Source::Template(t) => Some(t.to_cedar()),
        }
    }

    fn est(&self) -> Option<Value> {
        match self {
            Source::Policy(p) => p.to_json().ok(),
            Source::Template(t) => t.to_json().ok(),
        }
    }

    /// Cedar's own rendering of the policy this EST describes, without
    /// annotations: two ESTs with the same rendering mean the same policy.
    fn canonical(&self, est: &Value) -> Option<String> {
        let mut est = est.clone();
        if let Some(object) = est.as_object_mut() {
            object.remove("annotations");
        }
        match self {
            Source::Policy(_) => Policy::from_json(None, est).ok()?.to_cedar(),
            Source::Template(_) => Some(Template::from_json(None, est).ok()?.to_cedar()),
        }
    }

    fn parse_est(&self, text: &str) -> Option<Value> {
        match self {
            Source::Policy(_) => Policy::parse(None, text).ok()?.to_json().ok(),
            Source::Template(_) => Template::parse(None, text).ok()?.to_json().ok(),
        }
    }
}

/// Writes a candidate policy: unchanged, or closed to the guard's principals.
fn push_candidate(
    rendered: &mut Rendered,
    sections: &mut Vec<String>,
    id: &str,
    source: &Source<'_>,
    guard: &Closing,
) {
    let with_id = |text: String| {
        if source.has_id_annotation() {
            text
        } else {
            format!("@id({})\n{text}", cedar_string(id))
        }
    };
    if guard.terms.is_empty() {
        let text = source.text().or_else(|| {
            source
                .est()
                .and_then(|est| source.canonical(&est))
                .map(|text| text.trim_end().to_string())
        });
        match text {
            Some(text) => {
                sections.push(format!(
                    "// Kept from the candidate.\n{}",
                    with_id(text.trim().to_string())
                ));
                rendered.kept.push(id.to_string());
            }
            None => rendered
                .problems
                .push(format!("cannot write the candidate policy `{id}`")),
        }
        return;
    }
    let guard_text = guard.terms.join(" || ");
    let comment = format!(
        "// Kept from the candidate, closed to the right-sized {}.",
        if guard.by_type.is_empty() && guard.terms.len() == 1 {
            "principal"
        } else {
            "principals"
        }
    );
    match guarded_text(source, &guard_text) {
        Some(text) => {
            sections.push(format!("{comment}\n{}", with_id(text)));
            rendered.narrowed.push(id.to_string());
        }
        None => rendered
            .problems
            .push(format!("cannot close the candidate permit `{id}`")),
    }
}

/// How a candidate permit is closed to the right-sized principals it could
/// apply to: the `||` terms of its `unless`, and a note saying how.
#[derive(Debug, Clone, Default)]
struct Closing {
    /// `principal is T` or `principal == X`; empty: the permit is kept as it is.
    terms: Vec<String>,
    /// The types closed as a whole.
    by_type: Vec<String>,
    /// Why it was closed this way, when a list of names was involved.
    note: Option<String>,
}

/// Closes a permit to the right-sized principals `guard` the way a Cedar user
/// would: when two or more of them share a type, and every principal of that
/// type the permit could apply to (in the world's entities at any time, or
/// accounted in the run) is right-sized, by `principal is T`; otherwise by
/// naming them (`principal == X`), the exact fallback, with a note saying
/// which principals of the type keep the permit. `principal is T` removes no
/// more than the names do in the scenario's world, and in any other world it
/// only removes more, so it never allows anything the candidate did not.
fn closing_condition(
    id: &str,
    guard: &BTreeSet<&String>,
    constraints: &[PrincipalConstraint],
    scenario: &Scenario,
    plan: &Plan,
    ancestry: &mut Ancestry<'_>,
) -> Closing {
    let mut closing = Closing::default();
    let mut by_type: BTreeMap<String, Vec<&String>> = BTreeMap::new();
    for key in guard {
        if let Some(uid) = plan.principals.get(*key) {
            by_type
                .entry(uid.type_name().to_string())
                .or_default()
                .push(*key);
        }
    }
    let mut named = Vec::new();
    let mut kept_by_others = Vec::new();
    for (type_name, members) in by_type {
        let mut everyone: BTreeMap<String, EntityUid> = BTreeMap::new();
        for segment in &scenario.world.segments {
            for entity in segment.entities.iter() {
                let uid = entity.uid();
                if uid.type_name().to_string() == type_name {
                    everyone.insert(uid.to_string(), uid);
                }
            }
        }
        for key in plan.needed.keys() {
            if let Ok(uid) = scenario::parse_uid(key)
                && uid.type_name().to_string() == type_name
            {
                everyone.insert(key.clone(), uid);
            }
        }
        let mut others: BTreeSet<String> = BTreeSet::new();
        for constraint in constraints {
            for key in applicable(&everyone, constraint, ancestry) {
                if !plan.principals.contains_key(key) {
                    others.insert(key.clone());
                }
            }
        }
        if members.len() >= 2 && others.is_empty() {
            closing.terms.push(format!("principal is {type_name}"));
            closing.by_type.push(format!(
                "{type_name} (all {} it applies to are right-sized)",
                members.len()
            ));
        } else {
            if members.len() >= 2 {
                kept_by_others.push(format!(
                    "{type_name}: {} keep{} it",
                    others.iter().cloned().collect::<Vec<_>>().join(", "),
                    if others.len() == 1 { "s" } else { "" }
                ));
            }
            named.extend(members.into_iter().map(|key| format!("principal == {key}")));
        }
    }
    closing.terms.extend(named);
    if !closing.by_type.is_empty() {
        closing.note = Some(format!(
            "`{id}` is closed by type with `principal is …`: {}",
            closing.by_type.join("; ")
        ));
    } else if !kept_by_others.is_empty() {
        closing.note = Some(format!(
            "`{id}` is closed by naming its right-sized principals (the exact fallback): a type condition would also take it from principals that are not right-sized ({})",
            kept_by_others.join("; ")
        ));
    }
    closing
}

/// The candidate's text with `unless { guard }` appended, checked to mean the
/// candidate policy with that one condition added; Cedar's own rendering when
/// the text cannot be reused.
fn guarded_text(source: &Source<'_>, guard: &str) -> Option<String> {
    let guard_est = Policy::parse(
        None,
        format!("permit (principal, action, resource) unless {{ {guard} }};"),
    )
    .ok()?
    .to_json()
    .ok()?
    .get("conditions")?
    .get(0)?
    .clone();
    let mut expected = source.est()?;
    expected
        .get_mut("conditions")?
        .as_array_mut()?
        .push(guard_est);
    let expected_canonical = source.canonical(&expected)?;
    if let Some(text) = source.text() {
        let body = text.trim();
        let body = body.strip_suffix(';').unwrap_or(body).trim_end();
        let candidate = format!("{body}\nunless {{ {guard} }};");
        if source
            .parse_est(&candidate)
            .and_then(|est| source.canonical(&est))
            .is_some_and(|c| c == expected_canonical)
        {
            return Some(candidate);
        }
    }
    let fallback = match source {
        Source::Policy(_) => Policy::from_json(None, expected).ok()?.to_cedar()?,
        Source::Template(_) => Template::from_json(None, expected).ok()?.to_cedar(),
    };
    Some(fallback.trim().to_string())
}

/// Actions with the same needed resources of one type, for one suggested permit.
struct ActionGroup {
    actions: Vec<EntityUid>,
    resource_type: String,
    resources: BTreeSet<String>,
}

/// Per resource type, per action: the resources of `pairs` (a pair whose
/// resource is not an entity reference is left out).
pub(super) fn pairs_by_type(
    pairs: &BTreeSet<Pair>,
) -> BTreeMap<String, BTreeMap<String, BTreeSet<String>>> {
    let mut by_type: BTreeMap<String, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
    for pair in pairs {
        let Ok(resource) = scenario::parse_uid(&pair.resource) else {
            continue;
        };
        by_type
            .entry(resource.type_name().to_string())
            .or_default()
            .entry(pair.action.clone())
            .or_default()
            .insert(pair.resource.clone());
    }
    by_type
}

/// Groups pairs by resource type, then merges actions whose resources are the same.
fn action_groups(pairs: &BTreeSet<Pair>) -> Vec<ActionGroup> {
    let by_type = pairs_by_type(pairs);
    let mut groups = Vec::new();
    for (resource_type, actions) in by_type {
        let mut merged: BTreeMap<BTreeSet<String>, Vec<EntityUid>> = BTreeMap::new();
        for (action, resources) in actions {
            if let Ok(action) = scenario::parse_uid(&action) {
                merged.entry(resources).or_default().push(action);
            }
        }
        let mut these: Vec<ActionGroup> = merged
            .into_iter()
            .map(|(resources, actions)| ActionGroup {
                actions,
                resource_type: resource_type.clone(),
                resources,
            })
            .collect();
        these.sort_by_key(|g| {
            g.actions
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
        });
        groups.extend(these);
    }
    groups
}

/// How a suggested permit names its resources.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ResourceSpec {
    /// `resource is T`: every resource of the type (`--group resource-type`).
    whole_type: bool,
    /// Parents every one of whose universe members of the type is needed.
    parents: Vec<EntityUid>,
    /// Resources named one by one.
    singles: Vec<EntityUid>,
}

/// Covers the needed resources with the fewest parents that add nothing
/// unneeded: a parent is used when every resource of the type in the
/// principal's universe for these actions that is in it (at any time) is
/// needed, and at least two needed resources are in it at every time.
fn resource_spec(
    group: &ActionGroup,
    universe: &BTreeMap<String, Vec<EntityUid>>,
    ancestry: &mut Ancestry<'_>,
) -> ResourceSpec {
    let members: Vec<EntityUid> = group
        .actions
        .iter()
        .filter_map(|a| universe.get(&a.to_string()))
        .flatten()
        .filter(|r| r.type_name().to_string() == group.resource_type)
        .map(|r| (r.to_string(), r.clone()))
        .collect::<BTreeMap<String, EntityUid>>()
        .into_values()
        .collect();
    let needed: Vec<EntityUid> = group
        .resources
        .iter()
        .filter_map(|r| scenario::parse_uid(r).ok())
        .collect();
    let mut candidates: BTreeSet<String> = BTreeSet::new();
    for resource in &needed {
        candidates.insert(resource.to_string());
        candidates.extend(ancestry.of(resource).some.iter().cloned());
    }
    let mut remaining: BTreeSet<String> = group.resources.clone();
    let mut parents = Vec::new();
    loop {
        let mut best: Option<(usize, usize, String)> = None;
        for parent in &candidates {
            let adds_unneeded = members.iter().any(|m| {
                let key = m.to_string();
                !group.resources.contains(&key)
                    && (&key == parent || ancestry.of(m).some.contains(parent))
            });
            if adds_unneeded {
                continue;
            }
            let gain = needed
                .iter()
                .filter(|r| {
                    let key = r.to_string();
                    remaining.contains(&key)
                        && (&key == parent || ancestry.of(r).every.contains(parent))
                })
                .count();
            if gain < 2 {
                continue;
            }
            let depth = scenario::parse_uid(parent).map_or(0, |p| ancestry.of(&p).some.len());
            let better = match &best {
                None => true,
                Some((g, d, _)) => (gain, depth) > (*g, *d),
            };
            if better {
                best = Some((gain, depth, parent.clone()));
            }
        }
        let Some((_, _, parent)) = best else { break };
        let Ok(parent_uid) = scenario::parse_uid(&parent) else {
            break;
        };
        remaining.retain(|key| {
            let inside = key == &parent
                || scenario::parse_uid(key).is_ok_and(|r| ancestry.of(&r).every.contains(&parent));
            !inside
        });
        candidates.remove(&parent);
        parents.push(parent_uid);
    }
    ResourceSpec {
        whole_type: false,
        parents,
        singles: remaining
            .iter()
            .filter_map(|r| scenario::parse_uid(r).ok())
            .collect(),
    }
}

/// One suggested permit to write.
struct Narrowing<'a> {
    id: &'a str,
    /// One principal, or the principals of a shared permit (all of one type).
    principals: &'a [EntityUid],
    /// For a shared permit: its principals are every principal of their
    /// type, so it is written `principal is T` without a list.
    by_type: bool,
    /// Who it is for, for the comment above it.
    who: &'a str,
    source_id: &'a str,
    source: &'a Policy,
    group: &'a ActionGroup,
    spec: &'a ResourceSpec,
    /// Conditions of its own to add (the delegator's).
    extra: &'a [String],
}

/// Writes one suggested permit: the candidate permit `source` narrowed to a
/// principal, an action group and its resources. The candidate's scope (where
/// the narrowing does not imply it at every time of the run) and conditions
/// are kept, so the suggested permit never allows what `source` did not.
/// Checked by parsing.
fn narrowed_permit(n: &Narrowing<'_>, ancestry: &mut Ancestry<'_>) -> Result<String, String> {
    let Narrowing {
        id,
        principals,
        by_type,
        who,
        source_id,
        source,
        group,
        spec,
        extra,
    } = *n;
    let problem = |why: &str| format!("cannot narrow `{source_id}` for {who}: {why}");
    let (principal_head, principal_condition) = match principals {
        [] => return Err(problem("no principal")),
        [one] => (format!("principal == {one}"), None),
        [first, ..] => {
            let type_name = first.type_name();
            if principals.iter().any(|p| p.type_name() != type_name) {
                return Err(problem("its principals are of several types"));
            }
            (
                format!("principal is {type_name}"),
                (!by_type).then(|| format!("[{}].contains(principal)", join_uids(principals))),
            )
        }
    };
    let action_head = match group.actions.as_slice() {
        [one] => format!("action == {one}"),
        many => format!(
            "action in [{}]",
            many.iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        ),
    };
    let resource_type = &group.resource_type;
    let mut conditions: Vec<String> = principal_condition.into_iter().collect();
    let resource_head = match (spec.parents.as_slice(), spec.singles.as_slice()) {
        _ if spec.whole_type => format!("resource is {resource_type}"),
        ([], []) => return Err(problem("no resources")),
        ([], [one]) => format!("resource == {one}"),
        ([parent], []) => format!("resource is {resource_type} in {parent}"),
        (parents, singles) => {
            let mut alternatives = Vec::new();
            match parents {
                [] => {}
                [one] => alternatives.push(format!("resource in {one}")),
                many => alternatives.push(format!("resource in [{}]", join_uids(many))),
            }
            match singles {
                [] => {}
                [one] => alternatives.push(format!("resource == {one}")),
                many => alternatives.push(format!("[{}].contains(resource)", join_uids(many))),
            }
            conditions.push(alternatives.join(" || "));
            format!("resource is {resource_type}")
        }
    };
    // `x in group` at every time of the run, so a condition saying so adds nothing.
    let always_in = |member: &EntityUid, group: &EntityUid, ancestry: &mut Ancestry<'_>| {
        member == group || ancestry.of(member).every.contains(&group.to_string())
    };
    match source.principal_constraint() {
        PrincipalConstraint::In(group) | PrincipalConstraint::IsIn(_, group)
            if !principals
                .iter()
                .all(|principal| always_in(principal, &group, ancestry)) =>
        {
            conditions.push(format!("principal in {group}"));
        }
        PrincipalConstraint::Eq(only) if principals != [only.clone()] => {
            return Err(problem("it names another principal"));
        }
        _ => {}
    }
    if let ActionConstraint::In(listed) = source.action_constraint()
        && !group.actions.iter().all(|a| listed.contains(a))
    {
        conditions.push(format!("action in [{}]", join_uids(&listed)));
    }
    match source.resource_constraint() {
        ResourceConstraint::Eq(only) => {
            if spec.whole_type
                || !spec.parents.is_empty()
                || spec.singles.as_slice() != [only.clone()]
            {
                conditions.push(format!("resource == {only}"));
            }
        }
        ResourceConstraint::In(parent) | ResourceConstraint::IsIn(_, parent) => {
            let implied = !spec.whole_type
                && spec
                    .parents
                    .iter()
                    .chain(&spec.singles)
                    .all(|named| always_in(named, &parent, ancestry));
            if !implied {
                conditions.push(format!("resource in {parent}"));
            }
        }
        ResourceConstraint::Is(_) | ResourceConstraint::Any => {}
    }
    conditions.extend(extra.iter().cloned());
    let source_est = source
        .to_json()
        .map_err(|e| problem(&format!("cannot read it: {e}")))?;
    let source_conditions = source_est
        .get("conditions")
        .cloned()
        .unwrap_or_else(|| json!([]));
    let expected = canonical_conditions(&source_conditions)
        .ok_or_else(|| problem("Cedar cannot render its conditions"))?;
    let mut head = String::new();
    let _ = writeln!(
        head,
        "// Generated by `privsim suggest`: `{}` narrowed to what {} need{}.",
        comment_text(source_id),
        comment_text(who),
        if principals.len() == 1 { "s" } else { "" }
    );
    let _ = writeln!(head, "@id({})", cedar_string(id));
    let _ = writeln!(head, "@generated(\"privsim suggest\")");
    let _ = writeln!(head, "@narrows({})", cedar_string(source_id));
    let _ = write!(
        head,
        "permit (\n  {principal_head},\n  {action_head},\n  {resource_head}\n)"
    );
    if !conditions.is_empty() {
        // `&&` binds tighter than `||`: a disjunction joined to others needs parentheses.
        let joined: Vec<String> = conditions
            .iter()
            .map(|c| {
                if conditions.len() > 1 && c.contains("||") {
                    format!("({c})")
                } else {
                    c.clone()
                }
            })
            .collect();
        let _ = write!(head, "\nwhen {{ {} }}", joined.join(" && "));
    }
    let own = usize::from(!conditions.is_empty());
    let attempts = [
        source.to_cedar().and_then(|text| condition_clauses(&text)),
        rendered_conditions(&source_conditions).map(|c| c.into_iter().collect()),
    ];
    for clauses in attempts.into_iter().flatten() {
        let mut text = head.clone();
        for clause in &clauses {
            text.push('\n');
            text.push_str(clause);
        }
        text.push(';');
        let Ok(parsed) = Policy::parse(None, &text) else {
            continue;
        };
        let Ok(est) = parsed.to_json() else { continue };
        let tail: Vec<Value> = est
            .get("conditions")
            .and_then(Value::as_array)
            .map(|all| all.iter().skip(own).cloned().collect())
            .unwrap_or_default();
        if canonical_conditions(&Value::Array(tail)).as_ref() == Some(&expected) {
            return Ok(text);
        }
    }
    Err(problem("its conditions could not be copied faithfully"))
}

/// Cedar's rendering of a policy with only these conditions.
fn canonical_conditions(conditions: &Value) -> Option<String> {
    let est = json!({
        "effect": "permit",
        "principal": { "op": "All" },
        "action": { "op": "All" },
        "resource": { "op": "All" },
        "conditions": conditions,
    });
    Policy::from_json(None, est).ok()?.to_cedar()
}

/// The conditions as one clause in Cedar's own rendering (used when the
/// source text cannot be reused, e.g. for template links).
fn rendered_conditions(conditions: &Value) -> Option<Option<String>> {
    let text = canonical_conditions(conditions)?;
    let rest = text
        .strip_prefix("permit(\n  principal,\n  action,\n  resource\n)")?
        .trim();
    let rest = rest.strip_suffix(';')?.trim();
    Some((!rest.is_empty()).then(|| rest.to_string()))
}

/// The `when` and `unless` clauses of a policy's text, in order, as written.
fn condition_clauses(text: &str) -> Option<Vec<String>> {
    let bytes = text.as_bytes();
    let mut clauses = Vec::new();
    let mut depth = 0usize;
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b'"' => at = skip_string(bytes, at)?,
            b'/' if bytes.get(at + 1) == Some(&b'/') => at = skip_comment(bytes, at),
            b'(' | b'[' | b'{' => {
                depth += 1;
                at += 1;
            }
            b')' | b']' | b'}' => {
                depth = depth.checked_sub(1)?;
                at += 1;
            }
            byte if depth == 0 && (byte.is_ascii_alphabetic() || byte == b'_') => {
                let start = at;
                while at < bytes.len() && (bytes[at].is_ascii_alphanumeric() || bytes[at] == b'_') {
                    at += 1;
                }
                let word = &text[start..at];
                if word == "when" || word == "unless" {
                    let open = skip_trivia(bytes, at);
                    if bytes.get(open) != Some(&b'{') {
                        return None;
                    }
                    let close = matching_brace(bytes, open)?;
                    clauses.push(format!("{word} {}", &text[open..close]));
                    at = close;
                }
            }
            _ => at += 1,
        }
    }
    Some(clauses)
}

/// The index just past the string literal starting at `at`.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
    None
}

/// The index of the line end after the comment starting at `at`.
fn skip_comment(bytes: &[u8], at: usize) -> usize {
    let mut i = at;
    while i < bytes.len() && bytes[i] != b'\n' && bytes[i] != b'\r' {
        i += 1;
    }
    i
}

fn skip_trivia(bytes: &[u8], at: usize) -> usize {
    let mut i = at;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_whitespace() {
            i += 1;
        }
        if bytes.get(i) == Some(&b'/') && bytes.get(i + 1) == Some(&b'/') {
            i = skip_comment(bytes, i);
        } else {
            return i;
        }
    }
}

/// The index just past the `}` that closes the `{` at `open`.
fn matching_brace(bytes: &[u8], open: usize) -> Option<usize> {
    let mut depth = 0usize;
    let mut i = open;
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i = skip_string(bytes, i)?;
                continue;
            }
            b'/' if bytes.get(i + 1) == Some(&b'/') => {
                i = skip_comment(bytes, i);
                continue;
            }
            b'{' => depth += 1,
            b'}' => {
                depth = depth.checked_sub(1)?;
                if depth == 0 {
                    return Some(i + 1);
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

fn join_uids(uids: &[EntityUid]) -> String {
    uids.iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(", ")
}

/// A Cedar string literal.
fn cedar_string(text: &str) -> String {
    let mut out = String::from("\"");
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\0' => out.push_str("\\0"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Text safe inside a `//` comment: no line breaks.
fn comment_text(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// The principal's part of a suggested policy id: its id, or type and id when
/// two right-sized principals share an id.
fn principal_name(principal: &EntityUid, all: &BTreeMap<String, EntityUid>) -> String {
    let id = principal.id().unescaped();
    let shared = all
        .values()
        .filter(|other| other.id().unescaped() == id)
        .count()
        > 1;
    if shared {
        format!(
            "{}-{id}",
            principal.type_name().to_string().replace("::", "-")
        )
    } else {
        id.to_string()
    }
}

fn unique_id(base: &str, taken: &mut BTreeSet<String>) -> String {
    let mut id = base.to_string();
    let mut n = 2;
    while taken.contains(&id) {
        id = format!("{base}-{n}");
        n += 1;
    }
    taken.insert(id.clone());
    id
}

fn universe_by_action(
    scenario: &Scenario,
    principal: &EntityUid,
) -> BTreeMap<String, Vec<EntityUid>> {
    crate::load::universe::pairs(scenario, principal)
        .into_iter()
        .map(|(action, resources)| (action.to_string(), resources))
        .collect()
}

/// The right-sized principals a candidate permit's principal scope could match
/// at some time of the run.
fn applicable<'p>(
    principals: &'p BTreeMap<String, EntityUid>,
    constraint: &PrincipalConstraint,
    ancestry: &mut Ancestry<'_>,
) -> Vec<&'p String> {
    principals
        .iter()
        .filter(|(key, uid)| {
            let within = |group: &EntityUid, ancestry: &mut Ancestry<'_>| {
                *uid == group || ancestry.of(uid).some.contains(&group.to_string())
            };
            match constraint {
                PrincipalConstraint::Any => true,
                PrincipalConstraint::Eq(only) => &only.to_string() == *key,
                PrincipalConstraint::Is(name) => uid.type_name() == name,
                PrincipalConstraint::In(group) => within(group, ancestry),
                PrincipalConstraint::IsIn(name, group) => {
                    uid.type_name() == name && within(group, ancestry)
                }
            }
        })
        .map(|(key, _)| key)
        .collect()
}

/// An entity's ancestors over the run.
#[derive(Debug, Clone, Default)]
struct Ancestors {
    /// In at least one stretch of time.
    some: BTreeSet<String>,
    /// In every stretch of time.
    every: BTreeSet<String>,
}

/// Ancestors of entities across the world's segments, computed once each.
struct Ancestry<'w> {
    world: &'w World,
    known: BTreeMap<String, Ancestors>,
}

impl<'w> Ancestry<'w> {
    fn new(world: &'w World) -> Self {
        Self {
            world,
            known: BTreeMap::new(),
        }
    }

    fn of(&mut self, uid: &EntityUid) -> &Ancestors {
        let key = uid.to_string();
        let world = self.world;
        self.known.entry(key).or_insert_with(|| {
            let mut ancestors = Ancestors::default();
            for (index, segment) in world.segments.iter().enumerate() {
                let here: BTreeSet<String> = segment
                    .entities
                    .ancestors(uid)
                    .map(|found| found.map(ToString::to_string).collect())
                    .unwrap_or_default();
                ancestors.some.extend(here.iter().cloned());
                ancestors.every = if index == 0 {
                    here
                } else {
                    ancestors.every.intersection(&here).cloned().collect()
                };
            }
            ancestors
        })
    }
}

/// The outcome of [`verify`].
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// (a) for the whole scenario.
    pub workflow: Check,
    /// The suggestion parses, links and passes strict validation.
    pub validation: Check,
    /// Per accounted principal: (a), (b) and (c).
    pub principals: BTreeMap<String, PrincipalVerification>,
    /// Per principal: its account under the suggestion.
    pub after: BTreeMap<String, Metrics>,
    /// Remarks that are not failures.
    pub notes: Vec<String>,
}

impl Verification {
    /// Whether every check held.
    pub fn passed(&self) -> bool {
        self.workflow.passed
            && self.validation.passed
            && self
                .principals
                .values()
                .all(|p| p.workflow.passed && p.no_new_access.passed && p.exact.passed)
    }
}

/// The suggested policies as a policy set: the text parsed, and the
/// scenario's template links made again on it (a link that no longer links
/// is a validation failure, returned beside the set). `Err` when the text
/// does not parse.
pub fn suggested_policies(
    scenario: &Scenario,
    text: &str,
) -> Result<(cedar_files::Policies, Vec<String>), String> {
    let display = "<suggested policies>".to_string();
    let file = SourceFile::from_text(PathBuf::from(&display), display, text.to_string());
    let mut policies = cedar_files::parse_policies(vec![file])
        .map_err(|error| format!("the suggested policies do not parse: {error}"))?;
    let mut failures = Vec::new();
    for link in scenario.policies.set.policies() {
        if let (Some(template), Some(values)) = (link.template_id(), link.template_links()) {
            if let Err(error) = policies
                .set
                .link(template.clone(), link.id().clone(), values)
            {
                failures.push(format!(
                    "cannot link template `{template}` as `{}` in the suggested policies: {error}",
                    link.id()
                ));
            } else if let Some(&origin) = policies.origin.get(&template.to_string()) {
                policies.origin.insert(link.id().to_string(), origin);
            }
        }
    }
    Ok((policies, failures))
}

/// Checks a suggested policy set, given as the Cedar text a user would get,
/// against the scenario, the candidate's replay and the plan:
/// (a) replayed with it, every step gets its intended decision, every access
/// assertion holds and no invariant finding appears that the candidate did not
/// have; (b) no principal holds a pair under it that it did not hold under the
/// candidate; (c) each holds exactly the pairs the plan says it needs. Held
/// sets are computed by [`crate::accounting::account`], exactly as
/// `privsim run` computes them.
pub fn verify(
    scenario: &Scenario,
    candidate: &ScenarioResult,
    plan: &Plan,
    text: &str,
) -> Verification {
    let mut verification = Verification::default();
    let (policies, mut validation_failures) = match suggested_policies(scenario, text) {
        Ok(parsed) => parsed,
        Err(failure) => {
            verification.validation = Check::from_failures(vec![failure.clone()]);
            verification.workflow = Check::from_failures(vec![failure]);
            return verification;
        }
    };
    if let Some(schema) = &scenario.schema {
        if cedar_files::validate(&scenario.policies, schema).is_ok() {
            if let Err(error) = cedar_files::validate(&policies, schema) {
                validation_failures.push(error.to_string());
            }
        } else {
            verification.notes.push(
                "strict validation was not checked: the candidate policies do not pass it either"
                    .to_string(),
            );
        }
    }
    verification.validation = Check::from_failures(validation_failures);

    let mut suggested = scenario.clone();
    suggested.policies = policies;
    let result = crate::accounting::evaluate(&suggested);

    let mut failures_of: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut workflow = Vec::new();
    for (position, step) in result.steps.iter().enumerate() {
        let label = step_label(&candidate.file, step);
        let Some(intended) = plan.intended.get(position) else {
            workflow.push(format!("{label} is not in the plan"));
            continue;
        };
        if decision_is(step, *intended) {
            if let Some(expectation) = step.expectation.as_ref().filter(|e| !e.passed) {
                verification.notes.push(format!(
                    "{label}: {} (an expectation on policy ids; a suggestion renames the permits that decide its principal's steps)",
                    expectation.failures.join("; ")
                ));
            }
            continue;
        }
        let failure = format!(
            "{label}: {} {} on {} must be {intended}, but the suggestion decides {}",
            step.principal, step.action, step.resource, step.decision
        );
        failures_of
            .entry(step.principal.clone())
            .or_default()
            .push(failure.clone());
        workflow.push(failure);
    }
    for access in result
        .access
        .iter()
        .filter(|a| !a.passed && plan.keep_access)
    {
        let failure = format!(
            "access #{} ({}:{}): {} {} under the suggestion: missing [{}], unexpected [{}]",
            access.index,
            candidate.file,
            access.line,
            access.principal,
            access.action,
            access.missing.join(", "),
            access.unexpected.join(", ")
        );
        failures_of
            .entry(access.principal.clone())
            .or_default()
            .push(failure.clone());
        workflow.push(failure);
    }
    let finding_key = |f: &privsim_model::result::Finding| {
        (
            f.kind,
            f.step,
            f.principal.clone(),
            f.delegator.clone(),
            f.grant.clone(),
            f.action.clone(),
            f.resource.clone(),
        )
    };
    let known: BTreeSet<_> = candidate.findings.iter().map(finding_key).collect();
    for finding in &result.findings {
        if !known.contains(&finding_key(finding)) {
            let failure = format!(
                "a new {} finding under the suggestion: {}",
                finding.kind, finding.message
            );
            failures_of
                .entry(finding.principal.clone())
                .or_default()
                .push(failure.clone());
            workflow.push(failure);
        }
    }
    verification.workflow = Check::from_failures(workflow);

    // Each held pair with how long it was held.
    let held_of = |accounts: &ScenarioResult, principal: &str| -> BTreeMap<Pair, i64> {
        accounts
            .principals
            .iter()
            .find(|a| a.principal == principal)
            .map(|a| {
                a.held
                    .iter()
                    .map(|h| {
                        let pair = Pair {
                            action: h.action.clone(),
                            resource: h.resource.clone(),
                        };
                        (pair, h.held_ms)
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    for account in &result.principals {
        verification
            .after
            .insert(account.principal.clone(), account.metrics.clone());
    }
    for principal in plan.needed.keys() {
        let before = held_of(candidate, principal);
        let after = held_of(&result, principal);
        let needed = plan.needed.get(principal).cloned().unwrap_or_default();
        let mut new = Vec::new();
        for (pair, &millis) in &after {
            match before.get(pair) {
                None => new.push(format!(
                    "holds {}, which the candidate did not allow it",
                    describe(pair)
                )),
                Some(&before_millis) if millis > before_millis => new.push(format!(
                    "holds {} for {millis} ms, longer than the {before_millis} ms the candidate allowed it",
                    describe(pair)
                )),
                Some(_) => {}
            }
        }
        let missing = needed
            .iter()
            .filter(|p| !after.contains_key(*p))
            .map(|p| format!("needs {} but does not hold it", describe(p)));
        let extra = after
            .keys()
            .filter(|p| !needed.contains(*p))
            .map(|p| format!("holds {} but does not need it", describe(p)));
        verification.principals.insert(
            principal.clone(),
            PrincipalVerification {
                workflow: Check::from_failures(failures_of.remove(principal).unwrap_or_default()),
                no_new_access: Check::from_failures(new),
                exact: Check::from_failures(missing.chain(extra).collect()),
            },
        );
    }
    verification
}

fn describe(pair: &Pair) -> String {
    format!("{} on {}", pair.action, pair.resource)
}
