//! Two datacenters on loopback: the WAN pool, `?dc=` forwarding of reads, writes and
//! blocking queries, `catalog/datacenters`, a client agent's cross-datacenter call, the
//! other datacenter's server going away, and `force-leave -wan`.

mod support;

use std::time::Duration;

use support::{Agent, cli, free_port, http, wait_for};

/// A dev server of datacenter `dc` with its WAN pool on a port of its own.
fn dc_server(name: &str, dc: &str, extra: &[&str]) -> (Agent, u16) {
    let wan = free_port();
    let wan_s = wan.to_string();
    let mut args = vec!["-dev", "-datacenter", dc, "-serf-wan-port", wan_s.as_str()];
    args.extend_from_slice(extra);
    let mut a = Agent::launch(name, &args);
    a.wait_ready();
    (a, wan)
}

/// WAN members as `name → status` seen by `a`.
fn wan_members(a: &Agent) -> std::collections::BTreeMap<String, i64> {
    a.get("/v1/agent/members?wan=1")
        .json()
        .as_array()
        .map(|l| {
            l.iter()
                .map(|m| {
                    (
                        m["Name"].as_str().unwrap_or_default().to_string(),
                        m["Status"].as_i64().unwrap_or(0),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `dig` against an agent's DNS port: the status and the answer records' data fields.
fn dig(port: u16, name: &str, qtype: &str) -> (String, Vec<String>) {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=3", "+tries=1"])
        .args([name, qtype])
        .output()
        .expect("dig must be installed (scripts/test.sh installs dnsutils)");
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let status = text
        .split("status: ")
        .nth(1)
        .and_then(|r| r.split(',').next())
        .unwrap_or("no answer")
        .to_string();
    let mut answers = Vec::new();
    let mut in_answer = false;
    for line in text.lines() {
        if line.starts_with(";; ANSWER SECTION") {
            in_answer = true;
        } else if line.trim().is_empty() {
            in_answer = false;
        } else if in_answer {
            let f: Vec<&str> = line.split_whitespace().collect();
            answers.push(f[4..].join(" "));
        }
    }
    answers.sort();
    (status, answers)
}

fn datacenters(a: &Agent) -> Vec<String> {
    serde_json::from_value(a.get("/v1/catalog/datacenters").json()).unwrap_or_default()
}

#[test]
fn two_datacenters_federate_over_the_wan_pool_and_forward_dc_calls() {
    let dns = free_port();
    let dns_s = dns.to_string();
    let (a, _) = dc_server("wan-a", "dc1", &["-dns-port", &dns_s]);
    let (mut b, b_wan) = dc_server("wan-b", "dc2", &[]);

    // Before the join each knows only itself: another datacenter has no path.
    assert_eq!(datacenters(&a), vec!["dc1"]);
    let r = a.get("/v1/kv/x?dc=dc2");
    assert_eq!(r.status, 500);
    assert_eq!(r.text().trim(), "No path to datacenter");

    // `disco join -wan` through the first datacenter's agent.
    let join = format!("127.0.0.1:{b_wan}");
    let (code, out, err) = cli(a.http, &["join", "-wan", &join]);
    assert_eq!(code, 0, "join -wan: {out}{err}");
    assert!(
        out.contains("Successfully joined cluster by contacting 1 nodes."),
        "{out}"
    );
    for x in [&a, &b] {
        wait_for(
            "both servers alive in the WAN pool",
            Duration::from_secs(30),
            || {
                let m = wan_members(x);
                (m.get("wan-a.dc1") == Some(&1) && m.get("wan-b.dc2") == Some(&1)).then_some(())
            },
        );
    }
    let (code, out, _) = cli(a.http, &["members", "-wan"]);
    assert_eq!(code, 0);
    let line = out
        .lines()
        .find(|l| l.starts_with("wan-b.dc2"))
        .unwrap_or_else(|| panic!("members -wan lists wan-b.dc2:\n{out}"));
    assert!(
        line.contains("alive") && line.contains("server") && line.contains("dc2"),
        "{line}"
    );
    // The LAN list is unchanged: one member.
    let (_, out, _) = cli(a.http, &["members"]);
    assert!(!out.contains("wan-b"), "{out}");

    // Each lists both datacenters, its own first.
    wait_for("both datacenters listed", Duration::from_secs(20), || {
        (datacenters(&a) == ["dc1", "dc2"] && datacenters(&b) == ["dc2", "dc1"]).then_some(())
    });
    let self_a = a.get("/v1/agent/self").json();
    assert_eq!(self_a["Stats"]["consul"]["known_datacenters"], "2");
    assert_eq!(self_a["Stats"]["serf_wan"]["members"], "2");

    // KV: a write through dc1's agent lands in dc2 only.
    let r = a.put("/v1/kv/app/colour?dc=dc2", b"blue");
    assert_eq!((r.status, r.text().trim()), (200, "true"));
    assert_eq!(
        a.get("/v1/kv/app/colour").status,
        404,
        "dc1 has no such key"
    );
    let r = b.get("/v1/kv/app/colour?raw");
    assert_eq!((r.status, r.text()), (200, "blue".to_string()));
    let r = a.get("/v1/kv/app/colour?dc=dc2&raw");
    assert_eq!((r.status, r.text()), (200, "blue".to_string()));
    let index: u64 = a
        .get("/v1/kv/app/colour?dc=dc2")
        .header("X-Consul-Index")
        .and_then(|v| v.parse().ok())
        .expect("a forwarded read carries the remote index");
    // `?consistent` and `?stale` cross too.
    assert_eq!(
        a.get("/v1/kv/app/colour?dc=dc2&consistent&raw").text(),
        "blue"
    );
    assert_eq!(a.get("/v1/kv/app/colour?dc=dc2&stale&raw").text(), "blue");

    // A blocking query crosses with the request: it parks in dc2 and wakes on dc2's write.
    let port = a.http;
    let waiter = std::thread::spawn(move || {
        http(
            port,
            "GET",
            &format!("/v1/kv/app/colour?dc=dc2&index={index}&wait=20s&raw"),
            b"",
        )
        .map(|r| (r.status, r.text()))
    });
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        !waiter.is_finished(),
        "the blocking read returned before any change"
    );
    assert_eq!(b.put("/v1/kv/app/colour", b"green").text().trim(), "true");
    let (status, text) = waiter.join().unwrap().expect("blocking read");
    assert_eq!((status, text.as_str()), (200, "green"));

    // Catalog: `?dc=` on a registration, and a body's `Datacenter` routes it too.
    let reg = br#"{"Node":"ext-1","Address":"10.9.0.1","Service":{"Service":"db","Port":5432}}"#;
    assert_eq!(a.put("/v1/catalog/register?dc=dc2", reg).status, 200);
    let reg = br#"{"Datacenter":"dc2","Node":"ext-2","Address":"10.9.0.2","Service":{"Service":"db","Port":5432}}"#;
    assert_eq!(a.put("/v1/catalog/register", reg).status, 200);
    let nodes = a.get("/v1/catalog/service/db?dc=dc2").json();
    let mut names: Vec<&str> = nodes
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Node"].as_str().unwrap())
        .collect();
    names.sort();
    assert_eq!(names, ["ext-1", "ext-2"]);
    assert!(nodes[0]["Datacenter"] == "dc2", "{nodes}");
    assert_eq!(
        a.get("/v1/catalog/service/db").json(),
        serde_json::json!([])
    );
    assert_eq!(
        b.get("/v1/health/service/db")
            .json()
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // DNS names of the other datacenter are answered by its servers.
    let (status, answers) = dig(dns, "db.service.dc2.consul", "A");
    assert_eq!(status, "NOERROR");
    assert_eq!(answers, ["10.9.0.1", "10.9.0.2"]);
    let (_, answers) = dig(dns, "db.service.dc2.consul", "SRV");
    assert!(
        answers.contains(&"1 1 5432 ext-1.node.dc2.consul.".to_string()),
        "{answers:?}"
    );
    assert_eq!(dig(dns, "ext-2.node.dc2.consul", "A").1, ["10.9.0.2"]);
    assert_eq!(
        dig(dns, "db.service.consul", "A").0,
        "NXDOMAIN",
        "dc1 has no db"
    );
    assert_eq!(dig(dns, "db.service.nowhere.consul", "A").0, "NXDOMAIN");
    // The CLI's -datacenter flag sends ?dc=.
    let (code, out, _) = cli(a.http, &["kv", "get", "-datacenter", "dc2", "app/colour"]);
    assert_eq!((code, out.trim()), (0, "green"));

    // Agent-local routes ignore ?dc= (as Consul's do).
    let r = a.get("/v1/agent/self?dc=dc2");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Config"]["Datacenter"], "dc1");
    let r = a.get("/v1/kv/app/colour?dc=nowhere");
    assert_eq!((r.status, r.text().trim()), (500, "No path to datacenter"));

    // A client agent of dc1 reaches dc2 through its servers.
    let cdns = free_port().to_string();
    let mut c = Agent::client(
        "wan-c",
        a.serf_port(),
        &["-datacenter", "dc1", "-dns-port", &cdns],
    );
    c.wait_ready();
    assert_eq!(
        dig(cdns.parse().unwrap(), "db.service.dc2.consul", "A").1,
        ["10.9.0.1", "10.9.0.2"]
    );
    let r = c.get("/v1/kv/app/colour?dc=dc2&raw");
    assert_eq!((r.status, r.text()), (200, "green".to_string()));
    assert_eq!(
        c.get("/v1/agent/members?wan=1").json(),
        serde_json::json!([])
    );
    // A user event for dc2, fired through dc1's client agent, is delivered in dc2 only.
    let r = c.put("/v1/event/fire/deploy?dc=dc2", b"v2");
    assert_eq!(r.status, 200, "{}", r.text());
    wait_for("the event in dc2", Duration::from_secs(20), || {
        let l = b.get("/v1/event/list?name=deploy").json();
        (l.as_array().map(Vec::len) == Some(1)).then_some(())
    });
    assert_eq!(
        a.get("/v1/event/list?name=deploy").json(),
        serde_json::json!([])
    );

    // dc2's only server dies: dc2's calls fail with Consul's error once the WAN pool sees
    // it, and dc1 is unaffected throughout.
    b.kill9();
    wait_for("dc2 unreachable", Duration::from_secs(60), || {
        let r = a.get("/v1/kv/app/colour?dc=dc2");
        assert_eq!(
            r.status,
            500,
            "a call to a dead datacenter fails: {}",
            r.text()
        );
        (r.text().trim() == "Remote DC has no server currently reachable").then_some(())
    });
    assert_eq!(dig(dns, "db.service.dc2.consul", "A").0, "SERVFAIL");
    assert_eq!(a.put("/v1/kv/local", b"1").text().trim(), "true");
    assert_eq!(c.get("/v1/kv/local?raw").text(), "1");
    // It is still a known datacenter (its server failed, it did not leave)...
    assert_eq!(datacenters(&a), vec!["dc1", "dc2"]);
    // ...until it is force-left from the WAN pool.
    let (code, out, err) = cli(a.http, &["force-leave", "-wan", "wan-b.dc2"]);
    assert_eq!(code, 0, "{out}{err}");
    wait_for("wan-b.dc2 left", Duration::from_secs(20), || {
        (wan_members(&a).get("wan-b.dc2") == Some(&3)).then_some(())
    });
    assert_eq!(datacenters(&a), vec!["dc1"]);
    let r = a.get("/v1/kv/app/colour?dc=dc2");
    assert_eq!((r.status, r.text().trim()), (500, "No path to datacenter"));
    assert_eq!(dig(dns, "db.service.dc2.consul", "A").0, "NXDOMAIN");
}

#[test]
fn retry_join_wan_from_the_config_file_and_a_failed_join_named() {
    let (a, a_wan) = dc_server("wanr-a", "east", &[]);
    let cfg = support::config_file(
        "wanr",
        &format!(
            r#"{{"retry_join_wan": ["127.0.0.1:{a_wan}"], "retry_interval_wan": "200ms",
                "gossip_wan": {{"probe_interval": "300ms", "probe_timeout": "100ms"}}}}"#
        ),
    );
    let (b, _) = dc_server("wanr-b", "west", &["-config-file", cfg.to_str().unwrap()]);
    wait_for("west joined east", Duration::from_secs(30), || {
        (datacenters(&a) == ["east", "west"] && datacenters(&b) == ["west", "east"]).then_some(())
    });
    // A WAN join of an address where nothing listens fails with the reason.
    let dead = format!("127.0.0.1:{}", free_port());
    let (code, out, err) = cli(b.http, &["join", "-wan", &dead]);
    assert_eq!(code, 1, "{out}");
    assert!(err.contains("Error joining address"), "{err}");
    // A bad WAN gossip setting names its key.
    let bad = support::config_file(
        "wanr-bad",
        r#"{"gossip_wan": {"probe_interval": "100ms", "probe_timeout": "200ms"}}"#,
    );
    let (code, _, err) = cli(0, &["agent", "-dev", "-config-file", bad.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("gossip_wan.probe_timeout"), "{err}");
}

/// Register `web` on `node` (address `addr`) with one check in `status`.
fn web_on(a: &Agent, node: &str, addr: &str, status: &str) {
    let body = format!(
        r#"{{"Node":"{node}","Address":"{addr}","Service":{{"ID":"web","Service":"web","Port":80,"Tags":["v1"]}},
            "Checks":[{{"CheckID":"web-alive","Name":"web alive","Status":"{status}","ServiceID":"web"}}]}}"#
    );
    let r = a.put("/v1/catalog/register", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

fn dig_ttl(port: u16, name: &str) -> Option<u32> {
    let out = std::process::Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string(), "+time=3", "+tries=1"])
        .args(["+noall", "+answer", name, "A"])
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    text.lines().next()?.split_whitespace().nth(1)?.parse().ok()
}

#[test]
fn a_prepared_query_fails_over_to_the_other_datacenter_and_back() {
    let dns = free_port();
    let dns_s = dns.to_string();
    let (a, a_wan) = dc_server("pq-a", "dc1", &["-dns-port", &dns_s]);
    let join = format!("127.0.0.1:{a_wan}");
    let (b, _) = dc_server("pq-b", "dc2", &["-join-wan", &join]);
    wait_for("dc1 sees dc2", Duration::from_secs(30), || {
        (datacenters(&a) == ["dc1", "dc2"]).then_some(())
    });
    web_on(&a, "n1", "10.1.0.1", "passing");
    web_on(&b, "m1", "10.2.0.1", "passing");

    // Create, list, read.
    let def = br#"{"Name":"web-ha","Service":{"Service":"web","OnlyPassing":true,
        "Tags":["v1","!canary"],"Failover":{"NearestN":1}},"DNS":{"TTL":"7s"}}"#;
    let r = a.call("POST", "/v1/query", def, "");
    assert_eq!(r.status, 200, "{}", r.text());
    let id = r.json()["ID"].as_str().expect("an ID").to_string();
    let list = a.get("/v1/query").json();
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["Name"], "web-ha");
    assert_eq!(list[0]["Service"]["Failover"]["NearestN"], 1);
    assert_eq!(list[0]["DNS"]["TTL"], "7s");
    let one = a.get(&format!("/v1/query/{id}")).json();
    assert_eq!(one[0]["ID"], id.as_str());
    assert_eq!(
        one[0]["Service"]["Tags"],
        serde_json::json!(["v1", "!canary"])
    );

    // Bad definitions are refused with Consul's reasons and store nothing.
    let r = a.call("POST", "/v1/query", br#"{"Name":"x","Service":{}}"#, "");
    assert_eq!(
        (r.status, r.text().trim()),
        (500, "Must provide a Service name to query")
    );
    let r = a.call(
        "POST",
        "/v1/query",
        br#"{"Name":"web-ha","Service":{"Service":"db"}}"#,
        "",
    );
    assert_eq!(r.status, 500);
    assert!(
        r.text().contains("aliases an existing query name"),
        "{}",
        r.text()
    );
    let r = a.call("POST", "/v1/query", b"{not json", "");
    assert_eq!(r.status, 400, "{}", r.text());
    let r = a.call(
        "POST",
        "/v1/query",
        br#"{"Service":{"Service":"web","Bogus":1}}"#,
        "",
    );
    assert_eq!(r.status, 400, "{}", r.text());
    let r = a.call(
        "POST",
        "/v1/query",
        br#"{"Service":{"Service":"web"},"DNS":{"TTL":"soon"}}"#,
        "",
    );
    assert_eq!((r.status, r.text().trim()), (500, "Bad DNS TTL 'soon'"));
    assert_eq!(a.get("/v1/query").json().as_array().map(Vec::len), Some(1));

    // Local instances first: by name and by ID.
    let run = |q: &str| a.get(&format!("/v1/query/{q}/execute")).json();
    let r = run("web-ha");
    assert_eq!(r["Datacenter"], "dc1", "{r}");
    assert_eq!(r["Failovers"], 0);
    assert_eq!(r["Nodes"][0]["Node"]["Node"], "n1");
    assert_eq!(r["DNS"]["TTL"], "7s");
    assert_eq!(run(&id)["Nodes"][0]["Node"]["Node"], "n1");
    assert_eq!(dig(dns, "web-ha.query.consul", "A").1, ["10.1.0.1"]);
    assert_eq!(
        dig_ttl(dns, "web-ha.query.consul"),
        Some(7),
        "the query's DNS TTL"
    );

    // dc1's only instance goes critical: the query falls over to dc2.
    web_on(&a, "n1", "10.1.0.1", "critical");
    let r = run("web-ha");
    assert_eq!(r["Datacenter"], "dc2", "{r}");
    assert_eq!(r["Failovers"], 1);
    assert_eq!(r["Nodes"][0]["Node"]["Node"], "m1");
    assert_eq!(dig(dns, "web-ha.query.consul", "A").1, ["10.2.0.1"]);
    let (_, srv) = dig(dns, "_web-ha._tcp.query.consul", "SRV");
    assert_eq!(srv, ["1 1 80 m1.node.dc2.consul."]);
    // A warning is not passing for OnlyPassing; a `!canary` tag excludes an instance.
    web_on(&a, "n1", "10.1.0.1", "warning");
    assert_eq!(run("web-ha")["Datacenter"], "dc2");
    // ...and it comes back when dc1 is healthy again.
    web_on(&a, "n1", "10.1.0.1", "passing");
    let r = run("web-ha");
    assert_eq!(
        (r["Datacenter"].as_str(), r["Failovers"].as_u64()),
        (Some("dc1"), Some(0))
    );

    // An update to an explicit list of datacenters, and a check the query ignores.
    let upd = br#"{"Name":"web-ha","Service":{"Service":"web","IgnoreCheckIDs":["web-alive"],
        "Failover":{"Datacenters":["nowhere","dc2"]}}}"#;
    let r = a.call("PUT", &format!("/v1/query/{id}"), upd, "");
    assert_eq!(r.status, 200, "{}", r.text());
    web_on(&a, "n1", "10.1.0.1", "critical");
    assert_eq!(
        run("web-ha")["Datacenter"],
        "dc1",
        "the ignored check does not count"
    );
    let upd = br#"{"Name":"web-ha","Service":{"Service":"web",
        "Failover":{"Datacenters":["nowhere","dc2"]}}}"#;
    assert_eq!(
        a.call("PUT", &format!("/v1/query/{id}"), upd, "").status,
        200
    );
    let r = run("web-ha");
    assert_eq!(r["Datacenter"], "dc2", "{r}");
    assert_eq!(
        r["Failovers"], 1,
        "an unknown datacenter is skipped, not tried"
    );
    let explained = a.get("/v1/query/web-ha/explain").json();
    assert_eq!(
        explained["Query"]["Service"]["Failover"]["Datacenters"][1],
        "dc2"
    );

    // Delete: gone from the API and from DNS.
    assert_eq!(a.delete(&format!("/v1/query/{id}")).status, 200);
    let r = a.get("/v1/query/web-ha/execute");
    assert_eq!((r.status, r.text().trim()), (404, "Query not found"));
    assert_eq!(dig(dns, "web-ha.query.consul", "A").0, "NXDOMAIN");
    let r = a.call("PUT", &format!("/v1/query/{id}"), upd, "");
    assert_eq!(r.status, 500, "updating a deleted query: {}", r.text());

    // A query tied to a session ends with it.
    let sid = a.put("/v1/session/create", b"{}").json()["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let body = format!(r#"{{"Name":"temp","Session":"{sid}","Service":{{"Service":"web"}}}}"#);
    assert_eq!(a.call("POST", "/v1/query", body.as_bytes(), "").status, 200);
    assert_eq!(a.get("/v1/query").json().as_array().map(Vec::len), Some(1));
    assert_eq!(
        a.put(&format!("/v1/session/destroy/{sid}"), b"").status,
        200
    );
    assert_eq!(a.get("/v1/query").json(), serde_json::json!([]));
    let body = br#"{"Name":"orphan","Session":"00000000-0000-0000-0000-000000000000","Service":{"Service":"web"}}"#;
    let r = a.call("POST", "/v1/query", body, "");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("invalid session"), "{}", r.text());
}

