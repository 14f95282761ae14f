//! Blocking queries: while the index of what a read depends on has not passed the client's,
//! park on the store's watches for exactly that (a key, a prefix, a service, tables) until a
//! change or the wait expires; only then run the read and encode its answer.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::query::{Consistency, Query};
use super::respond::{Meta, json_bytes, with_meta};
use crate::agent::Agent;
use crate::state::{Store, Watch};

/// What a read produced: its status and JSON body (the index comes from its [`Watch`]).
pub type ReadResult = Result<(StatusCode, Vec<u8>), ApiError>;

fn jitter(wait: Duration) -> Duration {
    // Up to wait/16 extra, as Consul adds, so many watchers do not return in lockstep.
    let span = (wait.as_nanos() / 16) as u64;
    if span == 0 {
        return Duration::ZERO;
    }
    let seed = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos() as u64)
        .unwrap_or(0);
    Duration::from_nanos(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) % span)
}

/// Serve a store read with Consul's consistency modes, blocking and meta headers. `watch`
/// names what the read depends on and gives the index it answers with.
pub async fn read<F>(agent: &Agent, q: &Query, watch: Watch<'_>, f: F) -> Result<Response, ApiError>
where
    F: Fn(&Store) -> ReadResult,
{
    q.check_dc(&agent.cfg.datacenter)?;
    let mode = q.consistency()?;
    let (min_index, wait) = q.blocking()?;
    match mode {
        Consistency::Leader => agent.require_leader()?,
        Consistency::Consistent => agent.linearize().await?,
        Consistency::Stale => {
            if agent.consensus.is_none() {
                return Err(crate::agent::AgentError::NoServers.into());
            }
        }
    }
    let known_leader = agent
        .consensus
        .as_ref()
        .is_some_and(|c| c.leader_addr().is_some());
    let last_contact_ms = agent
        .consensus
        .as_ref()
        .and_then(|c| c.last_contact())
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0);
    let deadline = Instant::now() + wait + jitter(wait);
    // Subscribe before the first load: a change published in between still wakes us.
    let mut changes = (min_index > 0).then(|| agent.store.watch(&watch));
    loop {
        let answer = {
            let store = agent.store.current();
            // The caller's rights as of this version: a revoked policy or a deleted token
            // takes effect at the next wake-up of a blocking read, never later.
            q.authz.refresh(agent, &store)?;
            let index = watch.index(&store);
            let waiting = min_index > 0 && index <= min_index && Instant::now() < deadline;
            // Nothing new for this query: wait without running it.
            (!(waiting && changes.is_some())).then(|| (index, f(&store)))
        };
        let Some((index, result)) = answer else {
            if let Some(changes) = changes.as_mut() {
                tokio::select! {
                    _ = changes.changed() => {}
                    _ = tokio::time::sleep_until(deadline.into()) => {}
                }
            }
            continue;
        };
        let (status, body) = result?;
        let meta = Meta {
            index,
            known_leader,
            last_contact_ms,
            consistency: mode.as_str(),
        };
        return Ok(with_meta(json_bytes(status, body), meta));
    }
}

/// Serialize to JSON bytes for a [`ReadResult`].
pub fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
