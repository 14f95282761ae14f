//! `PUT /v1/txn` (Consul's `txn_endpoint.go`): decode and bound the operations, send a
//! transaction with any write through Raft as one entry, answer one of reads only from the
//! store with the requested consistency, and shape results and errors as Consul does.

use axum::body::Bytes;
use axum::http::StatusCode;
use axum::response::Response;
use base64::Engine;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use serde_json::Value;

use super::ApiError;
use super::catalog::{check_from, service_from};
use super::convert::{check_out, node_out, node_service_out};
use super::query::{Consistency, Query};
use super::respond::json_bytes;
use crate::acl;
use crate::agent::Agent;
use crate::api::decode::{Field, Schema, decode_value};
use crate::api::input::{
    CATALOG_CHECK_SCHEMA, CATALOG_SERVICE_SCHEMA, CatalogCheckIn, CatalogServiceIn,
};
use crate::state::{
    Command, KvTxnOp, Node, Response as SmResponse, Service, TxnError, TxnOp, TxnOutcome, TxnResult,
};

/// Most operations in one transaction (Consul 1.x; older versions allowed 64).
pub const MAX_OPS: usize = 128;
/// Consul's default `txn_max_req_len`.
pub const MAX_REQUEST: u64 = 512 * 1024;

static KV_OP: Schema = Schema {
    fields: &[
        ("Verb", Field::Value),
        ("Key", Field::Value),
        ("Value", Field::Value),
        ("Flags", Field::Value),
        ("Index", Field::Value),
        ("Session", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
    ],
    aliases: &[],
};

static NODE: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Node", Field::Value),
        ("Address", Field::Value),
        ("Datacenter", Field::Value),
        ("TaggedAddresses", Field::Map),
        ("Meta", Field::Map),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
        ("Partition", Field::Value),
        ("PeerName", Field::Value),
    ],
    aliases: &[],
};

static NODE_OP: Schema = Schema {
    fields: &[("Verb", Field::Value), ("Node", Field::Struct(&NODE))],
    aliases: &[],
};

static SERVICE_OP: Schema = Schema {
    fields: &[
        ("Verb", Field::Value),
        ("Node", Field::Value),
        ("Service", Field::Struct(&CATALOG_SERVICE_SCHEMA)),
    ],
    aliases: &[],
};

static CHECK_OP: Schema = Schema {
    fields: &[
        ("Verb", Field::Value),
        ("Check", Field::Struct(&CATALOG_CHECK_SCHEMA)),
    ],
    aliases: &[],
};

static OP: Schema = Schema {
    fields: &[
        ("KV", Field::Struct(&KV_OP)),
        ("Node", Field::Struct(&NODE_OP)),
        ("Service", Field::Struct(&SERVICE_OP)),
        ("Check", Field::Struct(&CHECK_OP)),
    ],
    aliases: &[],
};