#[test]
fn a_query_template_answers_every_name_under_its_prefix() {
    let dns = free_port();
    let dns_s = dns.to_string();
    let (a, _) = dc_server("pqt-a", "dc1", &["-dns-port", &dns_s]);
    web_on(&a, "n1", "10.1.0.1", "passing");
    let tpl = br#"{"Name":"geo-","Template":{"Type":"name_prefix_match","Regexp":"^geo-(.+)$"},
        "Service":{"Service":"${match(1)}","Tags":["${name.suffix}x",""]}}"#;
    let r = a.call("POST", "/v1/query", tpl, "");
    assert_eq!(r.status, 200, "{}", r.text());
    // `geo-web` renders to service `web`, tag `webx`: no instance has that tag.
    let r = a.get("/v1/query/geo-web/execute").json();
    assert_eq!(r["Service"], "web", "{r}");
    assert_eq!(r["Nodes"], serde_json::json!([]));
    let x = a.get("/v1/query/geo-web/explain").json();
    assert_eq!(
        x["Query"]["Service"]["Tags"],
        serde_json::json!(["webx", ""])
    );
    // With empty tags removed and the tag dropped, the instance answers, in DNS too.
    let id = a.get("/v1/query").json()[0]["ID"]
        .as_str()
        .unwrap()
        .to_string();
    let tpl = br#"{"Name":"geo-","Template":{"Type":"name_prefix_match","Regexp":"^geo-(.+)$",
        "RemoveEmptyTags":true},"Service":{"Service":"${match(1)}","Tags":["${match(7)}"]}}"#;
    assert_eq!(
        a.call("PUT", &format!("/v1/query/{id}"), tpl, "").status,
        200
    );
    let x = a.get("/v1/query/geo-web/explain").json();
    assert_eq!(
        x["Query"]["Service"]["Tags"],
        serde_json::Value::Null,
        "{x}"
    );
    assert_eq!(
        a.get("/v1/query/geo-web/execute").json()["Nodes"][0]["Node"]["Node"],
        "n1"
    );
    assert_eq!(dig(dns, "geo-web.query.consul", "A").1, ["10.1.0.1"]);
    assert_eq!(
        dig(dns, "geo-db.query.consul", "A").0,
        "NXDOMAIN",
        "no db instances"
    );
    assert_eq!(
        dig(dns, "other.query.consul", "A").0,
        "NXDOMAIN",
        "no query matches"
    );
    // A bad template is refused.
    let r = a.call(
        "POST",
        "/v1/query",
        br#"{"Name":"t","Template":{"Type":"glob"},"Service":{"Service":"web"}}"#,
        "",
    );
    assert_eq!(
        (r.status, r.text().trim()),
        (500, "Bad Template.Type 'glob'")
    );
    let r = a.call(
        "POST",
        "/v1/query",
        br#"{"Name":"t","Template":{"Type":"name_prefix_match","Regexp":"("},"Service":{"Service":"web"}}"#,
        "",
    );
    assert_eq!(r.status, 500);
    assert!(r.text().starts_with("Bad Regexp"), "{}", r.text());
}

