//! Liveness under mixed load: every kind of request at once (default, `?stale` and
//! `?consistent` reads, blocking queries, KV puts and CAS, service registrations and TTL
//! updates, DNS), first against one `-dev` agent, then against three servers and a client
//! agent while leadership is transferred twice and a follower is `kill -9`ed and restarted.
//!
//! The test fails on a hang (a request unanswered for 10 s), on an error that is not one of
//! Consul's (`No cluster leader`, `rpc error ...`), on a cluster left without a leader, and on
//! any acknowledged write missing afterwards. It asserts no timing beyond the hang deadline.

mod support;

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use support::{Agent, free_port, wait_for};

/// A request unanswered this long is a hang, not a slow machine.
const HANG: Duration = Duration::from_secs(10);
const DEADLINE: Duration = Duration::from_secs(60);

/// One target agent of the load: its HTTP and DNS ports, and whether the controller has it
/// stopped (requests to it are then skipped, and a refused connection is expected).
struct Target {
    http: u16,
    dns: u16,
    down: AtomicBool,
}

/// What the load saw: answers and errors by kind, hangs, and the writes that were
/// acknowledged (and so must survive).
#[derive(Default)]
struct Tally {
    answered: AtomicU64,
    errors: Mutex<BTreeMap<String, u64>>,
    hangs: Mutex<Vec<String>>,
    acked_keys: Mutex<Vec<(String, String)>>,
    acked_counter: Mutex<BTreeMap<String, u64>>,
    acked_services: Mutex<BTreeMap<String, bool>>,
}

impl Tally {
    fn error(&self, kind: String) {
        *self.errors.lock().unwrap().entry(kind).or_default() += 1;
    }
}

/// An HTTP answer, or why there was none.
enum Outcome {
    Answer(u16, Vec<u8>),
    /// No answer within the deadline.
    Hang,
    /// The connection failed (refused, reset) without an answer.
    Io(String),
}

/// One HTTP/1.1 request on a fresh connection, with `limit` to answer.
fn request(port: u16, method: &str, path: &str, body: &[u8], limit: Duration) -> Outcome {
    match support::http_within(port, method, path, body, limit) {
        Ok(r) if r.status == 0 => Outcome::Io("no HTTP status line".into()),
        Ok(r) => Outcome::Answer(r.status, r.body),
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ) =>
        {
            Outcome::Hang
        }
        Err(e) => Outcome::Io(e.kind().to_string()),
    }
}

/// The errors Consul itself gives while a leader is lost or a server is down; anything
/// else is a bug the load uncovered.
fn consul_error(status: u16, body: &str) -> bool {
    let b = body.trim();
    (status == 500 || status == 503)
        && (b.starts_with("No cluster leader")
            || b.starts_with("rpc error")
            || b.contains("leadership lost")
            || b.contains("Raft leader not found"))
}

/// The load of one worker: which requests it sends.
#[derive(Clone, Copy, Debug)]
enum Work {
    /// Default, `?stale` and `?consistent` reads of KV, catalog and health.
    Reads,
    /// Blocking queries on a KV prefix and a service's health.
    Blocking,
    /// KV puts of unique keys.
    Puts,
    /// A counter advanced with `?cas=`.
    Cas,
    /// Service registrations, TTL updates and deregistrations.
    Services,
    /// DNS service and node lookups over UDP.
    Dns,
}

struct Load {
    targets: Vec<Arc<Target>>,
    tally: Arc<Tally>,
    stop: Arc<AtomicBool>,
    /// Agents that take service registrations (never killed, so every acknowledged one can
    /// be checked afterwards).
    register_on: Vec<usize>,
    phase: &'static str,
}

impl Load {
    /// Pick a live target, round-robin from `n`.
    fn target(&self, n: u64) -> Option<&Arc<Target>> {
        let len = self.targets.len() as u64;
        (0..len)
            .map(|i| &self.targets[((n + i) % len) as usize])
            .find(|t| !t.down.load(Ordering::SeqCst))
    }

