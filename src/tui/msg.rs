//! The messages between the console's state and its runtime: [`Update`]s are what the
//! runtime learnt and feeds into [`App::apply`](super::app::App::apply); [`Effect`]s are
//! what the state asks the runtime to do, returned by key handling and by `apply`.

use serde_json::Value;

use super::model::{
    CheckRow, EventRow, Instance, KvItem, MemberRow, Overview, RaftRow, ServiceRow, SessionRow,
};
use super::views::kv::Preview;

/// The six views, in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Services (1).
    Services,
    /// Gossip members (2).
    Members,
    /// Raft peers (3).
    Raft,
    /// KV tree (4).
    Kv,
    /// All checks (5).
    Checks,
    /// Sessions, their locks, and recent events (6).
    Sessions,
}

impl View {
    /// All views in tab order, for the tab bar.
    pub const ALL: [View; 6] = [
        View::Services,
        View::Members,
        View::Raft,
        View::Kv,
        View::Checks,
        View::Sessions,
    ];

    /// The digit key that shows it, 1-based as on the tab bar.
    pub fn number(self) -> usize {
        self as usize + 1
    }

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Services => "Services",
            View::Members => "Members",
            View::Raft => "Raft",
            View::Kv => "KV",
            View::Checks => "Checks",
            View::Sessions => "Sessions",
        }
    }

    /// The view Tab moves to (wrapping after the last).
    pub fn next(self) -> View {
        View::ALL[self.number() % View::ALL.len()]
    }

    /// The view Shift-Tab moves to (wrapping before Services).
    pub fn prev(self) -> View {
        View::ALL[(self.number() + View::ALL.len() - 2) % View::ALL.len()]
    }
}

/// A Raft peer named in a leadership transfer: the ID goes to the API, the node name to
/// the prompt.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Peer {
    /// Raft ID (`?id=`).
    pub id: String,
    /// Node name, as the operator knows it.
    pub node: String,
}

/// A change to the cluster; the destructive ones are confirmed first (see
/// [`confirm::prompt`](super::confirm::prompt)).
#[derive(Clone, Debug, PartialEq)]
pub enum Write {
    /// `PUT /v1/agent/service/register` with this body.
    Register(Value),
    /// Remove an instance: through the attached agent when it owns it (`local`), else from
    /// the catalog.
    Deregister {
        /// Node of the instance.
        node: String,
        /// Service ID.
        id: String,
        /// Registered on the attached agent.
        local: bool,
    },
    /// `PUT /v1/agent/force-leave/<node>`.
    ForceLeave(String),
    /// `POST /v1/operator/raft/transfer-leader[?id=]`; `None` lets the leader pick.
    TransferLeader(Option<Peer>),
    /// `PUT /v1/kv/<key>`.
    KvPut {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// `DELETE /v1/kv/<key>` (`?recurse` for a folder, whose key ends in `/`).
    KvDelete(String),
    /// `PUT /v1/session/destroy/<id>`: its locks are released (or their keys deleted).
    SessionDestroy {
        /// Session ID.
        id: String,
        /// Its name, for the prompt.
        name: String,
        /// How many keys it holds, for the prompt (`None`: not known).
        keys: Option<usize>,
    },
}

/// A live list the runtime follows only while a view shows it; starting one replaces the
/// previous follow of the same kind.
#[derive(Clone, Debug, PartialEq)]
pub enum Feed {
    /// This service's instances (`None`: stop).
    Instances(Option<String>),
    /// This KV folder.
    Kv(String),
    /// Every check (`false`: stop; they are megabytes on a large cluster).
    Checks(bool),
    /// The locked keys, read from the whole KV tree (`false`: stop).
    Locks(bool),
}

/// Something the runtime must do for the state.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Change the cluster; the outcome comes back as [`Update::Done`].
    Write(Write),
    /// Start or stop following a list.
    Follow(Feed),
    /// Read one key's value once, for the KV preview.
    LoadValue(String),
    /// Follow another datacenter (`None`: the agent's own) from now on.
    Datacenter(Option<String>),
}

/// Something the runtime learnt.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// Reached the agent.
    Connected(Overview),
    /// Lost it; the runtime keeps retrying.
    Disconnected(String),
    /// Service summaries.
    Services(Vec<ServiceRow>),
    /// Every check (followed while the Checks view is open).
    Checks(Vec<CheckRow>),
    /// How many checks are critical (always followed, for the header).
    CriticalCount(usize),
    /// How many checks are warning (always followed, for the header).
    WarningCount(usize),
    /// Gossip members.
    Members(Vec<MemberRow>),
    /// The datacenters the agent knows, nearest first.
    Datacenters(Vec<String>),
    /// Raft peers.
    Raft(Vec<RaftRow>),
    /// Instances of a service.
    Instances(String, Vec<Instance>),
    /// A KV folder listing.
    KvKeys(String, Vec<KvItem>),
    /// A key's value and holder, for the preview.
    KvValue(Preview),
    /// Sessions.
    Sessions(Vec<SessionRow>),
    /// Locked keys as (key, session).
    Locks(Vec<(String, String)>),
    /// The agent's recent events, newest first.
    Events(Vec<EventRow>),
    /// The outcome of a write, for the status line.
    Done {
        /// It worked.
        ok: bool,
        /// What to say.
        message: String,
    },
    /// A log line of the embedded agent.
    Log(String),
    /// Who the console's token is and what it may not do.
    Rights(super::rights::Rights),
    /// A list the token may not read: the refusal, for the status line.
    Denied(String),
}

#[cfg(test)]
mod tests {
    use super::View;

    #[test]
    fn next_and_prev_walk_the_tabs_both_ways() {
        for v in View::ALL {
            assert_eq!(v.next().prev(), v);
            assert_eq!(View::ALL[v.number() % View::ALL.len()], v.next());
        }
    }
}
