//! Building Cedar requests (checked against the schema when there is one)
//! and parsing entity references.

use std::str::FromStr;

use cedar_policy::{Context, EntityUid, Request, Schema};
use serde_json::Value;

use super::cedar_files::error_chain;
use super::messages::{first_line, truncate};

/// Builds a Cedar request, checking it against the schema when there is one.
pub fn build_request(
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    context: &Value,
    schema: Option<&Schema>,
) -> std::result::Result<Request, String> {
    request_with(principal, action, resource, context, schema, schema)
}

/// Builds a Cedar request whose principal, action and resource are not checked
/// against the schema (a step's `validate_request = false`, like Cedar's
/// integration tests' `validateRequest: false`). The context is still read with
/// the schema, so extension values in it need no `__extn` escape.
pub fn build_unvalidated_request(
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    context: &Value,
    schema: Option<&Schema>,
) -> std::result::Result<Request, String> {
    request_with(principal, action, resource, context, schema, None)
}

/// Reads the context with `context_schema` and checks the request against `request_schema`.
fn request_with(
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    context: &Value,
    context_schema: Option<&Schema>,
    request_schema: Option<&Schema>,
) -> std::result::Result<Request, String> {
    let context = read_context(action, context, context_schema)?;
    request_from_context(principal, action, resource, context, request_schema)
}

/// Reads a request's context as Cedar does, under the action's context type
/// when there is a schema (the first half of [`build_request`], for callers
/// that keep read contexts).
pub fn read_context(
    action: &EntityUid,
    context: &Value,
    schema: Option<&Schema>,
) -> std::result::Result<Context, String> {
    Context::from_json_value(context.clone(), schema.map(|s| (s, action)))
        .map_err(|e| error_chain(&e))
}

/// A request from a read context, checked against `schema` if any (the
/// second half of [`build_request`]).
pub fn request_from_context(
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    context: Context,
    schema: Option<&Schema>,
) -> std::result::Result<Request, String> {
    Request::new(
        principal.clone(),
        action.clone(),
        resource.clone(),
        context,
        schema,
    )
    .map_err(|e| error_chain(&e))
}

/// The context entry whose removal makes the request valid, with its value
/// (compact JSON, shortened): the one the schema rejects.
pub(super) fn context_culprit(
    context: &Value,
    valid: impl Fn(&Value) -> bool,
) -> Option<(String, String)> {
    let entries = context.as_object()?;
    entries.iter().find_map(|(key, value)| {
        let mut without = entries.clone();
        without.remove(key);
        valid(&Value::Object(without)).then(|| (key.clone(), truncate(&value.to_string())))
    })
}

/// Parses a Cedar entity reference such as `User::"alice"`.
pub fn parse_uid(text: &str) -> std::result::Result<EntityUid, String> {
    EntityUid::from_str(text).map_err(|e| {
        format!(
            "`{}` is not a Cedar entity reference ({})",
            truncate(text),
            first_line(&e.to_string())
        )
    })
}

pub(super) fn uid_from_json(value: &Value) -> Option<EntityUid> {
    let value = value.get("__entity").unwrap_or(value);
    EntityUid::from_json(value.clone()).ok()
}
