//! `api.Semaphore`: at most `limit` holders under one prefix. Each contender holds its own
//! key under the prefix with its session (behavior `delete`, so a dead contender's key goes
//! with its session); `<prefix>/.lock` lists the holders as JSON, changed only by
//! check-and-set, and holders whose contender key is gone are pruned by whoever reads it.

use std::collections::BTreeMap;

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

use super::{
    Attempts, Held, Holding, LockError, LockOptions, MONITOR_WAIT, SEMAPHORE_FLAG_VALUE,
    SEMAPHORE_KEY, delete_bool, get_key, hold, list_prefix, put_bool, spawn_monitor, step,
};
use crate::api::kv::KvPair;
use crate::api::path_escape;
use crate::client::{Client, ClientError};

/// The JSON of a semaphore's `.lock` key.
#[derive(Serialize, Deserialize, Debug, Default, Clone, PartialEq, Eq)]
#[serde(rename_all = "PascalCase")]
struct SemaphoreLock {
    limit: usize,
    holders: BTreeMap<String, bool>,
}

/// A semaphore: at most `limit` holders under one prefix (`api.Semaphore`).
pub struct Semaphore {
    client: Client,
    opts: LockOptions,
    limit: usize,
    held: Option<Holding>,
}

fn lock_key(prefix: &str) -> String {
    format!("{}/{SEMAPHORE_KEY}", prefix.trim_end_matches('/'))
}

/// The `.lock` entry among `pairs`; an absent one counts as an empty semaphore.
fn find_lock(prefix: &str, pairs: &[KvPair]) -> KvPair {
    let key = lock_key(prefix);
    pairs
        .iter()
        .find(|p| p.key == key)
        .cloned()
        .unwrap_or(KvPair {
            key,
            flags: SEMAPHORE_FLAG_VALUE,
            ..KvPair::default()
        })
}

fn decode_lock(pair: &KvPair, limit: usize) -> Result<SemaphoreLock, LockError> {
    if pair.value.is_none() {
        return Ok(SemaphoreLock {
            limit,
            holders: BTreeMap::new(),
        });
    }
    serde_json::from_slice(&pair.value())
        .map_err(|e| LockError::Request(format!("lock decoding failed: {e}")))
}

/// Drop holders whose contender key is gone or no longer held by a session.
fn prune_dead_holders(lock: &mut SemaphoreLock, pairs: &[KvPair]) {
    let alive: std::collections::HashSet<&str> = pairs.iter().filter_map(KvPair::holder).collect();
    lock.holders.retain(|h, _| alive.contains(h.as_str()));
}

impl Semaphore {
    /// A semaphore of `limit` slots on the prefix `opts.key`.
    pub fn new(client: Client, opts: LockOptions, limit: usize) -> Semaphore {
        Semaphore {
            client,
            opts,
            limit,
            held: None,
        }
    }

    fn prefix(&self) -> &str {
        self.opts.key.trim_end_matches('/')
    }