/// The WAN port an agent bound (`-serf-wan-port 0` picks a free one).
fn wan_port(a: &Agent) -> u16 {
    a.get("/v1/agent/self").json()["DebugConfig"]["SerfPortWAN"]
        .as_u64()
        .and_then(|p| u16::try_from(p).ok())
        .expect("SerfPortWAN")
}

#[test]
fn two_datacenters_of_three_servers_federate_through_one_join_and_survive_a_leader_kill() {
    let wan = ["-serf-wan-port", "0"];
    let dc1 = support::cluster_of("fed1-", 3, &[&["-datacenter", "dc1"][..], &wan].concat());
    let mut dc2 = support::cluster_of("fed2-", 3, &[&["-datacenter", "dc2"][..], &wan].concat());
    // One WAN join, of one server: the others of both datacenters follow (flood join).
    let join = format!("127.0.0.1:{}", wan_port(&dc1[0]));
    let (code, out, err) = cli(dc2[0].http, &["join", "-wan", &join]);
    assert_eq!(code, 0, "{out}{err}");
    for a in dc1.iter().chain(dc2.iter()) {
        wait_for(
            "all six servers in every WAN view",
            Duration::from_secs(60),
            || {
                let m = wan_members(a);
                (m.len() == 6 && m.values().all(|s| *s == 1)).then_some(())
            },
        );
    }
    assert_eq!(datacenters(&dc1[1]), ["dc1", "dc2"]);
    assert_eq!(dc2[0].put("/v1/kv/where", b"dc2").text().trim(), "true");
    assert_eq!(dc1[2].get("/v1/kv/where?dc=dc2&raw").text(), "dc2");

    // dc2's leader dies: dc1's calls to dc2 come back once dc2 has elected another, and
    // dc1 answers for itself throughout.
    let refs: Vec<&Agent> = dc2.iter().collect();
    let l = support::leader(&refs);
    dc2[l].kill9();
    assert_eq!(dc1[0].put("/v1/kv/here", b"dc1").text().trim(), "true");
    wait_for(
        "dc2 readable again through dc1",
        Duration::from_secs(60),
        || {
            let r = dc1[1].get("/v1/kv/where?dc=dc2&raw");
            (r.status == 200 && r.text() == "dc2").then_some(())
        },
    );
    let r = dc1[0].put("/v1/kv/written-across?dc=dc2", b"1");
    assert_eq!((r.status, r.text().trim()), (200, "true"));
    let alive: Vec<&Agent> = dc2
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != l)
        .map(|(_, a)| a)
        .collect();
    assert_eq!(alive[0].get("/v1/kv/written-across?raw").text(), "1");
    assert_eq!(dc1[2].get("/v1/kv/here?raw").text(), "dc1");
}

