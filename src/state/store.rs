//! The in-memory tables and the logic that applies commands and answers queries.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::{Deserialize, Serialize};

use super::command::{CheckUpdate, Command, KvOp, Response};
use super::model::{Check, KvEntry, Node, Service};
use super::status;
use super::watch::{WatchSet, Watches};

/// The tables a query can depend on; each has its own index and watch channel.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Catalog nodes.
    Nodes = 0,
    /// Catalog services.
    Services = 1,
    /// Health checks.
    Checks = 2,
    /// The KV tree.
    Kv = 3,
}

impl Table {
    /// Number of tables.
    pub const COUNT: usize = 4;
}

/// Which checks a health-state query returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckFilter {
    /// Every check.
    Any,
    /// Only checks in this status.
    Status(&'static str),
}

/// Everything that is replicated, in the form snapshots persist.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Tables {
    nodes: BTreeMap<String, Node>,
    /// Keyed by (node, service ID).
    services: BTreeMap<(String, String), Service>,
    /// Keyed by (node, check ID).
    checks: BTreeMap<(String, String), Check>,
    kv: BTreeMap<String, KvEntry>,
    /// Max index per table (deletions included).
    indexes: [u64; Table::COUNT],
    /// Max index per service name: changes to its instances, their checks and their nodes.
    service_indexes: HashMap<String, u64>,
    /// Highest index applied.
    last_index: u64,
    /// Instances by service name, derived from `services` (rebuilt on restore, not persisted).
    #[serde(skip)]
    by_name: HashMap<String, BTreeSet<(String, String)>>,
}

/// Decoded snapshot tables (see [`Store::decode_snapshot`]).
pub struct Snapshot(Tables);

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

/// The state store. Reads take `&self`; the Raft state machine is the only writer.
#[derive(Debug, Default)]
pub struct Store {
    t: Tables,
    watches: Watches,
}

/// Longest `Output` a check keeps; longer output is cut (Consul's default OutputMaxSize).
const MAX_OUTPUT: usize = 4096;

impl Store {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Highest Raft index applied.
    pub fn last_index(&self) -> u64 {
        self.t.last_index
    }

    /// Index of one table, never 0 (Consul clients treat 0 as "no data yet").
    pub fn table_index(&self, table: Table) -> u64 {
        self.t.indexes[table as usize].max(1)
    }

    /// Max index over several tables, never 0.
    pub fn tables_index(&self, tables: &[Table]) -> u64 {
        tables
            .iter()
            .map(|t| self.t.indexes[*t as usize])
            .max()
            .unwrap_or(0)
            .max(1)
    }

    /// Index of everything a query about service `name` depends on, never 0.
    pub fn service_index(&self, name: &str) -> u64 {
        match self.t.service_indexes.get(name) {
            Some(i) => (*i).max(1),
            None => self.tables_index(&[Table::Services]),
        }
    }

    /// Subscribe to changes of the given tables.
    pub fn watch(&self, tables: &[Table]) -> WatchSet {
        self.watches.subscribe(tables)
    }

    /// Serialize the tables for a Raft snapshot.
    pub fn to_snapshot(&self) -> Result<Vec<u8>, postcard::Error> {
        self.to_snapshot_sized(0)
    }

    /// [`Store::to_snapshot`] into a buffer of `capacity` bytes (the previous snapshot's
    /// size is a good guess): a large store then serialises without the reallocations and
    /// copies of a growing buffer, which shortens the time the store is held.
    pub fn to_snapshot_sized(&self, capacity: usize) -> Result<Vec<u8>, postcard::Error> {
        postcard::to_extend(&self.t, Vec::with_capacity(capacity))
    }

    /// Replace the tables with a snapshot's, waking every watcher.
    pub fn restore(&mut self, bytes: &[u8]) -> Result<(), postcard::Error> {
        let decoded = Store::decode_snapshot(bytes)?;
        self.install(decoded);
        Ok(())
    }

