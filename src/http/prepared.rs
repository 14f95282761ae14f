//! `/v1/query`: prepared queries (Consul's `prepared_query_endpoint.go`). Create, list,
//! read, update and delete go through Raft; `execute` runs the stored lookup on this
//! datacenter's catalog and, when it finds no healthy instance, on the datacenters of the
//! query's failover plan (the nearest `NearestN`, then `Datacenters`), each through the
//! WAN; `explain` shows the query that would run.

use std::collections::BTreeMap;

use axum::http::StatusCode;
use axum::response::Response;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::ApiError;
use super::authz::Authz;
use super::blocking::{read, to_json};
use super::convert::{check_out, node_out, node_service_out};
use super::query::Query;
use super::respond::{json_plain, with_meta};
use super::session::write_error;
use crate::acl;
use crate::agent::Agent;
use crate::api::decode::{Field, Schema, decode};
use crate::api::output::ServiceEntryOut;
use crate::rpc::{Reply, Request};
use crate::state::{
    Command, PreparedQuery, QueryFailover, QueryOp, QueryService, QueryTemplate, Store, Table,
    Watch, status,
};

static FAILOVER: Schema = Schema {
    fields: &[
        ("NearestN", Field::Value),
        ("Datacenters", Field::Value),
        ("Targets", Field::Value),
    ],
    aliases: &[],
};

