//! Rows keyed by (node, ID), the layout the services and checks tables share: a persistent
//! map of nodes, each holding a persistent map of its rows, so "everything on a node" is one
//! lookup and a new version copies only the changed node's path.

use std::sync::Arc;

use imbl::OrdMap;

use super::model::Name;

/// Rows of type `T` by node name, then by ID.
#[derive(Clone)]
pub struct ByNode<T> {
    nodes: OrdMap<Name, OrdMap<Name, Arc<T>>>,
    len: usize,
}

impl<T> Default for ByNode<T> {
    fn default() -> Self {
        ByNode {
            nodes: OrdMap::new(),
            len: 0,
        }
    }
}

impl<T> ByNode<T> {
    /// Number of rows.
    pub fn len(&self) -> usize {
        self.len
    }

    /// One row.
    pub fn get(&self, node: &str, id: &str) -> Option<&T> {
        self.nodes.get(node)?.get(id).map(|r| &**r)
    }

    /// A node's rows, by ID.
    pub fn on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a T> + 'a {
        self.nodes
            .get(node)
            .into_iter()
            .flat_map(|m| m.values().map(|r| &**r))
    }

    /// Every row, by (node, ID).
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.nodes.values().flat_map(|m| m.values().map(|r| &**r))
    }

    /// Insert or replace a row; returns the one replaced.
    pub fn insert(&mut self, node: Name, id: Name, row: T) -> Option<Arc<T>> {
        let old = self
            .nodes
            .entry(node)
            .or_default()
            .insert(id, Arc::new(row));
        if old.is_none() {
            self.len += 1;
        }
        old
    }

    /// Remove a row, returning it with its ID key.
    pub fn remove(&mut self, node: &str, id: &str) -> Option<(Name, Arc<T>)> {
        let on_node = self.nodes.get_mut(node)?;
        let removed = on_node.remove_with_key(id)?;
        if on_node.is_empty() {
            self.nodes.remove(node);
        }
        self.len -= 1;
        Some(removed)
    }
}