    /// Send one request and account for its outcome; the answer when it is a 2xx.
    fn send(
        &self,
        t: &Target,
        method: &str,
        path: &str,
        body: &[u8],
        wait: Duration,
    ) -> Option<Vec<u8>> {
        match request(t.http, method, path, body, HANG + wait) {
            Outcome::Answer(status, body) if (200..300).contains(&status) => {
                self.tally.answered.fetch_add(1, Ordering::Relaxed);
                Some(body)
            }
            // A key or service that is not there (yet): an answer, not an error.
            Outcome::Answer(404, _)
                if path.starts_with("/v1/kv/") || path.contains("/deregister/") =>
            {
                self.tally.answered.fetch_add(1, Ordering::Relaxed);
                None
            }
            Outcome::Answer(status, body) => {
                self.tally.answered.fetch_add(1, Ordering::Relaxed);
                let text = String::from_utf8_lossy(&body).into_owned();
                let kind = if consul_error(status, &text) {
                    format!(
                        "{status} {}",
                        text.trim().chars().take(40).collect::<String>()
                    )
                } else {
                    format!(
                        "UNEXPECTED {status} {method} {path}: {}",
                        text.trim().chars().take(120).collect::<String>()
                    )
                };
                self.tally.error(kind);
                None
            }
            Outcome::Hang => {
                if !t.down.load(Ordering::SeqCst) {
                    self.tally
                        .hangs
                        .lock()
                        .unwrap()
                        .push(format!("{method} :{}{path}", t.http));
                }
                None
            }
            Outcome::Io(e) => {
                let kind = if t.down.load(Ordering::SeqCst) {
                    format!("io to a stopped agent: {e}")
                } else {
                    format!("io: {e}")
                };
                self.tally.error(kind);
                None
            }
        }
    }

