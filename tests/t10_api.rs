//! The HTTP API against a real agent process: shapes, indexes, errors.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Agent, wait_for};

#[test]
fn status_and_self_registration() {
    let a = Agent::dev("t10a");
    let leader = a.get("/v1/status/leader").json();
    let peers = a.get("/v1/status/peers").json();
    assert!(
        leader.as_str().is_some_and(|s| s.starts_with("127.0.0.1:")),
        "{leader}"
    );
    assert_eq!(peers, json!([leader.clone()]));
    let me = a.get("/v1/agent/self").json();
    assert_eq!(me["Stats"]["consul"]["leader_addr"], leader);
    assert_eq!(me["Config"]["Datacenter"], "dc1");
    let members = a.get("/v1/agent/members").json();
    assert_eq!(
        members[0], me["Member"],
        "Member must equal the members entry"
    );
    // Every server registers itself as the `consul` service with a passing serfHealth.
    let services = a.get("/v1/catalog/services").json();
    assert_eq!(services, json!({"consul": []}));
    let any = a.get("/v1/health/state/any").json();
    assert_eq!(any.as_array().map(Vec::len), Some(1));
    assert_eq!(any[0]["CheckID"], "serfHealth");
    assert_eq!(any[0]["Status"], "passing");
    assert_eq!(any[0]["Output"], "Agent alive and reachable");
    assert_eq!(a.get("/v1/catalog/datacenters").json(), json!(["dc1"]));
}

