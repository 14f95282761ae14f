//! One version of the replicated state: every table, immutable once published.
//!
//! Tables are persistent maps (`imbl`), so cloning a version is a handful of reference
//! counts and a write copies only the tree nodes on its path. The state machine applies
//! commands to its own working version and publishes a clone after each batch (see
//! [`super::SharedStore`]); readers and the snapshot builder hold a version as long as they
//! like without stopping the writer.

use std::collections::{BTreeMap, BTreeSet, HashMap};

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
    /// counts against each service on it. One pass over services and checks.
    pub fn service_summaries(&self) -> Vec<ServiceSummary<'_>> {
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
        for s in self.services.iter() {
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
mod tests {
    use super::*;
    use std::time::Duration;

    use crate::state::{Behavior, CheckUpdate, KvOp, Name, Session, status};

    fn web_on_n1() -> (Node, Service) {
        let node = Node {
            node: "n1".into(),
            address: "10.0.0.1".into(),
            ..Default::default()
        };
        let svc = Service {
            id: "web1".into(),
            service: "web".into(),
            ..Default::default()
        };
        (node, svc)
    }

    fn set(key: &str, cas: Option<u64>) -> Command {
        Command::Kv(KvOp::Set {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
            cas,
        })
    }

    #[test]
    fn kv_cas_and_index() {
        let mut s = Store::new();
        assert_eq!(
            s.apply(5, &set("a", Some(0)), &mut Changes::default()),
            Response::Bool(true)
        );
        assert_eq!(
            s.apply(6, &set("a", Some(0)), &mut Changes::default()),
            Response::Bool(false)
        );
        assert_eq!(
            s.table_index(Table::Kv),
            5,
            "a failed CAS leaves the index alone"
        );
        assert_eq!(
            s.apply(7, &set("a", Some(5)), &mut Changes::default()),
            Response::Bool(true)
        );
        let e = s.kv_get("a").unwrap();
        assert_eq!((e.create_index, e.modify_index), (5, 7));
        let del = Command::Kv(KvOp::Delete {
            key: "a".into(),
            recurse: false,
            cas: Some(5),
        });
        assert_eq!(
            s.apply(8, &del, &mut Changes::default()),
            Response::Bool(false)
        );
        assert_eq!(s.table_index(Table::Kv), 7);
    }

    #[test]
    fn keys_with_separator() {
        let mut s = Store::new();
        for (i, k) in ["base/base/foo", "base/base/bar", "base/foo", "other"]
            .iter()
            .enumerate()
        {
            s.apply(i as u64 + 1, &set(k, None), &mut Changes::default());
        }
        assert_eq!(
            s.kv_keys("base/", "/"),
            vec!["base/base/".to_string(), "base/foo".to_string()]
        );
        assert_eq!(s.kv_list("base/").len(), 3);
    }

    #[test]
    fn register_and_deregister_service() {
        let mut s = Store::new();
        let (node, svc) = web_on_n1();
        let chk = Check {
            check_id: "service:web1".into(),
            service_id: "web1".into(),
            ..Default::default()
        };
        let cmd = Command::Register {
            node,
            skip_node_update: false,
            service: Some(svc),
            checks: vec![chk],
        };
        assert_eq!(
            s.apply(3, &cmd, &mut Changes::default()),
            Response::Bool(true)
        );
        assert_eq!(s.service_index("web"), 3);
        assert_eq!(s.service_checks("web")[0].status, status::CRITICAL);
        // Re-registering the same thing changes nothing.
        s.apply(4, &cmd, &mut Changes::default());
        assert_eq!(s.service_index("web"), 3);
        let dereg = Command::Deregister {
            node: "n1".into(),
            service_id: Some("web1".into()),
            check_id: None,
        };
        s.apply(5, &dereg, &mut Changes::default());
        assert!(s.service_instances("web", &[]).is_empty());
        assert!(s.service_checks("web").is_empty());
        assert_eq!(s.service_index("web"), 5);
    }

    /// Rows repeat their node's name, their service's name and tags; the tables hand every
    /// row the copy already held, after applies and after a snapshot restore alike.
    #[test]
    fn repeated_names_and_tags_share_one_allocation() {
        fn instance(node: &str, id: &str) -> Command {
            Command::Register {
                node: Node {
                    node: node.into(),
                    address: "10.0.0.1".into(),
                    ..Default::default()
                },
                skip_node_update: false,
                service: Some(Service {
                    id: id.into(),
                    service: "web".into(),
                    tags: vec!["primary".to_string(), "v1".to_string()].into(),
                    ..Default::default()
                }),
                checks: vec![Check {
                    check_id: format!("service:{id}").into(),
                    service_id: id.into(),
                    status: status::PASSING.into(),
                    ..Default::default()
                }],
            }
        }
        fn assert_shared(s: &Store) {
            let rows: Vec<_> = s.services.iter().collect();
            assert_eq!(rows.len(), 3);
            let (a, b, c) = (rows[0], rows[1], rows[2]);
            let n1 = &s.nodes.get("n1").unwrap().node;
            assert!(a.node.ptr_eq(n1) && b.node.ptr_eq(n1), "node names shared");
            assert!(a.service.ptr_eq(&b.service) && a.service.ptr_eq(&c.service));
            assert!(a.tags.ptr_eq(&b.tags) && a.tags.ptr_eq(&c.tags));
            for svc in [a, b, c] {
                let chk = s
                    .checks
                    .get(&svc.node, &format!("service:{}", svc.id))
                    .unwrap();
                assert!(chk.node.ptr_eq(&svc.node));
                assert!(chk.service_id.ptr_eq(&svc.id));
                assert!(chk.service_name.ptr_eq(&svc.service));
                assert!(chk.service_tags.ptr_eq(&svc.tags));
                assert!(chk.status.ptr_eq(&Name::status(status::PASSING)));
            }
        }
        let mut s = Store::new();
        for (i, (node, id)) in [("n1", "web1"), ("n1", "web2"), ("n2", "web3")]
            .iter()
            .enumerate()
        {
            let r = s.apply(i as u64 + 1, &instance(node, id), &mut Changes::default());
            assert_eq!(r, Response::Bool(true));
        }
        assert_shared(&s);
        let mut buf = Vec::new();
        crate::state::snapshot::write(&s, b"m", &mut buf).unwrap();
        let (_, restored) = crate::state::snapshot::read(&mut &buf[..]).unwrap();
        assert_shared(&restored);
        // Different tags are not merged.
        let mut other = instance("n2", "web4");
        if let Command::Register {
            service: Some(svc), ..
        } = &mut other
        {
            svc.tags = vec!["canary".to_string()].into();
        }
        s.apply(9, &other, &mut Changes::default());
        let web4 = s.services.get("n2", "web4").unwrap();
        assert_eq!(&*web4.tags, &["canary".to_string()]);
        assert!(
            !web4
                .tags
                .ptr_eq(&s.services.get("n1", "web1").unwrap().tags)
        );
    }

    fn session(id: &str, node: &str, behavior: Behavior, checks: &[&str]) -> Command {
        Command::SessionCreate(Session {
            id: id.into(),
            node: node.into(),
            behavior,
            lock_delay_ns: 15_000_000_000,
            node_checks: checks.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        })
    }

    fn lock(key: &str, session: &str) -> Command {
        Command::Kv(KvOp::Lock {
            key: key.into(),
            value: b"v".to_vec(),
            flags: 0,
            session: session.into(),
        })
    }

    fn unlock(key: &str, session: &str) -> Command {
        Command::Kv(KvOp::Unlock {
            key: key.into(),
            value: b"w".to_vec(),
            flags: 0,
            session: session.into(),
        })
    }

    /// n1 with a passing serfHealth and a passing "web" check.
    fn node_with_checks() -> Store {
        let mut s = Store::new();
        let (node, _) = web_on_n1();
        let check = |id: &str| Check {
            check_id: id.into(),
            status: status::PASSING.into(),
            ..Default::default()
        };
        s.apply(
            1,
            &Command::Register {
                node,
                skip_node_update: false,
                service: None,
                checks: vec![check("serfHealth"), check("web")],
            },
            &mut Changes::default(),
        );
        s
    }

    /// n1's "web" check turns critical at `index`.
    fn fail_web(s: &mut Store, index: u64, c: &mut Changes) {
        let update = CheckUpdate {
            node: "n1".into(),
            check_id: "web".into(),
            status: status::CRITICAL.into(),
            output: String::new(),
        };
        s.apply(index, &Command::UpdateChecks(vec![update]), c);
    }

    #[test]
    fn sessions_need_their_node_and_healthy_checks() {
        let mut s = node_with_checks();
        let err = |r: Response| match r {
            Response::Error(e) => e,
            other => panic!("expected an error, got {other:?}"),
        };
        let mut c = Changes::default();
        assert_eq!(
            err(s.apply(2, &session("a", "n2", Behavior::Release, &[]), &mut c)),
            "Missing node registration"
        );
        assert_eq!(
            err(s.apply(2, &session("a", "n1", Behavior::Release, &["nope"]), &mut c)),
            "Missing check 'nope' registration"
        );
        fail_web(&mut s, 2, &mut c);
        assert_eq!(
            err(s.apply(3, &session("a", "n1", Behavior::Release, &["web"]), &mut c)),
            "Check 'web' is in critical state"
        );
        assert_eq!(s.sessions().count(), 0, "a refused create changes nothing");
        assert_eq!(
            s.apply(
                4,
                &session("a", "n1", Behavior::Release, &["serfHealth"]),
                &mut c
            ),
            Response::Bool(true)
        );
        assert_eq!(s.session("a").unwrap().create_index, 4);
        assert_eq!(s.table_index(Table::Sessions), 4);
    }

    #[test]
    fn locks_have_one_holder_and_follow_consul() {
        let mut s = node_with_checks();
        let mut c = Changes::default();
        s.apply(2, &session("a", "n1", Behavior::Release, &[]), &mut c);
        s.apply(3, &session("b", "n1", Behavior::Release, &[]), &mut c);
        assert_eq!(s.apply(4, &lock("k", "a"), &mut c), Response::Bool(true));
        let e = s.kv_get("k").unwrap();
        assert_eq!((e.lock_index, e.session.as_deref()), (1, Some("a")));
        assert_eq!(s.apply(5, &lock("k", "b"), &mut c), Response::Bool(false));
        assert_eq!(
            s.kv_get("k").unwrap().modify_index,
            4,
            "a lost race writes nothing"
        );
        assert_eq!(s.apply(6, &lock("k", "a"), &mut c), Response::Bool(true));
        assert_eq!(
            s.kv_get("k").unwrap().lock_index,
            1,
            "the holder re-acquiring"
        );
        assert_eq!(s.apply(7, &unlock("k", "b"), &mut c), Response::Bool(false));
        assert_eq!(
            s.apply(7, &unlock("k", "zzz"), &mut c),
            Response::Bool(false)
        );
        assert_eq!(s.apply(8, &unlock("k", "a"), &mut c), Response::Bool(true));
        let e = s.kv_get("k").unwrap();
        assert_eq!((e.lock_index, e.session.as_deref()), (1, None));
        assert_eq!(e.value(), b"w", "release writes its body");
        assert_eq!(s.apply(9, &lock("k", "b"), &mut c), Response::Bool(true));
        assert_eq!(
            s.kv_get("k").unwrap().lock_index,
            2,
            "a new holder bumps it"
        );
        assert!(
            matches!(s.apply(10, &lock("k", "ghost"), &mut c), Response::Error(e) if e == "invalid session \"ghost\"")
        );
        assert!(
            matches!(s.apply(10, &lock("k", ""), &mut c), Response::Error(e) if e == "missing session")
        );
        // A plain write keeps the holder.
        s.apply(11, &set("k", None), &mut c);
        assert_eq!(s.kv_get("k").unwrap().session.as_deref(), Some("b"));
        assert_eq!(s.keys_held_by("b").collect::<Vec<_>>(), ["k"]);
    }

    #[test]
    fn invalidation_releases_or_deletes_in_the_same_entry() {
        let mut s = node_with_checks();
        let mut c = Changes::default();
        s.apply(
            2,
            &session("rel", "n1", Behavior::Release, &["web"]),
            &mut c,
        );
        s.apply(
            3,
            &session("del", "n1", Behavior::Delete, &["serfHealth"]),
            &mut c,
        );
        s.apply(4, &lock("a", "rel"), &mut c);
        s.apply(5, &lock("b", "del"), &mut c);
        // The linked check goes critical: "rel" ends and its key is released at that index.
        let mut c = Changes::default();
        fail_web(&mut s, 6, &mut c);
        assert!(s.session("rel").is_none());
        let a = s.kv_get("a").unwrap();
        assert_eq!(
            (a.session.as_deref(), a.lock_index, a.modify_index),
            (None, 1, 6)
        );
        assert_eq!(s.table_index(Table::Sessions), 6);
        let delays: Vec<_> = c.lock_delays().map(|(k, d)| (k.to_string(), d)).collect();
        assert_eq!(delays, [("a".to_string(), Duration::from_secs(15))]);
        // The node goes: "del" ends and deletes its key.
        s.apply(
            7,
            &Command::Deregister {
                node: "n1".into(),
                service_id: None,
                check_id: None,
            },
            &mut Changes::default(),
        );
        assert!(s.session("del").is_none());
        assert!(s.kv_get("b").is_none());
        assert_eq!(s.kv_key_index("b"), 7);
    }

    #[test]
    fn sessions_and_their_locks_survive_a_snapshot() {
        let mut s = node_with_checks();
        let mut c = Changes::default();
        s.apply(
            2,
            &session("a", "n1", Behavior::Release, &["serfHealth"]),
            &mut c,
        );
        s.apply(3, &lock("k", "a"), &mut c);
        let bytes = crate::state::snapshot::to_vec(&s, b"").unwrap();
        let (_, mut r) = crate::state::snapshot::read(&mut &bytes[..]).unwrap();
        assert_eq!(r.session("a"), s.session("a"));
        assert_eq!(r.table_index(Table::Sessions), 2);
        r.apply(
            4,
            &Command::SessionDestroy { id: "a".into() },
            &mut Changes::default(),
        );
        assert_eq!(
            r.kv_get("k").unwrap().session,
            None,
            "the held index was rebuilt"
        );
    }

    #[test]
    fn snapshot_round_trip() {
        let mut s = Store::new();
        s.apply(1, &set("k", None), &mut Changes::default());
        let (node, svc) = web_on_n1();
        s.apply(
            2,
            &Command::Register {
                node,
                skip_node_update: false,
                service: Some(svc),
                checks: vec![],
            },
            &mut Changes::default(),
        );
        let bytes = super::super::snapshot::to_vec(&s, b"").unwrap();
        let (_, r) = super::super::snapshot::read(&mut bytes.as_slice()).unwrap();
        assert_eq!(r.kv_get("k").unwrap().value(), b"v");
        assert_eq!(r.table_index(Table::Kv), 1);
        assert_eq!(
            r.service_instances("web", &[]).len(),
            1,
            "name index rebuilt on restore"
        );
    }

    #[test]
    fn renamed_service_moves_between_names() {
        let mut s = Store::new();
        let node = Node {
            node: "n1".into(),
            address: "10.0.0.1".into(),
            ..Default::default()
        };
        let mk = |name: &str| Service {
            id: "x".into(),
            service: name.into(),
            ..Default::default()
        };
        s.apply(
            1,
            &Command::Register {
                node: node.clone(),
                skip_node_update: false,
                service: Some(mk("a")),
                checks: vec![],
            },
            &mut Changes::default(),
        );
        s.apply(
            2,
            &Command::Register {
                node,
                skip_node_update: false,
                service: Some(mk("b")),
                checks: vec![],
            },
            &mut Changes::default(),
        );
        assert!(s.service_instances("a", &[]).is_empty());
        assert_eq!(s.service_instances("b", &[]).len(), 1);
        assert_eq!(s.service_names().len(), 1);
    }
}
