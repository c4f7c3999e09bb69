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

use super::{ProveError, Verdict, env_label, to_static_policy_set};

/// Version tag mixed into [`cache_key`]; bump when verdict semantics change.
pub const CACHE_KEY_VERSION: &str = "privsim-prove-v1;cedar-policy=4.14.0;cedar-policy-symcc=0.8.0";

/// Canonical, whitespace- and comment-insensitive text of a policy set for
/// cache keys: links converted to static policies, sorted by id, each as its
/// Cedar JSON (EST).
pub fn canonical_policy_text(ps: &PolicySet) -> Result<String, ProveError> {
    let stat = to_static_policy_set(ps)?;
    let mut by_id: BTreeMap<String, String> = BTreeMap::new();
    for p in stat.policies() {
        let json = p
            .to_json()
            .map_err(|e| ProveError::Policy(format!("policy `{}`: {e}", p.id())))?;
        by_id.insert(p.id().to_string(), json.to_string());
    }
    let mut s = String::new();
    for (id, json) in by_id {
        s.push_str(&id);
        s.push('\n');
        s.push_str(&json);
        s.push('\n');
    }
    Ok(s)
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
        h.update(&(s.len() as u64).to_be_bytes());
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
    h.hex()
}

/// Minimal SHA-256 (FIPS 180-4), so the key is stable across Rust versions
/// and platforms without another dependency.
struct Sha256 {
    state: [u32; 8],
    buf: [u8; 64],
    buf_len: usize,
    len: u64,
}

const SHA256_K: [u32; 64] = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
];

impl Sha256 {
    fn new() -> Self {
        Self {
            state: [
                0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab,
                0x5be0cd19,
            ],
            buf: [0; 64],
            buf_len: 0,
            len: 0,
        }
    }

    fn update(&mut self, data: &[u8]) {
        self.len = self.len.wrapping_add(data.len() as u64);
        for &b in data {
            self.push(b);
        }
    }

    fn push(&mut self, b: u8) {
        if let Some(slot) = self.buf.get_mut(self.buf_len) {
            *slot = b;
        }
        self.buf_len += 1;
        if self.buf_len == 64 {
            let block = self.buf;
            self.compress(&block);
            self.buf_len = 0;
        }
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut w = [0u32; 64];
        for (i, c) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([c[0], c[1], c[2], c[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut h] = self.state;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = h
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(SHA256_K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            h = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d, e, f, g, h]) {
            *s = s.wrapping_add(v);
        }
    }

    fn hex(mut self) -> String {
        let bit_len = self.len.wrapping_mul(8);
        self.push(0x80);
        while self.buf_len != 56 {
            self.push(0);
        }
        for b in bit_len.to_be_bytes() {
            self.push(b);
        }
        self.state.iter().map(|w| format!("{w:08x}")).collect()
    }
}

/// Hex SHA-256 of `data` (exposed for tests).
pub fn sha256_hex(data: &[u8]) -> String {
    let mut h = Sha256::new();
    h.update(data);
    h.hex()
}

/// The format tag of a cache entry; an entry with another tag is ignored.
const ENTRY_FORMAT: &str = "privsim-proof-cache-v1";

/// The largest cache entry read (a counterexample's entity store is small;
/// anything bigger is not ours).
const MAX_ENTRY_BYTES: u64 = 4 * 1024 * 1024;

/// Verdicts already proven, one JSON file per [`cache_key`] in a folder.
///
/// Only definite verdicts are stored: proven, and refuted with the
/// counterexample Cedar confirmed. Unknown ones (time limit, solver error)
/// never are. On load, an entry must be a regular file of the current format
/// naming its own key and environment; a refuted entry's counterexample is
/// validated against the schema and replayed through Cedar again, exactly as
/// a fresh one. Anything else (unreadable, corrupt, a link, a stale or
/// unconfirmed counterexample) is ignored and the question goes to the
/// solver, whose answer replaces the entry. A proven entry cannot be checked
/// without the solver: whoever can write the folder can forge one, so the
/// folder must be as trusted as the policies under review.
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
            let entry: Entry = serde_json::from_str(&text).ok()?;
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
                let Ok(entities) = counterexample.entities.to_json_value() else {
                    return;
                };
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
        let written = serde_json::to_vec_pretty(&entry)
            .map_err(|e| e.to_string())
            .and_then(|bytes| self.write(key, &bytes));
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
