//! `/v1/acl/*` and `/v1/agent/token/*`: the bootstrap, tokens, policies and roles, after
//! Consul's `acl_endpoint.go`. Writes are checked here (IDs, names, links, rules) and
//! decided in the state machine (a name or ID taken, a second bootstrap); reads block on the
//! ACL tables' index like any other read.
//!
//! Every route answers `401 ACL support disabled` while ACLs are off.

use std::path::PathBuf;
use std::time::{Duration, UNIX_EPOCH};

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;

use super::ApiError;
use super::blocking::{read, to_json};
use super::query::Query;
use super::respond::{empty, json_plain};
use crate::acl;
use crate::agent::acl::{content_hash, now_ns, token_hash};
use crate::agent::{Agent, AgentError};
use crate::api::acl::*;
use crate::api::decode::decode;
use crate::state::{
    ANONYMOUS_ACCESSOR, AclOp, AclPolicy, AclRole, AclToken, Command, GLOBAL_MANAGEMENT_ID,
    NodeIdentity, ServiceIdentity, Store, Table, Watch,
};

/// IDs with this prefix are Consul's built-ins; a client may not choose one.
const RESERVED_PREFIX: &str = "00000000-0000-0000-0000-0000000000";
/// The file an operator writes the reset index into to allow one more bootstrap.
const RESET_FILE: &str = "acl-bootstrap-reset";
const ACL_TABLES: &[Table] = &[Table::Acl];

/// The answer of every ACL route while ACLs are off.
pub fn acl_disabled() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "ACL support disabled")
}

fn enabled(agent: &Agent) -> Result<(), ApiError> {
    if agent.cfg.acl.enabled {
        Ok(())
    } else {
        Err(acl_disabled())
    }
}

fn write_error(e: AgentError) -> ApiError {
    ApiError::from(e)
}

async fn commit(agent: &Agent, op: AclOp) -> Result<(), ApiError> {
    agent.write(Command::Acl(op)).await.map_err(write_error)?;
    Ok(())
}

fn rfc3339(ns: i64) -> String {
    let t = UNIX_EPOCH + Duration::from_nanos(ns.max(0) as u64);
    humantime::format_rfc3339_nanos(t).to_string()
}

