//! The member list with Consul's statuses. foca knows only up and down; the intents add
//! what an operator sees: `leaving`, `left` (graceful or forced) versus `failed`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::identity::MemberId;
use super::wire::Intent;

/// Consul's member status; the integer is what `/v1/agent/members` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Reachable.
    Alive = 1,
    /// Announced it is leaving (or was force-left while alive).
    Leaving = 2,
    /// Left gracefully or was force-left after failing.
    Left = 3,
    /// Stopped answering probes.
    Failed = 4,
}

impl Status {
    /// Lowercase name, as `disco members` prints it.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Alive => "alive",
            Status::Leaving => "leaving",
            Status::Left => "left",
            Status::Failed => "failed",
        }
    }
}

/// One member as the API shows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Member {
    /// Identity (name, address, tags).
    pub id: MemberId,
    /// Status.
    pub status: Status,
}

#[derive(Clone, Debug)]
struct Entry {
    id: MemberId,
    status: Status,
    since: Instant,
}

/// How long members that are gone stay listed (Consul: failed 72 h, left 24 h).
#[derive(Clone, Copy, Debug)]
pub struct Retention {
    /// Failed members are reaped after this.
    pub failed: Duration,
    /// Left members are reaped after this.
    pub left: Duration,
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            failed: Duration::from_secs(72 * 3600),
            left: Duration::from_secs(24 * 3600),
        }
    }
}

/// What an applied intent asks the engine to do next.
#[derive(Debug, PartialEq, Eq)]
pub enum Followup {
    /// Nothing.
    None,
    /// This agent was force-left while alive: disseminate a refutation.
    Refute,
}

/// The member list, keyed by node name.
#[derive(Debug, Default)]
pub struct Table {
    me: String,
    entries: BTreeMap<String, Entry>,
    version: u64,
}

impl Table {
    /// A table holding only this agent.
    pub fn new(me: MemberId) -> Table {
        let mut t = Table {
            me: me.name.clone(),
            ..Default::default()
        };
        t.set(me, Status::Alive);
        t
    }

    /// Bumped on every change; watchers compare it.
    pub fn version(&self) -> u64 {
        self.version
    }

    fn set(&mut self, id: MemberId, status: Status) {
        let changed = match self.entries.get(&id.name) {
            Some(e) => e.status != status || e.id != id,
            None => true,
        };
        if changed {
            self.entries.insert(
                id.name.clone(),
                Entry {
                    id,
                    status,
                    since: Instant::now(),
                },
            );
            self.version += 1;
        }
    }

    fn set_status(&mut self, name: &str, status: Status) {
        if let Some(e) = self.entries.get_mut(name)
            && e.status != status
        {
            e.status = status;
            e.since = Instant::now();
            self.version += 1;
        }
    }

    /// Every member, sorted by name.
    pub fn members(&self) -> Vec<Member> {
        self.entries
            .values()
            .map(|e| Member {
                id: e.id.clone(),
                status: e.status,
            })
            .collect()
    }

    /// One member.
    pub fn get(&self, name: &str) -> Option<Member> {
        self.entries.get(name).map(|e| Member {
            id: e.id.clone(),
            status: e.status,
        })
    }

    /// foca saw `id` alive (a join, a restart, a recovery).
    pub fn up(&mut self, id: MemberId) {
        if id.name.is_empty() {
            return;
        }
        if let Some(e) = self.entries.get(&id.name)
            && e.id.bump > id.bump
            && e.id.addr == id.addr
        {
            return; // stale news of an older incarnation
        }
        self.set(id, Status::Alive);
    }

    /// foca declared `id` down: left if it announced leaving, failed otherwise.
    pub fn down(&mut self, id: &MemberId) {
        let Some(e) = self.entries.get(&id.name) else {
            return;
        };
        if e.id.bump > id.bump && e.id.addr == id.addr {
            return;
        }
        let next = match e.status {
            Status::Leaving | Status::Left => Status::Left,
            Status::Alive | Status::Failed => Status::Failed,
        };
        let mut nid = id.clone();
        nid.tags = e.id.tags.clone();
        if !id.tags.is_empty() {
            nid.tags = id.tags.clone();
        }
        self.set(nid, next);
    }

    /// This agent is leaving (`leaving`) or has left (`left`).
    pub fn set_self(&mut self, status: Status) {
        let me = self.me.clone();
        self.set_status(&me, status);
    }

    /// Apply an intent from the cluster (or from this agent).
    pub fn apply(&mut self, intent: &Intent) -> Followup {
        match intent {
            Intent::Leave { name, bump } => {
                if let Some(e) = self.entries.get(name)
                    && e.id.bump <= *bump
                {
                    let next = match e.status {
                        Status::Alive | Status::Leaving => Status::Leaving,
                        Status::Failed | Status::Left => Status::Left,
                    };
                    self.set_status(name, next);
                }
                Followup::None
            }
            Intent::ForceLeave { name, prune, .. } => {
                let Some(e) = self.entries.get(name) else {
                    return Followup::None;
                };
                if *name == self.me {
                    return if e.status == Status::Alive {
                        Followup::Refute
                    } else {
                        Followup::None
                    };
                }
                match (e.status, *prune) {
                    (Status::Alive, _) => self.set_status(name, Status::Leaving),
                    (_, true) => {
                        self.entries.remove(name);
                        self.version += 1;
                    }
                    (Status::Failed, false) => self.set_status(name, Status::Left),
                    _ => {}
                }
                Followup::None
            }
            Intent::Refute { name, bump, .. } => {
                if let Some(e) = self.entries.get(name)
                    && e.id.bump <= *bump
                    && e.status == Status::Leaving
                {
                    self.set_status(name, Status::Alive);
                }
                Followup::None
            }
            // Not about membership; the engine hands these to the agent.
            Intent::UserEvent { .. } => Followup::None,
        }
    }

