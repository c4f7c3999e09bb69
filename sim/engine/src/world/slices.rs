//! Asking Cedar with only the policies whose scope admits the request.
//!
//! Cedar evaluates a policy as `principal scope && action scope && resource
//! scope && conditions`, left to right and short-circuiting, and a scope
//! (`==`, `in`, `is`, `is ... in` against entity literals and template
//! links) never errs. So a policy whose scope does not admit a request's
//! principal, action and resource in the entity store is neither satisfied
//! nor in error for it: asking Cedar with the other policies alone gives the
//! same decision, the same reasons and the same errors. Scopes are matched
//! here as the held-set engine matches them (`held::principal_matches`,
//! `action_matches`, `resource_matches`, against the store the request is
//! asked in); each set of admitted policies gets its own policy set, made
//! once (the full set less the others) and kept, at most [`KEPT`] of them.
//! A request that admits a set not kept, or whose principal, action or
//! resource is unknown, is asked with the full set.
//!
//! Replay (steps, delegation ceilings, `[[access]]` checks) and the
//! search's machine (`Machine::authorize`: moves and the checks of a state)
//! ask Cedar through [`Slices`]; `replay::replay_brute_force` and a
//! brute-force machine through [`Slices::whole`], which asks with the full
//! set, and the property tests compare the two on generated worlds (Cedar's
//! whole expression grammar, template links, effects that change the
//! hierarchy).

use std::cell::RefCell;
use std::collections::HashMap;
use std::collections::hash_map::Entry;

use cedar_policy::{
    ActionConstraint, Authorizer, Entities, EntityUid, PolicyId, PolicySet, PrincipalConstraint,
    Request, ResourceConstraint, Response,
};

use crate::held::{action_matches, principal_matches, resource_matches};

/// The most policy sets kept (one per set of admitted policies met).
pub const KEPT: usize = 256;

/// A policy's scope, read once.
struct Scope {
    id: PolicyId,
    /// Template-linked (removed from a set by unlinking it).
    linked: bool,
    principal: PrincipalConstraint,
    action: ActionConstraint,
    resource: ResourceConstraint,
}

/// A policy set, sliced by scope per request (module docs), and the
/// authorizer that asks Cedar with it.
pub struct Slices {
    authorizer: Authorizer,
    full: PolicySet,
    /// Every policy's scope; empty for [`Slices::whole`], which never
    /// slices.
    scopes: Vec<Scope>,
    kept: RefCell<HashMap<Vec<u64>, PolicySet>>,
}

impl Slices {
    /// The slices of `full` (a clone of it is kept: Cedar's policy sets
    /// share their policies through `Arc`s).
    pub fn new(full: &PolicySet) -> Self {
        let scopes = full
            .policies()
            .map(|policy| Scope {
                id: policy.id().clone(),
                linked: policy.template_id().is_some(),
                principal: policy.principal_constraint(),
                action: policy.action_constraint(),
                resource: policy.resource_constraint(),
            })
            .collect();
        Self {
            scopes,
            ..Self::whole(full)
        }
    }

    /// `full`, never sliced: every request is asked with every policy (the
    /// definition the sliced asks are compared with).
    pub fn whole(full: &PolicySet) -> Self {
        Self {
            authorizer: Authorizer::new(),
            full: full.clone(),
            scopes: Vec::new(),
            kept: RefCell::new(HashMap::new()),
        }
    }

    /// Cedar's answer to `request` in `entities`, as
    /// `Authorizer::is_authorized(request, full, entities)` gives it.
    pub fn is_authorized(&self, request: &Request, entities: &Entities) -> Response {
        let whole = || self.authorizer.is_authorized(request, &self.full, entities);
        let (Some(principal), Some(action), Some(resource)) =
            (request.principal(), request.action(), request.resource())
        else {
            return whole();
        };
        if self.scopes.is_empty() {
            return whole();
        }
        let mut admitted = vec![0_u64; self.scopes.len().div_ceil(64)];
        let mut all = true;
        for (index, scope) in self.scopes.iter().enumerate() {
            if principal_matches(&scope.principal, principal, entities)
                && action_matches(&scope.action, action, entities)
                && resource_matches(&scope.resource, resource, entities)
            {
                admitted[index / 64] |= 1 << (index % 64);
            } else {
                all = false;
            }
        }
        if all {
            return whole();
        }
        let mut kept = self.kept.borrow_mut();
        let room = kept.len() < KEPT;
        let set = match kept.entry(admitted) {
            Entry::Occupied(entry) => entry.into_mut(),
            Entry::Vacant(entry) if room => match self.slice(entry.key()) {
                Some(set) => entry.insert(set),
                None => return whole(),
            },
            Entry::Vacant(_) => return whole(),
        };
        self.authorizer.is_authorized(request, set, entities)
    }

    /// Whether some policy's scope admits `principal`, `action` and
    /// `resource` in `entities`; always `true` for [`Slices::whole`]. When
    /// none does, Cedar denies any request of theirs (whatever its
    /// context) with no reasons and no errors, or the schema rejects it.
    pub fn admits_any(
        &self,
        principal: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        entities: &Entities,
    ) -> bool {
        self.scopes.is_empty()
            || self.scopes.iter().any(|scope| {
                principal_matches(&scope.principal, principal, entities)
                    && action_matches(&scope.action, action, entities)
                    && resource_matches(&scope.resource, resource, entities)
            })
    }

    /// How many sliced policy sets are kept.
    #[cfg_attr(
        not(feature = "internals"),
        expect(dead_code, reason = "read by tests, through `internals`")
    )]
    pub fn kept(&self) -> usize {
        self.kept.borrow().len()
    }

    /// The full set less the policies `admitted` leaves out, or `None` if
    /// Cedar refuses to remove one (then the full set is asked).
    fn slice(&self, admitted: &[u64]) -> Option<PolicySet> {
        let mut set = self.full.clone();
        for (index, scope) in self.scopes.iter().enumerate() {
            if admitted[index / 64] & (1 << (index % 64)) != 0 {
                continue;
            }
            if scope.linked {
                set.unlink(scope.id.clone()).ok()?;
            } else {
                set.remove_static(scope.id.clone()).ok()?;
            }
        }
        Some(set)
    }
}