static SERVICE: Schema = Schema {
    fields: &[
        ("Service", Field::Value),
        ("Failover", Field::Struct(&FAILOVER)),
        ("OnlyPassing", Field::Value),
        ("IgnoreCheckIDs", Field::Value),
        ("Near", Field::Value),
        ("Tags", Field::Value),
        ("NodeMeta", Field::Map),
        ("ServiceMeta", Field::Map),
        ("Connect", Field::Map),
        ("Peer", Field::Value),
        ("SamenessGroup", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
    ],
    aliases: &[],
};

static DNS: Schema = Schema {
    fields: &[("TTL", Field::Value)],
    aliases: &[],
};

static TEMPLATE: Schema = Schema {
    fields: &[
        ("Type", Field::Value),
        ("Regexp", Field::Value),
        ("RemoveEmptyTags", Field::Value),
    ],
    aliases: &[],
};

static QUERY: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Name", Field::Value),
        ("Session", Field::Value),
        ("Token", Field::Value),
        ("Service", Field::Struct(&SERVICE)),
        ("DNS", Field::Struct(&DNS)),
        ("Template", Field::Struct(&TEMPLATE)),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
    ],
    aliases: &[],
};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct FailoverIn {
    nearest_n: i64,
    datacenters: Option<Vec<String>>,
    targets: Option<Vec<Value>>,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct ServiceIn {
    service: String,
    failover: FailoverIn,
    only_passing: bool,
    #[serde(rename = "IgnoreCheckIDs")]
    ignore_check_ids: Option<Vec<String>>,
    near: String,
    tags: Option<Vec<String>>,
    node_meta: Option<BTreeMap<String, String>>,
    service_meta: Option<BTreeMap<String, String>>,
    connect: Option<BTreeMap<String, Value>>,
    peer: String,
    sameness_group: String,
    namespace: String,
    partition: String,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct DnsIn {
    #[serde(rename = "TTL")]
    ttl: String,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct TemplateIn {
    #[serde(rename = "Type")]
    kind: String,
    regexp: String,
    remove_empty_tags: bool,
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct QueryIn {
    name: String,
    session: String,
    token: String,
    service: ServiceIn,
    #[serde(rename = "DNS")]
    dns: DnsIn,
    template: TemplateIn,
}

/// A 500 with Consul's text (its validation errors are RPC errors).
fn server_error(msg: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, msg)
}

/// Decode and validate a query body as Consul's `parseQuery` does.
fn parse(body: &[u8], id: &str) -> Result<PreparedQuery, ApiError> {
    let q: QueryIn = decode(&QUERY, body)?;
    match q.template.kind.as_str() {
        "" | "name_prefix_match" => {}
        t => return Err(server_error(format!("Bad Template.Type '{t}'"))),
    }
    if !q.template.regexp.is_empty()
        && let Err(e) = regex::Regex::new(&q.template.regexp)
    {
        return Err(server_error(format!(
            "Bad Regexp '{}': {e}",
            q.template.regexp
        )));
    }
    let s = q.service;
    if s.service.is_empty() {
        return Err(server_error("Must provide a Service name to query"));
    }
    if s.failover.nearest_n < 0 {
        return Err(server_error(format!(
            "Bad NearestN '{}', must be >= 0",
            s.failover.nearest_n
        )));
    }
    if s.failover.targets.as_ref().is_some_and(|t| !t.is_empty()) {
        return Err(server_error(
            "Failover Targets are not supported by this agent (use Datacenters)",
        ));
    }
    if !s.peer.is_empty() || !s.sameness_group.is_empty() {
        return Err(server_error(
            "Peers and sameness groups are not supported by this agent",
        ));
    }
    let _ = (&s.connect, &s.namespace, &s.partition);
    if !q.dns.ttl.is_empty() {
        match crate::api::duration::parse_go(&q.dns.ttl) {
            Some(_) => {}
            None => return Err(server_error(format!("Bad DNS TTL '{}'", q.dns.ttl))),
        }
    }
    if uuid::Uuid::parse_str(&q.name).is_ok() {
        return Err(server_error(
            "Query name cannot be a UUID (it would shadow a query ID)",
        ));
    }
    Ok(PreparedQuery {
        id: id.into(),
        name: q.name,
        session: q.session,
        token: q.token,
        service: QueryService {
            service: s.service,
            failover: QueryFailover {
                nearest_n: u32::try_from(s.failover.nearest_n).unwrap_or(u32::MAX),
                datacenters: s.failover.datacenters.unwrap_or_default(),
            },
            only_passing: s.only_passing,
            ignore_check_ids: s.ignore_check_ids.unwrap_or_default(),
            near: s.near,
            tags: s.tags.unwrap_or_default(),
            node_meta: s.node_meta.unwrap_or_default(),
            service_meta: s.service_meta.unwrap_or_default(),
        },
        template: QueryTemplate {
            kind: q.template.kind,
            regexp: q.template.regexp,
            remove_empty_tags: q.template.remove_empty_tags,
        },
        dns_ttl: q.dns.ttl,
        create_index: 0,
        modify_index: 0,
    })
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct FailoverOut<'a> {
    nearest_n: u32,
    datacenters: Option<&'a [String]>,
    targets: Option<()>,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceOut<'a> {
    service: &'a str,
    failover: FailoverOut<'a>,
    only_passing: bool,
    #[serde(rename = "IgnoreCheckIDs")]
    ignore_check_ids: Option<&'a [String]>,
    near: &'a str,
    tags: Option<&'a [String]>,
    node_meta: Option<&'a BTreeMap<String, String>>,
    service_meta: Option<&'a BTreeMap<String, String>>,
    connect: Value,
    peer: &'static str,
    sameness_group: &'static str,
}

#[derive(Serialize)]
struct DnsOut<'a> {
    #[serde(rename = "TTL")]
    ttl: &'a str,
}

/// A stored query as Consul's API shows it.
#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct QueryOut<'a> {
    #[serde(rename = "ID")]
    id: &'a str,
    name: &'a str,
    session: &'a str,
    token: &'a str,
    template: Value,
    service: ServiceOut<'a>,
    #[serde(rename = "DNS")]
    dns: DnsOut<'a>,
    create_index: u64,
    modify_index: u64,
}

fn some<T: ?Sized>(v: &T, empty: bool) -> Option<&T> {
    (!empty).then_some(v)
}

/// `token` is what the caller may see of the query's token (Consul redacts it for callers
/// without `acl:write`).
fn query_out<'a>(q: &'a PreparedQuery, token: &'a str) -> QueryOut<'a> {
    let s = &q.service;
    QueryOut {
        id: &q.id,
        name: &q.name,
        session: &q.session,
        token,
        template: serde_json::json!({
            "Type": q.template.kind,
            "Regexp": q.template.regexp,
            "RemoveEmptyTags": q.template.remove_empty_tags,
        }),
        service: ServiceOut {
            service: &s.service,
            failover: FailoverOut {
                nearest_n: s.failover.nearest_n,
                datacenters: some(
                    s.failover.datacenters.as_slice(),
                    s.failover.datacenters.is_empty(),
                ),
                targets: None,
            },
            only_passing: s.only_passing,
            ignore_check_ids: some(s.ignore_check_ids.as_slice(), s.ignore_check_ids.is_empty()),
            near: &s.near,
            tags: some(s.tags.as_slice(), s.tags.is_empty()),
            node_meta: some(&s.node_meta, s.node_meta.is_empty()),
            service_meta: some(&s.service_meta, s.service_meta.is_empty()),
            connect: serde_json::json!({"Enabled": false}),
            peer: "",
            sameness_group: "",
        },
        dns: DnsOut { ttl: &q.dns_ttl },
        create_index: q.create_index,
        modify_index: q.modify_index,
    }
}

/// The token field as the caller may see it.
fn visible_token<'a>(q: &'a PreparedQuery, caller: &Query) -> &'a str {
    if q.token.is_empty()
        || caller
            .authz
            .allows(acl::Resource::Acl, "", acl::Level::Write)
    {
        &q.token
    } else {
        "<hidden>"
    }
}