fn parse_rfc3339(s: &str) -> Option<i64> {
    let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z').trim())
        .ok()
        .or_else(|| humantime::parse_rfc3339(s).ok())?;
    t.duration_since(UNIX_EPOCH)
        .ok()
        .map(|d| d.as_nanos() as i64)
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn is_uuid(s: &str) -> bool {
    uuid::Uuid::parse_str(s).is_ok() && s.len() == 36
}

/// Consul's state-store error for a path ID that is not a UUID.
fn not_uuid(what: &str) -> ApiError {
    ApiError::new(
        StatusCode::INTERNAL_SERVER_ERROR,
        format!("failed acl {what} lookup: index error: UUID must be 36 characters"),
    )
}

fn policy_links(store: &Store, ids: &[String]) -> Vec<Link> {
    ids.iter()
        .filter_map(|id| {
            store.acl_policy(id).map(|p| Link {
                id: id.clone(),
                name: p.name.to_string(),
            })
        })
        .collect()
}

fn role_links(store: &Store, ids: &[String]) -> Vec<Link> {
    ids.iter()
        .filter_map(|id| {
            store.acl_role(id).map(|r| Link {
                id: id.clone(),
                name: r.name.to_string(),
            })
        })
        .collect()
}

fn service_identities_out(v: &[ServiceIdentity]) -> Vec<ServiceIdentityJson> {
    v.iter()
        .map(|s| ServiceIdentityJson {
            service_name: s.service_name.clone(),
            datacenters: s.datacenters.clone(),
        })
        .collect()
}

fn node_identities_out(v: &[NodeIdentity]) -> Vec<NodeIdentityJson> {
    v.iter()
        .map(|n| NodeIdentityJson {
            node_name: n.node_name.clone(),
            datacenter: n.datacenter.clone(),
        })
        .collect()
}

/// A token as the caller may see it: the secret only with `acl:write` (or `reveal`).
fn token_out(store: &Store, t: &AclToken, reveal: bool) -> TokenOut {
    TokenOut {
        accessor_id: t.accessor_id.to_string(),
        secret_id: if reveal {
            t.secret_id.to_string()
        } else {
            "<hidden>".into()
        },
        description: t.description.clone(),
        policies: policy_links(store, &t.policies),
        roles: role_links(store, &t.roles),
        service_identities: service_identities_out(&t.service_identities),
        node_identities: node_identities_out(&t.node_identities),
        local: t.local,
        expiration_time: (t.expiration_time_ns > 0).then(|| rfc3339(t.expiration_time_ns)),
        create_time: rfc3339(t.create_time_ns),
        hash: b64(&t.hash),
        legacy: None,
        id: None,
        create_index: t.create_index,
        modify_index: t.modify_index,
    }
}

fn policy_out(p: &AclPolicy, with_rules: bool) -> PolicyOut {
    PolicyOut {
        id: p.id.to_string(),
        name: p.name.to_string(),
        description: p.description.clone(),
        rules: with_rules.then(|| p.rules.clone()),
        datacenters: p.datacenters.clone(),
        hash: b64(&p.hash),
        create_index: p.create_index,
        modify_index: p.modify_index,
    }
}

fn role_out(store: &Store, r: &AclRole) -> RoleOut {
    RoleOut {
        id: r.id.to_string(),
        name: r.name.to_string(),
        description: r.description.clone(),
        policies: policy_links(store, &r.policies),
        service_identities: service_identities_out(&r.service_identities),
        node_identities: node_identities_out(&r.node_identities),
        hash: b64(&r.hash),
        create_index: r.create_index,
        modify_index: r.modify_index,
    }
}

fn may_write_acl(q: &Query) -> bool {
    q.authz.allows(acl::Resource::Acl, "", acl::Level::Write)
}

// ---- bootstrap ----

fn reset_file(agent: &Agent) -> Option<PathBuf> {
    agent.cfg.data_dir.as_ref().map(|d| d.join(RESET_FILE))
}

/// `PUT /v1/acl/bootstrap`: the first management token, once (again only with the reset
/// index written to `data_dir/acl-bootstrap-reset` on the leader).
pub async fn bootstrap(agent: &Agent, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let secret = if body.iter().all(u8::is_ascii_whitespace) {
        String::new()
    } else {
        let v: serde_json::Value = serde_json::from_slice(body)
            .map_err(|e| ApiError::bad(format!("Request decode failed: {e}")))?;
        let s = v
            .as_object()
            .and_then(|o| {
                o.iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("BootstrapSecret"))
                    .map(|(_, v)| v.as_str().unwrap_or_default().to_string())
            })
            .unwrap_or_default();
        if !s.is_empty() && !is_uuid(&s) {
            return Err(ApiError::bad("Invalid BootstrapSecret: must be a UUID"));
        }
        s
    };
    let reset_index = reset_file(agent)
        .and_then(|p| std::fs::read_to_string(p).ok())
        .and_then(|s| s.trim().parse::<u64>().ok())
        .unwrap_or(0);
    let mut token = AclToken {
        accessor_id: uuid::Uuid::new_v4().to_string().into(),
        secret_id: if secret.is_empty() {
            uuid::Uuid::new_v4().to_string().into()
        } else {
            secret.into()
        },
        description: "Bootstrap Token (Global Management)".into(),
        policies: vec![GLOBAL_MANAGEMENT_ID.into()],
        create_time_ns: now_ns(),
        ..Default::default()
    };
    token.hash = token_hash(&token);
    let accessor = token.accessor_id.clone();
    match agent
        .write(Command::Acl(AclOp::Bootstrap { token, reset_index }))
        .await
    {
        Ok(_) => {}
        Err(AgentError::BadRequest(e)) if e.starts_with("ACL bootstrap no longer allowed") => {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                format!("Permission denied: {e}"),
            ));
        }
        Err(e) => return Err(write_error(e)),
    }
    if reset_index > 0
        && let Some(p) = reset_file(agent)
    {
        let _ = std::fs::remove_file(p);
    }
    let store = agent.store.read();
    let t = store
        .acl_token(&accessor)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "bootstrap token lost"))?;
    let mut out = token_out(&store, t, true);
    out.id = Some(t.secret_id.to_string());
    json_plain(&out)
}

/// `GET /v1/acl/replication`: one datacenter replicates nothing.
pub fn replication(agent: &Agent) -> Result<Response, ApiError> {
    enabled(agent)?;
    json_plain(&serde_json::json!({
        "Enabled": false,
        "Running": false,
        "SourceDatacenter": "",
        "ReplicationType": "",
        "ReplicatedIndex": 0,
        "ReplicatedRoleIndex": 0,
        "ReplicatedTokenIndex": 0,
        "LastSuccess": "0001-01-01T00:00:00Z",
        "LastError": "0001-01-01T00:00:00Z",
        "LastErrorMessage": "",
    }))
}

