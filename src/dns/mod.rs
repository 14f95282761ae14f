//! The DNS interface: `<service>.service.<domain>`, `<node>.node.<domain>`,
//! `<hex>.addr.<domain>` and reverse lookups, answered from the catalog with critical
//! instances left out, on `client_addr:ports.dns` over UDP and TCP. Built on hickory (its
//! wire format, TCP transport and request-handler trait; UDP has its own loop in `udp.rs`);
//! what a name means and which records answer it is ours.
//!
//! Servers answer from their own state store (DNS reads are stale within `max_stale` by
//! default, as Consul's; otherwise the leader answers);
//! client agents ask a server through the server RPC (keeping answers only with `use_cache`).
//!
//! A query goes `handler.rs` (hickory's request, UDP trimming, the response) →
//! `answer.rs` (what the name asks for and which records answer it) → `catalog.rs` (where
//! the data comes from) or `recursor.rs` (names outside the domain). `records.rs` builds
//! the records and `truncate.rs` bounds a response's size.

mod answer;
mod catalog;
mod handler;
pub mod names;
mod records;
mod recursor;
mod truncate;
mod udp;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::Record;
use hickory_server::server::Server;

use crate::agent::Agent;
use crate::config::DnsConfig;

/// Who produced a reply. It decides the AA and RA bits of the response and whether the UDP
/// bounds apply, so it is one field rather than flags that must agree.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Origin {
    /// This agent: an answer from the catalog, a negative answer, or a refusal.
    /// Authoritative, trimmed to the UDP bounds.
    #[default]
    Agent,
    /// A recursor's answer relayed as it came (or the SERVFAIL when none answered): not
    /// authoritative, recursion available, never trimmed here.
    Recursor,
}

/// What one query produced.
#[derive(Debug, Default)]
struct Reply {
    code: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
    truncated: bool,
    origin: Origin,
}

/// Answers DNS queries for one agent.
pub struct Handler {
    agent: Arc<Agent>,
    /// Lowercase domains with a trailing dot (`consul.`, the alt domain).
    domains: Vec<String>,
    /// Client agents' answers from a server, kept with `use_cache`.
    cache: catalog::RemoteCache,
    /// The agent's HTTP API, in process: prepared queries run through it (a client agent's
    /// call goes on to a server there). `None` (the fuzz targets): queries fail.
    api: Option<Arc<dyn crate::rpc::HttpRouter>>,
}

impl Handler {
    /// A handler for `agent`'s configured domains.
    pub fn new(agent: Arc<Agent>) -> Handler {
        let mut domains = vec![records::fqdn(&agent.cfg.domain)];
        if let Some(alt) = &agent.cfg.alt_domain {
            domains.push(records::fqdn(alt));
        }
        Handler {
            agent,
            domains,
            cache: catalog::RemoteCache::default(),
            api: None,
        }
    }

    /// This handler running prepared queries through `api`.
    pub fn with_api(mut self, api: Arc<dyn crate::rpc::HttpRouter>) -> Handler {
        self.api = Some(api);
        self
    }

    fn dns(&self) -> &DnsConfig {
        &self.agent.cfg.dns
    }
}

/// Threads answering each UDP socket. With two, a lookup does not wait behind another: at 2
/// closed-loop clients on two cores they answer over twice dnsmasq's rate, where one thread
/// matches it (docs/benchmarks.md).
const UDP_THREADS: usize = 2;

/// Serve DNS for `agent` on UDP and TCP at each address, until the agent shuts down.
pub async fn serve(
    agent: Arc<Agent>,
    addrs: &[SocketAddr],
    api: Arc<dyn crate::rpc::HttpRouter>,
) -> std::io::Result<()> {
    let handler = Arc::new(Handler::new(agent.clone()).with_api(api));
    let mut server = Server::new(handler::SharedHandler(handler.clone()));
    for a in addrs {
        let udp = std::net::UdpSocket::bind(a)?;
        let tcp = tokio::net::TcpListener::bind(a).await?;
        udp::serve(
            handler.clone(),
            udp,
            UDP_THREADS,
            tokio::runtime::Handle::current(),
        )?;
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
    }
    let mut shutdown = agent.shutdown_signal();
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|v| *v).await;
        if let Err(e) = server.shutdown_gracefully().await {
            tracing::debug!("dns server: {e}");
        }
    });
    Ok(())
}
