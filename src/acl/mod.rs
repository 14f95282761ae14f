//! Access control: the ACL rule language and the decision of what one token may do.
//!
//! Consul clients write policies in a small rule language (HCL, or the same shape as JSON)
//! and expect the agent to enforce them exactly as Consul does: an exact rule beats any
//! prefix rule, the longest prefix decides otherwise, policies merge with deny strongest,
//! and anything no rule mentions falls to the configured default. Getting any of this
//! subtly wrong either locks operators out or, worse, silently widens a token's reach, so
//! the logic lives here on its own, pure and tested against Consul's own cases.
//!
//! [`rules`] turns policy text into [`Rules`]; [`authorizer`] merges the rules of one
//! token (its policies, its roles' policies, its identities) into an [`Authorizer`] that
//! answers "may this token do that?" without allocating. No I/O, and nothing else of disco
//! is imported: token resolution and HTTP enforcement build on top of this.

pub mod authorizer;
pub mod rules;
mod syntax;

#[cfg(test)]
mod tests;

pub use authorizer::{Authorizer, DefaultPolicy, UnknownDefaultPolicy};
pub use rules::{
    Disposition, GLOBAL_MANAGEMENT_RULES, GLOBAL_READ_ONLY_RULES, NamedRules, Rules, RulesError,
    node_identity_rules, parse, service_identity_rules,
};

/// The kinds of resource a rule names; every permission check is about one of them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Resource {
    /// ACL tokens, policies and roles themselves (unlabelled).
    Acl,
    /// An agent, by node name.
    Agent,
    /// User events, by event name.
    Event,
    /// KV entries, by key.
    Key,
    /// The gossip encryption keyring (unlabelled).
    Keyring,
    /// Service-mesh configuration (unlabelled; falls back to operator).
    Mesh,
    /// Catalog nodes, by node name.
    Node,
    /// Cluster operations such as Raft and autopilot (unlabelled).
    Operator,
    /// Cluster peering (unlabelled; falls back to operator).
    Peering,
    /// Prepared queries, by query name.
    Query,
    /// Services, by service name.
    Service,
    /// Sessions, by the node they belong to.
    Session,
}

/// What an access needs, on the ladder write ⇒ list ⇒ read: a rule granting a higher rung
/// also grants the lower ones.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Level {
    /// Look at one object.
    Read,
    /// Enumerate objects (only key rules distinguish it from read).
    List,
    /// Create, change or delete.
    Write,
}

/// Where a resource's rules are kept: the index among the labelled or unlabelled kinds.
/// Both `rules` and `authorizer` store per-kind data in arrays indexed this way.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Slot {
    Labelled(usize),
    Unlabelled(usize),
}

/// How many labelled kinds there are (agent, event, key, node, query, service, session).
const LABELLED: usize = 7;
/// How many unlabelled kinds there are (acl, keyring, mesh, operator, peering).
const UNLABELLED: usize = 5;

impl Resource {
    /// Every resource, for callers and tests that must cover them all.
    pub const ALL: [Resource; 12] = [
        Resource::Acl,
        Resource::Agent,
        Resource::Event,
        Resource::Key,
        Resource::Keyring,
        Resource::Mesh,
        Resource::Node,
        Resource::Operator,
        Resource::Peering,
        Resource::Query,
        Resource::Service,
        Resource::Session,
    ];

    /// The name Consul uses for the resource, as in `key:write` of a denial message.
    pub fn as_str(self) -> &'static str {
        match self {
            Resource::Acl => "acl",
            Resource::Agent => "agent",
            Resource::Event => "event",
            Resource::Key => "key",
            Resource::Keyring => "keyring",
            Resource::Mesh => "mesh",
            Resource::Node => "node",
            Resource::Operator => "operator",
            Resource::Peering => "peering",
            Resource::Query => "query",
            Resource::Service => "service",
            Resource::Session => "session",
        }
    }

    /// Whether rules for this kind name objects (`key "x" {..}`) rather than being a
    /// single setting (`operator = "read"`).
    pub fn is_labelled(self) -> bool {
        matches!(self.slot(), Slot::Labelled(_))
    }

    fn slot(self) -> Slot {
        match self {
            Resource::Agent => Slot::Labelled(0),
            Resource::Event => Slot::Labelled(1),
            Resource::Key => Slot::Labelled(2),
            Resource::Node => Slot::Labelled(3),
            Resource::Query => Slot::Labelled(4),
            Resource::Service => Slot::Labelled(5),
            Resource::Session => Slot::Labelled(6),
            Resource::Acl => Slot::Unlabelled(0),
            Resource::Keyring => Slot::Unlabelled(1),
            Resource::Mesh => Slot::Unlabelled(2),
            Resource::Operator => Slot::Unlabelled(3),
            Resource::Peering => Slot::Unlabelled(4),
        }
    }

    /// The kind whose setting applies when this one has none: mesh and peering were split
    /// out of operator, and policies written before them still govern them through it.
    fn fallback(self) -> Option<Resource> {
        match self {
            Resource::Mesh | Resource::Peering => Some(Resource::Operator),
            _ => None,
        }
    }
}

impl std::fmt::Display for Resource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Level {
    /// The name Consul uses for the level, as in `key:write` of a denial message.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Read => "read",
            Level::List => "list",
            Level::Write => "write",
        }
    }
}

impl std::fmt::Display for Level {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}
