//! Generated worlds: seeded random scenarios of agents, users, a folder tree of
//! documents and a mix of RBAC, ABAC, forbid, datetime, template-linked and
//! error-raising policies. The property tests compare fast held sets with
//! brute force on them, and the held-set benchmark measures one at scale.
//!
//! Same spec and seed, same files, byte for byte.

use std::fmt::Write as _;

use rand::rngs::Xoshiro256PlusPlus;
use rand::{RngExt, SeedableRng};
use serde_json::{Value, json};

/// How big a world to generate and how.
#[derive(Debug, Clone)]
pub struct Spec {
    /// Agents (`Agent::"a0"`...), each with a home folder, a project and an owner.
    pub agents: usize,
    /// Users (`User::"u0"`...).
    pub users: usize,
    /// Documents (`Doc::"d0"`...), spread over the folder tree.
    pub docs: usize,
    /// Children per folder.
    pub fanout: usize,
    /// Levels of folders below the root.
    pub depth: usize,
    /// Policies to write (cycling through the kinds, literals drawn at random).
    pub policies: usize,
    /// With a schema (policies validated strictly, entities and requests
    /// checked) or without one (attributes may be missing, so policies err).
    pub schema: bool,
    /// Sessions, grants and steps to add (agents on behalf of users, a JIT
    /// grant, a few steps), so the scenario also exercises accounting.
    pub workflow: bool,
}

impl Spec {
    /// A small world for property tests.
    pub fn small(schema: bool) -> Self {
        Self {
            agents: 6,
            users: 4,
            docs: 60,
            fanout: 2,
            depth: 3,
            policies: 40,
            schema,
            workflow: true,
        }
    }
}

/// The actions of every generated world.
pub const ACTIONS: [&str; 7] = [
    "read", "list", "write", "share", "delete", "export", "admin",
];

const LABELS: [&str; 4] = ["public", "internal", "secret", "pub-notes"];
const DEPTS: [&str; 3] = ["eng", "sec", "ops"];
const PROJECTS: usize = 8;
const ROLES: usize = 5;
const GROUPS: usize = 6;

const SCHEMA: &str = r#"entity Role;
entity Group in [Group];
entity Folder in [Folder] { level?: Long };
entity User in [Group, Role] { clearance: Long, dept: String };
entity Agent in [Group, Role] {
  clearance: Long, home: Folder, project: String, owner: User,
  allowed?: Set<Doc>, jit_until?: datetime
};
entity Doc in [Folder] {
  owner: Agent, sensitivity: Long, label: String, created: datetime,
  folder_ref: Folder, archived?: Bool
} tags String;
type Ctx = { now: datetime, mfa: Bool, target?: Doc, scope?: Folder, delegator?: User };
action readOnly;
action read, list in [readOnly] appliesTo { principal: [User, Agent], resource: [Doc, Folder], context: Ctx };
action write, share, delete, export appliesTo { principal: [User, Agent], resource: [Doc], context: Ctx };
action admin appliesTo { principal: [User], resource: [Doc, Folder], context: Ctx };
"#;

/// A generated scenario: file name → contents, `scenario.toml` first.
#[derive(Debug, Clone)]
pub struct World {
    /// The files, to be written into one folder.
    pub files: Vec<(String, String)>,
    /// Every folder's UID string, root first.
    pub folders: Vec<String>,
}

struct Gen {
    rng: Xoshiro256PlusPlus,
    spec: Spec,
    folders: Vec<String>,
    leaves: Vec<String>,
}

impl Gen {
    fn pick(&mut self, n: usize) -> usize {
        self.rng.random_range(0..n.max(1))
    }

    fn chance(&mut self, p: f64) -> bool {
        self.rng.random_bool(p)
    }

    fn folder(&mut self) -> String {
        let i = self.pick(self.folders.len());
        self.folders[i].clone()
    }

    fn agent(&mut self) -> String {
        format!("a{}", self.pick(self.spec.agents))
    }

    fn doc(&mut self) -> String {
        format!("d{}", self.pick(self.spec.docs))
    }
}

fn uid(type_name: &str, id: &str) -> Value {
    json!({ "type": type_name, "id": id })
}

fn entity_ref(type_name: &str, id: &str) -> Value {
    json!({ "__entity": uid(type_name, id) })
}

fn datetime(text: &str) -> Value {
    json!({ "__extn": { "fn": "datetime", "arg": text } })
}

/// A JSON array of entities, written as they come.
#[derive(Default)]
struct Entities {
    text: String,
}

impl Entities {
    fn push(&mut self, entity: Value) {
        self.text.push(if self.text.is_empty() { '[' } else { ',' });
        self.text.push_str(&entity.to_string());
    }

