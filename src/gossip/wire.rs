//! What travels besides foca's own packets: membership intents (leave, force-leave and its
//! refutation) piggybacked as custom broadcasts, and the TCP push-pull state exchange.

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
}

impl Intent {
    fn key(&self) -> IntentKey {
        match self {
            Intent::Leave { name, bump } => IntentKey(0, name.clone(), *bump),
            Intent::ForceLeave { name, ltime, .. } => IntentKey(1, name.clone(), *ltime),
            Intent::Refute { name, ltime, .. } => IntentKey(2, name.clone(), *ltime),
        }
    }
}

/// Identity of one intent, so each is disseminated once and not forever.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct IntentKey(u8, String, u64);

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
}
