//! The ACL roles table: named bundles of policies and identities that tokens link to, by ID
//! with a unique-name index.

use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::acl_tokens::{NodeIdentity, ServiceIdentity};
use super::changes::{Changes, Table};
use super::model::Name;

/// A role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclRole {
    /// UUID.
    pub id: Name,
    /// Unique name.
    pub name: Name,
    /// Free text.
    pub description: String,
    /// Linked policy IDs.
    pub policies: Vec<String>,
    /// Service identities.
    pub service_identities: Vec<ServiceIdentity>,
    /// Node identities.
    pub node_identities: Vec<NodeIdentity>,
    /// Content hash.
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Roles.
#[derive(Clone, Default)]
pub struct RolesTable {
    rows: OrdMap<Name, Arc<AclRole>>,
    by_name: OrdMap<Name, Name>,
    index: u64,
}

impl RolesTable {
    /// Max index of the table, deletes included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// One role by ID.
    pub fn get(&self, id: &str) -> Option<&AclRole> {
        self.rows.get(id).map(|r| &**r)
    }

    /// One role by name.
    pub fn by_name(&self, name: &str) -> Option<&AclRole> {
        self.by_name.get(name).and_then(|id| self.get(id))
    }

    /// Every role, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &AclRole> {
        self.rows.values().map(|r| &**r)
    }

    /// Insert or replace a role (its index fields already set).
    pub fn put(&mut self, r: AclRole, index: u64, changes: &mut Changes) {
        if let Some(old) = self.rows.get(r.id.as_str()) {
            let old_name = old.name.clone();
            self.by_name.remove(old_name.as_str());
        }
        self.by_name.insert(r.name.clone(), r.id.clone());
        self.rows.insert(r.id.clone(), Arc::new(r));
        self.bump(index, changes);
    }

    /// Remove a role, returning it.
    pub fn remove(&mut self, id: &str, index: u64, changes: &mut Changes) -> Option<Arc<AclRole>> {
        let r = self.rows.remove(id)?;
        self.by_name.remove(r.name.as_str());
        self.bump(index, changes);
        Some(r)
    }

    /// Put a role as read from a snapshot.
    pub fn restore(&mut self, r: AclRole) {
        self.by_name.insert(r.name.clone(), r.id.clone());
        self.rows.insert(r.id.clone(), Arc::new(r));
    }

    /// Set the index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Acl);
    }
}
