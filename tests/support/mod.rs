//! Process harness: spawn the real `disco` binary on free loopback ports, wait for a leader,
//! talk HTTP to it, kill -9 and restart it.

#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Path of the binary under test.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_disco"))
}

/// A port free for TCP and UDP on 127.0.0.1, picked below the kernel's ephemeral range
/// (32768 and up): a port the kernel hands out is also what it gives the agents' own
/// outgoing connections, so one could be taken between this check and the agent's bind.
pub fn free_port() -> u16 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    // Spread processes apart; walk a sequence within one.
    let base = 10_000 + (std::process::id() % 2000) * 10;
    for _ in 0..20_000 {
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let port = (base + n * 7919 % 22_000) % 22_000 + 10_000;
        let port = port as u16;
        let tcp = TcpListener::bind(("127.0.0.1", port));
        let udp = std::net::UdpSocket::bind(("127.0.0.1", port));
        if tcp.is_ok() && udp.is_ok() {
            return port;
        }
    }
    panic!("no free port on 127.0.0.1")
}

/// A running agent process.
pub struct Agent {
    pub child: Option<Child>,
    pub http: u16,
    pub args: Vec<String>,
    pub log: PathBuf,
    pub dir: PathBuf,
    /// Token the readiness check reads the catalog with (ACL tests).
    pub token: Option<String>,
}

/// Poll `f` until it returns Some or the deadline passes.
pub fn wait_for<T>(what: &str, timeout: Duration, mut f: impl FnMut() -> Option<T>) -> T {
    let end = Instant::now() + timeout;
    loop {
        if let Some(v) = f() {
            return v;
        }
        if Instant::now() > end {
            panic!("timed out waiting for {what}");
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// A minimal HTTP/1.1 response.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text()))
    }
}

/// One HTTP request over a fresh connection (Connection: close), so tests depend on nothing
/// but the socket.
pub fn http(port: u16, method: &str, path: &str, body: &[u8]) -> std::io::Result<Resp> {
    http_within(port, method, path, body, Duration::from_secs(30))
}

/// [`http`] that gives up after `limit` to connect, send or read (a `TimedOut` or
/// `WouldBlock` error then: no answer in time).
pub fn http_within(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    limit: Duration,
) -> std::io::Result<Resp> {
    http_full(port, method, path, body, &[], limit)
}

/// [`http_within`] with extra request headers (`X-Consul-Token`, `Authorization`).
pub fn http_full(
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
    limit: Duration,
) -> std::io::Result<Resp> {
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut s = TcpStream::connect_timeout(&addr, limit)?;
    s.set_read_timeout(Some(limit))?;
    s.set_write_timeout(Some(limit))?;
    let extra: String = headers
        .iter()
        .map(|(k, v)| format!("{k}: {v}\r\n"))
        .collect();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n{extra}Content-Length: {}\r\n\r\n",
        body.len()
    );
    s.write_all(head.as_bytes())?;
    s.write_all(body)?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw)?;
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| std::io::Error::other("no header end"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.split("\r\n");
    let status: u16 = lines
        .next()
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| {
            l.split_once(':')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        })
        .collect();
    let mut body = raw[split + 4..].to_vec();
    let chunked = headers
        .iter()
        .any(|(k, v)| k.eq_ignore_ascii_case("transfer-encoding") && v.contains("chunked"));
    if chunked {
        body = dechunk(&body);
    }
    Ok(Resp {
        status,
        headers,
        body,
    })
}

/// Undo `Transfer-Encoding: chunked`.
pub fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(pos) = b.windows(2).position(|w| w == b"\r\n") {
        let size =
            usize::from_str_radix(String::from_utf8_lossy(&b[..pos]).trim(), 16).unwrap_or(0);
        if size == 0 || b.len() < pos + 2 + size {
            break;
        }
        let start = pos + 2;
        out.extend_from_slice(&b[start..start + size]);
        b = b.get(start + size + 2..).unwrap_or_default();
    }
    out
}

impl Agent {
    /// Start `disco agent` with `extra` flags; `dev` uses `-dev`, else a server with a data dir.
    /// Waits until the agent knows a leader and its node is in the catalog.
    pub fn start(name: &str, extra: &[&str]) -> Agent {
        // A port picked free can be taken by another test before the agent binds it:
        // then start again on fresh ports.
        for _ in 0..2 {
            let mut a = Agent::launch(name, extra);
            if a.exited_on_a_busy_port() {
                continue;
            }
            a.wait_ready();
            return a;
        }
        let mut a = Agent::launch(name, extra);
        a.wait_ready();
        a
    }

