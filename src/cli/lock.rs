//! `disco lock [options] PREFIX CHILD...`: run a command only while holding a lock (or,
//! with `-n N`, one of N semaphore slots) at PREFIX, as `consul lock` does: the child
//! starts after acquisition and is terminated when the hold is lost or the command is
//! asked to stop (SIGTERM, then SIGKILL after a grace period); the lock is then released
//! and cleaned up.
//!
//! The child runs in its own process group and signals go to the group, so a shell's
//! children stop with it (Consul signals the child's PID only, which can leave a shell's
//! grandchildren running on after the lock has passed to someone else).

use std::process::Stdio;
use std::time::Duration;

use clap::Args;
use tokio::process::Child;
use tokio::signal::unix::{SignalKind, signal};
use tokio::sync::watch;

use super::exec::{CmdResult, client_command, user_command};
use crate::api::duration::parse_go;
use crate::client::Client;
use crate::client::lock::{Held, Lock, LockError, LockOptions, Semaphore};

/// Time the child has to exit after SIGTERM before it is killed.
const KILL_GRACE: Duration = Duration::from_secs(5);
/// Pause between monitor retries.
const MONITOR_RETRY_TIME: Duration = Duration::from_secs(1);

/// Flags of `disco lock`.
#[derive(Args, Debug)]
pub struct LockFlags {
    /// Number of holders allowed at once; above 1 the prefix is a semaphore.
    #[arg(long = "n", default_value_t = 1)]
    n: i64,
    /// Name of the session created for the lock.
    #[arg(long)]
    name: Option<String>,
    /// Give up acquiring after this long (0: wait forever).
    #[arg(long)]
    timeout: Option<String>,
    /// Deprecated alias of -timeout.
    #[arg(long = "try")]
    try_: Option<String>,
    /// Failed lock monitor reads tolerated (500s and network errors), 1 s apart.
    #[arg(long = "monitor-retry", default_value_t = 3)]
    monitor_retry: i64,
    /// Give the child this command's standard input.
    #[arg(long = "pass-stdin", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pass_stdin: Option<bool>,
    /// Run the child through $SHELL -c (default true); false runs it directly.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    shell: Option<bool>,
    /// Report every step.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    verbose: Option<bool>,
    /// Exit 2 when the child exited with an error.
    #[arg(long = "child-exit-code", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    child_exit_code: Option<bool>,
}

/// `disco lock [options] PREFIX CHILD...`.
pub fn lock(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run)
}

/// A lock or a semaphore, behind the one interface the command needs.
enum Holder {
    Lock(Lock),
    Semaphore(Semaphore),
}

impl Holder {
    async fn acquire(
        &mut self,
        stop: &mut watch::Receiver<bool>,
    ) -> Result<Option<Held>, LockError> {
        match self {
            Holder::Lock(l) => l.lock(stop).await,
            Holder::Semaphore(s) => s.acquire(stop).await,
        }
    }

    async fn release(&mut self) -> Result<(), LockError> {
        match self {
            Holder::Lock(l) => l.unlock().await,
            Holder::Semaphore(s) => s.release().await,
        }
    }

    async fn cleanup(&self) -> Result<(), LockError> {
        match self {
            Holder::Lock(l) => l.destroy().await,
            Holder::Semaphore(s) => s.destroy().await,
        }
    }
}

fn timeout_flag(v: Option<&str>) -> Result<Duration, String> {
    let Some(v) = v else {
        return Ok(Duration::ZERO);
    };
    if let Some(rest) = v.strip_prefix('-')
        && parse_go(rest).is_some()
    {
        return Err("Timeout must be positive".into());
    }
    parse_go(v).ok_or_else(|| {
        format!("invalid value \"{v}\" for flag -timeout: time: invalid duration \"{v}\"")
    })
}