/// `POST /v1/acl/login`: no auth method exists here.
pub fn login(agent: &Agent) -> Result<Response, ApiError> {
    enabled(agent)?;
    Err(ApiError::bad("auth method not found"))
}

/// `POST /v1/acl/logout`: only tokens made by a login may log out, and there are none.
pub fn logout(agent: &Agent) -> Result<Response, ApiError> {
    enabled(agent)?;
    Err(ApiError::new(StatusCode::FORBIDDEN, "ACL not found"))
}

// ---- tokens ----

/// `GET /v1/acl/token/self`.
pub async fn token_self(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    enabled(agent)?;
    let secret = agent.effective_secret(q.authz.secret());
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        let t = s
            .acl_token_by_secret(&secret)
            .filter(|t| !t.expired(now_ns()))
            .ok_or_else(super::authz::acl_not_found)?;
        Ok((StatusCode::OK, to_json(&token_out(s, t, true))?))
    })
    .await
}

/// `GET /v1/acl/token/<accessor>`.
pub async fn token_read(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    enabled(agent)?;
    if !is_uuid(id) {
        return Err(not_uuid("token"));
    }
    let reveal = may_write_acl(q);
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        // Consul answers a missing token as an unknown one, not with a 404.
        let t = s
            .acl_token(id)
            .filter(|t| !t.expired(now_ns()))
            .ok_or_else(super::authz::acl_not_found)?;
        Ok((StatusCode::OK, to_json(&token_out(s, t, reveal))?))
    })
    .await
}

/// `GET /v1/acl/tokens` (`?policy=`, `?role=`, `?servicename=`, `?authmethod=`).
pub async fn token_list(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    enabled(agent)?;
    let reveal = may_write_acl(q);
    let policy = q.get("policy").unwrap_or_default().to_string();
    let role = q.get("role").unwrap_or_default().to_string();
    let service = q.get("servicename").unwrap_or_default().to_string();
    let method = q.get("authmethod").unwrap_or_default().to_string();
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        let now = now_ns();
        let list: Vec<TokenOut> = s
            .acl_tokens()
            .filter(|t| !t.expired(now))
            .filter(|t| policy.is_empty() || t.policies.contains(&policy))
            .filter(|t| role.is_empty() || t.roles.contains(&role))
            .filter(|t| {
                service.is_empty()
                    || t.service_identities
                        .iter()
                        .any(|i| i.service_name == service)
            })
            // No token comes from an auth method.
            .filter(|_| method.is_empty())
            .map(|t| {
                let mut o = token_out(s, t, reveal);
                o.legacy = Some(false);
                o
            })
            .collect();
        Ok((StatusCode::OK, to_json(&list)?))
    })
    .await
}

fn err400(msg: impl Into<String>) -> ApiError {
    ApiError::bad(msg)
}

/// Resolve links (by ID or name) to IDs, deduplicated, in order; `by_id` and `by_name`
/// look one up (a policy or a role, named `kind` in errors).
fn resolve_links<'s>(
    links: &[Link],
    kind: &str,
    by_id: impl Fn(&str) -> Option<&'s str>,
    by_name: impl Fn(&str) -> Option<&'s str>,
) -> Result<Vec<String>, ApiError> {
    let mut out: Vec<String> = Vec::new();
    for l in links {
        let id = if !l.id.is_empty() {
            by_id(&l.id).ok_or_else(|| err400(format!("No such ACL {kind} with ID {:?}", l.id)))?
        } else if !l.name.is_empty() {
            by_name(&l.name)
                .ok_or_else(|| err400(format!("No such ACL {kind} with name {:?}", l.name)))?
        } else {
            return Err(err400(format!("{kind} link has neither an ID nor a Name")));
        };
        if !out.iter().any(|x| x == id) {
            out.push(id.to_string());
        }
    }
    Ok(out)
}

fn resolve_policies(store: &Store, links: &[Link]) -> Result<Vec<String>, ApiError> {
    resolve_links(
        links,
        "policy",
        |id| store.acl_policy(id).map(|p| p.id.as_str()),
        |n| store.acl_policy_by_name(n).map(|p| p.id.as_str()),
    )
}

