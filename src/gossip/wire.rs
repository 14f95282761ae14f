//! What travels besides foca's own packets: membership intents (leave, force-leave and its
//! refutation) and user events piggybacked as custom broadcasts, and the TCP push-pull
//! state exchange.

use std::collections::HashSet;
use std::sync::Arc;

use foca::{BroadcastHandler, Invalidates, Member};
use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::identity::MemberId;

/// Largest TCP frame accepted (a push-pull of thousands of members fits easily).
pub const MAX_FRAME: usize = 4 * 1024 * 1024;

/// A membership intent, disseminated through the cluster by gossip.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Intent {
    /// `name` is leaving gracefully: peers show `leaving`, then `left` once it is gone.
    Leave {
        /// Node.
        name: String,
        /// The leaving incarnation's bump.
        bump: u64,
    },
    /// An operator asked to drop `name` (`force-leave`): failed → left.
    ForceLeave {
        /// Node.
        name: String,
        /// Remove it from the member list at once.
        prune: bool,
        /// Unique per request.
        ltime: u64,
    },
    /// `name` is alive and refutes a force-leave.
    Refute {
        /// Node.
        name: String,
        /// Its current bump.
        bump: u64,
        /// Unique per refutation.
        ltime: u64,
    },
    /// An operator's user event (serf's `UserEvent`): opaque to gossip, delivered once to
    /// every member. Appended last, so the earlier variants keep their encoding.
    UserEvent {
        /// The event clock's time when it was fired.
        ltime: u64,
        /// Event name (the agent prefixes it, as Consul does with `consul:event:`).
        name: String,
        /// The agent's encoded envelope.
        payload: Vec<u8>,
    },
}

impl Intent {
    fn key(&self) -> IntentKey {
        match self {
            Intent::Leave { name, bump } => IntentKey(0, name.clone(), *bump, 0),
            Intent::ForceLeave { name, ltime, .. } => IntentKey(1, name.clone(), *ltime, 0),
            Intent::Refute { name, ltime, .. } => IntentKey(2, name.clone(), *ltime, 0),
            // Serf dedupes user events by (time, name, payload): two events fired at the
            // same time on different members are both delivered.
            Intent::UserEvent {
                ltime,
                name,
                payload,
            } => {
                let mut h = std::collections::hash_map::DefaultHasher::new();
                std::hash::Hash::hash(payload, &mut h);
                IntentKey(3, name.clone(), *ltime, std::hash::Hasher::finish(&h))
            }
        }
    }
}

/// Identity of one intent, so each is disseminated once and not forever.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntentKey(u8, String, u64, u64);

impl Invalidates for IntentKey {
    fn invalidates(&self, other: &Self) -> bool {
        self == other
    }
}

/// Error decoding an intent.
#[derive(Debug, thiserror::Error)]
#[error("malformed membership intent: {0}")]
pub struct IntentError(String);

/// foca's custom-broadcast hook: decodes intents, drops ones already seen, and queues new
/// ones for the engine to apply to the member table.
pub struct Intents {
    seen: HashSet<IntentKey>,
    /// New intents, drained by the engine after each foca call.
    pub pending: Arc<Mutex<Vec<Intent>>>,
}

impl Intents {
    /// An empty handler sharing `pending` with the engine.
    pub fn new(pending: Arc<Mutex<Vec<Intent>>>) -> Intents {
        Intents {
            seen: HashSet::new(),
            pending,
        }
    }
}

impl BroadcastHandler<MemberId> for Intents {
    type Key = IntentKey;
    type Error = IntentError;

    fn receive_item(
        &mut self,
        data: &[u8],
        _sender: Option<&MemberId>,
    ) -> Result<Option<IntentKey>, IntentError> {
        let intent: Intent = postcard::from_bytes(data).map_err(|e| IntentError(e.to_string()))?;
        let key = intent.key();
        if self.seen.contains(&key) {
            return Ok(None);
        }
        if self.seen.len() > 10_000 {
            self.seen.clear();
        }
        self.seen.insert(key.clone());
        self.pending.lock().push(intent);
        Ok(Some(key))
    }
}

/// A TCP message on the serf port.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum TcpMsg {
    /// Full state: every member foca knows and the intents that explain the statuses.
    PushPull {
        /// Sent by a joining agent (answered even when the receiver has no peers yet).
        join: bool,
        /// foca's members, the sender included.
        members: Vec<Member<MemberId>>,
        /// Leave intents of members that left (so a joiner learns `left`, not `failed`).
        intents: Vec<Intent>,
    },
    /// The receiver refused the exchange and says why (sent in plaintext).
    Rejected(String),
    /// A keyring operation for the receiver to apply to its own keyring (sealed, so only a
    /// holder of an installed key can ask).
    Key {
        /// What to do.
        op: super::keyring::KeyOp,
        /// The key (raw bytes; empty for `List`).
        key: Vec<u8>,
    },
    /// The answer to [`TcpMsg::Key`].
    KeyReply(super::keyring::NodeKeyReply),
}
