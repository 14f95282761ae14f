//! `Endpoint::parse`: the one place a path becomes a route.
//!
//! The order of the checks is Consul's: an unknown path is a 404, a known one with another
//! method a 405 naming the route's methods (OPTIONS a 200 naming them). Under
//! `/v1/catalog/` (reads) and `/v1/health/` the method is checked before the rest of the
//! path, so a `PUT` there is a 405 even where the name is missing or the path unknown.
//! The web UI's routes depend on its configured content path, given by the caller.

use axum::http::{Method, StatusCode};

use super::{Endpoint, Methods};
use crate::http::ApiError;

/// Why parsing stopped before naming a route.
enum Stop {
    /// OPTIONS: answered with the methods of what was matched so far.
    Options(Methods),
    /// A 400, 404 or 405.
    Error(ApiError),
}

impl From<ApiError> for Stop {
    fn from(e: ApiError) -> Self {
        Stop::Error(e)
    }
}

/// The 404 of a path that names no route.
pub(crate) fn not_found() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Invalid URL path: not a recognized HTTP API endpoint",
    )
}

/// The 404 of a path outside `/v1/` that is not the web UI (Consul's wording).
pub(crate) fn not_api() -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'",
    )
}

/// Pass `method` if `allowed` takes it; otherwise OPTIONS or a 405.
fn gate(method: &Method, allowed: Methods) -> Result<(), Stop> {
    if allowed.allows(method) {
        Ok(())
    } else if method == Method::OPTIONS {
        Err(Stop::Options(allowed))
    } else {
        Err(Stop::Error(ApiError::method(
            method.as_str(),
            allowed.allow_header(),
        )))
    }
}

/// The name after `prefix`, if `rest` starts with it; an empty name is a 400 `missing`.
fn named<'a>(rest: &'a str, prefix: &str, missing: &str) -> Result<Option<&'a str>, Stop> {
    match rest.strip_prefix(prefix) {
        None => Ok(None),
        Some("") => Err(Stop::Error(ApiError::bad(missing))),
        Some(n) => Ok(Some(n)),
    }
}

/// The read, update or delete of one object, by `method` (any other method gets the read,
/// whose method check then answers 405 or OPTIONS).
fn by_method<'a>(
    method: &Method,
    read: Endpoint<'a>,
    update: Endpoint<'a>,
    delete: Endpoint<'a>,
) -> Endpoint<'a> {
    match *method {
        Method::PUT => update,
        Method::DELETE => delete,
        _ => read,
    }
}

