//! In-process harness: several agents started with `disco::agent::launch` in the test's own
//! runtime, every port `0` (bound by the agent), data in a temporary directory, talked to
//! with disco's own HTTP client.

use std::net::IpAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use disco::agent::launch::{LaunchOptions, RunningAgent, launch};
use disco::client::Client;
use disco::config::AgentConfig;

/// A configuration on loopback with every port chosen by the system.
pub fn config(name: &str, dir: &std::path::Path) -> AgentConfig {
    let mut cfg = AgentConfig::default();
    let lo: IpAddr = [127, 0, 0, 1].into();
    cfg.node_name = name.to_string();
    cfg.bind_addr = lo;
    cfg.client_addr = vec![lo];
    cfg.ports.http = 0;
    cfg.ports.dns = 0;
    cfg.ports.server = 0;
    cfg.ports.serf_lan = 0;
    cfg.ports.serf_wan = 0;
    cfg.data_dir = Some(dir.join(name));
    cfg.retry_interval = Duration::from_millis(200);
    cfg.log_level = "warn".into();
    cfg
}

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    /// A fresh directory named after the test.
    pub fn new(test: &str) -> TempDir {
        let p = std::env::temp_dir().join(format!("disco-inproc-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).expect("temp dir");
        TempDir(p)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Start one agent in this process.
pub async fn start(cfg: AgentConfig) -> RunningAgent {
    let name = cfg.node_name.clone();
    match launch(cfg, LaunchOptions::default()).await {
        Ok(r) => r,
        Err(e) => panic!("agent {name} did not start: {e}"),
    }
}

/// The client for an agent's HTTP API.
pub fn client(r: &RunningAgent) -> Client {
    let addr = r.http_addr().expect("agent serves HTTP");
    Client::new(&addr.to_string()).expect("client")
}

/// Poll `f` every 100 ms until it gives a value; panics naming `what` after `timeout`.
pub async fn eventually<T, F, Fut>(what: &str, timeout: Duration, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let start = Instant::now();
    loop {
        if let Some(v) = f().await {
            return v;
        }
        if start.elapsed() > timeout {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
