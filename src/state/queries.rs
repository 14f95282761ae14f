//! The prepared queries table: stored service lookups (filters and a datacenter failover
//! plan) that `/v1/query/<id>/execute` and `<name>.query.<domain>` run. Rows by ID; names
//! are unique among named queries and looked up by a scan (queries are few).

use std::collections::BTreeMap;
use std::sync::Arc;

use imbl::OrdMap;
use serde::{Deserialize, Serialize};

use super::changes::{Changes, Table};
use super::model::Name;

/// Where a query goes when its own datacenter has no healthy instance.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryFailover {
    /// Try this many other datacenters, nearest first.
    pub nearest_n: u32,
    /// Then these, in order.
    pub datacenters: Vec<String>,
}

/// What a query looks up.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryService {
    /// The service name.
    pub service: String,
    /// The failover plan.
    pub failover: QueryFailover,
    /// Leave out instances with a warning check too (critical ones always are).
    pub only_passing: bool,
    /// Checks whose status is not considered.
    pub ignore_check_ids: Vec<String>,
    /// Sort near this node (`_agent`: the agent that runs the query).
    pub near: String,
    /// Tags every instance must have; `!tag` must not have.
    pub tags: Vec<String>,
    /// Node meta every instance's node must carry.
    pub node_meta: BTreeMap<String, String>,
    /// Service meta every instance must carry.
    pub service_meta: BTreeMap<String, String>,
}

/// A query template: the query answers every name starting with its own, with
/// `${name.full}`, `${name.prefix}`, `${name.suffix}` and `${match(N)}` filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueryTemplate {
    /// `name_prefix_match` (empty: not a template).
    pub kind: String,
    /// Matched against the full name for `${match(N)}`.
    pub regexp: String,
    /// Drop tags that render empty.
    pub remove_empty_tags: bool,
}

/// A prepared query.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PreparedQuery {
    /// UUID.
    pub id: Name,
    /// Optional unique name (also its DNS name).
    pub name: String,
    /// A session whose end deletes the query.
    pub session: String,
    /// Token the query runs with (empty: the caller's).
    pub token: String,
    /// The lookup.
    pub service: QueryService,
    /// Set for a template.
    pub template: QueryTemplate,
    /// TTL of DNS answers (Go duration; empty: the service TTL).
    pub dns_ttl: String,
    /// Raft index of creation.
    pub create_index: u64,
    /// Raft index of the last change.
    pub modify_index: u64,
}

/// A prepared-query write.
// Built once and moved into the log, as `Command`; boxing the large variant buys nothing.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum QueryOp {
    /// Create or replace (by ID).
    Set(PreparedQuery),
    /// Delete by ID (a no-op when unknown).
    Delete {
        /// Query ID.
        id: String,
    },
}

impl std::fmt::Display for QueryOp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            QueryOp::Set(q) => write!(f, "query-set {} name={}", q.id, q.name),
            QueryOp::Delete { id } => write!(f, "query-delete {id}"),
        }
    }
}

/// Queries by ID. Watch granularity: [`Table::Queries`].
#[derive(Clone, Default)]
pub struct QueriesTable {
    rows: OrdMap<Name, Arc<PreparedQuery>>,
    index: u64,
}

impl QueriesTable {
    /// Max index of the table, deletes included.
    pub fn index(&self) -> u64 {
        self.index
    }

    /// Number of queries.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// One query by ID.
    pub fn get(&self, id: &str) -> Option<&PreparedQuery> {
        self.rows.get(id).map(|r| &**r)
    }

    /// The query with this (non-empty) name.
    pub fn by_name(&self, name: &str) -> Option<&PreparedQuery> {
        if name.is_empty() {
            return None;
        }
        self.iter().find(|q| q.name == name)
    }

    /// The query a name resolves to, as Consul resolves it: the query of that exact name,
    /// else the template with the longest name that prefixes it (an unnamed template
    /// matches every name).
    pub fn resolve(&self, name: &str) -> Option<&PreparedQuery> {
        self.by_name(name).or_else(|| {
            self.iter()
                .filter(|q| !q.template.kind.is_empty() && name.starts_with(q.name.as_str()))
                .max_by_key(|q| q.name.len())
        })
    }

    /// Every query, by ID.
    pub fn iter(&self) -> impl Iterator<Item = &PreparedQuery> {
        self.rows.values().map(|r| &**r)
    }

    /// Apply a write: names stay unique and the session must exist (`session_exists`).
    pub fn apply(
        &mut self,
        index: u64,
        op: &QueryOp,
        session_exists: impl Fn(&str) -> bool,
        changes: &mut Changes,
    ) -> super::Response {
        match op {
            QueryOp::Set(q) => {
                let clash = if q.name.is_empty() {
                    // One unnamed template at most (it would shadow the other).
                    self.iter().find(|o| {
                        o.name.is_empty()
                            && !o.template.kind.is_empty()
                            && !q.template.kind.is_empty()
                    })
                } else {
                    self.by_name(&q.name)
                };
                if let Some(other) = clash
                    && other.id != q.id
                {
                    return super::Response::Error(format!(
                        "name {:?} aliases an existing query name",
                        q.name
                    ));
                }
                if !q.session.is_empty() && !session_exists(&q.session) {
                    return super::Response::Error(format!("invalid session {:?}", q.session));
                }
                let mut row = q.clone();
                row.create_index = self.get(&q.id).map_or(index, |old| old.create_index);
                row.modify_index = index;
                self.rows.insert(row.id.clone(), Arc::new(row));
                self.bump(index, changes);
                super::Response::Bool(true)
            }
            QueryOp::Delete { id } => {
                if self.rows.remove(id.as_str()).is_some() {
                    self.bump(index, changes);
                }
                super::Response::Bool(true)
            }
        }
    }

    /// Delete the queries tied to a session that ended.
    pub fn session_ended(&mut self, index: u64, session: &str, changes: &mut Changes) {
        let ids: Vec<Name> = self
            .iter()
            .filter(|q| q.session == session)
            .map(|q| q.id.clone())
            .collect();
        for id in &ids {
            self.rows.remove(id.as_str());
        }
        if !ids.is_empty() {
            self.bump(index, changes);
        }
    }

    /// Put a row as read from a snapshot.
    pub fn restore(&mut self, row: PreparedQuery) {
        self.rows.insert(row.id.clone(), Arc::new(row));
    }

    /// Set the index as read from a snapshot.
    pub fn restore_index(&mut self, index: u64) {
        self.index = index;
    }

    fn bump(&mut self, index: u64, changes: &mut Changes) {
        self.index = self.index.max(index);
        changes.table(Table::Queries);
    }
}
