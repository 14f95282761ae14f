//! What one batch of applied commands changed: the tables, the KV keys and the service
//! names. The watch registry wakes exactly the watchers these concern.

use std::sync::Arc;

use super::model::KvEntry;

/// The tables a query can depend on; each has its own index and watch channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Catalog nodes.
    Nodes = 0,
    /// Catalog services.
    Services = 1,
    /// Health checks.
    Checks = 2,
    /// The KV tree.
    Kv = 3,
    /// Sessions.
    Sessions = 4,
    /// ACL tokens, policies and roles together.
    Acl = 5,
    /// Prepared queries.
    Queries = 6,
}

impl Table {
    /// Number of tables.
    pub const COUNT: usize = 7;
    /// Every table.
    pub const ALL: [Table; Table::COUNT] = [
        Table::Nodes,
        Table::Services,
        Table::Checks,
        Table::Kv,
        Table::Sessions,
        Table::Acl,
        Table::Queries,
    ];
}

/// Changes collected while applying; drained by the publisher.
#[derive(Debug, Default, Clone)]
pub struct Changes {
    tables: [bool; Table::COUNT],
    /// Every table changed (a snapshot was installed): wake every watcher.
    everything: bool,
    /// The entries written or deleted (their rows: the key without copying it).
    kv_keys: Vec<Arc<KvEntry>>,
    services: Vec<Arc<str>>,
    /// Keys released or deleted by an invalidated session, with its lock-delay: each
    /// server starts the delay by its own clock when it publishes the batch.
    lock_delays: Vec<(Arc<KvEntry>, u64)>,
}

impl Changes {
    /// Changes that wake every watcher (a restored snapshot).
    pub fn everything() -> Self {
        Changes {
            tables: [true; Table::COUNT],
            everything: true,
            ..Default::default()
        }
    }

    /// Record a change to `table`.
    pub fn table(&mut self, table: Table) {
        self.tables[table as usize] = true;
    }

    /// Record a change to one KV key (set, deleted, lock taken or released), by the row
    /// written or removed.
    pub fn kv_key(&mut self, row: &Arc<KvEntry>) {
        self.kv_keys.push(row.clone());
    }

    /// Record that `row`'s key may not be locked again for `delay_ns` (its holder's session
    /// was invalidated).
    pub fn lock_delay(&mut self, row: &Arc<KvEntry>, delay_ns: u64) {
        if delay_ns > 0 {
            self.lock_delays.push((row.clone(), delay_ns));
        }
    }

    /// The lock-delays started by this batch: key and delay.
    pub fn lock_delays(&self) -> impl Iterator<Item = (&str, std::time::Duration)> {
        self.lock_delays
            .iter()
            .map(|(e, ns)| (e.key(), std::time::Duration::from_nanos(*ns)))
    }

    /// Record a change to what a query on service `name` returns.
    pub fn service(&mut self, name: &str) {
        if self.services.last().map(|s| &**s) != Some(name) {
            self.services.push(name.into());
        }
    }

    /// Fold in what a transaction recorded on its scratch copy, once it commits.
    pub fn merge(&mut self, other: Changes) {
        for (mine, theirs) in self.tables.iter_mut().zip(other.tables) {
            *mine |= theirs;
        }
        self.everything |= other.everything;
        self.kv_keys.extend(other.kv_keys);
        for s in other.services {
            self.service(&s);
        }
        self.lock_delays.extend(other.lock_delays);
    }

    /// Whether a table changed.
    pub fn has_table(&self, table: Table) -> bool {
        self.tables[table as usize]
    }

    /// Whether every watcher must wake.
    pub fn is_everything(&self) -> bool {
        self.everything
    }

    /// The KV keys changed.
    pub fn kv_keys(&self) -> impl Iterator<Item = &str> {
        self.kv_keys.iter().map(|e| e.key())
    }

    /// The service names whose query results changed.
    pub fn services(&self) -> &[Arc<str>] {
        &self.services
    }

    /// Whether nothing changed.
    pub fn is_empty(&self) -> bool {
        !self.everything && !self.tables.iter().any(|t| *t)
    }
}
