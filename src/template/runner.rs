//! The watch–render–write–command loop: one blocking-query task per query the templates
//! read, a render pass whenever an answer changes (after the template's quiet period,
//! once it has rendered completely), and consul-template's exit codes.
//!
//! Only the loop owns the answers; watcher tasks send changed answers over a channel, so
//! nothing here is shared under a lock except each template's own render state.

use std::collections::{BTreeSet, HashMap};
use std::sync::Arc;
use std::time::Duration;

use gotmpl::Value;
use serde_json::Value as Json;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::config::RunConfig;
use super::deps::Dep;
use super::render::{Renderer, write_atomic};
use crate::client::{Client, ClientError};

/// consul-template's exit codes.
pub mod exit {
    /// Everything rendered (`-once`), or stopped by a signal it does not treat as an
    /// interrupt.
    pub const OK: i32 = 0;
    /// A general error.
    pub const ERROR: i32 = 11;
    /// Stopped by SIGINT or SIGTERM.
    pub const INTERRUPT: i32 = 12;
    /// The command line did not parse.
    pub const PARSE_FLAGS: i32 = 13;
    /// A template, a write, a query or a command failed.
    pub const RUNNER: i32 = 14;
    /// A configuration file is bad.
    pub const CONFIG: i32 = 15;
}

/// How a run behaves, beyond its configuration.
#[derive(Debug, Clone, Copy, Default)]
pub struct Mode {
    /// Render once, run the commands, exit.
    pub once: bool,
    /// Print to stdout instead of writing; run no command.
    pub dry: bool,
    /// Log each render and command to stderr.
    pub verbose: bool,
}

enum Event {
    Answer(Dep, Value),
    Failed(Dep, String),
}

struct Slot {
    renderer: Renderer,
    /// Queries the last render read.
    deps: BTreeSet<Dep>,
    complete_once: bool,
    dirty: bool,
    /// Quiescence: render at `due`, never later than `max_due`.
    due: Option<Instant>,
    max_due: Option<Instant>,
    /// `-dry`: the last text printed.
    printed: Option<String>,
}

/// Re-reads the configuration on SIGHUP (config files and template files; the command
/// line is kept): an exit code and message when it cannot.
pub type Reload = Box<dyn Fn() -> Result<RunConfig, (i32, String)>>;

fn log(mode: Mode, msg: &str) {
    if mode.verbose {
        eprintln!("disco template: {msg}");
    }
}

fn load_slots(cfg: &RunConfig) -> Result<Vec<Slot>, String> {
    cfg.templates
        .iter()
        .map(|spec| {
            Renderer::load(spec).map(|renderer| Slot {
                renderer,
                deps: BTreeSet::new(),
                complete_once: false,
                dirty: true,
                due: None,
                max_due: None,
                printed: None,
            })
        })
        .collect()
}

/// Run until `-once` is done, a signal stops it, or something fails; the exit code.
pub async fn run(cfg: RunConfig, client: Client, mode: Mode, reload: Reload) -> i32 {
    let mut cfg = cfg;
    let mut slots = match load_slots(&cfg) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("disco template: {e}");
            return exit::RUNNER;
        }
    };
    if let Some(p) = &cfg.pid_file
        && let Err(e) = std::fs::write(p, format!("{}\n", std::process::id()))
    {
        eprintln!("disco template: pid file {}: {e}", p.display());
        return exit::RUNNER;
    }
    let code = run_loop(&mut cfg, &mut slots, &client, mode, &reload).await;
    if let Some(p) = &cfg.pid_file {
        let _ = std::fs::remove_file(p);
    }
    code
}

