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

use super::query::Query;
use super::{ApiError, respond};
use crate::agent::{Agent, AgentError};
use crate::rpc::{Reply, Request as RpcRequest};

/// One API call as it goes on to another server: what every forwarding path sends.
pub struct Outgoing<'a> {
    pub method: &'a Method,
    /// Path and query, as the remote server is to see them.
    pub uri: &'a str,
    pub token: &'a str,
    /// The call's parameters, for its time bound.
    pub query: &'a Query,
}

impl Outgoing<'_> {
    fn request(&self, body: Bytes, from_server: bool) -> RpcRequest {
        RpcRequest::Http {
            method: self.method.as_str().to_string(),
            uri: self.uri.to_string(),
            body: body.to_vec(),
            from_server,
            token: self.token.to_string(),
        }
    }

    /// Longest the call may take, as Consul bounds its RPCs: `limits.rpc_client_timeout`
    /// for any call, plus a blocking query's wait and its jitter (a sixteenth). A server
    /// that went silent (partitioned, paused) then costs the caller that long at most,
    /// never the whole life of a pooled connection.
    fn timeout(&self, agent: &Agent) -> Duration {
        let base = agent.cfg.limits.rpc_client_timeout;
        match self.query.blocking() {
            Ok((index, wait)) if index > 0 => base + wait + wait / 16,
            _ => base,
        }
    }
}

/// Forward one API call to a server and relay its answer (client agents).
pub async fn forward_http(agent: &Agent, call: &Outgoing<'_>, body: Bytes) -> Response {
    relay(
        agent
            .forward(call.request(body, false), call.timeout(agent))
            .await,
    )
}

/// Forward one API call to a server of another datacenter (servers, for `?dc=`). The
/// remote server may still send it on to its own leader.
pub async fn forward_dc(agent: &Agent, dc: &str, call: &Outgoing<'_>, body: Bytes) -> Response {
    relay(
        agent
            .forward_dc(dc, call.request(body, false), call.timeout(agent))
            .await,
    )
}

/// Forward one API call to the leader (followers). `Err(body)` hands the body back when
/// this server should answer itself (it leads, or no leader is known).
pub async fn forward_to_leader(
    agent: &Agent,
    call: &Outgoing<'_>,
    body: Bytes,
) -> Result<Response, Bytes> {
    let Some(c) = &agent.consensus else {
        return Err(body);
    };
    if c.is_leader() || c.leader_addr().is_none() {
        return Err(body);
    }
    match agent
        .forward_to_leader(call.request(body.clone(), true), call.timeout(agent))
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
