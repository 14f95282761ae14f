//! `GET /v1/agent/self` and `GET /v1/agent/members`: what this agent reports about itself
//! and the gossip pool.

use serde_json::json;

use super::query::Query;
use crate::agent::{Agent, CONSUL_VERSION, member_tags};
use crate::gossip::Member;

/// A gossip member as Consul's `Member` object.
fn member_out(m: &Member) -> serde_json::Value {
    json!({
        "Name": m.id.name,
        "Addr": m.id.addr.ip().to_string(),
        "Port": m.id.addr.port(),
        "Tags": m.id.tags,
        "Status": m.status as u8,
        "ProtocolMin": 1,
        "ProtocolMax": 5,
        "ProtocolCur": 2,
        "DelegateMin": 2,
        "DelegateMax": 5,
        "DelegateCur": 4,
    })
}

/// This agent's member entry (synthesised when gossip is disabled).
fn member_json(agent: &Agent) -> serde_json::Value {
    match &agent.gossip {
        Some(g) => member_out(&g.local()),
        None => member_out(&Member {
            id: crate::gossip::MemberId {
                addr: std::net::SocketAddr::new(
                    agent.advertise,
                    agent.cfg.ports.serf_lan.clamp(0, 65535) as u16,
                ),
                name: agent.node_name().to_string(),
                bump: 0,
                tags: member_tags(&agent.cfg, &agent.node_id),
            },
            status: crate::gossip::Status::Alive,
        }),
    }
}

/// `GET /v1/agent/members`, with `?filter` tested on each member.
pub fn members(agent: &Agent, q: &Query) -> Result<axum::response::Response, super::ApiError> {
    let filter = q.filter()?;
    let mut list = match members_json(agent, q) {
        serde_json::Value::Array(list) => list,
        other => vec![other],
    };
    if let Some(f) = &filter {
        f.retain(&mut list).map_err(super::query::filter_error)?;
    }
    super::respond::json_plain(&list)
}

/// The member list (`?wan`: the WAN pool's servers of every datacenter, as `<node>.<dc>`).
pub fn members_json(agent: &Agent, q: &Query) -> serde_json::Value {
    let Some(g) = &agent.gossip else {
        return json!([member_json(agent)]);
    };
    let wan = matches!(q.get("wan"), Some("" | "1" | "true"));
    if wan {
        // The WAN pool: the servers of every datacenter, named <node>.<dc>. A client agent
        // is in none (Consul answers it with an empty list too).
        let Some(w) = &agent.wan else {
            return json!([]);
        };
        let out: Vec<serde_json::Value> = w
            .gossip
            .members()
            .iter()
            .filter(|m| {
                let node =
                    m.id.name
                        .rsplit_once('.')
                        .map_or(m.id.name.as_str(), |(n, _)| n);
                q.authz.keep(crate::acl::Resource::Node, node)
            })
            .map(member_out)
            .collect();
        return json!(out);
    }
    let members = g.members();
    json!(
        members
            .iter()
            .filter(|m| q.authz.keep(crate::acl::Resource::Node, &m.id.name))
            .map(member_out)
            .collect::<Vec<_>>()
    )
}