async fn run_loop(
    cfg: &mut RunConfig,
    slots: &mut Vec<Slot>,
    client: &Client,
    mode: Mode,
    reload: &Reload,
) -> i32 {
    let (tx, mut rx) = mpsc::unbounded_channel::<Event>();
    let mut data: HashMap<Dep, Value> = HashMap::new();
    let mut watchers: HashMap<Dep, JoinHandle<()>> = HashMap::new();
    let (Ok(mut hup), Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::hangup()),
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        eprintln!("disco template: cannot install signal handlers");
        return exit::ERROR;
    };
    let code = loop {
        // A render pass over the templates that changed and are due.
        let now = Instant::now();
        // Copied once per pass, and only when some template is due to render.
        let due = |s: &Slot| s.dirty && s.due.is_none_or(|d| d <= now);
        let snapshot = if slots.iter().any(due) {
            Arc::new(data.clone())
        } else {
            Arc::default()
        };
        let mut commands: Vec<(Vec<String>, Duration, String)> = Vec::new();
        let mut failed = None;
        for slot in slots.iter_mut() {
            if !due(slot) {
                continue;
            }
            slot.dirty = false;
            slot.due = None;
            slot.max_due = None;
            let name = slot.renderer.spec.name();
            let rendered = match slot.renderer.render(snapshot.clone()) {
                Ok(r) => r,
                Err(e) => {
                    failed = Some(e);
                    break;
                }
            };
            slot.deps = rendered.deps;
            let Some(text) = rendered.output else {
                log(mode, &format!("{name}: waiting for data"));
                continue;
            };
            slot.complete_once = true;
            let spec = &slot.renderer.spec;
            if mode.dry {
                if slot.printed.as_deref() != Some(text.as_str()) {
                    println!("> {}\n{text}", spec.destination.display());
                    slot.printed = Some(text);
                }
                continue;
            }
            match write_atomic(spec, &text) {
                Ok(true) => {
                    log(
                        mode,
                        &format!("rendered {name:?} => {:?}", spec.destination.display()),
                    );
                    if !spec.command.is_empty()
                        && !commands.iter().any(|(c, _, _)| *c == spec.command)
                    {
                        commands.push((spec.command.clone(), spec.command_timeout, name));
                    }
                }
                Ok(false) => log(mode, &format!("{name}: unchanged")),
                Err(e) => {
                    failed = Some(format!("{name}: {e}"));
                    break;
                }
            }
        }
        if let Some(e) = failed {
            eprintln!("disco template: {e}");
            break exit::RUNNER;
        }
        // Watch what the templates read now, and nothing else.
        let wanted: BTreeSet<&Dep> = slots.iter().flat_map(|s| s.deps.iter()).collect();
        watchers.retain(|dep, task| {
            let keep = wanted.contains(dep);
            if !keep {
                task.abort();
            }
            keep
        });
        data.retain(|dep, _| wanted.contains(dep));
        for dep in wanted {
            if !watchers.contains_key(dep) {
                let task =
                    tokio::spawn(watch(client.clone(), dep.clone(), cfg.clone(), tx.clone()));
                watchers.insert(dep.clone(), task);
            }
        }
        // Commands, in template order, each once; every one runs before errors count.
        let mut errors = Vec::new();
        for (argv, timeout, name) in &commands {
            log(mode, &format!("{name}: running {argv:?}"));
            if let Err(e) = run_command(argv, *timeout, cfg, client).await {
                errors.push(format!("{name}: command {:?}: {e}", argv.join(" ")));
            }
        }
        if !errors.is_empty() {
            for e in errors {
                eprintln!("disco template: {e}");
            }
            break exit::RUNNER;
        }
        if mode.once && slots.iter().all(|s| s.complete_once && !s.dirty) {
            break exit::OK;
        }
        // Wait for an answer, a due template or a signal.
        let next_due = slots.iter().filter(|s| s.dirty).filter_map(|s| s.due).min();
        let sleep_until = next_due.unwrap_or_else(|| Instant::now() + Duration::from_secs(3600));
        tokio::select! {
            ev = rx.recv() => match ev {
                Some(Event::Answer(dep, value)) => {
                    data.insert(dep.clone(), value);
                    let now = Instant::now();
                    for slot in slots.iter_mut().filter(|s| s.deps.contains(&dep)) {
                        slot.dirty = true;
                        let wait = slot.renderer.spec.wait.or(cfg.wait);
                        match wait {
                            Some(w) if slot.complete_once && !mode.once => {
                                let max_due = *slot.max_due.get_or_insert(now + w.max);
                                slot.due = Some((now + w.min).min(max_due));
                            }
                            _ => slot.due = None,
                        }
                    }
                }
                Some(Event::Failed(dep, e)) => {
                    let users: Vec<String> = slots
                        .iter()
                        .filter(|s| s.deps.contains(&dep))
                        .map(|s| s.renderer.spec.name())
                        .collect();
                    eprintln!("disco template: {}: {dep}: {e}", users.join(", "));
                    break exit::RUNNER;
                }
                None => break exit::ERROR,
            },
            _ = tokio::time::sleep_until(sleep_until) => {}
            _ = hup.recv() => {
                log(mode, "SIGHUP: reloading");
                match reload() {
                    Ok(new_cfg) => match load_slots(&new_cfg) {
                        Ok(new_slots) => {
                            *cfg = new_cfg;
                            *slots = new_slots;
                        }
                        Err(e) => {
                            eprintln!("disco template: {e}");
                            break exit::RUNNER;
                        }
                    },
                    Err((code, e)) => {
                        eprintln!("disco template: {e}");
                        break code;
                    }
                }
            }
            _ = term.recv() => break exit::INTERRUPT,
            _ = int.recv() => break exit::INTERRUPT,
        }
    };
    for (_, task) in watchers {
        task.abort();
    }
    code
}

