//! `/v1/kv/<key>`.

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::ApiError;
use super::blocking::{read, to_json};
use super::convert::dir_entry_out;
use super::query::Query;
use super::respond::json_plain;
use crate::acl;
use crate::agent::Agent;
use crate::state::{Command, KvOp, Response as SmResponse, Watch};

/// `GET /v1/kv/<key>`: one entry, `?raw` its value, `?recurse` a subtree, `?keys` names.
pub async fn get(agent: &Agent, key: &str, q: &Query) -> Result<Response, ApiError> {
    agent.metrics.incr("consul.kvs.get");
    if q.has("keys") {
        let sep = q
            .get("separator")
            .or_else(|| q.get("seperator"))
            .unwrap_or("")
            .to_string();
        return read(agent, q, Watch::Prefix(key), |s| {
            let mut keys = s.kv_keys(key, &sep);
            if q.authz.enforced() {
                keys.retain(|k| q.authz.keep(acl::Resource::Key, k));
            }
            if keys.is_empty() && !key.is_empty() {
                return Ok((StatusCode::NOT_FOUND, Vec::new()));
            }
            Ok((StatusCode::OK, to_json(&keys)?))
        })
        .await;
    }
    if q.has("recurse") {
        return read(agent, q, Watch::Prefix(key), |s| {
            let entries: Vec<_> = s
                .kv_list(key)
                .into_iter()
                .filter(|e| q.authz.keep(acl::Resource::Key, e.key()))
                .map(dir_entry_out)
                .collect();
            if entries.is_empty() {
                return Ok((StatusCode::NOT_FOUND, Vec::new()));
            }
            Ok((StatusCode::OK, to_json(&entries)?))
        })
        .await;
    }
    if key.is_empty() {
        return Err(ApiError::bad("Missing key name"));
    }
    let raw = q.has("raw");
    let mut resp = read(agent, q, Watch::Key(key), |s| match s.kv_get(key) {
        None => Ok((StatusCode::NOT_FOUND, Vec::new())),
        Some(e) if raw => Ok((StatusCode::OK, e.value().to_vec())),
        Some(e) => Ok((StatusCode::OK, to_json(&[dir_entry_out(e)])?)),
    })
    .await?;
    if raw && resp.status() == StatusCode::OK {
        let h = resp.headers_mut();
        h.insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        h.insert(
            "X-Content-Type-Options",
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            "Content-Security-Policy",
            HeaderValue::from_static("sandbox"),
        );
    }
    if resp.status() == StatusCode::NOT_FOUND {
        let (parts, _) = resp.into_parts();
        let mut parts = parts;
        parts.headers.remove(header::CONTENT_TYPE);
        return Ok(Response::from_parts(parts, Body::empty()));
    }
    Ok(resp)
}

fn parse_u64(q: &Query, name: &str) -> Result<Option<u64>, ApiError> {
    match q.get(name) {
        None => Ok(None),
        Some(v) => v
            .parse::<u64>()
            .map(Some)
            .map_err(|_| ApiError::bad(format!("Invalid {name} value: {v:?}"))),
    }
}

/// `PUT /v1/kv/<key>`: set, with `?cas` and `?flags`.
pub async fn put(agent: &Agent, key: &str, q: &Query, body: Bytes) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    if key.is_empty() {
        return Err(ApiError::bad("Missing key name"));
    }
    let n = ["cas", "acquire", "release"]
        .iter()
        .filter(|f| q.has(f))
        .count();
    if n > 1 {
        return Err(ApiError::bad(
            "Conflicting flags: cas, acquire and release are mutually exclusive",
        ));
    }
    let max = agent.cfg.kv_max_value_size;
    if body.len() as u64 > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "Request body({} bytes) too large, max size: {max} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#kv_max_value_size.",
                body.len()
            ),
        ));
    }
    let flags = parse_u64(q, "flags")?.unwrap_or(0);
    let cas = parse_u64(q, "cas")?;
    agent.metrics.incr("consul.kvs.apply");
    let lock = match (q.get("acquire"), q.get("release")) {
        (Some(session), _) => Some(KvOp::Lock {
            key: key.to_string(),
            value: body.to_vec(),
            flags,
            session: session.to_string(),
        }),
        (_, Some(session)) => Some(KvOp::Unlock {
            key: key.to_string(),
            value: body.to_vec(),
            flags,
            session: session.to_string(),
        }),
        _ => None,
    };
    if let Some(op) = lock {
        let r = agent
            .write_as(Command::Kv(op), q.authz.secret())
            .await
            .map_err(super::session::write_error)?;
        return json_plain(&matches!(r, SmResponse::Bool(true)));
    }
    let r = agent
        .write_as(
            Command::Kv(KvOp::Set {
                key: key.to_string(),
                value: body.to_vec(),
                flags,
                cas,
            }),
            q.authz.secret(),
        )
        .await?;
    json_plain(&matches!(r, SmResponse::Bool(true)))
}

/// `DELETE /v1/kv/<key>`: one key, `?cas`, or `?recurse` a subtree.
pub async fn delete(agent: &Agent, key: &str, q: &Query) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    let recurse = q.has("recurse");
    let cas = parse_u64(q, "cas")?;
    if recurse && cas.is_some() {
        return Err(ApiError::bad(
            "Conflicting flags: cas, recurse are mutually exclusive",
        ));
    }
    if key.is_empty() && !recurse {
        return Err(ApiError::bad("Missing key name"));
    }
    agent.metrics.incr("consul.kvs.apply");
    let r = agent
        .write_as(
            Command::Kv(KvOp::Delete {
                key: key.to_string(),
                recurse,
                cas,
            }),
            q.authz.secret(),
        )
        .await?;
    json_plain(&matches!(r, SmResponse::Bool(true)))
}
