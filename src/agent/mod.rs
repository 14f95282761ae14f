//! The agent: one per host. It owns this node's identity, its locally registered services and
//! checks (persisted in `data_dir` and synced into the catalog), and, on servers, the Raft
//! member that holds the catalog and KV store.

pub mod acl;
mod bootstrap;
mod definitions;
mod events;
mod health;
pub mod launch;
mod local;
mod membership;
pub mod metrics;
mod reconcile;
mod router;
pub(crate) mod session_ttl;
mod sync;
pub mod wan;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use parking_lot::{Mutex, RwLock};
use tracing::{info, warn};

pub use events::FireError;
pub use health::{NODE_MAINTENANCE_ID, SERVICE_MAINTENANCE_PREFIX};
pub use local::{Local, Source};
pub use membership::member_tags;
pub use metrics::Metrics;
pub use reconcile::SERF_FAILED_OUTPUT;

use crate::config::AgentConfig;
use crate::consensus::{Consensus, ConsensusError, ConsensusOptions, raft_id};
use crate::state::{
    Check, CheckTuning, Command, KvOp, Node, Response, Service, SharedStore, TxnError, TxnOp,
    TxnOutcome,
};

/// Version disco reports where Consul clients expect Consul's (they gate features on it).
pub const CONSUL_VERSION: &str = "1.21.0";

/// Errors of agent operations, classified for the HTTP layer.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The thing named does not exist (404).
    #[error("{0}")]
    NotFound(String),
    /// The request is invalid (400).
    #[error("{0}")]
    BadRequest(String),
    /// No leader to commit through (500 `No cluster leader`).
    #[error("No cluster leader")]
    NoLeader,
    /// The write's token may not do it (403).
    #[error("{0}")]
    PermissionDenied(String),
    /// `?dc=` names a datacenter with no alive server known (500, Consul's text).
    #[error("No path to datacenter")]
    NoPathToDatacenter,
    /// `?dc=` names a datacenter whose servers are all failed (500, Consul's text).
    #[error("Remote DC has no server currently reachable")]
    DatacenterUnavailable,
    /// This agent is not a server and knows none (500).
    #[error("No known Consul servers")]
    NoServers,
    /// Anything else (500).
    #[error("{0}")]
    Internal(String),
}

impl From<local::LocalError> for AgentError {
    fn from(e: local::LocalError) -> Self {
        AgentError::Internal(e.to_string())
    }
}

impl From<ConsensusError> for AgentError {
    fn from(e: ConsensusError) -> Self {
        match e {
            ConsensusError::NoLeader | ConsensusError::ForwardTo(_) => AgentError::NoLeader,
            other => AgentError::Internal(other.to_string()),
        }
    }
}

