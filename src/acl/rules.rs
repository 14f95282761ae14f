//! The ACL rule language: policy text in, typed [`Rules`] out.
//!
//! Consul reads rules with HCL version 1, which also takes JSON, and clients send both: the
//! CLI and the docs use HCL, py-consul sends `json.dumps(rules)`. The `syntax` module reduces
//! either to one small tree; the walker here checks it and is strict where Consul is lax:
//! an unknown resource, attribute or disposition is an error, because a typo must never
//! silently drop a `deny`.

use std::collections::BTreeMap;

use super::syntax::{self, Node};
use super::{LABELLED, Level, Resource, Slot, UNLABELLED};

/// What a rule grants. Ordered by strength for merging policies, `Read < List < Write <
/// Deny`: when two policies name the same thing the stronger disposition wins, so a `deny`
/// in any policy of a token cannot be undone by another policy's `write` on the same name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Disposition {
    /// Look only.
    Read,
    /// Look and enumerate (key rules only).
    List,
    /// Everything.
    Write,
    /// Nothing, and it overrides the same name's rule in every other policy.
    Deny,
}

impl Disposition {
    /// Combines two policies' rules for the same name: the stronger one (deny > write >
    /// list > read) wins.
    pub fn merge(self, other: Self) -> Self {
        self.max(other)
    }

    /// Whether a name governed by this disposition may be accessed at `level`.
    pub fn grants(self, level: Level) -> bool {
        match self {
            Disposition::Deny => false,
            Disposition::Write => true,
            Disposition::List => level != Level::Write,
            Disposition::Read => level == Level::Read,
        }
    }

    /// The word used in rule text.
    pub fn as_str(self) -> &'static str {
        match self {
            Disposition::Read => "read",
            Disposition::List => "list",
            Disposition::Write => "write",
            Disposition::Deny => "deny",
        }
    }

    fn from_word(word: &str, list_allowed: bool) -> Option<Self> {
        match word {
            "read" => Some(Disposition::Read),
            "list" if list_allowed => Some(Disposition::List),
            "write" => Some(Disposition::Write),
            "deny" => Some(Disposition::Deny),
            _ => None,
        }
    }
}

impl std::fmt::Display for Disposition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules of one labelled kind: exact names (`key "x"`) and prefixes (`key_prefix "x"`)
/// are kept apart because an exact rule beats every prefix rule for its name.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NamedRules {
    /// Rules written `kind "name" { .. }`.
    pub exact: BTreeMap<String, Disposition>,
    /// Rules written `kind_prefix "name" { .. }`; `""` covers every name.
    pub prefix: BTreeMap<String, Disposition>,
}

impl NamedRules {
    /// Whether there is no rule at all.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.prefix.is_empty()
    }

    /// Adds a rule; a name already present keeps the stronger of the two dispositions.
    fn add(&mut self, prefix: bool, name: String, disposition: Disposition) {
        let map = if prefix {
            &mut self.prefix
        } else {
            &mut self.exact
        };
        let slot = map.entry(name).or_insert(disposition);
        *slot = slot.merge(disposition);
    }
}

/// One parsed policy. A name that appears twice in the same policy (two `key "x"` blocks)
/// keeps the stronger disposition, exactly as if the blocks came from two policies.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Rules {
    labelled: [NamedRules; LABELLED],
    /// Service rules' `intentions`, kept for when intentions are served; nothing reads them
    /// yet.
    intentions: NamedRules,
    unlabelled: [Option<Disposition>; UNLABELLED],
}

impl Rules {
    /// The rules naming objects of a labelled kind; `None` for an unlabelled kind.
    pub fn named(&self, resource: Resource) -> Option<&NamedRules> {
        match resource.slot() {
            Slot::Labelled(i) => self.labelled.get(i),
            Slot::Unlabelled(_) => None,
        }
    }

    /// The `intentions` dispositions of service rules.
    pub fn intentions(&self) -> &NamedRules {
        &self.intentions
    }

    /// The setting of an unlabelled kind as written (no fallback of mesh to operator);
    /// `None` when unset or for a labelled kind.
    pub fn setting(&self, resource: Resource) -> Option<Disposition> {
        match resource.slot() {
            Slot::Unlabelled(i) => self.unlabelled.get(i).copied().flatten(),
            Slot::Labelled(_) => None,
        }
    }

