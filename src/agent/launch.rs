//! Starting and stopping a whole agent: its listeners, its joins and its signal handling.
//!
//! One entry point shared by `disco agent`, the console's embedded agent (`disco tui -dev`)
//! and in-process tests, so all three start the same agent the same way. A port of `0` in
//! the configuration is resolved to a free one before anything is advertised, so tests can
//! run several agents on `127.0.0.1:0` in one process.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use tracing::{error, info, warn};

use super::{Agent, AgentError};
use crate::config::AgentConfig;

/// Why an agent did not start or stopped itself, worded as Consul's agent prints it.
#[derive(Debug, thiserror::Error)]
pub enum LaunchError {
    /// A listener could not be bound.
    #[error("Error starting agent: Failed to start {what} on {addr}: {cause}")]
    Bind {
        /// Which server (`HTTP server`, `server RPC`, `DNS server`, `gossip`).
        what: &'static str,
        /// Address tried.
        addr: String,
        /// The operating system's reason.
        cause: std::io::Error,
    },
    /// The agent itself refused to start (storage, Raft, gossip).
    #[error("Error starting agent: {0}")]
    Agent(#[from] AgentError),
    /// `-join` was given and no address answered.
    #[error("Error starting agent: Failed to join any nodes: {0}")]
    Join(String),
    /// Anything else at start (pid file, signal handlers).
    #[error("{0}")]
    Start(String),
    /// The agent stopped itself on a fatal error (for example Raft storage).
    #[error("{0}")]
    Fatal(String),
}

/// What the caller wants to see of the start.
#[derive(Debug, Clone, Copy, Default)]
pub struct LaunchOptions {
    /// Print Consul's startup lines to stdout (`disco agent`); otherwise they go to the log,
    /// because a console owns the screen and tests want quiet output.
    pub banner: bool,
    /// Reload service and check definitions on SIGHUP. Only the process's own agent should:
    /// several in-process agents would all reload on one signal.
    pub reload_on_hangup: bool,
}

/// A started agent: its HTTP servers run and it has joined what it was told to join.
pub struct RunningAgent {
    /// The agent.
    pub agent: Arc<Agent>,
    /// Its configuration, with every port of `0` replaced by the port actually bound.
    pub cfg: AgentConfig,
    /// The HTTP addresses served, in `client_addr` order (what a console or test attaches to).
    pub http: Vec<SocketAddr>,
    /// The HTTPS addresses served, in `client_addr` order.
    pub https: Vec<SocketAddr>,
    servers: Vec<tokio::task::JoinHandle<std::io::Result<()>>>,
}

impl RunningAgent {
    /// First HTTP address, if the agent serves HTTP at all (`ports.http = -1` serves none).
    pub fn http_addr(&self) -> Option<SocketAddr> {
        self.http.first().copied()
    }

    /// The gossip address other agents join (`bind_addr:serf_lan`).
    pub fn serf_addr(&self) -> SocketAddr {
        SocketAddr::new(
            self.cfg.bind_addr,
            self.cfg.ports.serf_lan.clamp(0, 65535) as u16,
        )
    }

    /// Stop the agent: leave the cluster first when `leave`, then close its servers and
    /// storage. The agent's own fatal error, if it stopped itself, is returned.
    pub async fn stop(self, leave: bool) -> Result<(), LaunchError> {
        let RunningAgent {
            agent,
            cfg,
            servers,
            ..
        } = self;
        if leave {
            agent.leave_cluster().await;
        }
        agent.request_shutdown();
        for s in servers {
            if let Ok(Ok(Err(e))) = tokio::time::timeout(Duration::from_secs(5), s).await {
                error!("http server: {e}")
            }
        }
        agent.stop().await;
        if let Some(p) = &cfg.pid_file {
            let _ = std::fs::remove_file(p);
        }
        info!("agent: shutdown complete");
        match agent.fatal_error() {
            Some(e) => Err(LaunchError::Fatal(e)),
            None => Ok(()),
        }
    }
}

/// The runtime an agent runs on, standalone or inside the console: two workers are enough
/// for its tasks (DNS over UDP has its own threads) and keep idle threads and memory few.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
}

/// Whether an interrupted agent leaves the cluster (Consul's defaults: clients do, servers
/// do not).
pub fn leaves_on_interrupt(cfg: &AgentConfig) -> bool {
    !cfg.skip_leave_on_interrupt.unwrap_or(cfg.server)
}

