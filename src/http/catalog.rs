//! `/v1/catalog/...`: the replicated catalog's registrations and reads.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::blocking::{read, to_json};
use super::convert::*;
use super::query::{Query, filter_error};
use super::respond::json_plain;
use crate::acl;
use crate::agent::Agent;
use crate::api::decode::decode;
use crate::api::input::{
    CatalogCheckIn, CatalogServiceIn, DEREGISTER_SCHEMA, DeregisterIn, REGISTER_SCHEMA, RegisterIn,
};
use crate::state::{
    Check, CheckDefinition, Command, Name, Node, Service, Table, Watch, Weights, status,
};

/// `GET /v1/catalog/datacenters`: every datacenter with a server in the WAN pool, nearest
/// first (`Agent::datacenters`).
pub fn datacenters(agent: &Agent) -> Result<Response, ApiError> {
    json_plain(&agent.datacenters())
}

/// `GET /v1/catalog/nodes`.
pub async fn nodes(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    read(agent, q, Watch::Tables(&[Table::Nodes]), |s| {
        let mut nodes: Vec<_> = s
            .nodes()
            .into_iter()
            .filter(|n| q.authz.keep(acl::Resource::Node, &n.node))
            .map(node_out)
            .collect();
        if let Some(f) = &filter {
            f.retain(&mut nodes).map_err(filter_error)?;
        }
        Ok((StatusCode::OK, to_json(&nodes)?))
    })
    .await
}

/// `GET /v1/catalog/services`: names and their tags. A filter is tested on each
/// instance (a `catalog/service` row), and only the instances that pass contribute.
pub async fn services(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    read(agent, q, Watch::Tables(&[Table::Services]), |s| {
        if let Some(f) = &filter {
            let mut names: BTreeMap<&str, std::collections::BTreeSet<&str>> = BTreeMap::new();
            for n in s.nodes() {
                for svc in s.node_services(&n.node) {
                    if !q.authz.keep_instance(&n.node, &svc.service)
                        || !f.matches(&service_node_out(n, svc)).map_err(filter_error)?
                    {
                        continue;
                    }
                    names
                        .entry(svc.service.as_str())
                        .or_default()
                        .extend(svc.tags.iter().map(String::as_str));
                }
            }
            return Ok((StatusCode::OK, to_json(&names)?));
        }
        let mut names = s.service_names();
        if q.authz.enforced() {
            names.retain(|name, _| q.authz.keep(acl::Resource::Service, name));
        }
        Ok((StatusCode::OK, to_json(&names)?))
    })
    .await
}

/// `GET /v1/catalog/service/<name>` (`?tag`, repeatable).
pub async fn service(agent: &Agent, name: &str, q: &Query) -> Result<Response, ApiError> {
    let tags = q.all("tag");
    let filter = q.filter()?;
    read(agent, q, Watch::Service(name), |s| {
        let mut list: Vec<_> = s
            .service_instances(name, &tags)
            .into_iter()
            .filter(|(n, svc)| q.authz.keep_instance(&n.node, &svc.service))
            .map(|(n, svc)| service_node_out(n, svc))
            .collect();
        if let Some(f) = &filter {
            f.retain(&mut list).map_err(filter_error)?;
        }
        Ok((StatusCode::OK, to_json(&list)?))
    })
    .await
}

/// `GET /v1/catalog/node/<node>`: the node and its services (`null` if unknown).
pub async fn node(agent: &Agent, node: &str, q: &Query) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    read(
        agent,
        q,
        Watch::Tables(&[Table::Nodes, Table::Services]),
        |s| {
            let Some(n) = s
                .node(node)
                .filter(|_| q.authz.keep(acl::Resource::Node, node))
            else {
                return Ok((StatusCode::OK, b"null".to_vec()));
            };
            let mut services: BTreeMap<&str, _> = s
                .node_services(node)
                .into_iter()
                .filter(|svc| q.authz.keep(acl::Resource::Service, &svc.service))
                .map(|svc| (svc.id.as_str(), node_service_out(svc)))
                .collect();
            // The node stays; its services are what the filter selects.
            if let Some(f) = &filter {
                f.retain_values(&mut services).map_err(filter_error)?;
            }
            let out = crate::api::output::NodeServicesOut {
                node: node_out(n),
                services,
            };
            Ok((StatusCode::OK, to_json(&out)?))
        },
    )
    .await
}