/// A query by ID, else by name (a template rendered for that name).
fn find(store: &Store, id_or_name: &str) -> Option<PreparedQuery> {
    if let Some(q) = store.query(id_or_name) {
        return Some(q.clone());
    }
    let q = store.query_resolve(id_or_name)?;
    Some(if q.template.kind.is_empty() {
        q.clone()
    } else {
        render(q, id_or_name)
    })
}

/// A template filled in for `name`: `${name.full}`, `${name.prefix}` (the template's
/// name), `${name.suffix}` (the rest), `${match(N)}` (the regexp's groups on the full
/// name, empty when it does not match) and `${agent.segment}` (empty).
fn render(q: &PreparedQuery, name: &str) -> PreparedQuery {
    let suffix = name.strip_prefix(q.name.as_str()).unwrap_or("");
    let groups: Vec<String> = regex::Regex::new(&q.template.regexp)
        .ok()
        .filter(|_| !q.template.regexp.is_empty())
        .and_then(|re| {
            re.captures(name).map(|c| {
                c.iter()
                    .map(|m| m.map_or(String::new(), |m| m.as_str().to_string()))
                    .collect()
            })
        })
        .unwrap_or_default();
    let fill = |s: &str| -> String {
        let mut out = s
            .replace("${name.full}", name)
            .replace("${name.prefix}", &q.name)
            .replace("${name.suffix}", suffix)
            .replace("${agent.segment}", "");
        while let Some(start) = out.find("${match(") {
            let Some(end) = out[start..].find(")}") else {
                break;
            };
            let n: usize = out[start + 8..start + end]
                .trim()
                .parse()
                .unwrap_or(usize::MAX);
            let v = groups.get(n).cloned().unwrap_or_default();
            out.replace_range(start..start + end + 2, &v);
        }
        out
    };
    let mut r = q.clone();
    let s = &mut r.service;
    s.service = fill(&s.service);
    s.near = fill(&s.near);
    s.tags = s.tags.iter().map(|t| fill(t)).collect();
    if q.template.remove_empty_tags {
        s.tags.retain(|t| !t.is_empty());
    }
    s.failover.datacenters = s.failover.datacenters.iter().map(|d| fill(d)).collect();
    for v in s.node_meta.values_mut().chain(s.service_meta.values_mut()) {
        *v = fill(v);
    }
    r
}

