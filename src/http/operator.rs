//! `/v1/operator/raft/...`: the Raft configuration, leadership transfer and peer removal.

use std::sync::Arc;
use std::time::Duration;

use axum::http::{Method, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::query::Query;
use super::respond::{empty, json_plain};
use super::{ApiError, allow};
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

/// Operator endpoints.
pub async fn operator(
    agent: &Arc<Agent>,
    method: &Method,
    rest: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    use Method as M;
    match rest {
        "raft/configuration" => {
            allow(method, &[M::GET])?;
            let c = consensus(agent)?;
            if !q.has("stale") {
                agent.require_leader()?;
            }
            json_plain(&configuration(c))
        }
        "raft/transfer-leader" => {
            allow(method, &[M::POST, M::PUT])?;
            let c = consensus(agent)?;
            transfer_leader(c, q.get("id").filter(|s| !s.is_empty())).await?;
            json_plain(&json!({"Success": true}))
        }
        "raft/peer" => {
            allow(method, &[M::DELETE])?;
            let c = consensus(agent)?;
            remove_peer(c, q.get("id"), q.get("address")).await?;
            Ok(empty())
        }
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Invalid URL path: not a recognized HTTP API endpoint",
        )),
    }
}

/// The Raft configuration as Consul shows it; `LastIndex` is what the leader knows each
/// server has (its own last index elsewhere).
pub fn configuration(c: &Consensus) -> serde_json::Value {
    let m = c.metrics();
    let leader = m.current_leader;
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

async fn transfer_leader(c: &Consensus, id: Option<&str>) -> Result<(), ApiError> {
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

async fn remove_peer(
    c: &Consensus,
    id: Option<&str>,
    address: Option<&str>,
) -> Result<(), ApiError> {
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