/// Follow one query with blocking queries; send each changed answer. Ends (with
/// `Failed`) on a refusal (4xx) or when the retries run out.
async fn watch(client: Client, dep: Dep, cfg: RunConfig, tx: mpsc::UnboundedSender<Event>) {
    let stale = !cfg.max_stale.is_zero();
    let mut path = dep.path(stale);
    if let Dep::Node { name, dc } = &dep
        && name.is_empty()
    {
        match client.get_json("/v1/agent/self").await {
            Ok(Some(me)) => {
                let node = me["Config"]["NodeName"].as_str().unwrap_or("").to_string();
                path = Dep::Node {
                    name: node,
                    dc: dc.clone(),
                }
                .path(stale);
            }
            Ok(None) => {}
            Err(e) => {
                let _ = tx.send(Event::Failed(dep, e.to_string()));
                return;
            }
        }
    }
    let wait = format!("{}ms", cfg.block_query_wait.as_millis().max(1));
    let mut index = 0u64;
    let mut last: Option<Json> = None;
    let mut failures = 0u32;
    loop {
        let started = Instant::now();
        match client.get_indexed(&path, index, &wait).await {
            Ok((body, next)) => {
                failures = 0;
                // An index that went backwards (a restored or new cluster): start over.
                index = if next < index { 0 } else { next };
                if last.as_ref() != Some(&body) {
                    let value = dep.shape(&body);
                    last = Some(body);
                    if tx.send(Event::Answer(dep.clone(), value)).is_err() {
                        return;
                    }
                }
            }
            Err(ClientError::Status { code, body })
                if (400..500).contains(&code) && code != 429 =>
            {
                let _ = tx.send(Event::Failed(
                    dep,
                    format!("Unexpected response code: {code} ({body})"),
                ));
                return;
            }
            Err(e) => {
                failures += 1;
                if cfg.retry_attempts > 0 && failures >= cfg.retry_attempts {
                    let _ = tx.send(Event::Failed(
                        dep,
                        format!("{e} (gave up after {failures} attempts)"),
                    ));
                    return;
                }
                let backoff = cfg
                    .retry_backoff
                    .saturating_mul(1u32 << (failures - 1).min(16))
                    .min(cfg.retry_max_backoff);
                tokio::time::sleep(backoff).await;
                continue;
            }
        }
        // At least 100 ms between polls of one query, whatever the server does.
        tokio::time::sleep_until(started + Duration::from_millis(100)).await;
    }
}

/// Run a template's command: one string through `sh -c`, a list as argv; in its own
/// process group, killed when it outlives `timeout`.
async fn run_command(
    argv: &[String],
    timeout: Duration,
    cfg: &RunConfig,
    client: &Client,
) -> Result<(), String> {
    let mut cmd = if argv.len() == 1 {
        let mut c = tokio::process::Command::new("/bin/sh");
        c.arg("-c").arg(&argv[0]);
        c
    } else {
        let mut c = tokio::process::Command::new(&argv[0]);
        c.args(&argv[1..]);
        c
    };
    cmd.env("CONSUL_HTTP_ADDR", client.addr());
    if let Some(t) = client.token().or(cfg.token.as_deref()) {
        cmd.env("CONSUL_HTTP_TOKEN", t);
    }
    cmd.process_group(0).kill_on_drop(true);
    let mut child = cmd.spawn().map_err(|e| e.to_string())?;
    match tokio::time::timeout(timeout, child.wait()).await {
        Ok(Ok(status)) if status.success() => Ok(()),
        Ok(Ok(_)) => Err("command exited with a non-zero exit status".into()),
        Ok(Err(e)) => Err(e.to_string()),
        Err(_) => {
            if let Some(pid) = child.id() {
                kill_group(pid);
            }
            let _ = child.kill().await;
            Err(format!("did not exit within time limit ({timeout:?})"))
        }
    }
}

/// The child leads its own group (`process_group(0)`), so this reaches its children too.
fn kill_group(pid: u32) {
    if let Ok(pgid) = i32::try_from(pid) {
        // SAFETY: killpg only sends a signal; the group is the one this child leads.
        unsafe {
            libc::killpg(pgid, libc::SIGKILL);
        }
    }
}
