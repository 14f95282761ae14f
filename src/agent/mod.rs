//! The agent: one per host. It owns this node's identity, its locally registered services and
//! checks (persisted in `data_dir` and synced into the catalog), and, on servers, the Raft
//! member that holds the catalog and KV store.

mod cluster;
mod local;
pub mod metrics;

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;
use std::sync::atomic::AtomicUsize;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;
use tracing::{info, warn};

pub use cluster::{SERF_FAILED_OUTPUT, member_tags};
pub use local::Local;
pub use metrics::Metrics;

use crate::config::AgentConfig;
use crate::consensus::{Consensus, ConsensusError, ConsensusOptions, raft_id};
use crate::state::{self, Check, CheckUpdate, Command, Node, Response, Service, Store, status};

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
    pub store: Arc<RwLock<Store>>,
    /// Counters and latencies for `/v1/agent/metrics`.
    pub metrics: Metrics,
    /// LAN gossip member (`None` only with `ports.serf_lan = -1`).
    pub gossip: Option<crate::gossip::Gossip>,
    rpc: Arc<crate::rpc::Pool>,
    rr: AtomicUsize,
    local: RwLock<Local>,
    ttl_timers: Mutex<HashMap<String, JoinHandle<()>>>,
    shutdown: tokio::sync::watch::Sender<bool>,
    fatal: Mutex<Option<String>>,
    failed_since: Mutex<HashMap<String, Instant>>,
    servers_cache: Mutex<(u64, Vec<std::net::SocketAddr>)>,
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

        let pool = Arc::new(crate::rpc::Pool::new());
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
            (None, Arc::new(RwLock::new(Store::new())))
        };

        let gossip = if cfg.ports.serf_lan >= 0 {
            let gc = cluster::gossip_config(&cfg, &node_id, advertise)?;
            Some(
                crate::gossip::Gossip::start(gc)
                    .await
                    .map_err(|e| AgentError::Internal(e.to_string()))?,
            )
        } else {
            None
        };

        let (shutdown, _) = tokio::sync::watch::channel(false);
        let agent = Arc::new(Agent {
            cfg,
            node_id,
            advertise,
            started: Instant::now(),
            consensus,
            store,
            metrics: Metrics::default(),
            gossip,
            rpc: pool,
            rr: AtomicUsize::new(0),
            local: RwLock::new(local),
            ttl_timers: Mutex::new(HashMap::new()),
            shutdown,
            fatal: Mutex::new(None),
            failed_since: Mutex::new(HashMap::new()),
            servers_cache: Mutex::new((u64::MAX, Vec::new())),
        });

        if let Some(c) = &agent.consensus
            && (agent.cfg.dev || agent.cfg.bootstrap || agent.cfg.bootstrap_expect == 1)
        {
            c.bootstrap_single().await?;
            // A lone server leads within one election timeout: register this node before the
            // API opens, so the first client read already sees it.
            if c.wait_for_leader(Duration::from_secs(10)).await {
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

        // Re-arm TTL timers of restored checks.
        let ttl_checks: Vec<(String, u64)> = agent
            .local
            .read()
            .map(|l| {
                l.checks()
                    .filter(|c| c.definition.ttl_ns > 0)
                    .map(|c| (c.check_id.clone(), c.definition.ttl_ns))
                    .collect()
            })
            .unwrap_or_default();
        for (id, ttl) in ttl_checks {
            agent.arm_ttl(&id, ttl);
        }

        let bg = agent.clone();
        tokio::spawn(async move { bg.sync_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.reconcile_loop().await });
        let bg = agent.clone();
        tokio::spawn(async move { bg.bootstrap_loop().await });
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
        if let Ok(mut f) = self.fatal.lock() {
            f.get_or_insert(why);
        }
        self.request_shutdown();
    }

    /// Why the agent stopped itself, if it did.
    pub fn fatal_error(&self) -> Option<String> {
        self.fatal.lock().ok().and_then(|f| f.clone())
    }

    /// Stop Raft and flush storage.
    pub async fn stop(&self) {
        if let Ok(mut t) = self.ttl_timers.lock() {
            for (_, h) in t.drain() {
                h.abort();
            }
        }
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
            node: self.cfg.node_name.clone(),
            address: addr,
            datacenter: self.cfg.datacenter.clone(),
            tagged_addresses: tagged,
            meta,
            create_index: 0,
            modify_index: 0,
        }
    }

    // ---- writes through Raft ----

    /// Commit a command through Raft and return its result.
    pub async fn write(&self, cmd: Command) -> Result<Response, AgentError> {
        self.write_inner(cmd, true).await
    }

    /// Commit a command on this server only if it leads: the server RPC's `Apply` uses it, so
    /// a command forwarded once is never forwarded again (no loops while leadership moves).
    pub async fn write_here(&self, cmd: Command) -> Result<Response, AgentError> {
        self.write_inner(cmd, false).await
    }

    async fn write_inner(&self, cmd: Command, may_forward: bool) -> Result<Response, AgentError> {
        let Some(c) = &self.consensus else {
            return self.forward_apply(cmd).await;
        };
        let start = Instant::now();
        let res = c.write(cmd.clone()).await;
        self.metrics.observe("consul.raft.apply", start.elapsed());
        let (resp, _) = match res {
            Err(ConsensusError::ForwardTo(leader)) if may_forward && leader != c.rpc_addr() => {
                return self.forward_apply_to(&leader, cmd).await;
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

    /// Write access to the local state, with a poisoned lock reported as an internal error.
    fn local_mut(&self) -> Result<std::sync::RwLockWriteGuard<'_, Local>, AgentError> {
        self.local
            .write()
            .map_err(|e| AgentError::Internal(e.to_string()))
    }

    /// Services registered on this agent, by ID.
    pub fn local_services(&self) -> Vec<Service> {
        self.local
            .read()
            .map(|l| l.services().cloned().collect())
            .unwrap_or_default()
    }

    /// One local service.
    pub fn local_service(&self, id: &str) -> Option<Service> {
        self.local.read().ok()?.service(id).cloned()
    }

    /// Checks registered on this agent, by ID.
    pub fn local_checks(&self) -> Vec<Check> {
        self.local
            .read()
            .map(|l| l.checks().cloned().collect())
            .unwrap_or_default()
    }

    /// Register (or replace) a service with its checks, persist it, and sync it into the
    /// catalog before returning. With `replace_checks`, the service's other checks go away.
    pub async fn register_service(
        self: &Arc<Self>,
        mut service: Service,
        checks: Vec<Check>,
        replace_checks: bool,
    ) -> Result<(), AgentError> {
        service.node = self.cfg.node_name.clone();
        let removed = {
            let mut l = self.local_mut()?;
            l.add_service(service.clone(), checks.clone(), replace_checks)?
        };
        for c in &checks {
            if c.definition.ttl_ns > 0 {
                self.arm_ttl(&c.check_id, c.definition.ttl_ns);
            } else {
                self.disarm_ttl(&c.check_id);
            }
        }
        for id in &removed {
            self.disarm_ttl(id);
        }
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
        let removed = {
            let mut l = self.local_mut()?;
            l.remove_service(id)?
        };
        let Some(check_ids) = removed else {
            return Err(AgentError::NotFound(format!(
                "Unknown service ID \"{id}\". Ensure that the service ID is passed, not the service name."
            )));
        };
        for c in &check_ids {
            self.disarm_ttl(c);
        }
        self.sync_best_effort(vec![Command::Deregister {
            node: self.cfg.node_name.clone(),
            service_id: Some(id.to_string()),
            check_id: None,
        }])
        .await;
        Ok(())
    }

    /// Register a standalone check (node-level or attached to a local service).
    pub async fn register_check(self: &Arc<Self>, check: Check) -> Result<(), AgentError> {
        if !check.service_id.is_empty() && self.local_service(&check.service_id).is_none() {
            return Err(AgentError::NotFound(format!(
                "ServiceID \"{}\" does not exist",
                check.service_id
            )));
        }
        {
            let mut l = self.local_mut()?;
            l.add_check(check.clone())?;
        }
        if check.definition.ttl_ns > 0 {
            self.arm_ttl(&check.check_id, check.definition.ttl_ns);
        }
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
        let existed = {
            let mut l = self.local_mut()?;
            l.remove_check(id)?
        };
        if !existed {
            return Err(AgentError::NotFound(format!(
                "Unknown check ID \"{id}\". Ensure that the check ID is passed, not the check name."
            )));
        }
        self.disarm_ttl(id);
        self.sync_best_effort(vec![Command::Deregister {
            node: self.cfg.node_name.clone(),
            service_id: None,
            check_id: Some(id.to_string()),
        }])
        .await;
        Ok(())
    }

    /// Set a TTL check's status (`agent/check/pass|warn|fail|update`).
    pub async fn update_ttl(
        self: &Arc<Self>,
        id: &str,
        new_status: &str,
        output: &str,
    ) -> Result<(), AgentError> {
        if !status::is_valid(new_status) {
            return Err(AgentError::BadRequest(format!(
                "Invalid check status: '{new_status}'"
            )));
        }
        let ttl = {
            let mut l = self.local_mut()?;
            let Some(c) = l.check(id) else {
                return Err(AgentError::NotFound(format!(
                    "CheckID \"{id}\" does not have associated TTL"
                )));
            };
            if c.definition.ttl_ns == 0 {
                return Err(AgentError::BadRequest(format!(
                    "CheckID \"{id}\" does not have associated TTL"
                )));
            }
            let ttl = c.definition.ttl_ns;
            l.set_status(id, new_status, output)?;
            ttl
        };
        self.arm_ttl(id, ttl);
        self.push_status(id.to_string(), new_status.to_string(), output.to_string())
            .await;
        Ok(())
    }

    async fn push_status(&self, id: String, st: String, output: String) {
        let cmd = Command::UpdateChecks(vec![CheckUpdate {
            node: self.cfg.node_name.clone(),
            check_id: id,
            status: st,
            output,
        }]);
        self.sync_best_effort(vec![cmd]).await;
    }

    fn arm_ttl(self: &Arc<Self>, id: &str, ttl_ns: u64) {
        let agent = Arc::downgrade(self);
        let check_id = id.to_string();
        let handle = tokio::spawn(async move {
            tokio::time::sleep(Duration::from_nanos(ttl_ns)).await;
            let Some(agent) = agent.upgrade() else { return };
            let output = {
                let Ok(mut l) = agent.local.write() else {
                    return;
                };
                let Some(c) = l.check(&check_id) else { return };
                let out = if c.output.is_empty() || c.output.starts_with("TTL expired") {
                    "TTL expired".to_string()
                } else {
                    format!(
                        "TTL expired (last output before timeout follows): {}",
                        c.output
                    )
                };
                if l.set_status(&check_id, status::CRITICAL, &out).is_err() {
                    return;
                }
                out
            };
            warn!(check = %check_id, "Check missed TTL, is now critical");
            agent
                .push_status(check_id, status::CRITICAL.to_string(), output)
                .await;
        });
        if let Ok(mut t) = self.ttl_timers.lock()
            && let Some(old) = t.insert(id.to_string(), handle)
        {
            old.abort();
        }
    }

    fn disarm_ttl(&self, id: &str) {
        if let Ok(mut t) = self.ttl_timers.lock()
            && let Some(h) = t.remove(id)
        {
            h.abort();
        }
    }

    /// Write commands now; a failure is left to the periodic sync to repair.
    async fn sync_best_effort(&self, cmds: Vec<Command>) {
        for cmd in cmds {
            if let Err(e) = self.write(cmd).await {
                warn!("failed to sync remote state: {e}");
                return;
            }
        }
    }

    /// Bring the catalog entry of this node in line with the local state.
    pub async fn sync_full(&self) -> Result<(), AgentError> {
        let node = self.cfg.node_name.clone();
        let mut cmds = Vec::new();
        let mut node_checks = Vec::new();
        if self.gossip.is_none() {
            // Without gossip nobody else vouches for this node.
            node_checks.push(Check {
                node: node.clone(),
                check_id: state::SERF_CHECK_ID.into(),
                name: state::SERF_CHECK_NAME.into(),
                status: status::PASSING.into(),
                output: state::SERF_ALIVE_OUTPUT.into(),
                ..Default::default()
            });
        }
        let local_services = self.local_services();
        let local_checks = self.local_checks();
        let mut wanted_services: Vec<Service> = local_services.clone();
        if self.cfg.server {
            wanted_services.push(self.consul_service());
        }
        node_checks.extend(
            local_checks
                .iter()
                .filter(|c| c.service_id.is_empty())
                .cloned(),
        );
        cmds.push(Command::Register {
            node: self.self_node(),
            skip_node_update: false,
            service: None,
            checks: node_checks,
        });
        for s in &wanted_services {
            let checks: Vec<Check> = local_checks
                .iter()
                .filter(|c| c.service_id == s.id)
                .cloned()
                .collect();
            cmds.push(Command::Register {
                node: self.self_node(),
                skip_node_update: true,
                service: Some(s.clone()),
                checks,
            });
        }
        // Drop what the catalog has for this node but the agent no longer owns.
        let (have_services, have_checks) = self.catalog_entries().await?;
        for s in &have_services {
            if !wanted_services.iter().any(|w| w.id == s.id) {
                cmds.push(Command::Deregister {
                    node: node.clone(),
                    service_id: Some(s.id.clone()),
                    check_id: None,
                });
            }
        }
        for c in &have_checks {
            let owned = c.check_id == state::SERF_CHECK_ID
                || local_checks.iter().any(|l| l.check_id == c.check_id);
            if !owned && c.service_id.is_empty() {
                cmds.push(Command::Deregister {
                    node: node.clone(),
                    service_id: None,
                    check_id: Some(c.check_id.clone()),
                });
            }
        }
        for cmd in cmds {
            self.write(cmd).await?;
        }
        Ok(())
    }

    /// The `consul` service every server registers for itself.
    fn consul_service(&self) -> Service {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("non_voter".into(), "false".into());
        meta.insert("read_replica".into(), "false".into());
        meta.insert("raft_version".into(), "3".into());
        meta.insert("serf_protocol_current".into(), "2".into());
        meta.insert("serf_protocol_max".into(), "5".into());
        meta.insert("serf_protocol_min".into(), "1".into());
        meta.insert("version".into(), CONSUL_VERSION.into());
        Service {
            node: self.cfg.node_name.clone(),
            id: "consul".into(),
            service: "consul".into(),
            port: self.cfg.ports.server,
            meta,
            ..Default::default()
        }
    }

    /// Periodic full sync (anti-entropy): at start once a leader exists, then every minute.
    async fn sync_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown_signal();
        let mut synced = false;
        let mut last_complaint: Option<Instant> = None;
        loop {
            let delay = if synced {
                Duration::from_secs(60)
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.require_leader() {
                synced = false;
                if last_complaint.is_none_or(|t: Instant| t.elapsed() > Duration::from_secs(15)) {
                    last_complaint = Some(Instant::now());
                    warn!("agent: failed to sync remote state: {e}");
                }
                continue;
            }
            match self.sync_full().await {
                Ok(()) => {
                    if !synced {
                        info!("agent: Synced node info");
                    }
                    synced = true;
                }
                Err(e) => {
                    warn!("agent: failed to sync remote state: {e}");
                    synced = false;
                }
            }
        }
    }
}
