//! The agent's place in the cluster: its gossip member and tags, joins, leaving, client
//! agents' forwarding to servers, and the leader's reconciliation of gossip into the catalog.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{Agent, AgentError, CONSUL_VERSION};
use crate::config::AgentConfig;
use crate::consensus;
use crate::gossip::{GossipConfig, Member, Status, Timing};
use crate::rpc::{Reply, Request, RpcError};
use crate::state::{self, Check, Command, Node, Response, Service, status};

fn applied(r: Reply) -> Result<Response, AgentError> {
    match r {
        Reply::Applied(Response::Error(e)) => Err(AgentError::BadRequest(e)),
        Reply::Applied(r) => Ok(r),
        other => Err(AgentError::Internal(format!("unexpected reply {other:?}"))),
    }
}

/// Output of `serfHealth` for a member gossip declared failed.
pub const SERF_FAILED_OUTPUT: &str = "Agent not live or unreachable";

/// Consul's member tags for this agent.
pub fn member_tags(cfg: &AgentConfig, node_id: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        tags.insert(k.to_string(), v);
    };
    put("role", if cfg.server { "consul" } else { "node" }.into());
    put("dc", cfg.datacenter.clone());
    put("segment", String::new());
    put("id", node_id.to_string());
    put("vsn", "2".into());
    put("vsn_min", "2".into());
    put("vsn_max", "3".into());
    put(
        "build",
        format!("{CONSUL_VERSION}:disco-{}", env!("CARGO_PKG_VERSION")),
    );
    if cfg.server {
        put("port", cfg.ports.server.to_string());
        put("raft_vsn", "3".into());
        if cfg.bootstrap || cfg.dev {
            put("bootstrap", "1".into());
        }
        if cfg.bootstrap_expect > 0 {
            put("expect", cfg.bootstrap_expect.to_string());
        }
    }
    tags
}

/// The gossip settings for this agent.
pub fn gossip_config(
    cfg: &AgentConfig,
    node_id: &str,
    advertise: std::net::IpAddr,
) -> Result<GossipConfig, AgentError> {
    let port = cfg.ports.serf_lan as u16;
    let key = match &cfg.encrypt {
        Some(k) => Some(
            crate::gossip::decode_key(k)
                .map_err(|e| AgentError::BadRequest(format!("encrypt: {e}")))?,
        ),
        None => None,
    };
    let mut timing = if cfg.dev {
        Timing::dev()
    } else {
        Timing::lan()
    };
    let o = &cfg.gossip_lan;
    if let Some(v) = o.probe_interval {
        timing.probe_interval = v;
    }
    if let Some(v) = o.probe_timeout {
        timing.probe_timeout = v;
    }
    if let Some(v) = o.gossip_interval {
        timing.gossip_interval = v;
    }
    if let Some(v) = o.gossip_nodes {
        timing.gossip_nodes = v;
    }
    if let Some(v) = o.suspicion_mult {
        timing.suspicion_mult = v;
    }
    if timing.probe_timeout >= timing.probe_interval {
        timing.probe_timeout = timing.probe_interval / 2;
    }
    Ok(GossipConfig {
        name: cfg.node_name.clone(),
        bind: SocketAddr::new(cfg.bind_addr, port),
        advertise: SocketAddr::new(advertise, port),
        tags: member_tags(cfg, node_id),
        key,
        timing,
        snapshot_dir: cfg.data_dir.as_ref().map(|d| d.join("serf")),
        rejoin_after_leave: cfg.rejoin_after_leave,
    })
}

fn serf_check(node: &str, st: &str, output: &str) -> Check {
    Check {
        node: node.to_string(),
        check_id: state::SERF_CHECK_ID.into(),
        name: state::SERF_CHECK_NAME.into(),
        status: st.into(),
        output: output.into(),
        ..Default::default()
    }
}

fn member_node(m: &Member, dc: &str) -> Node {
    let addr = m.id.addr.ip().to_string();
    let mut tagged = BTreeMap::new();
    let fam = if m.id.addr.is_ipv4() { "ipv4" } else { "ipv6" };
    for k in ["lan", "wan", &format!("lan_{fam}"), &format!("wan_{fam}")] {
        tagged.insert(k.to_string(), addr.clone());
    }
    Node {
        id: m.id.tags.get("id").cloned().unwrap_or_default(),
        node: m.id.name.clone(),
        address: addr,
        datacenter: dc.to_string(),
        tagged_addresses: tagged,
        meta: BTreeMap::new(),
        create_index: 0,
        modify_index: 0,
    }
}

