//! Script checks: a program and its arguments, run without a shell.

use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::time::Duration;

use tokio::io::AsyncReadExt;

use super::Outcome;
use super::output::TailBuffer;
use crate::api::duration::format_go;
use crate::state::status;

/// A script check: `args[0]` executed directly with the rest as its arguments.
#[derive(Clone, Debug)]
pub struct ScriptProbe {
    /// Program and arguments.
    pub args: Vec<String>,
    /// Deadline for the program and everything it started.
    pub timeout: Duration,
    /// Bytes of combined stdout and stderr kept (the tail).
    pub output_max: usize,
}

/// Kills the check's process group when dropped while armed: a check that is deregistered
/// or times out mid-run must not leave its processes behind.
struct GroupKiller(Option<i32>);

impl GroupKiller {
    fn kill(&mut self) {
        if let Some(pgid) = self.0.take() {
            // SAFETY: killpg only sends a signal; pgid is the group this check created.
            unsafe {
                libc::killpg(pgid, libc::SIGKILL);
            }
        }
    }
}

impl Drop for GroupKiller {
    fn drop(&mut self) {
        self.kill();
    }
}

impl ScriptProbe {
    /// Run the program once: exit 0 passing, 1 warning, anything else, a signal, a failure
    /// to start or the timeout critical. Output is stdout and stderr interleaved as written.
    pub async fn run(&self) -> Outcome {
        let critical = |output: String| Outcome {
            status: status::CRITICAL,
            output,
        };
        let Some(program) = self.args.first() else {
            return critical("no program to run".into());
        };
        let (reader, writer) = match std::io::pipe() {
            Ok(p) => p,
            Err(e) => return critical(format!("Failed to start check: {e}")),
        };
        let writer2 = match writer.try_clone() {
            Ok(w) => w,
            Err(e) => return critical(format!("Failed to start check: {e}")),
        };
        let mut cmd = tokio::process::Command::new(program);
        cmd.args(&self.args[1..])
            .stdin(Stdio::null())
            .stdout(Stdio::from(OwnedFd::from(writer)))
            .stderr(Stdio::from(OwnedFd::from(writer2)))
            .process_group(0)
            .kill_on_drop(true);
        let spawned = cmd.spawn();
        // The command holds the write ends; drop it so the pipe ends when the check's own
        // processes close theirs.
        drop(cmd);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return critical(format!("exec: \"{program}\": {e}")),
        };
        let mut killer = GroupKiller(child.id().and_then(|p| i32::try_from(p).ok()));
        let mut rx = match tokio::net::unix::pipe::Receiver::from_owned_fd(OwnedFd::from(reader)) {
            Ok(r) => r,
            Err(e) => return critical(format!("Failed to read check output: {e}")),
        };
        let mut captured = TailBuffer::new(self.output_max);
        let finished = tokio::time::timeout(self.timeout, async {
            let mut chunk = [0u8; 4096];
            loop {
                match rx.read(&mut chunk).await {
                    Ok(0) | Err(_) => break,
                    Ok(n) => captured.write(&chunk[..n]),
                }
            }
            child.wait().await
        })
        .await;
        let output = captured.render();
        match finished {
            Err(_) => {
                killer.kill();
                let mut msg = format!("Timed out ({}) running check", format_go(self.timeout));
                if !output.is_empty() {
                    msg.push_str("\n\n");
                    msg.push_str(&output);
                }
                critical(msg)
            }
            Ok(Err(e)) => critical(format!("Failed to wait for check: {e}")),
            Ok(Ok(exit)) => {
                // The program is done; what it left running in the background is its own.
                killer.0 = None;
                let st = match exit.code() {
                    Some(0) => status::PASSING,
                    Some(1) => status::WARNING,
                    _ => status::CRITICAL,
                };
                Outcome { status: st, output }
            }
        }
    }
}