/// `GET /v1/agent/self`: configuration, member entry and stats, as Consul shows them.
pub fn self_json(agent: &Agent) -> serde_json::Value {
    let mut raft = serde_json::Map::new();
    let mut leader_addr = String::new();
    let mut is_leader = false;
    if let Some(c) = &agent.consensus {
        let m = c.metrics();
        leader_addr = c.leader_addr().unwrap_or_default();
        is_leader = c.is_leader();
        let voters = m.membership_config.membership().voter_ids().count();
        raft.insert(
            "applied_index".into(),
            json!(
                m.last_applied
                    .as_ref()
                    .map(|l| l.index)
                    .unwrap_or(0)
                    .to_string()
            ),
        );
        raft.insert(
            "commit_index".into(),
            json!(
                m.local_committed
                    .as_ref()
                    .map(|l| l.index)
                    .unwrap_or(0)
                    .to_string()
            ),
        );
        raft.insert(
            "last_log_index".into(),
            json!(m.last_log_index.unwrap_or(0).to_string()),
        );
        raft.insert("term".into(), json!(m.current_term.to_string()));
        raft.insert("last_log_term".into(), json!(m.current_term.to_string()));
        raft.insert("state".into(), json!(format!("{:?}", m.state)));
        raft.insert(
            "num_peers".into(),
            json!(voters.saturating_sub(1).to_string()),
        );
        raft.insert(
            "last_contact".into(),
            json!(match c.last_contact() {
                Some(d) => crate::api::duration::format_go(d),
                None => "never".to_string(),
            }),
        );
        raft.insert("protocol_version".into(), json!("3"));
        raft.insert(
            "last_snapshot_index".into(),
            json!(
                m.snapshot
                    .as_ref()
                    .map(|l| l.index)
                    .unwrap_or(0)
                    .to_string()
            ),
        );
    }
    let ((nodes, services, checks), kv) = {
        let s = agent.store.read();
        (s.catalog_counts(), s.kv_len())
    };
    let local_checks = agent.local_checks();
    let ttl = local_checks
        .iter()
        .filter(|c| c.definition.ttl_ns > 0)
        .count();
    json!({
        "Config": {
            "Datacenter": agent.cfg.datacenter,
            "PrimaryDatacenter": if agent.cfg.primary_datacenter.is_empty() { agent.cfg.datacenter.clone() } else { agent.cfg.primary_datacenter.clone() },
            "NodeName": agent.node_name(),
            "NodeID": agent.node_id,
            "Revision": format!("disco-{}", env!("CARGO_PKG_VERSION")),
            "Server": agent.cfg.server,
            "Version": CONSUL_VERSION,
            "BuildDate": "2026-11-01T00:00:00Z",
        },
        "DebugConfig": {
            "Datacenter": agent.cfg.datacenter,
            "NodeName": agent.node_name(),
            "ServerMode": agent.cfg.server,
            "DevMode": agent.cfg.dev,
            "Bootstrap": agent.cfg.bootstrap,
            "BootstrapExpect": agent.cfg.bootstrap_expect,
            "DataDir": agent.cfg.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
            "HTTPPort": agent.cfg.ports.http,
            "DNSPort": agent.cfg.ports.dns,
            "ServerPort": agent.cfg.ports.server,
            "SerfPortLAN": agent.cfg.ports.serf_lan,
            "SerfPortWAN": agent.cfg.ports.serf_wan,
            "EnableScriptChecks": agent.cfg.enable_script_checks,
        },
        "Coord": null,
        "Member": member_json(agent),
        "Stats": {
            "agent": {
                "check_monitors": agent.check_stats().monitors().to_string(),
                "check_ttls": ttl.to_string(),
                "checks": local_checks.len().to_string(),
                "services": agent.local_services().len().to_string(),
            },
            "build": {"prerelease": "", "revision": format!("disco-{}", env!("CARGO_PKG_VERSION")), "version": CONSUL_VERSION, "version_metadata": ""},
            "consul": if agent.cfg.server {
                json!({
                    "bootstrap": (agent.cfg.bootstrap || agent.cfg.dev).to_string(),
                    "known_datacenters": agent.datacenters().len().to_string(),
                    "leader": is_leader.to_string(),
                    "leader_addr": leader_addr,
                    "server": "true",
                })
            } else {
                json!({
                    "known_servers": agent.server_addrs().len().to_string(),
                    "server": "false",
                })
            },
            "raft": raft,
            "runtime": {
                "arch": std::env::consts::ARCH,
                "os": std::env::consts::OS,
                "cpu_count": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1).to_string(),
                "version": "rust",
                "goroutines": "0",
            },
            "serf_lan": serf_stats(agent.gossip.as_ref()),
            "serf_wan": serf_stats(agent.wan.as_ref().map(|w| &w.gossip)),
            "catalog": {"nodes": nodes.to_string(), "services": services.to_string(), "checks": checks.to_string(), "kv_entries": kv.to_string()},
        },
        "Meta": {"consul-network-segment": ""},
        "xDS": null,
    })
}

/// The `serf_lan`/`serf_wan` block of `agent/self`'s stats.
fn serf_stats(pool: Option<&crate::gossip::Gossip>) -> serde_json::Value {
    let Some(g) = pool else {
        return json!({"members": "1", "failed": "0", "left": "0", "health_score": "0", "encrypted": "false"});
    };
    let (members, failed, left) = g.counts();
    let st = g.stats();
    use std::sync::atomic::Ordering::Relaxed;
    json!({
        "members": members.to_string(),
        "failed": failed.to_string(),
        "left": left.to_string(),
        "health_score": "0",
        "encrypted": g.encrypted().to_string(),
        "member_time": g.members().len().to_string(),
        "event_time": "1",
        "query_time": "1",
        "intent_queue": "0",
        "event_queue": "0",
        "query_queue": "0",
        "coordinate_resets": "0",
        "dropped_packets": st.dropped.load(Relaxed).to_string(),
        "malformed_packets": st.malformed.load(Relaxed).to_string(),
    })
}