    /// Whether the policy grants and denies nothing (empty text parses to this).
    pub fn is_empty(&self) -> bool {
        self.labelled.iter().all(NamedRules::is_empty)
            && self.intentions.is_empty()
            && self.unlabelled.iter().all(Option::is_none)
    }

    fn add_named(&mut self, resource: Resource, prefix: bool, name: &str, d: Disposition) {
        if let Slot::Labelled(i) = resource.slot()
            && let Some(rules) = self.labelled.get_mut(i)
        {
            rules.add(prefix, name.to_owned(), d);
        }
    }

    fn set(&mut self, resource: Resource, d: Disposition) {
        if let Slot::Unlabelled(i) = resource.slot()
            && let Some(slot) = self.unlabelled.get_mut(i)
        {
            *slot = Some(slot.map_or(d, |old| old.merge(d)));
        }
    }
}

/// Why policy text was refused. Each message is one line and names the resource and label
/// at fault, worded like Consul's so clients matching on the prefix keep working.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RulesError {
    /// The text is not valid HCL or JSON.
    #[error("Failed to parse ACL rules: {0}")]
    Syntax(String),
    /// A top-level name that is no resource kind, such as a misspelt `kye_prefix`.
    #[error("Failed to parse ACL rules: unknown resource {0:?}")]
    UnknownResource(String),
    /// `partition` or `namespace` rules, which only Consul Enterprise has.
    #[error(
        "Failed to parse ACL rules: {0:?} rules are a Consul Enterprise feature and not supported"
    )]
    Enterprise(String),
    /// The right words in the wrong shape, or an unknown attribute inside a block.
    #[error("Failed to parse ACL rules: {0}")]
    Malformed(String),
    /// A missing or unknown disposition; `kind` is the resource as written (`key_prefix`).
    #[error("Invalid {kind} policy: {detail}")]
    InvalidPolicy { kind: String, detail: String },
}

/// The rules of the built-in `global-management` policy: every permission there is.
pub const GLOBAL_MANAGEMENT_RULES: &str = r#"acl = "write"
agent_prefix "" {
  policy = "write"
}
event_prefix "" {
  policy = "write"
}
key_prefix "" {
  policy = "write"
}
keyring = "write"
node_prefix "" {
  policy = "write"
}
operator = "write"
mesh = "write"
peering = "write"
query_prefix "" {
  policy = "write"
}
service_prefix "" {
  policy = "write"
  intentions = "write"
}
session_prefix "" {
  policy = "write"
}
"#;

/// The rules of the built-in `builtin/global-read-only` policy: read everything except the
/// ACL system itself.
pub const GLOBAL_READ_ONLY_RULES: &str = r#"agent_prefix "" {
  policy = "read"
}
event_prefix "" {
  policy = "read"
}
key_prefix "" {
  policy = "read"
}
keyring = "read"
node_prefix "" {
  policy = "read"
}
operator = "read"
mesh = "read"
peering = "read"
query_prefix "" {
  policy = "read"
}
service_prefix "" {
  policy = "read"
  intentions = "read"
}
session_prefix "" {
  policy = "read"
}
"#;

/// The synthetic policy of a service identity: run service `name` and its sidecar proxy,
/// and see the catalog to find upstreams.
pub fn service_identity_rules(name: &str) -> Rules {
    let mut rules = Rules::default();
    rules.add_named(Resource::Service, false, name, Disposition::Write);
    let sidecar = format!("{name}-sidecar-proxy");
    rules.add_named(Resource::Service, false, &sidecar, Disposition::Write);
    rules.add_named(Resource::Service, true, "", Disposition::Read);
    rules.add_named(Resource::Node, true, "", Disposition::Read);
    rules
}

/// The synthetic policy of a node identity: register node `name` and see the services.
pub fn node_identity_rules(name: &str) -> Rules {
    let mut rules = Rules::default();
    rules.add_named(Resource::Node, false, name, Disposition::Write);
    rules.add_named(Resource::Service, true, "", Disposition::Read);
    rules
}

/// Parses one policy's rules, HCL or JSON; empty text is a valid empty policy.
pub fn parse(text: &str) -> Result<Rules, RulesError> {
    build(syntax::read(text)?)
}

