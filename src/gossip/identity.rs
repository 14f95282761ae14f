//! Who a member is on the wire: name, gossip address, a restart counter and its tags.

use std::collections::BTreeMap;
use std::net::SocketAddr;

use serde::{Deserialize, Serialize};

/// A member's identity as foca tracks it. Two identities with the same gossip address are
/// the same member; the higher `bump` (a restart or a rejoin after being declared dead)
/// wins, which is how a restarted agent replaces its dead former self.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct MemberId {
    /// Gossip (serf_lan) address, UDP and TCP.
    pub addr: SocketAddr,
    /// Node name.
    pub name: String,
    /// Incremented on every restart and rejoin.
    pub bump: u64,
    /// Consul's member tags (role, dc, id, port, expect, build, vsn...).
    pub tags: BTreeMap<String, String>,
}

impl MemberId {
    /// An identity that only names an address, for the first contact with a peer whose
    /// name is not known yet (joins by address).
    pub fn placeholder(addr: SocketAddr) -> MemberId {
        MemberId {
            addr,
            name: String::new(),
            bump: 0,
            tags: BTreeMap::new(),
        }
    }
}

impl foca::Identity for MemberId {
    type Addr = SocketAddr;

    fn renew(&self) -> Option<Self> {
        Some(MemberId {
            bump: self.bump.wrapping_add(1),
            ..self.clone()
        })
    }

    fn addr(&self) -> SocketAddr {
        self.addr
    }

    fn win_addr_conflict(&self, adversary: &Self) -> bool {
        self.bump > adversary.bump
    }
}
