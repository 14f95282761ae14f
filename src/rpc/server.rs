//! The serving side: decode frames, run each request concurrently, answer in any order.

use std::sync::Arc;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_util::codec::{Framed, LengthDelimitedCodec};
use tracing::{debug, warn};

use super::{Frame, MAX_FRAME, Reply, Request, VERSION};
use crate::tls::ConnLimiter;

/// Requests one connection may have in flight. A client agent multiplexes every call it
/// forwards (long blocking queries included) over one connection, so this is generous; it
/// bounds a flood, not normal use.
const MAX_IN_FLIGHT: usize = 4096;

/// Longest one reply may take to be written before the connection is dropped.
const REPLY_WRITE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

/// What executes requests (the agent, through its HTTP router).
pub trait Handler: Send + Sync + 'static {
    /// Serve one request.
    fn handle(
        &self,
        req: Request,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + Send + '_>>;
}

/// How the RPC port treats a connection: TLS or plaintext (told apart by the first byte, so
/// both work on one port while a cluster migrates), client certificates, and limits.
#[derive(Clone, Debug)]
pub struct AcceptPolicy {
    /// The port's TLS configuration (`None`: plaintext only).
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Refuse plaintext (`verify_incoming`).
    pub verify_incoming: bool,
    /// Raft messages only from a certificate valid for this name (`verify_server_hostname`).
    pub server_name: Option<rustls::pki_types::ServerName<'static>>,
    /// Connections per client IP.
    pub limiter: ConnLimiter,
    /// Longest the first byte and the TLS handshake may take.
    pub handshake_timeout: Duration,
}

impl Default for AcceptPolicy {
    fn default() -> Self {
        AcceptPolicy {
            tls: None,
            verify_incoming: false,
            server_name: None,
            limiter: ConnLimiter::new(0),
            handshake_timeout: Duration::from_secs(5),
        }
    }
}

/// The first byte of a TLS record carrying a handshake. A plaintext connection starts with
/// a frame's 4-byte big-endian length, at most [`MAX_FRAME`] (64 MiB), so its first byte is
/// at most 0x04.
const TLS_HANDSHAKE: u8 = 0x16;

/// Accept connections until `shutdown` turns true.
pub async fn serve(
    listener: TcpListener,
    handler: Arc<dyn Handler>,
    mut shutdown: tokio::sync::watch::Receiver<bool>,
    policy: AcceptPolicy,
) {
    let policy = Arc::new(policy);
    loop {
        let (stream, peer) = tokio::select! {
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    debug!("rpc: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = async { let _ = shutdown.wait_for(|v| *v).await; } => return,
        };
        let Some(guard) = policy.limiter.try_acquire(peer.ip()) else {
            warn!("rpc: closing a connection from {peer}: over limits.rpc_max_conns_per_client");
            continue;
        };
        super::tune_connection(&stream);
        let handler = handler.clone();
        let policy = policy.clone();
        tokio::spawn(async move {
            let _slot = guard;
            let mut first = [0u8; 1];
            match tokio::time::timeout(policy.handshake_timeout, stream.peek(&mut first)).await {
                Ok(Ok(1)) => {}
                Ok(_) => return,
                Err(_) => {
                    debug!("rpc: {peer} sent nothing within rpc_handshake_timeout");
                    return;
                }
            }
            if first[0] != TLS_HANDSHAKE {
                if policy.verify_incoming {
                    warn!(
                        "rpc: refusing a plaintext connection from {peer}: verify_incoming requires TLS"
                    );
                    return;
                }
                return serve_conn(stream, peer, handler, true).await;
            }
            let Some(cfg) = policy.tls.clone() else {
                warn!(
                    "rpc: {peer} started TLS, but this server has no certificate (tls.internal_rpc)"
                );
                return;
            };
            let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
            let tls = match tokio::time::timeout(policy.handshake_timeout, acceptor.accept(stream))
                .await
            {
                Ok(Ok(t)) => t,
                Ok(Err(e)) => {
                    warn!("rpc: TLS handshake with {peer} failed: {e}");
                    return;
                }
                Err(_) => {
                    warn!("rpc: TLS handshake with {peer} timed out");
                    return;
                }
            };
            let may_raft = match &policy.server_name {
                None => true,
                Some(name) => tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .is_some_and(|c| crate::tls::cert_is_for(c, name)),
            };
            serve_conn(tls, peer, handler, may_raft).await
        });
    }
}

/// Serve one connection's requests. `may_raft`: the peer may send Raft messages (it showed
/// a server certificate, or no such proof is configured).
async fn serve_conn<S>(stream: S, peer: SocketAddr, handler: Arc<dyn Handler>, may_raft: bool)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec();
    let (mut sink, mut source) = Framed::new(stream, codec).split();
    let (out, mut out_rx) = mpsc::channel::<Bytes>(256);
    let writer = tokio::spawn(async move {
        // A caller that stops reading must not hold replies (and the tasks that
        // produced them) for good.
        while let Some(b) = out_rx.recv().await {
            match tokio::time::timeout(REPLY_WRITE_TIMEOUT, sink.send(b)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
    });
    // Requests served at once on this connection; past it, the next frame is not
    // read until one finishes, so a flooding caller is slowed by TCP itself.
    let in_flight = Arc::new(tokio::sync::Semaphore::new(MAX_IN_FLIGHT));
    while let Some(next) = source.next().await {
        let buf = match next {
            Ok(b) => b,
            Err(e) => {
                warn!("rpc: dropping connection from {peer}: {e}");
                break;
            }
        };
        let frame = match postcard::from_bytes::<Frame<Request>>(&buf) {
            Ok(f) if f.version == VERSION => f,
            Ok(f) => {
                warn!(
                    "rpc: {peer} speaks protocol version {}, not {VERSION}",
                    f.version
                );
                break;
            }
            Err(e) => {
                warn!("rpc: malformed request from {peer}: {e}");
                break;
            }
        };
        if !may_raft && matches!(frame.body, Request::Raft { .. }) {
            warn!("rpc: refusing a Raft message from {peer}: its certificate is not a server's");
            let reply = Frame {
                version: VERSION,
                id: frame.id,
                body: Reply::Error(
                    "Permission denied: Raft messages need a server certificate".into(),
                ),
            };
            if let Ok(b) = postcard::to_stdvec(&reply) {
                let _ = out.send(Bytes::from(b)).await;
            }
            continue;
        }
        let Ok(permit) = in_flight.clone().acquire_owned().await else {
            break;
        };
        let handler = handler.clone();
        let out = out.clone();
        tokio::spawn(async move {
            let _permit = permit;
            let body = handler.handle(frame.body).await;
            let reply = Frame {
                version: VERSION,
                id: frame.id,
                body,
            };
            match postcard::to_stdvec(&reply) {
                Ok(b) => {
                    let _ = out.send(Bytes::from(b)).await;
                }
                Err(e) => warn!("rpc: encoding reply: {e}"),
            }
        });
    }
    drop(out);
    let _ = writer.await;
}
