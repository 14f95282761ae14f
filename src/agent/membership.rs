//! The agent's gossip member: its Consul tags, the gossip settings derived from the config,
//! joins (`join`, `retry_join`), the graceful leave and `force-leave`.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::Arc;

use tracing::{info, warn};

use super::{Agent, AgentError, CONSUL_VERSION};
use crate::config::AgentConfig;
use crate::gossip::{GossipConfig, Timing};

/// Consul's member tags for this agent.
pub fn member_tags(cfg: &AgentConfig, node_id: &str) -> BTreeMap<String, String> {
    let mut tags = BTreeMap::new();
    let mut put = |k: &str, v: String| {
        tags.insert(k.to_string(), v);
    };
    put("role", if cfg.server { "consul" } else { "node" }.into());
    put("dc", cfg.datacenter.clone());
    put("segment", String::new());
    put("id", node_id.to_string());
    put("vsn", "2".into());
    put("vsn_min", "2".into());
    put("vsn_max", "3".into());
    put(
        "build",
        format!("{CONSUL_VERSION}:disco-{}", env!("CARGO_PKG_VERSION")),
    );
    if cfg.server {
        put("port", cfg.ports.server.to_string());
        if cfg.ports.serf_wan > 0 {
            // Where the other servers of this datacenter join this one's WAN pool.
            put("wan_join_port", cfg.ports.serf_wan.to_string());
        }
        put("raft_vsn", "3".into());
        if cfg.bootstrap || cfg.dev {
            put("bootstrap", "1".into());
        }
        if cfg.bootstrap_expect > 0 {
            put("expect", cfg.bootstrap_expect.to_string());
        }
    }
    tags
}

/// A pool's timings with the config's `gossip_lan`/`gossip_wan` overrides applied.
pub(super) fn apply_overrides(mut timing: Timing, o: &crate::config::GossipLan) -> Timing {
    if let Some(v) = o.probe_interval {
        timing.probe_interval = v;
    }
    if let Some(v) = o.probe_timeout {
        timing.probe_timeout = v;
    }
    if let Some(v) = o.gossip_interval {
        timing.gossip_interval = v;
    }
    if let Some(v) = o.gossip_nodes {
        timing.gossip_nodes = v;
    }
    if let Some(v) = o.suspicion_mult {
        timing.suspicion_mult = v;
    }
    if timing.probe_timeout >= timing.probe_interval {
        timing.probe_timeout = timing.probe_interval / 2;
    }
    timing
}

/// The raw gossip key from `encrypt` (both pools seal with it).
pub(super) fn gossip_key(cfg: &AgentConfig) -> Result<Option<Vec<u8>>, AgentError> {
    cfg.encrypt
        .as_deref()
        .map(|k| {
            crate::gossip::decode_key(k)
                .map_err(|e| AgentError::BadRequest(format!("encrypt: {e}")))
        })
        .transpose()
}

/// The gossip settings for this agent.
pub fn gossip_config(
    cfg: &AgentConfig,
    node_id: &str,
    advertise: std::net::IpAddr,
) -> Result<GossipConfig, AgentError> {
    let port = cfg.ports.serf_lan as u16;
    let key = gossip_key(cfg)?;
    let timing = apply_overrides(
        if cfg.dev {
            Timing::dev()
        } else {
            Timing::lan()
        },
        &cfg.gossip_lan,
    );
    Ok(GossipConfig {
        name: cfg.node_name.clone(),
        bind: SocketAddr::new(cfg.bind_addr, port),
        advertise: SocketAddr::new(advertise, port),
        tags: member_tags(cfg, node_id),
        key,
        timing,
        snapshot_dir: cfg.data_dir.as_ref().map(|d| d.join("serf")),
        pool: "local",
        rejoin_after_leave: cfg.rejoin_after_leave,
    })
}

