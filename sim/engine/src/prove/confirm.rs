//! Confirming a solver's counterexample with Cedar itself: the request must
//! validate against the schema and Cedar's `Authorizer` must decide as the
//! solver claims, or the verdict is unknown, never refuted (a solver can be
//! wrong).

use std::collections::HashSet;

use cedar_policy::{Authorizer, Decision, Entities, EntityUid, PolicySet, Request, Schema};
use cedar_policy_symcc::Env as SymCex;
use cedar_policy_symcc::err::Error as SymError;

use super::solver::sym_err_text;
use super::{Counterexample, UnknownReason, Verdict};
use crate::held::collect_uids;

pub(super) fn decide(authz: &Authorizer, cex: &SymCex, ps: &PolicySet) -> cedar_policy::Response {
    authz.is_authorized(&cex.request, ps, &cex.entities)
}

/// Checks a solver counterexample with Cedar; `check` returns `Err(why)` if
/// Cedar disagrees with the solver. A confirmed counterexample is shown
/// [`pruned`]: without the entities it does not need.
pub(super) fn confirm(
    cex: SymCex,
    schema: &Schema,
    check: impl Fn(&Authorizer, &SymCex) -> Result<(), String>,
) -> Verdict {
    // the request must be valid for the schema, too
    let req = &cex.request;
    if let (Some(p), Some(a), Some(r), Some(c)) =
        (req.principal(), req.action(), req.resource(), req.context())
        && let Err(e) = Request::new(p.clone(), a.clone(), r.clone(), c.clone(), Some(schema))
    {
        return Verdict::Unknown {
            reason: UnknownReason::NotConfirmed(format!(
                "counterexample request does not validate against the schema: {e}"
            )),
        };
    }
    let authz = Authorizer::new();
    match check(&authz, &cex) {
        Ok(()) => {
            let cex = pruned(cex, |candidate| check(&authz, candidate).is_ok());
            Verdict::Refuted {
                counterexample: Box::new(Counterexample {
                    rendered: render(&cex),
                    request: cex.request,
                    entities: cex.entities,
                }),
            }
        }
        Err(why) => Verdict::Unknown {
            reason: UnknownReason::NotConfirmed(format!(
                "{why}; counterexample was: {}",
                render(&cex)
            )),
        },
    }
}

/// A confirmed counterexample without the entities it does not need, so that
/// what is shown does not depend on the solver's model beyond what the claim
/// needs. A solver's store holds entities nothing in the counterexample
/// refers to (policy literals, the schema's actions), and which ones it holds
/// can change from run to run for the same query. One at a time, in order of
/// uid, an entity that neither the request (principal, action, resource,
/// context) nor any entity kept refers to (as a parent, in an attribute or a
/// tag) is left out when Cedar still confirms the claim without it
/// (`holds`); a policy may read an entity that nothing refers to (a literal's
/// attribute), and then that entity stays. Passes over the store repeat
/// until one leaves every entity in place (an entity only a removed one
/// referred to goes in the next pass), so the checks grow with the store's
/// size times the depth of its references, not with its size squared.
pub(super) fn pruned(mut cex: SymCex, holds: impl Fn(&SymCex) -> bool) -> SymCex {
    loop {
        let mut referenced: HashSet<EntityUid> = HashSet::new();
        let request = &cex.request;
        referenced.extend(
            [request.principal(), request.action(), request.resource()]
                .into_iter()
                .flatten()
                .cloned(),
        );
        if let Some(context) = request.context().and_then(|c| c.to_json_value().ok()) {
            let mut named = Vec::new();
            collect_uids(&context, &mut named);
            referenced.extend(named);
        }
        let json = super::view::entities_json(&cex.entities);
        let list = json.as_array().map(Vec::as_slice).unwrap_or_default();
        let mut uids = Vec::with_capacity(list.len());
        for entity in list {
            let mut own = Vec::new();
            collect_uids(&entity["uid"], &mut own);
            let Some(uid) = own.pop() else {
                // An entity whose uid cannot be read back: keep the store whole.
                return cex;
            };
            let mut named = Vec::new();
            for key in ["parents", "attrs", "tags"] {
                if let Some(value) = entity.get(key) {
                    collect_uids(value, &mut named);
                }
            }
            referenced.extend(named.into_iter().filter(|n| *n != uid));
            uids.push(uid);
        }
        let mut removed = false;
        for uid in uids {
            if referenced.contains(&uid) {
                continue;
            }
            let kept = cex.entities.iter().filter(|e| e.uid() != uid).cloned();
            let Ok(entities) = Entities::from_entities(kept, None) else {
                continue;
            };
            let candidate = SymCex {
                request: cex.request.clone(),
                entities,
            };
            if holds(&candidate) {
                cex = candidate;
                removed = true;
            }
        }
        if !removed {
            return cex;
        }
    }
}

