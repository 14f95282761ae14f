//! LAN gossip: SWIM membership (foca) on `serf_lan`, UDP for probes and gossip, TCP for the
//! push-pull state exchange of joins, rejoins and the periodic sync (`pushpull.rs`). Every
//! packet and frame is sealed with the cluster key when one is set.
//!
//! This module knows nothing else of disco: the agent gives it a name, addresses, tags and
//! timings, and reads back the member list and a change counter.

mod crypto;
mod engine;
#[cfg(any(test, feature = "fuzzing"))]
mod fuzz;
mod identity;
mod keyring;
mod members;
mod pushpull;
mod snapshot;
mod wire;

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use parking_lot::RwLock;
use tokio::net::{TcpListener, UdpSocket};
use tokio::sync::{mpsc, oneshot, watch};
use tracing::{debug, info, warn};

pub use crypto::{KeyError, Keyring, KeyringError, decode_key, encode_key, generate_key};
#[cfg(any(test, feature = "fuzzing"))]
pub use fuzz::FuzzEngine;
pub use identity::MemberId;
pub use keyring::{KeyOp, KeyringSummary};
pub use members::{Member, Status};

use engine::{Cmd, Engine};
use members::Table;
use pushpull::Pusher;

/// Default serf_lan port, used when a join address has none.
pub const DEFAULT_PORT: u16 = 8301;

/// Gossip failures an operator sees (join errors, bind errors).
#[derive(Debug, thiserror::Error)]
pub enum GossipError {
    /// A socket could not be set up, the key was refused, or a push-pull connection failed.
    #[error("{0}")]
    Io(String),
    /// The address could not be parsed or resolved.
    #[error("invalid address '{0}': {1}")]
    Address(String, String),
    /// The peer refused us and said why.
    #[error("remote rejected the join: {0}")]
    Rejected(String),
    /// The peer's answer could not be opened (usually a key mismatch).
    #[error("{0}")]
    Protocol(String),
    /// A named member does not exist.
    #[error("{0}")]
    NotFound(String),
    /// The engine has stopped.
    #[error("gossip is shut down")]
    Stopped,
    /// A user event's name and payload exceed serf's size limit.
    #[error("user event exceeds configured limit of {USER_EVENT_SIZE_LIMIT} bytes before encoding")]
    EventTooLarge,
}

/// Serf's `UserEventSizeLimit` default: the name and payload of a user event together.
/// They travel piggybacked on probe packets, so they must stay small.
pub const USER_EVENT_SIZE_LIMIT: usize = 512;

/// A user event delivered by gossip: the time it was fired, its name and opaque payload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserEvent {
    /// The event clock's time (serf's `LTime`).
    pub ltime: u64,
    /// Name as fired.
    pub name: String,
    /// Payload as fired.
    pub payload: Vec<u8>,
}

/// Failure detection and dissemination timings (Consul's memberlist names).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Timing {
    /// How often a random member is probed.
    pub probe_interval: Duration,
    /// How long a direct probe may take before indirect probes start.
    pub probe_timeout: Duration,
    /// Suspicion lasts `mult × max(1, log10(N)) × probe_interval`.
    pub suspicion_mult: u32,
    /// How often updates are gossiped.
    pub gossip_interval: Duration,
    /// Members gossiped to per round.
    pub gossip_nodes: usize,
    /// Full state exchange with a random member.
    pub push_pull_interval: Duration,
    /// How often dead members are contacted in case they are back.
    pub gossip_to_dead: Duration,
    /// How often a failed member still listed is asked to rejoin (Serf's reconnect): it
    /// heals a pool that a partition split into parts with no live member in common, which
    /// SWIM alone never probes again.
    pub reconnect_interval: Duration,
}

impl Timing {
    /// Consul's LAN defaults.
    pub fn lan() -> Timing {
        Timing {
            probe_interval: Duration::from_secs(1),
            probe_timeout: Duration::from_millis(500),
            suspicion_mult: 4,
            gossip_interval: Duration::from_millis(200),
            gossip_nodes: 3,
            push_pull_interval: Duration::from_secs(30),
            gossip_to_dead: Duration::from_secs(30),
            reconnect_interval: Duration::from_secs(30),
        }
    }

    /// Consul's WAN defaults: servers of several datacenters over slower, lossier links.
    pub fn wan() -> Timing {
        Timing {
            probe_interval: Duration::from_secs(5),
            probe_timeout: Duration::from_secs(3),
            suspicion_mult: 6,
            gossip_interval: Duration::from_millis(500),
            gossip_nodes: 4,
            push_pull_interval: Duration::from_secs(60),
            gossip_to_dead: Duration::from_secs(60),
            reconnect_interval: Duration::from_secs(30),
        }
    }

