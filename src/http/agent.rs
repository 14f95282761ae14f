//! `/v1/agent/...`: this agent's own services, checks and membership, not replicated state.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::convert::*;
use super::query::Query;
use super::respond::{empty, json_bytes, json_plain, text};
use crate::acl;
use crate::agent::Agent;
use crate::api::decode::decode;
use crate::api::input::{
    CHECK_SCHEMA, CHECK_UPDATE_SCHEMA, CheckTypeIn, CheckUpdateIn, SERVICE_SCHEMA,
    ServiceDefinitionIn,
};
use crate::state::status;

/// `GET /v1/agent/services`: the local services by ID.
pub fn services(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    let svcs = agent.local_services();
    let mut out: BTreeMap<&str, _> = svcs
        .iter()
        .filter(|s| q.authz.keep(acl::Resource::Service, &s.service))
        .map(|s| (s.id.as_str(), agent_service_out(s, &agent.cfg.datacenter)))
        .collect();
    if let Some(f) = &filter {
        f.retain_values(&mut out)
            .map_err(super::query::filter_error)?;
    }
    json_plain(&out)
}

/// `GET /v1/agent/checks`: the local checks by ID.
pub fn checks(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    // Only checks defined on this agent, as Consul lists them (serfHealth is the
    // servers' and lives in the catalog only).
    let filter = q.filter()?;
    let all = agent.local_checks();
    let mut out: BTreeMap<&str, _> = BTreeMap::new();
    for c in &all {
        if !q.authz.keep_check(agent.node_name(), &c.service_name) {
            continue;
        }
        let mut co = check_out(c);
        co.node = agent.node_name();
        out.insert(c.check_id.as_str(), co);
    }
    if let Some(f) = &filter {
        f.retain_values(&mut out)
            .map_err(super::query::filter_error)?;
    }
    json_plain(&out)
}

/// `PUT /v1/agent/service/register` (`?replace-existing-checks`).
pub async fn register_service(
    agent: &Arc<Agent>,
    q: &Query,
    body: &[u8],
) -> Result<Response, ApiError> {
    let def: ServiceDefinitionIn = decode(&SERVICE_SCHEMA, body)?;
    let (svc, checks) = service_from(&def, agent.node_name(), agent.cfg.enable_script_checks)?;
    // Write on the service's name, and on the one it replaces under the same ID.
    q.authz
        .require(acl::Resource::Service, &svc.service, acl::Level::Write)?;
    if let Some(old) = agent.local_service(&svc.id) {
        q.authz
            .require(acl::Resource::Service, &old.service, acl::Level::Write)?;
    }
    let replace = matches!(q.get("replace-existing-checks"), Some("" | "1" | "true"));
    // Anti-entropy writes the service with the token it was registered with.
    if agent.cfg.acl.enabled {
        agent.remember_service_token(&svc.id, q.authz.secret());
    }
    agent.register_service(svc, checks, replace).await?;
    Ok(empty())
}

/// `PUT /v1/agent/check/register`: a node check, or one of a local service's.
pub async fn register_check(
    agent: &Arc<Agent>,
    q: &Query,
    body: &[u8],
) -> Result<Response, ApiError> {
    let c: CheckTypeIn = decode(&CHECK_SCHEMA, body)?;
    let id = crate::api::definition::standalone_check_id(&c)?;
    let svc = if c.service_id.is_empty() {
        None
    } else {
        agent.local_service(&c.service_id)
    };
    if !c.service_id.is_empty() && svc.is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("ServiceID \"{}\" does not exist", c.service_id),
        ));
    }
    match &svc {
        Some(s) => q
            .authz
            .require(acl::Resource::Service, &s.service, acl::Level::Write)?,
        None => q
            .authz
            .require(acl::Resource::Node, agent.node_name(), acl::Level::Write)?,
    }
    // A check replacing one of another service (same ID) needs that service's rights too.
    if let Some((is_node, owner)) = agent.local_owner(&id) {
        let kind = if is_node {
            acl::Resource::Node
        } else {
            acl::Resource::Service
        };
        q.authz.require(kind, &owner, acl::Level::Write)?;
    }
    let (check, tuning) = check_from(
        &c,
        id,
        c.name.clone(),
        svc.as_ref(),
        agent.cfg.enable_script_checks,
    )?;
    agent.register_check(check, tuning).await?;
    Ok(empty())
}

