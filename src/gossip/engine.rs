//! The task that owns foca: it feeds it packets, timers and commands, and carries out what
//! foca asks for (send a datagram, arm a timer, report a member up or down).
//!
//! One task owns all gossip state, so nothing here takes a lock on the packet path except the
//! member table's short write when membership actually changes.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::num::{NonZeroU8, NonZeroU32, NonZeroUsize};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use foca::{AccumulatingRuntime, Foca, Member, OwnedNotification, PostcardCodec, Timer};
use parking_lot::Mutex;
use rand::SeedableRng;
use rand::rngs::SmallRng;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::crypto::{Keyring, OVERHEAD};
use super::identity::MemberId;
use super::members::{Followup, Retention, Status};
use super::wire::{Intent, Intents, TcpMsg};
use super::{Shared, Timing, UserEvent, snapshot};

/// Requests to the engine.
pub(super) enum Cmd {
    /// A foca timer fired.
    Timer(Timer<MemberId>),
    /// Full state from a peer (push-pull or join); answered with ours when `reply` is set.
    Merge {
        members: Vec<Member<MemberId>>,
        intents: Vec<Intent>,
        reply: Option<oneshot::Sender<TcpMsg>>,
    },
    /// Our full state, for a push-pull we start.
    State(oneshot::Sender<TcpMsg>),
    /// Announce ourselves to an address (UDP).
    Announce(SocketAddr),
    /// Start a graceful leave: announce the intent.
    Leave(oneshot::Sender<()>),
    /// Finish the leave: declare ourselves down.
    LeaveFinal(oneshot::Sender<()>),
    /// Operator force-leave.
    ForceLeave {
        name: String,
        prune: bool,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// Fire a user event: stamp it with the event clock and broadcast it; answers the time.
    UserEvent {
        name: String,
        payload: Vec<u8>,
        reply: oneshot::Sender<u64>,
    },
    /// Once a second: push-pull, reaping, tuning, snapshot.
    Tick,
}

type Swim = Foca<MemberId, PostcardCodec, SmallRng, Intents>;

pub(super) struct Engine {
    foca: Swim,
    rt: AccumulatingRuntime<MemberId>,
    udp: Arc<UdpSocket>,
    keyring: Arc<Keyring>,
    shared: Arc<Shared>,
    tx: mpsc::UnboundedSender<Cmd>,
    pending: Arc<Mutex<Vec<Intent>>>,
    recent: VecDeque<Intent>,
    timing: Timing,
    ticks: u64,
    sized_for: usize,
    snapshot_path: Option<std::path::PathBuf>,
    snapshot_version: u64,
    left: bool,
    /// Serf's event Lamport clock: the time the next event fired here gets.
    event_clock: u64,
}

/// Serf's `EventBuffer`: events older than this many event-clock ticks are not delivered
/// (they were seen long ago, or are a replay).
const EVENT_WINDOW: u64 = 512;

/// How long a suspect has to refute before its prober declares it down.
///
/// Consul's floor is `suspicion_mult × max(1, log10 N) × probe_interval`, counted by
/// memberlist from the end of the failed probe round. disco counts the same floor from the
/// start of that round: the member has been silent to direct and indirect probes for the
/// whole round already, and without it detection came to the floor plus two seconds
/// (waiting for the round, then the full floor, then dissemination). At least one probe
/// interval is always left to refute.
fn suspicion(t: &Timing, n: usize) -> Duration {
    let scale = (n.max(1) as f64).log10().max(1.0);
    let floor = t.probe_interval.mul_f64(t.suspicion_mult as f64 * scale);
    floor.saturating_sub(t.probe_interval).max(t.probe_interval)
}

fn retransmits(n: usize) -> NonZeroU8 {
    let tx = (4.0 * ((n + 1) as f64).log10().ceil()).clamp(4.0, 60.0) as u8;
    NonZeroU8::new(tx).unwrap_or(NonZeroU8::MIN)
}

fn foca_config(t: &Timing, n: usize) -> foca::Config {
    let mut c = foca::Config::new_lan(NonZeroU32::MIN);
    c.probe_period = t.probe_interval;
    c.probe_rtt = t.probe_timeout;
    c.suspect_to_down_after = suspicion(t, n);
    c.max_transmissions = retransmits(n);
    c.max_packet_size = NonZeroUsize::new(1400 - OVERHEAD).unwrap_or(NonZeroUsize::MIN);
    c.notify_down_members = true;
    c.periodic_gossip = Some(foca::PeriodicParams {
        frequency: t.gossip_interval,
        num_members: NonZeroUsize::new(t.gossip_nodes.max(1)).unwrap_or(NonZeroUsize::MIN),
    });
    c.periodic_announce = Some(foca::PeriodicParams {
        frequency: t.push_pull_interval,
        num_members: NonZeroUsize::MIN,
    });
    c.periodic_announce_to_down_members = Some(foca::PeriodicParams {
        frequency: t.gossip_to_dead,
        num_members: NonZeroUsize::new(2).unwrap_or(NonZeroUsize::MIN),
    });
    c
}

impl Engine {
    pub(super) fn new(
        me: MemberId,
        timing: Timing,
        udp: Arc<UdpSocket>,
        keyring: Arc<Keyring>,
        shared: Arc<Shared>,
        tx: mpsc::UnboundedSender<Cmd>,
        snapshot_path: Option<std::path::PathBuf>,
    ) -> Engine {
        let pending = Arc::new(Mutex::new(Vec::new()));
        let foca = Foca::with_custom_broadcast(
            me,
            foca_config(&timing, 1),
            SmallRng::from_rng(&mut rand::rng()),
            PostcardCodec,
            Intents::new(pending.clone()),
        );
        Engine {
            foca,
            rt: AccumulatingRuntime::new(),
            udp,
            keyring,
            shared,
            tx,
            pending,
            recent: VecDeque::new(),
            timing,
            ticks: 0,
            sized_for: 1,
            snapshot_path,
            snapshot_version: 0,
            left: false,
            event_clock: 0,
        }
    }

