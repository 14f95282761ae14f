//! The WAN side of a server: the second gossip pool, in which the servers of every
//! datacenter meet (named `<node>.<dc>`), the list of datacenters it yields, sorted by
//! measured round-trip time, and the forwarding of a call to a server of another
//! datacenter (round-robin, the next one when a connection fails).

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::{info, warn};

use super::membership::{apply_overrides, gossip_key, member_tags};
use super::{Agent, AgentError};
use crate::config::AgentConfig;
use crate::gossip::{Gossip, GossipConfig, Member, Status, Timing};
use crate::rpc::{Reply, Request, RpcError};

/// How long a remote server whose RPC failed is tried after the others.
const FAILURE_MEMORY: Duration = Duration::from_secs(10);

/// How often the round trip to every remote server is measured.
const RTT_INTERVAL: Duration = Duration::from_secs(10);

/// How long one round-trip probe may take.
const RTT_TIMEOUT: Duration = Duration::from_secs(5);

/// A server's WAN pool and what it learns from it.
pub struct Wan {
    /// The WAN gossip member.
    pub gossip: Gossip,
    /// Rotates the first server tried per datacenter.
    rr: AtomicUsize,
    /// Smoothed round trip to each remote server (leaf lock: copied out, never held
    /// across a call).
    rtt: Mutex<HashMap<SocketAddr, Duration>>,
    /// Remote servers whose last call failed at the connection level, and when (leaf).
    failed: Mutex<HashMap<SocketAddr, Instant>>,
}

/// The WAN gossip settings: Consul's WAN timings (dev: the fast ones), the member name
/// `<node>.<dc>`, the same tags as on the LAN, files `serf/remote.*`.
pub fn gossip_config(
    cfg: &AgentConfig,
    node_id: &str,
    advertise: IpAddr,
) -> Result<GossipConfig, AgentError> {
    let port = cfg.ports.serf_wan as u16;
    let key = gossip_key(cfg)?;
    let timing = apply_overrides(
        if cfg.dev {
            Timing::dev()
        } else {
            Timing::wan()
        },
        &cfg.gossip_wan,
    );
    let advertise = cfg.advertise_addr_wan.unwrap_or(advertise);
    Ok(GossipConfig {
        name: format!("{}.{}", cfg.node_name, cfg.datacenter),
        bind: SocketAddr::new(cfg.bind_addr, port),
        advertise: SocketAddr::new(advertise, port),
        tags: member_tags(cfg, node_id),
        key,
        timing,
        snapshot_dir: cfg.data_dir.as_ref().map(|d| d.join("serf")),
        pool: "remote",
        rejoin_after_leave: cfg.rejoin_after_leave,
    })
}

