//! `disco agent`: parse the flags, start the agent, wait for a signal, stop it the way
//! Consul does (leave on interrupt for clients, not for servers).

use tracing::{info, warn};

use crate::agent::launch::{self, LaunchOptions, RunningAgent};
use crate::config::flags::{AgentArgsError, parse_agent_args};

/// Entry point of `disco agent`.
pub fn run(args: &[String]) -> i32 {
    let (cfg, warnings) = match parse_agent_args(args) {
        Ok(c) => c,
        Err(AgentArgsError::Flags(e)) => return e.report(),
        Err(AgentArgsError::Invalid(e)) => {
            eprintln!("==> {e}");
            return 1;
        }
    };
    crate::logging::init(&cfg.log_level);
    for w in &warnings {
        warn!("{w}");
    }
    let rt = match launch::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("==> runtime: {e}");
            return 1;
        }
    };
    let opts = LaunchOptions {
        banner: true,
        reload_on_hangup: true,
    };
    let code = match rt.block_on(async {
        let running = launch::launch(cfg, opts).await?;
        until_signal(running).await
    }) {
        Ok(()) => 0,
        Err(e) => {
            crate::logging::flush(std::time::Duration::from_secs(1));
            eprintln!("==> {e}");
            1
        }
    };
    crate::logging::flush(std::time::Duration::from_secs(1));
    code
}

/// Run until SIGINT, SIGTERM or the agent's own shutdown, then stop it.
async fn until_signal(running: RunningAgent) -> Result<(), launch::LaunchError> {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| launch::LaunchError::Start(format!("SIGTERM handler: {e}")))?;
    let mut shutdown = running.agent.shutdown_signal();
    let leave = tokio::select! {
        _ = tokio::signal::ctrl_c() => {
            info!("Caught signal: interrupt");
            launch::leaves_on_interrupt(&running.cfg)
        }
        _ = term.recv() => {
            info!("Caught signal: terminated");
            launch::leaves_on_terminate(&running.cfg)
        }
        _ = shutdown.wait_for(|v| *v) => {
            info!("agent: shutdown requested");
            false
        }
    };
    println!("==> Gracefully shutting down...");
    running.stop(leave).await
}
