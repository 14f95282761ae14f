//! Properties of the store under random command sequences:
//! - the KV table agrees with a plain `BTreeMap` model (values, indexes, CAS answers, the
//!   key and prefix indexes of blocking reads);
//! - a watch fires exactly when what it watches changed (no missed and no spurious wake-ups,
//!   counted per watch);
//! - a published version never changes after later writes;
//! - a snapshot taken at any point reads back as the same store;
//! - the derived by-name index always matches the instances it indexes;
//! - sessions and locks: every held key's session exists, the held-keys index matches a
//!   scan, and a failed transaction changes nothing.

use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

const KEYS: &[&str] = &["a", "a/b", "a/c", "a/b/c", "ab", "b", "b/x"];
const PREFIXES: &[&str] = &["a", "a/", "a/b", "b/", "z"];
const NODES: &[&str] = &["n1", "n2", "n3"];
const NAMES: &[&str] = &["web", "db"];
const VALUES: &[&[u8]] = &[b"1", b"22", b""];
const SESSIONS: &[&str] = &["s-a", "s-b", "s-c"];

fn kv_op() -> impl Strategy<Value = KvOp> {
    let key = proptest::sample::select(KEYS).prop_map(str::to_string);
    let cas = proptest::option::of(0u64..24);
    prop_oneof![
        (
            key.clone(),
            proptest::sample::select(VALUES),
            0u64..3,
            cas.clone()
        )
            .prop_map(|(key, v, flags, cas)| KvOp::Set {
                key,
                value: v.to_vec(),
                flags,
                cas
            }),
        (key, any::<bool>(), cas).prop_map(|(key, recurse, cas)| KvOp::Delete {
            key,
            recurse,
            cas: if recurse { None } else { cas }
        }),
    ]
}

fn check(node: &str, id: &str, service_id: &str, status: &str) -> Check {
    Check {
        node: node.into(),
        check_id: id.into(),
        name: id.into(),
        status: status.into(),
        service_id: service_id.into(),
        ..Default::default()
    }
}

fn command() -> impl Strategy<Value = Command> {
    let node = proptest::sample::select(NODES);
    let status = proptest::sample::select(&["passing", "critical", "warning", ""][..]);
    let register = (
        node.clone(),
        0u8..2,
        any::<bool>(),
        proptest::option::of((0u8..3, proptest::sample::select(NAMES), 0u8..2)),
        proptest::collection::vec((0u8..3, (proptest::option::of(0u8..3), status)), 0..3),
    )
        .prop_map(|(node, addr, skip, svc, checks)| Command::Register {
            node: Node {
                node: node.into(),
                address: format!("10.0.0.{addr}"),
                ..Default::default()
            },
            skip_node_update: skip,
            service: svc.map(|(id, name, tags)| Service {
                id: format!("s{id}").into(),
                service: name.into(),
                tags: (0..tags).map(|t| format!("t{t}")).collect(),
                port: 80,
                ..Default::default()
            }),
            // One check per ID in a request: a repeated ID makes the first copy a passing
            // state the index records (as Consul's does), which no view shows afterwards.
            checks: checks
                .into_iter()
                .collect::<BTreeMap<_, _>>()
                .into_iter()
                .map(|(id, (sid, st))| {
                    let sid = sid.map(|s| format!("s{s}")).unwrap_or_default();
                    check(node, &format!("c{id}"), &sid, st)
                })
                .collect(),
        });
    let deregister = (
        node.clone(),
        proptest::option::of(0u8..3),
        proptest::option::of(0u8..3),
    )
        .prop_map(|(node, sid, cid)| Command::Deregister {
            node: node.into(),
            service_id: sid.map(|s| format!("s{s}")),
            check_id: cid.map(|c| format!("c{c}")),
        });
    let update = proptest::collection::vec(
        (
            node,
            0u8..3,
            proptest::sample::select(&["passing", "critical"][..]),
            0u8..2,
        ),
        1..3,
    )
    .prop_map(|u| {
        Command::UpdateChecks(
            u.into_iter()
                .map(|(node, id, status, out)| CheckUpdate {
                    node: node.into(),
                    check_id: format!("c{id}"),
                    status: status.into(),
                    output: format!("out{out}"),
                })
                .collect(),
        )
    });
    let sid = proptest::sample::select(SESSIONS);
    let create = (
        sid.clone(),
        proptest::sample::select(NODES),
        any::<bool>(),
        proptest::option::of(0u8..3),
    )
        .prop_map(|(id, node, delete, check)| {
            Command::SessionCreate(Session {
                id: id.into(),
                node: node.into(),
                behavior: if delete {
                    Behavior::Delete
                } else {
                    Behavior::Release
                },
                lock_delay_ns: 1,
                node_checks: check.map(|c| format!("c{c}")).into_iter().collect(),
                ..Default::default()
            })
        });
    let destroy = sid
        .clone()
        .prop_map(|id| Command::SessionDestroy { id: id.into() });
    let key = proptest::sample::select(KEYS).prop_map(str::to_string);
    let lock = (key.clone(), sid.clone(), any::<bool>()).prop_map(|(key, session, take)| {
        let (value, flags, session) = (b"L".to_vec(), 7, session.to_string());
        Command::Kv(if take {
            KvOp::Lock {
                key,
                value,
                flags,
                session,
            }
        } else {
            KvOp::Unlock {
                key,
                value,
                flags,
                session,
            }
        })
    });
    let verb = proptest::sample::select(
        &[
            "set",
            "cas",
            "lock",
            "unlock",
            "delete",
            "check-index",
            "get",
            "delete-tree",
        ][..],
    );
    let txn = proptest::collection::vec((verb, key, sid, 0u64..12), 1..4).prop_map(|ops| {
        Command::Txn(
            ops.into_iter()
                .map(|(verb, key, session, index)| {
                    TxnOp::Kv(KvTxnOp {
                        verb: verb.to_string(),
                        key,
                        value: b"t".to_vec(),
                        flags: 0,
                        index,
                        session: session.to_string(),
                    })
                })
                .collect(),
        )
    });
    prop_oneof![
        3 => kv_op().prop_map(Command::Kv),
        3 => register,
        1 => deregister,
        2 => update,
        1 => create,
        1 => destroy,
        2 => lock,
        1 => txn,
    ]
}

