//! `disco lock`, `disco watch` and `disco event` against a real cluster: three servers and
//! two client agents, each its own process on loopback, and the commands as an operator
//! runs them. Every child of `disco lock` appends `start <who>` and `end <who>` to one
//! shared file (`O_APPEND`, so lines never interleave), and the file's order is the
//! evidence: a lock's children never overlap, a semaphore's never exceed its limit.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use support::{Agent, bin, cluster_of, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

/// A CLI process killed (with its process group) when dropped.
struct Proc(Child);

impl Drop for Proc {
    fn drop(&mut self) {
        // SAFETY: signalling the process group this test created for the command.
        unsafe {
            libc::kill(-(self.0.id() as i32), libc::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Proc {
    fn exited(&mut self, within: Duration) -> Option<i32> {
        let until = Instant::now() + within;
        while Instant::now() < until {
            if let Ok(Some(s)) = self.0.try_wait() {
                return Some(s.code().unwrap_or(-1));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

fn disco(agent: &Agent, args: &[&str], log: &Path) -> Proc {
    let out = std::fs::File::create(log).expect("log");
    let mut cmd = Command::new(bin());
    cmd.args(args)
        .env("DISCO_HTTP_ADDR", format!("127.0.0.1:{}", agent.http))
        .env("SHELL", "/bin/sh")
        .stdin(Stdio::null())
        .stdout(Stdio::from(out.try_clone().expect("log")))
        .stderr(Stdio::from(out));
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    Proc(cmd.spawn().expect("spawn disco"))
}

/// A child script that records its start, works until told to stop (or for `secs`), and
/// records its end, also when terminated.
fn child(file: &Path, who: &str, secs: f64) -> String {
    let f = file.display();
    format!(
        "trap 'echo end {who} >> {f}; exit 0' TERM; echo start {who} >> {f}; \
         n=0; while [ $n -lt {} ]; do sleep 0.1; n=$((n+1)); done; echo end {who} >> {f}",
        (secs * 10.0) as u64
    )
}

fn lines(file: &Path) -> Vec<String> {
    std::fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .map(str::to_string)
        .collect()
}

/// The most children running at once, checking every `end` closes a `start` of its own.
fn max_running(events: &[String]) -> usize {
    let mut running: Vec<&str> = Vec::new();
    let mut most = 0;
    for e in events {
        let (what, who) = e.split_once(' ').expect("event line");
        match what {
            "start" => {
                assert!(!running.contains(&who), "{who} started twice: {events:?}");
                running.push(who);
                most = most.max(running.len());
            }
            "end" => {
                let at = running.iter().position(|r| *r == who);
                assert!(at.is_some(), "{who} ended without starting: {events:?}");
                running.retain(|r| *r != who);
            }
            _ => panic!("bad line {e}"),
        }
    }
    most
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("disco-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn lock_children_never_overlap_and_the_lock_passes_on_stop_and_on_death() {
    let servers = cluster_of("lk", 3, &[]);
    let join = servers[0].serf_port();
    let mut c1 = Agent::client("lk-c1", join, &[]);
    let mut c2 = Agent::client("lk-c2", join, &[]);
    let dir = scratch("lk-files");
    let file = dir.join("events");

    // Four contenders through four agents, two rounds each: one child at a time.
    let agents: [&Agent; 4] = [&servers[0], &servers[1], &c1, &c2];
    let mut procs = Vec::new();
    for round in 0..2 {
        for (i, a) in agents.iter().enumerate() {
            let who = format!("r{round}c{i}");
            let script = child(&file, &who, 0.3);
            procs.push(disco(
                a,
                &["lock", "svc/leader", &script],
                &dir.join(format!("{who}.log")),
            ));
        }
    }
    for (i, p) in procs.iter_mut().enumerate() {
        assert_eq!(p.exited(DEADLINE), Some(0), "contender {i} exits 0");
    }
    let events = lines(&file);
    assert_eq!(events.len(), 16, "{events:?}");
    assert_eq!(max_running(&events), 1, "{events:?}");
    let r = servers[2].get("/v1/kv/svc/leader?recurse");
    assert_eq!(r.status, 404, "the last holder cleaned up: {}", r.text());

    // SIGTERM of the holder: its child is told to stop, the lock is released at once (no
    // lock-delay), and the waiting contender runs.
    std::fs::remove_file(&file).ok();
    let mut a = disco(
        &c1,
        &["lock", "-verbose", "svc/db", &child(&file, "A", 600.0)],
        &dir.join("A.log"),
    );
    wait_for("A holds", DEADLINE, || {
        lines(&file).contains(&"start A".into()).then_some(())
    });
    let mut b = disco(
        &c2,
        &["lock", "svc/db", &child(&file, "B", 600.0)],
        &dir.join("B.log"),
    );
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(lines(&file), vec!["start A"], "B waits");
    // SAFETY: signalling the `disco lock` process this test started.
    unsafe {
        libc::kill(a.0.id() as i32, libc::SIGTERM);
    }
    assert_eq!(a.exited(DEADLINE), Some(0));
    let log = std::fs::read_to_string(dir.join("A.log")).unwrap_or_default();
    assert!(log.contains("Shutdown triggered, killing child"), "{log}");
    assert!(
        log.contains("Cleanup aborted, lock in use") || log.contains("Cleanup succeeded"),
        "{log}"
    );
    wait_for("B holds", DEADLINE, || {
        lines(&file).contains(&"start B".into()).then_some(())
    });
    assert_eq!(lines(&file), vec!["start A", "end A", "start B"]);

    // kill -9 of the holder's agent: the holder loses its lock once its agent stops
    // answering (and terminates its child); the next contender runs only after the node's
    // serfHealth goes critical, its session dies, and the 15 s lock-delay passes.
    let c = disco(
        &servers[2],
        &["lock", "svc/db", &child(&file, "C", 600.0)],
        &dir.join("C.log"),
    );
    std::thread::sleep(Duration::from_millis(500));
    let killed = Instant::now();
    c2.kill9();
    assert_eq!(
        b.exited(DEADLINE),
        Some(1),
        "B cannot release through a dead agent"
    );
    let log = std::fs::read_to_string(dir.join("B.log")).unwrap_or_default();
    assert!(log.contains("Lock lost, killing child"), "{log}");
    assert!(log.contains("Lock release failed"), "{log}");
    wait_for("C holds", Duration::from_secs(90), || {
        lines(&file).contains(&"start C".into()).then_some(())
    });
    assert!(
        killed.elapsed() >= Duration::from_secs(15),
        "the lock-delay was honoured: C started {:?} after the kill",
        killed.elapsed()
    );
    assert_eq!(
        lines(&file),
        vec!["start A", "end A", "start B", "end B", "start C"]
    );
    drop(c);
    c1.kill9();
}

#[test]
fn a_semaphore_admits_its_limit_and_watch_and_event_follow_the_cluster() {
    let servers = cluster_of("sm", 3, &[]);
    let client = Agent::client("sm-c1", servers[0].serf_port(), &[]);
    let dir = scratch("sm-files");
    let file = dir.join("events");

    // Five contenders for two slots: never more than two children, all five run.
    let mut procs = Vec::new();
    for i in 0..5 {
        let a = if i % 2 == 0 { &client } else { &servers[i % 3] };
        let who = format!("s{i}");
        let script = child(&file, &who, 0.5);
        procs.push(disco(
            a,
            &["lock", "-n", "2", "svc/pool", &script],
            &dir.join(format!("{who}.log")),
        ));
    }
    for (i, p) in procs.iter_mut().enumerate() {
        assert_eq!(p.exited(DEADLINE), Some(0), "contender {i} exits 0");
    }
    let events = lines(&file);
    assert_eq!(events.len(), 10, "{events:?}");
    let most = max_running(&events);
    assert!(most <= 2, "at most two at once: {events:?}");
    // A lock on the semaphore's prefix is refused while it has a `.lock` of another kind.
    let r = servers[0].put("/v1/kv/svc/pool/.lock?flags=1", b"{}");
    assert_eq!(r.status, 200);
    let mut refused = disco(
        &client,
        &["lock", "svc/pool", "true"],
        &dir.join("refused.log"),
    );
    assert_eq!(refused.exited(DEADLINE), Some(1));
    let log = std::fs::read_to_string(dir.join("refused.log")).unwrap_or_default();
    assert!(
        log.contains("Lock acquisition failed: Existing key does not match lock use"),
        "{log}"
    );

    // A keyprefix watch runs its handler on every change with the JSON on stdin.
    let seen = dir.join("watch");
    let handler = format!(
        "(echo \"index=$CONSUL_INDEX\"; cat; echo) >> {}",
        seen.display()
    );
    let _watch = disco(
        &client,
        &["watch", "-type=keyprefix", "-prefix", "app/", &handler],
        &dir.join("watch.log"),
    );
    wait_for("the first call", DEADLINE, || seen.exists().then_some(()));
    let r = servers[1].put("/v1/kv/app/color", b"blue");
    assert_eq!(r.status, 200);
    let text = wait_for("the handler saw the write", DEADLINE, || {
        let t = std::fs::read_to_string(&seen).unwrap_or_default();
        t.contains("app/color").then_some(t)
    });
    let entries: Vec<serde_json::Value> = text
        .lines()
        .filter(|l| l.starts_with('['))
        .map(|l| serde_json::from_str(l).expect("handler input is JSON"))
        .collect();
    let last = entries.last().expect("an invocation");
    assert_eq!(last[0]["Key"], "app/color");
    assert_eq!(last[0]["Value"], "Ymx1ZQ==");

    // An event watch on the client sees an event fired with `disco event` at a server.
    let events_seen = dir.join("events-seen");
    let handler = format!(
        "cat >> {}; echo >> {}",
        events_seen.display(),
        events_seen.display()
    );
    let _ew = disco(
        &client,
        &["watch", "-type", "event", "-name", "deploy", &handler],
        &dir.join("ew.log"),
    );
    wait_for("the first event call", DEADLINE, || {
        events_seen.exists().then_some(())
    });
    let log = dir.join("fire.log");
    let mut fire = disco(&servers[2], &["event", "-name", "deploy", "build-7"], &log);
    assert_eq!(fire.exited(DEADLINE), Some(0));
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    let id = out
        .trim()
        .strip_prefix("Event ID: ")
        .unwrap_or_else(|| panic!("{out}"))
        .to_string();
    let got = wait_for("the event reached the watch", DEADLINE, || {
        let t = std::fs::read_to_string(&events_seen).unwrap_or_default();
        t.contains(&id).then_some(t)
    });
    let batch: Vec<serde_json::Value> = got
        .lines()
        .filter(|l| l.contains(&id))
        .map(|l| serde_json::from_str(l).expect("event JSON"))
        .next()
        .expect("the batch with the event");
    assert_eq!(batch.len(), 1, "only the new event: {batch:?}");
    assert_eq!(batch[0]["Payload"], "YnVpbGQtNw==");

    // Bad input is refused before anything is sent.
    let mut bad = disco(
        &client,
        &["event", "-name", "x", "-tag", "v1"],
        &dir.join("bad.log"),
    );
    assert_eq!(bad.exited(DEADLINE), Some(1));
    let log = std::fs::read_to_string(dir.join("bad.log")).unwrap_or_default();
    assert!(
        log.contains("Cannot provide tag filter without service filter."),
        "{log}"
    );
    let mut bad = disco(&client, &["watch", "-type", "key"], &dir.join("bad2.log"));
    assert_eq!(bad.exited(DEADLINE), Some(1));
    let log = std::fs::read_to_string(dir.join("bad2.log")).unwrap_or_default();
    assert!(log.contains("Must specify a single key to watch"), "{log}");
}
