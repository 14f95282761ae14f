//! Tests of `state::txn`.

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