/// A counterexample as text: the request and its context (in the form
/// symcc's `Display` gives them, written here from the request itself), then
/// the entities as Cedar's JSON, one a line, sorted by uid with
/// each entity's parents, attributes and tags sorted
/// ([`super::view::entities_json`]). symcc's own list of entities and
/// their ancestors follows Cedar's hash maps, whose order changes from one
/// run to the next, so its `Display` is not used at all.
pub(super) fn render(cex: &SymCex) -> String {
    let request = &cex.request;
    let part = |uid: Option<&cedar_policy::EntityUid>| {
        uid.map_or_else(|| "unknown".to_string(), ToString::to_string)
    };
    let mut text = format!(
        "principal: {}, action: {}, resource: {}",
        part(request.principal()),
        part(request.action()),
        part(request.resource())
    );
    if let Some(context) = request.context() {
        text.push_str(&format!("\ncontext: {context}"));
    }
    let entities = super::view::entities_json(&cex.entities);
    if let Some(list) = entities.as_array().filter(|list| !list.is_empty()) {
        text.push_str("\nentities: [\n");
        for entity in list {
            text.push_str(&format!("  {entity},\n"));
        }
        text.push(']');
    }
    text
}

pub(super) fn expect_decision(
    authz: &Authorizer,
    cex: &SymCex,
    ps: &PolicySet,
    side: &str,
    want: Decision,
) -> Result<(), String> {
    let got = decide(authz, cex, ps).decision();
    if got == want {
        Ok(())
    } else {
        Err(format!("{side} decided {got:?}, expected {want:?}"))
    }
}

pub(super) fn unsupported(side: &str, e: &SymError) -> Verdict {
    Verdict::Unknown {
        reason: UnknownReason::Unsupported(format!("{side}: {}", sym_err_text(e))),
    }
}

