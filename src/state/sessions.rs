//! The sessions table: sessions by ID, with the indexes invalidation needs beside them (by
//! node, and by the (node, check) pairs each session is linked to).
//!
//! Watch granularity: the table. Consul answers every session read with the table's index
//! and wakes blocking session queries on any create or destroy; so does disco.
//!
//! A session never changes after it is created (renewal lives in the leader's memory, not
//! in Raft), so a row is written once and removed once.

use std::sync::Arc;

use imbl::{OrdMap, OrdSet};
use serde::{Deserialize, Serialize};

use super::changes::{Changes, Table};
use super::model::Name;

/// What happens to the keys a session holds when it is invalidated.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Behavior {
    /// Release the lock: the key stays, its `Session` is cleared.
    #[default]
    Release,
    /// Delete the key.
    Delete,
}

impl Behavior {
    /// Consul's spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Behavior::Release => "release",
            Behavior::Delete => "delete",
        }
    }
}

/// A service check a session is linked to (Consul keeps a namespace beside the ID; it is
/// always empty outside Consul Enterprise).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceCheck {
    /// Check ID on the session's node.
    pub id: String,
    /// Namespace (empty).
    pub namespace: String,
}

/// A session: a lease on a node, tied to health checks, that KV locks are held by.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Session {
    /// UUID.
    pub id: Name,
    /// Free-form name.
    pub name: String,
    /// Node the session belongs to.
    pub node: Name,
    /// Lock-delay in nanoseconds after invalidation (capped at 60 s when applied).
    pub lock_delay_ns: u64,
    /// Release or delete held keys on invalidation.
    pub behavior: Behavior,
    /// TTL exactly as given (`""` when none), echoed back verbatim as Consul does.
    pub ttl: String,
    /// Legacy `Checks` list (node checks by ID), kept for output.
    pub checks: Vec<String>,
    /// Node checks the session is linked to.
    pub node_checks: Vec<String>,
    /// Service checks the session is linked to.
    pub service_checks: Vec<ServiceCheck>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Equal to `create_index`: a session is never modified.
    pub modify_index: u64,
}

impl Session {
    /// Every check ID the session is linked to, each once: `Checks ∪ NodeChecks ∪
    /// ServiceChecks`, as Consul's `CheckIDs()`.
    pub fn check_ids(&self) -> Vec<&str> {
        let mut ids: Vec<&str> = self
            .checks
            .iter()
            .chain(&self.node_checks)
            .map(String::as_str)
            .chain(self.service_checks.iter().map(|c| c.id.as_str()))
            .collect();
        ids.sort_unstable();
        ids.dedup();
        ids
    }
}

/// (node, check ID).
type CheckKey = (Name, Name);

/// Sessions.
#[derive(Clone, Default)]
pub struct SessionsTable {
    rows: OrdMap<Name, Arc<Session>>,
    /// Node → the sessions on it.
    by_node: OrdMap<Name, OrdSet<Name>>,
    /// (node, check ID) → the sessions linked to that check.
    by_check: OrdMap<CheckKey, OrdSet<Name>>,
    index: u64,
}

impl SessionsTable {
    /// Max index of the table, destroys included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of sessions.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// One session.
    pub fn get(&self, id: &str) -> Option<&Session> {
        self.rows.get(id).map(|s| &**s)
    }

    /// Every session, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &Session> {
        self.rows.values().map(|s| &**s)
    }

    /// The sessions on `node`, by ID.
    pub fn on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Session> + 'a {
        self.by_node
            .get(node)
            .into_iter()
            .flat_map(|ids| ids.iter())
            .filter_map(|id| self.get(id))
    }

    /// IDs of the sessions linked to check `check` on `node`.
    pub fn linked_to(&self, node: &str, check: &str) -> Vec<Name> {
        // The index is keyed by owned pairs; a lookup builds one from the borrowed names.
        let key = (Name::from(node), Name::from(check));
        self.by_check
            .get(&key)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default()
    }

    /// Insert a session (its index fields already set).
    pub fn put(&mut self, s: Session, index: u64, changes: &mut Changes) {
        self.link(&s);
        self.rows.insert(s.id.clone(), Arc::new(s));
        self.bump(index, changes);
    }

    /// Remove a session, returning it.
    pub fn remove(&mut self, id: &str, index: u64, changes: &mut Changes) -> Option<Arc<Session>> {
        let s = self.rows.remove(id)?;
        self.unlink(&s);
        self.bump(index, changes);
        Some(s)
    }

    /// Put a session as read from a snapshot.
    pub fn restore(&mut self, s: Session) {
        self.link(&s);
        self.rows.insert(s.id.clone(), Arc::new(s));
    }

    /// Set the index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }

    fn link(&mut self, s: &Session) {
        self.by_node
            .entry(s.node.clone())
            .or_default()
            .insert(s.id.clone());
        for c in s.check_ids() {
            self.by_check
                .entry((s.node.clone(), Name::from(c)))
                .or_default()
                .insert(s.id.clone());
        }
    }

    fn unlink(&mut self, s: &Session) {
        if let Some(ids) = self.by_node.get_mut(s.node.as_str()) {
            ids.remove(&s.id);
            if ids.is_empty() {
                self.by_node.remove(s.node.as_str());
            }
        }
        for c in s.check_ids() {
            let key = (s.node.clone(), Name::from(c));
            if let Some(ids) = self.by_check.get_mut(&key) {
                ids.remove(&s.id);
                if ids.is_empty() {
                    self.by_check.remove(&key);
                }
            }
        }
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Sessions);
    }
}
