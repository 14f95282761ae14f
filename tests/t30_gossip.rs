//! The LAN gossip pool with real processes: one server and four clients joined with
//! `-join`, failure detection, leave, force-leave, forwarding, rejoin, encryption and
//! garbage on the serf port.

mod support;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::process::{Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::{Agent, cli, wait_for};

const ALIVE: i64 = 1;
const LEFT: i64 = 3;
const FAILED: i64 = 4;

/// Failure detection needs a probe, a suspicion period and dissemination: Consul's LAN
/// timings put that at a few seconds; allow generously for a loaded machine.
const GOSSIP_DEADLINE: Duration = Duration::from_secs(45);

fn expect_everywhere(agents: &[&Agent], node: &str, status: i64) {
    for a in agents {
        wait_for(
            &format!("{node} to have status {status} on the agent at {}", a.http),
            GOSSIP_DEADLINE,
            || (a.member_statuses().get(node) == Some(&status)).then_some(()),
        );
    }
}

fn serf_status(a: &Agent, node: &str) -> Option<String> {
    let checks = a.get(&format!("/v1/health/node/{node}")).json();
    checks
        .as_array()?
        .iter()
        .find(|c| c["CheckID"] == "serfHealth")
        .map(|c| c["Status"].as_str().unwrap_or("").to_string())
}

#[test]
fn one_server_four_clients() {
    let server = Agent::server("g-srv");
    let sp = server.serf_port();
    let mut clients: Vec<Agent> = (1..=4)
        .map(|i| Agent::client(&format!("g-c{i}"), sp, &[]))
        .collect();

    // Every agent sees all five members alive.
    let names = ["g-srv", "g-c1", "g-c2", "g-c3", "g-c4"];
    let all: Vec<&Agent> = std::iter::once(&server).chain(clients.iter()).collect();
    for a in &all {
        wait_for("five alive members", GOSSIP_DEADLINE, || {
            let st = a.member_statuses();
            (names.iter().all(|n| st.get(*n) == Some(&ALIVE)) && st.len() == 5).then_some(())
        });
    }
    // `disco members` prints Consul's table, server first.
    let (code, out, _) = cli(clients[0].http, &["members"]);
    assert_eq!(code, 0);
    let lines: Vec<&str> = out.lines().collect();
    assert!(lines[0].starts_with("Node"), "{out}");
    assert!(
        lines[0].contains("Address") && lines[0].ends_with("Segment"),
        "{out}"
    );
    assert!(
        lines[1].starts_with("g-srv") && lines[1].contains("server"),
        "{out}"
    );
    assert_eq!(lines.len(), 6, "{out}");
    let (code, out, _) = cli(clients[0].http, &["members", "-status=failed"]);
    assert_eq!((code, out.as_str()), (2, ""), "no failed members yet");
    let (_, out, _) = cli(clients[0].http, &["members", "-detailed"]);
    assert!(
        out.contains("role=consul") && out.contains("role=node"),
        "{out}"
    );

    // /v1/agent/self's Member is this agent's entry of /v1/agent/members.
    let me = clients[1].get("/v1/agent/self").json()["Member"].clone();
    let members = clients[1].get("/v1/agent/members").json();
    assert!(
        members.as_array().unwrap().contains(&me),
        "{me} not in {members}"
    );
    assert_eq!(me["Tags"]["role"], "node");
    let stats = server.get("/v1/agent/self").json()["Stats"]["serf_lan"].clone();
    assert_eq!(stats["members"], "5");

    // The leader registered every member with serfHealth passing.
    for n in names {
        wait_for(&format!("serfHealth of {n}"), GOSSIP_DEADLINE, || {
            (serf_status(&server, n).as_deref() == Some("passing")).then_some(())
        });
    }

    // A client forwards reads and writes to the server.
    let c1 = &clients[0];
    assert_eq!(c1.put("/v1/kv/fwd/a", b"from-c1").json(), json!(true));
    assert_eq!(clients[1].get("/v1/kv/fwd/a?raw").text(), "from-c1");
    assert_eq!(server.get("/v1/kv/fwd/a?raw").text(), "from-c1");
    let r = c1.get("/v1/kv/fwd/a");
    assert!(r.header("X-Consul-Index").is_some(), "{:?}", r.headers);
    assert_eq!(c1.get("/v1/kv/missing").status, 404);
    assert_eq!(
        c1.put("/v1/kv/fwd/a?cas=1", b"x").json(),
        json!(false),
        "CAS through a client"
    );
    let reg = c1.put(
        "/v1/agent/service/register",
        br#"{"Name":"web","Port":8080,"Check":{"TTL":"30s"}}"#,
    );
    assert_eq!(reg.status, 200, "{}", reg.text());
    wait_for("web from g-c1 in the catalog", GOSSIP_DEADLINE, || {
        let v = server.get("/v1/catalog/service/web").json();
        (v.as_array()?.len() == 1 && v[0]["Node"] == "g-c1").then_some(())
    });
    assert_eq!(
        c1.get("/v1/status/leader").json(),
        server.get("/v1/status/leader").json()
    );
    assert_eq!(
        c1.put("/v1/kv/fwd/big", &vec![b'x'; 600 * 1024]).status,
        413,
        "oversized values are refused through a client too"
    );

    // kill -9: failed everywhere, serfHealth critical, its services leave ?passing.
    let reg = clients[2].put(
        "/v1/agent/service/register",
        br#"{"Name":"api","Port":9090}"#,
    );
    assert_eq!(reg.status, 200);
    wait_for("api passing", GOSSIP_DEADLINE, || {
        (server
            .get("/v1/health/service/api?passing")
            .json()
            .as_array()?
            .len()
            == 1)
            .then_some(())
    });
    clients[2].kill9();
    {
        let live: Vec<&Agent> = [&server, &clients[0], &clients[1], &clients[3]].to_vec();
        expect_everywhere(&live, "g-c3", FAILED);
    }
    wait_for("serfHealth of g-c3 critical", GOSSIP_DEADLINE, || {
        (serf_status(&server, "g-c3").as_deref() == Some("critical")).then_some(())
    });
    assert_eq!(
        server.get("/v1/health/service/api?passing").json(),
        json!([]),
        "a failed node's services leave ?passing"
    );
    assert_eq!(
        server
            .get("/v1/health/service/api")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // force-leave of the failed member: left everywhere, node deregistered.
    let (code, out, err) = cli(server.http, &["force-leave", "g-c3"]);
    assert_eq!((code, out.as_str()), (0, ""), "{err}");
    {
        let live: Vec<&Agent> = [&server, &clients[0], &clients[1], &clients[3]].to_vec();
        expect_everywhere(&live, "g-c3", LEFT);
    }
    wait_for("g-c3 deregistered", GOSSIP_DEADLINE, || {
        (server.get("/v1/catalog/node/g-c3").text().trim() == "null").then_some(())
    });
    let r = server.put("/v1/agent/force-leave/no-such-node", b"");
    assert_eq!(r.status, 500);
    assert_eq!(
        r.text().trim(),
        "agent: No node found with name 'no-such-node'"
    );
    let (code, _, err) = cli(server.http, &["force-leave"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("A single node name must be specified"),
        "{err}"
    );

    // A live member refutes a force-leave and stays alive.
    let r = server.put("/v1/agent/force-leave/g-c2", b"");
    assert_eq!(r.status, 200);
    std::thread::sleep(Duration::from_secs(3));
    expect_everywhere(&[&server, &clients[0]], "g-c2", ALIVE);

    // force-leave -prune forgets a left member at once.
    let (code, _, err) = cli(server.http, &["force-leave", "-prune", "g-c3"]);
    assert_eq!(code, 0, "{err}");
    wait_for("g-c3 pruned", GOSSIP_DEADLINE, || {
        (!server.member_statuses().contains_key("g-c3")).then_some(())
    });

    // disco leave: the process exits and peers see it as left, not failed.
    let (code, out, err) = cli(clients[3].http, &["leave"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Graceful leave complete");
    expect_everywhere(&[&server, &clients[0], &clients[1]], "g-c4", LEFT);
    wait_for("g-c4 process exit", GOSSIP_DEADLINE, || {
        (!clients[3].running()).then_some(())
    });
    wait_for("g-c4 deregistered", GOSSIP_DEADLINE, || {
        (server.get("/v1/catalog/node/g-c4").text().trim() == "null").then_some(())
    });

    // A restarted client finds the cluster from its remembered peers, without -join.
    let c2 = &mut clients[1];
    c2.kill9();
    expect_everywhere(&[&server], "g-c2", FAILED);
    let j = c2.args.iter().position(|a| a == "-join").unwrap();
    c2.args.drain(j..j + 2);
    c2.restart();
    expect_everywhere(&[&server, &clients[0]], "g-c2", ALIVE);
    wait_for("serfHealth of g-c2 passing again", GOSSIP_DEADLINE, || {
        (serf_status(&server, "g-c2").as_deref() == Some("passing")).then_some(())
    });
    let _ = &mut clients;
}

#[test]
fn garbage_on_the_serf_port_changes_nothing() {
    let server = Agent::server("g-junk-s");
    let client = Agent::client("g-junk-c", server.serf_port(), &[]);
    wait_for("two alive members", GOSSIP_DEADLINE, || {
        let st = server.member_statuses();
        (st.len() == 2 && st.values().all(|s| *s == ALIVE)).then_some(())
    });
    let before = server.member_statuses();
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let target = ("127.0.0.1", server.serf_port());
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for i in 0..2000u32 {
        let len = (next() % 1500) as usize;
        let mut pkt: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        match i % 4 {
            0 if !pkt.is_empty() => pkt[0] = 0, // "plaintext" envelope, garbage inside
            1 if !pkt.is_empty() => pkt[0] = 1, // "sealed" envelope, garbage inside
            _ => {}
        }
        let _ = sock.send_to(&pkt, target);
        if i % 50 == 49 {
            // Paced a little, so most packets reach the agent instead of overflowing the
            // kernel's receive buffer (which would test the kernel, not the agent).
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    // Garbage on the TCP side too: a huge length prefix and a truncated frame.
    for junk in [
        &[0xffu8, 0xff, 0xff, 0xff, 1, 2][..],
        &[0, 0, 0, 9, 1][..],
        &b"GET / HTTP/1.1\r\n\r\n"[..],
    ] {
        if let Ok(mut s) = std::net::TcpStream::connect(target) {
            use std::io::Write;
            let _ = s.write_all(junk);
        }
    }
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(server.member_statuses(), before, "membership changed");
    assert_eq!(
        client.member_statuses(),
        before,
        "membership changed on the client"
    );
    let metrics = server.get("/v1/agent/metrics").json();
    let gauge = |name: &str| -> f64 {
        metrics["Gauges"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["Name"] == name)
            .and_then(|g| g["Value"].as_f64())
            .unwrap_or(0.0)
    };
    let counted =
        gauge("consul.memberlist.packets_dropped") + gauge("consul.memberlist.packets_malformed");
    assert!(counted > 0.0, "garbage not counted: {metrics}");
    assert_eq!(client.put("/v1/kv/after-junk", b"ok").json(), json!(true));
}

#[test]
fn encryption_admits_only_the_right_key() {
    let key_out = Command::new(support::bin()).arg("keygen").output().unwrap();
    let key = String::from_utf8(key_out.stdout)
        .unwrap()
        .trim()
        .to_string();
    assert_eq!(key.len(), 44, "keygen prints 32 bytes in base64: {key}");
    let server = Agent::start(
        "g-enc-s",
        &[
            "-server",
            "-bootstrap",
            "-data-dir",
            "{dir}/data",
            "-encrypt",
            &key,
        ],
    );
    let sp = server.serf_port();
    let good = Agent::client("g-enc-ok", sp, &["-encrypt", &key]);
    wait_for("keyed client admitted", GOSSIP_DEADLINE, || {
        (server.member_statuses().get("g-enc-ok") == Some(&ALIVE)).then_some(())
    });
    assert_eq!(
        good.get("/v1/agent/self").json()["Stats"]["serf_lan"]["encrypted"],
        "true"
    );

    // A wrong key and a missing key are refused, and both sides' logs say why.
    let other_key = String::from_utf8(
        Command::new(support::bin())
            .arg("keygen")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    for (name, extra) in [
        (
            "g-enc-bad",
            vec!["-encrypt".to_string(), other_key.trim().to_string()],
        ),
        ("g-enc-none", vec![]),
    ] {
        let join = format!("127.0.0.1:{sp}");
        let mut args = vec!["-join", join.as_str()];
        args.extend(extra.iter().map(String::as_str));
        let (mut cmd, dir) = support::raw_agent(name, &args);
        let out = cmd.output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{name} should fail to join:\n{text}"
        );
        assert!(
            text.contains("Failed to join") && text.contains("key"),
            "{name}: the joiner's log says why:\n{text}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
    let log = server.log_text();
    assert!(
        log.contains("refused push-pull") && log.contains("gossip key mismatch"),
        "server log says why the wrong key was refused:\n{log}"
    );
    assert!(
        log.contains("unencrypted message received but encryption is required"),
        "server log says why the keyless agent was refused:\n{log}"
    );
    let statuses: BTreeMap<String, i64> = server.member_statuses();
    assert_eq!(
        statuses.len(),
        2,
        "only the keyed client was admitted: {statuses:?}"
    );
}

#[test]
fn retry_join_waits_for_the_cluster_and_sigterm_leaves() {
    // The client starts first; -retry-join keeps trying until the server is there.
    let serf = support::free_port();
    let server_args = [
        "-server",
        "-bootstrap",
        "-data-dir",
        "{dir}/data",
        "-serf-lan-port",
    ];
    let target = format!("127.0.0.1:{serf}");
    let (mut cmd, dir) = support::raw_agent(
        "g-rj-c",
        &["-retry-interval", "200ms", "-retry-join", &target],
    );
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let mut client = cmd
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(800));
    assert!(
        client.try_wait().unwrap().is_none(),
        "client gave up too early"
    );
    let mut args: Vec<String> = server_args.iter().map(|s| s.to_string()).collect();
    args.push(serf.to_string());
    let arg_refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let server = Agent::start("g-rj-s", &arg_refs);
    wait_for("retry-join succeeds", GOSSIP_DEADLINE, || {
        (server.member_statuses().get("g-rj-c") == Some(&ALIVE)).then_some(())
    });

    // SIGTERM on a client leaves gracefully (Consul's leave_on_terminate default for
    // clients): the server sees `left`, not `failed`.
    let _ = Command::new("kill")
        .args(["-15", &client.id().to_string()])
        .status();
    let end = std::time::Instant::now() + Duration::from_secs(30);
    let code = loop {
        if let Some(st) = client.try_wait().unwrap() {
            break st.code();
        }
        assert!(
            std::time::Instant::now() < end,
            "client did not exit on SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(code, Some(0));
    wait_for("g-rj-c left", GOSSIP_DEADLINE, || {
        (server.member_statuses().get("g-rj-c") == Some(&LEFT)).then_some(())
    });
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn retry_max_gives_up_with_exit_1() {
    let dead = format!("127.0.0.1:{}", support::free_port());
    let (mut cmd, dir) = support::raw_agent(
        "g-rm",
        &[
            "-retry-interval",
            "100ms",
            "-retry-max",
            "3",
            "-retry-join",
            &dead,
        ],
    );
    let out = cmd.output().unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("retry_max"), "{text}");
    let _ = std::fs::remove_dir_all(&dir);
}
