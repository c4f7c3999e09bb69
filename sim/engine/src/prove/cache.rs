//! Content keys for proof verdicts: a canonical text of a policy set and a
//! SHA-256 over the question, the policies, the schema and the environment, so
//! an unchanged environment can reuse its verdict.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Mutex;

use cedar_policy::{Context, Entities, EntityUid, PolicySet, Request, RequestEnv, Schema};
use cedar_policy_symcc::Env as SymCex;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::{ProveError, Verdict, env_label, to_static_policy_set};

/// Version tag mixed into [`cache_key`]; bump when verdict semantics change.
pub const CACHE_KEY_VERSION: &str = "privsim-prove-v1;cedar-policy=4.14.0;cedar-policy-symcc=0.8.0";

/// Canonical, whitespace- and comment-insensitive text of a policy set for
/// cache keys: links converted to static policies, sorted by id, each as its
/// Cedar JSON (EST).
pub fn canonical_policy_text(ps: &PolicySet) -> Result<String, ProveError> {
    Ok(canonical_entries(ps)?.into_values().collect())
}

/// Each policy's part of [`canonical_policy_text`] (its id and its Cedar
/// JSON, one line each), by id: the text of a subset is its parts in id
/// order.
pub(super) fn canonical_entries(ps: &PolicySet) -> Result<BTreeMap<String, String>, ProveError> {
    let stat = to_static_policy_set(ps)?;
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for p in stat.policies() {
        let json = p
            .to_json()
            .map_err(|e| ProveError::Policy(format!("policy `{}`: {e}", p.id())))?;
        let id = p.id().to_string();
        let text = format!("{id}\n{json}\n");
        by_id.insert(id, text);
    }
    Ok(by_id)
}

/// Stable content hash (hex SHA-256) identifying one query's answer:
/// `query` names the question (e.g. `"no_new_access"`), `policy_texts` are
/// the policy sets in argument order (use [`canonical_policy_text`]),
/// `schema_text` the schema source, `env` the env (or `None` for a whole
/// call). Proven/Refuted answers do not depend on the time limit, so it is not
/// part of the key; do not cache `Unknown` answers.
pub fn cache_key(
    query: &str,
    policy_texts: &[&str],
    schema_text: &str,
    env: Option<&RequestEnv>,
) -> String {
    let mut h = Sha256::new();
    let mut part = |s: &str| {
        h.update((s.len() as u64).to_be_bytes());
        h.update(s.as_bytes());
    };
    part(CACHE_KEY_VERSION);
    part(query);
    part(&policy_texts.len().to_string());
    for t in policy_texts {
        part(t);
    }
    part(schema_text);
    match env {
        Some(e) => part(&env_label(e)),
        None => part("<all envs>"),
    }
    hex(&h.finalize())
}

/// Hex SHA-256 of `data` (exposed for tests).
pub fn sha256_hex(data: &[u8]) -> String {
    hex(&Sha256::digest(data))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The format tag of a cache entry; an entry with another tag is ignored.
/// v2 added the entry's `digest`.
const ENTRY_FORMAT: &str = "privsim-proof-cache-v2";

/// The largest cache entry read (a counterexample's entity store is small;
/// anything bigger is not ours).
const MAX_ENTRY_BYTES: u64 = 4 * 1024 * 1024;

/// Verdicts already proven, one JSON file per [`cache_key`] in a folder.
///
/// Only definite verdicts are stored: proven, and refuted with the
/// counterexample Cedar confirmed. Unknown ones (time limit, solver error,
/// an unconfirmed counterexample) never are: a time limit depends on how
/// loaded the machine was, and a stored unknown would hide the definite
/// answer a later run may find. On load, an entry must be a regular file of
/// the current format naming its own key and environment, whose `digest`
/// (SHA-256 of everything else in it) matches, so a damaged or hand-edited
/// entry (a verdict flipped, a truncated file) is not taken; a refuted
/// entry's counterexample is validated against the schema and replayed
/// through Cedar again, exactly as a fresh one. Anything else (unreadable,
/// corrupt, a link, a stale or unconfirmed counterexample) is ignored
/// (counted in [`CacheStats::rejected`], for a warning) and the question
/// goes to the solver, whose answer replaces the entry.
///
/// What the cache trusts: a proven entry cannot be checked without the
/// solver, and the digest is no signature. Whoever can write the folder can
/// forge a proven entry with a matching digest, so the folder must be as
/// trusted as the policies under review: a local cache, like a build
/// cache, never one taken from the change under review.
#[derive(Debug)]
pub struct ProofCache {
    folder: PathBuf,
    stats: Mutex<CacheStats>,
}

/// What a [`ProofCache`] did during one run.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CacheStats {
    /// Verdicts taken from the cache (no solver call).
    pub hits: usize,
    /// Verdicts not in the cache.
    pub misses: usize,
    /// Entries present but ignored (corrupt, foreign, or a counterexample
    /// Cedar no longer confirms).
    pub rejected: usize,
    /// Verdicts written.
    pub written: usize,
    /// The first entry ignored, for the warning.
    pub first_rejected: Option<PathBuf>,
    /// The first error writing an entry (the run goes on without it).
    pub write_error: Option<String>,
}

