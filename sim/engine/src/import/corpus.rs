//! The `ALLOW/` + `DENY/` folder layout of cedar-examples'
//! `cedar-example-use-cases`: one suite per use-case folder, one request per
//! JSON file, the folder name being the expected decision.

use std::path::Path;

use serde_json::Value;

use super::json::{self, JsonFile, Key};
use super::{ImportedStep, Suite, SuiteFiles, SuiteFormat};
use crate::load::Decision;
use privsim_model::diag::{Error, Result, SourceFile};

/// The request folders and the decision each expects, in the order steps are written.
const DECISION_FOLDERS: [(&str, Decision); 2] =
    [("ALLOW", Decision::Allow), ("DENY", Decision::Deny)];

/// Whether `folder` is a use case: it has an `ALLOW/` or a `DENY/` folder.
pub fn is_use_case(folder: &Path) -> bool {
    DECISION_FOLDERS
        .iter()
        .any(|(name, _)| folder.join(name).is_dir())
}

/// Reads one use-case folder.
pub fn import(folder: &Path, name: String) -> Result<Suite> {
    let policies = folder.join("policies.cedar");
    if !policies.is_file() {
        return Err(Error::NotFound(format!(
            "`{}` has request folders but no `policies.cedar`",
            folder.display()
        )));
    }
    let existing = |names: &[&str]| names.iter().map(|n| folder.join(n)).find(|p| p.is_file());
    let schema = existing(&["policies.cedarschema", "policies.cedarschema.json"]);
    let schema_is_json = schema
        .as_ref()
        .is_some_and(|p| p.extension().is_some_and(|e| e == "json"));
    let mut files = SuiteFiles {
        policies,
        schema,
        schema_is_json,
        entities: existing(&["entities.json"]),
        links: existing(&["linked"]),
    };
    let mut notes = Vec::new();
    if let (Some(schema), Some(entities)) = (&files.schema, &files.entities)
        && let Some(reason) = entities_break_schema(schema, entities)?
    {
        notes.push(format!(
            "The entities do not conform to the schema ({reason}), so, as cedar-examples' own runner does for such use cases, requests are evaluated without it."
        ));
        files.schema = None;
    }
    let mut steps = Vec::new();
    for (subfolder, decision) in DECISION_FOLDERS {
        let requests = folder.join(subfolder);
        if !requests.is_dir() {
            continue;
        }
        let mut found = Vec::new();
        crate::load::collect_files(&requests, "json", &mut found)?;
        for file in found {
            steps.push(request(&requests, &file, subfolder, decision)?);
        }
    }
    Ok(Suite {
        name,
        format: SuiteFormat::Corpus,
        source: folder.to_path_buf(),
        files,
        validate: true,
        entities: Vec::new(),
        steps,
        notes,
    })
}

/// Why the entities file does not conform to the schema, if it does not. A
/// schema or entities file that does not parse at all is left for loading the
/// scenario to report, located.
fn entities_break_schema(schema: &Path, entities: &Path) -> Result<Option<String>> {
    let schema_file = SourceFile::read(schema, schema.display().to_string())?;
    let Ok(schema) = crate::load::cedar_files::parse_schema(&schema_file) else {
        return Ok(None);
    };
    let entities_file = SourceFile::read(entities, entities.display().to_string())?;
    let Ok(json) = serde_json::from_str::<Value>(&entities_file.text) else {
        return Ok(None);
    };
    if cedar_policy::Entities::from_json_value(json.clone(), None).is_err() {
        return Ok(None);
    }
    Ok(cedar_policy::Entities::from_json_value(json, Some(&schema))
        .err()
        .map(|e| crate::load::error_chain(&e)))
}

/// One request file: `{"principal", "action", "resource", "context"}` as the
/// Cedar CLI's `--request-json` reads it.
fn request(
    requests: &Path,
    file: &Path,
    subfolder: &str,
    expect: Decision,
) -> Result<ImportedStep> {
    let json = JsonFile::read(file)?;
    let Value::Object(map) = &json.value else {
        return Err(json
            .error_at(&[], "a request file must hold a JSON object")
            .with_help("write {\"principal\": \"User::\\\"alice\\\"\", \"action\": \"Action::\\\"view\\\"\", \"resource\": \"Photo::\\\"a\\\"\", \"context\": {}}")
            .into());
    };
    let mut uids = Vec::new();
    for field in ["principal", "action", "resource"] {
        let Some(value) = map.get(field) else {
            return Err(json
                .error_at(&[], format!("the request has no `{field}`"))
                .into());
        };
        uids.push(json::uid_at(&json, value, &[Key::Field(field)], field)?.to_string());
    }
    let context = match map.get("context") {
        Some(value) => json::table_at(&json, value, &[Key::Field("context")], "the context")?,
        None => toml::Table::new(),
    };
    let relative = file.strip_prefix(requests).unwrap_or(file);
    let name = format!(
        "{subfolder}/{}",
        relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy().into_owned())
            .collect::<Vec<_>>()
            .join("/")
    );
    let [principal, action, resource] = <[String; 3]>::try_from(uids).map_err(|_| {
        Error::Unsupported(format!("`{}`: cannot read the request", file.display()))
    })?;
    Ok(ImportedStep {
        name,
        principal,
        action,
        resource,
        context,
        expect,
        reason: None,
        reason_includes: None,
        errors: None,
        error_count: None,
        validate_request: true,
    })
}