/// One keyring call on a server rotates the whole federation: the WAN pool, its own
/// datacenter's LAN pool and every other datacenter's, and the list shows each, as
/// Consul's servers do.
#[test]
fn a_keyring_rotation_through_one_server_reaches_every_datacenter() {
    let keygen = || {
        let (code, out, err) = cli(1, &["keygen"]);
        assert_eq!(code, 0, "{err}");
        out.trim().to_string()
    };
    let (old, new) = (keygen(), keygen());
    let (a, _) = dc_server("wan-kr-a", "dc1", &["-encrypt", &old]);
    let (b, b_wan) = dc_server("wan-kr-b", "dc2", &["-encrypt", &old]);
    let (code, out, err) = cli(a.http, &["join", "-wan", &format!("127.0.0.1:{b_wan}")]);
    assert_eq!(code, 0, "join -wan: {out}{err}");
    wait_for("dc2 known to dc1", Duration::from_secs(30), || {
        (a.get("/v1/catalog/datacenters").json() == serde_json::json!(["dc1", "dc2"])).then_some(())
    });
    let key = |k: &str| serde_json::json!({ "Key": k }).to_string();
    // The count of `k` in each pool the list shows: "WAN", "dc1", "dc2".
    let holders = |agent: &Agent, path: &str, k: &str| -> std::collections::BTreeMap<String, i64> {
        agent
            .get(path)
            .json()
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|e| {
                        let pool = if e["WAN"] == true {
                            "WAN".to_string()
                        } else {
                            e["Datacenter"].as_str().unwrap_or_default().to_string()
                        };
                        (pool, e["Keys"][k].as_i64().unwrap_or(0))
                    })
                    .collect()
            })
            .unwrap_or_default()
    };
    // Both servers in the WAN pool, one in each LAN pool.
    let everywhere = || {
        [("WAN", 2), ("dc1", 1), ("dc2", 1)]
            .into_iter()
            .map(|(p, c)| (p.to_string(), c))
            .collect::<std::collections::BTreeMap<_, _>>()
    };
    assert_eq!(holders(&a, "/v1/operator/keyring", &old), everywhere());
    let r = a.call("POST", "/v1/operator/keyring", key(&new).as_bytes(), "");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(holders(&a, "/v1/operator/keyring", &new), everywhere());
    let r = a.call("PUT", "/v1/operator/keyring", key(&new).as_bytes(), "");
    assert_eq!(r.status, 200, "{}", r.text());
    let r = a.call("DELETE", "/v1/operator/keyring", key(&old).as_bytes(), "");
    assert_eq!(r.status, 200, "{}", r.text());
    // dc2's own LAN pool, asked there, holds only the new key.
    let lan = b.get("/v1/operator/keyring?local-only").json();
    let keys = &lan[0]["Keys"];
    assert_eq!(keys[&new], 1, "{lan}");
    assert!(keys.get(&old).is_none(), "{lan}");
    assert_eq!(lan[0]["PrimaryKeys"][&new], 1, "{lan}");
}