/// How long a server whose RPC failed is tried after the others.
const SERVER_FAILURE_MEMORY: Duration = Duration::from_secs(10);

impl Agent {
    /// Join the cluster through `addrs`; returns how many answered and each failure's text.
    pub async fn join(&self, addrs: &[String]) -> Result<(usize, Vec<String>), AgentError> {
        let Some(g) = &self.gossip else {
            return Err(AgentError::Internal(
                "gossip is disabled on this agent (ports.serf_lan = -1)".into(),
            ));
        };
        let (n, errs) = g.join(addrs).await;
        let errs: Vec<String> = errs
            .into_iter()
            .map(|(a, e)| format!("Failed to join {a}: {e}"))
            .collect();
        if n > 0 {
            info!("agent: Join cluster completed. Synced with {n} initial agents");
        }
        Ok((n, errs))
    }

    /// `retry_join`: keep trying every `retry_interval` until one address answers or
    /// `retry_max` attempts failed (then the agent shuts down, as Consul's does).
    pub async fn retry_join(self: Arc<Self>) {
        let addrs = self.cfg.retry_join.clone();
        if addrs.is_empty() {
            return;
        }
        info!("agent: Retry join is supported for the following discovery methods: (addresses)");
        let mut attempt: u32 = 0;
        let mut shutdown = self.shutdown_signal();
        loop {
            attempt += 1;
            match self.join(&addrs).await {
                Ok((n, _)) if n > 0 => {
                    info!("agent: Join completed. Initial agents synced: {n}");
                    return;
                }
                Ok((_, errs)) => {
                    warn!("agent: Join failed: attempt {attempt}: {}", errs.join("; "))
                }
                Err(e) => {
                    warn!("agent: Join failed: {e}");
                    return;
                }
            }
            if self.cfg.retry_max > 0 && attempt >= self.cfg.retry_max {
                warn!("agent: Join failed: max join retry exhausted, exiting");
                self.fail(format!(
                    "Failed to join any nodes after {attempt} attempts (retry_max)"
                ));
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.retry_interval) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
        }
    }

    /// Leave the gossip pool gracefully (peers see `leaving`, then `left`).
    pub async fn leave_cluster(&self) {
        if let Some(g) = &self.gossip {
            info!("agent: Requesting shutdown (graceful leave)");
            g.leave().await;
            info!("agent: Graceful leave complete");
        }
    }

