//! `/v1/operator/keyring`: the gossip keyring across the pool. `GET` lists each key with
//! the number of members holding it (`?local-only` asks this agent alone), `POST` installs
//! a key, `PUT` makes one primary and `DELETE` removes one (`{"Key": "<base64>"}`).
//!
//! Answered by the receiving agent itself: it asks every alive member over gossip, as
//! Consul's agent does through serf. A server also runs the operation on the WAN pool and
//! has one server of every other datacenter run it on that datacenter's LAN pool, so one
//! call rotates a whole federation. Failures answer 500 with Consul's
//! `N/M nodes reported failure` and each member's reason.

use std::time::Duration;

use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::ApiError;
use super::query::Query;
use super::respond::{empty, json_plain};
use crate::agent::Agent;
use crate::gossip::{KeyOp, decode_key};
use crate::rpc::{Reply, Request};

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
    // then on its LAN pool, then has every other datacenter run it on its own LAN pool, as
    // Consul's servers do; the list shows each. A call relayed from another datacenter's
    // server stays in this LAN pool.
    let fan_out = !local_only && !q.from_server;
    let mut pools = Vec::new();
    if let Some(w) = agent.wan.as_ref().filter(|_| fan_out) {
        pools.push((true, w.gossip.keyring_op(op, &key, false).await));
    }
    pools.push((false, gossip.keyring_op(op, &key, local_only).await));
    let mut remote = Vec::new();
    if fan_out && agent.wan.is_some() {
        for dc in agent.datacenters() {
            if dc != agent.cfg.datacenter {
                remote.extend(other_datacenter(agent, &dc, op, body, q).await?);
            }
        }
    }
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
    let mut out = out;
    out.extend(remote);
    json_plain(&out)
}

/// Run the operation on the LAN pool of datacenter `dc` through one of its servers; the
/// list's LAN entry of that datacenter, or nothing for a change.
async fn other_datacenter(
    agent: &Agent,
    dc: &str,
    op: KeyOp,
    body: &[u8],
    q: &Query,
) -> Result<Vec<serde_json::Value>, ApiError> {
    let method = match op {
        KeyOp::List => "GET",
        KeyOp::Install => "POST",
        KeyOp::Use => "PUT",
        KeyOp::Remove => "DELETE",
    };
    let req = Request::Http {
        method: method.into(),
        uri: "/v1/operator/keyring".into(),
        body: body.to_vec(),
        from_server: true,
        token: q.authz.secret().to_string(),
    };
    let failed = |e: String| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("datacenter {dc}: {e}"),
        )
    };
    let reply = agent
        .forward_dc(dc, req, Duration::from_secs(30))
        .await
        .map_err(|e| failed(e.to_string()))?;
    let Reply::Http { status, body, .. } = reply else {
        return Err(failed("unexpected reply".into()));
    };
    if status != 200 {
        return Err(failed(String::from_utf8_lossy(&body).trim().to_string()));
    }
    if op != KeyOp::List {
        return Ok(Vec::new());
    }
    let entries: Vec<serde_json::Value> =
        serde_json::from_slice(&body).map_err(|e| failed(e.to_string()))?;
    Ok(entries.into_iter().filter(|e| e["WAN"] == false).collect())
}
