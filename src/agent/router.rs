//! Client agents' way to the servers: which server to ask (live `role=consul` members of
//! the datacenter, rotated per request, one that failed recently tried last) and the
//! forwarding of calls and commands to a server or to the leader.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::warn;

use super::{Agent, AgentError};
use crate::gossip::Status;
use crate::rpc::{Reply, Request, RpcError};
use crate::state::{Check, Command, Response, Service};

/// A committed command's response, with a rejected command as a bad request.
fn applied(r: Reply) -> Result<Response, AgentError> {
    match r {
        Reply::Applied(Response::Error(e))
            if e.starts_with("Permission denied") || e == "ACL not found" =>
        {
            Err(AgentError::PermissionDenied(e))
        }
        Reply::Applied(Response::Error(e)) => Err(AgentError::BadRequest(e)),
        Reply::Applied(r) => Ok(r),
        other => Err(AgentError::Internal(format!("unexpected reply {other:?}"))),
    }
}

/// How long a server whose RPC failed is tried after the others.
const SERVER_FAILURE_MEMORY: Duration = Duration::from_secs(10);

/// `servers` starting at a rotating position (`rr`), so load spreads over them, with the
/// ones in `failed` within `memory` moved last in the same rotation (Consul's router does
/// the same with a failed server). Used for this datacenter's servers and another's.
pub(super) fn rotate_failed_last(
    mut servers: Vec<SocketAddr>,
    rr: &AtomicUsize,
    failed: &Mutex<HashMap<SocketAddr, Instant>>,
    memory: Duration,
) -> Vec<SocketAddr> {
    if !servers.is_empty() {
        let start = rr.fetch_add(1, Ordering::Relaxed) % servers.len();
        servers.rotate_left(start);
    }
    let failed: Vec<SocketAddr> = {
        let mut f = failed.lock();
        f.retain(|_, at| at.elapsed() < memory);
        f.keys().copied().collect()
    };
    if !failed.is_empty() {
        servers.sort_by_key(|a| failed.contains(a));
    }
    servers
}

impl Agent {
    /// Server RPC addresses of the live servers of this datacenter, starting at a rotating
    /// position so client load spreads over them; servers that failed recently come last.
    pub fn server_addrs(&self) -> Vec<SocketAddr> {
        let Some(g) = &self.gossip else {
            return Vec::new();
        };
        // Every forwarded call asks; the list only changes with the membership.
        let version = g.version();
        let cached = {
            let c = self.servers_cache.lock();
            (c.0 == version).then(|| c.1.clone())
        };
        let out = match cached {
            Some(c) => c,
            None => {
                let fresh: Vec<SocketAddr> = g
                    .members()
                    .into_iter()
                    .filter(|m| {
                        m.status == Status::Alive
                            && m.id.tags.get("role").map(String::as_str) == Some("consul")
                            && m.id.tags.get("dc") == Some(&self.cfg.datacenter)
                    })
                    .filter_map(|m| {
                        let port: u16 = m.id.tags.get("port")?.parse().ok()?;
                        Some(SocketAddr::new(m.id.addr.ip(), port))
                    })
                    .collect();
                *self.servers_cache.lock() = (version, fresh.clone());
                fresh
            }
        };
        rotate_failed_last(out, &self.rr, &self.servers_failed, SERVER_FAILURE_MEMORY)
    }

    /// Send a request to a server, trying the next one (up to three) when a connection fails
    /// or times out.
    /// A server that failed is tried last for [`SERVER_FAILURE_MEMORY`].
    pub async fn forward(&self, req: Request, timeout: Duration) -> Result<Reply, AgentError> {
        let servers = self.server_addrs();
        if servers.is_empty() {
            return Err(AgentError::NoServers);
        }
        let mut last = None;
        for addr in servers.into_iter().take(3) {
            let outcome = self.rpc.call(addr, req.clone(), timeout).await;
            match &outcome {
                Err(RpcError::Connection(_) | RpcError::Timeout(_)) => {
                    self.servers_failed.lock().insert(addr, Instant::now());
                }
                _ => {
                    self.servers_failed.lock().remove(&addr);
                }
            }
            match outcome {
                Ok(r) => return Ok(r),
                Err(RpcError::Remote(e)) if e == "No cluster leader" => {
                    return Err(AgentError::NoLeader);
                }
                Err(RpcError::Remote(e)) => return Err(AgentError::Internal(e)),
                Err(e) => {
                    warn!("agent: rpc to server {addr} failed, trying another: {e}");
                    last = Some(e);
                }
            }
        }
        Err(AgentError::Internal(
            last.map(|e| e.to_string()).unwrap_or_default(),
        ))
    }

    /// Commit a command through a server (client agents).
    pub(super) async fn forward_apply(
        &self,
        cmd: Command,
        token: &str,
    ) -> Result<Response, AgentError> {
        let req = Request::Apply {
            cmd,
            from_server: false,
            token: token.to_string(),
        };
        applied(self.forward(req, Duration::from_secs(30)).await?)
    }

    /// Commit a command through the leader (a follower's own writes).
    pub(super) async fn forward_apply_to(
        &self,
        leader: &str,
        cmd: Command,
        token: &str,
    ) -> Result<Response, AgentError> {
        let addr: SocketAddr = leader.parse().map_err(|_| AgentError::NoLeader)?;
        match self
            .rpc
            .call(
                addr,
                Request::Apply {
                    cmd,
                    from_server: true,
                    token: token.to_string(),
                },
                Duration::from_secs(30),
            )
            .await
        {
            Ok(r) => applied(r),
            Err(RpcError::Remote(e)) if e == "No cluster leader" => Err(AgentError::NoLeader),
            Err(RpcError::Remote(e)) => Err(AgentError::Internal(e)),
            Err(_) => Err(AgentError::NoLeader),
        }
    }

    /// Send an API call to the leader (a follower's default-mode reads and all writes).
    /// `None` when this server leads or no leader is known (answer locally).
    pub async fn forward_to_leader(
        &self,
        req: Request,
        timeout: Duration,
    ) -> Option<Result<Reply, AgentError>> {
        let c = self.consensus.as_ref()?;
        if c.is_leader() {
            return None;
        }
        let addr: SocketAddr = c.leader_addr()?.parse().ok()?;
        Some(match self.rpc.call(addr, req, timeout).await {
            Ok(r) => Ok(r),
            Err(RpcError::Remote(e)) if e == "No cluster leader" => Err(AgentError::NoLeader),
            Err(RpcError::Remote(e)) => Err(AgentError::Internal(e)),
            Err(e) => {
                warn!("agent: forwarding to the leader at {addr} failed: {e}");
                Err(AgentError::NoLeader)
            }
        })
    }

    /// The catalog's services and checks of this node, wherever the catalog is.
    pub(super) async fn catalog_entries(&self) -> Result<(Vec<Service>, Vec<Check>), AgentError> {
        let node = self.cfg.node_name.clone();
        if self.consensus.is_some() {
            let store = self.store.read();
            return Ok((
                store.node_services(&node).into_iter().cloned().collect(),
                store.node_checks(&node).into_iter().cloned().collect(),
            ));
        }
        match self
            .forward(
                Request::NodeEntries {
                    node,
                    token: self.agent_token(),
                },
                Duration::from_secs(30),
            )
            .await?
        {
            Reply::NodeEntries(s, c) => Ok((s, c)),
            other => Err(AgentError::Internal(format!("unexpected reply {other:?}"))),
        }
    }
}
