//! Connections per client IP (`limits.http_max_conns_per_client`,
//! `limits.rpc_max_conns_per_client`): one client cannot take every socket of a port.
//!
//! The map's lock is a leaf: it is taken and released inside `try_acquire` and the guard's
//! `drop`, with nothing else called while it is held.

use std::collections::HashMap;
use std::io;
use std::net::IpAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use parking_lot::Mutex;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Open connections per client IP, capped.
#[derive(Debug, Clone)]
pub struct ConnLimiter {
    max: usize,
    open: Arc<Mutex<HashMap<IpAddr, usize>>>,
}

/// One counted connection; dropping it frees the slot.
#[derive(Debug)]
pub struct ConnGuard {
    ip: IpAddr,
    open: Option<Arc<Mutex<HashMap<IpAddr, usize>>>>,
}

impl ConnLimiter {
    /// At most `max` connections per IP (0: no limit).
    pub fn new(max: usize) -> ConnLimiter {
        ConnLimiter {
            max,
            open: Arc::default(),
        }
    }

    /// A slot for a connection from `ip`, or `None` when it holds `max` already.
    pub fn try_acquire(&self, ip: IpAddr) -> Option<ConnGuard> {
        if self.max == 0 {
            return Some(ConnGuard { ip, open: None });
        }
        let mut open = self.open.lock();
        let n = open.entry(ip).or_insert(0);
        if *n >= self.max {
            return None;
        }
        *n += 1;
        drop(open);
        Some(ConnGuard {
            ip,
            open: Some(self.open.clone()),
        })
    }
}

impl Drop for ConnGuard {
    fn drop(&mut self) {
        if let Some(open) = &self.open {
            let mut open = open.lock();
            if let Some(n) = open.get_mut(&self.ip) {
                *n -= 1;
                if *n == 0 {
                    open.remove(&self.ip);
                }
            }
        }
    }
}

/// A stream that holds its connection's slot for as long as it lives.
#[derive(Debug)]
pub struct Limited<S> {
    inner: S,
    _guard: ConnGuard,
}

impl<S> Limited<S> {
    /// Wrap `inner`, holding `guard`.
    pub fn new(inner: S, guard: ConnGuard) -> Limited<S> {
        Limited {
            inner,
            _guard: guard,
        }
    }

    /// The stream and its slot, apart (to wrap the stream in TLS and keep the slot).
    pub fn into_parts(self) -> (S, ConnGuard) {
        (self.inner, self._guard)
    }
}

impl<S: AsyncRead + Unpin> AsyncRead for Limited<S> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl<S: AsyncWrite + Unpin> AsyncWrite for Limited<S> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_client_gets_max_slots_and_a_freed_slot_comes_back() {
        let l = ConnLimiter::new(2);
        let ip: IpAddr = [127, 0, 0, 7].into();
        let other: IpAddr = [127, 0, 0, 8].into();
        let a = l.try_acquire(ip).expect("first");
        let _b = l.try_acquire(ip).expect("second");
        assert!(l.try_acquire(ip).is_none(), "third refused");
        assert!(
            l.try_acquire(other).is_some(),
            "another client is not affected"
        );
        drop(a);
        assert!(
            l.try_acquire(ip).is_some(),
            "a closed connection frees its slot"
        );
        assert!(ConnLimiter::new(0).try_acquire(ip).is_some());
    }
}
