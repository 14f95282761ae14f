//! `/v1/agent/...`: this agent's own view, not replicated state.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::convert::*;
use super::query::Query;
use super::respond::{empty, json_bytes, json_plain, text};
use super::{ApiError, allow};
use crate::agent::{Agent, CONSUL_VERSION, member_tags};
use crate::api::decode::decode;
use crate::api::input::{
    CHECK_SCHEMA, CHECK_UPDATE_SCHEMA, CheckTypeIn, CheckUpdateIn, SERVICE_SCHEMA,
    ServiceDefinitionIn,
};
use crate::gossip::Member;
use crate::state::status;

/// Agent endpoints.
pub async fn agent(
    agent: &Arc<Agent>,
    method: &Method,
    rest: &str,
    q: &Query,
    body: Bytes,
) -> Result<Response, ApiError> {
    use Method as M;
    match rest {
        "self" => {
            allow(method, &[M::GET])?;
            return json_plain(&self_json(agent));
        }
        "members" => {
            allow(method, &[M::GET])?;
            return json_plain(&members_json(agent, q));
        }
        "services" => {
            allow(method, &[M::GET])?;
            let svcs = agent.local_services();
            let out: BTreeMap<&str, _> = svcs
                .iter()
                .map(|s| (s.id.as_str(), agent_service_out(s, &agent.cfg.datacenter)))
                .collect();
            return json_plain(&out);
        }
        "checks" => {
            allow(method, &[M::GET])?;
            // Only checks defined on this agent, as Consul lists them (serfHealth is the
            // servers' and lives in the catalog only).
            let all = agent.local_checks();
            let mut out: BTreeMap<&str, _> = BTreeMap::new();
            for c in &all {
                let mut co = check_out(c);
                co.node = agent.node_name();
                out.insert(c.check_id.as_str(), co);
            }
            return json_plain(&out);
        }
        "service/register" => {
            allow(method, &[M::PUT])?;
            let def: ServiceDefinitionIn = decode(&SERVICE_SCHEMA, &body)?;
            let (svc, checks) =
                service_from(&def, agent.node_name(), agent.cfg.enable_script_checks)?;
            let replace = matches!(q.get("replace-existing-checks"), Some("" | "1" | "true"));
            agent.register_service(svc, checks, replace).await?;
            return Ok(empty());
        }
        "check/register" => {
            allow(method, &[M::PUT])?;
            let c: CheckTypeIn = decode(&CHECK_SCHEMA, &body)?;
            let id = crate::api::definition::standalone_check_id(&c)?;
            let svc = if c.service_id.is_empty() {
                None
            } else {
                agent.local_service(&c.service_id)
            };
            if !c.service_id.is_empty() && svc.is_none() {
                return Err(ApiError::new(
                    StatusCode::NOT_FOUND,
                    format!("ServiceID \"{}\" does not exist", c.service_id),
                ));
            }
            let (check, tuning) = check_from(
                &c,
                id,
                c.name.clone(),
                svc.as_ref(),
                agent.cfg.enable_script_checks,
            )?;
            agent.register_check(check, tuning).await?;
            return Ok(empty());
        }
        "metrics" => {
            allow(method, &[M::GET])?;
            return metrics(agent, q);
        }
        "leave" => {
            allow(method, &[M::PUT])?;
            agent.leave_cluster().await;
            agent.request_shutdown();
            return Ok(empty());
        }
        "reload" => {
            allow(method, &[M::PUT])?;
            agent
                .reload()
                .await
                .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
            return Ok(empty());
        }
        "maintenance" => {
            allow(method, &[M::PUT])?;
            let enable = enable_param(q)?;
            agent
                .node_maintenance(enable, q.get("reason").unwrap_or(""))
                .await?;
            return Ok(empty());
        }
        _ => {}
    }
    if let Some(id) = rest.strip_prefix("service/deregister/") {
        allow(method, &[M::PUT])?;
        agent.deregister_service(id).await?;
        return Ok(empty());
    }
    if let Some(id) = rest.strip_prefix("service/maintenance/") {
        allow(method, &[M::PUT])?;
        let enable = enable_param(q)?;
        agent
            .service_maintenance(id, enable, q.get("reason").unwrap_or(""))
            .await?;
        return Ok(empty());
    }
    if let Some(id) = rest.strip_prefix("check/deregister/") {
        allow(method, &[M::PUT])?;
        agent.deregister_check(id).await?;
        return Ok(empty());
    }
    for (verb, st) in [
        ("pass", status::PASSING),
        ("warn", status::WARNING),
        ("fail", status::CRITICAL),
    ] {
        if let Some(id) = rest
            .strip_prefix("check/")
            .and_then(|r| r.strip_prefix(verb))
            .and_then(|r| r.strip_prefix('/'))
        {
            allow(method, &[M::PUT])?;
            agent
                .update_ttl(id, st, q.get("note").unwrap_or(""))
                .await?;
            return Ok(empty());
        }
    }
    if let Some(id) = rest.strip_prefix("check/update/") {
        allow(method, &[M::PUT])?;
        let u: CheckUpdateIn = decode(&CHECK_UPDATE_SCHEMA, &body)?;
        if !status::is_valid(&u.status) {
            return Err(ApiError::bad(format!(
                "Invalid check status: '{}'",
                u.status
            )));
        }
        agent.update_ttl(id, &u.status, &u.output).await?;
        return Ok(empty());
    }
    if let Some(id) = rest.strip_prefix("service/") {
        allow(method, &[M::GET])?;
        let Some(s) = agent.local_service(id) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("unknown service ID: {id}"),
            ));
        };
        let mut out = agent_service_out(&s, &agent.cfg.datacenter);
        let hash = format!(
            "{:016x}",
            fxhash(&serde_json::to_vec(&out).unwrap_or_default())
        );
        out.content_hash = Some(hash.clone());
        let mut r = json_plain(&out)?;
        if let Ok(v) = axum::http::HeaderValue::from_str(&hash) {
            r.headers_mut().insert("X-Consul-ContentHash", v);
        }
        return Ok(r);
    }
    for (prefix, by_id) in [
        ("health/service/id/", true),
        ("health/service/name/", false),
    ] {
        if let Some(key) = rest.strip_prefix(prefix) {
            allow(method, &[M::GET])?;
            return agent_health(agent, key, by_id, q);
        }
    }
    if rest.starts_with("token/") {
        return Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            "ACL support disabled",
        ));
    }
    if let Some(addr) = rest.strip_prefix("join/") {
        allow(method, &[M::PUT])?;
        if matches!(q.get("wan"), Some("" | "1" | "true")) && !agent.cfg.server {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "Must be a server to join WAN cluster",
            ));
        }
        let (n, errs) = agent.join(&[addr.to_string()]).await?;
        if n == 0 {
            return Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                errs.join("; "),
            ));
        }
        return Ok(empty());
    }
    if let Some(node) = rest.strip_prefix("force-leave/") {
        allow(method, &[M::PUT])?;
        let prune = q.get("prune").is_some_and(|v| v != "false" && v != "0");
        agent.force_leave(node, prune).await?;
        return Ok(empty());
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "Invalid URL path: not a recognized HTTP API endpoint",
    ))
}

