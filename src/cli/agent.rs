//! `disco agent`.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use clap::Parser;
use tracing::{error, info, warn};

use super::flags;
use crate::config::{self, AgentConfig};

/// Runs a disco agent.
#[derive(Parser, Debug)]
#[command(
    name = "agent",
    about = "Runs a disco agent",
    disable_version_flag = true,
    allow_negative_numbers = true,
    args_override_self = true
)]
struct AgentFlags {
    /// Run in server mode.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    server: Option<bool>,
    /// Bootstrap a single-server cluster.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    bootstrap: Option<bool>,
    /// Wait for this many servers before bootstrapping.
    #[arg(long = "bootstrap-expect")]
    bootstrap_expect: Option<u32>,
    /// Cluster bind address.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Advertised address.
    #[arg(long)]
    advertise: Option<IpAddr>,
    /// HTTP/DNS bind address(es), space separated.
    #[arg(long)]
    client: Option<String>,
    /// Data directory.
    #[arg(long = "data-dir")]
    data_dir: Option<PathBuf>,
    /// Node name.
    #[arg(long)]
    node: Option<String>,
    /// Node UUID.
    #[arg(long = "node-id")]
    node_id: Option<String>,
    /// Datacenter.
    #[arg(long)]
    datacenter: Option<String>,
    /// Log level.
    #[arg(long = "log-level")]
    log_level: Option<String>,
    /// HTTP port.
    #[arg(long = "http-port")]
    http_port: Option<i64>,
    /// DNS port.
    #[arg(long = "dns-port")]
    dns_port: Option<i64>,
    /// Server RPC port.
    #[arg(long = "server-port")]
    server_port: Option<i64>,
    /// LAN gossip port.
    #[arg(long = "serf-lan-port")]
    serf_lan_port: Option<i64>,
    /// WAN gossip port.
    #[arg(long = "serf-wan-port")]
    serf_wan_port: Option<i64>,
    /// PID file.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// In-memory development server.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    dev: Option<bool>,
    /// Serve the UI.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    ui: Option<bool>,
    /// Config file (repeatable).
    #[arg(long = "config-file")]
    config_file: Vec<PathBuf>,
    /// Config directory or file (repeatable).
    #[arg(long = "config-dir")]
    config_dir: Vec<PathBuf>,
    /// Allow script checks over HTTP.
    #[arg(long = "enable-script-checks", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_script_checks: Option<bool>,
    /// Allow script checks from config files.
    #[arg(long = "enable-local-script-checks", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_local_script_checks: Option<bool>,
    /// Gossip addresses to join.
    #[arg(long)]
    join: Vec<String>,
    /// Gossip addresses to join with retries.
    #[arg(long = "retry-join")]
    retry_join: Vec<String>,
    /// DNS domain.
    #[arg(long)]
    domain: Option<String>,
    /// Gossip encryption key.
    #[arg(long)]
    encrypt: Option<String>,
    /// Rejoin remembered peers even after a graceful leave.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    rejoin: Option<bool>,
    /// Pause between -retry-join attempts (e.g. 30s).
    #[arg(long = "retry-interval")]
    retry_interval: Option<String>,
    /// Attempts of -retry-join before giving up (0: forever).
    #[arg(long = "retry-max")]
    retry_max: Option<u32>,
    /// Node metadata `key:value` (repeatable).
    #[arg(long = "node-meta")]
    node_meta: Vec<String>,
}