/// The reference KV: a plain ordered map plus every tombstone ever made.
#[derive(Default)]
struct KvModel {
    rows: BTreeMap<String, (Vec<u8>, u64, u64, u64)>,
    graveyard: BTreeMap<String, u64>,
    index: u64,
}

impl KvModel {
    fn apply(&mut self, index: u64, op: &KvOp) -> Response {
        match op {
            KvOp::Set {
                key,
                value,
                flags,
                cas,
            } => {
                let existing = self.rows.get(key);
                let ok = match (cas, existing) {
                    (None, _) => true,
                    (Some(c), None) => *c == 0,
                    (Some(c), Some(e)) => *c != 0 && e.3 == *c,
                };
                if !ok {
                    return Response::Bool(false);
                }
                let create = existing.map(|e| e.2).unwrap_or(index);
                self.rows
                    .insert(key.clone(), (value.clone(), *flags, create, index));
                self.index = index;
                Response::Bool(true)
            }
            KvOp::Delete { key, recurse, cas } => {
                let doomed: Vec<String> = if *recurse {
                    self.rows
                        .keys()
                        .filter(|k| k.starts_with(key.as_str()))
                        .cloned()
                        .collect()
                } else {
                    match (self.rows.get(key), cas) {
                        (None, _) => return Response::Bool(true),
                        (Some(e), Some(c)) if e.3 != *c => return Response::Bool(false),
                        (Some(_), _) => vec![key.clone()],
                    }
                };
                for k in doomed {
                    self.rows.remove(&k);
                    self.graveyard.insert(k, index);
                    self.index = index;
                }
                Response::Bool(true)
            }
            KvOp::Lock { .. } | KvOp::Unlock { .. } => {
                unreachable!("the strategy generates no lock commands")
            }
        }
    }

    fn key_index(&self, key: &str) -> u64 {
        self.rows.get(key).map(|e| e.3).unwrap_or(self.index).max(1)
    }

    fn prefix_index(&self, prefix: &str) -> u64 {
        if prefix.is_empty() {
            return self.index.max(1);
        }
        let live = self
            .rows
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e.3);
        let dead = self
            .graveyard
            .iter()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(_, i)| *i);
        match live.chain(dead).max() {
            Some(i) if i > 0 => i,
            _ => self.index.max(1),
        }
    }
}