impl Wan {
    /// Join the WAN pool on `ports.serf_wan`.
    pub async fn start(gc: GossipConfig) -> Result<Wan, AgentError> {
        let gossip = Gossip::start(gc)
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))?;
        Ok(Wan {
            gossip,
            rr: AtomicUsize::new(0),
            rtt: Mutex::new(HashMap::new()),
            failed: Mutex::new(HashMap::new()),
        })
    }

    /// The server RPC address a WAN member advertises, if it is a server.
    fn rpc_addr(m: &Member) -> Option<(String, SocketAddr)> {
        if m.id.tags.get("role").map(String::as_str) != Some("consul") {
            return None;
        }
        let dc = m.id.tags.get("dc")?.clone();
        let port: u16 = m.id.tags.get("port")?.parse().ok()?;
        Some((dc, SocketAddr::new(m.id.addr.ip(), port)))
    }

    /// Every datacenter with a server in the pool that has not left, with its servers
    /// (alive or not).
    fn by_datacenter(&self) -> BTreeMap<String, Vec<(SocketAddr, Status)>> {
        let mut out: BTreeMap<String, Vec<(SocketAddr, Status)>> = BTreeMap::new();
        for m in self.gossip.members() {
            if m.status == Status::Left {
                continue;
            }
            if let Some((dc, addr)) = Self::rpc_addr(&m) {
                out.entry(dc).or_default().push((addr, m.status));
            }
        }
        out
    }

    /// Alive servers of `dc`, starting at a rotating position; recently failed ones last.
    pub fn servers(&self, dc: &str) -> Vec<SocketAddr> {
        let alive: Vec<SocketAddr> = self
            .by_datacenter()
            .remove(dc)
            .unwrap_or_default()
            .into_iter()
            .filter(|(_, s)| *s == Status::Alive)
            .map(|(a, _)| a)
            .collect();
        super::router::rotate_failed_last(alive, &self.rr, &self.failed, FAILURE_MEMORY)
    }

    /// Known datacenters (the local one included), nearest first: by the median measured
    /// round trip to their servers, the local one at zero, unmeasured ones last, ties by
    /// name (Consul sorts by the median of its network coordinates the same way).
    pub fn datacenters(&self, local: &str) -> Vec<String> {
        let dcs = self.by_datacenter();
        let rtt = self.rtt.lock().clone();
        let mut ranked: Vec<(Duration, String)> = dcs
            .into_iter()
            .map(|(dc, servers)| {
                let d = if dc == local {
                    Duration::ZERO
                } else {
                    let mut v: Vec<Duration> = servers
                        .iter()
                        .filter_map(|(a, _)| rtt.get(a))
                        .copied()
                        .collect();
                    v.sort();
                    v.get(v.len() / 2).copied().unwrap_or(Duration::MAX)
                };
                (d, dc)
            })
            .collect();
        if !ranked.iter().any(|(_, dc)| dc == local) {
            ranked.push((Duration::ZERO, local.to_string()));
        }
        ranked.sort();
        ranked.into_iter().map(|(_, dc)| dc).collect()
    }

    fn note(&self, addr: SocketAddr, ok: bool) {
        let mut f = self.failed.lock();
        if ok {
            f.remove(&addr);
        } else {
            f.insert(addr, Instant::now());
        }
    }

    fn record_rtt(&self, addr: SocketAddr, took: Duration) {
        let mut m = self.rtt.lock();
        let v = m.entry(addr).or_insert(took);
        // An exponentially weighted average: one slow probe does not reorder datacenters.
        *v = (*v * 3 + took) / 4;
    }
}

impl Agent {
    /// Send a request to a server of datacenter `dc` (a server's side of `?dc=`): the alive
    /// servers there in rotation, up to three, the next when a connection fails.
    /// `NoPathToDatacenter` for a datacenter it does not know, `DatacenterUnavailable` when
    /// none of its servers is alive, as Consul answers.
    pub async fn forward_dc(
        &self,
        dc: &str,
        req: Request,
        timeout: Duration,
    ) -> Result<Reply, AgentError> {
        let Some(wan) = &self.wan else {
            return Err(AgentError::NoPathToDatacenter);
        };
        let servers = wan.servers(dc);
        if servers.is_empty() {
            // Consul tells a datacenter it knows, whose servers all failed, from one it
            // has never heard of.
            return Err(if wan.by_datacenter().contains_key(dc) {
                AgentError::DatacenterUnavailable
            } else {
                AgentError::NoPathToDatacenter
            });
        }
        self.metrics.incr("consul.rpc.cross-dc");
        let mut last = None;
        for addr in servers.into_iter().take(3) {
            let outcome = self.rpc.call_in(dc, addr, req.clone(), timeout).await;
            wan.note(
                addr,
                !matches!(outcome, Err(RpcError::Connection(_) | RpcError::Timeout(_))),
            );
            match outcome {
                Ok(r) => return Ok(r),
                Err(RpcError::Remote(e)) if e == "No cluster leader" => {
                    return Err(AgentError::NoLeader);
                }
                Err(RpcError::Remote(e)) => return Err(AgentError::Internal(e)),
                Err(e) => {
                    warn!(
                        "agent: rpc to server {addr} in datacenter {dc} failed, trying another: {e}"
                    );
                    last = Some(match e {
                        RpcError::Connection(s) => s,
                        other => other.to_string(),
                    });
                }
            }
        }
        Err(AgentError::Internal(format!(
            "rpc error making call: {}",
            last.unwrap_or_default()
        )))
    }

