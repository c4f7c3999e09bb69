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
    /// Whether every other policy is drawn from Cedar's whole expression
    /// grammar (every operator, nested at random depth in
    /// `when` and `unless` of permits and forbids) instead of the fixed kinds. Only without a
    /// schema: random conditions rarely pass strict validation.
    pub grammar: bool,
    /// Whether actions have effects (with `workflow`): role and group joins
    /// and leaves, attribute changes on principals, resources, owners and
    /// folders, folders moved in the tree, time-bound grants, revocations
    /// and a dormant session started by an action, so states differ from
    /// the grant-free world in every way an effect can make them differ.
    pub effects: bool,
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
            grammar: false,
            effects: false,
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

    let (mut policies, links) = policies(&mut g);
    if spec.effects && spec.workflow {
        // Decisions that read through entity references, one and two steps
        // away (a document's owner, and the owner's owner), which effects
        // change: a change reaches documents it is not made to.
        policies.push_str(
            "@id(\"owner-cleared\")\npermit(principal, action == Action::\"read\", resource is Doc) when { resource.owner.clearance >= 3 };\n\n\
             @id(\"owners-owner-cleared\")\npermit(principal is Agent, action == Action::\"list\", resource is Doc) when { resource.owner.owner.clearance >= 2 };\n\n",
        );
        // Through the context's entities (a session's delegator).
        policies.push_str(
            "@id(\"delegator-cleared\")\npermit(principal is Agent, action == Action::\"share\", resource is Doc) when { context has delegator && context.delegator.clearance >= 2 };\n\n",
        );
        // And through entities the policy names itself, not the request.
        let _ = write!(
            policies,
            "@id(\"named-entities\")\npermit(principal, action == Action::\"export\", resource is Doc) when {{ User::\"u0\".clearance >= 2 || Agent::\"a0\" in Group::\"g{}\" }};\n\n",
            g.pick(GROUPS)
        );
    }
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
        if spec.effects {
            effects(&mut g, &mut toml, &policies);
        }
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

