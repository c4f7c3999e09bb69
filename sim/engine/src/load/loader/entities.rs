//! The world's data: `[facts]`, the entities (a Cedar entities file and
//! inline `[[entity]]`s), `[defaults]` and the warnings about them.

use super::*;

impl Loader<'_> {
    pub(super) fn facts(&self, raw: Option<&Spanned<raw::RawFacts>>) -> Result<Facts> {
        let Some(raw) = raw else {
            return Ok(Facts::default());
        };
        let r = raw.get_ref();
        let mut seen: BTreeMap<String, Range<usize>> = BTreeMap::new();
        let mut key = |value: &Option<Spanned<String>>| -> Result<Option<String>> {
            let Some(value) = value else { return Ok(None) };
            let key = value.get_ref().clone();
            if key.is_empty() {
                return Err(self.err(span(value), "the context key is empty").into());
            }
            if seen.insert(key.clone(), span(value)).is_some() {
                return Err(self
                    .err(
                        span(value),
                        format!("two facts use the context key `{key}`"),
                    )
                    .into());
            }
            Ok(Some(key))
        };
        Ok(Facts {
            now: key(&r.now)?,
            now_unix: key(&r.now_unix)?,
            delegator: key(&r.delegator)?,
            root: key(&r.root)?,
            chain: key(&r.chain)?,
            chain_uids: key(&r.chain_uids)?,
            depth: key(&r.depth)?,
            task: key(&r.task)?,
            session: key(&r.session)?,
            defaults: DefaultContext::default(),
        })
    }

    pub(super) fn entities(
        &self,
        header: &raw::RawHeader,
        schema: Option<&Schema>,
    ) -> Result<BTreeMap<String, Box<serde_json::value::RawValue>>> {
        let mut base = BTreeMap::new();
        if let Some(file) = self.named(&self.options.entities, header.entities.as_ref())? {
            // Each entity is kept as its slice of the text, so an error about
            // one entity points at it.
            let items: Vec<&RawValue> = serde_json::from_str(&file.text).map_err(|e| {
                // Skipping over raw values words some syntax errors less
                // clearly (`key must be a string` for a trailing comma).
                let e = serde_json::from_str::<Value>(&file.text).err().unwrap_or(e);
                let error = cedar_files::json_error(&file, &e);
                if e.classify() == serde_json::error::Category::Data {
                    let message = "an entities file must hold a JSON array of entities";
                    error.prefixed(&format!("{message}: "))
                } else {
                    error
                }
            })?;
            let mut first_seen: BTreeMap<String, usize> = BTreeMap::new();
            for raw_item in items {
                let start = (raw_item.get().as_ptr() as usize)
                    .saturating_sub(file.text.as_ptr() as usize)
                    .min(file.text.len());
                let here = start..start + raw_item.get().len();
                let item: Value = serde_json::from_str(raw_item.get()).map_err(|e| {
                    // serde_json counts lines and columns within the item.
                    let at = start
                        + cedar_files::offset_of_line_col(raw_item.get(), e.line(), e.column());
                    let message = e.to_string();
                    let message = message.split(" at line ").next().unwrap_or(&message);
                    file.error(at..at, message)
                })?;
                let uid = item.get("uid").and_then(uid_from_json).ok_or_else(|| {
                    file.error(here.clone(), "this entity has no valid `uid`")
                        .with_help("write the uid as { \"type\": \"User\", \"id\": \"alice\" }")
                })?;
                if let Some(first) = first_seen.insert(uid.to_string(), start) {
                    return Err(Box::new(file.error(
                        here,
                        format!(
                            "entity `{uid}` appears twice; the first is at {}",
                            file.location(first)
                        ),
                    ))
                    .into());
                }
                drop(item);
                base.insert(uid.to_string(), raw_item.to_owned());
            }
        }
        let _ = schema;
        Ok(base)
    }

    /// Adds `[[entity]]` items to the entities loaded so far.
    pub(super) fn inline_entities(
        &self,
        entities: &[Spanned<raw::RawEntity>],
        schema: Option<&Schema>,
        base: &mut BTreeMap<String, Box<serde_json::value::RawValue>>,
    ) -> Result<()> {
        for entity in entities {
            let e = entity.get_ref();
            let uid = self.uid(&e.uid, "bad entity uid")?;
            let mut parents = Vec::new();
            for parent in &e.parents {
                parents.push(world::uid_json(&self.uid(parent, "bad parent")?));
            }
            let attrs = e
                .attrs
                .as_ref()
                .map(|a| self.table(a))
                .transpose()?
                .unwrap_or_default();
            let mut json = serde_json::json!({ "uid": world::uid_json(&uid), "attrs": attrs, "parents": parents });
            if let Some(tags) = &e.tags {
                json["tags"] = Value::Object(self.table(tags)?);
            }
            // Check the entity on its own first, so a schema error points at it.
            cedar_policy::Entities::from_json_value(Value::Array(vec![json.clone()]), schema)
                .map_err(|error| {
                    self.err(
                        span(entity),
                        format!("entity `{uid}` is invalid: {}", error_chain(&error)),
                    )
                })?;
            let raw = serde_json::value::to_raw_value(&json)
                .map_err(|e| self.err(span(entity), format!("entity `{uid}`: {e}")))?;
            if base.insert(uid.to_string(), raw).is_some() {
                return Err(self
                    .err(span(&e.uid), format!("entity `{uid}` is defined twice"))
                    .help_boxed("each entity is defined once: inline, in the entities file or in the shared world (a scenario adds to its shared world, it does not override it)")
                    .into());
            }
        }
        Ok(())
    }

    /// Merges the `[defaults]` of the shared world and of the scenario
    /// (the scenario's entry wins for the same key).
    pub(super) fn defaults(
        &self,
        shared: Option<&Spanned<raw::RawDefaults>>,
        own: Option<&Spanned<raw::RawDefaults>>,
        facts: &Facts,
    ) -> Result<Defaults> {
        let mut defaults = Defaults::default();
        for (origin, raw) in [(Origin::World, shared), (Origin::Scenario, own)] {
            let Some(raw) = raw else { continue };
            self.within_file(origin, || {
                let raw = raw.get_ref();
                let entries = |table: &Spanned<toml::Table>| -> Result<Map<String, Value>> {
                    let entries = self.table(table)?;
                    if let Some(key) = entries
                        .keys()
                        .find(|key| facts.keys().any(|fact_key| fact_key == *key))
                    {
                        return Err(self
                            .err(
                                span(table),
                                format!("`[defaults]` sets context key `{key}`, which `[facts]` already fills"),
                            )
                            .help_boxed("rename the key or the fact's key")
                            .into());
                    }
                    Ok(entries)
                };
                if let Some(table) = &raw.context {
                    defaults.all.extend(entries(table)?);
                }
                for (type_name, table) in &raw.principal_type {
                    if cedar_policy::EntityTypeName::from_str(type_name.get_ref()).is_err() {
                        return Err(self
                            .err(
                                span(type_name),
                                format!("`{}` is not an entity type name", type_name.get_ref()),
                            )
                            .help_boxed("write the type as in Cedar, e.g. `Agent` or `App::Agent`")
                            .into());
                    }
                    defaults
                        .by_type
                        .entry(type_name.get_ref().clone())
                        .or_default()
                        .extend(entries(table)?);
                    defaults
                        .type_spans
                        .insert(type_name.get_ref().clone(), (origin, span(type_name)));
                }
                for (id, table) in &raw.session {
                    let entry = defaults
                        .by_session
                        .entry(id.get_ref().clone())
                        .or_insert_with(|| (origin, span(id), Map::new()));
                    entry.2.extend(entries(table)?);
                    (entry.0, entry.1) = (origin, span(id));
                }
                Ok(())
            })?;
        }
        Ok(defaults)
    }

    /// `[defaults.session.ID]` must name a session.
    pub(super) fn unknown_default_sessions(
        &self,
        defaults: &Defaults,
        sessions: &[Session],
    ) -> Result<()> {
        for (id, (origin, at, _)) in &defaults.by_session {
            if !sessions.iter().any(|s| &s.id == id) {
                let known: Vec<&str> = sessions.iter().map(|s| s.id.as_str()).collect();
                return Err(Box::new(
                    self.file_of(*origin)
                        .error(
                            at.clone(),
                            format!("`[defaults.session]` names `{id}`, which is not a session"),
                        )
                        .with_help(format!(
                            "declared sessions: {}",
                            if known.is_empty() {
                                "none".to_string()
                            } else {
                                known.join(", ")
                            }
                        )),
                )
                .into());
            }
        }
        Ok(())
    }

    /// A `[defaults.principal_type]` no entity or session has would never
    /// apply: most likely a typo, so it is said.
    pub(super) fn warn_unused_types(
        &mut self,
        defaults: &Defaults,
        world: &World,
        sessions: &[Session],
    ) {
        let mut types: BTreeSet<String> = world
            .base
            .keys()
            .filter_map(|key| parse_uid(key).ok())
            .map(|uid| uid.type_name().to_string())
            .collect();
        types.extend(sessions.iter().map(|s| s.principal.type_name().to_string()));
        for (type_name, (origin, at)) in &defaults.type_spans {
            if !types.contains(type_name) {
                let location = self.file_of(*origin).location(at.start);
                self.warnings.push(format!(
                    "{location}: `[defaults.principal_type]` names `{type_name}`, but no entity or session of the world has that type"
                ));
            }
        }
    }
}