/// `PUT /v1/agent/leave`: leave the pool gracefully, then stop.
pub async fn leave(agent: &Agent) -> Result<Response, ApiError> {
    agent.leave_cluster().await;
    agent.request_shutdown();
    Ok(empty())
}

/// `PUT /v1/agent/reload`: re-read the config files' services and checks.
pub async fn reload(agent: &Arc<Agent>) -> Result<Response, ApiError> {
    agent
        .reload()
        .await
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(empty())
}

/// `PUT /v1/agent/maintenance` (`?enable`, `?reason`): the node's maintenance mode.
pub async fn node_maintenance(agent: &Arc<Agent>, q: &Query) -> Result<Response, ApiError> {
    let enable = enable_param(q)?;
    agent
        .node_maintenance(enable, q.get("reason").unwrap_or(""))
        .await?;
    Ok(empty())
}

/// `PUT /v1/agent/service/deregister/<id>`.
pub async fn deregister_service(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    agent.deregister_service(id).await?;
    Ok(empty())
}

/// `PUT /v1/agent/service/maintenance/<id>` (`?enable`, `?reason`).
pub async fn service_maintenance(
    agent: &Arc<Agent>,
    id: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    let enable = enable_param(q)?;
    agent
        .service_maintenance(id, enable, q.get("reason").unwrap_or(""))
        .await?;
    Ok(empty())
}

/// `PUT /v1/agent/check/deregister/<id>`.
pub async fn deregister_check(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    agent.deregister_check(id).await?;
    Ok(empty())
}

/// `PUT /v1/agent/check/pass|warn|fail/<id>` (`?note`): set a TTL check's status.
pub async fn ttl(
    agent: &Arc<Agent>,
    id: &str,
    status: &str,
    q: &Query,
) -> Result<Response, ApiError> {
    agent
        .update_ttl(id, status, q.get("note").unwrap_or(""))
        .await?;
    Ok(empty())
}

/// `PUT /v1/agent/check/update/<id>`: a TTL check's status and output from the body.
pub async fn update_check(agent: &Arc<Agent>, id: &str, body: &[u8]) -> Result<Response, ApiError> {
    let u: CheckUpdateIn = decode(&CHECK_UPDATE_SCHEMA, body)?;
    if !status::is_valid(&u.status) {
        return Err(ApiError::bad(format!(
            "Invalid check status: '{}'",
            u.status
        )));
    }
    agent.update_ttl(id, &u.status, &u.output).await?;
    Ok(empty())
}

/// `GET /v1/agent/service/<id>`, with the `ContentHash` blocking clients compare.
pub fn service(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    let Some(s) = agent.local_service(id) else {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("unknown service ID: {id}"),
        ));
    };
    let mut out = agent_service_out(&s, &agent.cfg.datacenter);
    let hash = format!(
        "{:016x}",
        fnv1a(&serde_json::to_vec(&out).unwrap_or_default())
    );
    out.content_hash = Some(hash.clone());
    let mut r = json_plain(&out)?;
    if let Ok(v) = axum::http::HeaderValue::from_str(&hash) {
        r.headers_mut().insert("X-Consul-ContentHash", v);
    }
    Ok(r)
}

/// `PUT /v1/agent/join/<address>` (`?wan` only on servers).
pub async fn join(agent: &Agent, address: &str, q: &Query) -> Result<Response, ApiError> {
    let wan = matches!(q.get("wan"), Some("" | "1" | "true"));
    if wan && !agent.cfg.server {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Must be a server to join WAN cluster",
        ));
    }
    let addrs = [address.to_string()];
    let (n, errs) = if wan {
        agent.join_wan(&addrs).await?
    } else {
        agent.join(&addrs).await?
    };
    if n == 0 {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            errs.join("; "),
        ));
    }
    Ok(empty())
}

