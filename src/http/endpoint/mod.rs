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
    /// `PUT` only (agent and catalog writes).
    Put,
    /// `DELETE` only.
    Delete,
    /// `POST` or `PUT` (leadership transfer).
    PostPut,
    /// The KV store's three.
    GetPutDelete,
    /// Any method, OPTIONS included (the UI pages and `agent/token/*`, which answer every
    /// method alike).
    Any,
}

impl Methods {
    /// Whether `m` is accepted.
    pub fn allows(self, m: &Method) -> bool {
        match self {
            Methods::Get => m == Method::GET,
            Methods::Put => m == Method::PUT,
            Methods::Delete => m == Method::DELETE,
            Methods::PostPut => m == Method::POST || m == Method::PUT,
            Methods::GetPutDelete => m == Method::GET || m == Method::PUT || m == Method::DELETE,
            Methods::Any => true,
        }
    }

    /// The `Allow` header value: OPTIONS first, then the accepted methods.
    pub fn allow_header(self) -> &'static str {
        match self {
            Methods::Get => "OPTIONS,GET",
            Methods::Put => "OPTIONS,PUT",
            Methods::Delete => "OPTIONS,DELETE",
            Methods::PostPut => "OPTIONS,POST,PUT",
            Methods::GetPutDelete => "OPTIONS,GET,PUT,DELETE",
            Methods::Any => "OPTIONS,GET,PUT,POST,DELETE",
        }
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
    /// `/v1/agent/token/<type>`, any method: `401 ACL support disabled`.
    AgentToken,
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
    /// `GET /v1/status/leader`.
    StatusLeader,
    /// `GET /v1/status/peers`.
    StatusPeers,
    /// `/`, any method: Consul's "UI disabled" page.
    Root,
    /// `/ui` and `/ui/...`, any method: the web UI is not bundled.
    Ui,
    /// `OPTIONS` on a route that does not take it: 200 with the route's `Allow` header.
    Options(Methods),
}

