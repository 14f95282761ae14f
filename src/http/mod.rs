//! The Consul-compatible HTTP API.
//!
//! One handler serves every request: the percent-decoded path and the method are parsed
//! once into an [`Endpoint`] (`endpoint/`), so IDs and keys may contain `/` and every
//! route answers `405` with Consul's `Allow` list. The endpoint decides whether the call is
//! forwarded (`forward.rs`), and `route.rs` runs it with one `match`. The web UI's files
//! (`ui.rs`, `ui_assets.rs`) are routes of the same table, mounted at the configured
//! content path. axum provides the server.

mod acl;
mod agent;
mod agent_self;
mod authz;
mod blocking;
mod catalog;
mod convert;
mod endpoint;
mod event;
mod forward;
mod health;
mod keyring;
mod kv;
mod metrics;
mod operator;
mod over_rpc;
mod prepared;
pub(crate) mod query;
mod respond;
mod route;
mod session;
mod status;
mod txn;
mod ui;
mod ui_assets;

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;

pub use endpoint::{Access, Endpoint, Level, Methods, Resource, Subject};
pub use over_rpc::Router;
pub use respond::ApiError;

use crate::agent::Agent;
use query::Query;

/// Largest request body read (KV values are checked against their own limit first).
const MAX_BODY: usize = 8 * 1024 * 1024;

/// What answering a request needs besides the request: the agent, and its web UI,
/// prepared once when the agent starts and shared by its listeners.
#[derive(Clone)]
pub struct Handler {
    agent: Arc<Agent>,
    ui: Arc<ui::Site>,
}

impl Handler {
    /// The handler of `agent`'s HTTP and HTTPS listeners, with the UI its configuration
    /// asks for.
    pub fn new(agent: Arc<Agent>) -> Handler {
        let ui = Arc::new(ui::Site::new(&agent.cfg.ui));
        Handler { agent, ui }
    }

    /// The same API without the web UI, for calls that arrive over the server RPC (the
    /// UI's routes are never forwarded).
    fn without_ui(agent: Arc<Agent>) -> Handler {
        Handler {
            agent,
            ui: Arc::new(ui::Site::off()),
        }
    }
}

/// Serve the API (and the web UI) on `listener`, plain or TLS, until the agent shuts down.
pub async fn serve<L>(handler: Handler, listener: L) -> std::io::Result<()>
where
    L: axum::serve::Listener<Addr = std::net::SocketAddr>,
{
    let mut shutdown = handler.agent.shutdown_signal();
    let app = axum::Router::new().fallback(handle).with_state(handler);
    axum::serve(listener, app)
        .with_graceful_shutdown(async move {
            let _ = shutdown.wait_for(|v| *v).await;
        })
        .await
}

/// The ACL headers of every answer: the default policy (Consul sends it even with ACLs
/// off, and its UI reads it), and whether a list was filtered, told only to a caller who
/// sent a token (an anonymous caller never learns what it cannot see).
fn acl_headers(agent: &Agent, q: &Query, resp: &mut Response) {
    use axum::http::HeaderValue;
    let policy = match agent.cfg.acl.default_policy {
        crate::acl::DefaultPolicy::Allow => "allow",
        crate::acl::DefaultPolicy::Deny => "deny",
    };
    let h = resp.headers_mut();
    if !h.contains_key("x-consul-default-acl-policy") {
        h.insert(
            "x-consul-default-acl-policy",
            HeaderValue::from_static(policy),
        );
    }
    if q.authz.filtered() && !q.authz.secret().is_empty() {
        h.insert(
            "x-consul-results-filtered-by-acls",
            HeaderValue::from_static("true"),
        );
    }
}

/// The other datacenter a call names, if any: `?dc=`, else the `Datacenter` of a catalog
/// registration or deregistration body (Consul routes those by it too). Agent-local routes
/// (but a user event, fired by a server of that datacenter) and `catalog/datacenters`
/// ignore `?dc=`, as Consul's do.
fn remote_datacenter(agent: &Agent, ep: &Endpoint, q: &Query, body: &[u8]) -> Option<String> {
    let fired_elsewhere = matches!(ep, Endpoint::EventFire { .. });
    if !(ep.forwarded() || fired_elsewhere) || matches!(ep, Endpoint::CatalogDatacenters) {
        return None;
    }
    let local = agent.cfg.datacenter.as_str();
    if let Some(dc) = q.get("dc").filter(|d| !d.is_empty()) {
        return (dc != local).then(|| dc.to_string());
    }
    // Most registrations name no datacenter: a byte scan spares them a second JSON parse.
    if matches!(ep, Endpoint::CatalogRegister | Endpoint::CatalogDeregister)
        && body
            .windows(10)
            .any(|w| w.eq_ignore_ascii_case(b"datacenter"))
    {
        let v: serde_json::Value = serde_json::from_slice(body).ok()?;
        let dc = v
            .as_object()?
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("datacenter"))?
            .1
            .as_str()?;
        return (!dc.is_empty() && dc != local).then(|| dc.to_string());
    }
    None
}

