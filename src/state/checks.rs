//! The health checks table: checks by node and ID. Watch granularity: the table (check
//! lists, health state); checks also move their service's index (or, for node checks,
//! every service on the node), which the catalog records.

use std::sync::Arc;

use imbl::OrdMap;

use super::changes::{Changes, Table};
use super::model::Check;

type NodeChecks = OrdMap<Arc<str>, Arc<Check>>;

/// Health checks.
#[derive(Clone, Default)]
pub struct ChecksTable {
    /// Node → check ID → check.
    by_node: OrdMap<Arc<str>, NodeChecks>,
    len: usize,
    index: u64,
}

impl ChecksTable {
    /// Max index of the table, deletions included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of checks.
    pub fn len(&self) -> usize {
        self.len
    }

    /// One check.
    pub fn get(&self, node: &str, id: &str) -> Option<&Check> {
        self.by_node.get(node)?.get(id).map(|c| &**c)
    }

    /// A node's checks, by ID.
    pub fn on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Check> + 'a {
        self.by_node
            .get(node)
            .into_iter()
            .flat_map(|m| m.values().map(|c| &**c))
    }

    /// Every check, by (node, ID).
    pub fn iter(&self) -> impl Iterator<Item = &Check> {
        self.by_node.values().flat_map(|m| m.values().map(|c| &**c))
    }

    /// Insert or replace a check (its node and index fields already set).
    pub fn put(&mut self, check: Check, index: u64, changes: &mut Changes) {
        let node: Arc<str> = check.node.as_str().into();
        let id: Arc<str> = check.check_id.as_str().into();
        if self
            .by_node
            .entry(node)
            .or_default()
            .insert(id, Arc::new(check))
            .is_none()
        {
            self.len += 1;
        }
        self.bump(index, changes);
    }

    /// Remove a check, returning it.
    pub fn remove(
        &mut self,
        node: &str,
        id: &str,
        index: u64,
        changes: &mut Changes,
    ) -> Option<Arc<Check>> {
        let on_node = self.by_node.get_mut(node)?;
        let old = on_node.remove(id)?;
        if on_node.is_empty() {
            self.by_node.remove(node);
        }
        self.len -= 1;
        self.bump(index, changes);
        Some(old)
    }

    /// Put a check as read from a snapshot.
    pub fn restore(&mut self, check: Check) {
        let node: Arc<str> = check.node.as_str().into();
        let id: Arc<str> = check.check_id.as_str().into();
        if self
            .by_node
            .entry(node)
            .or_default()
            .insert(id, Arc::new(check))
            .is_none()
        {
            self.len += 1;
        }
    }

    /// Set the index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Checks);
    }
}
