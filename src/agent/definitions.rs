//! Services and checks defined in config files: registered at start, and brought in line
//! with the files again by `reload` (SIGHUP, `PUT /v1/agent/reload`, `disco reload`).

use std::collections::BTreeSet;
use std::sync::Arc;

use tracing::info;

use super::{Agent, AgentError, Source};
use crate::api::decode::decode_value;
use crate::api::definition::{check_from, service_from, standalone_check_id};
use crate::api::input::{CHECK_SCHEMA, CheckTypeIn, SERVICE_SCHEMA, ServiceDefinitionIn};
use crate::config::Definitions;
use crate::state::{Check, CheckTuning, Service};

/// Definitions validated and turned into rows.
struct Resolved {
    services: Vec<(Service, Vec<(Check, CheckTuning)>)>,
    checks: Vec<(Check, CheckTuning)>,
}

impl Agent {
    /// Validate every definition; the first invalid one fails the whole set, naming its
    /// file and key, so nothing is applied half-way.
    fn resolve_definitions(&self, defs: &Definitions) -> Result<Resolved, AgentError> {
        // Config files are the operator's own: script checks need only the local flag.
        let scripts = self.cfg.enable_local_script_checks || self.cfg.enable_script_checks;
        let bad = |label: &str, msg: String| AgentError::BadRequest(format!("{label}: {msg}"));
        let mut services = Vec::new();
        let mut seen = BTreeSet::new();
        for (label, v) in &defs.services {
            let def: ServiceDefinitionIn =
                decode_value(&SERVICE_SCHEMA, v.clone()).map_err(|e| bad(label, e.0))?;
            let (svc, checks) =
                service_from(&def, self.node_name(), scripts).map_err(|e| bad(label, e.0))?;
            if !seen.insert(svc.id.clone()) {
                return Err(bad(label, format!("duplicate service ID {:?}", svc.id)));
            }
            services.push((svc, checks));
        }
        let mut checks = Vec::new();
        for (label, v) in &defs.checks {
            let c: CheckTypeIn =
                decode_value(&CHECK_SCHEMA, v.clone()).map_err(|e| bad(label, e.0))?;
            let id = standalone_check_id(&c).map_err(|e| bad(label, e.0))?;
            let svc = (!c.service_id.is_empty())
                .then(|| {
                    services
                        .iter()
                        .find(|(s, _)| s.id == c.service_id)
                        .map(|(s, _)| s.clone())
                        .or_else(|| self.local_service(&c.service_id))
                })
                .flatten();
            if !c.service_id.is_empty() && svc.is_none() {
                return Err(bad(
                    label,
                    format!("ServiceID \"{}\" does not exist", c.service_id),
                ));
            }
            let check = check_from(&c, id, c.name.clone(), svc.as_ref(), scripts)
                .map_err(|e| bad(label, e.0))?;
            checks.push(check);
        }
        Ok(Resolved { services, checks })
    }

    /// Register the definitions, and remove config-defined services and checks that are
    /// no longer defined. API registrations are left alone.
    pub async fn register_definitions(
        self: &Arc<Self>,
        defs: &Definitions,
    ) -> Result<(), AgentError> {
        let resolved = self.resolve_definitions(defs)?;
        let (old_services, old_checks) = {
            let l = self.local.read();
            (l.config_services().clone(), l.config_checks().clone())
        };
        let new_services: BTreeSet<&str> = resolved
            .services
            .iter()
            .map(|(s, _)| s.id.as_str())
            .collect();
        let new_checks: BTreeSet<&str> = resolved
            .checks
            .iter()
            .map(|(c, _)| c.check_id.as_str())
            .collect();
        for id in old_checks
            .iter()
            .filter(|id| !new_checks.contains(id.as_str()))
        {
            info!(check = %id, "removing check no longer in the config");
            // Gone already when its service went: nothing to do.
            let _ = self.deregister_check(id).await;
        }
        for id in old_services
            .iter()
            .filter(|id| !new_services.contains(id.as_str()))
        {
            info!(service = %id, "removing service no longer in the config");
            let _ = self.deregister_service(id).await;
        }
        for (svc, checks) in resolved.services {
            let unchanged = self.local_service(&svc.id).is_some_and(|old| {
                old_services.contains(svc.id.as_str())
                    && super::sync::same_service(&old, &svc)
                    && checks.iter().all(|(c, t)| {
                        self.local_check(&c.check_id)
                            .is_some_and(|o| o.definition == c.definition && o.name == c.name)
                            && self.local_tuning(&c.check_id) == *t
                    })
            });
            if !unchanged {
                self.register_service_from(svc, checks, true, Source::Config)
                    .await?;
            }
        }
        for (c, t) in resolved.checks {
            let unchanged = old_checks.contains(c.check_id.as_str())
                && self
                    .local_check(&c.check_id)
                    .is_some_and(|o| o.definition == c.definition && o.name == c.name)
                && self.local_tuning(&c.check_id) == t;
            if !unchanged {
                self.register_check_from(c, t, Source::Config).await?;
            }
        }
        Ok(())
    }

    /// Read the config files again and apply their service and check definitions.
    pub async fn reload(self: &Arc<Self>) -> Result<(), AgentError> {
        let defs = crate::config::load_definitions(&self.cfg.sources)
            .map_err(|e| AgentError::BadRequest(e.to_string()))?;
        self.register_definitions(&defs).await?;
        info!("agent: configuration reloaded");
        Ok(())
    }
}
