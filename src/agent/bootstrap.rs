//! `bootstrap_expect`: the servers of a new datacenter start Raft together once gossip
//! shows as many of them as expected, and only if none of them has Raft peers yet.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tracing::{info, warn};

use super::Agent;
use crate::gossip::{Member, Status};
use crate::rpc::{Reply, Request};

impl Agent {
    /// `bootstrap_expect`: once gossip shows the expected number of servers of this
    /// datacenter, none of them with Raft peers, every one of them initialises Raft with the
    /// same voter set. A server with Raft state never bootstraps again.
    pub(super) async fn bootstrap_loop(self: Arc<Self>) {
        let (Some(g), Some(c)) = (&self.gossip, &self.consensus) else {
            return;
        };
        let expect = self.cfg.bootstrap_expect as usize;
        if expect < 2 {
            return;
        }
        if c.is_initialized().await {
            info!("agent: Raft data found, disabling bootstrap mode");
            return;
        }
        let mut changes = g.subscribe();
        let mut shutdown = self.shutdown_signal();
        loop {
            let servers: Vec<_> = self
                .server_members(&g.members())
                .into_iter()
                .filter(|(m, _, _)| m.status == Status::Alive)
                .collect();
            for (m, _, _) in &servers {
                if m.id.tags.contains_key("bootstrap") {
                    warn!(
                        "agent: Member {} has bootstrap mode. Expect disabled.",
                        m.id.name
                    );
                    return;
                }
                if m.id.tags.get("expect") != Some(&expect.to_string()) {
                    warn!(
                        "agent: Member {} has a conflicting expect value ({}). All nodes should expect the same number ({expect}); not bootstrapping.",
                        m.id.name,
                        m.id.tags
                            .get("expect")
                            .map(String::as_str)
                            .unwrap_or("none")
                    );
                    return;
                }
            }
            if servers.len() >= expect {
                match self.existing_cluster(&servers).await {
                    Ok(Some(who)) => {
                        info!(
                            "agent: Existing Raft peers reported by {who}, disabling bootstrap mode"
                        );
                        return;
                    }
                    Ok(None) => {
                        let voters: std::collections::BTreeMap<u64, openraft::NodeInfo> = servers
                            .iter()
                            .map(|(_, id, info)| (*id, info.clone()))
                            .collect();
                        let names: Vec<&str> = servers
                            .iter()
                            .map(|(_, _, info)| info.raft_addr.as_str())
                            .collect();
                        info!(
                            "agent: Found expected number of peers, attempting bootstrap: {}",
                            names.join(",")
                        );
                        match c.bootstrap(voters).await {
                            Ok(()) => return,
                            Err(e) => warn!("agent: bootstrap failed: {e}"),
                        }
                    }
                    Err(e) => info!("agent: cannot ask every server for its Raft peers yet: {e}"),
                }
            }
            tokio::select! {
                r = changes.changed() => if r.is_err() { return },
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = shutdown.wait_for(|v| *v) => return,
            }
        }
    }

    /// Ask every server for its Raft peers; the name of one that already has some.
    async fn existing_cluster(
        &self,
        servers: &[(Member, u64, openraft::NodeInfo)],
    ) -> Result<Option<String>, String> {
        for (m, _, info) in servers {
            if m.id.name == self.cfg.node_name {
                continue;
            }
            let addr: SocketAddr = info.raft_addr.parse().map_err(|e| format!("{e}"))?;
            let req = Request::Http {
                method: "GET".into(),
                uri: "/v1/status/peers".into(),
                body: Vec::new(),
                from_server: true,
                token: String::new(),
            };
            match self.rpc.call(addr, req, Duration::from_secs(5)).await {
                Ok(Reply::Http {
                    status: 200, body, ..
                }) => {
                    let peers: Vec<String> = serde_json::from_slice(&body).unwrap_or_default();
                    if !peers.is_empty() {
                        return Ok(Some(m.id.name.clone()));
                    }
                }
                Ok(other) => return Err(format!("{}: unexpected answer {other:?}", m.id.name)),
                Err(e) => return Err(format!("{}: {e}", m.id.name)),
            }
        }
        Ok(None)
    }
}
