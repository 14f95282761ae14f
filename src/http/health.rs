//! `/v1/health/...`: service instances with their checks, and check lists.

use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::blocking::{read, to_json};
use super::convert::*;
use super::query::{Query, filter_error};
use crate::agent::Agent;
use crate::state::{Check, CheckFilter, Table, Watch, status};

/// `GET /v1/health/service/<name>` (`?tag`, `?passing`).
pub async fn service(agent: &Agent, name: &str, q: &Query) -> Result<Response, ApiError> {
    let tags = q.all("tag");
    let passing = q.flag("passing")?;
    let filter = q.filter()?;
    read(agent, q, Watch::Service(name), |s| {
        let mut out = Vec::new();
        for (n, svc) in s.service_instances(name, &tags) {
            if !q.authz.keep_instance(&n.node, &svc.service) {
                continue;
            }
            let checks = s.instance_checks(&n.node, &svc.id);
            if passing && checks.iter().any(|c| c.status != status::PASSING) {
                continue;
            }
            let entry = crate::api::output::ServiceEntryOut {
                node: node_out(n),
                service: node_service_out(svc),
                checks: checks.into_iter().map(check_out).collect(),
            };
            if let Some(f) = &filter
                && !f.matches(&entry).map_err(filter_error)?
            {
                continue;
            }
            out.push(entry);
        }
        Ok((StatusCode::OK, to_json(&out)?))
    })
    .await
}

/// `GET /v1/health/checks/<service>`.
pub async fn service_checks(agent: &Agent, name: &str, q: &Query) -> Result<Response, ApiError> {
    checks_read(agent, q, |s| s.service_checks(name)).await
}

/// `GET /v1/health/node/<node>`.
pub async fn node_checks(agent: &Agent, node: &str, q: &Query) -> Result<Response, ApiError> {
    checks_read(agent, q, |s| s.node_checks(node)).await
}

/// `GET /v1/health/state/<state>`: `any`, `passing`, `warning` or `critical`.
pub async fn checks_in_state(agent: &Agent, state: &str, q: &Query) -> Result<Response, ApiError> {
    let filter = match state {
        "any" => CheckFilter::Any,
        "passing" => CheckFilter::Status(status::PASSING),
        "warning" => CheckFilter::Status(status::WARNING),
        "critical" => CheckFilter::Status(status::CRITICAL),
        _ => return Err(ApiError::bad(format!("Bad check state: {state}"))),
    };
    checks_read(agent, q, |s| s.checks_in_state(filter)).await
}

/// A read of a list of checks, indexed by the checks table.
async fn checks_read<F>(agent: &Agent, q: &Query, select: F) -> Result<Response, ApiError>
where
    F: for<'s> Fn(&'s crate::state::Store) -> Vec<&'s Check>,
{
    let filter = q.filter()?;
    read(agent, q, Watch::Tables(&[Table::Checks]), |s| {
        let mut list: Vec<_> = select(s)
            .into_iter()
            .filter(|c| q.authz.keep_check(&c.node, &c.service_name))
            .map(check_out)
            .collect();
        if let Some(f) = &filter {
            f.retain(&mut list).map_err(filter_error)?;
        }
        Ok((StatusCode::OK, to_json(&list)?))
    })
    .await
}