/// Mesh endpoints (`catalog/connect`, `health/connect`, `health/ingress`): plain
/// services have no mesh instances, so always `[]`, blocking on the services table.
pub async fn mesh_empty(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    q.filter()?;
    read(agent, q, Watch::Tables(&[Table::Services]), |_| {
        Ok((StatusCode::OK, b"[]".to_vec()))
    })
    .await
}

/// `PUT /v1/catalog/deregister`: a node, one of its services or one of its checks.
pub async fn deregister(agent: &Agent, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    let d: DeregisterIn = decode(&DEREGISTER_SCHEMA, body)?;
    if !d.datacenter.is_empty() && d.datacenter != agent.cfg.datacenter {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No path to datacenter",
        ));
    }
    if d.node.is_empty() {
        return Err(ApiError::bad("Missing node name"));
    }
    if q.authz.enforced() {
        let store = agent.store.read();
        let (kind, name) = if !d.check_id.is_empty() {
            match store.check(&d.node, &d.check_id) {
                Some(c) if !c.service_name.is_empty() => {
                    (acl::Resource::Service, c.service_name.to_string())
                }
                _ => (acl::Resource::Node, d.node.clone()),
            }
        } else if !d.service_id.is_empty() {
            match store.service(&d.node, &d.service_id) {
                Some(svc) => (acl::Resource::Service, svc.service.to_string()),
                None => (acl::Resource::Node, d.node.clone()),
            }
        } else {
            (acl::Resource::Node, d.node.clone())
        };
        drop(store);
        q.authz.require(kind, &name, acl::Level::Write)?;
    }
    let cmd = Command::Deregister {
        node: d.node,
        service_id: (!d.service_id.is_empty()).then_some(d.service_id),
        check_id: (!d.check_id.is_empty()).then_some(d.check_id),
    };
    agent.write_as(cmd, q.authz.secret()).await?;
    json_plain(&true)
}

/// A catalog service as the state stores it (also a transaction's `Service` operation).
pub(crate) fn service_from(node: &str, s: &CatalogServiceIn) -> Result<Service, ApiError> {
    if s.service.is_empty() {
        return Err(ApiError::bad("Must provide service name"));
    }
    Ok(Service {
        node: node.into(),
        id: if s.id.is_empty() {
            s.service.as_str().into()
        } else {
            s.id.as_str().into()
        },
        service: s.service.as_str().into(),
        tags: s.tags.clone().unwrap_or_default().into(),
        address: s.address.clone(),
        tagged_addresses: tagged_in(&s.tagged_addresses),
        meta: s.meta.clone().unwrap_or_default(),
        port: s.port,
        weights: s
            .weights
            .as_ref()
            .map(|w| Weights {
                passing: w.passing,
                warning: w.warning,
            })
            .unwrap_or_default(),
        enable_tag_override: s.enable_tag_override,
        kind: s.kind.clone(),
        create_index: 0,
        modify_index: s.modify_index,
    })
}