/// A cached verdict as stored.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Entry {
    format: String,
    key: String,
    env: String,
    verdict: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    request: Option<StoredRequest>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    entities: Option<serde_json::Value>,
}

/// An entry's text: its JSON with a last field, `digest`, the hex SHA-256
/// of the compact JSON of everything before it.
fn seal(entry: &Entry) -> Result<Vec<u8>, String> {
    let mut value = serde_json::to_value(entry).map_err(|e| e.to_string())?;
    let digest = sha256_hex(
        serde_json::to_string(&value)
            .map_err(|e| e.to_string())?
            .as_bytes(),
    );
    if let Some(fields) = value.as_object_mut() {
        fields.insert("digest".to_string(), serde_json::Value::String(digest));
    }
    serde_json::to_vec_pretty(&value).map_err(|e| e.to_string())
}

/// The entry in `text` when its `digest` matches the rest ([`seal`]).
fn unseal(text: &str) -> Option<Entry> {
    let mut value: serde_json::Value = serde_json::from_str(text).ok()?;
    let fields = value.as_object_mut()?;
    let digest = fields.shift_remove("digest")?;
    let expected = sha256_hex(serde_json::to_string(&value).ok()?.as_bytes());
    if digest.as_str()? != expected {
        return None;
    }
    serde_json::from_value(value).ok()
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoredRequest {
    principal: String,
    action: String,
    resource: String,
    context: serde_json::Value,
}

impl ProofCache {
    /// A cache in `folder` (created when the first verdict is written).
    pub fn new(folder: impl Into<PathBuf>) -> Self {
        Self {
            folder: folder.into(),
            stats: Mutex::new(CacheStats::default()),
        }
    }

    /// The folder.
    pub fn folder(&self) -> &Path {
        &self.folder
    }

    /// What the cache did so far.
    pub fn stats(&self) -> CacheStats {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, CacheStats> {
        self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn path(&self, key: &str) -> PathBuf {
        self.folder.join(format!("{key}.json"))
    }

    /// The stored verdict for `key`, re-confirmed: `confirm` turns a stored
    /// counterexample into a verdict exactly as a fresh one is (it must come
    /// back refuted); `None` when there is no usable entry.
    pub(super) fn load(
        &self,
        key: &str,
        env: &RequestEnv,
        schema: &Schema,
        confirm: impl FnOnce(SymCex) -> Verdict,
    ) -> Option<Verdict> {
        let path = self.path(key);
        let Ok(metadata) = std::fs::symlink_metadata(&path) else {
            self.lock().misses += 1;
            return None;
        };
        let verdict = (|| {
            // A link, a pipe or a folder is not an entry we wrote; opening
            // a pipe would block.
            if !metadata.is_file() || metadata.len() > MAX_ENTRY_BYTES {
                return None;
            }
            let text = std::fs::read_to_string(&path).ok()?;
            let entry = unseal(&text)?;
            if entry.format != ENTRY_FORMAT || entry.key != key || entry.env != env_label(env) {
                return None;
            }
            match (entry.verdict.as_str(), entry.request, entry.entities) {
                ("proven", None, None) => Some(Verdict::Proven),
                ("refuted", Some(request), Some(entities)) => {
                    let cex = counterexample(&request, entities, schema)?;
                    let verdict = confirm(cex);
                    verdict.is_refuted().then_some(verdict)
                }
                _ => None,
            }
        })();
        let mut stats = self.lock();
        match verdict {
            Some(_) => stats.hits += 1,
            None => {
                stats.rejected += 1;
                stats.misses += 1;
                stats.first_rejected.get_or_insert(path);
            }
        }
        verdict
    }

    /// Stores a definite verdict (proven, or refuted with its confirmed
    /// counterexample); others are not stored. A failure is counted, never
    /// fatal.
    pub(super) fn store(&self, key: &str, env: &RequestEnv, verdict: &Verdict) {
        let (name, request, entities) = match verdict {
            Verdict::Proven => ("proven", None, None),
            Verdict::Refuted { counterexample } => {
                let request = &counterexample.request;
                let (Some(principal), Some(action), Some(resource)) =
                    (request.principal(), request.action(), request.resource())
                else {
                    return;
                };
                let context = request
                    .context()
                    .and_then(|c| c.to_json_value().ok())
                    .unwrap_or(serde_json::Value::Object(serde_json::Map::new()));
                // Sorted by uid, with sorted parents: Cedar's store and an
                // entity's parents iterate in hash order, and an entry's
                // bytes are the same whatever run wrote it.
                let entities = super::view::entities_json(&counterexample.entities);
                (
                    "refuted",
                    Some(StoredRequest {
                        principal: principal.to_string(),
                        action: action.to_string(),
                        resource: resource.to_string(),
                        context,
                    }),
                    Some(entities),
                )
            }
            Verdict::Unknown { .. } | Verdict::NotApplicable { .. } => return,
        };
        let entry = Entry {
            format: ENTRY_FORMAT.to_string(),
            key: key.to_string(),
            env: env_label(env),
            verdict: name.to_string(),
            request,
            entities,
        };
        let written = seal(&entry).and_then(|bytes| self.write(key, &bytes));
        let mut stats = self.lock();
        match written {
            Ok(()) => stats.written += 1,
            Err(error) => {
                stats.write_error.get_or_insert(error);
            }
        }
    }

    fn write(&self, key: &str, bytes: &[u8]) -> Result<(), String> {
        let path = self.path(key);
        let shown = |e: std::io::Error| format!("`{}`: {e}", path.display());
        std::fs::create_dir_all(&self.folder)
            .map_err(|e| format!("`{}`: {e}", self.folder.display()))?;
        // Only a regular file (or nothing) is replaced: `write_file` would
        // write into a pipe or device directly.
        if let Ok(metadata) = std::fs::symlink_metadata(&path)
            && !metadata.is_file()
        {
            return Err(format!(
                "`{}` is not a regular file; the verdict was not cached",
                path.display()
            ));
        }
        crate::output::write_file(&path, bytes).map_err(shown)
    }
}

/// A stored counterexample as Cedar values, validated against the schema
/// (the store itself is kept as stored, so its rendering is the original's).
fn counterexample(
    request: &StoredRequest,
    entities: serde_json::Value,
    schema: &Schema,
) -> Option<SymCex> {
    let uid = |text: &str| EntityUid::from_str(text).ok();
    let principal = uid(&request.principal)?;
    let action = uid(&request.action)?;
    let resource = uid(&request.resource)?;
    let context =
        Context::from_json_value(request.context.clone(), Some((schema, &action))).ok()?;
    let request = Request::new(principal, action, resource, context, Some(schema)).ok()?;
    Entities::from_json_value(entities.clone(), Some(schema)).ok()?;
    let entities = Entities::from_json_value(entities, None).ok()?;
    Some(SymCex { request, entities })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::prove::Counterexample;

    /// Regression: a refuted entry stored Cedar's entities JSON as the store
    /// iterates, so its entities and each entity's parents came in hash
    /// order and the entry's bytes changed from one run to the next.
    #[test]
    fn refuted_entry_lists_entities_and_parents_sorted() {
        let schema = Schema::from_cedarschema_str(
            "entity G; entity U in [G]; action a appliesTo { principal: [U], resource: [U] };",
        )
        .unwrap()
        .0;
        let env = schema.request_envs().next().unwrap();
        let uid = |s: &str| EntityUid::from_str(s).unwrap();
        let request = Request::new(
            uid(r#"U::"x""#),
            uid(r#"Action::"a""#),
            uid(r#"U::"x""#),
            Context::empty(),
            Some(&schema),
        )
        .unwrap();
        let list = crate::prove::user_in_sixteen_groups();
        let verdict = Verdict::Refuted {
            counterexample: Box::new(Counterexample {
                request,
                entities: Entities::from_json_value(serde_json::Value::Array(list), None).unwrap(),
                rendered: String::new(),
            }),
        };
        let folder =
            std::env::temp_dir().join(format!("privsim-cache-sorted-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&folder);
        let cache = ProofCache::new(&folder);
        cache.store("k", &env, &verdict);
        let text = std::fs::read_to_string(folder.join("k.json"));
        let _ = std::fs::remove_dir_all(&folder);
        let entry: serde_json::Value = serde_json::from_str(&text.unwrap()).unwrap();
        let ids = |list: &serde_json::Value, pointer: &str| -> Vec<String> {
            list.as_array()
                .unwrap()
                .iter()
                .map(|e| e.pointer(pointer).unwrap().as_str().unwrap().to_string())
                .collect()
        };
        let mut expected: Vec<String> = (0..16).map(|i| format!("g{i:02}")).collect();
        expected.push("x".into());
        assert_eq!(ids(&entry["entities"], "/uid/id"), expected);
        assert_eq!(
            ids(&entry["entities"][16]["parents"], "/id"),
            expected[..16]
        );
    }
}
