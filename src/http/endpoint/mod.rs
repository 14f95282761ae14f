//! The endpoint table: every route of the HTTP API as one [`Endpoint`], parsed once per
//! request from the method and the percent-decoded path (`parse.rs`).
//!
//! The same table answers everything the request path needs to know about a route before
//! running it: the methods it takes (the `Allow` header of 405 and OPTIONS answers),
//! whether a client agent forwards it to a server and a follower to its leader, whether
//! `discovery_max_stale` applies, its name and metric label, and the ACL permission it
//! needs (`access.rs`). Adding a route means adding a variant here; the compiler then asks
//! for it in every one of these answers and in `route()`.

mod access;
mod parse;
#[cfg(test)]
mod tests;

use axum::http::Method;

pub use access::{Access, Level, Resource, Subject};

/// The methods a route takes. Each set names its `Allow` header, so a 405 and an OPTIONS
/// answer list exactly what the route accepts, as Consul's do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Methods {
    /// `GET` only (reads).
    Get,
    /// `GET` or `HEAD` (the web UI's files).
    GetHead,
    /// `PUT` only (agent and catalog writes).
    Put,
    /// `DELETE` only.
    Delete,
    /// `POST` or `PUT` (leadership transfer).
    PostPut,
    /// `POST` only (ACL login and logout).
    Post,
    /// `GET` or `POST` (prepared queries: list and create).
    GetPost,
    /// The KV store's three.
    GetPutDelete,
    /// `GET`, `POST`, `PUT` and `DELETE` (the keyring).
    GetPostPutDelete,
    /// Any method, OPTIONS included (`/` and the UI's redirect, which answer every method
    /// alike).
    Any,
}

impl Methods {
    /// Whether `m` is accepted.
    pub fn allows(self, m: &Method) -> bool {
        match self {
            Methods::Get => m == Method::GET,
            Methods::GetHead => m == Method::GET || m == Method::HEAD,
            Methods::Put => m == Method::PUT,
            Methods::Delete => m == Method::DELETE,
            Methods::PostPut => m == Method::POST || m == Method::PUT,
            Methods::Post => m == Method::POST,
            Methods::GetPost => m == Method::GET || m == Method::POST,
            Methods::GetPutDelete => m == Method::GET || m == Method::PUT || m == Method::DELETE,
            Methods::GetPostPutDelete => {
                m == Method::GET || m == Method::POST || m == Method::PUT || m == Method::DELETE
            }
            Methods::Any => true,
        }
    }

    /// The `Allow` header value: OPTIONS first, then the accepted methods.
    pub fn allow_header(self) -> &'static str {
        match self {
            Methods::Get => "OPTIONS,GET",
            Methods::GetHead => "OPTIONS,GET,HEAD",
            Methods::Put => "OPTIONS,PUT",
            Methods::Delete => "OPTIONS,DELETE",
            Methods::PostPut => "OPTIONS,POST,PUT",
            Methods::Post => "OPTIONS,POST",
            Methods::GetPost => "OPTIONS,GET,POST",
            Methods::GetPutDelete => "OPTIONS,GET,PUT,DELETE",
            Methods::GetPostPutDelete => "OPTIONS,GET,POST,PUT,DELETE",
            Methods::Any => "OPTIONS,GET,PUT,POST,DELETE",
        }
    }
}

/// Who answers a route, which decides forwarding.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// This agent's own view (`/v1/agent/*`, the UI pages): never forwarded.
    Agent,
    /// The replicated state: a client agent forwards it to a server, a follower to its
    /// leader.
    Leader,
    /// As `Leader`, and `discovery_max_stale` applies (catalog and health routes).
    Discovery,
    /// Forwarded by a client agent, then answered by whichever server receives it
    /// (`/v1/status/*`).
    AnyServer,
}

/// One row of the endpoint table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Spec {
    /// The variant's name, for logs and tests.
    pub name: &'static str,
    /// Methods taken.
    pub methods: Methods,
    /// Who answers.
    pub scope: Scope,
    /// Consul's metric path label.
    pub metric: &'static str,
}

const fn spec(name: &'static str, methods: Methods, scope: Scope, metric: &'static str) -> Spec {
    Spec {
        name,
        methods,
        scope,
        metric,
    }
}