/// The top-level names of the rule language: the resource and whether it is the prefix form.
fn kind_of(name: &str) -> Result<(Resource, bool), RulesError> {
    Ok(match name {
        "acl" => (Resource::Acl, false),
        "keyring" => (Resource::Keyring, false),
        "mesh" => (Resource::Mesh, false),
        "operator" => (Resource::Operator, false),
        "peering" => (Resource::Peering, false),
        "agent" => (Resource::Agent, false),
        "agent_prefix" => (Resource::Agent, true),
        "event" => (Resource::Event, false),
        "event_prefix" => (Resource::Event, true),
        "key" => (Resource::Key, false),
        "key_prefix" => (Resource::Key, true),
        "node" => (Resource::Node, false),
        "node_prefix" => (Resource::Node, true),
        "query" => (Resource::Query, false),
        "query_prefix" => (Resource::Query, true),
        "service" => (Resource::Service, false),
        "service_prefix" => (Resource::Service, true),
        "session" => (Resource::Session, false),
        "session_prefix" => (Resource::Session, true),
        "partition" | "partition_prefix" | "namespace" | "namespace_prefix" => {
            return Err(RulesError::Enterprise(name.to_owned()));
        }
        _ => return Err(RulesError::UnknownResource(name.to_owned())),
    })
}

fn build(entries: Vec<(String, Node)>) -> Result<Rules, RulesError> {
    let mut rules = Rules::default();
    for (kind, node) in entries {
        let (resource, prefix) = kind_of(&kind)?;
        if !resource.is_labelled() {
            let Node::Str(word) = node else {
                return Err(RulesError::Malformed(format!(
                    "{kind} must be a string such as {kind} = \"read\", found {}",
                    node.describe()
                )));
            };
            // Consul reads an empty setting as no setting.
            if !word.is_empty() {
                let d = Disposition::from_word(&word, false).ok_or_else(|| {
                    RulesError::InvalidPolicy {
                        kind: kind.clone(),
                        detail: format!("{word:?}"),
                    }
                })?;
                rules.set(resource, d);
            }
            continue;
        }
        let Node::Obj(labelled) = node else {
            return Err(RulesError::Malformed(format!(
                "{kind} needs a name and a block, as in {kind} \"name\" {{ policy = \"read\" }}, found {}",
                node.describe()
            )));
        };
        for (label, body) in labelled {
            add_block(&mut rules, resource, prefix, &kind, &label, body)?;
        }
    }
    Ok(rules)
}

fn add_block(
    rules: &mut Rules,
    resource: Resource,
    prefix: bool,
    kind: &str,
    label: &str,
    body: Node,
) -> Result<(), RulesError> {
    let Node::Obj(attributes) = body else {
        return Err(RulesError::Malformed(format!(
            "{kind} {label:?} must be a block such as {{ policy = \"read\" }}, found {}",
            body.describe()
        )));
    };
    let list_allowed = resource == Resource::Key;
    let (mut policy, mut intentions) = (None, None);
    for (attribute, value) in attributes {
        let is_intentions = match attribute.as_str() {
            "policy" => false,
            "intentions" if resource == Resource::Service => true,
            _ => {
                return Err(RulesError::Malformed(format!(
                    "{kind} {label:?} has unknown attribute {attribute:?}"
                )));
            }
        };
        let Node::Str(word) = value else {
            return Err(RulesError::Malformed(format!(
                "{kind} {label:?}: {attribute} must be a string, found {}",
                value.describe()
            )));
        };
        if is_intentions {
            // As in Consul, an empty `intentions` means none given.
            if word.is_empty() {
                continue;
            }
            let d =
                Disposition::from_word(&word, false).ok_or_else(|| RulesError::InvalidPolicy {
                    kind: format!("{kind} intentions"),
                    detail: format!("{label:?} has invalid policy {word:?}"),
                })?;
            intentions = Some(intentions.map_or(d, |old: Disposition| old.merge(d)));
        } else {
            let d = Disposition::from_word(&word, list_allowed).ok_or_else(|| {
                let hint = if word == "list" {
                    " (list is only for key and key_prefix)"
                } else {
                    ""
                };
                RulesError::InvalidPolicy {
                    kind: kind.to_owned(),
                    detail: format!("{label:?} has invalid policy {word:?}{hint}"),
                }
            })?;
            policy = Some(policy.map_or(d, |old: Disposition| old.merge(d)));
        }
    }
    if let Some(d) = intentions {
        rules.intentions.add(prefix, label.to_owned(), d);
    }
    match policy {
        Some(d) => rules.add_named(resource, prefix, label, d),
        None if intentions.is_some() => {}
        None => {
            return Err(RulesError::InvalidPolicy {
                kind: kind.to_owned(),
                detail: format!("{label:?} has no policy"),
            });
        }
    }
    Ok(())
}