    /// Decode a snapshot into tables without touching any store, so the decoding (the slow
    /// part) runs before the store's write guard is taken.
    pub fn decode_snapshot(bytes: &[u8]) -> Result<Snapshot, postcard::Error> {
        let mut t: Tables = postcard::from_bytes(bytes)?;
        for (key, svc) in &t.services {
            t.by_name
                .entry(svc.service.clone())
                .or_default()
                .insert(key.clone());
        }
        Ok(Snapshot(t))
    }

    /// Swap in decoded tables, waking every watcher; returns the old ones so the caller can
    /// drop them after releasing the write guard.
    pub fn install(&mut self, snapshot: Snapshot) -> Snapshot {
        let old = std::mem::replace(&mut self.t, snapshot.0);
        for table in [Table::Nodes, Table::Services, Table::Checks, Table::Kv] {
            self.watches.notify(table, self.t.indexes[table as usize]);
        }
        Snapshot(old)
    }

    /// Record that nothing but the index moved (blank and membership entries).
    pub fn advance(&mut self, index: u64) {
        self.t.last_index = self.t.last_index.max(index);
    }

    /// Apply one command at Raft index `index`. A rejected command changes nothing.
    pub fn apply(&mut self, index: u64, cmd: &Command) -> Response {
        self.advance(index);
        let mut touched = Touched::default();
        let resp = apply_one(&mut self.t, index, cmd, &mut touched);
        for table in touched.tables {
            self.watches.notify(table, self.t.indexes[table as usize]);
        }
        resp
    }

    // ---- catalog queries ----

    /// Every node, sorted by name.
    pub fn nodes(&self) -> Vec<&Node> {
        self.t.nodes.values().collect()
    }

    /// One node.
    pub fn node(&self, name: &str) -> Option<&Node> {
        self.t.nodes.get(name)
    }

    /// The services registered on a node, sorted by ID.
    pub fn node_services(&self, node: &str) -> Vec<&Service> {
        on_node(&self.t.services, node).map(|(_, s)| s).collect()
    }

    /// One service instance.
    pub fn service(&self, node: &str, id: &str) -> Option<&Service> {
        self.t.services.get(&(node.to_string(), id.to_string()))
    }