    fn finish(mut self) -> String {
        if self.text.is_empty() {
            self.text.push('[');
        }
        self.text.push(']');
        self.text
    }
}

/// Generates a world.
pub fn world(spec: &Spec, seed: u64) -> World {
    let mut g = Gen {
        rng: Xoshiro256PlusPlus::seed_from_u64(seed),
        spec: spec.clone(),
        folders: Vec::new(),
        leaves: Vec::new(),
    };
    // Written out entity by entity: a big world is never held twice over.
    let mut entities = Entities::default();
    for r in 0..ROLES {
        entities.push(json!({ "uid": uid("Role", &format!("r{r}")), "attrs": {}, "parents": [] }));
    }
    for k in 0..GROUPS {
        let parents: Vec<Value> = if k > 0 && g.chance(0.4) {
            vec![uid("Group", &format!("g{}", g.pick(k)))]
        } else {
            Vec::new()
        };
        entities.push(
            json!({ "uid": uid("Group", &format!("g{k}")), "attrs": {}, "parents": parents }),
        );
    }
    // The folder tree: f, f-0, f-0-1, ...
    let mut level = vec!["f".to_string()];
    g.folders.push("f".to_string());
    entities.push(json!({ "uid": uid("Folder", "f"), "attrs": {}, "parents": [] }));
    for depth in 1..=spec.depth {
        let mut next = Vec::new();
        for parent in &level {
            for child in 0..spec.fanout {
                let id = format!("{parent}-{child}");
                let mut attrs = serde_json::Map::new();
                if g.rng.random_bool(0.5) {
                    attrs.insert("level".into(), json!(depth));
                }
                entities.push(json!({ "uid": uid("Folder", &id), "attrs": attrs, "parents": [uid("Folder", parent)] }));
                next.push(id);
            }
        }
        g.folders.extend(next.iter().cloned());
        level = next;
    }
    g.leaves = level;
    for u in 0..spec.users {
        let mut parents = vec![uid("Group", &format!("g{}", g.pick(GROUPS)))];
        if g.chance(0.5) {
            parents.push(uid("Role", &format!("r{}", g.pick(ROLES))));
        }
        let mut attrs = serde_json::Map::new();
        attrs.insert("clearance".into(), json!(g.pick(4)));
        attrs.insert("dept".into(), json!(DEPTS[g.pick(DEPTS.len())]));
        if !spec.schema && g.chance(0.2) {
            attrs.remove("clearance");
        }
        entities.push(
            json!({ "uid": uid("User", &format!("u{u}")), "attrs": attrs, "parents": parents }),
        );
    }
    for a in 0..spec.agents {
        let mut parents = vec![uid("Group", &format!("g{}", g.pick(GROUPS)))];
        if g.chance(0.6) {
            parents.push(uid("Role", &format!("r{}", g.pick(ROLES))));
        }
        let home = g.folder();
        let mut attrs = serde_json::Map::new();
        attrs.insert("clearance".into(), json!(g.pick(4)));
        attrs.insert("home".into(), entity_ref("Folder", &home));
        attrs.insert("project".into(), json!(format!("p{}", g.pick(PROJECTS))));
        attrs.insert(
            "owner".into(),
            entity_ref("User", &format!("u{}", g.pick(spec.users))),
        );
        if g.chance(0.5) {
            let allowed: Vec<Value> = (0..g.pick(4))
                .map(|_| {
                    let doc = g.doc();
                    entity_ref("Doc", &doc)
                })
                .collect();
            attrs.insert("allowed".into(), Value::Array(allowed));
        }
        if !spec.schema && g.chance(0.2) {
            attrs.remove("home");
        }
        entities.push(
            json!({ "uid": uid("Agent", &format!("a{a}")), "attrs": attrs, "parents": parents }),
        );
    }
    for d in 0..spec.docs {
        let leaf_index = g.pick(g.leaves.len());
        let leaf = g.leaves[leaf_index].clone();
        let mut parents = vec![uid("Folder", &leaf)];
        if g.chance(0.1) {
            let other = g.folder();
            parents.push(uid("Folder", &other));
        }
        let mut attrs = serde_json::Map::new();
        let owner = g.agent();
        attrs.insert("owner".into(), entity_ref("Agent", &owner));
        attrs.insert("sensitivity".into(), json!(g.pick(4)));
        attrs.insert("label".into(), json!(LABELS[g.pick(LABELS.len())]));
        let month = 1 + g.pick(12);
        attrs.insert(
            "created".into(),
            datetime(&format!("2026-{month:02}-01T00:00:00Z")),
        );
        let folder_ref = if g.chance(0.8) {
            leaf.clone()
        } else {
            g.folder()
        };
        attrs.insert("folder_ref".into(), entity_ref("Folder", &folder_ref));
        if g.chance(0.15) {
            attrs.insert("archived".into(), json!(g.chance(0.5)));
        }
        if !spec.schema && g.chance(0.1) {
            attrs.remove("sensitivity");
        }
        let mut tags = serde_json::Map::new();
        if g.chance(0.5) {
            tags.insert("project".into(), json!(format!("p{}", g.pick(PROJECTS))));
        }
        entities.push(json!({ "uid": uid("Doc", &format!("d{d}")), "attrs": attrs, "parents": parents, "tags": tags }));
    }

    let (policies, links) = policies(&mut g);
    let mut toml = String::new();
    let _ = writeln!(toml, "[scenario]\nname = \"generated world {seed}\"");
    toml.push_str("policies = [\"policies.cedar\"]\nentities = \"entities.json\"\n");
    toml.push_str("start = \"2026-06-01T09:00:00Z\"\n");
    if spec.schema {
        toml.push_str("schema = \"schema.cedarschema\"\n");
    }
    let has_links = links.as_array().is_some_and(|l| !l.is_empty());
    if has_links {
        toml.push_str("links = \"links.json\"\n");
    }
    toml.push_str("\n[facts]\nnow = \"now\"\nroot = \"delegator\"\n");
    if spec.workflow {
        workflow(&mut g, &mut toml);
    }
    let mut files = vec![
        ("scenario.toml".to_string(), toml),
        ("entities.json".to_string(), entities.finish()),
        ("policies.cedar".to_string(), policies),
    ];
    if spec.schema {
        files.push(("schema.cedarschema".to_string(), SCHEMA.to_string()));
    }
    if has_links {
        files.push(("links.json".to_string(), links.to_string()));
    }
    World {
        files,
        folders: g
            .folders
            .iter()
            .map(|f| format!("Folder::\"{f}\""))
            .collect(),
    }
}

