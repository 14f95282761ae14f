//! Sending API calls on: a client agent forwards every call its [`Endpoint`] marks
//! `forwarded` to a server, a follower sends calls the leader must answer to the leader,
//! both over the server RPC; the answer (status, headers, body) is relayed unchanged.
//! The receiving side is `over_rpc.rs`.
//!
//! [`Endpoint`]: super::Endpoint

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode};
use axum::response::Response;

use super::{ApiError, respond};
use crate::agent::{Agent, AgentError};
use crate::rpc::{Reply, Request as RpcRequest};

/// Longest a forwarded call may take, as Consul bounds its RPCs: `limits.rpc_client_timeout`
/// for any call, plus a blocking query's wait and its jitter (a sixteenth). A server that
/// went silent (partitioned, paused) then costs the caller that long at most, never the
/// whole life of a pooled connection.
pub fn call_timeout(agent: &Agent, query: &super::query::Query) -> Duration {
    let base = agent.cfg.limits.rpc_client_timeout;
    match query.blocking() {
        Ok((index, wait)) if index > 0 => base + wait + wait / 16,
        _ => base,
    }
}

fn http_request(
    method: &Method,
    uri: &str,
    body: Bytes,
    from_server: bool,
    token: &str,
) -> RpcRequest {
    RpcRequest::Http {
        method: method.as_str().to_string(),
        uri: uri.to_string(),
        body: body.to_vec(),
        from_server,
        token: token.to_string(),
    }
}

/// Forward one API call to a server and relay its answer (client agents).
pub async fn forward_http(
    agent: &Agent,
    method: &Method,
    uri: &str,
    body: Bytes,
    token: &str,
    timeout: Duration,
) -> Response {
    relay(
        agent
            .forward(http_request(method, uri, body, false, token), timeout)
            .await,
    )
}

/// Forward one API call to a server of another datacenter (servers, for `?dc=`). The
/// remote server may still send it on to its own leader.
pub async fn forward_dc(
    agent: &Agent,
    dc: &str,
    method: &Method,
    uri: &str,
    body: Bytes,
    token: &str,
    timeout: Duration,
) -> Response {
    relay(
        agent
            .forward_dc(dc, http_request(method, uri, body, false, token), timeout)
            .await,
    )
}

/// Forward one API call to the leader (followers). `Err(body)` hands the body back when
/// this server should answer itself (it leads, or no leader is known).
pub async fn forward_to_leader(
    agent: &Agent,
    method: &Method,
    uri: &str,
    body: Bytes,
    token: &str,
    timeout: Duration,
) -> Result<Response, Bytes> {
    let Some(c) = &agent.consensus else {
        return Err(body);
    };
    if c.is_leader() || c.leader_addr().is_none() {
        return Err(body);
    }
    match agent
        .forward_to_leader(
            http_request(method, uri, body.clone(), true, token),
            timeout,
        )
        .await
    {
        Some(r) => Ok(relay(r)),
        None => Err(body),
    }
}

fn relay(r: Result<Reply, AgentError>) -> Response {
    match r {
        Ok(Reply::Http {
            status,
            headers,
            body,
        }) => {
            let mut r = Response::new(Body::from(body));
            *r.status_mut() = StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_GATEWAY);
            for (k, v) in headers {
                if let (Ok(k), Ok(v)) = (
                    HeaderName::from_bytes(k.as_bytes()),
                    HeaderValue::from_str(&v),
                ) {
                    r.headers_mut().append(k, v);
                }
            }
            r
        }
        Ok(other) => respond::error(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("unexpected reply from server: {other:?}"),
        )),
        Err(e) => respond::error(ApiError::from(e)),
    }
}