    /// Run until every command sender is gone.
    pub(super) async fn run(
        mut self,
        mut cmds: mpsc::UnboundedReceiver<Cmd>,
        mut packets: mpsc::Receiver<Vec<u8>>,
    ) {
        loop {
            // Unbiased: neither a burst of commands (timers, merges) nor of packets can
            // starve the other.
            tokio::select! {
                cmd = cmds.recv() => match cmd {
                    Some(c) => self.handle(c),
                    None => return,
                },
                p = packets.recv() => match p {
                    Some(p) => self.packet(&p),
                    None => return,
                },
            }
            self.drain();
        }
    }

    fn packet(&mut self, data: &[u8]) {
        if self.left {
            return;
        }
        if let Err(e) = self.foca.handle_data(data, &mut self.rt) {
            match e {
                foca::Error::DataFromOurselves => {}
                e => {
                    self.shared.stats.malformed.fetch_add(1, Ordering::Relaxed);
                    debug!("gossip: discarded packet: {e}");
                }
            }
        }
    }

    fn handle(&mut self, cmd: Cmd) {
        match cmd {
            Cmd::Timer(t) => {
                if let Err(e) = self.foca.handle_timer(t, &mut self.rt) {
                    debug!("gossip: timer: {e}");
                }
            }
            Cmd::Merge {
                members,
                intents,
                reply,
            } => {
                if !self.left {
                    if let Err(e) = self
                        .foca
                        .apply_many(members.into_iter(), true, &mut self.rt)
                    {
                        debug!("gossip: merge: {e}");
                    }
                    for i in intents {
                        if let Ok(bytes) = postcard::to_allocvec(&i) {
                            let _ = self.foca.add_broadcast(&bytes);
                        }
                    }
                }
                if let Some(r) = reply {
                    let _ = r.send(self.state());
                }
            }
            Cmd::State(r) => {
                let _ = r.send(self.state());
            }
            Cmd::Announce(addr) => {
                if let Err(e) = self
                    .foca
                    .announce(MemberId::placeholder(addr), &mut self.rt)
                {
                    debug!("gossip: announce to {addr}: {e}");
                }
            }
            Cmd::Leave(done) => {
                let me = self.foca.identity().clone();
                self.broadcast(Intent::Leave {
                    name: me.name.clone(),
                    bump: me.bump,
                });
                let _ = self.foca.gossip(&mut self.rt);
                let _ = done.send(());
            }
            Cmd::LeaveFinal(done) => {
                if let Err(e) = self.foca.leave_cluster(&mut self.rt) {
                    debug!("gossip: leave: {e}");
                }
                self.left = true;
                self.shared.table.write().set_self(Status::Left);
                self.write_snapshot(true);
                let _ = done.send(());
            }
            Cmd::ForceLeave { name, prune, reply } => {
                let known = self.shared.table.read().get(&name).is_some();
                if !known {
                    let _ = reply.send(Err(format!("agent: No node found with name '{name}'")));
                    return;
                }
                self.broadcast(Intent::ForceLeave {
                    name,
                    prune,
                    ltime: unique(),
                });
                let _ = self.foca.gossip(&mut self.rt);
                let _ = reply.send(Ok(()));
            }
            Cmd::UserEvent {
                name,
                payload,
                reply,
            } => {
                let ltime = self.event_clock;
                self.event_clock += 1;
                // foca hands our own broadcast to the handler too, so the event reaches
                // this agent's ring through `drain` like any other.
                self.broadcast(Intent::UserEvent {
                    ltime,
                    name,
                    payload,
                });
                let _ = self.foca.gossip(&mut self.rt);
                let _ = reply.send(ltime);
            }
            Cmd::Tick => self.tick(),
        }
    }

