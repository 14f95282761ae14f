//! The ACL permission each route needs, after Consul's endpoint table
//! (`agent_endpoint.go`, `kvs_endpoint.go`, `agent/acl.go`). Declared here so the routes
//! and their permissions are kept in one table; `http/authz.rs` enforces it before a
//! route runs, and the handlers of `EachEntry` and `Body` routes filter and check.

use super::Endpoint;

/// The kind of resource an ACL rule names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resource {
    /// Needs no permission (datacenters, status, the UI pages, OPTIONS).
    None,
    /// `key` rules: the KV store.
    Key,
    /// `service` rules.
    Service,
    /// `node` rules.
    Node,
    /// `agent` rules: an agent's own endpoints, by its node name.
    Agent,
    /// `operator` rules: Raft, autopilot, `force-leave`.
    Operator,
    /// `session` rules, by node.
    Session,
    /// `event` rules, by event name.
    Event,
    /// `query` rules: prepared queries.
    Query,
    /// `acl` rules: tokens, policies, roles.
    Acl,
    /// `keyring` rules: the gossip keyring.
    Keyring,
}

/// Read or write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Level {
    /// `read` (also granted by `write`).
    Read,
    /// `write`.
    Write,
}

/// Which resource of the kind the rule must cover.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Subject<'a> {
    /// The kind as a whole (operator, keyring, acl) or nothing at all.
    Any,
    /// The object named in the path.
    Name(&'a str),
    /// A KV key from the path; with `?recurse` or `?keys` every key under it as a prefix
    /// (reads filter per entry, a recursive delete needs write on the whole prefix).
    KeyOrPrefix(&'a str),
    /// This agent's own node name.
    AgentNode,
    /// Named in the request body (a registration): service write on its service, node
    /// write on its node or, for a check without a service, on the agent's node.
    Body,
    /// The existing local service or check with this ID: its service, or the agent's node
    /// for a node check. An unknown ID is a 404 before any permission is checked.
    ById(&'a str),
    /// Each entry of a list answer: entries the token may not read are left out, no 403.
    EachEntry,
}

/// What a route needs: `resource:level` on `subject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access<'a> {
    /// Rule kind.
    pub resource: Resource,
    /// Read or write.
    pub level: Level,
    /// Which object.
    pub subject: Subject<'a>,
}

impl<'a> Access<'a> {
    /// No permission needed.
    pub const NONE: Access<'static> = Access {
        resource: Resource::None,
        level: Level::Read,
        subject: Subject::Any,
    };

    const fn new(resource: Resource, level: Level, subject: Subject<'a>) -> Self {
        Access {
            resource,
            level,
            subject,
        }
    }
}

