//! Building Cedar requests (checked against the schema when there is one)
//! and parsing entity references.

use std::str::FromStr;

use cedar_policy::{Context, EntityUid, Request, RestrictedExpression, Schema};
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
///
/// Plain contexts (booleans, integers, strings, sets and records, no key
/// starting with `__` but for entity references and extension values in
/// their explicit `__entity` and `__extn` forms) are built directly and
/// checked against the action's context type (`plain_context`); everything
/// else, and every plain context the schema rejects or Cedar cannot make
/// (a bad extension argument), goes through Cedar's JSON parser, so the
/// context read and every error are Cedar's own. (Cedar's parser took
/// about 25 µs for a context of three entries, two of them escapes.)
pub fn read_context(
    action: &EntityUid,
    context: &Value,
    schema: Option<&Schema>,
) -> std::result::Result<Context, String> {
    if let Some(context) = plain_context(action, context, schema) {
        return Ok(context);
    }
    Context::from_json_value(context.clone(), schema.map(|s| (s, action)))
        .map_err(|e| error_chain(&e))
}

/// The context Cedar's JSON parser reads from `context`, built without it,
/// or `None` where this cannot be sure of that.
///
/// Cedar's parser is slow on plain values (it tries each as an extension
/// value first and builds an error for every one that is not). A plain JSON
/// value reads the same with or without a schema, with one exception: where
/// the schema expects an entity or an extension value, the parser reads
/// strings and records as those. So a plain context is built as the values
/// it holds and then checked against the action's context type
/// (`Context::validate`, the check `Request::new` makes): a value read as
/// something else than the schema expects fails that check, and so does a
/// missing or undeclared attribute, and then Cedar's parser reads the
/// context (and reports its own error). The escapes `__entity` and
/// `__extn` in their plainest form (`escape`) are read as Cedar reads them
/// with or without a schema: a schema that expects something else rejects
/// the value in the same check. Not plain, always left to Cedar: any other
/// key starting with `__`, escapes in any other form, `null`, numbers that
/// are not 64-bit integers, and anything but an object at the top.
/// Public for the tests that compare it with Cedar's parser.
pub fn plain_context(
    action: &EntityUid,
    context: &Value,
    schema: Option<&Schema>,
) -> Option<Context> {
    let context = plain_unchecked(context)?;
    if let Some(schema) = schema {
        context.validate(schema, action).ok()?;
    }
    Some(context)
}

/// A plain context built as the values it holds, checked against nothing
/// (both [`plain_context`] and [`plain_request`] check it, each its way),
/// or `None` when it is not plain.
fn plain_unchecked(context: &Value) -> Option<Context> {
    let Value::Object(entries) = context else {
        return None;
    };
    Context::from_pairs(plain_entries(entries)?).ok()
}

fn plain_entries(
    entries: &serde_json::Map<String, Value>,
) -> Option<Vec<(String, RestrictedExpression)>> {
    entries
        .iter()
        .map(|(key, value)| {
            if key.starts_with("__") {
                return None;
            }
            Some((key.clone(), plain_value(value)?))
        })
        .collect()
}

fn plain_value(value: &Value) -> Option<RestrictedExpression> {
    Some(match value {
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => RestrictedExpression::new_long(n.as_i64()?),
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => RestrictedExpression::new_set(
            items.iter().map(plain_value).collect::<Option<Vec<_>>>()?,
        ),
        Value::Object(entries) => match escape(entries) {
            Some(escaped) => escaped?,
            None => RestrictedExpression::new_record(plain_entries(entries)?).ok()?,
        },
        Value::Null => return None,
    })
}

/// An object that is one `__entity` or `__extn` escape in its plainest
/// form, as Cedar's JSON reader reads it (`CedarValueJson`'s
/// `EntityEscape` and `ExtnEscape`): `{"__entity": {"type": T, "id": I}}`
/// with `T` a type name in normal form, or `{"__extn": {"fn": F, "arg":
/// S}}` with `F` one of the four constructors of one string (`ip`,
/// `decimal`, `datetime`, `duration`) and `S` a string; the call is
/// evaluated when the context is made, as Cedar evaluates it. `None`: not
/// an escape (a record, if no key starts with `__`); `Some(None)`: an
/// escape in any other form, left to Cedar.
fn escape(entries: &serde_json::Map<String, Value>) -> Option<Option<RestrictedExpression>> {
    let mut only = entries.iter();
    let (Some((key, inner)), None) = (only.next(), only.next()) else {
        return None;
    };
    let fields = |names: [&str; 2]| -> Option<[&str; 2]> {
        let inner = inner.as_object().filter(|inner| inner.len() == 2)?;
        Some([
            inner.get(names[0])?.as_str()?,
            inner.get(names[1])?.as_str()?,
        ])
    };
    match key.as_str() {
        "__entity" => Some(fields(["type", "id"]).and_then(|[ty, id]| {
            let name = cedar_policy::EntityTypeName::from_str(ty).ok()?;
            // Cedar reads the type with `Name::from_normalized_str`
            // (`from_str` insists on the normal form too, in Cedar 4.14).
            (name.to_string() == ty).then(|| {
                RestrictedExpression::new_entity_uid(EntityUid::from_type_name_and_id(
                    name,
                    cedar_policy::EntityId::new(id),
                ))
            })
        })),
        "__extn" => Some(fields(["fn", "arg"]).and_then(|[function, arg]| {
            Some(match function {
                "ip" => RestrictedExpression::new_ip(arg),
                "decimal" => RestrictedExpression::new_decimal(arg),
                "datetime" => RestrictedExpression::new_datetime(arg),
                "duration" => RestrictedExpression::new_duration(arg),
                _ => return None,
            })
        })),
        _ => None,
    }
}

/// The context [`read_context`] reads from `context` under `schema` and the
/// request [`request_from_context`] builds of it with the same schema, with
/// the schema's check made once instead of twice, or `None` where this
/// cannot be sure of both (then the caller takes the two steps).
///
/// `read_context` checks a plain context against the action's context type
/// (`Context::validate`), and `Request::new` under the schema checks the
/// scope types and then the context again, with the same check
/// (`validate_context`). So when `Request::new` accepts the plain context,
/// `Context::validate` would have too, `read_context` would have read this
/// very context, and the request is the one the two steps build. When it
/// refuses, nothing is claimed: the caller reads the context as before and
/// reports Cedar's own error. `context_reading::plain_request_equals_two_steps`
/// compares the two on generated contexts.
pub fn plain_request(
    principal: &EntityUid,
    action: &EntityUid,
    resource: &EntityUid,
    context: &Value,
    schema: &Schema,
) -> Option<(Context, Request)> {
    let context = plain_unchecked(context)?;
    let request = Request::new(
        principal.clone(),
        action.clone(),
        resource.clone(),
        context.clone(),
        Some(schema),
    )
    .ok()?;
    Some((context, request))
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
