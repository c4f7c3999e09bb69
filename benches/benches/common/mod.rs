//! What the benchmarks that generate their world share: a seeded number
//! generator, so a generated world is the same on every run, and writing the
//! world's files into a fresh folder.

use std::path::Path;

/// A small deterministic generator (SplitMix64).
pub struct Numbers(pub u64);

impl Numbers {
    /// The next number below `below`.
    pub fn next(&mut self, below: usize) -> usize {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z % below as u64) as usize
    }
}

/// Empties `folder`, creating it if need be.
pub fn fresh_folder(folder: &Path) {
    let _ = std::fs::remove_dir_all(folder);
    std::fs::create_dir_all(folder)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", folder.display()));
}

/// Writes `text` into the file `name` of `folder`.
pub fn write(folder: &Path, name: &str, text: &str) {
    std::fs::write(folder.join(name), text).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
}

/// Writes the files a generated scenario names: the entities (one JSON object
/// each) as `entities.json`, the schema as `schema.cedarschema` and the
/// policies as `policies.cedar`.
pub fn write_world(folder: &Path, entities: &[String], schema: &str, policies: &str) {
    write(
        folder,
        "entities.json",
        &format!("[\n{}\n]\n", entities.join(",\n")),
    );
    write(folder, "schema.cedarschema", schema);
    write(folder, "policies.cedar", policies);
}

/// The people of a generated organization, as entity JSON: the `release`
/// team, one `Role` entity per name in `roles`, and `users` users `u0`,
/// `u1`, ... with a clearance of 1 to 4 drawn from `numbers` (the first two
/// in the release team).
#[allow(
    dead_code,
    reason = "each benchmark is its own crate; the replay benchmark generates no organization"
)]
pub fn org_people(roles: &[&str], users: usize, numbers: &mut Numbers) -> Vec<String> {
    let mut entities =
        vec![r#"{"uid":{"type":"Team","id":"release"},"attrs":{},"parents":[]}"#.to_string()];
    for role in roles {
        entities.push(format!(
            r#"{{"uid":{{"type":"Role","id":"{role}"}},"attrs":{{}},"parents":[]}}"#
        ));
    }
    for user in 0..users {
        let teams = if user < 2 {
            r#"[{"type":"Team","id":"release"}]"#
        } else {
            "[]"
        };
        entities.push(format!(
            r#"{{"uid":{{"type":"User","id":"u{user}"}},"attrs":{{"clearance":{}}},"parents":{teams}}}"#,
            1 + numbers.next(4)
        ));
    }
    entities
}
