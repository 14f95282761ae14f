//! ACL enforcement for the HTTP API: the caller's token, found the way Consul finds it,
//! resolved once per request into an [`Authz`], and the route table's permission
//! (`endpoint/access.rs`) checked before the route runs.
//!
//! What the table can decide alone (a kind as a whole, a name from the path, a KV key, this
//! agent's node, a session or a local service or check by ID) is decided here. Routes whose
//! answer is a list filter it entry by entry ([`Authz::keep`]); routes that name their
//! object in the body check it in their handler ([`Authz::require`]). A list route whose
//! handler has not been taught to filter would still be guarded: [`enforce`] lets an
//! `EachEntry` or `Body` route through only if its handler is listed in [`FILTERS`] or the
//! token may read (or write) every object of the kind.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use arc_swap::ArcSwapOption;

use axum::http::{HeaderMap, StatusCode};

use super::query::Query;
use super::{Access, ApiError, Endpoint, Level, Resource, Subject};
use crate::acl::{self, Authorizer};
use crate::agent::Agent;
use crate::agent::acl::{Identity, ResolveError};

/// The caller's rights for one request.
#[derive(Debug, Default)]
pub struct Authz {
    /// Whether ACLs are enforced for this request.
    enforced: bool,
    /// Who the caller is (empty when not enforced). Swapped when a blocking read finds the
    /// ACL tables changed while it waited, so a revoked right stops at the next wake-up.
    identity: ArcSwapOption<Identity>,
    /// The ACL index `identity` was resolved at (servers; 0 on client agents).
    acl_index: AtomicU64,
    /// The secret the request carried (empty: none). Needed by `token/self` and by the
    /// rule that a token may not delete itself; never logged.
    secret: String,
    /// Something was left out of a list answer.
    filtered: AtomicBool,
}

impl Authz {
    /// Rights of a caller when ACLs are on.
    pub fn new(identity: Arc<Identity>, acl_index: u64, secret: String) -> Self {
        Authz {
            enforced: true,
            identity: ArcSwapOption::from(Some(identity)),
            acl_index: AtomicU64::new(acl_index),
            secret,
            filtered: AtomicBool::new(false),
        }
    }

    /// On a server, resolve the caller again from `store` when the ACL tables changed since
    /// the last resolution (a blocking read between wake-ups); a token deleted meanwhile is
    /// `ACL not found`.
    pub fn refresh(&self, agent: &Agent, store: &crate::state::Store) -> Result<(), ApiError> {
        if !self.enforced || agent.consensus.is_none() {
            return Ok(());
        }
        let index = store.table_index(crate::state::Table::Acl);
        if index == self.acl_index.load(Ordering::Relaxed) {
            return Ok(());
        }
        match agent.resolve_from_store(store, &self.secret) {
            Ok((id, at)) => {
                self.identity.store(Some(id));
                self.acl_index.store(at, Ordering::Relaxed);
                Ok(())
            }
            Err(_) => Err(acl_not_found()),
        }
    }

    /// Only the secret (ACLs off, or a route that resolves the token itself).
    pub fn unresolved(secret: String) -> Self {
        Authz {
            secret,
            ..Default::default()
        }
    }

    /// Whether ACLs are enforced for this request.
    pub fn enforced(&self) -> bool {
        self.enforced
    }

    /// The caller, when ACLs are enforced.
    pub fn identity(&self) -> Option<Arc<Identity>> {
        self.identity.load_full()
    }

    /// The secret the request carried (empty: none).
    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Run `f` on the caller's authorizer (`None` when not enforced).
    fn with_authorizer<T>(&self, f: impl FnOnce(Option<&Authorizer>) -> T) -> T {
        let guard = self.identity.load();
        f(guard.as_deref().map(|i| &i.authorizer))
    }

    /// Whether the caller may do `level` on `name` of `resource`.
    pub fn allows(&self, resource: acl::Resource, name: &str, level: acl::Level) -> bool {
        self.with_authorizer(|a| a.is_none_or(|a| a.allows(resource, name, level)))
    }

    /// As [`Authz::allows`], remembering a refusal so the answer can say a list was
    /// filtered.
    pub fn keep(&self, resource: acl::Resource, name: &str) -> bool {
        let ok = self.allows(resource, name, acl::Level::Read);
        if !ok {
            self.filtered.store(true, Ordering::Relaxed);
        }
        ok
    }