/// Whether the caller may read this query (`query` read on its name).
fn may_read(q: &Query, pq: &PreparedQuery) -> bool {
    q.authz.keep(acl::Resource::Query, &pq.name)
}

/// `POST /v1/query`: create; answers `{"ID": ...}`.
pub async fn create(agent: &Agent, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    let id = uuid::Uuid::new_v4().to_string();
    let pq = parse(body, &id)?;
    q.authz
        .require(acl::Resource::Query, &pq.name, acl::Level::Write)?;
    agent
        .write_as(Command::Query(QueryOp::Set(pq)), q.authz.secret())
        .await
        .map_err(write_error)?;
    json_plain(&serde_json::json!({ "ID": id }))
}

/// `GET /v1/query`: every query the caller may read.
pub async fn list(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(&[Table::Queries]), |s| {
        let out: Vec<QueryOut<'_>> = s
            .queries()
            .filter(|pq| may_read(q, pq))
            .map(|pq| query_out(pq, visible_token(pq, q)))
            .collect();
        Ok((StatusCode::OK, to_json(&out)?))
    })
    .await
}

/// `GET /v1/query/<id>`: a one-element list, 404 `Query not found`.
pub async fn get(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(&[Table::Queries]), |s| {
        match s.query(id) {
            Some(pq) if may_read(q, pq) => Ok((
                StatusCode::OK,
                to_json(&[query_out(pq, visible_token(pq, q))])?,
            )),
            Some(pq) => Err(q
                .authz
                .denied(acl::Resource::Query, &pq.name, acl::Level::Read)),
            None => Err(ApiError::new(StatusCode::NOT_FOUND, "Query not found")),
        }
    })
    .await
}

/// `PUT /v1/query/<id>`: replace the definition (empty 200).
pub async fn update(agent: &Agent, id: &str, q: &Query, body: &[u8]) -> Result<Response, ApiError> {
    let pq = parse(body, id)?;
    let old = agent.store.read().query(id).map(|o| o.name.clone());
    let Some(old) = old else {
        return Err(server_error(format!(
            "Cannot modify non-existent prepared query: '{id}'"
        )));
    };
    q.authz
        .require(acl::Resource::Query, &old, acl::Level::Write)?;
    q.authz
        .require(acl::Resource::Query, &pq.name, acl::Level::Write)?;
    agent
        .write_as(Command::Query(QueryOp::Set(pq)), q.authz.secret())
        .await
        .map_err(write_error)?;
    Ok(super::respond::empty())
}

/// `DELETE /v1/query/<id>` (empty 200).
pub async fn delete(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    let old = agent.store.read().query(id).map(|o| o.name.clone());
    let Some(old) = old else {
        return Err(server_error(format!(
            "Cannot delete non-existent prepared query: '{id}'"
        )));
    };
    q.authz
        .require(acl::Resource::Query, &old, acl::Level::Write)?;
    agent
        .write_as(
            Command::Query(QueryOp::Delete { id: id.to_string() }),
            q.authz.secret(),
        )
        .await
        .map_err(write_error)?;
    Ok(super::respond::empty())
}

/// `GET /v1/query/<id or name>/explain`: the query that would run.
pub async fn explain(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(&[Table::Queries]), |s| {
        match find(s, id) {
            Some(pq) => Ok((
                StatusCode::OK,
                to_json(&serde_json::json!({ "Query": query_out(&pq, visible_token(&pq, q)) }))?,
            )),
            None => Err(ApiError::new(StatusCode::NOT_FOUND, "Query not found")),
        }
    })
    .await
}