#[derive(Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
struct NodeIn {
    #[serde(rename = "ID")]
    id: String,
    node: String,
    address: String,
    datacenter: String,
    tagged_addresses: Option<BTreeMap<String, String>>,
    meta: Option<BTreeMap<String, String>>,
    modify_index: u64,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct NodeOpIn {
    #[serde(default)]
    verb: String,
    #[serde(default)]
    node: NodeIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ServiceOpIn {
    #[serde(default)]
    verb: String,
    #[serde(default)]
    node: String,
    #[serde(default)]
    service: CatalogServiceIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct CheckOpIn {
    #[serde(default)]
    verb: String,
    #[serde(default)]
    check: CatalogCheckIn,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct KvIn {
    #[serde(default)]
    verb: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    value: Option<String>,
    #[serde(default)]
    flags: u64,
    #[serde(default)]
    index: u64,
    #[serde(default)]
    session: String,
}

#[derive(Deserialize)]
struct OpIn {
    #[serde(rename = "KV")]
    kv: Option<KvIn>,
    #[serde(rename = "Node")]
    node: Option<NodeOpIn>,
    #[serde(rename = "Service")]
    service: Option<ServiceOpIn>,
    #[serde(rename = "Check")]
    check: Option<CheckOpIn>,
}

fn parse_error(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad(format!("Failed to parse body: {e}"))
}

fn too_large(msg: String) -> ApiError {
    ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, msg)
}

/// Decode the body into operations, with Consul's limits and messages.
fn operations(agent: &Agent, body: &[u8]) -> Result<Vec<TxnOp>, ApiError> {
    let max_value = agent.cfg.kv_max_value_size;
    let max = MAX_REQUEST.max(max_value);
    if body.len() as u64 > max {
        return Err(too_large(format!(
            "Request body({} bytes) too large, max size: {max} bytes. See https://developer.hashicorp.com/consul/docs/agent/config/config-files#txn_max_req_len.",
            body.len()
        )));
    }
    let list: Vec<Value> = serde_json::from_slice(body).map_err(parse_error)?;
    if list.len() > MAX_OPS {
        return Err(too_large(format!(
            "Transaction contains too many operations ({} > {MAX_OPS})",
            list.len()
        )));
    }
    let mut ops = Vec::with_capacity(list.len());
    for (i, v) in list.into_iter().enumerate() {
        let op: OpIn = decode_value(&OP, v).map_err(|e| parse_error(e.0))?;
        let set = [
            op.kv.is_some(),
            op.node.is_some(),
            op.service.is_some(),
            op.check.is_some(),
        ];
        if set.iter().filter(|s| **s).count() != 1 {
            return Err(parse_error(format!(
                "operation {i} must hold exactly one of KV, Node, Service and Check"
            )));
        }
        if let Some(n) = op.node {
            ops.push(TxnOp::Node {
                verb: n.verb,
                node: Node {
                    id: n.node.id,
                    node: n.node.node.into(),
                    address: n.node.address,
                    datacenter: if n.node.datacenter.is_empty() {
                        agent.cfg.datacenter.clone()
                    } else {
                        n.node.datacenter
                    },
                    tagged_addresses: n.node.tagged_addresses.unwrap_or_default(),
                    meta: n.node.meta.unwrap_or_default(),
                    create_index: 0,
                    modify_index: n.node.modify_index,
                },
            });
            continue;
        }
        if let Some(s) = op.service {
            // Only a write needs a whole service; the other verbs name it by ID.
            let service = if matches!(s.verb.as_str(), "set" | "cas") {
                service_from(&s.node, &s.service)?
            } else {
                Service {
                    node: s.node.as_str().into(),
                    id: s.service.id.as_str().into(),
                    modify_index: s.service.modify_index,
                    ..Default::default()
                }
            };
            ops.push(TxnOp::Service {
                verb: s.verb,
                node: s.node,
                service,
            });
            continue;
        }
        if let Some(c) = op.check {
            let check = if matches!(c.verb.as_str(), "set" | "cas") {
                check_from(&c.check.node, &c.check)?
            } else {
                crate::state::Check {
                    node: c.check.node.as_str().into(),
                    check_id: c.check.check_id.as_str().into(),
                    modify_index: c.check.modify_index,
                    ..Default::default()
                }
            };
            ops.push(TxnOp::Check {
                verb: c.verb,
                check,
            });
            continue;
        }
        let Some(kv) = op.kv else {
            continue;
        };
        let value = match kv.value.as_deref() {
            None | Some("") => Vec::new(),
            Some(b64) => base64::engine::general_purpose::STANDARD
                .decode(b64)
                .map_err(|e| parse_error(format!("operation {i}: Value is not base64: {e}")))?,
        };
        if value.len() as u64 > max_value {
            return Err(too_large(format!(
                "Value for key {:?} is too large ({} > {max_value} bytes)",
                kv.key,
                value.len()
            )));
        }
        ops.push(TxnOp::Kv(KvTxnOp {
            verb: kv.verb,
            key: kv.key,
            value,
            flags: kv.flags,
            index: kv.index,
            session: kv.session,
        }));
    }
    Ok(ops)
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct KvOut<'a> {
    lock_index: u64,
    key: &'a str,
    flags: u64,
    value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    session: Option<&'a str>,
    create_index: u64,
    modify_index: u64,
}

/// One result in Consul's shape: an object with one key naming its kind.
// Built and serialised at once, borrowing from the outcome; boxing buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Serialize)]
enum ResultOut<'a> {
    #[serde(rename = "KV")]
    Kv(KvOut<'a>),
    Node(crate::api::output::NodeOut<'a>),
    Service(crate::api::output::NodeServiceOut<'a>),
    Check(crate::api::output::HealthCheckOut<'a>),
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct ErrorOut<'a> {
    op_index: usize,
    what: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "PascalCase")]
struct Answer<'a> {
    results: Option<Vec<ResultOut<'a>>>,
    errors: Option<Vec<ErrorOut<'a>>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    index: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    known_leader: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_contact: Option<u64>,
}

/// 200 with the results, or 409 with every error, as Consul answers.
fn answer(o: &TxnOutcome, read: Option<(u64, bool, u64)>) -> Result<Response, ApiError> {
    let ok = o.errors.is_empty();
    let results = ok.then(|| {
        o.results
            .iter()
            .map(|r| match r {
                TxnResult::Node(n) => ResultOut::Node(node_out(n)),
                TxnResult::Service(svc) => ResultOut::Service(node_service_out(svc)),
                TxnResult::Check(c) => ResultOut::Check(check_out(c)),
                TxnResult::Kv(e) => ResultOut::Kv(KvOut {
                    lock_index: e.lock_index,
                    key: &e.key,
                    flags: e.flags,
                    value: e
                        .value
                        .as_deref()
                        .filter(|v| !v.is_empty())
                        .map(|v| base64::engine::general_purpose::STANDARD.encode(v)),
                    session: e.session.as_deref(),
                    create_index: e.create_index,
                    modify_index: e.modify_index,
                }),
            })
            .collect()
    });
    let errors = (!ok).then(|| {
        o.errors
            .iter()
            .map(|e| ErrorOut {
                op_index: e.op_index,
                what: &e.what,
            })
            .collect()
    });
    let body = serde_json::to_vec(&Answer {
        results,
        errors,
        index: read.map(|r| r.0),
        known_leader: read.map(|r| r.1),
        last_contact: read.map(|r| r.2),
    })
    .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    let status = if ok {
        StatusCode::OK
    } else {
        StatusCode::CONFLICT
    };
    Ok(json_bytes(status, body))
}

/// The operations the caller may not run, each as its endpoint would decide it (KV by
/// key, a recursive delete by the whole prefix, catalog operations by node and service,
/// the service an existing instance or check belongs to included: CVE-2021-38698).
fn denied_ops(agent: &Agent, q: &Query, ops: &[TxnOp]) -> Vec<TxnError> {
    use acl::{Level, Resource};
    if !q.authz.enforced() {
        return Vec::new();
    }
    let store = agent.store.read();
    let level = |read: bool| if read { Level::Read } else { Level::Write };
    let mut out = Vec::new();
    for (i, op) in ops.iter().enumerate() {
        let ok = match op {
            TxnOp::Kv(kv) if kv.verb == "delete-tree" => {
                q.authz.require_key_write_prefix(&kv.key).is_ok()
            }
            TxnOp::Kv(kv) => q.authz.allows(Resource::Key, &kv.key, level(kv.is_read())),
            TxnOp::Node { verb, node } => {
                q.authz
                    .allows(Resource::Node, &node.node, level(verb == "get"))
            }
            TxnOp::Service {
                verb,
                node,
                service,
            } => {
                let existing = store
                    .service(node, &service.id)
                    .map(|s| s.service.to_string());
                let lvl = level(verb == "get");
                [Some(service.service.to_string()), existing]
                    .into_iter()
                    .flatten()
                    .filter(|n| !n.is_empty())
                    .all(|n| q.authz.allows(Resource::Service, &n, lvl))
            }
            TxnOp::Check { verb, check } => {
                let lvl = level(verb == "get");
                let owner = [check.service_id.as_str()]
                    .into_iter()
                    .chain(
                        store
                            .check(&check.node, &check.check_id)
                            .map(|c| c.service_id.as_str()),
                    )
                    .filter(|id| !id.is_empty())
                    .filter_map(|id| store.service(&check.node, id))
                    .map(|s| s.service.to_string())
                    .collect::<Vec<_>>();
                q.authz.allows(Resource::Node, &check.node, Level::Read)
                    && if owner.is_empty() {
                        q.authz.allows(Resource::Node, &check.node, lvl)
                    } else {
                        owner
                            .iter()
                            .all(|n| q.authz.allows(Resource::Service, n, lvl))
                    }
            }
        };
        if !ok {
            out.push(TxnError {
                op_index: i,
                what: "Permission denied".into(),
            });
        }
    }
    out
}

/// `PUT /v1/txn`.
pub async fn txn(agent: &Agent, q: &Query, body: Bytes) -> Result<Response, ApiError> {
    q.check_dc(&agent.cfg.datacenter)?;
    let ops = operations(agent, &body)?;
    let denied = denied_ops(agent, q, &ops);
    if !denied.is_empty() {
        return answer(
            &TxnOutcome {
                results: Vec::new(),
                errors: denied,
            },
            None,
        );
    }
    if !ops.is_empty() && ops.iter().all(TxnOp::is_read) {
        match q.consistency()? {
            Consistency::Leader => agent.require_leader()?,
            Consistency::Consistent => agent.linearize().await?,
            Consistency::Stale => {}
        }
        let store = agent.store.read();
        let outcome = store.txn_read(&ops);
        let c = agent.consensus.as_ref();
        let known_leader = c.is_some_and(|c| c.leader_addr().is_some());
        let last_contact = c
            .and_then(|c| c.last_contact())
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        return answer(
            &outcome,
            Some((store.last_index(), known_leader, last_contact)),
        );
    }
    agent.metrics.incr("consul.txn.apply");
    match agent
        .write_as(Command::Txn(ops), q.authz.secret())
        .await
        .map_err(super::session::write_error)?
    {
        SmResponse::Txn(outcome) => answer(&outcome, None),
        other => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("unexpected transaction result: {other}"),
        )),
    }
}
