//! `/v1/operator/keyring`: the gossip keyring across the pool. `GET` lists each key with
//! the number of members holding it (`?local-only` asks this agent alone), `POST` installs
//! a key, `PUT` makes one primary and `DELETE` removes one (`{"Key": "<base64>"}`).
//!
//! Answered by the receiving agent itself: it asks every alive member over gossip, as
//! Consul's agent does through serf. Failures answer 500 with Consul's
//! `N/M nodes reported failure` and each member's reason.

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::ApiError;
use super::query::Query;
use super::respond::{empty, json_plain};
use crate::agent::Agent;
use crate::gossip::{KeyOp, decode_key};

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::BAD_REQUEST, msg)
}

/// One keyring call.
pub async fn keyring(
    agent: &Agent,
    q: &Query,
    op: KeyOp,
    body: &[u8],
) -> Result<Response, ApiError> {
    let gossip = agent.gossip.as_ref().ok_or_else(|| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No keyring to modify (gossip is not running)",
        )
    })?;
    if let Some(r) = q.get("relay-factor") {
        // Consul relays answers through up to 5 other members; every member here answers
        // the caller directly, so the value is checked and needs no other effect.
        match r.parse::<u8>() {
            Ok(n) if n <= 5 => {}
            _ => return Err(bad("Relay factor must be in range: [0, 5]")),
        }
    }
    let local_only = q.has("local-only") && q.get("local-only") != Some("false");
    if local_only && op != KeyOp::List {
        return Err(bad("Local-only can only be used for list operations"));
    }
    let key = if op == KeyOp::List {
        Vec::new()
    } else {
        let v: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("Request decode failed: {e}")))?;
        let k = v
            .get("Key")
            .and_then(|k| k.as_str())
            .ok_or_else(|| bad("Request decode failed: a Key (base64) is required"))?;
        decode_key(k).map_err(|e| bad(e.to_string()))?
    };
    // A server runs the operation on the WAN pool first (every datacenter's servers),
    // then on its LAN pool, as Consul's servers do; the list shows both.
    let mut pools = Vec::new();
    if let Some(w) = agent.wan.as_ref().filter(|_| !local_only) {
        pools.push((true, w.gossip.keyring_op(op, &key, false).await));
    }
    pools.push((false, gossip.keyring_op(op, &key, local_only).await));
    for (_, s) in &pools {
        if let Some(e) = s.error() {
            let details: Vec<String> = s
                .messages
                .iter()
                .map(|(n, m)| format!("{n}: {m}"))
                .collect();
            let msg = if details.is_empty() {
                e
            } else {
                format!("{e} ({})", details.join("; "))
            };
            return Err(ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg));
        }
    }
    if op != KeyOp::List {
        return Ok(empty());
    }
    let out: Vec<serde_json::Value> = pools
        .iter()
        .map(|(wan, s)| {
            json!({
                "WAN": wan,
                "Datacenter": if *wan { "" } else { agent.cfg.datacenter.as_str() },
                "Segment": "",
                "Partition": "",
                "Messages": s.messages,
                "Keys": s.keys,
                "PrimaryKeys": s.primary_keys,
                "NumNodes": s.num_nodes,
            })
        })
        .collect();
    json_plain(&out)
}
