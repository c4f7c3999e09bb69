//! `privsim init`: a starter scenario folder derived from a Cedar schema (the
//! user's, or a small built-in one), which passes `privsim run` as written.
//!
//! From the schema it picks the first action (in name order) that applies to
//! some principal and resource type, writes one entity per type it needs (two
//! resources, so the over-privileged variant has something unused to hold),
//! filling every required attribute and context key with a plain value of its
//! type, and two variants of the same workflow: `least-privilege.toml`, whose
//! policy allows exactly the step the workflow takes, and
//! `over-privileged.toml`, whose policy allows every action on every resource
//! and whose expectations record what that policy really does. The caller
//! loads and replays what this returns before writing it (see the CLI's
//! `init.rs`), so a schema this module reads wrongly is an error, not a
//! folder that fails later.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use cedar_policy::{EntityId, EntityTypeName, EntityUid, Schema, SchemaFragment};
use privsim_model::diag::{Result, SourceFile};
use serde_json::{Value, json};

use crate::load::cedar_files;

/// The schema `privsim init` starts from when none is given: an agent that
/// reads documents for a user.
pub const STARTER_SCHEMA: &str = r#"// Written by `privsim init`: an AI agent reads documents for a user. Replace
// it with your own schema (or start with `privsim init --from-schema FILE`).
entity User;
entity Agent;
entity Document;

action readDocument, deleteDocument
  appliesTo {
    principal: [Agent, User],
    resource: [Document],
  };
"#;

/// How deep a generated value may nest (records in records): a hostile
/// schema cannot make generation run long.
const MAX_DEPTH: usize = 32;

/// The files of a starter folder, as (relative path, contents), from a
/// schema file (`.json` for Cedar's JSON schema format, else Cedar syntax).
pub fn starter(schema: &SourceFile) -> Result<Vec<(String, String)>> {
    let parsed = cedar_files::parse_schema(schema)?;
    let json_form = json_form(schema).map_err(|message| schema.error(0..0, message))?;
    let plan = Plan::new(&parsed, &json_form)
        .ok_or_else(|| {
            schema
                .error(
                    0..0,
                    "cannot derive a starter scenario from this schema: no action applies to a principal and a resource type whose required attributes privsim can fill",
                )
                .with_help("give an action an `appliesTo` with `principal` and `resource` types, or start from `privsim init` without a schema")
        })?;
    let schema_name = if schema.display.ends_with(".json") {
        "schema.json"
    } else {
        "schema.cedarschema"
    };
    let mut files = vec![
        (schema_name.to_string(), schema.text.to_string()),
        ("entities.json".to_string(), plan.entities_json()),
        (
            "policies/least-privilege.cedar".to_string(),
            plan.least_privilege_policy(),
        ),
        (
            "policies/over-privileged.cedar".to_string(),
            plan.over_privileged_policy(),
        ),
        (
            "least-privilege.toml".to_string(),
            plan.scenario(schema_name, Variant::LeastPrivilege),
        ),
        (
            "over-privileged.toml".to_string(),
            plan.scenario(schema_name, Variant::OverPrivileged),
        ),
        (
            "scenario.schema.json".to_string(),
            crate::schema::SCENARIO.to_string(),
        ),
    ];
    files.sort();
    Ok(files)
}

