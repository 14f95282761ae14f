//! `/v1/operator/raft/...`: the Raft configuration, leadership transfer and peer removal.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use openraft::Instant as _;
use serde_json::json;

use super::ApiError;
use super::query::Query;
use super::respond::{empty, json_plain};
use crate::agent::Agent;
use crate::consensus::{Consensus, node_identity};

fn consensus(agent: &Agent) -> Result<&Consensus, ApiError> {
    agent
        .consensus
        .as_ref()
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "No known Consul servers"))
}

fn internal(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg)
}

/// `GET /v1/operator/raft/configuration` (`?stale` answers from this server).
pub fn raft_configuration(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let c = consensus(agent)?;
    if !q.has("stale") {
        agent.require_leader()?;
    }
    json_plain(&configuration(c))
}

/// `POST|PUT /v1/operator/raft/transfer-leader` (`?id`, else the most caught-up voter).
pub async fn transfer_leader(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let c = consensus(agent)?;
    transfer_to(c, q.get("id").filter(|s| !s.is_empty())).await?;
    json_plain(&json!({"Success": true}))
}

/// `GET /v1/operator/autopilot/health`: 429 while a server is unhealthy.
pub fn autopilot_health(agent: &Agent) -> Result<Response, ApiError> {
    let c = consensus(agent)?;
    agent.require_leader()?;
    let (healthy, body) = server_health(agent, c);
    let mut r = json_plain(&body)?;
    if !healthy {
        *r.status_mut() = StatusCode::TOO_MANY_REQUESTS;
    }
    Ok(r)
}

/// `GET /v1/operator/autopilot/configuration`: the `autopilot` settings in Consul's shape.
pub fn autopilot_configuration(agent: &Agent) -> Result<Response, ApiError> {
    let ap = &agent.cfg.autopilot;
    json_plain(&json!({
        "CleanupDeadServers": ap.cleanup_dead_servers,
        "LastContactThreshold": crate::api::duration::format_go(ap.last_contact_threshold),
        "MaxTrailingLogs": ap.max_trailing_logs,
        "MinQuorum": ap.min_quorum,
        "ServerStabilizationTime": crate::api::duration::format_go(ap.server_stabilization_time),
        "RedundancyZoneTag": "",
        "DisableUpgradeMigration": false,
        "UpgradeVersionTag": "",
        "CreateIndex": 0,
        "ModifyIndex": 0,
    }))
}

/// `DELETE /v1/operator/raft/peer` (`?id` or `?address`).
pub async fn remove_peer(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let c = consensus(agent)?;
    remove(c, q.get("id"), q.get("address")).await?;
    Ok(empty())
}

/// The Raft configuration as Consul shows it; `LastIndex` is what the leader knows each
/// server has (its own last index elsewhere).
pub fn configuration(c: &Consensus) -> serde_json::Value {
    let m = c.metrics();
    let leader = c.live_leader(m.current_leader);
    let replication = m.replication.clone().unwrap_or_default();
    let own_last = m.last_log_index.unwrap_or(0);
    let servers: Vec<serde_json::Value> = c
        .peers()
        .into_iter()
        .map(|(id, info, voter)| {
            let (name, uuid) = node_identity(&info);
            let last = if id == c.id() {
                own_last
            } else {
                replication
                    .get(&id)
                    .and_then(|l| l.as_ref().map(|l| l.index))
                    .unwrap_or(0)
            };
            json!({
                "ID": uuid,
                "Node": name,
                "Address": info.raft_addr,
                "Leader": Some(id) == leader,
                "ProtocolVersion": "3",
                "Voter": voter,
                "LastIndex": last,
            })
        })
        .collect();
    let index = m
        .membership_config
        .log_id()
        .as_ref()
        .map(|l| l.index)
        .unwrap_or(0);
    json!({"Servers": servers, "Index": index})
}

fn find_peer(c: &Consensus, id: Option<&str>, address: Option<&str>) -> Option<(u64, bool)> {
    c.peers().into_iter().find_map(|(rid, info, voter)| {
        let (_, uuid) = node_identity(&info);
        let hit = id.is_some_and(|id| id == uuid || id == rid.to_string())
            || address.is_some_and(|a| a == info.raft_addr);
        hit.then_some((rid, voter))
    })
}

