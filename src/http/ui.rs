//! What Consul's web UI reads (`/v1/internal/ui/services`) and the pages at `/` and `/ui`.

use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::blocking::{read, to_json};
use super::query::Query;
use super::respond::text;
use crate::agent::Agent;
use crate::state::{Table, Watch};

/// `GET /v1/internal/ui/services`: one summary per service name (instances, nodes, check
/// counts), the list Consul's web UI and `disco tui` show. Blocking on every catalog table.
pub async fn services(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let dc = agent.cfg.datacenter.clone();
    let filter = q.filter()?;
    read(
        agent,
        q,
        Watch::Tables(&[Table::Services, Table::Checks, Table::Nodes]),
        |s| {
            let mut list: Vec<serde_json::Value> = s
                .service_summaries()
                .into_iter()
                .filter(|x| q.authz.keep(crate::acl::Resource::Service, x.name))
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
            if let Some(f) = &filter {
                f.retain(&mut list).map_err(super::query::filter_error)?;
            }
            Ok((StatusCode::OK, to_json(&list)?))
        },
    )
    .await
}

/// `/`: Consul's answer when its UI is off, which tools probe for.
pub fn root() -> Response {
    text(
        StatusCode::OK,
        "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.",
    )
}

/// `/ui/...`: the web UI is not bundled.
pub fn web_ui() -> Response {
    text(
        StatusCode::OK,
        "disco agent: the web UI is not bundled; use `disco tui` or the HTTP API.",
    )
}
