//! One version of the replicated state: every table, immutable once published.
//!
//! Tables are persistent maps (`imbl`), so cloning a version is a handful of reference
//! counts and a write copies only the tree nodes on its path. The state machine applies
//! commands to its own working version and publishes a clone after each batch (see
//! [`super::SharedStore`]); readers and the snapshot builder hold a version as long as they
//! like without stopping the writer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::acl_policies::PoliciesTable;
use super::acl_roles::RolesTable;
use super::acl_tokens::TokensTable;
use super::catalog::{Catalog, Invalidating};
use super::changes::{Changes, Table};
use super::checks::ChecksTable;
use super::command::{Command, KvOp, Response};
use super::kv::KvTable;
use super::model::{Check, KvEntry, Node, Service};
use super::nodes::NodesTable;
use super::services::ServicesTable;
use super::sessions::{Session, SessionsTable};
use super::status;

/// Which checks a health-state query returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFilter {
    /// Every check.
    Any,
    /// Only checks in this status.
    Status(&'static str),
}

/// Per-service-name totals (see [`Store::service_summaries`]).
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ServiceSummary<'a> {
    /// Service name.
    pub name: &'a str,
    /// Service kind (`""` for plain services).
    pub kind: &'a str,
    /// Union of the instances' tags.
    pub tags: BTreeSet<&'a str>,
    /// Nodes with an instance.
    pub nodes: BTreeSet<&'a str>,
    /// Number of instances.
    pub instances: u64,
    /// Checks passing across the instances (node checks counted per instance).
    pub passing: u64,
    /// Checks warning.
    pub warning: u64,
    /// Checks critical.
    pub critical: u64,
}

