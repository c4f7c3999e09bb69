//! Steps: `repeat` expanded, times parsed, the acting session or principal
//! resolved, every Cedar request built up front, and the policy ids and
//! names they refer to checked.

use super::*;

impl Loader<'_> {
    /// Expands steps with `repeat = N` into N steps, `{i}` in their strings
    /// replaced by the repetition's number (1 to N).
    pub(super) fn expand_repeats(
        &self,
        steps: Vec<Spanned<raw::RawStep>>,
    ) -> Result<Vec<Spanned<raw::RawStep>>> {
        // Nothing to expand (every step of an imported log's scenario):
        // the steps as they are, not moved one by one into a new list.
        if steps
            .iter()
            .all(|s| s.get_ref().repeat.is_none() && s.get_ref().every.is_none())
        {
            return Ok(steps);
        }
        let mut expanded = Vec::with_capacity(steps.len());
        for spanned in steps {
            let step = spanned.get_ref();
            let count = match (&step.repeat, &step.every) {
                (None, Some(every)) => {
                    return Err(self
                        .err(span(every), "`every` is for repeated steps")
                        .help_boxed("add `repeat = N`, or give the step its own `at`")
                        .into());
                }
                (None, None) => {
                    expanded.push(spanned);
                    continue;
                }
                (Some(repeat), _) => *repeat.get_ref(),
            };
            if !(1..=MAX_REPEAT).contains(&count) {
                let repeat = step.repeat.as_ref().map_or(span(&spanned), span);
                return Err(self
                    .err(
                        repeat,
                        format!("`repeat` must be between 1 and {MAX_REPEAT}, not {count}"),
                    )
                    .into());
            }
            let whole = span(&spanned);
            for repetition in 0..usize::try_from(count).unwrap_or(0) {
                let mut copy = step.clone();
                copy.repetition = repetition;
                substitute_step(&mut copy, &(repetition + 1).to_string());
                expanded.push(Spanned::new(whole.clone(), copy));
            }
        }
        Ok(expanded)
    }

    pub(super) fn steps(&mut self, raw: &RawScenario, scenario: &Scenario) -> Result<Vec<Step>> {
        let mut steps = Vec::with_capacity(raw.steps.len());
        let mut previous = scenario.start;
        // The time of a repeated step's first repetition.
        let mut first_repetition = scenario.start;
        crate::progress::phase(crate::progress::Phase::Loading, raw.steps.len());
        for (index, spanned) in raw.steps.iter().enumerate() {
            crate::progress::advance();
            let s = spanned.get_ref();
            let here = span(spanned);
            let every = s.every.as_ref().map(|e| self.duration(e)).transpose()?;
            let at = match (&s.at, every) {
                (_, Some(every)) if s.repetition > 0 => {
                    let offset = i64::try_from(s.repetition)
                        .ok()
                        .and_then(|k| k.checked_mul(every))
                        .and_then(|millis| first_repetition.checked_add(millis));
                    offset.ok_or_else(|| {
                        self.err(
                            s.every.as_ref().map_or(here.clone(), span),
                            "the repetitions run past the end of time",
                        )
                        .help_boxed("use a shorter `every` or fewer repetitions")
                    })?
                }
                (Some(written), _) => {
                    let at = self.time(written, scenario.start)?;
                    if at < previous {
                        return Err(self
                            .err(
                                span(written),
                                format!(
                                    "step time {at} is before the previous step's time {previous}"
                                ),
                            )
                            .help_boxed("list steps in time order")
                            .into());
                    }
                    at
                }
                _ => previous,
            };
            if s.repetition == 0 {
                first_repetition = at;
            }
            previous = at;
            let (session, principal, chain) = self.actor(
                s.session.as_ref(),
                s.principal.as_ref(),
                here.clone(),
                scenario,
                at,
            )?;
            let action = self.action(&s.action)?;
            let resource = self.uid(&s.resource, "bad resource")?;
            // Each reference's text once, for the warnings and the labels.
            let principal_text = self.text(&principal);
            let resource_text = self.text(&resource);
            self.warn_missing(
                &scenario.world,
                (&resource, &resource_text),
                "resource",
                index,
                &s.resource,
            );
            self.warn_missing(
                &scenario.world,
                (&principal, &principal_text),
                "principal",
                index,
                s.principal.as_ref().unwrap_or(&s.resource),
            );
            let written;
            let extra = match (&s.read_context, &s.context) {
                (Some(read), _) => Some((read.as_ref(), here.clone())),
                (None, Some(table)) => {
                    written = self.table(table)?;
                    Some((&written, span(table)))
                }
                (None, None) => None,
            };
            let context = self.context(
                &scenario.facts,
                at,
                session.map(|i| &scenario.sessions[i]),
                &principal,
                &chain,
                extra,
            )?;
            let expect = Expectation {
                decision: s.expect.as_ref().map(|d| *d.get_ref()),
                reason: s
                    .expect_reason
                    .as_ref()
                    .map(|ids| self.policy_ids(ids, &scenario.policies, "expect_reason")),
                errors: s
                    .expect_errors
                    .as_ref()
                    .map(|ids| self.policy_ids(ids, &scenario.policies, "expect_errors")),
                reason_includes: s
                    .expect_reason_includes
                    .as_ref()
                    .map(|ids| self.policy_ids(ids, &scenario.policies, "expect_reason_includes")),
                error_count: s.expect_error_count.as_ref().map(|n| *n.get_ref()),
            };
            let context_value = Value::Object(context);
            let validate_request = s.validate_request.as_ref().is_none_or(|v| *v.get_ref());
            let build = |context: &Value| {
                if validate_request {
                    build_request(
                        &principal,
                        &action,
                        &resource,
                        context,
                        scenario.schema.as_ref(),
                    )
                } else {
                    build_unvalidated_request(
                        &principal,
                        &action,
                        &resource,
                        context,
                        scenario.schema.as_ref(),
                    )
                }
            };
            // The context is read once, for the step's request and its
            // delegators' (reading it with the schema is the costly part of
            // building a request, and it does not depend on the principal):
            // `build` and `build_request` read it the same way.
            let request_schema = scenario.schema.as_ref().filter(|_| validate_request);
            // A plain context under a schema is checked once, by the
            // request's own check (`plain_request` says why that is exact);
            // otherwise read, then built and checked.
            let (read, request) = match request_schema.and_then(|schema| {
                plain_request(&principal, &action, &resource, &context_value, schema)
            }) {
                Some((context, request)) => (Ok(context), Ok(request)),
                None => {
                    let read = read_context(&action, &context_value, scenario.schema.as_ref());
                    let request = read.clone().and_then(|context| {
                        request_from_context(
                            &principal,
                            &action,
                            &resource,
                            context,
                            request_schema,
                        )
                    });
                    (read, request)
                }
            };
            let request = match request {
                Ok(request) => Ok(request),
                Err(message) if expect.decision == Some(Decision::Error) => Err(message),
                Err(message) => {
                    // Cedar says only that the context is invalid; name the key.
                    let culprit = message
                        .contains("context")
                        .then(|| context_culprit(&context_value, |c| build(c).is_ok()))
                        .flatten();
                    let step_context = s.context.as_ref();
                    let (place, message) = match culprit {
                        Some((key, value)) => (
                            step_context
                                .filter(|c| c.get_ref().contains_key(&key))
                                .map_or(here, span),
                            format!(
                                "context `{key}` = `{value}` does not match the schema's context for `{action}` (a wrong type, or a key it does not declare)"
                            ),
                        ),
                        // A context problem is most likely in the step's own context.
                        None if message.contains("context") => {
                            (step_context.map_or(here, span), message)
                        }
                        None => (here, message),
                    };
                    return Err(self.err(place, format!("step {}: the request is invalid: {message}", index + 1)).help_boxed("fix the step, its session context or the schema; if the step is meant to be rejected, write `expect = \"error\"`").into());
                }
            };
            // The schema accepted this context with this action (it checked
            // the step's own request): a delegator's request differs only in
            // its principal.
            let context_accepted = request_schema.is_some() && request.is_ok();
            let ceiling = chain
                .iter()
                .rev()
                .skip(1)
                .map(|delegator| {
                    let request = read.as_ref().ok().and_then(|context| {
                        self.ceiling_request(
                            delegator,
                            &action,
                            &resource,
                            context,
                            scenario.schema.as_ref(),
                            context_accepted,
                        )
                    });
                    (delegator.clone(), request)
                })
                .collect();
            let chain_texts: Vec<String> = chain.iter().map(|uid| self.text(uid)).collect();
            let labels = StepLabels {
                principal: principal_text,
                action: self.text(&action),
                resource: resource_text,
                delegators: chain_texts.iter().rev().skip(1).cloned().collect(),
                chain: chain_texts,
            };
            let segment = scenario.world.segment_at(at);
            steps.push(Step {
                index,
                line: self.file.line_col(here.start).0,
                name: s.name.clone(),
                at,
                session,
                chain,
                principal,
                action,
                resource,
                labels,
                context: Arc::new(context_value),
                request,
                ceiling,
                expect,
                segment,
            });
        }
        Ok(steps)
    }

    /// A delegation-ceiling request: `delegator` asking the step's action
    /// on its resource with its context, checked against `schema` if any;
    /// `None` when it cannot be built.
    ///
    /// Cedar's check of a request under a schema is the check of its
    /// principal, action and resource (types, and ids of enumerated types)
    /// and then of its context against the action's context type, which
    /// does not depend on the principal. So when `context_accepted` (the
    /// schema accepted this context with this action on the step's own
    /// request), a delegator's request is accepted exactly when a request
    /// with the same principal, action and resource was accepted before
    /// with any accepted context: such requests are built without the
    /// second check, as the search builds requests of an accepted shape
    /// (`Contexts::request` in `world/state.rs`). Anything else is checked
    /// as before. `context_reading::ceiling_requests_equal_checked_ones`
    /// compares the two.
    fn ceiling_request(
        &mut self,
        delegator: &EntityUid,
        action: &EntityUid,
        resource: &EntityUid,
        context: &cedar_policy::Context,
        schema: Option<&Schema>,
        context_accepted: bool,
    ) -> Option<Request> {
        let Some(schema) = schema.filter(|_| context_accepted) else {
            return request_from_context(delegator, action, resource, context.clone(), schema).ok();
        };
        let scope = (delegator.clone(), action.clone(), resource.clone());
        if self.accepted_ceilings.contains(&scope) {
            return request_from_context(delegator, action, resource, context.clone(), None).ok();
        }
        let request =
            request_from_context(delegator, action, resource, context.clone(), Some(schema))
                .ok()?;
        self.accepted_ceilings.insert(scope);
        Some(request)
    }

    /// The index of the session with id `id` in `scenario.sessions`.
    pub(super) fn session_position(&self, scenario: &Scenario, id: &str) -> Option<usize> {
        self.session_index
            .get_or_init(|| {
                scenario
                    .sessions
                    .iter()
                    .enumerate()
                    .map(|(index, session)| (session.id.clone(), index))
                    .collect()
            })
            .get(id)
            .copied()
    }

    /// Resolves who acts: a session (with its chain) or a bare principal.
    pub(super) fn actor(
        &self,
        session: Option<&Spanned<String>>,
        principal: Option<&Spanned<String>>,
        here: Range<usize>,
        scenario: &Scenario,
        at: Instant,
    ) -> Result<(Option<usize>, EntityUid, Vec<EntityUid>)> {
        match (session, principal) {
            (Some(_), Some(principal)) => Err(self
                .err(
                    span(principal),
                    "give either `session` or `principal`, not both",
                )
                .help_boxed("a session already names its principal")
                .into()),
            (None, None) => Err(self
                .err(here, "missing `session` or `principal`")
                .help_boxed("say who acts: `session = \"<id>\"` or `principal = 'Type::\"id\"'`")
                .into()),
            (Some(written), None) => {
                let Some(index) = self.session_position(scenario, written.get_ref()) else {
                    let known: Vec<&str> =
                        scenario.sessions.iter().map(|s| s.id.as_str()).collect();
                    return Err(self
                        .err(span(written), format!("no session `{}`", written.get_ref()))
                        .help_boxed(format!(
                            "declared sessions: {}",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        ))
                        .into());
                };
                let session = &scenario.sessions[index];
                if session.from.is_some_and(|from| at < from)
                    || session.until.is_some_and(|until| at >= until)
                {
                    return Err(self
                        .err(
                            span(written),
                            format!("session `{}` is not open at {at}", session.id),
                        )
                        .help_boxed("move the step into the session's `from`..`until` window")
                        .into());
                }
                Ok((
                    Some(index),
                    session.principal.clone(),
                    session.chain.clone(),
                ))
            }
            (None, Some(written)) => {
                let uid = self.uid(written, "bad principal")?;
                Ok((None, uid.clone(), vec![uid]))
            }
        }
    }

    pub(super) fn policy_ids(
        &mut self,
        ids: &Spanned<Vec<Spanned<String>>>,
        policies: &Policies,
        field: &str,
    ) -> BTreeSet<String> {
        let mut set = BTreeSet::new();
        for id in ids.get_ref() {
            if !policies.origin.contains_key(id.get_ref()) {
                let location = self.file.location(span(id).start);
                self.warnings.push(format!(
                    "{location}: `{field}` names `{}`, which is not a policy of the set",
                    id.get_ref()
                ));
            }
            set.insert(id.get_ref().clone());
        }
        set
    }

    pub(super) fn warn_missing(
        &mut self,
        world: &World,
        (uid, text): (&EntityUid, &str),
        role: &str,
        index: usize,
        written: &Spanned<String>,
    ) {
        if uid.type_name().basename() != "Action" && !world.base.contains_key(text) {
            let location = self.file.location(span(written).start);
            self.warnings.push(format!(
                "{location}: step {}: {role} `{uid}` is not an entity of the world",
                index + 1
            ));
        }
    }

    /// An action a rule names must exist: with a schema, an error when the
    /// schema has no such action; without one, a warning when no policy
    /// names it (a rule about it would never fire, and say nothing).
    pub(super) fn known_action(
        &mut self,
        action: &EntityUid,
        at: Range<usize>,
        what: &str,
        schema: Option<&Schema>,
        policies: &Policies,
    ) -> Result<()> {
        match schema {
            Some(schema) => {
                if schema.actions().any(|a| a == action) {
                    return Ok(());
                }
                let known: Vec<String> = schema.actions().map(ToString::to_string).collect();
                let mut error =
                    self.err(at, format!("{what}: the schema has no action `{action}`"));
                if let Some(near) = closest(&action.to_string(), &known) {
                    error = Box::new((*error).with_help(format!("did you mean `{near}`?")));
                }
                Err(error.into())
            }
            None => {
                let id = action.id().unescaped().to_string();
                let named = policies
                    .files
                    .iter()
                    .any(|f| f.text.contains(&format!("\"{id}\"")));
                if !named {
                    let location = self.file.location(at.start);
                    self.warnings.push(format!(
                        "{location}: {what}: no policy names the action `{action}` (without a schema it cannot be checked; a typo here makes a rule that never fires)"
                    ));
                }
                Ok(())
            }
        }
    }

    /// The type (and, for an entity, the entity) a pattern names must exist:
    /// with a schema, an unknown type is an error, and so is an entity that
    /// is not in the world; without one, warnings.
    pub(super) fn known_pattern(
        &mut self,
        pattern: &Pattern,
        at: Range<usize>,
        what: &str,
        scenario: &Scenario,
        raw: &RawScenario,
    ) -> Result<()> {
        let (type_name, entity) = match pattern {
            Pattern::Any => return Ok(()),
            Pattern::Type(name) => (name.clone(), None),
            Pattern::Entity(uid) => (uid.type_name().to_string(), Some(uid)),
        };
        let world_types: BTreeSet<String> = scenario
            .world
            .base
            .keys()
            .filter_map(|key| parse_uid(key).ok())
            .map(|uid| uid.type_name().to_string())
            .collect();
        let known_type = match &scenario.schema {
            Some(schema) => schema.entity_types().any(|t| t.to_string() == type_name),
            None => world_types.contains(&type_name),
        };
        if !known_type {
            let message = match &scenario.schema {
                Some(_) => format!("{what}: the schema has no entity type `{type_name}`"),
                None => format!("{what}: no entity of the world has the type `{type_name}`"),
            };
            let candidates: Vec<String> = match &scenario.schema {
                Some(schema) => schema.entity_types().map(ToString::to_string).collect(),
                None => world_types.into_iter().collect(),
            };
            let near = closest(&type_name, &candidates);
            if scenario.schema.is_some() {
                let mut error = self.err(at, message);
                if let Some(near) = near {
                    error = Box::new((*error).with_help(format!("did you mean `{near}`?")));
                }
                return Err(error.into());
            }
            let location = self.file.location(at.start);
            let hint = near
                .map(|n| format!(" (did you mean `{n}`?)"))
                .unwrap_or_default();
            self.warnings.push(format!("{location}: {message}{hint}"));
            return Ok(());
        }
        if let Some(uid) = entity {
            // In the world, given by a grant, or acting or acted on in a step
            // (a step may name a principal the world lacks, with a warning).
            let scripted = raw.steps.iter().any(|step| {
                let step = step.get_ref();
                step.principal
                    .iter()
                    .chain([&step.resource])
                    .any(|w| parse_uid(w.get_ref()).is_ok_and(|u| &u == uid))
            });
            let in_world = scenario.world.base.contains_key(&uid.to_string())
                || scenario.grants.iter().any(|g| &g.principal == uid)
                || scenario.sessions.iter().any(|s| s.chain.contains(uid))
                || scripted;
            if !in_world {
                let message = format!("{what}: `{uid}` is not an entity of the world");
                if scenario.schema.is_some() {
                    return Err(self
                        .err(at, message)
                        .help_boxed(
                            "name an entity of the world, or its type to cover every entity of it",
                        )
                        .into());
                }
                let location = self.file.location(at.start);
                self.warnings.push(format!("{location}: {message}"));
            }
        }
        Ok(())
    }
}

