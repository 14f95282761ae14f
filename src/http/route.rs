//! `route`: one `match` from an [`Endpoint`] to its handler.

use std::sync::Arc;

use axum::body::Bytes;
use axum::response::Response;

use super::query::Query;
use super::respond;
use super::{ApiError, Endpoint, agent, agent_self, catalog, health, kv, metrics};
use super::{event, operator, session, status, txn, ui};
use crate::agent::Agent;
use crate::state::status as check_status;

/// Run a parsed call on this agent.
pub async fn route(
    agent: &Arc<Agent>,
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
        E::RaftConfiguration => operator::raft_configuration(agent, q),
        E::RaftTransferLeader => operator::transfer_leader(agent, q).await,
        E::RaftPeer => operator::remove_peer(agent, q).await,
        E::AutopilotHealth => operator::autopilot_health(agent),
        E::AutopilotConfiguration => operator::autopilot_configuration(agent),
        E::AgentSelf => respond::json_plain(&agent_self::self_json(agent)),
        E::AgentMembers => respond::json_plain(&agent_self::members_json(agent, q)),
        E::AgentServices => agent::services(agent),
        E::AgentChecks => agent::checks(agent),
        E::AgentServiceRegister => agent::register_service(agent, q, &body).await,
        E::AgentCheckRegister => agent::register_check(agent, &body).await,
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
        E::AgentToken => Err(agent::acl_disabled()),
        E::AgentJoin { address } => agent::join(agent, address, q).await,
        E::AgentForceLeave { node } => agent::force_leave(agent, node, q).await,
        E::SessionCreate => session::create(agent, q, body).await,
        E::SessionDestroy { id } => session::destroy(agent, id, q).await,
        E::SessionRenew { id } => session::renew(agent, id, q).await,
        E::SessionInfo { id } => session::info(agent, id, q).await,
        E::SessionNode { node } => session::node(agent, node, q).await,
        E::SessionList => session::list(agent, q).await,
        E::Txn => txn::txn(agent, q, body).await,
        E::EventFire { name } => event::fire(agent, name, q, body).await,
        E::EventList => event::list(agent, q).await,
        E::StatusLeader => status::leader(agent),
        E::StatusPeers => status::peers(agent),
        E::Root => Ok(ui::root()),
        E::Ui => Ok(ui::web_ui()),
        E::Options(methods) => Ok(respond::options(methods.allow_header())),
    }
}