/// What `execute` answers.
#[derive(Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ExecuteOut {
    service: String,
    namespace: String,
    nodes: Vec<Value>,
    #[serde(rename = "DNS")]
    dns: ExecuteDns,
    datacenter: String,
    failovers: u32,
}

#[derive(Serialize, Deserialize)]
struct ExecuteDns {
    #[serde(rename = "TTL")]
    ttl: String,
}

/// Whether an instance (a `ServiceEntry` as JSON) passes the query's filters: no critical
/// check (no warning either with `OnlyPassing`) other than the ignored ones, every tag
/// (`!tag`: none such), every node and service meta pair.
fn admits(s: &QueryService, e: &Value) -> bool {
    let checks = e["Checks"].as_array().map(Vec::as_slice).unwrap_or(&[]);
    for c in checks {
        let id = c["CheckID"].as_str().unwrap_or("");
        if s.ignore_check_ids.iter().any(|i| i == id) {
            continue;
        }
        let st = c["Status"].as_str().unwrap_or("");
        if st == status::CRITICAL || (s.only_passing && st != status::PASSING) {
            return false;
        }
    }
    let tags: Vec<String> = e["Service"]["Tags"]
        .as_array()
        .map(|t| {
            t.iter()
                .filter_map(|v| v.as_str().map(str::to_ascii_lowercase))
                .collect()
        })
        .unwrap_or_default();
    for t in &s.tags {
        let (negate, t) = match t.strip_prefix('!') {
            Some(t) => (true, t),
            None => (false, t.as_str()),
        };
        if tags.contains(&t.to_ascii_lowercase()) == negate {
            return false;
        }
    }
    let meta_ok = |m: &Value, want: &BTreeMap<String, String>| {
        want.iter().all(|(k, v)| m[k].as_str() == Some(v.as_str()))
    };
    meta_ok(&e["Node"]["Meta"], &s.node_meta) && meta_ok(&e["Service"]["Meta"], &s.service_meta)
}

/// The query's instances in this datacenter's store, as `authz` may read them.
fn local_entries(s: &Store, pq: &PreparedQuery, authz: &Authz) -> Result<Vec<Value>, ApiError> {
    let name = &pq.service.service;
    let mut out = Vec::new();
    for (n, svc) in s.service_instances(name, &[]) {
        if !authz.keep_instance(&n.node, &svc.service) {
            continue;
        }
        let checks = s.instance_checks(&n.node, &svc.id);
        let entry = ServiceEntryOut {
            node: node_out(n),
            service: node_service_out(svc),
            checks: checks.into_iter().map(check_out).collect(),
        };
        let v = serde_json::to_value(&entry).map_err(|e| server_error(e.to_string()))?;
        if admits(&pq.service, &v) {
            out.push(v);
        }
    }
    Ok(out)
}

/// Shuffle (so load spreads), put `near`'s own instances first when it has any (disco has
/// no network coordinates to sort the rest by), then cut to `limit`.
fn arrange(nodes: &mut Vec<Value>, near: &str, limit: usize) {
    nodes.shuffle(&mut rand::rng());
    if !near.is_empty() {
        nodes.sort_by_key(|e| e["Node"]["Node"].as_str() != Some(near));
    }
    if limit > 0 {
        nodes.truncate(limit);
    }
}

/// The query's instances in datacenter `dc`, read through the WAN with the token the query
/// runs with and filtered here as locally.
async fn remote_entries(
    agent: &Agent,
    dc: &str,
    pq: &PreparedQuery,
    token: &str,
) -> Result<Vec<Value>, String> {
    let uri = format!(
        "/v1/health/service/{}?dc={}",
        crate::api::path_escape(&pq.service.service),
        crate::api::path_escape(dc)
    );
    let req = Request::Http {
        method: "GET".into(),
        uri,
        body: Vec::new(),
        from_server: false,
        token: token.to_string(),
    };
    let reply = agent
        .forward_dc(dc, req, std::time::Duration::from_secs(10))
        .await
        .map_err(|e| e.to_string())?;
    let Reply::Http { status, body, .. } = reply else {
        return Err("unexpected reply".into());
    };
    if status >= 400 {
        return Err(String::from_utf8_lossy(&body).into_owned());
    }
    let list: Vec<Value> = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
    Ok(list
        .into_iter()
        .filter(|e| admits(&pq.service, e))
        .collect())
}

