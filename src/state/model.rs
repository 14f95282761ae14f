//! Row types of the state store. They mirror Consul's catalog structures but stay
//! independent of the HTTP shapes so the wire format can evolve separately.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

pub use super::name::{Name, Tags};

/// A catalog node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    /// Node UUID (may be empty for externally registered nodes).
    pub id: String,
    /// Unique node name.
    pub node: Name,
    /// Address other nodes and clients reach it on.
    pub address: String,
    /// Datacenter the node belongs to.
    pub datacenter: String,
    /// Extra addresses (`lan`, `wan`, ...).
    pub tagged_addresses: BTreeMap<String, String>,
    /// Node metadata.
    pub meta: BTreeMap<String, String>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A service-level tagged address (`{"Address":..,"Port":..}`).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TaggedAddress {
    /// Address.
    pub address: String,
    /// Port.
    pub port: i64,
}

/// DNS SRV weights of an instance by its health.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Weights {
    /// Weight while passing.
    pub passing: i64,
    /// Weight while warning.
    pub warning: i64,
}

impl Default for Weights {
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// A service instance registered on a node.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    /// Node the instance runs on.
    pub node: Name,
    /// Instance ID, unique per node.
    pub id: Name,
    /// Service name.
    pub service: Name,
    /// Tags.
    pub tags: Tags,
    /// Instance address; empty means the node's address.
    pub address: String,
    /// Extra addresses.
    pub tagged_addresses: BTreeMap<String, TaggedAddress>,
    /// Instance metadata.
    pub meta: BTreeMap<String, String>,
    /// Port.
    pub port: i64,
    /// SRV weights.
    pub weights: Weights,
    /// Whether catalog writes may override tags.
    pub enable_tag_override: bool,
    /// Kind (`""` for ordinary services).
    pub kind: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// How a check probes its target; kept for `Definition` in API output.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckDefinition {
    /// HTTP URL for HTTP checks.
    pub http: String,
    /// HTTP method.
    pub method: String,
    /// HTTP headers.
    pub header: BTreeMap<String, Vec<String>>,
    /// HTTP body.
    pub body: String,
    /// Skip TLS verification.
    pub tls_skip_verify: bool,
    /// TLS server name.
    pub tls_server_name: String,
    /// `host:port` for TCP checks.
    pub tcp: String,
    /// Arguments of script checks.
    pub script_args: Vec<String>,
    /// Interval in nanoseconds.
    pub interval_ns: u64,
    /// Timeout in nanoseconds.
    pub timeout_ns: u64,
    /// TTL in nanoseconds.
    pub ttl_ns: u64,
    /// Reap the service after this long critical, in nanoseconds.
    pub deregister_critical_service_after_ns: u64,
}

/// How the agent that owns a check runs it, beyond what the catalog shows. Kept apart from
/// [`CheckDefinition`] on purpose: the definition is part of the replicated log and snapshot
/// format, and this lives only in the owning agent's local state, so either can grow
/// without making older data unreadable.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckTuning {
    /// Report a redirect instead of following it.
    pub disable_redirects: bool,
    /// Bytes of output kept (0: the agent's `check_output_max_size`).
    pub output_max_size: u64,
    /// Consecutive successes before the status turns passing.
    pub success_before_passing: i64,
    /// Consecutive failures before the status turns warning.
    pub failures_before_warning: i64,
    /// Consecutive failures before the status turns critical.
    pub failures_before_critical: i64,
}

/// A health check, node-level when `service_id` is empty.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// Node the check belongs to.
    pub node: Name,
    /// Check ID, unique per node.
    pub check_id: Name,
    /// Human name.
    pub name: String,
    /// `passing`, `warning` or `critical`.
    pub status: Name,
    /// Free-form notes.
    pub notes: String,
    /// Output of the last run.
    pub output: String,
    /// Service instance the check belongs to (empty: node check).
    pub service_id: Name,
    /// Name of that service.
    pub service_name: Name,
    /// Tags of that service.
    pub service_tags: Tags,
    /// `http`, `tcp`, `ttl`, `script` or empty.
    pub check_type: String,
    /// Probe definition.
    pub definition: CheckDefinition,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A KV entry. Key and value share one allocation and the entry itself sits behind one