/// A running agent.
pub struct Agent {
    /// Effective configuration.
    pub cfg: AgentConfig,
    /// Node UUID.
    pub node_id: String,
    /// Address advertised for this node.
    pub advertise: IpAddr,
    /// When the agent started.
    pub started: Instant,
    /// The Raft member (servers only).
    pub consensus: Option<Consensus>,
    /// The state store (empty on clients).
    pub store: Arc<SharedStore>,
    /// Counters and latencies for `/v1/agent/metrics`.
    pub metrics: Metrics,
    /// LAN gossip member (`None` only with `ports.serf_lan = -1`).
    pub gossip: Option<crate::gossip::Gossip>,
    /// WAN gossip and cross-datacenter routing (servers with `ports.serf_wan` ≥ 0).
    pub wan: Option<wan::Wan>,
    rpc: Arc<crate::rpc::Pool>,
    rr: AtomicUsize,
    local: RwLock<Local>,
    health: health::Health,
    /// Wakes the anti-entropy loop for a full sync now.
    sync_now: tokio::sync::Notify,
    /// Session TTL deadlines, kept while this server leads.
    pub session_timers: session_ttl::SessionTimers,
    /// The user events delivered to this agent, for `/v1/event/list`.
    pub events: crate::state::EventRing,
    /// Token resolution and the agent's own tokens.
    pub acl: acl::AclResolver,
    /// Certificates and TLS configurations (HTTPS, the server RPC).
    pub tls: crate::tls::AgentTls,
    shutdown: tokio::sync::watch::Sender<bool>,
    fatal: Mutex<Option<String>>,
    failed_since: Mutex<HashMap<String, Instant>>,
    /// Catalog nodes with a `serfHealth` check that this leader's gossip does not know, and
    /// since when: reaped only after [`reconcile::REAP_GRACE`], so a leader that has not yet
    /// heard of a member that just joined does not deregister it (and end its sessions).
    unknown_since: Mutex<HashMap<String, Instant>>,
    servers_cache: Mutex<(u64, Vec<std::net::SocketAddr>)>,
    /// Servers whose last RPC failed at the connection level, and when: tried last for a
    /// while, so one dead or frozen server does not cost every third forwarded call a
    /// failed dial or a full timeout.
    servers_failed: Mutex<HashMap<std::net::SocketAddr, Instant>>,
    /// Held (asynchronously) by one local-state change at a time from its sled writes to the
    /// end of its flush. sled 0.34 deadlocks when several threads insert and flush while the
    /// Raft log applies a batch (seen under concurrent registrations), so changes persist
    /// one after another, as they did under the `local` lock, but without holding that lock
    /// or a runtime worker through the fsync.
    local_persist: tokio::sync::Mutex<()>,
}

fn load_or_create_node_id(cfg: &AgentConfig) -> std::io::Result<String> {
    if let Some(id) = &cfg.node_id {
        return Ok(id.clone());
    }
    let Some(dir) = &cfg.data_dir else {
        return Ok(uuid::Uuid::new_v4().to_string());
    };
    let path = dir.join("node-id");
    if let Ok(s) = std::fs::read_to_string(&path) {
        let s = s.trim();
        if uuid::Uuid::parse_str(s).is_ok() {
            return Ok(s.to_string());
        }
    }
    let id = uuid::Uuid::new_v4().to_string();
    std::fs::write(&path, &id)?;
    Ok(id)
}

fn open_db(data_dir: Option<&Path>) -> Result<sled::Db, AgentError> {
    match data_dir {
        // sled caches up to 1 GiB by default; the hot data (the catalog and KV) is already in
        // memory in the state store, so a small cache for the log tail is enough.
        Some(dir) => sled::Config::new()
            .path(dir.join("disco.sled"))
            .cache_capacity(64 * 1024 * 1024)
            .mode(sled::Mode::HighThroughput)
            .open(),
        None => sled::Config::new().temporary(true).open(),
    }
    .map_err(|e| AgentError::Internal(format!("opening data_dir: {e}")))
}