/// Everything a query on service `name` returns, with every index in it.
fn service_view(s: &Store, name: &str) -> Vec<(Node, Service, Vec<Check>)> {
    s.service_instances(name, &[])
        .into_iter()
        .map(|(n, svc)| {
            let checks = s
                .instance_checks(&n.node, &svc.id)
                .into_iter()
                .cloned()
                .collect();
            (n.clone(), svc.clone(), checks)
        })
        .collect()
}

/// The entries under a prefix and its tombstones: a key set and deleted within one
/// transaction leaves no entry, but its tombstone moves what a blocking read answers.
fn kv_view(s: &Store, prefix: &str) -> Vec<(String, u64)> {
    let mut v: Vec<(String, u64)> = s
        .kv_list(prefix)
        .into_iter()
        .map(|e| (e.key().to_string(), e.modify_index))
        .collect();
    v.extend(
        s.kv.tombstones()
            .filter(|(k, _)| k.starts_with(prefix))
            .map(|(k, i)| (format!("tombstone {k}"), i)),
    );
    v
}

/// One key's entry and tombstone indexes.
fn key_view(s: &Store, key: &str) -> (Option<u64>, Option<u64>) {
    (
        s.kv_get(key).map(|e| e.modify_index),
        s.kv.tombstones().find(|(k, _)| *k == key).map(|(_, i)| i),
    )
}

/// A full, comparable dump of a version.
fn dump(s: &Store) -> String {
    let mut out = format!("last={} ", s.last_index());
    for t in Table::ALL {
        out += &format!("{t:?}={} ", s.table_index(t));
    }
    for n in s.nodes() {
        out += &format!("{n:?}\n");
        for svc in s.node_services(&n.node) {
            out += &format!("  {svc:?}\n");
        }
        for c in s.node_checks(&n.node) {
            out += &format!("  {c:?}\n");
        }
    }
    // Services and checks on nodes that are not registered (registration order allows it).
    for c in s.checks_in_state(CheckFilter::Any) {
        out += &format!("{c:?}\n");
    }
    for name in NAMES {
        out += &format!(
            "{name}@{} {:?}\n",
            s.service_index(name),
            service_view(s, name)
        );
    }
    for e in s.kv_list("") {
        out += &format!("{e:?}\n");
    }
    for p in PREFIXES {
        out += &format!("{p}@{}\n", s.kv_prefix_index(p));
    }
    for session in s.sessions() {
        let held: Vec<_> = s.keys_held_by(&session.id).collect();
        out += &format!("{session:?} holds {held:?}\n");
    }
    out
}

