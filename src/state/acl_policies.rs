//! The ACL policies table: policies by ID, with the unique-name index that `Name`-linked
//! writes and `/v1/acl/policy/name/<name>` resolve through. Rules are kept as the text the
//! client sent (HCL or JSON) and echoed back unchanged; they were checked before the
//! write entered Raft, and the resolver parses them when it builds an authorizer.

use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::changes::{Changes, Table};
use super::model::Name;

/// ID of the built-in policy that grants everything.
pub const GLOBAL_MANAGEMENT_ID: &str = "00000000-0000-0000-0000-000000000001";
/// ID of the built-in read-only policy.
pub const GLOBAL_READ_ONLY_ID: &str = "00000000-0000-0000-0000-000000000002";

/// A policy: a named set of rules.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AclPolicy {
    /// UUID.
    pub id: Name,
    /// Unique name.
    pub name: Name,
    /// Free text.
    pub description: String,
    /// The rules as written.
    pub rules: String,
    /// Datacenters it applies in (empty: all).
    pub datacenters: Vec<String>,
    /// Content hash.
    pub hash: Vec<u8>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// Policies.
#[derive(Clone, Default)]
pub struct PoliciesTable {
    rows: OrdMap<Name, Arc<AclPolicy>>,
    by_name: OrdMap<Name, Name>,
    index: u64,
}

impl PoliciesTable {
    /// Max index of the table, deletes included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// One policy by ID.
    pub fn get(&self, id: &str) -> Option<&AclPolicy> {
        self.rows.get(id).map(|p| &**p)
    }

    /// One policy by name.
    pub fn by_name(&self, name: &str) -> Option<&AclPolicy> {
        self.by_name.get(name).and_then(|id| self.get(id))
    }

    /// Every policy, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &AclPolicy> {
        self.rows.values().map(|p| &**p)
    }

    /// Insert or replace a policy (its index fields already set).
    pub fn put(&mut self, p: AclPolicy, index: u64, changes: &mut Changes) {
        if let Some(old) = self.rows.get(p.id.as_str()) {
            let old_name = old.name.clone();
            self.by_name.remove(old_name.as_str());
        }
        self.by_name.insert(p.name.clone(), p.id.clone());
        self.rows.insert(p.id.clone(), Arc::new(p));
        self.bump(index, changes);
    }

    /// Remove a policy, returning it.
    pub fn remove(
        &mut self,
        id: &str,
        index: u64,
        changes: &mut Changes,
    ) -> Option<Arc<AclPolicy>> {
        let p = self.rows.remove(id)?;
        self.by_name.remove(p.name.as_str());
        self.bump(index, changes);
        Some(p)
    }

    /// Put a policy as read from a snapshot.
    pub fn restore(&mut self, p: AclPolicy) {
        self.by_name.insert(p.name.clone(), p.id.clone());
        self.rows.insert(p.id.clone(), Arc::new(p));
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
