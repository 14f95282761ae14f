//! Health checks against real targets on loopback: a small HTTP server, a TCP listener and
//! shell scripts, each driven through every status transition an operator relies on.

mod support;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::time::Duration;

use serde_json::{Value, json};
use support::{Agent, cli, config_file, free_port, wait_for};

const WAIT: Duration = Duration::from_secs(20);

/// An HTTP backend on loopback answering every request with the status code it is set to;
/// `stop` closes its listening socket so connections are refused.
struct Backend {
    port: u16,
    code: Arc<AtomicU16>,
    running: Arc<AtomicBool>,
}

impl Backend {
    fn start(port: u16, code: u16) -> Backend {
        let listener = TcpListener::bind(("127.0.0.1", port)).expect("bind backend");
        listener.set_nonblocking(true).expect("nonblocking");
        let code = Arc::new(AtomicU16::new(code));
        let running = Arc::new(AtomicBool::new(true));
        let (c, r) = (code.clone(), running.clone());
        std::thread::spawn(move || {
            while r.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut s, _)) => {
                        let _ = s.set_nonblocking(false);
                        let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                        let mut buf = [0u8; 4096];
                        let _ = s.read(&mut buf);
                        let code = c.load(Ordering::SeqCst);
                        let body = format!("backend says {code}");
                        let _ = write!(
                            s,
                            "HTTP/1.1 {code} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Backend {
            port,
            code,
            running,
        }
    }

    fn set(&self, code: u16) {
        self.code.store(code, Ordering::SeqCst);
    }

    fn stop(self) -> u16 {
        self.running.store(false, Ordering::SeqCst);
        // The accept loop notices within a few milliseconds and drops the listener.
        std::thread::sleep(Duration::from_millis(50));
        self.port
    }
}

fn local_check(a: &Agent, id: &str) -> Option<Value> {
    let v = a.get("/v1/agent/checks").json();
    v.get(id).cloned()
}

fn wait_status(a: &Agent, id: &str, want: &str) -> Value {
    wait_for(&format!("{id} {want}"), WAIT, || {
        local_check(a, id).filter(|c| c["Status"] == want)
    })
}

/// The catalog's view (what discovery clients see), not the agent's.
fn catalog_status(a: &Agent, service: &str, check_id: &str) -> Option<String> {
    let v = a.get(&format!("/v1/health/checks/{service}")).json();
    v.as_array()?
        .iter()
        .find(|c| c["CheckID"] == check_id)
        .and_then(|c| c["Status"].as_str().map(String::from))
}

fn passing_instances(a: &Agent, service: &str) -> usize {
    a.get(&format!("/v1/health/service/{service}?passing"))
        .json()
        .as_array()
        .map_or(0, Vec::len)
}

fn register(a: &Agent, body: Value) {
    let r = a.put("/v1/agent/service/register", body.to_string().as_bytes());
    assert_eq!(r.status, 200, "{}", r.text());
}

#[test]
fn http_check_follows_the_backend_and_discovery_follows_the_check() {
    let a = Agent::dev("chk-http");
    let backend = Backend::start(free_port(), 200);
    let url = format!("http://127.0.0.1:{}/health", backend.port);
    register(
        &a,
        json!({"Name": "web", "Port": backend.port, "Check": {"HTTP": url, "Interval": "1s"}}),
    );
    // New checks start critical, then the first run passes.
    let c = wait_status(&a, "service:web", "passing");
    assert_eq!(
        c["Output"],
        format!("HTTP GET {url}: 200 OK Output: backend says 200")
    );
    assert_eq!(c["Type"], "http");
    wait_for("catalog passing", WAIT, || {
        (catalog_status(&a, "web", "service:web").as_deref() == Some("passing")).then_some(())
    });
    assert_eq!(passing_instances(&a, "web"), 1);

    backend.set(429);
    wait_status(&a, "service:web", "warning");
    // `?passing` drops warning instances too.
    wait_for("warning leaves ?passing", WAIT, || {
        (passing_instances(&a, "web") == 0).then_some(())
    });
    assert_eq!(
        a.get("/v1/agent/health/service/name/web?format=text")
            .status,
        429
    );

    backend.set(503);
    wait_status(&a, "service:web", "critical");
    wait_for("health/state/critical lists it", WAIT, || {
        let v = a.get("/v1/health/state/critical").json();
        v.as_array()?
            .iter()
            .any(|c| c["CheckID"] == "service:web")
            .then_some(())
    });

    backend.set(200);
    wait_status(&a, "service:web", "passing");
    wait_for("back in ?passing", WAIT, || {
        (passing_instances(&a, "web") == 1).then_some(())
    });

    // A stopped backend: connection refused is critical, with the error as output.
    let port = backend.stop();
    let c = wait_status(&a, "service:web", "critical");
    let out = c["Output"].as_str().unwrap_or_default().to_string();
    assert!(out.starts_with(&format!("Get \"{url}\": ")), "{out}");
    wait_for("stopped backend leaves ?passing", WAIT, || {
        (passing_instances(&a, "web") == 0).then_some(())
    });
    let _backend = Backend::start(port, 200);
    wait_status(&a, "service:web", "passing");
    wait_for("restarted backend returns", WAIT, || {
        (passing_instances(&a, "web") == 1).then_some(())
    });
}

#[test]
fn tcp_checks_and_flap_damping() {
    let a = Agent::dev("chk-tcp");
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let addr = format!("127.0.0.1:{port}");
    register(
        &a,
        json!({"Name": "db", "Check": {"TCP": addr, "Interval": "1s", "Timeout": "1s"}}),
    );
    let c = wait_status(&a, "service:db", "passing");
    assert_eq!(c["Output"], format!("TCP connect {addr}: Success"));
    drop(listener);
    let c = wait_status(&a, "service:db", "critical");
    assert!(
        c["Output"]
            .as_str()
            .unwrap_or_default()
            .contains("connection refused"),
        "{c}"
    );
    let _listener = TcpListener::bind(&addr).unwrap();
    wait_status(&a, "service:db", "passing");

    // FailuresBeforeWarning 1 and FailuresBeforeCritical 3: a failing backend is first
    // reported as warning, and only later as critical; SuccessBeforePassing 2 holds the
    // recovery back for one run.
    let backend = Backend::start(free_port(), 200);
    let url = format!("http://127.0.0.1:{}/", backend.port);
    register(
        &a,
        json!({"Name": "damped", "Check": {"HTTP": url, "Interval": "1s",
            "FailuresBeforeWarning": 1, "FailuresBeforeCritical": 3, "SuccessBeforePassing": 2}}),
    );
    wait_status(&a, "service:damped", "passing");
    backend.set(500);
    let mut seen = Vec::new();
    wait_for("damped check critical", WAIT, || {
        let s = local_check(&a, "service:damped")?["Status"]
            .as_str()?
            .to_string();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        (s == "critical").then_some(())
    });
    assert_eq!(seen, ["passing", "warning", "critical"]);
    backend.set(200);
    let mut seen = Vec::new();
    wait_for("damped check passing", WAIT, || {
        let c = local_check(&a, "service:damped")?;
        let s = c["Status"].as_str()?.to_string();
        if seen.last() != Some(&s) {
            seen.push(s.clone());
        }
        (s == "passing").then_some(())
    });
    assert_eq!(seen, ["critical", "passing"]);
}

fn script(dir: &std::path::Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p.display().to_string()
}

#[test]
fn script_checks_map_exit_codes_and_capture_output() {
    let a = Agent::start("chk-script", &["-dev", "-enable-script-checks"]);
    let dir = a.dir().to_path_buf();
    let cases = [
        ("ok", "echo all good; exit 0", "passing"),
        ("degraded", "echo to stderr >&2; exit 1", "warning"),
        ("broken", "exit 2", "critical"),
        ("killed", "kill -9 $$", "critical"),
    ];
    for (name, body, _) in &cases {
        let path = script(&dir, &format!("{name}.sh"), body);
        let r = a.put(
            "/v1/agent/check/register",
            json!({"Name": name, "Args": [path], "Interval": "1s", "Status": if *name == "broken" { "passing" } else { "critical" }})
                .to_string()
                .as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.text());
    }
    for (name, _, want) in &cases {
        let c = wait_status(&a, name, want);
        assert_eq!(c["Type"], "script");
        if *name == "ok" {
            assert_eq!(c["Output"], "all good\n");
        }
        if *name == "degraded" {
            assert_eq!(c["Output"], "to stderr\n");
        }
    }
    // Output beyond OutputMaxSize keeps the tail, and says so.
    let path = script(&dir, "chatty.sh", "seq 1 1000; exit 0");
    let r = a.put(
        "/v1/agent/check/register",
        json!({"Name": "chatty", "Args": [path], "Interval": "1s", "OutputMaxSize": 10})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = wait_status(&a, "chatty", "passing");
    assert_eq!(c["Output"], "Captured 10 of 3893 bytes\n...\n\n999\n1000\n");
    // A script that overruns its timeout is killed (with what it started) and critical.
    let marker = dir.join("survived");
    let path = script(
        &dir,
        "slow.sh",
        &format!(
            "echo started; (sleep 3; touch {}) & sleep 30",
            marker.display()
        ),
    );
    let r = a.put(
        "/v1/agent/check/register",
        json!({"Name": "slow", "Args": [path], "Interval": "10s", "Timeout": "500ms", "Status": "passing"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    let c = wait_status(&a, "slow", "critical");
    assert_eq!(c["Output"], "Timed out (500ms) running check\n\nstarted\n");
    std::thread::sleep(Duration::from_secs(4));
    assert!(
        !marker.exists(),
        "the timed-out script's children were not killed"
    );
}

#[test]
fn script_checks_need_their_flags() {
    let a = Agent::dev("chk-noscript");
    let r = a.put(
        "/v1/agent/check/register",
        br#"{"Name":"s","Args":["/bin/true"],"Interval":"1s"}"#,
    );
    assert_eq!(r.status, 400);
    assert!(r.text().contains("enable_script_checks"), "{}", r.text());
    let r = a.put(
        "/v1/agent/service/register",
        br#"{"Name":"s","Check":{"Args":["/bin/true"],"Interval":"1s"}}"#,
    );
    assert_eq!(r.status, 400);
    assert!(a.get("/v1/agent/services").json().get("s").is_none());

    // A script check in a config file needs enable_local_script_checks: without it the
    // agent refuses to start and names the definition.
    let cfg = config_file(
        "chk-noscript-cfg",
        r#"{"service":{"name":"job","check":{"args":["/bin/true"],"interval":"1s"}}}"#,
    );
    let (mut cmd, _dir) = support::raw_agent(
        "chk-noscript-cfg",
        &["-config-file", &cfg.display().to_string()],
    );
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run agent");
    let status = wait_for("agent refuses to start", WAIT, || {
        child.try_wait().ok().flatten()
    });
    assert_eq!(status.code(), Some(1));
    let out = child.wait_with_output().expect("agent output");
    let err =
        String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout);
    assert!(
        err.contains("service") && err.contains("enable_script_checks"),
        "{err}"
    );

    // With it, the config's script check runs, while the HTTP API still refuses scripts.
    let cfg = config_file(
        "chk-localscript",
        r#"{"enable_local_script_checks": true,
            "service":{"name":"job","check":{"args":["/bin/sh","-c","exit 1"],"interval":"1s"}}}"#,
    );
    let b = Agent::start(
        "chk-localscript",
        &["-dev", "-config-file", &cfg.display().to_string()],
    );
    wait_status(&b, "service:job", "warning");
    let r = b.put(
        "/v1/agent/check/register",
        br#"{"Name":"s","Args":["/bin/true"],"Interval":"1s"}"#,
    );
    assert_eq!(r.status, 400);
}

#[test]
fn ttl_checks_expire_and_keep_the_last_output() {
    let a = Agent::dev("chk-ttl");
    register(&a, json!({"Name": "job", "Check": {"TTL": "300ms"}}));
    let r = a.put("/v1/agent/check/pass/service:job?note=working", b"");
    assert_eq!(r.status, 200);
    let c = local_check(&a, "service:job").unwrap();
    assert_eq!(
        (c["Status"].as_str(), c["Output"].as_str()),
        (Some("passing"), Some("working"))
    );
    assert_eq!(
        catalog_status(&a, "job", "service:job").as_deref(),
        Some("passing")
    );
    let c = wait_status(&a, "service:job", "critical");
    assert_eq!(
        c["Output"],
        "TTL expired (last output before timeout follows): working"
    );
    wait_for("catalog sees the expiry", WAIT, || {
        (catalog_status(&a, "job", "service:job").as_deref() == Some("critical")).then_some(())
    });
    let r = a.put(
        "/v1/agent/check/update/service:job",
        br#"{"Status":"warning","Output":"slow"}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(local_check(&a, "service:job").unwrap()["Status"], "warning");
    let r = a.put(
        "/v1/agent/check/update/service:job",
        br#"{"Status":"fine"}"#,
    );
    assert_eq!(r.status, 400);
    assert_eq!(r.text().trim(), "Invalid check status: 'fine'");

    // A node-level check counts for every service of the node.
    register(
        &a,
        json!({"Name": "other", "Check": {"TTL": "1h", "Status": "passing"}}),
    );
    let r = a.put(
        "/v1/agent/check/register",
        br#"{"Name":"disk","TTL":"1h","Status":"passing"}"#,
    );
    assert_eq!(r.status, 200);
    assert_eq!(passing_instances(&a, "other"), 1);
    a.put("/v1/agent/check/fail/disk?note=full", b"");
    assert_eq!(passing_instances(&a, "other"), 0);
    let entry = a.get("/v1/health/service/other").json();
    let ids: Vec<&str> = entry[0]["Checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|c| c["CheckID"].as_str())
        .collect();
    assert_eq!(ids, ["disk", "serfHealth", "service:other"]);
}

#[test]
fn maintenance_mode_takes_instances_out_of_discovery() {
    let a = Agent::dev("chk-maint");
    register(
        &a,
        json!({"ID": "web1", "Name": "web", "Check": {"TTL": "1h", "Status": "passing"}}),
    );
    assert_eq!(passing_instances(&a, "web"), 1);
    let r = a.put("/v1/agent/service/maintenance/web1", b"");
    assert_eq!(
        (r.status, r.text().trim()),
        (400, "Missing value for enable")
    );
    let r = a.put("/v1/agent/service/maintenance/nope?enable=true", b"");
    assert_eq!(r.status, 404);

    let (code, out, err) = cli(
        a.http,
        &[
            "maint",
            "-enable",
            "-service",
            "web1",
            "-reason",
            "deploy 42",
        ],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        out.trim(),
        "Service maintenance is now enabled for \"web1\""
    );
    let c = local_check(&a, "_service_maintenance:web1").expect("maintenance check");
    assert_eq!(
        (c["Status"].as_str(), c["Notes"].as_str()),
        (Some("critical"), Some("deploy 42"))
    );
    assert_eq!(passing_instances(&a, "web"), 0);
    let r = a.get("/v1/agent/health/service/id/web1");
    assert_eq!(r.status, 503);
    assert_eq!(r.json()["AggregatedStatus"], "maintenance");
    // Registering the service again (a redeploy) keeps it in maintenance.
    register(
        &a,
        json!({"ID": "web1", "Name": "web", "Check": {"TTL": "1h", "Status": "passing"}}),
    );
    assert!(local_check(&a, "_service_maintenance:web1").is_some());

    let (code, out, _) = cli(a.http, &["maint", "-enable"]);
    assert_eq!((code, out.trim()), (0, "Node maintenance is now enabled"));
    let (code, out, _) = cli(a.http, &["maint"]);
    assert_eq!(code, 0);
    assert!(
        out.contains(
            "Node:\n  Name:   chk-maint\n  Reason: Maintenance mode is enabled for this node"
        ),
        "{out}"
    );
    assert!(
        out.contains("Service:\n  ID:     web1\n  Reason: deploy 42"),
        "{out}"
    );

    let (code, _, _) = cli(a.http, &["maint", "-disable", "-service", "web1"]);
    assert_eq!(code, 0);
    // The node is still in maintenance: nothing on it passes.
    assert_eq!(passing_instances(&a, "web"), 0);
    let (code, out, _) = cli(a.http, &["maint", "-disable"]);
    assert_eq!((code, out.trim()), (0, "Node maintenance is now disabled"));
    assert_eq!(passing_instances(&a, "web"), 1);
    let (code, _, err) = cli(a.http, &["maint", "-enable", "-disable"]);
    assert_eq!(code, 1);
    assert!(err.contains("Only one of -enable or -disable"), "{err}");
}

#[test]
fn services_critical_too_long_are_deregistered() {
    let cfg = config_file(
        "chk-reap",
        r#"{"check_reap_interval": "200ms", "check_deregister_interval_min": "0s"}"#,
    );
    let a = Agent::start(
        "chk-reap",
        &["-dev", "-config-file", &cfg.display().to_string()],
    );
    let closed = free_port();
    register(
        &a,
        json!({"Name": "doomed", "Check": {"TCP": format!("127.0.0.1:{closed}"), "Interval": "1s",
            "DeregisterCriticalServiceAfter": "1s"}}),
    );
    register(&a, json!({"Name": "kept", "Check": {"TTL": "1h"}}));
    wait_for("doomed service reaped", WAIT, || {
        a.get("/v1/agent/services")
            .json()
            .get("doomed")
            .is_none()
            .then_some(())
    });
    wait_for("catalog forgets it", WAIT, || {
        a.get("/v1/catalog/service/doomed")
            .json()
            .as_array()
            .is_some_and(|v| v.is_empty())
            .then_some(())
    });
    // Critical without DeregisterCriticalServiceAfter: stays.
    assert!(a.get("/v1/agent/services").json().get("kept").is_some());
}

#[test]
fn reload_applies_added_changed_and_removed_definitions() {
    let dir =
        std::env::temp_dir().join(format!("disco-test-chk-reload-cfg-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let write = |name: &str, body: &str| std::fs::write(dir.join(name), body).unwrap();
    write(
        "a.json",
        r#"{"service": {"name": "alpha", "port": 1000, "tags": ["v1"],
            "check": {"ttl": "1h", "status": "passing"}}}"#,
    );
    write(
        "b.json",
        r#"{"services": [{"Name": "beta", "Port": 2000}],
            "checks": [{"name": "node-ttl", "ttl": "1h", "status": "passing"}]}"#,
    );
    let a = Agent::start(
        "chk-reload",
        &["-dev", "-config-dir", &dir.display().to_string()],
    );
    let svcs = a.get("/v1/agent/services").json();
    assert_eq!(svcs["alpha"]["Port"], 1000);
    assert_eq!(svcs["beta"]["Port"], 2000);
    assert!(local_check(&a, "node-ttl").is_some());
    // An API registration is not the config's to remove.
    register(&a, json!({"Name": "by-api"}));

    write(
        "a.json",
        r#"{"service": {"name": "alpha", "port": 1001, "tags": ["v2"],
            "check": {"ttl": "1h", "status": "passing"}}}"#,
    );
    write(
        "b.json",
        r#"{"services": [{"name": "gamma", "port": 3000}]}"#,
    );
    let (code, out, err) = cli(a.http, &["reload"]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Configuration reload triggered");
    let svcs = a.get("/v1/agent/services").json();
    assert_eq!(svcs["alpha"]["Port"], 1001);
    assert_eq!(svcs["alpha"]["Tags"], json!(["v2"]));
    assert!(svcs.get("beta").is_none(), "{svcs}");
    assert_eq!(svcs["gamma"]["Port"], 3000);
    assert!(svcs.get("by-api").is_some());
    assert!(local_check(&a, "node-ttl").is_none());
    assert!(
        a.get("/v1/catalog/service/beta")
            .json()
            .as_array()
            .unwrap()
            .is_empty()
    );

    // A broken file fails the reload and changes nothing.
    write(
        "b.json",
        r#"{"services": [{"name": "delta", "port": "many"}]}"#,
    );
    let (code, _, err) = cli(a.http, &["reload"]);
    assert_eq!(code, 1);
    assert!(err.contains("Error reloading"), "{err}");
    assert!(a.get("/v1/agent/services").json().get("gamma").is_some());

    // SIGHUP reloads too.
    write("b.json", r#"{"services": [{"name": "epsilon"}]}"#);
    let pid = a.child.as_ref().unwrap().id();
    // SAFETY: sending SIGHUP to our own child process.
    unsafe { libc::kill(pid as i32, libc::SIGHUP) };
    wait_for("SIGHUP reload", WAIT, || {
        a.get("/v1/agent/services")
            .json()
            .get("epsilon")
            .map(|_| ())
    });
    assert!(a.get("/v1/agent/services").json().get("gamma").is_none());

    // `disco services register FILE` takes the same format.
    let file = dir.join("extra.json.txt");
    std::fs::write(&file, r#"{"service": {"name": "zeta", "port": 9}}"#).unwrap();
    let (code, out, err) = cli(
        a.http,
        &["services", "register", &file.display().to_string()],
    );
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.trim(), "Registered service: zeta");
}

#[test]
fn anti_entropy_repairs_the_catalog() {
    let cfg = config_file("chk-ae", r#"{"ae_interval": "500ms"}"#);
    let a = Agent::start(
        "chk-ae",
        &["-dev", "-config-file", &cfg.display().to_string()],
    );
    register(
        &a,
        json!({"Name": "web", "Port": 80, "Check": {"TTL": "1h", "Status": "passing"}}),
    );
    // Removed behind the agent's back through the catalog API...
    let r = a.put(
        "/v1/catalog/deregister",
        br#"{"Node":"chk-ae","ServiceID":"web"}"#,
    );
    assert_eq!(r.status, 200);
    // ...it comes back with its check, because the agent owns it.
    wait_for("service restored", WAIT, || {
        let v = a.get("/v1/health/service/web").json();
        let checks = v.as_array()?.first()?["Checks"].as_array()?.clone();
        checks
            .iter()
            .any(|c| c["CheckID"] == "service:web" && c["Status"] == "passing")
            .then_some(())
    });
}

#[test]
fn client_checks_reach_the_catalog_across_a_server_restart() {
    let mut server = Agent::server("chk-srv");
    let cfg = config_file("chk-cli", r#"{"ae_interval": "1s"}"#);
    let client = Agent::client(
        "chk-cli",
        server.serf_port(),
        &["-config-file", &cfg.display().to_string()],
    );
    let backend = Backend::start(free_port(), 200);
    register(
        &client,
        json!({"Name": "api", "Check": {"HTTP": format!("http://127.0.0.1:{}/", backend.port), "Interval": "1s"}}),
    );
    wait_for("server sees passing", WAIT, || {
        (catalog_status(&server, "api", "service:api").as_deref() == Some("passing")).then_some(())
    });
    // The status changes while the only server is down; once it is back, the catalog
    // catches up without any further change on the client.
    server.kill9();
    backend.set(500);
    wait_status(&client, "service:api", "critical");
    server.restart();
    wait_for("server sees critical", Duration::from_secs(40), || {
        (catalog_status(&server, "api", "service:api").as_deref() == Some("critical")).then_some(())
    });
}
