//! Reading the JSON of Cedar test suites with located errors: a JSON file kept
//! with its text so any value can be pointed at by its path, entity references
//! in every form Cedar accepts, and Cedar JSON values turned into TOML values.

use std::path::Path;
use std::str::FromStr;

use cedar_policy::EntityUid;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::load::cedar_files::json_error;
use privsim_model::diag::{Error, Result, SourceError, SourceFile};

/// One step of a path into a JSON document.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key<'a> {
    /// An object member.
    Field(&'a str),
    /// An array element.
    Index(usize),
}

/// A JSON file read into memory and parsed.
#[derive(Debug)]
pub struct JsonFile {
    /// The text, for locating errors.
    pub file: SourceFile,
    /// The parsed document.
    pub value: Value,
}

impl JsonFile {
    /// Reads and parses a JSON file; a syntax error points at its line and column.
    pub fn read(path: &Path) -> Result<Self> {
        let file = SourceFile::read(path, path.display().to_string())?;
        let value = serde_json::from_str(&file.text).map_err(|e| json_error(&file, &e))?;
        Ok(Self { file, value })
    }

    /// Deserializes the whole document into `T`; a shape error (missing or
    /// unknown field, wrong type) points at its line and column.
    pub fn parse<T: DeserializeOwned>(&self) -> Result<T> {
        Ok(serde_json::from_str(&self.file.text).map_err(|e| json_error(&self.file, &e))?)
    }

    /// An error pointing at the value found at `path` (or at the file start
    /// when the path cannot be followed). An object or array is pointed at by
    /// its opening bracket, a scalar as a whole.
    pub fn error_at(&self, path: &[Key<'_>], message: impl Into<String>) -> SourceError {
        let span = locate(&self.file.text, path).map_or(0..0, |range| {
            match self.file.text.as_bytes().get(range.start) {
                Some(b'{' | b'[') => range.start..range.start + 1,
                _ => range,
            }
        });
        self.file.error(span, message)
    }
}

/// Parses an entity reference written as a Cedar string (`User::"alice"`), as
/// `{"type": "User", "id": "alice"}` or as `{"__entity": {...}}`.
pub fn uid(value: &Value) -> std::result::Result<EntityUid, String> {
    let uid = match value {
        Value::String(text) => EntityUid::from_str(text).map_err(|e| {
            format!(
                "`{text}` is not a Cedar entity reference ({})",
                e.to_string().lines().next().unwrap_or("")
            )
        })?,
        Value::Object(_) => EntityUid::from_json(value.clone()).map_err(|e| {
            format!(
                "`{value}` is not an entity reference ({})",
                e.to_string().lines().next().unwrap_or("")
            )
        })?,
        other => {
            return Err(format!(
                "`{other}` is not an entity reference; write `\"User::\\\"alice\\\"\"` or `{{\"type\": \"User\", \"id\": \"alice\"}}`"
            ));
        }
    };
    // The scenario writes the reference back in Cedar syntax; make sure it reads
    // back as the same entity.
    match EntityUid::from_str(&uid.to_string()) {
        Ok(same) if same == uid => Ok(uid),
        _ => Err(format!(
            "the entity reference `{uid}` cannot be written in Cedar syntax"
        )),
    }
}

/// Converts a Cedar JSON value to the TOML value a scenario writes for it. An
/// error carries the path (member names and array indices) to the offending
/// value inside `value`.
pub fn to_toml(value: &Value) -> std::result::Result<toml::Value, (Vec<String>, String)> {
    match value {
        Value::Null => Err((
            Vec::new(),
            "`null` is not a Cedar value".to_string(),
        )),
        Value::Bool(b) => Ok(toml::Value::Boolean(*b)),
        Value::String(s) => Ok(toml::Value::String(s.clone())),
        Value::Number(n) => n.as_i64().map(toml::Value::Integer).ok_or_else(|| {
            (
                Vec::new(),
                format!("`{n}` is not a Cedar integer (Cedar has 64-bit integers and no floating-point numbers)"),
            )
        }),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(index, item)| {
                to_toml(item).map_err(|(mut path, message)| {
                    path.insert(0, index.to_string());
                    (path, message)
                })
            })
            .collect::<std::result::Result<Vec<_>, _>>()
            .map(toml::Value::Array),
        Value::Object(map) => to_table(map).map(toml::Value::Table),
    }
}

