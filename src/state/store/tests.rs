//! Tests of `state::store`.

use super::*;
use std::time::Duration;

use crate::state::{Behavior, CheckUpdate, KvOp, Name, Session, status};

fn web_on_n1() -> (Node, Service) {
    let node = Node {
        node: "n1".into(),
        address: "10.0.0.1".into(),
        ..Default::default()
    };
    let svc = Service {
        id: "web1".into(),
        service: "web".into(),
        ..Default::default()
    };
    (node, svc)
}

fn set(key: &str, cas: Option<u64>) -> Command {
    Command::Kv(KvOp::Set {
        key: key.into(),
        value: b"v".to_vec(),
        flags: 0,
        cas,
    })
}

#[test]
fn kv_cas_and_index() {
    let mut s = Store::new();
    assert_eq!(
        s.apply(5, &set("a", Some(0)), &mut Changes::default()),
        Response::Bool(true)
    );
    assert_eq!(
        s.apply(6, &set("a", Some(0)), &mut Changes::default()),
        Response::Bool(false)
    );
    assert_eq!(
        s.table_index(Table::Kv),
        5,
        "a failed CAS leaves the index alone"
    );
    assert_eq!(
        s.apply(7, &set("a", Some(5)), &mut Changes::default()),
        Response::Bool(true)
    );
    let e = s.kv_get("a").unwrap();
    assert_eq!((e.create_index, e.modify_index), (5, 7));
    let del = Command::Kv(KvOp::Delete {
        key: "a".into(),
        recurse: false,
        cas: Some(5),
    });
    assert_eq!(
        s.apply(8, &del, &mut Changes::default()),
        Response::Bool(false)
    );
    assert_eq!(s.table_index(Table::Kv), 7);
}

#[test]
fn keys_with_separator() {
    let mut s = Store::new();
    for (i, k) in ["base/base/foo", "base/base/bar", "base/foo", "other"]
        .iter()
        .enumerate()
    {
        s.apply(i as u64 + 1, &set(k, None), &mut Changes::default());
    }
    assert_eq!(
        s.kv_keys("base/", "/"),
        vec!["base/base/".to_string(), "base/foo".to_string()]
    );
    assert_eq!(s.kv_list("base/").len(), 3);
}

#[test]
fn register_and_deregister_service() {
    let mut s = Store::new();
    let (node, svc) = web_on_n1();
    let chk = Check {
        check_id: "service:web1".into(),
        service_id: "web1".into(),
        ..Default::default()
    };
    let cmd = Command::Register {
        node,
        skip_node_update: false,
        service: Some(svc),
        checks: vec![chk],
    };
    assert_eq!(
        s.apply(3, &cmd, &mut Changes::default()),
        Response::Bool(true)
    );
    assert_eq!(s.service_index("web"), 3);
    assert_eq!(s.service_checks("web")[0].status, status::CRITICAL);
    // Re-registering the same thing changes nothing.
    s.apply(4, &cmd, &mut Changes::default());
    assert_eq!(s.service_index("web"), 3);
    let dereg = Command::Deregister {
        node: "n1".into(),
        service_id: Some("web1".into()),
        check_id: None,
    };
    s.apply(5, &dereg, &mut Changes::default());
    assert!(s.service_instances("web", &[]).is_empty());
    assert!(s.service_checks("web").is_empty());
    assert_eq!(s.service_index("web"), 5);
}

