//! Services and checks registered on this agent. Those registered through the API are
//! persisted in sled so a restarted agent restores them (as Consul does under `data_dir`);
//! those from config files are not, because the config is their source of truth and is read
//! again at every start and reload.

use std::collections::{BTreeMap, BTreeSet};

use tracing::warn;

use crate::state::{Check, CheckTuning, Name, Service};

/// The agent-owned services and checks.
pub struct Local {
    services: BTreeMap<String, Service>,
    checks: BTreeMap<String, Check>,
    /// How each check runs (only non-default entries).
    tuning: BTreeMap<String, CheckTuning>,
    /// IDs of services defined in config files (not persisted, replaced on reload).
    config_services: BTreeSet<String>,
    /// IDs of standalone checks defined in config files.
    config_checks: BTreeSet<String>,
    svc_tree: sled::Tree,
    chk_tree: sled::Tree,
    tuning_tree: sled::Tree,
    db: sled::Db,
    durable: bool,
    /// Whether the trees changed since the last [`Local::take_unflushed`].
    unflushed: bool,
}

/// Which persisted tree a write goes to.
#[derive(Clone, Copy)]
enum Tree {
    Services,
    Checks,
    Tuning,
}

/// Storage failure of the local state.
#[derive(Debug, thiserror::Error)]
#[error("local state: {0}")]
pub struct LocalError(String);

fn err(e: impl std::fmt::Display) -> LocalError {
    LocalError(e.to_string())
}

/// What a status update changed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StatusChange {
    /// The status differs from before.
    pub status: bool,
    /// The output differs from before.
    pub output: bool,
}

/// Where a registration came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// The HTTP API or the CLI: persisted.
    Api,
    /// A config file: kept in memory, owned by the config.
    Config,
}

impl Local {
    /// Load the local state from `db`. Entries that no longer decode (written by an
    /// incompatible version) are skipped with a warning rather than stopping the agent.
    pub fn open(db: &sled::Db, durable: bool) -> Result<Self, LocalError> {
        let svc_tree = db.open_tree("local_services").map_err(err)?;
        let chk_tree = db.open_tree("local_checks").map_err(err)?;
        let tuning_tree = db.open_tree("local_check_tuning").map_err(err)?;
        let mut tuning = BTreeMap::new();
        for item in tuning_tree.iter() {
            let (k, v) = item.map_err(err)?;
            if let Ok(t) = postcard::from_bytes::<CheckTuning>(&v) {
                tuning.insert(String::from_utf8_lossy(&k).into_owned(), t);
            }
        }
        let mut services = BTreeMap::new();
        for item in svc_tree.iter() {
            let (k, v) = item.map_err(err)?;
            match postcard::from_bytes::<Service>(&v) {
                Ok(s) => {
                    services.insert(s.id.to_string(), s);
                }
                Err(e) => warn!(
                    "agent: dropping unreadable saved service {:?}: {e}",
                    String::from_utf8_lossy(&k)
                ),
            }
        }
        let mut checks = BTreeMap::new();
        for item in chk_tree.iter() {
            let (k, v) = item.map_err(err)?;
            match postcard::from_bytes::<Check>(&v) {
                Ok(c) => {
                    checks.insert(c.check_id.to_string(), c);
                }
                Err(e) => warn!(
                    "agent: dropping unreadable saved check {:?}: {e}",
                    String::from_utf8_lossy(&k)
                ),
            }
        }
        Ok(Local {
            services,
            checks,
            tuning,
            config_services: BTreeSet::new(),
            config_checks: BTreeSet::new(),
            svc_tree,
            chk_tree,
            tuning_tree,
            db: db.clone(),
            durable,
            unflushed: false,
        })
    }

    /// The database to flush when the trees changed since the last call (and the agent
    /// keeps its state durably). The caller flushes after releasing its lock on `Local`, so
    /// the fsync never runs under it.
    pub fn take_unflushed(&mut self) -> Option<sled::Db> {
        let dirty = std::mem::take(&mut self.unflushed);
        (dirty && self.durable).then(|| self.db.clone())
    }

    fn insert(&mut self, tree: Tree, key: &str, value: Vec<u8>) -> Result<(), LocalError> {
        self.tree(tree).insert(key.as_bytes(), value).map_err(err)?;
        self.unflushed = true;
        Ok(())
    }

    fn remove(&mut self, tree: Tree, key: &str) -> Result<(), LocalError> {
        if self
            .tree(tree)
            .remove(key.as_bytes())
            .map_err(err)?
            .is_some()
        {
            self.unflushed = true;
        }
        Ok(())
    }

