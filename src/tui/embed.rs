//! The console's one seam to the agent: running an agent inside the console process
//! (`disco tui -dev`, or agent flags) through `agent::launch`, with its log captured for the
//! log pane. The console then attaches to it over its HTTP API like to any other agent.

use tokio::sync::mpsc::UnboundedSender;

use super::msg::Update;
use crate::agent::launch::{self, LaunchOptions, RunningAgent};
use crate::config::flags::{AgentArgsError, parse_agent_args};

/// Agent flags, parsed: the configuration and the warnings to log once logging runs.
pub type Parsed = (crate::config::AgentConfig, Vec<String>);

/// Parse agent flags as `disco agent` does.
pub fn parse(args: &[String]) -> Result<Parsed, AgentArgsError> {
    parse_agent_args(args)
}

/// The runtime `disco agent` runs on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    launch::runtime()
}

/// Start the agent, its log lines going to the console as [`Update::Log`].
pub async fn start(
    (cfg, warnings): Parsed,
    tx: UnboundedSender<Update>,
) -> Result<RunningAgent, String> {
    let log_tx = tx;
    crate::logging::init_captured(&cfg.log_level, move |line| {
        let _ = log_tx.send(Update::Log(line));
    });
    for w in warnings {
        tracing::warn!("{w}");
    }
    let opts = LaunchOptions {
        banner: false,
        reload_on_hangup: true,
    };
    launch::launch(cfg, opts).await.map_err(|e| e.to_string())
}

/// Where the agent serves HTTP.
pub fn http_addr(r: &RunningAgent) -> Result<String, String> {
    r.http_addr()
        .map(|a| a.to_string())
        .ok_or_else(|| "the embedded agent serves no HTTP (ports.http = -1)".to_string())
}

/// Stop the agent, leaving the cluster when its configuration says an interrupt leaves.
pub async fn stop(r: RunningAgent) -> Result<(), String> {
    let leave = launch::leaves_on_interrupt(&r.cfg);
    r.stop(leave).await.map_err(|e| e.to_string())
}