    /// Whether the caller may read both the node and the service (an instance in a list).
    pub fn keep_instance(&self, node: &str, service: &str) -> bool {
        self.keep(acl::Resource::Node, node) && self.keep(acl::Resource::Service, service)
    }

    /// A check in a list: its node's rights, and its service's for a service check.
    pub fn keep_check(&self, node: &str, service_name: &str) -> bool {
        self.keep(acl::Resource::Node, node)
            && (service_name.is_empty() || self.keep(acl::Resource::Service, service_name))
    }

    /// Whether something was left out of a list because of the caller's rights.
    pub fn filtered(&self) -> bool {
        self.filtered.load(Ordering::Relaxed)
    }

    /// `Ok` when allowed, else Consul's 403.
    pub fn require(
        &self,
        resource: acl::Resource,
        name: &str,
        level: acl::Level,
    ) -> Result<(), ApiError> {
        if self.allows(resource, name, level) {
            return Ok(());
        }
        Err(self.denied(resource, name, level))
    }

    /// A recursive KV delete of `prefix` (CVE-2019-12291: write on every key under it).
    pub fn require_key_write_prefix(&self, prefix: &str) -> Result<(), ApiError> {
        if self.with_authorizer(|a| a.is_none_or(|a| a.key_write_prefix(prefix))) {
            Ok(())
        } else {
            Err(self.denied(acl::Resource::Key, prefix, acl::Level::Write))
        }
    }

    /// Consul's refusal text: `Permission denied: token with AccessorID '<id>' lacks
    /// permission '<kind>:<level>' on "<name>"`.
    pub fn denied(&self, resource: acl::Resource, name: &str, level: acl::Level) -> ApiError {
        let identity = self.identity();
        let accessor = identity.as_ref().map_or("", |i| i.accessor.as_str());
        let kind = resource_name(resource);
        let lvl = match level {
            acl::Level::Read => "read",
            acl::Level::List => "list",
            acl::Level::Write => "write",
        };
        let on = if labelled(resource) {
            format!(" on {name:?}")
        } else {
            String::new()
        };
        ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "Permission denied: token with AccessorID '{accessor}' lacks permission '{kind}:{lvl}'{on}"
            ),
        )
    }
}

/// Consul's 403 for a secret that names no live token.
pub fn acl_not_found() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN, "ACL not found")
}

fn resource_name(r: acl::Resource) -> &'static str {
    use acl::Resource as R;
    match r {
        R::Acl => "acl",
        R::Agent => "agent",
        R::Event => "event",
        R::Key => "key",
        R::Keyring => "keyring",
        R::Mesh => "mesh",
        R::Node => "node",
        R::Operator => "operator",
        R::Peering => "peering",
        R::Query => "query",
        R::Service => "service",
        R::Session => "session",
    }
}

fn labelled(r: acl::Resource) -> bool {
    use acl::Resource as R;
    !matches!(r, R::Acl | R::Keyring | R::Operator | R::Mesh | R::Peering)
}

/// The ACL kind of a route's resource (`None`: the route needs no permission).
pub fn acl_resource(r: Resource) -> Option<acl::Resource> {
    Some(match r {
        Resource::None => return None,
        Resource::Key => acl::Resource::Key,
        Resource::Service => acl::Resource::Service,
        Resource::Node => acl::Resource::Node,
        Resource::Agent => acl::Resource::Agent,
        Resource::Operator => acl::Resource::Operator,
        Resource::Session => acl::Resource::Session,
        Resource::Event => acl::Resource::Event,
        Resource::Query => acl::Resource::Query,
        Resource::Acl => acl::Resource::Acl,
        Resource::Keyring => acl::Resource::Keyring,
    })
}

fn acl_level(l: Level) -> acl::Level {
    match l {
        Level::Read => acl::Level::Read,
        Level::Write => acl::Level::Write,
    }
}

/// The token a request carries, in Consul's order: `?token=`, then `X-Consul-Token`, then
/// `Authorization: Bearer` (any other scheme is ignored). Empty when none.
pub fn request_token(headers: &HeaderMap, q: &Query) -> String {
    if let Some(t) = q.get("token").filter(|t| !t.is_empty()) {
        return t.to_string();
    }
    if let Some(t) = headers
        .get("x-consul-token")
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        return t.to_string();
    }
    if let Some(v) = headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        && let Some((scheme, t)) = v.trim().split_once(' ')
        && scheme.eq_ignore_ascii_case("bearer")
        && !t.trim().is_empty()
    {
        return t.trim().to_string();
    }
    String::new()
}