/// Effects on every action, with literals drawn at random. Some make
/// invalid worlds under the schema (a folder moved under its own
/// descendant, an attribute a type does not declare): such a request is an
/// error and changes nothing, which is tested too.
///
/// Half the time the folder moved and the group that leaves another are
/// ones no policy names, so that a change reaches entities only through the
/// hierarchy (a folder's documents, a group's members), not through a
/// policy's literal.
fn effects(g: &mut Gen, toml: &mut String, policies: &str) {
    let effect = |toml: &mut String, action: &str, filter: &str, operation: String| {
        let _ = writeln!(
            toml,
            "\n[[effect]]\naction = 'Action::\"{action}\"'{filter}\n{operation}"
        );
    };
    let role = g.pick(ROLES);
    let unnamed = |text: String| !policies.contains(&text);
    let groups: Vec<usize> = (0..GROUPS)
        .filter(|k| unnamed(format!("Group::\"g{k}\"")))
        .collect();
    let group = if !groups.is_empty() && g.chance(0.5) {
        groups[g.pick(groups.len())]
    } else {
        g.pick(GROUPS)
    };
    let other_group = g.pick(GROUPS);
    let folders: Vec<String> = g
        .folders
        .iter()
        .filter(|f| unnamed(format!("Folder::\"{f}\"")))
        .cloned()
        .collect();
    let folder = g.folder();
    let moved = if !folders.is_empty() && g.chance(0.5) {
        folders[g.pick(folders.len())].clone()
    } else {
        g.folder()
    };
    let home = g.folder();
    let agent = g.agent();
    let level = g.pick(4);
    effect(
        toml,
        "admin",
        "",
        format!("add_parent = {{ entity = \"principal\", parent = 'Role::\"r{role}\"' }}"),
    );
    effect(
        toml,
        "admin",
        "",
        format!("set_attr = {{ entity = \"principal\", name = \"clearance\", value = {level} }}"),
    );
    effect(
        toml,
        "share",
        "",
        format!(
            "grant = {{ entity = \"principal\", parents = ['Group::\"g{group}\"'], lifetime = \"20m\", expiry = \"policy\", until_attr = \"jit_until\" }}"
        ),
    );
    effect(
        toml,
        "export",
        "",
        format!(
            "set_attr = {{ entity = \"principal\", name = \"clearance\", value = {} }}",
            3 - level.min(3)
        ),
    );
    effect(
        toml,
        "export",
        "",
        format!("add_parent = {{ entity = \"resource\", parent = 'Folder::\"{folder}\"' }}"),
    );
    effect(
        toml,
        "write",
        "",
        "set_attr = { entity = \"resource\", name = \"sensitivity\", value = 0 }".to_string(),
    );
    effect(
        toml,
        "write",
        "",
        "set_attr = { entity = \"resource\", name = \"label\", value = \"public\" }".to_string(),
    );
    effect(
        toml,
        "delete",
        "",
        format!(
            "remove_parent = {{ entity = 'Group::\"g{group}\"', parent = 'Group::\"g{other_group}\"' }}"
        ),
    );
    effect(
        toml,
        "delete",
        "",
        "set_attr = { entity = \"resource\", name = \"owner\", value_of = \"principal\" }"
            .to_string(),
    );
    effect(
        toml,
        "list",
        "",
        format!(
            "add_parent = {{ entity = 'Folder::\"{moved}\"', parent = 'Folder::\"{folder}\"' }}"
        ),
    );
    effect(
        toml,
        "read",
        &format!("\nprincipal = 'Agent::\"{agent}\"'"),
        format!(
            "set_attr = {{ entity = \"principal\", name = \"home\", value_of = 'Folder::\"{home}\"' }}"
        ),
    );
    effect(
        toml,
        "read",
        "",
        "set_attr = { entity = \"delegator\", name = \"clearance\", value = 3 }".to_string(),
    );
    effect(
        toml,
        "list",
        "",
        "revoke = { entity = \"principal\" }".to_string(),
    );
    let _ = writeln!(
        toml,
        "\n[[session]]\nid = \"late\"\nprincipal = 'Agent::\"{agent}\"'\ndormant = true\nlifetime = \"15m\"\ncontext = {{ mfa = true }}"
    );
    effect(toml, "share", "", "start_session = \"late\"".to_string());
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
        if g.spec.grammar && !g.spec.schema && written % 2 == 1 {
            let body = grammar_policy(g);
            let _ = writeln!(text, "@id(\"{id}\")\n{body}\n");
            written += 1;
            continue;
        }
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

/// A policy from Cedar's whole expression grammar: a permit or forbid whose
/// scope may constrain the action and the resource, with a `when` and maybe an
/// `unless` whose conditions nest every operator (`==`, `!=`, `<`, `<=`, `>`,
/// `>=`, `&&`, `||`, `!`, unary `-`, `+`, `-`, `*`, `if`, `in`, `has` with
/// paths, `like`, `is`, `is ... in`, records, sets, `.contains`,
/// `.containsAll`, `.containsAny`, `.isEmpty`, `hasTag`, `getTag`, attribute
/// access by `.` and `[]` on the principal, the resource, the context and
/// entity literals, and the `ip`, `decimal`, `datetime` and `duration`
/// functions with their methods) at random depth, with `resource` (and
/// values holding it) in every position an entity can take. The conditions
/// are typed so that most evaluate; the rest err, which is tested too.
fn grammar_policy(g: &mut Gen) -> String {
    let effect = if g.chance(0.3) { "forbid" } else { "permit" };
    let action = match g.pick(3) {
        0 => String::new(),
        1 => format!(" == Action::\"{}\"", ACTIONS[g.pick(ACTIONS.len())]),
        _ => " in [Action::\"read\", Action::\"list\", Action::\"write\"]".to_string(),
    };
    let resource = match g.pick(5) {
        0 => " is Doc".to_string(),
        1 => format!(" in Folder::\"{}\"", g.folder()),
        2 => format!(" is Doc in Folder::\"{}\"", g.folder()),
        _ => String::new(),
    };
    let depth = g.pick(4);
    let mut text = format!(
        "{effect}(principal, action{action}, resource{resource}) when {{ {} }}",
        boolean(g, depth)
    );
    if g.chance(0.3) {
        let depth = 1 + g.pick(3);
        let _ = write!(text, " unless {{ {} }}", boolean(g, depth));
    }
    text.push(';');
    text
}

/// Attribute names of the world, and one no entity has.
const ATTRIBUTES: [&str; 14] = [
    "owner",
    "sensitivity",
    "label",
    "created",
    "folder_ref",
    "archived",
    "level",
    "home",
    "project",
    "allowed",
    "clearance",
    "dept",
    "jit_until",
    "missing",
];

impl Gen {
    fn one_of<'s>(&mut self, choices: &[&'s str]) -> &'s str {
        choices[self.pick(choices.len())]
    }

    /// An entity literal of the world (or one it lacks).
    fn entity_literal(&mut self) -> String {
        match self.pick(6) {
            0 => format!("Folder::\"{}\"", self.folder()),
            1 => format!("Doc::\"{}\"", self.doc()),
            2 => format!("Group::\"g{}\"", self.pick(GROUPS)),
            3 => format!("Agent::\"{}\"", self.agent()),
            4 => format!("Role::\"r{}\"", self.pick(ROLES)),
            _ => "Doc::\"nowhere\"".to_string(),
        }
    }
}