/// The schema in Cedar's JSON form, which says every attribute's type
/// (parsed on the large stack, like every Cedar parse of user input; the
/// schema already parsed once, so its nesting is within bounds).
fn json_form(schema: &SourceFile) -> std::result::Result<Value, String> {
    let is_json = schema.display.ends_with(".json");
    let text: &str = &schema.text;
    cedar_files::on_a_large_stack(move || {
        let fragment = if is_json {
            SchemaFragment::from_json_str(text).map_err(|e| e.to_string())?
        } else {
            SchemaFragment::from_cedarschema_str(text)
                .map_err(|e| e.to_string())?
                .0
        };
        fragment.to_json_value().map_err(|e| e.to_string())
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Variant {
    LeastPrivilege,
    OverPrivileged,
}

/// What the starter folder holds.
struct Plan {
    action: EntityUid,
    principal: EntityUid,
    /// One or two resources of the action's first resource type.
    resources: Vec<EntityUid>,
    /// The resources the action could apply to in the generated world (the
    /// over-privileged policy holds all of them).
    universe: Vec<EntityUid>,
    /// Every generated entity, by its literal: (type, id, attributes).
    entities: BTreeMap<String, (String, String, serde_json::Map<String, Value>)>,
    /// The action's required context, if any.
    context: Option<Value>,
}

impl Plan {
    fn new(schema: &Schema, json_form: &Value) -> Option<Plan> {
        let mut actions: Vec<&EntityUid> = schema.actions().collect();
        actions.sort_by_key(|uid| uid.to_string());
        let (action, principal_type, resource_types) = actions.into_iter().find_map(|action| {
            let mut principals: Vec<&EntityTypeName> =
                schema.principals_for_action(action)?.collect();
            let mut resources: Vec<&EntityTypeName> =
                schema.resources_for_action(action)?.collect();
            principals.sort_by_key(|t| t.to_string());
            resources.sort_by_key(|t| t.to_string());
            let principal = (*principals.first()?).clone();
            resources.first()?;
            Some((
                action.clone(),
                principal,
                resources.into_iter().cloned().collect::<Vec<_>>(),
            ))
        })?;
        let types = Types::new(json_form);
        let mut generator = Generator {
            types: &types,
            entities: BTreeMap::new(),
        };
        let principal = generator.entity(&principal_type.to_string(), 0)?;
        let resource_type = resource_types[0].to_string();
        let mut resources = vec![generator.entity(&resource_type, 0)?];
        if let Some(second) = generator.another_entity(&resource_type, &resources[0]) {
            resources.push(second);
        }
        let context = match types.action_context(&action) {
            Some(shape) => Some(generator.value(&shape.0, &shape.1, 0)?),
            None => None,
        };
        let applies: Vec<String> = resource_types.iter().map(|t| t.to_string()).collect();
        let universe = generator
            .entities
            .values()
            .filter(|(ty, _, _)| applies.contains(ty))
            .filter_map(|(ty, id, _)| uid(ty, id))
            .collect();
        Some(Plan {
            action,
            principal,
            resources,
            universe,
            entities: generator.entities,
            context,
        })
    }

    fn entities_json(&self) -> String {
        let list: Vec<Value> = self
            .entities
            .values()
            .map(|(ty, id, attrs)| {
                json!({"uid": {"type": ty, "id": id}, "attrs": attrs, "parents": []})
            })
            .collect();
        let mut text = serde_json::to_string_pretty(&list).unwrap_or_default();
        text.push('\n');
        text
    }

    fn least_privilege_policy(&self) -> String {
        format!(
            "// Least privilege: the worker may {action} the one resource its task\n\
             // needs, and nothing else.\n\
             @id(\"worker-needs-one-resource\")\n\
             permit (\n  principal == {principal},\n  action == {action_uid},\n  resource == {resource}\n);\n",
            action = self.action.id().unescaped(),
            principal = self.principal,
            action_uid = self.action,
            resource = self.resources[0],
        )
    }

    fn over_privileged_policy(&self) -> String {
        format!(
            "// Over-privileged: the worker may do anything the schema allows, on\n\
             // every resource, which is what a copied human role often amounts to.\n\
             @id(\"worker-may-do-everything\")\n\
             permit (\n  principal == {principal},\n  action,\n  resource\n);\n",
            principal = self.principal,
        )
    }

    fn scenario(&self, schema_name: &str, variant: Variant) -> String {
        let (title, policy, policy_id) = match variant {
            Variant::LeastPrivilege => (
                "least privilege",
                "least-privilege.cedar",
                "worker-needs-one-resource",
            ),
            Variant::OverPrivileged => (
                "over-privileged",
                "over-privileged.cedar",
                "worker-may-do-everything",
            ),
        };
        let action = toml_string(&self.action.to_string());
        let principal = toml_string(&self.principal.to_string());
        let mut text = String::new();
        let _ = writeln!(
            text,
            "#:schema ./scenario.schema.json\n\
             # Written by `privsim init` (docs/init.md). Run it with `privsim run .`;\n\
             # the #:schema line above lets Taplo / Even Better TOML complete keys\n\
             # and underline typos (docs/scenario-format.md lists every key).\n"
        );
        let _ = writeln!(
            text,
            "[scenario]\nname = {}\npolicies = [{}]\nschema = {}\nentities = \"entities.json\"\nstart = \"2026-06-01T09:00:00Z\"\n",
            toml_string(&format!(
                "{} does one task ({title})",
                self.principal.type_name()
            )),
            toml_string(&format!("policies/{policy}")),
            toml_string(schema_name),
        );
        let _ = writeln!(
            text,
            "[[session]]\nid = \"worker\"\nprincipal = {principal}\ntask = {}",
            toml_string(&format!(
                "{} {}",
                self.action.id().unescaped(),
                self.resources[0]
            )),
        );
        if let Some(context) = &self.context
            && let Ok(value) = toml::Value::try_from(context)
        {
            let _ = writeln!(text, "context = {value}");
        }
        let _ = writeln!(
            text,
            "\n# The workflow: the one request the task needs.\n\
             [[step]]\nat = \"+1m\"\nsession = \"worker\"\naction = {action}\nresource = {}\nexpect = \"allow\"\nexpect_reason = [\"{policy_id}\"]\n",
            toml_string(&self.resources[0].to_string()),
        );
        // The same workflow in both variants (the convention of
        // `scenarios/`): a request outside the task, denied by the least
        // privilege policy; the over-privileged variant's expectation records
        // what its policy really does, so the pair reads as a diff.
        if let Some(other) = self.resources.get(1) {
            let (expect, comment) = match variant {
                Variant::LeastPrivilege => ("deny", "the task never needs it, so it is denied"),
                Variant::OverPrivileged => (
                    "allow",
                    "the task never needs it, yet this policy allows it",
                ),
            };
            let _ = writeln!(
                text,
                "# Another resource of the same type: {comment}.\n\
                 [[step]]\nname = \"a request outside the task\"\nat = \"+2m\"\nsession = \"worker\"\naction = {action}\nresource = {}\nexpect = \"{expect}\"\n",
                toml_string(&other.to_string()),
            );
        }
        let held: Vec<String> = match variant {
            Variant::LeastPrivilege => vec![toml_string(&self.resources[0].to_string())],
            Variant::OverPrivileged => self
                .universe
                .iter()
                .map(|r| toml_string(&r.to_string()))
                .collect(),
        };
        let comment = match variant {
            Variant::LeastPrivilege => "Exactly which resources the session holds this action on",
            Variant::OverPrivileged => {
                "Exactly which resources the session holds this action on: expectations\n\
                 # record what the policy really does, so this lists every one"
            }
        };
        let _ = write!(
            text,
            "# {comment}.\n\
             [[access]]\nsession = \"worker\"\naction = {action}\nresources = [{}]\n",
            held.join(", "),
        );
        text
    }
}

/// A TOML literal string when the text allows one (entity literals read
/// best that way), else a basic string.
fn toml_string(text: &str) -> String {
    if !text.contains('\'') && !text.chars().any(char::is_control) {
        format!("'{text}'")
    } else {
        toml::Value::String(text.to_string()).to_string()
    }
}

fn uid(ty: &str, id: &str) -> Option<EntityUid> {
    let name: EntityTypeName = ty.parse().ok()?;
    Some(EntityUid::from_type_name_and_id(name, EntityId::new(id)))
}

/// The entity and common types of the schema's JSON form, by full name.
struct Types {
    /// Entity type → (its namespace, its JSON description).
    entity_types: BTreeMap<String, (String, Value)>,
    /// Common type → (its namespace, its JSON type).
    common_types: BTreeMap<String, (String, Value)>,
    /// Action → (its namespace, its context's JSON type).
    contexts: BTreeMap<String, (String, Value)>,
}

fn qualify(namespace: &str, name: &str) -> String {
    if namespace.is_empty() {
        name.to_string()
    } else {
        format!("{namespace}::{name}")
    }
}

impl Types {
    fn new(json_form: &Value) -> Types {
        let mut types = Types {
            entity_types: BTreeMap::new(),
            common_types: BTreeMap::new(),
            contexts: BTreeMap::new(),
        };
        let Some(namespaces) = json_form.as_object() else {
            return types;
        };
        for (namespace, body) in namespaces {
            let items = |key: &str| {
                body.get(key)
                    .and_then(Value::as_object)
                    .into_iter()
                    .flatten()
            };
            for (name, description) in items("entityTypes") {
                types.entity_types.insert(
                    qualify(namespace, name),
                    (namespace.clone(), description.clone()),
                );
            }
            for (name, ty) in items("commonTypes") {
                types
                    .common_types
                    .insert(qualify(namespace, name), (namespace.clone(), ty.clone()));
            }
            for (name, description) in items("actions") {
                if let Some(context) = description.pointer("/appliesTo/context") {
                    let action = format!("{}::\"{}\"", qualify(namespace, "Action"), name);
                    types
                        .contexts
                        .insert(action, (namespace.clone(), context.clone()));
                }
            }
        }
        types
    }

    fn action_context(&self, action: &EntityUid) -> Option<(String, Value)> {
        let key = format!("{}::\"{}\"", action.type_name(), action.id().unescaped());
        self.contexts.get(&key).cloned()
    }

    /// A name written in `namespace`, resolved as Cedar does: the namespace's
    /// own common type, entity type, then the empty namespace's.
    fn resolve(&self, namespace: &str, name: &str) -> Option<Resolved> {
        let candidates = if name.contains("::") {
            vec![name.to_string()]
        } else {
            vec![qualify(namespace, name), name.to_string()]
        };
        for full in &candidates {
            if let Some((ns, ty)) = self.common_types.get(full) {
                return Some(Resolved::Common(ns.clone(), ty.clone()));
            }
            if self.entity_types.contains_key(full) {
                return Some(Resolved::Entity(full.clone()));
            }
        }
        let primitive = name.trim_start_matches("__cedar::");
        matches!(
            primitive,
            "Long" | "String" | "Bool" | "Boolean" | "ipaddr" | "decimal" | "datetime" | "duration"
        )
        .then(|| Resolved::Primitive(primitive.to_string()))
    }
}

enum Resolved {
    Common(String, Value),
    Entity(String),
    Primitive(String),
}

/// Makes entities and values of schema types.
struct Generator<'a> {
    types: &'a Types,
    entities: BTreeMap<String, (String, String, serde_json::Map<String, Value>)>,
}

impl Generator<'_> {
    /// The first entity of a type (made once, with its required attributes).
    fn entity(&mut self, ty: &str, depth: usize) -> Option<EntityUid> {
        let id = match self.enum_values(ty) {
            Some(values) => values.first()?.clone(),
            None => format!("{}-1", short_name(ty)),
        };
        self.make(ty, &id, depth)
    }

    /// A second entity of the type, if the type allows one.
    fn another_entity(&mut self, ty: &str, first: &EntityUid) -> Option<EntityUid> {
        let id = match self.enum_values(ty) {
            Some(values) => values
                .iter()
                .find(|v| **v != first.id().unescaped())?
                .clone(),
            None => format!("{}-2", short_name(ty)),
        };
        self.make(ty, &id, 0)
    }

    fn enum_values(&self, ty: &str) -> Option<Vec<String>> {
        let (_, description) = self.types.entity_types.get(ty)?;
        let values = description.get("enum")?.as_array()?;
        Some(
            values
                .iter()
                .filter_map(|v| v.as_str().map(str::to_string))
                .collect(),
        )
    }

    fn make(&mut self, ty: &str, id: &str, depth: usize) -> Option<EntityUid> {
        let made = uid(ty, id)?;
        let key = made.to_string();
        if self.entities.contains_key(&key) {
            return Some(made);
        }
        // Listed before its attributes are made, so an attribute of the
        // entity's own type refers back to it instead of recursing.
        self.entities.insert(
            key.clone(),
            (ty.to_string(), id.to_string(), Default::default()),
        );
        if let Some((namespace, description)) = self.types.entity_types.get(ty).cloned()
            && let Some(shape) = description.get("shape")
        {
            let Value::Object(attrs) = self.value(&namespace, shape, depth + 1)? else {
                return None;
            };
            if let Some(entry) = self.entities.get_mut(&key) {
                entry.2 = attrs;
            }
        }
        Some(made)
    }

    /// A plain value of a JSON-form type (required record keys only).
    fn value(&mut self, namespace: &str, ty: &Value, depth: usize) -> Option<Value> {
        if depth > MAX_DEPTH {
            return None;
        }
        let kind = ty.get("type")?.as_str()?;
        match kind {
            "Long" => Some(json!(1)),
            "String" => Some(json!("example")),
            "Boolean" | "Bool" => Some(json!(true)),
            "Set" => Some(json!([])),
            "Record" => {
                let mut record = serde_json::Map::new();
                for (name, attr) in ty.get("attributes")?.as_object()? {
                    if attr.get("required").and_then(Value::as_bool) == Some(false) {
                        continue;
                    }
                    record.insert(name.clone(), self.value(namespace, attr, depth + 1)?);
                }
                Some(Value::Object(record))
            }
            "Entity" => self.entity_value(namespace, ty.get("name")?.as_str()?, depth),
            "Extension" => extension(ty.get("name")?.as_str()?),
            "EntityOrCommon" => self.named(namespace, ty.get("name")?.as_str()?, depth),
            other => self.named(namespace, other, depth),
        }
    }

    fn named(&mut self, namespace: &str, name: &str, depth: usize) -> Option<Value> {
        match self.types.resolve(namespace, name)? {
            Resolved::Common(ns, ty) => self.value(&ns, &ty, depth + 1),
            Resolved::Entity(full) => self.entity_value(namespace, &full, depth),
            Resolved::Primitive(primitive) => match primitive.as_str() {
                "Long" | "String" | "Bool" | "Boolean" => {
                    let kind = if primitive == "Bool" {
                        "Boolean"
                    } else {
                        &primitive
                    };
                    self.value(namespace, &json!({ "type": kind }), depth + 1)
                }
                other => extension(other),
            },
        }
    }

    fn entity_value(&mut self, namespace: &str, name: &str, depth: usize) -> Option<Value> {
        let full = match self.types.resolve(namespace, name)? {
            Resolved::Entity(full) => full,
            _ => return None,
        };
        let made = self.entity(&full, depth + 1)?;
        Some(
            json!({"__entity": {"type": made.type_name().to_string(), "id": made.id().unescaped()}}),
        )
    }
}

fn extension(name: &str) -> Option<Value> {
    let (function, argument) = match name {
        "ipaddr" => ("ip", "127.0.0.1"),
        "decimal" => ("decimal", "1.0"),
        "datetime" => ("datetime", "2026-06-01"),
        "duration" => ("duration", "1h"),
        _ => return None,
    };
    Some(json!({"__extn": {"fn": function, "arg": argument}}))
}

/// `NS::Document` → `document`.
fn short_name(ty: &str) -> String {
    ty.rsplit("::").next().unwrap_or(ty).to_lowercase()
}
