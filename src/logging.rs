//! Log setup: Consul's `-log-level` names mapped onto tracing.

/// Install the global subscriber writing to stderr at `level`.
pub fn init(level: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_env("DISCO_LOG").unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("{level},openraft=warn,sled=warn,hyper=warn"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .with_target(false)
        .try_init();
}
