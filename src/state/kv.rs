//! The KV table: entries ordered by key, the graveyard of deleted keys, and the indexes a
//! blocking query on one key or one prefix compares against.
//!
//! Watch granularity: one key (its entry or its tombstone) and one prefix (anything under
//! it). Every key a command sets or deletes is reported in [`Changes`], and the watch
//! registry wakes exactly the key and prefix watchers it concerns.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::ops::Bound;
use std::sync::Arc;

use imbl::{OrdMap, OrdSet};

use super::changes::{Changes, Table};
use super::command::{KvOp, Response};
use super::model::KvEntry;
use super::sessions::Behavior;

/// One stored entry, ordered and looked up by its key. The set holds only this pointer, so
/// a new version copies 8 bytes per slot of a changed tree node.
#[derive(Clone)]
struct Row(Arc<KvEntry>);

impl PartialEq for Row {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}
impl Eq for Row {}
impl PartialOrd for Row {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Row {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.key().cmp(other.0.key())
    }
}
impl Borrow<str> for Row {
    fn borrow(&self) -> &str {
        self.0.key()
    }
}

/// Tombstones kept before the oldest half is folded into [`KvTable::graveyard_floor`].
/// Consul reaps tombstones after a TTL; folding them by count instead keeps every server's
/// table identical without a timer in the state machine, and memory bounded under a stream
/// of deletes.
const GRAVEYARD_MAX: usize = 65_536;

/// The KV tree.
#[derive(Clone, Default)]
pub struct KvTable {
    rows: OrdSet<Row>,
    /// Deleted keys and the index that deleted them, so a prefix's index never goes back
    /// when a key under it disappears.
    graveyard: OrdMap<Arc<str>, u64>,
    /// Highest index of a tombstone folded away: the least index any prefix answers once
    /// tombstones have been folded.
    graveyard_floor: u64,
    /// Max index of the table, deletions included.
    index: u64,
    /// Session ID → the keys it holds, so an invalidation finds them without a scan.
    held: OrdMap<Arc<str>, OrdSet<Arc<str>>>,
}

/// `[prefix, ∞)`: keys under `prefix` come first in it.
fn from(prefix: &str) -> (Bound<&str>, Bound<&str>) {
    (Bound::Included(prefix), Bound::Unbounded)
}

impl KvTable {
    /// Max index of the table (0 when nothing was ever written).
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of entries.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// One entry.
    pub fn get(&self, key: &str) -> Option<&KvEntry> {
        self.rows.get(key).map(|r| &*r.0)
    }

