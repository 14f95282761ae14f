//! Consul's lock and semaphore recipes over the HTTP API, as its Go `api.Lock` and
//! `api.Semaphore` run them, so a `disco lock` contends correctly with any Consul tool on
//! the same prefix: the same keys, flags, session settings, JSON and wire steps.
//!
//! A lock is one key acquired with a session; a semaphore is one contender key per session
//! under a prefix plus a `.lock` key whose JSON lists the holders, updated by check-and-set.
//! Both hold a session renewed at half its TTL, and a monitor that watches with
//! `?consistent` reads and reports the moment the hold is gone.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use reqwest::Method;
use serde::{Deserialize, Serialize};
use tokio::sync::{oneshot, watch};

use super::{Client, ClientError};
use crate::api::kv::KvPair;
use crate::api::path_escape;

/// `api.LockFlagValue`: the flags of a lock key.
pub const LOCK_FLAG_VALUE: u64 = 0x2ddc_cbc0_58a5_0c18;
/// `api.SemaphoreFlagValue`: the flags of a semaphore's keys.
pub const SEMAPHORE_FLAG_VALUE: u64 = 0xe0f6_9a2b_aa41_4de0;
/// The key under a semaphore's prefix that lists its holders.
pub const SEMAPHORE_KEY: &str = ".lock";
/// TTL of the sessions the recipes create.
pub const SESSION_TTL: &str = "15s";
/// How long one blocking read of a contender waits.
pub const WAIT_TIME: Duration = Duration::from_secs(15);
/// The pause after a refused acquire on a free key (a lock-delay is running).
pub const RETRY_TIME: Duration = Duration::from_secs(5);

/// Why a lock or semaphore operation failed, in Consul's words.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// `Lock` while holding it.
    #[error("Lock already held")]
    LockHeld,
    /// `Unlock` without holding it.
    #[error("Lock not held")]
    LockNotHeld,
    /// `Destroy` while someone holds it.
    #[error("Lock in use")]
    LockInUse,
    /// The key exists with other flags: it is not a lock.
    #[error("Existing key does not match lock use")]
    LockConflict,
    /// `Acquire` while holding a slot.
    #[error("Semaphore already held")]
    SemaphoreHeld,
    /// `Release` without holding a slot.
    #[error("Semaphore not held")]
    SemaphoreNotHeld,
    /// `Destroy` while it has holders.
    #[error("Semaphore in use")]
    SemaphoreInUse,
    /// The prefix holds a lock or other data, not a semaphore.
    #[error("Existing key does not match semaphore use")]
    SemaphoreConflict,
    /// Contenders disagree on the number of holders.
    #[error("semaphore limit conflict (lock: {lock}, local: {local})")]
    LimitConflict {
        /// The limit stored in `.lock`.
        lock: usize,
        /// Ours.
        local: usize,
    },
    /// A request failed; the text says which step.
    #[error("{0}")]
    Request(String),
}

fn step(what: &'static str) -> impl Fn(ClientError) -> LockError {
    move |e| LockError::Request(format!("{what}: {e}"))
}

/// What both recipes are given.
#[derive(Clone, Debug)]
pub struct LockOptions {
    /// The lock key, or the semaphore's prefix.
    pub key: String,
    /// Value written with the lock key or the contender key.
    pub value: Vec<u8>,
    /// Name of the session created.
    pub session_name: String,
    /// One attempt bounded by `wait` instead of waiting forever.
    pub try_once: bool,
    /// The bound of a `try_once` attempt, and each blocking read's wait.
    pub wait: Duration,
    /// Failed monitor reads tolerated (500s and network errors only).
    pub monitor_retries: u32,
    /// Pause between monitor retries.
    pub monitor_retry_time: Duration,
}

impl LockOptions {
    /// Consul's defaults for `key`.
    pub fn new(key: &str, session_name: &str) -> Self {
        LockOptions {
            key: key.to_string(),
            value: Vec::new(),
            session_name: session_name.to_string(),
            try_once: false,
            wait: WAIT_TIME,
            monitor_retries: 0,
            monitor_retry_time: Duration::from_secs(2),
        }
    }
}

/// A held lock or slot: `lost` resolves (with an error, its sender dropped) when the
/// monitor sees it gone.
pub struct Held {
    /// Resolves when the hold is lost.
    pub lost: oneshot::Receiver<()>,
}

/// A session renewed at half its TTL until it is stopped, then destroyed (`RenewPeriodic`).
struct Renewer {
    done: Option<oneshot::Sender<()>>,
    task: tokio::task::JoinHandle<()>,
}