    /// Known datacenters, nearest first (the local one alone without a WAN pool).
    pub fn datacenters(&self) -> Vec<String> {
        match &self.wan {
            Some(w) => w.datacenters(&self.cfg.datacenter),
            None => vec![self.cfg.datacenter.clone()],
        }
    }

    /// Every [`RTT_INTERVAL`]: bring this datacenter's servers into the WAN pool, and
    /// measure the round trip to every alive remote server.
    pub(super) async fn wan_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown_signal();
        let mut iv = tokio::time::interval(if self.cfg.dev {
            Duration::from_secs(2)
        } else {
            RTT_INTERVAL
        });
        iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = iv.tick() => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
            let Some(wan) = &self.wan else { return };
            self.flood_join(wan).await;
            let targets: Vec<(String, SocketAddr)> = wan
                .by_datacenter()
                .into_iter()
                .filter(|(dc, _)| *dc != self.cfg.datacenter)
                .flat_map(|(dc, s)| s.into_iter().map(move |m| (dc.clone(), m)))
                .filter(|(_, (_, st))| *st == Status::Alive)
                .map(|(dc, (a, _))| (dc, a))
                .collect();
            for (dc, addr) in targets {
                let req = Request::Http {
                    method: "GET".into(),
                    uri: "/v1/status/leader".into(),
                    body: Vec::new(),
                    from_server: true,
                    token: String::new(),
                };
                let start = Instant::now();
                if let Ok(Reply::Http { .. }) = self.rpc.call_in(&dc, addr, req, RTT_TIMEOUT).await
                {
                    wan.record_rtt(addr, start.elapsed());
                }
            }
        }
    }

    /// Join the servers of this datacenter that gossip on the LAN but are missing from the
    /// WAN pool (at their `wan_join_port`), so a datacenter joins the WAN as a whole once
    /// one of its servers did, as Consul's servers flood-join.
    async fn flood_join(&self, wan: &Wan) {
        let Some(lan) = &self.gossip else { return };
        let dc = &self.cfg.datacenter;
        let in_wan: std::collections::HashSet<String> = wan
            .gossip
            .members()
            .into_iter()
            .filter(|m| m.status != Status::Left)
            .map(|m| m.id.name)
            .collect();
        let missing: Vec<String> = lan
            .members()
            .into_iter()
            .filter(|m| {
                m.status == Status::Alive
                    && m.id.tags.get("role").map(String::as_str) == Some("consul")
                    && m.id.tags.get("dc") == Some(dc)
                    && !in_wan.contains(&format!("{}.{dc}", m.id.name))
            })
            .filter_map(|m| {
                let port: u16 = m.id.tags.get("wan_join_port")?.parse().ok()?;
                Some(SocketAddr::new(m.id.addr.ip(), port).to_string())
            })
            .collect();
        if missing.is_empty() {
            return;
        }
        let (n, errs) = wan.gossip.join(&missing).await;
        if n > 0 {
            info!("agent: (WAN) flood-joined {n} server(s) of this datacenter");
        }
        for (a, e) in errs {
            warn!("agent: (WAN) flood-join of {a} failed: {e}");
        }
    }

    /// Join other datacenters' servers through `addrs` on the WAN pool.
    pub async fn join_wan(&self, addrs: &[String]) -> Result<(usize, Vec<String>), AgentError> {
        let Some(w) = &self.wan else {
            return Err(AgentError::Internal(
                "WAN gossip is disabled on this agent (not a server, or ports.serf_wan = -1)"
                    .into(),
            ));
        };
        let (n, errs) = super::membership::join_pool(&w.gossip, addrs).await;
        if n > 0 {
            info!("agent: (WAN) joined: number_of_nodes={n}");
        }
        Ok((n, errs))
    }

    /// `retry_join_wan`: keep trying every `retry_interval_wan` until one address answers
    /// or `retry_max_wan` attempts failed (then the agent shuts down, as Consul's does).
    pub async fn retry_join_wan(self: Arc<Self>) {
        let addrs = self.cfg.retry_join_wan.clone();
        if addrs.is_empty() || self.wan.is_none() {
            return;
        }
        let (every, max) = (self.cfg.retry_interval_wan, self.cfg.retry_max_wan);
        self.retry_join_pool(addrs, every, max, true).await;
    }
}
