//! The console's one seam to the agent: running an agent inside the console process
//! (`disco tui -dev`, or agent flags), with its log captured for the log pane. The console
//! then attaches to it over its HTTP API like to any other agent.

use tokio::sync::mpsc::UnboundedSender;

use super::msg::Update;

/// Agent flags, parsed: the configuration and the warnings to log once logging runs.
pub type Parsed = (crate::config::AgentConfig, Vec<String>);

/// The running embedded agent.
pub type Running = crate::cli::agent::Running;

/// Parse agent flags as `disco agent` does.
pub fn parse(args: &[String]) -> Result<Parsed, String> {
    crate::cli::agent::parse(args)
}

/// The runtime `disco agent` runs on.
pub fn runtime() -> std::io::Result<tokio::runtime::Runtime> {
    crate::cli::agent::runtime()
}

/// Start the agent, its log lines going to the console as [`Update::Log`].
pub async fn start(
    (cfg, warnings): Parsed,
    tx: UnboundedSender<Update>,
) -> Result<Running, String> {
    let log_tx = tx;
    crate::logging::init_captured(&cfg.log_level, move |line| {
        let _ = log_tx.send(Update::Log(line));
    });
    for w in warnings {
        tracing::warn!("{w}");
    }
    crate::cli::agent::start(cfg, false).await
}

/// Where the agent serves HTTP.
pub fn http_addr(r: &Running) -> Result<String, String> {
    r.http
        .map(|a| a.to_string())
        .ok_or_else(|| "the embedded agent serves no HTTP (ports.http = -1)".to_string())
}

/// Stop the agent, leaving the cluster when its configuration says an interrupt leaves.
pub async fn stop(r: Running) -> Result<(), String> {
    let leave = crate::cli::agent::leaves_on_interrupt(&r.cfg);
    crate::cli::agent::stop(r, leave).await
}
