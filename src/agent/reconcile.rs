//! The leader's reconciliation of gossip into the catalog and the Raft configuration: on
//! every membership change, on gaining leadership and every 10 s, alive members get their
//! node and `serfHealth` passing, failed ones `serfHealth` critical, left and reaped ones
//! are deregistered (never the leader itself); live servers join the Raft voters, left
//! and long-dead ones leave them.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{debug, info, warn};

use super::{Agent, AgentError};
use crate::consensus;
use crate::gossip::{Member, Status};
use crate::state::{self, Check, Command, Node, status};

/// Output of `serfHealth` for a member gossip declared failed.
pub const SERF_FAILED_OUTPUT: &str = "Agent not live or unreachable";

/// The `serfHealth` check of `node` with status `st`.
fn serf_check(node: &str, st: &str, output: &str) -> Check {
    Check {
        node: node.to_string().into(),
        check_id: state::SERF_CHECK_ID.into(),
        name: state::SERF_CHECK_NAME.into(),
        status: st.into(),
        output: output.into(),
        ..Default::default()
    }
}

/// A member as a catalog node: its gossip address as the node address and every tagged
/// address, its ID from the `id` tag.
fn member_node(m: &Member, dc: &str) -> Node {
    let addr = m.id.addr.ip().to_string();
    let mut tagged = BTreeMap::new();
    let fam = if m.id.addr.is_ipv4() { "ipv4" } else { "ipv6" };
    for k in ["lan", "wan", &format!("lan_{fam}"), &format!("wan_{fam}")] {
        tagged.insert(k.to_string(), addr.clone());
    }
    Node {
        id: m.id.tags.get("id").cloned().unwrap_or_default(),
        node: m.id.name.clone().into(),
        address: addr,
        datacenter: dc.to_string(),
        tagged_addresses: tagged,
        meta: BTreeMap::new(),
        create_index: 0,
        modify_index: 0,
    }
}

/// How long a catalog node with a `serfHealth` check may be unknown to the leader's gossip
/// before it is reaped. Consul reaps such nodes at once; a leader elected moments after a
/// member joined elsewhere may not have heard of it yet, and reaping it would deregister a
/// live node and invalidate its sessions (found as a lock lost across a leadership
/// transfer). Gossip converges well within this.
pub(crate) const REAP_GRACE: Duration = Duration::from_secs(10);

impl Agent {
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
        let mut unknown: Vec<String> = Vec::new();
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
                    unknown.push(n.node.to_string());
                }
            }
        }
        // The store guard is dropped: the grace map is a leaf lock.
        let now = Instant::now();
        let reaped: Vec<String> = {
            let mut since = self.unknown_since.lock();
            since.retain(|name, _| unknown.contains(name));
            unknown
                .into_iter()
                .filter(|name| {
                    now.duration_since(*since.entry(name.clone()).or_insert(now)) >= REAP_GRACE
                })
                .collect()
        };
        for node in reaped {
            cmds.push(Command::Deregister {
                node,
                service_id: None,
                check_id: None,
            });
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
    pub(super) fn server_members(
        &self,
        members: &[Member],
    ) -> Vec<(Member, u64, openraft::NodeInfo)> {
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

    /// Autopilot's dead-server cleanup: remove voters failed longer than
    /// `dead_server_delay`, as many as the remaining voters' quorum and `min_quorum` allow.
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
        // Gossip can lag Raft: after a partition heals, a server may stay `failed` in gossip
        // for tens of seconds while this leader already replicates to it. Removing it then
        // shrinks the voters by a healthy server, and the membership change needs a quorum of
        // the new voters too: under the next partition that blocked every write (found by the
        // long fault run). A server Raft reaches is not dead.
        let contact_limit = ap.last_contact_threshold.max(Duration::from_secs(1));
        let failed: Vec<(String, u64)> = failed
            .into_iter()
            .filter(|(name, id)| {
                let reached = c.raft_contact(*id).is_some_and(|d| d <= contact_limit);
                if reached {
                    debug!(
                        "agent: not removing {name}: gossip reports it failed, but Raft reaches it"
                    );
                }
                !reached
            })
            .collect();
        if failed.is_empty() {
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