/// Converts a JSON object of Cedar values to a TOML table.
pub fn to_table(
    map: &serde_json::Map<String, Value>,
) -> std::result::Result<toml::Table, (Vec<String>, String)> {
    let mut table = toml::Table::new();
    for (key, item) in map {
        let converted = to_toml(item).map_err(|(mut path, message)| {
            path.insert(0, key.clone());
            (path, message)
        })?;
        table.insert(key.clone(), converted);
    }
    Ok(table)
}

/// Sorts the keys of `map` at every level when it holds Cedar JSON values
/// only, exactly when [`to_table`] converts it: the order the TOML table
/// `to_table` makes holds them in (and reads back as JSON in). So a
/// context kept as JSON this way is the one a TOML round trip gives,
/// without building the table. Otherwise the error `to_table` gives (the
/// path inside `map`, and the message).
pub fn sort_cedar_map(
    map: &mut serde_json::Map<String, Value>,
) -> std::result::Result<(), (Vec<String>, String)> {
    if sorted(map) {
        return Ok(());
    }
    Err(to_table(map).err().unwrap_or_else(|| {
        (
            Vec::new(),
            "privsim could not read it (this is a bug of privsim)".to_string(),
        )
    }))
}

/// [`sort_cedar_map`]'s check and sort: whether `map` holds Cedar values
/// only (then sorted).
fn sorted(map: &mut serde_json::Map<String, Value>) -> bool {
    fn cedar(value: &mut Value) -> bool {
        match value {
            Value::Null => false,
            Value::Bool(_) | Value::String(_) => true,
            Value::Number(n) => n.as_i64().is_some(),
            Value::Array(items) => items.iter_mut().all(cedar),
            Value::Object(map) => sorted(map),
        }
    }
    if !map.values_mut().all(cedar) {
        return false;
    }
    map.sort_keys();
    true
}

/// Converts the JSON object at `path` in `json` to a TOML table, locating errors.
pub fn table_at(
    json: &JsonFile,
    value: &Value,
    path: &[Key<'_>],
    what: &str,
) -> Result<toml::Table> {
    let Value::Object(map) = value else {
        return Err(json
            .error_at(path, format!("{what} must be a JSON object, not `{value}`"))
            .into());
    };
    to_table(map).map_err(|(inner, message)| {
        let mut full: Vec<Key<'_>> = path.to_vec();
        follow(&mut full, value, &inner);
        Error::from(json.error_at(&full, format!("{what}: {message}")))
    })
}

/// Extends `path` (which leads to `value`) by the steps [`to_table`]
/// reports for a value it cannot convert, telling array indices from
/// member names by the values they step into.
pub(crate) fn follow<'a>(path: &mut Vec<Key<'a>>, value: &'a Value, steps: &'a [String]) {
    let mut value = value;
    for step in steps {
        match value {
            Value::Array(items) => {
                let index = step.parse().unwrap_or(0);
                path.push(Key::Index(index));
                value = items.get(index).unwrap_or(&Value::Null);
            }
            Value::Object(map) => {
                path.push(Key::Field(step));
                value = map.get(step.as_str()).unwrap_or(&Value::Null);
            }
            _ => break,
        }
    }
}

