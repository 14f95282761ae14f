//! The services table: instances by node and ID, the by-name index beside them, and the
//! per-name index a blocking query on one service compares against.
//!
//! Watch granularity: one service name. A name's index moves when one of its instances,
//! their checks or their nodes change (the catalog bumps it for checks and nodes); the
//! table's index moves on any instance change.

use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use super::by_node::ByNode;
use super::changes::{Changes, Table};
use super::model::{Name, Service};

/// (node, instance ID).
type InstanceKey = (Name, Name);

/// Service instances.
#[derive(Clone, Default)]
pub struct ServicesTable {
    /// Node → instance ID → instance.
    by_node: ByNode<Service>,
    /// Service name → (node, instance ID) of every instance carrying it.
    by_name: OrdMap<Name, OrdSet<InstanceKey>>,
    /// Max index per service name. Names are never dropped, so a name that comes back keeps
    /// moving forward.
    name_indexes: OrdMap<Name, u64>,
    index: u64,
}

impl ServicesTable {
    /// Max index of the table, deletions included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of instances.
    pub fn len(&self) -> usize {
        self.by_node.len()
    }

    /// The index of service `name`, if it was ever registered.
    pub fn name_index(&self, name: &str) -> Option<u64> {
        self.name_indexes.get(name).copied()
    }

    /// Every name's index (for snapshots).
    pub fn name_indexes(&self) -> impl Iterator<Item = (&str, u64)> {
        self.name_indexes.iter().map(|(k, v)| (&**k, *v))
    }

    /// One instance.
    pub fn get(&self, node: &str, id: &str) -> Option<&Service> {
        self.by_node.get(node, id)
    }

    /// The instances on a node, by ID.
    pub fn on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Service> + 'a {
        self.by_node.on_node(node)
    }

    /// Every instance, by (node, ID).
    pub fn iter(&self) -> impl Iterator<Item = &Service> {
        self.by_node.iter()
    }

    /// The instances of service `name`, by (node, ID).
    pub fn named<'a>(&'a self, name: &str) -> impl Iterator<Item = &'a Service> + 'a {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|set| set.iter())
            .filter_map(|(node, id)| self.get(node, id))
    }

    /// `svc` with its name and tags sharing the copies the table already holds: the name
    /// the by-name index keys on, and the tags of an instance of the same name that carries
    /// the same (instances of one service usually do).
    pub fn shared(&self, mut svc: Service) -> Service {
        let held = self
            .by_name
            .get_key_value(svc.service.as_str())
            .map(|(k, _)| k)
            .or_else(|| {
                self.name_indexes
                    .get_key_value(svc.service.as_str())
                    .map(|(k, _)| k)
            });
        if let Some(name) = held {
            svc.service = name.clone();
        }
        let sibling = self
            .by_name
            .get(svc.service.as_str())
            .and_then(|set| set.get_min())
            .and_then(|(node, id)| self.get(node, id));
        if let Some(other) = sibling {
            svc.tags = svc.tags.share(&other.tags);
        }
        if let Some(held) = self.get(&svc.node, &svc.id) {
            svc.id = held.id.clone();
        }
        svc
    }

    /// Move service `name`'s index to `index`.
    pub fn bump_name(&mut self, name: &str, index: u64, changes: &mut Changes) {
        match self.name_indexes.get_mut(name) {
            Some(i) => *i = (*i).max(index),
            None => {
                let name = self.held_name(name);
                self.name_indexes.insert(name, index);
            }
        }
        changes.service(name);
    }

    /// Insert or replace an instance (its node and index fields already set), keeping the
    /// by-name index and both names' indexes in step.
    pub fn put(&mut self, svc: Service, index: u64, changes: &mut Changes) {
        let name = svc.service.clone();
        if let Some((node, id, old)) = self.insert(svc)
            && old.service != *name
        {
            self.unlink_name(&old.service, &node, &id);
            self.bump_name(&old.service, index, changes);
        }
        self.bump_name(&name, index, changes);
        self.bump(index, changes);
    }

    /// Insert or replace an instance and link it under its name; returns the replaced one
    /// with its keys.
    fn insert(&mut self, svc: Service) -> Option<(Name, Name, Arc<Service>)> {
        let node = svc.node.clone();
        let id = svc.id.clone();
        let name = svc.service.clone();
        let old = self.by_node.insert(node.clone(), id.clone(), svc);
        self.by_name
            .entry(name)
            .or_default()
            .insert((node.clone(), id.clone()));
        old.map(|o| (node, id, o))
    }

    /// Remove an instance, returning it.
    pub fn remove(
        &mut self,
        node: &str,
        id: &str,
        index: u64,
        changes: &mut Changes,
    ) -> Option<Arc<Service>> {
        let (id_key, old) = self.by_node.remove(node, id)?;
        self.unlink_name(&old.service, &old.node, &id_key);
        self.bump_name(&old.service, index, changes);
        self.bump(index, changes);
        Some(old)
    }

    /// Put an instance as read from a snapshot.
    pub fn restore(&mut self, svc: Service) {
        self.insert(svc);
    }

    /// Set a name's index as read from a snapshot.
    pub fn restore_name_index(&mut self, name: &str, index: u64) {
        let name = self.held_name(name);
        self.name_indexes.insert(name, index);
    }

    /// The by-name index's copy of `name`, or a new one when no instance carries it.
    fn held_name(&self, name: &str) -> Name {
        self.by_name
            .get_key_value(name)
            .map(|(k, _)| k.clone())
            .unwrap_or_else(|| Name::from(name))
    }

    /// Set the table's index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }

    fn unlink_name(&mut self, name: &str, node: &Name, id: &Name) {
        if let Some(set) = self.by_name.get_mut(name) {
            set.remove(&(node.clone(), id.clone()));
            if set.is_empty() {
                self.by_name.remove(name);
            }
        }
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Services);
    }
}
