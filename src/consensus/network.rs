//! Raft network between servers, over the server RPC (`ports.server`): each message is
//! postcard-encoded and carried in one pipelined RPC frame on the connection to that peer.

use std::future::Future;
use std::io::Cursor;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use openraft::errors::{NetworkError, RPCError, ReplicationClosed, StreamingError, Unreachable};
use openraft::network::{RPCOption, RaftNetworkFactory, v2::RaftNetworkV2};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, SnapshotResponse, TransferLeaderRequest,
    TransferLeaderResponse, VoteRequest, VoteResponse,
};
use openraft::type_config::alias::{SnapshotMetaOf, SnapshotOf, VoteOf};
use openraft::{NodeInfo, OptionalSend};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

use super::{Raft, SnapshotData, TypeConfig, snapshot_transfer};
use crate::rpc::{Pool, RaftKind, Reply, Request};

/// A snapshot on the wire.
#[derive(Serialize, Deserialize)]
pub struct SnapshotWire {
    vote: VoteOf<TypeConfig>,
    meta: SnapshotMetaOf<TypeConfig>,
    data: Vec<u8>,
}

/// Creates per-peer clients sharing the agent's RPC connections.
#[derive(Clone)]
pub struct NetworkFactory {
    pool: Arc<Pool>,
}

impl NetworkFactory {
    /// A factory over `pool`.
    pub fn new(pool: Arc<Pool>) -> NetworkFactory {
        NetworkFactory { pool }
    }
}

/// A client for one peer.
pub struct PeerClient {
    addr: String,
    pool: Arc<Pool>,
}

impl RaftNetworkFactory<TypeConfig> for NetworkFactory {
    type Network = PeerClient;

    async fn new_client(&mut self, _target: u64, node: &NodeInfo) -> Self::Network {
        PeerClient {
            addr: node.raft_addr.clone(),
            pool: self.pool.clone(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct WireError(String);

fn unreachable(e: impl ToString) -> Unreachable<TypeConfig> {
    Unreachable::new(&WireError(e.to_string()))
}

impl PeerClient {
    async fn call<Req: Serialize, Resp: DeserializeOwned>(
        &self,
        kind: RaftKind,
        req: &Req,
        ttl: Duration,
    ) -> Result<Resp, RPCError<TypeConfig>> {
        let addr: SocketAddr = self
            .addr
            .parse()
            .map_err(|e| RPCError::Unreachable(unreachable(format!("{}: {e}", self.addr))))?;
        let payload = postcard::to_stdvec(req)
            .map_err(|e| RPCError::Network(NetworkError::new(&WireError(e.to_string()))))?;
        // openraft's per-call TTL follows the heartbeat interval (100 ms); on a busy machine
        // an append batch can take longer than that without the peer being gone. Waiting a
        // little longer, and reporting a slow answer as a network hiccup (retried at once)
        // rather than an unreachable peer (backed off), keeps a loaded leader from starving
        // its followers into an election.
        let ttl = ttl.max(Duration::from_secs(1));
        let reply = self
            .pool
            .call(addr, Request::Raft { kind, payload }, ttl)
            .await
            .map_err(|e| match e {
                crate::rpc::RpcError::Timeout(_) => {
                    RPCError::Network(NetworkError::new(&WireError(e.to_string())))
                }
                e => RPCError::Unreachable(unreachable(e)),
            })?;
        let Reply::Raft(bytes) = reply else {
            return Err(RPCError::Unreachable(unreachable(format!(
                "unexpected reply from {addr}"
            ))));
        };
        let r: Result<Resp, String> = postcard::from_bytes(&bytes)
            .map_err(|e| RPCError::Network(NetworkError::new(&WireError(e.to_string()))))?;
        r.map_err(|e| RPCError::Unreachable(unreachable(e)))
    }
}

impl RaftNetworkV2<TypeConfig> for PeerClient {
    type SnapshotData = SnapshotData;

    async fn append_entries(
        &mut self,
        rpc: AppendEntriesRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<AppendEntriesResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RaftKind::Append, &rpc, option.hard_ttl()).await
    }

    async fn vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RaftKind::Vote, &rpc, option.hard_ttl()).await
    }

    async fn pre_vote(
        &mut self,
        rpc: VoteRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<VoteResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RaftKind::PreVote, &rpc, option.hard_ttl()).await
    }

