//! The checkers: linearizability of each register key (Wing & Gong's search with Lowe's
//! memoisation, one key at a time since a register history is linearizable exactly when
//! each key's is), mutual exclusion of the session lock, durability of the appended set,
//! the CAS counter's final value, and what Consul promises of default and `?stale` reads
//! (a value that was written, nothing more).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Serialize;

use super::history::{Kind, Op};

/// A compare-and-set register whose values are unique per write (so comparing values is
/// comparing Consul's `ModifyIndex`, which is what `?cas=` compares). `None`: no key.
pub type Value = Option<u64>;

/// One register operation as the checker sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegOp {
    /// A linearizable (`?consistent`) read that returned this.
    Read(Value),
    /// A write of a fresh value (its outcome may be unknown).
    Write(u64),
    /// `?cas=` with the index of a read that saw `expected`; `ok`: its answer, `None` when
    /// unknown.
    Cas {
        expected: Value,
        new: u64,
        ok: Option<bool>,
    },
}

impl RegOp {
    /// Apply to `state`: the state after, or `None` when the output contradicts it.
    fn step(self, state: Value) -> Option<Value> {
        match self {
            RegOp::Read(v) => (v == state).then_some(state),
            RegOp::Write(v) => Some(Some(v)),
            RegOp::Cas { expected, new, ok } => match (ok, expected == state) {
                (Some(true), true) | (None, true) => Some(Some(new)),
                (Some(true), false) => None,
                (Some(false), false) | (None, false) => Some(state),
                (Some(false), true) => None,
            },
        }
    }
}

/// An operation with its real-time interval; `ret == u64::MAX` for unknown outcomes.
#[derive(Clone, Copy, Debug)]
pub struct Timed {
    pub call: u64,
    pub ret: u64,
    pub op: RegOp,
}

/// Is `history` (one key) linearizable from `init`? Wing & Gong's search over the call and
/// return events in time order, with Lowe's cache of (linearized set, state) pairs already
/// explored. `budget` bounds the steps; `None` means it ran out (reported as unknown).
pub fn linearizable(history: &[Timed], init: Value, budget: u64) -> Option<bool> {
    let n = history.len();
    if n == 0 {
        return Some(true);
    }
    // Events: (time, is_return, op). At equal times calls come first, which makes the two
    // operations concurrent: never a false alarm from clock resolution.
    let mut events: Vec<(u64, bool, usize)> = Vec::with_capacity(2 * n);
    for (i, t) in history.iter().enumerate() {
        events.push((t.call, false, i));
        events.push((t.ret.max(t.call), true, i));
    }
    events.sort();
    let m = events.len();
    // A doubly linked list over the events, index m is the head sentinel.
    const NIL: usize = usize::MAX;
    let mut next: Vec<usize> = (1..=m).map(|i| if i == m { NIL } else { i }).collect();
    let mut prev: Vec<usize> = (0..m).map(|i| if i == 0 { m } else { i - 1 }).collect();
    next.push(if m > 0 { 0 } else { NIL });
    prev.push(NIL);
    let mut ret_of = vec![0usize; n];
    for (pos, e) in events.iter().enumerate() {
        if e.1 {
            ret_of[e.2] = pos;
        }
    }
    let head = m;
    let words = n.div_ceil(64);
    let mut linearized = vec![0u64; words];
    let mut state = init;
    let mut stack: Vec<(usize, Value)> = Vec::new();
    let mut cache: HashSet<(Vec<u64>, Value)> = HashSet::new();
    let unlink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, nx) = (prev[e], next[e]);
        next[p] = nx;
        if nx != NIL {
            prev[nx] = p;
        }
    };
    let relink = |next: &mut Vec<usize>, prev: &mut Vec<usize>, e: usize| {
        let (p, nx) = (prev[e], next[e]);
        next[p] = e;
        if nx != NIL {
            prev[nx] = e;
        }
    };
    let mut entry = next[head];
    let mut steps = 0u64;
    while next[head] != NIL {
        steps += 1;
        if steps > budget {
            return None;
        }
        if entry == NIL {
            // Every remaining call was tried at this point: backtrack.
            let (e, s) = stack.pop()?;
            return_to(&mut entry, e, s, &mut state, &events, &mut linearized);
            let r = ret_of[events[e].2];
            relink(&mut next, &mut prev, r);
            relink(&mut next, &mut prev, e);
            entry = next[e];
            continue;
        }
        let (_, is_ret, i) = events[entry];
        if !is_ret {
            if let Some(after) = history[i].op.step(state) {
                linearized[i / 64] |= 1 << (i % 64);
                if cache.insert((linearized.clone(), after)) {
                    stack.push((entry, state));
                    state = after;
                    unlink(&mut next, &mut prev, entry);
                    unlink(&mut next, &mut prev, ret_of[i]);
                    entry = next[head];
                    continue;
                }
                linearized[i / 64] &= !(1 << (i % 64));
            }
            entry = next[entry];
        } else {
            // The earliest pending return: its operation must already be linearized, and
            // it is not, so undo the last choice.
            let Some((e, s)) = stack.pop() else {
                return Some(false);
            };
            return_to(&mut entry, e, s, &mut state, &events, &mut linearized);
            let r = ret_of[events[e].2];
            relink(&mut next, &mut prev, r);
            relink(&mut next, &mut prev, e);
            entry = next[e];
        }
    }
    Some(true)
}

