//! The calling side: one multiplexed connection per server, reused and pipelined.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::{SinkExt, StreamExt};
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

/// Connections to servers, by address.
#[derive(Default)]
pub struct Pool {
    conns: Mutex<HashMap<SocketAddr, Arc<Conn>>>,
    next_id: AtomicU64,
}

impl std::fmt::Debug for Pool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let n = self.conns.lock().map(|c| c.len()).unwrap_or(0);
        write!(f, "Pool({n} connections)")
    }
}

impl Pool {
    /// An empty pool.
    pub fn new() -> Pool {
        Pool::default()
    }

    async fn conn(&self, addr: SocketAddr) -> Result<Arc<Conn>, RpcError> {
        if let Ok(m) = self.conns.lock()
            && let Some(c) = m.get(&addr)
            && c.alive.load(Ordering::Relaxed)
        {
            return Ok(c.clone());
        }
        let stream = tokio::time::timeout(Duration::from_secs(3), TcpStream::connect(addr))
            .await
            .map_err(|_| RpcError::Connection(format!("dial {addr}: i/o timeout")))?
            .map_err(|e| RpcError::Connection(format!("dial {addr}: {e}")))?;
        let _ = stream.set_nodelay(true);
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
            while let Some(b) = out_rx.recv().await {
                if sink.send(b).await.is_err() {
                    break;
                }
            }
            alive_w.store(false, Ordering::Relaxed);
        });
        tokio::spawn(async move {
            while let Some(Ok(buf)) = source.next().await {
                let Ok(f) = postcard::from_bytes::<Frame<Reply>>(&buf) else {
                    break;
                };
                let w = waiters.lock().ok().and_then(|mut w| w.remove(&f.id));
                if let Some(w) = w {
                    let _ = w.send(f.body);
                }
            }
            alive.store(false, Ordering::Relaxed);
            // Dropping the senders fails every request still waiting on this connection.
            if let Ok(mut w) = waiters.lock() {
                w.clear();
            }
        });
        if let Ok(mut m) = self.conns.lock() {
            m.insert(addr, conn.clone());
        }
        Ok(conn)
    }

    /// Send `req` to `addr` and wait up to `timeout` for the answer.
    pub async fn call(
        &self,
        addr: SocketAddr,
        req: Request,
        timeout: Duration,
    ) -> Result<Reply, RpcError> {
        let conn = self.conn(addr).await?;
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let frame = postcard::to_stdvec(&Frame {
            version: VERSION,
            id,
            body: req,
        })
        .map_err(|e| RpcError::Connection(format!("encoding request: {e}")))?;
        let (tx, rx) = oneshot::channel();
        if let Ok(mut w) = conn.waiters.lock() {
            w.insert(id, tx);
        }
        if conn.out.send(Bytes::from(frame)).await.is_err() {
            conn.alive.store(false, Ordering::Relaxed);
            return Err(RpcError::Connection(format!("{addr}: connection closed")));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(Reply::Error(e))) => Err(RpcError::Remote(e)),
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(RpcError::Connection(format!("{addr}: connection lost"))),
            Err(_) => {
                if let Ok(mut w) = conn.waiters.lock() {
                    w.remove(&id);
                }
                Err(RpcError::Timeout(timeout))
            }
        }
    }
}