/// Replaces `{i}` in every string a repeated step holds (names, ids,
/// context values, expected policy ids) with `number`.
fn substitute_step(step: &mut raw::RawStep, number: &str) {
    fn text(value: &mut String, number: &str) {
        if value.contains("{i}") {
            *value = value.replace("{i}", number);
        }
    }
    fn spanned(value: &mut Spanned<String>, number: &str) {
        if value.get_ref().contains("{i}") {
            let replaced = value.get_ref().replace("{i}", number);
            *value = Spanned::new(value.span(), replaced);
        }
    }
    fn list(value: &mut Option<Spanned<Vec<Spanned<String>>>>, number: &str) {
        if let Some(list) = value {
            let at = list.span();
            let mut items = std::mem::take(list.get_mut());
            items.iter_mut().for_each(|item| spanned(item, number));
            *list = Spanned::new(at, items);
        }
    }
    fn toml_value(value: &mut toml::Value, number: &str) {
        match value {
            toml::Value::String(s) => text(s, number),
            toml::Value::Array(items) => items.iter_mut().for_each(|v| toml_value(v, number)),
            toml::Value::Table(table) => table.iter_mut().for_each(|(_, v)| toml_value(v, number)),
            _ => {}
        }
    }
    if let Some(name) = &mut step.name {
        text(name, number);
    }
    for value in [&mut step.session, &mut step.principal]
        .into_iter()
        .flatten()
    {
        spanned(value, number);
    }
    spanned(&mut step.action, number);
    spanned(&mut step.resource, number);
    if let Some(context) = &mut step.context {
        context
            .get_mut()
            .iter_mut()
            .for_each(|(_, v)| toml_value(v, number));
    }
    list(&mut step.expect_reason, number);
    list(&mut step.expect_reason_includes, number);
    list(&mut step.expect_errors, number);
}
