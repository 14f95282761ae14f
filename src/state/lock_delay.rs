//! Lock-delay bookkeeping: after a session holding a key is invalidated, the key cannot be
//! locked again for the session's lock-delay (Chubby's lock-delay, as Consul has it).
//!
//! Deliberately not replicated state. Every server fills its own map, with its own clock,
//! when its state machine applies the invalidation, and only the leader consults it, before
//! it appends an acquire to the log. The state machine never looks at it, so servers with
//! skewed clocks still apply every entry identically. It is not in snapshots, and a
//! restart forgets it, exactly as in Consul.

use parking_lot::Mutex;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// The longest lock-delay honoured, whatever a session asks for.
pub const MAX_LOCK_DELAY: Duration = Duration::from_secs(60);

/// Keys whose lock-delay has not passed yet. The mutex is a leaf in the lock order: it is
/// never held while anything else is locked or awaited.
#[derive(Debug, Default)]
pub struct LockDelays {
    until: Mutex<HashMap<String, Instant>>,
}

impl LockDelays {
    /// Start a delay of `delay` (capped at [`MAX_LOCK_DELAY`]) on each key, from now.
    pub fn start<'a>(&self, keys: impl IntoIterator<Item = (&'a str, Duration)>) {
        // Called on every publish: most batches start no delay and must not take the lock.
        let mut keys = keys.into_iter().peekable();
        if keys.peek().is_none() {
            return;
        }
        let now = Instant::now();
        let mut until = self.until.lock();
        until.retain(|_, t| *t > now);
        for (key, delay) in keys {
            let delay = delay.min(MAX_LOCK_DELAY);
            if delay.is_zero() {
                continue;
            }
            let t = now + delay;
            let e = until.entry(key.to_string()).or_insert(t);
            *e = (*e).max(t);
        }
    }

    /// How much of `key`'s lock-delay is left, if any.
    pub fn remaining(&self, key: &str) -> Option<Duration> {
        let until = self.until.lock();
        let left = until.get(key)?.checked_duration_since(Instant::now())?;
        (!left.is_zero()).then_some(left)
    }

    /// Number of keys with a delay recorded (expired ones may still count until the next
    /// start prunes them).
    pub fn len(&self) -> usize {
        self.until.lock().len()
    }

    /// Whether no delay is recorded.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_expire_and_are_capped() {
        let d = LockDelays::default();
        d.start([
            ("a", Duration::from_millis(50)),
            ("b", Duration::ZERO),
            ("c", Duration::from_secs(3600)),
        ]);
        assert!(d.remaining("a").is_some());
        assert!(d.remaining("b").is_none(), "a zero delay records nothing");
        assert!(d.remaining("c").unwrap() <= MAX_LOCK_DELAY);
        let deadline = Instant::now() + Duration::from_secs(5);
        while d.remaining("a").is_some() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        assert!(d.remaining("a").is_none());
    }
}
