//! User events: the envelope an agent gossips (Consul's `UserEvent`) and the ring of the
//! last 256 each agent keeps for `GET /v1/event/list`.
//!
//! Not replicated state: events travel by gossip, best-effort, and every agent keeps its
//! own ring of the events that passed its filters. The ring's mutex is a leaf in the lock
//! order (never held while anything else is locked, awaited or notified).

use std::collections::VecDeque;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};
use tokio::sync::watch;

/// Consul's `eventBuf` size: older events are overwritten.
pub const EVENT_RING_SIZE: usize = 256;

/// A user event as fired and as listed. `payload` is `None` when the request had no body.
/// Encoded positionally (postcard) on the wire, so fields are only ever appended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserEvent {
    /// A UUID, unique per fire.
    pub id: String,
    /// The event's name.
    pub name: String,
    /// Opaque payload.
    pub payload: Option<Vec<u8>>,
    /// Regex of the node names that should keep it (empty: all).
    pub node_filter: String,
    /// Regex of the local service names an agent must have to keep it (empty: any).
    pub service_filter: String,
    /// Regex of a tag the matching service must carry (only with a service filter).
    pub tag_filter: String,
    /// Envelope version (1).
    pub version: u32,
    /// The gossip event clock's time; 0 until gossip stamps it.
    pub ltime: u64,
}

/// Consul's `uuidToUint64`: the first 64 bits of the UUID's hex XORed with the last 64.
/// It is what `X-Consul-Index` of an event list is, so it is not monotonic; blocking
/// callers wait while it stays equal. Non-hex text gives 0 for the affected half.
pub fn id_to_index(id: &str) -> u64 {
    // 8-4-4-4-12: [0:8]+[9:13]+[14:18] and [19:23]+[24:36].
    let half = |ranges: &[std::ops::Range<usize>]| -> u64 {
        let mut text = String::with_capacity(16);
        for r in ranges {
            match id.get(r.clone()) {
                Some(s) => text.push_str(s),
                None => return 0,
            }
        }
        u64::from_str_radix(&text, 16).unwrap_or(0)
    };
    half(&[0..8, 9..13, 14..18]) ^ half(&[19..23, 24..36])
}

/// The index of an event list: its last event's [`id_to_index`], or 1 when it is empty.
pub fn list_index(events: &[Arc<UserEvent>]) -> u64 {
    events.last().map_or(1, |e| id_to_index(&e.id))
}

/// The events this agent kept, oldest first.
#[derive(Debug)]
pub struct EventRing {
    events: Mutex<VecDeque<Arc<UserEvent>>>,
    /// Bumped after every event added; list blockers wait on it.
    added: watch::Sender<u64>,
}

impl Default for EventRing {
    fn default() -> Self {
        EventRing {
            events: Mutex::new(VecDeque::with_capacity(EVENT_RING_SIZE)),
            added: watch::channel(0).0,
        }
    }
}

impl EventRing {
    /// Keep `ev`, dropping the oldest when full. An event already kept (same ID: gossip and
    /// the firing agent both deliver it) is ignored; returns whether it was added.
    pub fn push(&self, ev: UserEvent) -> bool {
        {
            let mut events = self.events.lock();
            if events.iter().any(|e| e.id == ev.id) {
                return false;
            }
            if events.len() == EVENT_RING_SIZE {
                events.pop_front();
            }
            events.push_back(Arc::new(ev));
        }
        self.added.send_modify(|n| *n += 1);
        true
    }

    /// The kept events named `name` (all with `None`), oldest first.
    pub fn list(&self, name: Option<&str>) -> Vec<Arc<UserEvent>> {
        self.events
            .lock()
            .iter()
            .filter(|e| name.is_none_or(|n| e.name == n))
            .cloned()
            .collect()
    }

    /// A receiver that changes whenever an event is added. Subscribe before listing, so an
    /// event added in between still wakes the caller.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.added.subscribe()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(id: &str, name: &str) -> UserEvent {
        UserEvent {
            id: id.to_string(),
            name: name.to_string(),
            payload: None,
            node_filter: String::new(),
            service_filter: String::new(),
            tag_filter: String::new(),
            version: 1,
            ltime: 0,
        }
    }

    #[test]
    fn the_index_xors_the_uuid_halves_as_consul_does() {
        let id = "e1f1c9b1-9f84-4ab6-8a26-57a2b47a71c2";
        let lo = 0xe1f1_c9b1_9f84_4ab6_u64;
        let hi = 0x8a26_57a2_b47a_71c2_u64;
        assert_eq!(id_to_index(id), lo ^ hi);
        assert_eq!(id_to_index("not-a-uuid"), 0);
        assert_eq!(list_index(&[]), 1);
    }

    #[test]
    fn the_ring_keeps_the_last_256_once_each_oldest_first() {
        let ring = EventRing::default();
        let mut rx = ring.subscribe();
        for i in 0..300 {
            assert!(ring.push(ev(&format!("{i:08}-0000-0000-0000-000000000000"), "deploy")));
        }
        assert!(rx.has_changed().unwrap());
        rx.borrow_and_update();
        let dup = ev("00000299-0000-0000-0000-000000000000", "deploy");
        assert!(!ring.push(dup), "the same ID twice is one event");
        assert!(!rx.has_changed().unwrap());
        let all = ring.list(None);
        assert_eq!(all.len(), EVENT_RING_SIZE);
        assert!(all[0].id.starts_with("00000044"));
        assert!(all[255].id.starts_with("00000299"));
        ring.push(ev("a0000000-0000-0000-0000-000000000000", "restart"));
        assert_eq!(ring.list(Some("restart")).len(), 1);
        assert_eq!(ring.list(Some("deploy")).len(), 255);
        assert!(ring.list(Some("deplo")).is_empty(), "names match exactly");
    }
}