fn return_to(
    entry: &mut usize,
    e: usize,
    s: Value,
    state: &mut Value,
    events: &[(u64, bool, usize)],
    linearized: &mut [u64],
) {
    *state = s;
    let i = events[e].2;
    linearized[i / 64] &= !(1 << (i % 64));
    *entry = e;
}

/// Turn recorded register operations (`read`, `write`, `cas`) into checker operations:
/// reads that failed or timed out are dropped (they change nothing), as are writes and
/// CASes that certainly failed.
pub fn register_ops(ops: &[&Op]) -> Vec<Timed> {
    let mut out = Vec::new();
    for o in ops {
        let op = match (o.f.as_str(), o.kind) {
            ("read", Kind::Ok) => RegOp::Read(o.output.as_u64()),
            ("write", Kind::Ok | Kind::Info) => match o.input.as_u64() {
                Some(v) => RegOp::Write(v),
                None => continue,
            },
            ("cas", Kind::Ok | Kind::Info) => {
                let expected = o.input.get(0).and_then(|v| v.as_u64());
                let Some(new) = o.input.get(1).and_then(|v| v.as_u64()) else {
                    continue;
                };
                let ok = if o.kind == Kind::Ok {
                    o.output.as_bool()
                } else {
                    None
                };
                RegOp::Cas { expected, new, ok }
            }
            _ => continue,
        };
        out.push(Timed {
            call: o.call_ns,
            ret: if o.kind == Kind::Ok {
                o.ret_ns
            } else {
                u64::MAX
            },
            op,
        });
    }
    out
}

/// The verdict on one run.
#[derive(Debug, Default, Serialize)]
pub struct Report {
    pub keys_checked: usize,
    /// Keys whose search ran out of budget (neither proven nor refuted).
    pub keys_unknown: Vec<String>,
    pub anomalies: Vec<String>,
    pub ops_by_kind: BTreeMap<String, BTreeMap<String, usize>>,
}

impl Report {
    pub fn ok(&self) -> bool {
        self.anomalies.is_empty()
    }
}

/// Linearizability of every `reg/` and `counter/` key.
pub fn check_registers(ops: &[Op], report: &mut Report) {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops {
        if matches!(o.f.as_str(), "read" | "write" | "cas") {
            by_key.entry(o.key.as_str()).or_default().push(o);
        }
    }
    for (key, key_ops) in by_key {
        let timed = register_ops(&key_ops);
        report.keys_checked += 1;
        match check_register(&timed) {
            Some(true) => {}
            Some(false) => report.anomalies.push(format!(
                "register {key}: {} operations are not linearizable",
                timed.len()
            )),
            None => report.keys_unknown.push(key.to_string()),
        }
    }
}

