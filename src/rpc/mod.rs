//! Server RPC on `ports.server`: one TCP protocol for requests that must reach a server
//! (client agents forwarding API calls, catalog writes and anti-entropy reads; followers
//! sending the same to the leader; the Raft messages between servers).
//!
//! Frames are length-delimited postcard messages carrying a request ID, so one connection
//! carries many requests at once (pipelining) and is reused for the agent's lifetime.
//! `client.rs` sends, `server.rs` accepts and runs each request through a [`Handler`], and
//! `dispatch.rs` is that handler on a server: one `match` over [`Request`].

mod client;
mod dispatch;
mod server;

use serde::{Deserialize, Serialize};

pub use client::Pool;
pub use dispatch::{Dispatcher, HttpRouter};
pub use server::{AcceptPolicy, Handler, serve};

use crate::state::{Check, Command, Response, Service};

/// How long a server RPC connection may sit idle before keepalive probes start, how far
/// apart they go, and how long sent data or probes may stay unanswered before the kernel
/// closes the connection.
const KEEPALIVE_IDLE: std::time::Duration = std::time::Duration::from_secs(10);
const KEEPALIVE_INTERVAL: std::time::Duration = std::time::Duration::from_secs(5);
const USER_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// Tune a server RPC connection, on either end. A peer that went silent (a partition, a
/// dead host) closes it within [`USER_TIMEOUT`]: every call waiting on it fails at once and
/// the next one dials afresh. Without this a pooled connection to a partitioned server kept
/// taking calls until the kernel gave up retransmitting, a quarter of an hour later.
pub(crate) fn tune_connection(stream: &tokio::net::TcpStream) {
    let _ = stream.set_nodelay(true);
    let sock = socket2::SockRef::from(stream);
    let keepalive = socket2::TcpKeepalive::new()
        .with_time(KEEPALIVE_IDLE)
        .with_interval(KEEPALIVE_INTERVAL);
    let _ = sock.set_tcp_keepalive(&keepalive);
    #[cfg(target_os = "linux")]
    let _ = sock.set_tcp_user_timeout(Some(USER_TIMEOUT));
}

/// Largest frame either side accepts.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;

/// Frame tag of this protocol version; a peer speaking another is refused. Version 2 added
/// the caller's token to forwarded API calls and token resolution; version 3 the token of
/// the anti-entropy read.
const VERSION: u8 = 3;

/// A request to a server.
// Requests are built once and moved into a frame; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Request {
    /// An HTTP API call to execute as if it had arrived at the server.
    Http {
        /// Method.
        method: String,
        /// Path and query, as received.
        uri: String,
        /// Body.
        body: Vec<u8>,
        /// Sent by a follower to its leader: answer here, never forward again. A client
        /// agent's call may still travel on from a follower to the leader.
        from_server: bool,
        /// The caller's ACL token as it arrived (header or `?token=`; empty: none), so the
        /// server decides with the caller's rights, not the forwarding agent's.
        token: String,
    },
    /// Commit a command (a client agent's catalog sync, a follower's own writes).
    Apply {
        /// The command.
        cmd: Command,
        /// Sent by a server: commit here or fail, never forward again.
        from_server: bool,
        /// The token the write acts with (the caller's, a service's registration token or
        /// the agent's own), checked by the server when ACLs are on.
        token: String,
    },
    /// The catalog's services and checks of one node (anti-entropy diff), as far as the
    /// token may read them.
    NodeEntries {
        /// The node.
        node: String,
        /// The reading agent's token (empty: none).
        token: String,
    },
    /// A Raft message between servers; the payload is the consensus layer's own encoding.
    Raft {
        /// Which message.
        kind: RaftKind,
        /// Encoded request.
        payload: Vec<u8>,
    },
    /// What a token secret may do, for a client agent enforcing its own endpoints.
    ResolveToken(String),
}

/// A token as a server describes it to a client agent: enough to build its authorizer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ResolvedToken {
    /// Accessor ID.
    pub accessor_id: String,
    /// Description.
    pub description: String,
    /// Linked to the global-management policy.
    pub management: bool,
    /// The rules text of every other policy it holds (its own and its roles').
    pub policies: Vec<String>,
    /// Service identities (service names).
    pub service_identities: Vec<String>,
    /// Node identities (node name, datacenter).
    pub node_identities: Vec<(String, String)>,
}

/// The Raft messages servers exchange.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum RaftKind {
    /// AppendEntries (also heartbeats).
    Append,
    /// RequestVote.
    Vote,
    /// Pre-vote (would you vote for me?).
    PreVote,
    /// A whole snapshot.
    Snapshot,
    /// Leadership transfer: the receiver starts an election at once.
    TransferLeader,
    /// One chunk of a snapshot (the last one installs it).
    SnapshotChunk,
}

/// A server's answer.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Reply {
    /// HTTP response.
    Http {
        /// Status code.
        status: u16,
        /// Headers.
        headers: Vec<(String, String)>,
        /// Body.
        body: Vec<u8>,
    },
    /// Result of [`Request::Apply`].
    Applied(Response),
    /// Result of [`Request::NodeEntries`].
    NodeEntries(Vec<Service>, Vec<Check>),
    /// Result of [`Request::Raft`], encoded by the consensus layer.
    Raft(Vec<u8>),
    /// Result of [`Request::ResolveToken`]: `None` when the secret names no live token.
    Token(Option<ResolvedToken>),
    /// The server could not serve the request; the text says why (e.g. `No cluster leader`).
    Error(String),
}

#[derive(Debug, Serialize, Deserialize)]
struct Frame<T> {
    version: u8,
    id: u64,
    body: T,
}

/// Transport failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RpcError {
    /// Could not connect or the connection broke.
    #[error("rpc error: {0}")]
    Connection(String),
    /// No answer in time.
    #[error("rpc error: timed out after {0:?}")]
    Timeout(std::time::Duration),
    /// The server answered with an error.
    #[error("{0}")]
    Remote(String),
}

/// A frame's bytes as a server decodes a request and a client a reply (the `fuzzing`
/// feature's entry point). Whatever decodes encodes again and decodes to the same bytes.
/// The request, when it decodes at this protocol version.
#[cfg(any(test, feature = "fuzzing"))]
pub(crate) fn fuzz_frames(data: &[u8]) -> Option<Request> {
    fn round_trip<T: Serialize + serde::de::DeserializeOwned>(f: &T) {
        if let Ok(once) = postcard::to_stdvec(f) {
            let again: T = postcard::from_bytes(&once).expect("an encoded frame decodes");
            let twice = postcard::to_stdvec(&again).expect("a decoded frame encodes");
            assert_eq!(once, twice, "a frame survives a round trip");
        }
    }
    if let Ok(reply) = postcard::from_bytes::<Frame<Reply>>(data) {
        round_trip(&reply);
    }
    let frame = postcard::from_bytes::<Frame<Request>>(data).ok()?;
    round_trip(&frame);
    (frame.version == VERSION).then_some(frame.body)
}
