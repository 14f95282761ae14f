//! `/v1/session/*`: create, destroy, renew and read sessions (Consul's `session_endpoint.go`).
//!
//! Creation and destruction go through Raft; the state machine checks the node and the
//! linked checks. Renewal does not: it resets the leader's in-memory TTL timer
//! (`agent::session_ttl`), so the route is answered by the leader.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApiError;
use super::blocking::{read, to_json};
use super::query::Query;
use super::respond::json_plain;
use crate::agent::{Agent, AgentError};
use crate::api::decode::{Field, Schema, decode};
use crate::api::duration::parse_go;
use crate::state::{Behavior, Command, Name, SERF_CHECK_ID, ServiceCheck, Session, Table, Watch};

/// Consul's `SessionTTLMax`.
const TTL_MAX: Duration = Duration::from_secs(24 * 3600);
/// Consul's default lock-delay.
const DEFAULT_LOCK_DELAY: Duration = Duration::from_secs(15);

static SERVICE_CHECK: Schema = Schema {
    fields: &[("ID", Field::Value), ("Namespace", Field::Value)],
    aliases: &[],
};

static SESSION: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Name", Field::Value),
        ("Node", Field::Value),
        ("LockDelay", Field::Value),
        ("Behavior", Field::Value),
        ("TTL", Field::Value),
        ("Checks", Field::Value),
        ("NodeChecks", Field::Value),
        ("ServiceChecks", Field::List(&SERVICE_CHECK)),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
    ],
    aliases: &[],
};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceCheckIn {
    #[serde(rename = "ID", default)]
    id: String,
    #[serde(default)]
    namespace: String,
}

/// The create body; every field optional, absent ones take Consul's defaults.
#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase")]
struct SessionIn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    node: Option<String>,
    #[serde(default)]
    lock_delay: Option<Value>,
    #[serde(default)]
    behavior: Option<String>,
    #[serde(rename = "TTL", default)]
    ttl: Option<String>,
    #[serde(default)]
    checks: Option<Vec<String>>,
    #[serde(default)]
    node_checks: Option<Vec<String>>,
    #[serde(default)]
    service_checks: Option<Vec<ServiceCheckIn>>,
}

/// A session as Consul's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct SessionOut<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    node: &'a str,
    lock_delay: u64,
    behavior: &'static str,
    #[serde(rename = "TTL")]
    ttl: &'a str,
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    checks: &'a [String],
    node_checks: &'a [String],
    service_checks: Option<Vec<ServiceCheckOut<'a>>>,
    create_index: u64,
    modify_index: u64,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct ServiceCheckOut<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    namespace: &'a str,
}

/// The API shape of a stored session.
pub(crate) fn session_out(s: &Session) -> SessionOut<'_> {
    SessionOut {
        id: &s.id,
        name: &s.name,
        node: &s.node,
        lock_delay: s.lock_delay_ns,
        behavior: s.behavior.as_str(),
        ttl: &s.ttl,
        checks: &s.checks,
        node_checks: &s.node_checks,
        service_checks: (!s.service_checks.is_empty()).then(|| {
            s.service_checks
                .iter()
                .map(|c| ServiceCheckOut {
                    id: &c.id,
                    namespace: &c.namespace,
                })
                .collect()
        }),
        create_index: s.create_index,
        modify_index: s.modify_index,
    }
}

/// A 500 with Consul's text: the server-side validation errors of sessions and locks are
/// RPC errors in Consul, which its HTTP layer answers with 500.
fn server_error(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg)
}

/// Map a rejected write to Consul's status: the state machine's refusals are 500s.
pub(crate) fn write_error(e: AgentError) -> ApiError {
    match e {
        AgentError::BadRequest(msg) => server_error(msg),
        e => e.into(),
    }
}

/// `LockDelay`: a Go duration string or integer nanoseconds; either below 1000 ns is taken
/// as seconds (Consul's `lockDelayMinThreshold`).
fn lock_delay(v: &Value) -> Result<Duration, ApiError> {
    let bad = || ApiError::bad(format!("Request decode failed: invalid LockDelay {v}"));
    let d = match v {
        Value::String(s) => parse_go(s).ok_or_else(bad)?,
        Value::Number(n) => Duration::from_nanos(n.as_u64().ok_or_else(bad)?),
        Value::Null => return Ok(DEFAULT_LOCK_DELAY),
        _ => return Err(bad()),
    };
    if d.as_nanos() < 1000 {
        Ok(Duration::from_secs(d.as_nanos() as u64))
    } else {
        Ok(d)
    }
}

/// Validate a TTL string as Consul's server does; `Ok(None)` for no TTL.
fn ttl(s: &str, min: Duration) -> Result<Option<Duration>, ApiError> {
    if s.is_empty() {
        return Ok(None);
    }
    let d = parse_go(s).ok_or_else(|| {
        server_error(format!(
            "Session TTL '{s}' invalid: time: invalid duration \"{s}\""
        ))
    })?;
    if d.is_zero() {
        return Ok(None);
    }
    if d < min || d > TTL_MAX {
        return Err(server_error(format!(
            "Invalid Session TTL '{}', must be between [{}={}]",
            d.as_nanos(),
            crate::api::duration::format_go(min),
            crate::api::duration::format_go(TTL_MAX),
        )));
    }
    Ok(Some(d))
}

