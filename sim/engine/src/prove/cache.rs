//! Content keys for proof verdicts: a canonical text of a policy set and a
//! SHA-256 over the question, the policies, the schema and the environment, so
//! an unchanged environment can reuse its verdict.

use std::collections::BTreeMap;

use cedar_policy::{PolicySet, RequestEnv};

use super::{ProveError, env_label, to_static_policy_set};

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