fn resolve_roles(store: &Store, links: &[Link]) -> Result<Vec<String>, ApiError> {
    resolve_links(
        links,
        "role",
        |id| store.acl_role(id).map(|r| r.id.as_str()),
        |n| store.acl_role_by_name(n).map(|r| r.id.as_str()),
    )
}

fn valid_identity_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 256
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn identities(
    services: &Option<Vec<ServiceIdentityJson>>,
    nodes: &Option<Vec<NodeIdentityJson>>,
    local: bool,
) -> Result<(Vec<ServiceIdentity>, Vec<NodeIdentity>), ApiError> {
    let mut sv: Vec<ServiceIdentity> = Vec::new();
    for s in services.iter().flatten() {
        if !valid_identity_name(&s.service_name) {
            return Err(err400(format!(
                "Service identity {:?} has an invalid name. Only alphanumeric characters, '-' and '_' are allowed",
                s.service_name
            )));
        }
        if local && !s.datacenters.is_empty() {
            return Err(err400(format!(
                "Service identity {:?} cannot specify a list of datacenters on a local token",
                s.service_name
            )));
        }
        if !sv.iter().any(|x| x.service_name == s.service_name) {
            sv.push(ServiceIdentity {
                service_name: s.service_name.clone(),
                datacenters: s.datacenters.clone(),
            });
        }
    }
    let mut nv: Vec<NodeIdentity> = Vec::new();
    for n in nodes.iter().flatten() {
        if !valid_identity_name(&n.node_name) {
            return Err(err400(format!(
                "Node identity {:?} has an invalid name. Only alphanumeric characters, '-' and '_' are allowed",
                n.node_name
            )));
        }
        if n.datacenter.is_empty() {
            return Err(err400(format!(
                "Node identity {:?} must specify a datacenter",
                n.node_name
            )));
        }
        nv.push(NodeIdentity {
            node_name: n.node_name.clone(),
            datacenter: n.datacenter.clone(),
        });
    }
    Ok((sv, nv))
}

fn check_chosen_id(what: &str, id: &str) -> Result<(), ApiError> {
    if id.is_empty() {
        return Ok(());
    }
    if !is_uuid(id) {
        return Err(err400(format!("Invalid Token: {what} is not a valid UUID")));
    }
    if id.starts_with(RESERVED_PREFIX) {
        return Err(err400(format!(
            "Invalid Token: UUIDs with the prefix {RESERVED_PREFIX:?} are reserved"
        )));
    }
    Ok(())
}

/// The expiry of a new token from `ExpirationTTL` or `ExpirationTime` (0: none).
fn expiry(agent: &Agent, t: &TokenIn) -> Result<i64, ApiError> {
    let time = t.expiration_time.as_deref().filter(|s| !s.is_empty());
    match (t.expiration_ttl_ns, time) {
        (0, None) => Ok(0),
        (_, Some(_)) if t.expiration_ttl_ns > 0 => Err(err400(
            "Expiration TTL and Expiration Time cannot both be set",
        )),
        (ttl, None) => {
            let ttl = Duration::from_nanos(ttl);
            let (min, max) = (
                agent.cfg.acl.token_min_expiration_ttl,
                agent.cfg.acl.token_max_expiration_ttl,
            );
            if ttl < min || ttl > max {
                return Err(err400(format!(
                    "Token Expiration TTL '{}' should be between {} and {}",
                    crate::api::duration::format_go(ttl),
                    crate::api::duration::format_go(min),
                    crate::api::duration::format_go(max)
                )));
            }
            Ok(now_ns() + ttl.as_nanos() as i64)
        }
        (_, Some(s)) => {
            let at =
                parse_rfc3339(s).ok_or_else(|| err400(format!("Invalid ExpirationTime {s:?}")))?;
            if at <= now_ns() {
                return Err(err400("ExpirationTime cannot be in the past"));
            }
            Ok(at)
        }
    }
}

