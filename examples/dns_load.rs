//! Closed-loop DNS load: CONCURRENCY threads, each with its own UDP socket, send one query,
//! wait for its answer, and send the next, for SECONDS. Reports answers per second and the
//! latency percentiles as one JSON line. Unlike dnsperf at a handful of outstanding queries,
//! nothing here waits on another thread, so the figure is the server's, not the client's.
//! Run by `scripts/bench.sh dns`.
//!
//! Usage: cargo run --release --example dns_load -- ADDR NAMES_FILE CONCURRENCY SECONDS

use std::net::{SocketAddr, UdpSocket};
use std::str::FromStr;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, OpCode, Query};
use hickory_proto::rr::{Name, RecordType};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.len() != 4 {
        eprintln!("usage: dns_load ADDR NAMES_FILE CONCURRENCY SECONDS");
        std::process::exit(1);
    }
    let addr = SocketAddr::from_str(&args[0]).unwrap_or_else(|e| fail(&format!("ADDR: {e}")));
    let names =
        std::fs::read_to_string(&args[1]).unwrap_or_else(|e| fail(&format!("NAMES_FILE: {e}")));
    let concurrency: usize = args[2]
        .parse()
        .unwrap_or_else(|e| fail(&format!("CONCURRENCY: {e}")));
    let seconds: u64 = args[3]
        .parse()
        .unwrap_or_else(|e| fail(&format!("SECONDS: {e}")));

    // One encoded query per name; each send only rewrites the ID.
    let packets: Vec<Vec<u8>> = names
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|n| {
            let name = Name::from_ascii(n.trim()).unwrap_or_else(|e| fail(&format!("{n}: {e}")));
            let mut m = Message::new(0, MessageType::Query, OpCode::Query);
            m.metadata.recursion_desired = true;
            m.add_query(Query::query(name, RecordType::A));
            m.to_vec().unwrap_or_else(|e| fail(&e.to_string()))
        })
        .collect();
    if packets.is_empty() {
        fail("NAMES_FILE has no names");
    }

    let deadline = Instant::now() + Duration::from_secs(seconds);
    let workers: Vec<_> = (0..concurrency.max(1))
        .map(|w| {
            let packets = packets.clone();
            std::thread::spawn(move || run(addr, &packets, w, deadline))
        })
        .collect();
    let mut latencies_ns = Vec::new();
    let mut lost = 0u64;
    for w in workers {
        let (l, n) = w.join().unwrap_or_default();
        latencies_ns.extend(l);
        lost += n;
    }
    latencies_ns.sort_unstable();
    let pct = |p: f64| {
        latencies_ns
            .get(((latencies_ns.len().saturating_sub(1)) as f64 * p) as usize)
            .map_or(0.0, |ns| *ns as f64 / 1000.0)
    };
    println!(
        "{{\"qps\": {:.0}, \"p50_us\": {:.1}, \"p99_us\": {:.1}, \"lost\": {lost}}}",
        latencies_ns.len() as f64 / seconds as f64,
        pct(0.5),
        pct(0.99)
    );
}

/// One closed loop: (latency of each answer in ns, queries that got no answer).
fn run(addr: SocketAddr, packets: &[Vec<u8>], worker: usize, deadline: Instant) -> (Vec<u64>, u64) {
    let sock = UdpSocket::bind(("127.0.0.1", 0)).unwrap_or_else(|e| fail(&e.to_string()));
    sock.connect(addr).unwrap_or_else(|e| fail(&e.to_string()));
    let _ = sock.set_read_timeout(Some(Duration::from_millis(500)));
    let mut buf = [0u8; 4096];
    let mut out = Vec::with_capacity(1 << 20);
    let mut lost = 0;
    let mut i = worker.wrapping_mul(7919);
    let mut id: u16 = 0;
    while Instant::now() < deadline {
        let mut pkt = packets[i % packets.len()].clone();
        i = i.wrapping_add(104_729);
        id = id.wrapping_add(1);
        pkt[..2].copy_from_slice(&id.to_be_bytes());
        let t0 = Instant::now();
        if sock.send(&pkt).is_err() {
            lost += 1;
            continue;
        }
        // Skip late answers to earlier, timed-out queries.
        loop {
            match sock.recv(&mut buf) {
                Ok(n) if n >= 2 && buf[..2] == id.to_be_bytes() => {
                    out.push(t0.elapsed().as_nanos() as u64);
                    break;
                }
                Ok(_) => continue,
                Err(_) => {
                    lost += 1;
                    break;
                }
            }
        }
    }
    (out, lost)
}

fn fail(msg: &str) -> ! {
    eprintln!("dns_load: {msg}");
    std::process::exit(1)
}
