//! The Cedar CLI's `run-tests` format (`cedar run-tests --policies P --tests T
//! [--schema S] [--template-linked L]`): a JSON array of test cases
//! `{name?, request: {principal, action, resource, context}, entities,
//! decision, reason, num_errors}`. The policies come from the command line, the
//! entities from each test case. `reason` lists policies that must be among the
//! determining ones and `num_errors` counts erroring policies, as
//! `cedar run-tests` checks them.
//!
//! A scenario has one world, so test cases are grouped by their entities: each
//! distinct set of entities becomes one scenario, its entities written inline.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Value;

use super::json::{self, JsonFile, Key};
use super::{ImportOptions, ImportedEntity, ImportedStep, Suite, SuiteFiles, SuiteFormat};
use crate::load::Decision;
use privsim_model::diag::{Error, Result};

/// One test case, as `cedar run-tests` reads it (unknown fields are ignored, as
/// there).
#[derive(Debug, Deserialize)]
struct TestCase {
    #[serde(default)]
    name: Option<String>,
    request: Request,
    entities: Vec<Value>,
    decision: ExpectedDecision,
    reason: Vec<String>,
    num_errors: usize,
}

#[derive(Debug, Deserialize)]
struct Request {
    principal: Value,
    action: Value,
    resource: Value,
    context: Value,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ExpectedDecision {
    Allow,
    Deny,
}

/// Reads a `run-tests` file: one suite per distinct set of entities.
pub fn import(path: &Path, name: &str, options: &ImportOptions) -> Result<Vec<Suite>> {
    let Some(policies) = &options.policies else {
        return Err(Error::BadArgument(format!(
            "`{}` is a `cedar run-tests` file, which does not name its policies: pass `--policies FILE` (and `--schema`, `--links` as you would to `cedar run-tests`)",
            path.display()
        )));
    };
    for given in [
        Some(policies),
        options.schema.as_ref(),
        options.links.as_ref(),
    ]
    .into_iter()
    .flatten()
    {
        if !given.is_file() {
            return Err(Error::NotFound(format!(
                "`{}` is not a file",
                given.display()
            )));
        }
    }
    let json = JsonFile::read(path)?;
    let Value::Array(cases) = &json.value else {
        return Err(json
            .error_at(
                &[],
                "a `cedar run-tests` file holds a JSON array of test cases",
            )
            .into());
    };
    let files = SuiteFiles {
        policies: policies.clone(),
        schema: options.schema.clone(),
        schema_is_json: options
            .schema
            .as_ref()
            .is_some_and(|p| p.extension().is_some_and(|e| e == "json")),
        entities: None,
        links: options.links.clone(),
    };
    // (canonical entities, entities, steps), in the order first seen.
    let mut groups: Vec<(String, Vec<ImportedEntity>, Vec<ImportedStep>)> = Vec::new();
    for (index, case) in cases.iter().enumerate() {
        let here = [Key::Index(index)];
        let test: TestCase = serde_json::from_value(case.clone()).map_err(|e| {
            json.error_at(&here, format!("test case {}: {e}", index + 1))
                .with_help("a test case is {\"name\"?, \"request\": {\"principal\", \"action\", \"resource\", \"context\"}, \"entities\": [...], \"decision\": \"allow\" | \"deny\", \"reason\": [...], \"num_errors\": N}")
        })?;
        let step = step(&json, index, test.name.clone(), &test)?;
        let entities = entities(&json, index, &test.entities)?;
        let mut canonical: Vec<String> = test.entities.iter().map(Value::to_string).collect();
        canonical.sort();
        let key = canonical.join("\n");
        match groups.iter_mut().find(|(k, _, _)| *k == key) {
            Some((_, _, steps)) => steps.push(step),
            None => groups.push((key, entities, vec![step])),
        }
    }
    if groups.is_empty() {
        return Err(json.error_at(&[], "the file has no test cases").into());
    }
    let several = groups.len() > 1;
    Ok(groups
        .into_iter()
        .enumerate()
        .map(|(n, (_, entities, steps))| Suite {
            name: if several {
                format!("{name}-{}", n + 1)
            } else {
                name.to_string()
            },
            format: SuiteFormat::RunTests,
            source: path.to_path_buf(),
            files: files.clone(),
            validate: true,
            entities,
            steps,
            notes: Vec::new(),
        })
        .collect())
}

fn step(
    json: &JsonFile,
    index: usize,
    name: Option<String>,
    test: &TestCase,
) -> Result<ImportedStep> {
    let request = |field| [Key::Index(index), Key::Field("request"), Key::Field(field)];
    let principal = json::uid_at(
        json,
        &test.request.principal,
        &request("principal"),
        "principal",
    )?;
    let action = json::uid_at(json, &test.request.action, &request("action"), "action")?;
    let resource = json::uid_at(
        json,
        &test.request.resource,
        &request("resource"),
        "resource",
    )?;
    let context = json::table_at(
        json,
        &test.request.context,
        &request("context"),
        "the context",
    )?;
    let reason: BTreeSet<String> = test.reason.iter().cloned().collect();
    Ok(ImportedStep {
        name: name.unwrap_or_else(|| format!("test {}", index + 1)),
        principal: principal.to_string(),
        action: action.to_string(),
        resource: resource.to_string(),
        context,
        expect: match test.decision {
            ExpectedDecision::Allow => Decision::Allow,
            ExpectedDecision::Deny => Decision::Deny,
        },
        reason: None,
        reason_includes: (!reason.is_empty()).then(|| reason.into_iter().collect()),
        errors: None,
        error_count: Some(test.num_errors),
        validate_request: true,
    })
}

/// A test case's entities, as inline scenario entities.
fn entities(json: &JsonFile, index: usize, items: &[Value]) -> Result<Vec<ImportedEntity>> {
    let mut entities = Vec::new();
    for (position, item) in items.iter().enumerate() {
        let here = [
            Key::Index(index),
            Key::Field("entities"),
            Key::Index(position),
        ];
        let at = |field| {
            [
                Key::Index(index),
                Key::Field("entities"),
                Key::Index(position),
                Key::Field(field),
            ]
        };
        let Value::Object(map) = item else {
            return Err(json
                .error_at(
                    &here,
                    "an entity must be a JSON object {\"uid\", \"attrs\", \"parents\"}",
                )
                .into());
        };
        let Some(uid) = map.get("uid") else {
            return Err(json.error_at(&here, "the entity has no `uid`").into());
        };
        let uid = json::uid_at(json, uid, &at("uid"), "entity uid")?.to_string();
        let mut parents = Vec::new();
        match map.get("parents") {
            None => {}
            Some(Value::Array(items)) => {
                for (n, parent) in items.iter().enumerate() {
                    let mut path = at("parents").to_vec();
                    path.push(Key::Index(n));
                    parents.push(json::uid_at(json, parent, &path, "parent")?.to_string());
                }
            }
            Some(other) => {
                return Err(json
                    .error_at(
                        &at("parents"),
                        format!("`parents` must be an array, not `{other}`"),
                    )
                    .into());
            }
        }
        let attrs = match map.get("attrs") {
            Some(value) => json::table_at(json, value, &at("attrs"), "the attributes")?,
            None => toml::Table::new(),
        };
        let tags = map
            .get("tags")
            .map(|value| json::table_at(json, value, &at("tags"), "the tags"))
            .transpose()?;
        entities.push(ImportedEntity {
            uid,
            parents,
            attrs,
            tags,
        });
    }
    Ok(entities)
}
