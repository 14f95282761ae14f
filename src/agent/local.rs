//! Services and checks registered on this agent, persisted in sled so a restarted agent
//! restores them (as Consul does under `data_dir`).

use std::collections::BTreeMap;

use crate::state::{Check, Service};

/// The agent-owned services and checks, mirrored to sled on every change.
pub struct Local {
    services: BTreeMap<String, Service>,
    checks: BTreeMap<String, Check>,
    svc_tree: sled::Tree,
    chk_tree: sled::Tree,
    db: sled::Db,
    durable: bool,
}

/// Storage failure of the local state.
#[derive(Debug, thiserror::Error)]
#[error("local state: {0}")]
pub struct LocalError(String);

fn err(e: impl std::fmt::Display) -> LocalError {
    LocalError(e.to_string())
}

impl Local {
    /// Load the local state from `db`.
    pub fn open(db: &sled::Db, durable: bool) -> Result<Self, LocalError> {
        let svc_tree = db.open_tree("local_services").map_err(err)?;
        let chk_tree = db.open_tree("local_checks").map_err(err)?;
        let mut services = BTreeMap::new();
        for item in svc_tree.iter() {
            let (_, v) = item.map_err(err)?;
            let s: Service = postcard::from_bytes(&v).map_err(err)?;
            services.insert(s.id.clone(), s);
        }
        let mut checks = BTreeMap::new();
        for item in chk_tree.iter() {
            let (_, v) = item.map_err(err)?;
            let c: Check = postcard::from_bytes(&v).map_err(err)?;
            checks.insert(c.check_id.clone(), c);
        }
        Ok(Local {
            services,
            checks,
            svc_tree,
            chk_tree,
            db: db.clone(),
            durable,
        })
    }

    fn flush(&self) -> Result<(), LocalError> {
        if self.durable {
            self.db.flush().map_err(err)?;
        }
        Ok(())
    }

    /// Local services by ID.
    pub fn services(&self) -> impl Iterator<Item = &Service> {
        self.services.values()
    }

    /// One service.
    pub fn service(&self, id: &str) -> Option<&Service> {
        self.services.get(id)
    }

    /// Local checks by ID.
    pub fn checks(&self) -> impl Iterator<Item = &Check> {
        self.checks.values()
    }

    /// One check.
    pub fn check(&self, id: &str) -> Option<&Check> {
        self.checks.get(id)
    }

    /// Add or replace a service and its checks; returns the IDs of checks removed by
    /// `replace_checks`.
    pub fn add_service(
        &mut self,
        svc: Service,
        checks: Vec<Check>,
        replace_checks: bool,
    ) -> Result<Vec<String>, LocalError> {
        let mut removed = Vec::new();
        if replace_checks {
            for c in self.checks.values() {
                if c.service_id == svc.id && !checks.iter().any(|n| n.check_id == c.check_id) {
                    removed.push(c.check_id.clone());
                }
            }
        }
        for id in &removed {
            self.checks.remove(id);
            self.chk_tree.remove(id.as_bytes()).map_err(err)?;
        }
        self.svc_tree
            .insert(svc.id.as_bytes(), postcard::to_stdvec(&svc).map_err(err)?)
            .map_err(err)?;
        self.services.insert(svc.id.clone(), svc);
        for c in checks {
            self.chk_tree
                .insert(c.check_id.as_bytes(), postcard::to_stdvec(&c).map_err(err)?)
                .map_err(err)?;
            self.checks.insert(c.check_id.clone(), c);
        }
        self.flush()?;
        Ok(removed)
    }

    /// Remove a service and its checks; `None` if it was not registered, else the check IDs removed.
    pub fn remove_service(&mut self, id: &str) -> Result<Option<Vec<String>>, LocalError> {
        if self.services.remove(id).is_none() {
            return Ok(None);
        }
        self.svc_tree.remove(id.as_bytes()).map_err(err)?;
        let ids: Vec<String> = self
            .checks
            .values()
            .filter(|c| c.service_id == id)
            .map(|c| c.check_id.clone())
            .collect();
        for c in &ids {
            self.checks.remove(c);
            self.chk_tree.remove(c.as_bytes()).map_err(err)?;
        }
        self.flush()?;
        Ok(Some(ids))
    }

    /// Add or replace a check.
    pub fn add_check(&mut self, c: Check) -> Result<(), LocalError> {
        self.chk_tree
            .insert(c.check_id.as_bytes(), postcard::to_stdvec(&c).map_err(err)?)
            .map_err(err)?;
        self.checks.insert(c.check_id.clone(), c);
        self.flush()
    }

    /// Remove a check; false if it did not exist.
    pub fn remove_check(&mut self, id: &str) -> Result<bool, LocalError> {
        if self.checks.remove(id).is_none() {
            return Ok(false);
        }
        self.chk_tree.remove(id.as_bytes()).map_err(err)?;
        self.flush()?;
        Ok(true)
    }

    /// Set a check's status and output (kept in memory; statuses are re-derived after a restart).
    pub fn set_status(&mut self, id: &str, status: &str, output: &str) -> Result<(), LocalError> {
        if let Some(c) = self.checks.get_mut(id) {
            c.status = status.to_string();
            c.output = output.to_string();
        }
        Ok(())
    }
}