    fn run(&self, id: u64, work: Work) {
        let mut n = id * 7;
        let mut kv_index = 0u64;
        let mut health_index = 0u64;
        let mut counter: Option<(u64, u64)> = None;
        let dns = UdpSocket::bind("127.0.0.1:0").expect("udp");
        while !self.stop.load(Ordering::SeqCst) {
            n += 1;
            let Some(t) = self.target(n) else {
                std::thread::sleep(Duration::from_millis(10));
                continue;
            };
            match work {
                Work::Reads => {
                    let mode = ["", "?stale", "?consistent"][(n % 3) as usize];
                    let path = match n % 4 {
                        0 => format!("/v1/kv/soak/{}/w0-{}{mode}", self.phase, n % 50),
                        1 => format!("/v1/catalog/services{mode}"),
                        2 => format!("/v1/health/service/web{mode}"),
                        _ => "/v1/status/leader".to_string(),
                    };
                    self.send(t, "GET", &path, b"", Duration::ZERO);
                }
                Work::Blocking => {
                    let wait = Duration::from_millis(500);
                    let (path, idx) = if n.is_multiple_of(2) {
                        (format!("/v1/kv/soak/{}?recurse", self.phase), &mut kv_index)
                    } else {
                        (
                            "/v1/health/service/web?stale".to_string(),
                            &mut health_index,
                        )
                    };
                    let sep = if path.contains('?') { '&' } else { '?' };
                    let full = format!("{path}{sep}index={}&wait=500ms", *idx);
                    match request(t.http, "GET", &full, b"", HANG + wait) {
                        Outcome::Answer(_, _) => {
                            self.tally.answered.fetch_add(1, Ordering::Relaxed);
                            // The next call blocks on whatever index this one saw.
                            if let Some(i) = index_of(t.http, &path) {
                                *idx = i;
                            }
                        }
                        other => {
                            if let Outcome::Hang = other
                                && !t.down.load(Ordering::SeqCst)
                            {
                                self.tally
                                    .hangs
                                    .lock()
                                    .unwrap()
                                    .push(format!("GET :{}{full}", t.http));
                            }
                        }
                    }
                }
                Work::Puts => {
                    let key = format!("soak/{}/w{id}-{n}", self.phase);
                    let value = format!("v{n}");
                    if let Some(b) = self.send(
                        t,
                        "PUT",
                        &format!("/v1/kv/{key}"),
                        value.as_bytes(),
                        Duration::ZERO,
                    ) && b.trim_ascii() == b"true"
                    {
                        self.tally.acked_keys.lock().unwrap().push((key, value));
                    }
                }
                Work::Cas => {
                    let key = format!("soak/{}/counter{id}", self.phase);
                    let (idx, value) = match counter {
                        Some(c) => c,
                        None => {
                            let Some(body) = self.send(
                                t,
                                "GET",
                                &format!("/v1/kv/{key}?consistent"),
                                b"",
                                Duration::ZERO,
                            ) else {
                                // Missing (404, not yet written) or an error: start over.
                                counter = Some((0, 0));
                                continue;
                            };
                            let v: serde_json::Value =
                                serde_json::from_slice(&body).unwrap_or_default();
                            let e = &v[0];
                            let raw = e["Value"].as_str().unwrap_or("");
                            let value = decode_b64(raw).parse().unwrap_or(0);
                            (e["ModifyIndex"].as_u64().unwrap_or(0), value)
                        }
                    };
                    let next = value + 1;
                    let path = format!("/v1/kv/{key}?cas={idx}");
                    match self.send(t, "PUT", &path, next.to_string().as_bytes(), Duration::ZERO) {
                        Some(b) if b.trim_ascii() == b"true" => {
                            self.tally.acked_counter.lock().unwrap().insert(key, next);
                        }
                        _ => {}
                    }
                    // Re-read the index (and, after a failure, the value) before the next CAS.
                    counter = None;
                }
                Work::Services => {
                    let Some(&at) = self
                        .register_on
                        .get(((n / 100) % self.register_on.len().max(1) as u64) as usize)
                    else {
                        return;
                    };
                    let t = &self.targets[at];
                    if t.down.load(Ordering::SeqCst) {
                        std::thread::sleep(Duration::from_millis(10));
                        continue;
                    }
                    // Each worker its own IDs. The operation (n % 5), the ID ((n / 5) % 20)
                    // and the agent ((n / 100) % agents) vary independently, so every ID on
                    // every agent goes through deregister, register and TTL updates.
                    let sid = format!("web-{}-{id}-{}", self.phase, (n / 5) % 20);
                    let key = format!("{at}/{sid}");
                    match n % 5 {
                        0 => {
                            if self
                                .send(
                                    t,
                                    "PUT",
                                    &format!("/v1/agent/service/deregister/{sid}"),
                                    b"",
                                    Duration::ZERO,
                                )
                                .is_some()
                            {
                                self.tally.acked_services.lock().unwrap().insert(key, false);
                            }
                        }
                        1 | 2 => {
                            let def = json!({
                                "ID": sid, "Name": "web", "Port": 8000 + n % 20,
                                "Tags": ["soak"],
                                "Check": {"TTL": "30s", "Status": "passing"}
                            });
                            if self
                                .send(
                                    t,
                                    "PUT",
                                    "/v1/agent/service/register",
                                    def.to_string().as_bytes(),
                                    Duration::ZERO,
                                )
                                .is_some()
                            {
                                self.tally.acked_services.lock().unwrap().insert(key, true);
                            }
                        }
                        _ => {
                            // A TTL update of an instance that may not exist: 404 is fine.
                            let path = format!("/v1/agent/check/pass/service:{sid}?note=ok{n}");
                            match request(t.http, "PUT", &path, b"", HANG) {
                                Outcome::Answer(_, _) => {
                                    self.tally.answered.fetch_add(1, Ordering::Relaxed);
                                }
                                Outcome::Hang => self
                                    .tally
                                    .hangs
                                    .lock()
                                    .unwrap()
                                    .push(format!("PUT :{}{path}", t.http)),
                                Outcome::Io(e) => self.tally.error(format!("io: {e}")),
                            }
                        }
                    }
                }
                Work::Dns => {
                    let name = if n.is_multiple_of(2) {
                        "web.service.consul"
                    } else {
                        "consul.service.consul"
                    };
                    if dns_query(&dns, t.dns, name, n as u16) {
                        self.tally.answered.fetch_add(1, Ordering::Relaxed);
                    } else if !t.down.load(Ordering::SeqCst) {
                        self.tally
                            .hangs
                            .lock()
                            .unwrap()
                            .push(format!("DNS :{} {name}", t.dns));
                    }
                }
            }
        }
    }
}