    /// Drop members gone longer than the retention allows.
    pub fn reap(&mut self, keep: Retention) {
        let before = self.entries.len();
        let me = self.me.clone();
        self.entries.retain(|name, e| {
            *name == me
                || match e.status {
                    Status::Failed => e.since.elapsed() < keep.failed,
                    Status::Left => e.since.elapsed() < keep.left,
                    _ => true,
                }
        });
        if self.entries.len() != before {
            self.version += 1;
        }
    }

    /// Addresses of the failed members, and how many members are alive (this one
    /// included): what a reconnect round chooses from.
    pub fn reconnect_candidates(&self) -> (Vec<std::net::SocketAddr>, usize) {
        let failed = self
            .entries
            .values()
            .filter(|e| e.status == Status::Failed)
            .map(|e| e.id.addr)
            .collect();
        let alive = self
            .entries
            .values()
            .filter(|e| e.status == Status::Alive)
            .count();
        (failed, alive)
    }

    /// Counts for `/v1/agent/self` (members, failed, left).
    pub fn counts(&self) -> (usize, usize, usize) {
        let failed = self
            .entries
            .values()
            .filter(|e| e.status == Status::Failed)
            .count();
        let left = self
            .entries
            .values()
            .filter(|e| e.status == Status::Left)
            .count();
        (self.entries.len(), failed, left)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(name: &str, port: u16, bump: u64) -> MemberId {
        MemberId {
            addr: ([127, 0, 0, 1], port).into(),
            name: name.into(),
            bump,
            tags: BTreeMap::new(),
        }
    }

    #[test]
    fn down_without_intent_is_failed_and_with_leave_is_left() {
        let mut t = Table::new(id("me", 1, 1));
        t.up(id("a", 2, 1));
        t.up(id("b", 3, 1));
        t.down(&id("a", 2, 1));
        t.apply(&Intent::Leave {
            name: "b".into(),
            bump: 1,
        });
        assert_eq!(t.get("b").unwrap().status, Status::Leaving);
        t.down(&id("b", 3, 1));
        assert_eq!(t.get("a").unwrap().status, Status::Failed);
        assert_eq!(t.get("b").unwrap().status, Status::Left);
        assert_eq!(t.counts(), (3, 1, 1));
    }

    #[test]
    fn only_failed_members_are_asked_to_rejoin() {
        let mut t = Table::new(id("me", 1, 1));
        t.up(id("a", 2, 1));
        t.up(id("b", 3, 1));
        t.up(id("c", 4, 1));
        t.down(&id("a", 2, 1));
        t.apply(&Intent::Leave {
            name: "b".into(),
            bump: 1,
        });
        t.down(&id("b", 3, 1));
        let (failed, alive) = t.reconnect_candidates();
        assert_eq!(failed, vec![([127, 0, 0, 1], 2).into()]);
        assert_eq!(alive, 2, "this agent and c");
    }

    #[test]
    fn restarted_member_is_alive_again_and_stale_news_is_ignored() {
        let mut t = Table::new(id("me", 1, 1));
        t.up(id("a", 2, 1));
        t.down(&id("a", 2, 1));
        t.up(id("a", 2, 5));
        assert_eq!(t.get("a").unwrap().status, Status::Alive);
        t.down(&id("a", 2, 1));
        assert_eq!(t.get("a").unwrap().status, Status::Alive);
    }

    #[test]
    fn force_leave_semantics() {
        let mut t = Table::new(id("me", 1, 1));
        t.up(id("dead", 2, 1));
        t.up(id("live", 3, 1));
        t.up(id("gone", 4, 1));
        t.down(&id("dead", 2, 1));
        t.down(&id("gone", 4, 1));
        let fl = |name: &str, prune| Intent::ForceLeave {
            name: name.into(),
            prune,
            ltime: 9,
        };
        assert_eq!(t.apply(&fl("dead", false)), Followup::None);
        assert_eq!(t.get("dead").unwrap().status, Status::Left);
        t.apply(&fl("live", false));
        assert_eq!(t.get("live").unwrap().status, Status::Leaving);
        t.apply(&Intent::Refute {
            name: "live".into(),
            bump: 1,
            ltime: 10,
        });
        assert_eq!(t.get("live").unwrap().status, Status::Alive);
        t.apply(&fl("gone", true));
        assert!(t.get("gone").is_none());
        assert_eq!(t.apply(&fl("me", false)), Followup::Refute);
        assert_eq!(t.get("me").unwrap().status, Status::Alive);
    }
}