pub(super) fn from_answer(
    answer: Result<Option<SymCex>, UnknownReason>,
    on_cex: impl FnOnce(SymCex) -> Verdict,
) -> Verdict {
    match answer {
        Ok(None) => Verdict::Proven,
        Ok(Some(cex)) => on_cex(cex),
        Err(reason) => Verdict::Unknown { reason },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prove::to_static_policy_set;
    use cedar_policy::Entities;
    use std::collections::HashMap;
    use std::str::FromStr;

    /// A solver counterexample that Cedar does not reproduce is Unknown,
    /// never Refuted (exercised without a solver: the confirmation step alone).
    #[test]
    fn unconfirmed_counterexample_is_unknown() {
        let schema = Schema::from_cedarschema_str(
            "entity U; action a appliesTo { principal: [U], resource: [U] };",
        )
        .unwrap()
        .0;
        let allow = PolicySet::from_str("permit(principal, action, resource);").unwrap();
        let deny = PolicySet::new();
        let request = x_does_a_to_y();
        let cex = || SymCex {
            request: request.clone(),
            entities: Entities::empty(),
        };
        // claimed: `deny` allows and `allow` denies -- Cedar disagrees
        let v = confirm(cex(), &schema, |a, c| {
            expect_decision(a, c, &deny, "candidate", Decision::Allow)?;
            expect_decision(a, c, &allow, "baseline", Decision::Deny)
        });
        match v {
            Verdict::Unknown {
                reason: UnknownReason::NotConfirmed(m),
            } => assert!(m.contains("candidate decided Deny, expected Allow"), "{m}"),
            other => panic!("{other:?}"),
        }
        assert!(
            UnknownReason::NotConfirmed("x".into())
                .to_string()
                .starts_with("solver counterexample not confirmed by Cedar")
        );
        // the true claim is confirmed
        let v = confirm(cex(), &schema, |a, c| {
            expect_decision(a, c, &allow, "candidate", Decision::Allow)?;
            expect_decision(a, c, &deny, "baseline", Decision::Deny)
        });
        assert!(v.is_refuted());
        // a request the schema rejects is not confirmed either
        let uid = |s: &str| cedar_policy::EntityUid::from_str(s).unwrap();
        let bad = Request::new(
            uid(r#"U::"x""#),
            uid(r#"Action::"nope""#),
            uid(r#"U::"y""#),
            cedar_policy::Context::empty(),
            None,
        )
        .unwrap();
        let v = confirm(
            SymCex {
                request: bad,
                entities: Entities::empty(),
            },
            &schema,
            |_, _| Ok(()),
        );
        assert!(matches!(
            v,
            Verdict::Unknown {
                reason: UnknownReason::NotConfirmed(_)
            }
        ));
    }

    /// `U::"x"` asks `Action::"a"` on `U::"y"`, with an empty context.
    fn x_does_a_to_y() -> Request {
        let uid = |s: &str| cedar_policy::EntityUid::from_str(s).unwrap();
        Request::new(
            uid(r#"U::"x""#),
            uid(r#"Action::"a""#),
            uid(r#"U::"y""#),
            cedar_policy::Context::empty(),
            None,
        )
        .unwrap()
    }

    /// Pruning keeps what the claim needs and what the request or a kept
    /// entity refers to, drops the rest, and gives the same store whatever
    /// extra entities the solver's model held.
    #[test]
    fn a_confirmed_counterexample_keeps_only_the_entities_it_needs() {
        let schema = Schema::from_cedarschema_str(
            "entity G { on: Bool, next?: G }; entity U in [G] { boss?: U }; \
             action a appliesTo { principal: [U], resource: [U] };",
        )
        .unwrap()
        .0;
        // Reads the literal `G::"flag"`, which nothing refers to.
        let policies = PolicySet::from_str(
            r#"permit(principal in G::"staff", action, resource) when { G::"flag".on };"#,
        )
        .unwrap();
        let entities = |extra: &[&str]| {
            let mut list = vec![
                serde_json::json!({"uid": {"type": "U", "id": "x"}, "attrs": {"boss": {"__entity": {"type": "U", "id": "b"}}}, "parents": [{"type": "G", "id": "staff"}]}),
                serde_json::json!({"uid": {"type": "U", "id": "b"}, "attrs": {}, "parents": []}),
                serde_json::json!({"uid": {"type": "G", "id": "staff"}, "attrs": {"on": false}, "parents": []}),
                serde_json::json!({"uid": {"type": "G", "id": "flag"}, "attrs": {"on": true}, "parents": []}),
            ];
            for id in extra {
                // `a>b`: `G::"a"` refers to `G::"b"`, which goes only once
                // `G::"a"` has gone (a second pass).
                match id.split_once('>') {
                    Some((from, to)) => {
                        list.push(serde_json::json!({"uid": {"type": "G", "id": from}, "attrs": {"on": true, "next": {"__entity": {"type": "G", "id": to}}}, "parents": []}));
                        list.push(serde_json::json!({"uid": {"type": "G", "id": to}, "attrs": {"on": true}, "parents": []}));
                    }
                    None => list.push(serde_json::json!({"uid": {"type": "G", "id": id}, "attrs": {"on": true}, "parents": []})),
                }
            }
            Entities::from_json_value(serde_json::Value::Array(list), None).unwrap()
        };
        let confirmed = |extra: &[&str]| {
            let cex = SymCex {
                request: x_does_a_to_y(),
                entities: entities(extra),
            };
            match confirm(cex, &schema, |a, c| {
                expect_decision(a, c, &policies, "candidate", Decision::Allow)
            }) {
                Verdict::Refuted { counterexample } => counterexample,
                other => panic!("{other:?}"),
            }
        };
        let one = confirmed(&["on-call"]);
        let other = confirmed(&["security", "auditor", "a>b"]);
        assert_eq!(one.rendered, other.rendered);
        let ids: Vec<String> = one.entities.iter().map(|e| e.uid().to_string()).collect();
        let mut ids = ids;
        ids.sort();
        // `U::"b"` is x's boss (referred to), `G::"staff"` its parent,
        // `G::"flag"` read by the policy; the extras are gone.
        assert_eq!(
            ids,
            [r#"G::"flag""#, r#"G::"staff""#, r#"U::"b""#, r#"U::"x""#]
        );
        // The claim still holds of what is shown.
        let shown = SymCex {
            request: one.request.clone(),
            entities: one.entities.clone(),
        };
        assert_eq!(
            decide(&Authorizer::new(), &shown, &policies).decision(),
            Decision::Allow
        );
    }

    /// Regression: the text of a counterexample (in a "not confirmed"
    /// reason) listed the entities and their ancestors in hash order, so it
    /// changed from one run to the next.
    #[test]
    fn rendered_counterexample_lists_entities_and_parents_sorted() {
        let request = x_does_a_to_y();
        let list = crate::prove::user_in_sixteen_groups();
        let cex = SymCex {
            request,
            entities: Entities::from_json_value(serde_json::Value::Array(list), None).unwrap(),
        };
        let text = render(&cex);
        assert!(
            text.starts_with(r#"principal: U::"x", action: Action::"a", resource: U::"y""#),
            "{text}"
        );
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("  ")).collect();
        let ids: Vec<String> = lines
            .iter()
            .map(|l| {
                let entity: serde_json::Value =
                    serde_json::from_str(l.trim().trim_end_matches(',')).unwrap();
                entity["uid"]["id"].as_str().unwrap().to_string()
            })
            .collect();
        let mut expected: Vec<String> = (0..16).map(|i| format!("g{i:02}")).collect();
        expected.push("x".into());
        assert_eq!(ids, expected, "{text}");
        let user: serde_json::Value =
            serde_json::from_str(lines[16].trim().trim_end_matches(',')).unwrap();
        let parents: Vec<&str> = user["parents"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["id"].as_str().unwrap())
            .collect();
        assert_eq!(
            parents,
            expected[..16]
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
    }

    #[test]
    fn links_become_static_with_link_ids() {
        let mut ps = PolicySet::new();
        ps.add_template(
            cedar_policy::Template::parse(
                Some(cedar_policy::PolicyId::new("t")),
                "permit(principal == ?principal, action, resource) when { context.ok };",
            )
            .unwrap(),
        )
        .unwrap();
        ps.link(
            cedar_policy::PolicyId::new("t"),
            cedar_policy::PolicyId::new("l1"),
            HashMap::from([(
                cedar_policy::SlotId::principal(),
                cedar_policy::EntityUid::from_str(r#"U::"alice""#).unwrap(),
            )]),
        )
        .unwrap();
        let s = to_static_policy_set(&ps).unwrap();
        let p = s.policy(&cedar_policy::PolicyId::new("l1")).unwrap();
        assert!(p.is_static());
        let text = p.to_string();
        assert!(text.contains(r#"principal == U::"alice""#), "{text}");
        assert!(text.contains("context.ok"), "{text}");
    }
}
