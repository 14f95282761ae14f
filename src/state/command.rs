//! Commands replicated through Raft and their results.

use serde::{Deserialize, Serialize};

use super::acl::AclOp;
use super::model::{Check, Node, Service};
use super::sessions::Session;
use super::txn::{TxnOp, TxnOutcome};

/// A KV mutation.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KvOp {
    /// Set `key`; with `cas`, only if the entry's ModifyIndex equals it (0: only if absent).
    Set {
        /// Key.
        key: String,
        /// Value bytes.
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Check-and-set index.
        cas: Option<u64>,
    },
    /// Delete `key` (or every key under the prefix with `recurse`).
    Delete {
        /// Key or prefix.
        key: String,
        /// Delete the whole prefix.
        recurse: bool,
        /// Check-and-set index.
        cas: Option<u64>,
    },
    /// `?acquire=`: take the lock on `key` for `session` and write the value (the key need
    /// not exist). `false` when another session holds it.
    Lock {
        /// Key.
        key: String,
        /// Value bytes.
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Session ID.
        session: String,
    },
    /// `?release=`: give up `session`'s lock on `key` and write the value. `false` unless
    /// that session holds it.
    Unlock {
        /// Key.
        key: String,
        /// Value bytes.
        value: Vec<u8>,
        /// Client flags.
        flags: u64,
        /// Session ID.
        session: String,
    },
}

/// A status change of an existing check (TTL updates, probe results).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckUpdate {
    /// Node.
    pub node: String,
    /// Check ID.
    pub check_id: String,
    /// New status.
    pub status: String,
    /// New output.
    pub output: String,
}

/// A state change, applied in Raft order on every server.
// Commands are built once and moved into the log; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Command {
    /// Catalog register: upsert a node, optionally one service and checks.
    Register {
        /// The node (index fields ignored).
        node: Node,
        /// Keep the stored node as is when it exists.
        skip_node_update: bool,
        /// Service to upsert.
        service: Option<Service>,
        /// Checks to upsert.
        checks: Vec<Check>,
    },
    /// Catalog deregister: a check, a service (with its checks), or the whole node.
    Deregister {
        /// Node.
        node: String,
        /// Service ID to remove.
        service_id: Option<String>,
        /// Check ID to remove.
        check_id: Option<String>,
    },
    /// Update check statuses without touching the rest.
    UpdateChecks(Vec<CheckUpdate>),
    /// KV write.
    Kv(KvOp),
    /// Create a session (its ID chosen by the server that took the request).
    SessionCreate(Session),
    /// Destroy a session, releasing or deleting what it holds; a no-op when unknown.
    SessionDestroy {
        /// Session ID.
        id: String,
    },
    /// A transaction: every operation or none, in this one entry.
    Txn(Vec<TxnOp>),
    /// An ACL write (tokens, policies, roles, bootstrap). Appended last so the variant
    /// numbers of entries already in logs stay valid.
    Acl(AclOp),
    /// A prepared-query write (appended last, as `Acl`).
    Query(super::QueryOp),
}

/// Result of applying a [`Command`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Response {
    /// Nothing to report (blank entries, membership changes).
    #[default]
    None,
    /// Success or CAS outcome.
    Bool(bool),
    /// The command was rejected; nothing was changed.
    Error(String),
    /// What a transaction did (or, with errors, why it did nothing).
    Txn(TxnOutcome),
}

impl std::fmt::Display for Command {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Command::Register {
                node,
                service,
                checks,
                ..
            } => write!(
                f,
                "register node={} service={} checks={}",
                node.node,
                service.as_ref().map(|s| s.id.as_str()).unwrap_or("-"),
                checks.len()
            ),
            Command::Deregister {
                node,
                service_id,
                check_id,
            } => {
                write!(
                    f,
                    "deregister node={node} service={service_id:?} check={check_id:?}"
                )
            }
            Command::UpdateChecks(u) => write!(f, "update-checks n={}", u.len()),
            Command::Kv(KvOp::Set { key, .. }) => write!(f, "kv-set {key}"),
            Command::Kv(KvOp::Delete { key, recurse, .. }) => {
                write!(f, "kv-delete {key} recurse={recurse}")
            }
            Command::Kv(KvOp::Lock { key, session, .. }) => {
                write!(f, "kv-lock {key} session={session}")
            }
            Command::Kv(KvOp::Unlock { key, session, .. }) => {
                write!(f, "kv-unlock {key} session={session}")
            }
            Command::SessionCreate(s) => write!(f, "session-create {} node={}", s.id, s.node),
            Command::SessionDestroy { id } => write!(f, "session-destroy {id}"),
            Command::Txn(ops) => write!(f, "txn ops={}", ops.len()),
            Command::Acl(op) => write!(f, "{op}"),
            Command::Query(op) => write!(f, "{op}"),
        }
    }
}

impl std::fmt::Display for Response {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}