/// Rows repeat their node's name, their service's name and tags; the tables hand every
/// row the copy already held, after applies and after a snapshot restore alike.
#[test]
fn repeated_names_and_tags_share_one_allocation() {
    fn instance(node: &str, id: &str) -> Command {
        Command::Register {
            node: Node {
                node: node.into(),
                address: "10.0.0.1".into(),
                ..Default::default()
            },
            skip_node_update: false,
            service: Some(Service {
                id: id.into(),
                service: "web".into(),
                tags: vec!["primary".to_string(), "v1".to_string()].into(),
                ..Default::default()
            }),
            checks: vec![Check {
                check_id: format!("service:{id}").into(),
                service_id: id.into(),
                status: status::PASSING.into(),
                ..Default::default()
            }],
        }
    }
    fn assert_shared(s: &Store) {
        let rows: Vec<_> = s.services.iter().collect();
        assert_eq!(rows.len(), 3);
        let (a, b, c) = (rows[0], rows[1], rows[2]);
        let n1 = &s.nodes.get("n1").unwrap().node;
        assert!(a.node.ptr_eq(n1) && b.node.ptr_eq(n1), "node names shared");
        assert!(a.service.ptr_eq(&b.service) && a.service.ptr_eq(&c.service));
        assert!(a.tags.ptr_eq(&b.tags) && a.tags.ptr_eq(&c.tags));
        for svc in [a, b, c] {
            let chk = s
                .checks
                .get(&svc.node, &format!("service:{}", svc.id))
                .unwrap();
            assert!(chk.node.ptr_eq(&svc.node));
            assert!(chk.service_id.ptr_eq(&svc.id));
            assert!(chk.service_name.ptr_eq(&svc.service));
            assert!(chk.service_tags.ptr_eq(&svc.tags));
            assert!(chk.status.ptr_eq(&Name::status(status::PASSING)));
        }
    }
    let mut s = Store::new();
    for (i, (node, id)) in [("n1", "web1"), ("n1", "web2"), ("n2", "web3")]
        .iter()
        .enumerate()
    {
        let r = s.apply(i as u64 + 1, &instance(node, id), &mut Changes::default());
        assert_eq!(r, Response::Bool(true));
    }
    assert_shared(&s);
    let mut buf = Vec::new();
    crate::state::snapshot::write(&s, b"m", &mut buf).unwrap();
    let (_, restored) = crate::state::snapshot::read(&mut &buf[..]).unwrap();
    assert_shared(&restored);
    // Different tags are not merged.
    let mut other = instance("n2", "web4");
    if let Command::Register {
        service: Some(svc), ..
    } = &mut other
    {
        svc.tags = vec!["canary".to_string()].into();
    }
    s.apply(9, &other, &mut Changes::default());
    let web4 = s.services.get("n2", "web4").unwrap();
    assert_eq!(&*web4.tags, &["canary".to_string()]);
    assert!(
        !web4
            .tags
            .ptr_eq(&s.services.get("n1", "web1").unwrap().tags)
    );
}

fn session(id: &str, node: &str, behavior: Behavior, checks: &[&str]) -> Command {
    Command::SessionCreate(Session {
        id: id.into(),
        node: node.into(),
        behavior,
        lock_delay_ns: 15_000_000_000,
        node_checks: checks.iter().map(|c| c.to_string()).collect(),
        ..Default::default()
    })
}

fn lock(key: &str, session: &str) -> Command {
    Command::Kv(KvOp::Lock {
        key: key.into(),
        value: b"v".to_vec(),
        flags: 0,
        session: session.into(),
    })
}

fn unlock(key: &str, session: &str) -> Command {
    Command::Kv(KvOp::Unlock {
        key: key.into(),
        value: b"w".to_vec(),
        flags: 0,
        session: session.into(),
    })
}

/// n1 with a passing serfHealth and a passing "web" check.
fn node_with_checks() -> Store {
    let mut s = Store::new();
    let (node, _) = web_on_n1();
    let check = |id: &str| Check {
        check_id: id.into(),
        status: status::PASSING.into(),
        ..Default::default()
    };
    s.apply(
        1,
        &Command::Register {
            node,
            skip_node_update: false,
            service: None,
            checks: vec![check("serfHealth"), check("web")],
        },
        &mut Changes::default(),
    );
    s
}