    async fn full_snapshot(
        &mut self,
        vote: VoteOf<TypeConfig>,
        snapshot: SnapshotOf<TypeConfig, Self::SnapshotData>,
        cancel: impl Future<Output = ReplicationClosed> + OptionalSend + 'static,
        _option: RPCOption,
    ) -> Result<SnapshotResponse<TypeConfig>, StreamingError<TypeConfig>> {
        let blocking = |e: tokio::task::JoinError| StreamingError::Unreachable(unreachable(e));
        let io = |e: std::io::Error| StreamingError::Unreachable(unreachable(e));
        let rpc = |e: RPCError<TypeConfig>| match e {
            RPCError::Network(n) => StreamingError::Network(n),
            RPCError::Timeout(t) => StreamingError::Timeout(t),
            other => StreamingError::Unreachable(unreachable(other)),
        };
        let send = async {
            let transfer: u64 = rand::random();
            let mut data = snapshot.snapshot;
            let (d, total) = tokio::task::spawn_blocking(move || {
                let total = snapshot_transfer::size_of(&data);
                (data, total)
            })
            .await
            .map_err(blocking)?;
            data = d;
            let total = total.map_err(io)?;
            let mut offset = 0u64;
            loop {
                let (d, chunk) = tokio::task::spawn_blocking(move || {
                    snapshot_transfer::read_chunk(data, offset)
                })
                .await
                .map_err(blocking)?
                .map_err(io)?;
                data = d;
                let len = chunk.len() as u64;
                let wire = snapshot_transfer::ChunkWire {
                    vote,
                    meta: snapshot.meta.clone(),
                    transfer,
                    offset,
                    total,
                    data: chunk,
                };
                // The last chunk is answered after the follower installed the snapshot.
                let ttl = if offset + len >= total { 300 } else { 60 };
                let reply: Option<SnapshotResponse<TypeConfig>> = self
                    .call(RaftKind::SnapshotChunk, &wire, Duration::from_secs(ttl))
                    .await
                    .map_err(rpc)?;
                offset += len;
                match reply {
                    Some(done) => return Ok(done),
                    None if len == 0 || offset >= total => {
                        return Err(StreamingError::Unreachable(unreachable(
                            "snapshot transfer ended without an answer",
                        )));
                    }
                    None => {}
                }
            }
        };
        tokio::select! {
            r = send => r,
            closed = cancel => Err(StreamingError::Closed(closed)),
        }
    }

    async fn transfer_leader(
        &mut self,
        req: TransferLeaderRequest<TypeConfig>,
        option: RPCOption,
    ) -> Result<TransferLeaderResponse<TypeConfig>, RPCError<TypeConfig>> {
        self.call(RaftKind::TransferLeader, &req, option.hard_ttl())
            .await
    }
}

fn encode<T: Serialize, E: ToString>(r: Result<T, E>) -> Vec<u8> {
    let r: Result<T, String> = r.map_err(|e| e.to_string());
    postcard::to_stdvec(&r).unwrap_or_default()
}

fn decode<T: DeserializeOwned>(payload: &[u8]) -> Result<T, String> {
    postcard::from_bytes(payload).map_err(|e| format!("malformed raft message: {e}"))
}

/// Serve one Raft message from a peer; the answer is encoded for [`PeerClient`].
pub async fn serve(
    raft: &Raft,
    inbox: &Arc<snapshot_transfer::Inbox>,
    kind: RaftKind,
    payload: &[u8],
) -> Vec<u8> {
    match kind {
        RaftKind::Append => match decode::<AppendEntriesRequest<TypeConfig>>(payload) {
            Ok(req) => encode(raft.append_entries(req).await),
            Err(e) => encode::<(), _>(Err(e)),
        },
        RaftKind::Vote => match decode::<VoteRequest<TypeConfig>>(payload) {
            Ok(req) => encode(raft.vote(req).await),
            Err(e) => encode::<(), _>(Err(e)),
        },
        RaftKind::PreVote => match decode::<VoteRequest<TypeConfig>>(payload) {
            Ok(req) => encode(raft.pre_vote(req).await),
            Err(e) => encode::<(), _>(Err(e)),
        },
        RaftKind::Snapshot => match decode::<SnapshotWire>(payload) {
            Ok(w) => {
                let snap = openraft::storage::Snapshot {
                    meta: w.meta,
                    snapshot: SnapshotData::Memory(Cursor::new(w.data)),
                };
                encode(raft.install_full_snapshot(w.vote, snap).await)
            }
            Err(e) => encode::<(), _>(Err(e)),
        },
        RaftKind::SnapshotChunk => match decode::<snapshot_transfer::ChunkWire>(payload) {
            Ok(chunk) => {
                let inbox = inbox.clone();
                let received = tokio::task::spawn_blocking(move || {
                    let r = inbox.receive(&chunk);
                    (r, chunk.vote, chunk.meta)
                })
                .await;
                match received {
                    Ok((Ok(snapshot_transfer::Received::Partial), _, _)) => {
                        encode::<Option<SnapshotResponse<TypeConfig>>, String>(Ok(None))
                    }
                    Ok((Ok(snapshot_transfer::Received::Complete(data)), vote, meta)) => {
                        let snap = openraft::storage::Snapshot {
                            meta,
                            snapshot: data,
                        };
                        encode(raft.install_full_snapshot(vote, snap).await.map(Some))
                    }
                    Ok((Err(e), _, _)) => encode::<(), _>(Err(e)),
                    Err(e) => encode::<(), _>(Err(e)),
                }
            }
            Err(e) => encode::<(), _>(Err(e)),
        },
        RaftKind::TransferLeader => match decode::<TransferLeaderRequest<TypeConfig>>(payload) {
            Ok(req) => encode(raft.handle_transfer_leader(req).await),
            Err(e) => encode::<(), _>(Err(e)),
        },
    }
}
