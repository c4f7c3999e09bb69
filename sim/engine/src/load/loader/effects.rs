//! What changes and what must hold: durations, `[[effect]]`s,
//! `[invariants]`, `[[never]]` rules and `[[access]]` assertions.

use super::*;

impl Loader<'_> {
    pub(super) fn duration(&self, written: &Spanned<String>) -> Result<i64> {
        match time::parse_duration(written.get_ref()) {
            Ok(millis) if millis > 0 => Ok(millis),
            Ok(_) => Err(self
                .err(span(written), "a duration must be longer than zero")
                .into()),
            Err(message) => Err(self.err(span(written), message).into()),
        }
    }

    /// A `lifetime`: a duration that, from the scenario's start, ends by
    /// 9999-12-31 (a longer one would silently never end).
    pub(super) fn lifetime(&self, written: &Spanned<String>, start: Instant) -> Result<i64> {
        let millis = self.duration(written)?;
        if start.checked_add(millis).is_none() {
            return Err(self
                .err(
                    span(written),
                    format!(
                        "a lifetime of `{}` from the start ({start}) ends after the year 9999",
                        written.get_ref()
                    ),
                )
                .help_boxed("leave `lifetime` out for a grant that never ends")
                .into());
        }
        Ok(millis)
    }

    pub(super) fn operand(&self, written: &Spanned<String>) -> Result<Operand> {
        Operand::parse(written.get_ref()).map_err(|message| {
            self.err(span(written), message)
                .help_boxed("operands name entities relative to the request: `principal`, `resource`, `delegator`, `context.KEY`, or an entity literal like 'Role::\"admin\"'")
                .into()
        })
    }

    pub(super) fn invariants(&self, raw: Option<&Spanned<raw::RawInvariants>>) -> Invariants {
        let mut invariants = Invariants::default();
        if let Some(raw) = raw.map(Spanned::get_ref) {
            let set = |flag: &mut bool, value: Option<bool>| {
                if let Some(value) = value {
                    *flag = value;
                }
            };
            set(&mut invariants.delegation_ceiling, raw.delegation_ceiling);
            set(&mut invariants.attenuation, raw.attenuation);
            set(&mut invariants.expiry, raw.expiry);
            set(&mut invariants.never, raw.never);
            set(&mut invariants.access, raw.access);
        }
        invariants
    }

    pub(super) fn effects(&self, raw: &RawScenario, scenario: &Scenario) -> Result<Vec<Effect>> {
        let mut effects = Vec::new();
        for (index, spanned) in raw.effects.iter().enumerate() {
            let e = spanned.get_ref();
            let here = span(spanned);
            let action = self.action(&e.action)?;
            if let Some(schema) = &scenario.schema
                && schema.resources_for_action(&action).is_none()
            {
                return Err(self
                    .err(
                        span(&e.action),
                        format!("the schema has no action `{action}`"),
                    )
                    .into());
            }
            let principal = e
                .principal
                .as_ref()
                .map(|p| self.uid(p, "bad principal"))
                .transpose()?;
            let resource = e
                .resource
                .as_ref()
                .map(|r| self.uid(r, "bad resource"))
                .transpose()?;
            let mut operations = Vec::new();
            if let Some(change) = &e.add_parent {
                let c = change.get_ref();
                operations.push(Operation::AddParent {
                    entity: self.operand(&c.entity)?,
                    parent: self.operand(&c.parent)?,
                });
            }
            if let Some(change) = &e.remove_parent {
                let c = change.get_ref();
                operations.push(Operation::RemoveParent {
                    entity: self.operand(&c.entity)?,
                    parent: self.operand(&c.parent)?,
                });
            }
            if let Some(set) = &e.set_attr {
                let a = set.get_ref();
                let value = match (&a.value, &a.value_of) {
                    (Some(value), None) => {
                        let mut table = toml::Table::new();
                        table.insert("value".to_string(), value.get_ref().clone());
                        let mut converted = values::table_to_json(&table)
                            .map_err(|m| self.err(span(value), m).help_boxed(values::HELP))?;
                        ValueSource::Literal(converted.remove("value").unwrap_or(Value::Null))
                    }
                    (None, Some(of)) if of.get_ref() == "now" => ValueSource::Now,
                    (None, Some(of)) => ValueSource::Of(self.operand(of)?),
                    _ => {
                        return Err(self
                            .err(
                                span(set),
                                "`set_attr` needs exactly one of `value` and `value_of`",
                            )
                            .into());
                    }
                };
                operations.push(Operation::SetAttr {
                    entity: self.operand(&a.entity)?,
                    name: a.name.get_ref().clone(),
                    value,
                });
            }
            if let Some(grant) = &e.grant {
                let g = grant.get_ref();
                let parents = g
                    .parents
                    .iter()
                    .map(|p| self.operand(p))
                    .collect::<Result<Vec<_>>>()?;
                let attrs = g
                    .attrs
                    .as_ref()
                    .map(|a| self.table(a))
                    .transpose()?
                    .unwrap_or_default();
                if parents.is_empty() && attrs.is_empty() && g.until_attr.is_none() {
                    return Err(self
                        .err(span(grant), "this grant changes nothing")
                        .help_boxed("give it `parents` to add (e.g. a role) and/or `attrs` to set")
                        .into());
                }
                let lifetime = g
                    .lifetime
                    .as_ref()
                    .map(|l| self.lifetime(l, scenario.start))
                    .transpose()?;
                let expiry = g
                    .expiry
                    .as_ref()
                    .map_or(RawExpiry::Simulator, |e| *e.get_ref());
                if lifetime.is_none() && (expiry == RawExpiry::Policy || g.until_attr.is_some()) {
                    return Err(self
                        .err(span(grant), "a grant without `lifetime` never ends, so it has no end for `expiry = \"policy\"` or `until_attr`")
                        .help_boxed("give the grant a `lifetime`, e.g. `lifetime = \"30m\"`")
                        .into());
                }
                operations.push(Operation::Grant {
                    entity: self.operand(&g.entity)?,
                    parents,
                    attrs,
                    lifetime,
                    removed_at_until: expiry == RawExpiry::Simulator,
                    until_attr: g.until_attr.as_ref().map(|a| a.get_ref().clone()),
                });
            }
            if let Some(revoke) = &e.revoke {
                let r = revoke.get_ref();
                operations.push(Operation::Revoke {
                    entity: self.operand(&r.entity)?,
                    parent: r.parent.as_ref().map(|p| self.operand(p)).transpose()?,
                });
            }
            if let Some(id) = &e.start_session {
                let Some(session) = self.session_position(scenario, id.get_ref()) else {
                    return Err(self
                        .err(span(id), format!("no session `{}`", id.get_ref()))
                        .help_boxed("declare it with `[[session]]` and `dormant = true`")
                        .into());
                };
                if !scenario.sessions[session].dormant {
                    return Err(self
                        .err(
                            span(id),
                            format!("session `{}` is not dormant", id.get_ref()),
                        )
                        .help_boxed(
                            "only a session declared with `dormant = true` waits to be started",
                        )
                        .into());
                }
                operations.push(Operation::StartSession(session));
            }
            if operations.len() != 1 {
                return Err(self
                    .err(here, format!("an `[[effect]]` has exactly one operation; this one has {}", operations.len()))
                    .help_boxed("one of `add_parent`, `remove_parent`, `set_attr`, `grant`, `revoke`, `start_session`; write several `[[effect]]`s for several changes")
                    .into());
            }
            effects.push(Effect {
                index,
                line: self.file.line_col(here.start).0,
                action,
                principal,
                resource,
                operation: operations.remove(0),
            });
        }
        Ok(effects)
    }

    /// Every attribute name an effect writes (`set_attr`'s `name`, a
    /// grant's `attrs` and `until_attr`) must be one the schema gives the
    /// entity's type (any of the types the operand can have): a typo would
    /// otherwise make the effect fail only when a search move applies it.
    pub(super) fn effect_attributes(
        &self,
        raw: &RawScenario,
        scenario: &Scenario,
        attributes: &BTreeMap<String, Option<BTreeSet<String>>>,
    ) -> Result<()> {
        let Some(schema) = &scenario.schema else {
            return Ok(());
        };
        if attributes.is_empty() {
            return Ok(());
        }
        for (effect, spanned) in scenario.effects.iter().zip(&raw.effects) {
            let e = spanned.get_ref();
            let (operand, names): (&Operand, Vec<(String, Range<usize>)>) =
                match (&effect.operation, &e.set_attr, &e.grant) {
                    (Operation::SetAttr { entity, name, .. }, Some(set), _) => {
                        (entity, vec![(name.clone(), span(&set.get_ref().name))])
                    }
                    (Operation::Grant { entity, attrs, .. }, _, Some(grant)) => {
                        let g = grant.get_ref();
                        let at = g.attrs.as_ref().map_or_else(|| span(grant), span);
                        let mut names: Vec<(String, Range<usize>)> =
                            attrs.keys().map(|k| (k.clone(), at.clone())).collect();
                        if let Some(until) = &g.until_attr {
                            names.push((until.get_ref().clone(), span(until)));
                        }
                        (entity, names)
                    }
                    _ => continue,
                };
            // Sorted: Cedar keeps an action's `appliesTo` types in a hash
            // set, and they are named in the error below.
            let types: BTreeSet<String> = match operand {
                Operand::Literal(uid) => BTreeSet::from([uid.type_name().to_string()]),
                Operand::Principal => schema
                    .principals_for_action(&effect.action)
                    .map(|t| t.map(ToString::to_string).collect())
                    .unwrap_or_default(),
                Operand::Resource => schema
                    .resources_for_action(&effect.action)
                    .map(|t| t.map(ToString::to_string).collect())
                    .unwrap_or_default(),
                Operand::Delegator | Operand::Context(_) => continue,
            };
            let mut known = BTreeSet::new();
            let mut open = types.is_empty();
            for type_name in &types {
                match attributes.get(type_name) {
                    Some(Some(names)) => known.extend(names.iter().cloned()),
                    // A shape not written out, or a type this reading missed.
                    Some(None) | None => open = true,
                }
            }
            if open {
                continue;
            }
            for (name, at) in names {
                if known.contains(&name) {
                    continue;
                }
                let candidates: Vec<String> = known.iter().cloned().collect();
                let mut error = self.err(
                    at,
                    format!(
                        "the schema gives {} no attribute `{name}`",
                        types
                            .iter()
                            .map(|t| format!("`{t}`"))
                            .collect::<Vec<_>>()
                            .join(" or ")
                    ),
                );
                error = Box::new((*error).with_help(match closest(&name, &candidates) {
                    Some(near) => format!("did you mean `{near}`?"),
                    None if candidates.is_empty() => {
                        "the type has no attributes in the schema".to_string()
                    }
                    None => format!("its attributes: {}", candidates.join(", ")),
                }));
                return Err(error.into());
            }
        }
        Ok(())
    }

    pub(super) fn never(
        &mut self,
        raw: &RawScenario,
        scenario: &Scenario,
    ) -> Result<Vec<NeverRule>> {
        let mut rules = Vec::new();
        for (index, spanned) in raw.never.iter().enumerate() {
            let n = spanned.get_ref();
            let pattern = |written: Option<&Spanned<String>>| {
                Pattern::parse(written.map(|w| w.get_ref().as_str())).map_err(|message| {
                    self.err(written.map_or(span(spanned), span), message)
                        .help_boxed("write an entity ('Agent::\"helper\"'), an entity type ('Agent'), or leave the key out to match anything")
                })
            };
            let principal = pattern(n.principal.as_ref())?;
            let resource = pattern(n.resource.as_ref())?;
            let action = n.action.as_ref().map(|a| self.action(a)).transpose()?;
            // A typo in a rule would make it one that never fires.
            for (written, pattern) in [(&n.principal, &principal), (&n.resource, &resource)] {
                if let Some(written) = written {
                    self.known_pattern(pattern, span(written), "`[[never]]`", scenario, raw)?;
                }
            }
            if let (Some(written), Some(action)) = (&n.action, &action) {
                self.known_action(
                    action,
                    span(written),
                    "`[[never]]`",
                    scenario.schema.as_ref(),
                    &scenario.policies,
                )?;
            }
            if principal == Pattern::Any && action.is_none() && resource == Pattern::Any {
                return Err(self
                    .err(span(spanned), "this rule forbids everything to everyone")
                    .help_boxed("name at least a `principal`, an `action` or a `resource`")
                    .into());
            }
            rules.push(NeverRule {
                index,
                line: self.file.line_col(span(spanned).start).0,
                principal,
                action,
                resource,
                reason: n.reason.clone(),
            });
        }
        Ok(rules)
    }

    pub(super) fn access(
        &mut self,
        raw: &RawScenario,
        scenario: &Scenario,
    ) -> Result<Vec<AccessCheck>> {
        let mut checks = Vec::new();
        for (index, spanned) in raw.access.iter().enumerate() {
            let a = spanned.get_ref();
            let here = span(spanned);
            let at =
                a.at.as_ref()
                    .map(|t| self.time(t, scenario.start))
                    .transpose()?
                    .unwrap_or(scenario.start);
            let (session, principal, chain) = self.actor(
                a.session.as_ref(),
                a.principal.as_ref(),
                here.clone(),
                scenario,
                at,
            )?;
            let action = self.action(&a.action)?;
            self.known_action(
                &action,
                span(&a.action),
                "`[[access]]`",
                scenario.schema.as_ref(),
                &scenario.policies,
            )?;
            let mut expected = BTreeSet::new();
            let mut candidates: BTreeMap<String, EntityUid> = BTreeMap::new();
            for written in a.resources.get_ref() {
                let uid = self.uid(written, "bad resource")?;
                expected.insert(uid.to_string());
                candidates.insert(uid.to_string(), uid);
            }
            let types = crate::load::universe::resource_types(scenario, &action)
                .map_err(|message| self.err(span(&a.action), message))?;
            for uid in crate::load::universe::entities_of_types(&scenario.world, &types) {
                candidates.insert(uid.to_string(), uid);
            }
            let context = Value::Object(self.context(
                &scenario.facts,
                at,
                session.map(|i| &scenario.sessions[i]),
                &principal,
                &chain,
                None,
            )?);
            let mut built = Vec::new();
            for uid in candidates.into_values() {
                let request = build_request(
                    &principal,
                    &action,
                    &uid,
                    &context,
                    scenario.schema.as_ref(),
                )
                .map_err(|message| {
                    self.err(
                        here.clone(),
                        format!("the request for `{uid}` is invalid: {message}"),
                    )
                })?;
                built.push((uid, request));
            }
            let always = a.always.as_ref().is_some_and(|v| *v.get_ref());
            if let (true, Some(written)) = (always, &a.at) {
                return Err(self
                    .err(span(written), "an assertion with `always = true` holds at every moment, so it has no `at`")
                    .into());
            }
            checks.push(AccessCheck {
                always,
                index,
                line: self.file.line_col(here.start).0,
                at,
                principal,
                session,
                action,
                expected,
                candidates: built,
                segment: scenario.world.segment_at(at),
            });
        }
        Ok(checks)
    }
}
