//! Sessions and locks on a real cluster: three servers and a client agent, each its own
//! process on loopback. A lock taken through the client agent has exactly one holder,
//! survives a leadership transfer, and is handed over when the client dies (its serfHealth
//! check goes critical) and the lock-delay passes. A TTL session renewed through a follower
//! outlives its TTL many times over, across the transfer, and once renewals stop it is
//! never destroyed before its TTL has passed.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Agent, cluster_of, config_file, leader, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

fn session(a: &Agent, body: Value) -> String {
    let r = a.put("/v1/session/create", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "session create: {}", r.text());
    r.json()["ID"].as_str().expect("ID").to_string()
}

fn acquire(a: &Agent, key: &str, session: &str) -> bool {
    let r = a.put(&format!("/v1/kv/{key}?acquire={session}"), b"held");
    assert_eq!(r.status, 200, "acquire: {}", r.text());
    r.json() == json!(true)
}

/// (Session, LockIndex) of a key, read through `a` with `?consistent`.
fn holder(a: &Agent, key: &str) -> (Option<String>, u64) {
    let r = a.get(&format!("/v1/kv/{key}?consistent"));
    assert_eq!(r.status, 200, "read {key}: {}", r.text());
    let e = &r.json()[0];
    (
        e["Session"].as_str().map(str::to_string),
        e["LockIndex"].as_u64().unwrap_or(0),
    )
}

fn session_exists(a: &Agent, id: &str) -> bool {
    let r = a.get(&format!("/v1/session/info/{id}?consistent"));
    r.status == 200 && r.json().as_array().is_some_and(|l| !l.is_empty())
}

