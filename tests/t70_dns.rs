//! The DNS interface through Debian's `dig` (and dnsmasq forwarding `consul` to disco), as
//! applications and operators use it.

mod support;

use std::net::UdpSocket;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::json;
use support::{Agent, config_file, free_port, wait_for};

const WAIT: Duration = Duration::from_secs(30);

/// `dig` output: status, flags and the answer lines (`name ttl IN type data`).
struct Dig {
    status: String,
    flags: String,
    answers: Vec<String>,
    authority: Vec<String>,
    additional: Vec<String>,
}

fn dig(port: u16, args: &[&str]) -> Dig {
    let out = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=2", "+tries=1"])
        .args(args)
        .output()
        .expect("dig must be installed (scripts/test.sh installs dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut d = Dig {
        status: String::new(),
        flags: String::new(),
        answers: Vec::new(),
        authority: Vec::new(),
        additional: Vec::new(),
    };
    let mut section = "";
    for line in text.lines() {
        if let Some(i) = line.find("status: ") {
            d.status = line[i + 8..].split(',').next().unwrap_or("").to_string();
        }
        if let Some(i) = line.find(";; flags: ") {
            d.flags = line[i + 10..].split(';').next().unwrap_or("").to_string();
        }
        if line.starts_with(";; ANSWER SECTION") {
            section = "answer";
        } else if line.starts_with(";; AUTHORITY SECTION") {
            section = "authority";
        } else if line.starts_with(";; ADDITIONAL SECTION") {
            section = "additional";
        } else if line.trim().is_empty() || line.starts_with(';') {
            if line.trim().is_empty() {
                section = "";
            }
        } else {
            let l = line.split_whitespace().collect::<Vec<_>>().join(" ");
            match section {
                "answer" => d.answers.push(l),
                "authority" => d.authority.push(l),
                "additional" => d.additional.push(l),
                _ => {}
            }
        }
    }
    d
}

fn data(answers: &[String]) -> Vec<String> {
    let mut v: Vec<String> = answers
        .iter()
        .map(|a| a.split(' ').skip(4).collect::<Vec<_>>().join(" "))
        .collect();
    v.sort();
    v
}

