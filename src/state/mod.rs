//! The replicated state store: the catalog (nodes, services, checks) and the KV tree.
//!
//! Pure data and logic, no I/O: the Raft state machine applies [`Command`]s to a working
//! [`Store`] and publishes versions through [`SharedStore`], and the HTTP layer reads them.
//! Every row carries the Raft index that created and last modified it, which is what Consul
//! clients see as `CreateIndex`/`ModifyIndex` and what blocking queries compare against.
//!
//! One module per table (`nodes`, `services`, `checks`, `kv`, `sessions`, `acl_tokens`,
//! `acl_policies`, `acl_roles`), each with its indexes and
//! its watch granularity; `catalog` holds the writes that span the catalog tables. A new
//! table is a new module, a field of [`Store`], and its records in `snapshot`. Two kinds of
//! agent-local state live beside them, never replicated: lock-delays (`lock_delay`) and
//! user events (`events`).

mod acl;
mod acl_named;
mod acl_policies;
mod acl_roles;
mod acl_tokens;
mod by_node;
mod catalog;
mod changes;
mod checks;
mod command;
mod events;
mod kv;
mod lock_delay;
mod model;
mod name;
mod nodes;
mod queries;
mod services;
mod sessions;
mod shared;
pub mod snapshot;
mod store;
mod txn;
mod watch;

#[cfg(test)]
mod proptests;

pub use acl::{ANONYMOUS_ACCESSOR, ANONYMOUS_SECRET, AclOp};
pub use acl_policies::{AclPolicy, GLOBAL_MANAGEMENT_ID, GLOBAL_READ_ONLY_ID};
pub use acl_roles::AclRole;
pub use acl_tokens::{AclToken, NodeIdentity, ServiceIdentity};
pub use changes::{Changes, Table};
pub use command::{CheckUpdate, Command, KvOp, Response};
pub use events::{EVENT_RING_SIZE, EventRing, UserEvent, id_to_index, list_index};
pub use lock_delay::{LockDelays, MAX_LOCK_DELAY};
pub use model::{
    Check, CheckDefinition, CheckTuning, KvEntry, Name, Node, Service, TaggedAddress, Tags, Weights,
};
pub use queries::{PreparedQuery, QueryFailover, QueryOp, QueryService, QueryTemplate};
pub use sessions::{Behavior, ServiceCheck, Session};
pub use shared::SharedStore;
pub use store::{CheckFilter, ServiceSummary, Store};
pub use txn::{KvTxnOp, KvTxnResult, TxnError, TxnOp, TxnOutcome, TxnResult};
pub use watch::{Watch, WatchSet, Watches};

/// Health status strings as Consul spells them.
pub mod status {
    /// Every check is fine.
    pub const PASSING: &str = "passing";
    /// Degraded but usable.
    pub const WARNING: &str = "warning";
    /// Failing: the instance drops out of discovery.
    pub const CRITICAL: &str = "critical";
    /// Aggregate-only status used when a maintenance check is present.
    pub const MAINTENANCE: &str = "maintenance";

    /// Whether `s` is one of the three statuses a check can hold.
    pub fn is_valid(s: &str) -> bool {
        matches!(s, PASSING | WARNING | CRITICAL)
    }
}

/// The node check every agent carries, driven by gossip membership.
pub const SERF_CHECK_ID: &str = "serfHealth";
/// Name of [`SERF_CHECK_ID`] as Consul shows it.
pub const SERF_CHECK_NAME: &str = "Serf Health Status";
/// Output of a passing [`SERF_CHECK_ID`].
pub const SERF_ALIVE_OUTPUT: &str = "Agent alive and reachable";
