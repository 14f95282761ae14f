//! The cluster's shape as the API shows it: gossip members (`/v1/agent/members`) and Raft
//! peers (`/v1/operator/raft/configuration`). Owned and deserialisable, because the CLI and
//! the console decode them, and the rules read off them (a member's status name, servers
//! first, how far a follower trails) are written once, here.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One gossip member, with Consul's field names. Fields the readers do not use are left
/// out; unknown fields of the answer are ignored.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Member {
    /// Node name (`<node>.<dc>` in the WAN pool).
    pub name: String,
    /// Gossip address.
    pub addr: String,
    /// Gossip port.
    pub port: u16,
    /// Serf tags: `role` (`consul` for servers, `node` for clients), `dc`, `build`, `vsn`, ...
    pub tags: BTreeMap<String, String>,
    /// Serf's numeric status (see [`Member::status_name`]).
    pub status: i64,
}

impl Member {
    /// Serf's status name, as `consul members` prints it.
    pub fn status_name(&self) -> &'static str {
        match self.status {
            1 => "alive",
            2 => "leaving",
            3 => "left",
            4 => "failed",
            _ => "none",
        }
    }

    /// A tag's value, or `""`.
    pub fn tag(&self, name: &str) -> &str {
        self.tags.get(name).map(String::as_str).unwrap_or("")
    }

    /// What kind of agent this is by its `role` tag: `server`, `client` or `unknown`.
    pub fn kind(&self) -> &'static str {
        match self.tag("role") {
            "consul" => "server",
            "node" => "client",
            _ => "unknown",
        }
    }

    /// Whether the member is a server (`role=consul`).
    pub fn is_server(&self) -> bool {
        self.tag("role") == "consul"
    }

    /// The build version without its revision suffix (`1.22.0:abcdef` → `1.22.0`).
    pub fn build(&self) -> &str {
        self.tag("build").split(':').next().unwrap_or("")
    }

    /// `addr:port`, as the member tables show it.
    pub fn address(&self) -> String {
        format!("{}:{}", self.addr, self.port)
    }
}

/// Consul's member order: servers first, then by name.
pub fn sort_members(members: &mut [Member]) {
    members.sort_by(|a, b| (!a.is_server(), &a.name).cmp(&(!b.is_server(), &b.name)));
}

/// One Raft peer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftServer {
    /// The server's node ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Node name.
    pub node: String,
    /// Server RPC address.
    pub address: String,
    /// Whether it leads.
    pub leader: bool,
    /// Raft protocol version (`"3"`).
    pub protocol_version: String,
    /// Whether it votes.
    pub voter: bool,
    /// The last log index the leader knows it holds (its own on the leader).
    pub last_index: u64,
}

/// The Raft configuration.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RaftConfiguration {
    /// Every peer, voters and learners.
    pub servers: Vec<RaftServer>,
    /// Log index of the configuration.
    pub index: u64,
}

impl RaftConfiguration {
    /// The leader, if one is known.
    pub fn leader(&self) -> Option<&RaftServer> {
        self.servers.iter().find(|s| s.leader)
    }

    /// How many entries `server` trails the leader by (`None` for the leader itself, and
    /// 0 when no leader is known).
    pub fn trails_by(&self, server: &RaftServer) -> Option<u64> {
        if server.leader {
            return None;
        }
        let leader_index = self.leader().map(|l| l.last_index).unwrap_or(0);
        Some(trails(leader_index, server.last_index))
    }
}

/// How many entries a follower holding `last_index` trails a leader at `leader_index` by.
pub fn trails(leader_index: u64, last_index: u64) -> u64 {
    leader_index.saturating_sub(last_index)
}

/// `n commits`, as `consul operator raft list-peers` words a follower's lag.
pub fn commits(n: u64) -> String {
    format!("{n} commit{}", if n == 1 { "" } else { "s" })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_decode_from_the_answer_and_sort_servers_first() {
        let body = r#"[
            {"Name":"b","Addr":"127.0.0.2","Port":8301,"Tags":{"role":"node","build":"1.22.0:x"},"Status":4,"DelegateCur":4},
            {"Name":"c","Addr":"127.0.0.3","Port":8301,"Tags":{"role":"consul"},"Status":1},
            {"Name":"a","Addr":"127.0.0.1","Port":8301,"Tags":{"role":"node"},"Status":3}
        ]"#;
        let mut m: Vec<Member> = serde_json::from_str(body).expect("decodes");
        sort_members(&mut m);
        let names: Vec<&str> = m.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["c", "a", "b"]);
        assert_eq!(m[2].status_name(), "failed");
        assert_eq!(m[2].build(), "1.22.0");
        assert_eq!(m[0].kind(), "server");
        assert_eq!(m[1].address(), "127.0.0.1:8301");
    }

    #[test]
    fn followers_trail_the_leader_by_its_known_index() {
        let body = r#"{"Servers":[
            {"ID":"1","Node":"s1","Address":"127.0.0.1:8300","Leader":true,"Voter":true,"LastIndex":10,"ProtocolVersion":"3"},
            {"ID":"2","Node":"s2","Address":"127.0.0.2:8300","Leader":false,"Voter":true,"LastIndex":9}
        ],"Index":3}"#;
        let c: RaftConfiguration = serde_json::from_str(body).expect("decodes");
        assert_eq!(c.trails_by(&c.servers[0]), None);
        assert_eq!(c.trails_by(&c.servers[1]), Some(1));
        assert_eq!(commits(1), "1 commit");
        assert_eq!(commits(2), "2 commits");
    }
}