fn register(a: &Agent, body: serde_json::Value) {
    let r = a.put("/v1/agent/service/register", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

fn dns_agent(name: &str, extra_cfg: &str) -> (Agent, u16) {
    let port = free_port();
    let cfg = config_file(name, extra_cfg);
    let a = Agent::start(
        name,
        &[
            "-dev",
            "-dns-port",
            &port.to_string(),
            "-config-file",
            &cfg.display().to_string(),
        ],
    );
    // The harness passes -dns-port -1 first; the later flag wins.
    (a, port)
}

#[test]
fn names_answer_from_the_catalog() {
    let (a, port) = dns_agent("dns-names", r#"{"node_meta": {"rack": "r1"}}"#);
    register(
        &a,
        json!({"ID": "web1", "Name": "web", "Port": 8080, "Tags": ["v1"]}),
    );
    register(
        &a,
        json!({"ID": "web2", "Name": "web", "Port": 8081, "Address": "10.0.0.2", "Tags": ["v2"]}),
    );
    register(
        &a,
        json!({"ID": "ext", "Name": "ext", "Port": 443, "Address": "example.org"}),
    );

    let d = dig(port, &["web.service.consul"]);
    assert_eq!(d.status, "NOERROR");
    assert!(
        d.flags.split(' ').any(|f| f == "aa"),
        "authoritative: {}",
        d.flags
    );
    assert_eq!(data(&d.answers), ["10.0.0.2", "127.0.0.1"]);
    // Tags, the RFC 2782 form, datacenter-qualified names and the alt spelling of case.
    assert_eq!(
        data(&dig(port, &["v2.web.service.consul"]).answers),
        ["10.0.0.2"]
    );
    assert_eq!(
        data(&dig(port, &["_web._v1.service.consul", "SRV"]).answers),
        ["1 1 8080 dns-names.node.dc1.consul."]
    );
    let srv = dig(port, &["_web._tcp.service.dc1.consul", "SRV"]);
    assert_eq!(
        data(&srv.answers),
        [
            "1 1 8080 dns-names.node.dc1.consul.",
            "1 1 8081 0a000002.addr.dc1.consul."
        ]
    );
    let of_type = |lines: &[String], t: &str| -> Vec<String> {
        lines
            .iter()
            .filter(|l| l.split(' ').nth(3) == Some(t))
            .cloned()
            .collect()
    };
    assert_eq!(
        data(&of_type(&srv.additional, "A")),
        ["10.0.0.2", "127.0.0.1"],
        "SRV targets' addresses are in the additional section"
    );
    // So is each target's node meta, as TXT (enable_additional_node_meta_txt).
    let txt = of_type(&srv.additional, "TXT");
    for target in ["dns-names.node.dc1.consul.", "0a000002.addr.dc1.consul."] {
        assert!(
            txt.iter()
                .any(|l| l.starts_with(target) && l.ends_with("\"rack=r1\"")),
            "{txt:?}"
        );
    }
    assert_eq!(data(&dig(port, &["WEB.Service.Consul"]).answers).len(), 2);
    // A host-name address is a CNAME.
    assert_eq!(
        data(&dig(port, &["ext.service.consul"]).answers),
        ["example.org."]
    );

    // Nodes: A, and TXT from node meta.
    assert_eq!(
        data(&dig(port, &["dns-names.node.consul"]).answers),
        ["127.0.0.1"]
    );
    let txt = dig(port, &["dns-names.node.dc1.consul", "TXT"]);
    assert!(
        data(&txt.answers).contains(&"\"rack=r1\"".to_string()),
        "{:?}",
        txt.answers
    );
    assert_eq!(
        data(&dig(port, &["0a000002.addr.dc1.consul"]).answers),
        ["10.0.0.2"]
    );
    assert_eq!(
        data(&dig(port, &["-x", "127.0.0.1"]).answers),
        ["dns-names.node.dc1.consul."]
    );

    // Unknown names: NXDOMAIN with the SOA; a known name without that type: NODATA.
    let nx = dig(port, &["nope.service.consul"]);
    assert_eq!(nx.status, "NXDOMAIN");
    assert!(
        nx.authority
            .iter()
            .any(|r| r.contains("SOA") && r.contains("ns.consul.")),
        "{:?}",
        nx.authority
    );
    assert_eq!(
        dig(port, &["web.service.otherdc.consul"]).status,
        "NXDOMAIN"
    );
    let nodata = dig(port, &["web.service.consul", "TXT"]);
    assert_eq!(nodata.status, "NOERROR");
    assert!(nodata.answers.is_empty() && !nodata.authority.is_empty());
    // Outside the domain with no recursors: refused.
    assert_eq!(dig(port, &["example.com"]).status, "REFUSED");
    // TCP.
    assert_eq!(
        data(&dig(port, &["+tcp", "web.service.consul"]).answers).len(),
        2
    );
}

#[test]
fn critical_instances_stop_resolving_and_come_back() {
    let (a, port) = dns_agent("dns-health", "{}");
    register(
        &a,
        json!({"ID": "db1", "Name": "db", "Address": "10.0.0.1", "Check": {"TTL": "1h", "Status": "passing"}}),
    );
    register(
        &a,
        json!({"ID": "db2", "Name": "db", "Address": "10.0.0.2", "Check": {"TTL": "1h", "Status": "passing"}}),
    );
    assert_eq!(
        data(&dig(port, &["db.service.consul"]).answers),
        ["10.0.0.1", "10.0.0.2"]
    );
    a.put("/v1/agent/check/fail/service:db1", b"");
    assert_eq!(
        data(&dig(port, &["db.service.consul"]).answers),
        ["10.0.0.2"]
    );
    assert_eq!(dig(port, &["db.service.consul", "SRV"]).answers.len(), 1);
    // Warning still resolves (only critical is left out by default).
    a.put("/v1/agent/check/warn/service:db2", b"");
    assert_eq!(
        data(&dig(port, &["db.service.consul"]).answers),
        ["10.0.0.2"]
    );
    a.put("/v1/agent/check/fail/service:db2", b"");
    assert_eq!(dig(port, &["db.service.consul"]).status, "NXDOMAIN");
    a.put("/v1/agent/check/pass/service:db1", b"");
    a.put("/v1/agent/check/pass/service:db2", b"");
    assert_eq!(
        data(&dig(port, &["db.service.consul"]).answers),
        ["10.0.0.1", "10.0.0.2"]
    );
    // Maintenance mode takes an instance out too.
    a.put("/v1/agent/service/maintenance/db1?enable=true", b"");
    assert_eq!(
        data(&dig(port, &["db.service.consul"]).answers),
        ["10.0.0.2"]
    );
}

#[test]
fn udp_answers_are_limited_and_truncation_is_opt_in() {
    let (a, port) = dns_agent("dns-limit", "{}");
    for i in 1..=50 {
        register(
            &a,
            json!({"ID": format!("api{i}"), "Name": "api", "Port": 9000 + i, "Address": format!("10.2.0.{i}")}),
        );
    }
    let udp = dig(port, &["+notcp", "+noedns", "api.service.consul"]);
    assert_eq!(udp.answers.len(), 3, "udp_answer_limit defaults to 3");
    assert!(
        !udp.flags.contains("tc"),
        "no TC bit without enable_truncate: {}",
        udp.flags
    );
    // Answers are shuffled per query: the three vary.
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..20 {
        seen.extend(data(&dig(port, &["+noedns", "api.service.consul"]).answers));
    }
    assert!(seen.len() > 3, "shuffled answers, saw {seen:?}");
    assert_eq!(dig(port, &["+tcp", "api.service.consul"]).answers.len(), 50);

    let (b, port2) = dns_agent(
        "dns-trunc",
        r#"{"dns_config": {"enable_truncate": true, "udp_answer_limit": 5, "service_ttl": {"*": "10s"}}}"#,
    );
    for i in 1..=50 {
        register(
            &b,
            json!({"ID": format!("api{i}"), "Name": "api", "Port": 9000 + i, "Address": format!("10.2.0.{i}")}),
        );
    }
    let udp = dig(
        port2,
        &["+notcp", "+noedns", "+ignore", "api.service.consul"],
    );
    assert_eq!(udp.answers.len(), 5);
    assert!(
        udp.flags.split(' ').any(|f| f == "tc"),
        "TC set: {}",
        udp.flags
    );
    assert!(
        udp.answers[0].contains(" 10 IN A "),
        "service_ttl: {:?}",
        udp.answers
    );
    // dig retries over TCP on TC and gets them all.
    assert_eq!(
        dig(port2, &["+noedns", "api.service.consul"]).answers.len(),
        50
    );
}

#[test]
fn garbage_packets_change_nothing() {
    let (a, port) = dns_agent("dns-garbage", "{}");
    register(&a, json!({"Name": "web", "Address": "10.0.0.9"}));
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    for i in 0..2000 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let len = (seed % 600) as usize + (i % 3);
        let pkt: Vec<u8> = (0..len)
            .map(|j| (seed >> (j % 56)) as u8 ^ j as u8)
            .collect();
        let _ = sock.send_to(&pkt, ("127.0.0.1", port));
    }
    assert_eq!(
        data(&dig(port, &["web.service.consul"]).answers),
        ["10.0.0.9"]
    );
    assert_eq!(a.get("/v1/status/leader").status, 200);
    // A query whose header parses but whose question is cut short gets FORMERR with its ID.
    let cut: [u8; 15] = [
        0x42, 0x42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 3, b'w', b'e',
    ];
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 512];
    let formerr = (0..20).find_map(|_| {
        sock.send_to(&cut, ("127.0.0.1", port)).unwrap();
        // Earlier garbage may have drawn answers too; find the one to this ID.
        loop {
            match sock.recv(&mut buf) {
                Ok(n) if n >= 12 && buf[..2] == [0x42, 0x42] => return Some(buf[3] & 0x0f),
                Ok(_) => continue,
                Err(_) => return None,
            }
        }
    });
    assert_eq!(
        formerr,
        Some(1),
        "FORMERR (rcode 1) for a cut-short question"
    );
    // Packets that were not queries are counted (the socket buffer may have dropped some).
    let metrics = a.get("/v1/agent/metrics").json();
    let malformed = metrics["Counters"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["Name"] == "consul.dns.malformed")
        .map(|c| c["Count"].as_u64().unwrap())
        .unwrap_or(0);
    assert!(malformed > 0, "malformed packets counted: {malformed}");
}

#[test]
fn a_failed_node_drops_out_and_clients_answer_through_their_server() {
    let server = Agent::server("dns-srv");
    let port = free_port();
    let mut client = Agent::client(
        "dns-cli",
        server.serf_port(),
        &["-dns-port", &port.to_string()],
    );
    register(
        &client,
        json!({"ID": "job1", "Name": "job", "Address": "10.3.0.1"}),
    );
    // The client answers through the server.
    wait_for("client resolves its service", WAIT, || {
        (data(&dig(port, &["job.service.consul"]).answers) == ["10.3.0.1"]).then_some(())
    });
    let sport = free_port();
    let mut server2 = Agent::client(
        "dns-watch",
        server.serf_port(),
        &["-dns-port", &sport.to_string()],
    );
    wait_for("second agent resolves it", WAIT, || {
        (data(&dig(sport, &["job.service.consul"]).answers) == ["10.3.0.1"]).then_some(())
    });
    // kill -9: gossip marks the node failed, serfHealth turns critical, it stops resolving.
    client.kill9();
    wait_for("failed node drops out", WAIT, || {
        (dig(sport, &["job.service.consul"]).status == "NXDOMAIN").then_some(())
    });
    server2.kill9();
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Two servers (`-bootstrap-expect 2`), each with DNS and `dns_cfg`, a service registered
/// and resolving on both; returns (servers, their DNS ports, the leader's index).
fn two_servers_resolving(prefix: &str, dns_cfg: &str) -> (Vec<Agent>, Vec<u16>, usize) {
    let cfg = config_file(prefix, dns_cfg);
    let cfg = cfg.display().to_string();
    let ports = [free_port(), free_port()];
    let args = |i: usize| -> Vec<String> {
        [
            "-server",
            "-bootstrap-expect",
            "2",
            "-data-dir",
            "{dir}/data",
            "-config-file",
            &cfg,
            "-dns-port",
            &ports[i].to_string(),
        ]
        .map(String::from)
        .to_vec()
    };
    let first = Agent::launch(&format!("{prefix}1"), &strs(&args(0)));
    let mut rest = args(1);
    rest.extend([
        "-retry-join".to_string(),
        format!("127.0.0.1:{}", first.serf_port()),
        "-retry-interval".to_string(),
        "200ms".to_string(),
    ]);
    let second = Agent::launch(&format!("{prefix}2"), &strs(&rest));
    let mut servers = vec![first, second];
    for s in servers.iter_mut() {
        s.wait_ready();
    }
    let r = servers[0].put(
        "/v1/catalog/register",
        json!({"Node": "ext", "Address": "10.7.0.1", "Service": {"Service": "db"}})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    for p in ports {
        wait_for("both servers resolve db", WAIT, || {
            (data(&dig(p, &["db.service.consul"]).answers) == ["10.7.0.1"]).then_some(())
        });
    }
    let leader_addr = servers[0].get("/v1/status/leader").text();
    let leader = servers
        .iter()
        .position(|s| leader_addr.contains(s.flag("-server-port").unwrap()))
        .expect("a leader among the two");
    (servers, ports.to_vec(), leader)
}

#[test]
fn a_follower_without_a_leader_answers_stale_only_within_max_stale() {
    let (mut servers, ports, leader) =
        two_servers_resolving("dns-stale", r#"{"dns_config": {"max_stale": "8s"}}"#);
    let follower = 1 - leader;
    servers[leader].kill9();
    let f = &servers[follower];
    wait_for("the follower sees no leader", WAIT, || {
        (f.get("/v1/status/leader").text().trim() == "\"\"").then_some(())
    });
    // Its Raft view no longer stars the dead leader either.
    let peers = f.get("/v1/operator/raft/configuration?stale").json();
    let servers_json = peers["Servers"].as_array().expect("Servers");
    assert!(servers_json.iter().all(|s| s["Leader"] == false), "{peers}");
    // Within max_stale of its last contact, the follower answers from its own state.
    let answer = dig(ports[follower], &["db.service.consul"]);
    let contact_ms: u64 = f
        .get("/v1/catalog/nodes?stale")
        .header("X-Consul-LastContact")
        .and_then(|v| v.parse().ok())
        .expect("X-Consul-LastContact");
    if contact_ms < 8000 {
        assert_eq!(
            data(&answer.answers),
            ["10.7.0.1"],
            "status {}",
            answer.status
        );
    }
    // Past it, the read must go to a leader, and there is none.
    wait_for("SERVFAIL once max_stale has passed", WAIT, || {
        (dig(ports[follower], &["db.service.consul"]).status == "SERVFAIL").then_some(())
    });
}

#[test]
fn with_allow_stale_off_a_follower_answers_through_the_leader() {
    let (mut servers, ports, leader) =
        two_servers_resolving("dns-strict", r#"{"dns_config": {"allow_stale": false}}"#);
    let follower = 1 - leader;
    // NS at the apex names both servers, with their addresses as glue.
    let ns = dig(ports[follower], &["consul.", "NS"]);
    let mut targets: Vec<String> = data(&ns.answers);
    targets.sort();
    assert_eq!(
        targets,
        [
            "dns-strict1.node.dc1.consul.",
            "dns-strict2.node.dc1.consul."
        ],
        "{:?}",
        ns.answers
    );
    assert_eq!(data(&ns.additional), ["127.0.0.1", "127.0.0.1"]);
    // The follower answered above through the leader; without one it cannot answer.
    servers[leader].kill9();
    wait_for("SERVFAIL without a leader", WAIT, || {
        (dig(ports[follower], &["db.service.consul"]).status == "SERVFAIL").then_some(())
    });
}

/// Debian's dnsmasq on 127.0.0.1:`port` with `extra` options, stopped when dropped.
struct Dnsmasq(Child);

impl Dnsmasq {
    fn start(port: u16, extra: &[&str]) -> Dnsmasq {
        let bin = ["/usr/sbin/dnsmasq", "dnsmasq"]
            .into_iter()
            .find(|b| Command::new(b).arg("--version").output().is_ok())
            .expect("dnsmasq must be installed (scripts/test.sh installs it)");
        let child = Command::new(bin)
            .args([
                "--keep-in-foreground",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--bind-interfaces",
                "--listen-address=127.0.0.1",
                &format!("--port={port}"),
                "--log-facility=-",
            ])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start dnsmasq");
        Dnsmasq(child)
    }
}

impl Drop for Dnsmasq {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn dnsmasq_forwards_the_consul_domain() {
    let (a, port) = dns_agent("dns-dnsmasq", "{}");
    register(&a, json!({"Name": "mysql", "Address": "10.4.0.1"}));
    let listen = free_port();
    let _guard = Dnsmasq::start(listen, &[&format!("--server=/consul/127.0.0.1#{port}")]);
    wait_for("dnsmasq forwards to disco", WAIT, || {
        (data(&dig(listen, &["mysql.service.consul"]).answers) == ["10.4.0.1"]).then_some(())
    });
}

#[test]
fn other_names_go_to_the_recursors() {
    // dnsmasq as the upstream resolver, serving one name from a hosts file.
    let dir =
        std::env::temp_dir().join(format!("disco-test-upstream-hosts-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let hosts = dir.join("hosts");
    std::fs::write(&hosts, "192.0.2.10 intranet.example\n").unwrap();
    let upstream = free_port();
    let _guard = Dnsmasq::start(upstream, &[&format!("--addn-hosts={}", hosts.display())]);
    let (a, port) = dns_agent(
        "dns-recursor",
        &format!(r#"{{"recursors": ["127.0.0.1:{upstream}"]}}"#),
    );
    register(&a, json!({"Name": "web", "Address": "10.0.0.9"}));
    let d = wait_for("answer through the recursor", WAIT, || {
        let d = dig(port, &["intranet.example"]);
        (d.status == "NOERROR" && !d.answers.is_empty()).then_some(d)
    });
    assert_eq!(data(&d.answers), ["192.0.2.10"]);
    assert!(
        d.flags.split(' ').any(|f| f == "ra"),
        "recursion available: {}",
        d.flags
    );
    assert!(
        !d.flags.split(' ').any(|f| f == "aa"),
        "not authoritative: {}",
        d.flags
    );
    // PTR of an address the catalog does not know goes upstream too.
    assert_eq!(
        data(&dig(port, &["-x", "192.0.2.10"]).answers),
        ["intranet.example."]
    );
    // The domain itself is still answered here.
    assert_eq!(
        data(&dig(port, &["web.service.consul"]).answers),
        ["10.0.0.9"]
    );
}

/// Found by the `dns_request` fuzz target: a question name ending in a compression pointer
/// into the header was echoed verbatim, so the pointer landed on the response's own flags
/// and no resolver could read the answer. It is FORMERR now, without a question section.
#[test]
fn dns_question_pointing_into_the_header_gets_a_readable_formerr() {
    let (a, port) = dns_agent("dns-header-pointer", "{}");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    // ID 0x1234, RD, one question: "1" "0" then a pointer to offset 2 (the flags).
    let q: [u8; 22] = [
        0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 1, b'1', 1, b'0', 0xC0, 2, 0, 1, 0, 1,
    ];
    sock.send_to(&q, ("127.0.0.1", port)).unwrap();
    let mut buf = [0u8; 512];
    let n = sock.recv(&mut buf).expect("an answer");
    let m = hickory_proto::op::Message::from_vec(&buf[..n]).expect("a readable answer");
    assert_eq!(m.metadata.id, 0x1234);
    assert_eq!(
        m.metadata.response_code,
        hickory_proto::op::ResponseCode::FormErr
    );
    assert!(m.queries.is_empty());
    assert_eq!(a.get("/v1/status/leader").status, 200);
}
