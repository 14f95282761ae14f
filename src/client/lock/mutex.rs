//! `api.Lock`: one key, acquired with a session; blocked contenders wait on the key's
//! index, and a refused acquire on a free key means a lock-delay is running.

use tokio::sync::watch;

use super::{
    Attempts, Held, Holding, LOCK_FLAG_VALUE, LockError, LockOptions, MONITOR_WAIT, RETRY_TIME,
    delete_bool, get_key, hold, put_bool, spawn_monitor, step,
};
use crate::api::kv::KvPair;
use crate::api::path_escape;
use crate::client::Client;

/// A mutual-exclusion lock on one key (`api.Lock`).
pub struct Lock {
    client: Client,
    opts: LockOptions,
    held: Option<Holding>,
}

impl Lock {
    /// A lock on `opts.key`, not yet contended for.
    pub fn new(client: Client, opts: LockOptions) -> Lock {
        Lock {
            client,
            opts,
            held: None,
        }
    }

    /// Wait for the lock; `Ok(None)` when `stop` turned true or a one-shot attempt ran out.
    pub async fn lock(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<Held>, LockError> {
        if self.held.is_some() {
            return Err(LockError::LockHeld);
        }
        let this = &*self;
        let contend = async |session: String| this.contend(&session, stop).await;
        let Some(h) = hold(&self.client, &self.opts.session_name, None, contend).await? else {
            return Ok(None);
        };
        let (client, key) = (self.client.clone(), self.opts.key.clone());
        let session = h.session.clone();
        let lost = spawn_monitor(
            self.opts.monitor_retries,
            self.opts.monitor_retry_time,
            move |index| {
                let (client, key) = (client.clone(), key.clone());
                async move { get_key(&client, &key, index, MONITOR_WAIT, true).await }
            },
            move |pair: &Option<KvPair>| {
                pair.as_ref().and_then(KvPair::holder) == Some(session.as_str())
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
        let key = self.opts.key.as_str();
        let mut attempts = Attempts::new(&self.opts);
        let mut index = 0;
        loop {
            let Some(wait) = attempts.next(stop) else {
                return Ok(false);
            };
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
        let Some(h) = self.held.take() else {
            return Err(LockError::LockNotHeld);
        };
        let path = format!(
            "/v1/kv/{}?release={}&flags={LOCK_FLAG_VALUE}",
            path_escape(&self.opts.key),
            h.session
        );
        let released = put_bool(&self.client, &path, self.opts.value.clone())
            .await
            .map_err(step("failed to release lock"));
        h.renewer.stop().await;
        released.map(|_| ())
    }

    /// Delete the lock key if nobody holds it (`Lock in use` otherwise).
    pub async fn destroy(&self) -> Result<(), LockError> {
        if self.held.is_some() {
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
