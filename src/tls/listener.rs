//! The HTTP API's listeners, plain and TLS, as axum listeners: each caps connections per
//! client, and the TLS one runs every handshake in its own task under
//! `limits.https_handshake_timeout`, so a client that connects and stalls holds one slot
//! and one task, never the accept loop.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use rustls::ServerConfig;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tracing::debug;

use super::limit::{ConnLimiter, Limited};

/// A TLS connection to the HTTPS API.
pub type HttpsStream = tokio_rustls::server::TlsStream<TcpStream>;

/// Accepted (and, for TLS, handshaken) connections, handed to axum.
#[derive(Debug)]
pub struct ApiListener<S> {
    rx: mpsc::Receiver<(Limited<S>, SocketAddr)>,
    local: SocketAddr,
}

/// Connections accepted but not yet taken by the server.
const BACKLOG: usize = 64;

/// Accept on `l` until the listener (the receiver of `out`) is dropped, passing each
/// connection within its client's limit to `on_conn`; what that returns is handed to the
/// server, waiting while the backlog is full (so a burst of connections waits in the
/// kernel's queue, as with a plain listener, rather than being dropped).
async fn accept_loop<T, F>(l: TcpListener, limiter: ConnLimiter, out: mpsc::Sender<T>, on_conn: F)
where
    T: Send + 'static,
    F: Fn(&mpsc::Sender<T>, Limited<TcpStream>, SocketAddr) -> Option<T>,
{
    loop {
        let accepted = tokio::select! {
            r = l.accept() => r,
            _ = out.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(x) => x,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin.
                debug!("http: accept: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let Some(guard) = limiter.try_acquire(peer.ip()) else {
            debug!("http: closing a connection from {peer}: over limits.http_max_conns_per_client");
            continue;
        };
        let _ = stream.set_nodelay(true);
        if let Some(ready) = on_conn(&out, Limited::new(stream, guard), peer)
            && out.send(ready).await.is_err()
        {
            return;
        }
    }
}

impl ApiListener<TcpStream> {
    /// Plain HTTP on `l`.
    pub fn plain(l: TcpListener, limiter: ConnLimiter) -> io::Result<Self> {
        let local = l.local_addr()?;
        let (tx, rx) = mpsc::channel(BACKLOG);
        tokio::spawn(accept_loop(l, limiter, tx, |_, s, peer| Some((s, peer))));
        Ok(ApiListener { rx, local })
    }
}

impl ApiListener<HttpsStream> {
    /// HTTPS on `l` with `config`; a handshake has `timeout` to finish.
    pub fn tls(
        l: TcpListener,
        config: Arc<ServerConfig>,
        limiter: ConnLimiter,
        timeout: Duration,
    ) -> io::Result<Self> {
        let local = l.local_addr()?;
        let (tx, rx) = mpsc::channel::<(Limited<HttpsStream>, SocketAddr)>(BACKLOG);
        let acceptor = tokio_rustls::TlsAcceptor::from(config);
        tokio::spawn(accept_loop(l, limiter, tx, move |out, s, peer| {
            let acceptor = acceptor.clone();
            let out = out.clone();
            tokio::spawn(async move {
                let (stream, guard) = s.into_parts();
                match tokio::time::timeout(timeout, acceptor.accept(stream)).await {
                    Ok(Ok(tls)) => {
                        let _ = out.send((Limited::new(tls, guard), peer)).await;
                    }
                    Ok(Err(e)) => debug!("http: TLS handshake error from {peer}: {e}"),
                    Err(_) => debug!("http: TLS handshake from {peer} timed out"),
                }
            });
            None
        }));
        Ok(ApiListener { rx, local })
    }
}

impl<S> axum::serve::Listener for ApiListener<S>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    type Io = Limited<S>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match self.rx.recv().await {
            Some(c) => c,
            // The accept task is gone (it only ends when this listener is dropped, so
            // this is not reached while serving); wait for shutdown.
            None => std::future::pending().await,
        }
    }

    fn local_addr(&self) -> io::Result<Self::Addr> {
        Ok(self.local)
    }
}
