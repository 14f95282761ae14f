//! The TCP side of the serf port: push-pull state exchanges, each one length-prefixed
//! sealed frame each way. Joins, the rejoin through remembered peers and the periodic sync
//! dial out ([`Pusher`]); [`accept_loop`] answers peers, merging their state and replying
//! with ours, or with a plaintext rejection that says why.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, info, warn};

use super::crypto::Keyring;
use super::engine::Cmd;
use super::wire::{MAX_FRAME, TcpMsg};
use super::{GossipError, Shared};

/// Runs TCP push-pull exchanges on behalf of joins, rejoins and the periodic sync.
#[derive(Clone)]
pub(super) struct Pusher {
    pub(super) cmds: mpsc::UnboundedSender<Cmd>,
    pub(super) keyring: Arc<Keyring>,
    pub(super) shared: Arc<Shared>,
}

impl Pusher {
    /// One exchange with `addr`: our state out, theirs merged (`join`: sent as a joining
    /// agent's, which a peer answers even before it has peers).
    pub(super) async fn exchange(&self, addr: SocketAddr, join: bool) -> Result<(), GossipError> {
        let (tx, rx) = oneshot::channel();
        self.cmds
            .send(Cmd::State(tx))
            .map_err(|_| GossipError::Stopped)?;
        let mut ours = rx.await.map_err(|_| GossipError::Stopped)?;
        if let TcpMsg::PushPull { join: j, .. } = &mut ours {
            *j = join;
        }
        let io = async {
            let mut s = TcpStream::connect(addr).await?;
            let body = postcard::to_allocvec(&ours).map_err(std::io::Error::other)?;
            let sent = write_frame(&mut s, &self.keyring.seal(&body)).await?;
            self.shared
                .stats
                .bytes_sent
                .fetch_add(sent, Ordering::Relaxed);
            let reply = read_frame(&mut s).await?;
            self.shared
                .stats
                .bytes_received
                .fetch_add(reply.len() as u64, Ordering::Relaxed);
            Ok::<_, std::io::Error>(reply)
        };
        let reply = tokio::time::timeout(Duration::from_secs(10), io)
            .await
            .map_err(|_| GossipError::Io(format!("dial tcp {addr}: i/o timeout")))?
            .map_err(|e| GossipError::Io(format!("dial tcp {addr}: {e}")))?;
        let plain = self.keyring.open_or_plain(&reply).map_err(|e| {
            warn!("gossip: answer from {addr} refused: {e}");
            GossipError::Protocol(format!("answer from {addr}: {e}"))
        })?;
        let msg: TcpMsg = postcard::from_bytes(&plain)
            .map_err(|e| GossipError::Protocol(format!("answer from {addr}: {e}")))?;
        match msg {
            TcpMsg::Rejected(why) => {
                warn!("gossip: {addr} refused us: {why}");
                Err(GossipError::Rejected(why))
            }
            TcpMsg::PushPull {
                members, intents, ..
            } => {
                let _ = self.cmds.send(Cmd::Merge {
                    members,
                    intents,
                    reply: None,
                });
                Ok(())
            }
            TcpMsg::Key { .. } | TcpMsg::KeyReply(_) => Err(GossipError::Protocol(format!(
                "answer from {addr}: a keyring message in a push-pull"
            ))),
        }
    }
}

/// The periodic push-pull: one exchange with each member the engine picks (`targets`),
/// one at a time.
pub(super) async fn sync_loop(pp: Pusher, mut targets: mpsc::UnboundedReceiver<SocketAddr>) {
    while let Some(addr) = targets.recv().await {
        if let Err(e) = pp.exchange(addr, false).await {
            debug!("gossip: push-pull with {addr}: {e}");
        }
    }
}