#[test]
fn tutorial_registrations_verbatim() {
    let a = Agent::dev("t10b");
    // The node-exporter body of the three-server tutorial.
    let body = br#"{
      "ID": "node-exporter", "Name": "node-exporter-172.30.12.100", "Tags": ["node-exporter"],
      "Address": "172.30.12.100", "Port": 9100,
      "Meta": {"app": "spring-boot", "team": "appgroup", "project": "bigdata"},
      "EnableTagOverride": false,
      "Check": {"HTTP": "http://172.30.12.100:9100/metrics", "Interval": "10s"},
      "Weights": {"Passing": 10, "Warning": 1}
    }"#;
    let r = a.put("/v1/agent/service/register?replace-existing-checks=1", body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert!(r.body.is_empty());
    // Visible in the catalog as soon as the call returned.
    let list = a
        .get("/v1/catalog/service/node-exporter-172.30.12.100")
        .json();
    assert_eq!(list[0]["ServiceID"], "node-exporter");
    assert_eq!(list[0]["ServiceMeta"]["team"], "appgroup");
    assert_eq!(
        list[0]["ServiceWeights"],
        json!({"Passing": 10, "Warning": 1})
    );
    assert_eq!(list[0]["ServiceTags"], json!(["node-exporter"]));
    let h = a
        .get("/v1/health/service/node-exporter-172.30.12.100")
        .json();
    let checks: Vec<&str> = h[0]["Checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["CheckID"].as_str().unwrap())
        .collect();
    assert_eq!(checks, vec!["serfHealth", "service:node-exporter"]);
    assert_eq!(
        h[0]["Checks"][1]["Status"], "critical",
        "new checks start critical"
    );
    assert_eq!(
        h[0]["Checks"][1]["Definition"]["Interval"], "10s",
        "durations are strings"
    );
    assert_eq!(h[0]["Checks"][1]["Type"], "http");
    // ?passing drops it while its check is critical.
    assert_eq!(
        a.get("/v1/health/service/node-exporter-172.30.12.100?passing")
            .json(),
        json!([])
    );

    // The bulk-registration loop: lowercase keys and a `checks` array.
    let ip = "10.100.20.10";
    let body = format!(
        r#"{{"id": "prometheus-system-monitor-{ip}-tomcat-8021", "name": "system-tomcat-{ip}-tomcat-8021","address": "{ip}","port": 9100,"tags": ["system-tomcat-tomcat-8021"],"checks": [{{"http": "http://{ip}:9100/metrics","interval": "30s"}}]}}"#
    );
    let r = a.put("/v1/agent/service/register", body.as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let svcs = a.get("/v1/agent/services").json();
    let s = &svcs[format!("prometheus-system-monitor-{ip}-tomcat-8021")];
    assert_eq!(s["Port"], 9100);
    assert_eq!(s["Address"], ip);
    let r = a.put(
        &format!("/v1/agent/service/deregister/prometheus-system-monitor-{ip}-tomcat-8021"),
        b"",
    );
    assert_eq!(r.status, 200);
    assert!(
        a.get(&format!(
            "/v1/catalog/service/system-tomcat-{ip}-tomcat-8021"
        ))
        .json()
        .as_array()
        .unwrap()
        .is_empty()
    );
    let r = a.put("/v1/agent/service/deregister/nope", b"");
    assert_eq!(r.status, 404);
    assert!(
        r.text().contains("Unknown service ID \"nope\""),
        "{}",
        r.text()
    );
}

#[test]
fn kv_semantics() {
    let a = Agent::dev("t10c");
    assert_eq!(a.put("/v1/kv/foo", b"bar").json(), json!(true));
    let r = a.get("/v1/kv/foo");
    let idx: u64 = r.header("X-Consul-Index").unwrap().parse().unwrap();
    let e = &r.json()[0];
    assert_eq!(e["Key"], "foo");
    assert_eq!(e["Value"], "YmFy");
    assert_eq!(e["Flags"], 0);
    assert!(e.get("Session").is_none());
    // Missing key: 404, empty body, index header still there.
    let r = a.get("/v1/kv/missing");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    assert!(r.header("X-Consul-Index").is_some());
    // CAS
    let mi = e["ModifyIndex"].as_u64().unwrap();
    assert_eq!(a.put("/v1/kv/foo?cas=0", b"x").json(), json!(false));
    assert_eq!(
        a.put(&format!("/v1/kv/foo?cas={}", mi + 1000), b"x").json(),
        json!(false)
    );
    assert_eq!(
        a.get("/v1/kv/foo").header("X-Consul-Index").unwrap(),
        idx.to_string(),
        "failed CAS moves no index"
    );
    assert_eq!(
        a.put(&format!("/v1/kv/foo?cas={mi}&flags=42"), b"baz")
            .json(),
        json!(true)
    );
    assert_eq!(a.get("/v1/kv/foo?raw").text(), "baz");
    assert_eq!(a.get("/v1/kv/foo").json()[0]["Flags"], 42);
    // Empty value is null.
    a.put("/v1/kv/empty", b"");
    assert_eq!(a.get("/v1/kv/empty").json()[0]["Value"], Value::Null);
    // Recurse and keys.
    for k in ["base/base/foo", "base/base/bar", "base/foo"] {
        a.put(&format!("/v1/kv/{k}"), b"1");
    }
    let keys: Vec<String> = a
        .get("/v1/kv/base/?recurse")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, vec!["base/base/bar", "base/base/foo", "base/foo"]);
    assert_eq!(
        a.get("/v1/kv/base/?keys&separator=/").json(),
        json!(["base/base/", "base/foo"])
    );
    assert_eq!(a.delete("/v1/kv/base/?recurse").json(), json!(true));
    assert_eq!(a.get("/v1/kv/base/?recurse").status, 404);
    // Oversized values are refused and nothing is written.
    let big = vec![b'x'; 512 * 1024 + 1];
    let r = a.put("/v1/kv/big", &big);
    assert_eq!(r.status, 413, "{}", r.text());
    assert_eq!(a.get("/v1/kv/big").status, 404);
    // Bad flags.
    assert_eq!(a.put("/v1/kv/foo?cas=1&acquire=x", b"").status, 400);
    assert_eq!(a.get("/v1/kv/foo?stale&consistent").status, 400);
    assert_eq!(a.get("/v1/kv/foo?index=abc").status, 400);
    assert_eq!(a.get("/v1/kv/foo?wait=forever&index=1").status, 400);
    assert_eq!(a.get("/v1/kv/foo?dc=dc9").status, 500);
}

#[test]
fn blocking_query_wakes_on_write() {
    let a = Agent::dev("t10d");
    a.put("/v1/kv/watch", b"1");
    let idx: u64 = a
        .get("/v1/kv/watch")
        .header("X-Consul-Index")
        .unwrap()
        .parse()
        .unwrap();
    let port = a.http;
    let t = std::thread::spawn(move || {
        support::http(
            port,
            "GET",
            &format!("/v1/kv/watch?index={idx}&wait=30s"),
            b"",
        )
        .unwrap()
    });
    std::thread::sleep(Duration::from_millis(200));
    a.put("/v1/kv/watch", b"2");
    let r = t.join().unwrap();
    let new: u64 = r.header("X-Consul-Index").unwrap().parse().unwrap();
    assert!(new > idx);
    assert_eq!(r.json()[0]["Value"], "Mg==");
    // A timed-out wait answers 200 with the same index.
    let r = a.get(&format!("/v1/kv/watch?index={new}&wait=50ms"));
    assert_eq!(r.status, 200);
    assert_eq!(r.header("X-Consul-Index").unwrap(), new.to_string());
}

#[test]
fn catalog_and_health_endpoints() {
    let a = Agent::dev("t10e");
    let reg = json!({
        "node": "n1", "address": "10.1.10.11",
        "service": {"service": "s1", "tags": ["master"], "port": 8000},
        "check": {"name": "c1", "status": "passing", "serviceid": "s1"}
    });
    let r = a.put("/v1/catalog/register", reg.to_string().as_bytes());
    assert_eq!(r.json(), json!(true), "{}", r.text());
    let s2 =
        json!({"Node": "n2", "Address": "10.1.10.12", "Service": {"Service": "s2", "Port": 1}});
    a.put("/v1/catalog/register", s2.to_string().as_bytes());
    assert_eq!(
        a.get("/v1/catalog/services").json(),
        json!({"consul": [], "s1": ["master"], "s2": []})
    );
    let nodes: Vec<String> = a
        .get("/v1/catalog/nodes")
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Node"].as_str().unwrap().into())
        .collect();
    assert_eq!(nodes, vec!["n1", "n2", "t10e"]);
    let n1 = a.get("/v1/catalog/node/n1").json();
    assert_eq!(n1["Services"]["s1"]["Port"], 8000);
    assert_eq!(a.get("/v1/catalog/node/nobody").text().trim(), "null");
    assert_eq!(
        a.get("/v1/catalog/service/s1?tag=master")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(a.get("/v1/catalog/service/s1?tag=slave").json(), json!([]));
    assert_eq!(
        a.get("/v1/health/service/s1?passing")
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    assert_eq!(a.get("/v1/health/checks/s1").json()[0]["CheckID"], "c1");
    assert_eq!(a.get("/v1/health/node/n1").json()[0]["CheckID"], "c1");
    assert_eq!(a.get("/v1/health/state/critical").json(), json!([]));
    assert_eq!(a.get("/v1/health/state/bogus").status, 400);
    let d = json!({"Node": "n1", "ServiceID": "s1"});
    assert_eq!(
        a.put("/v1/catalog/deregister", d.to_string().as_bytes())
            .json(),
        json!(true)
    );
    assert_eq!(a.get("/v1/catalog/service/s1").json(), json!([]));
    assert!(
        a.get("/v1/health/node/n1")
            .json()
            .as_array()
            .unwrap()
            .is_empty(),
        "service checks go with the service"
    );
    a.put("/v1/catalog/deregister", br#"{"Node":"n2"}"#);
    assert_eq!(a.get("/v1/catalog/node/n2").text().trim(), "null");
}

#[test]
fn ttl_checks() {
    let a = Agent::dev("t10f");
    let r = a.put(
        "/v1/agent/check/register",
        br#"{"name":"ttl1","ttl":"1s","notes":"n"}"#,
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        a.get("/v1/agent/checks").json()["ttl1"]["Status"],
        "critical"
    );
    assert_eq!(
        a.put("/v1/agent/check/pass/ttl1?note=all%20good", b"")
            .status,
        200
    );
    let c = a.get("/v1/agent/checks").json();
    assert_eq!(c["ttl1"]["Status"], "passing");
    assert_eq!(c["ttl1"]["Output"], "all good");
    assert_eq!(c["ttl1"]["Notes"], "n");
    assert_eq!(
        a.get("/v1/health/node/t10f")
            .json()
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["CheckID"] == "ttl1")
            .unwrap()["Status"],
        "passing"
    );
    // Expiry turns it critical.
    wait_for("TTL expiry", Duration::from_secs(10), || {
        let c = a.get("/v1/agent/checks").json();
        (c["ttl1"]["Status"] == "critical").then_some(())
    });
    assert!(
        a.get("/v1/agent/checks").json()["ttl1"]["Output"]
            .as_str()
            .unwrap()
            .starts_with("TTL expired")
    );
    let r = a.put(
        "/v1/agent/check/update/ttl1",
        br#"{"Status":"warning","Output":"meh"}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        a.get("/v1/agent/checks").json()["ttl1"]["Status"],
        "warning"
    );
    assert_eq!(
        a.put("/v1/agent/check/update/ttl1", br#"{"Status":"bogus"}"#)
            .status,
        400
    );
    // Unknown service ID on check register is a 404.
    assert_eq!(
        a.put(
            "/v1/agent/check/register",
            br#"{"name":"x","ttl":"1s","serviceid":"nope"}"#
        )
        .status,
        404
    );
}

#[test]
fn bad_input_is_rejected_cleanly() {
    let a = Agent::dev("t10g");
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "/v1/agent/service/register",
            b"{not json",
            "Request decode failed",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Name":"x","Foo":1}"#,
            "unknown field \"Foo\"",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Name":"x","Port":"eighty"}"#,
            "Request decode failed",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Port":80}"#,
            "Missing service name",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Name":"x","Weights":{"Passing":0}}"#,
            "Invalid Weights",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Name":"x","Check":{"HTTP":"http://x"}}"#,
            "Interval must be > 0",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Name":"x","Check":{"Args":["/bin/true"],"Interval":"1s"}}"#,
            "Scripts are disabled",
        ),
        (
            "/v1/agent/service/register",
            br#"{"Name":"x","Check":{"TTL":"ten"}}"#,
            "invalid duration",
        ),
        ("/v1/agent/service/register", b"", "EOF"),
        (
            "/v1/catalog/register",
            br#"{"Address":"1.2.3.4"}"#,
            "Must provide node",
        ),
    ];
    for (path, body, want) in cases {
        let r = a.put(path, body);
        assert_eq!(
            r.status,
            400,
            "{path} {}: {}",
            String::from_utf8_lossy(body),
            r.text()
        );
        assert!(
            r.text().contains(want),
            "{path}: wanted {want:?}, got {:?}",
            r.text()
        );
        assert_eq!(r.text().trim().lines().count(), 1, "one-line reason");
    }
    // Nothing half-applied: no service named x exists.
    assert_eq!(a.get("/v1/catalog/service/x").json(), json!([]));
    assert_eq!(a.get("/v1/agent/services").json(), json!({}));
    let r = a.delete("/v1/agent/services");
    assert_eq!(r.status, 405);
    assert!(r.header("Allow").unwrap().contains("GET"));
    assert_eq!(a.get("/v1/nothing/here").status, 404);
    // Still serving.
    assert_eq!(a.get("/v1/status/leader").status, 200);
}

#[test]
fn metrics_json_and_prometheus() {
    let a = Agent::dev("t10h");
    a.put("/v1/kv/m", b"1");
    let m = a.get("/v1/agent/metrics").json();
    let samples = m["Samples"].as_array().unwrap();
    let apply = samples
        .iter()
        .find(|s| s["Name"] == "consul.raft.apply")
        .expect("raft apply sample");
    assert!(apply["Count"].as_u64().unwrap() >= 1);
    let text = a.get("/v1/agent/metrics?format=prometheus").text();
    assert!(text.contains("consul_raft_apply_count"), "{text}");
    assert!(text.contains("consul_state_kv_entries 1"), "{text}");
}

/// `/v1/txn` as Consul answers it: all or nothing, every failing operation listed, the
/// limits refused before anything is written, and catalog operations in the same entry.
#[test]
fn transactions_apply_all_or_nothing() {
    let a = Agent::dev("t10txn");
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let ops = json!([
        {"KV": {"Verb": "set", "Key": "cfg/a", "Value": b64("1")}},
        {"KV": {"Verb": "cas", "Key": "cfg/b", "Value": b64("2"), "Index": 0}},
        {"Node": {"Verb": "set", "Node": {"Node": "ext1", "Address": "10.1.1.1"}}},
        {"Service": {"Verb": "set", "Node": "ext1",
                     "Service": {"ID": "db1", "Service": "db", "Port": 5432}}},
        {"KV": {"Verb": "get", "Key": "cfg/a"}}
    ]);
    let r = a.put("/v1/txn", ops.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
    let body = r.json();
    assert_eq!(body["Errors"], Value::Null);
    assert_eq!(body["Results"].as_array().map(Vec::len), Some(5));
    assert_eq!(
        body["Results"][0]["KV"]["Value"],
        Value::Null,
        "writes leave the value out"
    );
    assert_eq!(body["Results"][4]["KV"]["Value"], json!(b64("1")));
    assert_eq!(body["Results"][3]["Service"]["Service"], json!("db"));
    assert_eq!(
        a.get("/v1/catalog/service/db").json()[0]["Node"],
        json!("ext1")
    );

    // One stale CAS and one unknown verb: 409 naming both, and the set beside them is not
    // applied.
    let ops = json!([
        {"KV": {"Verb": "set", "Key": "cfg/c", "Value": b64("3")}},
        {"KV": {"Verb": "cas", "Key": "cfg/a", "Value": b64("9"), "Index": 1}},
        {"KV": {"Verb": "frobnicate", "Key": "cfg/a"}}
    ]);
    let r = a.put("/v1/txn", ops.to_string().as_bytes());
    assert_eq!(r.status, 409, "{}", r.text());
    let body = r.json();
    assert_eq!(body["Results"], Value::Null);
    assert_eq!(
        body["Errors"],
        json!([
            {"OpIndex": 1, "What": "failed to set key \"cfg/a\", index is stale"},
            {"OpIndex": 2, "What": "unknown KV verb \"frobnicate\""}
        ])
    );
    assert_eq!(a.get("/v1/kv/cfg/c").status, 404);
    assert_eq!(a.get("/v1/kv/cfg/a?raw").text(), "1");

    // Malformed and oversized bodies are refused whole.
    assert_eq!(a.put("/v1/txn", b"[{").status, 400);
    assert_eq!(
        a.put(
            "/v1/txn",
            br#"[{"KV": {"Verb": "set", "Key": "x", "Value": "%%"}}]"#
        )
        .status,
        400
    );
    let many: Vec<Value> = (0..129)
        .map(|i| json!({"KV": {"Verb": "set", "Key": format!("many/{i}")}}))
        .collect();
    let r = a.put("/v1/txn", Value::from(many).to_string().as_bytes());
    assert_eq!(r.status, 413);
    assert_eq!(
        r.text().trim(),
        "Transaction contains too many operations (129 > 128)"
    );
    assert_eq!(a.get("/v1/kv/many/?keys").status, 404);

    // A read-only transaction, with a consistency mode as reads take.
    let r = a.put(
        "/v1/txn?stale",
        json!([{"KV": {"Verb": "get-tree", "Key": "cfg/"}}])
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["Results"].as_array().map(Vec::len), Some(2));
    assert_eq!(r.json()["KnownLeader"], json!(true));
}

/// `?filter=` percent-encoded as curl's `--data-urlencode` does.
fn filtered(path: &str, expr: &str) -> String {
    let mut enc = String::new();
    for b in expr.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            enc.push(b as char);
        } else {
            enc.push_str(&format!("%{b:02X}"));
        }
    }
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}filter={enc}")
}