impl Renewer {
    fn start(client: Client, id: String, ttl: Duration) -> Renewer {
        let (done, mut stop) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut wait = ttl / 2;
            let mut ttl = ttl;
            let mut last = Instant::now();
            loop {
                if last.elapsed() > ttl {
                    return;
                }
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut stop => {
                        let _ = client
                            .send(Method::PUT, &format!("/v1/session/destroy/{id}"), None)
                            .await;
                        return;
                    }
                }
                match client
                    .send(Method::PUT, &format!("/v1/session/renew/{id}"), None)
                    .await
                {
                    Ok((404, _)) => return,
                    Ok((_, body)) => {
                        // The server may change the TTL; follow it.
                        let entries: Vec<SessionTtl> =
                            serde_json::from_slice(&body).unwrap_or_default();
                        if let Some(d) = entries
                            .first()
                            .and_then(|e| crate::api::duration::parse_go(&e.ttl))
                            .filter(|d| !d.is_zero())
                        {
                            ttl = d;
                        }
                        wait = ttl / 2;
                        last = Instant::now();
                    }
                    Err(_) => wait = Duration::from_secs(1),
                }
            }
        });
        Renewer {
            done: Some(done),
            task,
        }
    }

    /// Stop renewing and destroy the session; waits for the destroy to be sent.
    async fn stop(mut self) {
        if let Some(d) = self.done.take() {
            let _ = d.send(());
        }
        let _ = self.task.await;
    }
}

#[derive(Deserialize, Default)]
struct SessionTtl {
    #[serde(rename = "TTL", default)]
    ttl: String,
}

async fn create_session(
    client: &Client,
    name: &str,
    behavior: Option<&str>,
) -> Result<String, LockError> {
    let mut body = serde_json::json!({"Name": name, "TTL": SESSION_TTL});
    if let Some(b) = behavior {
        body["Behavior"] = b.into();
    }
    let (_, out) = client
        .send(
            Method::PUT,
            "/v1/session/create",
            Some(body.to_string().into_bytes()),
        )
        .await
        .map_err(step("failed to create session"))?;
    let v: serde_json::Value = serde_json::from_slice(&out)
        .map_err(|e| LockError::Request(format!("failed to create session: {e}")))?;
    v["ID"]
        .as_str()
        .map(str::to_string)
        .ok_or_else(|| LockError::Request("failed to create session: no ID".into()))
}

fn ttl() -> Duration {
    crate::api::duration::parse_go(SESSION_TTL).unwrap_or(Duration::from_secs(15))
}

async fn put_bool(client: &Client, path: &str, body: Vec<u8>) -> Result<bool, ClientError> {
    let (_, out) = client.send(Method::PUT, path, Some(body)).await?;
    Ok(String::from_utf8_lossy(&out).trim() == "true")
}

async fn delete_bool(client: &Client, path: &str) -> Result<bool, ClientError> {
    let (_, out) = client.send(Method::DELETE, path, None).await?;
    Ok(String::from_utf8_lossy(&out).trim() == "true")
}

/// `GET /v1/kv/<key>` (blocking from `index`; `consistent` for monitors).
async fn get_key(
    client: &Client,
    key: &str,
    index: u64,
    wait: Duration,
    consistent: bool,
) -> Result<(Option<KvPair>, u64), ClientError> {
    let mut path = format!("/v1/kv/{}", path_escape(key));
    if consistent {
        path.push_str("?consistent");
    }
    let (pairs, next): (Vec<KvPair>, u64) = client
        .get_indexed_as(&path, index, &format!("{}ms", wait.as_millis()))
        .await?;
    Ok((pairs.into_iter().next(), next))
}

/// `GET /v1/kv/<prefix>?recurse` (blocking from `index`).
async fn list_prefix(
    client: &Client,
    prefix: &str,
    index: u64,
    wait: Duration,
    consistent: bool,
) -> Result<(Vec<KvPair>, u64), ClientError> {
    let mut path = format!("/v1/kv/{}?recurse", path_escape(prefix));
    if consistent {
        path.push_str("&consistent");
    }
    client
        .get_indexed_as(&path, index, &format!("{}ms", wait.as_millis()))
        .await
}

/// How long the next blocking read may wait, or `None` when a one-shot attempt is over.
fn next_wait(opts: &LockOptions, start: Instant, attempts: u32) -> Option<Duration> {
    if !opts.try_once || attempts == 0 {
        return Some(opts.wait);
    }
    let elapsed = start.elapsed();
    (elapsed <= opts.wait).then(|| opts.wait - elapsed)
}

fn stopped(stop: &watch::Receiver<bool>) -> bool {
    *stop.borrow()
}

