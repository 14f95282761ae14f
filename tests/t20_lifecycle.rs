//! Restarts, crashes and the command line.

mod support;

use serde_json::json;
use support::{Agent, cli};

#[test]
fn kill9_loses_no_acknowledged_write() {
    let mut a = Agent::server("t20a");
    for i in 0..50 {
        assert_eq!(
            a.put(&format!("/v1/kv/k{i}"), format!("v{i}").as_bytes())
                .json(),
            json!(true)
        );
    }
    let r = a.put(
        "/v1/agent/service/register",
        br#"{"Name":"web","Port":80,"Check":{"TTL":"30s"}}"#,
    );
    assert_eq!(r.status, 200);
    a.kill9();
    a.restart();
    for i in 0..50 {
        assert_eq!(
            a.get(&format!("/v1/kv/k{i}?raw")).text(),
            format!("v{i}"),
            "key k{i} after kill -9"
        );
    }
    // The agent-local registration came back and is in the catalog again.
    assert_eq!(a.get("/v1/agent/services").json()["web"]["Port"], 80);
    support::wait_for("web in catalog", std::time::Duration::from_secs(10), || {
        (a.get("/v1/catalog/service/web").json().as_array()?.len() == 1).then_some(())
    });
}

#[test]
fn sigterm_shuts_down_cleanly_and_restarts() {
    let mut a = Agent::server("t20b");
    a.put("/v1/kv/x", b"1");
    let pid_file = a.dir().join("data").join("..").join("agent.pid");
    let _ = pid_file;
    assert_eq!(
        a.terminate(),
        Some(0),
        "exit code after SIGTERM:\n{}",
        a.log_text()
    );
    a.restart();
    assert_eq!(a.get("/v1/kv/x?raw").text(), "1");
}