impl Agent {
    /// Start the agent's storage and Raft member. Listeners are started by the caller.
    pub async fn start(cfg: AgentConfig) -> Result<Arc<Agent>, AgentError> {
        // TLS material first: a missing or mismatched certificate stops the start before
        // any state is opened.
        let tls =
            crate::tls::AgentTls::load(&cfg).map_err(|e| AgentError::Internal(e.to_string()))?;
        if let Some(dir) = &cfg.data_dir {
            std::fs::create_dir_all(dir).map_err(|e| {
                AgentError::Internal(format!("creating data_dir {}: {e}", dir.display()))
            })?;
        }
        let node_id = load_or_create_node_id(&cfg)
            .map_err(|e| AgentError::Internal(format!("node-id: {e}")))?;
        let advertise = cfg.advertise();
        let db = open_db(cfg.data_dir.as_deref())?;
        let durable = cfg.data_dir.is_some();
        let local = Local::open(&db, durable)
            .map_err(|e| AgentError::Internal(format!("local state: {e}")))?;

        let pool = Arc::new(crate::rpc::Pool::with_tls(tls.rpc_dial.clone()));
        let (consensus, store) = if cfg.server {
            let c = Consensus::start(
                ConsensusOptions {
                    id: raft_id(&node_id),
                    node_name: cfg.node_name.clone(),
                    node_uuid: node_id.clone(),
                    rpc_addr: format!("{}:{}", advertise, cfg.ports.server),
                    dev_timing: cfg.dev,
                    pool: pool.clone(),
                    snapshot_threshold: cfg.raft_snapshot_threshold,
                    trailing_logs: cfg.raft_trailing_logs,
                    snapshot_file: cfg.data_dir.as_ref().map(|d| d.join("raft-snapshot.bin")),
                    snapshot_interval: cfg.raft_snapshot_interval,
                    raft_multiplier: cfg.raft_multiplier,
                },
                db.clone(),
                durable,
            )
            .await?;
            let store = c.store.clone();
            (Some(c), store)
        } else {
            (None, Arc::new(SharedStore::new()))
        };

        let gossip = if cfg.ports.serf_lan >= 0 {
            let gc = membership::gossip_config(&cfg, &node_id, advertise)?;
            Some(
                crate::gossip::Gossip::start(gc)
                    .await
                    .map_err(|e| AgentError::Internal(e.to_string()))?,
            )
        } else {
            None
        };

        let wan = if cfg.server && cfg.ports.serf_wan >= 0 {
            Some(wan::Wan::start(wan::gossip_config(&cfg, &node_id, advertise)?).await?)
        } else {
            None
        };

        let (shutdown, _) = tokio::sync::watch::channel(false);
        let cfg_tokens = acl::load_persisted_tokens(&cfg);
        let agent = Arc::new(Agent {
            cfg,
            node_id,
            advertise,
            started: Instant::now(),
            consensus,
            store,
            metrics: Metrics::default(),
            gossip,
            wan,
            rpc: pool,
            rr: AtomicUsize::new(0),
            local: RwLock::new(local),
            health: health::Health::new(),
            sync_now: tokio::sync::Notify::new(),
            session_timers: session_ttl::SessionTimers::default(),
            events: crate::state::EventRing::default(),
            acl: acl::AclResolver::new(cfg_tokens),
            tls,
            shutdown,
            fatal: Mutex::new(None),
            failed_since: Mutex::new(HashMap::new()),
            unknown_since: Mutex::new(HashMap::new()),
            servers_cache: Mutex::new((u64::MAX, Vec::new())),
            servers_failed: Mutex::new(HashMap::new()),
            local_persist: tokio::sync::Mutex::new(()),
        });
        // Services registered with a token before a restart keep syncing with it.
        agent.load_service_tokens();

        if let Some(c) = &agent.consensus
            && (agent.cfg.dev || agent.cfg.bootstrap || agent.cfg.bootstrap_expect == 1)
        {
            c.bootstrap_single().await?;
            // A lone server leads within one election timeout: register this node before the
            // API opens, so the first client read already sees it.
            if c.wait_for_leader(Duration::from_secs(10)).await {
                agent.acl_establish().await;
                if let Err(e) = agent.reconcile().await {
                    warn!("agent: reconcile: {e}");
                }
                if let Err(e) = agent.sync_full().await {
                    warn!("agent: failed to sync remote state: {e}");
                }
            }
        } else if agent.cfg.server && agent.cfg.bootstrap_expect > 1 {
            info!(
                "bootstrap_expect > 0: expecting {} servers",
                agent.cfg.bootstrap_expect
            );
        }

        // Services and checks from config files, then the probes and TTL timers of every
        // local check (restored ones included).
        agent
            .register_definitions(&agent.cfg.definitions.clone())
            .await?;
        for c in agent.local_checks() {
            agent.start_check(&c);
        }

        if let Some(rx) = agent.gossip.as_ref().and_then(|g| g.take_events()) {
            tokio::spawn(agent.clone().event_loop(rx));
        }
        if agent.wan.is_some() {
            tokio::spawn(agent.clone().wan_loop());
        }
        let bg = agent.clone();
        tokio::spawn(async move { bg.sync_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.status_push_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.reap_critical_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.reconcile_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.bootstrap_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.acl_leader_loop().await });
        Ok(agent)
    }

    /// Node name.
    pub fn node_name(&self) -> &str {
        &self.cfg.node_name
    }

