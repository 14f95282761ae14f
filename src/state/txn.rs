//! `/v1/txn`: a list of operations applied all or nothing in one Raft entry (Consul's
//! `state/txn.go`).
//!
//! A transaction runs on a copy of the store. Persistent tables make the copy O(1), so a
//! failed transaction is dropped whole, with the changes it recorded, and the store it
//! started from is untouched: nothing half-applied can ever be published. Every failing
//! operation is reported, with its position, in Consul's words.
//!
//! Read-only transactions run the same code on a copy of the current version, outside
//! Raft (`Store::txn_read`).

use serde::{Deserialize, Serialize};

use super::changes::Changes;
use super::command::{KvOp, Response};
use super::model::KvEntry;
use super::store::Store;

/// One KV operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvTxnOp {
    /// Consul's verb (`set`, `cas`, `lock`, `get-tree`, ...).
    pub verb: String,
    /// Key (a prefix for the `*-tree` verbs).
    pub key: String,
    /// Value bytes (writes).
    pub value: Vec<u8>,
    /// Client flags (writes).
    pub flags: u64,
    /// ModifyIndex for `cas`, `check-index` and `delete-cas`.
    pub index: u64,
    /// Session for `lock`, `unlock` and `check-session`.
    pub session: String,
}

impl KvTxnOp {
    /// Whether the verb only reads.
    pub fn is_read(&self) -> bool {
        matches!(
            self.verb.as_str(),
            "get"
                | "get-or-empty"
                | "get-tree"
                | "check-index"
                | "check-session"
                | "check-not-exists"
        )
    }
}

/// An operation of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// A KV operation.
    Kv(KvTxnOp),
}

impl TxnOp {
    /// Whether the operation only reads (a transaction of reads skips Raft).
    pub fn is_read(&self) -> bool {
        match self {
            TxnOp::Kv(op) => op.is_read(),
        }
    }
}

/// A KV entry in a transaction's results; `value` is `None` for writes, as Consul leaves
/// the value out of what a write returns.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KvTxnResult {
    /// Key.
    pub key: String,
    /// Value (reads only).
    pub value: Option<Vec<u8>>,
    /// Client flags.
    pub flags: u64,
    /// Times the lock was acquired.
    pub lock_index: u64,
    /// Holder, if locked.
    pub session: Option<String>,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

impl KvTxnResult {
    fn of(e: &KvEntry, with_value: bool) -> Self {
        KvTxnResult {
            key: e.key().to_string(),
            value: with_value.then(|| e.value().to_vec()),
            flags: e.flags,
            lock_index: e.lock_index,
            session: e.session.as_deref().map(str::to_string),
            create_index: e.create_index,
            modify_index: e.modify_index,
        }
    }
}

/// One result of a transaction.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    /// A KV entry.
    Kv(KvTxnResult),
}

/// A failed operation: its position and Consul's text.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnError {
    /// Position in the request.
    pub op_index: usize,
    /// What went wrong.
    pub what: String,
}

/// What a transaction answers: results when every operation succeeded, errors otherwise.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TxnOutcome {
    /// One entry per operation that yields one (deletes yield none).
    pub results: Vec<TxnResult>,
    /// Every failing operation; non-empty means nothing was applied.
    pub errors: Vec<TxnError>,
}

impl Store {
    /// Apply a transaction at `index`: all operations, or (when any fails) none.
    pub(super) fn apply_txn(
        &mut self,
        index: u64,
        ops: &[TxnOp],
        changes: &mut Changes,
    ) -> Response {
        let mut scratch = self.clone();
        let mut scratch_changes = Changes::default();
        let outcome = scratch.run_txn(index, ops, &mut scratch_changes);
        if outcome.errors.is_empty() {
            *self = scratch;
            changes.merge(scratch_changes);
        }
        Response::Txn(outcome)
    }