/// A version of the state store. Cheap to clone; the Raft state machine is the only writer.
#[derive(Clone, Default)]
pub struct Store {
    pub(super) nodes: NodesTable,
    pub(super) services: ServicesTable,
    pub(super) checks: ChecksTable,
    pub(super) kv: KvTable,
    pub(super) sessions: SessionsTable,
    pub(super) acl_tokens: TokensTable,
    pub(super) acl_policies: PoliciesTable,
    pub(super) acl_roles: RolesTable,
    pub(super) queries: super::queries::QueriesTable,
    /// Highest Raft index applied.
    pub(super) last_index: u64,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("last_index", &self.last_index)
            .field("nodes", &self.nodes.len())
            .field("services", &self.services.len())
            .field("checks", &self.checks.len())
            .field("kv", &self.kv.len())
            .field("sessions", &self.sessions.len())
            .field("acl_tokens", &self.acl_tokens.len())
            .finish()
    }
}

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Highest Raft index applied.
    pub fn last_index(&self) -> u64 {
        self.last_index
    }

    fn raw_index(&self, table: Table) -> u64 {
        match table {
            Table::Nodes => self.nodes.index(),
            Table::Services => self.services.index(),
            Table::Checks => self.checks.index(),
            Table::Kv => self.kv.index(),
            Table::Sessions => self.sessions.index(),
            Table::Acl => self
                .acl_tokens
                .index()
                .max(self.acl_policies.index())
                .max(self.acl_roles.index()),
            Table::Queries => self.queries.index(),
        }
    }

    /// Index of one table, never 0 (Consul clients treat 0 as "no data yet").
    pub fn table_index(&self, table: Table) -> u64 {
        self.raw_index(table).max(1)
    }

    /// Max index over several tables, never 0.
    pub fn tables_index(&self, tables: &[Table]) -> u64 {
        tables
            .iter()
            .map(|t| self.raw_index(*t))
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// Index of everything a query about service `name` depends on, never 0.
    pub fn service_index(&self, name: &str) -> u64 {
        match self.services.name_index(name) {
            Some(i) => i.max(1),
            None => self.table_index(Table::Services),
        }
    }

    /// Index of a single-key KV read (see [`KvTable::key_index`]).
    pub fn kv_key_index(&self, key: &str) -> u64 {
        self.kv.key_index(key)
    }

    /// Index of a prefix KV read (see [`KvTable::prefix_index`]).
    pub fn kv_prefix_index(&self, prefix: &str) -> u64 {
        self.kv.prefix_index(prefix)
    }

    /// Record that nothing but the index moved (blank and membership entries).
    pub fn advance(&mut self, index: u64) {
        self.last_index = self.last_index.max(index);
    }

    /// Apply one command at Raft index `index`, recording what changed. A rejected command
    /// changes nothing.
    pub fn apply(&mut self, index: u64, cmd: &Command, changes: &mut Changes) -> Response {
        self.advance(index);
        let none = Invalidating::default;
        let (response, invalidating) = match cmd {
            Command::Register {
                node,
                skip_node_update,
                service,
                checks,
            } => {
                let mut c = self.catalog();
                let r = c.register(
                    index,
                    node,
                    *skip_node_update,
                    service.as_ref(),
                    checks,
                    changes,
                );
                (r, c.invalidating)
            }
            Command::Deregister {
                node,
                service_id,
                check_id,
            } => {
                let mut c = self.catalog();
                let r = c.deregister(
                    index,
                    node,
                    service_id.as_deref(),
                    check_id.as_deref(),
                    changes,
                );
                (r, c.invalidating)
            }
            Command::UpdateChecks(updates) => {
                let mut c = self.catalog();
                let r = c.update_checks(index, updates, changes);
                (r, c.invalidating)
            }
            Command::Kv(KvOp::Lock {
                key,
                value,
                flags,
                session,
            }) => (
                self.apply_lock(index, key, value, *flags, session, changes),
                none(),
            ),
            Command::Kv(op) => (self.kv.apply(index, op, changes), none()),
            Command::Txn(ops) => (self.apply_txn(index, ops, changes), none()),
            Command::SessionCreate(s) => (self.create_session(index, s, changes), none()),
            Command::SessionDestroy { id } => {
                self.destroy_session(index, id, changes);
                (Response::Bool(true), none())
            }
            Command::Acl(op) => (self.apply_acl(index, op, changes), none()),
            Command::Query(op) => {
                let sessions = &self.sessions;
                let r = self
                    .queries
                    .apply(index, op, |id| sessions.get(id).is_some(), changes);
                (r, none())
            }
        };
        self.invalidate(index, invalidating, changes);
        response
    }

    /// Run one catalog write and end the sessions it invalidates, as `apply` does; an
    /// error (a refused write) comes back as its text.
    pub(super) fn catalog_write(
        &mut self,
        index: u64,
        changes: &mut Changes,
        write: impl FnOnce(&mut Catalog<'_>, &mut Changes) -> Response,
    ) -> Result<(), String> {
        let mut c = self.catalog();
        let r = write(&mut c, changes);
        let invalidating = std::mem::take(&mut c.invalidating);
        self.invalidate(index, invalidating, changes);
        match r {
            Response::Error(e) => Err(e),
            _ => Ok(()),
        }
    }

    fn catalog(&mut self) -> Catalog<'_> {
        Catalog {
            nodes: &mut self.nodes,
            services: &mut self.services,
            checks: &mut self.checks,
            invalidating: Invalidating::default(),
        }
    }

    /// `?acquire`: the session must exist; the KV table decides the rest.
    pub(super) fn apply_lock(
        &mut self,
        index: u64,
        key: &str,
        value: &[u8],
        flags: u64,
        session: &str,
        changes: &mut Changes,
    ) -> Response {
        if session.is_empty() {
            return Response::Error("missing session".into());
        }
        let Some(s) = self.sessions.get(session) else {
            return Response::Error(format!("invalid session {session:?}"));
        };
        let id = s.id.to_arc();
        self.kv.lock(index, key, value, flags, id, changes)
    }

    /// Create a session after Consul's checks: its node is registered and every linked
    /// check exists there and is not critical.
    fn create_session(&mut self, index: u64, s: &Session, changes: &mut Changes) -> Response {
        if s.node.is_empty() {
            return Response::Error("Must provide Node".into());
        }
        let Some(node) = self.nodes.name(&s.node) else {
            return Response::Error("Missing node registration".into());
        };
        for id in s.check_ids() {
            match self.checks.get(&node, id) {
                None => return Response::Error(format!("Missing check '{id}' registration")),
                Some(c) if c.status == status::CRITICAL => {
                    return Response::Error(format!("Check '{id}' is in critical state"));
                }
                Some(_) => {}
            }
        }
        if self.sessions.get(&s.id).is_some() {
            return Response::Error(format!("Session '{}' already exists", s.id));
        }
        let mut s = s.clone();
        s.node = node;
        s.create_index = index;
        s.modify_index = index;
        self.sessions.put(s, index, changes);
        Response::Bool(true)
    }

    /// End a session: remove it and release or delete every key it holds, in this entry.
    fn destroy_session(&mut self, index: u64, id: &str, changes: &mut Changes) {
        if let Some(s) = self.sessions.remove(id, index, changes) {
            self.kv
                .release_session(index, &s.id, s.behavior, s.lock_delay_ns, changes);
            if self.queries.len() > 0 {
                self.queries.session_ended(index, &s.id, changes);
            }
        }
    }

    /// End the sessions tied to deregistered nodes and to checks gone critical or away.
    fn invalidate(&mut self, index: u64, what: Invalidating, changes: &mut Changes) {
        if self.sessions.len() == 0 {
            return;
        }
        let mut ids = Vec::new();
        for node in &what.nodes {
            ids.extend(self.sessions.on_node(node).map(|s| s.id.clone()));
        }
        for (node, check) in &what.checks {
            ids.extend(self.sessions.linked_to(node, check));
        }
        for id in ids {
            self.destroy_session(index, &id, changes);
        }
    }

    // ---- prepared queries ----

    /// One prepared query by ID.
    pub fn query(&self, id: &str) -> Option<&super::PreparedQuery> {
        self.queries.get(id)
    }

    /// The prepared query with this name.
    pub fn query_by_name(&self, name: &str) -> Option<&super::PreparedQuery> {
        self.queries.by_name(name)
    }

    /// The prepared query a name resolves to (exact name, else the longest template).
    pub fn query_resolve(&self, name: &str) -> Option<&super::PreparedQuery> {
        self.queries.resolve(name)
    }

    /// Every prepared query, by ID.
    pub fn queries(&self) -> impl Iterator<Item = &super::PreparedQuery> {
        self.queries.iter()
    }

    // ---- sessions ----

    /// One session.
    pub fn session(&self, id: &str) -> Option<&Session> {
        self.sessions.get(id)
    }

    /// Every session, by ID.
    pub fn sessions(&self) -> impl Iterator<Item = &Session> {
        self.sessions.iter()
    }

    /// The sessions on a node, by ID.
    pub fn sessions_on_node<'a>(&'a self, node: &str) -> impl Iterator<Item = &'a Session> + 'a {
        self.sessions.on_node(node)
    }

    /// The keys a session holds, in key order.
    pub fn keys_held_by(&self, id: &str) -> impl Iterator<Item = &str> {
        self.kv.held_by(id)
    }

    // ---- catalog queries ----

    /// Every node, sorted by name.
    pub fn nodes(&self) -> Vec<&Node> {
        self.nodes.iter().collect()
    }

    /// One node.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.nodes.get(name)
    }

    /// The services registered on a node, sorted by ID.
    pub fn node_services(&self, node: &str) -> Vec<&Service> {
        self.services.on_node(node).collect()
    }

    /// One service instance.
    pub fn service(&self, node: &str, id: &str) -> Option<&Service> {
        self.services.get(node, id)
    }

    /// Service names with the union of their instances' tags, sorted.
    pub fn service_names(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in self.services.iter() {
            let tags = out.entry(s.service.as_str()).or_default();
            tags.extend(s.tags.iter().map(String::as_str));
        }
        out
    }

    /// One summary per service name, sorted: what a service list in a UI shows. Check
    /// counts cover every instance's own checks plus its node's checks, so a failed node
    /// counts against each service on it. Only instances `keep` accepts are counted (the
    /// caller's ACL view). One pass over services and checks.
    pub fn service_summaries(&self, keep: impl Fn(&Service) -> bool) -> Vec<ServiceSummary<'_>> {
        #[derive(Default, Clone, Copy)]
        struct Counts {
            passing: u64,
            warning: u64,
            critical: u64,
        }
        impl Counts {
            fn add(&mut self, status: &str) {
                match status {
                    "passing" => self.passing += 1,
                    "warning" => self.warning += 1,
                    _ => self.critical += 1,
                }
            }
        }
        let mut node_checks: HashMap<&str, Counts> = HashMap::new();
        let mut instance_checks: HashMap<(&str, &str), Counts> = HashMap::new();
        for c in self.checks.iter() {
            if c.service_id.is_empty() {
                node_checks
                    .entry(c.node.as_str())
                    .or_default()
                    .add(&c.status);
            } else {
                instance_checks
                    .entry((c.node.as_str(), c.service_id.as_str()))
                    .or_default()
                    .add(&c.status);
            }
        }
        let mut out: BTreeMap<&str, ServiceSummary<'_>> = BTreeMap::new();
        for s in self.services.iter().filter(|s| keep(s)) {
            let e = out
                .entry(s.service.as_str())
                .or_insert_with(|| ServiceSummary {
                    name: s.service.as_str(),
                    kind: s.kind.as_str(),
                    ..Default::default()
                });
            e.instances += 1;
            e.tags.extend(s.tags.iter().map(String::as_str));
            e.nodes.insert(s.node.as_str());
            for c in [
                node_checks.get(s.node.as_str()),
                instance_checks.get(&(s.node.as_str(), s.id.as_str())),
            ]
            .into_iter()
            .flatten()
            {
                e.passing += c.passing;
                e.warning += c.warning;
                e.critical += c.critical;
            }
        }
        out.into_values().collect()
    }

    /// Instances of a service carrying every tag in `tags`, ordered by (node, ID).
    pub fn service_instances(&self, name: &str, tags: &[String]) -> Vec<(&Node, &Service)> {
        self.services
            .named(name)
            .filter(|s| tags.iter().all(|t| s.tags.contains(t)))
            .filter_map(|s| self.nodes.get(&s.node).map(|n| (n, s)))
            .collect()
    }

    /// Checks of a node, ordered by ID.
    pub fn node_checks(&self, node: &str) -> Vec<&Check> {
        self.checks.on_node(node).collect()
    }

    /// The checks that decide an instance's health: the node's own checks plus the instance's.
    pub fn instance_checks(&self, node: &str, service_id: &str) -> Vec<&Check> {
        self.checks
            .on_node(node)
            .filter(|c| c.service_id.is_empty() || c.service_id == service_id)
            .collect()
    }

    /// Every check of every instance of a service, ordered by (node, service ID, check ID).
    pub fn service_checks(&self, name: &str) -> Vec<&Check> {
        let mut out = Vec::new();
        for s in self.services.named(name) {
            out.extend(
                self.checks
                    .on_node(&s.node)
                    .filter(|c| c.service_id == s.id),
            );
        }
        out
    }

    /// Checks in a state, ordered by (node, check ID).
    pub fn checks_in_state(&self, filter: CheckFilter) -> Vec<&Check> {
        self.checks
            .iter()
            .filter(|c| match filter {
                CheckFilter::Any => true,
                CheckFilter::Status(s) => c.status == s,
            })
            .collect()
    }

    /// One check.
    pub fn check(&self, node: &str, check_id: &str) -> Option<&Check> {
        self.checks.get(node, check_id)
    }

    // ---- KV queries ----

    /// One entry.
    pub fn kv_get(&self, key: &str) -> Option<&KvEntry> {
        self.kv.get(key)
    }

    /// Every entry under a prefix, sorted by key.
    pub fn kv_list(&self, prefix: &str) -> Vec<&KvEntry> {
        self.kv.under(prefix).collect()
    }

    /// Keys under a prefix; with a separator, keys are cut after the first separator past the
    /// prefix and de-duplicated (Consul's `?keys&separator=`).
    pub fn kv_keys(&self, prefix: &str, separator: &str) -> Vec<String> {
        self.kv.keys(prefix, separator)
    }

    /// Number of KV entries (for metrics and `info`).
    pub fn kv_len(&self) -> usize {
        self.kv.len()
    }

    /// Number of (nodes, services, checks).
    pub fn catalog_counts(&self) -> (usize, usize, usize) {
        (self.nodes.len(), self.services.len(), self.checks.len())
    }
}

#[cfg(test)]
mod tests;