/// A catalog check as the state stores it (also a transaction's `Check` operation).
pub(crate) fn check_from(node: &str, c: &CatalogCheckIn) -> Result<Check, ApiError> {
    if !c.status.is_empty() && !status::is_valid(&c.status) {
        return Err(ApiError::bad(format!(
            "Invalid check status: '{}'",
            c.status
        )));
    }
    let id = if c.check_id.is_empty() {
        c.name.clone()
    } else {
        c.check_id.clone()
    };
    if id.is_empty() {
        return Err(ApiError::bad("Missing check ID"));
    }
    Ok(Check {
        node: node.into(),
        check_id: id.into(),
        name: c.name.clone(),
        status: Name::status_or_critical(&c.status),
        notes: c.notes.clone(),
        output: c.output.clone(),
        service_id: c.service_id.as_str().into(),
        check_type: c.r#type.clone(),
        definition: CheckDefinition::default(),
        modify_index: c.modify_index,
        ..Default::default()
    })
}

/// What a catalog registration needs, as Consul's `vetRegisterWithACL`: node write when it
/// creates or changes the node, service write on the service (and on the one it replaces
/// under the same ID), and for each check its service's or its node's write.
fn register_allowed(
    agent: &Agent,
    q: &Query,
    node: &Node,
    skip_node_update: bool,
    service: Option<&Service>,
    checks: &[Check],
) -> Result<(), ApiError> {
    let store = agent.store.read();
    let changes_node = !skip_node_update
        && store.node(&node.node).is_none_or(|n| {
            n.address != node.address
                || (!node.meta.is_empty() && n.meta != node.meta)
                || (!node.tagged_addresses.is_empty()
                    && n.tagged_addresses != node.tagged_addresses)
        });
    let mut needs: Vec<(acl::Resource, String)> = Vec::new();
    if changes_node {
        needs.push((acl::Resource::Node, node.node.to_string()));
    }
    if let Some(s) = service {
        needs.push((acl::Resource::Service, s.service.to_string()));
        if let Some(old) = store.service(&node.node, &s.id) {
            needs.push((acl::Resource::Service, old.service.to_string()));
        }
    }
    for c in checks {
        let owner = if c.service_id.is_empty() {
            None
        } else if let Some(s) = service.filter(|s| s.id == c.service_id) {
            Some(s.service.to_string())
        } else {
            store
                .service(&node.node, &c.service_id)
                .map(|s| s.service.to_string())
        };
        match owner {
            Some(name) => needs.push((acl::Resource::Service, name)),
            None => needs.push((acl::Resource::Node, node.node.to_string())),
        }
    }
    drop(store);
    for (kind, name) in needs {
        q.authz.require(kind, &name, acl::Level::Write)?;
    }
    Ok(())
}

/// `PUT /v1/catalog/register`: a node with an optional service and checks.
pub async fn register(agent: &Agent, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    let r: RegisterIn = decode(&REGISTER_SCHEMA, body)?;
    if !r.datacenter.is_empty() && r.datacenter != agent.cfg.datacenter {
        return Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "No path to datacenter",
        ));
    }
    if r.node.is_empty() {
        return Err(ApiError::bad("Must provide node"));
    }
    if r.address.is_empty() && !r.skip_node_update {
        return Err(ApiError::bad(
            "Must provide address if SkipNodeUpdate is not set",
        ));
    }
    let node = Node {
        id: r.id.clone(),
        node: r.node.clone().into(),
        address: r.address.clone(),
        datacenter: agent.cfg.datacenter.clone(),
        tagged_addresses: r.tagged_addresses.clone().unwrap_or_default(),
        meta: r.node_meta.clone().unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    };
    let service = match &r.service {
        Some(s) => Some(service_from(&r.node, s)?),
        None => None,
    };
    let mut checks = Vec::new();
    for c in r.check.iter().chain(r.checks.iter().flatten()) {
        checks.push(check_from(&r.node, c)?);
    }
    if q.authz.enforced() {
        register_allowed(
            agent,
            q,
            &node,
            r.skip_node_update,
            service.as_ref(),
            &checks,
        )?;
    }
    agent
        .write_as(
            Command::Register {
                node,
                skip_node_update: r.skip_node_update,
                service,
                checks,
            },
            q.authz.secret(),
        )
        .await?;
    json_plain(&true)
}