/// One API call: parse the route, forward it if a server (or the leader) must answer,
/// otherwise run it here; count it, and re-indent JSON for `?pretty`.
async fn handle(State(handler): State<Handler>, req: Request<Body>) -> Response {
    handle_request(handler, req).await
}

/// [`handle`] without the router around it, for the fuzz targets.
pub(crate) async fn handle_request(handler: Handler, req: Request<Body>) -> Response {
    let Handler { agent, ui } = handler;
    let start = Instant::now();
    let method = req.method().clone();
    // Cheap (reference-counted); only turned into text when the call is forwarded.
    let uri = req.uri().clone();
    let path = query::percent_decode(uri.path());
    // A parse error (400, 404, 405) is answered where the call arrived, once the body
    // has been read (an oversized body is a 413 first).
    let endpoint = Endpoint::parse(&method, &path, ui.mount());
    let ep = endpoint.as_ref().ok();
    let mut query = Query::parse(uri.query().unwrap_or(""));
    // A user event for another datacenter is fired there by one of its servers; a client
    // agent sends it to a local server first, as every other `?dc=` call.
    let event_elsewhere = matches!(ep, Some(Endpoint::EventFire { .. }))
        && query
            .get("dc")
            .is_some_and(|d| !d.is_empty() && d != agent.cfg.datacenter);
    let forward_to_server =
        agent.consensus.is_none() && (ep.is_some_and(Endpoint::forwarded) || event_elsewhere);
    // A follower sends everything but stale reads and status calls to the leader, as
    // Consul's servers do; a call that was already forwarded is answered here.
    query.from_server = req.headers().contains_key(over_rpc::FORWARDED);
    let forward_to_leader =
        agent.consensus.is_some() && ep.is_some_and(Endpoint::leader_answers) && !query.from_server;
    let token = authz::request_token(req.headers(), &query);
    let if_none_match = req.headers().get(header::IF_NONE_MATCH).cloned();
    if ep.is_some_and(Endpoint::discovery_read) && !agent.cfg.discovery_max_stale.is_zero() {
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
    let path_and_query = uri.path_and_query().map_or(uri.path(), |p| p.as_str());
    let outgoing = forward::Outgoing {
        method: &method,
        uri: path_and_query,
        token: &token,
        query: &query,
    };
    if forward_to_server {
        agent.metrics.incr("consul.http.requests");
        agent.metrics.incr("consul.client.rpc");
        let Some(bound) = query.implied_max_stale() else {
            return forward::forward_http(&agent, &outgoing, body).await;
        };
        let pq = crate::api::with_query(
            path_and_query,
            &format!("max_stale={}", crate::api::duration::format_go(bound)),
        );
        let bounded = forward::Outgoing {
            uri: &pq,
            ..outgoing
        };
        return forward::forward_http(&agent, &bounded, body).await;
    }
    // `?dc=<other>` (or a registration's `Datacenter`): a server sends the whole call to a
    // server of that datacenter, which answers it as its own (a client agent has already
    // sent it here, above).
    if agent.consensus.is_some()
        && let Some(ep) = ep
        && let Some(dc) = remote_datacenter(&agent, ep, &query, &body)
    {
        agent.metrics.incr("consul.http.requests");
        return forward::forward_dc(&agent, &dc, &outgoing, body).await;
    }
    let last_contact = agent.consensus.as_ref().and_then(|c| c.last_contact());
    let body = if forward_to_leader && !query.answer_locally(last_contact) {
        match forward::forward_to_leader(&agent, &outgoing, body).await {
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
    let resp = match endpoint {
        Ok(ep) => match authz::resolve(&agent, &ep, token).await {
            Ok(a) => {
                query.authz = a;
                match authz::enforce(&agent, &ep, &query, &query.authz) {
                    Ok(()) => route::route(&agent, &ui, ep, &query, body).await,
                    Err(e) => Err(e),
                }
            }
            Err(e) => Err(e),
        },
        Err(e) => Err(e),
    };
    let mut resp = resp.unwrap_or_else(respond::error);
    if let Some(tags) = &if_none_match {
        resp = respond::not_modified(resp, tags);
    }
    acl_headers(&agent, &query, &mut resp);
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