/// The required `enable` parameter of the maintenance endpoints.
fn enable_param(q: &Query) -> Result<bool, ApiError> {
    match q.get("enable") {
        None | Some("") => Err(ApiError::bad("Missing value for enable")),
        Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
        Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(ApiError::bad(format!("Invalid value for enable: \"{v}\""))),
    }
}

fn fxhash(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ *x as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

fn agent_health(agent: &Agent, key: &str, by_id: bool, q: &Query) -> Result<Response, ApiError> {
    let services: Vec<_> = agent
        .local_services()
        .into_iter()
        .filter(|s| if by_id { s.id == key } else { s.service == key })
        .collect();
    if services.is_empty() {
        let msg = if by_id {
            format!("ServiceId {key} not found")
        } else {
            format!("ServiceName {key} Not Found")
        };
        return Ok(text(StatusCode::NOT_FOUND, &msg));
    }
    let checks = agent.local_checks();
    let mut worst = status::PASSING;
    let mut outs = Vec::new();
    for s in &services {
        let mine: Vec<_> = checks
            .iter()
            .filter(|c| c.service_id == s.id || c.service_id.is_empty())
            .collect();
        let agg = aggregate(mine.iter().copied());
        worst = match (worst, agg) {
            (_, status::CRITICAL) | (status::CRITICAL, _) => status::CRITICAL,
            (_, status::MAINTENANCE) | (status::MAINTENANCE, _) => status::MAINTENANCE,
            (_, status::WARNING) | (status::WARNING, _) => status::WARNING,
            _ => status::PASSING,
        };
        outs.push((agg, s, mine));
    }
    let code = match worst {
        status::PASSING => StatusCode::OK,
        status::WARNING => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    if q.get("format") == Some("text") {
        return Ok(text(code, worst));
    }
    let dc = agent.cfg.datacenter.as_str();
    let body = if by_id {
        let (agg, s, mine) = &outs[0];
        serde_json::to_vec(&crate::api::output::AgentHealthOut {
            aggregated_status: agg,
            service: agent_service_out(s, dc),
            checks: mine.iter().map(|c| check_out(c)).collect(),
        })
    } else {
        let list: Vec<_> = outs
            .iter()
            .map(|(agg, s, mine)| crate::api::output::AgentHealthOut {
                aggregated_status: agg,
                service: agent_service_out(s, dc),
                checks: mine.iter().map(|c| check_out(c)).collect(),
            })
            .collect();
        serde_json::to_vec(&list)
    }
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(json_bytes(code, body))
}

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

fn members_json(agent: &Agent, q: &Query) -> serde_json::Value {
    let Some(g) = &agent.gossip else {
        return json!([member_json(agent)]);
    };
    let wan = matches!(q.get("wan"), Some("" | "1" | "true"));
    let members = g.members();
    if wan {
        // One datacenter: the WAN pool is this datacenter's servers, named <node>.<dc>.
        if !agent.cfg.server {
            return json!([]);
        }
        let out: Vec<serde_json::Value> = members
            .iter()
            .filter(|m| m.id.tags.get("role").map(String::as_str) == Some("consul"))
            .map(|m| {
                let mut v = member_out(m);
                v["Name"] = json!(format!("{}.{}", m.id.name, agent.cfg.datacenter));
                v
            })
            .collect();
        return json!(out);
    }
    json!(members.iter().map(member_out).collect::<Vec<_>>())
}

fn self_json(agent: &Agent) -> serde_json::Value {
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
                    "known_datacenters": "1",
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
            "serf_lan": serf_stats(agent),
            "catalog": {"nodes": nodes.to_string(), "services": services.to_string(), "checks": checks.to_string(), "kv_entries": kv.to_string()},
        },
        "Meta": {"consul-network-segment": ""},
        "xDS": null,
    })
}