/// Join a pool through `addrs`: how many answered, and each failure as the API words it.
pub(super) async fn join_pool(g: &crate::gossip::Gossip, addrs: &[String]) -> (usize, Vec<String>) {
    let (n, errs) = g.join(addrs).await;
    let errs = errs
        .into_iter()
        .map(|(a, e)| format!("Failed to join {a}: {e}"))
        .collect();
    (n, errs)
}

impl Agent {
    /// Join the cluster through `addrs`; returns how many answered and each failure's text.
    pub async fn join(&self, addrs: &[String]) -> Result<(usize, Vec<String>), AgentError> {
        let Some(g) = &self.gossip else {
            return Err(AgentError::Internal(
                "gossip is disabled on this agent (ports.serf_lan = -1)".into(),
            ));
        };
        let (n, errs) = join_pool(g, addrs).await;
        if n > 0 {
            info!("agent: Join cluster completed. Synced with {n} initial agents");
        }
        Ok((n, errs))
    }

    /// `retry_join`: keep trying every `retry_interval` until one address answers or
    /// `retry_max` attempts failed (then the agent shuts down, as Consul's does).
    pub async fn retry_join(self: Arc<Self>) {
        let addrs = self.cfg.retry_join.clone();
        if addrs.is_empty() {
            return;
        }
        info!("agent: Retry join is supported for the following discovery methods: (addresses)");
        let (every, max) = (self.cfg.retry_interval, self.cfg.retry_max);
        self.retry_join_pool(addrs, every, max, false).await;
    }

    /// The retry loop of `retry_join` (`wan`: of `retry_join_wan`): join `addrs` every
    /// `every` until one answers, or stop the agent after `max` failed attempts (0: never).
    pub(super) async fn retry_join_pool(
        self: Arc<Self>,
        addrs: Vec<String>,
        every: std::time::Duration,
        max: u32,
        wan: bool,
    ) {
        let (pool, setting, what) = if wan {
            ("(WAN) ", "retry_max_wan", "WAN nodes")
        } else {
            ("", "retry_max", "nodes")
        };
        let mut attempt: u32 = 0;
        let mut shutdown = self.shutdown_signal();
        loop {
            attempt += 1;
            let outcome = if wan {
                self.join_wan(&addrs).await
            } else {
                self.join(&addrs).await
            };
            match outcome {
                Ok((n, _)) if n > 0 => {
                    info!("agent: {pool}Join completed. Initial agents synced: {n}");
                    return;
                }
                Ok((_, errs)) => {
                    warn!(
                        "agent: {pool}Join failed: attempt {attempt}: {}",
                        errs.join("; ")
                    )
                }
                Err(e) => {
                    warn!("agent: {pool}Join failed: {e}");
                    return;
                }
            }
            if max > 0 && attempt >= max {
                warn!("agent: {pool}Join failed: max join retry exhausted, exiting");
                self.fail(format!(
                    "Failed to join any {what} after {attempt} attempts ({setting})"
                ));
                return;
            }
            tokio::select! {
                _ = tokio::time::sleep(every) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
        }
    }

    /// Leave the gossip pools gracefully (peers see `leaving`, then `left`).
    pub async fn leave_cluster(&self) {
        if let Some(w) = &self.wan {
            w.gossip.leave().await;
        }
        if let Some(g) = &self.gossip {
            info!("agent: Requesting shutdown (graceful leave)");
            g.leave().await;
            info!("agent: Graceful leave complete");
        }
    }

    /// `force-leave`: a failed member becomes `left` (`prune`: forgotten).
    pub async fn force_leave(&self, node: &str, prune: bool, wan: bool) -> Result<(), AgentError> {
        let pool = if wan {
            self.wan.as_ref().map(|w| &w.gossip)
        } else {
            self.gossip.as_ref()
        };
        let Some(g) = pool else {
            return Err(AgentError::Internal(format!(
                "agent: No node found with name '{node}'"
            )));
        };
        g.force_leave(node, prune)
            .await
            .map_err(|e| AgentError::Internal(e.to_string()))
    }
}
