//! A three-server cluster of real processes: formation with `-bootstrap-expect 3`, reads and
//! writes through every server, leader failover without losing acknowledged writes, catch-up
//! after a restart, leadership transfer and peer removal.

mod support;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;
use support::{Agent, cli, cluster_of, leader, rpc_addr, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

fn cluster(prefix: &str) -> Vec<Agent> {
    cluster_of(prefix, 3, &[])
}

/// Every server but those at `skip` (the ones a test killed).
fn all_but<'a>(servers: &'a [Agent], skip: &[usize]) -> Vec<&'a Agent> {
    servers
        .iter()
        .enumerate()
        .filter(|(i, _)| !skip.contains(i))
        .map(|(_, a)| a)
        .collect()
}

fn peers_table(a: &Agent) -> Vec<Vec<String>> {
    let (code, out, err) = cli(a.http, &["operator", "raft", "list-peers"]);
    assert_eq!(code, 0, "{err}");
    out.lines()
        .skip(1)
        .map(|l| l.split_whitespace().map(str::to_string).collect())
        .collect()
}

#[test]
fn three_servers_form_and_serve_everywhere() {
    let mut servers = cluster("c-form");
    let refs: Vec<&Agent> = servers.iter().collect();
    let l = leader(&refs);

    // list-peers on every server: three voters, one leader.
    for a in &servers {
        let rows = peers_table(a);
        assert_eq!(rows.len(), 3, "{rows:?}");
        assert_eq!(
            rows.iter().filter(|r| r[3] == "leader").count(),
            1,
            "{rows:?}"
        );
        assert!(rows.iter().all(|r| r[4] == "true"), "{rows:?}");
    }
    let peers = servers[0].get("/v1/status/peers").json();
    assert_eq!(peers.as_array().unwrap().len(), 3);

    // Writes through each server; reads through each in each consistency mode.
    for (i, a) in servers.iter().enumerate() {
        assert_eq!(
            a.put(&format!("/v1/kv/form/{i}"), format!("v{i}").as_bytes())
                .json(),
            json!(true)
        );
    }
    for a in &servers {
        for i in 0..3 {
            assert_eq!(
                a.get(&format!("/v1/kv/form/{i}?raw")).text(),
                format!("v{i}")
            );
            assert_eq!(
                a.get(&format!("/v1/kv/form/{i}?raw&consistent")).text(),
                format!("v{i}")
            );
            wait_for("stale read caught up", DEADLINE, || {
                (a.get(&format!("/v1/kv/form/{i}?raw&stale")).text() == format!("v{i}"))
                    .then_some(())
            });
        }
        let r = a.get("/v1/kv/form/0?stale");
        assert!(
            r.header("X-Consul-LastContact").is_some(),
            "{:?}",
            r.headers
        );
        assert_eq!(r.header("X-Consul-KnownLeader"), Some("true"));
    }
    // A client agent rotates over the servers (followers included) for every call mode.
    let client = Agent::client("c-form-cl", servers[0].serf_port(), &[]);
    for i in 0..6 {
        let key = format!("/v1/kv/from-client/{i}");
        assert_eq!(
            client.put(&key, b"c").json(),
            json!(true),
            "write {i} via the client"
        );
        assert_eq!(client.get(&format!("{key}?raw&consistent")).text(), "c");
        assert_eq!(client.get(&format!("{key}?raw")).text(), "c");
    }
    drop(client);

    // A follower's own service registration reaches the catalog through the leader.
    let f = (l + 1) % 3;
    assert_eq!(
        servers[f]
            .put(
                "/v1/agent/service/register",
                br#"{"Name":"on-follower","Port":1}"#
            )
            .status,
        200
    );
    wait_for("follower's service in the catalog", DEADLINE, || {
        (servers[l]
            .get("/v1/catalog/service/on-follower")
            .json()
            .as_array()?
            .len()
            == 1)
            .then_some(())
    });

    // transfer-leader hands leadership to the chosen follower.
    let target = (l + 2) % 3;
    let cfg = servers[l].get("/v1/operator/raft/configuration").json();
    let id = cfg["Servers"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["Address"] == rpc_addr(&servers[target]))
        .unwrap()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, err) = cli(
        servers[f].http,
        &["operator", "raft", "transfer-leader", &format!("-id={id}")],
    );
    assert_eq!((code, out.trim()), (0, "Success"), "{err}");
    assert_eq!(
        leader(&refs),
        target,
        "leadership went to the chosen server"
    );
    assert_eq!(
        servers[l].put("/v1/kv/after-transfer", b"1").json(),
        json!(true)
    );

    // remove-peer: a dead server leaves the voter set.
    let victim = (target + 1) % 3;
    let victim_addr = rpc_addr(&servers[victim]);
    servers[victim].kill9();
    let live = all_but(&servers, &[victim]);
    let lead = live[leader(&live)];
    let (code, out, err) = cli(
        lead.http,
        &[
            "operator",
            "raft",
            "remove-peer",
            &format!("-address={victim_addr}"),
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        format!("Removed peer with address \"{victim_addr}\"")
    );
    wait_for("two voters", DEADLINE, || {
        (lead.get("/v1/status/peers").json().as_array()?.len() == 2).then_some(())
    });
    assert_eq!(lead.put("/v1/kv/after-remove", b"1").json(), json!(true));
    let r = lead.delete("/v1/operator/raft/peer");
    assert_eq!(r.status, 400, "{}", r.text());
}

