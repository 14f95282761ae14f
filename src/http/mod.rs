//! The Consul-compatible HTTP API.
//!
//! One handler dispatches on the decoded path so that IDs and keys may contain `/` and every
//! endpoint can answer `405` with Consul's `Allow` list; axum provides the server.

mod agent_ep;
mod blocking;
mod catalog;
mod convert;
mod forward;
mod kv;
mod operator;
mod query;
mod respond;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{Method, Request, StatusCode};
use axum::response::Response;

pub use forward::RpcApi;
pub use respond::ApiError;

use crate::agent::Agent;
use query::Query;

/// Largest request body read (KV values are checked against their own limit first).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// Serve the API on `addr` until the agent shuts down.
pub async fn serve(agent: Arc<Agent>, listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let app = axum::Router::new()
        .fallback(handle)
        .with_state(agent.clone());
    let mut shutdown = agent.shutdown_signal();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await
}

/// Bind the HTTP listener (errors name the address).
pub async fn bind(addr: SocketAddr) -> std::io::Result<tokio::net::TcpListener> {
    let l = tokio::net::TcpListener::bind(addr).await?;
    Ok(l)
}

async fn handle(State(agent): State<Arc<Agent>>, req: Request<Body>) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let raw_path = req.uri().path().to_string();
    let server_path = forward::is_server_path(&raw_path);
    let forward_to_server = agent.consensus.is_none() && server_path;
    // A follower sends everything but stale reads and status calls to the leader, as
    // Consul's servers do; a call that was already forwarded is answered here.
    let forward_to_leader = agent.consensus.is_some()
        && server_path
        && !raw_path.starts_with("/v1/status/")
        && !req.headers().contains_key(forward::FORWARDED);
    // Cheap (reference-counted); only turned into text when the call is forwarded.
    let uri = req.uri().clone();
    let mut query = Query::parse(req.uri().query().unwrap_or(""));
    if (raw_path.starts_with("/v1/catalog/") || raw_path.starts_with("/v1/health/"))
        && !agent.cfg.discovery_max_stale.is_zero()
    {
        query.discovery_max_stale = Some(agent.cfg.discovery_max_stale);
    }
    let body = match axum::body::to_bytes(req.into_body(), MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return respond::error(ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "Request body too large",
            ));
        }
    };
    if forward_to_server {
        agent.metrics.incr("consul.http.requests");
        agent.metrics.incr("consul.client.rpc");
        let pq = uri
            .path_and_query()
            .map_or(raw_path.as_str(), |p| p.as_str());
        let Some(bound) = query.implied_max_stale() else {
            return forward::forward_http(&agent, &method, pq, body).await;
        };
        let pq = crate::api::with_query(
            pq,
            &format!("max_stale={}", crate::api::duration::format_go(bound)),
        );
        return forward::forward_http(&agent, &method, &pq, body).await;
    }
    let last_contact = agent.consensus.as_ref().and_then(|c| c.last_contact());
    let body = if forward_to_leader && !query.answer_locally(last_contact) {
        let pq = uri
            .path_and_query()
            .map_or(raw_path.as_str(), |p| p.as_str());
        match forward::forward_to_leader(&agent, &method, pq, body).await {
            Ok(resp) => {
                agent.metrics.incr("consul.http.requests");
                agent.metrics.incr("consul.rpc.forwarded_to_leader");
                return resp;
            }
            Err(body) => body,
        }
    } else {
        body
    };
    let path = query::percent_decode(&raw_path);
    let resp = match route(&agent, &method, &path, &query, body).await {
        Ok(r) => r,
        Err(e) => respond::error(e),
    };
    agent.metrics.incr("consul.http.requests");
    agent
        .metrics
        .observe("consul.http.request", start.elapsed());
    if query.has("pretty") {
        respond::prettify(resp).await
    } else {
        resp
    }
}

fn allow(method: &Method, allowed: &[Method]) -> Result<(), ApiError> {
    if allowed.contains(method) {
        return Ok(());
    }
    let list: Vec<&str> = std::iter::once("OPTIONS")
        .chain(allowed.iter().map(Method::as_str))
        .collect();
    if method == Method::OPTIONS {
        return Err(ApiError::options(list.join(",")));
    }
    Err(ApiError::method(method.as_str(), list.join(",")))
}

async fn route(
    agent: &Arc<Agent>,
    method: &Method,
    path: &str,
    q: &Query,
    body: Bytes,
) -> Result<Response, ApiError> {
    use Method as M;
    if let Some(key) = path
        .strip_prefix("/v1/kv/")
        .or_else(|| (path == "/v1/kv").then_some(""))
    {
        allow(method, &[M::GET, M::PUT, M::DELETE])?;
        return kv::handle(agent, method, key, q, body).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/catalog/") {
        return catalog::catalog(agent, method, rest, q, body).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/health/") {
        allow(method, &[M::GET])?;
        return catalog::health(agent, rest, q).await;
    }
    if path == "/v1/internal/ui/services" {
        allow(method, &[M::GET])?;
        return catalog::ui_services(agent, q).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/operator/") {
        return operator::operator(agent, method, rest, q).await;
    }
    if let Some(rest) = path.strip_prefix("/v1/agent/") {
        return agent_ep::agent(agent, method, rest, q, body).await;
    }
    match path {
        "/v1/status/leader" => {
            allow(method, &[M::GET])?;
            let leader = agent
                .consensus
                .as_ref()
                .and_then(|c| c.leader_addr())
                .unwrap_or_default();
            respond::json_plain(&leader)
        }
        "/v1/status/peers" => {
            allow(method, &[M::GET])?;
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
            respond::json_plain(&peers)
        }
        "/" => Ok(respond::text(
            StatusCode::OK,
            "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.",
        )),
        p if p == "/ui" || p.starts_with("/ui/") => Ok(respond::text(
            StatusCode::OK,
            "disco agent: the web UI is not bundled; use `disco tui` or the HTTP API.",
        )),
        _ => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Invalid URL path: not a recognized HTTP API endpoint",
        )),
    }
}