/// `Arc` in the KV table, so a key costs two heap blocks instead of four (the table is most
/// of a large store's memory).
#[derive(Clone, PartialEq, Eq)]
pub struct KvEntry {
    /// The key's bytes followed by the value's.
    data: Box<[u8]>,
    /// Where the key ends in `data`.
    key_len: u32,
    /// Opaque client flags.
    pub flags: u64,
    /// Times the lock on this key was acquired.
    pub lock_index: u64,
    /// Session holding the lock, if any.
    pub session: Option<Arc<str>>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

impl KvEntry {
    /// A new entry created and modified at `index`. Keys are bounded far below 4 GiB by the
    /// HTTP layer; a longer one is cut rather than wrapped.
    pub fn new(key: &str, value: &[u8], flags: u64, index: u64) -> Self {
        let key_len = key_len(key);
        KvEntry {
            data: [&key.as_bytes()[..key_len as usize], value]
                .concat()
                .into_boxed_slice(),
            key_len,
            flags,
            lock_index: 0,
            session: None,
            create_index: index,
            modify_index: index,
        }
    }

    /// The full key.
    pub fn key(&self) -> &str {
        let bytes = &self.data[..self.key_len as usize];
        // SAFETY: `data` is built only in `new` and `with_value`, and starts with the bytes
        // of a `&str` of exactly `key_len` bytes (a cut key is cut at a char boundary), so
        // this prefix is valid UTF-8. Checking it again here ran on every comparison of
        // every KV lookup.
        unsafe { std::str::from_utf8_unchecked(bytes) }
    }

    /// The raw value.
    pub fn value(&self) -> &[u8] {
        &self.data[self.key_len as usize..]
    }

    /// This entry with a new value and flags, modified at `index`.
    pub fn with_value(&self, value: &[u8], flags: u64, index: u64) -> Self {
        KvEntry {
            data: [self.key().as_bytes(), value].concat().into_boxed_slice(),
            flags,
            modify_index: index,
            ..self.clone_header()
        }
    }

    fn clone_header(&self) -> Self {
        KvEntry {
            data: Box::default(),
            key_len: self.key_len,
            flags: self.flags,
            lock_index: self.lock_index,
            session: self.session.clone(),
            create_index: self.create_index,
            modify_index: self.modify_index,
        }
    }
}

/// The stored length of `key`: all of it, or (past 4 GiB, which the HTTP layer never lets
/// through) the longest prefix ending on a char boundary.
fn key_len(key: &str) -> u32 {
    let mut len = key.len().min(u32::MAX as usize);
    while !key.is_char_boundary(len) {
        len -= 1;
    }
    len as u32
}

impl std::fmt::Debug for KvEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KvEntry")
            .field("key", &self.key())
            .field("value_len", &self.value().len())
            .field("flags", &self.flags)
            .field("lock_index", &self.lock_index)
            .field("session", &self.session)
            .field("create_index", &self.create_index)
            .field("modify_index", &self.modify_index)
            .finish()
    }
}

#[cfg(test)]
mod wire_format {
    use super::*;

    /// Checks travel in Raft log entries and snapshots: this layout must not change, or data
    /// written by earlier versions stops decoding. Add new per-check settings to
    /// [`CheckTuning`] (agent-local) instead.
    #[test]
    fn check_definition_encoding_is_stable() {
        let mut header = BTreeMap::new();
        header.insert("X".to_string(), vec!["y".to_string()]);
        let def = CheckDefinition {
            http: "h".into(),
            method: "GET".into(),
            header,
            body: "b".into(),
            tls_skip_verify: true,
            tls_server_name: "s".into(),
            tcp: "t".into(),
            script_args: vec!["a".into()],
            interval_ns: 1,
            timeout_ns: 2,
            ttl_ns: 3,
            deregister_critical_service_after_ns: 4,
        };
        let bytes = postcard::to_stdvec(&def).unwrap();
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "0168034745540101580101790162010173017401016101020304");
    }
}
