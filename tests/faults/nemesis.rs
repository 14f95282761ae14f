//! The nemesis: injects one fault at a time, holds it, heals it, and keeps a timeline.
//! What cannot be injected here is named rather than silently skipped: clock skew (network
//! namespaces share the host's realtime clock), and fixed latency (this kernel has no
//! `sch_netem`; a token-bucket slow link stands in).

use std::time::Duration;

use rand::RngExt;
use serde::Serialize;

use super::cluster::{Cluster, Isolation};

/// A fault the nemesis can inject.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, PartialOrd, Ord)]
#[serde(rename_all = "kebab-case")]
pub enum Fault {
    /// A random minority of servers cut off from the majority.
    PartitionMajority,
    /// The leader alone on one side.
    IsolateLeader,
    /// Two halves that only one server (the bridge) sees both of (five servers).
    Bridge,
    /// 20% of packets between agents dropped.
    Loss,
    /// The leader's link limited to 256 kbit/s.
    SlowLink,
    /// `kill -9` of the leader, restarted after the hold.
    KillLeader,
    /// `kill -9` of a random server, restarted after the hold.
    KillServer,
    /// `SIGSTOP` of the leader, `SIGCONT` after the hold.
    PauseLeader,
}

impl Fault {
    pub fn name(self) -> &'static str {
        match self {
            Fault::PartitionMajority => "partition-majority",
            Fault::IsolateLeader => "isolate-leader",
            Fault::Bridge => "bridge",
            Fault::Loss => "loss",
            Fault::SlowLink => "slow-link",
            Fault::KillLeader => "kill-leader",
            Fault::KillServer => "kill-server",
            Fault::PauseLeader => "pause-leader",
        }
    }

    pub fn needs_namespaces(self) -> bool {
        matches!(
            self,
            Fault::PartitionMajority
                | Fault::IsolateLeader
                | Fault::Bridge
                | Fault::Loss
                | Fault::SlowLink
        )
    }
}

/// One fault as it happened.
#[derive(Clone, Debug, Serialize)]
pub struct Applied {
    pub fault: Fault,
    pub start_ns: u64,
    pub end_ns: u64,
    /// Which agents, which split.
    pub detail: String,
}

/// What was skipped and why.
#[derive(Clone, Debug, Serialize)]
pub struct Skipped {
    pub fault: Fault,
    pub why: String,
}

pub struct Nemesis<'a> {
    pub cluster: &'a mut Cluster,
    pub timeline: Vec<Applied>,
    pub skipped: Vec<Skipped>,
    /// Set when a leader-targeted fault found no agreed leader and hit a follower.
    no_leader: bool,
}