fn serf_stats(agent: &Agent) -> serde_json::Value {
    let Some(g) = &agent.gossip else {
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

fn metrics(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let counters = agent.metrics.counters();
    let samples = agent.metrics.samples();
    let rss = read_rss_bytes();
    let (kv, (nodes, services, _)) = {
        let s = agent.store.read();
        (s.kv_len(), s.catalog_counts())
    };
    let mut gauges: Vec<(&str, f64)> = vec![
        ("consul.runtime.alloc_bytes", rss as f64),
        ("consul.state.kv_entries", kv as f64),
        ("consul.state.nodes", nodes as f64),
        ("consul.state.services", services as f64),
        (
            "consul.agent.uptime_seconds",
            agent.started.elapsed().as_secs_f64(),
        ),
    ];
    let cs = agent.check_stats();
    gauges.push(("consul.agent.checks.runs", cs.runs() as f64));
    for (name, q) in [
        ("consul.agent.checks.schedule_lag_p50_ms", 0.5),
        ("consul.agent.checks.schedule_lag_p99_ms", 0.99),
    ] {
        gauges.push((name, cs.lag_quantile_ms(q).unwrap_or(0.0)));
    }
    gauges.push(("consul.agent.checks.schedule_lag_max_ms", cs.lag_max_ms()));
    if let Some(g) = &agent.gossip {
        use std::sync::atomic::Ordering::Relaxed;
        let st = g.stats();
        let (members, failed, left) = g.counts();
        gauges.extend([
            ("consul.serf.members", members as f64),
            ("consul.serf.member.failed", failed as f64),
            ("consul.serf.member.left", left as f64),
        ]);
        for (name, counter) in [
            ("consul.memberlist.packets_dropped", &st.dropped),
            ("consul.memberlist.packets_malformed", &st.malformed),
            ("consul.memberlist.send_dropped", &st.send_dropped),
            ("consul.memberlist.streams_rejected", &st.rejected_streams),
            ("consul.memberlist.bytes_sent", &st.bytes_sent),
            ("consul.memberlist.bytes_received", &st.bytes_received),
        ] {
            gauges.push((name, counter.load(Relaxed) as f64));
        }
    }
    if q.get("format") == Some("prometheus") {
        let mut out = String::new();
        let prom = |n: &str| n.replace(['.', '-'], "_");
        for (n, v) in &gauges {
            out.push_str(&format!("# TYPE {0} gauge\n{0} {1}\n", prom(n), v));
        }
        for (n, c) in &counters {
            out.push_str(&format!("# TYPE {0} counter\n{0} {1}\n", prom(n), c));
        }
        for (n, s) in &samples {
            let p = prom(n);
            out.push_str(&format!(
                "# TYPE {p} summary\n{p}_sum {}\n{p}_count {}\n",
                s.sum, s.count
            ));
        }
        let mut r = text(StatusCode::OK, out.trim_end());
        r.headers_mut().insert(
            axum::http::header::CONTENT_TYPE,
            axum::http::HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        );
        return Ok(r);
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let body = json!({
        "Timestamp": format!("{now}"),
        "Gauges": gauges.iter().map(|(n, v)| json!({"Name": n, "Value": v, "Labels": {}})).collect::<Vec<_>>(),
        "Points": [],
        "Counters": counters.iter().map(|(n, c)| json!({"Name": n, "Count": c, "Rate": 0.0, "Sum": *c as f64, "Min": 1.0, "Max": 1.0, "Mean": 1.0, "Stddev": 0.0, "Labels": {}})).collect::<Vec<_>>(),
        "Samples": samples.iter().map(|(n, s)| {
            let mean = if s.count > 0 { s.sum / s.count as f64 } else { 0.0 };
            let var = if s.count > 1 { ((s.sum_sq - s.sum * mean) / (s.count as f64 - 1.0)).max(0.0) } else { 0.0 };
            json!({"Name": n, "Count": s.count, "Rate": 0.0, "Sum": s.sum, "Min": s.min, "Max": s.max, "Mean": mean, "Stddev": var.sqrt(), "Labels": {}})
        }).collect::<Vec<_>>(),
    });
    json_plain(&body)
}

fn read_rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map(|kb| kb * 1024)
        .unwrap_or(0)
}
