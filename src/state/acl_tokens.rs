//! The ACL tokens table: tokens by accessor ID, with the secret → accessor index every
//! request's token resolution goes through, and the bootstrap marker.
//!
//! Watch granularity: the ACL tables together ([`Table::Acl`]); token, policy and role
//! reads all answer with that index, and a resolver's cache is keyed on it.

use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::changes::{Changes, Table};
use super::model::Name;

/// A service identity: the token may act as this service (a synthetic policy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceIdentity {
    /// Service name.
    pub service_name: String,
    /// Datacenters it is valid in (empty: all).
    pub datacenters: Vec<String>,
}

/// A node identity: the token may act as this node (a synthetic policy).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeIdentity {
    /// Node name.
    pub node_name: String,
    /// The one datacenter it is valid in.
    pub datacenter: String,
}

/// A token. Policies and roles are linked by ID only, so renaming one follows through.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclToken {
    /// Public handle (UUID).
    pub accessor_id: Name,
    /// The bearer secret.
    pub secret_id: Name,
    /// Free text.
    pub description: String,
    /// Linked policy IDs.
    pub policies: Vec<String>,
    /// Linked role IDs.
    pub roles: Vec<String>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Valid only in this datacenter (stored and echoed; one datacenter here).
    pub local: bool,
    /// Unix time in nanoseconds after which the token no longer resolves (0: never).
    pub expiration_time_ns: i64,
    /// Unix time of creation in nanoseconds.
    pub create_time_ns: i64,
    /// Content hash, as Consul's `Hash`.
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

impl AclToken {
    /// Whether the token has expired at unix time `now_ns`.
    pub fn expired(&self, now_ns: i64) -> bool {
        self.expiration_time_ns > 0 && self.expiration_time_ns <= now_ns
    }
}

/// Tokens.
#[derive(Clone, Default)]
pub struct TokensTable {
    rows: OrdMap<Name, Arc<AclToken>>,
    /// Secret → accessor.
    by_secret: OrdMap<Name, Name>,
    /// Raft index of the bootstrap (0: not bootstrapped); also the reset index.
    bootstrap_index: u64,
    index: u64,
}

impl TokensTable {
    /// Max index of the table, deletes included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of tokens.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// One token by accessor.
    pub fn get(&self, accessor: &str) -> Option<&AclToken> {
        self.rows.get(accessor).map(|t| &**t)
    }

    /// One token by secret.
    pub fn by_secret(&self, secret: &str) -> Option<&AclToken> {
        self.by_secret.get(secret).and_then(|a| self.get(a))
    }

    /// Whether `id` is in use as an accessor or a secret.
    pub fn id_in_use(&self, id: &str) -> bool {
        self.rows.contains_key(id) || self.by_secret.contains_key(id)
    }

    /// Every token, by accessor.
    pub fn iter(&self) -> impl Iterator<Item = &AclToken> {
        self.rows.values().map(|t| &**t)
    }

    /// The bootstrap's index, 0 before it.
    pub fn bootstrap_index(&self) -> u64 {
        self.bootstrap_index
    }

    /// Record the bootstrap at `index`.
    pub fn set_bootstrapped(&mut self, index: u64, changes: &mut Changes) {
        self.bootstrap_index = index;
        self.bump(index, changes);
    }

    /// Insert or replace a token (its index fields already set).
    pub fn put(&mut self, t: AclToken, index: u64, changes: &mut Changes) {
        if let Some(old) = self.rows.get(t.accessor_id.as_str()) {
            let old_secret = old.secret_id.clone();
            self.by_secret.remove(old_secret.as_str());
        }
        self.by_secret
            .insert(t.secret_id.clone(), t.accessor_id.clone());
        self.rows.insert(t.accessor_id.clone(), Arc::new(t));
        self.bump(index, changes);
    }

    /// Remove a token, returning it.
    pub fn remove(
        &mut self,
        accessor: &str,
        index: u64,
        changes: &mut Changes,
    ) -> Option<Arc<AclToken>> {
        let t = self.rows.remove(accessor)?;
        self.by_secret.remove(t.secret_id.as_str());
        self.bump(index, changes);
        Some(t)
    }

    /// Put a token as read from a snapshot.
    pub fn restore(&mut self, t: AclToken) {
        self.by_secret
            .insert(t.secret_id.clone(), t.accessor_id.clone());
        self.rows.insert(t.accessor_id.clone(), Arc::new(t));
    }

    /// Set the indexes as read from a snapshot.
    pub fn restore_indexes(&mut self, index: u64, bootstrap_index: u64) {
        self.index = index;
        self.bootstrap_index = bootstrap_index;
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Acl);
    }
}
