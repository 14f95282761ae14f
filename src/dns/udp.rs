//! The UDP transport. hickory-server's UDP loop receives on one task, spawns a task per query
//! and hands each response back through a channel to the receiving task, so one query costs
//! several task wake-ups, often on different threads; those wake-ups, not the lookup, set the
//! pace (dnsperf with 10 queries outstanding: 44,816 QPS, 0.48× dnsmasq on the same two
//! cores; 82,948 with this loop). Here each socket has dedicated threads that receive, answer
//! inline through the same [`RequestHandler`] and send: one wake-up per query, as dnsmasq
//! does. Only answers that must wait (a client agent asking its server, a recursor)
//! leave the thread, as a task on the agent's runtime. Wire format stays hickory's.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Waker};

use hickory_proto::op::{Header, Message, MessageType, OpCode, ResponseCode};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncoder};
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;

use super::Handler;

/// Largest datagram read; anything longer is cut and fails to parse (counted as malformed).
const MAX_DATAGRAM: usize = 4096;

/// Answers waiting on the network (a server, the leader, a recursor) at once, per socket.
const MAX_PENDING_ANSWERS: usize = 512;

/// Longest a UDP send may wait for room in the socket buffer.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(5);

/// Sends one response to the querying address, sized to what the query allowed.
#[derive(Clone)]
struct UdpResponder {
    socket: Arc<UdpSocket>,
    dst: SocketAddr,
}

#[async_trait::async_trait]
impl ResponseHandler for UdpResponder {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        // RFC 1035 4.2.1: 512 bytes unless the client advertised more with EDNS.
        let max = response.edns().map_or(512, |e| e.max_payload().max(512));
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = response.destructive_emit(&mut encoder)?;
        // A UDP send only blocks when the socket buffer is full, and then at most
        // SEND_TIMEOUT; the answer is dropped then, as a datagram server does, and the
        // client retries.
        self.socket.send_to(&bytes, self.dst)?;
        Ok(info)
    }
}

/// Answer on `socket` with `threads` dedicated threads until the agent shuts down.
/// `runtime` runs the answers that wait on the network.
pub fn serve(
    handler: Arc<Handler>,
    socket: UdpSocket,
    threads: usize,
    runtime: tokio::runtime::Handle,
) -> std::io::Result<()> {
    // A full send buffer blocks a UDP send; bounded here, an answer is dropped instead (the
    // client retries), and neither a DNS thread nor a runtime worker waits on it.
    socket.set_write_timeout(Some(SEND_TIMEOUT))?;
    let socket = Arc::new(socket);
    let local = socket.local_addr()?;
    let pending = Arc::new(tokio::sync::Semaphore::new(MAX_PENDING_ANSWERS));
    let stopping = Arc::new(AtomicBool::new(false));
    for i in 0..threads.max(1) {
        let (socket, handler, runtime, stopping, pending) = (
            socket.clone(),
            handler.clone(),
            runtime.clone(),
            stopping.clone(),
            pending.clone(),
        );
        std::thread::Builder::new()
            .name(format!("dns-udp-{i}"))
            .spawn(move || receive_loop(&handler, &socket, &runtime, &stopping, &pending))?;
    }
    // On shutdown, wake each blocked receiver with an empty datagram so the port is released.
    let mut shutdown = handler.agent.shutdown_signal();
    runtime.spawn(async move {
        let _ = shutdown.wait_for(|v| *v).await;
        stopping.store(true, Ordering::SeqCst);
        let target = SocketAddr::new(reachable(local.ip()), local.port());
        if let Ok(waker) = UdpSocket::bind(SocketAddr::new(reachable(local.ip()), 0)) {
            for _ in 0..threads.max(1) {
                let _ = waker.send_to(&[], target);
            }
        }
    });
    Ok(())
}

/// The address to reach a socket bound to `ip` at (loopback for a wildcard bind).
fn reachable(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        other => other,
    }
}

fn receive_loop(
    handler: &Arc<Handler>,
    socket: &Arc<UdpSocket>,
    runtime: &tokio::runtime::Handle,
    stopping: &AtomicBool,
    pending: &Arc<tokio::sync::Semaphore>,
) {
    // Futures polled here may create timers and sockets; they belong to the agent's runtime.
    let _runtime = runtime.enter();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    loop {
        let (n, src) = match socket.recv_from(&mut buf) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                if stopping.load(Ordering::SeqCst) {
                    return;
                }
                // ICMP errors from earlier sends surface here on some systems; keep serving,
                // without spinning should the error persist.
                tracing::debug!("dns: udp receive: {e}");
                std::thread::sleep(std::time::Duration::from_millis(10));
                continue;
            }
        };
        if stopping.load(Ordering::SeqCst) {
            return;
        }
        let packet = &buf[..n];
        // A bug in an answer must not end the thread and with it UDP service.
        let answered = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle_datagram(handler, socket, runtime, pending, packet, src)
        }));
        if answered.is_err() {
            handler.agent.metrics.incr("consul.dns.failed");
        }
    }
}

fn handle_datagram(
    handler: &Arc<Handler>,
    socket: &Arc<UdpSocket>,
    runtime: &tokio::runtime::Handle,
    pending: &Arc<tokio::sync::Semaphore>,
    packet: &[u8],
    src: SocketAddr,
) {
    if src.port() == 0 {
        return;
    }
    let request = match Request::from_bytes(packet.to_vec(), src, Protocol::Udp) {
        Ok(r) => r,
        Err(_) => {
            handler.agent.metrics.incr("consul.dns.malformed");
            error_reply(socket, packet, src, ResponseCode::FormErr);
            return;
        }
    };
    // Never answer responses: that would let anyone bounce traffic between two servers.
    if request.metadata.message_type == MessageType::Response {
        handler.agent.metrics.incr("consul.dns.malformed");
        return;
    }
    let responder = UdpResponder {
        socket: socket.clone(),
        dst: src,
    };
    let h = handler.clone();
    let mut answer: Pin<Box<dyn Future<Output = ()> + Send>> = Box::pin(async move {
        h.handle_request::<_, TokioTime>(&request, responder).await;
    });
    // Answers from the local store complete on the first poll; the rest continue as tasks.
    if answer
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
        .is_pending()
    {
        // Bounded: a flood of queries that wait on the network (a slow recursor, a lost
        // leader) gets SERVFAIL past the limit instead of tasks, sockets and buffers
        // without end.
        match pending.clone().try_acquire_owned() {
            Ok(permit) => {
                runtime.spawn(async move {
                    answer.await;
                    drop(permit);
                });
            }
            Err(_) => {
                drop(answer);
                handler.agent.metrics.incr("consul.dns.overloaded");
                error_reply(socket, packet, src, ResponseCode::ServFail);
            }
        }
    }
}

/// An empty answer with `code` (FORMERR for a query whose header parsed but whose body did
/// not, SERVFAIL when overloaded); nothing for shorter junk.
fn error_reply(socket: &UdpSocket, packet: &[u8], src: SocketAddr, code: ResponseCode) {
    let Ok(header) = Header::read(&mut BinDecoder::new(packet)) else {
        return;
    };
    if header.metadata.message_type == MessageType::Response {
        return;
    }
    let mut m = Message::new(header.metadata.id, MessageType::Response, OpCode::Query);
    m.metadata.response_code = code;
    if let Ok(bytes) = m.to_vec() {
        let _ = socket.send_to(&bytes, src);
    }
}