/// n1's "web" check turns critical at `index`.
fn fail_web(s: &mut Store, index: u64, c: &mut Changes) {
    let update = CheckUpdate {
        node: "n1".into(),
        check_id: "web".into(),
        status: status::CRITICAL.into(),
        output: String::new(),
    };
    s.apply(index, &Command::UpdateChecks(vec![update]), c);
}

#[test]
fn sessions_need_their_node_and_healthy_checks() {
    let mut s = node_with_checks();
    let err = |r: Response| match r {
        Response::Error(e) => e,
        other => panic!("expected an error, got {other:?}"),
    };
    let mut c = Changes::default();
    assert_eq!(
        err(s.apply(2, &session("a", "n2", Behavior::Release, &[]), &mut c)),
        "Missing node registration"
    );
    assert_eq!(
        err(s.apply(2, &session("a", "n1", Behavior::Release, &["nope"]), &mut c)),
        "Missing check 'nope' registration"
    );
    fail_web(&mut s, 2, &mut c);
    assert_eq!(
        err(s.apply(3, &session("a", "n1", Behavior::Release, &["web"]), &mut c)),
        "Check 'web' is in critical state"
    );
    assert_eq!(s.sessions().count(), 0, "a refused create changes nothing");
    assert_eq!(
        s.apply(
            4,
            &session("a", "n1", Behavior::Release, &["serfHealth"]),
            &mut c
        ),
        Response::Bool(true)
    );
    assert_eq!(s.session("a").unwrap().create_index, 4);
    assert_eq!(s.table_index(Table::Sessions), 4);
}

#[test]
fn locks_have_one_holder_and_follow_consul() {
    let mut s = node_with_checks();
    let mut c = Changes::default();
    s.apply(2, &session("a", "n1", Behavior::Release, &[]), &mut c);
    s.apply(3, &session("b", "n1", Behavior::Release, &[]), &mut c);
    assert_eq!(s.apply(4, &lock("k", "a"), &mut c), Response::Bool(true));
    let e = s.kv_get("k").unwrap();
    assert_eq!((e.lock_index, e.session.as_deref()), (1, Some("a")));
    assert_eq!(s.apply(5, &lock("k", "b"), &mut c), Response::Bool(false));
    assert_eq!(
        s.kv_get("k").unwrap().modify_index,
        4,
        "a lost race writes nothing"
    );
    assert_eq!(s.apply(6, &lock("k", "a"), &mut c), Response::Bool(true));
    assert_eq!(
        s.kv_get("k").unwrap().lock_index,
        1,
        "the holder re-acquiring"
    );
    assert_eq!(s.apply(7, &unlock("k", "b"), &mut c), Response::Bool(false));
    assert_eq!(
        s.apply(7, &unlock("k", "zzz"), &mut c),
        Response::Bool(false)
    );
    assert_eq!(s.apply(8, &unlock("k", "a"), &mut c), Response::Bool(true));
    let e = s.kv_get("k").unwrap();
    assert_eq!((e.lock_index, e.session.as_deref()), (1, None));
    assert_eq!(e.value(), b"w", "release writes its body");
    assert_eq!(s.apply(9, &lock("k", "b"), &mut c), Response::Bool(true));
    assert_eq!(
        s.kv_get("k").unwrap().lock_index,
        2,
        "a new holder bumps it"
    );
    assert!(
        matches!(s.apply(10, &lock("k", "ghost"), &mut c), Response::Error(e) if e == "invalid session \"ghost\"")
    );
    assert!(
        matches!(s.apply(10, &lock("k", ""), &mut c), Response::Error(e) if e == "missing session")
    );
    // A plain write keeps the holder.
    s.apply(11, &set("k", None), &mut c);
    assert_eq!(s.kv_get("k").unwrap().session.as_deref(), Some("b"));
    assert_eq!(s.keys_held_by("b").collect::<Vec<_>>(), ["k"]);
}