#[test]
fn filter_expressions_select_rows_on_every_listing() {
    let a = Agent::dev("t10flt");
    for (node, tag, version, status) in [
        ("n1", "prod", "2", "passing"),
        ("n2", "staging", "2", "critical"),
    ] {
        let reg = json!({
            "Node": node, "Address": "10.0.0.1",
            "Service": {"Service": "web", "ID": "web", "Tags": [tag], "Meta": {"version": version}, "Port": 80},
            "Check": {"CheckID": "web-http", "Name": "http", "Status": status, "ServiceID": "web"}
        });
        a.put("/v1/catalog/register", reg.to_string().as_bytes());
    }
    let nodes_of = |r: serde_json::Value| -> Vec<String> {
        r.as_array()
            .unwrap()
            .iter()
            .map(|e| {
                e.get("Node")
                    .and_then(|n| n.get("Node").or(Some(n)))
                    .and_then(|n| n.as_str())
                    .unwrap()
                    .to_string()
            })
            .collect()
    };
    let r = a.get(&filtered(
        "/v1/catalog/service/web",
        "\"prod\" in ServiceTags",
    ));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(nodes_of(r.json()), ["n1"]);
    // The service list is built from the instances that pass.
    assert_eq!(
        a.get(&filtered("/v1/catalog/services", "\"prod\" in ServiceTags"))
            .json(),
        json!({"web": ["prod"]})
    );
    // Through the list of checks: any check.
    let r = a.get(&filtered(
        "/v1/health/service/web",
        "Checks.Status == critical",
    ));
    assert_eq!(nodes_of(r.json()), ["n2"]);
    let r = a.get(&filtered(
        "/v1/health/service/web",
        "Service.Meta.version == \"2\" and not (Node.Node matches \"^n2\")",
    ));
    assert_eq!(nodes_of(r.json()), ["n1"]);
    // A missing meta key is "not equal", not an error.
    let r = a.get(&filtered(
        "/v1/health/service/web",
        "Service.Meta.nope != x",
    ));
    assert_eq!(nodes_of(r.json()).len(), 2);
    // Composes with ?passing and ?tag.
    let r = a.get(&filtered(
        "/v1/health/service/web?passing",
        "Node.Node == n2",
    ));
    assert_eq!(r.json(), json!([]));
    let r = a.get(&filtered("/v1/health/state/critical", "ServiceName == web"));
    assert_eq!(r.json().as_array().unwrap().len(), 1);
    let r = a.get(&filtered("/v1/catalog/nodes", "Node in \"n1,n2\""));
    assert_eq!(
        r.status,
        500,
        "Node in a string is not a selector: {}",
        r.text()
    );
    let r = a.get(&filtered("/v1/catalog/nodes", "Node matches \"^n[12]$\""));
    assert_eq!(nodes_of(r.json()), ["n1", "n2"]);
    // The node stays when none of its services pass.
    let r = a.get(&filtered("/v1/catalog/node/n1", "Service == \"nope\""));
    assert_eq!(r.json()["Node"]["Node"], "n1");
    assert_eq!(r.json()["Services"], json!({}));

    // Agent maps keep their keys.
    a.put(
        "/v1/agent/service/register",
        br#"{"Name":"api","ID":"api-1","Tags":["keep-me"],"Check":{"TTL":"30s"}}"#,
    );
    a.put(
        "/v1/agent/service/register",
        br#"{"Name":"api","ID":"api-2"}"#,
    );
    let r = a.get(&filtered("/v1/agent/services", "\"keep-me\" in Tags"));
    assert_eq!(
        r.json().as_object().unwrap().keys().collect::<Vec<_>>(),
        ["api-1"]
    );
    let r = a.get(&filtered("/v1/agent/checks", "Status == `critical`"));
    assert_eq!(
        r.json().as_object().unwrap().keys().collect::<Vec<_>>(),
        ["service:api-1"]
    );

    // Bad expressions and unknown fields: Consul's 500 and reason; nothing to test on
    // an empty list is no error.
    let r = a.get(&filtered(
        "/v1/catalog/service/web",
        "not a valid expression((",
    ));
    assert_eq!(r.status, 500);
    assert!(
        r.text()
            .starts_with("Failed to create boolean expression evaluator: "),
        "{}",
        r.text()
    );
    let r = a.get(&filtered("/v1/catalog/service/web", "NoSuchField == 1"));
    assert_eq!(r.status, 500);
    assert!(r.text().contains("NoSuchField"), "{}", r.text());
    let r = a.get(&filtered("/v1/catalog/service/nothing", "NoSuchField == 1"));
    assert_eq!((r.status, r.json()), (200, json!([])));
    // KV takes no filter: the parameter is ignored there, as by Consul.
    a.put("/v1/kv/k", b"v");
    assert_eq!(a.get(&filtered("/v1/kv/k", "((")).status, 200);
}