/// `X-Consul-Index` of a quick non-blocking read of `path`.
fn index_of(port: u16, path: &str) -> Option<u64> {
    let r = support::http_within(port, "GET", path, b"", HANG).ok()?;
    r.header("X-Consul-Index")?.trim().parse().ok()
}

/// One DNS query over UDP, resent every 2 s (a datagram can be dropped under load); whether
/// any answer with this ID came back within the hang deadline.
fn dns_query(sock: &UdpSocket, port: u16, name: &str, id: u16) -> bool {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    for label in name.split('.') {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 33, 0, 1]);
    let end = Instant::now() + HANG;
    let mut buf = [0u8; 4096];
    while Instant::now() < end {
        let _ = sock.send_to(&q, ("127.0.0.1", port));
        let _ = sock.set_read_timeout(Some(Duration::from_secs(2)));
        let resend = Instant::now() + Duration::from_secs(2);
        while Instant::now() < resend {
            match sock.recv_from(&mut buf) {
                Ok((len, _)) if len >= 2 && buf[..2] == id.to_be_bytes() => return true,
                Ok(_) => continue,
                Err(_) => break,
            }
        }
    }
    false
}

fn decode_b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .unwrap_or_default()
}

/// Start the workers, let `during` drive the faults, stop the load; what it saw.
fn load(
    phase: &'static str,
    targets: Vec<Arc<Target>>,
    register_on: Vec<usize>,
    during: impl FnOnce(&[Arc<Target>]),
) -> Arc<Tally> {
    let tally = Arc::new(Tally::default());
    let stop = Arc::new(AtomicBool::new(false));
    let load = Arc::new(Load {
        targets: targets.clone(),
        tally: tally.clone(),
        stop: stop.clone(),
        register_on,
        phase,
    });
    let works = [
        Work::Reads,
        Work::Reads,
        Work::Blocking,
        Work::Blocking,
        Work::Puts,
        Work::Puts,
        Work::Cas,
        Work::Services,
        Work::Services,
        Work::Dns,
    ];
    let workers: Vec<_> = works
        .iter()
        .enumerate()
        .map(|(i, &w)| {
            let load = load.clone();
            std::thread::spawn(move || load.run(i as u64, w))
        })
        .collect();
    {
        // Stop the workers even when `during` panics, so a failed test ends.
        struct StopOnDrop(Arc<AtomicBool>);
        impl Drop for StopOnDrop {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let _stop = StopOnDrop(stop.clone());
        during(&targets);
    }
    for w in workers {
        w.join().expect("worker panicked");
    }
    eprintln!(
        "{phase}: {} answered; errors {:?}; {} keys, {} counters, {} services acknowledged",
        tally.answered.load(Ordering::Relaxed),
        tally.errors.lock().unwrap(),
        tally.acked_keys.lock().unwrap().len(),
        tally.acked_counter.lock().unwrap().len(),
        tally.acked_services.lock().unwrap().len(),
    );
    tally
}

/// The load's verdict: no hang, no error Consul would not give, every acknowledged write
/// readable (`?consistent`) through `check`.
fn verify(phase: &str, tally: &Tally, check: &Agent, service_agents: &[&Agent]) {
    let hangs = tally.hangs.lock().unwrap();
    assert!(
        hangs.is_empty(),
        "{phase}: {} requests unanswered for {HANG:?}: {:?}",
        hangs.len(),
        &hangs[..hangs.len().min(10)]
    );
    let unexpected: Vec<_> = tally
        .errors
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with("UNEXPECTED"))
        .cloned()
        .collect();
    assert!(
        unexpected.is_empty(),
        "{phase}: errors Consul would not give: {unexpected:?}"
    );
    assert!(
        tally.answered.load(Ordering::Relaxed) > 100,
        "{phase}: the load barely ran"
    );

    let listing = wait_for("the KV listing", DEADLINE, || {
        let r = support::http(
            check.http,
            "GET",
            &format!("/v1/kv/soak/{phase}?recurse&consistent"),
            b"",
        )
        .ok()?;
        (r.status == 200).then(|| r.json())
    });
    let stored: BTreeMap<String, String> = listing
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            (
                e["Key"].as_str().unwrap_or("").to_string(),
                decode_b64(e["Value"].as_str().unwrap_or("")),
            )
        })
        .collect();
    let keys = tally.acked_keys.lock().unwrap();
    assert!(!keys.is_empty(), "{phase}: no put was acknowledged");
    let lost: Vec<_> = keys
        .iter()
        .filter(|(k, v)| stored.get(k) != Some(v))
        .collect();
    assert!(
        lost.is_empty(),
        "{phase}: {} acknowledged puts lost, e.g. {:?}",
        lost.len(),
        &lost[..lost.len().min(5)]
    );
    for (key, acked) in tally.acked_counter.lock().unwrap().iter() {
        let now: u64 = stored.get(key).and_then(|v| v.parse().ok()).unwrap_or(0);
        assert!(
            now >= *acked,
            "{phase}: counter {key} is {now}, below the acknowledged {acked}"
        );
    }
    // Agent registrations reach the catalog through anti-entropy: poll for them.
    let want: BTreeMap<String, bool> = tally.acked_services.lock().unwrap().clone();
    for (key, present) in want {
        let (at, sid) = key.split_once('/').expect("key");
        let agent = service_agents[at.parse::<usize>().expect("index")];
        let r = agent.get(&format!("/v1/agent/service/{sid}"));
        assert_eq!(
            r.status == 200,
            present,
            "{phase}: agent service {sid}: {}",
            r.text()
        );
        let node = agent.args[2].as_str();
        let what = format!(
            "{sid} of {node} {} the catalog",
            if present { "in" } else { "out of" }
        );
        wait_for(&what, DEADLINE, || {
            let r = support::http(check.http, "GET", "/v1/catalog/service/web", b"").ok()?;
            let listed = r
                .json()
                .as_array()
                .into_iter()
                .flatten()
                .any(|e| e["ServiceID"] == sid && e["Node"] == node);
            (listed == present).then_some(())
        });
    }
}