    /// Fast timings for `-dev` (Consul's dev mode does the same).
    pub fn dev() -> Timing {
        Timing {
            probe_interval: Duration::from_millis(200),
            probe_timeout: Duration::from_millis(100),
            suspicion_mult: 3,
            gossip_interval: Duration::from_millis(100),
            gossip_nodes: 3,
            push_pull_interval: Duration::from_secs(5),
            gossip_to_dead: Duration::from_secs(5),
            reconnect_interval: Duration::from_secs(5),
        }
    }
}

/// What the agent tells gossip about itself.
#[derive(Clone, Debug)]
pub struct GossipConfig {
    /// Node name.
    pub name: String,
    /// Where to bind UDP and TCP.
    pub bind: SocketAddr,
    /// The address peers use to reach us.
    pub advertise: SocketAddr,
    /// Member tags.
    pub tags: BTreeMap<String, String>,
    /// Raw cluster key (16, 24 or 32 bytes).
    pub key: Option<Vec<u8>>,
    /// Timings.
    pub timing: Timing,
    /// Where known peers are remembered (`<data_dir>/serf`); `None` keeps nothing.
    pub snapshot_dir: Option<PathBuf>,
    /// The pool's file names in `snapshot_dir`: `local` (LAN) or `remote` (WAN), as Consul
    /// names them (`local.snapshot`, `remote.keyring`).
    pub pool: &'static str,
    /// Rejoin the remembered peers even after a graceful leave.
    pub rejoin_after_leave: bool,
}

/// Counters for metrics and `/v1/agent/self`.
#[derive(Debug, Default)]
pub struct Stats {
    /// Packets dropped (undecryptable, truncated, or over the receive queue), and push-pull
    /// streams closed unread over the stream limit or failed midway.
    pub dropped: AtomicU64,
    /// Packets foca could not decode.
    pub malformed: AtomicU64,
    /// Datagrams that could not be sent (full socket buffer).
    pub send_dropped: AtomicU64,
    /// Bytes received on the gossip port (UDP and TCP).
    pub bytes_received: AtomicU64,
    /// Bytes sent from the gossip port (UDP and TCP).
    pub bytes_sent: AtomicU64,
    /// Push-pull exchanges refused (wrong key, garbage).
    pub rejected_streams: AtomicU64,
    /// User events dropped because the agent was not taking them (queue full).
    pub events_dropped: AtomicU64,
}

/// State shared between the engine and the handle.
pub(crate) struct Shared {
    table: RwLock<Table>,
    changes: watch::Sender<u64>,
    me: RwLock<MemberId>,
    stats: Stats,
    pushpull_tx: mpsc::UnboundedSender<SocketAddr>,
    /// Where delivered user events go (the agent takes the receiver); full means dropped.
    events: mpsc::Sender<UserEvent>,
}

/// A running gossip member.
pub struct Gossip {
    shared: Arc<Shared>,
    cmds: mpsc::UnboundedSender<Cmd>,
    keyring: Arc<Keyring>,
    /// Where the keyring is persisted (`<data_dir>/serf/local.keyring`).
    keyfile: Option<PathBuf>,
    timing: Timing,
    tasks: Vec<tokio::task::JoinHandle<()>>,
    events: parking_lot::Mutex<Option<mpsc::Receiver<UserEvent>>>,
}