/// The token a create or update asks for, links resolved against `store`.
fn token_from(
    agent: &Agent,
    store: &Store,
    t: &TokenIn,
    existing: Option<&AclToken>,
) -> Result<AclToken, ApiError> {
    if t.rules.as_deref().is_some_and(|r| !r.is_empty()) {
        return Err(err400("Rules cannot be specified for this token"));
    }
    if t.kind.as_deref().is_some_and(|k| !k.is_empty()) {
        return Err(err400("Type cannot be specified for this token"));
    }
    if t.templated_policies
        .as_ref()
        .is_some_and(|v| v.as_array().is_some_and(|a| !a.is_empty()))
    {
        return Err(err400("Templated policies are not supported"));
    }
    if !t.auth_method.is_empty() {
        return Err(err400("AuthMethod field is disallowed outside of login"));
    }
    let policies = resolve_policies(store, t.policies.as_deref().unwrap_or_default())?;
    let roles = resolve_roles(store, t.roles.as_deref().unwrap_or_default())?;
    let (service_identities, node_identities) =
        identities(&t.service_identities, &t.node_identities, t.local)?;
    let mut token = match existing {
        None => {
            check_chosen_id("AccessorID", &t.accessor_id)?;
            check_chosen_id("SecretID", &t.secret_id)?;
            let pick = |s: &str| {
                if s.is_empty() {
                    uuid::Uuid::new_v4().to_string()
                } else {
                    s.to_string()
                }
            };
            AclToken {
                accessor_id: pick(&t.accessor_id).into(),
                secret_id: pick(&t.secret_id).into(),
                local: t.local,
                expiration_time_ns: expiry(agent, t)?,
                create_time_ns: now_ns(),
                ..Default::default()
            }
        }
        Some(old) => {
            if !t.secret_id.is_empty() && t.secret_id != old.secret_id.as_str() {
                return Err(err400("Changing a token's SecretID is not permitted"));
            }
            if t.local != old.local {
                return Err(err400(format!(
                    "Cannot toggle local mode of {}",
                    old.accessor_id
                )));
            }
            if t.expiration_ttl_ns > 0
                || t.expiration_time
                    .as_deref()
                    .and_then(parse_rfc3339)
                    .is_some_and(|at| at != old.expiration_time_ns)
            {
                return Err(err400("Cannot change expiration time"));
            }
            old.clone()
        }
    };
    token.description = t.description.clone();
    token.policies = policies;
    token.roles = roles;
    token.service_identities = service_identities;
    token.node_identities = node_identities;
    token.hash = token_hash(&token);
    Ok(token)
}

async fn answer_token(agent: &Agent, accessor: &str) -> Result<Response, ApiError> {
    let store = agent.store.read();
    let t = store
        .acl_token(accessor)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "token lost"))?;
    json_plain(&token_out(&store, t, true))
}

/// `PUT /v1/acl/token`.
pub async fn token_create(agent: &Agent, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let t: TokenIn = decode(&TOKEN_SCHEMA, body)?;
    let token = {
        let store = agent.store.read();
        token_from(agent, &store, &t, None)?
    };
    let accessor = token.accessor_id.to_string();
    commit(
        agent,
        AclOp::TokenSet {
            token,
            create: true,
        },
    )
    .await?;
    answer_token(agent, &accessor).await
}

/// `PUT /v1/acl/token/<accessor>`.
pub async fn token_update(agent: &Agent, id: &str, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let t: TokenIn = decode(&TOKEN_SCHEMA, body)?;
    if !t.accessor_id.is_empty() && t.accessor_id != id {
        return Err(err400("Token Accessor ID in URL and payload do not match"));
    }
    if !is_uuid(id) {
        return Err(not_uuid("token"));
    }
    let token = {
        let store = agent.store.read();
        let old = store
            .acl_token(id)
            .ok_or_else(|| err400(format!("Cannot find token {id:?}")))?;
        token_from(agent, &store, &t, Some(old))?
    };
    commit(
        agent,
        AclOp::TokenSet {
            token,
            create: false,
        },
    )
    .await?;
    answer_token(agent, id).await
}

/// `PUT /v1/acl/token/<accessor>/clone`.
pub async fn token_clone(
    agent: &Agent,
    id: &str,
    q: &Query,
    body: &Bytes,
) -> Result<Response, ApiError> {
    enabled(agent)?;
    let c: CloneIn = if body.iter().all(u8::is_ascii_whitespace) {
        CloneIn::default()
    } else {
        decode(&CLONE_SCHEMA, body)?
    };
    if !is_uuid(id) {
        return Err(not_uuid("token"));
    }
    let _ = q;
    let token = {
        let store = agent.store.read();
        let old = store
            .acl_token(id)
            .filter(|t| !t.expired(now_ns()))
            .ok_or_else(|| err400(format!("Cannot find token {id:?}")))?;
        if old.accessor_id.as_str() == ANONYMOUS_ACCESSOR {
            return Err(err400("Cannot clone the anonymous token"));
        }
        let mut t = AclToken {
            accessor_id: uuid::Uuid::new_v4().to_string().into(),
            secret_id: uuid::Uuid::new_v4().to_string().into(),
            description: if c.description.is_empty() {
                old.description.clone()
            } else {
                c.description
            },
            create_time_ns: now_ns(),
            create_index: 0,
            modify_index: 0,
            ..old.clone()
        };
        t.hash = token_hash(&t);
        t
    };
    let accessor = token.accessor_id.to_string();
    commit(
        agent,
        AclOp::TokenSet {
            token,
            create: true,
        },
    )
    .await?;
    answer_token(agent, &accessor).await
}

