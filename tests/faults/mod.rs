//! The fault harness: a cluster in network namespaces, clients recording histories, a
//! nemesis injecting partitions, loss, slow links, kills and pauses, and checkers that
//! judge the histories. `run` ties them together and writes everything it saw to a
//! directory: the histories (`history.jsonl`), the nemesis timeline (`timeline.jsonl`),
//! the verdict (`verdict.json`), a summary (`summary.md`) and each agent's log.

#![allow(dead_code)]

pub mod checker;
pub mod cluster;
pub mod history;
pub mod http;
pub mod nemesis;
pub mod workload;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use serde::Serialize;

use checker::Report;
use cluster::{Cluster, Isolation};
use history::{Kind, Op};
use nemesis::{Applied, Fault, Nemesis, Skipped};

/// What to run.
pub struct Plan {
    pub servers: usize,
    pub clients: usize,
    /// Faults in order; `None`: a random schedule until `duration` passes.
    pub schedule: Option<Vec<Fault>>,
    pub duration: Duration,
    /// How long each fault is held.
    pub hold: Duration,
    /// Quiet time after each heal.
    pub settle: Duration,
    pub out: PathBuf,
    pub want: Isolation,
}

/// Longest stretch without an acknowledged `?consistent` read or write, during a fault and
/// its settle time.
#[derive(Debug, Serialize)]
pub struct Unavailability {
    pub fault: Fault,
    pub gap_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Outcome {
    pub isolation: String,
    pub servers: usize,
    pub clients: usize,
    pub seconds: u64,
    pub report: Report,
    pub timeline: Vec<Applied>,
    pub skipped: Vec<Skipped>,
    pub unavailable: Vec<Unavailability>,
    pub not_injectable: Vec<(String, String)>,
}

/// Run `plan`: start the cluster, the workers and the nemesis, heal, read the final state,
/// check, and write the results to `plan.out`.
pub fn run(bin: &Path, plan: &Plan) -> Outcome {
    std::fs::create_dir_all(&plan.out).expect("output dir");
    let mut cluster = Cluster::start(bin, plan.servers, plan.clients, plan.want);
    if let Err(e) = cluster.wait_healthy(Duration::from_secs(90)) {
        cluster.copy_logs(&plan.out);
        panic!("{e}");
    }
    let addrs: Vec<_> = cluster.nodes.iter().map(|n| n.http()).collect();
    let shared = workload::Shared::new(addrs.clone());
    let mut workers = Vec::new();
    let mut process = 0;
    let mut spawn = |f: fn(Arc<workload::Shared>, usize), n: usize| {
        for _ in 0..n {
            let s = shared.clone();
            let p = process;
            process += 1;
            workers.push(std::thread::spawn(move || f(s, p)));
        }
    };
    spawn(workload::register, 3);
    spawn(workload::counter, 2);
    spawn(workload::lock, 3);
    spawn(workload::set, 1);
    let started = Instant::now();
    let clock = {
        let s = shared.clone();
        move || s.recorder.now()
    };
    let mut nemesis = Nemesis::new(&mut cluster);
    std::thread::sleep(plan.settle);
    let mut i = 0;
    loop {
        let fault = match &plan.schedule {
            Some(list) => match list.get(i) {
                Some(f) => *f,
                None => break,
            },
            None => {
                if started.elapsed() >= plan.duration {
                    break;
                }
                random_fault(plan.servers)
            }
        };
        i += 1;
        nemesis.run(fault, plan.hold, &clock);
        std::thread::sleep(plan.settle);
    }
    let timeline = std::mem::take(&mut nemesis.timeline);
    let skipped = std::mem::take(&mut nemesis.skipped);
    drop(nemesis);
    shared.stop.store(true, Ordering::Relaxed);
    for w in workers {
        let _ = w.join();
    }
    let seconds = started.elapsed().as_secs();
    // The final state, read once everything is healed.
    let _ = cluster.heal_network();
    let _ = cluster.wait_healthy(Duration::from_secs(60));
    let events = shared.recorder.events();
    let ops = history::pair(&events);
    let mut report = Report::default();
    checker::count(&ops, &mut report);
    checker::check_registers(&ops, &mut report);
    checker::check_relaxed_reads(&ops, &mut report);
    checker::check_locks(&ops, &mut report);
    let mut counters: Vec<&str> = ops
        .iter()
        .filter(|o| o.key.starts_with("counter/"))
        .map(|o| o.key.as_str())
        .collect();
    counters.sort();
    counters.dedup();
    for key in counters {
        match workload::final_counter(&addrs, key) {
            Some(v) => checker::check_counter(&ops, key, v, &mut report),
            None => report
                .anomalies
                .push(format!("counter {key}: the final read never succeeded")),
        }
    }
    match workload::read_until(
        &addrs,
        "/v1/kv/set/?keys&consistent",
        Duration::from_secs(60),
    ) {
        Some(r) => {
            let keys: Vec<String> = r
                .json()
                .and_then(|v| serde_json::from_value(v).ok())
                .unwrap_or_default();
            checker::check_set(&ops, &keys, &mut report);
        }
        None => report
            .anomalies
            .push("set: the final read never succeeded".into()),
    }
    let unavailable = unavailability(&ops, &timeline, plan.settle);
    let outcome = Outcome {
        isolation: format!("{:?}", cluster.isolation).to_lowercase(),
        servers: plan.servers,
        clients: plan.clients,
        seconds,
        report,
        timeline,
        skipped,
        unavailable,
        not_injectable: nemesis::NOT_INJECTABLE
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
    };
    let _ = history::write_jsonl(&plan.out.join("history.jsonl"), &events);
    let timeline_lines: String = outcome
        .timeline
        .iter()
        .filter_map(|a| serde_json::to_string(a).ok())
        .map(|l| l + "\n")
        .collect();
    let _ = std::fs::write(plan.out.join("timeline.jsonl"), timeline_lines);
    let _ = std::fs::write(
        plan.out.join("verdict.json"),
        serde_json::to_string_pretty(&outcome).unwrap_or_default(),
    );
    let _ = std::fs::write(plan.out.join("summary.md"), summary(&outcome));
    cluster.copy_logs(&plan.out);
    outcome
}

fn random_fault(servers: usize) -> Fault {
    use rand::RngExt;
    let mut all = vec![
        Fault::PartitionMajority,
        Fault::IsolateLeader,
        Fault::Loss,
        Fault::SlowLink,
        Fault::KillLeader,
        Fault::KillServer,
        Fault::PauseLeader,
    ];
    if servers >= 5 {
        all.push(Fault::Bridge);
    }
    all[rand::rng().random_range(0..all.len())]
}

/// Per fault, the longest gap between acknowledged `?consistent` reads and writes from its
/// start to the end of its settle time.
fn unavailability(ops: &[Op], timeline: &[Applied], settle: Duration) -> Vec<Unavailability> {
    let mut acks: Vec<u64> = ops
        .iter()
        .filter(|o| o.kind == Kind::Ok && matches!(o.f.as_str(), "read" | "write" | "cas" | "add"))
        .map(|o| o.ret_ns)
        .collect();
    acks.sort_unstable();
    timeline
        .iter()
        .map(|a| {
            let end = a.end_ns + settle.as_nanos() as u64;
            let mut last = a.start_ns;
            let mut gap = 0;
            for t in acks
                .iter()
                .copied()
                .filter(|t| *t >= a.start_ns && *t <= end)
            {
                gap = gap.max(t - last);
                last = t;
            }
            gap = gap.max(end - last);
            Unavailability {
                fault: a.fault,
                gap_ms: gap / 1_000_000,
            }
        })
        .collect()
}

/// The markdown summary: operations per kind, anomalies, unavailability per fault kind,
/// and what was not tested.
pub fn summary(o: &Outcome) -> String {
    let mut s = String::new();
    s += &format!(
        "{} servers + {} client agent(s), {} isolation, {} s of load; anomalies: {}; register keys checked: {} ({} undecided)\n\n",
        o.servers,
        o.clients,
        o.isolation,
        o.seconds,
        o.report.anomalies.len(),
        o.report.keys_checked,
        o.report.keys_unknown.len()
    );
    s += "| operation | ok | fail | info |\n|---|---:|---:|---:|\n";
    for (f, by) in &o.report.ops_by_kind {
        let g = |k: &str| by.get(k).copied().unwrap_or(0);
        s += &format!("| {f} | {} | {} | {} |\n", g("ok"), g("fail"), g("info"));
    }
    let mut per: BTreeMap<Fault, Vec<u64>> = BTreeMap::new();
    for u in &o.unavailable {
        per.entry(u.fault).or_default().push(u.gap_ms);
    }
    s += "\n| fault | times | longest gap without an acknowledged op, median (ms) | worst (ms) |\n|---|---:|---:|---:|\n";
    for (f, mut gaps) in per {
        gaps.sort_unstable();
        s += &format!(
            "| {} | {} | {} | {} |\n",
            f.name(),
            gaps.len(),
            gaps[gaps.len() / 2],
            gaps.last().copied().unwrap_or(0)
        );
    }
    for sk in &o.skipped {
        s += &format!("\nNot tested: {} ({})", sk.fault.name(), sk.why);
    }
    for (f, why) in &o.not_injectable {
        s += &format!("\nNot tested: {f} ({why})");
    }
    s += "\n\nDefault and `?stale` reads are checked only for what Consul promises of them: each returns a value some write put there.\n";
    for a in &o.report.anomalies {
        s += &format!("\nANOMALY: {a}");
    }
    s
}
