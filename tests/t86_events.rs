//! User events on a real pool: three servers and two client agents, each its own process
//! on loopback. An event fired at any agent reaches every agent's list through gossip;
//! node, service and tag filters keep it only where they match; a blocking list wakes on
//! an event fired elsewhere; bad events are refused and reach nobody.

mod support;

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use support::{Agent, cluster_of, wait_for};

const DEADLINE: Duration = Duration::from_secs(30);

/// The IDs of the events named `name` in `a`'s list.
fn listed(a: &Agent, name: &str) -> Vec<String> {
    let r = a.get(&format!("/v1/event/list?name={name}"));
    assert_eq!(r.status, 200, "list: {}", r.text());
    r.json()
        .as_array()
        .expect("list")
        .iter()
        .map(|e| e["ID"].as_str().unwrap_or("").to_string())
        .collect()
}

fn fire(a: &Agent, path: &str, payload: &[u8]) -> Value {
    let r = a.put(&format!("/v1/event/fire/{path}"), payload);
    assert_eq!(r.status, 200, "fire {path}: {}", r.text());
    r.json()
}

/// Wait until every agent in `on` lists `id` under `name` and no agent in `off` does.
fn delivered(agents: &[&Agent], name: &str, id: &str, on: &[usize]) {
    wait_for(&format!("{name} delivered to {on:?}"), DEADLINE, || {
        on.iter()
            .all(|&i| listed(agents[i], name).iter().any(|x| x == id))
            .then_some(())
    });
}