#[test]
fn locks_hold_across_a_transfer_and_pass_on_when_the_holder_dies() {
    // A 1 s floor lets the test use a 2 s TTL.
    let cfg = config_file("sess-cfg", r#"{"session_ttl_min": "1s"}"#);
    let cfg = cfg.display().to_string();
    let servers = cluster_of("sess", 3, &["-config-file", &cfg]);
    let all: Vec<&Agent> = servers.iter().collect();
    let mut client = Agent::client("sess-client", servers[0].serf_port(), &[]);

    // The client's session (its own node, serfHealth, a 1 s lock-delay) takes the lock
    // through the client agent; a server's session cannot take it.
    let mine = session(&client, json!({"Name": "primary", "LockDelay": "1s"}));
    let theirs = session(&servers[1], json!({"Name": "standby", "LockDelay": "1s"}));
    assert!(acquire(&client, "svc/leader", &mine));
    assert!(!acquire(&servers[2], "svc/leader", &theirs));
    assert!(
        acquire(&client, "svc/leader", &mine),
        "the holder re-acquires"
    );
    for s in &servers {
        assert_eq!(holder(s, "svc/leader"), (Some(mine.clone()), 1));
    }
    let listed = servers[2].get("/v1/session/node/sess-client");
    assert_eq!(listed.json()[0]["ID"], json!(mine));
    assert_eq!(listed.json()[0]["NodeChecks"], json!(["serfHealth"]));

    // A TTL session renewed through a follower, across a leadership transfer.
    let ttl = session(&servers[0], json!({"TTL": "2s", "Behavior": "delete"}));
    assert!(acquire(&servers[0], "svc/ttl", &ttl));
    let before = leader(&all);
    let r = servers[before].put("/v1/operator/raft/transfer-leader", b"");
    assert_eq!(r.status, 200, "transfer: {}", r.text());
    let renew_until = Instant::now() + Duration::from_secs(8);
    let mut last_renew = Instant::now();
    while Instant::now() < renew_until {
        let follower = (leader(&all) + 1) % servers.len();
        let r = servers[follower].put(&format!("/v1/session/renew/{ttl}"), b"");
        if r.status == 200 {
            assert_eq!(
                r.json()[0]["TTL"],
                json!("2s"),
                "the TTL is echoed as given"
            );
            last_renew = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    assert_ne!(leader(&all), before, "leadership moved");
    assert!(
        session_exists(&servers[0], &ttl),
        "renewed: still alive after 4 TTLs"
    );
    assert_eq!(holder(&servers[1], "svc/leader"), (Some(mine.clone()), 1));
    // Renewals stop: the session ends, and not before its TTL.
    wait_for("the TTL session to expire", DEADLINE, || {
        (!session_exists(&servers[1], &ttl)).then_some(())
    });
    assert!(
        last_renew.elapsed() >= Duration::from_secs(2),
        "expired {:?} after the last renewal, before its TTL",
        last_renew.elapsed()
    );
    let gone = servers[2].get("/v1/kv/svc/ttl?consistent");
    assert_eq!(gone.status, 404, "behavior delete removes the key");

    // The holder's agent dies: serfHealth goes critical, the session ends and releases the
    // lock (LockIndex kept); after the lock-delay the standby takes it.
    client.kill9();
    wait_for("the lock to be released", DEADLINE, || {
        (holder(&servers[0], "svc/leader").0.is_none()).then_some(())
    });
    assert_eq!(holder(&servers[0], "svc/leader"), (None, 1));
    assert!(!session_exists(&servers[0], &mine));
    wait_for("the standby to take the lock", DEADLINE, || {
        acquire(&servers[1], "svc/leader", &theirs).then_some(())
    });
    for s in &servers {
        assert_eq!(holder(s, "svc/leader"), (Some(theirs.clone()), 2));
    }

    // Bad input changes nothing.
    let r = servers[0].put("/v1/kv/svc/leader?acquire=not-a-session", b"x");
    assert_eq!(r.status, 500);
    assert_eq!(r.text().trim(), "invalid session \"not-a-session\"");
    let r = servers[0].put("/v1/session/create", br#"{"TTL": "25h"}"#);
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("Invalid Session TTL"), "{}", r.text());
    let r = servers[0].put("/v1/session/create", br#"{"Node": "nowhere"}"#);
    assert_eq!(
        (r.status, r.text().trim()),
        (500, "Missing node registration")
    );
    let r = servers[0].put("/v1/session/create", b"{not json");
    assert_eq!(r.status, 400);
    let r = servers[0].put("/v1/session/renew/not-a-session", b"");
    assert_eq!(r.status, 404);
    assert_eq!(holder(&servers[2], "svc/leader"), (Some(theirs.clone()), 2));
    let _ = std::fs::remove_file(cfg);
}

/// The fault behind a lock lost across a leadership transfer: a new leader reconciles at
/// once, and a member that joined through another server moments before may not be in its
/// gossip view yet. It must not be reaped then (which deregisters the node and ends its
/// sessions); a node gossip never learns of is still reaped after the grace period.
#[test]
fn a_new_leader_does_not_reap_a_node_its_gossip_has_not_heard_of_yet() {
    let servers = cluster_of("reap", 3, &[]);
    let all: Vec<&Agent> = servers.iter().collect();
    // A node gossip has never heard of, with a passing serfHealth check, holding a lock.
    let r = servers[0].put(
        "/v1/catalog/register",
        json!({
            "Node": "unheard",
            "Address": "127.0.0.9",
            "Check": {"CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing"}
        })
        .to_string()
        .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let held = session(&servers[0], json!({"Node": "unheard", "LockDelay": "0s"}));
    assert!(acquire(&servers[0], "reap/lock", &held));
    let before = leader(&all);
    let r = servers[before].put("/v1/operator/raft/transfer-leader", b"");
    assert_eq!(r.status, 200, "transfer: {}", r.text());
    let after = wait_for("a new leader", DEADLINE, || {
        let l = leader(&all);
        (l != before).then_some(l)
    });
    // The new leader has reconciled by now (it does on taking over); the node and its lock
    // are still there.
    std::thread::sleep(Duration::from_secs(2));
    assert!(
        session_exists(&servers[after], &held),
        "the session survived the transfer"
    );
    assert_eq!(holder(&servers[after], "reap/lock").0, Some(held.clone()));
    // Still unknown after the grace period: reaped, as Consul reaps it.
    wait_for("the unheard-of node to be reaped", DEADLINE, || {
        (servers[after].get("/v1/catalog/node/unheard").text().trim() == "null").then_some(())
    });
    assert!(!session_exists(&servers[after], &held));
    assert_eq!(holder(&servers[after], "reap/lock").0, None);
}
