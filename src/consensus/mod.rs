//! Consensus: an openraft member whose log, vote and snapshots live in sled and whose state
//! machine is the [`crate::state::Store`].

mod log_store;
mod network;
mod state_machine;

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use openraft::async_runtime::WatchReceiver;
use openraft::{Config, NodeInfo, SnapshotPolicy};

pub use log_store::LogStore;
pub use network::NetworkFactory;
pub use state_machine::StateMachine;

use crate::state::{Command, Response, Store};

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
    /// No leader is known, or this server is not it (forwarding comes with the server RPC).
    #[error("No cluster leader")]
    NoLeader,
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
}

/// A running consensus member.
pub struct Consensus {
    /// The openraft handle.
    pub raft: Raft,
    /// The state store the state machine applies to.
    pub store: Arc<RwLock<Store>>,
    /// The sled database (also used by the agent for its local state).
    pub db: sled::Db,
    opts: ConsensusOptions,
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
        let store = Arc::new(RwLock::new(Store::new()));
        let log =
            LogStore::open(&db, durable).map_err(|e| ConsensusError::Storage(e.to_string()))?;
        let sm = StateMachine::open(&db, store.clone(), durable)
            .map_err(|e| ConsensusError::Storage(e.to_string()))?;

        let config = if opts.dev_timing {
            Config {
                cluster_name: "disco".into(),
                heartbeat_interval: 35,
                election_timeout_min: 100,
                election_timeout_max: 200,
                ..Default::default()
            }
        } else {
            Config {
                cluster_name: "disco".into(),
                heartbeat_interval: 150,
                election_timeout_min: 1000,
                election_timeout_max: 2000,
                ..Default::default()
            }
        };
        let config = Config {
            snapshot_policy: SnapshotPolicy::LogsSinceLast(16_384),
            max_in_snapshot_log_to_keep: 10_240,
            ..config
        };
        let config = Arc::new(
            config
                .validate()
                .map_err(|e| ConsensusError::Fatal(e.to_string()))?,
        );
        let raft = Raft::new(opts.id, config, NetworkFactory, log, sm)
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?;
        Ok(Consensus {
            raft,
            store,
            db,
            opts,
        })
    }

    /// Make this server the single voter of a new cluster, unless it already has Raft state.
    pub async fn bootstrap_single(&self) -> Result<(), ConsensusError> {
        if self
            .raft
            .is_initialized()
            .await
            .map_err(|e| ConsensusError::Fatal(e.to_string()))?
        {
            return Ok(());
        }
        let mut members = BTreeMap::new();
        members.insert(
            self.opts.id,
            node_info(
                &self.opts.rpc_addr,
                &self.opts.node_name,
                &self.opts.node_uuid,
            ),
        );
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
                openraft::errors::ClientWriteError::ForwardToLeader(_),
            )) => Err(ConsensusError::NoLeader),
            Err(e) => Err(ConsensusError::Fatal(e.to_string())),
        }
    }

    /// Confirm leadership with a quorum and wait until the state machine caught up (`?consistent`).
    pub async fn linearize(&self) -> Result<(), ConsensusError> {
        self.raft
            .ensure_linearizable(openraft::ReadPolicy::ReadIndex)
            .await
            .map(|_| ())
            .map_err(|_| ConsensusError::NoLeader)
    }

    /// Current Raft metrics snapshot.
    pub fn metrics(&self) -> openraft::RaftMetrics<TypeConfig> {
        self.raft.metrics().borrow_watched().clone()
    }

    /// The RPC address of the current leader, if any.
    pub fn leader_addr(&self) -> Option<String> {
        let m = self.raft.metrics();
        let m = m.borrow_watched();
        let leader = m.current_leader?;
        m.membership_config
            .membership()
            .get_node(&leader)
            .map(|n| n.raft_addr.clone())
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

    /// Stop the Raft member and flush storage.
    pub async fn shutdown(&self) {
        let _ = self.raft.shutdown().await;
        let _ = self.db.flush_async().await;
    }
}
