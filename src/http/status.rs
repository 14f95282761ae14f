//! `/v1/status/...`: the leader and the voters, answered by every server itself.

use axum::response::Response;

use super::ApiError;
use super::respond::json_plain;
use crate::agent::Agent;

/// `GET /v1/status/leader`: the leader's server RPC address, `""` without one.
pub fn leader(agent: &Agent) -> Result<Response, ApiError> {
    let leader = agent
        .consensus
        .as_ref()
        .and_then(|c| c.leader_addr())
        .unwrap_or_default();
    json_plain(&leader)
}

/// `GET /v1/status/peers`: the voters' server RPC addresses.
pub fn peers(agent: &Agent) -> Result<Response, ApiError> {
    let peers: Vec<String> = match &agent.consensus {
        Some(c) => {
            let m = c.metrics();
            let mem = m.membership_config.membership();
            mem.voter_ids()
                .filter_map(|id| mem.get_node(&id).map(|n| n.raft_addr.clone()))
                .collect()
        }
        None => Vec::new(),
    };
    json_plain(&peers)
}