    fn tree(&self, tree: Tree) -> &sled::Tree {
        match tree {
            Tree::Services => &self.svc_tree,
            Tree::Checks => &self.chk_tree,
            Tree::Tuning => &self.tuning_tree,
        }
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

    /// How check `id` runs (the defaults when nothing was set).
    pub fn tuning(&self, id: &str) -> CheckTuning {
        self.tuning.get(id).cloned().unwrap_or_default()
    }

    fn put_check(&mut self, c: Check, t: CheckTuning, source: Source) -> Result<(), LocalError> {
        let id = c.check_id.to_string();
        match source {
            Source::Api => {
                self.insert(Tree::Checks, &id, postcard::to_stdvec(&c).map_err(err)?)?;
                if t == CheckTuning::default() {
                    self.remove(Tree::Tuning, &id)?;
                } else {
                    self.insert(Tree::Tuning, &id, postcard::to_stdvec(&t).map_err(err)?)?;
                }
                self.config_checks.remove(&id);
            }
            Source::Config => {
                self.remove(Tree::Checks, &id)?;
                self.remove(Tree::Tuning, &id)?;
            }
        }
        if t == CheckTuning::default() {
            self.tuning.remove(&id);
        } else {
            self.tuning.insert(id.clone(), t);
        }
        self.checks.insert(id, c);
        Ok(())
    }

    fn drop_check(&mut self, id: &str) -> Result<(), LocalError> {
        self.checks.remove(id);
        self.tuning.remove(id);
        self.config_checks.remove(id);
        self.remove(Tree::Checks, id)?;
        self.remove(Tree::Tuning, id)?;
        Ok(())
    }

    /// IDs of services that came from config files.
    pub fn config_services(&self) -> &BTreeSet<String> {
        &self.config_services
    }

    /// IDs of standalone checks that came from config files.
    pub fn config_checks(&self) -> &BTreeSet<String> {
        &self.config_checks
    }

    /// Add or replace a service and its checks; returns the IDs of checks removed by
    /// `replace_checks`.
    pub fn add_service(
        &mut self,
        svc: Service,
        checks: Vec<(Check, CheckTuning)>,
        replace_checks: bool,
        source: Source,
    ) -> Result<Vec<String>, LocalError> {
        let mut removed = Vec::new();
        if replace_checks {
            for c in self.checks.values() {
                // Maintenance mode outlives re-registration; only `maint -disable` ends it.
                if c.service_id == svc.id
                    && !c
                        .check_id
                        .starts_with(crate::agent::SERVICE_MAINTENANCE_PREFIX)
                    && !checks.iter().any(|(n, _)| n.check_id == c.check_id)
                {
                    removed.push(c.check_id.to_string());
                }
            }
        }
        for id in &removed {
            self.drop_check(id)?;
        }
        match source {
            Source::Api => {
                self.insert(
                    Tree::Services,
                    &svc.id,
                    postcard::to_stdvec(&svc).map_err(err)?,
                )?;
                self.config_services.remove(svc.id.as_str());
            }
            Source::Config => {
                self.remove(Tree::Services, &svc.id)?;
                self.config_services.insert(svc.id.to_string());
            }
        }
        self.services.insert(svc.id.to_string(), svc);
        for (c, t) in checks {
            if source == Source::Config {
                self.config_checks.remove(c.check_id.as_str());
            }
            self.put_check(c, t, source)?;
        }
        Ok(removed)
    }

    /// Remove a service and its checks; `None` if it was not registered, else the check IDs removed.
    pub fn remove_service(&mut self, id: &str) -> Result<Option<Vec<String>>, LocalError> {
        if self.services.remove(id).is_none() {
            return Ok(None);
        }
        self.config_services.remove(id);
        self.remove(Tree::Services, id)?;
        let ids: Vec<String> = self
            .checks
            .values()
            .filter(|c| c.service_id == id)
            .map(|c| c.check_id.to_string())
            .collect();
        for c in &ids {
            self.drop_check(c)?;
        }
        Ok(Some(ids))
    }

    /// Add or replace a check.
    pub fn add_check(
        &mut self,
        c: Check,
        t: CheckTuning,
        source: Source,
    ) -> Result<(), LocalError> {
        if source == Source::Config {
            self.config_checks.insert(c.check_id.to_string());
        }
        self.put_check(c, t, source)
    }

    /// Remove a check; false if it did not exist.
    pub fn remove_check(&mut self, id: &str) -> Result<bool, LocalError> {
        if !self.checks.contains_key(id) {
            return Ok(false);
        }
        self.drop_check(id)?;
        Ok(true)
    }

    /// Set a check's status and output in memory (statuses are re-derived after a restart);
    /// `None` if the check is gone.
    pub fn set_status(&mut self, id: &str, status: &str, output: &str) -> Option<StatusChange> {
        let c = self.checks.get_mut(id)?;
        let change = StatusChange {
            status: c.status != status,
            output: c.output != output,
        };
        if change.status {
            c.status = Name::status(status);
        }
        if change.output {
            c.output = output.to_string();
        }
        Some(change)
    }
}
