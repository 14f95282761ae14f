//! Consul's lock and semaphore recipes over the HTTP API, as its Go `api.Lock` and
//! `api.Semaphore` run them, so a `disco lock` contends correctly with any Consul tool on
//! the same prefix: the same keys, flags, session settings, JSON and wire steps.
//!
//! A lock is one key acquired with a session; a semaphore is one contender key per session
//! under a prefix plus a `.lock` key whose JSON lists the holders, updated by check-and-set.
//! Both hold a session renewed at half its TTL, and a monitor that watches with
//! `?consistent` reads and reports the moment the hold is gone.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde::Deserialize;
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

/// The attempts of one acquisition: each blocking read's wait, bounded in one-shot mode.
struct Attempts<'a> {
    opts: &'a LockOptions,
    start: Instant,
    count: u32,
}

impl<'a> Attempts<'a> {
    fn new(opts: &'a LockOptions) -> Self {
        Attempts {
            opts,
            start: Instant::now(),
            count: 0,
        }
    }

    /// The next read's wait; `None` once `stop` is set or a one-shot attempt is over.
    fn next(&mut self, stop: &watch::Receiver<bool>) -> Option<Duration> {
        if *stop.borrow() {
            return None;
        }
        let wait = next_wait(self.opts, self.start, self.count)?;
        self.count += 1;
        Some(wait)
    }
}

/// A session that got the hold, renewed until it is released.
struct Holding {
    session: String,
    renewer: Renewer,
}

/// Create a session (renewed from the start) and contend with it; keep it only when
/// `contend` got the hold, else destroy it.
async fn hold(
    client: &Client,
    name: &str,
    behavior: Option<&str>,
    contend: impl AsyncFnOnce(String) -> Result<bool, LockError>,
) -> Result<Option<Holding>, LockError> {
    let session = create_session(client, name, behavior).await?;
    let renewer = Renewer::start(client.clone(), session.clone(), ttl());
    match contend(session.clone()).await {
        Ok(true) => Ok(Some(Holding { session, renewer })),
        other => {
            renewer.stop().await;
            other.map(|_| None)
        }
    }
}

/// How long a monitor's consistent read blocks (the server's default wait).
const MONITOR_WAIT: Duration = Duration::from_secs(300);

/// Watch with `read` (blocking from the index it is given) until `held` says the hold is
/// gone or a read fails for good, then drop the sender of [`Held::lost`]. Up to
/// `retries` failed reads in a row are ridden out, `pause` apart, if they are retryable.
fn spawn_monitor<T, R, Fut>(
    retries: u32,
    pause: Duration,
    read: R,
    held: impl Fn(&T) -> bool + Send + 'static,
) -> Held
where
    T: Send + 'static,
    R: Fn(u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Result<(T, u64), ClientError>> + Send,
{
    let (tx, lost) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let mut index = 0;
        'watch: loop {
            let mut left = retries;
            let (value, next) = loop {
                match read(index).await {
                    Ok(r) => break r,
                    Err(e) if left > 0 && retryable(&e) => {
                        left -= 1;
                        index = 0;
                        tokio::time::sleep(pause).await;
                    }
                    Err(_) => break 'watch,
                }
            };
            if !held(&value) {
                break;
            }
            index = next;
        }
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

mod mutex;
mod semaphore;

pub use mutex::Lock;
pub use semaphore::Semaphore;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_flag_values_are_consul_s() {
        assert_eq!(LOCK_FLAG_VALUE, 3_304_740_253_564_472_344);
        assert_eq!(SEMAPHORE_FLAG_VALUE, 0xe0f69a2baa414de0);
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