/// Rejoin through the peers remembered from the last run: every 2 s, up to 30 rounds,
/// until one of them answers.
pub(super) async fn rejoin(pp: Pusher, peers: Vec<String>) {
    for attempt in 0..30u32 {
        let mut joined = 0;
        for p in &peers {
            if let Ok(addr) = p.parse::<SocketAddr>()
                && pp.exchange(addr, true).await.is_ok()
            {
                joined += 1;
            }
        }
        if joined > 0 {
            info!("gossip: rejoined the cluster through {joined} remembered peer(s)");
            return;
        }
        if attempt == 0 {
            info!("gossip: remembered peers not reachable yet; retrying");
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
    warn!("gossip: could not reach any remembered peer");
}

/// Push-pull exchanges served at once.
const MAX_PUSH_PULL_STREAMS: usize = 32;

/// Serve push-pull exchanges on the TCP side of the serf port.
pub(super) async fn accept_loop(
    tcp: TcpListener,
    keyring: Arc<Keyring>,
    keyfile: Option<std::path::PathBuf>,
    shared: Arc<Shared>,
    cmds: mpsc::UnboundedSender<Cmd>,
) {
    // Each exchange may buffer a frame of up to MAX_FRAME before it is authenticated, and
    // queues a merge for the engine: past this many at once, a stream is closed unread.
    let streams = Arc::new(tokio::sync::Semaphore::new(MAX_PUSH_PULL_STREAMS));
    loop {
        let (mut s, peer) = match tcp.accept().await {
            Ok(x) => x,
            Err(e) => {
                debug!("gossip: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Ok(permit) = streams.clone().try_acquire_owned() else {
            shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
            debug!("gossip: too many push-pull streams; closing the one from {peer}");
            continue;
        };
        let keyring = keyring.clone();
        let keyfile = keyfile.clone();
        let shared = shared.clone();
        let cmds = cmds.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let work = async {
                let frame = read_frame(&mut s).await?;
                shared
                    .stats
                    .bytes_received
                    .fetch_add(frame.len() as u64, Ordering::Relaxed);
                let refuse = |why: String| {
                    shared
                        .stats
                        .rejected_streams
                        .fetch_add(1, Ordering::Relaxed);
                    warn!("gossip: refused push-pull from {peer}: {why}");
                    postcard::to_allocvec(&TcpMsg::Rejected(why)).map(|b| Keyring::plain(&b))
                };
                let reply = match keyring.open(&frame) {
                    Err(e) => refuse(e.to_string()),
                    Ok(plain) => match postcard::from_bytes::<TcpMsg>(&plain) {
                        Ok(TcpMsg::PushPull {
                            members, intents, ..
                        }) => {
                            let (tx, rx) = oneshot::channel();
                            let _ = cmds.send(Cmd::Merge {
                                members,
                                intents,
                                reply: Some(tx),
                            });
                            match rx.await {
                                Ok(ours) => postcard::to_allocvec(&ours).map(|b| keyring.seal(&b)),
                                Err(_) => return Ok(()),
                            }
                        }
                        Ok(TcpMsg::Key { op, key }) => {
                            info!("gossip: keyring {op:?} requested by {peer}");
                            let r =
                                super::keyring::apply_local(&keyring, keyfile.as_ref(), op, &key);
                            postcard::to_allocvec(&TcpMsg::KeyReply(r)).map(|b| keyring.seal(&b))
                        }
                        Ok(TcpMsg::Rejected(_) | TcpMsg::KeyReply(_)) => return Ok(()),
                        Err(e) => refuse(format!("malformed push-pull: {e}")),
                    },
                }
                .map_err(std::io::Error::other)?;
                let n = write_frame(&mut s, &reply).await?;
                shared.stats.bytes_sent.fetch_add(n, Ordering::Relaxed);
                Ok::<_, std::io::Error>(())
            };
            match tokio::time::timeout(Duration::from_secs(10), work).await {
                Ok(Ok(())) => {}
                Ok(Err(e)) => {
                    shared.stats.dropped.fetch_add(1, Ordering::Relaxed);
                    debug!("gossip: push-pull from {peer}: {e}");
                }
                Err(_) => debug!("gossip: push-pull from {peer}: timed out"),
            }
        });
    }
}

/// Write one length-prefixed frame; the bytes it took.
pub(super) async fn write_frame(s: &mut TcpStream, frame: &[u8]) -> std::io::Result<u64> {
    s.write_u32(frame.len() as u32).await?;
    s.write_all(frame).await?;
    s.flush().await?;
    Ok(4 + frame.len() as u64)
}

/// Read one length-prefixed frame, refusing one over [`MAX_FRAME`] before reading it.
pub(super) async fn read_frame(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let n = s.read_u32().await? as usize;
    if n > MAX_FRAME {
        return Err(std::io::Error::other(format!(
            "frame of {n} bytes exceeds the limit"
        )));
    }
    let mut buf = vec![0u8; n];
    s.read_exact(&mut buf).await?;
    Ok(buf)
}
