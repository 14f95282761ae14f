//! The health checks table: checks by node and ID. Watch granularity: the table (check
//! lists, health state); checks also move their service's index (or, for node checks,
//! every service on the node), which the catalog records.

use std::sync::Arc;

use super::by_node::ByNode;
use super::changes::{Changes, Table};
use super::model::Check;

/// Health checks.
#[derive(Clone, Default)]
pub struct ChecksTable {
    rows: ByNode<Check>,
    index: u64,
}

impl ChecksTable {
    /// Max index of the table, deletions included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of checks.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// One check.
    pub fn get(&self, node: &str, id: &str) -> Option<&Check> {
        self.rows.get(node, id)
    }

    /// A node's checks, by ID.
    pub fn on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Check> + 'a {
        self.rows.on_node(node)
    }

    /// Every check, by (node, ID).
    pub fn iter(&self) -> impl Iterator<Item = &Check> {
        self.rows.iter()
    }

    /// Insert or replace a check (its node and index fields already set).
    pub fn put(&mut self, check: Check, index: u64, changes: &mut Changes) {
        self.restore(check);
        self.index = self.index.max(index);
        changes.table(Table::Checks);
    }

    /// Remove a check, returning it.
    pub fn remove(
        &mut self,
        node: &str,
        id: &str,
        index: u64,
        changes: &mut Changes,
    ) -> Option<Arc<Check>> {
        let (_, old) = self.rows.remove(node, id)?;
        self.index = self.index.max(index);
        changes.table(Table::Checks);
        Some(old)
    }

    /// Put a check as read from a snapshot.
    pub fn restore(&mut self, check: Check) {
        let (node, id) = (check.node.clone(), check.check_id.clone());
        self.rows.insert(node, id, check);
    }

    /// Set the index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }
}