/// Turns a problem found by [`uid`] into an error at `path`.
pub fn uid_at(json: &JsonFile, value: &Value, path: &[Key<'_>], what: &str) -> Result<EntityUid> {
    uid(value).map_err(|message| {
        json.error_at(path, format!("bad {what}: {message}"))
            .with_help("entity references are Cedar strings like \"User::\\\"alice\\\"\" or objects like {\"type\": \"User\", \"id\": \"alice\"}")
            .into()
    })
}

/// The byte range of the value at `path` in valid JSON `text`.
pub fn locate(text: &str, path: &[Key<'_>]) -> Option<std::ops::Range<usize>> {
    let bytes = text.as_bytes();
    let mut at = skip_space(bytes, 0);
    for key in path {
        at = match (*key, bytes.get(at)?) {
            (Key::Field(name), b'{') => find_member(text, at, name)?,
            (Key::Index(index), b'[') => find_element(bytes, at, index)?,
            _ => return None,
        };
    }
    Some(at..skip_value(bytes, at)?)
}

fn skip_space(bytes: &[u8], mut at: usize) -> usize {
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    at
}

/// Skips the string starting at `at` (a `"`), returning the offset after it.
fn skip_string(bytes: &[u8], at: usize) -> Option<usize> {
    let mut i = at + 1;
    loop {
        match bytes.get(i)? {
            b'\\' => i += 2,
            b'"' => return Some(i + 1),
            _ => i += 1,
        }
    }
}

/// Skips the value starting at `at`, returning the offset after it.
fn skip_value(bytes: &[u8], at: usize) -> Option<usize> {
    match bytes.get(at)? {
        b'"' => skip_string(bytes, at),
        b'{' | b'[' => {
            let mut depth = 0usize;
            let mut i = at;
            loop {
                match bytes.get(i)? {
                    b'"' => {
                        i = skip_string(bytes, i)?;
                        continue;
                    }
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        _ => {
            let mut i = at;
            while bytes
                .get(i)
                .is_some_and(|b| !matches!(b, b',' | b'}' | b']') && !b.is_ascii_whitespace())
            {
                i += 1;
            }
            Some(i)
        }
    }
}

/// In the object starting at `at`, the offset of the value of member `name`.
fn find_member(text: &str, at: usize, name: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = skip_space(bytes, at + 1);
    loop {
        if bytes.get(i)? != &b'"' {
            return None;
        }
        let end = skip_string(bytes, i)?;
        let key: String = serde_json::from_str(text.get(i..end)?).ok()?;
        i = skip_space(bytes, end);
        if bytes.get(i)? != &b':' {
            return None;
        }
        let value = skip_space(bytes, i + 1);
        if key == name {
            return Some(value);
        }
        i = skip_space(bytes, skip_value(bytes, value)?);
        match bytes.get(i)? {
            b',' => i = skip_space(bytes, i + 1),
            _ => return None,
        }
    }
}

/// In the array starting at `at`, the offset of element `index`.
fn find_element(bytes: &[u8], at: usize, index: usize) -> Option<usize> {
    let mut i = skip_space(bytes, at + 1);
    for _ in 0..index {
        i = skip_space(bytes, skip_value(bytes, i)?);
        match bytes.get(i)? {
            b',' => i = skip_space(bytes, i + 1),
            _ => return None,
        }
    }
    matches!(bytes.get(i), Some(b) if *b != b']').then_some(i)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_nested_values() {
        let text = r#"{ "a": [1, {"b\"": "x", "c": {"d": [true, null]}}], "e": 2 }"#;
        let at = |path: &[Key<'_>]| locate(text, path).map(|r| &text[r]);
        assert_eq!(at(&[Key::Field("e")]), Some("2"));
        assert_eq!(at(&[Key::Field("a"), Key::Index(0)]), Some("1"));
        assert_eq!(
            at(&[Key::Field("a"), Key::Index(1), Key::Field("b\"")]),
            Some("\"x\"")
        );
        assert_eq!(
            at(&[
                Key::Field("a"),
                Key::Index(1),
                Key::Field("c"),
                Key::Field("d"),
                Key::Index(1)
            ]),
            Some("null")
        );
        assert_eq!(at(&[Key::Field("a"), Key::Index(2)]), None);
        assert_eq!(at(&[Key::Field("z")]), None);
    }

    #[test]
    fn reads_every_uid_form() {
        let expected = r#"User::"alice""#;
        for value in [
            serde_json::json!("User::\"alice\""),
            serde_json::json!({"type": "User", "id": "alice"}),
            serde_json::json!({"__entity": {"type": "User", "id": "alice"}}),
        ] {
            assert_eq!(uid(&value).map(|u| u.to_string()).as_deref(), Ok(expected));
        }
        assert!(uid(&serde_json::json!("not a uid")).is_err());
        assert!(uid(&serde_json::json!(3)).is_err());
    }

    #[test]
    fn floats_and_nulls_are_not_cedar_values() {
        let value = serde_json::json!({"a": [1, {"b": 1.5}]});
        let Value::Object(map) = &value else { return };
        let (path, message) = to_table(map).err().unwrap_or_default();
        assert_eq!(path, ["a", "1", "b"]);
        assert!(message.contains("1.5"), "{message}");
    }
}
