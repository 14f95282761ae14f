//! The messages between the console's state and its runtime: [`Update`]s are what the
//! runtime learnt and feeds into [`App::apply`](super::app::App::apply); [`Effect`]s are
//! what the state asks the runtime to do, returned by key handling and by `apply`.

use serde_json::Value;

use super::model::{CheckRow, Instance, KvItem, MemberRow, Overview, RaftRow, ServiceRow};

/// The five views, in key order.
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
}

impl View {
    /// All views in tab order, for the tab bar.
    pub const ALL: [View; 5] = [
        View::Services,
        View::Members,
        View::Raft,
        View::Kv,
        View::Checks,
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
        }
    }

    /// The view Tab moves to (wrapping after Checks).
    pub fn next(self) -> View {
        match self {
            View::Services => View::Members,
            View::Members => View::Raft,
            View::Raft => View::Kv,
            View::Kv => View::Checks,
            View::Checks => View::Services,
        }
    }

    /// The view Shift-Tab moves to (wrapping before Services).
    pub fn prev(self) -> View {
        match self {
            View::Services => View::Checks,
            View::Members => View::Services,
            View::Raft => View::Members,
            View::Kv => View::Raft,
            View::Checks => View::Kv,
        }
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
    /// Raft peers.
    Raft(Vec<RaftRow>),
    /// Instances of a service.
    Instances(String, Vec<Instance>),
    /// A KV folder listing.
    KvKeys(String, Vec<KvItem>),
    /// A key's value (`None`: gone).
    KvValue(String, Option<Vec<u8>>),
    /// The outcome of a write, for the status line.
    Done {
        /// It worked.
        ok: bool,
        /// What to say.
        message: String,
    },
    /// A log line of the embedded agent.
    Log(String),
}

#[cfg(test)]
mod tests {
    use super::View;

    #[test]
    fn next_and_prev_walk_the_tabs_both_ways() {
        for v in View::ALL {
            assert_eq!(v.next().prev(), v);
            assert_eq!(View::ALL[v.number() % 5], v.next());
        }
    }
}
