//! The nodes table. Watch granularity: the table (node lists); a node change also moves
//! the index of every service on the node, which the catalog records (see `catalog.rs`).

use std::sync::Arc;

use imbl::OrdMap;

use super::changes::{Changes, Table};
use super::model::{Name, Node};

/// Catalog nodes by name.
#[derive(Clone, Default)]
pub struct NodesTable {
    rows: OrdMap<Name, Arc<Node>>,
    index: u64,
}

impl NodesTable {
    /// Max index of the table, deletions included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of nodes.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// One node.
    pub fn get(&self, name: &str) -> Option<&Node> {
        self.rows.get(name).map(|n| &**n)
    }

    /// The table's copy of a node's name, for rows on the node to share.
    pub fn name(&self, name: &str) -> Option<Name> {
        self.rows.get(name).map(|n| n.node.clone())
    }

    /// Every node, by name.
    pub fn iter(&self) -> impl Iterator<Item = &Node> {
        self.rows.values().map(|n| &**n)
    }

    /// Insert or replace a node (its index fields already set).
    pub fn put(&mut self, mut node: Node, index: u64, changes: &mut Changes) {
        if let Some(held) = self.rows.get(node.node.as_str()) {
            node.node = held.node.clone();
        }
        self.rows.insert(node.node.clone(), Arc::new(node));
        self.bump(index, changes);
    }

    /// Remove a node; whether it existed.
    pub fn remove(&mut self, name: &str, index: u64, changes: &mut Changes) -> bool {
        let existed = self.rows.remove(name).is_some();
        if existed {
            self.bump(index, changes);
        }
        existed
    }

    /// Put a node as read from a snapshot.
    pub fn restore(&mut self, node: Node) {
        self.rows.insert(node.node.clone(), Arc::new(node));
    }

    /// Set the index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Nodes);
    }
}