/// `PUT /v1/agent/force-leave/<node>` (`?prune`, `?wan`: a `<node>.<dc>` of the WAN pool).
pub async fn force_leave(agent: &Agent, node: &str, q: &Query) -> Result<Response, ApiError> {
    let prune = q.get("prune").is_some_and(|v| v != "false" && v != "0");
    let wan = q.get("wan").is_some_and(|v| v != "false" && v != "0");
    agent.force_leave(node, prune, wan).await?;
    Ok(empty())
}

/// The required `enable` parameter of the maintenance endpoints.
fn enable_param(q: &Query) -> Result<bool, ApiError> {
    match q.get("enable") {
        None | Some("") => Err(ApiError::bad("Missing value for enable")),
        Some("true" | "1" | "t" | "T" | "TRUE" | "True") => Ok(true),
        Some("false" | "0" | "f" | "F" | "FALSE" | "False") => Ok(false),
        Some(v) => Err(ApiError::bad(format!("Invalid value for enable: \"{v}\""))),
    }
}

/// 64-bit FNV-1a: the content hash of `agent/service/<id>` (any stable hash serves; the
/// clients only compare it).
fn fnv1a(b: &[u8]) -> u64 {
    b.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, x| {
        (h ^ *x as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `GET /v1/agent/health/service/id|name/<x>`: 200, 429 or 503 by the worst check
/// (`?format=text` for the status alone).
pub fn service_health(
    agent: &Agent,
    key: &str,
    by_id: bool,
    q: &Query,
) -> Result<Response, ApiError> {
    let services: Vec<_> = agent
        .local_services()
        .into_iter()
        .filter(|s| if by_id { s.id == key } else { s.service == key })
        .collect();
    if services.is_empty() {
        let msg = if by_id {
            format!("ServiceId {key} not found")
        } else {
            format!("ServiceName {key} Not Found")
        };
        return Ok(text(StatusCode::NOT_FOUND, &msg));
    }
    let checks = agent.local_checks();
    let mut worst = status::PASSING;
    let mut outs = Vec::new();
    for s in &services {
        let mine: Vec<_> = checks
            .iter()
            .filter(|c| c.service_id == s.id || c.service_id.is_empty())
            .collect();
        let agg = aggregate(mine.iter().copied());
        worst = match (worst, agg) {
            (_, status::CRITICAL) | (status::CRITICAL, _) => status::CRITICAL,
            (_, status::MAINTENANCE) | (status::MAINTENANCE, _) => status::MAINTENANCE,
            (_, status::WARNING) | (status::WARNING, _) => status::WARNING,
            _ => status::PASSING,
        };
        outs.push((agg, s, mine));
    }
    let code = match worst {
        status::PASSING => StatusCode::OK,
        status::WARNING => StatusCode::TOO_MANY_REQUESTS,
        _ => StatusCode::SERVICE_UNAVAILABLE,
    };
    if q.get("format") == Some("text") {
        return Ok(text(code, worst));
    }
    let dc = agent.cfg.datacenter.as_str();
    let body = if by_id {
        let (agg, s, mine) = &outs[0];
        serde_json::to_vec(&crate::api::output::AgentHealthOut {
            aggregated_status: agg,
            service: agent_service_out(s, dc),
            checks: mine.iter().map(|c| check_out(c)).collect(),
        })
    } else {
        let list: Vec<_> = outs
            .iter()
            .map(|(agg, s, mine)| crate::api::output::AgentHealthOut {
                aggregated_status: agg,
                service: agent_service_out(s, dc),
                checks: mine.iter().map(|c| check_out(c)).collect(),
            })
            .collect();
        serde_json::to_vec(&list)
    }
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(json_bytes(code, body))
}