    /// `force-leave`: a failed member becomes `left` (`prune`: forgotten).
    pub async fn force_leave(&self, node: &str, prune: bool) -> Result<(), AgentError> {
        let Some(g) = &self.gossip else {
            return Err(AgentError::Internal(format!(
                "agent: No node found with name '{node}'"
            )));
        };
        g.force_leave(node, prune)
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))
    }

    /// Server RPC addresses of the live servers of this datacenter, starting at a rotating
    /// position so client load spreads over them.
    pub fn server_addrs(&self) -> Vec<SocketAddr> {
        let Some(g) = &self.gossip else {
            return Vec::new();
        };
        // Every forwarded call asks; the list only changes with the membership.
        let version = g.version();
        let cached = {
            let c = self.servers_cache.lock();
            (c.0 == version).then(|| c.1.clone())
        };
        let mut out = match cached {
            Some(c) => c,
            None => {
                let fresh: Vec<SocketAddr> = g
                    .members()
                    .into_iter()
                    .filter(|m| {
                        m.status == Status::Alive
                            && m.id.tags.get("role").map(String::as_str) == Some("consul")
                            && m.id.tags.get("dc") == Some(&self.cfg.datacenter)
                    })
                    .filter_map(|m| {
                        let port: u16 = m.id.tags.get("port")?.parse().ok()?;
                        Some(SocketAddr::new(m.id.addr.ip(), port))
                    })
                    .collect();
                *self.servers_cache.lock() = (version, fresh.clone());
                fresh
            }
        };
        if !out.is_empty() {
            let start = self.rr.fetch_add(1, Ordering::Relaxed) % out.len();
            out.rotate_left(start);
        }
        // Servers that failed recently go last, in the same rotation (Consul's router does
        // the same with a failed server).
        let failed: Vec<SocketAddr> = {
            let mut f = self.servers_failed.lock();
            f.retain(|_, at| at.elapsed() < SERVER_FAILURE_MEMORY);
            f.keys().copied().collect()
        };
        if !failed.is_empty() {
            out.sort_by_key(|a| failed.contains(a));
        }
        out
    }

    /// Send a request to a server, trying the next one when a connection fails.
    /// A server that failed is tried last for [`SERVER_FAILURE_MEMORY`].
    pub async fn forward(&self, req: Request, timeout: Duration) -> Result<Reply, AgentError> {
        let servers = self.server_addrs();
        if servers.is_empty() {
            return Err(AgentError::NoServers);
        }
        let mut last = None;
        for addr in servers.into_iter().take(3) {
            let outcome = self.rpc.call(addr, req.clone(), timeout).await;
            match &outcome {
                Err(RpcError::Connection(_) | RpcError::Timeout(_)) => {
                    self.servers_failed.lock().insert(addr, Instant::now());
                }
                _ => {
                    self.servers_failed.lock().remove(&addr);
                }
            }
            match outcome {
                Ok(r) => return Ok(r),
                Err(RpcError::Remote(e)) if e == "No cluster leader" => {
                    return Err(AgentError::NoLeader);
                }
                Err(RpcError::Remote(e)) => return Err(AgentError::Internal(e)),
                Err(e) => {
                    warn!("agent: rpc to server {addr} failed, trying another: {e}");
                    last = Some(e);
                }
            }
        }
        Err(AgentError::Internal(
            last.map(|e| e.to_string()).unwrap_or_default(),
        ))
    }

    /// Commit a command through a server (client agents).
    pub(super) async fn forward_apply(&self, cmd: Command) -> Result<Response, AgentError> {
        let req = Request::Apply {
            cmd,
            from_server: false,
        };
        applied(self.forward(req, Duration::from_secs(30)).await?)
    }

    /// Commit a command through the leader (a follower's own writes).
    pub(super) async fn forward_apply_to(
        &self,
        leader: &str,
        cmd: Command,
    ) -> Result<Response, AgentError> {
        let addr: SocketAddr = leader.parse().map_err(|_| AgentError::NoLeader)?;
        match self
            .rpc
            .call(
                addr,
                Request::Apply {
                    cmd,
                    from_server: true,
                },
                Duration::from_secs(30),
            )
            .await
        {
            Ok(r) => applied(r),
            Err(RpcError::Remote(e)) if e == "No cluster leader" => Err(AgentError::NoLeader),
            Err(RpcError::Remote(e)) => Err(AgentError::Internal(e)),
            Err(_) => Err(AgentError::NoLeader),
        }
    }

    /// Send an API call to the leader (a follower's default-mode reads and all writes).
    /// `None` when this server leads or no leader is known (answer locally).
    pub async fn forward_to_leader(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Option<Result<Reply, AgentError>> {
        let c = self.consensus.as_ref()?;
        if c.is_leader() {
            return None;
        }
        let addr: SocketAddr = c.leader_addr()?.parse().ok()?;
        Some(match self.rpc.call(addr, req, timeout).await {
            Ok(r) => Ok(r),
            Err(RpcError::Remote(e)) if e == "No cluster leader" => Err(AgentError::NoLeader),
            Err(RpcError::Remote(e)) => Err(AgentError::Internal(e)),
            Err(e) => {
                warn!("agent: forwarding to the leader at {addr} failed: {e}");
                Err(AgentError::NoLeader)
            }
        })
    }

    /// The catalog's services and checks of this node, wherever the catalog is.
    pub(super) async fn catalog_entries(&self) -> Result<(Vec<Service>, Vec<Check>), AgentError> {
        let node = self.cfg.node_name.clone();
        if self.consensus.is_some() {
            let store = self.store.read();
            return Ok((
                store.node_services(&node).into_iter().cloned().collect(),
                store.node_checks(&node).into_iter().cloned().collect(),
            ));
        }
        match self
            .forward(Request::NodeEntries(node), Duration::from_secs(30))
            .await?
        {
            Reply::NodeEntries(s, c) => Ok((s, c)),
            other => Err(AgentError::Internal(format!("unexpected reply {other:?}"))),
        }
    }

    /// Bring the catalog in line with gossip (leader only): alive members registered with
    /// `serfHealth` passing, failed ones critical, left and reaped ones deregistered.
    pub async fn reconcile(&self) -> Result<usize, AgentError> {
        let (Some(g), Some(c)) = (&self.gossip, &self.consensus) else {
            return Ok(0);
        };
        if !c.is_leader() {
            return Ok(0);
        }
        let me = self.cfg.node_name.as_str();
        let dc = self.cfg.datacenter.as_str();
        let members = g.members();
        let mut cmds = Vec::new();
        {
            let store = self.store.read();
            let mut known = HashSet::new();
            for m in &members {
                if m.id.tags.get("dc").map(String::as_str) != Some(dc) {
                    continue;
                }
                let name = m.id.name.as_str();
                known.insert(name);
                let node = store.node(name);
                let serf = store.check(name, state::SERF_CHECK_ID);
                let addr = m.id.addr.ip().to_string();
                let same_addr = node.is_some_and(|n| n.address == addr);
                match m.status {
                    Status::Alive => {
                        if !same_addr || serf.is_none_or(|c| c.status != status::PASSING) {
                            cmds.push(Command::Register {
                                node: member_node(m, dc),
                                skip_node_update: same_addr,
                                service: None,
                                checks: vec![serf_check(
                                    name,
                                    status::PASSING,
                                    state::SERF_ALIVE_OUTPUT,
                                )],
                            });
                        }
                    }
                    Status::Failed => {
                        if serf.is_none_or(|c| c.status != status::CRITICAL) {
                            cmds.push(Command::Register {
                                node: member_node(m, dc),
                                skip_node_update: node.is_some(),
                                service: None,
                                checks: vec![serf_check(
                                    name,
                                    status::CRITICAL,
                                    SERF_FAILED_OUTPUT,
                                )],
                            });
                        }
                    }
                    Status::Left => {
                        if node.is_some() && name != me {
                            cmds.push(Command::Deregister {
                                node: name.to_string(),
                                service_id: None,
                                check_id: None,
                            });
                        }
                    }
                    Status::Leaving => {}
                }
            }
            for n in store.nodes() {
                if n.node != me
                    && !known.contains(n.node.as_str())
                    && store.check(&n.node, state::SERF_CHECK_ID).is_some()
                {
                    cmds.push(Command::Deregister {
                        node: n.node.clone(),
                        service_id: None,
                        check_id: None,
                    });
                }
            }
        }
        let n = cmds.len();
        for cmd in cmds {
            info!("agent: reconcile: {cmd}");
            self.write(cmd).await?;
        }
        self.reconcile_raft(&members).await;
        Ok(n)
    }

    /// Servers of this datacenter as gossip sees them: (member, raft ID, raft node info).
    fn server_members(&self, members: &[Member]) -> Vec<(Member, u64, openraft::NodeInfo)> {
        members
            .iter()
            .filter(|m| {
                m.id.tags.get("role").map(String::as_str) == Some("consul")
                    && m.id.tags.get("dc") == Some(&self.cfg.datacenter)
            })
            .filter_map(|m| {
                let uuid = m.id.tags.get("id")?;
                let port: u16 = m.id.tags.get("port")?.parse().ok()?;
                let addr = SocketAddr::new(m.id.addr.ip(), port).to_string();
                Some((
                    m.clone(),
                    consensus::raft_id(uuid),
                    consensus::node_info(&addr, &m.id.name, uuid),
                ))
            })
            .collect()
    }

    /// Leader only: live servers join the Raft voters (as learners first, promoted once they
    /// caught up); a server that came back with a new ID replaces its old entry; servers that
    /// left are removed, and so are servers failed for longer than the dead-server delay
    /// while the remaining voters keep a quorum (autopilot's rules).
    async fn reconcile_raft(&self, members: &[Member]) {
        let Some(c) = &self.consensus else { return };
        if !c.is_leader() {
            return;
        }
        let servers = self.server_members(members);
        let peers = c.peers();
        for (m, id, info) in &servers {
            let known = peers.iter().find(|(p, _, _)| p == id);
            match m.status {
                Status::Alive if known.is_none_or(|(_, _, voter)| !voter) => {
                    // Same address, another ID: the server was wiped and rejoined.
                    if let Some((old, _, _)) = peers
                        .iter()
                        .find(|(p, n, _)| n.raft_addr == info.raft_addr && p != id)
                        && *old != c.id()
                    {
                        info!(
                            "agent: removing Raft server {old} with duplicate address {}",
                            info.raft_addr
                        );
                        if let Err(e) = c.remove_server(*old).await {
                            warn!("agent: failed to remove Raft server {old}: {e}");
                        }
                    }
                    info!(
                        "agent: adding Raft server {} ({})",
                        m.id.name, info.raft_addr
                    );
                    if let Err(e) = c.add_server(*id, info.clone()).await {
                        warn!("agent: failed to add Raft server {}: {e}", m.id.name);
                    }
                }
                Status::Left if known.is_some() && *id != c.id() => {
                    info!("agent: removing Raft server {} (left)", m.id.name);
                    if let Err(e) = c.remove_server(*id).await {
                        warn!("agent: failed to remove Raft server {}: {e}", m.id.name);
                    }
                }
                _ => {}
            }
        }
        self.cleanup_dead_servers(&servers).await;
    }

    async fn cleanup_dead_servers(&self, servers: &[(Member, u64, openraft::NodeInfo)]) {
        let Some(c) = &self.consensus else { return };
        let ap = &self.cfg.autopilot;
        let now = Instant::now();
        let failed: Vec<(String, u64)> = {
            let mut since = self.failed_since.lock();
            since.retain(|name, _| {
                servers
                    .iter()
                    .any(|(m, _, _)| &m.id.name == name && m.status == Status::Failed)
            });
            servers
                .iter()
                .filter(|(m, _, _)| m.status == Status::Failed)
                .filter_map(|(m, id, _)| {
                    let t = *since.entry(m.id.name.clone()).or_insert(now);
                    (now.duration_since(t) >= ap.dead_server_delay)
                        .then(|| (m.id.name.clone(), *id))
                })
                .collect()
        };
        if !ap.cleanup_dead_servers || failed.is_empty() {
            return;
        }
        let voters: Vec<u64> = c
            .peers()
            .into_iter()
            .filter(|(_, _, v)| *v)
            .map(|(id, _, _)| id)
            .collect();
        let failed_voters: Vec<&(String, u64)> = failed
            .iter()
            .filter(|(_, id)| voters.contains(id))
            .collect();
        // At most (voters-1)/2 at once, never below min_quorum, and what stays must still
        // hold a quorum of live voters.
        let max_remove = (voters.len().saturating_sub(1)) / 2;
        let floor = (ap.min_quorum as usize).max(1);
        let mut removed = 0;
        for (name, id) in failed_voters {
            let after = voters.len() - removed - 1;
            let live_after = voters.len() - failed.len().min(voters.len());
            if removed >= max_remove || after < floor || live_after < after / 2 + 1 {
                warn!(
                    "agent: not removing failed server {name}: the remaining voters would lose their quorum or drop below min_quorum"
                );
                break;
            }
            info!(
                "agent: removing dead server {name} from Raft (failed for over {:?})",
                ap.dead_server_delay
            );
            match c.remove_server(*id).await {
                Ok(()) => removed += 1,
                Err(e) => warn!("agent: failed to remove dead server {name}: {e}"),
            }
        }
    }

    /// `bootstrap_expect`: once gossip shows the expected number of servers of this
    /// datacenter, none of them with Raft peers, every one of them initialises Raft with the
    /// same voter set. A server with Raft state never bootstraps again.
    pub(super) async fn bootstrap_loop(self: Arc<Self>) {
        let (Some(g), Some(c)) = (&self.gossip, &self.consensus) else {
            return;
        };
        let expect = self.cfg.bootstrap_expect as usize;
        if expect < 2 {
            return;
        }
        if c.is_initialized().await {
            info!("agent: Raft data found, disabling bootstrap mode");
            return;
        }
        let mut changes = g.subscribe();
        let mut shutdown = self.shutdown_signal();
        loop {
            let servers: Vec<_> = self
                .server_members(&g.members())
                .into_iter()
                .filter(|(m, _, _)| m.status == Status::Alive)
                .collect();
            for (m, _, _) in &servers {
                if m.id.tags.contains_key("bootstrap") {
                    warn!(
                        "agent: Member {} has bootstrap mode. Expect disabled.",
                        m.id.name
                    );
                    return;
                }
                if m.id.tags.get("expect") != Some(&expect.to_string()) {
                    warn!(
                        "agent: Member {} has a conflicting expect value ({}). All nodes should expect the same number ({expect}); not bootstrapping.",
                        m.id.name,
                        m.id.tags
                            .get("expect")
                            .map(String::as_str)
                            .unwrap_or("none")
                    );
                    return;
                }
            }
            if servers.len() >= expect {
                match self.existing_cluster(&servers).await {
                    Ok(Some(who)) => {
                        info!(
                            "agent: Existing Raft peers reported by {who}, disabling bootstrap mode"
                        );
                        return;
                    }
                    Ok(None) => {
                        let voters: std::collections::BTreeMap<u64, openraft::NodeInfo> = servers
                            .iter()
                            .map(|(_, id, info)| (*id, info.clone()))
                            .collect();
                        let names: Vec<&str> = servers
                            .iter()
                            .map(|(_, _, info)| info.raft_addr.as_str())
                            .collect();
                        info!(
                            "agent: Found expected number of peers, attempting bootstrap: {}",
                            names.join(",")
                        );
                        match c.bootstrap(voters).await {
                            Ok(()) => return,
                            Err(e) => warn!("agent: bootstrap failed: {e}"),
                        }
                    }
                    Err(e) => info!("agent: cannot ask every server for its Raft peers yet: {e}"),
                }
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
        }
    }

    /// Ask every server for its Raft peers; the name of one that already has some.
    async fn existing_cluster(
        &self,
        servers: &[(Member, u64, openraft::NodeInfo)],
    ) -> Result<Option<String>, String> {
        for (m, _, info) in servers {
            if m.id.name == self.cfg.node_name {
                continue;
            }
            let addr: SocketAddr = info.raft_addr.parse().map_err(|e| format!("{e}"))?;
            let req = Request::Http {
                method: "GET".into(),
                uri: "/v1/status/peers".into(),
                body: Vec::new(),
                from_server: true,
            };
            match self.rpc.call(addr, req, Duration::from_secs(5)).await {
                Ok(Reply::Http {
                    status: 200, body, ..
                }) => {
                    let peers: Vec<String> = serde_json::from_slice(&body).unwrap_or_default();
                    if !peers.is_empty() {
                        return Ok(Some(m.id.name.clone()));
                    }
                }
                Ok(other) => return Err(format!("{}: unexpected answer {other:?}", m.id.name)),
                Err(e) => return Err(format!("{}: {e}", m.id.name)),
            }
        }
        Ok(None)
    }

    /// Reconcile on every membership change, on gaining leadership and every 10 s (which is
    /// also how often dead servers are considered for cleanup).
    pub(super) async fn reconcile_loop(self: Arc<Self>) {
        let Some(g) = &self.gossip else { return };
        if self.consensus.is_none() {
            return;
        }
        let mut changes = g.subscribe();
        let mut shutdown = self.shutdown_signal();
        let mut was_leader = false;
        let mut last_full = Instant::now();
        let mut dirty = true;
        loop {
            tokio::select! {
                r = changes.changed() => {
                    if r.is_err() { return; }
                    dirty = true;
                }
                _ = tokio::time::sleep(Duration::from_millis(500)) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
            let leader = self.consensus.as_ref().is_some_and(|c| c.is_leader());
            if !leader {
                was_leader = false;
                continue;
            }
            if dirty || !was_leader || last_full.elapsed() > Duration::from_secs(10) {
                match self.reconcile().await {
                    Ok(_) => {
                        dirty = false;
                        was_leader = true;
                        last_full = Instant::now();
                    }
                    Err(e) => warn!("agent: reconcile: {e}"),
                }
            }
        }
    }
}