/// The routes whose handlers filter their lists or check their bodies themselves; any
/// other `EachEntry`/`Body` route is let through only with rights over the whole kind.
pub const FILTERS: &[&str] = &[
    "KvGet",
    "CatalogNodes",
    "CatalogServices",
    "CatalogService",
    "CatalogConnect",
    "CatalogNode",
    "HealthService",
    "HealthConnect",
    "HealthIngress",
    "HealthChecks",
    "HealthNode",
    "HealthState",
    "UiServices",
    "UiNodes",
    "UiNode",
    "AgentMembers",
    "AgentServices",
    "AgentChecks",
    "AgentServiceRegister",
    "AgentCheckRegister",
    "CatalogRegister",
    "CatalogDeregister",
    "SessionCreate",
    "SessionList",
    "QueryList",
    "QueryCreate",
    "QueryUpdate",
    "QueryDelete",
    "QueryRead",
    "QueryExplain",
    "QueryExecute",
    "EventList",
    "Txn",
];

/// Resolve the caller of a route that needs a permission. `Ok(None)` when ACLs are off
/// or the route needs none.
pub async fn resolve(agent: &Agent, ep: &Endpoint<'_>, secret: String) -> Result<Authz, ApiError> {
    if !agent.cfg.acl.enabled {
        return Ok(Authz::unresolved(secret));
    }
    let needs = ep.access().resource != Resource::None
        || matches!(ep, Endpoint::AclTokenSelf | Endpoint::AclAuthorize);
    if !needs {
        return Ok(Authz::unresolved(secret));
    }
    resolve_secret(agent, secret).await
}

/// Resolve `secret` as the caller (ACLs on): a request's token, or the token a prepared
/// query runs with.
pub async fn resolve_secret(agent: &Agent, secret: String) -> Result<Authz, ApiError> {
    match agent.resolve_token(&secret).await {
        Ok((id, index)) => Ok(Authz::new(id, index, secret)),
        Err(ResolveError::NotFound) => Err(acl_not_found()),
        Err(ResolveError::Unavailable(e)) => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ACL not found: could not resolve the token ({e})"),
        )),
    }
}

/// Check the route table's permission before the route runs.
pub fn enforce(agent: &Agent, ep: &Endpoint<'_>, q: &Query, authz: &Authz) -> Result<(), ApiError> {
    if !authz.enforced() {
        return Ok(());
    }
    let Access {
        resource,
        level,
        subject,
    } = ep.access();
    let Some(kind) = acl_resource(resource) else {
        return Ok(());
    };
    let level = acl_level(level);
    match subject {
        Subject::Any => authz.require(kind, "", level),
        Subject::Name(n) => authz.require(kind, n, level),
        Subject::AgentNode => authz.require(kind, agent.node_name(), level),
        Subject::KeyOrPrefix(k) => {
            let whole = q.has("recurse") || q.has("keys");
            match (level, whole) {
                (acl::Level::Write, true) => authz.require_key_write_prefix(k),
                (acl::Level::Write, false) => authz.require(kind, k, level),
                (_, true) if agent.cfg.acl.enable_key_list_policy => {
                    authz.require(kind, k, acl::Level::List)
                }
                // A recursive read filters entry by entry in its handler.
                (_, true) => Ok(()),
                (_, false) => authz.require(kind, k, level),
            }
        }
        Subject::ById(id) => {
            let owner = match resource {
                Resource::Session => agent
                    .store
                    .read()
                    .session(id)
                    .map(|s| (kind, s.node.to_string())),
                _ => agent.local_owner(id).map(|(is_node, name)| {
                    (if is_node { acl::Resource::Node } else { kind }, name)
                }),
            };
            match owner {
                // Unknown IDs get the route's own 404 (or empty answer).
                None => Ok(()),
                Some((kind, name)) => authz.require(kind, &name, level),
            }
        }
        Subject::EachEntry | Subject::Body => {
            if FILTERS.contains(&ep.name()) {
                return Ok(());
            }
            if authz.with_authorizer(|a| a.is_some_and(|a| !a.allows_all(kind, level))) {
                return Err(authz.denied(kind, "", level));
            }
            Ok(())
        }
    }
}
