//! The published version of the store: one atomic pointer readers load without a lock,
//! and the watch registry that wakes blocking queries after each publish.

use std::sync::Arc;

use arc_swap::ArcSwap;

use super::changes::Changes;
use super::lock_delay::LockDelays;
use super::store::Store;
use super::watch::{Watch, WatchSet, Watches};

/// The store as every reader sees it. The Raft state machine is its only publisher.
#[derive(Default)]
pub struct SharedStore {
    current: ArcSwap<Store>,
    watches: Watches,
    lock_delays: LockDelays,
}

impl std::fmt::Debug for SharedStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedStore")
            .field("current", &*self.current.load())
            .finish()
    }
}

impl SharedStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// The current version. No lock: hold it as long as needed, the writer never waits
    /// for it.
    pub fn read(&self) -> Arc<Store> {
        self.current.load_full()
    }

    /// The current version for a short, synchronous read: cheaper than [`SharedStore::read`]
    /// (no reference count is touched in the common case), but never keep it across an
    /// `.await` or for long.
    pub fn current(&self) -> arc_swap::Guard<Arc<Store>> {
        self.current.load()
    }

    /// Subscribe to what a query depends on; do this before [`SharedStore::read`].
    pub fn watch(&self, watch: &Watch<'_>) -> WatchSet {
        self.watches.subscribe(watch)
    }

    /// Make `version` current and wake the watchers `changes` concerns. Returns the version
    /// it replaced so a caller that swapped in a whole new store can free the old one off
    /// the runtime.
    pub fn publish(&self, version: Store, changes: &Changes) -> Arc<Store> {
        let old = self.current.swap(Arc::new(version));
        self.lock_delays.start(changes.lock_delays());
        self.watches.notify(changes);
        old
    }

    /// This server's lock-delays (consulted by the leader before it appends an acquire).
    pub fn lock_delays(&self) -> &LockDelays {
        &self.lock_delays
    }

    /// The watch registry (tests count slots and wake-ups through it).
    pub fn watches(&self) -> &Watches {
        &self.watches
    }
}