impl<'a> Endpoint<'a> {
    /// The route of `method` on the percent-decoded `path`, or the 400/404/405 answer.
    /// `ui` is the web UI's content path (`/ui/`), `None` when the UI is off. Called once
    /// per request, before forwarding is decided.
    pub fn parse(
        method: &Method,
        path: &'a str,
        ui: Option<&str>,
    ) -> Result<Endpoint<'a>, ApiError> {
        match Self::route(method, path, ui) {
            Ok(e) => Ok(e),
            Err(Stop::Options(m)) => Ok(Endpoint::Options(m)),
            Err(Stop::Error(e)) => Err(e),
        }
    }

    /// This route, if it takes `method`.
    fn checked(self, method: &Method) -> Result<Self, Stop> {
        gate(method, self.methods())?;
        Ok(self)
    }

    fn route(method: &Method, path: &'a str, ui: Option<&str>) -> Result<Self, Stop> {
        use Endpoint as E;
        if let Some(key) = path
            .strip_prefix("/v1/kv/")
            .or_else(|| (path == "/v1/kv").then_some(""))
        {
            gate(method, Methods::GetPutDelete)?;
            return Ok(match *method {
                Method::PUT => E::KvPut { key },
                Method::DELETE => E::KvDelete { key },
                _ => E::KvGet { key },
            });
        }
        if let Some(rest) = path.strip_prefix("/v1/catalog/") {
            return Self::catalog(method, rest);
        }
        if let Some(rest) = path.strip_prefix("/v1/health/") {
            gate(method, Methods::Get)?;
            return Self::health(rest);
        }
        if path == "/v1/operator/keyring" {
            gate(method, Methods::GetPostPutDelete)?;
            return Ok(match *method {
                Method::POST => E::KeyringInstall,
                Method::PUT => E::KeyringUse,
                Method::DELETE => E::KeyringRemove,
                _ => E::KeyringList,
            });
        }
        if let Some(rest) = path.strip_prefix("/v1/operator/") {
            let e = match rest {
                "raft/configuration" => E::RaftConfiguration,
                "raft/transfer-leader" => E::RaftTransferLeader,
                "raft/peer" => E::RaftPeer,
                "autopilot/health" => E::AutopilotHealth,
                "autopilot/configuration" => E::AutopilotConfiguration,
                _ => return Err(not_found().into()),
            };
            return e.checked(method);
        }
        if let Some(rest) = path.strip_prefix("/v1/agent/") {
            return Self::agent(rest).ok_or(not_found())?.checked(method);
        }
        if path == "/v1/query" {
            gate(method, Methods::GetPost)?;
            return Ok(if *method == Method::POST {
                E::QueryCreate
            } else {
                E::QueryList
            });
        }
        if let Some(rest) = path.strip_prefix("/v1/query/") {
            if rest.is_empty() {
                return Err(Stop::Error(ApiError::bad("Missing query ID")));
            }
            let e = if let Some(id) = rest.strip_suffix("/execute").filter(|i| !i.is_empty()) {
                E::QueryExecute { id }
            } else if let Some(id) = rest.strip_suffix("/explain").filter(|i| !i.is_empty()) {
                E::QueryExplain { id }
            } else {
                by_method(
                    method,
                    E::QueryRead { id: rest },
                    E::QueryUpdate { id: rest },
                    E::QueryDelete { id: rest },
                )
            };
            return e.checked(method);
        }
        if let Some(rest) = path.strip_prefix("/v1/session/") {
            return Self::session(rest)?.checked(method);
        }
        if let Some(rest) = path.strip_prefix("/v1/acl/") {
            return Self::acl(method, rest)?.checked(method);
        }
        if let Some(rest) = path.strip_prefix("/v1/event/") {
            let e = match rest {
                "list" => E::EventList,
                _ => match named(rest, "fire/", "Missing name")? {
                    Some(name) => E::EventFire { name },
                    None => return Err(not_found().into()),
                },
            };
            return e.checked(method);
        }
        if let Some(rest) = path.strip_prefix("/v1/internal/") {
            return Self::internal(rest)?.checked(method);
        }
        if let Some(mount) = ui {
            if let Some(file) = path.strip_prefix(mount) {
                return E::Ui { file }.checked(method);
            }
            if mount.strip_suffix('/') == Some(path) {
                return E::UiRedirect.checked(method);
            }
        }
        let e = match path {
            "/v1/txn" => E::Txn,
            "/v1/status/leader" => E::StatusLeader,
            "/v1/status/peers" => E::StatusPeers,
            "/" => E::Root,
            p if p.contains("/v1/") => return Err(not_found().into()),
            _ => return Err(not_api().into()),
        };
        e.checked(method)
    }

    /// `/v1/internal/<rest>`: what UIs read.
    fn internal(rest: &'a str) -> Result<Self, Stop> {
        use Endpoint as E;
        Ok(match rest {
            "ui/services" => E::UiServices,
            "ui/nodes" => E::UiNodes,
            "acl/authorize" => E::AclAuthorize,
            _ => match named(rest, "ui/node/", "Missing node name")? {
                Some(node) => E::UiNode { node },
                None => return Err(not_found().into()),
            },
        })
    }

    /// `/v1/catalog/<rest>`: the two writes, then (GET only) the reads.
    fn catalog(method: &Method, rest: &'a str) -> Result<Self, Stop> {
        use Endpoint as E;
        match rest {
            "register" => return E::CatalogRegister.checked(method),
            "deregister" => return E::CatalogDeregister.checked(method),
            _ => {}
        }
        gate(method, Methods::Get)?;
        Ok(match rest {
            "datacenters" => E::CatalogDatacenters,
            "nodes" => E::CatalogNodes,
            "services" => E::CatalogServices,
            _ => {
                if let Some(name) = named(rest, "service/", "Missing service name")? {
                    E::CatalogService { name }
                } else if let Some(name) = rest.strip_prefix("connect/") {
                    E::CatalogConnect { name }
                } else if let Some(node) = named(rest, "node/", "Missing node name")? {
                    E::CatalogNode { node }
                } else {
                    return Err(not_found().into());
                }
            }
        })
    }

    /// `/v1/session/<rest>`.
    fn session(rest: &'a str) -> Result<Self, Stop> {
        use Endpoint as E;
        Ok(match rest {
            "create" => E::SessionCreate,
            "list" => E::SessionList,
            _ => {
                if let Some(id) = named(rest, "destroy/", "Missing session")? {
                    E::SessionDestroy { id }
                } else if let Some(id) = named(rest, "renew/", "Missing session")? {
                    E::SessionRenew { id }
                } else if let Some(id) = named(rest, "info/", "Missing session")? {
                    E::SessionInfo { id }
                } else if let Some(node) = named(rest, "node/", "Missing node name")? {
                    E::SessionNode { node }
                } else {
                    return Err(not_found().into());
                }
            }
        })
    }

    /// `/v1/acl/<rest>`; a token, policy or role by ID is a read, an update or a delete
    /// by the method, as a KV key is.
    fn acl(method: &Method, rest: &'a str) -> Result<Self, Stop> {
        use Endpoint as E;
        Ok(match rest {
            "bootstrap" => E::AclBootstrap,
            "replication" => E::AclReplication,
            "token" => E::AclTokenCreate,
            "token/self" => E::AclTokenSelf,
            "tokens" => E::AclTokens,
            "policy" => E::AclPolicyCreate,
            "policies" => E::AclPolicies,
            "role" => E::AclRoleCreate,
            "roles" => E::AclRoles,
            "login" => E::AclLogin,
            "logout" => E::AclLogout,
            _ => {
                if let Some(name) = named(rest, "policy/name/", "Missing policy Name")? {
                    E::AclPolicyByName { name }
                } else if let Some(id) = named(rest, "policy/", "Missing policy ID")? {
                    by_method(
                        method,
                        E::AclPolicyRead { id },
                        E::AclPolicyUpdate { id },
                        E::AclPolicyDelete { id },
                    )
                } else if let Some(name) = named(rest, "role/name/", "Missing role Name")? {
                    E::AclRoleByName { name }
                } else if let Some(id) = named(rest, "role/", "Missing role ID")? {
                    by_method(
                        method,
                        E::AclRoleRead { id },
                        E::AclRoleUpdate { id },
                        E::AclRoleDelete { id },
                    )
                } else if let Some(id) = named(rest, "token/", "Missing token ID")? {
                    match id.strip_suffix("/clone") {
                        Some(id) if !id.is_empty() => E::AclTokenClone { id },
                        _ => by_method(
                            method,
                            E::AclTokenRead { id },
                            E::AclTokenUpdate { id },
                            E::AclTokenDelete { id },
                        ),
                    }
                } else {
                    return Err(not_found().into());
                }
            }
        })
    }

    /// `/v1/health/<rest>` (the method is already checked).
    fn health(rest: &'a str) -> Result<Self, Stop> {
        use Endpoint as E;
        Ok(
            if let Some(name) = named(rest, "service/", "Missing service name")? {
                E::HealthService { name }
            } else if let Some(service) = named(rest, "checks/", "Missing service name")? {
                E::HealthChecks { service }
            } else if let Some(node) = named(rest, "node/", "Missing node name")? {
                E::HealthNode { node }
            } else if let Some(state) = named(rest, "state/", "Missing check state")? {
                E::HealthState { state }
            } else if let Some(name) = rest.strip_prefix("connect/") {
                E::HealthConnect { name }
            } else if let Some(name) = rest.strip_prefix("ingress/") {
                E::HealthIngress { name }
            } else {
                return Err(not_found().into());
            },
        )
    }

    /// `/v1/agent/<rest>`: exact names first, then the prefixes in Consul's order (so
    /// `service/register` is the registration and `service/<id>` everything else).
    fn agent(rest: &'a str) -> Option<Self> {
        use Endpoint as E;
        let exact = match rest {
            "self" => Some(E::AgentSelf),
            "members" => Some(E::AgentMembers),
            "services" => Some(E::AgentServices),
            "checks" => Some(E::AgentChecks),
            "service/register" => Some(E::AgentServiceRegister),
            "check/register" => Some(E::AgentCheckRegister),
            "metrics" => Some(E::AgentMetrics),
            "leave" => Some(E::AgentLeave),
            "reload" => Some(E::AgentReload),
            "maintenance" => Some(E::AgentMaintenance),
            _ => None,
        };
        if exact.is_some() {
            return exact;
        }
        let after = |prefix: &str| rest.strip_prefix(prefix);
        if let Some(id) = after("service/deregister/") {
            Some(E::AgentServiceDeregister { id })
        } else if let Some(id) = after("service/maintenance/") {
            Some(E::AgentServiceMaintenance { id })
        } else if let Some(id) = after("check/deregister/") {
            Some(E::AgentCheckDeregister { id })
        } else if let Some(id) = after("check/pass/") {
            Some(E::AgentCheckPass { id })
        } else if let Some(id) = after("check/warn/") {
            Some(E::AgentCheckWarn { id })
        } else if let Some(id) = after("check/fail/") {
            Some(E::AgentCheckFail { id })
        } else if let Some(id) = after("check/update/") {
            Some(E::AgentCheckUpdate { id })
        } else if let Some(id) = after("service/") {
            Some(E::AgentService { id })
        } else if let Some(id) = after("health/service/id/") {
            Some(E::AgentHealthById { id })
        } else if let Some(name) = after("health/service/name/") {
            Some(E::AgentHealthByName { name })
        } else if let Some(kind) = after("token/") {
            Some(E::AgentToken { kind })
        } else if let Some(address) = after("join/") {
            Some(E::AgentJoin { address })
        } else {
            after("force-leave/").map(|node| E::AgentForceLeave { node })
        }
    }
}
