//! The integration-test JSON of the Cedar project (cedar-integration-tests,
//! read by `cedar-testing`): `{policies, entities, schema, shouldValidate,
//! requests: [{description, principal, action, resource, context,
//! validateRequest?, decision, reason, errors}]}`. The three paths are relative
//! to the root of the test repository, not to the test file.
//!
//! `cedar-testing` keeps Cedar's own policy names (`policy0`, `policy1`, ...)
//! even for policies with an `@id` annotation, while privsim names a policy by
//! its `@id`; the expected `reason` and `errors` are renamed accordingly.

use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};
use std::str::FromStr;

use cedar_policy::PolicySet;
use serde::Deserialize;
use serde_json::Value;

use super::json::{self, JsonFile, Key};
use super::{ImportedStep, Suite, SuiteFiles, SuiteFormat};
use crate::load::Decision;
use privsim_model::diag::Result;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonTest {
    policies: String,
    #[serde(default)]
    policy_format: FileFormat,
    entities: String,
    schema: String,
    #[serde(default)]
    schema_format: FileFormat,
    should_validate: bool,
    requests: Vec<JsonRequest>,
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum FileFormat {
    #[default]
    Cedar,
    Json,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct JsonRequest {
    description: String,
    principal: Value,
    action: Value,
    resource: Value,
    context: Value,
    #[serde(default = "yes")]
    validate_request: bool,
    decision: ExpectedDecision,
    reason: Vec<String>,
    errors: Vec<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "lowercase")]
enum ExpectedDecision {
    Allow,
    Deny,
}

/// Reads one integration test; its paths are resolved against `root`, or
/// against the nearest folder (the test's own, then up) holding its policies.
pub fn import(path: &Path, name: String, root: Option<&Path>) -> Result<Suite> {
    let json = JsonFile::read(path)?;
    let test: JsonTest = json.parse()?;
    if test.policy_format == FileFormat::Json {
        return Err(json
            .error_at(&[Key::Field("policyFormat")], "policies in Cedar's JSON policy format are not supported")
            .with_help("translate them to Cedar syntax (`cedar translate-policy`) and point `policies` at the `.cedar` file")
            .into());
    }
    let root = match root {
        Some(root) => root.to_path_buf(),
        None => find_root(&json, path, &test.policies)?,
    };
    let resolve = |written: &str, field: &str| -> Result<PathBuf> {
        let relative = Path::new(written);
        if written.is_empty()
            || relative
                .components()
                .any(|c| !matches!(c, Component::Normal(_) | Component::CurDir))
        {
            return Err(json
                .error_at(&[Key::Field(field)], format!("`{written}` must be a path relative to the test repository's root, without `..`"))
                .into());
        }
        let full = root.join(relative);
        if !full.is_file() {
            return Err(json
                .error_at(&[Key::Field(field)], format!("cannot find `{written}` under `{}`", root.display()))
                .with_help("paths in Cedar integration tests are relative to the test repository's root; pass it with `--root`")
                .into());
        }
        Ok(full)
    };
    let policies = resolve(&test.policies, "policies")?;
    let files = SuiteFiles {
        schema: Some(resolve(&test.schema, "schema")?),
        schema_is_json: test.schema_format == FileFormat::Json,
        entities: Some(resolve(&test.entities, "entities")?),
        links: None,
        policies: policies.clone(),
    };
    let renames = annotated_ids(&policies);
    let rename = |ids: &[String]| -> Vec<String> {
        ids.iter()
            .map(|id| renames.get(id).cloned().unwrap_or_else(|| id.clone()))
            .collect()
    };
    let mut steps = Vec::new();
    for (index, request) in test.requests.iter().enumerate() {
        let at = |field| [Key::Field("requests"), Key::Index(index), Key::Field(field)];
        steps.push(ImportedStep {
            name: request.description.clone(),
            principal: json::uid_at(&json, &request.principal, &at("principal"), "principal")?
                .to_string(),
            action: json::uid_at(&json, &request.action, &at("action"), "action")?.to_string(),
            resource: json::uid_at(&json, &request.resource, &at("resource"), "resource")?
                .to_string(),
            context: json::table_at(&json, &request.context, &at("context"), "the context")?,
            expect: match request.decision {
                ExpectedDecision::Allow => Decision::Allow,
                ExpectedDecision::Deny => Decision::Deny,
            },
            reason: Some(rename(&request.reason)),
            reason_includes: None,
            errors: Some(rename(&request.errors)),
            error_count: None,
            validate_request: request.validate_request,
        });
    }
    Ok(Suite {
        name,
        format: SuiteFormat::Integration,
        source: path.to_path_buf(),
        files,
        validate: test.should_validate,
        entities: Vec::new(),
        steps,
        notes: Vec::new(),
    })
}

/// The nearest folder, from the test file's own upwards, under which the
/// test's `policies` path exists.
fn find_root(json: &JsonFile, path: &Path, policies: &str) -> Result<PathBuf> {
    let folder = path.parent().unwrap_or(Path::new(""));
    let lexical = folder.ancestors();
    let absolute = std::path::absolute(folder).ok();
    let found = lexical
        .chain(absolute.iter().flat_map(|a| a.ancestors()))
        .find(|candidate| candidate.join(policies).is_file());
    match found {
        Some(root) => Ok(root.to_path_buf()),
        None => Err(json
            .error_at(
                &[Key::Field("policies")],
                format!(
                    "cannot find `{policies}` in `{}` or any folder above it",
                    if folder.as_os_str().is_empty() { Path::new(".") } else { folder }.display()
                ),
            )
            .with_help("paths in Cedar integration tests are relative to the test repository's root; pass it with `--root`")
            .into()),
    }
}

/// Cedar's own name of every policy and template that has an `@id`, mapped to
/// that `@id` (the name privsim gives it). Empty when the file does not parse;
/// loading the scenario then reports the parse error.
fn annotated_ids(policies: &Path) -> BTreeMap<String, String> {
    let Ok(text) = std::fs::read_to_string(policies) else {
        return BTreeMap::new();
    };
    // Text nested too deep for Cedar's parser would overflow the stack here;
    // loading the scenario reports it instead.
    let file = privsim_model::diag::SourceFile::from_text(policies.into(), String::new(), text);
    if crate::load::cedar_files::check_depth(&file).is_err() {
        return BTreeMap::new();
    }
    let Ok(set) = PolicySet::from_str(&file.text) else {
        return BTreeMap::new();
    };
    let policies = set.policies().filter_map(|p| {
        p.annotation("id")
            .map(|id| (p.id().to_string(), id.to_string()))
    });
    let templates = set.templates().filter_map(|t| {
        t.annotation("id")
            .map(|id| (t.id().to_string(), id.to_string()))
    });
    policies.chain(templates).collect()
}