    /// Resolves when the agent is asked to stop (leave, signal).
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.shutdown.subscribe()
    }

    /// Ask every task of the agent to stop.
    pub fn request_shutdown(&self) {
        self.shutdown.send_replace(true);
    }

    /// Stop the agent because it cannot go on (the process exits 1 with `why`).
    pub fn fail(&self, why: String) {
        self.fatal.lock().get_or_insert(why);
        self.request_shutdown();
    }

    /// Why the agent stopped itself, if it did.
    pub fn fatal_error(&self) -> Option<String> {
        self.fatal.lock().clone()
    }

    /// Stop Raft and flush storage.
    pub async fn stop(&self) {
        self.health.stop_all();
        if let Some(c) = &self.consensus {
            c.shutdown().await;
        }
    }

    /// This node as a catalog row.
    pub fn self_node(&self) -> Node {
        let addr = self.advertise.to_string();
        let mut tagged = std::collections::BTreeMap::new();
        tagged.insert("lan".to_string(), addr.clone());
        tagged.insert("wan".to_string(), addr.clone());
        if self.advertise.is_ipv4() {
            tagged.insert("lan_ipv4".to_string(), addr.clone());
            tagged.insert("wan_ipv4".to_string(), addr.clone());
        } else {
            tagged.insert("lan_ipv6".to_string(), addr.clone());
            tagged.insert("wan_ipv6".to_string(), addr.clone());
        }
        let mut meta = self.cfg.node_meta.clone();
        meta.insert("consul-network-segment".into(), String::new());
        meta.insert("consul-version".into(), CONSUL_VERSION.into());
        Node {
            id: self.node_id.clone(),
            node: self.cfg.node_name.clone().into(),
            address: addr,
            datacenter: self.cfg.datacenter.clone(),
            tagged_addresses: tagged,
            meta,
            create_index: 0,
            modify_index: 0,
        }
    }

    // ---- writes through Raft ----

    /// Commit one of the agent's own writes through Raft (with the agent's token when it
    /// travels to a server) and return its result.
    pub async fn write(&self, cmd: Command) -> Result<Response, AgentError> {
        let token = self.agent_token();
        self.write_inner(cmd, true, &token).await
    }

    /// Commit a caller's write: `token` travels with it when it goes to a server, which
    /// decides with it.
    pub async fn write_as(&self, cmd: Command, token: &str) -> Result<Response, AgentError> {
        self.write_inner(cmd, true, token).await
    }

    /// Commit a command on this server only if it leads: the server RPC's `Apply` uses it, so
    /// a command forwarded once is never forwarded again (no loops while leadership moves).
    pub async fn write_here(&self, cmd: Command, token: &str) -> Result<Response, AgentError> {
        self.write_inner(cmd, false, token).await
    }

    async fn write_inner(
        &self,
        cmd: Command,
        may_forward: bool,
        token: &str,
    ) -> Result<Response, AgentError> {
        let Some(c) = &self.consensus else {
            return self.forward_apply(cmd, token).await;
        };
        // Lock-delay is the leader's to enforce, before the entry is appended (Consul's
        // `kvsPreApply`): the state machine never reads a clock.
        if let Command::Kv(KvOp::Lock { key, .. }) = &cmd
            && c.is_leader()
            && let Some(left) = self.store.lock_delays().remaining(key)
        {
            info!(
                "agent: rejecting lock of {key:?} due to lock-delay until {:?} from now",
                left
            );
            return Ok(Response::Bool(false));
        }
        if let Command::Txn(ops) = &cmd
            && c.is_leader()
        {
            let errors: Vec<TxnError> = ops
                .iter()
                .enumerate()
                .filter_map(|(i, op)| match op {
                    TxnOp::Kv(kv) if kv.verb == "lock" => self
                        .store
                        .lock_delays()
                        .remaining(&kv.key)
                        .map(|_| TxnError {
                            op_index: i,
                            what: format!("failed to lock key {:?} due to lock delay", kv.key),
                        }),
                    _ => None,
                })
                .collect();
            if !errors.is_empty() {
                return Ok(Response::Txn(TxnOutcome {
                    results: Vec::new(),
                    errors,
                }));
            }
        }
        let start = Instant::now();
        let res = c.write(cmd.clone()).await;
        self.metrics.observe("consul.raft.apply", start.elapsed());
        let (resp, _) = match res {
            Err(ConsensusError::ForwardTo(leader)) if may_forward && leader != c.rpc_addr() => {
                return self.forward_apply_to(&leader, cmd, token).await;
            }
            Err(ConsensusError::ForwardTo(_)) => return Err(AgentError::NoLeader),
            r => r?,
        };
        match resp {
            Response::Error(e) => Err(AgentError::BadRequest(e)),
            r => Ok(r),
        }
    }

    /// Fail unless a leader is known (default-mode reads).
    pub fn require_leader(&self) -> Result<(), AgentError> {
        match &self.consensus {
            None if self.server_addrs().is_empty() => Err(AgentError::NoServers),
            None => Ok(()),
            Some(c) if c.leader_addr().is_some() => Ok(()),
            Some(_) => Err(AgentError::NoLeader),
        }
    }

    /// Confirm leadership with a quorum (`?consistent` reads).
    pub async fn linearize(&self) -> Result<(), AgentError> {
        let Some(c) = &self.consensus else {
            return Err(AgentError::NoServers);
        };
        Ok(c.linearize().await?)
    }

    // ---- local services and checks ----

    /// Apply `change` to the local state and make it durable before returning. The `local`
    /// write guard covers the change alone (check tasks and every agent endpoint read it);
    /// the sled flush runs after it is dropped, under `local_persist`, one change at a time.
    async fn change_local<R>(
        &self,
        change: impl FnOnce(&mut Local) -> Result<R, local::LocalError>,
    ) -> Result<R, AgentError> {
        let _persisting = self.local_persist.lock().await;
        let (out, unflushed) = {
            let mut l = self.local.write();
            let out = change(&mut l)?;
            (out, l.take_unflushed())
        };
        if let Some(db) = unflushed {
            db.flush_async()
                .await
                .map_err(|e| AgentError::Internal(format!("local state: {e}")))?;
        }
        Ok(out)
    }

    /// Services registered on this agent, by ID.
    pub fn local_services(&self) -> Vec<Service> {
        self.local.read().services().cloned().collect()
    }

    /// One local service.
    pub fn local_service(&self, id: &str) -> Option<Service> {
        self.local.read().service(id).cloned()
    }

    /// Checks registered on this agent, by ID.
    pub fn local_checks(&self) -> Vec<Check> {
        self.local.read().checks().cloned().collect()
    }

    /// One local check.
    pub fn local_check(&self, id: &str) -> Option<Check> {
        self.local.read().check(id).cloned()
    }

    /// Whose rights cover the local service or check `id`, for ACLs: `(false, service
    /// name)` for a service or a service's check, `(true, node name)` for a node check.
    /// `None` when no such ID is registered here.
    pub fn local_owner(&self, id: &str) -> Option<(bool, String)> {
        let local = self.local.read();
        if let Some(s) = local.service(id) {
            return Some((false, s.service.to_string()));
        }
        let c = local.check(id)?;
        if c.service_id.is_empty() {
            return Some((true, self.cfg.node_name.clone()));
        }
        let name = local
            .service(&c.service_id)
            .map_or_else(|| c.service_name.to_string(), |s| s.service.to_string());
        Some((false, name))
    }

    /// How local check `id` runs.
    pub fn local_tuning(&self, id: &str) -> CheckTuning {
        self.local.read().tuning(id)
    }

    /// Register (or replace) a service with its checks, persist it, start its checks and
    /// sync it into the catalog before returning. With `replace_checks`, the service's
    /// other checks go away.
    pub async fn register_service(
        self: &Arc<Self>,
        service: Service,
        checks: Vec<(Check, CheckTuning)>,
        replace_checks: bool,
    ) -> Result<(), AgentError> {
        self.register_service_from(service, checks, replace_checks, Source::Api)
            .await
    }

    pub(crate) async fn register_service_from(
        self: &Arc<Self>,
        mut service: Service,
        mut checks: Vec<(Check, CheckTuning)>,
        replace_checks: bool,
        source: Source,
    ) -> Result<(), AgentError> {
        service.node = self.cfg.node_name.as_str().into();
        for (c, _) in &mut checks {
            c.node = self.cfg.node_name.as_str().into();
            // Re-registering a service keeps the status its checks already earned, as
            // Consul does, so a redeploy that registers again does not flap the instance.
            if let Some(old) = self.local_check(&c.check_id) {
                c.status = old.status;
                c.output = old.output;
            }
        }
        let removed = self
            .change_local(|l| {
                l.add_service(service.clone(), checks.clone(), replace_checks, source)
            })
            .await?;
        for id in &removed {
            self.stop_check(id);
        }
        for (c, _) in &checks {
            self.start_check(c);
        }
        let checks: Vec<Check> = checks.into_iter().map(|(c, _)| c).collect();
        let mut cmds = Vec::new();
        for id in removed {
            cmds.push(Command::Deregister {
                node: self.cfg.node_name.clone(),
                service_id: None,
                check_id: Some(id),
            });
        }
        cmds.push(Command::Register {
            node: self.self_node(),
            skip_node_update: false,
            service: Some(service),
            checks,
        });
        self.sync_best_effort(cmds).await;
        Ok(())
    }

    /// Remove a local service and its checks.
    pub async fn deregister_service(&self, id: &str) -> Result<(), AgentError> {
        let removed = self.change_local(|l| l.remove_service(id)).await?;
        let Some(check_ids) = removed else {
            return Err(AgentError::NotFound(format!(
                "Unknown service ID \"{id}\". Ensure that the service ID is passed, not the service name."
            )));
        };
        for c in &check_ids {
            self.stop_check(c);
        }
        self.sync_best_effort(vec![Command::Deregister {
            node: self.cfg.node_name.clone(),
            service_id: Some(id.to_string()),
            check_id: None,
        }])
        .await;
        self.remember_service_token(id, "");
        Ok(())
    }

    /// Register a standalone check (node-level or attached to a local service).
    pub async fn register_check(
        self: &Arc<Self>,
        check: Check,
        tuning: CheckTuning,
    ) -> Result<(), AgentError> {
        self.register_check_from(check, tuning, Source::Api).await
    }

    pub(crate) async fn register_check_from(
        self: &Arc<Self>,
        mut check: Check,
        tuning: CheckTuning,
        source: Source,
    ) -> Result<(), AgentError> {
        if !check.service_id.is_empty() {
            let Some(svc) = self.local_service(&check.service_id) else {
                return Err(AgentError::NotFound(format!(
                    "ServiceID \"{}\" does not exist",
                    check.service_id
                )));
            };
            check.service_name = svc.service;
            check.service_tags = svc.tags;
        }
        check.node = self.cfg.node_name.as_str().into();
        if source == Source::Config
            && let Some(old) = self.local_check(&check.check_id)
        {
            // A reload keeps the status a check already earned.
            check.status = old.status;
            check.output = old.output;
        }
        self.change_local(|l| l.add_check(check.clone(), tuning, source))
            .await?;
        self.start_check(&check);
        self.sync_best_effort(vec![Command::Register {
            node: self.self_node(),
            skip_node_update: true,
            service: None,
            checks: vec![check],
        }])
        .await;
        Ok(())
    }

    /// Remove a local check.
    pub async fn deregister_check(&self, id: &str) -> Result<(), AgentError> {
        let existed = self.change_local(|l| l.remove_check(id)).await?;
        if !existed {
            return Err(AgentError::NotFound(format!(
                "Unknown check ID \"{id}\". Ensure that the check ID is passed, not the check name."
            )));
        }
        self.stop_check(id);
        self.sync_best_effort(vec![Command::Deregister {
            node: self.cfg.node_name.clone(),
            service_id: None,
            check_id: Some(id.to_string()),
        }])
        .await;
        Ok(())
    }
}