#[test]
fn invalidation_releases_or_deletes_in_the_same_entry() {
    let mut s = node_with_checks();
    let mut c = Changes::default();
    s.apply(
        2,
        &session("rel", "n1", Behavior::Release, &["web"]),
        &mut c,
    );
    s.apply(
        3,
        &session("del", "n1", Behavior::Delete, &["serfHealth"]),
        &mut c,
    );
    s.apply(4, &lock("a", "rel"), &mut c);
    s.apply(5, &lock("b", "del"), &mut c);
    // The linked check goes critical: "rel" ends and its key is released at that index.
    let mut c = Changes::default();
    fail_web(&mut s, 6, &mut c);
    assert!(s.session("rel").is_none());
    let a = s.kv_get("a").unwrap();
    assert_eq!(
        (a.session.as_deref(), a.lock_index, a.modify_index),
        (None, 1, 6)
    );
    assert_eq!(s.table_index(Table::Sessions), 6);
    let delays: Vec<_> = c.lock_delays().map(|(k, d)| (k.to_string(), d)).collect();
    assert_eq!(delays, [("a".to_string(), Duration::from_secs(15))]);
    // The node goes: "del" ends and deletes its key.
    s.apply(
        7,
        &Command::Deregister {
            node: "n1".into(),
            service_id: None,
            check_id: None,
        },
        &mut Changes::default(),
    );
    assert!(s.session("del").is_none());
    assert!(s.kv_get("b").is_none());
    assert_eq!(s.kv_key_index("b"), 7);
}

#[test]
fn sessions_and_their_locks_survive_a_snapshot() {
    let mut s = node_with_checks();
    let mut c = Changes::default();
    s.apply(
        2,
        &session("a", "n1", Behavior::Release, &["serfHealth"]),
        &mut c,
    );
    s.apply(3, &lock("k", "a"), &mut c);
    let bytes = crate::state::snapshot::to_vec(&s, b"").unwrap();
    let (_, mut r) = crate::state::snapshot::read(&mut &bytes[..]).unwrap();
    assert_eq!(r.session("a"), s.session("a"));
    assert_eq!(r.table_index(Table::Sessions), 2);
    r.apply(
        4,
        &Command::SessionDestroy { id: "a".into() },
        &mut Changes::default(),
    );
    assert_eq!(
        r.kv_get("k").unwrap().session,
        None,
        "the held index was rebuilt"
    );
}

#[test]
fn snapshot_round_trip() {
    let mut s = Store::new();
    s.apply(1, &set("k", None), &mut Changes::default());
    let (node, svc) = web_on_n1();
    s.apply(
        2,
        &Command::Register {
            node,
            skip_node_update: false,
            service: Some(svc),
            checks: vec![],
        },
        &mut Changes::default(),
    );
    let bytes = super::super::snapshot::to_vec(&s, b"").unwrap();
    let (_, r) = super::super::snapshot::read(&mut bytes.as_slice()).unwrap();
    assert_eq!(r.kv_get("k").unwrap().value(), b"v");
    assert_eq!(r.table_index(Table::Kv), 1);
    assert_eq!(
        r.service_instances("web", &[]).len(),
        1,
        "name index rebuilt on restore"
    );
}

#[test]
fn renamed_service_moves_between_names() {
    let mut s = Store::new();
    let node = Node {
        node: "n1".into(),
        address: "10.0.0.1".into(),
        ..Default::default()
    };
    let mk = |name: &str| Service {
        id: "x".into(),
        service: name.into(),
        ..Default::default()
    };
    s.apply(
        1,
        &Command::Register {
            node: node.clone(),
            skip_node_update: false,
            service: Some(mk("a")),
            checks: vec![],
        },
        &mut Changes::default(),
    );
    s.apply(
        2,
        &Command::Register {
            node,
            skip_node_update: false,
            service: Some(mk("b")),
            checks: vec![],
        },
        &mut Changes::default(),
    );
    assert!(s.service_instances("a", &[]).is_empty());
    assert_eq!(s.service_instances("b", &[]).len(), 1);
    assert_eq!(s.service_names().len(), 1);
}