#[test]
fn cli_matches_consul() {
    let a = Agent::dev("t20c");
    let p = a.http;
    let (code, out, _) = cli(p, &["kv", "put", "app/config", "hello"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Data written to: app/config\n")
    );
    let (code, out, _) = cli(p, &["kv", "get", "app/config"]);
    assert_eq!((code, out.as_str()), (0, "hello\n"));
    let (code, _, err) = cli(p, &["kv", "get", "nope"]);
    assert_eq!(code, 1);
    assert_eq!(err.trim(), "Error! No key exists at: nope");
    let (code, out, _) = cli(p, &["kv", "get", "-recurse", "app"]);
    assert_eq!((code, out.as_str()), (0, "app/config:hello\n"));
    let (code, out, _) = cli(p, &["kv", "export", "app"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("\t{") && out.contains("\"key\": \"app/config\""),
        "{out}"
    );
    let (code, out, _) = cli(p, &["kv", "delete", "app/config"]);
    assert_eq!(
        (code, out.as_str()),
        (0, "Success! Deleted key: app/config\n")
    );
    let (code, out, _) = cli(
        p,
        &[
            "services",
            "register",
            "-name=web",
            "-port",
            "8080",
            "-tag",
            "v1",
            "-tag=v2",
        ],
    );
    assert_eq!((code, out.as_str()), (0, "Registered service: web\n"));
    let (code, out, _) = cli(p, &["catalog", "services", "-tags"]);
    assert_eq!(code, 0);
    assert_eq!(out, "consul\nweb         v1,v2\n");
    let (code, out, _) = cli(p, &["catalog", "nodes"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("Node  ID  "), "{out}");
    assert!(out.lines().nth(1).unwrap().starts_with("t20c  "), "{out}");
    let (code, out, _) = cli(p, &["services", "deregister", "-id", "web"]);
    assert_eq!((code, out.as_str()), (0, "Deregistered service: web\n"));
    let (code, out, _) = cli(p, &["info"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("consul:\n") && out.contains("\tleader = true"),
        "{out}"
    );
    let (code, out, _) = cli(p, &["members"]);
    assert_eq!(code, 0);
    assert!(
        out.starts_with("Node  ") && out.contains("alive   server"),
        "{out}"
    );
}

#[test]
fn flags_follow_go_rules() {
    let (code, _, err) = cli(1, &["agent", "-dev", "-bogus"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("flag provided but not defined: -bogus"),
        "{err}"
    );
    let (code, _, err) = cli(1, &["kv", "get", "--nope=1", "x"]);
    assert_eq!(code, 1);
    assert!(
        err.contains("flag provided but not defined: -nope"),
        "{err}"
    );
    // A bool flag never takes the next word.
    let (code, _, err) = cli(1, &["agent", "-dev", "true"]);
    assert_eq!(code, 1, "{err}");
    // Unreachable agent names the address.
    let port = support::free_port();
    let (code, _, err) = cli(port, &["kv", "get", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
    let (code, out, _) = cli(1, &["agent", "-h"]);
    assert_eq!(code, 0);
    assert!(
        out.contains("-bootstrap-expect") || out.contains("--bootstrap-expect"),
        "{out}"
    );
    let (code, out, _) = cli(1, &["version"]);
    assert_eq!(code, 0);
    assert!(out.starts_with("disco v"));
}

#[test]
fn config_errors_name_key_and_file() {
    let dir = std::env::temp_dir().join(format!("disco-cfg-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("bad.json");
    std::fs::write(&f, r#"{"ports":{"http":"eighty"}}"#).unwrap();
    let (code, _, err) = cli(1, &["agent", "-dev", "-config-file", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(
        err.contains("bad.json") && err.contains("ports.http"),
        "{err}"
    );
    std::fs::write(&f, "{nope").unwrap();
    let (code, _, err) = cli(1, &["agent", "-dev", "-config-dir", f.to_str().unwrap()]);
    assert_eq!(code, 1);
    assert!(err.contains("bad.json"), "{err}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn config_dir_accepts_a_file_and_warns_on_unknown_keys() {
    let dir = std::env::temp_dir().join(format!("disco-cfg2-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let f = dir.join("consul01.json");
    std::fs::write(&f, r#"{"datacenter":"dc7","log_level":"INFO","ui":true,"bogus_key":1,"acl":{"enabled":false},"primary_datacenter":"dc7"}"#).unwrap();
    let a = Agent::start("t20f", &["-dev", &format!("-config-dir={}", f.display())]);
    assert_eq!(
        a.get("/v1/agent/self").json()["Config"]["Datacenter"],
        "dc7"
    );
    assert!(a.log_text().contains("bogus_key"), "{}", a.log_text());
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn kill9_after_snapshots_and_log_compaction_restarts_with_everything() {
    // Snapshot every 64 entries and keep only 8 after it, so the log is compacted many
    // times; a kill -9 must still restart from the last snapshot plus the log after it.
    let cfg = support::config_file("compact", support::FAST_COMPACTION);
    let cfg_s = cfg.display().to_string();
    let mut a = Agent::start(
        "t20d",
        &[
            "-server",
            "-bootstrap",
            "-data-dir",
            "{dir}/data",
            "-config-file",
            &cfg_s,
        ],
    );
    for round in 0..3 {
        for i in 0..300 {
            assert_eq!(
                a.put(&format!("/v1/kv/c/{round}/{i}"), b"v").json(),
                json!(true)
            );
        }
        // Wait until a snapshot past this round's writes exists (the log before it is purged).
        let target = a.get("/v1/agent/self").json()["Stats"]["raft"]["applied_index"]
            .as_str()
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            .saturating_sub(64);
        support::wait_for("a snapshot", std::time::Duration::from_secs(30), || {
            let s = a.get("/v1/agent/self").json();
            let snap: u64 = s["Stats"]["raft"]["last_snapshot_index"]
                .as_str()?
                .parse()
                .ok()?;
            (snap >= target).then_some(())
        });
        a.kill9();
        a.restart();
        let keys = a.get("/v1/kv/c/?keys").json();
        assert_eq!(
            keys.as_array().map(|k| k.len()),
            Some(300 * (round + 1)),
            "after kill -9 number {}:\n{}",
            round + 1,
            a.log_text()
        );
    }
    let _ = std::fs::remove_file(&cfg);
}
