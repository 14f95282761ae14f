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
use super::model::{Check, KvEntry, Node, Service};
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
// Operations are decoded once and moved into the log; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnOp {
    /// A KV operation.
    Kv(KvTxnOp),
    /// A catalog node operation (`get`, `set`, `cas`, `delete`, `delete-cas`); `cas` and
    /// `delete-cas` compare the node's `modify_index`.
    Node {
        /// Verb.
        verb: String,
        /// The node.
        node: Node,
    },
    /// A service instance operation on `node`, verbs as for nodes.
    Service {
        /// Verb.
        verb: String,
        /// Node the instance is on.
        node: String,
        /// The instance.
        service: Service,
    },
    /// A check operation, verbs as for nodes; a check written critical ends the sessions
    /// linked to it, in the same transaction.
    Check {
        /// Verb.
        verb: String,
        /// The check (its `node` names the node).
        check: Check,
    },
}

impl TxnOp {
    /// Whether the operation only reads (a transaction of reads skips Raft).
    pub fn is_read(&self) -> bool {
        match self {
            TxnOp::Kv(op) => op.is_read(),
            TxnOp::Node { verb, .. } | TxnOp::Service { verb, .. } | TxnOp::Check { verb, .. } => {
                verb == "get"
            }
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
// Results are built once and moved into the answer; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TxnResult {
    /// A KV entry.
    Kv(KvTxnResult),
    /// A node as stored.
    Node(Node),
    /// A service instance as stored.
    Service(Service),
    /// A check as stored.
    Check(Check),
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
                TxnOp::Node { verb, node } => {
                    self.node_txn(index, verb, node, &mut out.results, changes)
                }
                TxnOp::Service {
                    verb,
                    node,
                    service,
                } => self.service_txn(index, verb, node, service, &mut out.results, changes),
                TxnOp::Check { verb, check } => {
                    self.check_txn(index, verb, check, &mut out.results, changes)
                }
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

    fn node_txn(
        &mut self,
        index: u64,
        verb: &str,
        node: &Node,
        results: &mut Vec<TxnResult>,
        changes: &mut Changes,
    ) -> Result<(), String> {
        let name = node.node.as_str();
        let current = self.nodes.get(name).map(|n| n.modify_index);
        let stale = |i: Option<u64>| match i {
            None => node.modify_index != 0,
            Some(i) => i != node.modify_index,
        };
        match verb {
            "get" => match self.nodes.get(name) {
                Some(n) => results.push(TxnResult::Node(n.clone())),
                None => return Err(format!("node {name:?} doesn't exist")),
            },
            "set" | "cas" => {
                if verb == "cas" && stale(current) {
                    return Err(format!("failed to set node {name:?}, index is stale"));
                }
                self.catalog_write(index, changes, |c, changes| {
                    c.register(index, node, false, None, &[], changes)
                })?;
                results.extend(self.nodes.get(name).cloned().map(TxnResult::Node));
            }
            "delete" | "delete-cas" => {
                if verb == "delete-cas" && current.is_some() && stale(current) {
                    return Err(format!("failed to delete node {name:?}, index is stale"));
                }
                self.catalog_write(index, changes, |c, changes| {
                    c.deregister(index, name, None, None, changes)
                })?;
            }
            v => return Err(format!("unknown node operation: {v}")),
        }
        Ok(())
    }

    fn service_txn(
        &mut self,
        index: u64,
        verb: &str,
        node: &str,
        service: &Service,
        results: &mut Vec<TxnResult>,
        changes: &mut Changes,
    ) -> Result<(), String> {
        let id = service.id.as_str();
        let current = self.services.get(node, id).map(|s| s.modify_index);
        let stale = |i: Option<u64>| match i {
            None => service.modify_index != 0,
            Some(i) => i != service.modify_index,
        };
        match verb {
            "get" => match self.services.get(node, id) {
                Some(s) => results.push(TxnResult::Service(s.clone())),
                None => return Err(format!("service {id:?} on node {node:?} doesn't exist")),
            },
            "set" | "cas" => {
                if verb == "cas" && stale(current) {
                    return Err(format!(
                        "failed to set service {id:?} on node {node:?}, index is stale"
                    ));
                }
                let Some(n) = self.nodes.get(node).cloned() else {
                    return Err("Missing node registration".into());
                };
                self.catalog_write(index, changes, |c, changes| {
                    c.register(index, &n, true, Some(service), &[], changes)
                })?;
                results.extend(self.services.get(node, id).cloned().map(TxnResult::Service));
            }
            "delete" | "delete-cas" => {
                if verb == "delete-cas" && current.is_some() && stale(current) {
                    return Err(format!(
                        "failed to delete service {id:?} on node {node:?}, index is stale"
                    ));
                }
                self.catalog_write(index, changes, |c, changes| {
                    c.deregister(index, node, Some(id), None, changes)
                })?;
            }
            v => return Err(format!("unknown service operation: {v}")),
        }
        Ok(())
    }

    fn check_txn(
        &mut self,
        index: u64,
        verb: &str,
        check: &Check,
        results: &mut Vec<TxnResult>,
        changes: &mut Changes,
    ) -> Result<(), String> {
        let (node, id) = (check.node.as_str(), check.check_id.as_str());
        let current = self.checks.get(node, id).map(|c| c.modify_index);
        let stale = |i: Option<u64>| match i {
            None => check.modify_index != 0,
            Some(i) => i != check.modify_index,
        };
        match verb {
            "get" => match self.checks.get(node, id) {
                Some(c) => results.push(TxnResult::Check(c.clone())),
                None => return Err(format!("check {id:?} on node {node:?} doesn't exist")),
            },
            "set" | "cas" => {
                if verb == "cas" && stale(current) {
                    return Err(format!(
                        "failed to set check {id:?} on node {node:?}, index is stale"
                    ));
                }
                let Some(n) = self.nodes.get(node).cloned() else {
                    return Err("Missing node registration".into());
                };
                let checks = std::slice::from_ref(check);
                self.catalog_write(index, changes, |c, changes| {
                    c.register(index, &n, true, None, checks, changes)
                })?;
                results.extend(self.checks.get(node, id).cloned().map(TxnResult::Check));
            }
            "delete" | "delete-cas" => {
                if verb == "delete-cas" && current.is_some() && stale(current) {
                    return Err(format!(
                        "failed to delete check {id:?} on node {node:?}, index is stale"
                    ));
                }
                self.catalog_write(index, changes, |c, changes| {
                    c.deregister(index, node, None, Some(id), changes)
                })?;
            }
            v => return Err(format!("unknown check operation: {v}")),
        }
        Ok(())
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
mod tests;
