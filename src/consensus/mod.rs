//! Consensus: an openraft member whose log lives in segment files (sled for `-dev`), whose
//! vote and marks live in sled, whose snapshots are files, and whose state machine is the
//! [`crate::state::Store`].

mod log_files;
mod log_store;
mod network;
mod snapshot_transfer;
mod state_machine;
#[cfg(test)]
mod storage_suite;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use openraft::Instant as _;
use openraft::async_runtime::WatchReceiver;
use openraft::{Config, NodeInfo, SnapshotPolicy};
use parking_lot::Mutex;

pub use log_store::LogStore;
pub use network::NetworkFactory;
pub use state_machine::{SnapshotData, StateMachine};

use crate::state::{Command, Response, SharedStore};

openraft::declare_raft_types!(
    /// Raft types of disco: commands in, responses out, nodes addressed by their server RPC address.
    pub TypeConfig:
        D = Command,
        R = Response,
        Node = NodeInfo,
);

/// The Raft handle type.
pub type Raft = openraft::Raft<TypeConfig, StateMachine>;

/// Errors from the consensus layer, already phrased the way Consul reports them.
#[derive(Debug, thiserror::Error)]
pub enum ConsensusError {
    /// No leader is known.
    #[error("No cluster leader")]
    NoLeader,
    /// Another server leads; the request belongs there (its server RPC address).
    #[error("not the leader; the leader is {0}")]
    ForwardTo(String),
    /// A membership change was refused.
    #[error("{0}")]
    Membership(String),
    /// The storage under Raft failed.
    #[error("storage error: {0}")]
    Storage(String),
    /// Raft stopped.
    #[error("raft stopped: {0}")]
    Fatal(String),
}

/// How the local member was asked to start.
#[derive(Clone, Debug)]
pub struct ConsensusOptions {
    /// Stable Raft ID, derived from the node UUID.
    pub id: u64,
    /// Node name.
    pub node_name: String,
    /// Node UUID.
    pub node_uuid: String,
    /// Server RPC address peers reach this member on.
    pub rpc_addr: String,
    /// Fast timers for `-dev`.
    pub dev_timing: bool,
    /// Connections to the other servers (shared with request forwarding).
    pub pool: Arc<crate::rpc::Pool>,
    /// Entries between snapshots.
    pub snapshot_threshold: u64,
    /// Entries kept after a snapshot (so briefly absent servers catch up from the log).
    pub trailing_logs: u64,
    /// Where snapshots are written (`None`: kept in memory, `-dev`).
    pub snapshot_file: Option<std::path::PathBuf>,
    /// How often the snapshot threshold is checked.
    pub snapshot_interval: Duration,
    /// Timing scale (`performance.raft_multiplier`); 0 picks the default.
    pub raft_multiplier: u32,
}

/// Heartbeat and election timeouts for a `raft_multiplier`. A follower campaigns once the
/// leader has been silent for the lease (the maximum election timeout) plus its own random
/// election timeout, so with the default multiplier 2 (heartbeat 80 ms, election 200–350 ms)
/// a dead leader is replaced after 0.55–0.7 s of silence; a live leader on a stalled machine
/// has more than half a second of slack, and pre-vote keeps a follower that merely missed
/// heartbeats from disrupting it.
pub fn raft_timing(multiplier: u32) -> (u64, u64, u64) {
    let m = u64::from(if multiplier == 0 {
        2
    } else {
        multiplier.min(10)
    });
    (40 * m, 100 * m, 175 * m)
}

/// The longest one membership change (adding a learner, its catching up, a promotion or a
/// removal) may take before the caller moves on.
pub const MEMBERSHIP_TIMEOUT: Duration = Duration::from_secs(10);

/// Entries a learner may trail the leader by and still be promoted (openraft's own
/// `replication_lag_threshold` default).
const PROMOTE_LAG: u64 = 5000;

/// Whether learner `id` has caught up with this leader's log.
fn learner_caught_up(m: &openraft::RaftMetrics<TypeConfig>, id: u64) -> bool {
    let last = m.last_log_index.unwrap_or(0);
    let matched = m
        .replication
        .as_ref()
        .and_then(|r| r.get(&id))
        .and_then(|l| l.as_ref().map(|l| l.index));
    matched.is_some_and(|i| last.saturating_sub(i) <= PROMOTE_LAG)
}