impl Endpoint<'_> {
    /// The methods this route takes.
    pub fn methods(&self) -> Methods {
        use Endpoint as E;
        match self {
            E::KvGet { .. } | E::KvPut { .. } | E::KvDelete { .. } => Methods::GetPutDelete,
            E::CatalogRegister
            | E::CatalogDeregister
            | E::AgentServiceRegister
            | E::AgentCheckRegister
            | E::AgentLeave
            | E::AgentReload
            | E::AgentMaintenance
            | E::AgentServiceDeregister { .. }
            | E::AgentServiceMaintenance { .. }
            | E::AgentCheckDeregister { .. }
            | E::AgentCheckPass { .. }
            | E::AgentCheckWarn { .. }
            | E::AgentCheckFail { .. }
            | E::AgentCheckUpdate { .. }
            | E::AgentJoin { .. }
            | E::AgentForceLeave { .. } => Methods::Put,
            E::RaftTransferLeader => Methods::PostPut,
            E::RaftPeer => Methods::Delete,
            E::AgentToken | E::Root | E::Ui => Methods::Any,
            E::Options(m) => *m,
            E::CatalogDatacenters
            | E::CatalogNodes
            | E::CatalogServices
            | E::CatalogService { .. }
            | E::CatalogConnect { .. }
            | E::CatalogNode { .. }
            | E::HealthService { .. }
            | E::HealthChecks { .. }
            | E::HealthNode { .. }
            | E::HealthState { .. }
            | E::HealthConnect { .. }
            | E::HealthIngress { .. }
            | E::UiServices
            | E::RaftConfiguration
            | E::AutopilotHealth
            | E::AutopilotConfiguration
            | E::AgentSelf
            | E::AgentMembers
            | E::AgentServices
            | E::AgentChecks
            | E::AgentMetrics
            | E::AgentService { .. }
            | E::AgentHealthById { .. }
            | E::AgentHealthByName { .. }
            | E::StatusLeader
            | E::StatusPeers => Methods::Get,
        }
    }

    /// Whether the answer comes from the replicated state, so a client agent forwards the
    /// whole call to a server. `/v1/agent/*` is this agent's own view and stays here.
    pub fn forwarded(&self) -> bool {
        use Endpoint as E;
        match self {
            E::KvGet { .. }
            | E::KvPut { .. }
            | E::KvDelete { .. }
            | E::CatalogRegister
            | E::CatalogDeregister
            | E::CatalogDatacenters
            | E::CatalogNodes
            | E::CatalogServices
            | E::CatalogService { .. }
            | E::CatalogConnect { .. }
            | E::CatalogNode { .. }
            | E::HealthService { .. }
            | E::HealthChecks { .. }
            | E::HealthNode { .. }
            | E::HealthState { .. }
            | E::HealthConnect { .. }
            | E::HealthIngress { .. }
            | E::UiServices
            | E::RaftConfiguration
            | E::RaftTransferLeader
            | E::RaftPeer
            | E::AutopilotHealth
            | E::AutopilotConfiguration
            | E::StatusLeader
            | E::StatusPeers => true,
            E::AgentSelf
            | E::AgentMembers
            | E::AgentServices
            | E::AgentChecks
            | E::AgentServiceRegister
            | E::AgentCheckRegister
            | E::AgentMetrics
            | E::AgentLeave
            | E::AgentReload
            | E::AgentMaintenance
            | E::AgentServiceDeregister { .. }
            | E::AgentServiceMaintenance { .. }
            | E::AgentCheckDeregister { .. }
            | E::AgentCheckPass { .. }
            | E::AgentCheckWarn { .. }
            | E::AgentCheckFail { .. }
            | E::AgentCheckUpdate { .. }
            | E::AgentService { .. }
            | E::AgentHealthById { .. }
            | E::AgentHealthByName { .. }
            | E::AgentToken
            | E::AgentJoin { .. }
            | E::AgentForceLeave { .. }
            | E::Root
            | E::Ui
            | E::Options(_) => false,
        }
    }

    /// Whether a follower sends this call to its leader (unless it is a stale read within
    /// its bound): everything forwarded but `/v1/status/*`, which every server answers
    /// itself, as Consul's do.
    pub fn leader_answers(&self) -> bool {
        self.forwarded() && !matches!(self, Endpoint::StatusLeader | Endpoint::StatusPeers)
    }

    /// Whether `discovery_max_stale` applies: the catalog and health routes.
    pub fn discovery_read(&self) -> bool {
        use Endpoint as E;
        matches!(
            self,
            E::CatalogRegister
                | E::CatalogDeregister
                | E::CatalogDatacenters
                | E::CatalogNodes
                | E::CatalogServices
                | E::CatalogService { .. }
                | E::CatalogConnect { .. }
                | E::CatalogNode { .. }
                | E::HealthService { .. }
                | E::HealthChecks { .. }
                | E::HealthNode { .. }
                | E::HealthState { .. }
                | E::HealthConnect { .. }
                | E::HealthIngress { .. }
        )
    }

    /// The variant's name, for logs and tests.
    pub fn name(&self) -> &'static str {
        use Endpoint as E;
        match self {
            E::KvGet { .. } => "KvGet",
            E::KvPut { .. } => "KvPut",
            E::KvDelete { .. } => "KvDelete",
            E::CatalogRegister => "CatalogRegister",
            E::CatalogDeregister => "CatalogDeregister",
            E::CatalogDatacenters => "CatalogDatacenters",
            E::CatalogNodes => "CatalogNodes",
            E::CatalogServices => "CatalogServices",
            E::CatalogService { .. } => "CatalogService",
            E::CatalogConnect { .. } => "CatalogConnect",
            E::CatalogNode { .. } => "CatalogNode",
            E::HealthService { .. } => "HealthService",
            E::HealthChecks { .. } => "HealthChecks",
            E::HealthNode { .. } => "HealthNode",
            E::HealthState { .. } => "HealthState",
            E::HealthConnect { .. } => "HealthConnect",
            E::HealthIngress { .. } => "HealthIngress",
            E::UiServices => "UiServices",
            E::RaftConfiguration => "RaftConfiguration",
            E::RaftTransferLeader => "RaftTransferLeader",
            E::RaftPeer => "RaftPeer",
            E::AutopilotHealth => "AutopilotHealth",
            E::AutopilotConfiguration => "AutopilotConfiguration",
            E::AgentSelf => "AgentSelf",
            E::AgentMembers => "AgentMembers",
            E::AgentServices => "AgentServices",
            E::AgentChecks => "AgentChecks",
            E::AgentServiceRegister => "AgentServiceRegister",
            E::AgentCheckRegister => "AgentCheckRegister",
            E::AgentMetrics => "AgentMetrics",
            E::AgentLeave => "AgentLeave",
            E::AgentReload => "AgentReload",
            E::AgentMaintenance => "AgentMaintenance",
            E::AgentServiceDeregister { .. } => "AgentServiceDeregister",
            E::AgentServiceMaintenance { .. } => "AgentServiceMaintenance",
            E::AgentCheckDeregister { .. } => "AgentCheckDeregister",
            E::AgentCheckPass { .. } => "AgentCheckPass",
            E::AgentCheckWarn { .. } => "AgentCheckWarn",
            E::AgentCheckFail { .. } => "AgentCheckFail",
            E::AgentCheckUpdate { .. } => "AgentCheckUpdate",
            E::AgentService { .. } => "AgentService",
            E::AgentHealthById { .. } => "AgentHealthById",
            E::AgentHealthByName { .. } => "AgentHealthByName",
            E::AgentToken => "AgentToken",
            E::AgentJoin { .. } => "AgentJoin",
            E::AgentForceLeave { .. } => "AgentForceLeave",
            E::StatusLeader => "StatusLeader",
            E::StatusPeers => "StatusPeers",
            E::Root => "Root",
            E::Ui => "Ui",
            E::Options(_) => "Options",
        }
    }

    /// The path label of Consul's per-route HTTP metrics (`consul.http.<METHOD>.<path>`,
    /// labels `method` and `path` in `consul.api.http`): the path with dots for slashes
    /// and `_` for names, IDs and keys. Declared for the per-route series; the agent
    /// records only the totals `consul.http.requests` and `consul.http.request` today.
    pub fn metric_path(&self) -> &'static str {
        use Endpoint as E;
        match self {
            E::KvGet { .. } | E::KvPut { .. } | E::KvDelete { .. } => "v1.kv._",
            E::CatalogRegister => "v1.catalog.register",
            E::CatalogDeregister => "v1.catalog.deregister",
            E::CatalogDatacenters => "v1.catalog.datacenters",
            E::CatalogNodes => "v1.catalog.nodes",
            E::CatalogServices => "v1.catalog.services",
            E::CatalogService { .. } => "v1.catalog.service._",
            E::CatalogConnect { .. } => "v1.catalog.connect._",
            E::CatalogNode { .. } => "v1.catalog.node._",
            E::HealthService { .. } => "v1.health.service._",
            E::HealthChecks { .. } => "v1.health.checks._",
            E::HealthNode { .. } => "v1.health.node._",
            E::HealthState { .. } => "v1.health.state._",
            E::HealthConnect { .. } => "v1.health.connect._",
            E::HealthIngress { .. } => "v1.health.ingress._",
            E::UiServices => "v1.internal.ui.services",
            E::RaftConfiguration => "v1.operator.raft.configuration",
            E::RaftTransferLeader => "v1.operator.raft.transfer-leader",
            E::RaftPeer => "v1.operator.raft.peer",
            E::AutopilotHealth => "v1.operator.autopilot.health",
            E::AutopilotConfiguration => "v1.operator.autopilot.configuration",
            E::AgentSelf => "v1.agent.self",
            E::AgentMembers => "v1.agent.members",
            E::AgentServices => "v1.agent.services",
            E::AgentChecks => "v1.agent.checks",
            E::AgentServiceRegister => "v1.agent.service.register",
            E::AgentCheckRegister => "v1.agent.check.register",
            E::AgentMetrics => "v1.agent.metrics",
            E::AgentLeave => "v1.agent.leave",
            E::AgentReload => "v1.agent.reload",
            E::AgentMaintenance => "v1.agent.maintenance",
            E::AgentServiceDeregister { .. } => "v1.agent.service.deregister._",
            E::AgentServiceMaintenance { .. } => "v1.agent.service.maintenance._",
            E::AgentCheckDeregister { .. } => "v1.agent.check.deregister._",
            E::AgentCheckPass { .. } => "v1.agent.check.pass._",
            E::AgentCheckWarn { .. } => "v1.agent.check.warn._",
            E::AgentCheckFail { .. } => "v1.agent.check.fail._",
            E::AgentCheckUpdate { .. } => "v1.agent.check.update._",
            E::AgentService { .. } => "v1.agent.service._",
            E::AgentHealthById { .. } => "v1.agent.health.service.id._",
            E::AgentHealthByName { .. } => "v1.agent.health.service.name._",
            E::AgentToken => "v1.agent.token._",
            E::AgentJoin { .. } => "v1.agent.join._",
            E::AgentForceLeave { .. } => "v1.agent.force-leave._",
            E::StatusLeader => "v1.status.leader",
            E::StatusPeers => "v1.status.peers",
            E::Root => "",
            E::Ui => "ui",
            E::Options(_) => "_",
        }
    }
}
