//! The shape ACL policies and roles share: rows by ID with a unique-name index, so a write
//! that links by name and `/v1/acl/<kind>/name/<name>` both resolve in one lookup.

use std::sync::Arc;

use imbl::OrdMap;

use super::changes::{Changes, Table};
use super::model::Name;

/// A row with an ID and a unique name.
pub trait Named {
    /// The row's ID.
    fn id(&self) -> &Name;
    /// The row's unique name.
    fn name(&self) -> &Name;
}

/// Rows by ID, with name → ID beside them. Watch granularity: [`Table::Acl`].
#[derive(Clone)]
pub struct NamedTable<T> {
    rows: OrdMap<Name, Arc<T>>,
    by_name: OrdMap<Name, Name>,
    index: u64,
}

impl<T> Default for NamedTable<T> {
    fn default() -> Self {
        NamedTable {
            rows: OrdMap::new(),
            by_name: OrdMap::new(),
            index: 0,
        }
    }
}

impl<T: Named> NamedTable<T> {
    /// Max index of the table, deletes included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// One row by ID.
    pub fn get(&self, id: &str) -> Option<&T> {
        self.rows.get(id).map(|r| &**r)
    }

    /// One row by name.
    pub fn by_name(&self, name: &str) -> Option<&T> {
        self.by_name.get(name).and_then(|id| self.get(id))
    }

    /// Every row, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &T> {
        self.rows.values().map(|r| &**r)
    }

    /// Insert or replace a row (its index fields already set).
    pub fn put(&mut self, row: T, index: u64, changes: &mut Changes) {
        if let Some(old) = self.rows.get(row.id().as_str()) {
            let old_name = old.name().clone();
            self.by_name.remove(old_name.as_str());
        }
        self.restore(row);
        self.bump(index, changes);
    }

    /// Remove a row, returning it.
    pub fn remove(&mut self, id: &str, index: u64, changes: &mut Changes) -> Option<Arc<T>> {
        let row = self.rows.remove(id)?;
        self.by_name.remove(row.name().as_str());
        self.bump(index, changes);
        Some(row)
    }

    /// Put a row as read from a snapshot.
    pub fn restore(&mut self, row: T) {
        self.by_name.insert(row.name().clone(), row.id().clone());
        self.rows.insert(row.id().clone(), Arc::new(row));
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