/// Locks and sessions agree: every locked key's session exists, and the held-keys index
/// is exactly what a scan of the entries finds.
fn locks_are_consistent(s: &Store) -> Result<(), TestCaseError> {
    for e in s.kv_list("") {
        if let Some(id) = &e.session {
            prop_assert!(
                s.session(id).is_some(),
                "{} is held by a gone session {}",
                e.key(),
                id
            );
        }
    }
    for id in SESSIONS {
        let scanned: Vec<&str> = s
            .kv_list("")
            .into_iter()
            .filter(|e| e.session.as_deref() == Some(*id))
            .map(|e| e.key())
            .collect();
        let indexed: Vec<&str> = s.keys_held_by(id).collect();
        prop_assert_eq!(indexed, scanned, "keys held by {}", id);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn kv_matches_the_model(ops in proptest::collection::vec(kv_op(), 1..60)) {
        let mut store = Store::new();
        let mut model = KvModel::default();
        for (i, op) in ops.iter().enumerate() {
            let index = i as u64 + 1;
            let got = store.apply(index, &Command::Kv(op.clone()), &mut Changes::default());
            let want = model.apply(index, op);
            prop_assert_eq!(&got, &want, "answer to {:?}", op);
            prop_assert_eq!(store.table_index(Table::Kv), model.index.max(1));
            for k in KEYS {
                let e = store.kv_get(k).map(|e| (e.value().to_vec(), e.flags, e.create_index, e.modify_index));
                prop_assert_eq!(e.as_ref(), model.rows.get(*k), "entry {}", k);
                prop_assert_eq!(store.kv_key_index(k), model.key_index(k), "key index {}", k);
            }
            for p in PREFIXES.iter().chain(&[""]) {
                prop_assert_eq!(store.kv_prefix_index(p), model.prefix_index(p), "prefix index {:?}", p);
            }
        }
    }

    #[test]
    fn watches_fire_exactly_when_their_data_changes(cmds in proptest::collection::vec(command(), 1..50)) {
        let shared = SharedStore::new();
        let mut working = Store::new();
        let (mut spurious, mut missed) = (0usize, 0usize);
        for (i, cmd) in cmds.iter().enumerate() {
            let before = shared.read();
            let key_watches: Vec<_> = KEYS.iter().map(|k| (*k, shared.watch(&Watch::Key(k)))).collect();
            let prefix_watches: Vec<_> = PREFIXES.iter().map(|p| (*p, shared.watch(&Watch::Prefix(p)))).collect();
            let service_watches: Vec<_> = NAMES.iter().map(|n| (*n, shared.watch(&Watch::Service(n)))).collect();
            let mut changes = Changes::default();
            working.apply(i as u64 + 1, cmd, &mut changes);
            shared.publish(working.clone(), &changes);
            let after = shared.read();
            for (k, w) in &key_watches {
                match (w.has_changed(), key_view(&before, k) != key_view(&after, k)) {
                    (true, false) => spurious += 1,
                    (false, true) => missed += 1,
                    _ => {}
                }
            }
            for (p, w) in &prefix_watches {
                match (w.has_changed(), kv_view(&before, p) != kv_view(&after, p)) {
                    (true, false) => spurious += 1,
                    (false, true) => missed += 1,
                    _ => {}
                }
            }
            for (n, w) in &service_watches {
                let changed = service_view(&before, n) != service_view(&after, n);
                match (w.has_changed(), changed) {
                    (false, true) => missed += 1,
                    // A service's index also moves for an instance that was and stays
                    // absent from the view (none here) or when it changes: both are real.
                    (true, false) => spurious += 1,
                    _ => {}
                }
            }
        }
        prop_assert_eq!(missed, 0, "watches that missed a change");
        prop_assert_eq!(spurious, 0, "spurious wake-ups");
    }

    #[test]
    fn published_versions_never_change_and_snapshots_read_back(
        cmds in proptest::collection::vec(command(), 1..60),
        at in 0usize..60,
    ) {
        let mut working = Store::new();
        let mut frozen: Option<(Store, String)> = None;
        for (i, cmd) in cmds.iter().enumerate() {
            let before = dump(&working);
            let mut changes = Changes::default();
            let r = working.apply(i as u64 + 1, cmd, &mut changes);
            if let Response::Txn(o) = &r
                && !o.errors.is_empty()
            {
                let after = dump(&working);
                // Only the applied index moves; nothing else of a failed transaction stays.
                prop_assert_eq!(after.split_once(' ').map(|x| x.1), before.split_once(' ').map(|x| x.1));
                prop_assert!(changes.is_empty());
            }
            locks_are_consistent(&working)?;
            if i == at.min(cmds.len() - 1) {
                let v = working.clone();
                let d = dump(&v);
                frozen = Some((v, d));
                let bytes = snapshot::to_vec(&working, b"meta").expect("encode");
                let (meta, restored) = snapshot::read(&mut bytes.as_slice()).expect("decode");
                prop_assert_eq!(meta, b"meta".to_vec());
                prop_assert_eq!(dump(&restored), dump(&working));
            }
            // The derived by-name index matches a scan of every instance.
            for name in NAMES {
                let mut scanned: Vec<(Name, Name)> = working
                    .services
                    .iter()
                    .filter(|s| s.service == *name)
                    .map(|s| (s.node.clone(), s.id.clone()))
                    .collect();
                scanned.sort();
                let indexed: Vec<(Name, Name)> = working
                    .services
                    .named(name)
                    .map(|s| (s.node.clone(), s.id.clone()))
                    .collect();
                prop_assert_eq!(indexed, scanned);
            }
        }
        if let Some((v, d)) = frozen {
            prop_assert_eq!(dump(&v), d, "a version changed after it was taken");
        }
    }
}

#[test]
fn a_truncated_snapshot_is_an_error_not_a_smaller_store() {
    let mut s = Store::new();
    for i in 1..50u64 {
        s.apply(
            i,
            &Command::Kv(KvOp::Set {
                key: format!("k{i}"),
                value: vec![1; 10],
                flags: 0,
                cas: None,
            }),
            &mut Changes::default(),
        );
    }
    let bytes = snapshot::to_vec(&s, b"m").expect("encode");
    for cut in [8, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(
            snapshot::read(&mut &bytes[..cut]).is_err(),
            "cut at {cut} of {}",
            bytes.len()
        );
    }
    assert!(snapshot::read(&mut &b"garbage!garbage"[..]).is_err());
}