/// A Boolean expression nested up to `depth`.
fn boolean(g: &mut Gen, depth: usize) -> String {
    if depth == 0 {
        return match g.pick(10) {
            0 => g.one_of(&["true", "false"]).to_string(),
            1 => "context.mfa".to_string(),
            // The context as a whole value (in a record), read through it:
            // no `context.k` names the clock's key here.
            8 => "({\"c\": context}.c.now < datetime(\"2026-06-01T09:20:00Z\"))".to_string(),
            2 => format!("(resource has {})", g.one_of(&ATTRIBUTES)),
            3 => "resource.hasTag(\"project\")".to_string(),
            4 => format!("(resource is {})", g.one_of(&["Doc", "Folder", "User"])),
            5 => format!("(resource in {})", ancestor(g, 0)),
            6 => format!("(principal in Group::\"g{}\")", g.pick(GROUPS)),
            7 => "(context has target)".to_string(),
            _ => "resource.archived".to_string(),
        };
    }
    let d = depth - 1;
    match g.pick(30) {
        0 => format!("!({})", boolean(g, d)),
        1 => format!("({} && {})", boolean(g, d), boolean(g, d)),
        2 => format!("({} || {})", boolean(g, d), boolean(g, d)),
        3 => format!(
            "(if {} then {} else {})",
            boolean(g, d),
            boolean(g, d),
            boolean(g, d)
        ),
        4 => {
            let op = g.one_of(&["==", "!=", "<", "<=", ">", ">="]);
            format!("({} {op} {})", long(g, d), long(g, d))
        }
        5 | 6 => {
            let op = g.one_of(&["==", "!="]);
            format!("({} {op} {})", entity(g, d), entity(g, d))
        }
        7 | 8 => format!("({} in {})", entity(g, d), ancestor(g, d)),
        9 => format!("({} in {})", entity(g, d), entity_set(g, d)),
        10 => format!("({} has {})", entity(g, d), g.one_of(&ATTRIBUTES)),
        11 => format!("({} has home.level)", entity(g, d)),
        12 => format!(
            "({} is {})",
            entity(g, d),
            g.one_of(&["Doc", "Folder", "Agent"])
        ),
        13 | 14 => format!(
            "({} is {} in {})",
            entity(g, d),
            g.one_of(&["Doc", "Folder", "Agent"]),
            ancestor(g, d)
        ),
        15 => format!(
            "({} like \"{}\")",
            string(g, d),
            g.one_of(&["pub*", "*e*", "p?", "eng", "*"])
        ),
        16 => format!("{}.contains({})", entity_set(g, d), entity(g, d)),
        17 => {
            let method = g.one_of(&["containsAll", "containsAny"]);
            format!("{}.{method}({})", entity_set(g, d), entity_set(g, d))
        }
        18 => format!("{}.isEmpty()", entity_set(g, d)),
        19 => format!("{}.hasTag({})", entity(g, d), string(g, d)),
        20 => format!("({}.getTag(\"project\") == {})", entity(g, d), string(g, d)),
        21 => format!("({} == {})", string(g, d), string(g, d)),
        22 => {
            let field = g.one_of(&["r", "s"]);
            format!("({} has {field})", record(g, d))
        }
        23 => format!("({} == {})", record(g, d), record(g, d)),
        24 => ip_test(g),
        25 => {
            let method = g.one_of(&[
                "lessThan",
                "lessThanOrEqual",
                "greaterThan",
                "greaterThanOrEqual",
            ]);
            format!(
                "decimal(\"{}\").{method}(decimal(\"{}\"))",
                g.one_of(&["0.5", "1.25", "-2.0"]),
                g.one_of(&["0.5", "1.0", "3.1415"])
            )
        }
        26 => {
            let op = g.one_of(&["<", "<=", ">", ">=", "==", "!="]);
            format!("({} {op} {})", datetime_expr(g, d), datetime_expr(g, d))
        }
        27 => format!(
            "({}.getTag(\"project\") like \"p*\")",
            if g.chance(0.6) {
                "resource".to_string()
            } else {
                entity(g, d)
            }
        ),
        28 => format!("({}.r in {})", record(g, d), ancestor(g, d)),
        _ => format!("({}[\"archived\"] == {})", entity(g, d), boolean(g, d)),
    }
}

