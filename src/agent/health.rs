//! The agent's side of health checks: starting and stopping probes and TTL timers as checks
//! come and go, turning results into local status, pushing status changes to the catalog in
//! batches, maintenance mode, and reaping services critical for too long.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tracing::{info, warn};

use super::{Agent, AgentError};
use crate::checks::{Damping, Probe, Report, Runner};
use crate::state::{Check, CheckUpdate, Command, status};

/// Check ID of node maintenance mode.
pub const NODE_MAINTENANCE_ID: &str = "_node_maintenance";
/// Prefix of a service's maintenance check ID.
pub const SERVICE_MAINTENANCE_PREFIX: &str = "_service_maintenance:";

/// A status to push to the catalog; `done` is told once it was written (or failed).
pub(super) struct StatusPush {
    check_id: String,
    status_changed: bool,
    done: Option<oneshot::Sender<()>>,
}

/// Check bookkeeping held by the agent.
pub(super) struct Health {
    pub(super) runner: Runner,
    ttl_timers: Mutex<HashMap<String, Arc<TtlTimer>>>,
    /// Base of the TTL deadlines (nanoseconds since this instant).
    epoch: Instant,
    critical_since: Mutex<HashMap<String, Instant>>,
    push_tx: mpsc::UnboundedSender<StatusPush>,
    push_rx: Mutex<Option<mpsc::UnboundedReceiver<StatusPush>>>,
}

impl Health {
    pub(super) fn new() -> Health {
        let (push_tx, push_rx) = mpsc::unbounded_channel();
        Health {
            runner: Runner::default(),
            ttl_timers: Mutex::new(HashMap::new()),
            epoch: Instant::now(),
            critical_since: Mutex::new(HashMap::new()),
            push_tx,
            push_rx: Mutex::new(Some(push_rx)),
        }
    }

    /// Stop every probe and TTL timer (agent shutdown).
    pub(super) fn stop_all(&self) {
        self.runner.stop_all();
        let timers: Vec<Arc<TtlTimer>> = self.ttl_timers.lock().drain().map(|(_, t)| t).collect();
        for timer in timers {
            timer.abort();
        }
    }

    fn clock_ns(&self) -> u64 {
        self.epoch.elapsed().as_nanos() as u64
    }

    fn note_status(&self, id: &str, st: &str) {
        let mut m = self.critical_since.lock();
        if st == status::CRITICAL {
            m.entry(id.to_string()).or_insert_with(Instant::now);
        } else {
            m.remove(id);
        }
    }
}

/// One TTL check's timer: a task that sleeps until the deadline, re-reading it on wake.
pub(super) struct TtlTimer {
    deadline_ns: AtomicU64,
    rearmed: tokio::sync::Notify,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl TtlTimer {
    fn abort(&self) {
        let task = self.task.lock().take();
        if let Some(task) = task {
            task.abort();
        }
    }
}

/// Delivers probe results to the agent without keeping it alive.
struct AgentSink(Weak<Agent>);

impl Report for AgentSink {
    fn report(&self, check_id: &str, st: &'static str, output: String) {
        if let Some(agent) = self.0.upgrade() {
            agent.record_status(check_id, st, &output);
        }
    }
}

impl Agent {
    /// Probe counters: runs, script monitors, schedule lag.
    pub fn check_stats(&self) -> &crate::checks::Stats {
        self.health.runner.stats()
    }

    /// Start whatever drives `c`: its probe on an interval, or its TTL timer.
    pub(super) fn start_check(self: &Arc<Self>, c: &Check) {
        self.health.note_status(&c.check_id, &c.status);
        if c.definition.ttl_ns > 0 {
            self.health.runner.stop(&c.check_id);
            self.arm_ttl(&c.check_id, c.definition.ttl_ns);
            return;
        }
        self.disarm_ttl(&c.check_id);
        let tuning = self.local.read().tuning(&c.check_id);
        match Probe::from_definition(&c.definition, &tuning, self.cfg.check_output_max_size) {
            Some(probe) => {
                let interval = Duration::from_nanos(c.definition.interval_ns);
                if interval < crate::checks::MIN_INTERVAL {
                    warn!(
                        check = %c.check_id,
                        "check interval too small; using {:?}",
                        crate::checks::MIN_INTERVAL
                    );
                }
                let damping = Damping::new(
                    tuning.success_before_passing,
                    tuning.failures_before_warning,
                    tuning.failures_before_critical,
                );
                self.health.runner.start(
                    &c.check_id,
                    probe,
                    interval,
                    damping,
                    Arc::new(AgentSink(Arc::downgrade(self))),
                );
            }
            None => self.health.runner.stop(&c.check_id),
        }
    }

