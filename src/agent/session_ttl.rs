//! Session TTL timers: run by the leader only, in memory, as Consul's `session_ttl.go`.
//!
//! A session with a TTL expires `2 × TTL` after its last renewal (Consul's contract: never
//! before the TTL). Renewals are not replicated; the leader keeps the deadlines and, when
//! one passes, commits a destroy through Raft like any client would. A server that becomes
//! leader starts every TTL session's timer afresh (a full `2 × TTL`), so a failover never
//! expires a session early; a server that stops leading forgets its timers.
//!
//! The deadlines are reconciled with the store rather than armed by the create handler, so
//! a session created through any server (a follower forwards the command) gets a timer,
//! and a destroyed one loses it.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;
use tracing::{debug, warn};

use super::Agent;
use crate::api::duration::parse_go;
use crate::state::{Command, Table, Watch};

/// How often the loop looks again when nothing wakes it (leadership changes are polled).
const TICK: Duration = Duration::from_secs(1);
/// How soon a destroy that could not be committed is tried again.
const RETRY: Duration = Duration::from_secs(1);

/// The leader's TTL deadlines. The mutex is a leaf in the lock order (docs/architecture.md):
/// held only to read or change the map, never across a store read, a write or an await.
#[derive(Debug, Default)]
pub struct SessionTimers {
    deadlines: Mutex<HashMap<String, Instant>>,
    wake: Notify,
}

/// The expiry of a session with TTL text `ttl`, counted from `from`; `None` without a TTL.
fn expiry(ttl: &str, from: Instant) -> Option<Instant> {
    let d = parse_go(ttl).filter(|d| !d.is_zero())?;
    Some(from + d * 2)
}

impl SessionTimers {
    /// Look at the store again now (a session was created or destroyed here).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// Restart a session's timer (a renewal on the leader).
    pub fn renew(&self, id: &str, ttl: &str) {
        if let Some(at) = expiry(ttl, Instant::now()) {
            self.lock().insert(id.to_string(), at);
        }
        self.wake();
    }

    /// How long until session `id` expires, if this server times it.
    pub fn remaining(&self, id: &str) -> Option<Duration> {
        let at = *self.lock().get(id)?;
        Some(at.saturating_duration_since(Instant::now()))
    }

    fn lock(&self) -> MutexGuard<'_, HashMap<String, Instant>> {
        self.deadlines.lock()
    }

    /// Make the deadlines match the store's TTL sessions: new ones start a full period,
    /// gone ones are dropped; with `fresh`, every timer restarts (a new leadership term).
    fn reconcile(&self, sessions: &[(String, String)], fresh: bool) {
        let now = Instant::now();
        let mut d = self.lock();
        if fresh {
            d.clear();
        }
        d.retain(|id, _| sessions.iter().any(|(s, _)| s == id));
        for (id, ttl) in sessions {
            if !d.contains_key(id)
                && let Some(at) = expiry(ttl, now)
            {
                d.insert(id.clone(), at);
            }
        }
    }

    /// Sessions whose deadline has passed, and the next deadline after them.
    fn due(&self) -> (Vec<String>, Option<Instant>) {
        let now = Instant::now();
        let d = self.lock();
        let expired = d
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        let next = d.values().filter(|at| **at > now).min().copied();
        (expired, next)
    }

    fn retry_later(&self, id: &str) {
        self.lock().insert(id.to_string(), Instant::now() + RETRY);
    }

    fn forget(&self, id: &str) {
        self.lock().remove(id);
    }

    fn clear(&self) {
        self.lock().clear();
    }
}

/// The timer loop of a server agent; returns when the agent shuts down.
pub(crate) async fn run(agent: Arc<Agent>) {
    let Some(consensus) = &agent.consensus else {
        return;
    };
    let timers = &agent.session_timers;
    let mut shutdown = agent.shutdown_signal();
    // The leadership term the timers were started in.
    let mut term: Option<u64> = None;
    loop {
        if *shutdown.borrow() {
            return;
        }
        let leading = consensus.is_leader();
        let mut changed = None;
        if !leading {
            if term.take().is_some() {
                timers.clear();
            }
        } else {
            let now_term = consensus.metrics().current_term;
            let fresh = term != Some(now_term);
            term = Some(now_term);
            // Subscribe before reading, so a change in between still wakes the loop.
            changed = Some(agent.store.watch(&Watch::Tables(&[Table::Sessions])));
            let sessions: Vec<(String, String)> = {
                let store = agent.store.current();
                store
                    .sessions()
                    .filter(|s| !s.ttl.is_empty())
                    .map(|s| (s.id.to_string(), s.ttl.clone()))
                    .collect()
            };
            timers.reconcile(&sessions, fresh);
            let (expired, _) = timers.due();
            for id in expired {
                debug!("session: TTL of {id} passed, destroying it");
                timers.forget(&id);
                if let Err(e) = agent
                    .write(Command::SessionDestroy { id: id.clone() })
                    .await
                {
                    warn!("session: could not destroy expired session {id}: {e}");
                    timers.retry_later(&id);
                }
            }
        }
        let next = timers.due().1;
        let until = next
            .map(|n| n.min(Instant::now() + TICK))
            .unwrap_or_else(|| Instant::now() + TICK);
        tokio::select! {
            _ = async {
                match changed.as_mut() {
                    Some(c) => c.changed().await,
                    None => std::future::pending().await,
                }
            } => {}
            _ = timers.wake.notified() => {}
            _ = tokio::time::sleep_until(until.into()) => {}
            _ = shutdown.changed() => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_term_restarts_every_timer_and_gone_sessions_are_dropped() {
        let t = SessionTimers::default();
        let s = vec![("a".to_string(), "10s".to_string())];
        t.reconcile(&s, true);
        let first = t.remaining("a").unwrap();
        assert!(first > Duration::from_secs(19) && first <= Duration::from_secs(20));
        t.lock()
            .insert("a".into(), Instant::now() + Duration::from_secs(1));
        t.reconcile(&s, false);
        assert!(t.remaining("a").unwrap() <= Duration::from_secs(1), "kept");
        t.reconcile(&s, true);
        assert!(
            t.remaining("a").unwrap() > Duration::from_secs(19),
            "restarted"
        );
        t.reconcile(&[], false);
        assert!(t.remaining("a").is_none());
        t.renew("b", "");
        assert!(t.remaining("b").is_none(), "no TTL, no timer");
    }
}
