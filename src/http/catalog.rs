//! `/v1/catalog/...` and `/v1/health/...`.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::body::Bytes;
use axum::http::{Method, StatusCode};
use axum::response::Response;

use super::blocking::{read, to_json};
use super::convert::*;
use super::query::Query;
use super::respond::json_plain;
use super::{ApiError, allow};
use crate::agent::Agent;
use crate::api::decode::decode;
use crate::api::input::{DEREGISTER_SCHEMA, DeregisterIn, REGISTER_SCHEMA, RegisterIn};
use crate::state::{
    Check, CheckDefinition, CheckFilter, Command, Node, Service, Table, Weights, status,
};

fn name_of<'a>(rest: &'a str, prefix: &str, missing: &str) -> Result<Option<&'a str>, ApiError> {
    match rest.strip_prefix(prefix) {
        None => Ok(None),
        Some("") => Err(ApiError::bad(missing)),
        Some(n) => Ok(Some(n)),
    }
}

/// Catalog endpoints.
pub async fn catalog(
    agent: &Arc<Agent>,
    method: &Method,
    rest: &str,
    q: &Query,
    body: Bytes,
) -> Result<Response, ApiError> {
    use Method as M;
    match rest {
        "register" => {
            allow(method, &[M::PUT])?;
            return register(agent, q, &body).await;
        }
        "deregister" => {
            allow(method, &[M::PUT])?;
            q.check_dc(&agent.cfg.datacenter)?;
            let d: DeregisterIn = decode(&DEREGISTER_SCHEMA, &body)?;
            if !d.datacenter.is_empty() && d.datacenter != agent.cfg.datacenter {
                return Err(ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "No path to datacenter",
                ));
            }
            if d.node.is_empty() {
                return Err(ApiError::bad("Missing node name"));
            }
            let cmd = Command::Deregister {
                node: d.node,
                service_id: (!d.service_id.is_empty()).then_some(d.service_id),
                check_id: (!d.check_id.is_empty()).then_some(d.check_id),
            };
            agent.write(cmd).await?;
            return json_plain(&true);
        }
        _ => {}
    }
    allow(method, &[M::GET])?;
    if rest == "datacenters" {
        return json_plain(&[agent.cfg.datacenter.as_str()]);
    }
    if rest == "nodes" {
        return read(agent, q, &[Table::Nodes], |s| {
            let nodes: Vec<_> = s.nodes().into_iter().map(node_out).collect();
            Ok((
                s.table_index(Table::Nodes),
                StatusCode::OK,
                to_json(&nodes)?,
            ))
        })
        .await;
    }
    if rest == "services" {
        return read(agent, q, &[Table::Services], |s| {
            let names = s.service_names();
            Ok((
                s.table_index(Table::Services),
                StatusCode::OK,
                to_json(&names)?,
            ))
        })
        .await;
    }
    if let Some(name) = name_of(rest, "service/", "Missing service name")? {
        let tags = q.all("tag");
        return read(agent, q, &[Table::Services, Table::Nodes], |s| {
            let list: Vec<_> = s
                .service_instances(name, &tags)
                .into_iter()
                .map(|(n, svc)| service_node_out(n, svc))
                .collect();
            Ok((s.service_index(name), StatusCode::OK, to_json(&list)?))
        })
        .await;
    }
    if rest.starts_with("connect/") {
        return mesh_empty(agent, q).await;
    }
    if let Some(node) = name_of(rest, "node/", "Missing node name")? {
        return read(agent, q, &[Table::Nodes, Table::Services], |s| {
            let idx = s.tables_index(&[Table::Nodes, Table::Services]);
            let Some(n) = s.node(node) else {
                return Ok((idx, StatusCode::OK, b"null".to_vec()));
            };
            let services: BTreeMap<&str, _> = s
                .node_services(node)
                .into_iter()
                .map(|svc| (svc.id.as_str(), node_service_out(svc)))
                .collect();
            let out = crate::api::output::NodeServicesOut {
                node: node_out(n),
                services,
            };
            Ok((idx, StatusCode::OK, to_json(&out)?))
        })
        .await;
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "Invalid URL path: not a recognized HTTP API endpoint",
    ))
}

async fn register(agent: &Agent, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
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
        node: r.node.clone(),
        address: r.address.clone(),
        datacenter: agent.cfg.datacenter.clone(),
        tagged_addresses: r.tagged_addresses.clone().unwrap_or_default(),
        meta: r.node_meta.clone().unwrap_or_default(),
        create_index: 0,
        modify_index: 0,
    };
    let service = match &r.service {
        Some(s) => {
            if s.service.is_empty() {
                return Err(ApiError::bad("Must provide service name"));
            }
            Some(Service {
                node: r.node.clone(),
                id: if s.id.is_empty() {
                    s.service.clone()
                } else {
                    s.id.clone()
                },
                service: s.service.clone(),
                tags: s.tags.clone().unwrap_or_default(),
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
                modify_index: 0,
            })
        }
        None => None,
    };
    let mut checks = Vec::new();
    for c in r.check.iter().chain(r.checks.iter().flatten()) {
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
        checks.push(Check {
            node: r.node.clone(),
            check_id: id,
            name: c.name.clone(),
            status: if c.status.is_empty() {
                status::CRITICAL.into()
            } else {
                c.status.clone()
            },
            notes: c.notes.clone(),
            output: c.output.clone(),
            service_id: c.service_id.clone(),
            check_type: c.r#type.clone(),
            definition: CheckDefinition::default(),
            ..Default::default()
        });
    }
    agent
        .write(Command::Register {
            node,
            skip_node_update: r.skip_node_update,
            service,
            checks,
        })
        .await?;
    json_plain(&true)
}