    /// Stop whatever drives check `id`.
    pub(super) fn stop_check(&self, id: &str) {
        self.health.runner.stop(id);
        self.disarm_ttl(id);
        self.health.critical_since.lock().remove(id);
    }

    /// Store a probe's settled result and queue it for the catalog.
    fn record_status(&self, id: &str, st: &str, output: &str) {
        let change = self.local.write().set_status(id, st, output);
        let Some(change) = change else { return };
        self.health.note_status(id, st);
        if change.status || change.output {
            let _ = self.health.push_tx.send(StatusPush {
                check_id: id.to_string(),
                status_changed: change.status,
                done: None,
            });
        }
    }

    /// Store a status set through the API and wait until a status change reached the
    /// catalog (an output-only change is pushed later, rate-limited).
    async fn record_status_and_push(&self, id: &str, st: &str, output: &str) {
        let change = self.local.write().set_status(id, st, output);
        let Some(change) = change else { return };
        self.health.note_status(id, st);
        if !(change.status || change.output) {
            return;
        }
        let (tx, rx) = oneshot::channel();
        let push = StatusPush {
            check_id: id.to_string(),
            status_changed: change.status,
            done: change.status.then_some(tx),
        };
        if self.health.push_tx.send(push).is_ok() && change.status {
            let _ = rx.await;
        }
    }

    /// Set a TTL check's status (`agent/check/pass|warn|fail|update`).
    pub async fn update_ttl(
        self: &Arc<Self>,
        id: &str,
        new_status: &str,
        output: &str,
    ) -> Result<(), AgentError> {
        if !status::is_valid(new_status) {
            return Err(AgentError::BadRequest(format!(
                "Invalid check status: '{new_status}'"
            )));
        }
        let (ttl, max) = {
            let l = self.local.read();
            let Some(c) = l.check(id) else {
                return Err(AgentError::NotFound(format!(
                    "CheckID \"{id}\" does not have associated TTL"
                )));
            };
            if c.definition.ttl_ns == 0 {
                return Err(AgentError::BadRequest(format!(
                    "CheckID \"{id}\" does not have associated TTL"
                )));
            }
            let max = match l.tuning(id).output_max_size {
                0 => self.cfg.check_output_max_size,
                n => usize::try_from(n).unwrap_or(usize::MAX),
            };
            (c.definition.ttl_ns, max)
        };
        let output = crate::checks::output::truncate_note(output, max);
        self.arm_ttl(id, ttl);
        self.record_status_and_push(id, new_status, &output).await;
        Ok(())
    }

    /// Start or push back check `id`'s TTL deadline. An update only moves the deadline of
    /// the check's one timer task (an atomic store, plus a wake-up if it had expired), so
    /// thousands of TTL updates a second cost no task churn.
    pub(super) fn arm_ttl(self: &Arc<Self>, id: &str, ttl_ns: u64) {
        let mut timers = self.health.ttl_timers.lock();
        let deadline = self.health.clock_ns() + ttl_ns;
        if let Some(t) = timers.get(id) {
            let old = t.deadline_ns.swap(deadline, Ordering::AcqRel);
            // The task sleeps until the old deadline and re-reads it then; it needs waking
            // only when it is parked after an expiry or the deadline moved earlier.
            if deadline < old || old <= self.health.clock_ns() {
                t.rearmed.notify_one();
            }
            return;
        }
        let timer = Arc::new(TtlTimer {
            deadline_ns: AtomicU64::new(deadline),
            rearmed: tokio::sync::Notify::new(),
            task: Mutex::new(None),
        });
        let agent = Arc::downgrade(self);
        let check_id = id.to_string();
        let t = timer.clone();
        let epoch = self.health.epoch;
        let task = tokio::spawn(async move {
            loop {
                let deadline = t.deadline_ns.load(Ordering::Acquire);
                let now = epoch.elapsed().as_nanos() as u64;
                if now < deadline {
                    tokio::select! {
                        _ = tokio::time::sleep(Duration::from_nanos(deadline - now)) => {}
                        _ = t.rearmed.notified() => {}
                    }
                    continue;
                }
                let Some(agent) = agent.upgrade() else { return };
                // An update that raced the wake-up wins.
                if t.deadline_ns.load(Ordering::Acquire) > epoch.elapsed().as_nanos() as u64 {
                    continue;
                }
                agent.expire_ttl(&check_id);
                drop(agent);
                // Parked until the next update moves the deadline.
                t.rearmed.notified().await;
            }
        });
        *timer.task.lock() = Some(task);
        timers.insert(id.to_string(), timer);
    }