impl Drop for Gossip {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Gossip {
    /// Bind the serf port (UDP and TCP) and start the engine. Remembered peers are rejoined
    /// in the background.
    pub async fn start(cfg: GossipConfig) -> Result<Gossip, GossipError> {
        // The keyring file of an earlier run wins over `encrypt` (rotations survive restarts).
        let keyfile = cfg
            .snapshot_dir
            .as_ref()
            .map(|d| d.join(format!("{}.keyring", cfg.pool)));
        let label = if cfg.pool == "remote" { "WAN" } else { "LAN" };
        let keys = keyring::initial_keys(keyfile.as_deref(), cfg.key.as_deref(), label)
            .map_err(GossipError::Io)?;
        let keyring =
            Arc::new(Keyring::with_keys(&keys).map_err(|e| GossipError::Io(e.to_string()))?);
        let udp = UdpSocket::bind(cfg.bind).await.map_err(|e| {
            GossipError::Io(format!("Failed to start gossip on {} (udp): {e}", cfg.bind))
        })?;
        let tcp = TcpListener::bind(cfg.bind).await.map_err(|e| {
            GossipError::Io(format!("Failed to start gossip on {} (tcp): {e}", cfg.bind))
        })?;
        let udp = Arc::new(udp);
        let me = MemberId {
            addr: cfg.advertise,
            name: cfg.name.clone(),
            bump: now_millis(),
            tags: cfg.tags.clone(),
        };
        let (pushpull_tx, pushpull_rx) = mpsc::unbounded_channel();
        // Consul's agent queues 1024 events between serf and its ring.
        let (event_tx, event_rx) = mpsc::channel(1024);
        let shared = Arc::new(Shared {
            table: RwLock::new(Table::new(me.clone())),
            changes: watch::channel(0).0,
            me: RwLock::new(me.clone()),
            stats: Stats::default(),
            pushpull_tx,
            events: event_tx,
        });
        let (cmd_tx, cmd_rx) = mpsc::unbounded_channel();
        let (pkt_tx, pkt_rx) = mpsc::channel::<Vec<u8>>(1024);
        let snap_path = cfg
            .snapshot_dir
            .as_ref()
            .map(|d| d.join(format!("{}.snapshot", cfg.pool)));
        let previous = snap_path.as_deref().and_then(snapshot::read);
        let engine = Engine::new(
            me,
            cfg.timing,
            udp.clone(),
            keyring.clone(),
            shared.clone(),
            cmd_tx.clone(),
            snap_path,
        );
        let mut tasks = Vec::new();
        tasks.push(tokio::spawn(engine.run(cmd_rx, pkt_rx)));
        tasks.push(tokio::spawn(recv_loop(
            udp,
            keyring.clone(),
            shared.clone(),
            pkt_tx,
        )));
        tasks.push(tokio::spawn(pushpull::accept_loop(
            tcp,
            keyring.clone(),
            keyfile.clone(),
            shared.clone(),
            cmd_tx.clone(),
        )));
        let tick_tx = cmd_tx.clone();
        tasks.push(tokio::spawn(async move {
            let mut iv = tokio::time::interval(Duration::from_secs(1));
            iv.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                iv.tick().await;
                if tick_tx.send(Cmd::Tick).is_err() {
                    return;
                }
            }
        }));
        let mut g = Gossip {
            shared: shared.clone(),
            cmds: cmd_tx,
            keyring,
            keyfile,
            timing: cfg.timing,
            tasks: Vec::new(),
            events: parking_lot::Mutex::new(Some(event_rx)),
        };
        // Periodic push-pull, started by the engine's ticks.
        tasks.push(tokio::spawn(pushpull::sync_loop(g.pusher(), pushpull_rx)));
        if let Some(prev) = previous {
            if prev.left && !cfg.rejoin_after_leave {
                info!(
                    "gossip: this agent left the cluster before; not rejoining remembered peers (rejoin_after_leave is off)"
                );
            } else if !prev.peers.is_empty() {
                tasks.push(tokio::spawn(pushpull::rejoin(g.pusher(), prev.peers)));
            }
        }
        g.tasks = tasks;
        Ok(g)
    }

    fn pusher(&self) -> Pusher {
        Pusher {
            cmds: self.cmds.clone(),
            keyring: self.keyring.clone(),
            shared: self.shared.clone(),
        }
    }

    /// Every known member (this agent included), sorted by name.
    pub fn members(&self) -> Vec<Member> {
        self.shared.table.read().members()
    }

    /// This agent as a member.
    pub fn local(&self) -> Member {
        let me = self.shared.me.read().clone();
        let found = self.shared.table.read().get(&me.name);
        found.unwrap_or(Member {
            id: me,
            status: Status::Alive,
        })
    }

    /// Bumped on every change of the member list: callers cache what they derive from it.
    pub fn version(&self) -> u64 {
        self.shared.table.read().version()
    }