    /// Whether the agent just launched exited because a port was taken (its first
    /// seconds only; an agent that answers HTTP has bound everything).
    fn exited_on_a_busy_port(&mut self) -> bool {
        let end = Instant::now() + Duration::from_secs(3);
        while Instant::now() < end {
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(_)) = c.try_wait()
            {
                return std::fs::read_to_string(&self.log)
                    .unwrap_or_default()
                    .contains("Address already in use");
            }
            if http_within(
                self.http,
                "GET",
                "/v1/status/leader",
                b"",
                Duration::from_secs(2),
            )
            .is_ok()
            {
                return false;
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        false
    }

    /// Start `disco agent` without waiting for a leader (servers that form a cluster together).
    pub fn launch(name: &str, extra: &[&str]) -> Agent {
        let dir = std::env::temp_dir().join(format!("disco-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("tmp dir");
        let http = free_port();
        let mut args: Vec<String> = vec![
            "agent".into(),
            "-node".into(),
            name.into(),
            "-bind".into(),
            "127.0.0.1".into(),
            "-client".into(),
            "127.0.0.1".into(),
            "-http-port".into(),
            http.to_string(),
            "-dns-port".into(),
            "-1".into(),
            "-server-port".into(),
            free_port().to_string(),
            "-serf-lan-port".into(),
            free_port().to_string(),
            "-serf-wan-port".into(),
            "-1".into(),
        ];
        args.extend(
            extra
                .iter()
                .map(|s| s.replace("{dir}", &dir.display().to_string())),
        );
        let log = dir.join("agent.log");
        let mut a = Agent {
            child: None,
            http,
            args,
            log,
            dir,
            token: None,
        };
        a.spawn_process();
        a
    }

    /// Start a persistent single server (`-server -bootstrap -data-dir`).
    pub fn server(name: &str) -> Agent {
        Agent::start(name, &["-server", "-bootstrap", "-data-dir", "{dir}/data"])
    }

    /// Start an in-memory dev agent.
    pub fn dev(name: &str) -> Agent {
        Agent::start(name, &["-dev"])
    }

    fn spawn(&mut self) {
        self.spawn_process();
        self.wait_ready();
    }

    fn spawn_process(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("log");
        let child = Command::new(bin())
            .args(&self.args)
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log))
            .spawn()
            .expect("spawn disco");
        self.child = Some(child);
    }

    /// Wait until this agent knows a leader and its own node is in the catalog.
    pub fn wait_ready(&mut self) {
        let port = self.http;
        let log = self.log.clone();
        let end = Instant::now() + Duration::from_secs(60);
        loop {
            if let Ok(r) = http(port, "GET", "/v1/status/leader", b"")
                && r.status == 200
                && r.text().trim() != "\"\""
            {
                break;
            }
            if let Some(c) = self.child.as_mut()
                && let Ok(Some(st)) = c.try_wait()
            {
                panic!(
                    "agent exited ({st}):\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            if Instant::now() > end {
                panic!(
                    "no leader within 60s:\n{}",
                    std::fs::read_to_string(&log).unwrap_or_default()
                );
            }
            std::thread::sleep(Duration::from_millis(25));
        }
        // The agent's own node is registered just after leadership; wait for it too.
        let node = self.args[2].clone();
        let token = self.token.clone().unwrap_or_default();
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            Vec::new()
        } else {
            vec![("X-Consul-Token", token.as_str())]
        };
        wait_for("self registration", Duration::from_secs(15), || {
            let path = format!("/v1/catalog/node/{node}");
            let r = http_full(port, "GET", &path, b"", &headers, Duration::from_secs(30)).ok()?;
            (r.status == 200 && r.text().trim() != "null").then_some(())
        });
    }

    pub fn get(&self, path: &str) -> Resp {
        http(self.http, "GET", path, b"").expect("GET")
    }
    pub fn put(&self, path: &str, body: &[u8]) -> Resp {
        http(self.http, "PUT", path, body).expect("PUT")
    }
    pub fn delete(&self, path: &str) -> Resp {
        http(self.http, "DELETE", path, b"").expect("DELETE")
    }
    /// A call carrying `token` in `X-Consul-Token` (none when empty).
    pub fn call(&self, method: &str, path: &str, body: &[u8], token: &str) -> Resp {
        let headers: Vec<(&str, &str)> = if token.is_empty() {
            Vec::new()
        } else {
            vec![("X-Consul-Token", token)]
        };
        http_full(
            self.http,
            method,
            path,
            body,
            &headers,
            Duration::from_secs(30),
        )
        .expect("HTTP call")
    }

    /// SIGKILL, no chance to flush anything.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// SIGTERM and wait for exit; returns the exit code.
    pub fn terminate(&mut self) -> Option<i32> {
        let mut c = self.child.take()?;
        unsafe_kill(c.id() as i32, 15);
        let end = Instant::now() + Duration::from_secs(20);
        loop {
            if let Ok(Some(st)) = c.try_wait() {
                return st.code();
            }
            if Instant::now() > end {
                let _ = c.kill();
                let _ = c.wait();
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Start again with the same flags and data dir.
    pub fn restart(&mut self) {
        self.spawn();
    }

    /// Start again without waiting for a leader.
    pub fn relaunch(&mut self) {
        self.spawn_process();
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

fn unsafe_kill(pid: i32, sig: i32) {
    let _ = Command::new("kill")
        .arg(format!("-{sig}"))
        .arg(pid.to_string())
        .status();
}

impl Drop for Agent {
    fn drop(&mut self) {
        self.kill9();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Run the CLI against an agent; returns (exit code, stdout, stderr).
pub fn cli(port: u16, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(bin())
        .args(args)
        .env("CONSUL_HTTP_ADDR", format!("127.0.0.1:{port}"))
        .env_remove("DISCO_HTTP_ADDR")
        .output()
        .expect("run cli");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

impl Agent {
    /// The agent's serf_lan (gossip) port.
    pub fn serf_port(&self) -> u16 {
        self.flag("-serf-lan-port")
            .and_then(|v| v.parse().ok())
            .expect("serf port")
    }

    /// The value of a flag the agent was started with.
    pub fn flag(&self, name: &str) -> Option<&str> {
        let i = self.args.iter().position(|a| a == name)?;
        self.args.get(i + 1).map(String::as_str)
    }

    /// Start a client agent (no `-server`) that joins the gossip port `join`.
    pub fn client(name: &str, join: u16, extra: &[&str]) -> Agent {
        let j = format!("127.0.0.1:{join}");
        let mut args = vec!["-data-dir", "{dir}/data", "-join", j.as_str()];
        args.extend_from_slice(extra);
        Agent::start(name, &args)
    }

    /// Members as this agent sees them: name → status code.
    pub fn member_statuses(&self) -> std::collections::BTreeMap<String, i64> {
        let r = self.get("/v1/agent/members");
        r.json()
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|m| {
                        (
                            m["Name"].as_str().unwrap_or("").to_string(),
                            m["Status"].as_i64().unwrap_or(0),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }
}

/// A `disco agent` command on fresh loopback ports with its own data dir (returned, for
/// cleanup), for tests that watch a process the harness would not start (one expected to
/// exit, or one started before its cluster exists).
pub fn raw_agent(name: &str, extra: &[&str]) -> (Command, PathBuf) {
    let dir = std::env::temp_dir().join(format!("disco-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let mut cmd = Command::new(bin());
    cmd.args([
        "agent",
        "-node",
        name,
        "-bind",
        "127.0.0.1",
        "-client",
        "127.0.0.1",
    ])
    .args(["-dns-port", "-1", "-serf-wan-port", "-1"])
    .args(["-http-port", &free_port().to_string()])
    .args(["-serf-lan-port", &free_port().to_string()])
    .args(["-data-dir", &dir.join("data").display().to_string()])
    .args(extra)
    .stdin(Stdio::null());
    (cmd, dir)
}

/// A config file with `json` in the temp dir, named after `name` and this test process.
pub fn config_file(name: &str, json: &str) -> PathBuf {
    let path = std::env::temp_dir().join(format!("disco-test-{name}-{}.json", std::process::id()));
    std::fs::write(&path, json).expect("config file");
    path
}

/// Snapshot every 64 entries, checked every 50 ms, keeping 8 after it: compaction happens
/// within a test's few hundred writes.
pub const FAST_COMPACTION: &str =
    r#"{"raft_snapshot_threshold": 64, "raft_trailing_logs": 8, "raft_snapshot_interval": "50ms"}"#;
/// How long cluster helpers wait for formation and an agreed leader.
const CLUSTER_DEADLINE: Duration = Duration::from_secs(60);

/// `n` servers started with `-bootstrap-expect n`, the others retry-joining the first.
pub fn cluster_of(prefix: &str, n: usize, extra: &[&str]) -> Vec<Agent> {
    let expect = n.to_string();
    let mut base = vec![
        "-server",
        "-bootstrap-expect",
        &expect,
        "-data-dir",
        "{dir}/data",
    ];
    base.extend_from_slice(extra);
    let first = Agent::launch(&format!("{prefix}1"), &base);
    let join = format!("127.0.0.1:{}", first.serf_port());
    let mut rest: Vec<&str> = base.clone();
    rest.extend(["-retry-join", &join, "-retry-interval", "200ms"]);
    let mut all = vec![first];
    for i in 2..=n {
        all.push(Agent::launch(&format!("{prefix}{i}"), &rest));
    }
    for a in all.iter_mut() {
        a.wait_ready();
    }
    all
}

pub fn rpc_addr(a: &Agent) -> String {
    format!("127.0.0.1:{}", a.flag("-server-port").unwrap())
}

/// Index of the server every live server agrees leads.
pub fn leader(agents: &[&Agent]) -> usize {
    wait_for("one agreed leader", CLUSTER_DEADLINE, || {
        let views: Vec<String> = agents
            .iter()
            .map(|a| {
                http(a.http, "GET", "/v1/status/leader", b"")
                    .map(|r| r.text())
                    .unwrap_or_default()
            })
            .collect();
        let first = views.first()?.clone();
        if first.trim() == "\"\"" || views.iter().any(|v| *v != first) {
            return None;
        }
        agents
            .iter()
            .position(|a| format!("\"{}\"", rpc_addr(a)) == first.trim())
    })
}

pub mod inprocess;