/// One route of the HTTP API with the parts of its path it needs. Names and keys borrow
/// from the decoded path, so they may contain `/`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint<'a> {
    /// `GET /v1/kv/<key>` (also `?recurse`, `?keys`, `?raw`).
    KvGet {
        /// Key or prefix; empty for the root.
        key: &'a str,
    },
    /// `PUT /v1/kv/<key>`.
    KvPut {
        /// Key.
        key: &'a str,
    },
    /// `DELETE /v1/kv/<key>` (also `?recurse`).
    KvDelete {
        /// Key or prefix.
        key: &'a str,
    },
    /// `PUT /v1/catalog/register`.
    CatalogRegister,
    /// `PUT /v1/catalog/deregister`.
    CatalogDeregister,
    /// `GET /v1/catalog/datacenters`.
    CatalogDatacenters,
    /// `GET /v1/catalog/nodes`.
    CatalogNodes,
    /// `GET /v1/catalog/services`.
    CatalogServices,
    /// `GET /v1/catalog/service/<name>`.
    CatalogService {
        /// Service name.
        name: &'a str,
    },
    /// `GET /v1/catalog/connect/<name>`: always empty (no mesh).
    CatalogConnect {
        /// Service name.
        name: &'a str,
    },
    /// `GET /v1/catalog/node/<node>`.
    CatalogNode {
        /// Node name.
        node: &'a str,
    },
    /// `GET /v1/health/service/<name>`.
    HealthService {
        /// Service name.
        name: &'a str,
    },
    /// `GET /v1/health/checks/<service>`.
    HealthChecks {
        /// Service name.
        service: &'a str,
    },
    /// `GET /v1/health/node/<node>`.
    HealthNode {
        /// Node name.
        node: &'a str,
    },
    /// `GET /v1/health/state/<state>`.
    HealthState {
        /// `any`, `passing`, `warning` or `critical` (checked by the handler).
        state: &'a str,
    },
    /// `GET /v1/health/connect/<name>`: always empty (no mesh).
    HealthConnect {
        /// Service name.
        name: &'a str,
    },
    /// `GET /v1/health/ingress/<name>`: always empty (no mesh).
    HealthIngress {
        /// Service name.
        name: &'a str,
    },
    /// `GET /v1/internal/ui/services`.
    UiServices,
    /// `GET /v1/internal/ui/nodes`: every node with its services and checks.
    UiNodes,
    /// `GET /v1/internal/ui/node/<node>`: one node as `UiNodes` gives it.
    UiNode {
        /// Node name.
        node: &'a str,
    },
    /// `POST|PUT /v1/internal/acl/authorize`: what the caller's token may do, for UIs.
    AclAuthorize,
    /// `GET /v1/operator/raft/configuration`.
    RaftConfiguration,
    /// `POST|PUT /v1/operator/raft/transfer-leader`.
    RaftTransferLeader,
    /// `DELETE /v1/operator/raft/peer`.
    RaftPeer,
    /// `GET /v1/operator/autopilot/health`.
    AutopilotHealth,
    /// `GET /v1/operator/autopilot/configuration`.
    AutopilotConfiguration,
    /// `GET /v1/operator/keyring`: the keys and how many members hold each.
    KeyringList,
    /// `POST /v1/operator/keyring`: install a key everywhere.
    KeyringInstall,
    /// `PUT /v1/operator/keyring`: make a key primary everywhere.
    KeyringUse,
    /// `DELETE /v1/operator/keyring`: remove a key everywhere.
    KeyringRemove,
    /// `GET /v1/agent/self`.
    AgentSelf,
    /// `GET /v1/agent/members`.
    AgentMembers,
    /// `GET /v1/agent/services`.
    AgentServices,
    /// `GET /v1/agent/checks`.
    AgentChecks,
    /// `PUT /v1/agent/service/register`.
    AgentServiceRegister,
    /// `PUT /v1/agent/check/register`.
    AgentCheckRegister,
    /// `GET /v1/agent/metrics`.
    AgentMetrics,
    /// `PUT /v1/agent/leave`.
    AgentLeave,
    /// `PUT /v1/agent/reload`.
    AgentReload,
    /// `PUT /v1/agent/maintenance`.
    AgentMaintenance,
    /// `PUT /v1/agent/service/deregister/<id>`.
    AgentServiceDeregister {
        /// Service ID.
        id: &'a str,
    },
    /// `PUT /v1/agent/service/maintenance/<id>`.
    AgentServiceMaintenance {
        /// Service ID.
        id: &'a str,
    },
    /// `PUT /v1/agent/check/deregister/<id>`.
    AgentCheckDeregister {
        /// Check ID.
        id: &'a str,
    },
    /// `PUT /v1/agent/check/pass/<id>`.
    AgentCheckPass {
        /// Check ID.
        id: &'a str,
    },
    /// `PUT /v1/agent/check/warn/<id>`.
    AgentCheckWarn {
        /// Check ID.
        id: &'a str,
    },
    /// `PUT /v1/agent/check/fail/<id>`.
    AgentCheckFail {
        /// Check ID.
        id: &'a str,
    },
    /// `PUT /v1/agent/check/update/<id>`.
    AgentCheckUpdate {
        /// Check ID.
        id: &'a str,
    },
    /// `GET /v1/agent/service/<id>`.
    AgentService {
        /// Service ID.
        id: &'a str,
    },
    /// `GET /v1/agent/health/service/id/<id>`.
    AgentHealthById {
        /// Service ID.
        id: &'a str,
    },
    /// `GET /v1/agent/health/service/name/<name>`.
    AgentHealthByName {
        /// Service name.
        name: &'a str,
    },
    /// `PUT /v1/agent/token/<type>`: set one of the agent's tokens.
    AgentToken {
        /// Token type (`default`, `agent`, ...).
        kind: &'a str,
    },
    /// `PUT /v1/agent/join/<address>`.
    AgentJoin {
        /// Address to join.
        address: &'a str,
    },
    /// `PUT /v1/agent/force-leave/<node>`.
    AgentForceLeave {
        /// Member name.
        node: &'a str,
    },
    /// `PUT /v1/session/create`.
    SessionCreate,
    /// `PUT /v1/session/destroy/<id>`.
    SessionDestroy {
        /// Session ID.
        id: &'a str,
    },
    /// `PUT /v1/session/renew/<id>`.
    SessionRenew {
        /// Session ID.
        id: &'a str,
    },
    /// `GET /v1/session/info/<id>`.
    SessionInfo {
        /// Session ID.
        id: &'a str,
    },
    /// `GET /v1/session/node/<node>`.
    SessionNode {
        /// Node name.
        node: &'a str,
    },
    /// `GET /v1/session/list`.
    SessionList,
    /// `GET /v1/query`.
    QueryList,
    /// `POST /v1/query`.
    QueryCreate,
    /// `GET /v1/query/<id>`.
    QueryRead {
        /// Query ID.
        id: &'a str,
    },
    /// `PUT /v1/query/<id>`.
    QueryUpdate {
        /// Query ID.
        id: &'a str,
    },
    /// `DELETE /v1/query/<id>`.
    QueryDelete {
        /// Query ID.
        id: &'a str,
    },
    /// `GET /v1/query/<id or name>/execute`.
    QueryExecute {
        /// Query ID or name.
        id: &'a str,
    },
    /// `GET /v1/query/<id or name>/explain`.
    QueryExplain {
        /// Query ID or name.
        id: &'a str,
    },
    /// `PUT /v1/txn`.
    Txn,
    /// `PUT /v1/event/fire/<name>`.
    EventFire {
        /// Event name.
        name: &'a str,
    },
    /// `GET /v1/event/list`.
    EventList,
    /// `PUT /v1/acl/bootstrap`.
    AclBootstrap,
    /// `GET /v1/acl/replication`.
    AclReplication,
    /// `PUT /v1/acl/token`.
    AclTokenCreate,
    /// `GET /v1/acl/token/self`.
    AclTokenSelf,
    /// `GET /v1/acl/token/<id>`.
    AclTokenRead {
        /// Accessor ID.
        id: &'a str,
    },
    /// `PUT /v1/acl/token/<id>`.
    AclTokenUpdate {
        /// Accessor ID.
        id: &'a str,
    },
    /// `DELETE /v1/acl/token/<id>`.
    AclTokenDelete {
        /// Accessor ID.
        id: &'a str,
    },
    /// `PUT /v1/acl/token/<accessor>/clone`.
    AclTokenClone {
        /// Accessor ID.
        id: &'a str,
    },
    /// `GET /v1/acl/tokens`.
    AclTokens,
    /// `PUT /v1/acl/policy`.
    AclPolicyCreate,
    /// `GET /v1/acl/policy/<id>`.
    AclPolicyRead {
        /// Policy ID.
        id: &'a str,
    },
    /// `PUT /v1/acl/policy/<id>`.
    AclPolicyUpdate {
        /// Policy ID.
        id: &'a str,
    },
    /// `DELETE /v1/acl/policy/<id>`.
    AclPolicyDelete {
        /// Policy ID.
        id: &'a str,
    },
    /// `GET /v1/acl/policy/name/<name>`.
    AclPolicyByName {
        /// Policy name.
        name: &'a str,
    },
    /// `GET /v1/acl/policies`.
    AclPolicies,
    /// `PUT /v1/acl/role`.
    AclRoleCreate,
    /// `GET /v1/acl/role/<id>`.
    AclRoleRead {
        /// Role ID.
        id: &'a str,
    },
    /// `PUT /v1/acl/role/<id>`.
    AclRoleUpdate {
        /// Role ID.
        id: &'a str,
    },
    /// `DELETE /v1/acl/role/<id>`.
    AclRoleDelete {
        /// Role ID.
        id: &'a str,
    },
    /// `GET /v1/acl/role/name/<name>`.
    AclRoleByName {
        /// Role name.
        name: &'a str,
    },
    /// `GET /v1/acl/roles`.
    AclRoles,
    /// `POST /v1/acl/login`: no auth methods exist, so every login fails.
    AclLogin,
    /// `POST /v1/acl/logout`: only tokens from a login may log out; there are none.
    AclLogout,
    /// `GET /v1/status/leader`.
    StatusLeader,
    /// `GET /v1/status/peers`.
    StatusPeers,
    /// `/`, any method: a redirect to the web UI, or Consul's "UI disabled" page.
    Root,
    /// The UI's content path without its final `/` (`/ui`), any method: a redirect to it.
    UiRedirect,
    /// `GET|HEAD <content path><file>`: a file of the web UI, or its page for a deep link.
    Ui {
        /// The path after the content path (empty for the page itself).
        file: &'a str,
    },
    /// `OPTIONS` on a route that does not take it: 200 with the route's `Allow` header.
    Options(Methods),
}

