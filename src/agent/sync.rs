//! Anti-entropy: the agent owns its services and checks, and keeps the catalog's entry for
//! this node equal to them. Changes are written as they happen; this full sync repairs
//! whatever drifted (a write lost to a leader change, a service deregistered behind the
//! agent's back through the catalog API) by diffing and writing only the differences.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use tracing::{info, warn};

use super::{Agent, AgentError, CONSUL_VERSION};
use crate::state::{self, Check, Command, Service, status};

/// A service as the catalog should hold it, ignoring the bookkeeping fields.
pub(super) fn same_service(a: &Service, b: &Service) -> bool {
    a.id == b.id
        && a.service == b.service
        && a.tags == b.tags
        && a.address == b.address
        && a.tagged_addresses == b.tagged_addresses
        && a.meta == b.meta
        && a.port == b.port
        && a.weights == b.weights
        && a.enable_tag_override == b.enable_tag_override
        && a.kind == b.kind
}

/// A check as the catalog should hold it, ignoring the bookkeeping fields.
fn same_check(a: &Check, b: &Check) -> bool {
    a.check_id == b.check_id
        && a.name == b.name
        && a.status == b.status
        && a.notes == b.notes
        && a.output == b.output
        && a.service_id == b.service_id
        && a.service_name == b.service_name
        && a.service_tags == b.service_tags
        && a.check_type == b.check_type
        && a.definition == b.definition
}

impl Agent {
    /// Write commands now; a failure is left to the periodic sync to repair.
    pub(super) async fn sync_best_effort(&self, cmds: Vec<Command>) {
        for cmd in cmds {
            let token = self.token_for(&cmd);
            if let Err(e) = self.write_as(cmd, &token).await {
                warn!("failed to sync remote state: {e}");
                self.sync_now.notify_one();
                return;
            }
        }
    }

    /// Bring the catalog entry of this node in line with the local state, writing only
    /// what differs. With `with_node`, the node itself is written too (its address or
    /// metadata may have changed since the last start).
    pub async fn sync_full_diff(&self, with_node: bool) -> Result<usize, AgentError> {
        let node = self.cfg.node_name.clone();
        let mut node_checks = Vec::new();
        if self.gossip.is_none() {
            // Without gossip nobody else vouches for this node.
            node_checks.push(Check {
                node: node.clone().into(),
                check_id: state::SERF_CHECK_ID.into(),
                name: state::SERF_CHECK_NAME.into(),
                status: status::PASSING.into(),
                output: state::SERF_ALIVE_OUTPUT.into(),
                ..Default::default()
            });
        }
        let local_checks = self.local_checks();
        let mut wanted_services = self.local_services();
        if self.cfg.server {
            wanted_services.push(self.consul_service());
        }
        node_checks.extend(
            local_checks
                .iter()
                .filter(|c| c.service_id.is_empty())
                .cloned(),
        );
        let (have_services, have_checks) = self.catalog_entries().await?;
        let have_s: HashMap<&str, &Service> =
            have_services.iter().map(|s| (s.id.as_str(), s)).collect();
        let have_c: HashMap<&str, &Check> = have_checks
            .iter()
            .map(|c| (c.check_id.as_str(), c))
            .collect();
        let differs = |c: &Check| {
            have_c
                .get(c.check_id.as_str())
                .is_none_or(|h| !same_check(h, c))
        };

        let mut cmds = Vec::new();
        if with_node || node_checks.iter().any(differs) {
            cmds.push(Command::Register {
                node: self.self_node(),
                skip_node_update: false,
                service: None,
                checks: node_checks,
            });
        }
        for s in &wanted_services {
            let checks: Vec<Check> = local_checks
                .iter()
                .filter(|c| c.service_id == s.id)
                .cloned()
                .collect();
            let service_differs = have_s
                .get(s.id.as_str())
                .is_none_or(|h| !same_service(h, s));
            if service_differs || checks.iter().any(differs) {
                cmds.push(Command::Register {
                    node: self.self_node(),
                    skip_node_update: true,
                    service: Some(s.clone()),
                    checks,
                });
            }
        }
        // Drop what the catalog has for this node but the agent no longer owns.
        for s in &have_services {
            if !wanted_services.iter().any(|w| w.id == s.id) {
                cmds.push(Command::Deregister {
                    node: node.clone(),
                    service_id: Some(s.id.to_string()),
                    check_id: None,
                });
            }
        }
        for c in &have_checks {
            let owned = c.check_id == state::SERF_CHECK_ID
                || local_checks.iter().any(|l| l.check_id == c.check_id);
            let service_goes =
                !c.service_id.is_empty() && !wanted_services.iter().any(|w| w.id == c.service_id);
            if !owned && !service_goes {
                cmds.push(Command::Deregister {
                    node: node.clone(),
                    service_id: None,
                    check_id: Some(c.check_id.to_string()),
                });
            }
        }
        let n = cmds.len();
        for cmd in cmds {
            let token = self.token_for(&cmd);
            self.write_as(cmd, &token).await?;
        }
        Ok(n)
    }

    /// Full sync including the node entry.
    pub async fn sync_full(&self) -> Result<(), AgentError> {
        self.sync_full_diff(true).await.map(|_| ())
    }

    /// The `consul` service every server registers for itself.
    pub(super) fn consul_service(&self) -> Service {
        let mut meta = std::collections::BTreeMap::new();
        meta.insert("non_voter".into(), "false".into());
        meta.insert("read_replica".into(), "false".into());
        meta.insert("raft_version".into(), "3".into());
        meta.insert("serf_protocol_current".into(), "2".into());
        meta.insert("serf_protocol_max".into(), "5".into());
        meta.insert("serf_protocol_min".into(), "1".into());
        meta.insert("version".into(), CONSUL_VERSION.into());
        Service {
            node: self.cfg.node_name.clone().into(),
            id: "consul".into(),
            service: "consul".into(),
            port: self.cfg.ports.server,
            meta,
            ..Default::default()
        }
    }

    /// Periodic full sync (anti-entropy): at start once a leader exists, then every
    /// `ae_interval` (with a little jitter so agents started together spread out), and
    /// soon after a write to the catalog failed.
    pub(super) async fn sync_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown_signal();
        let mut synced = false;
        let mut last_complaint: Option<Instant> = None;
        let every = self.cfg.ae_interval;
        loop {
            let delay = if synced {
                let jitter = (every.as_millis() as u64 / 16).max(1);
                every + Duration::from_millis(rand::random_range(0..jitter))
            } else {
                Duration::from_millis(200)
            };
            tokio::select! {
                _ = tokio::time::sleep(delay) => {}
                _ = self.sync_now.notified() => {
                    // Let a leader election or a burst of changes settle first.
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
                _ = shutdown.changed() => return,
            }
            if let Err(e) = self.require_leader() {
                synced = false;
                if last_complaint.is_none_or(|t: Instant| t.elapsed() > Duration::from_secs(15)) {
                    last_complaint = Some(Instant::now());
                    warn!("agent: failed to sync remote state: {e}");
                }
                continue;
            }
            match self.sync_full_diff(!synced).await {
                Ok(n) => {
                    if !synced {
                        info!("agent: Synced node info");
                    } else if n > 0 {
                        info!("agent: anti-entropy repaired {n} catalog entries");
                    }
                    synced = true;
                }
                Err(e) => {
                    warn!("agent: failed to sync remote state: {e}");
                    synced = false;
                }
            }
        }
    }
}