async fn run(cl: Client, f: LockFlags, args: Vec<String>) -> CmdResult {
    if f.n <= 0 {
        return Err("Lock holder limit must be positive".into());
    }
    if args.len() < 2 {
        return Err("Key prefix and child command must be specified".into());
    }
    let timeout = timeout_flag(f.timeout.as_deref().or(f.try_.as_deref()))?;
    if f.monitor_retry < 0 {
        return Err("Number for 'monitor-retry' must be >= 0".into());
    }
    let verbose = f.verbose.unwrap_or(false);
    let say = |m: &str| {
        if verbose {
            println!("{m}");
        }
    };
    let prefix = args[0].trim_start_matches('/').to_string();
    let child_args = args[1..].to_vec();
    let script = child_args.join(" ");

    cl.send(reqwest::Method::GET, "/v1/agent/self", None)
        .await
        .map_err(|e| format!("Error querying Consul agent: {e}"))?;

    let name = f
        .name
        .clone()
        .unwrap_or_else(|| format!("disco lock for '{script}' at '{prefix}'"));
    let key = if f.n == 1 {
        format!("{}/.lock", prefix.trim_end_matches('/'))
    } else {
        prefix.clone()
    };
    say(&format!("Setting up lock at path: {key}"));
    let mut opts = LockOptions::new(&key, &name);
    opts.monitor_retries = f.monitor_retry as u32;
    opts.monitor_retry_time = MONITOR_RETRY_TIME;
    if !timeout.is_zero() {
        opts.try_once = true;
        opts.wait = timeout;
    }
    let mut holder = if f.n == 1 {
        Holder::Lock(Lock::new(cl.clone(), opts))
    } else {
        Holder::Semaphore(Semaphore::new(cl.clone(), opts, f.n as usize))
    };

    // SIGINT and SIGTERM stop the acquisition or the child, then release.
    let (stop_tx, mut stop) = watch::channel(false);
    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let shutdown = async move {
        tokio::select! {
            _ = sigint.recv() => {}
            _ = sigterm.recv() => {}
        }
        let _ = stop_tx.send(true);
    };
    let shutdown = tokio::spawn(shutdown);

    say("Attempting lock acquisition");
    let held = match holder.acquire(&mut stop).await {
        Ok(Some(h)) => h,
        Ok(None) => return Err("Shutdown triggered or timeout during lock acquisition".into()),
        Err(e) => return Err(format!("Lock acquisition failed: {e}")),
    };

    say("Starting handler");
    let child_failed = match start_child(&child_args, &f) {
        Ok(child) => supervise(child, held, &mut stop, verbose).await,
        Err(e) => {
            eprintln!("Error running handler: {e}");
            true
        }
    };
    shutdown.abort();

    if let Err(e) = holder.release().await {
        return Err(format!("Lock release failed: {e}"));
    }
    match holder.cleanup().await {
        Ok(()) => say("Cleanup succeeded"),
        Err(LockError::LockInUse | LockError::SemaphoreInUse) => {
            say("Cleanup aborted, lock in use")
        }
        Err(e) => return Err(format!("Lock cleanup failed: {e}")),
    }
    if f.child_exit_code.unwrap_or(false) && child_failed {
        return Ok(2);
    }
    Ok(0)
}

/// Start the child in its own process group with `CONSUL_LOCK_HELD=true`.
fn start_child(args: &[String], f: &LockFlags) -> std::io::Result<Child> {
    let mut cmd = user_command(args, f.shell.unwrap_or(true));
    cmd.env("CONSUL_LOCK_HELD", "true")
        .stdin(if f.pass_stdin.unwrap_or(false) {
            Stdio::inherit()
        } else {
            Stdio::null()
        })
        .process_group(0)
        .kill_on_drop(false);
    cmd.spawn()
}

/// Wait for the child to exit, the hold to be lost, or a stop; terminate the child in the
/// latter two cases. Returns whether the child failed (a non-zero exit or a signal).
async fn supervise(
    mut child: Child,
    mut held: Held,
    stop: &mut watch::Receiver<bool>,
    verbose: bool,
) -> bool {
    let pid = child.id().map(|p| p as i32);
    tokio::select! {
        status = child.wait() => {
            if verbose {
                println!("Child terminated, releasing lock");
            }
            return !status.is_ok_and(|s| s.success());
        }
        _ = &mut held.lost => println!("Lock lost, killing child"),
        _ = stop.wait_for(|s| *s) => println!("Shutdown triggered, killing child"),
    }
    let Some(pid) = pid else {
        return true;
    };
    if verbose {
        println!("Terminating child pid {pid}");
    }
    signal_group(pid, libc::SIGTERM);
    match tokio::time::timeout(KILL_GRACE, child.wait()).await {
        Ok(_) => {
            if verbose {
                println!("Child terminated");
            }
        }
        Err(_) => {
            if verbose {
                println!(
                    "Child did not exit after grace period of {}s",
                    KILL_GRACE.as_secs()
                );
                println!("Killing child pid {pid}");
            }
            signal_group(pid, libc::SIGKILL);
            let _ = child.wait().await;
        }
    }
    true
}

fn signal_group(pgid: i32, sig: i32) {
    // SAFETY: kill(2) with a negative pid signals the process group we created for the
    // child; it touches no memory of ours.
    unsafe {
        libc::kill(-pgid, sig);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_parse_as_go_durations() {
        assert_eq!(timeout_flag(None), Ok(Duration::ZERO));
        assert_eq!(timeout_flag(Some("1.5s")), Ok(Duration::from_millis(1500)));
        assert_eq!(
            timeout_flag(Some("-1s")),
            Err("Timeout must be positive".to_string())
        );
        assert!(timeout_flag(Some("soon")).unwrap_err().contains("-timeout"));
    }
}