    /// Entries under `prefix`, in key order.
    pub fn under<'a, 'p>(
        &'a self,
        prefix: &'p str,
    ) -> impl Iterator<Item = &'a KvEntry> + use<'a, 'p> {
        self.rows
            .range::<_, str>(from(prefix))
            .take_while(move |r| r.0.key().starts_with(prefix))
            .map(|r| &*r.0)
    }

    /// Every entry, in key order.
    pub fn iter(&self) -> impl Iterator<Item = &KvEntry> {
        self.rows.iter().map(|r| &*r.0)
    }

    /// Tombstones, in key order (for snapshots).
    pub fn tombstones(&self) -> impl Iterator<Item = (&str, u64)> {
        self.graveyard.iter().map(|(k, i)| (&**k, *i))
    }

    /// The floor left by folded tombstones (for snapshots).
    pub fn graveyard_floor(&self) -> u64 {
        self.graveyard_floor
    }

    /// What a blocking read of one key compares against: the entry's ModifyIndex, or the
    /// table's index when the key is absent (so its deletion moves it), never 0.
    pub fn key_index(&self, key: &str) -> u64 {
        match self.get(key) {
            Some(e) => e.modify_index,
            None => self.index,
        }
        .max(1)
    }

    /// What a blocking read of a prefix compares against: the highest ModifyIndex under it
    /// or the highest tombstone under it; the table's index for the empty prefix or when
    /// neither exists; never 0.
    pub fn prefix_index(&self, prefix: &str) -> u64 {
        if prefix.is_empty() {
            return self.index.max(1);
        }
        let live = self
            .under(prefix)
            .map(|e| e.modify_index)
            .max()
            .unwrap_or(0);
        let dead = self
            .graveyard
            .range::<_, str>(from(prefix))
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i)
            .max()
            .unwrap_or(0);
        let idx = live.max(dead);
        let idx = if idx == 0 {
            self.index
        } else {
            idx.max(self.graveyard_floor)
        };
        idx.max(1)
    }

    /// Put an entry as read from a snapshot.
    pub fn restore_entry(&mut self, e: KvEntry) {
        if let Some(s) = &e.session {
            self.hold(s.clone(), e.key());
        }
        self.rows.insert(Row(Arc::new(e)));
    }

    /// The keys session `id` holds, in key order.
    pub fn held_by(&self, id: &str) -> impl Iterator<Item = &str> {
        self.held
            .get(id)
            .into_iter()
            .flat_map(|keys| keys.iter().map(|k| &**k))
    }

    fn hold(&mut self, session: Arc<str>, key: &str) {
        self.held.entry(session).or_default().insert(key.into());
    }

    fn unhold(&mut self, session: &str, key: &str) {
        if let Some(keys) = self.held.get_mut(session) {
            keys.remove(key);
            if keys.is_empty() {
                self.held.remove(session);
            }
        }
    }

    /// Remove a stored row (deletes), keeping the session index in step.
    fn remove_row(&mut self, key: &str) -> Option<Row> {
        let row = self.rows.remove(key)?;
        if let Some(s) = &row.0.session {
            self.unhold(s, key);
        }
        Some(row)
    }

    /// `?acquire`: take the lock on `key` for `session` (already known to exist) and write
    /// the value. The holder re-acquiring rewrites the value and keeps `LockIndex`; a new
    /// holder bumps it; another holder's lock answers `false` and writes nothing.
    pub fn lock(
        &mut self,
        index: u64,
        key: &str,
        value: &[u8],
        flags: u64,
        session: Arc<str>,
        changes: &mut Changes,
    ) -> Response {
        let entry = match self.rows.get(key) {
            Some(e) if e.0.session.as_deref() == Some(&*session) => {
                e.0.with_value(value, flags, index)
            }
            Some(e) if e.0.session.is_some() => return Response::Bool(false),
            Some(e) => {
                let mut n = e.0.with_value(value, flags, index);
                n.lock_index += 1;
                n.session = Some(session.clone());
                n
            }
            None => {
                let mut n = KvEntry::new(key, value, flags, index);
                n.lock_index = 1;
                n.session = Some(session.clone());
                n
            }
        };
        self.hold(session, key);
        let row = Row(Arc::new(entry));
        self.bump(index, &row, changes);
        self.rows.insert(row);
        Response::Bool(true)
    }

    /// `?release`: `true` only when `session` holds `key`; then the lock is cleared
    /// (`LockIndex` kept) and the value written. Any other session, known or not, gets
    /// `false`.
    pub fn unlock(
        &mut self,
        index: u64,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
        changes: &mut Changes,
    ) -> Response {
        let entry = match self.rows.get(key) {
            Some(e) if e.0.session.as_deref() == Some(session) => {
                let mut n = e.0.with_value(value, flags, index);
                n.session = None;
                n
            }
            _ => return Response::Bool(false),
        };
        self.unhold(session, key);
        let row = Row(Arc::new(entry));
        self.bump(index, &row, changes);
        self.rows.insert(row);
        Response::Bool(true)
    }

    /// An invalidated session gives up every key it holds: released (value and
    /// `LockIndex` kept, `Session` cleared) or deleted, per its behavior, each starting
    /// the session's lock-delay.
    pub fn release_session(
        &mut self,
        index: u64,
        id: &str,
        behavior: Behavior,
        lock_delay_ns: u64,
        changes: &mut Changes,
    ) {
        let Some(keys) = self.held.remove(id) else {
            return;
        };
        for key in keys {
            let Some(row) = self.rows.get(&*key).cloned() else {
                continue;
            };
            match behavior {
                Behavior::Release => {
                    let mut e = row.0.with_value(row.0.value(), row.0.flags, index);
                    e.session = None;
                    let row = Row(Arc::new(e));
                    self.bump(index, &row, changes);
                    changes.lock_delay(&row.0, lock_delay_ns);
                    self.rows.insert(row);
                }
                Behavior::Delete => {
                    self.rows.remove(&*key);
                    self.bury(&key, index);
                    self.bump(index, &row, changes);
                    changes.lock_delay(&row.0, lock_delay_ns);
                }
            }
        }
    }

    /// Put a tombstone as read from a snapshot.
    pub fn restore_tombstone(&mut self, key: &str, index: u64) {
        self.graveyard.insert(key.into(), index);
    }

    /// Set the table's index and floor as read from a snapshot.
    pub fn restore_indexes(&mut self, index: u64, graveyard_floor: u64) {
        self.index = index;
        self.graveyard_floor = graveyard_floor;
    }

    fn bump(&mut self, index: u64, row: &Row, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.kv_key(&row.0);
        changes.table(Table::Kv);
    }

    fn bury(&mut self, key: &str, index: u64) {
        self.graveyard.insert(key.into(), index);
        if self.graveyard.len() > GRAVEYARD_MAX {
            self.fold_graveyard();
        }
    }

    /// Drop the older half of the tombstones, raising the floor to the newest one dropped.
    /// Deterministic: every server folds at the same entry with the same result.
    fn fold_graveyard(&mut self) {
        let mut indexes: Vec<u64> = self.graveyard.values().copied().collect();
        let mid = indexes.len() / 2;
        let (_, cut, _) = indexes.select_nth_unstable(mid);
        let cut = *cut;
        let old: Vec<Arc<str>> = self
            .graveyard
            .iter()
            .filter(|(_, i)| **i <= cut)
            .map(|(k, _)| k.clone())
            .collect();
        for k in old {
            self.graveyard.remove(&k);
        }
        self.graveyard_floor = self.graveyard_floor.max(cut);
    }

    /// Apply a KV command at `index`. CAS failures answer `false` and change nothing.
    pub fn apply(&mut self, index: u64, op: &KvOp, changes: &mut Changes) -> Response {
        match op {
            KvOp::Set {
                key,
                value,
                flags,
                cas,
            } => {
                let existing = self.rows.get(key.as_str());
                if let Some(cas) = cas {
                    let ok = match existing {
                        None => *cas == 0,
                        Some(e) => *cas != 0 && e.0.modify_index == *cas,
                    };
                    if !ok {
                        return Response::Bool(false);
                    }
                }
                let entry = match existing {
                    Some(e) => e.0.with_value(value, *flags, index),
                    None => KvEntry::new(key, value, *flags, index),
                };
                let row = Row(Arc::new(entry));
                self.bump(index, &row, changes);
                self.rows.insert(row);
                Response::Bool(true)
            }
            KvOp::Lock {
                key,
                value,
                flags,
                session,
            } => self.lock(index, key, value, *flags, session.as_str().into(), changes),
            KvOp::Unlock {
                key,
                value,
                flags,
                session,
            } => self.unlock(index, key, value, *flags, session, changes),
            KvOp::Delete { key, recurse, cas } => {
                if *recurse {
                    let keys: Vec<Row> = self
                        .rows
                        .range::<_, str>(from(key))
                        .take_while(|r| r.0.key().starts_with(key.as_str()))
                        .cloned()
                        .collect();
                    for r in keys {
                        self.remove_row(r.0.key());
                        self.bury(r.0.key(), index);
                        self.bump(index, &r, changes);
                    }
                    return Response::Bool(true);
                }
                match (self.rows.get(key.as_str()), cas) {
                    // Consul: a CAS delete of a missing key succeeds whatever the index.
                    (None, _) => Response::Bool(true),
                    (Some(e), Some(c)) if e.0.modify_index != *c => Response::Bool(false),
                    (Some(_), _) => {
                        if let Some(row) = self.remove_row(key.as_str()) {
                            self.bury(key, index);
                            self.bump(index, &row, changes);
                        }
                        Response::Bool(true)
                    }
                }
            }
        }
    }

    /// Keys under a prefix; with a separator, keys are cut after the first separator past the
    /// prefix and de-duplicated (Consul's `?keys&separator=`).
    pub fn keys(&self, prefix: &str, separator: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for e in self.under(prefix) {
            let k = e.key();
            let rest = &k[prefix.len()..];
            let key = match (separator.is_empty(), rest.find(separator)) {
                (false, Some(pos)) => &k[..prefix.len() + pos + separator.len()],
                _ => k,
            };
            if out.last().map(String::as_str) != Some(key) {
                out.push(key.to_string());
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(key: &str) -> KvOp {
        KvOp::Set {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
            cas: None,
        }
    }

    fn del(key: &str, recurse: bool) -> KvOp {
        KvOp::Delete {
            key: key.into(),
            recurse,
            cas: None,
        }
    }

    #[test]
    fn key_and_prefix_indexes_follow_consul() {
        let mut t = KvTable::default();
        let mut c = Changes::default();
        assert_eq!(t.key_index("a"), 1, "an empty table answers 1, never 0");
        t.apply(5, &set("app/a"), &mut c);
        t.apply(6, &set("app/b"), &mut c);
        t.apply(7, &set("other"), &mut c);
        assert_eq!(t.key_index("app/a"), 5, "a key answers its own ModifyIndex");
        assert_eq!(t.key_index("missing"), 7, "a missing key answers the table");
        assert_eq!(
            t.prefix_index("app/"),
            6,
            "a prefix answers its newest entry"
        );
        t.apply(8, &del("app/b", false), &mut c);
        assert_eq!(
            t.prefix_index("app/"),
            8,
            "a deletion under the prefix moves it (the tombstone)"
        );
        assert_eq!(
            t.prefix_index("nothing/"),
            8,
            "an empty prefix answers the table"
        );
        t.apply(9, &del("app/", true), &mut c);
        assert!(t.under("app/").next().is_none());
        assert_eq!(t.prefix_index("app/"), 9);
    }

    #[test]
    fn folding_tombstones_keeps_prefix_indexes_monotonic() {
        let mut t = KvTable::default();
        let mut c = Changes::default();
        let mut index = 0;
        let mut last = 0;
        for round in 0..(GRAVEYARD_MAX + 10) {
            index += 1;
            t.apply(index, &set(&format!("k/{round}")), &mut c);
            index += 1;
            t.apply(index, &del(&format!("k/{round}"), false), &mut c);
            let now = t.prefix_index("k/1");
            assert!(
                now >= last,
                "a prefix's index never goes back ({now} < {last})"
            );
            last = now;
        }
        assert!(t.graveyard.len() <= GRAVEYARD_MAX);
        assert!(t.graveyard_floor > 0);
        assert!(t.prefix_index("k/1") >= t.graveyard_floor);
    }
}