fn run_for(d: Duration) {
    std::thread::sleep(d);
}

#[test]
fn one_dev_agent_answers_everything_under_mixed_load() {
    let dns = free_port();
    let agent = Agent::start("soak-dev", &["-dev", "-dns-port", &dns.to_string()]);
    let target = Arc::new(Target {
        http: agent.http,
        dns,
        down: AtomicBool::new(false),
    });
    let tally = load("dev", vec![target], vec![0], |_| {
        run_for(Duration::from_secs(12))
    });
    verify("dev", &tally, &agent, &[&agent]);
}

fn rpc_addr(a: &Agent) -> String {
    format!("127.0.0.1:{}", a.flag("-server-port").unwrap_or(""))
}

/// Index among `servers` of the one all of `live` name as leader.
fn agreed_leader(servers: &[Agent], live: &[usize]) -> usize {
    wait_for("one agreed leader", DEADLINE, || {
        let views: Vec<String> = live
            .iter()
            .map(|&i| {
                support::http(servers[i].http, "GET", "/v1/status/leader", b"")
                    .map(|r| r.text().trim().trim_matches('"').to_string())
                    .unwrap_or_default()
            })
            .collect();
        let first = views.first()?.clone();
        if first.is_empty() || views.iter().any(|v| *v != first) {
            return None;
        }
        servers.iter().position(|a| rpc_addr(a) == first)
    })
}

