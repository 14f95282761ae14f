//! Raft network between servers.
//!
//! A single server has no peers, so nothing is ever sent; peers are reached over the server
//! RPC port once multi-server clusters are formed. Until then every RPC reports the peer as
//! unreachable, which openraft handles by retrying with backoff.

use std::future::Future;
use std::io::Cursor;

use openraft::errors::{RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, v2::RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotOf, VoteOf};
use openraft::{NodeInfo, OptionalSend};

use super::TypeConfig;

/// Creates per-peer clients.
#[derive(Clone, Default)]
pub struct NetworkFactory;

/// A client for one peer.
pub struct PeerClient {
    addr: String,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, _target: u64, node: &NodeInfo) -> Self::Network {
        PeerClient {
            addr: node.raft_addr.clone(),
        }
    }
}

impl PeerClient {
    fn unreachable(&self) -> Unreachable<TypeConfig> {
        let err = std::io::Error::new(
            std::io::ErrorKind::NotConnected,
            format!("no server RPC transport to {}", self.addr),
        );
        Unreachable::new(&err)
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = Cursor<Vec<u8>>;

    async fn append_entries(
        &mut self,
        _rpc: AppendEntriesRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn vote(
        &mut self,
        _rpc: VoteRequest<TypeConfig>,
        _option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        Err(RPCError::Unreachable(self.unreachable()))
    }

    async fn full_snapshot(
        &mut self,
        _vote: VoteOf<TypeConfig>,
        _snapshot: SnapshotOf<TypeConfig, Self::SnapshotData>,
        _cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        Err(StreamingError::Unreachable(self.unreachable()))
    }
}