/// `DELETE /v1/acl/token/<accessor>`.
pub async fn token_delete(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    enabled(agent)?;
    if !is_uuid(id) {
        return Err(not_uuid("token"));
    }
    let own = agent.effective_secret(q.authz.secret());
    let is_self = agent
        .store
        .read()
        .acl_token(id)
        .is_some_and(|t| t.secret_id.as_str() == own);
    if is_self {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "Deletion of the request's authorization token is not permitted",
        ));
    }
    commit(
        agent,
        AclOp::TokenDelete {
            accessor: id.to_string(),
        },
    )
    .await?;
    json_plain(&true)
}

// ---- policies ----

fn valid_policy_name(n: &str) -> bool {
    !n.is_empty()
        && n.len() <= 128
        && n.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn policy_from(p: &PolicyIn, id: String) -> Result<AclPolicy, ApiError> {
    // The built-in read-only policy's name carries a '/', and keeps it on update.
    let builtin_name = id == crate::state::GLOBAL_READ_ONLY_ID && p.name.contains('/');
    if !(valid_policy_name(&p.name) || builtin_name) {
        return Err(err400(
            "Invalid Policy: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
        ));
    }
    acl::parse(&p.rules).map_err(|e| err400(e.to_string()))?;
    let mut policy = AclPolicy {
        id: id.into(),
        name: p.name.as_str().into(),
        description: p.description.clone(),
        rules: p.rules.clone(),
        datacenters: p.datacenters.clone().unwrap_or_default(),
        ..Default::default()
    };
    policy.hash = content_hash(&(
        policy.name.as_str(),
        &policy.description,
        &policy.rules,
        &policy.datacenters,
    ));
    Ok(policy)
}

/// `PUT /v1/acl/policy`.
pub async fn policy_create(agent: &Agent, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let p: PolicyIn = decode(&POLICY_SCHEMA, body)?;
    if !p.id.is_empty() {
        return Err(err400("Cannot specify the ID when creating a new policy"));
    }
    let policy = policy_from(&p, uuid::Uuid::new_v4().to_string())?;
    let id = policy.id.to_string();
    commit(
        agent,
        AclOp::PolicySet {
            policy,
            create: true,
        },
    )
    .await?;
    answer_policy(agent, &id)
}

fn answer_policy(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    let store = agent.store.read();
    let p = store
        .acl_policy(id)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "policy lost"))?;
    json_plain(&policy_out(p, true))
}

/// `PUT /v1/acl/policy/<id>`.
pub async fn policy_update(agent: &Agent, id: &str, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let p: PolicyIn = decode(&POLICY_SCHEMA, body)?;
    if !p.id.is_empty() && p.id != id {
        return Err(err400("Policy ID in URL and payload do not match"));
    }
    if !is_uuid(id) {
        return Err(not_uuid("policy"));
    }
    let policy = policy_from(&p, id.to_string())?;
    commit(
        agent,
        AclOp::PolicySet {
            policy,
            create: false,
        },
    )
    .await?;
    answer_policy(agent, id)
}

/// `DELETE /v1/acl/policy/<id>`.
pub async fn policy_delete(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    enabled(agent)?;
    if !is_uuid(id) {
        return Err(not_uuid("policy"));
    }
    if agent.store.read().acl_policy(id).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Cannot find policy to delete",
        ));
    }
    commit(agent, AclOp::PolicyDelete { id: id.to_string() }).await?;
    json_plain(&true)
}

/// `GET /v1/acl/policy/<id>` or `/v1/acl/policy/name/<name>`.
pub async fn policy_read(
    agent: &Agent,
    id: Option<&str>,
    name: Option<&str>,
    q: &Query,
) -> Result<Response, ApiError> {
    enabled(agent)?;
    if let Some(id) = id
        && !is_uuid(id)
    {
        return Err(not_uuid("policy"));
    }
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        let p = match (id, name) {
            (Some(id), _) => s.acl_policy(id),
            (None, Some(n)) => s.acl_policy_by_name(n),
            (None, None) => None,
        }
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "ACL policy not found"))?;
        Ok((StatusCode::OK, to_json(&policy_out(p, true))?))
    })
    .await
}