    /// Wait for a slot; `Ok(None)` when `stop` turned true or a one-shot attempt ran out.
    pub async fn acquire(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<Held>, LockError> {
        if self.held.is_some() {
            return Err(LockError::SemaphoreHeld);
        }
        let this = &*self;
        let contend = async |session: String| this.contend(&session, stop).await;
        let name = &self.opts.session_name;
        let Some(h) = hold(&self.client, name, Some("delete"), contend).await? else {
            return Ok(None);
        };
        let (client, prefix, limit) = (self.client.clone(), self.prefix().to_string(), self.limit);
        let session = h.session.clone();
        let lost = spawn_monitor(
            self.opts.monitor_retries,
            self.opts.monitor_retry_time,
            {
                let prefix = prefix.clone();
                move |index| {
                    let (client, prefix) = (client.clone(), prefix.clone());
                    async move { list_prefix(&client, &prefix, index, MONITOR_WAIT, true).await }
                }
            },
            move |pairs: &Vec<KvPair>| {
                decode_lock(&find_lock(&prefix, pairs), limit).is_ok_and(|mut lock| {
                    prune_dead_holders(&mut lock, pairs);
                    lock.holders.contains_key(&session)
                })
            },
        );
        self.held = Some(h);
        Ok(Some(lost))
    }

    async fn contend(
        &self,
        session: &str,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, LockError> {
        let prefix = self.prefix();
        let contender = format!(
            "/v1/kv/{}/{session}?acquire={session}&flags={SEMAPHORE_FLAG_VALUE}",
            path_escape(prefix)
        );
        let made = put_bool(&self.client, &contender, self.opts.value.clone())
            .await
            .map_err(step("failed to make contender entry"))?;
        if !made {
            return Err(LockError::Request(
                "failed to make contender entry: <nil>".into(),
            ));
        }
        let mut attempts = Attempts::new(&self.opts);
        let mut index = 0;
        loop {
            let Some(wait) = attempts.next(stop) else {
                return Ok(false);
            };
            let read = tokio::select! {
                r = list_prefix(&self.client, prefix, index, wait, false) => r,
                _ = stop.changed() => return Ok(false),
            };
            let (pairs, next) = read.map_err(step("failed to read prefix"))?;
            let lock_pair = find_lock(prefix, &pairs);
            if lock_pair.flags != SEMAPHORE_FLAG_VALUE {
                return Err(LockError::SemaphoreConflict);
            }
            let mut lock = decode_lock(&lock_pair, self.limit)?;
            if lock.limit != self.limit {
                return Err(LockError::LimitConflict {
                    lock: lock.limit,
                    local: self.limit,
                });
            }
            prune_dead_holders(&mut lock, &pairs);
            if lock.holders.len() >= lock.limit {
                index = next;
                continue;
            }
            lock.holders.insert(session.to_string(), true);
            let set = self
                .write_lock(&lock, lock_pair.modify_index)
                .await
                .map_err(step("failed to update lock"))?;
            if set {
                return Ok(true);
            }
            // Another contender changed `.lock` first: read it again.
        }
    }

    async fn write_lock(&self, lock: &SemaphoreLock, cas: u64) -> Result<bool, ClientError> {
        let body = serde_json::to_vec(lock).map_err(|e| ClientError::Other(e.to_string()))?;
        let path = format!(
            "/v1/kv/{}?cas={cas}&flags={SEMAPHORE_FLAG_VALUE}",
            path_escape(&lock_key(self.prefix()))
        );
        put_bool(&self.client, &path, body).await
    }

    /// Give up our slot, delete our contender key and destroy the session.
    pub async fn release(&mut self) -> Result<(), LockError> {
        let Some(h) = self.held.take() else {
            return Err(LockError::SemaphoreNotHeld);
        };
        let result = self.leave(&h.session).await;
        h.renewer.stop().await;
        result
    }

    async fn leave(&self, session: &str) -> Result<(), LockError> {
        let key = lock_key(self.prefix());
        loop {
            let (pair, _) = get_key(&self.client, &key, 0, self.opts.wait, false)
                .await
                .map_err(step("failed to read lock"))?;
            let pair = pair.unwrap_or_default();
            let mut lock = decode_lock(&pair, self.limit)?;
            if lock.holders.remove(session).is_none() {
                break;
            }
            if self
                .write_lock(&lock, pair.modify_index)
                .await
                .map_err(step("failed to update lock"))?
            {
                break;
            }
        }
        let contender = format!("/v1/kv/{}/{session}", path_escape(self.prefix()));
        self.client
            .send(Method::DELETE, &contender, None)
            .await
            .map_err(|e| LockError::Request(e.to_string()))?;
        Ok(())
    }

    /// Delete `.lock` when the semaphore has no live holders (`Semaphore in use` otherwise).
    pub async fn destroy(&self) -> Result<(), LockError> {
        if self.held.is_some() {
            return Err(LockError::SemaphoreHeld);
        }
        let (pairs, _) = list_prefix(&self.client, self.prefix(), 0, self.opts.wait, false)
            .await
            .map_err(step("failed to read prefix"))?;
        let lock_pair = find_lock(self.prefix(), &pairs);
        if lock_pair.modify_index == 0 {
            return Ok(());
        }
        if lock_pair.flags != SEMAPHORE_FLAG_VALUE {
            return Err(LockError::SemaphoreConflict);
        }
        let mut lock = decode_lock(&lock_pair, self.limit)?;
        prune_dead_holders(&mut lock, &pairs);
        if !lock.holders.is_empty() {
            return Err(LockError::SemaphoreInUse);
        }
        let path = format!(
            "/v1/kv/{}?cas={}",
            path_escape(&lock_pair.key),
            lock_pair.modify_index
        );
        let removed = delete_bool(&self.client, &path)
            .await
            .map_err(step("failed to remove semaphore"))?;
        if removed {
            Ok(())
        } else {
            Err(LockError::SemaphoreInUse)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pair(key: &str, session: Option<&str>) -> KvPair {
        KvPair {
            key: key.into(),
            flags: SEMAPHORE_FLAG_VALUE,
            session: session.map(str::to_string),
            ..KvPair::default()
        }
    }

    #[test]
    fn dead_holders_are_pruned_and_an_absent_lock_is_empty() {
        let pairs = vec![
            pair("svc/a", Some("a")),
            pair("svc/b", None),
            pair("svc/.lock", None),
        ];
        let mut lock = SemaphoreLock {
            limit: 2,
            holders: [("a", true), ("b", true), ("c", true)]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        };
        prune_dead_holders(&mut lock, &pairs);
        assert_eq!(lock.holders.keys().collect::<Vec<_>>(), vec!["a"]);
        let absent = find_lock("svc", &[pair("svc/a", Some("a"))]);
        assert_eq!((absent.key.as_str(), absent.modify_index), ("svc/.lock", 0));
        assert_eq!(decode_lock(&absent, 3).unwrap().limit, 3);
        let json = serde_json::to_string(&lock).unwrap();
        assert_eq!(json, r#"{"Limit":2,"Holders":{"a":true}}"#);
    }
}
