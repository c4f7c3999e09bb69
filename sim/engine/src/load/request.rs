//! Building Cedar requests (checked against the schema when there is one)
//! and parsing entity references.

use std::str::FromStr;

use cedar_policy::{Context, Entity, EntityUid, Request, RestrictedExpression, Schema};
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
    Context::from_pairs(plain_entries(entries, false)?).ok()
}

/// Plain values by key; `uids`: [`plain_value`]'s.
fn plain_entries(
    entries: &serde_json::Map<String, Value>,
    uids: bool,
) -> Option<Vec<(String, RestrictedExpression)>> {
    entries
        .iter()
        .map(|(key, value)| {
            if key.starts_with("__") {
                return None;
            }
            Some((key.clone(), plain_value(value, uids)?))
        })
        .collect()
}

/// A plain value as the values it holds; `uids`: every `{"type": T, "id":
/// I}` in it (as [`typed_uid`] reads one) an entity uid rather than a
/// record, as Cedar's reader reads one where the schema expects an entity.
fn plain_value(value: &Value, uids: bool) -> Option<RestrictedExpression> {
    Some(match value {
        Value::Bool(b) => RestrictedExpression::new_bool(*b),
        Value::Number(n) => RestrictedExpression::new_long(n.as_i64()?),
        Value::String(s) => RestrictedExpression::new_string(s.clone()),
        Value::Array(items) => RestrictedExpression::new_set(
            items
                .iter()
                .map(|item| plain_value(item, uids))
                .collect::<Option<Vec<_>>>()?,
        ),
        Value::Object(entries) => {
            if uids && let Some(uid) = typed_uid(entries) {
                return Some(RestrictedExpression::new_entity_uid(uid));
            }
            match escape(entries) {
                Some(escaped) => escaped?,
                None => RestrictedExpression::new_record(plain_entries(entries, uids)?).ok()?,
            }
        }
        Value::Null => return None,
    })
}

/// Whether a JSON value holds an object `{"type": T, "id": I}` that
/// [`typed_uid`] reads.
fn holds_typed_uid(value: &Value) -> bool {
    match value {
        Value::Array(items) => items.iter().any(holds_typed_uid),
        Value::Object(entries) => {
            typed_uid(entries).is_some() || entries.values().any(holds_typed_uid)
        }
        _ => false,
    }
}

/// An entity's JSON as Cedar reads it with `schema`
/// (`Entity::from_json_value`), or Cedar's error.
///
/// Plain entities ([`plain_entity`]) are built without Cedar's JSON
/// parser; everything else, and every plain entity Cedar cannot make or
/// the schema rejects, goes through the parser, so the entity read and
/// every error are Cedar's own.
pub fn read_entity(value: &Value, schema: Option<&Schema>) -> std::result::Result<Entity, String> {
    if let Some(entity) = plain_entity(value, schema) {
        return Ok(entity);
    }
    Entity::from_json_value(value.clone(), schema).map_err(|e| error_chain(&e))
}

/// The entity Cedar's JSON reader reads from `value` with `schema`, built
/// without it, or `None` where this cannot be sure of that.
///
/// Plain: an object of `uid`, `attrs`, `parents` and optionally `tags`
/// and nothing else; the uid and each parent `{"type": T, "id": I}` (or that
/// in an `__entity` escape) with `T` in normal form and not an action type
/// (Cedar reads an action's attributes without the schema and checks its
/// parents); attributes and tags plain as in [`plain_context`]. It is
/// built as the values it holds (`Entity::new_with_tags` evaluates them as
/// Cedar's reader does) and checked against the schema with the check
/// Cedar's reader makes after reading (the entity conformance check,
/// here through `Entities::upsert_entities`). Where the schema expects an
/// entity or extension value, Cedar's reader reads strings and records as
/// those; a plain value read as something else fails that check. Then the
/// entity is built once more with every `{"type": T, "id": I}` in its
/// attributes and tags an entity uid (the form entities files usually
/// write references in): if that conforms, every one of them stood where
/// the schema expects an entity (a uid anywhere else fails the check), and
/// there Cedar's reader reads it as that uid. Otherwise Cedar's reader
/// reads the entity. Public for the tests that compare it with Cedar's
/// reader.
pub fn plain_entity(value: &Value, schema: Option<&Schema>) -> Option<Entity> {
    let object = value.as_object()?;
    if object
        .keys()
        .any(|key| !matches!(key.as_str(), "uid" | "attrs" | "parents" | "tags"))
    {
        return None;
    }
    let uid = plain_uid(object.get("uid")?)?;
    if uid.type_name().basename() == "Action" {
        return None;
    }
    let attrs = object.get("attrs")?.as_object()?;
    let parents = object
        .get("parents")?
        .as_array()?
        .iter()
        .map(plain_uid)
        .collect::<Option<Vec<_>>>()?;
    let tags = match object.get("tags") {
        Some(tags) => Some(tags.as_object()?),
        None => None,
    };
    let build = |uids: bool| {
        let attrs = plain_entries(attrs, uids)?;
        let tags = match tags {
            Some(tags) => plain_entries(tags, uids)?,
            None => Vec::new(),
        };
        Entity::new_with_tags(uid.clone(), attrs, parents.iter().cloned(), tags).ok()
    };
    let conforms = |entity: &Entity, schema: &Schema| {
        cedar_policy::Entities::empty()
            .upsert_entities([entity.clone()], Some(schema))
            .is_ok()
    };
    let Some(schema) = schema else {
        return build(false);
    };
    let referring =
        |entries: &serde_json::Map<String, Value>| entries.values().any(holds_typed_uid);
    if !referring(attrs) && !tags.is_some_and(referring) {
        return build(false).filter(|entity| conforms(entity, schema));
    }
    // At most one of the two conforms (a uid and a record are never both
    // of the type expected in one place); references are the usual case.
    [true, false]
        .into_iter()
        .find_map(|uids| build(uids).filter(|entity| conforms(entity, schema)))
}