/// Run a membership call under [`MEMBERSHIP_TIMEOUT`], its errors phrased for the log.
async fn bounded<T, E: std::fmt::Display>(
    call: impl std::future::Future<Output = Result<T, E>>,
) -> Result<(), ConsensusError> {
    match tokio::time::timeout(MEMBERSHIP_TIMEOUT, call).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => Err(ConsensusError::Membership(e.to_string())),
        Err(_) => Err(ConsensusError::Membership(format!(
            "no answer within {MEMBERSHIP_TIMEOUT:?}"
        ))),
    }
}

/// A running consensus member.
pub struct Consensus {
    /// The openraft handle.
    pub raft: Raft,
    /// The state store the state machine applies to.
    pub store: Arc<SharedStore>,
    /// The sled database (also used by the agent for its local state).
    pub db: sled::Db,
    opts: ConsensusOptions,
    /// When the leader last reached this server (AppendEntries, heartbeats included).
    last_leader_contact: Mutex<Option<std::time::Instant>>,
    /// The snapshot being received from the leader, chunk by chunk.
    inbox: Arc<snapshot_transfer::Inbox>,
    /// Silence after which a follower no longer names the leader it last heard from.
    leader_silence_limit: Duration,
}

/// Encode the node metadata kept in the Raft membership.
pub fn node_info(rpc_addr: &str, node_name: &str, node_uuid: &str) -> NodeInfo {
    NodeInfo::new(rpc_addr, format!("{node_name} {node_uuid}"))
}

/// Decode (node name, node UUID) from membership metadata.
pub fn node_identity(info: &NodeInfo) -> (&str, &str) {
    info.data
        .split_once(' ')
        .unwrap_or((info.data.as_str(), ""))
}

/// Raft member ID of a node UUID: its first 64 bits, so every server derives the same ID.
pub fn raft_id(uuid: &str) -> u64 {
    let hex: String = uuid
        .chars()
        .filter(|c| c.is_ascii_hexdigit())
        .take(16)
        .collect();
    u64::from_str_radix(&hex, 16).unwrap_or(1).max(1)
}

