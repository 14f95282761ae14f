//! Change notification for blocking queries, as fine as Consul's: a watch on one KV key wakes
//! only when that key changes or is deleted, one on a prefix when something under it
//! changes, one on a service name when its instances, their checks or their nodes change,
//! and one on a table when anything in it changes.
//!
//! A query subscribes *before* it loads the version it reads, and the publisher notifies
//! *after* it published the new version, so a change between the read and the wait still
//! wakes it. The registry's mutex is a leaf: it is never held while sending, loading a
//! version or taking any other lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::watch;

use super::changes::{Changes, Table};
use super::store::Store;

/// What a blocking query depends on; also the index it reports.
#[derive(Clone, Copy, Debug)]
pub enum Watch<'a> {
    /// Whole tables (lists of nodes, services, checks).
    Tables(&'a [Table]),
    /// One KV key.
    Key(&'a str),
    /// Every KV key under a prefix.
    Prefix(&'a str),
    /// One service name: its instances, their checks and their nodes.
    Service(&'a str),
}

impl Watch<'_> {
    /// The index a read of this returns as `X-Consul-Index` and compares with `?index=`.
    pub fn index(&self, store: &Store) -> u64 {
        match self {
            Watch::Tables(t) => store.tables_index(t),
            Watch::Key(k) => store.kv_key_index(k),
            Watch::Prefix(p) => store.kv_prefix_index(p),
            Watch::Service(name) => store.service_index(name),
        }
    }
}

type Slot = Arc<watch::Sender<()>>;

#[derive(Default)]
struct Keyed {
    kv_keys: HashMap<Box<str>, Slot>,
    kv_prefixes: BTreeMap<Box<str>, Slot>,
    services: HashMap<Box<str>, Slot>,
    /// Slots at the last sweep; the next sweep runs when the maps have doubled.
    swept_at: usize,
}

impl Keyed {
    fn len(&self) -> usize {
        self.kv_keys.len() + self.kv_prefixes.len() + self.services.len()
    }

    /// Drop slots nobody waits on; amortised O(1) per subscription.
    fn sweep_if_grown(&mut self) {
        let len = self.len();
        if len < 64 || len < self.swept_at * 2 {
            return;
        }
        self.kv_keys.retain(|_, s| s.receiver_count() > 0);
        self.kv_prefixes.retain(|_, s| s.receiver_count() > 0);
        self.services.retain(|_, s| s.receiver_count() > 0);
        self.swept_at = self.len();
    }
}

/// The registry of watchers, owned by the shared store.
pub struct Watches {
    tables: [watch::Sender<()>; Table::COUNT],
    keyed: Mutex<Keyed>,
}

impl Default for Watches {
    fn default() -> Self {
        Watches {
            tables: std::array::from_fn(|_| watch::channel(()).0),
            keyed: Mutex::default(),
        }
    }
}

impl std::fmt::Debug for Watches {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Watches").finish_non_exhaustive()
    }
}

fn subscribe_keyed(map: &mut HashMap<Box<str>, Slot>, key: &str) -> watch::Receiver<()> {
    match map.get(key) {
        Some(s) => s.subscribe(),
        None => {
            let (tx, rx) = watch::channel(());
            map.insert(key.into(), Arc::new(tx));
            rx
        }
    }
}

impl Watches {
    /// Subscribe to what `watch` depends on.
    pub fn subscribe(&self, watch: &Watch<'_>) -> WatchSet {
        let receivers = match watch {
            Watch::Tables(tables) => tables
                .iter()
                .map(|t| self.tables[*t as usize].subscribe())
                .collect(),
            Watch::Key(k) => {
                let mut g = self.keyed.lock();
                g.sweep_if_grown();
                vec![subscribe_keyed(&mut g.kv_keys, k)]
            }
            Watch::Prefix("") => vec![self.tables[Table::Kv as usize].subscribe()],
            Watch::Prefix(p) => {
                let mut g = self.keyed.lock();
                g.sweep_if_grown();
                let rx = match g.kv_prefixes.get(*p) {
                    Some(s) => s.subscribe(),
                    None => {
                        let (tx, rx) = watch::channel(());
                        g.kv_prefixes.insert((*p).into(), Arc::new(tx));
                        rx
                    }
                };
                vec![rx]
            }
            Watch::Service(name) => {
                let mut g = self.keyed.lock();
                g.sweep_if_grown();
                vec![subscribe_keyed(&mut g.services, name)]
            }
        };
        WatchSet { receivers }
    }

    /// Wake the watchers `changes` concerns. Call after the new version is published.
    pub fn notify(&self, changes: &Changes) {
        if changes.is_empty() {
            return;
        }
        for t in Table::ALL {
            if changes.has_table(t) {
                self.tables[t as usize].send_replace(());
            }
        }
        // Copy the slots out and send after the registry's lock is released.
        let mut wake: Vec<Slot> = Vec::new();
        {
            let g = self.keyed.lock();
            if changes.is_everything() {
                wake.extend(g.kv_keys.values().cloned());
                wake.extend(g.kv_prefixes.values().cloned());
                wake.extend(g.services.values().cloned());
            } else {
                if !g.kv_keys.is_empty() || !g.kv_prefixes.is_empty() {
                    for key in changes.kv_keys() {
                        if let Some(s) = g.kv_keys.get(key) {
                            wake.push(s.clone());
                        }
                        if g.kv_prefixes.len() <= key.len() {
                            // Few prefix watchers: test each.
                            for (p, s) in &g.kv_prefixes {
                                if key.starts_with(&**p) {
                                    wake.push(s.clone());
                                }
                            }
                        } else {
                            // Many: look up each prefix of the key (the empty prefix is the
                            // table watch).
                            for (i, _) in key.char_indices().skip(1) {
                                if let Some(s) = g.kv_prefixes.get(&key[..i]) {
                                    wake.push(s.clone());
                                }
                            }
                            if let Some(s) = g.kv_prefixes.get(key) {
                                wake.push(s.clone());
                            }
                        }
                    }
                }
                if !g.services.is_empty() {
                    for name in changes.services() {
                        if let Some(s) = g.services.get(&**name) {
                            wake.push(s.clone());
                        }
                    }
                }
            }
        }
        for s in wake {
            s.send_replace(());
        }
    }

    /// Number of keyed slots (for tests and metrics).
    pub fn slots(&self) -> usize {
        self.keyed.lock().len()
    }
}

/// Receivers for what one query depends on.
#[derive(Debug)]
pub struct WatchSet {
    receivers: Vec<watch::Receiver<()>>,
}

impl WatchSet {
    /// Resolves when anything watched changes after the subscription (or after the last
    /// time this resolved).
    pub async fn changed(&mut self) {
        match self.receivers.as_mut_slice() {
            [] => std::future::pending().await,
            // A closed channel means the store is gone; treat it as a change so the caller
            // re-reads.
            [one] => {
                let _ = one.changed().await;
            }
            many => {
                let futs = many.iter_mut().map(|r| Box::pin(r.changed()));
                let _ = futures::future::select_all(futs).await;
            }
        }
    }

    /// Whether something changed since the last [`WatchSet::changed`] (without waiting).
    pub fn has_changed(&self) -> bool {
        self.receivers
            .iter()
            .any(|r| r.has_changed().unwrap_or(true))
    }
}