/// A uid as an entity's `uid` or `parents` holds it: `{"type": T, "id":
/// I}`, or that in an `__entity` escape, `T` a type name in normal form.
fn plain_uid(value: &Value) -> Option<EntityUid> {
    let object = value.as_object()?;
    let inner = match object.get("__entity") {
        Some(inner) if object.len() == 1 => inner.as_object()?,
        Some(_) => return None,
        None => object,
    };
    typed_uid(inner)
}

/// `{"type": T, "id": I}` and nothing else, `T` a type name in normal form
/// (as Cedar reads it, with `Name::from_normalized_str`).
fn typed_uid(object: &serde_json::Map<String, Value>) -> Option<EntityUid> {
    if object.len() != 2 {
        return None;
    }
    let ty = object.get("type")?.as_str()?;
    let id = object.get("id")?.as_str()?;
    Some(EntityUid::from_type_name_and_id(
        type_name(ty)?,
        cedar_policy::EntityId::new(id),
    ))
}

/// Most values one of [`remembered`]'s tables keeps.
const MAX_REMEMBERED: usize = 4_096;

/// A thread's table of values made from texts ([`remembered`]).
type Remembered<V> = std::cell::RefCell<std::collections::HashMap<String, V>>;

/// The value `table` keeps for `key`, made by `make` the first time (the
/// table starts afresh when full): for what Cedar makes slowly from a
/// short text and a search asks for again and again.
fn remembered<V: Clone>(table: &Remembered<V>, key: &str, make: impl FnOnce() -> V) -> V {
    if let Some(value) = table.borrow().get(key) {
        return value.clone();
    }
    let value = make();
    let mut table = table.borrow_mut();
    if table.len() >= MAX_REMEMBERED {
        table.clear();
    }
    table.insert(key.to_owned(), value.clone());
    value
}

/// An entity type name in normal form (`Ns::Type`: no spaces, no
/// comments), as Cedar's JSON forms read one (`Name::from_normalized_str`),
/// or `None`. Cedar parses a name with its whole grammar and lexer (about
/// half a microsecond, most of reading a small entity), and the same few
/// names come again and again, so each thread keeps what it read.
pub(crate) fn type_name(text: &str) -> Option<cedar_policy::EntityTypeName> {
    thread_local! {
        static READ: Remembered<Option<cedar_policy::EntityTypeName>> = Remembered::default();
    }
    READ.with(|read| {
        remembered(read, text, || {
            // `from_str` insists on the normal form too, in Cedar 4.14.
            cedar_policy::EntityTypeName::from_str(text)
                .ok()
                .filter(|name| name.to_string() == text)
        })
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
    match key.as_str() {
        "__entity" => Some(
            inner
                .as_object()
                .and_then(typed_uid)
                .map(RestrictedExpression::new_entity_uid),
        ),
        "__extn" => Some(inner.as_object().and_then(|inner| {
            if inner.len() != 2 {
                return None;
            }
            extension_call(inner.get("fn")?.as_str()?, inner.get("arg")?.as_str()?)
        })),
        _ => None,
    }
}

/// The call of extension constructor `function` (`ip`, `decimal`,
/// `datetime` or `duration`) on the string `arg`, or `None` for any other
/// function. Cedar's constructors of these calls parse the function's name
/// with its whole grammar each time (about a microsecond), so each thread
/// keeps the calls it made, a table per function.
fn extension_call(function: &str, arg: &str) -> Option<RestrictedExpression> {
    thread_local! {
        static MADE: [Remembered<RestrictedExpression>; 4] = Default::default();
    }
    let (index, make): (usize, fn(&str) -> RestrictedExpression) = match function {
        "ip" => (0, |arg| RestrictedExpression::new_ip(arg)),
        "decimal" => (1, |arg| RestrictedExpression::new_decimal(arg)),
        "datetime" => (2, |arg| RestrictedExpression::new_datetime(arg)),
        "duration" => (3, |arg| RestrictedExpression::new_duration(arg)),
        _ => return None,
    };
    Some(MADE.with(|made| remembered(&made[index], arg, || make(arg))))
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
