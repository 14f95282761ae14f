//! API calls that must reach a server: client agents forward them over the server RPC,
//! and servers execute forwarded calls through the same router as local ones.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderName, HeaderValue, Method, Request, StatusCode};
use axum::response::Response;

use super::{ApiError, MAX_BODY, handle, respond};
use crate::agent::{Agent, AgentError};
use crate::rpc::{Handler, Reply, Request as RpcRequest};
use crate::state::Response as CmdResponse;

/// Longest a forwarded call may take: a blocking query's maximum wait plus slack.
const FORWARD_TIMEOUT: Duration = Duration::from_secs(11 * 60);

/// Whether a path is answered from the replicated state (so a client agent forwards it).
pub fn is_server_path(path: &str) -> bool {
    const PREFIXES: &[&str] = &[
        "/v1/kv",
        "/v1/catalog/",
        "/v1/health/",
        "/v1/status/",
        "/v1/operator/",
        "/v1/txn",
        "/v1/session/",
        "/v1/coordinate/",
        "/v1/query",
        "/v1/internal/",
    ];
    PREFIXES.iter().any(|p| path.starts_with(p))
}

/// Header marking a call a server received by forwarding, so it is never forwarded again.
pub const FORWARDED: &str = "x-disco-forwarded";

fn http_request(method: &Method, uri: &str, body: Bytes, from_server: bool) -> RpcRequest {
    RpcRequest::Http {
        method: method.as_str().to_string(),
        uri: uri.to_string(),
        body: body.to_vec(),
        from_server,
    }
}

/// Forward one API call to a server and relay its answer (client agents).
pub async fn forward_http(agent: &Agent, method: &Method, uri: &str, body: Bytes) -> Response {
    relay(
        agent
            .forward(http_request(method, uri, body, false), FORWARD_TIMEOUT)
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
) -> Result<Response, Bytes> {
    let Some(c) = &agent.consensus else {
        return Err(body);
    };
    if c.is_leader() || c.leader_addr().is_none() {
        return Err(body);
    }
    match agent
        .forward_to_leader(
            http_request(method, uri, body.clone(), true),
            FORWARD_TIMEOUT,
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

/// Serves the server RPC for this agent.
pub struct RpcApi {
    agent: Arc<Agent>,
}

impl RpcApi {
    /// A handler executing requests on `agent`.
    pub fn new(agent: Arc<Agent>) -> Arc<RpcApi> {
        Arc::new(RpcApi { agent })
    }

    async fn run(&self, req: RpcRequest) -> Reply {
        match req {
            RpcRequest::Http {
                method,
                uri,
                body,
                from_server,
            } => {
                let Ok(method) = Method::from_bytes(method.as_bytes()) else {
                    return Reply::Error(format!("invalid method {method:?}"));
                };
                let mut builder = Request::builder().method(method).uri(&uri);
                if from_server {
                    builder = builder.header(FORWARDED, "1");
                }
                let Ok(req) = builder.body(Body::from(body)) else {
                    return Reply::Error(format!("invalid request URI {uri:?}"));
                };
                let resp = handle(State(self.agent.clone()), req).await;
                let status = resp.status().as_u16();
                let headers = resp
                    .headers()
                    .iter()
                    .filter_map(|(k, v)| {
                        Some((k.as_str().to_string(), v.to_str().ok()?.to_string()))
                    })
                    .collect();
                match axum::body::to_bytes(resp.into_body(), MAX_BODY * 8).await {
                    Ok(b) => Reply::Http {
                        status,
                        headers,
                        body: b.to_vec(),
                    },
                    Err(e) => Reply::Error(format!("reading response: {e}")),
                }
            }
            RpcRequest::Apply { cmd, from_server } => match if from_server {
                self.agent.write_here(cmd).await
            } else {
                self.agent.write(cmd).await
            } {
                Ok(r) => Reply::Applied(r),
                Err(AgentError::BadRequest(e)) => Reply::Applied(CmdResponse::Error(e)),
                Err(e) => Reply::Error(e.to_string()),
            },
            RpcRequest::Raft { kind, payload } => match &self.agent.consensus {
                Some(c) => Reply::Raft(c.serve_rpc(kind, &payload).await),
                None => Reply::Error("not a server".into()),
            },
            RpcRequest::NodeEntries(node) => {
                if let Err(e) = self.agent.require_leader() {
                    return Reply::Error(e.to_string());
                }
                let s = self.agent.store.read();
                Reply::NodeEntries(
                    s.node_services(&node).into_iter().cloned().collect(),
                    s.node_checks(&node).into_iter().cloned().collect(),
                )
            }
        }
    }
}

impl Handler for RpcApi {
    fn handle(
        &self,
        req: RpcRequest,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send + '_>> {
        Box::pin(self.run(req))
    }
}