impl<'a> Endpoint<'a> {
    /// The permission this route needs under ACLs.
    pub fn access(&self) -> Access<'a> {
        use Endpoint as E;
        use Level::{Read, Write};
        use Resource as R;
        use Subject as S;
        let a = Access::new;
        match *self {
            E::KvGet { key } => a(R::Key, Read, S::KeyOrPrefix(key)),
            E::KvPut { key } => a(R::Key, Write, S::Name(key)),
            E::KvDelete { key } => a(R::Key, Write, S::KeyOrPrefix(key)),
            E::CatalogRegister | E::CatalogDeregister => a(R::Node, Write, S::Body),
            E::CatalogNodes => a(R::Node, Read, S::EachEntry),
            E::CatalogServices | E::UiServices | E::HealthState { .. } => {
                a(R::Service, Read, S::EachEntry)
            }
            // Consul filters these (an empty answer), it does not refuse them.
            E::CatalogService { .. }
            | E::CatalogConnect { .. }
            | E::HealthService { .. }
            | E::HealthConnect { .. }
            | E::HealthIngress { .. }
            | E::HealthChecks { .. } => a(R::Service, Read, S::EachEntry),
            E::AgentHealthByName { name } => a(R::Service, Read, S::Name(name)),
            // Services and checks inside are filtered too; an unreadable node is left out
            // (`ui/node` answers 404 for it).
            E::CatalogNode { .. } | E::HealthNode { .. } | E::UiNodes | E::UiNode { .. } => {
                a(R::Node, Read, S::EachEntry)
            }
            E::RaftConfiguration | E::AutopilotHealth | E::AutopilotConfiguration => {
                a(R::Operator, Read, S::Any)
            }
            E::KeyringList => a(R::Keyring, Read, S::Any),
            E::KeyringInstall | E::KeyringUse | E::KeyringRemove => a(R::Keyring, Write, S::Any),
            E::RaftTransferLeader | E::RaftPeer | E::AgentForceLeave { .. } => {
                a(R::Operator, Write, S::Any)
            }
            E::AgentSelf | E::AgentMetrics => a(R::Agent, Read, S::AgentNode),
            E::AgentLeave | E::AgentReload | E::AgentToken { .. } | E::AgentJoin { .. } => {
                a(R::Agent, Write, S::AgentNode)
            }
            E::AgentMembers => a(R::Node, Read, S::EachEntry),
            E::AgentServices | E::AgentChecks => a(R::Service, Read, S::EachEntry),
            E::AgentService { id } | E::AgentHealthById { id } => a(R::Service, Read, S::ById(id)),
            E::AgentServiceRegister | E::AgentCheckRegister => a(R::Service, Write, S::Body),
            E::AgentServiceDeregister { id }
            | E::AgentServiceMaintenance { id }
            | E::AgentCheckDeregister { id }
            | E::AgentCheckPass { id }
            | E::AgentCheckWarn { id }
            | E::AgentCheckFail { id }
            | E::AgentCheckUpdate { id } => a(R::Service, Write, S::ById(id)),
            E::AgentMaintenance => a(R::Node, Write, S::AgentNode),
            E::SessionCreate => a(R::Session, Write, S::Body),
            E::SessionDestroy { id } | E::SessionRenew { id } => a(R::Session, Write, S::ById(id)),
            E::SessionInfo { id } => a(R::Session, Read, S::ById(id)),
            E::SessionNode { node } => a(R::Session, Read, S::Name(node)),
            E::SessionList => a(R::Session, Read, S::EachEntry),
            // The query's name is in the body or the stored row: the handlers check it.
            E::QueryList => a(R::Query, Read, S::EachEntry),
            E::QueryCreate | E::QueryUpdate { .. } | E::QueryDelete { .. } => {
                a(R::Query, Write, S::Body)
            }
            E::QueryRead { .. } | E::QueryExplain { .. } => a(R::Query, Read, S::Body),
            // Running a query reads services and nodes, filtered entry by entry.
            E::QueryExecute { .. } => a(R::Service, Read, S::EachEntry),
            E::Txn => a(R::Key, Write, S::Body),
            E::EventFire { name } => a(R::Event, Write, S::Name(name)),
            E::EventList => a(R::Event, Read, S::EachEntry),
            E::AclTokenCreate
            | E::AclTokenUpdate { .. }
            | E::AclTokenDelete { .. }
            | E::AclTokenClone { .. }
            | E::AclPolicyCreate
            | E::AclPolicyUpdate { .. }
            | E::AclPolicyDelete { .. }
            | E::AclRoleCreate
            | E::AclRoleUpdate { .. }
            | E::AclRoleDelete { .. } => a(R::Acl, Write, S::Any),
            E::AclTokens
            | E::AclTokenRead { .. }
            | E::AclPolicyRead { .. }
            | E::AclRoleRead { .. }
            | E::AclPolicyByName { .. }
            | E::AclPolicies
            | E::AclRoleByName { .. }
            | E::AclRoles => a(R::Acl, Read, S::Any),
            // The bootstrap needs no token; `token/self` and `acl/authorize` tell a token
            // about itself; login and logout carry their own credentials; replication
            // status is public.
            E::AclBootstrap
            | E::AclTokenSelf
            | E::AclAuthorize
            | E::AclLogin
            | E::AclLogout
            | E::AclReplication
            | E::CatalogDatacenters
            | E::StatusLeader
            | E::StatusPeers
            | E::Root
            | E::UiRedirect
            | E::Ui { .. }
            | E::Options(_) => Access::NONE,
        }
    }
}
