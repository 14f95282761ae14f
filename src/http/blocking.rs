//! Blocking queries: run a read, and while its index has not passed the client's, park on the
//! store's watch channels until a change or the wait expires.

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use axum::response::Response;

use super::ApiError;
use super::query::{Consistency, Query};
use super::respond::{Meta, json_bytes, with_meta};
use crate::agent::Agent;
use crate::state::{Store, Table};

/// What a read produced: its index, status and JSON body.
pub type ReadResult = Result<(u64, StatusCode, Vec<u8>), ApiError>;

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

/// Serve a store read with Consul's consistency modes, blocking and meta headers.
pub async fn read<F>(agent: &Agent, q: &Query, tables: &[Table], f: F) -> Result<Response, ApiError>
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
    loop {
        let (mut watch, result) = {
            let store = agent.store.read();
            (store.watch(tables), f(&store))
        };
        let (index, status, body) = result?;
        if min_index == 0 || index > min_index || Instant::now() >= deadline {
            let meta = Meta {
                index,
                known_leader,
                last_contact_ms,
                consistency: mode.as_str(),
            };
            return Ok(with_meta(json_bytes(status, body), meta));
        }
        tokio::select! {
            _ = watch.changed() => {}
            _ = tokio::time::sleep_until(deadline.into()) => {}
        }
    }
}

/// Serialize to JSON bytes for a [`ReadResult`].
pub fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<Vec<u8>, ApiError> {
    serde_json::to_vec(v)
        .map_err(|e| ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))
}