    /// A receiver that changes whenever the member list does.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.shared.changes.subscribe()
    }

    /// Counters.
    pub fn stats(&self) -> &Stats {
        &self.shared.stats
    }

    /// Whether packets are sealed with a key.
    pub fn encrypted(&self) -> bool {
        self.keyring.encrypted()
    }

    /// Apply a keyring operation on every alive member (or, `local_only`, on this agent
    /// alone) and sum their answers.
    pub async fn keyring_op(&self, op: KeyOp, key: &[u8], local_only: bool) -> KeyringSummary {
        let me = self.local().id.name;
        let mine = keyring::apply_local(&self.keyring, self.keyfile.as_ref(), op, key);
        if local_only {
            return keyring::summarize(vec![(me, mine)], 1);
        }
        let others: Vec<(String, SocketAddr)> = self
            .members()
            .into_iter()
            .filter(|m| m.status == Status::Alive && m.id.name != me)
            .map(|m| (m.id.name, m.id.addr))
            .collect();
        let num_nodes = others.len() + 1;
        let asks = others.into_iter().map(|(name, addr)| {
            let ring = self.keyring.clone();
            let key = key.to_vec();
            async move { (name, keyring::ask(&ring, addr, op, &key).await) }
        });
        let mut replies = futures::future::join_all(asks).await;
        replies.push((me, mine));
        keyring::summarize(replies, num_nodes)
    }

    /// (members, failed, left) counts.
    pub fn counts(&self) -> (usize, usize, usize) {
        self.shared.table.read().counts()
    }

    /// Join the cluster through each address (`host`, `host:port`, `[v6]:port`); returns how
    /// many answered and the error of each that did not.
    pub async fn join(&self, addrs: &[String]) -> (usize, Vec<(String, GossipError)>) {
        let mut ok = 0;
        let mut errs = Vec::new();
        let pp = self.pusher();
        for a in addrs {
            match resolve(a).await {
                Ok(addr) => match pp.exchange(addr, true).await {
                    Ok(()) => {
                        ok += 1;
                        let _ = self.cmds.send(Cmd::Announce(addr));
                    }
                    Err(e) => errs.push((a.clone(), e)),
                },
                Err(e) => errs.push((a.clone(), e)),
            }
        }
        (ok, errs)
    }

    /// Leave gracefully: peers see `leaving`, then `left`. Gossip stops answering afterwards.
    pub async fn leave(&self) {
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::Leave(tx)).is_err() {
            return;
        }
        let _ = rx.await;
        // Let the intent spread before declaring ourselves gone (Consul waits 1 s).
        let propagate = (self.timing.gossip_interval * 5).max(Duration::from_millis(500));
        tokio::time::sleep(propagate).await;
        let (tx, rx) = oneshot::channel();
        if self.cmds.send(Cmd::LeaveFinal(tx)).is_err() {
            return;
        }
        let _ = rx.await;
        tokio::time::sleep(self.timing.gossip_interval * 2).await;
    }

    /// The user events gossip delivers, this agent's own included; only the first caller
    /// gets them.
    pub fn take_events(&self) -> Option<mpsc::Receiver<UserEvent>> {
        self.events.lock().take()
    }

    /// Fire a user event to every member; returns the event time it was given. The name
    /// and payload together must fit [`USER_EVENT_SIZE_LIMIT`].
    pub async fn user_event(&self, name: &str, payload: Vec<u8>) -> Result<u64, GossipError> {
        if name.len() + payload.len() > USER_EVENT_SIZE_LIMIT {
            return Err(GossipError::EventTooLarge);
        }
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::UserEvent {
                name: name.to_string(),
                payload,
                reply: tx,
            })
            .map_err(|_| GossipError::Stopped)?;
        rx.await.map_err(|_| GossipError::Stopped)
    }

    /// Force a member out: a failed one becomes `left` (`prune`: forgotten at once); a live
    /// one refutes it.
    pub async fn force_leave(&self, name: &str, prune: bool) -> Result<(), GossipError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::ForceLeave {
                name: name.to_string(),
                prune,
                reply: tx,
            })
            .map_err(|_| GossipError::Stopped)?;
        rx.await
            .map_err(|_| GossipError::Stopped)?
            .map_err(GossipError::NotFound)
    }
}

async fn resolve(a: &str) -> Result<SocketAddr, GossipError> {
    if let Ok(sa) = a.parse::<SocketAddr>() {
        return Ok(sa);
    }
    if let Ok(ip) = a.trim_matches(['[', ']']).parse::<std::net::IpAddr>() {
        return Ok(SocketAddr::new(ip, DEFAULT_PORT));
    }
    let with_port = if a.contains(':') {
        a.to_string()
    } else {
        format!("{a}:{DEFAULT_PORT}")
    };
    tokio::net::lookup_host(&with_port)
        .await
        .map_err(|e| GossipError::Address(a.to_string(), e.to_string()))?
        .next()
        .ok_or_else(|| GossipError::Address(a.to_string(), "no address found".into()))
}

/// Receive datagrams, open them and queue them for the engine. A full queue drops the
/// packet (SWIM tolerates loss) rather than stall the socket.
async fn recv_loop(
    udp: Arc<UdpSocket>,
    keyring: Arc<Keyring>,
    shared: Arc<Shared>,
    tx: mpsc::Sender<Vec<u8>>,
) {
    let mut buf = vec![0u8; 65536];
    let mut last_warn: Option<std::time::Instant> = None;
    loop {
        let (n, from) = match udp.recv_from(&mut buf).await {
            Ok(x) => x,
            Err(e) => {
                debug!("gossip: udp receive: {e}");
                tokio::time::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        shared
            .stats
            .bytes_received
            .fetch_add(n as u64, Ordering::Relaxed);
        match keyring.open(&buf[..n]) {
            Ok(p) => {
                if tx.try_send(p).is_err() {
                    shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
            Err(e) => {
                shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                if last_warn.is_none_or(|t| t.elapsed() > Duration::from_secs(10)) {
                    last_warn = Some(std::time::Instant::now());
                    warn!("gossip: dropped packet from {from}: {e}");
                }
            }
        }
    }
}

fn now_millis() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(1)
}