#[test]
fn a_cluster_answers_everything_through_transfers_and_a_kill() {
    let dns: Vec<u16> = (0..4).map(|_| free_port()).collect();
    let base = [
        "-server",
        "-bootstrap-expect",
        "3",
        "-data-dir",
        "{dir}/data",
    ];
    let dns_flags: Vec<String> = dns.iter().map(u16::to_string).collect();
    let first = Agent::launch(
        "soak-s1",
        &[&base[..], &["-dns-port", &dns_flags[0]]].concat(),
    );
    let join = format!("127.0.0.1:{}", first.serf_port());
    let mut servers = vec![first];
    for (i, dns_flag) in dns_flags.iter().enumerate().take(3).skip(1) {
        let extra = [
            "-dns-port",
            dns_flag,
            "-retry-join",
            &join,
            "-retry-interval",
            "200ms",
        ];
        let args = [&base[..], &extra[..]].concat();
        servers.push(Agent::launch(&format!("soak-s{}", i + 1), &args));
    }
    for s in servers.iter_mut() {
        s.wait_ready();
    }
    let client = Agent::client(
        "soak-cl",
        servers[0].serf_port(),
        &["-dns-port", &dns_flags[3]],
    );

    let mut targets: Vec<Arc<Target>> = servers
        .iter()
        .zip(&dns)
        .map(|(s, &d)| {
            Arc::new(Target {
                http: s.http,
                dns: d,
                down: AtomicBool::new(false),
            })
        })
        .collect();
    targets.push(Arc::new(Target {
        http: client.http,
        dns: dns[3],
        down: AtomicBool::new(false),
    }));

    let servers = Mutex::new(servers);
    // Registrations go to every agent: the killed server must still hold the ones it
    // acknowledged (persisted before the answer), and concurrent registrations on a server
    // race the Raft log's writes to the same database.
    let tally = load("cluster", targets, vec![0, 1, 2, 3], |targets| {
        let transfer = |servers: &[Agent]| {
            let l = agreed_leader(servers, &[0, 1, 2]);
            let r = support::http(
                servers[l].http,
                "POST",
                "/v1/operator/raft/transfer-leader",
                b"",
            )
            .expect("transfer-leader answered");
            assert_eq!(r.status, 200, "transfer-leader: {}", r.text());
            let now = agreed_leader(servers, &[0, 1, 2]);
            eprintln!("leadership moved from soak-s{} to soak-s{}", l + 1, now + 1);
        };
        run_for(Duration::from_secs(5));
        transfer(&servers.lock().unwrap());
        run_for(Duration::from_secs(5));
        transfer(&servers.lock().unwrap());
        run_for(Duration::from_secs(4));
        // kill -9 a follower under load, keep loading the other two, restart it.
        let victim = {
            let s = servers.lock().unwrap();
            let l = agreed_leader(&s, &[0, 1, 2]);
            (l + 1) % 3
        };
        targets[victim].down.store(true, Ordering::SeqCst);
        servers.lock().unwrap()[victim].kill9();
        run_for(Duration::from_secs(5));
        servers.lock().unwrap()[victim].relaunch();
        wait_for("the killed server back", DEADLINE, || {
            let r = support::http(targets[victim].http, "GET", "/v1/status/leader", b"").ok()?;
            (r.status == 200 && r.text().trim() != "\"\"").then_some(())
        });
        targets[victim].down.store(false, Ordering::SeqCst);
        run_for(Duration::from_secs(6));
    });
    let servers = servers.into_inner().unwrap();
    let l = agreed_leader(&servers, &[0, 1, 2]);
    verify(
        "cluster",
        &tally,
        &servers[l],
        &[&servers[0], &servers[1], &servers[2], &client],
    );
    // Every server holds every acknowledged write once it has caught up (stale read of its own state).
    let keys = tally.acked_keys.lock().unwrap().len();
    for s in &servers {
        wait_for("every server caught up", DEADLINE, || {
            let r = support::http(s.http, "GET", "/v1/kv/soak/cluster?keys&stale", b"").ok()?;
            let n = r.json().as_array().map(|a| a.len()).unwrap_or(0);
            (n >= keys).then_some(())
        });
    }
}