/// One key's verdict. Writes and CASes with an unknown outcome whose value nobody ever
/// read are what makes the search exponential (each may land anywhere after its call).
/// Without them, a linearization found is also one with them: each goes last, where it
/// returns nothing and nobody reads it. Only when that smaller history fails is the full
/// one searched (an unread write can still explain a failed CAS).
pub fn check_register(timed: &[Timed]) -> Option<bool> {
    let mut observed: HashSet<u64> = HashSet::new();
    for t in timed {
        match t.op {
            RegOp::Read(Some(v)) => {
                observed.insert(v);
            }
            RegOp::Cas {
                expected: Some(v), ..
            } => {
                observed.insert(v);
            }
            _ => {}
        }
    }
    let unread_unknown = |t: &Timed| {
        t.ret == u64::MAX
            && match t.op {
                RegOp::Write(v) | RegOp::Cas { new: v, .. } => !observed.contains(&v),
                RegOp::Read(_) => false,
            }
    };
    let pruned: Vec<Timed> = timed
        .iter()
        .copied()
        .filter(|t| !unread_unknown(t))
        .collect();
    if pruned.len() < timed.len() && linearizable(&pruned, None, 20_000_000) == Some(true) {
        return Some(true);
    }
    linearizable(timed, None, 50_000_000)
}

/// Default and `?stale` reads: Consul promises only that they return a value some write
/// (possibly unacknowledged) put there, no later than the read returned.
pub fn check_relaxed_reads(ops: &[Op], report: &mut Report) {
    let mut written: HashMap<(&str, u64), u64> = HashMap::new();
    for o in ops {
        let v = match o.f.as_str() {
            "write" => o.input.as_u64(),
            "cas" => o.input.get(1).and_then(|v| v.as_u64()),
            _ => None,
        };
        if let Some(v) = v {
            written.insert((o.key.as_str(), v), o.call_ns);
        }
    }
    for o in ops {
        if !matches!(o.f.as_str(), "stale-read" | "default-read") || o.kind != Kind::Ok {
            continue;
        }
        let Some(v) = o.output.as_u64() else {
            continue;
        };
        match written.get(&(o.key.as_str(), v)) {
            Some(&call) if call <= o.ret_ns => {}
            _ => report.anomalies.push(format!(
                "{} of {} returned {v}, which no write had put there",
                o.f, o.key
            )),
        }
    }
}

/// One holder's tenure of a lock: from its acquire's `ok: true` to the last validation
/// that saw it still holding (the holder's own check of `Session` and `LockIndex`).
#[derive(Debug, Clone)]
struct Tenure {
    process: usize,
    session: String,
    acquired_ns: u64,
    lock_index: u64,
    last_valid_call_ns: u64,
}

/// Mutual exclusion: tenures ordered by `LockIndex` must not overlap in real time. A later
/// holder's acquire that completed before an earlier holder's validation was even sent
/// means that validation saw a lock that had already passed on: two holders at once.
pub fn check_locks(ops: &[Op], report: &mut Report) {
    let mut by_key: BTreeMap<&str, Vec<&Op>> = BTreeMap::new();
    for o in ops {
        if matches!(o.f.as_str(), "acquire" | "validate" | "release") {
            by_key.entry(o.key.as_str()).or_default().push(o);
        }
    }
    for (key, key_ops) in by_key {
        let mut tenures: Vec<Tenure> = Vec::new();
        let mut current: HashMap<usize, Tenure> = HashMap::new();
        for o in &key_ops {
            match (o.f.as_str(), o.kind) {
                ("acquire", Kind::Ok) if o.output.as_bool() == Some(true) => {
                    if let Some(t) = current.remove(&o.process) {
                        tenures.push(t);
                    }
                    current.insert(
                        o.process,
                        Tenure {
                            process: o.process,
                            session: o.input.as_str().unwrap_or_default().to_string(),
                            acquired_ns: o.ret_ns,
                            lock_index: 0,
                            last_valid_call_ns: 0,
                        },
                    );
                }
                ("validate", Kind::Ok) => {
                    let Some(t) = current.get_mut(&o.process) else {
                        continue;
                    };
                    let session = o.output.get("Session").and_then(|s| s.as_str());
                    let index = o.output.get("LockIndex").and_then(|s| s.as_u64());
                    if session != Some(t.session.as_str()) {
                        // Lost (the session was invalidated): the tenure ended earlier.
                        if let Some(t) = current.remove(&o.process) {
                            tenures.push(t);
                        }
                        continue;
                    }
                    let Some(index) = index else { continue };
                    if t.lock_index != 0 && t.lock_index != index {
                        report.anomalies.push(format!(
                            "lock {key}: process {} saw its LockIndex change from {} to {index} while holding",
                            t.process, t.lock_index
                        ));
                    }
                    t.lock_index = index;
                    t.last_valid_call_ns = o.call_ns;
                }
                ("release", _) => {
                    if let Some(t) = current.remove(&o.process) {
                        tenures.push(t);
                    }
                }
                _ => {}
            }
        }
        tenures.extend(current.into_values());
        // Only tenures the holder confirmed count: an unvalidated acquire made no claim.
        let mut tenures: Vec<Tenure> = tenures.into_iter().filter(|t| t.lock_index > 0).collect();
        tenures.sort_by_key(|t| t.lock_index);
        let mut seen: HashMap<u64, &Tenure> = HashMap::new();
        for t in &tenures {
            if let Some(other) = seen.insert(t.lock_index, t)
                && other.session != t.session
            {
                report.anomalies.push(format!(
                    "lock {key}: sessions {} and {} both held LockIndex {}",
                    other.session, t.session, t.lock_index
                ));
            }
        }
        // For each pair a < b by LockIndex, b must not have been acquired before a's last
        // validation was sent. Checking each tenure against the latest-validated earlier
        // one is enough.
        let mut latest: Option<&Tenure> = None;
        for t in &tenures {
            if let Some(a) = latest
                && a.lock_index < t.lock_index
                && t.acquired_ns < a.last_valid_call_ns
            {
                report.anomalies.push(format!(
                        "lock {key}: process {} acquired (LockIndex {}) at {} ms while process {} (LockIndex {}) still validated its hold at {} ms",
                        t.process,
                        t.lock_index,
                        t.acquired_ns / 1_000_000,
                        a.process,
                        a.lock_index,
                        a.last_valid_call_ns / 1_000_000
                    ));
            }
            if latest.is_none_or(|a| t.last_valid_call_ns > a.last_valid_call_ns) {
                latest = Some(t);
            }
        }
    }
}