/// Health endpoints.
pub async fn health(agent: &Arc<Agent>, rest: &str, q: &Query) -> Result<Response, ApiError> {
    if let Some(name) = name_of(rest, "service/", "Missing service name")? {
        let tags = q.all("tag");
        let passing = q.flag("passing")?;
        return read(
            agent,
            q,
            &[Table::Services, Table::Nodes, Table::Checks],
            |s| {
                let mut out = Vec::new();
                for (n, svc) in s.service_instances(name, &tags) {
                    let checks = s.instance_checks(&n.node, &svc.id);
                    if passing && checks.iter().any(|c| c.status != status::PASSING) {
                        continue;
                    }
                    out.push(crate::api::output::ServiceEntryOut {
                        node: node_out(n),
                        service: node_service_out(svc),
                        checks: checks.into_iter().map(check_out).collect(),
                    });
                }
                Ok((s.service_index(name), StatusCode::OK, to_json(&out)?))
            },
        )
        .await;
    }
    if let Some(name) = name_of(rest, "checks/", "Missing service name")? {
        return checks_read(agent, q, |s| s.service_checks(name)).await;
    }
    if let Some(node) = name_of(rest, "node/", "Missing node name")? {
        return checks_read(agent, q, |s| s.node_checks(node)).await;
    }
    if let Some(state) = name_of(rest, "state/", "Missing check state")? {
        let filter = match state {
            "any" => CheckFilter::Any,
            "passing" => CheckFilter::Status(status::PASSING),
            "warning" => CheckFilter::Status(status::WARNING),
            "critical" => CheckFilter::Status(status::CRITICAL),
            _ => return Err(ApiError::bad(format!("Bad check state: {state}"))),
        };
        return checks_read(agent, q, |s| s.checks_in_state(filter)).await;
    }
    if rest.starts_with("connect/") || rest.starts_with("ingress/") {
        return mesh_empty(agent, q).await;
    }
    Err(ApiError::new(
        StatusCode::NOT_FOUND,
        "Invalid URL path: not a recognized HTTP API endpoint",
    ))
}

/// A read of a list of checks, indexed by the checks table.
async fn checks_read<F>(agent: &Agent, q: &Query, select: F) -> Result<Response, ApiError>
where
    F: for<'s> Fn(&'s crate::state::Store) -> Vec<&'s Check>,
{
    read(agent, q, &[Table::Checks], |s| {
        let list: Vec<_> = select(s).into_iter().map(check_out).collect();
        Ok((
            s.table_index(Table::Checks),
            StatusCode::OK,
            to_json(&list)?,
        ))
    })
    .await
}

/// Mesh endpoints (`connect`, `ingress`): plain services have no mesh instances.
async fn mesh_empty(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, &[Table::Services], |s| {
        Ok((
            s.table_index(Table::Services),
            StatusCode::OK,
            b"[]".to_vec(),
        ))
    })
    .await
}

/// `GET /v1/internal/ui/services`: one summary per service name (instances, nodes, check
/// counts), the list Consul's web UI and `disco tui` show. Blocking on every catalog table.
pub async fn ui_services(agent: &Arc<Agent>, q: &Query) -> Result<Response, ApiError> {
    let dc = agent.cfg.datacenter.clone();
    read(
        agent,
        q,
        &[Table::Services, Table::Checks, Table::Nodes],
        |s| {
            let list: Vec<serde_json::Value> = s
                .service_summaries()
                .into_iter()
                .map(|x| {
                    let mut v = serde_json::json!({
                        "Name": x.name,
                        "Datacenter": dc,
                        "Tags": x.tags,
                        "Nodes": x.nodes,
                        "ExternalSources": [],
                        "InstanceCount": x.instances,
                        "ChecksPassing": x.passing,
                        "ChecksWarning": x.warning,
                        "ChecksCritical": x.critical,
                    });
                    if !x.kind.is_empty()
                        && let Some(o) = v.as_object_mut()
                    {
                        o.insert("Kind".into(), x.kind.into());
                    }
                    v
                })
                .collect();
            let index = [Table::Services, Table::Checks, Table::Nodes]
                .into_iter()
                .map(|t| s.table_index(t))
                .max()
                .unwrap_or(0);
            Ok((index, StatusCode::OK, to_json(&list)?))
        },
    )
    .await
}