async fn transfer_to(c: &Consensus, id: Option<&str>) -> Result<(), ApiError> {
    if !c.is_leader() {
        return Err(internal("No cluster leader"));
    }
    let target = match id {
        Some(id) => match find_peer(c, Some(id), None) {
            Some((rid, true)) if rid != c.id() => rid,
            Some((rid, true)) if rid == c.id() => {
                return Err(internal(format!(
                    "cannot transfer leadership to itself: {id} is already the leader"
                )));
            }
            Some(_) => return Err(internal(format!("server {id} is not a voter"))),
            None => return Err(internal(format!("cannot find peer {id}"))),
        },
        None => {
            // The most caught-up other voter.
            let m = c.metrics();
            let replication = m.replication.clone().unwrap_or_default();
            let best = c
                .peers()
                .into_iter()
                .filter(|(rid, _, voter)| *voter && *rid != c.id())
                .max_by_key(|(rid, _, _)| {
                    replication
                        .get(rid)
                        .and_then(|l| l.as_ref().map(|l| l.index))
                        .unwrap_or(0)
                });
            match best {
                Some((rid, _, _)) => rid,
                None => return Err(internal("cannot find a voter to transfer leadership to")),
            }
        }
    };
    c.transfer_leader(target)
        .await
        .map_err(|e| internal(format!("Failed to transfer leadership: {e}")))?;
    let moved = c
        .raft
        .wait(Some(Duration::from_secs(10)))
        .metrics(|m| m.current_leader == Some(target), "leadership moved")
        .await
        .is_ok();
    if !moved {
        return Err(internal(
            "Failed to transfer leadership: the target did not take over in time",
        ));
    }
    Ok(())
}

async fn remove(c: &Consensus, id: Option<&str>, address: Option<&str>) -> Result<(), ApiError> {
    let id = id.filter(|s| !s.is_empty());
    let address = address.filter(|s| !s.is_empty());
    match (id, address) {
        (None, None) => {
            return Err(ApiError::bad(
                "Must specify either ?id with the server's ID or ?address with IP:port of peer to remove",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::bad("Must specify only one of ?id or ?address"));
        }
        _ => {}
    }
    if !c.is_leader() {
        return Err(internal("No cluster leader"));
    }
    let Some((rid, _)) = find_peer(c, id, address) else {
        let what = id
            .map(|i| format!("id {i:?}"))
            .unwrap_or_else(|| format!("address {:?}", address.unwrap_or_default()));
        return Err(internal(format!(
            "{what} was not found in the Raft configuration"
        )));
    };
    if rid == c.id() {
        return Err(internal(
            "cannot remove the leader; transfer leadership first",
        ));
    }
    c.remove_server(rid)
        .await
        .map_err(|e| internal(e.to_string()))
}

/// Autopilot's view of server health (answered by the leader, which knows every server's
/// replication progress and last contact).
fn server_health(agent: &Agent, c: &Consensus) -> (bool, serde_json::Value) {
    let ap = &agent.cfg.autopilot;
    let m = c.metrics();
    let leader = c.live_leader(m.current_leader);
    let replication = m.replication.clone().unwrap_or_default();
    let heartbeat = m.heartbeat.clone().unwrap_or_default();
    let own_last = m.last_log_index.unwrap_or(0);
    let serf: std::collections::HashMap<String, &'static str> = agent
        .gossip
        .as_ref()
        .map(|g| {
            g.members()
                .into_iter()
                .map(|mb| (mb.id.name.clone(), mb.status.as_str()))
                .collect()
        })
        .unwrap_or_default();
    let mut all_healthy = true;
    let mut healthy_voters = 0usize;
    let mut voters = 0usize;
    let servers: Vec<serde_json::Value> = c
        .peers()
        .into_iter()
        .map(|(id, info, voter)| {
            let (name, uuid) = node_identity(&info);
            let is_leader = Some(id) == leader;
            let (last_index, contact) = if id == c.id() {
                (own_last, Some(Duration::ZERO))
            } else {
                (
                    replication
                        .get(&id)
                        .and_then(|l| l.as_ref().map(|l| l.index))
                        .unwrap_or(0),
                    heartbeat
                        .get(&id)
                        .and_then(|t| t.as_ref().map(|t| t.elapsed())),
                )
            };
            let serf_status = serf.get(name).copied().unwrap_or("none");
            let healthy = serf_status == "alive"
                && contact.is_some_and(|d| d <= ap.last_contact_threshold.max(Duration::from_secs(1)))
                && own_last.saturating_sub(last_index) <= ap.max_trailing_logs;
            all_healthy &= healthy;
            if voter {
                voters += 1;
                if healthy {
                    healthy_voters += 1;
                }
            }
            json!({
                "ID": uuid,
                "Name": name,
                "Address": info.raft_addr,
                "SerfStatus": serf_status,
                "Version": crate::agent::CONSUL_VERSION,
                "Leader": is_leader,
                "LastContact": contact.map(crate::api::duration::format_go).unwrap_or_else(|| "-1ns".into()),
                "LastTerm": m.current_term,
                "LastIndex": last_index,
                "Healthy": healthy,
                "Voter": voter,
                "StableSince": "1970-01-01T00:00:00Z",
            })
        })
        .collect();
    let quorum = voters / 2 + 1;
    let tolerance = healthy_voters.saturating_sub(quorum);
    (
        all_healthy,
        json!({"Healthy": all_healthy, "FailureTolerance": tolerance, "Servers": servers}),
    )
}
