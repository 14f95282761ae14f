//! Catalog writes: register, deregister and check updates, which touch the nodes, services
//! and checks tables together and keep the per-service indexes in step with all three.

use super::changes::Changes;
use super::checks::ChecksTable;
use super::command::{CheckUpdate, Response};
use super::model::{Check, Name, Node, Service};
use super::nodes::NodesTable;
use super::services::ServicesTable;
use super::status;

/// Longest `Output` a check keeps; longer output is cut (Consul's default OutputMaxSize).
const MAX_OUTPUT: usize = 4096;

/// The three catalog tables, borrowed together for one write.
pub struct Catalog<'a> {
    /// Nodes.
    pub nodes: &'a mut NodesTable,
    /// Service instances.
    pub services: &'a mut ServicesTable,
    /// Checks.
    pub checks: &'a mut ChecksTable,
    /// What this write did that invalidates sessions; the store acts on it in the same
    /// entry.
    pub invalidating: Invalidating,
}

/// Catalog changes that end the sessions tied to them (Consul's `deleteNodeTxn`,
/// `ensureCheckTxn`, `deleteCheckTxn`).
#[derive(Debug, Default)]
pub struct Invalidating {
    /// Nodes deregistered: every session on them ends.
    pub nodes: Vec<Name>,
    /// (node, check ID) of checks written critical (even unchanged) or removed: the
    /// sessions linked to them end.
    pub checks: Vec<(Name, Name)>,
}

fn truncate_output(s: &str) -> String {
    if s.len() <= MAX_OUTPUT {
        return s.to_string();
    }
    let mut cut = MAX_OUTPUT;
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    s[..cut].to_string()
}

/// `svc` sharing the strings the tables already hold: its node's name (the node table's
/// copy) and, through [`ServicesTable::shared`], its service name, ID and tags.
pub(super) fn share_service(nodes: &NodesTable, services: &ServicesTable, svc: Service) -> Service {
    let mut svc = services.shared(svc);
    if let Some(n) = nodes.name(&svc.node) {
        svc.node = n;
    }
    svc
}

/// `c` sharing the strings the tables already hold: its node's name, its own ID if the
/// check exists, a valid status, and its instance's ID, name and tags.
pub(super) fn share_check(
    nodes: &NodesTable,
    services: &ServicesTable,
    checks: &ChecksTable,
    mut c: Check,
) -> Check {
    if let Some(n) = nodes.name(&c.node) {
        c.node = n;
    }
    c.status = Name::status(&c.status);
    if let Some(held) = checks.get(&c.node, &c.check_id) {
        c.check_id = held.check_id.clone();
    }
    if !c.service_id.is_empty()
        && let Some(s) = services.get(&c.node, &c.service_id)
    {
        c.service_id = s.id.clone();
        c.service_name = c.service_name.share(&s.service);
        c.service_tags = c.service_tags.share(&s.tags);
    }
    c
}

/// Whether `new` (its indexes cleared) is not what is stored: a register that changes
/// nothing writes nothing and moves no index.
fn differs<T: Clone + PartialEq>(existing: Option<&T>, new: &T, clear: fn(&mut T)) -> bool {
    existing.is_none_or(|e| {
        let mut stored = e.clone();
        clear(&mut stored);
        stored != *new
    })
}

