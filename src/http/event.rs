//! `/v1/event/*`: fire a user event into the gossip pool, list the ones this agent kept
//! (Consul's `event_endpoint.go`). Both are answered by the receiving agent: events are
//! not replicated state.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use base64::Engine as _;
use serde::Serialize;

use super::ApiError;
use super::blocking::to_json;
use super::query::Query;
use super::respond::{json_bytes, json_plain};
use crate::agent::Agent;
use crate::state::{UserEvent, list_index};

/// Consul's cap on a blocking wait, and the wait of an event list that names none.
const MAX_WAIT: Duration = Duration::from_secs(600);

/// An event as Consul's API shows it; the payload is base64, `null` when there is none.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct EventOut<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    payload: Option<String>,
    node_filter: &'a str,
    service_filter: &'a str,
    tag_filter: &'a str,
    version: u32,
    #[serde(rename = "LTime")]
    ltime: u64,
}

fn event_out(e: &UserEvent) -> EventOut<'_> {
    EventOut {
        id: &e.id,
        name: &e.name,
        payload: e
            .payload
            .as_ref()
            .map(|p| base64::engine::general_purpose::STANDARD.encode(p)),
        node_filter: &e.node_filter,
        service_filter: &e.service_filter,
        tag_filter: &e.tag_filter,
        version: e.version,
        ltime: e.ltime,
    }
}

/// `PUT /v1/event/fire/<name>`: the event as fired (`LTime` 0, as Consul answers before
/// gossip stamps it). A bad filter or an oversized payload is a 500 with Consul's text.
pub async fn fire(agent: &Agent, name: &str, q: &Query, body: Bytes) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    let filter = |k: &str| q.get(k).unwrap_or("").to_string();
    let ev = UserEvent {
        id: uuid::Uuid::new_v4().to_string(),
        name: name.to_string(),
        payload: (!body.is_empty()).then(|| body.to_vec()),
        node_filter: filter("node"),
        service_filter: filter("service"),
        tag_filter: filter("tag"),
        version: 1,
        ltime: 0,
    };
    let fired = agent
        .fire_event(ev)
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    json_plain(&event_out(&fired))
}

/// `GET /v1/event/list[?name=]`: this agent's events, oldest first. `X-Consul-Index` is
/// the last event's ID folded to 64 bits; a blocking call waits while it stays equal to
/// `?index` (it is not monotonic). `node`, `service` and `tag` are accepted and ignored:
/// they select which agents keep an event, not what a list shows.
pub async fn list(agent: &Arc<Agent>, q: &Query) -> Result<Response, ApiError> {
    // This agent's own ring: `?dc=` does not apply (Consul's list ignores it too).
    let name = q.get("name").filter(|n| !n.is_empty());
    let (min_index, wait) = q.blocking()?;
    let wait = match q.get("wait") {
        None | Some("") => MAX_WAIT,
        Some(_) => wait,
    };
    let deadline = Instant::now() + wait;
    let mut added = agent.events.subscribe();
    loop {
        added.borrow_and_update();
        let mut events = agent.events.list(name);
        if q.authz.enforced() {
            // Filtered before the index is taken, so the index tells nothing of the rest.
            events.retain(|e| q.authz.keep(crate::acl::Resource::Event, &e.name));
        }
        let index = list_index(&events);
        if min_index > 0 && index == min_index && Instant::now() < deadline {
            // The sender lives in the agent, which the caller holds: `changed` cannot fail.
            tokio::select! {
                _ = added.changed() => {}
                _ = tokio::time::sleep_until(deadline.into()) => {}
            }
            continue;
        }
        let out: Vec<EventOut> = events.iter().map(|e| event_out(e)).collect();
        let mut r = json_bytes(StatusCode::OK, to_json(&out)?);
        r.headers_mut()
            .insert("X-Consul-Index", HeaderValue::from(index));
        return Ok(r);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_shows_consul_s_eight_keys() {
        let ev = UserEvent {
            id: "e1f1c9b1-9f84-4ab6-8a26-57a2b47a71c2".into(),
            name: "deploy".into(),
            payload: Some(b"v2".to_vec()),
            node_filter: String::new(),
            service_filter: "web".into(),
            tag_filter: String::new(),
            version: 1,
            ltime: 7,
        };
        let v: serde_json::Value = serde_json::to_value(event_out(&ev)).unwrap();
        let obj = v.as_object().unwrap();
        let keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        assert_eq!(keys.len(), 8, "{keys:?}");
        assert_eq!(v["Payload"], "djI=");
        assert_eq!(v["LTime"], 7);
        let none = UserEvent {
            payload: None,
            ..ev
        };
        assert!(serde_json::to_value(event_out(&none)).unwrap()["Payload"].is_null());
    }
}
