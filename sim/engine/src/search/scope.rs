//! The world-changing requests a state's permit policies could allow: those
//! whose principal, action and resource some `permit`'s scope admits in the
//! state's entity store. A request no permit's scope admits is denied
//! whatever its context (Cedar allows only through a satisfied permit, and a
//! permit is satisfied only where its scope holds), so a random walk that
//! draws its world-changing moves among these first walks edges the state
//! can have, rather than the tens of thousands of requests it denies
//! (`docs/search.md`, "A random walk's scope").
//!
//! The scope is read from Cedar's own policy API (template links included)
//! and checked against the store's ancestors, as the held-set engine checks
//! it; conditions are not evaluated, so a request in scope may still be
//! denied: this over-approximates the allowed requests and never leaves an
//! allowed one out.

use std::rc::Rc;

use cedar_policy::{
    ActionConstraint, Effect, Entities, EntityUid, PolicySet, PrincipalConstraint,
    ResourceConstraint,
};

use crate::held::{action_matches, principal_matches, resource_matches};

/// The scope of one `permit` policy.
#[derive(Debug, Clone)]
pub(super) struct PermitScope {
    principal: PrincipalConstraint,
    action: ActionConstraint,
    resource: ResourceConstraint,
}

/// The scopes of every `permit` of a policy set (static and linked).
pub(super) fn permit_scopes(policies: &PolicySet) -> Vec<PermitScope> {
    policies
        .policies()
        .filter(|policy| policy.effect() == Effect::Permit)
        .map(|policy| PermitScope {
            principal: policy.principal_constraint(),
            action: policy.action_constraint(),
            resource: policy.resource_constraint(),
        })
        .collect()
}

/// Whether some permit's scope admits the request in `entities`.
pub(super) fn admitted(
    scopes: &[PermitScope],
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    entities: &Entities,
) -> bool {
    scopes.iter().any(|scope| {
        principal_matches(&scope.principal, principal, entities)
            && action_matches(&scope.action, action, entities)
            && resource_matches(&scope.resource, resource, entities)
    })
}

/// The world-changing requests (the effect and session-start classes) of
/// every actor whose pair some permit's scope admits in one entity store:
/// per actor, runs `(pair, first variant, how many)` sorted by pair, and
/// their sum.
#[derive(Debug, Default)]
pub struct InScope {
    pub(super) per_actor: Vec<super::ClassRuns>,
}

impl InScope {
    /// Whether `(actor, pair)` is in scope.
    pub(super) fn contains(&self, actor: usize, pair: usize) -> bool {
        self.per_actor
            .get(actor)
            .is_some_and(|(_, runs)| runs.binary_search_by_key(&pair, |&(p, _, _)| p).is_ok())
    }
}

/// The last few stores' [`InScope`], so a walk that returns to the initial
/// world, or stays in one world while the clock moves, does not compute it
/// again. Keyed by the store itself (the machine hands out one `Rc` per
/// world while it keeps it), each entry holding its store so the key is
/// never reused by another; a miss only costs the computation, whose result
/// depends on the store's content alone.
#[derive(Debug, Default)]
pub(super) struct ScopeCache {
    entries: Vec<(Rc<Entities>, Rc<InScope>)>,
}

/// How many stores' [`InScope`] a walk keeps.
const SCOPE_CACHE: usize = 8;

impl ScopeCache {
    /// The cached [`InScope`] of `store`, or `compute`'s, kept.
    pub(super) fn get(
        &mut self,
        store: &Rc<Entities>,
        compute: impl FnOnce(&Entities) -> InScope,
    ) -> Rc<InScope> {
        if let Some((_, found)) = self
            .entries
            .iter()
            .find(|(kept, _)| Rc::ptr_eq(kept, store))
        {
            return Rc::clone(found);
        }
        let computed = Rc::new(compute(store));
        if self.entries.len() >= SCOPE_CACHE {
            self.entries.remove(0);
        }
        self.entries.push((Rc::clone(store), Rc::clone(&computed)));
        computed
    }
}