#[test]
fn leader_failover_loses_no_acknowledged_write() {
    let mut servers = cluster("c-fail");
    let acked: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let rounds: u32 = std::env::var("DISCO_FAILOVER_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    // A counter written in order and read with ?consistent: it must never go backwards.
    let counter_max = Arc::new(std::sync::atomic::AtomicU64::new(0));
    for round in 0..rounds {
        let refs: Vec<&Agent> = servers.iter().collect();
        let l = leader(&refs);
        let survivors: Vec<u16> = all_but(&servers, &[l]).iter().map(|a| a.http).collect();
        // Writers through the survivors while the leader dies.
        let stop = Arc::new(AtomicBool::new(false));
        let mut writers = Vec::new();
        {
            let (stop_w, port, max) = (stop.clone(), survivors[0], counter_max.clone());
            writers.push(std::thread::spawn(move || {
                while !stop_w.load(Ordering::Relaxed) {
                    let next = max.load(Ordering::Relaxed) + 1;
                    if let Ok(r) = support::http(
                        port,
                        "PUT",
                        "/v1/kv/fo-counter",
                        next.to_string().as_bytes(),
                    ) && r.text().trim() == "true"
                    {
                        max.store(next, Ordering::Relaxed);
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
            let (stop, port) = (stop.clone(), survivors[1]);
            writers.push(std::thread::spawn(move || {
                let mut seen = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    if let Ok(r) =
                        support::http(port, "GET", "/v1/kv/fo-counter?raw&consistent", b"")
                        && r.status == 200
                        && let Ok(v) = r.text().parse::<u64>()
                    {
                        assert!(v >= seen, "counter went backwards: {seen} then {v}");
                        seen = v;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
        }
        for (w, port) in survivors.iter().enumerate() {
            let (stop, acked, port) = (stop.clone(), acked.clone(), *port);
            writers.push(std::thread::spawn(move || {
                let mut n = 0u32;
                while !stop.load(Ordering::Relaxed) && n < 5000 {
                    let key = format!("fo/{round}/{w}/{n}");
                    let val = format!("{round}-{w}-{n}");
                    if let Ok(r) =
                        support::http(port, "PUT", &format!("/v1/kv/{key}"), val.as_bytes())
                        && r.status == 200
                        && r.text().trim() == "true"
                    {
                        acked.lock().unwrap().insert(key, val);
                    }
                    n += 1;
                    std::thread::sleep(Duration::from_millis(5));
                }
            }));
        }
        std::thread::sleep(Duration::from_millis(300));
        servers[l].kill9();
        let live = all_but(&servers, &[l]);
        let nl = live[leader(&live)];
        let marker = format!("/v1/kv/fo/marker/{round}");
        wait_for("a write through the new leader", DEADLINE, || {
            (support::http(nl.http, "PUT", &marker, b"m")
                .ok()?
                .text()
                .trim()
                == "true")
                .then_some(())
        });
        std::thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            w.join().unwrap();
        }
        // The killed server restarts with its data and catches up.
        servers[l].relaunch();
        let restarted = &servers[l];
        wait_for("restarted server caught up", DEADLINE, || {
            let r =
                support::http(restarted.http, "GET", &format!("{marker}?raw&stale"), b"").ok()?;
            (r.text() == "m").then_some(())
        });
    }
    let acked = acked.lock().unwrap();
    assert!(
        acked.len() > 50,
        "too few writes acknowledged: {}",
        acked.len()
    );
    for a in &servers {
        let all = a.get("/v1/kv/fo/?recurse&stale").json();
        let have: BTreeMap<String, String> = all
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                let v = e["Value"].as_str().unwrap_or("");
                let raw = base64_decode(v);
                (e["Key"].as_str().unwrap().to_string(), raw)
            })
            .collect();
        for (k, v) in acked.iter() {
            assert_eq!(
                have.get(k),
                Some(v),
                "acknowledged write {k} missing on the server at {}",
                a.http
            );
        }
    }
}

fn base64_decode(s: &str) -> String {
    const T: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = Vec::new();
    let mut buf = 0u32;
    let mut bits = 0;
    for c in s.bytes() {
        let Some(v) = T.iter().position(|&t| t == c) else {
            continue;
        };
        buf = (buf << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((buf >> bits) as u8);
            buf &= (1 << bits) - 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn wiped_server_rejoins_from_a_snapshot() {
    // Small snapshot threshold and trailing log, so the leader's log no longer holds what a
    // wiped server needs and it must install a snapshot. 20 KB values make the snapshot
    // about 6 MB, so it crosses in more than one chunk.
    let cfg = support::config_file("snap", support::FAST_COMPACTION);
    let cfg_s = cfg.display().to_string();
    let mut servers = cluster_of("c-snap", 3, &["-config-file", &cfg_s]);
    let pad = "x".repeat(20_000);
    for i in 0..300 {
        assert_eq!(
            servers[0]
                .put(&format!("/v1/kv/snap/{i}"), format!("{i}:{pad}").as_bytes())
                .json(),
            json!(true)
        );
    }
    let refs: Vec<&Agent> = servers.iter().collect();
    let l = leader(&refs);
    let victim = if l == 1 { 2 } else { 1 };
    servers[victim].kill9();
    let _ = std::fs::remove_dir_all(servers[victim].dir().join("data"));
    servers[victim].relaunch();
    let v = &servers[victim];
    wait_for("wiped server caught up", DEADLINE, || {
        let r = support::http(v.http, "GET", "/v1/kv/snap/299?raw&stale", b"").ok()?;
        (r.text() == format!("299:{pad}")).then_some(())
    });
    let all = v.get("/v1/kv/snap/?keys&stale").json();
    assert_eq!(all.as_array().unwrap().len(), 300);
    wait_for(
        "three voters again, the old entry replaced",
        DEADLINE,
        || {
            let rows = peers_table(&servers[l]);
            (rows.len() == 3 && rows.iter().all(|r| r[4] == "true")).then_some(())
        },
    );
    // It caught up by installing the leader's snapshot (the log it needed was compacted).
    let stats = v.get("/v1/agent/self").json()["Stats"]["raft"].clone();
    let snap: u64 = stats["last_snapshot_index"]
        .as_str()
        .unwrap_or("0")
        .parse()
        .unwrap_or(0);
    assert!(snap >= 64, "no snapshot on the rejoined server: {stats}");
    let _ = std::fs::remove_file(&cfg);
}

#[test]
fn five_servers_survive_two_failures() {
    let mut servers = cluster_of("c-five", 5, &[]);
    let refs: Vec<&Agent> = servers.iter().collect();
    let l = leader(&refs);
    let other = (l + 1) % 5;
    servers[l].kill9();
    servers[other].kill9();
    let live = all_but(&servers, &[l, other]);
    let nl = live[leader(&live)];
    for a in &live {
        wait_for("a write through each survivor", DEADLINE, || {
            let r = support::http(a.http, "PUT", "/v1/kv/five", b"ok").ok()?;
            (r.text().trim() == "true").then_some(())
        });
    }
    assert_eq!(nl.get("/v1/kv/five?raw&consistent").text(), "ok");
    // Autopilot reports the cluster degraded (two servers unreachable).
    let r = nl.get("/v1/operator/autopilot/health");
    assert_eq!(r.status, 429, "{}", r.text());
    assert_eq!(r.json()["Healthy"], json!(false));
}