/// Sessions for some agents (a few on behalf of users, one delegated
/// further), a JIT grant left to the policy to expire, and steps.
fn workflow(g: &mut Gen, toml: &mut String) {
    let sessions = g.spec.agents.min(4);
    for s in 0..sessions {
        let _ = writeln!(
            toml,
            "\n[[session]]\nid = \"s{s}\"\nprincipal = 'Agent::\"a{s}\"'"
        );
        if s == sessions - 1 && s > 0 {
            let _ = writeln!(toml, "parent = \"s0\"");
        } else if g.spec.users > 0 {
            let _ = writeln!(toml, "on_behalf_of = 'User::\"u{}\"'", g.pick(g.spec.users));
        }
        let mfa = g.chance(0.5);
        let _ = writeln!(toml, "context = {{ mfa = {mfa} }}");
    }
    let _ = writeln!(
        toml,
        "\n[[grant]]\nid = \"jit\"\nprincipal = 'Agent::\"a0\"'\nparents = ['Role::\"r0\"']\nattrs = {{ jit_until = 2026-06-01T09:30:00Z }}\nfrom = \"+10m\"\nuntil = \"+30m\"\nexpiry = \"policy\""
    );
    for (i, at) in ["+5m", "+15m", "+40m"].iter().enumerate() {
        let session = i % sessions.max(1);
        let action = ACTIONS[g.pick(3)];
        let doc = g.doc();
        let _ = writeln!(
            toml,
            "\n[[step]]\nat = \"{at}\"\nsession = \"s{session}\"\naction = 'Action::\"{action}\"'\nresource = 'Doc::\"{doc}\"'"
        );
    }
}