fn build_config(f: AgentFlags) -> Result<(AgentConfig, Vec<String>), String> {
    let mut cfg = AgentConfig::default();
    let mut warnings = Vec::new();
    let dev = f.dev.unwrap_or(false);
    if dev {
        cfg.dev = true;
        cfg.server = true;
        cfg.bind_addr = IpAddr::from([127, 0, 0, 1]);
        cfg.log_level = "debug".into();
        cfg.ui = true;
    }
    for p in f.config_file.iter().chain(f.config_dir.iter()) {
        let w = config::load_path(&mut cfg, p).map_err(|e| e.to_string())?;
        warnings.extend(w.into_iter().map(|w| w.0));
    }
    if let Some(v) = f.server {
        cfg.server = v;
    }
    if let Some(v) = f.bootstrap {
        cfg.bootstrap = v;
    }
    if let Some(v) = f.bootstrap_expect {
        cfg.bootstrap_expect = v;
    }
    if let Some(v) = f.bind {
        cfg.bind_addr = v;
    }
    if let Some(v) = f.advertise {
        cfg.advertise_addr = Some(v);
    }
    if let Some(v) = f.client {
        let ips: Result<Vec<IpAddr>, _> = v.split_whitespace().map(str::parse).collect();
        cfg.client_addr =
            ips.map_err(|_| format!("invalid value \"{v}\" for flag -client: not an IP address"))?;
    }
    if let Some(v) = f.data_dir {
        cfg.data_dir = Some(v);
    }
    if let Some(v) = f.node {
        cfg.node_name = v;
    }
    if let Some(v) = f.node_id {
        uuid::Uuid::parse_str(&v)
            .map_err(|_| format!("invalid value \"{v}\" for flag -node-id: not a UUID"))?;
        cfg.node_id = Some(v.to_lowercase());
    }
    if let Some(v) = f.datacenter {
        cfg.datacenter = v;
    }
    if let Some(v) = f.log_level {
        cfg.log_level = config::parse_log_level(&v)
            .ok_or_else(|| format!("invalid value \"{v}\" for flag -log-level"))?;
    }
    if let Some(v) = f.http_port {
        cfg.ports.http = v;
    }
    if let Some(v) = f.dns_port {
        cfg.ports.dns = v;
    }
    if let Some(v) = f.server_port {
        cfg.ports.server = v;
    }
    if let Some(v) = f.serf_lan_port {
        cfg.ports.serf_lan = v;
    }
    if let Some(v) = f.serf_wan_port {
        cfg.ports.serf_wan = v;
    }
    if let Some(v) = f.pid_file {
        cfg.pid_file = Some(v);
    }
    if let Some(v) = f.ui {
        cfg.ui = v;
    }
    if let Some(v) = f.enable_script_checks {
        cfg.enable_script_checks = v;
    }
    if let Some(v) = f.enable_local_script_checks {
        cfg.enable_local_script_checks = v;
    }
    if let Some(v) = f.domain {
        cfg.domain = v;
    }
    if let Some(v) = f.encrypt {
        cfg.encrypt = Some(v);
    }
    if let Some(v) = f.rejoin {
        cfg.rejoin_after_leave = v;
    }
    if let Some(v) = f.retry_interval {
        cfg.retry_interval = crate::api::duration::parse_go(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("invalid value \"{v}\" for flag -retry-interval"))?;
    }
    if let Some(v) = f.retry_max {
        cfg.retry_max = v;
    }
    cfg.start_join.extend(f.join);
    cfg.retry_join.extend(f.retry_join);
    for m in f.node_meta {
        let (k, v) = m.split_once(':').ok_or_else(|| {
            format!("invalid value \"{m}\" for flag -node-meta: expected key:value")
        })?;
        cfg.node_meta.insert(k.to_string(), v.to_string());
    }
    if dev {
        // -dev keeps everything in memory whatever the files say.
        cfg.data_dir = None;
        cfg.server = true;
    }
    warnings.extend(cfg.validate().map_err(|e| e.to_string())?);
    Ok((cfg, warnings))
}

/// Parse `disco agent` arguments into a configuration (for the console's embedded agent).
pub fn parse(args: &[String]) -> Result<(AgentConfig, Vec<String>), String> {
    let f: AgentFlags = flags::parse("disco agent", args).map_err(|e| e.0)?;
    build_config(f)
}

