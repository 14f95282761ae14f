//! The clients: threads that run operations against random agents and record each as
//! invoke / ok / fail / info. Register keys and counters rotate to fresh keys every few
//! seconds, so each key's history stays short enough to check exhaustively.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use rand::RngExt;
use serde_json::{Value, json};

use super::history::{Kind, Recorder};
use super::http::{CallError, Resp, call};

/// Longest an operation waits for its answer before it is recorded as `info`.
pub const OP_TIMEOUT: Duration = Duration::from_secs(3);

/// Register keys rotate this often; counters every second such period. Short keys keep
/// each search small (a fault's timed-out writes land on few keys).
const KEY_PERIOD_NS: u64 = 2_000_000_000;

/// What the workers share.
pub struct Shared {
    pub recorder: Recorder,
    pub stop: AtomicBool,
    pub nodes: Vec<SocketAddr>,
    next_value: AtomicU64,
}

impl Shared {
    pub fn new(nodes: Vec<SocketAddr>) -> Arc<Shared> {
        Arc::new(Shared {
            recorder: Recorder::new(),
            stop: AtomicBool::new(false),
            nodes,
            next_value: AtomicU64::new(1),
        })
    }

    fn fresh(&self) -> u64 {
        self.next_value.fetch_add(1, Ordering::Relaxed)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// How a write's answer ends its operation: refused before sending is `fail`, a 4xx is
/// `fail` (rejected), a 200 is `ok` with the body, anything else (timeout, 5xx) is `info`.
fn write_outcome(r: &Result<Resp, CallError>) -> (Kind, Value) {
    match r {
        Err(CallError::NotSent(_)) => (Kind::Fail, json!("not sent")),
        Err(CallError::NoAnswer(e)) => (Kind::Info, json!(e.to_string())),
        Ok(r) if r.status == 200 => match r.text().trim() {
            "true" => (Kind::Ok, json!(true)),
            "false" => (Kind::Ok, json!(false)),
            other => (Kind::Info, json!(other)),
        },
        Ok(r) if (400..500).contains(&r.status) => (Kind::Fail, json!(r.status)),
        Ok(r) => (
            Kind::Info,
            json!(format!("{} {}", r.status, r.text().trim())),
        ),
    }
}

/// A KV entry's value (a decimal number) and ModifyIndex, `None` for no key; `Err` when
/// the read failed.
fn read_kv(r: &Result<Resp, CallError>) -> Result<(Option<u64>, u64, Value), String> {
    match r {
        Ok(r) if r.status == 404 => Ok((None, 0, Value::Null)),
        Ok(r) if r.status == 200 => {
            let v = r.json().ok_or("not JSON")?;
            let e = v.get(0).ok_or("empty list")?.clone();
            let index = e.get("ModifyIndex").and_then(Value::as_u64).unwrap_or(0);
            let value = match e.get("Value").and_then(Value::as_str) {
                Some(b64) => {
                    let raw = base64::engine::general_purpose::STANDARD
                        .decode(b64)
                        .map_err(|e| e.to_string())?;
                    String::from_utf8_lossy(&raw).trim().parse::<u64>().ok()
                }
                None => None,
            };
            Ok((value, index, e))
        }
        Ok(r) => Err(format!("{} {}", r.status, r.text().trim())),
        Err(e) => Err(format!("{e:?}")),
    }
}

fn pick(shared: &Shared) -> usize {
    rand::rng().random_range(0..shared.nodes.len())
}

/// Register worker: writes, `?consistent` reads, CAS from its last read, and some default
/// and `?stale` reads, over three keys at a time.
pub fn register(shared: Arc<Shared>, process: usize) {
    let rec = &shared.recorder;
    let mut last: std::collections::HashMap<String, (Option<u64>, u64)> = Default::default();
    while !shared.stopped() {
        let period = rec.now() / KEY_PERIOD_NS;
        let key = format!("reg/{period}-{}", rand::rng().random_range(0..3));
        let node = pick(&shared);
        let addr = shared.nodes[node];
        let roll: f64 = rand::rng().random();
        if roll < 0.35 {
            let v = shared.fresh();
            rec.record(process, Kind::Invoke, "write", &key, json!(v), node);
            let r = call(
                addr,
                "PUT",
                &format!("/v1/kv/{key}"),
                v.to_string().as_bytes(),
                OP_TIMEOUT,
            );
            let (kind, out) = write_outcome(&r);
            rec.record(process, kind, "write", &key, out, node);
        } else if roll < 0.75 {
            rec.record(process, Kind::Invoke, "read", &key, Value::Null, node);
            let r = call(
                addr,
                "GET",
                &format!("/v1/kv/{key}?consistent"),
                b"",
                OP_TIMEOUT,
            );
            match read_kv(&r) {
                Ok((v, index, _)) => {
                    rec.record(process, Kind::Ok, "read", &key, json!(v), node);
                    last.insert(key, (v, index));
                }
                Err(e) => rec.record(process, Kind::Fail, "read", &key, json!(e), node),
            }
        } else if roll < 0.85 {
            let (f, q) = if roll < 0.8 {
                ("stale-read", "?stale")
            } else {
                ("default-read", "")
            };
            rec.record(process, Kind::Invoke, f, &key, Value::Null, node);
            let r = call(addr, "GET", &format!("/v1/kv/{key}{q}"), b"", OP_TIMEOUT);
            match read_kv(&r) {
                Ok((v, _, _)) => rec.record(process, Kind::Ok, f, &key, json!(v), node),
                Err(e) => rec.record(process, Kind::Fail, f, &key, json!(e), node),
            }
        } else if let Some((expected, index)) = last.get(&key).copied() {
            let new = shared.fresh();
            rec.record(
                process,
                Kind::Invoke,
                "cas",
                &key,
                json!([expected, new]),
                node,
            );
            let r = call(
                addr,
                "PUT",
                &format!("/v1/kv/{key}?cas={index}"),
                new.to_string().as_bytes(),
                OP_TIMEOUT,
            );
            let (kind, out) = write_outcome(&r);
            rec.record(process, kind, "cas", &key, out, node);
        }
    }
}

/// Counter worker: read the counter `?consistent`, then CAS it to one more.
pub fn counter(shared: Arc<Shared>, process: usize) {
    let rec = &shared.recorder;
    while !shared.stopped() {
        let key = format!("counter/{}", rec.now() / (2 * KEY_PERIOD_NS));
        let node = pick(&shared);
        let addr = shared.nodes[node];
        rec.record(process, Kind::Invoke, "read", &key, Value::Null, node);
        let r = call(
            addr,
            "GET",
            &format!("/v1/kv/{key}?consistent"),
            b"",
            OP_TIMEOUT,
        );
        let (v, index) = match read_kv(&r) {
            Ok((v, index, _)) => {
                rec.record(process, Kind::Ok, "read", &key, json!(v), node);
                (v, index)
            }
            Err(e) => {
                rec.record(process, Kind::Fail, "read", &key, json!(e), node);
                std::thread::sleep(Duration::from_millis(50));
                continue;
            }
        };
        let new = v.unwrap_or(0) + 1;
        rec.record(process, Kind::Invoke, "cas", &key, json!([v, new]), node);
        let r = call(
            addr,
            "PUT",
            &format!("/v1/kv/{key}?cas={index}"),
            new.to_string().as_bytes(),
            OP_TIMEOUT,
        );
        let (kind, out) = write_outcome(&r);
        rec.record(process, kind, "cas", &key, out, node);
    }
}

/// Lock worker: a session (TTL, renewed), then acquire; a holder checks twice with a
/// `?consistent` read that the key still names its session and records the `LockIndex`,
/// then releases.
pub fn lock(shared: Arc<Shared>, process: usize) {
    let rec = &shared.recorder;
    let key = "lock/0";
    let mut session: Option<String> = None;
    while !shared.stopped() {
        let node = pick(&shared);
        let addr = shared.nodes[node];
        let Some(sid) = session.clone() else {
            let r = call(
                addr,
                "PUT",
                "/v1/session/create",
                br#"{"TTL":"10s","LockDelay":"1s","Behavior":"release"}"#,
                OP_TIMEOUT,
            );
            session = r
                .ok()
                .filter(|r| r.status == 200)
                .and_then(|r| r.json())
                .and_then(|v| v.get("ID").and_then(Value::as_str).map(str::to_string));
            if session.is_none() {
                std::thread::sleep(Duration::from_millis(100));
            }
            continue;
        };
        rec.record(process, Kind::Invoke, "acquire", key, json!(sid), node);
        let r = call(
            addr,
            "PUT",
            &format!("/v1/kv/{key}?acquire={sid}"),
            process.to_string().as_bytes(),
            OP_TIMEOUT,
        );
        let (kind, out) = write_outcome(&r);
        rec.record(process, kind, "acquire", key, out.clone(), node);
        if kind == Kind::Ok && out == json!(true) {
            for _ in 0..2 {
                std::thread::sleep(Duration::from_millis(20));
                let node = pick(&shared);
                rec.record(process, Kind::Invoke, "validate", key, json!(sid), node);
                let r = call(
                    shared.nodes[node],
                    "GET",
                    &format!("/v1/kv/{key}?consistent"),
                    b"",
                    OP_TIMEOUT,
                );
                match read_kv(&r) {
                    Ok((_, _, entry)) => {
                        let held = json!({
                            "Session": entry.get("Session").cloned().unwrap_or(Value::Null),
                            "LockIndex": entry.get("LockIndex").cloned().unwrap_or(Value::Null),
                        });
                        let lost = held["Session"] != json!(sid);
                        rec.record(process, Kind::Ok, "validate", key, held, node);
                        if lost {
                            break;
                        }
                    }
                    Err(e) => {
                        rec.record(process, Kind::Fail, "validate", key, json!(e), node);
                        break;
                    }
                }
            }
        }
        if !(kind == Kind::Ok && out == json!(false)) && kind != Kind::Fail {
            rec.record(process, Kind::Invoke, "release", key, json!(sid), node);
            let r = call(
                addr,
                "PUT",
                &format!("/v1/kv/{key}?release={sid}"),
                b"",
                OP_TIMEOUT,
            );
            let (kind, out) = write_outcome(&r);
            rec.record(process, kind, "release", key, out, node);
        }
        match call(
            addr,
            "PUT",
            &format!("/v1/session/renew/{sid}"),
            b"",
            OP_TIMEOUT,
        ) {
            Ok(r) if r.status == 404 => session = None,
            _ => {}
        }
        std::thread::sleep(Duration::from_millis(rand::rng().random_range(0..40)));
    }
}

/// Set worker: add unique keys under `set/`.
pub fn set(shared: Arc<Shared>, process: usize) {
    let rec = &shared.recorder;
    let mut n = 0u64;
    while !shared.stopped() {
        n += 1;
        let key = format!("set/{process}-{n}");
        let node = pick(&shared);
        rec.record(process, Kind::Invoke, "add", &key, Value::Null, node);
        let r = call(
            shared.nodes[node],
            "PUT",
            &format!("/v1/kv/{key}"),
            b"1",
            OP_TIMEOUT,
        );
        let (kind, out) = write_outcome(&r);
        rec.record(process, kind, "add", &key, out, node);
    }
}

/// After the run, with the network healed: a read that must succeed (retried until it
/// does or `limit` passes).
pub fn read_until(nodes: &[SocketAddr], path: &str, limit: Duration) -> Option<Resp> {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        for a in nodes {
            if let Ok(r) = call(*a, "GET", path, b"", OP_TIMEOUT)
                && (r.status == 200 || r.status == 404)
            {
                return Some(r);
            }
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    None
}

/// The final value of a counter key (0 when it was never written).
pub fn final_counter(nodes: &[SocketAddr], key: &str) -> Option<u64> {
    let r = read_until(
        nodes,
        &format!("/v1/kv/{key}?consistent"),
        Duration::from_secs(60),
    )?;
    read_kv(&Ok(r)).ok().map(|(v, _, _)| v.unwrap_or(0))
}
