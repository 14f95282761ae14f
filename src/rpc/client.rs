//! The calling side: one multiplexed connection per server, reused and pipelined.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
use parking_lot::Mutex;
use tokio::net::TcpStream;
use tokio::sync::{mpsc, oneshot};
use tokio_util::codec::{Framed, LengthDelimitedCodec};

use super::{Frame, MAX_FRAME, Reply, Request, RpcError, VERSION};

type Waiters = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

struct Conn {
    out: mpsc::Sender<Bytes>,
    waiters: Waiters,
    alive: Arc<AtomicBool>,
}

/// Longest a frame may take to be written before its connection counts as dead.
const WRITE_TIMEOUT: Duration = Duration::from_secs(10);

/// Removes a call's waiter when the call ends, whichever way.
struct WaiterGuard<'a> {
    waiters: &'a Waiters,
    id: u64,
}

impl Drop for WaiterGuard<'_> {
    fn drop(&mut self) {
        self.waiters.lock().remove(&self.id);
    }
}

/// Connections to servers, by address.
#[derive(Default)]
pub struct Pool {
    conns: Mutex<HashMap<SocketAddr, Arc<Conn>>>,
    next_id: AtomicU64,
    /// Dial with TLS (`verify_outgoing`); `None`: plaintext.
    tls: Option<crate::tls::RpcDial>,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.conns.lock().len();
        write!(f, "Pool({n} connections)")
    }
}

impl Pool {
    /// An empty pool dialling in plaintext.
    pub fn new() -> Pool {
        Pool::default()
    }

    /// An empty pool dialling with `tls` when given.
    pub fn with_tls(tls: Option<crate::tls::RpcDial>) -> Pool {
        Pool {
            tls,
            ..Pool::default()
        }
    }

    /// The pooled connection to `addr`, dialled if there is none. `dc` names the
    /// datacenter of a server outside this one: over TLS its certificate names that
    /// datacenter.
    async fn conn(&self, addr: SocketAddr, dc: Option<&str>) -> Result<Arc<Conn>, RpcError> {
        let reuse = self
            .conns
            .lock()
            .get(&addr)
            .filter(|c| c.alive.load(Ordering::Relaxed))
            .cloned();
        if let Some(c) = reuse {
            return Ok(c);
        }
        let stream = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr))
            .await
            .map_err(|_| RpcError::Connection(format!("dial {addr}: i/o timeout")))?
            .map_err(|e| RpcError::Connection(format!("dial {addr}: {e}")))?;
        super::tune_connection(&stream);
        let conn = match &self.tls {
            None => attach(stream),
            Some(tls) => {
                let name = match dc {
                    Some(dc) => tls.name_in(dc).map_err(RpcError::Connection)?,
                    None => tls.server_name.clone(),
                };
                let connector = tokio_rustls::TlsConnector::from(tls.config.clone());
                let handshake = connector.connect(name, stream);
                let stream = tokio::time::timeout(Duration::from_secs(5), handshake)
                    .await
                    .map_err(|_| {
                        RpcError::Connection(format!("dial {addr}: TLS handshake timed out"))
                    })?
                    .map_err(|e| {
                        RpcError::Connection(format!("dial {addr}: TLS handshake: {e}"))
                    })?;
                attach(stream)
            }
        };
        self.conns.lock().insert(addr, conn.clone());
        Ok(conn)
    }

    /// Send `req` to `addr` and wait up to `timeout` for the answer.
    pub async fn call(
        &self,
        addr: SocketAddr,
        req: Request,
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        self.call_to(addr, None, req, timeout).await
    }

    /// [`Pool::call`] to a server of datacenter `dc` (another than this agent's).
    pub async fn call_in(
        &self,
        dc: &str,
        addr: SocketAddr,
        req: Request,
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        self.call_to(addr, Some(dc), req, timeout).await
    }

    async fn call_to(
        &self,
        addr: SocketAddr,
        dc: Option<&str>,
        req: Request,
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        let conn = self.conn(addr, dc).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = postcard::to_stdvec(&Frame {
            version: VERSION,
            id,
            body: req,
        })
        .map_err(|e| RpcError::Connection(format!("encoding request: {e}")))?;
        let (tx, rx) = oneshot::channel();
        conn.waiters.lock().insert(id, tx);
        // However this call ends (answer, timeout, or the caller dropping it), its waiter
        // goes: a silent peer must not grow the map.
        let _waiter = WaiterGuard {
            waiters: &conn.waiters,
            id,
        };
        // One deadline for queueing and answering: a full queue to a wedged peer counts
        // against it too.
        let outcome = tokio::time::timeout(timeout, async {
            if conn.out.send(Bytes::from(frame)).await.is_err() {
                conn.alive.store(false, Ordering::Relaxed);
                return Err(RpcError::Connection(format!("{addr}: connection closed")));
            }
            rx.await
                .map_err(|_| RpcError::Connection(format!("{addr}: connection lost")))
        })
        .await;
        match outcome {
            Ok(Ok(Reply::Error(e))) => Err(RpcError::Remote(e)),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(RpcError::Timeout(timeout)),
        }
    }
}

/// Start the writer and reader tasks of a new connection.
fn attach<S>(stream: S) -> Arc<Conn>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Send + 'static,
{
    let codec = LengthDelimitedCodec::builder()
        .max_frame_length(MAX_FRAME)
        .new_codec();
    let (mut sink, mut source) = Framed::new(stream, codec).split();
    let (out, mut out_rx) = mpsc::channel::<Bytes>(256);
    let waiters: Waiters = Arc::new(Mutex::new(HashMap::new()));
    let alive = Arc::new(AtomicBool::new(true));
    let conn = Arc::new(Conn {
        out,
        waiters: waiters.clone(),
        alive: alive.clone(),
    });
    let alive_w = alive.clone();
    tokio::spawn(async move {
        // A peer that stops reading (frozen, paused, swapping) fills its receive window
        // and would hold this write forever: past WRITE_TIMEOUT the connection is dead,
        // so callers fail over and the next call dials anew.
        while let Some(b) = out_rx.recv().await {
            match tokio::time::timeout(WRITE_TIMEOUT, sink.send(b)).await {
                Ok(Ok(())) => {}
                _ => break,
            }
        }
        alive_w.store(false, Ordering::Relaxed);
    });
    tokio::spawn(async move {
        while let Some(Ok(buf)) = source.next().await {
            let Ok(f) = postcard::from_bytes::<Frame<Reply>>(&buf) else {
                break;
            };
            let w = waiters.lock().remove(&f.id);
            if let Some(w) = w {
                let _ = w.send(f.body);
            }
        }
        alive.store(false, Ordering::Relaxed);
        // Dropping the senders fails every request still waiting on this connection.
        waiters.lock().clear();
    });
    conn
}