    fn expire_ttl(&self, check_id: &str) {
        let output = {
            let l = self.local.read();
            let Some(c) = l.check(check_id) else { return };
            if c.output.is_empty() || c.output.starts_with("TTL expired") {
                "TTL expired".to_string()
            } else {
                format!(
                    "TTL expired (last output before timeout follows): {}",
                    c.output
                )
            }
        };
        warn!(check = %check_id, "Check missed TTL, is now critical");
        self.record_status(check_id, status::CRITICAL, &output);
    }

    fn disarm_ttl(&self, id: &str) {
        let timer = self.health.ttl_timers.lock().remove(id);
        if let Some(timer) = timer {
            timer.abort();
        }
    }

    /// Push queued status changes to the catalog: whatever queued up while the previous
    /// write was in flight goes out as one `UpdateChecks` command. Status changes go at
    /// once; output-only changes at most once per `check_update_interval` per check.
    pub(super) async fn status_push_loop(self: Arc<Self>) {
        let Some(mut rx) = self.health.push_rx.lock().take() else {
            return;
        };
        let mut shutdown = self.shutdown_signal();
        let every = self.cfg.check_update_interval;
        let mut last_pushed: HashMap<String, Instant> = HashMap::new();
        let mut deferred: HashMap<String, Instant> = HashMap::new();
        loop {
            let next_due = deferred.values().min().copied();
            let mut batch: Vec<StatusPush> = Vec::new();
            tokio::select! {
                m = rx.recv() => match m {
                    Some(p) => batch.push(p),
                    None => return,
                },
                _ = async {
                    match next_due {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                } => {}
                _ = shutdown.changed() => return,
            }
            while let Ok(p) = rx.try_recv() {
                batch.push(p);
            }
            let now = Instant::now();
            let mut due: Vec<String> = Vec::new();
            let mut waiters = Vec::new();
            for p in batch {
                let recent = last_pushed
                    .get(&p.check_id)
                    .is_some_and(|t| now.duration_since(*t) < every);
                if p.status_changed || !recent {
                    deferred.remove(&p.check_id);
                    due.push(p.check_id);
                } else if let Some(t) = last_pushed.get(&p.check_id) {
                    deferred.entry(p.check_id).or_insert(*t + every);
                }
                if let Some(d) = p.done {
                    waiters.push(d);
                }
            }
            deferred.retain(|id, t| {
                if *t <= now {
                    due.push(id.clone());
                    false
                } else {
                    true
                }
            });
            due.sort();
            due.dedup();
            // The current local state is what goes out, whatever queued it.
            let updates: Vec<CheckUpdate> = {
                let l = self.local.read();
                due.iter()
                    .filter_map(|id| l.check(id))
                    .map(|c| CheckUpdate {
                        node: self.cfg.node_name.clone(),
                        check_id: c.check_id.to_string(),
                        status: c.status.to_string(),
                        output: c.output.clone(),
                    })
                    .collect()
            };
            if !updates.is_empty() {
                let n = updates.len();
                match self.write(Command::UpdateChecks(updates)).await {
                    Ok(_) => {
                        self.metrics.check_updates_pushed(n);
                        for id in due {
                            last_pushed.insert(id, now);
                        }
                    }
                    // Anti-entropy repairs what did not reach the servers.
                    Err(e) => {
                        warn!("agent: failed to sync check status: {e}");
                        self.sync_now.notify_one();
                    }
                }
            }
            for w in waiters {
                let _ = w.send(());
            }
            last_pushed.retain(|_, t| now.duration_since(*t) < every);
        }
    }

    /// Put a local service into maintenance mode (a critical `_service_maintenance:<id>`
    /// check) or take it out.
    pub async fn service_maintenance(
        self: &Arc<Self>,
        service_id: &str,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        let Some(svc) = self.local_service(service_id) else {
            return Err(AgentError::NotFound(format!(
                "No service registered with ID \"{service_id}\""
            )));
        };
        let id = format!("{SERVICE_MAINTENANCE_PREFIX}{service_id}");
        if !enable {
            if self.local_check(&id).is_some() {
                self.deregister_check(&id).await?;
                info!(service = %service_id, "Service left maintenance mode");
            }
            return Ok(());
        }
        if self.local_check(&id).is_some() {
            return Ok(());
        }
        let notes = if reason.is_empty() {
            "Maintenance mode is enabled for this service, but no reason was provided. This is a default message.".to_string()
        } else {
            reason.to_string()
        };
        let check = Check {
            node: self.cfg.node_name.clone().into(),
            check_id: id.into(),
            name: "Service Maintenance Mode".into(),
            status: status::CRITICAL.into(),
            notes,
            service_id: svc.id.clone(),
            service_name: svc.service.clone(),
            service_tags: svc.tags.clone(),
            ..Default::default()
        };
        self.register_check(check, Default::default()).await?;
        info!(service = %service_id, "Service entered maintenance mode");
        Ok(())
    }

    /// Put this node into maintenance mode (a critical `_node_maintenance` check) or take it
    /// out.
    pub async fn node_maintenance(
        self: &Arc<Self>,
        enable: bool,
        reason: &str,
    ) -> Result<(), AgentError> {
        if !enable {
            if self.local_check(NODE_MAINTENANCE_ID).is_some() {
                self.deregister_check(NODE_MAINTENANCE_ID).await?;
                info!("Node left maintenance mode");
            }
            return Ok(());
        }
        if self.local_check(NODE_MAINTENANCE_ID).is_some() {
            return Ok(());
        }
        let notes = if reason.is_empty() {
            "Maintenance mode is enabled for this node, but no reason was provided. This is a default message.".to_string()
        } else {
            reason.to_string()
        };
        let check = Check {
            node: self.cfg.node_name.clone().into(),
            check_id: NODE_MAINTENANCE_ID.into(),
            name: "Node Maintenance Mode".into(),
            status: status::CRITICAL.into(),
            notes,
            ..Default::default()
        };
        self.register_check(check, Default::default()).await?;
        info!("Node entered maintenance mode");
        Ok(())
    }

    /// Deregister services whose check has been critical longer than its
    /// `DeregisterCriticalServiceAfter` (never less than `check_deregister_interval_min`),
    /// checked every `check_reap_interval`.
    pub(super) async fn reap_critical_loop(self: Arc<Self>) {
        let mut shutdown = self.shutdown_signal();
        loop {
            tokio::select! {
                _ = tokio::time::sleep(self.cfg.check_reap_interval) => {}
                _ = shutdown.changed() => return,
            }
            let since: HashMap<String, Instant> = self.health.critical_since.lock().clone();
            let mut reap: Vec<(String, String)> = Vec::new();
            for c in self.local_checks() {
                let after = c.definition.deregister_critical_service_after_ns;
                if after == 0 || c.service_id.is_empty() || c.status != status::CRITICAL {
                    continue;
                }
                let after = Duration::from_nanos(after).max(self.cfg.check_deregister_interval_min);
                if since
                    .get(c.check_id.as_str())
                    .is_some_and(|t| t.elapsed() >= after)
                    && !reap.iter().any(|(s, _)| *s == c.service_id)
                {
                    reap.push((c.service_id.to_string(), c.check_id.to_string()));
                }
            }
            for (service, check) in reap {
                info!(
                    service = %service, check = %check,
                    "Check critical for too long, deregistering service"
                );
                if let Err(e) = self.deregister_service(&service).await {
                    warn!(service = %service, "failed to deregister critical service: {e}");
                }
            }
        }
    }
}