/// Whether a terminated agent leaves the cluster (Consul's defaults: clients do, servers do
/// not).
pub fn leaves_on_terminate(cfg: &AgentConfig) -> bool {
    cfg.leave_on_terminate.unwrap_or(!cfg.server)
}

fn bind_error(what: &'static str, addr: impl ToString, cause: std::io::Error) -> LaunchError {
    LaunchError::Bind {
        what,
        addr: addr.to_string(),
        cause,
    }
}

/// A port free for both UDP and TCP on `ip` (gossip and DNS listen on one port for both).
/// The sockets are closed again before the agent binds them; the window is small, and only
/// a configuration that asked for port 0 goes through it.
fn free_udp_tcp_port(ip: IpAddr) -> std::io::Result<u16> {
    let mut last = None;
    for _ in 0..32 {
        let udp = std::net::UdpSocket::bind(SocketAddr::new(ip, 0))?;
        let port = udp.local_addr()?.port();
        match std::net::TcpListener::bind(SocketAddr::new(ip, port)) {
            Ok(_) => return Ok(port),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| std::io::Error::other("no free port")))
}

/// Start an agent with its HTTP, DNS and RPC servers and its joins.
pub async fn launch(
    mut cfg: AgentConfig,
    opts: LaunchOptions,
) -> Result<RunningAgent, LaunchError> {
    let say = |line: String| {
        if opts.banner {
            println!("{line}");
        } else {
            info!("{}", line.trim());
        }
    };
    // Bind first so a port clash fails fast, before any state is touched.
    let mut listeners = Vec::new();
    if cfg.ports.http >= 0 {
        for ip in &cfg.client_addr {
            let a = SocketAddr::new(*ip, cfg.ports.http as u16);
            let l = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| bind_error("HTTP server", a, e))?;
            let bound = l
                .local_addr()
                .map_err(|e| bind_error("HTTP server", a, e))?;
            listeners.push((l, bound));
        }
        if let Some((_, first)) = listeners.first() {
            cfg.ports.http = i64::from(first.port());
        }
    }
    let mut https_listeners = Vec::new();
    if cfg.ports.https >= 0 {
        for ip in &cfg.client_addr {
            let a = SocketAddr::new(*ip, cfg.ports.https as u16);
            let l = tokio::net::TcpListener::bind(a)
                .await
                .map_err(|e| bind_error("HTTPS server", a, e))?;
            let bound = l
                .local_addr()
                .map_err(|e| bind_error("HTTPS server", a, e))?;
            https_listeners.push((l, bound));
        }
        if let Some((_, first)) = https_listeners.first() {
            cfg.ports.https = i64::from(first.port());
        }
    }
    let rpc_listener = if cfg.server && cfg.ports.server >= 0 {
        let a = SocketAddr::new(cfg.bind_addr, cfg.ports.server as u16);
        let l = tokio::net::TcpListener::bind(a)
            .await
            .map_err(|e| bind_error("server RPC", a, e))?;
        let bound = l.local_addr().map_err(|e| bind_error("server RPC", a, e))?;
        // The RPC port is advertised in gossip tags: it must be the real one.
        cfg.ports.server = i64::from(bound.port());
        Some(l)
    } else {
        None
    };
    if cfg.ports.serf_lan == 0 {
        cfg.ports.serf_lan = i64::from(
            free_udp_tcp_port(cfg.bind_addr).map_err(|e| bind_error("gossip", cfg.bind_addr, e))?,
        );
    }
    if cfg.server && cfg.ports.serf_wan == 0 {
        cfg.ports.serf_wan = i64::from(
            free_udp_tcp_port(cfg.bind_addr)
                .map_err(|e| bind_error("WAN gossip", cfg.bind_addr, e))?,
        );
    }
    if cfg.ports.dns == 0
        && let Some(ip) = cfg.client_addr.first().copied()
    {
        cfg.ports.dns =
            i64::from(free_udp_tcp_port(ip).map_err(|e| bind_error("DNS server", ip, e))?);
    }

    say("==> Starting disco agent...".into());
    let agent = Agent::start(cfg.clone()).await?;
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
        "       Client Addr: {:?} (HTTP: {}, HTTPS: {}, DNS: {})",
        cfg.client_addr, cfg.ports.http, cfg.ports.https, cfg.ports.dns
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
            .map_err(|e| LaunchError::Start(format!("writing pid file {}: {e}", p.display())))?;
    }
    let mut servers = Vec::new();
    let mut http = Vec::new();
    let mut https = Vec::new();
    // One per-client connection budget for HTTP and HTTPS, as Consul counts them.
    let http_limiter = crate::tls::ConnLimiter::new(cfg.limits.http_max_conns_per_client);
    let handler = crate::http::Handler::new(agent.clone());
    for (l, a) in listeners {
        info!("agent: Started HTTP server on {a} (tcp)");
        let h = handler.clone();
        let l = crate::tls::ApiListener::plain(l, http_limiter.clone())
            .map_err(|e| bind_error("HTTP server", a, e))?;
        servers.push(tokio::spawn(async move { crate::http::serve(h, l).await }));
        http.push(a);
    }
    if let Some(config) = agent.tls.https.clone() {
        for (l, a) in https_listeners {
            info!("agent: Started HTTPS server on {a} (tcp)");
            let h = handler.clone();
            let l = crate::tls::ApiListener::tls(
                l,
                config.clone(),
                http_limiter.clone(),
                cfg.limits.https_handshake_timeout,
            )
            .map_err(|e| bind_error("HTTPS server", a, e))?;
            servers.push(tokio::spawn(async move { crate::http::serve(h, l).await }));
            https.push(a);
        }
    }
    if cfg.ports.dns >= 0 {
        let dns_addrs: Vec<SocketAddr> = cfg
            .client_addr
            .iter()
            .map(|ip| SocketAddr::new(*ip, cfg.ports.dns as u16))
            .collect();
        let api: Arc<dyn crate::rpc::HttpRouter> = crate::http::Router::new(agent.clone());
        crate::dns::serve(agent.clone(), &dns_addrs, api)
            .await
            .map_err(|e| bind_error("DNS server", format!("{dns_addrs:?}"), e))?;
        for a in &dns_addrs {
            info!("agent: Started DNS server on {a} (udp, tcp)");
        }
    }
    if let Some(l) = rpc_listener {
        let handler =
            crate::rpc::Dispatcher::new(agent.clone(), crate::http::Router::new(agent.clone()));
        let shutdown = agent.shutdown_signal();
        let policy = crate::rpc::AcceptPolicy {
            tls: agent.tls.rpc_accept.clone(),
            verify_incoming: agent.tls.rpc_verify_incoming,
            server_name: agent.tls.rpc_server_name.clone(),
            limiter: crate::tls::ConnLimiter::new(cfg.limits.rpc_max_conns_per_client),
            handshake_timeout: cfg.limits.rpc_handshake_timeout,
        };
        tokio::spawn(crate::rpc::serve(l, handler, shutdown, policy));
    }
    if !cfg.start_join.is_empty() {
        info!("agent: Joining cluster... {:?}", cfg.start_join);
        let (n, errs) = agent.join(&cfg.start_join).await?;
        for e in &errs {
            warn!("agent: {e}");
        }
        if n == 0 {
            agent.request_shutdown();
            agent.stop().await;
            return Err(LaunchError::Join(errs.join("; ")));
        }
        info!("agent: Join completed. Synced with {n} initial agents");
    }
    tokio::spawn(agent.clone().retry_join());
    if !cfg.start_join_wan.is_empty() {
        info!("agent: (WAN) joining: {:?}", cfg.start_join_wan);
        let (n, errs) = agent.join_wan(&cfg.start_join_wan).await?;
        for e in &errs {
            warn!("agent: (WAN) {e}");
        }
        if n == 0 {
            agent.request_shutdown();
            agent.stop().await;
            return Err(LaunchError::Join(errs.join("; ")));
        }
    }
    tokio::spawn(agent.clone().retry_join_wan());
    if agent.consensus.is_some() {
        tokio::spawn(crate::agent::session_ttl::run(agent.clone()));
    }
    say("==> disco agent running!".into());

    if opts.reload_on_hangup {
        // SIGHUP reloads the service and check definitions of the config files.
        let mut hup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())
            .map_err(|e| LaunchError::Start(format!("SIGHUP handler: {e}")))?;
        let reloader = agent.clone();
        tokio::spawn(async move {
            while hup.recv().await.is_some() {
                info!("Caught signal: hangup");
                if let Err(e) = reloader.reload().await {
                    error!("agent: reload failed: {e}");
                }
            }
        });
    }
    Ok(RunningAgent {
        agent,
        cfg,
        http,
        https,
        servers,
    })
}