impl Catalog<'_> {
    /// A node or node-check change affects every service on the node.
    fn bump_node_services(&mut self, node: &str, index: u64, changes: &mut Changes) {
        let names: Vec<Name> = self
            .services
            .on_node(node)
            .map(|s| s.service.clone())
            .collect();
        for n in names {
            self.services.bump_name(&n, index, changes);
        }
    }

    /// Catalog register: upsert a node, optionally a service and checks. Validates
    /// everything before changing anything, and writes only what differs.
    pub fn register(
        &mut self,
        index: u64,
        node: &Node,
        skip_node_update: bool,
        service: Option<&Service>,
        checks: &[Check],
        changes: &mut Changes,
    ) -> Response {
        if node.node.is_empty() {
            return Response::Error("Must provide node".into());
        }
        if service.is_some_and(|s| s.service.is_empty()) {
            return Response::Error("Must provide service name".into());
        }
        for c in checks {
            if !c.status.is_empty() && !status::is_valid(&c.status) {
                return Response::Error(format!("Invalid check status: '{}'", c.status));
            }
            if !c.service_id.is_empty() {
                let in_request = service.is_some_and(|s| s.id == c.service_id);
                let stored = self.services.get(&node.node, &c.service_id).is_some();
                if !in_request && !stored {
                    return Response::Error(format!(
                        "Unknown service ID '{}' for check ID '{}'",
                        c.service_id, c.check_id
                    ));
                }
            }
        }

        let name = node.node.as_str();
        let existing = self.nodes.get(name);
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
            let mut n = node.clone();
            n.create_index = existing.map(|e| e.create_index).unwrap_or(index);
            n.modify_index = index;
            self.nodes.put(n, index, changes);
            self.bump_node_services(name, index, changes);
        }

        // Every row on the node shares the node table's copy of its name.
        let node_name = self.nodes.name(name).unwrap_or_else(|| node.node.clone());
        if let Some(s) = service {
            self.register_service(index, &node_name, s, changes);
        }
        for c in checks {
            self.register_check(index, &node_name, c, changes);
        }
        Response::Bool(true)
    }

    fn register_service(&mut self, index: u64, node: &Name, s: &Service, changes: &mut Changes) {
        let mut new = share_service(self.nodes, self.services, s.clone());
        new.node = node.clone();
        new.create_index = 0;
        new.modify_index = 0;
        let existing = self.services.get(node, &s.id);
        if !differs(existing, &new, |s| {
            (s.create_index, s.modify_index) = (0, 0)
        }) {
            return;
        }
        new.create_index = existing.map(|e| e.create_index).unwrap_or(index);
        new.modify_index = index;
        // Checks carry the service's name and tags: keep them in step.
        let stale: Vec<Check> = self
            .checks
            .on_node(node)
            .filter(|c| {
                c.service_id == new.id
                    && (c.service_name != new.service || c.service_tags != new.tags)
            })
            .cloned()
            .collect();
        for mut c in stale {
            c.service_name = new.service.clone();
            c.service_tags = new.tags.clone();
            c.modify_index = index;
            self.checks.put(c, index, changes);
        }
        self.services.put(new, index, changes);
    }

    fn register_check(&mut self, index: u64, node: &Name, c: &Check, changes: &mut Changes) {
        let mut new = c.clone();
        new.node = node.clone();
        new.create_index = 0;
        new.modify_index = 0;
        new.status = Name::status_or_critical(&new.status);
        if new.status == status::CRITICAL {
            self.invalidating
                .checks
                .push((node.clone(), new.check_id.clone()));
        }
        new.output = truncate_output(&new.output);
        if new.service_id.is_empty() {
            new.service_name = Name::default();
            new.service_tags = Default::default();
        } else if let Some(s) = self.services.get(node, &new.service_id) {
            new.service_name = s.service.clone();
            new.service_tags = s.tags.clone();
        }
        let mut new = share_check(self.nodes, self.services, self.checks, new);
        let existing = self.checks.get(node, &new.check_id);
        if !differs(existing, &new, |c| {
            (c.create_index, c.modify_index) = (0, 0)
        }) {
            return;
        }
        new.create_index = existing.map(|e| e.create_index).unwrap_or(index);
        new.modify_index = index;
        // A check that moves between the node and a service (or between services) changes
        // what both sides' queries return.
        let moved_from = existing
            .filter(|e| e.service_id != new.service_id)
            .map(|e| (e.service_id.is_empty(), e.service_name.clone()));
        self.bump_for_check(
            index,
            node,
            new.service_id.is_empty(),
            &new.service_name,
            changes,
        );
        if let Some((node_level, name)) = moved_from {
            self.bump_for_check(index, node, node_level, &name, changes);
        }
        self.checks.put(new, index, changes);
    }

    /// A check changed: move the index of what shows it (every service on its node for a
    /// node check, its service otherwise).
    fn bump_for_check(
        &mut self,
        index: u64,
        node: &str,
        node_level: bool,
        service_name: &str,
        changes: &mut Changes,
    ) {
        if node_level {
            self.bump_node_services(node, index, changes);
        } else {
            self.services.bump_name(service_name, index, changes);
        }
    }

    fn remove_check(&mut self, index: u64, node: &str, id: &str, changes: &mut Changes) {
        if let Some(c) = self.checks.remove(node, id, index, changes) {
            self.invalidating
                .checks
                .push((c.node.clone(), c.check_id.clone()));
            self.bump_for_check(
                index,
                node,
                c.service_id.is_empty(),
                &c.service_name,
                changes,
            );
        }
    }

    fn remove_service(&mut self, index: u64, node: &str, id: &str, changes: &mut Changes) {
        if self.services.remove(node, id, index, changes).is_some() {
            let ids: Vec<Name> = self
                .checks
                .on_node(node)
                .filter(|c| c.service_id == id)
                .map(|c| c.check_id.clone())
                .collect();
            for cid in ids {
                self.remove_check(index, node, &cid, changes);
            }
        }
    }

    /// Catalog deregister: a service (with its checks), a check, or the whole node.
    pub fn deregister(
        &mut self,
        index: u64,
        node: &str,
        service_id: Option<&str>,
        check_id: Option<&str>,
        changes: &mut Changes,
    ) -> Response {
        if node.is_empty() {
            return Response::Error("Must provide node".into());
        }
        match (service_id, check_id) {
            (Some(sid), _) if !sid.is_empty() => self.remove_service(index, node, sid, changes),
            (_, Some(cid)) if !cid.is_empty() => self.remove_check(index, node, cid, changes),
            _ => {
                let ids: Vec<Name> = self.services.on_node(node).map(|s| s.id.clone()).collect();
                for id in ids {
                    self.remove_service(index, node, &id, changes);
                }
                let cids: Vec<Name> = self
                    .checks
                    .on_node(node)
                    .map(|c| c.check_id.clone())
                    .collect();
                for cid in cids {
                    self.remove_check(index, node, &cid, changes);
                }
                if self.nodes.remove(node, index, changes) {
                    self.invalidating.nodes.push(Name::from(node));
                }
            }
        }
        Response::Bool(true)
    }

    /// Update check statuses; an invalid status rejects the whole batch.
    pub fn update_checks(
        &mut self,
        index: u64,
        updates: &[CheckUpdate],
        changes: &mut Changes,
    ) -> Response {
        for u in updates {
            if !status::is_valid(&u.status) {
                return Response::Error(format!("Invalid check status: '{}'", u.status));
            }
        }
        for u in updates {
            let Some(c) = self.checks.get(&u.node, &u.check_id) else {
                continue;
            };
            let output = truncate_output(&u.output);
            if c.status == u.status && c.output == output {
                continue;
            }
            let mut c = c.clone();
            c.status = Name::status(&u.status);
            if c.status == status::CRITICAL {
                self.invalidating
                    .checks
                    .push((c.node.clone(), c.check_id.clone()));
            }
            c.output = output;
            c.modify_index = index;
            self.bump_for_check(
                index,
                &u.node,
                c.service_id.is_empty(),
                &c.service_name,
                changes,
            );
            self.checks.put(c, index, changes);
        }
        Response::Bool(true)
    }
}