/// The appended set: every acknowledged add is in the final read, every key in it was
/// added (acknowledged or not), and no key is listed twice.
pub fn check_set(ops: &[Op], final_keys: &[String], report: &mut Report) {
    let attempted: BTreeSet<&str> = ops
        .iter()
        .filter(|o| o.f == "add")
        .map(|o| o.key.as_str())
        .collect();
    let acked: BTreeSet<&str> = ops
        .iter()
        .filter(|o| o.f == "add" && o.kind == Kind::Ok)
        .map(|o| o.key.as_str())
        .collect();
    let mut present: BTreeSet<&str> = BTreeSet::new();
    for k in final_keys {
        if !present.insert(k.as_str()) {
            report
                .anomalies
                .push(format!("set: {k} listed twice in the final read"));
        }
    }
    for k in &acked {
        if !present.contains(k) {
            report
                .anomalies
                .push(format!("set: acknowledged add {k} is lost"));
        }
    }
    for k in &present {
        if !attempted.contains(k) {
            report
                .anomalies
                .push(format!("set: {k} is present but was never added"));
        }
    }
}

/// A counter built from CAS: its final value lies between the acknowledged increments and
/// those plus the ones whose outcome is unknown.
pub fn check_counter(ops: &[Op], key: &str, final_value: u64, report: &mut Report) {
    let cas: Vec<&Op> = ops
        .iter()
        .filter(|o| o.key == key && o.f == "cas")
        .collect();
    let acked = cas
        .iter()
        .filter(|o| o.kind == Kind::Ok && o.output.as_bool() == Some(true))
        .count() as u64;
    let unknown = cas.iter().filter(|o| o.kind == Kind::Info).count() as u64;
    if final_value < acked || final_value > acked + unknown {
        report.anomalies.push(format!(
            "counter {key}: final value {final_value}, but {acked} increments were acknowledged and {unknown} unknown"
        ));
    }
}

/// Operations per function and outcome, for the summary.
pub fn count(ops: &[Op], report: &mut Report) {
    for o in ops {
        let kind = match o.kind {
            Kind::Ok => "ok",
            Kind::Fail => "fail",
            Kind::Info => "info",
            Kind::Invoke => "open",
        };
        *report
            .ops_by_kind
            .entry(o.f.clone())
            .or_default()
            .entry(kind.to_string())
            .or_default() += 1;
    }
}