impl Consensus {
    /// Open the storage and start the Raft member (not yet part of any cluster).
    /// With `durable`, log appends and votes are fsynced before Raft is told they are stored.
    pub async fn start(
        opts: ConsensusOptions,
        db: sled::Db,
        durable: bool,
    ) -> Result<Self, ConsensusError> {
        let store = Arc::new(SharedStore::new());
        // The log's files sit beside the snapshot (`data_dir/raft-log/`).
        let log_dir = match (&opts.snapshot_file, durable) {
            (Some(snapshot), true) => snapshot.parent().map(|d| d.join("raft-log")),
            _ => None,
        };
        let log = LogStore::open(&db, log_dir.as_deref())
            .map_err(|e| ConsensusError::Storage(e.to_string()))?;
        // Before Raft starts: the inbox also removes pieces of snapshots a crash left behind.
        let inbox = Arc::new(snapshot_transfer::Inbox::new(opts.snapshot_file.clone()));
        let sm = StateMachine::open(&db, store.clone(), opts.snapshot_file.clone())
            .map_err(|e| ConsensusError::Storage(e.to_string()))?;

        let (heartbeat, election_min, election_max) = if opts.dev_timing {
            (35, 100, 200)
        } else {
            raft_timing(opts.raft_multiplier)
        };
        // Snapshots are taken on a timer (`raft_snapshot_interval`, as Consul does) once the
        // threshold is reached, not on every threshold crossing: under a heavy write load the
        // latter would serialise the whole store every second or two.
        let config = Config {
            cluster_name: "disco".into(),
            heartbeat_interval: heartbeat,
            election_timeout_min: election_min,
            election_timeout_max: election_max,
            snapshot_policy: SnapshotPolicy::Never,
            // A follower that merely missed heartbeats (a busy machine) cannot disrupt a
            // healthy leader: it must first win a pre-vote.
            enable_pre_vote: Some(true),
            max_in_snapshot_log_to_keep: opts.trailing_logs,
            ..Default::default()
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ConsensusError::Fatal(e.to_string()))?,
        );
        let raft = Raft::new(
            opts.id,
            config,
            NetworkFactory::new(opts.pool.clone()),
            log,
            sm,
        )
        .await
        .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        let snapshots = raft.clone();
        let (threshold, interval) = (opts.snapshot_threshold, opts.snapshot_interval);
        tokio::spawn(async move {
            loop {
                // Staggered between the interval and twice it, as Consul's servers do, so
                // servers started together do not all pause for a snapshot at once.
                let jitter = rand::random_range(0..interval.as_millis().max(1) as u64);
                tokio::time::sleep(interval + Duration::from_millis(jitter)).await;
                let m = snapshots.metrics().borrow_watched().clone();
                if m.running_state.is_err() {
                    return;
                }
                let applied = m.last_applied.map(|l| l.index).unwrap_or(0);
                let snap = m.snapshot.map(|l| l.index).unwrap_or(0);
                if applied.saturating_sub(snap) >= threshold
                    && snapshots.trigger().snapshot().await.is_err()
                {
                    return;
                }
            }
        });
        Ok(Consensus {
            raft,
            store,
            db,
            opts,
            last_leader_contact: Mutex::new(None),
            inbox,
            // With pre-vote, a follower keeps its vote (and openraft its `current_leader`)
            // until a campaign succeeds, so a dead leader would be named forever. Past a few
            // election timeouts of silence it is reported as none, as Consul's followers do
            // once they start an election.
            leader_silence_limit: Duration::from_millis(4 * election_max),
        })
    }

    /// Whether this member has Raft state (a log or a membership): then it never bootstraps.
    pub async fn is_initialized(&self) -> bool {
        self.raft.is_initialized().await.unwrap_or(true)
    }

    /// This member's Raft ID.
    pub fn id(&self) -> u64 {
        self.opts.id
    }

    /// This member's server RPC address, as peers know it.
    pub fn rpc_addr(&self) -> &str {
        &self.opts.rpc_addr
    }

    /// Make this server the single voter of a new cluster, unless it already has Raft state.
    pub async fn bootstrap_single(&self) -> Result<(), ConsensusError> {
        let mut members = BTreeMap::new();
        members.insert(
            self.opts.id,
            node_info(
                &self.opts.rpc_addr,
                &self.opts.node_name,
                &self.opts.node_uuid,
            ),
        );
        self.bootstrap(members).await
    }

    /// Initialise a new cluster with exactly these voters (every server of a
    /// `bootstrap_expect` cluster calls this with the same set), unless it has Raft state.
    pub async fn bootstrap(&self, members: BTreeMap<u64, NodeInfo>) -> Result<(), ConsensusError> {
        if self.is_initialized().await {
            return Ok(());
        }
        match self.raft.initialize(members).await {
            Ok(()) => Ok(()),
            // Another path initialised it first: fine.
            Err(e)
                if e.to_string().contains("NotAllowed")
                    || e.to_string().contains("not allowed") =>
            {
                Ok(())
            }
            Err(e) => Err(ConsensusError::Fatal(e.to_string())),
        }
    }

    /// Propose a command; answers after it is committed (fsynced on a quorum) and applied.
    pub async fn write(&self, cmd: Command) -> Result<(Response, u64), ConsensusError> {
        match self.raft.client_write(cmd).await {
            Ok(r) => Ok((r.data, r.log_id.index)),
            Err(openraft::errors::RaftError::APIError(
                openraft::errors::ClientWriteError::ForwardToLeader(f),
            )) => match f.leader_node {
                Some(n) => Err(ConsensusError::ForwardTo(n.raft_addr)),
                None => Err(ConsensusError::NoLeader),
            },
            Err(e) => Err(ConsensusError::Fatal(e.to_string())),
        }
    }

    /// Voters and learners: (raft ID, node info, is voter).
    pub fn peers(&self) -> Vec<(u64, NodeInfo, bool)> {
        let m = self.metrics();
        let mem = m.membership_config.membership();
        let voters: std::collections::BTreeSet<u64> = mem.voter_ids().collect();
        mem.nodes()
            .map(|(id, n)| (*id, n.clone(), voters.contains(id)))
            .collect()
    }

    /// Add a server: as a learner first (it catches up from the log or a snapshot), then
    /// promoted to voter once it trails the leader by few entries (leader only). Every step
    /// is bounded by [`MEMBERSHIP_TIMEOUT`]: a learner that cannot catch up in time (an
    /// unreachable RPC port, a snapshot still in flight) stays a learner and the caller's
    /// next pass tries again, so reconciliation never waits on it for good.
    pub async fn add_server(&self, id: u64, node: NodeInfo) -> Result<(), ConsensusError> {
        let is_learner = self.peers().iter().any(|(p, _, voter)| *p == id && !voter);
        if !is_learner {
            bounded(self.raft.add_learner(id, node, false)).await?;
        }
        let caught_up = self
            .raft
            .wait(Some(MEMBERSHIP_TIMEOUT))
            .metrics(move |m| learner_caught_up(m, id), "learner caught up")
            .await
            .is_ok();
        if !caught_up {
            return Err(ConsensusError::Membership(format!(
                "server {id} is still catching up; it stays a non-voter for now"
            )));
        }
        let mut ids = std::collections::BTreeSet::new();
        ids.insert(id);
        bounded(
            self.raft
                .change_membership(openraft::ChangeMembers::AddVoterIds(ids), false),
        )
        .await
    }

    /// Remove a server from the voters and the membership (leader only), bounded by
    /// [`MEMBERSHIP_TIMEOUT`] (without a quorum the change can never commit).
    pub async fn remove_server(&self, id: u64) -> Result<(), ConsensusError> {
        let mut ids = std::collections::BTreeSet::new();
        ids.insert(id);
        let is_voter = self.peers().iter().any(|(p, _, v)| *p == id && *v);
        let change = if is_voter {
            openraft::ChangeMembers::RemoveVoters(ids)
        } else {
            openraft::ChangeMembers::RemoveNodes(ids)
        };
        bounded(self.raft.change_membership(change, false)).await
    }

    /// Hand leadership to `to` now (a Raft leadership transfer, not a restart).
    pub async fn transfer_leader(&self, to: u64) -> Result<(), ConsensusError> {
        self.raft
            .trigger()
            .transfer_leader(to)
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))
    }

    /// Confirm leadership with a quorum and wait until the state machine caught up (`?consistent`).
    pub async fn linearize(&self) -> Result<(), ConsensusError> {
        self.raft
            .ensure_linearizable(openraft::ReadPolicy::ReadIndex)
            .await
            .map(|_| ())
            .map_err(|_| ConsensusError::NoLeader)
    }

    /// Leader only: how long ago server `id` last acknowledged an AppendEntries (heartbeats
    /// included); `None` when it never has, or this server does not lead.
    pub fn raft_contact(&self, id: u64) -> Option<Duration> {
        let heartbeat = self.metrics().heartbeat?;
        heartbeat.get(&id)?.as_ref().map(|t| t.elapsed())
    }

    /// Current Raft metrics snapshot.
    pub fn metrics(&self) -> openraft::RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    /// The RPC address of the current leader, if any (none once it has been silent for a
    /// few election timeouts).
    pub fn leader_addr(&self) -> Option<String> {
        // Copy out of the metrics and drop the borrow before `live_leader`: it asks openraft
        // whether this member leads, which borrows the same watch again, and a second read
        // borrow waits behind a Raft core that is waiting to publish metrics (a deadlock).
        let (leader, addr) = {
            let metrics = self.raft.metrics();
            let m = metrics.borrow_watched();
            let leader = m.current_leader;
            let addr = leader.and_then(|l| {
                m.membership_config
                    .membership()
                    .get_node(&l)
                    .map(|n| n.raft_addr.clone())
            });
            (leader, addr)
        };
        self.live_leader(leader)?;
        addr
    }

    /// `current_leader` from the metrics, unless this follower has not heard from it for a
    /// few election timeouts (see `leader_silence_limit`).
    pub fn live_leader(&self, current_leader: Option<u64>) -> Option<u64> {
        // `last_contact` is zero on the leader itself.
        let silent = self
            .last_contact()
            .is_some_and(|d| d > self.leader_silence_limit);
        if silent { None } else { current_leader }
    }

    /// Whether this member leads.
    pub fn is_leader(&self) -> bool {
        self.raft.is_leader()
    }

    /// Wait until some leader is known or `timeout` passes.
    pub async fn wait_for_leader(&self, timeout: Duration) -> bool {
        self.raft
            .wait(Some(timeout))
            .metrics(|m| m.current_leader.is_some(), "leader")
            .await
            .is_ok()
    }

    /// Serve a Raft message from a peer.
    pub async fn serve_rpc(&self, kind: crate::rpc::RaftKind, payload: &[u8]) -> Vec<u8> {
        if kind == crate::rpc::RaftKind::Append {
            *self.last_leader_contact.lock() = Some(std::time::Instant::now());
        }
        network::serve(&self.raft, &self.inbox, kind, payload).await
    }

    /// How long ago the leader was last heard from (`X-Consul-LastContact`): zero on the
    /// leader, `None` when no leader has reached this server since it started.
    pub fn last_contact(&self) -> Option<Duration> {
        if self.is_leader() {
            return Some(Duration::ZERO);
        }
        let last = *self.last_leader_contact.lock();
        last.map(|t| t.elapsed())
    }

    /// Stop the Raft member and flush storage.
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
        let _ = self.db.flush_async().await;
    }
}