    /// Answer a read-only transaction from this version, without changing it.
    pub fn txn_read(&self, ops: &[TxnOp]) -> TxnOutcome {
        let mut scratch = self.clone();
        let index = scratch.last_index;
        scratch.run_txn(index, ops, &mut Changes::default())
    }

    fn run_txn(&mut self, index: u64, ops: &[TxnOp], changes: &mut Changes) -> TxnOutcome {
        let mut out = TxnOutcome::default();
        for (i, op) in ops.iter().enumerate() {
            let r = match op {
                TxnOp::Kv(op) => self.kv_txn(index, op, &mut out.results, changes),
            };
            if let Err(what) = r {
                out.errors.push(TxnError { op_index: i, what });
            }
        }
        if !out.errors.is_empty() {
            out.results.clear();
        }
        out
    }

    fn kv_txn(
        &mut self,
        index: u64,
        op: &KvTxnOp,
        results: &mut Vec<TxnResult>,
        changes: &mut Changes,
    ) -> Result<(), String> {
        let key = op.key.as_str();
        let written = |s: &Store| -> Option<TxnResult> {
            s.kv.get(key)
                .map(|e| TxnResult::Kv(KvTxnResult::of(e, false)))
        };
        match op.verb.as_str() {
            "set" | "cas" => {
                let cas = (op.verb == "cas").then_some(op.index);
                let set = KvOp::Set {
                    key: op.key.clone(),
                    value: op.value.clone(),
                    flags: op.flags,
                    cas,
                };
                if self.kv.apply(index, &set, changes) != Response::Bool(true) {
                    return Err(format!("failed to set key {key:?}, index is stale"));
                }
                results.extend(written(self));
            }
            "lock" => {
                match self.apply_lock(index, key, &op.value, op.flags, &op.session, changes) {
                    Response::Bool(true) => results.extend(written(self)),
                    Response::Error(e) => return Err(e),
                    _ => {
                        return Err(format!("failed to lock key {key:?}, lock is already held"));
                    }
                }
            }
            "unlock" => {
                let r = self
                    .kv
                    .unlock(index, key, &op.value, op.flags, &op.session, changes);
                if r != Response::Bool(true) {
                    return Err(format!(
                        "failed to unlock key {key:?}, lock isn't held, or is held by another session"
                    ));
                }
                results.extend(written(self));
            }
            "get" => match self.kv.get(key) {
                Some(e) => results.push(TxnResult::Kv(KvTxnResult::of(e, true))),
                None => return Err(format!("key {key:?} doesn't exist")),
            },
            "get-or-empty" => results.push(TxnResult::Kv(match self.kv.get(key) {
                Some(e) => KvTxnResult::of(e, true),
                None => KvTxnResult {
                    key: op.key.clone(),
                    value: None,
                    flags: 0,
                    lock_index: 0,
                    session: None,
                    create_index: 0,
                    modify_index: 0,
                },
            })),
            "get-tree" => results.extend(
                self.kv
                    .under(key)
                    .map(|e| TxnResult::Kv(KvTxnResult::of(e, true))),
            ),
            "check-index" => match self.kv.get(key) {
                None => return Err(format!("failed to check index, key {key:?} doesn't exist")),
                Some(e) if e.modify_index != op.index => {
                    return Err(format!(
                        "failed index check for key {key:?}, current modify index {} != {}",
                        e.modify_index, op.index
                    ));
                }
                Some(e) => results.push(TxnResult::Kv(KvTxnResult::of(e, false))),
            },
            "check-session" => match self.kv.get(key) {
                None => {
                    return Err(format!(
                        "failed to check session, key {key:?} doesn't exist"
                    ));
                }
                Some(e) if e.session.as_deref().unwrap_or("") != op.session => {
                    return Err(format!(
                        "failed session check for key {key:?}, current session {:?} != {:?}",
                        e.session.as_deref().unwrap_or(""),
                        op.session
                    ));
                }
                Some(e) => results.push(TxnResult::Kv(KvTxnResult::of(e, false))),
            },
            "check-not-exists" => {
                if self.kv.get(key).is_some() {
                    return Err(format!("key {key:?} exists"));
                }
            }
            "delete" | "delete-tree" => {
                let del = KvOp::Delete {
                    key: op.key.clone(),
                    recurse: op.verb == "delete-tree",
                    cas: None,
                };
                self.kv.apply(index, &del, changes);
            }
            "delete-cas" => {
                let del = KvOp::Delete {
                    key: op.key.clone(),
                    recurse: false,
                    cas: Some(op.index),
                };
                if self.kv.apply(index, &del, changes) != Response::Bool(true) {
                    return Err(format!("failed to delete key {key:?}, index is stale"));
                }
            }
            verb => return Err(format!("unknown KV verb {verb:?}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::{Command, Table};

    fn kv(verb: &str, key: &str, index: u64) -> TxnOp {
        TxnOp::Kv(KvTxnOp {
            verb: verb.into(),
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
            index,
            session: String::new(),
        })
    }

    fn outcome(r: Response) -> TxnOutcome {
        match r {
            Response::Txn(o) => o,
            other => panic!("expected a txn outcome, got {other:?}"),
        }
    }

    #[test]
    fn all_or_nothing_with_every_error_reported() {
        let mut s = Store::new();
        let mut c = Changes::default();
        let ok = outcome(s.apply(
            5,
            &Command::Txn(vec![
                kv("set", "a", 0),
                kv("cas", "b", 0),
                kv("get", "a", 0),
            ]),
            &mut c,
        ));
        assert!(ok.errors.is_empty(), "{:?}", ok.errors);
        assert_eq!(ok.results.len(), 3);
        let TxnResult::Kv(first) = &ok.results[0];
        assert_eq!((first.value.as_ref(), first.modify_index), (None, 5));
        let TxnResult::Kv(read) = &ok.results[2];
        assert_eq!(read.value.as_deref(), Some(&b"v"[..]));
        assert!(c.has_table(Table::Kv));

        let mut c = Changes::default();
        let failed = outcome(s.apply(
            6,
            &Command::Txn(vec![
                kv("set", "c", 0),
                kv("cas", "a", 4),
                kv("check-not-exists", "b", 0),
                kv("frob", "a", 0),
            ]),
            &mut c,
        ));
        assert!(failed.results.is_empty());
        let errors: Vec<_> = failed
            .errors
            .iter()
            .map(|e| (e.op_index, e.what.as_str()))
            .collect();
        assert_eq!(
            errors,
            [
                (1, "failed to set key \"a\", index is stale"),
                (2, "key \"b\" exists"),
                (3, "unknown KV verb \"frob\""),
            ]
        );
        assert!(
            s.kv_get("c").is_none(),
            "nothing of a failed transaction is applied"
        );
        assert!(c.is_empty(), "and nothing wakes a watcher");
        assert_eq!(s.table_index(Table::Kv), 5);
    }

    #[test]
    fn reads_answer_without_writing() {
        let mut s = Store::new();
        s.apply(
            3,
            &Command::Txn(vec![kv("set", "t/a", 0), kv("set", "t/b", 0)]),
            &mut Changes::default(),
        );
        let o = s.txn_read(&[
            kv("get-tree", "t/", 0),
            kv("check-index", "t/a", 3),
            kv("get-or-empty", "nope", 0),
        ]);
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        assert_eq!(o.results.len(), 4);
        let o = s.txn_read(&[kv("check-index", "t/a", 2), kv("get", "nope", 0)]);
        let whats: Vec<_> = o.errors.iter().map(|e| e.what.as_str()).collect();
        assert_eq!(
            whats,
            [
                "failed index check for key \"t/a\", current modify index 3 != 2",
                "key \"nope\" doesn't exist"
            ]
        );
    }
}