/// The policies, cycling through the kinds; returns the text and the links.
fn policies(g: &mut Gen) -> (String, Value) {
    let mut text = String::new();
    let mut links = Vec::new();
    let mut kind = 0;
    let mut written = 0;
    while written < g.spec.policies {
        let id = format!("p{written}");
        let role = format!("r{}", g.pick(ROLES));
        let group = format!("g{}", g.pick(GROUPS));
        let folder = g.folder();
        let agent = g.agent();
        let doc = g.doc();
        let level = g.pick(4);
        let hour = 9 + g.pick(3);
        let hour = format!("{hour:02}");
        let body = match kind % 29 {
            0 => format!(
                r#"permit(principal in Role::"{role}", action in [Action::"read", Action::"list"], resource in Folder::"{folder}");"#
            ),
            1 => format!(
                r#"permit(principal in Group::"{group}", action == Action::"write", resource is Doc in Folder::"{folder}") when {{ resource.sensitivity <= principal.clearance }};"#
            ),
            2 => r#"permit(principal, action in [Action::"read", Action::"write", Action::"share"], resource is Doc) when { resource.owner == principal };"#.to_string(),
            3 => r#"permit(principal is Agent, action == Action::"read", resource is Doc) when { resource in principal.home } unless { resource.sensitivity > principal.clearance };"#.to_string(),
            4 => format!(
                r#"forbid(principal, action == Action::"delete", resource is Doc) when {{ resource.sensitivity >= {level} }};"#
            ),
            5 => r#"forbid(principal, action in [Action::"write", Action::"delete"], resource is Doc) when { resource has archived && resource.archived };"#.to_string(),
            6 => format!(
                r#"permit(principal in Role::"{role}", action == Action::"read", resource is Doc) when {{ context.now < datetime("2026-06-01T{hour}:20:00Z") && resource.label == "public" }};"#
            ),
            7 => r#"forbid(principal, action, resource is Doc) when { resource.created > context.now };"#.to_string(),
            8 => r#"permit(principal, action == Action::"list", resource is Doc) when { resource.sensitivity * 4611686018427387904 > 0 };"#.to_string(),
            9 => r#"permit(principal is Agent, action == Action::"read", resource is Doc) when { resource.hasTag("project") && resource.getTag("project") == principal.project };"#.to_string(),
            10 => format!(
                r#"permit(principal == Agent::"{agent}", action == Action::"share", resource == Doc::"{doc}");"#
            ),
            11 => r#"permit(principal, action == Action::"read", resource is Doc) when { context has target && context.target == resource };"#.to_string(),
            12 => r#"permit(principal, action == Action::"list", resource) when { context has scope && resource in context.scope };"#.to_string(),
            13 => r#"permit(principal is Agent, action == Action::"write", resource is Doc) when { principal has allowed && principal.allowed.contains(resource) };"#.to_string(),
            14 => r#"permit(principal is Agent, action == Action::"list", resource is Doc) when { resource.folder_ref in principal.home && context.mfa };"#.to_string(),
            15 => {
                if !text.contains("@id(\"tpl\")") {
                    text.push_str("@id(\"tpl\")\npermit(principal == ?principal, action in [Action::\"read\", Action::\"list\"], resource in ?resource);\n\n");
                }
                links.push(json!({
                    "template_id": "tpl",
                    "link_id": format!("{id}-link"),
                    "args": { "?principal": format!("Agent::\"{agent}\""), "?resource": format!("Folder::\"{folder}\"") }
                }));
                kind += 1;
                written += 1;
                continue;
            }
            16 => r#"permit(principal is User, action == Action::"admin", resource) when { principal.dept == "sec" };"#.to_string(),
            17 => format!(
                r#"permit(principal in Group::"{group}", action == Action::"read", resource is Folder) unless {{ principal.clearance < 1 }};"#
            ),
            18 => r#"forbid(principal is Agent, action == Action::"share", resource is Doc) unless { resource.owner == principal };"#.to_string(),
            19 => r#"permit(principal, action == Action::"read", resource is Doc) when { resource.label like "pub*" && context.mfa };"#.to_string(),
            20 => r#"permit(principal is Agent, action == Action::"read", resource is Doc) when { context has delegator && resource.owner.owner == context.delegator };"#.to_string(),
            21 => format!(
                r#"permit(principal is Agent in Role::"{role}", action == Action::"delete", resource is Doc in Folder::"{folder}") when {{ principal has jit_until && context.now < principal.jit_until }};"#
            ),
            22 => format!(
                r#"forbid(principal is Agent, action, resource in Folder::"{folder}") when {{ principal.clearance < 2 }};"#
            ),
            23 => format!(
                r#"permit(principal in Group::"{group}", action == Action::"read", resource is Doc) when {{ resource.owner in Group::"{group}" }};"#
            ),
            26 if !g.spec.schema => r#"permit(principal, action == Action::"list", resource) when { resource.level > 1 };"#.to_string(),
            27 if !g.spec.schema => r#"permit(principal, action, resource) when { principal.home == resource.folder_ref };"#.to_string(),
            24 => r#"permit(principal is Agent, action == Action::"export", resource is Doc) when { resource.owner == principal && resource.label != "secret" };"#.to_string(),
            25 => r#"forbid(principal, action == Action::"export", resource is Doc) when { resource.sensitivity >= 2 } unless { principal.clearance >= 3 };"#.to_string(),
            28 => r#"permit(principal is Agent, action == Action::"list", resource is Doc) when { resource in resource.folder_ref && resource.sensitivity < 2 };"#.to_string(),
            _ => format!(
                r#"permit(principal in Role::"{role}", action, resource in Folder::"{folder}") when {{ context.mfa }};"#
            ),
        };
        let _ = writeln!(text, "@id(\"{id}\")\n{body}\n");
        kind += 1;
        written += 1;
    }
    (text, Value::Array(links))
}