/// Entry point of `disco agent`.
pub fn run(args: &[String]) -> i32 {
    let f: AgentFlags = match flags::parse("disco agent", args) {
        Ok(f) => f,
        Err(e) => {
            if e.0.starts_with("Usage") || e.0.contains("Usage:") {
                println!("{}", e.0);
                return 0;
            }
            eprintln!("{}", e.0);
            return 1;
        }
    };
    let (cfg, warnings) = match build_config(f) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("==> {e}");
            return 1;
        }
    };
    crate::logging::init(&cfg.log_level);
    for w in &warnings {
        warn!("{w}");
    }
    let rt = match runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> runtime: {e}");
            return 1;
        }
    };
    let code = match rt.block_on(run_agent(cfg)) {
        Ok(()) => 0,
        Err(e) => {
            crate::logging::flush(std::time::Duration::from_secs(1));
            eprintln!("==> {e}");
            1
        }
    };
    crate::logging::flush(std::time::Duration::from_secs(1));
    code
}

/// The runtime an agent runs on, standalone or inside the console: two workers are enough
/// for its tasks (DNS over UDP has its own threads) and keep idle threads and memory few.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// A started agent: its HTTP servers run and it has joined what it was told to join.
pub struct Running {
    /// The agent.
    pub agent: std::sync::Arc<crate::agent::Agent>,
    /// Its configuration.
    pub cfg: AgentConfig,
    /// First HTTP address it serves (what a console attaches to).
    pub http: Option<SocketAddr>,
    servers: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

/// Start an agent with its HTTP and RPC servers and its joins. With `banner`, the startup
/// lines Consul prints go to stdout; otherwise to the log (a console owns the screen).
pub async fn start(cfg: AgentConfig, banner: bool) -> Result<Running, String> {
    let say = |line: String| {
        if banner {
            println!("{line}");
        } else {
            info!("{}", line.trim());
        }
    };
    let http_addrs: Vec<SocketAddr> = if cfg.ports.http >= 0 {
        cfg.client_addr
            .iter()
            .map(|ip| SocketAddr::new(*ip, cfg.ports.http as u16))
            .collect()
    } else {
        Vec::new()
    };
    // Bind first so a port clash fails fast, before any state is touched.
    let mut listeners = Vec::new();
    for a in &http_addrs {
        listeners.push(tokio::net::TcpListener::bind(*a).await.map_err(|e| {
            format!("Error starting agent: Failed to start HTTP server on {a}: {e}")
        })?);
    }
    let rpc_listener =
        if cfg.server && cfg.ports.server >= 0 {
            let a = SocketAddr::new(cfg.bind_addr, cfg.ports.server as u16);
            Some(tokio::net::TcpListener::bind(a).await.map_err(|e| {
                format!("Error starting agent: Failed to start server RPC on {a}: {e}")
            })?)
        } else {
            None
        };
    say("==> Starting disco agent...".into());
    let agent = crate::agent::Agent::start(cfg.clone())
        .await
        .map_err(|e| format!("Error starting agent: {e}"))?;
    say(format!(
        "           Version: '{}'",
        env!("CARGO_PKG_VERSION")
    ));
    say(format!("           Node ID: '{}'", agent.node_id));
    say(format!("         Node name: '{}'", agent.node_name()));
    say(format!("        Datacenter: '{}'", cfg.datacenter));
    say(format!(
        "            Server: {} (Bootstrap: {})",
        cfg.server,
        cfg.bootstrap || cfg.dev
    ));
    say(format!(
        "       Client Addr: {:?} (HTTP: {}, DNS: {})",
        cfg.client_addr, cfg.ports.http, cfg.ports.dns
    ));
    say(format!(
        "      Cluster Addr: {} (LAN: {}, WAN: {})",
        agent.advertise, cfg.ports.serf_lan, cfg.ports.serf_wan
    ));
    say(format!(
        "    Gossip Encryption: {}",
        agent.gossip.as_ref().is_some_and(|g| g.encrypted())
    ));

    say("==> Log data will now stream in as it occurs:".to_string());
    if let Some(p) = &cfg.pid_file {
        std::fs::write(p, std::process::id().to_string())
            .map_err(|e| format!("writing pid file {}: {e}", p.display()))?;
    }
    let mut servers = Vec::new();
    for (l, a) in listeners.into_iter().zip(&http_addrs) {
        info!("agent: Started HTTP server on {a} (tcp)");
        let ag = agent.clone();
        servers.push(tokio::spawn(async move { crate::http::serve(ag, l).await }));
    }
    if cfg.ports.dns >= 0 {
        let dns_addrs: Vec<SocketAddr> = cfg
            .client_addr
            .iter()
            .map(|ip| SocketAddr::new(*ip, cfg.ports.dns as u16))
            .collect();
        crate::dns::serve(agent.clone(), &dns_addrs)
            .await
            .map_err(|e| {
                format!("Error starting agent: Failed to start DNS server on {dns_addrs:?}: {e}")
            })?;
        for a in &dns_addrs {
            info!("agent: Started DNS server on {a} (udp, tcp)");
        }
    }
    if let Some(l) = rpc_listener {
        let handler =
            crate::rpc::Dispatcher::new(agent.clone(), crate::http::Router::new(agent.clone()));
        let shutdown = agent.shutdown_signal();
        tokio::spawn(crate::rpc::serve(l, handler, shutdown));
    }
    if !cfg.start_join.is_empty() {
        info!("agent: Joining cluster... {:?}", cfg.start_join);
        let (n, errs) = agent
            .join(&cfg.start_join)
            .await
            .map_err(|e| format!("Error starting agent: {e}"))?;
        for e in &errs {
            warn!("agent: {e}");
        }
        if n == 0 {
            agent.request_shutdown();
            agent.stop().await;
            return Err(format!(
                "Error starting agent: Failed to join any nodes: {}",
                errs.join("; ")
            ));
        }
        info!("agent: Join completed. Synced with {n} initial agents");
    }
    tokio::spawn(agent.clone().retry_join());
    say("==> disco agent running!".into());

    // SIGHUP reloads the service and check definitions of the config files.
    let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
        .map_err(|e| e.to_string())?;
    let reloader = agent.clone();
    tokio::spawn(async move {
        while hup.recv().await.is_some() {
            info!("Caught signal: hangup");
            if let Err(e) = reloader.reload().await {
                error!("agent: reload failed: {e}");
            }
        }
    });
    Ok(Running {
        agent,
        http: http_addrs.first().copied(),
        cfg,
        servers,
    })
}

/// Stop a started agent: leave the cluster first when `leave`, then close its servers and
/// storage. The agent's own fatal error, if it stopped itself, is returned.
pub async fn stop(r: Running, leave: bool) -> Result<(), String> {
    let Running {
        agent,
        cfg,
        servers,
        ..
    } = r;
    if leave {
        agent.leave_cluster().await;
    }
    agent.request_shutdown();
    for s in servers {
        if let Ok(Ok(Err(e))) = tokio::time::timeout(std::time::Duration::from_secs(5), s).await {
            error!("http server: {e}")
        }
    }
    agent.stop().await;
    if let Some(p) = &cfg.pid_file {
        let _ = std::fs::remove_file(p);
    }
    info!("agent: shutdown complete");
    match agent.fatal_error() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

/// Whether an interrupted agent leaves the cluster (Consul's defaults: clients do, servers
/// do not).
pub fn leaves_on_interrupt(cfg: &AgentConfig) -> bool {
    !cfg.skip_leave_on_interrupt.unwrap_or(cfg.server)
}

async fn run_agent(cfg: AgentConfig) -> Result<(), String> {
    let running = start(cfg, true).await?;
    let cfg = running.cfg.clone();
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| e.to_string())?;
    let mut shutdown = running.agent.shutdown_signal();
    let leave_on_term = cfg.leave_on_terminate.unwrap_or(!cfg.server);
    let leave = tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            info!("Caught signal: interrupt");
            leaves_on_interrupt(&cfg)
        }
        _ = term.recv() => {
            info!("Caught signal: terminated");
            leave_on_term
        }
        _ = shutdown.wait_for(|v| *v) => {
            info!("agent: shutdown requested");
            false
        }
    };
    println!("==> Gracefully shutting down...");
    stop(running, leave).await
}