/// Build the session a create body asks for, with Consul's defaults and check fix-ups.
fn build(agent: &Agent, body: &[u8], id: &str) -> Result<Session, ApiError> {
    let input: SessionIn = if body.is_empty() {
        SessionIn::default()
    } else {
        decode(&SESSION, body)?
    };
    let behavior = match input.behavior.as_deref().unwrap_or("") {
        "" | "release" => Behavior::Release,
        "delete" => Behavior::Delete,
        b => return Err(server_error(format!("Invalid Behavior setting '{b}'"))),
    };
    let ttl_text = input.ttl.unwrap_or_default();
    ttl(&ttl_text, agent.cfg.session_ttl_min)?;
    let lock_delay = match &input.lock_delay {
        Some(v) => lock_delay(v)?,
        None => DEFAULT_LOCK_DELAY,
    };
    let default_checks = || vec![SERF_CHECK_ID.to_string()];
    // Consul's fix-ups: `Checks: []` means no checks at all; the default `Checks`
    // (serfHealth) gives way to `NodeChecks`; an explicitly empty `NodeChecks` drops the
    // default `Checks` too.
    let given_empty_checks = input.checks.as_ref().is_some_and(Vec::is_empty);
    let given_empty_node_checks = input.node_checks.as_ref().is_some_and(Vec::is_empty);
    let mut checks = input.checks.unwrap_or_else(default_checks);
    let mut node_checks = input.node_checks.unwrap_or_else(default_checks);
    if given_empty_checks {
        node_checks.clear();
    }
    if checks == default_checks() || given_empty_node_checks {
        checks.clear();
    }
    let node = input
        .node
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| agent.cfg.node_name.clone());
    Ok(Session {
        id: Name::from(id),
        name: input.name.unwrap_or_default(),
        node: Name::from(node),
        lock_delay_ns: lock_delay.as_nanos().min(u64::MAX as u128) as u64,
        behavior,
        ttl: ttl_text,
        checks,
        node_checks,
        service_checks: input
            .service_checks
            .unwrap_or_default()
            .into_iter()
            .map(|c| ServiceCheck {
                id: c.id,
                namespace: c.namespace,
            })
            .collect(),
        create_index: 0,
        modify_index: 0,
    })
}

/// `PUT /v1/session/create`.
pub async fn create(agent: &Agent, q: &Query, body: Bytes) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    let id = uuid::Uuid::new_v4().to_string();
    let session = build(agent, &body, &id)?;
    q.authz.require(
        crate::acl::Resource::Session,
        &session.node,
        crate::acl::Level::Write,
    )?;
    agent
        .write_as(Command::SessionCreate(session), q.authz.secret())
        .await
        .map_err(write_error)?;
    agent.session_timers.wake();
    json_plain(&serde_json::json!({ "ID": id }))
}

/// `PUT /v1/session/destroy/<id>`: `true` whether or not the session existed.
pub async fn destroy(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    agent
        .write_as(
            Command::SessionDestroy { id: id.to_string() },
            q.authz.secret(),
        )
        .await
        .map_err(write_error)?;
    agent.session_timers.wake();
    json_plain(&true)
}

/// `PUT /v1/session/renew/<id>`: reset the TTL timer on the leader; 404 when unknown.
pub async fn renew(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    agent.require_leader()?;
    let (body, ttl) = {
        let store = agent.store.current();
        let Some(s) = store.session(id) else {
            return Err(ApiError::new(
                StatusCode::NOT_FOUND,
                format!("Session id '{id}' not found"),
            ));
        };
        (to_json(&[session_out(s)])?, s.ttl.clone())
    };
    agent.session_timers.renew(id, &ttl);
    Ok(super::respond::json_bytes(StatusCode::OK, body))
}

const SESSIONS: &[Table] = &[Table::Sessions];

/// `GET /v1/session/info/<id>`: `[session]`, or `[]` when unknown.
pub async fn info(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(SESSIONS), |s| {
        let out: Vec<_> = s.session(id).map(session_out).into_iter().collect();
        Ok((StatusCode::OK, to_json(&out)?))
    })
    .await
}

/// `GET /v1/session/node/<node>`: the node's sessions (`[]` for an unknown node).
pub async fn node(agent: &Agent, node: &str, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(SESSIONS), |s| {
        let out: Vec<_> = s.sessions_on_node(node).map(session_out).collect();
        Ok((StatusCode::OK, to_json(&out)?))
    })
    .await
}

/// `GET /v1/session/list`.
pub async fn list(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(SESSIONS), |s| {
        let out: Vec<_> = s
            .sessions()
            .filter(|x| q.authz.keep(crate::acl::Resource::Session, &x.node))
            .map(session_out)
            .collect();
        Ok((StatusCode::OK, to_json(&out)?))
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lock_delay_below_a_microsecond_means_seconds() {
        assert_eq!(lock_delay(&Value::from(5)).unwrap(), Duration::from_secs(5));
        assert_eq!(
            lock_delay(&Value::from("500ns")).unwrap(),
            Duration::from_secs(500)
        );
        assert_eq!(
            lock_delay(&Value::from("0.001s")).unwrap(),
            Duration::from_millis(1)
        );
        assert_eq!(
            lock_delay(&Value::from("15000ms")).unwrap(),
            Duration::from_secs(15)
        );
        assert!(lock_delay(&Value::from("soon")).is_err());
        assert!(lock_delay(&Value::Bool(true)).is_err());
    }

    #[test]
    fn ttl_bounds_follow_consul() {
        let min = Duration::from_secs(10);
        assert_eq!(ttl("", min).unwrap(), None);
        assert_eq!(ttl("0s", min).unwrap(), None);
        assert_eq!(ttl("15.0s", min).unwrap(), Some(Duration::from_secs(15)));
        let e = ttl("9s", min).unwrap_err();
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(
            e.message().contains("Invalid Session TTL '9000000000'"),
            "{e:?}"
        );
        assert!(ttl("25h", min).is_err());
        assert!(
            ttl("abc", min)
                .unwrap_err()
                .message()
                .contains("Session TTL 'abc' invalid")
        );
    }
}
