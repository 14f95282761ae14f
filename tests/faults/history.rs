//! Operation histories as Jepsen records them: every client operation is an `invoke`
//! followed by exactly one completion: `ok` (it happened, with this result), `fail` (it
//! certainly did not happen) or `info` (unknown: a timeout or a 5xx after the request was
//! sent). Written as JSON lines, one event per line, times in nanoseconds since the run
//! started.

use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

use serde::{Deserialize, Serialize};

/// How an event ends an operation (or starts one).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Kind {
    Invoke,
    Ok,
    Fail,
    Info,
}

/// One line of a history.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Event {
    /// Client (worker) that ran the operation; one operation at a time per process.
    pub process: usize,
    pub kind: Kind,
    /// `read`, `write`, `cas`, `stale-read`, `default-read`, `acquire`, `validate`,
    /// `release`, `add`, `final-read`.
    pub f: String,
    pub key: String,
    /// Input on `invoke` (the value written, `[expected, new]` for cas), output on `ok`.
    pub value: serde_json::Value,
    /// Node the request was sent to.
    pub node: usize,
    pub time_ns: u64,
}

/// A history being recorded by several threads.
pub struct Recorder {
    start: Instant,
    events: Mutex<Vec<Event>>,
}

impl Recorder {
    pub fn new() -> Recorder {
        Recorder {
            start: Instant::now(),
            events: Mutex::new(Vec::new()),
        }
    }

    /// Nanoseconds since the run started.
    pub fn now(&self) -> u64 {
        self.start.elapsed().as_nanos() as u64
    }

    pub fn started(&self) -> Instant {
        self.start
    }

    /// Append one event stamped now.
    pub fn record(
        &self,
        process: usize,
        kind: Kind,
        f: &str,
        key: &str,
        value: serde_json::Value,
        node: usize,
    ) {
        let mut events = self.events.lock().unwrap_or_else(|e| e.into_inner());
        // Stamped under the lock, so the file is in time order.
        let time_ns = self.now();
        events.push(Event {
            process,
            kind,
            f: f.to_string(),
            key: key.to_string(),
            value,
            node,
            time_ns,
        });
    }

    pub fn events(&self) -> Vec<Event> {
        self.events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// Write `events` as JSON lines.
pub fn write_jsonl(path: &std::path::Path, events: &[Event]) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    for e in events {
        serde_json::to_writer(&mut f, e)?;
        f.write_all(b"\n")?;
    }
    f.flush()
}

/// An operation: its invocation paired with its completion (`None` while open at the end
/// of the run, which counts as `info`).
#[derive(Clone, Debug)]
pub struct Op {
    pub process: usize,
    pub f: String,
    pub key: String,
    pub input: serde_json::Value,
    pub output: serde_json::Value,
    pub kind: Kind,
    pub node: usize,
    pub call_ns: u64,
    /// `u64::MAX` for `info`: the operation may take effect at any later time.
    pub ret_ns: u64,
}

/// Pair each process's invocations with their completions.
pub fn pair(events: &[Event]) -> Vec<Op> {
    let mut open: std::collections::HashMap<usize, Op> = Default::default();
    let mut ops = Vec::new();
    for e in events {
        match e.kind {
            Kind::Invoke => {
                if let Some(mut prev) = open.remove(&e.process) {
                    prev.kind = Kind::Info;
                    ops.push(prev);
                }
                open.insert(
                    e.process,
                    Op {
                        process: e.process,
                        f: e.f.clone(),
                        key: e.key.clone(),
                        input: e.value.clone(),
                        output: serde_json::Value::Null,
                        kind: Kind::Info,
                        node: e.node,
                        call_ns: e.time_ns,
                        ret_ns: u64::MAX,
                    },
                );
            }
            kind => {
                if let Some(mut op) = open.remove(&e.process) {
                    op.kind = kind;
                    op.output = e.value.clone();
                    op.ret_ns = if kind == Kind::Info {
                        u64::MAX
                    } else {
                        e.time_ns
                    };
                    ops.push(op);
                }
            }
        }
    }
    ops.extend(open.into_values());
    ops.sort_by_key(|o| o.call_ns);
    ops
}