/// Run `monitor` until it returns (the hold is gone), then drop the sender of `lost`.
fn spawn_monitor<F>(monitor: F) -> Held
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (tx, lost) = oneshot::channel::<()>();
    tokio::spawn(async move {
        monitor.await;
        drop(tx);
    });
    Held { lost }
}

/// Whether a monitor may retry after `e` (Consul's `IsRetryableError`: 500s and transport
/// failures, never a 4xx).
fn retryable(e: &ClientError) -> bool {
    match e {
        ClientError::Status { code, .. } => *code >= 500,
        ClientError::Unreachable { .. } | ClientError::Other(_) => true,
    }
}

/// A mutual-exclusion lock on one key (`api.Lock`).
pub struct Lock {
    client: Client,
    opts: LockOptions,
    session: Option<String>,
    renewer: Option<Renewer>,
}

impl Lock {
    /// A lock on `opts.key`, not yet contended for.
    pub fn new(client: Client, opts: LockOptions) -> Lock {
        Lock {
            client,
            opts,
            session: None,
            renewer: None,
        }
    }

    /// Wait for the lock; `Ok(None)` when `stop` turned true or a one-shot attempt ran out.
    pub async fn lock(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<Held>, LockError> {
        if self.session.is_some() {
            return Err(LockError::LockHeld);
        }
        let session = create_session(&self.client, &self.opts.session_name, None).await?;
        let renewer = Renewer::start(self.client.clone(), session.clone(), ttl());
        match self.contend(&session, stop).await {
            Ok(true) => {
                self.session = Some(session.clone());
                self.renewer = Some(renewer);
                let (client, key) = (self.client.clone(), self.opts.key.clone());
                let (retries, pause) = (self.opts.monitor_retries, self.opts.monitor_retry_time);
                Ok(Some(spawn_monitor(async move {
                    monitor_lock(client, key, session, retries, pause).await
                })))
            }
            other => {
                renewer.stop().await;
                other.map(|_| None)
            }
        }
    }

    async fn contend(
        &self,
        session: &str,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<bool, LockError> {
        let key = self.opts.key.as_str();
        let start = Instant::now();
        let mut attempts = 0;
        let mut index = 0;
        loop {
            if stopped(stop) {
                return Ok(false);
            }
            let Some(wait) = next_wait(&self.opts, start, attempts) else {
                return Ok(false);
            };
            attempts += 1;
            let read = tokio::select! {
                r = get_key(&self.client, key, index, wait, false) => r,
                _ = stop.changed() => return Ok(false),
            };
            let (pair, next) = read.map_err(step("failed to read lock"))?;
            if let Some(p) = &pair {
                if p.flags != LOCK_FLAG_VALUE {
                    return Err(LockError::LockConflict);
                }
                if p.holder() == Some(session) {
                    return Ok(true);
                }
                if p.holder().is_some() {
                    index = next;
                    continue;
                }
            }
            let path = format!(
                "/v1/kv/{}?acquire={session}&flags={LOCK_FLAG_VALUE}",
                path_escape(key)
            );
            let locked = put_bool(&self.client, &path, self.opts.value.clone())
                .await
                .map_err(step("failed to acquire lock"))?;
            if locked {
                return Ok(true);
            }
            // Refused: held by someone (block on it) or free under a lock-delay (wait).
            let (pair, next) = get_key(&self.client, key, 0, wait, false)
                .await
                .map_err(step("failed to read lock"))?;
            if pair.as_ref().is_some_and(|p| p.holder().is_some()) {
                index = next;
            } else {
                index = 0;
                tokio::select! {
                    _ = tokio::time::sleep(RETRY_TIME) => {}
                    _ = stop.changed() => return Ok(false),
                }
            }
        }
    }

    /// Release the lock and destroy its session.
    pub async fn unlock(&mut self) -> Result<(), LockError> {
        let Some(session) = self.session.take() else {
            return Err(LockError::LockNotHeld);
        };
        let path = format!(
            "/v1/kv/{}?release={session}&flags={LOCK_FLAG_VALUE}",
            path_escape(&self.opts.key)
        );
        let released = put_bool(&self.client, &path, self.opts.value.clone())
            .await
            .map_err(step("failed to release lock"));
        if let Some(r) = self.renewer.take() {
            r.stop().await;
        }
        released.map(|_| ())
    }

    /// Delete the lock key if nobody holds it (`Lock in use` otherwise).
    pub async fn destroy(&self) -> Result<(), LockError> {
        if self.session.is_some() {
            return Err(LockError::LockHeld);
        }
        let (pair, _) = get_key(&self.client, &self.opts.key, 0, self.opts.wait, false)
            .await
            .map_err(step("failed to read lock"))?;
        let Some(pair) = pair else {
            return Ok(());
        };
        if pair.flags != LOCK_FLAG_VALUE {
            return Err(LockError::LockConflict);
        }
        if pair.holder().is_some() {
            return Err(LockError::LockInUse);
        }
        let path = format!(
            "/v1/kv/{}?cas={}",
            path_escape(&self.opts.key),
            pair.modify_index
        );
        let removed = delete_bool(&self.client, &path)
            .await
            .map_err(step("failed to remove lock"))?;
        if removed {
            Ok(())
        } else {
            Err(LockError::LockInUse)
        }
    }
}

/// Watch the lock key with consistent reads until our session no longer holds it.
async fn monitor_lock(client: Client, key: String, session: String, retries: u32, pause: Duration) {
    let mut index = 0;
    loop {
        let mut left = retries;
        let (pair, next) = loop {
            match get_key(&client, &key, index, Duration::from_secs(300), true).await {
                Ok(r) => break r,
                Err(e) if left > 0 && retryable(&e) => {
                    left -= 1;
                    index = 0;
                    tokio::time::sleep(pause).await;
                }
                Err(_) => return,
            }
        };
        if pair.as_ref().and_then(|p| p.holder()) != Some(session.as_str()) {
            return;
        }
        index = next;
    }
}

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
    session: Option<String>,
    renewer: Option<Renewer>,
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
            session: None,
            renewer: None,
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
        if self.session.is_some() {
            return Err(LockError::SemaphoreHeld);
        }
        let session = create_session(&self.client, &self.opts.session_name, Some("delete")).await?;
        let renewer = Renewer::start(self.client.clone(), session.clone(), ttl());
        match self.contend(&session, stop).await {
            Ok(true) => {
                self.session = Some(session.clone());
                self.renewer = Some(renewer);
                let (client, prefix, limit) =
                    (self.client.clone(), self.prefix().to_string(), self.limit);
                let (retries, pause) = (self.opts.monitor_retries, self.opts.monitor_retry_time);
                Ok(Some(spawn_monitor(async move {
                    monitor_semaphore(client, prefix, limit, session, retries, pause).await
                })))
            }
            other => {
                renewer.stop().await;
                other.map(|_| None)
            }
        }
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
        let start = Instant::now();
        let mut attempts = 0;
        let mut index = 0;
        loop {
            if stopped(stop) {
                return Ok(false);
            }
            let Some(wait) = next_wait(&self.opts, start, attempts) else {
                return Ok(false);
            };
            attempts += 1;
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
        let Some(session) = self.session.take() else {
            return Err(LockError::SemaphoreNotHeld);
        };
        let result = self.leave(&session).await;
        if let Some(r) = self.renewer.take() {
            r.stop().await;
        }
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
        if self.session.is_some() {
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

/// Watch the prefix with consistent reads until our session is no longer a live holder.
async fn monitor_semaphore(
    client: Client,
    prefix: String,
    limit: usize,
    session: String,
    retries: u32,
    pause: Duration,
) {
    let mut index = 0;
    loop {
        let mut left = retries;
        let (pairs, next) = loop {
            match list_prefix(&client, &prefix, index, Duration::from_secs(300), true).await {
                Ok(r) => break r,
                Err(e) if left > 0 && retryable(&e) => {
                    left -= 1;
                    index = 0;
                    tokio::time::sleep(pause).await;
                }
                Err(_) => return,
            }
        };
        let Ok(mut lock) = decode_lock(&find_lock(&prefix, &pairs), limit) else {
            return;
        };
        prune_dead_holders(&mut lock, &pairs);
        if !lock.holders.contains_key(&session) {
            return;
        }
        index = next;
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
    fn the_flag_values_are_consul_s() {
        assert_eq!(LOCK_FLAG_VALUE, 3_304_740_253_564_472_344);
        assert_eq!(SEMAPHORE_FLAG_VALUE, 0xe0f69a2baa414de0);
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

    #[test]
    fn a_one_shot_attempt_is_bounded_by_its_wait() {
        let mut opts = LockOptions::new("k", "n");
        let start = Instant::now();
        assert_eq!(next_wait(&opts, start, 5), Some(WAIT_TIME));
        opts.try_once = true;
        opts.wait = Duration::from_millis(0);
        assert_eq!(next_wait(&opts, start, 0), Some(Duration::ZERO));
        std::thread::sleep(Duration::from_millis(2));
        assert_eq!(next_wait(&opts, start, 1), None);
    }
}