/// A Long expression.
fn long(g: &mut Gen, depth: usize) -> String {
    if depth == 0 {
        return match g.pick(6) {
            0 => g.pick(4).to_string(),
            1 => "resource.sensitivity".to_string(),
            2 => "principal.clearance".to_string(),
            3 => "resource.level".to_string(),
            4 => "9223372036854775807".to_string(),
            _ => "context.now.toTime().toHours()".to_string(),
        };
    }
    let d = depth - 1;
    match g.pick(9) {
        0 => format!("(-{})", long(g, d)),
        1 => format!("({} + {})", long(g, d), long(g, d)),
        2 => format!("({} - {})", long(g, d), long(g, d)),
        3 => format!("({} * {})", long(g, d), long(g, 0)),
        4 => format!(
            "(if {} then {} else {})",
            boolean(g, d),
            long(g, d),
            long(g, d)
        ),
        5 => format!("{}.clearance", entity(g, d)),
        6 => format!(
            "duration(\"{}\").{}()",
            g.one_of(&["1h", "90m", "2d", "-1h30m", "1500ms"]),
            g.one_of(&[
                "toDays",
                "toHours",
                "toMinutes",
                "toSeconds",
                "toMilliseconds"
            ])
        ),
        7 => format!(
            "{}.durationSince(datetime(\"2026-06-01\")).toHours()",
            datetime_expr(g, d)
        ),
        _ => format!("{{n: {}, r: {}}}.n", long(g, d), entity(g, d)),
    }
}

/// A String expression.
fn string(g: &mut Gen, depth: usize) -> String {
    if depth == 0 {
        return match g.pick(5) {
            0 => format!(
                "\"{}\"",
                g.one_of(&["public", "secret", "eng", "p1", "project"])
            ),
            1 => "resource.label".to_string(),
            2 => "principal.project".to_string(),
            3 => "principal.dept".to_string(),
            _ => "resource.getTag(\"project\")".to_string(),
        };
    }
    let d = depth - 1;
    match g.pick(4) {
        0 => format!(
            "(if {} then {} else {})",
            boolean(g, d),
            string(g, d),
            string(g, d)
        ),
        1 => format!("{}.label", entity(g, d)),
        2 => format!("{}[\"project\"]", entity(g, d)),
        _ => format!("{}.getTag(\"project\")", entity(g, d)),
    }
}