/// `GET /v1/acl/policies`.
pub async fn policy_list(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    enabled(agent)?;
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        let list: Vec<PolicyOut> = s.acl_policies().map(|p| policy_out(p, false)).collect();
        Ok((StatusCode::OK, to_json(&list)?))
    })
    .await
}

// ---- roles ----

fn role_from(store: &Store, r: &RoleIn, id: String) -> Result<AclRole, ApiError> {
    if !valid_policy_name(&r.name) {
        return Err(err400(
            "Invalid Role: invalid Name. Only alphanumeric characters, '-' and '_' are allowed",
        ));
    }
    let policies = resolve_policies(store, r.policies.as_deref().unwrap_or_default())?;
    let (service_identities, node_identities) =
        identities(&r.service_identities, &r.node_identities, false)?;
    let mut role = AclRole {
        id: id.into(),
        name: r.name.as_str().into(),
        description: r.description.clone(),
        policies,
        service_identities,
        node_identities,
        ..Default::default()
    };
    role.hash = content_hash(&(
        role.name.as_str(),
        &role.description,
        &role.policies,
        role.service_identities
            .iter()
            .map(|s| &s.service_name)
            .collect::<Vec<_>>(),
        role.node_identities
            .iter()
            .map(|n| (&n.node_name, &n.datacenter))
            .collect::<Vec<_>>(),
    ));
    Ok(role)
}

fn answer_role(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    let store = agent.store.read();
    let r = store
        .acl_role(id)
        .ok_or_else(|| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "role lost"))?;
    json_plain(&role_out(&store, r))
}

/// `PUT /v1/acl/role`.
pub async fn role_create(agent: &Agent, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let r: RoleIn = decode(&ROLE_SCHEMA, body)?;
    if !r.id.is_empty() {
        return Err(err400("Cannot specify the ID when creating a new role"));
    }
    let role = {
        let store = agent.store.read();
        role_from(&store, &r, uuid::Uuid::new_v4().to_string())?
    };
    let id = role.id.to_string();
    commit(agent, AclOp::RoleSet { role, create: true }).await?;
    answer_role(agent, &id)
}

/// `PUT /v1/acl/role/<id>`.
pub async fn role_update(agent: &Agent, id: &str, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let r: RoleIn = decode(&ROLE_SCHEMA, body)?;
    if !r.id.is_empty() && r.id != id {
        return Err(err400("Role ID in URL and payload do not match"));
    }
    if !is_uuid(id) {
        return Err(not_uuid("role"));
    }
    let role = {
        let store = agent.store.read();
        role_from(&store, &r, id.to_string())?
    };
    commit(
        agent,
        AclOp::RoleSet {
            role,
            create: false,
        },
    )
    .await?;
    answer_role(agent, id)
}

/// `DELETE /v1/acl/role/<id>`.
pub async fn role_delete(agent: &Agent, id: &str) -> Result<Response, ApiError> {
    enabled(agent)?;
    if !is_uuid(id) {
        return Err(not_uuid("role"));
    }
    if agent.store.read().acl_role(id).is_none() {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            "Cannot find role to delete",
        ));
    }
    commit(agent, AclOp::RoleDelete { id: id.to_string() }).await?;
    json_plain(&true)
}

/// `GET /v1/acl/role/<id>` or `/v1/acl/role/name/<name>`.
pub async fn role_read(
    agent: &Agent,
    id: Option<&str>,
    name: Option<&str>,
    q: &Query,
) -> Result<Response, ApiError> {
    enabled(agent)?;
    if let Some(id) = id
        && !is_uuid(id)
    {
        return Err(not_uuid("role"));
    }
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        let r = match (id, name) {
            (Some(id), _) => s.acl_role(id),
            (None, Some(n)) => s.acl_role_by_name(n),
            (None, None) => None,
        }
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "ACL role not found"))?;
        Ok((StatusCode::OK, to_json(&role_out(s, r))?))
    })
    .await
}

