//! `route`: one `match` from an [`Endpoint`] to its handler.

use std::sync::Arc;

use axum::body::Bytes;
use axum::response::Response;

use super::query::Query;
use super::respond;
use super::{ApiError, Endpoint, agent, agent_self, catalog, health, kv, metrics};
use super::{acl, event, keyring, operator, prepared, session, status, txn, ui};
use crate::agent::Agent;
use crate::gossip::KeyOp;
use crate::state::status as check_status;

/// Run a parsed call on this agent; `site` is its web UI.
pub async fn route(
    agent: &Arc<Agent>,
    site: &ui::Site,
    endpoint: Endpoint<'_>,
    q: &Query,
    body: Bytes,
) -> Result<Response, ApiError> {
    use Endpoint as E;
    match endpoint {
        E::KvGet { key } => kv::get(agent, key, q).await,
        E::KvPut { key } => kv::put(agent, key, q, body).await,
        E::KvDelete { key } => kv::delete(agent, key, q).await,
        E::CatalogRegister => catalog::register(agent, q, &body).await,
        E::CatalogDeregister => catalog::deregister(agent, q, &body).await,
        E::CatalogDatacenters => catalog::datacenters(agent),
        E::CatalogNodes => catalog::nodes(agent, q).await,
        E::CatalogServices => catalog::services(agent, q).await,
        E::CatalogService { name } => catalog::service(agent, name, q).await,
        E::CatalogNode { node } => catalog::node(agent, node, q).await,
        E::CatalogConnect { .. } | E::HealthConnect { .. } | E::HealthIngress { .. } => {
            catalog::mesh_empty(agent, q).await
        }
        E::HealthService { name } => health::service(agent, name, q).await,
        E::HealthChecks { service } => health::service_checks(agent, service, q).await,
        E::HealthNode { node } => health::node_checks(agent, node, q).await,
        E::HealthState { state } => health::checks_in_state(agent, state, q).await,
        E::UiServices => ui::services(agent, q).await,
        E::UiNodes => ui::nodes(agent, q).await,
        E::UiNode { node } => ui::node(agent, node, q).await,
        E::AclAuthorize => acl::authorize(q, &body),
        E::RaftConfiguration => operator::raft_configuration(agent, q),
        E::RaftTransferLeader => operator::transfer_leader(agent, q).await,
        E::RaftPeer => operator::remove_peer(agent, q).await,
        E::AutopilotHealth => operator::autopilot_health(agent),
        E::AutopilotConfiguration => operator::autopilot_configuration(agent),
        E::KeyringList => keyring::keyring(agent, q, KeyOp::List, &body).await,
        E::KeyringInstall => keyring::keyring(agent, q, KeyOp::Install, &body).await,
        E::KeyringUse => keyring::keyring(agent, q, KeyOp::Use, &body).await,
        E::KeyringRemove => keyring::keyring(agent, q, KeyOp::Remove, &body).await,
        E::AgentSelf => respond::json_plain(&agent_self::self_json(agent)),
        E::AgentMembers => agent_self::members(agent, q),
        E::AgentServices => agent::services(agent, q),
        E::AgentChecks => agent::checks(agent, q),
        E::AgentServiceRegister => agent::register_service(agent, q, &body).await,
        E::AgentCheckRegister => agent::register_check(agent, q, &body).await,
        E::AgentMetrics => metrics::metrics(agent, q),
        E::AgentLeave => agent::leave(agent).await,
        E::AgentReload => agent::reload(agent).await,
        E::AgentMaintenance => agent::node_maintenance(agent, q).await,
        E::AgentServiceDeregister { id } => agent::deregister_service(agent, id).await,
        E::AgentServiceMaintenance { id } => agent::service_maintenance(agent, id, q).await,
        E::AgentCheckDeregister { id } => agent::deregister_check(agent, id).await,
        E::AgentCheckPass { id } => agent::ttl(agent, id, check_status::PASSING, q).await,
        E::AgentCheckWarn { id } => agent::ttl(agent, id, check_status::WARNING, q).await,
        E::AgentCheckFail { id } => agent::ttl(agent, id, check_status::CRITICAL, q).await,
        E::AgentCheckUpdate { id } => agent::update_check(agent, id, &body).await,
        E::AgentService { id } => agent::service(agent, id),
        E::AgentHealthById { id } => agent::service_health(agent, id, true, q),
        E::AgentHealthByName { name } => agent::service_health(agent, name, false, q),
        E::AgentToken { kind } => acl::agent_token(agent, kind, &body).await,
        E::AgentJoin { address } => agent::join(agent, address, q).await,
        E::AgentForceLeave { node } => agent::force_leave(agent, node, q).await,
        E::SessionCreate => session::create(agent, q, body).await,
        E::SessionDestroy { id } => session::destroy(agent, id, q).await,
        E::SessionRenew { id } => session::renew(agent, id, q).await,
        E::SessionInfo { id } => session::info(agent, id, q).await,
        E::SessionNode { node } => session::node(agent, node, q).await,
        E::SessionList => session::list(agent, q).await,
        E::QueryList => prepared::list(agent, q).await,
        E::QueryCreate => prepared::create(agent, q, &body).await,
        E::QueryRead { id } => prepared::get(agent, id, q).await,
        E::QueryUpdate { id } => prepared::update(agent, id, q, &body).await,
        E::QueryDelete { id } => prepared::delete(agent, id, q).await,
        E::QueryExecute { id } => prepared::execute(agent, id, q).await,
        E::QueryExplain { id } => prepared::explain(agent, id, q).await,
        E::Txn => txn::txn(agent, q, body).await,
        E::EventFire { name } => event::fire(agent, name, q, body).await,
        E::EventList => event::list(agent, q).await,
        E::AclBootstrap => acl::bootstrap(agent, &body).await,
        E::AclReplication => acl::replication(agent),
        E::AclTokenCreate => acl::token_create(agent, &body).await,
        E::AclTokenSelf => acl::token_self(agent, q).await,
        E::AclTokenRead { id } => acl::token_read(agent, id, q).await,
        E::AclTokenUpdate { id } => acl::token_update(agent, id, &body).await,
        E::AclTokenDelete { id } => acl::token_delete(agent, id, q).await,
        E::AclTokenClone { id } => acl::token_clone(agent, id, q, &body).await,
        E::AclTokens => acl::token_list(agent, q).await,
        E::AclPolicyCreate => acl::policy_create(agent, &body).await,
        E::AclPolicyRead { id } => acl::policy_read(agent, Some(id), None, q).await,
        E::AclPolicyUpdate { id } => acl::policy_update(agent, id, &body).await,
        E::AclPolicyDelete { id } => acl::policy_delete(agent, id).await,
        E::AclPolicyByName { name } => acl::policy_read(agent, None, Some(name), q).await,
        E::AclPolicies => acl::policy_list(agent, q).await,
        E::AclRoleCreate => acl::role_create(agent, &body).await,
        E::AclRoleRead { id } => acl::role_read(agent, Some(id), None, q).await,
        E::AclRoleUpdate { id } => acl::role_update(agent, id, &body).await,
        E::AclRoleDelete { id } => acl::role_delete(agent, id).await,
        E::AclRoleByName { name } => acl::role_read(agent, None, Some(name), q).await,
        E::AclRoles => acl::role_list(agent, q).await,
        E::AclLogin => acl::login(agent),
        E::AclLogout => acl::logout(agent),
        E::StatusLeader => status::leader(agent),
        E::StatusPeers => status::peers(agent),
        E::Root => Ok(ui::root(site)),
        E::UiRedirect => Ok(ui::redirect(site)),
        E::Ui { file } => Ok(ui::page(site, file).await),
        E::Options(methods) => Ok(respond::options(methods.allow_header())),
    }
}
