//! API calls that arrive over the server RPC (from client agents and followers): run
//! through the same handler as local ones, the response returned as status, headers and
//! body.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Method, Request};

use super::{Handler, MAX_BODY, handle};
use crate::agent::Agent;
use crate::rpc::{HttpRouter, Reply};

/// Header marking a call a server received by forwarding, so it is never forwarded again.
pub const FORWARDED: &str = "x-disco-forwarded";

/// The HTTP API as the server RPC's dispatcher sees it.
pub struct Router {
    handler: Handler,
}

impl Router {
    /// The router of `agent`.
    pub fn new(agent: Arc<Agent>) -> Arc<Router> {
        Arc::new(Router {
            handler: Handler::without_ui(agent),
        })
    }

    async fn run(
        &self,
        method: String,
        uri: String,
        body: Vec<u8>,
        from_server: bool,
        token: String,
    ) -> Reply {
        let Ok(method) = Method::from_bytes(method.as_bytes()) else {
            return Reply::Error(format!("invalid method {method:?}"));
        };
        let mut builder = Request::builder().method(method).uri(&uri);
        if from_server {
            builder = builder.header(FORWARDED, "1");
        }
        if !token.is_empty() {
            builder = builder.header("x-consul-token", token);
        }
        let Ok(req) = builder.body(Body::from(body)) else {
            return Reply::Error(format!("invalid request URI {uri:?}"));
        };
        let resp = handle(State(self.handler.clone()), req).await;
        let status = resp.status().as_u16();
        let headers = resp
            .headers()
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().to_string(), v.to_str().ok()?.to_string())))
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
}

impl HttpRouter for Router {
    fn call(
        &self,
        method: String,
        uri: String,
        body: Vec<u8>,
        from_server: bool,
        token: String,
    ) -> Pin<Box<dyn Future<Output = Reply> + Send + '_>> {
        Box::pin(self.run(method, uri, body, from_server, token))
    }
}