impl Endpoint<'_> {
    /// This route's row of the table: every fact about it but its permission (`access.rs`),
    /// in one place. Adding a route is one more arm here (the match is exhaustive).
    pub fn spec(&self) -> Spec {
        use Endpoint as E;
        use Methods::*;
        match self {
            E::KvGet { .. } => spec("KvGet", GetPutDelete, Scope::Leader, "v1.kv._"),
            E::KvPut { .. } => spec("KvPut", GetPutDelete, Scope::Leader, "v1.kv._"),
            E::KvDelete { .. } => spec("KvDelete", GetPutDelete, Scope::Leader, "v1.kv._"),
            E::CatalogRegister => spec(
                "CatalogRegister",
                Put,
                Scope::Discovery,
                "v1.catalog.register",
            ),
            E::CatalogDeregister => spec(
                "CatalogDeregister",
                Put,
                Scope::Discovery,
                "v1.catalog.deregister",
            ),
            E::CatalogDatacenters => spec(
                "CatalogDatacenters",
                Get,
                Scope::Discovery,
                "v1.catalog.datacenters",
            ),
            E::CatalogNodes => spec("CatalogNodes", Get, Scope::Discovery, "v1.catalog.nodes"),
            E::CatalogServices => spec(
                "CatalogServices",
                Get,
                Scope::Discovery,
                "v1.catalog.services",
            ),
            E::CatalogService { .. } => spec(
                "CatalogService",
                Get,
                Scope::Discovery,
                "v1.catalog.service._",
            ),
            E::CatalogConnect { .. } => spec(
                "CatalogConnect",
                Get,
                Scope::Discovery,
                "v1.catalog.connect._",
            ),
            E::CatalogNode { .. } => {
                spec("CatalogNode", Get, Scope::Discovery, "v1.catalog.node._")
            }
            E::HealthService { .. } => spec(
                "HealthService",
                Get,
                Scope::Discovery,
                "v1.health.service._",
            ),
            E::HealthChecks { .. } => {
                spec("HealthChecks", Get, Scope::Discovery, "v1.health.checks._")
            }
            E::HealthNode { .. } => spec("HealthNode", Get, Scope::Discovery, "v1.health.node._"),
            E::HealthState { .. } => {
                spec("HealthState", Get, Scope::Discovery, "v1.health.state._")
            }
            E::HealthConnect { .. } => spec(
                "HealthConnect",
                Get,
                Scope::Discovery,
                "v1.health.connect._",
            ),
            E::HealthIngress { .. } => spec(
                "HealthIngress",
                Get,
                Scope::Discovery,
                "v1.health.ingress._",
            ),
            E::UiServices => spec("UiServices", Get, Scope::Leader, "v1.internal.ui.services"),
            E::UiNodes => spec("UiNodes", Get, Scope::Leader, "v1.internal.ui.nodes"),
            E::UiNode { .. } => spec("UiNode", Get, Scope::Leader, "v1.internal.ui.node._"),
            E::AclAuthorize => spec(
                "AclAuthorize",
                PostPut,
                Scope::Agent,
                "v1.internal.acl.authorize",
            ),
            E::RaftConfiguration => spec(
                "RaftConfiguration",
                Get,
                Scope::Leader,
                "v1.operator.raft.configuration",
            ),
            E::RaftTransferLeader => spec(
                "RaftTransferLeader",
                PostPut,
                Scope::Leader,
                "v1.operator.raft.transfer-leader",
            ),
            E::RaftPeer => spec("RaftPeer", Delete, Scope::Leader, "v1.operator.raft.peer"),
            E::AutopilotHealth => spec(
                "AutopilotHealth",
                Get,
                Scope::Leader,
                "v1.operator.autopilot.health",
            ),
            E::AutopilotConfiguration => spec(
                "AutopilotConfiguration",
                Get,
                Scope::Leader,
                "v1.operator.autopilot.configuration",
            ),
            E::KeyringList => spec(
                "KeyringList",
                GetPostPutDelete,
                Scope::Agent,
                "v1.operator.keyring",
            ),
            E::KeyringInstall => spec(
                "KeyringInstall",
                GetPostPutDelete,
                Scope::Agent,
                "v1.operator.keyring",
            ),
            E::KeyringUse => spec(
                "KeyringUse",
                GetPostPutDelete,
                Scope::Agent,
                "v1.operator.keyring",
            ),
            E::KeyringRemove => spec(
                "KeyringRemove",
                GetPostPutDelete,
                Scope::Agent,
                "v1.operator.keyring",
            ),
            E::AgentSelf => spec("AgentSelf", Get, Scope::Agent, "v1.agent.self"),
            E::AgentMembers => spec("AgentMembers", Get, Scope::Agent, "v1.agent.members"),
            E::AgentServices => spec("AgentServices", Get, Scope::Agent, "v1.agent.services"),
            E::AgentChecks => spec("AgentChecks", Get, Scope::Agent, "v1.agent.checks"),
            E::AgentServiceRegister => spec(
                "AgentServiceRegister",
                Put,
                Scope::Agent,
                "v1.agent.service.register",
            ),
            E::AgentCheckRegister => spec(
                "AgentCheckRegister",
                Put,
                Scope::Agent,
                "v1.agent.check.register",
            ),
            E::AgentMetrics => spec("AgentMetrics", Get, Scope::Agent, "v1.agent.metrics"),
            E::AgentLeave => spec("AgentLeave", Put, Scope::Agent, "v1.agent.leave"),
            E::AgentReload => spec("AgentReload", Put, Scope::Agent, "v1.agent.reload"),
            E::AgentMaintenance => spec(
                "AgentMaintenance",
                Put,
                Scope::Agent,
                "v1.agent.maintenance",
            ),
            E::AgentServiceDeregister { .. } => spec(
                "AgentServiceDeregister",
                Put,
                Scope::Agent,
                "v1.agent.service.deregister._",
            ),
            E::AgentServiceMaintenance { .. } => spec(
                "AgentServiceMaintenance",
                Put,
                Scope::Agent,
                "v1.agent.service.maintenance._",
            ),
            E::AgentCheckDeregister { .. } => spec(
                "AgentCheckDeregister",
                Put,
                Scope::Agent,
                "v1.agent.check.deregister._",
            ),
            E::AgentCheckPass { .. } => {
                spec("AgentCheckPass", Put, Scope::Agent, "v1.agent.check.pass._")
            }
            E::AgentCheckWarn { .. } => {
                spec("AgentCheckWarn", Put, Scope::Agent, "v1.agent.check.warn._")
            }
            E::AgentCheckFail { .. } => {
                spec("AgentCheckFail", Put, Scope::Agent, "v1.agent.check.fail._")
            }
            E::AgentCheckUpdate { .. } => spec(
                "AgentCheckUpdate",
                Put,
                Scope::Agent,
                "v1.agent.check.update._",
            ),
            E::AgentService { .. } => spec("AgentService", Get, Scope::Agent, "v1.agent.service._"),
            E::AgentHealthById { .. } => spec(
                "AgentHealthById",
                Get,
                Scope::Agent,
                "v1.agent.health.service.id._",
            ),
            E::AgentHealthByName { .. } => spec(
                "AgentHealthByName",
                Get,
                Scope::Agent,
                "v1.agent.health.service.name._",
            ),
            E::AgentToken { .. } => spec("AgentToken", Put, Scope::Agent, "v1.agent.token._"),
            E::AgentJoin { .. } => spec("AgentJoin", Put, Scope::Agent, "v1.agent.join._"),
            E::AgentForceLeave { .. } => spec(
                "AgentForceLeave",
                Put,
                Scope::Agent,
                "v1.agent.force-leave._",
            ),
            // Answered by the receiving agent, which fills in its own node as the default
            // (Consul's agent does the same before its RPC); the write then travels on.
            E::SessionCreate => spec("SessionCreate", Put, Scope::Agent, "v1.session.create"),
            E::SessionDestroy { .. } => {
                spec("SessionDestroy", Put, Scope::Leader, "v1.session.destroy._")
            }
            E::SessionRenew { .. } => {
                spec("SessionRenew", Put, Scope::Leader, "v1.session.renew._")
            }
            E::SessionInfo { .. } => spec("SessionInfo", Get, Scope::Leader, "v1.session.info._"),
            E::SessionNode { .. } => spec("SessionNode", Get, Scope::Leader, "v1.session.node._"),
            E::SessionList => spec("SessionList", Get, Scope::Leader, "v1.session.list"),
            E::QueryList => spec("QueryList", GetPost, Scope::Leader, "v1.query"),
            E::QueryCreate => spec("QueryCreate", GetPost, Scope::Leader, "v1.query"),
            E::QueryRead { .. } => spec("QueryRead", GetPutDelete, Scope::Leader, "v1.query._"),
            E::QueryUpdate { .. } => spec("QueryUpdate", GetPutDelete, Scope::Leader, "v1.query._"),
            E::QueryDelete { .. } => spec("QueryDelete", GetPutDelete, Scope::Leader, "v1.query._"),
            E::QueryExecute { .. } => {
                spec("QueryExecute", Get, Scope::Leader, "v1.query._.execute")
            }
            E::QueryExplain { .. } => {
                spec("QueryExplain", Get, Scope::Leader, "v1.query._.explain")
            }
            E::Txn => spec("Txn", Put, Scope::Leader, "v1.txn"),
            // Events travel by gossip from the receiving agent, and each agent lists its own.
            E::EventFire { .. } => spec("EventFire", Put, Scope::Agent, "v1.event.fire._"),
            E::EventList => spec("EventList", Get, Scope::Agent, "v1.event.list"),
            E::AclBootstrap => spec("AclBootstrap", Put, Scope::Leader, "v1.acl.bootstrap"),
            E::AclReplication => spec(
                "AclReplication",
                Get,
                Scope::AnyServer,
                "v1.acl.replication",
            ),
            E::AclTokenCreate => spec("AclTokenCreate", Put, Scope::Leader, "v1.acl.token"),
            E::AclTokenSelf => spec("AclTokenSelf", Get, Scope::Leader, "v1.acl.token.self"),
            E::AclTokenRead { .. } => spec(
                "AclTokenRead",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.token._",
            ),
            E::AclTokenUpdate { .. } => spec(
                "AclTokenUpdate",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.token._",
            ),
            E::AclTokenDelete { .. } => spec(
                "AclTokenDelete",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.token._",
            ),
            E::AclTokenClone { .. } => {
                spec("AclTokenClone", Put, Scope::Leader, "v1.acl.token._.clone")
            }
            E::AclTokens => spec("AclTokens", Get, Scope::Leader, "v1.acl.tokens"),
            E::AclPolicyCreate => spec("AclPolicyCreate", Put, Scope::Leader, "v1.acl.policy"),
            E::AclPolicyRead { .. } => spec(
                "AclPolicyRead",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.policy._",
            ),
            E::AclPolicyUpdate { .. } => spec(
                "AclPolicyUpdate",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.policy._",
            ),
            E::AclPolicyDelete { .. } => spec(
                "AclPolicyDelete",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.policy._",
            ),
            E::AclPolicyByName { .. } => spec(
                "AclPolicyByName",
                Get,
                Scope::Leader,
                "v1.acl.policy.name._",
            ),
            E::AclPolicies => spec("AclPolicies", Get, Scope::Leader, "v1.acl.policies"),
            E::AclRoleCreate => spec("AclRoleCreate", Put, Scope::Leader, "v1.acl.role"),
            E::AclRoleRead { .. } => {
                spec("AclRoleRead", GetPutDelete, Scope::Leader, "v1.acl.role._")
            }
            E::AclRoleUpdate { .. } => spec(
                "AclRoleUpdate",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.role._",
            ),
            E::AclRoleDelete { .. } => spec(
                "AclRoleDelete",
                GetPutDelete,
                Scope::Leader,
                "v1.acl.role._",
            ),
            E::AclRoleByName { .. } => {
                spec("AclRoleByName", Get, Scope::Leader, "v1.acl.role.name._")
            }
            E::AclRoles => spec("AclRoles", Get, Scope::Leader, "v1.acl.roles"),
            E::AclLogin => spec("AclLogin", Post, Scope::Leader, "v1.acl.login"),
            E::AclLogout => spec("AclLogout", Post, Scope::Leader, "v1.acl.logout"),
            E::StatusLeader => spec("StatusLeader", Get, Scope::AnyServer, "v1.status.leader"),
            E::StatusPeers => spec("StatusPeers", Get, Scope::AnyServer, "v1.status.peers"),
            E::Root => spec("Root", Any, Scope::Agent, ""),
            E::UiRedirect => spec("UiRedirect", Any, Scope::Agent, "ui"),
            E::Ui { .. } => spec("Ui", GetHead, Scope::Agent, "ui"),
            E::Options(m) => spec("Options", *m, Scope::Agent, "_"),
        }
    }

    /// The methods this route takes.
    pub fn methods(&self) -> Methods {
        self.spec().methods
    }

    /// Whether the answer comes from the replicated state, so a client agent forwards the
    /// whole call to a server. `/v1/agent/*` is this agent's own view and stays here.
    pub fn forwarded(&self) -> bool {
        self.spec().scope != Scope::Agent
    }

    /// Whether a follower sends this call to its leader (unless it is a stale read within
    /// its bound): everything forwarded but `/v1/status/*`, which every server answers
    /// itself, as Consul's do.
    pub fn leader_answers(&self) -> bool {
        matches!(self.spec().scope, Scope::Leader | Scope::Discovery)
    }

    /// Whether `discovery_max_stale` applies: the catalog and health routes.
    pub fn discovery_read(&self) -> bool {
        self.spec().scope == Scope::Discovery
    }

    /// The variant's name, for logs and tests.
    pub fn name(&self) -> &'static str {
        self.spec().name
    }

    /// The path label of Consul's per-route HTTP metrics (`consul.http.<METHOD>.<path>`,
    /// labels `method` and `path` in `consul.api.http`): the path with dots for slashes
    /// and `_` for names, IDs and keys. Declared for the per-route series; the agent
    /// records only the totals `consul.http.requests` and `consul.http.request` today.
    pub fn metric_path(&self) -> &'static str {
        self.spec().metric
    }
}