    /// Service names with the union of their instances' tags, sorted.
    pub fn service_names(&self) -> BTreeMap<&str, BTreeSet<&str>> {
        let mut out: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for s in self.t.services.values() {
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
        for c in self.t.checks.values() {
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
        for s in self.t.services.values() {
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
        let Some(keys) = self.t.by_name.get(name) else {
            return Vec::new();
        };
        keys.iter()
            .filter_map(|k| self.t.services.get(k))
            .filter(|s| tags.iter().all(|t| s.tags.contains(t)))
            .filter_map(|s| self.t.nodes.get(&s.node).map(|n| (n, s)))
            .collect()
    }

    /// Checks of a node, ordered by ID.
    pub fn node_checks(&self, node: &str) -> Vec<&Check> {
        on_node(&self.t.checks, node).map(|(_, c)| c).collect()
    }

    /// The checks that decide an instance's health: the node's own checks plus the instance's.
    pub fn instance_checks(&self, node: &str, service_id: &str) -> Vec<&Check> {
        self.node_checks(node)
            .into_iter()
            .filter(|c| c.service_id.is_empty() || c.service_id == service_id)
            .collect()
    }

    /// Every check of every instance of a service, ordered by (node, check ID).
    pub fn service_checks(&self, name: &str) -> Vec<&Check> {
        let Some(keys) = self.t.by_name.get(name) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for (node, id) in keys {
            out.extend(
                self.node_checks(node)
                    .into_iter()
                    .filter(|c| &c.service_id == id),
            );
        }
        out
    }

    /// Checks in a state, ordered by (node, check ID).
    pub fn checks_in_state(&self, filter: CheckFilter) -> Vec<&Check> {
        self.t
            .checks
            .values()
            .filter(|c| match filter {
                CheckFilter::Any => true,
                CheckFilter::Status(s) => c.status == s,
            })
            .collect()
    }

    /// One check.
    pub fn check(&self, node: &str, check_id: &str) -> Option<&Check> {
        self.t.checks.get(&(node.to_string(), check_id.to_string()))
    }

    // ---- KV queries ----

    /// One entry.
    pub fn kv_get(&self, key: &str) -> Option<&KvEntry> {
        self.t.kv.get(key)
    }

    /// Every entry under a prefix, sorted by key.
    pub fn kv_list(&self, prefix: &str) -> Vec<&KvEntry> {
        self.t
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
            .map(|(_, e)| e)
            .collect()
    }

    /// Keys under a prefix; with a separator, keys are cut after the first separator past the
    /// prefix and de-duplicated (Consul's `?keys&separator=`).
    pub fn kv_keys(&self, prefix: &str, separator: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for (k, _) in self
            .t
            .kv
            .range(prefix.to_string()..)
            .take_while(|(k, _)| k.starts_with(prefix))
        {
            let rest = &k[prefix.len()..];
            let key = match (separator.is_empty(), rest.find(separator)) {
                (false, Some(pos)) => &k[..prefix.len() + pos + separator.len()],
                _ => k.as_str(),
            };
            if out.last().map(String::as_str) != Some(key) {
                out.push(key.to_string());
            }
        }
        out
    }

    /// Number of KV entries (for metrics and `info`).
    pub fn kv_len(&self) -> usize {
        self.t.kv.len()
    }

    /// Number of (nodes, services, checks).
    pub fn catalog_counts(&self) -> (usize, usize, usize) {
        (
            self.t.nodes.len(),
            self.t.services.len(),
            self.t.checks.len(),
        )
    }
}

/// Tables changed while applying, to notify afterwards.
#[derive(Default)]
struct Touched {
    tables: BTreeSet<Table>,
}

/// Rows of a (node, id)-keyed table that belong to `node`, in id order.
fn on_node<'a, 'n, V>(
    table: &'a BTreeMap<(String, String), V>,
    node: &'n str,
) -> impl Iterator<Item = (&'a (String, String), &'a V)> + use<'a, 'n, V> {
    table
        .range((node.to_string(), String::new())..)
        .take_while(move |((n, _), _)| n == node)
}

fn bump(t: &mut Tables, touched: &mut Touched, table: Table, index: u64) {
    let slot = &mut t.indexes[table as usize];
    *slot = (*slot).max(index);
    touched.tables.insert(table);
}

fn bump_service(t: &mut Tables, name: &str, index: u64) {
    let slot = t.service_indexes.entry(name.to_string()).or_insert(0);
    *slot = (*slot).max(index);
}

/// Bump the index of every service on `node` (a node or node-check change affects them all).
fn bump_node_services(t: &mut Tables, node: &str, index: u64) {
    let names: Vec<String> = on_node(&t.services, node)
        .map(|(_, s)| s.service.clone())
        .collect();
    for n in names {
        bump_service(t, &n, index);
    }
}

fn truncate_output(mut s: String) -> String {
    if s.len() > MAX_OUTPUT {
        let mut cut = MAX_OUTPUT;
        while !s.is_char_boundary(cut) {
            cut -= 1;
        }
        s.truncate(cut);
    }
    s
}

fn apply_one(t: &mut Tables, index: u64, cmd: &Command, touched: &mut Touched) -> Response {
    match cmd {
        Command::Register {
            node,
            skip_node_update,
            service,
            checks,
        } => register(
            t,
            index,
            node,
            *skip_node_update,
            service.as_ref(),
            checks,
            touched,
        ),
        Command::Deregister {
            node,
            service_id,
            check_id,
        } => deregister(
            t,
            index,
            node,
            service_id.as_deref(),
            check_id.as_deref(),
            touched,
        ),
        Command::UpdateChecks(updates) => update_checks(t, index, updates, touched),
        Command::Kv(op) => kv(t, index, op, touched),
    }
}

fn register(
    t: &mut Tables,
    index: u64,
    node: &Node,
    skip_node_update: bool,
    service: Option<&Service>,
    checks: &[Check],
    touched: &mut Touched,
) -> Response {
    if node.node.is_empty() {
        return Response::Error("Must provide node".into());
    }
    if service.is_some_and(|s| s.service.is_empty()) {
        return Response::Error("Must provide service name".into());
    }
    // Validate checks before changing anything.
    for c in checks {
        if !c.status.is_empty() && !status::is_valid(&c.status) {
            return Response::Error(format!("Invalid check status: '{}'", c.status));
        }
        if !c.service_id.is_empty() {
            let in_request = service.is_some_and(|s| s.id == c.service_id);
            let stored = t
                .services
                .contains_key(&(node.node.clone(), c.service_id.clone()));
            if !in_request && !stored {
                return Response::Error(format!(
                    "Unknown service ID '{}' for check ID '{}'",
                    c.service_id, c.check_id
                ));
            }
        }
    }

    let node_name = node.node.clone();
    let existing = t.nodes.get(&node_name);
    let write_node = match existing {
        None => true,
        Some(_) if skip_node_update => false,
        Some(e) => {
            e.id != node.id
                || e.address != node.address
                || e.datacenter != node.datacenter
                || e.tagged_addresses != node.tagged_addresses
                || e.meta != node.meta
        }
    };
    if write_node {
        let create = existing.map(|e| e.create_index).unwrap_or(index);
        let mut n = node.clone();
        n.create_index = create;
        n.modify_index = index;
        t.nodes.insert(node_name.clone(), n);
        bump(t, touched, Table::Nodes, index);
        bump_node_services(t, &node_name, index);
    }

    if let Some(s) = service {
        let key = (node_name.clone(), s.id.clone());
        let mut new = s.clone();
        new.node = node_name.clone();
        let existing = t.services.get(&key);
        let changed = match existing {
            None => true,
            Some(e) => {
                let mut cmp = e.clone();
                cmp.create_index = 0;
                cmp.modify_index = 0;
                new.create_index = 0;
                new.modify_index = 0;
                cmp != new
            }
        };
        if changed {
            if let Some(e) = existing
                && e.service != new.service
            {
                let old_name = e.service.clone();
                bump_service(t, &old_name, index);
            }
            new.create_index = t
                .services
                .get(&key)
                .map(|e| e.create_index)
                .unwrap_or(index);
            new.modify_index = index;
            bump_service(t, &new.service, index);
            if let Some(old) = t.services.get(&key)
                && old.service != new.service
                && let Some(set) = t.by_name.get_mut(&old.service)
            {
                set.remove(&key);
                if set.is_empty() {
                    let n = old.service.clone();
                    t.by_name.remove(&n);
                }
            }
            t.by_name
                .entry(new.service.clone())
                .or_default()
                .insert(key.clone());
            t.services.insert(key, new.clone());
            bump(t, touched, Table::Services, index);
            // Checks carry the service's name and tags: keep them in step.
            let mut check_changed = false;
            for ((n, _), c) in t.checks.range_mut((node_name.clone(), String::new())..) {
                if n != &node_name {
                    break;
                }
                if c.service_id == new.id
                    && (c.service_name != new.service || c.service_tags != new.tags)
                {
                    c.service_name = new.service.clone();
                    c.service_tags = new.tags.clone();
                    c.modify_index = index;
                    check_changed = true;
                }
            }
            if check_changed {
                bump(t, touched, Table::Checks, index);
            }
        }
    }

    for c in checks {
        let mut new = c.clone();
        new.node = node_name.clone();
        if new.status.is_empty() {
            new.status = status::CRITICAL.to_string();
        }
        new.output = truncate_output(new.output);
        if !new.service_id.is_empty() {
            if let Some(s) = t.services.get(&(node_name.clone(), new.service_id.clone())) {
                new.service_name = s.service.clone();
                new.service_tags = s.tags.clone();
            }
        } else {
            new.service_name.clear();
            new.service_tags.clear();
        }
        let key = (node_name.clone(), new.check_id.clone());
        let existing = t.checks.get(&key);
        let changed = match existing {
            None => true,
            Some(e) => {
                let mut cmp = e.clone();
                cmp.create_index = 0;
                cmp.modify_index = 0;
                cmp != new
            }
        };
        if changed {
            new.create_index = existing.map(|e| e.create_index).unwrap_or(index);
            new.modify_index = index;
            if new.service_id.is_empty() {
                bump_node_services(t, &node_name, index);
            } else {
                bump_service(t, &new.service_name, index);
            }
            t.checks.insert(key, new);
            bump(t, touched, Table::Checks, index);
        }
    }
    Response::Bool(true)
}

fn remove_check(
    t: &mut Tables,
    index: u64,
    node: &str,
    check_id: &str,
    touched: &mut Touched,
) -> bool {
    match t.checks.remove(&(node.to_string(), check_id.to_string())) {
        Some(c) => {
            if c.service_id.is_empty() {
                bump_node_services(t, node, index);
            } else {
                bump_service(t, &c.service_name, index);
            }
            bump(t, touched, Table::Checks, index);
            true
        }
        None => false,
    }
}

fn remove_service(t: &mut Tables, index: u64, node: &str, id: &str, touched: &mut Touched) {
    let key = (node.to_string(), id.to_string());
    if let Some(s) = t.services.remove(&key) {
        if let Some(set) = t.by_name.get_mut(&s.service) {
            set.remove(&key);
            if set.is_empty() {
                t.by_name.remove(&s.service);
            }
        }
        bump_service(t, &s.service, index);
        bump(t, touched, Table::Services, index);
        let ids: Vec<String> = on_node(&t.checks, node)
            .filter(|(_, c)| c.service_id == id)
            .map(|((_, cid), _)| cid.clone())
            .collect();
        for cid in ids {
            remove_check(t, index, node, &cid, touched);
        }
    }
}

fn deregister(
    t: &mut Tables,
    index: u64,
    node: &str,
    service_id: Option<&str>,
    check_id: Option<&str>,
    touched: &mut Touched,
) -> Response {
    if node.is_empty() {
        return Response::Error("Must provide node".into());
    }
    match (service_id, check_id) {
        (Some(sid), _) if !sid.is_empty() => remove_service(t, index, node, sid, touched),
        (_, Some(cid)) if !cid.is_empty() => {
            remove_check(t, index, node, cid, touched);
        }
        _ => {
            let ids: Vec<String> = on_node(&t.services, node)
                .map(|((_, id), _)| id.clone())
                .collect();
            for id in ids {
                remove_service(t, index, node, &id, touched);
            }
            let cids: Vec<String> = on_node(&t.checks, node)
                .map(|((_, id), _)| id.clone())
                .collect();
            for cid in cids {
                remove_check(t, index, node, &cid, touched);
            }
            if t.nodes.remove(node).is_some() {
                bump(t, touched, Table::Nodes, index);
            }
        }
    }
    Response::Bool(true)
}

fn update_checks(
    t: &mut Tables,
    index: u64,
    updates: &[CheckUpdate],
    touched: &mut Touched,
) -> Response {
    for u in updates {
        if !status::is_valid(&u.status) {
            return Response::Error(format!("Invalid check status: '{}'", u.status));
        }
    }
    for u in updates {
        let key = (u.node.clone(), u.check_id.clone());
        let Some(c) = t.checks.get_mut(&key) else {
            continue;
        };
        let output = truncate_output(u.output.clone());
        if c.status == u.status && c.output == output {
            continue;
        }
        c.status = u.status.clone();
        c.output = output;
        c.modify_index = index;
        let (sid, sname) = (c.service_id.clone(), c.service_name.clone());
        if sid.is_empty() {
            bump_node_services(t, &u.node, index);
        } else {
            bump_service(t, &sname, index);
        }
        bump(t, touched, Table::Checks, index);
    }
    Response::Bool(true)
}

fn kv(t: &mut Tables, index: u64, op: &KvOp, touched: &mut Touched) -> Response {
    match op {
        KvOp::Set {
            key,
            value,
            flags,
            cas,
        } => {
            let existing = t.kv.get(key);
            if let Some(cas) = cas {
                let ok = match existing {
                    None => *cas == 0,
                    Some(e) => *cas != 0 && e.modify_index == *cas,
                };
                if !ok {
                    return Response::Bool(false);
                }
            }
            let entry = match existing {
                Some(e) => KvEntry {
                    value: value.clone(),
                    flags: *flags,
                    modify_index: index,
                    ..e.clone()
                },
                None => KvEntry {
                    key: key.clone(),
                    value: value.clone(),
                    flags: *flags,
                    lock_index: 0,
                    session: String::new(),
                    create_index: index,
                    modify_index: index,
                },
            };
            t.kv.insert(key.clone(), entry);
            bump(t, touched, Table::Kv, index);
            Response::Bool(true)
        }
        KvOp::Delete { key, recurse, cas } => {
            if *recurse {
                let keys: Vec<String> =
                    t.kv.range(key.clone()..)
                        .take_while(|(k, _)| k.starts_with(key.as_str()))
                        .map(|(k, _)| k.clone())
                        .collect();
                if !keys.is_empty() {
                    for k in keys {
                        t.kv.remove(&k);
                    }
                    bump(t, touched, Table::Kv, index);
                }
                return Response::Bool(true);
            }
            match (t.kv.get(key), cas) {
                (None, Some(c)) => Response::Bool(*c == 0),
                (None, None) => Response::Bool(true),
                (Some(e), Some(c)) if e.modify_index != *c => Response::Bool(false),
                (Some(_), _) => {
                    t.kv.remove(key);
                    bump(t, touched, Table::Kv, index);
                    Response::Bool(true)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(s.apply(5, &set("a", Some(0))), Response::Bool(true));
        assert_eq!(s.apply(6, &set("a", Some(0))), Response::Bool(false));
        assert_eq!(
            s.table_index(Table::Kv),
            5,
            "a failed CAS leaves the index alone"
        );
        assert_eq!(s.apply(7, &set("a", Some(5))), Response::Bool(true));
        let e = s.kv_get("a").unwrap();
        assert_eq!((e.create_index, e.modify_index), (5, 7));
        let del = Command::Kv(KvOp::Delete {
            key: "a".into(),
            recurse: false,
            cas: Some(5),
        });
        assert_eq!(s.apply(8, &del), Response::Bool(false));
        assert_eq!(s.table_index(Table::Kv), 7);
    }

    #[test]
    fn keys_with_separator() {
        let mut s = Store::new();
        for (i, k) in ["base/base/foo", "base/base/bar", "base/foo", "other"]
            .iter()
            .enumerate()
        {
            s.apply(i as u64 + 1, &set(k, None));
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
        assert_eq!(s.apply(3, &cmd), Response::Bool(true));
        assert_eq!(s.service_index("web"), 3);
        assert_eq!(s.service_checks("web")[0].status, status::CRITICAL);
        // Re-registering the same thing changes nothing.
        s.apply(4, &cmd);
        assert_eq!(s.service_index("web"), 3);
        let dereg = Command::Deregister {
            node: "n1".into(),
            service_id: Some("web1".into()),
            check_id: None,
        };
        s.apply(5, &dereg);
        assert!(s.service_instances("web", &[]).is_empty());
        assert!(s.service_checks("web").is_empty());
        assert_eq!(s.service_index("web"), 5);
    }

    #[test]
    fn snapshot_round_trip() {
        let mut s = Store::new();
        s.apply(1, &set("k", None));
        let (node, svc) = web_on_n1();
        s.apply(
            2,
            &Command::Register {
                node,
                skip_node_update: false,
                service: Some(svc),
                checks: vec![],
            },
        );
        let bytes = s.to_snapshot().unwrap();
        let mut r = Store::new();
        r.restore(&bytes).unwrap();
        assert_eq!(r.kv_get("k").unwrap().value, b"v");
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
        );
        s.apply(
            2,
            &Command::Register {
                node,
                skip_node_update: false,
                service: Some(mk("b")),
                checks: vec![],
            },
        );
        assert!(s.service_instances("a", &[]).is_empty());
        assert_eq!(s.service_instances("b", &[]).len(), 1);
        assert_eq!(s.service_names().len(), 1);
    }
}