impl<'a> Nemesis<'a> {
    pub fn new(cluster: &'a mut Cluster) -> Nemesis<'a> {
        Nemesis {
            cluster,
            timeline: Vec::new(),
            skipped: Vec::new(),
            no_leader: false,
        }
    }

    /// The agreed leader, waited for (a fault just healed may leave none for a moment);
    /// the first server if none is agreed within 20 s, which the timeline then says.
    fn leader_or_any(&mut self) -> usize {
        let end = std::time::Instant::now() + Duration::from_secs(20);
        while std::time::Instant::now() < end {
            if let Some(l) = self.cluster.leader() {
                return l;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        self.no_leader = true;
        self.cluster.servers()[0]
    }

    /// Inject `fault`, hold it for `hold`, heal it. `now` reads the history's clock.
    pub fn run(&mut self, fault: Fault, hold: Duration, now: &dyn Fn() -> u64) {
        if fault.needs_namespaces() && self.cluster.isolation != Isolation::Namespaces {
            self.skip(fault, "needs network namespaces (this run is on loopback)");
            return;
        }
        let servers = self.cluster.servers();
        if fault == Fault::Bridge && servers.len() < 5 {
            self.skip(fault, "needs five servers");
            return;
        }
        let start_ns = now();
        let all: Vec<usize> = (0..self.cluster.nodes.len()).collect();
        let names = |ix: &[usize], c: &Cluster| {
            ix.iter()
                .map(|i| c.nodes[*i].name.clone())
                .collect::<Vec<_>>()
                .join(",")
        };
        let detail = match fault {
            Fault::PartitionMajority => {
                let mut shuffled = all.clone();
                rand_shuffle(&mut shuffled);
                let minority_servers = (servers.len() - 1) / 2;
                let mut minority: Vec<usize> = shuffled
                    .iter()
                    .copied()
                    .filter(|i| self.cluster.nodes[*i].server)
                    .take(minority_servers)
                    .collect();
                // Client agents land on either side.
                for i in all.iter().filter(|i| !self.cluster.nodes[**i].server) {
                    if rand::rng().random_bool(0.5) {
                        minority.push(*i);
                    }
                }
                let majority: Vec<usize> = all
                    .iter()
                    .copied()
                    .filter(|i| !minority.contains(i))
                    .collect();
                let d = format!(
                    "[{}] | [{}]",
                    names(&minority, self.cluster),
                    names(&majority, self.cluster)
                );
                self.apply(self.cluster.partition(&[minority, majority]), fault, &d)
            }
            Fault::IsolateLeader => {
                let l = self.leader_or_any();
                let rest: Vec<usize> = all.iter().copied().filter(|i| *i != l).collect();
                let d = format!(
                    "[{}] | [{}]",
                    self.cluster.nodes[l].name,
                    names(&rest, self.cluster)
                );
                self.apply(self.cluster.partition(&[vec![l], rest]), fault, &d)
            }
            Fault::Bridge => {
                let mut s = servers.clone();
                rand_shuffle(&mut s);
                let (a, b) = (vec![s[0], s[1], s[2]], vec![s[2], s[3], s[4]]);
                let mut a2 = a.clone();
                a2.extend(all.iter().filter(|i| !self.cluster.nodes[**i].server));
                let d = format!(
                    "[{}] <- {} -> [{}]",
                    names(&a2, self.cluster),
                    self.cluster.nodes[s[2]].name,
                    names(&b, self.cluster)
                );
                self.apply(self.cluster.partition(&[a2, b]), fault, &d)
            }
            Fault::Loss => self.apply(
                self.cluster.lose(20),
                fault,
                "20% of packets between agents",
            ),
            Fault::SlowLink => {
                let l = self.leader_or_any();
                let d = format!("{} at 256 kbit/s", self.cluster.nodes[l].name);
                self.apply(self.cluster.slow(l, 256), fault, &d)
            }
            Fault::KillLeader | Fault::KillServer => {
                let victim = if fault == Fault::KillLeader {
                    self.leader_or_any()
                } else {
                    servers[rand::rng().random_range(0..servers.len())]
                };
                self.cluster.nodes[victim].kill9();
                Some(format!("kill -9 {}", self.cluster.nodes[victim].name))
                    .inspect(|_| std::thread::sleep(hold))
                    .inspect(|_| self.cluster.restart(victim))
            }
            Fault::PauseLeader => {
                let l = self.leader_or_any();
                self.cluster.nodes[l].pause();
                std::thread::sleep(hold);
                self.cluster.nodes[l].resume();
                Some(format!("SIGSTOP {}", self.cluster.nodes[l].name))
            }
        };
        let Some(mut detail) = detail else {
            return;
        };
        if std::mem::take(&mut self.no_leader) {
            detail += " (no agreed leader: a follower was hit)";
        }
        if fault.needs_namespaces() {
            std::thread::sleep(hold);
            if let Err(e) = self.cluster.heal_network() {
                panic!("healing the network failed: {e}");
            }
        }
        self.timeline.push(Applied {
            fault,
            start_ns,
            end_ns: now(),
            detail,
        });
    }

    fn apply(&mut self, r: Result<(), String>, fault: Fault, detail: &str) -> Option<String> {
        match r {
            Ok(()) => Some(detail.to_string()),
            Err(e) => {
                self.skip(fault, &e);
                None
            }
        }
    }

    fn skip(&mut self, fault: Fault, why: &str) {
        if !self.skipped.iter().any(|s| s.fault == fault) {
            self.skipped.push(Skipped {
                fault,
                why: why.to_string(),
            });
        }
    }
}

fn rand_shuffle(v: &mut [usize]) {
    for i in (1..v.len()).rev() {
        let j = rand::rng().random_range(0..=i);
        v.swap(i, j);
    }
}

/// The faults this machine cannot inject at all, for the report.
pub const NOT_INJECTABLE: &[(&str, &str)] = &[
    (
        "clock-skew",
        "network namespaces share the host's realtime clock (time namespaces offset only the monotonic and boot clocks)",
    ),
    (
        "fixed-latency",
        "the kernel has no sch_netem; the slow-link fault (token bucket) is the closest",
    ),
];