/// The failover plan's datacenters in order: the `NearestN` nearest others, then the listed
/// ones (each once; unknown ones are skipped, as Consul does).
fn failover_targets(agent: &Agent, f: &QueryFailover) -> Vec<String> {
    let local = &agent.cfg.datacenter;
    let known = agent.datacenters();
    let mut out: Vec<String> = known
        .iter()
        .filter(|d| *d != local)
        .take(f.nearest_n as usize)
        .cloned()
        .collect();
    for d in &f.datacenters {
        if d != local && known.contains(d) && !out.contains(d) {
            out.push(d.clone());
        }
    }
    out
}

/// `GET /v1/query/<id or name>/execute` (`?near=`, `?limit=`).
pub async fn execute(agent: &Agent, id: &str, q: &Query) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    if q.consistency()? != super::query::Consistency::Stale {
        agent.require_leader()?;
    }
    let limit: usize = match q.get("limit") {
        None | Some("") => 0,
        Some(v) => v
            .parse()
            .map_err(|_| ApiError::bad(format!("Invalid limit {v:?}")))?,
    };
    let pq = {
        let store = agent.store.current();
        q.authz.refresh(agent, &store)?;
        find(&store, id).ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Query not found"))?
    };
    // A query that stores a token runs with it, whoever executes it (Consul's rule: a
    // caller with fewer rights, or none, gets what the query's author may see).
    let stored;
    let authz = if pq.token.is_empty() || !agent.cfg.acl.enabled {
        &q.authz
    } else {
        stored = super::authz::resolve_secret(agent, pq.token.clone()).await?;
        &stored
    };
    let (index, mut nodes) = {
        let store = agent.store.current();
        let nodes = local_entries(&store, &pq, authz)?;
        let index = store.tables_index(&[Table::Queries, Table::Services, Table::Checks]);
        (index, nodes)
    };
    let near = match q.get("near").filter(|n| !n.is_empty()) {
        Some("_agent") => agent.node_name().to_string(),
        Some(n) => n.to_string(),
        None if pq.service.near == "_agent" => agent.node_name().to_string(),
        None => pq.service.near.clone(),
    };
    let mut datacenter = agent.cfg.datacenter.clone();
    let mut failovers = 0u32;
    if nodes.is_empty() {
        for dc in failover_targets(agent, &pq.service.failover) {
            failovers += 1;
            match remote_entries(agent, &dc, &pq, authz.secret()).await {
                Ok(found) => {
                    nodes = found;
                    datacenter = dc;
                }
                Err(e) => {
                    tracing::warn!(
                        "prepared_query: failed querying for service {:?} in datacenter {dc:?}: {e}",
                        pq.service.service
                    );
                    continue;
                }
            }
            if !nodes.is_empty() {
                break;
            }
        }
    }
    let local_near = if datacenter == agent.cfg.datacenter {
        near.as_str()
    } else {
        ""
    };
    arrange(&mut nodes, local_near, limit);
    let out = ExecuteOut {
        service: pq.service.service.clone(),
        namespace: String::new(),
        nodes,
        dns: ExecuteDns {
            ttl: pq.dns_ttl.clone(),
        },
        datacenter,
        failovers,
    };
    let known_leader = agent
        .consensus
        .as_ref()
        .is_some_and(|c| c.leader_addr().is_some());
    Ok(with_meta(
        json_plain(&out)?,
        super::respond::Meta {
            index,
            known_leader,
            last_contact_ms: 0,
            consistency: "leader",
        },
    ))
}
