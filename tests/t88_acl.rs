//! ACLs on real agents over loopback: each scenario an operator relies on, as its own test.
//! Default deny hides everything from the anonymous token (blocking reads included); a
//! `key_prefix` token writes only under its prefix and cannot delete recursively above a
//! deny; a token without `acl` rights cannot mint tokens; the bootstrap happens once, and
//! once more with the reset index; every token transport works and no secret reaches the
//! log; a client agent forwards the caller's token and the server decides; security keys
//! disco does not serve stop the agent.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::{Agent, Resp, config_file, http_full, raw_agent, wait_for};

const MGMT: &str = "8f3c2a9e-3d1b-4c57-9a0e-6b2f1d7c4e55";

/// A dev server with ACLs on, the given default policy and the management token `MGMT`.
fn acl_dev(name: &str, default_policy: &str) -> Agent {
    let cfg = config_file(
        name,
        &json!({"acl": {"enabled": true, "default_policy": default_policy,
                        "tokens": {"initial_management": MGMT}}})
        .to_string(),
    );
    let cfg = cfg.display().to_string();
    let mut a = Agent::launch(name, &["-dev", "-config-file", &cfg]);
    a.token = Some(MGMT.into());
    a.wait_ready();
    a
}

fn ok(r: Resp, what: &str) -> Resp {
    assert_eq!(r.status, 200, "{what}: {} {}", r.status, r.text());
    r
}

/// A policy from `rules` and a token holding it; returns the token's secret.
fn token_with(a: &Agent, name: &str, rules: &str) -> String {
    let p = json!({"Name": name, "Rules": rules}).to_string();
    ok(
        a.call("PUT", "/v1/acl/policy", p.as_bytes(), MGMT),
        "policy",
    );
    let t = json!({"Description": name, "Policies": [{"Name": name}]}).to_string();
    let r = ok(a.call("PUT", "/v1/acl/token", t.as_bytes(), MGMT), "token");
    r.json()["SecretID"].as_str().expect("SecretID").to_string()
}

fn register(a: &Agent, name: &str, token: &str) {
    let body = json!({"Name": name, "Port": 80}).to_string();
    ok(
        a.call("PUT", "/v1/agent/service/register", body.as_bytes(), token),
        "register",
    );
}

#[test]
fn default_deny_hides_every_service_node_and_key_from_the_anonymous_token() {
    let a = acl_dev("acl-deny", "deny");
    register(&a, "web", MGMT);
    ok(a.call("PUT", "/v1/kv/secret/x", b"s3", MGMT), "kv put");
    wait_for("web in the catalog", Duration::from_secs(20), || {
        let r = a.call("GET", "/v1/catalog/service/web", b"", MGMT);
        (r.json().as_array()?.len() == 1).then_some(())
    });

    for path in [
        "/v1/catalog/nodes",
        "/v1/catalog/service/web",
        "/v1/health/service/web",
        "/v1/health/state/any",
        "/v1/agent/members",
        "/v1/session/list",
    ] {
        let r = ok(a.get(path), path);
        assert_eq!(r.json(), json!([]), "{path}");
        assert!(
            r.header("X-Consul-Results-Filtered-By-ACLs").is_none(),
            "{path}"
        );
    }
    assert_eq!(
        ok(a.get("/v1/catalog/services"), "services").json(),
        json!({})
    );
    assert_eq!(
        ok(a.get("/v1/agent/services"), "agent services").json(),
        json!({})
    );
    assert_eq!(a.get("/v1/catalog/node/acl-deny").text().trim(), "null");
    // A key is refused whether it exists or not: no existence oracle.
    for key in ["secret/x", "missing"] {
        let r = a.get(&format!("/v1/kv/{key}"));
        assert_eq!(r.status, 403, "{key}");
        assert!(r.text().starts_with("Permission denied"), "{}", r.text());
    }
    assert_eq!(a.get("/v1/kv/?recurse").status, 404);
    assert_eq!(a.put("/v1/kv/x", b"1").status, 403);
    assert_eq!(a.get("/v1/agent/self").status, 403);
    assert_eq!(
        a.put("/v1/agent/service/register", br#"{"Name":"evil"}"#)
            .status,
        403
    );

    // A token that resolves but may read nothing is told the answer was filtered.
    let useless = token_with(&a, "nothing", "");
    let r = ok(
        a.call("GET", "/v1/catalog/service/web", b"", &useless),
        "useless",
    );
    assert_eq!(r.json(), json!([]));
    assert_eq!(r.header("X-Consul-Results-Filtered-By-ACLs"), Some("true"));

    // A blocking read by the anonymous token wakes on a change it may not see and still
    // answers nothing.
    let r = ok(a.get("/v1/health/service/web"), "index");
    let index: u64 = r.header("X-Consul-Index").unwrap().parse().unwrap();
    let port = a.http;
    let waiter = std::thread::spawn(move || {
        let path = format!("/v1/health/service/web?index={index}&wait=20s");
        http_full(port, "GET", &path, b"", &[], Duration::from_secs(40)).expect("blocking")
    });
    std::thread::sleep(Duration::from_millis(300));
    let check = json!({"Name": "web-ttl", "ServiceID": "web", "TTL": "30s"}).to_string();
    ok(
        a.call("PUT", "/v1/agent/check/register", check.as_bytes(), MGMT),
        "check",
    );
    let r = waiter.join().expect("waiter");
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), json!([]), "a blocking read leaked data");
}