/// An entity expression; `resource` (and values holding it) come often.
fn entity(g: &mut Gen, depth: usize) -> String {
    if depth == 0 {
        return match g.pick(12) {
            0..=3 => "resource".to_string(),
            4 => "principal".to_string(),
            5 => "resource.owner".to_string(),
            6 => "resource.folder_ref".to_string(),
            7 => "principal.home".to_string(),
            8 => "context.scope".to_string(),
            9 => "context.target".to_string(),
            10 => "resource.owner.home".to_string(),
            _ => g.entity_literal(),
        };
    }
    let d = depth - 1;
    match g.pick(10) {
        0 => format!("{}.r", record(g, d)),
        1 => format!("{}[\"r\"]", record(g, d)),
        2 => format!(
            "(if {} then {} else {})",
            boolean(g, d),
            entity(g, d),
            entity(g, d)
        ),
        3 => format!("{}.owner", entity(g, d)),
        4 => format!("{}.folder_ref", entity(g, d)),
        5 => format!("{}.home", entity(g, d)),
        6 => format!("{{a: {{b: {}}}}}.a.b", entity(g, d)),
        _ => entity(g, 0),
    }
}

/// The right of an `in`: mostly a folder (so that the resource's ancestry
/// decides), sometimes a set of them or any entity expression.
fn ancestor(g: &mut Gen, depth: usize) -> String {
    match g.pick(8) {
        0..=3 => format!("Folder::\"{}\"", g.folder()),
        4 => format!("[Folder::\"{}\", Folder::\"{}\"]", g.folder(), g.folder()),
        5 => entity_set(g, depth),
        _ => entity(g, depth),
    }
}

/// A set of entities.
fn entity_set(g: &mut Gen, depth: usize) -> String {
    let d = depth.saturating_sub(1);
    match g.pick(5) {
        0 => "principal.allowed".to_string(),
        1 => "[]".to_string(),
        2 => format!(
            "(if {} then {} else {})",
            boolean(g, d),
            entity_set(g, d),
            entity_set(g, d)
        ),
        3 => format!("{{s: [{}]}}.s", entity(g, d)),
        _ => {
            let items: Vec<String> = (0..1 + g.pick(3)).map(|_| entity(g, d)).collect();
            format!("[{}]", items.join(", "))
        }
    }
}

/// A record holding an entity at `r`, a set at `s` and a number at `n`.
fn record(g: &mut Gen, depth: usize) -> String {
    let d = depth.saturating_sub(1);
    if g.chance(0.3) {
        return format!("{{r: {}}}", entity(g, d));
    }
    format!(
        "{{r: {}, s: {}, n: {}}}",
        entity(g, d),
        entity_set(g, d),
        long(g, d)
    )
}

/// A datetime expression.
fn datetime_expr(g: &mut Gen, depth: usize) -> String {
    let d = depth.saturating_sub(1);
    match g.pick(5) {
        0 => "context.now".to_string(),
        1 => format!("{}.created", entity(g, d)),
        2 => format!(
            "datetime(\"{}\")",
            g.one_of(&[
                "2026-06-01T10:00:00Z",
                "2026-03-01",
                "2026-06-01T09:30:00.000+0100"
            ])
        ),
        3 => format!(
            "{}.offset(duration(\"{}\"))",
            datetime_expr(g, d),
            g.one_of(&["1h", "-30d", "15m"])
        ),
        _ => format!("{}.toDate()", datetime_expr(g, d)),
    }
}

/// An `ip()` test.
fn ip_test(g: &mut Gen) -> String {
    let address = g.one_of(&["10.0.0.1", "192.168.1.0/24", "::1", "224.0.0.1"]);
    match g.pick(5) {
        0 => format!("ip(\"{address}\").isIpv4()"),
        1 => format!("ip(\"{address}\").isIpv6()"),
        2 => format!("ip(\"{address}\").isLoopback()"),
        3 => format!("ip(\"{address}\").isMulticast()"),
        _ => format!("ip(\"{address}\").isInRange(ip(\"10.0.0.0/8\"))"),
    }
}