#[test]
fn events_reach_every_agent_their_filters_select() {
    let servers = cluster_of("ev", 3, &[]);
    let join = servers[0].serf_port();
    let web = Agent::client("ev-web", join, &[]);
    let db = Agent::client("ev-db", join, &[]);
    let all: Vec<&Agent> = servers.iter().chain([&web, &db]).collect();
    // Every agent sees all five alive before anything is fired.
    wait_for("a full pool", DEADLINE, || {
        all.iter()
            .all(|a| a.member_statuses().values().filter(|s| **s == 1).count() == 5)
            .then_some(())
    });
    let register = |a: &Agent, body: Value| {
        let r = a.put("/v1/agent/service/register", body.to_string().as_bytes());
        assert_eq!(r.status, 200, "register: {}", r.text());
    };
    register(
        &web,
        json!({"Name": "web", "Tags": ["v2", "primary"], "Port": 80}),
    );
    register(&db, json!({"Name": "db", "Tags": ["v1"], "Port": 5432}));

    // Unfiltered, fired at a client: the answer has Consul's eight keys, and the firing
    // agent lists it at once.
    let ev = fire(&db, "deploy", b"build 42");
    let keys: Vec<&String> = ev.as_object().expect("event").keys().collect();
    assert_eq!(keys.len(), 8, "{keys:?}");
    assert_eq!(ev["Payload"], json!("YnVpbGQgNDI="));
    assert_eq!(
        (ev["Version"].clone(), ev["LTime"].clone()),
        (json!(1), json!(0))
    );
    let id = ev["ID"].as_str().expect("ID").to_string();
    assert!(
        listed(&db, "deploy").contains(&id),
        "the firing agent lists it"
    );
    delivered(&all, "deploy", &id, &[0, 1, 2, 3, 4]);
    let on_server = servers[2].get("/v1/event/list?name=deploy");
    let e = &on_server.json()[0];
    assert_eq!(e["Payload"], json!("YnVpbGQgNDI="));
    assert!(e["LTime"].as_u64().is_some(), "{e}");

    // A service and tag filter: only the agent running web with a v2 tag keeps it.
    let ev = fire(&servers[1], "restart?service=%5Eweb%24&tag=v2", b"");
    let tagged = ev["ID"].as_str().expect("ID").to_string();
    assert_eq!(ev["Payload"], Value::Null);
    assert_eq!(ev["ServiceFilter"], json!("^web$"));
    // A node filter: only ev2 keeps it.
    let ev = fire(&web, "restart?node=ev2", b"");
    let node = ev["ID"].as_str().expect("ID").to_string();
    // An unfiltered event after both: once it is everywhere, the filtered ones have had
    // their chance to arrive too (gossip carries them alike).
    let last = fire(&servers[0], "restart", b"")["ID"]
        .as_str()
        .expect("ID")
        .to_string();
    delivered(&all, "restart", &last, &[0, 1, 2, 3, 4]);
    delivered(&all, "restart", &tagged, &[3]);
    delivered(&all, "restart", &node, &[1]);
    for (i, a) in all.iter().enumerate() {
        let ids = listed(a, "restart");
        assert_eq!(
            ids.contains(&tagged),
            i == 3,
            "service filter at agent {i}: {ids:?}"
        );
        assert_eq!(
            ids.contains(&node),
            i == 1,
            "node filter at agent {i}: {ids:?}"
        );
        // Oldest first: the deploy event, everywhere before any restart was fired, lists
        // before the last restart. (Events fired at different agents may arrive in either
        // order, so only an order every agent must see is checked.)
        let everything = listed(a, "");
        let at = |x: &String| everything.iter().position(|y| y == x);
        assert!(
            at(&id).is_some() && at(&id) < at(&last),
            "oldest first at agent {i}: {everything:?}"
        );
        assert_eq!(
            ids.iter().filter(|x| **x == last).count(),
            1,
            "each event once at agent {i}"
        );
    }
    // A tag filter that matches no tag of the matching service keeps it nowhere.
    let none = fire(&servers[0], "restart?service=web&tag=%5Ev9%24", b"")["ID"]
        .as_str()
        .expect("ID")
        .to_string();

    // A blocking list on a client waits while its index is the one it was given and
    // wakes with the event fired at another agent.
    let r = web.get("/v1/event/list?name=rollout");
    assert_eq!(r.header("X-Consul-Index"), Some("1"), "empty list index");
    let waiter = {
        let port = web.http;
        std::thread::spawn(move || {
            let start = Instant::now();
            let r = support::http_within(
                port,
                "GET",
                "/v1/event/list?name=rollout&index=1&wait=20s",
                b"",
                Duration::from_secs(30),
            )
            .expect("blocking list");
            (r, start.elapsed())
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let rollout = fire(&servers[2], "rollout", b"go")["ID"]
        .as_str()
        .expect("ID")
        .to_string();
    let (r, took) = waiter.join().expect("waiter");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["ID"], json!(rollout));
    assert!(
        took < Duration::from_secs(20),
        "woke on the event, not the wait"
    );
    let index: u64 = r
        .header("X-Consul-Index")
        .and_then(|v| v.parse().ok())
        .expect("index");
    assert_ne!(index, 1);
    // The same index again blocks until the wait runs out.
    let start = Instant::now();
    let again = web.get(&format!(
        "/v1/event/list?name=rollout&index={index}&wait=1s"
    ));
    assert!(start.elapsed() >= Duration::from_millis(900));
    assert_eq!(
        again.header("X-Consul-Index"),
        Some(index.to_string().as_str())
    );

    // Bad events are refused with Consul's answers and reach nobody.
    let bad = [
        ("", 400, "Missing name"),
        (
            "x?tag=v2",
            500,
            "Cannot provide tag filter without service filter",
        ),
        ("x?node=(", 500, "Invalid node filter"),
        ("x?service=%5B", 500, "Invalid service filter"),
    ];
    for (path, status, text) in bad {
        let r = web.put(&format!("/v1/event/fire/{path}"), b"");
        assert_eq!(r.status, status, "{path}: {}", r.text());
        assert!(r.text().contains(text), "{path}: {}", r.text());
    }
    let big = vec![b'a'; 600];
    let r = web.put("/v1/event/fire/x", &big);
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("exceeds configured limit of 512 bytes"),
        "{}",
        r.text()
    );
    let r = web.get("/v1/event/fire/x");
    assert_eq!(r.status, 405);
    // A marker fired last: once it is everywhere, nothing refused arrived anywhere.
    let marker = fire(&web, "x", b"ok")["ID"]
        .as_str()
        .expect("ID")
        .to_string();
    delivered(&all, "x", &marker, &[0, 1, 2, 3, 4]);
    for a in &all {
        assert_eq!(listed(a, "x"), vec![marker.clone()]);
        assert!(!listed(a, "restart").contains(&none));
    }
}