#[test]
fn a_key_prefix_token_writes_only_there_and_cannot_delete_above_a_deny() {
    let a = acl_dev("acl-keys", "deny");
    let t = token_with(
        &a,
        "app-writer",
        "key_prefix \"app/\" { policy = \"write\" }\nkey_prefix \"app/secret/\" { policy = \"deny\" }",
    );
    for key in ["app/secret/k", "app/pub/a", "other"] {
        ok(a.call("PUT", &format!("/v1/kv/{key}"), b"v", MGMT), key);
    }
    ok(a.call("PUT", "/v1/kv/app/x", b"1", &t), "write app/x");
    assert_eq!(a.call("PUT", "/v1/kv/other", b"1", &t).status, 403);
    assert_eq!(a.call("PUT", "/v1/kv/app/secret/k", b"1", &t).status, 403);
    assert_eq!(a.call("GET", "/v1/kv/app/secret/k", b"", &t).status, 403);
    let r = ok(a.call("GET", "/v1/kv/app/?recurse", b"", &t), "recurse");
    let keys: Vec<String> = r
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["Key"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(keys, ["app/pub/a", "app/x"]);
    assert_eq!(r.header("X-Consul-Results-Filtered-By-ACLs"), Some("true"));
    let r = ok(a.call("GET", "/v1/kv/app/?keys", b"", &t), "keys");
    assert_eq!(r.json(), json!(["app/pub/a", "app/x"]));
    // CVE-2019-12291: a recursive delete needs write on everything under the prefix.
    let r = a.call("DELETE", "/v1/kv/app/?recurse", b"", &t);
    assert_eq!(r.status, 403, "{}", r.text());
    assert_eq!(a.call("DELETE", "/v1/kv/?recurse", b"", &t).status, 403);
    ok(
        a.call("DELETE", "/v1/kv/app/pub/?recurse", b"", &t),
        "delete app/pub/",
    );
    assert_eq!(a.call("GET", "/v1/kv/app/pub/a", b"", MGMT).status, 404);
    assert_eq!(a.call("GET", "/v1/kv/app/secret/k", b"", MGMT).status, 200);

    // A second policy denying the prefix wins over the first one's write.
    let p = json!({"Name": "app-deny", "Rules": r#"{"key_prefix":{"app/":{"policy":"deny"}}}"#});
    let p = ok(
        a.call("PUT", "/v1/acl/policy", p.to_string().as_bytes(), MGMT),
        "deny policy",
    );
    let accessor = ok(a.call("GET", "/v1/acl/token/self", b"", &t), "self").json()["AccessorID"]
        .as_str()
        .unwrap()
        .to_string();
    let upd = json!({"Policies": [{"Name": "app-writer"}, {"ID": p.json()["ID"]}]});
    ok(
        a.call(
            "PUT",
            &format!("/v1/acl/token/{accessor}"),
            upd.to_string().as_bytes(),
            MGMT,
        ),
        "update token",
    );
    // The change takes effect on the next request (the server's cache follows the index).
    assert_eq!(a.call("PUT", "/v1/kv/app/x", b"2", &t).status, 403);
    assert_eq!(a.call("GET", "/v1/kv/app/x", b"", &t).status, 403);
}

#[test]
fn the_acl_api_needs_acl_rights_even_under_default_allow() {
    let a = acl_dev("acl-allow", "allow");
    // Default allow reads and writes everything else...
    ok(a.put("/v1/kv/open", b"1"), "anonymous put");
    register(&a, "api", "");
    // ...but never the ACL system.
    for (m, path) in [
        ("GET", "/v1/acl/tokens"),
        ("PUT", "/v1/acl/token"),
        ("GET", "/v1/acl/policies"),
        ("PUT", "/v1/acl/policy"),
    ] {
        let r = a.call(m, path, br#"{"Name":"x"}"#, "");
        assert_eq!(r.status, 403, "{m} {path}: {}", r.text());
    }
    let reader = token_with(&a, "acl-reader", "acl = \"read\"");
    let r = ok(a.call("GET", "/v1/acl/tokens", b"", &reader), "list");
    let list = r.json();
    let secrets: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["SecretID"].as_str().unwrap())
        .collect();
    assert!(secrets.iter().all(|s| *s == "<hidden>"), "{secrets:?}");
    let r = a.call("PUT", "/v1/acl/token", b"{}", &reader);
    assert_eq!(r.status, 403, "a reader minted a token");

    // The built-ins cannot be removed, and a token cannot delete itself.
    let r = a.call(
        "DELETE",
        "/v1/acl/token/00000000-0000-0000-0000-000000000002",
        b"",
        MGMT,
    );
    assert_ne!(r.status, 200);
    let r = a.call(
        "DELETE",
        "/v1/acl/policy/00000000-0000-0000-0000-000000000001",
        b"",
        MGMT,
    );
    assert_ne!(r.status, 200);
    let own = ok(a.call("GET", "/v1/acl/token/self", b"", MGMT), "self").json()["AccessorID"]
        .as_str()
        .unwrap()
        .to_string();
    let r = a.call("DELETE", &format!("/v1/acl/token/{own}"), b"", MGMT);
    assert_eq!(r.status, 403, "{}", r.text());
    // Reserved and sentinel secrets never resolve (CVE-2019-8336).
    for s in ["<hidden>", "allow", "deny", "manage"] {
        assert_eq!(a.call("GET", "/v1/acl/tokens", b"", s).status, 403, "{s}");
    }
    let t = json!({"SecretID": "00000000-0000-0000-0000-000000000009"}).to_string();
    assert_eq!(
        a.call("PUT", "/v1/acl/token", t.as_bytes(), MGMT).status,
        400
    );
    // Rules that do not parse are refused with Consul's words.
    let p = json!({"Name": "broken", "Rules": "key_prefix \"\" { policy = \"wirte\" }"});
    let r = a.call("PUT", "/v1/acl/policy", p.to_string().as_bytes(), MGMT);
    assert_eq!(r.status, 400);
    assert!(r.text().contains("wirte"), "{}", r.text());
}

#[test]
fn bootstrap_happens_once_then_once_more_with_the_reset_index() {
    let cfg = config_file(
        "acl-boot",
        r#"{"acl": {"enabled": true, "default_policy": "deny"}}"#,
    );
    let cfg = cfg.display().to_string();
    let mut a = Agent::launch(
        "acl-boot",
        &[
            "-server",
            "-bootstrap",
            "-data-dir",
            "{dir}/data",
            "-config-file",
            &cfg,
        ],
    );
    wait_for("a leader", Duration::from_secs(30), || {
        let r = support::http(a.http, "GET", "/v1/status/leader", b"").ok()?;
        (r.status == 200 && r.text().trim() != "\"\"").then_some(())
    });
    // Racing bootstraps: exactly one wins.
    let port = a.http;
    let racers: Vec<_> = (0..6)
        .map(|_| {
            std::thread::spawn(move || {
                http_full(
                    port,
                    "PUT",
                    "/v1/acl/bootstrap",
                    b"",
                    &[],
                    Duration::from_secs(30),
                )
                .expect("bootstrap")
            })
        })
        .collect();
    let answers: Vec<Resp> = racers.into_iter().map(|t| t.join().unwrap()).collect();
    let won: Vec<&Resp> = answers.iter().filter(|r| r.status == 200).collect();
    assert_eq!(
        won.len(),
        1,
        "{:?}",
        answers.iter().map(|r| r.status).collect::<Vec<_>>()
    );
    let first = won[0].json();
    assert_eq!(first["Description"], "Bootstrap Token (Global Management)");
    assert_eq!(first["ID"], first["SecretID"]);
    let secret = first["SecretID"].as_str().unwrap().to_string();
    let refused = answers.iter().find(|r| r.status != 200).unwrap();
    assert_eq!(refused.status, 403);
    let text = refused.text();
    assert!(
        text.starts_with("Permission denied: ACL bootstrap no longer allowed (reset index: "),
        "{text}"
    );
    let reset: String = text
        .rsplit("reset index: ")
        .next()
        .unwrap()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();

    // The token works, and survives a restart with the bootstrap marker.
    ok(
        a.call("GET", "/v1/acl/tokens", b"", &secret),
        "bootstrap token",
    );
    a.token = Some(secret.clone());
    a.terminate();
    a.restart();
    assert_eq!(a.put("/v1/acl/bootstrap", b"").status, 403);

    // A wrong reset index is refused and changes nothing; the right one allows one more.
    let file = a.dir().join("data").join("acl-bootstrap-reset");
    std::fs::write(&file, "999999").unwrap();
    assert_ne!(a.put("/v1/acl/bootstrap", b"").status, 200);
    std::fs::write(&file, &reset).unwrap();
    let r = ok(a.put("/v1/acl/bootstrap", b""), "reset bootstrap");
    assert_ne!(r.json()["SecretID"].as_str().unwrap(), secret);
    assert!(!file.exists(), "the reset file is consumed");
    assert_eq!(a.put("/v1/acl/bootstrap", b"").status, 403);
}

#[test]
fn every_token_transport_works_and_no_secret_reaches_the_log() {
    let a = acl_dev("acl-transport", "deny");
    let t = token_with(&a, "kv-reader", "key_prefix \"\" { policy = \"read\" }");
    ok(a.call("PUT", "/v1/kv/k", b"v", MGMT), "put");
    let get = |headers: &[(&str, &str)], path: &str| {
        http_full(a.http, "GET", path, b"", headers, Duration::from_secs(10)).expect("GET")
    };
    let bearer = format!("Bearer {t}");
    let lower = format!("bearer {t}");
    let basic = format!("Basic {t}");
    assert_eq!(get(&[("X-Consul-Token", &t)], "/v1/kv/k").status, 200);
    assert_eq!(get(&[("Authorization", &bearer)], "/v1/kv/k").status, 200);
    assert_eq!(get(&[("Authorization", &lower)], "/v1/kv/k").status, 200);
    assert_eq!(get(&[], &format!("/v1/kv/k?token={t}")).status, 200);
    // Another scheme is no token at all: the anonymous token, denied.
    assert_eq!(get(&[("Authorization", &basic)], "/v1/kv/k").status, 403);
    let r = get(
        &[("X-Consul-Token", "4b9d8c0e-0000-4000-8000-000000000000")],
        "/v1/kv/k",
    );
    assert_eq!(r.status, 403);
    assert_eq!(r.text().trim(), "ACL not found");
    // The query token wins over the header, as in Consul.
    let r = get(
        &[("X-Consul-Token", "nope")],
        &format!("/v1/kv/k?token={t}"),
    );
    assert_eq!(r.status, 200);

    let log = a.log_text();
    assert!(!log.contains(&t), "a token secret was logged");
    assert!(!log.contains(MGMT), "the management secret was logged");
}

#[test]
fn a_client_agent_forwards_the_callers_token_and_the_server_decides() {
    let cfg = config_file(
        "acl-fwd",
        &json!({"acl": {"enabled": true, "default_policy": "deny",
                        "tokens": {"initial_management": MGMT, "agent": MGMT}}})
        .to_string(),
    );
    let cfg = cfg.display().to_string();
    let mut server = Agent::launch(
        "acl-fwd-server",
        &[
            "-server",
            "-bootstrap",
            "-data-dir",
            "{dir}/data",
            "-config-file",
            &cfg,
        ],
    );
    server.token = Some(MGMT.into());
    server.wait_ready();
    // The client agent's own token may write its node and read services, nothing more:
    // its services reach the catalog with the tokens they were registered with.
    let agent_secret = "7c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e";
    let p = json!({"Name": "client-agent", "Rules":
        "node \"acl-fwd-client\" { policy = \"write\" }\nservice_prefix \"\" { policy = \"read\" }"});
    ok(
        server.call("PUT", "/v1/acl/policy", p.to_string().as_bytes(), MGMT),
        "agent policy",
    );
    let t = json!({"SecretID": agent_secret, "Policies": [{"Name": "client-agent"}]});
    ok(
        server.call("PUT", "/v1/acl/token", t.to_string().as_bytes(), MGMT),
        "agent token",
    );
    let client_cfg = config_file(
        "acl-fwd-client",
        &json!({"acl": {"enabled": true, "default_policy": "deny",
                        "tokens": {"agent": agent_secret}},
                "ae_interval": "1s"})
        .to_string(),
    );
    let cfg = client_cfg.display().to_string();
    let join = format!("127.0.0.1:{}", server.serf_port());
    let mut client = Agent::launch(
        "acl-fwd-client",
        &[
            "-data-dir",
            "{dir}/data",
            "-join",
            &join,
            "-config-file",
            &cfg,
        ],
    );
    client.token = Some(MGMT.into());
    client.wait_ready();

    let t = token_with(
        &server,
        "web-writer",
        "key_prefix \"web/\" { policy = \"write\" }\nservice \"web\" { policy = \"write\" }\nnode_prefix \"\" { policy = \"read\" }\nservice_prefix \"\" { policy = \"read\" }",
    );
    // Forwarded writes and reads are decided with the caller's token on the server.
    assert_eq!(client.put("/v1/kv/web/a", b"1").status, 403);
    ok(
        client.call("PUT", "/v1/kv/web/a", b"1", &t),
        "forwarded put",
    );
    assert_eq!(client.call("PUT", "/v1/kv/db/a", b"1", &t).status, 403);
    let r = http_full(
        client.http,
        "GET",
        &format!("/v1/kv/web/a?token={t}"),
        b"",
        &[],
        Duration::from_secs(10),
    )
    .unwrap();
    assert_eq!(r.status, 200);
    // The client agent's own endpoints resolve the token through a server.
    register(&client, "web", &t);
    let body = json!({"Name": "db", "Port": 5432}).to_string();
    assert_eq!(
        client
            .call("PUT", "/v1/agent/service/register", body.as_bytes(), &t)
            .status,
        403
    );
    let r = ok(
        client.call("GET", "/v1/agent/services", b"", &t),
        "services",
    );
    assert!(r.json().get("web").is_some());
    assert_eq!(client.get("/v1/agent/services").json(), json!({}));
    // Anti-entropy carries the service to the catalog.
    wait_for("web in the catalog", Duration::from_secs(30), || {
        let r = server.call("GET", "/v1/catalog/service/web", b"", &t);
        (r.json().as_array()?.len() == 1).then_some(())
    });
    let unknown = "0d3c9b1e-1111-4222-8333-944455556666";
    let r = client.call("GET", "/v1/agent/services", b"", unknown);
    assert_eq!(r.status, 403);
    assert_eq!(r.text().trim(), "ACL not found");

    // The registration token outlives a restart: with the service removed from the
    // catalog behind the agent's back, anti-entropy puts it back with that token (the
    // agent's own token may not write it).
    client.terminate();
    client.restart();
    let dereg = json!({"Node": "acl-fwd-client", "ServiceID": "web"}).to_string();
    ok(
        server.call("PUT", "/v1/catalog/deregister", dereg.as_bytes(), MGMT),
        "catalog deregister",
    );
    wait_for(
        "web back in the catalog after a restart",
        Duration::from_secs(30),
        || {
            let r = server.call("GET", "/v1/catalog/service/web", b"", &t);
            (r.json().as_array()?.len() == 1).then_some(())
        },
    );
}

#[test]
fn security_settings_disco_cannot_honour_stop_the_agent() {
    for (json, key) in [
        (
            r#"{"verify_incoming": true}"#,
            "VerifyIncoming set, and no CA certificate provided!",
        ),
        (r#"{"auto_encrypt": {"tls": true}}"#, "auto_encrypt"),
        (r#"{"tls": {"https": {"cert_file": "/x.pem"}}}"#, "tls"),
        (r#"{"ports": {"https": 8501}}"#, "ports.https"),
        (r#"{"acl": {"enabled": true, "tokenz": {}}}"#, "acl.tokenz"),
    ] {
        let cfg = config_file("acl-fail-closed", json);
        let cfg = cfg.display().to_string();
        let (mut cmd, dir) = raw_agent(
            "acl-fail-closed",
            &["-server", "-bootstrap", "-config-file", &cfg],
        );
        let out = cmd.output().expect("run disco");
        let _ = std::fs::remove_dir_all(dir);
        assert_eq!(out.status.code(), Some(1), "{json}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(key), "{json}: {err}");
    }
}

#[test]
fn script_checks_warn_without_acls_and_need_service_write_with_them() {
    let cfg = config_file("acl-script", r#"{"enable_script_checks": true}"#);
    let cfg = cfg.display().to_string();
    let a = Agent::start("acl-script", &["-dev", "-config-file", &cfg]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !a.log_text().contains("[SECURITY]") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(a.log_text().contains("[SECURITY]"), "{}", a.log_text());

    // With ACLs (default deny) a caller without service:write cannot register a script.
    let cfg = config_file(
        "acl-script-deny",
        &json!({"enable_script_checks": true,
                "acl": {"enabled": true, "default_policy": "deny",
                        "tokens": {"initial_management": MGMT}}})
        .to_string(),
    );
    let cfg = cfg.display().to_string();
    let mut b = Agent::launch("acl-script-deny", &["-dev", "-config-file", &cfg]);
    b.token = Some(MGMT.into());
    b.wait_ready();
    assert!(!b.log_text().contains("[SECURITY]"));
    let marker = b.dir().join("ran");
    let body = json!({"Name": "evil", "Check": {
        "Args": ["/bin/sh", "-c", format!("touch {}", marker.display())], "Interval": "100ms"}});
    let r = b.put("/v1/agent/service/register", body.to_string().as_bytes());
    assert_eq!(r.status, 403, "{}", r.text());
    std::thread::sleep(Duration::from_millis(500));
    assert!(!marker.exists(), "a refused script check ran");
}

#[test]
fn a_transaction_is_checked_operation_by_operation() {
    let a = acl_dev("acl-txn", "deny");
    let t = token_with(&a, "txn-app", "key_prefix \"app/\" { policy = \"write\" }");
    let b64 = |s: &str| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode(s)
    };
    let ops = json!([
        {"KV": {"Verb": "set", "Key": "app/a", "Value": b64("1")}},
        {"KV": {"Verb": "set", "Key": "other/b", "Value": b64("2")}},
        {"KV": {"Verb": "delete-tree", "Key": ""}},
    ]);
    let r = a.call("PUT", "/v1/txn", ops.to_string().as_bytes(), &t);
    assert_eq!(r.status, 409, "{}", r.text());
    let errors = r.json()["Errors"].clone();
    let denied: Vec<u64> = errors
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["OpIndex"].as_u64().unwrap())
        .collect();
    assert_eq!(denied, [1, 2], "{errors}");
    assert_eq!(errors[0]["What"], "Permission denied");
    // Nothing of the refused transaction was written.
    assert_eq!(a.call("GET", "/v1/kv/app/a", b"", MGMT).status, 404);
    let ok_ops = json!([{"KV": {"Verb": "set", "Key": "app/a", "Value": b64("1")}}]);
    let r = a.call("PUT", "/v1/txn", ok_ops.to_string().as_bytes(), &t);
    assert_eq!(r.status, 200, "{}", r.text());
    // A catalog operation needs the node's and the service's rights.
    let reg = json!([{"Service": {"Verb": "set", "Node": "acl-txn",
                                  "Service": {"ID": "x", "Service": "x"}}}]);
    assert_eq!(
        a.call("PUT", "/v1/txn", reg.to_string().as_bytes(), &t)
            .status,
        409
    );
}

#[test]
fn a_blocking_read_never_answers_with_rights_revoked_while_it_waited() {
    let a = acl_dev("acl-revoke", "deny");
    let t = token_with(
        &a,
        "pub-reader",
        "key_prefix \"pub/\" { policy = \"read\" }",
    );
    ok(a.call("PUT", "/v1/kv/pub/x", b"1", MGMT), "seed");
    let r = ok(a.call("GET", "/v1/kv/pub/?recurse", b"", &t), "first read");
    let index: u64 = r.header("X-Consul-Index").unwrap().parse().unwrap();
    let (port, secret) = (a.http, t.clone());
    let waiter = std::thread::spawn(move || {
        let path = format!("/v1/kv/pub/?recurse&index={index}&wait=20s");
        http_full(
            port,
            "GET",
            &path,
            b"",
            &[("X-Consul-Token", &secret)],
            Duration::from_secs(40),
        )
        .expect("blocking read")
    });
    std::thread::sleep(Duration::from_millis(300));
    // Take the token's only policy away, then change what it was watching.
    let accessor = ok(a.call("GET", "/v1/acl/token/self", b"", &t), "self").json()["AccessorID"]
        .as_str()
        .unwrap()
        .to_string();
    ok(
        a.call(
            "PUT",
            &format!("/v1/acl/token/{accessor}"),
            br#"{"Description":"revoked"}"#,
            MGMT,
        ),
        "revoke",
    );
    ok(a.call("PUT", "/v1/kv/pub/y", b"2", MGMT), "write");
    let r = waiter.join().expect("waiter");
    assert_eq!(r.status, 404, "a revoked token read: {}", r.text());
}

#[test]
fn the_acl_cli_speaks_consul_s_flags_and_output() {
    let a = acl_dev("acl-cli", "deny");
    let rules = a.dir().join("app.hcl");
    std::fs::write(&rules, "key_prefix \"app/\" { policy = \"write\" }\n").unwrap();
    let rules_arg = format!("@{}", rules.display());
    let (code, out, err) = support::cli(
        a.http,
        &[
            "acl", "policy", "create", "-token", MGMT, "-name", "app", "-rules", &rules_arg,
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("Name:         app"), "{out}");
    assert!(out.contains("key_prefix \"app/\""), "{out}");

    let (code, out, err) = support::cli(
        a.http,
        &[
            "acl",
            "token",
            "create",
            "-token",
            MGMT,
            "-description",
            "deployer",
            "-policy-name",
            "app",
            "-service-identity",
            "web:dc1",
            "-format",
            "json",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let t: serde_json::Value = serde_json::from_str(&out).expect("json");
    let secret = t["SecretID"].as_str().unwrap().to_string();
    assert_eq!(t["Policies"][0]["Name"], "app");
    assert_eq!(t["ServiceIdentities"][0]["ServiceName"], "web");

    // The token from the environment, as Consul's CLI takes it.
    let out = std::process::Command::new(support::bin())
        .args(["acl", "token", "read", "-self"])
        .env("CONSUL_HTTP_ADDR", format!("127.0.0.1:{}", a.http))
        .env("CONSUL_HTTP_TOKEN", &secret)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("Description:      deployer"), "{text}");
    assert!(text.contains("Policies:\n   "), "{text}");
    assert!(text.contains(" - app\n"), "{text}");
    assert!(text.contains("web (Datacenters: dc1)"), "{text}");

    // The token writes through `disco kv` too, and is refused elsewhere with Consul's words.
    let (code, _, err) = support::cli(a.http, &["kv", "put", "-token", &secret, "app/x", "1"]);
    assert_eq!(code, 0, "{err}");
    let (code, _, err) = support::cli(a.http, &["kv", "put", "-token", &secret, "db/x", "1"]);
    assert_eq!(code, 1);
    assert!(err.contains("Permission denied"), "{err}");

    // Bootstrapping again names the reset index.
    let (code, _, err) = support::cli(a.http, &["acl", "bootstrap"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("Failed ACL bootstrapping: Unexpected response code: 403 (Permission denied: ACL bootstrap no longer allowed (reset index: "),
        "{err}"
    );
    let (code, out, err) = support::cli(
        a.http,
        &["acl", "set-agent-token", "-token", MGMT, "default", &secret],
    );
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("ACL token \"default\" set successfully"),
        "{out}"
    );
    // The default token now acts for callers without one.
    assert_eq!(a.put("/v1/kv/app/anon", b"1").status, 200);
}

#[test]
fn a_raw_write_on_the_server_rpc_port_needs_a_token() {
    use disco::rpc::{Pool, Reply, Request};
    use disco::state::{Command, KvOp, Response};
    let a = acl_dev("acl-rpc", "deny");
    let port = a.flag("-server-port").expect("server port").to_string();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let apply = |token: &str| {
        let req = Request::Apply {
            cmd: Command::Kv(KvOp::Set {
                key: "rpc/k".into(),
                value: b"raw".to_vec(),
                flags: 0,
                cas: None,
            }),
            from_server: true,
            token: token.into(),
        };
        rt.block_on(Pool::new().call(addr, req, Duration::from_secs(10)))
            .expect("rpc")
    };
    match apply("") {
        Reply::Applied(Response::Error(e)) => assert!(e.starts_with("Permission denied"), "{e}"),
        other => panic!("a write without a token was not refused: {other:?}"),
    }
    assert_eq!(a.call("GET", "/v1/kv/rpc/k", b"", MGMT).status, 404);
    match apply(MGMT) {
        Reply::Applied(Response::Bool(true)) => {}
        other => panic!("the management token's write failed: {other:?}"),
    }
    assert_eq!(a.call("GET", "/v1/kv/rpc/k?raw", b"", MGMT).text(), "raw");

    // The anti-entropy read of a node's entries needs node read, and shows only the
    // services the token may read.
    register(&a, "visible", MGMT);
    register(&a, "hidden", MGMT);
    let node_reader = token_with(
        &a,
        "node-reader",
        "node_prefix \"\" { policy = \"read\" }\nservice \"visible\" { policy = \"read\" }",
    );
    wait_for(
        "both services in the catalog",
        Duration::from_secs(30),
        || {
            let r = a.call("GET", "/v1/catalog/node/acl-rpc", b"", MGMT);
            (r.json()["Services"].as_object()?.len() >= 2).then_some(())
        },
    );
    let entries = |token: &str| {
        let req = Request::NodeEntries {
            node: "acl-rpc".into(),
            token: token.into(),
        };
        rt.block_on(Pool::new().call(addr, req, Duration::from_secs(10)))
    };
    let err = entries("").expect_err("an anonymous read is refused");
    assert!(err.to_string().contains("Permission denied"), "{err}");
    match entries(&node_reader).expect("node read") {
        Reply::NodeEntries(services, _) => {
            let names: Vec<&str> = services.iter().map(|s| s.service.as_str()).collect();
            assert!(
                names.contains(&"visible") && !names.contains(&"hidden"),
                "{names:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
}

/// A prepared query that stores a token runs with it: the anonymous caller, who may read
/// nothing under default deny, gets the instances the token may see. Without a stored
/// token the caller's own rights decide, and only a management token reads the token back.
#[test]
fn a_prepared_query_runs_with_its_stored_token() {
    let a = acl_dev("acl-query-token", "deny");
    register(&a, "web", MGMT);
    let reader = token_with(
        &a,
        "web-reader",
        r#"service "web" { policy = "read" } node_prefix "" { policy = "read" } query_prefix "" { policy = "write" }"#,
    );
    let def = |name: &str, token: &str| {
        json!({"Name": name, "Token": token, "Service": {"Service": "web"}}).to_string()
    };
    let with_token = ok(
        a.call(
            "POST",
            "/v1/query",
            def("web-as-reader", &reader).as_bytes(),
            &reader,
        ),
        "create with a token",
    )
    .json()["ID"]
        .as_str()
        .expect("ID")
        .to_string();
    ok(
        a.call(
            "POST",
            "/v1/query",
            def("web-as-caller", "").as_bytes(),
            &reader,
        ),
        "create without one",
    );
    let nodes = |name: &str, token: &str| {
        let r = ok(
            a.call("GET", &format!("/v1/query/{name}/execute"), b"", token),
            "execute",
        );
        r.json()["Nodes"].as_array().map(Vec::len).unwrap_or(99)
    };
    assert_eq!(
        nodes("web-as-reader", "anonymous"),
        1,
        "the stored token decides"
    );
    assert_eq!(nodes("web-as-caller", "anonymous"), 0, "the caller decides");
    assert_eq!(nodes("web-as-caller", &reader), 1);
    let seen = |token: &str| {
        a.call("GET", &format!("/v1/query/{with_token}"), b"", token)
            .json()[0]["Token"]
            .clone()
    };
    assert_eq!(seen(&reader), "<hidden>");
    assert_eq!(seen(MGMT), reader.as_str());
}