/// `GET /v1/acl/roles` (`?policy=`).
pub async fn role_list(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    enabled(agent)?;
    let policy = q.get("policy").unwrap_or_default().to_string();
    read(agent, q, Watch::Tables(ACL_TABLES), |s| {
        let list: Vec<RoleOut> = s
            .acl_roles()
            .filter(|r| policy.is_empty() || r.policies.contains(&policy))
            .map(|r| role_out(s, r))
            .collect();
        Ok((StatusCode::OK, to_json(&list)?))
    })
    .await
}

// ---- what a token may do ----

/// `POST /v1/internal/acl/authorize`: each asked `{Resource, Segment, Access}` answered
/// with `Allow`, for the caller's own token (everything allowed with ACLs off), as
/// Consul's UI asks before it offers an action. At most 64 checks a call.
pub fn authorize(q: &Query, body: &Bytes) -> Result<Response, ApiError> {
    let v: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| err400(format!("Request decode failed: {e}")))?;
    let list = v
        .as_array()
        .ok_or_else(|| err400("Request decode failed: expected a list of checks"))?;
    if list.len() > 64 {
        return Err(err400("Refusing to authorize more than 64 checks"));
    }
    let mut out = Vec::with_capacity(list.len());
    for item in list {
        let field = |name: &str| {
            item.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
                .and_then(|(_, v)| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let (resource, segment, access) = (field("Resource"), field("Segment"), field("Access"));
        let kind = acl::Resource::ALL
            .into_iter()
            .find(|r| r.as_str() == resource)
            .ok_or_else(|| err400(format!("Invalid resource {resource:?}")))?;
        let level = match access.as_str() {
            "read" => acl::Level::Read,
            "list" => acl::Level::List,
            "write" => acl::Level::Write,
            other => return Err(err400(format!("Invalid access level {other:?}"))),
        };
        let allow = q.authz.allows(kind, &segment, level);
        out.push(serde_json::json!({"Resource": resource, "Segment": segment,
                                    "Access": access, "Allow": allow}));
    }
    json_plain(&out)
}

// ---- the agent's own tokens ----

/// `PUT /v1/agent/token/<type>`: replace one of the agent's tokens (persisted with
/// `acl.enable_token_persistence`).
pub async fn agent_token(agent: &Agent, kind: &str, body: &Bytes) -> Result<Response, ApiError> {
    enabled(agent)?;
    let t: AgentTokenIn = decode(&AGENT_TOKEN_SCHEMA, body)?;
    let value = (!t.token.is_empty()).then_some(t.token);
    let known = matches!(
        kind,
        "default"
            | "acl_token"
            | "agent"
            | "acl_agent_token"
            | "agent_recovery"
            | "agent_master"
            | "acl_agent_master_token"
            | "replication"
            | "acl_replication_token"
            | "config_file_service_registration"
    );
    if !known {
        return Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("Token {kind:?} is unknown"),
        ));
    }
    agent.acl.set_agent_token(|tokens| {
        let slot = match kind {
            "default" | "acl_token" => &mut tokens.default,
            "agent" | "acl_agent_token" => &mut tokens.agent,
            "agent_recovery" | "agent_master" | "acl_agent_master_token" => {
                &mut tokens.agent_recovery
            }
            "replication" | "acl_replication_token" => &mut tokens.replication,
            _ => &mut tokens.config_file_service_registration,
        };
        *slot = value;
    });
    agent.persist_agent_tokens().map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("Failed to persist tokens - {e}"),
        )
    })?;
    Ok(empty())
}

/// Used by tests of the secret-hiding rule.
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_as_rfc3339() {
        let ns = 1_700_000_000_123_456_789;
        let s = rfc3339(ns);
        assert!(s.ends_with('Z'), "{s}");
        assert_eq!(parse_rfc3339(&s), Some(ns));
    }

    #[test]
    fn ids_must_be_uuids_and_not_reserved() {
        assert!(check_chosen_id("AccessorID", "").is_ok());
        assert!(check_chosen_id("AccessorID", "not-a-uuid").is_err());
        assert!(check_chosen_id("AccessorID", "00000000-0000-0000-0000-000000000005").is_err());
        assert!(check_chosen_id("SecretID", "6A1253B6-5FB8-4A4F-8AB5-7C8C1AFD53A9").is_ok());
    }

    #[test]
    fn policy_names_follow_consul() {
        assert!(valid_policy_name("node-read_1"));
        assert!(!valid_policy_name("a b"));
        assert!(!valid_policy_name(""));
        assert!(!valid_policy_name(&"x".repeat(129)));
    }
}
