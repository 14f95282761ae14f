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
        let entry = |r: &TxnResult| match r {
            TxnResult::Kv(e) => e.clone(),
            other => panic!("expected a KV result, got {other:?}"),
        };
        let first = entry(&ok.results[0]);
        assert_eq!((first.value.as_ref(), first.modify_index), (None, 5));
        let read = entry(&ok.results[2]);
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
    fn catalog_operations_share_the_transaction() {
        use crate::state::{Behavior, Check, Name, Node, Service, Session, status};
        let node = Node {
            node: "n1".into(),
            address: "10.0.0.1".into(),
            ..Default::default()
        };
        let web = Service {
            id: "web1".into(),
            service: "web".into(),
            ..Default::default()
        };
        let check = |st: &str| Check {
            node: "n1".into(),
            check_id: "web-alive".into(),
            status: Name::status(st),
            ..Default::default()
        };
        let mut s = Store::new();
        // A service on a node that does not exist yet fails, and takes the node with it.
        let o = outcome(s.apply(
            2,
            &Command::Txn(vec![TxnOp::Service {
                verb: "set".into(),
                node: "n1".into(),
                service: web.clone(),
            }]),
            &mut Changes::default(),
        ));
        assert_eq!(o.errors[0].what, "Missing node registration");
        let o = outcome(s.apply(
            3,
            &Command::Txn(vec![
                TxnOp::Node {
                    verb: "set".into(),
                    node: node.clone(),
                },
                TxnOp::Service {
                    verb: "set".into(),
                    node: "n1".into(),
                    service: web,
                },
                TxnOp::Check {
                    verb: "set".into(),
                    check: check(status::PASSING),
                },
            ]),
            &mut Changes::default(),
        ));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        assert_eq!(o.results.len(), 3);
        assert!(s.node("n1").is_some());
        // A session on the check, a lock, then the check written critical in a
        // transaction: the session ends and the lock is released in that same entry.
        let mut c = Changes::default();
        s.apply(
            4,
            &Command::SessionCreate(Session {
                id: "s1".into(),
                node: "n1".into(),
                behavior: Behavior::Release,
                node_checks: vec!["web-alive".into()],
                ..Default::default()
            }),
            &mut c,
        );
        let mut lock = KvTxnOp {
            verb: "lock".into(),
            key: "leader".into(),
            value: Vec::new(),
            flags: 0,
            index: 0,
            session: "s1".into(),
        };
        let o = outcome(s.apply(5, &Command::Txn(vec![TxnOp::Kv(lock.clone())]), &mut c));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        let o = outcome(s.apply(
            6,
            &Command::Txn(vec![TxnOp::Check {
                verb: "set".into(),
                check: check(status::CRITICAL),
            }]),
            &mut c,
        ));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        assert!(s.session("s1").is_none());
        assert_eq!(s.kv_get("leader").unwrap().session, None);
        lock.verb = "unlock".into();
        let o = outcome(s.apply(7, &Command::Txn(vec![TxnOp::Kv(lock)]), &mut c));
        assert_eq!(
            o.errors[0].what,
            "failed to unlock key \"leader\", lock isn't held, or is held by another session"
        );
        // cas on a stale node index fails; delete-cas with the right one removes it.
        let mut stale = node.clone();
        stale.modify_index = 1;
        let o = outcome(s.apply(
            8,
            &Command::Txn(vec![TxnOp::Node {
                verb: "cas".into(),
                node: stale,
            }]),
            &mut Changes::default(),
        ));
        assert_eq!(
            o.errors[0].what,
            "failed to set node \"n1\", index is stale"
        );
        let mut current = node;
        current.modify_index = s.node("n1").unwrap().modify_index;
        let o = outcome(s.apply(
            9,
            &Command::Txn(vec![TxnOp::Node {
                verb: "delete-cas".into(),
                node: current,
            }]),
            &mut Changes::default(),
        ));
        assert!(o.errors.is_empty(), "{:?}", o.errors);
        assert!(s.node("n1").is_none());
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