    /// Witness a user event's time and pass it on, unless it is older than the window.
    fn deliver(&mut self, ltime: u64, name: String, payload: Vec<u8>) {
        let too_old = ltime.saturating_add(EVENT_WINDOW) < self.event_clock;
        self.event_clock = self.event_clock.max(ltime.saturating_add(1));
        if too_old {
            debug!("gossip: dropped user event {name} from time {ltime}: too old");
            return;
        }
        let ev = UserEvent {
            ltime,
            name,
            payload,
        };
        if self.shared.events.try_send(ev).is_err() {
            self.shared
                .stats
                .events_dropped
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    fn broadcast(&mut self, intent: Intent) {
        match postcard::to_allocvec(&intent) {
            Ok(bytes) => {
                if let Err(e) = self.foca.add_broadcast(&bytes) {
                    warn!("gossip: cannot broadcast {intent:?}: {e}");
                }
            }
            Err(e) => warn!("gossip: cannot encode {intent:?}: {e}"),
        }
    }

    fn state(&self) -> TcpMsg {
        let mut members: Vec<Member<MemberId>> =
            self.foca.iter_membership_state().cloned().collect();
        members.push(Member::alive(self.foca.identity().clone()));
        TcpMsg::PushPull {
            join: false,
            members,
            intents: self.recent.iter().cloned().collect(),
        }
    }

    fn tick(&mut self) {
        self.ticks += 1;
        let alive = self.foca.num_members() + 1;
        if alive != self.sized_for {
            self.sized_for = alive;
            if let Err(e) = self.foca.set_config(foca_config(&self.timing, alive)) {
                debug!("gossip: resize: {e}");
            }
        }
        let version = {
            let mut t = self.shared.table.write();
            t.reap(Retention::default());
            t.version()
        };
        if version != self.snapshot_version && !self.left {
            self.snapshot_version = version;
            self.write_snapshot(false);
        }
        let every = self.timing.reconnect_interval.as_secs().max(1);
        if self.ticks.is_multiple_of(every) && !self.left {
            self.reconnect();
        }
        // Push-pull with one random live member every push_pull_interval: repairs anything
        // lost to dropped packets and heals partitions.
        let every = (self.timing.push_pull_interval.as_millis() / 1000).max(1) as u64;
        if self.ticks.is_multiple_of(every) && !self.left {
            let peers: Vec<SocketAddr> = self.foca.iter_members().map(|m| m.id().addr).collect();
            if !peers.is_empty() {
                let pick = peers[(rand::random::<u64>() % peers.len() as u64) as usize];
                let _ = self.shared.pushpull_tx.send(pick);
            }
        }
    }

    /// Serf's reconnect round: ask one failed member to rejoin, with a chance of
    /// failed/alive (at least every round when as many have failed as live). SWIM never
    /// probes a member once it is down, and foca stops its own announcements to down members
    /// when no member is left alive, as on each side of a cut WAN link with one server per
    /// datacenter. The failed member answers the announcement with its members, or, if it
    /// took us for dead too, with the news, and we rejoin under a new identity.
    fn reconnect(&mut self) {
        let (failed, alive) = self.shared.table.read().reconnect_candidates();
        if failed.is_empty() {
            return;
        }
        let chance = failed.len() as f64 / alive.max(1) as f64;
        if rand::random::<f64>() >= chance {
            return;
        }
        let addr = failed[(rand::random::<u64>() % failed.len() as u64) as usize];
        debug!("gossip: asking failed member {addr} to rejoin");
        if let Err(e) = self
            .foca
            .announce(MemberId::placeholder(addr), &mut self.rt)
        {
            debug!("gossip: reconnect to {addr}: {e}");
        }
    }

    fn write_snapshot(&self, left: bool) {
        let Some(path) = &self.snapshot_path else {
            return;
        };
        let peers: Vec<String> = self
            .foca
            .iter_members()
            .map(|m| m.id().addr.to_string())
            .collect();
        if let Err(e) = snapshot::write(path, &peers, left) {
            warn!("gossip: writing {}: {e}", path.display());
        }
    }

    /// Seal and send the packets foca queued.
    fn send_queued(&mut self) {
        while let Some((to, data)) = self.rt.to_send() {
            let sealed = self.keyring.seal(&data);
            match self.udp.try_send_to(&sealed, to.addr) {
                Ok(n) => {
                    self.shared
                        .stats
                        .bytes_sent
                        .fetch_add(n as u64, Ordering::Relaxed);
                }
                Err(e) => {
                    self.shared
                        .stats
                        .send_dropped
                        .fetch_add(1, Ordering::Relaxed);
                    debug!("gossip: send to {}: {e}", to.addr);
                }
            }
        }
    }

    /// Carry out what foca asked for and apply membership news to the table.
    fn drain(&mut self) {
        self.send_queued();
        while let Some((after, timer)) = self.rt.to_schedule() {
            let tx = self.tx.clone();
            tokio::spawn(async move {
                tokio::time::sleep(after).await;
                let _ = tx.send(Cmd::Timer(timer));
            });
        }
        let mut changed = false;
        // A member newly seen down is passed on at once rather than at the next gossip
        // round: each member that learns it gossips once, so the news crosses the pool in a
        // few network hops instead of a few 200 ms rounds.
        let mut spread_now = false;
        while let Some(n) = self.rt.to_notify() {
            // The table's write guard covers the update only; logging (a write to stderr that
            // can block) happens after it is dropped.
            match n {
                OwnedNotification::MemberUp(id) => {
                    let (name, addr) = (id.name.clone(), id.addr);
                    self.shared.table.write().up(id);
                    info!("gossip: member joined, marking alive: {name} {addr}");
                }
                OwnedNotification::MemberDown(id) => {
                    spread_now = true;
                    let st = {
                        let mut t = self.shared.table.write();
                        t.down(&id);
                        t.get(&id.name).map(|m| m.status.as_str()).unwrap_or("gone")
                    };
                    info!("gossip: member {} {} is {st}", id.name, id.addr);
                }
                OwnedNotification::Rename(_, new) => self.shared.table.write().up(new),
                OwnedNotification::Rejoin(new) => {
                    let bump = new.bump;
                    self.shared.table.write().up(new.clone());
                    *self.shared.me.write() = new;
                    warn!(
                        "gossip: this agent was declared dead by its peers; rejoined as bump {bump}"
                    );
                }
                OwnedNotification::Defunct => {
                    if !self.left {
                        warn!("gossip: this agent is cut off from the cluster (declared dead)");
                    }
                }
                OwnedNotification::Active => debug!("gossip: connected to the cluster"),
                OwnedNotification::Idle => debug!("gossip: no other members"),
            }
            changed = true;
        }
        loop {
            let batch: Vec<Intent> = std::mem::take(&mut *self.pending.lock());
            if batch.is_empty() {
                break;
            }
            for intent in batch {
                if let Intent::UserEvent {
                    ltime,
                    name,
                    payload,
                } = intent
                {
                    // Passed on at once, like a failure: each member gossips a new event
                    // once on arrival, so it crosses the pool in a few network hops
                    // rather than a few 200 ms rounds.
                    spread_now = true;
                    self.deliver(ltime, name, payload);
                    continue;
                }
                let follow = self.shared.table.write().apply(&intent);
                changed = true;
                if follow == Followup::Refute && !self.left {
                    let me = self.foca.identity().clone();
                    info!("gossip: refuting a force-leave of this agent");
                    self.broadcast(Intent::Refute {
                        name: me.name,
                        bump: me.bump,
                        ltime: unique(),
                    });
                }
                if matches!(intent, Intent::Leave { .. }) {
                    self.recent.push_back(intent);
                    if self.recent.len() > 256 {
                        self.recent.pop_front();
                    }
                }
            }
        }
        if changed {
            let v = self.shared.table.read().version();
            self.shared.changes.send_replace(v);
        }
        if spread_now {
            if let Err(e) = self.foca.gossip(&mut self.rt) {
                debug!("gossip: spreading news: {e}");
            }
            self.send_queued();
        }
    }
}

/// A value unique per call across the cluster with overwhelming probability.
fn unique() -> u64 {
    rand::random()
}

#[cfg(any(test, feature = "fuzzing"))]
impl Engine {
    /// One opened datagram through SWIM and the membership table, as `run` does, with the
    /// timers it asks for dropped (a fuzz input must not leave tasks behind).
    pub(super) fn fuzz_packet(&mut self, plain: &[u8]) {
        self.packet(plain);
        while self.rt.to_schedule().is_some() {}
        self.drain();
        while self.rt.to_schedule().is_some() {}
    }

    /// One command, as `run` does (a decoded push-pull's merge).
    pub(super) fn fuzz_command(&mut self, cmd: Cmd) {
        self.handle(cmd);
        while self.rt.to_schedule().is_some() {}
        self.drain();
        while self.rt.to_schedule().is_some() {}
    }
}
