//! The agent's command line (`disco agent -server -bootstrap-expect 3 ...`): Consul's flags,
//! applied over the configuration files they name. The console's embedded agent takes the
//! same flags, so they live here rather than in `cli`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::Parser;

use crate::config::{self, AgentConfig};
use crate::goflag::{self, FlagError};

/// Why the agent's command line did not give a configuration.
#[derive(Debug, thiserror::Error)]
pub enum AgentArgsError {
    /// A flag did not parse (or `-h` asked for the usage).
    #[error(transparent)]
    Flags(#[from] FlagError),
    /// The flags parsed, but a value or the resulting configuration is invalid.
    #[error("{0}")]
    Invalid(String),
}

/// Runs a disco agent.
#[derive(Parser, Debug)]
#[command(
    name = "agent",
    about = "Runs a disco agent",
    disable_version_flag = true,
    allow_negative_numbers = true,
    args_override_self = true
)]
struct AgentFlags {
    /// Run in server mode.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    server: Option<bool>,
    /// Bootstrap a single-server cluster.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    bootstrap: Option<bool>,
    /// Wait for this many servers before bootstrapping.
    #[arg(long = "bootstrap-expect")]
    bootstrap_expect: Option<u32>,
    /// Cluster bind address.
    #[arg(long)]
    bind: Option<IpAddr>,
    /// Advertised address.
    #[arg(long)]
    advertise: Option<IpAddr>,
    /// HTTP/DNS bind address(es), space separated.
    #[arg(long)]
    client: Option<String>,
    /// Data directory.
    #[arg(long = "data-dir")]
    data_dir: Option<PathBuf>,
    /// Node name.
    #[arg(long)]
    node: Option<String>,
    /// Node UUID.
    #[arg(long = "node-id")]
    node_id: Option<String>,
    /// Datacenter.
    #[arg(long)]
    datacenter: Option<String>,
    /// Log level.
    #[arg(long = "log-level")]
    log_level: Option<String>,
    /// HTTP port.
    #[arg(long = "http-port")]
    http_port: Option<i64>,
    /// HTTPS API port (needs a certificate in the `tls` block).
    #[arg(long = "https-port")]
    https_port: Option<i64>,
    /// DNS port.
    #[arg(long = "dns-port")]
    dns_port: Option<i64>,
    /// Server RPC port.
    #[arg(long = "server-port")]
    server_port: Option<i64>,
    /// LAN gossip port.
    #[arg(long = "serf-lan-port")]
    serf_lan_port: Option<i64>,
    /// WAN gossip port.
    #[arg(long = "serf-wan-port")]
    serf_wan_port: Option<i64>,
    /// PID file.
    #[arg(long = "pid-file")]
    pid_file: Option<PathBuf>,
    /// In-memory development server.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    dev: Option<bool>,
    /// Serve the web UI.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    ui: Option<bool>,
    /// Serve the web UI from this directory instead of the built-in one.
    #[arg(long = "ui-dir")]
    ui_dir: Option<PathBuf>,
    /// Path the web UI is served under (default /ui/).
    #[arg(long = "ui-content-path")]
    ui_content_path: Option<String>,
    /// Config file (repeatable).
    #[arg(long = "config-file")]
    config_file: Vec<PathBuf>,
    /// Config directory or file (repeatable).
    #[arg(long = "config-dir")]
    config_dir: Vec<PathBuf>,
    /// Allow script checks over HTTP.
    #[arg(long = "enable-script-checks", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_script_checks: Option<bool>,
    /// Allow script checks from config files.
    #[arg(long = "enable-local-script-checks", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable_local_script_checks: Option<bool>,
    /// Gossip addresses to join.
    #[arg(long)]
    join: Vec<String>,
    /// Gossip addresses to join with retries.
    #[arg(long = "retry-join")]
    retry_join: Vec<String>,
    /// WAN gossip addresses (other datacenters' servers) to join.
    #[arg(long = "join-wan")]
    join_wan: Vec<String>,
    /// WAN gossip addresses to join with retries.
    #[arg(long = "retry-join-wan")]
    retry_join_wan: Vec<String>,
    /// Pause between -retry-join-wan attempts (e.g. 30s).
    #[arg(long = "retry-interval-wan")]
    retry_interval_wan: Option<String>,
    /// Attempts of -retry-join-wan before giving up (0: forever).
    #[arg(long = "retry-max-wan")]
    retry_max_wan: Option<u32>,
    /// Address advertised to the WAN pool.
    #[arg(long = "advertise-wan")]
    advertise_wan: Option<IpAddr>,
    /// DNS domain.
    #[arg(long)]
    domain: Option<String>,
    /// Gossip encryption key.
    #[arg(long)]
    encrypt: Option<String>,
    /// Rejoin remembered peers even after a graceful leave.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    rejoin: Option<bool>,
    /// Pause between -retry-join attempts (e.g. 30s).
    #[arg(long = "retry-interval")]
    retry_interval: Option<String>,
    /// Attempts of -retry-join before giving up (0: forever).
    #[arg(long = "retry-max")]
    retry_max: Option<u32>,
    /// Node metadata `key:value` (repeatable).
    #[arg(long = "node-meta")]
    node_meta: Vec<String>,
}

fn build_config(f: AgentFlags) -> Result<(AgentConfig, Vec<String>), String> {
    let mut cfg = AgentConfig::default();
    let mut warnings = Vec::new();
    let dev = f.dev.unwrap_or(false);
    if dev {
        cfg.dev = true;
        cfg.server = true;
        cfg.bind_addr = IpAddr::from([127, 0, 0, 1]);
        cfg.log_level = "debug".into();
        cfg.ui.enabled = true;
    }
    for p in f.config_file.iter().chain(f.config_dir.iter()) {
        let w = config::load_path(&mut cfg, p).map_err(|e| e.to_string())?;
        warnings.extend(w.into_iter().map(|w| w.0));
    }
    if let Some(v) = f.server {
        cfg.server = v;
    }
    if let Some(v) = f.bootstrap {
        cfg.bootstrap = v;
    }
    if let Some(v) = f.bootstrap_expect {
        cfg.bootstrap_expect = v;
    }
    if let Some(v) = f.bind {
        cfg.bind_addr = v;
    }
    if let Some(v) = f.advertise {
        cfg.advertise_addr = Some(v);
    }
    if let Some(v) = f.client {
        let ips: Result<Vec<IpAddr>, _> = v.split_whitespace().map(str::parse).collect();
        cfg.client_addr =
            ips.map_err(|_| format!("invalid value \"{v}\" for flag -client: not an IP address"))?;
    }
    if let Some(v) = f.data_dir {
        cfg.data_dir = Some(v);
    }
    if let Some(v) = f.node {
        cfg.node_name = v;
    }
    if let Some(v) = f.node_id {
        uuid::Uuid::parse_str(&v)
            .map_err(|_| format!("invalid value \"{v}\" for flag -node-id: not a UUID"))?;
        cfg.node_id = Some(v.to_lowercase());
    }
    if let Some(v) = f.datacenter {
        cfg.datacenter = v;
    }
    if let Some(v) = f.log_level {
        cfg.log_level = config::parse_log_level(&v)
            .ok_or_else(|| format!("invalid value \"{v}\" for flag -log-level"))?;
    }
    if let Some(v) = f.http_port {
        cfg.ports.http = v;
    }
    if let Some(v) = f.https_port {
        cfg.ports.https = v;
    }
    if let Some(v) = f.dns_port {
        cfg.ports.dns = v;
    }
    if let Some(v) = f.server_port {
        cfg.ports.server = v;
    }
    if let Some(v) = f.serf_lan_port {
        cfg.ports.serf_lan = v;
    }
    if let Some(v) = f.serf_wan_port {
        cfg.ports.serf_wan = v;
    }
    if let Some(v) = f.pid_file {
        cfg.pid_file = Some(v);
    }
    if let Some(v) = f.ui {
        cfg.ui.enabled = v;
    }
    if let Some(v) = f.ui_dir {
        cfg.ui.dir = (!v.as_os_str().is_empty()).then_some(v);
    }
    if let Some(v) = f.ui_content_path {
        cfg.ui.content_path = config::ui::content_path(&v)
            .map_err(|e| format!("invalid value \"{v}\" for flag -ui-content-path: {e}"))?;
    }
    if let Some(v) = f.enable_script_checks {
        cfg.enable_script_checks = v;
    }
    if let Some(v) = f.enable_local_script_checks {
        cfg.enable_local_script_checks = v;
    }
    if let Some(v) = f.domain {
        cfg.domain = v;
    }
    if let Some(v) = f.encrypt {
        cfg.encrypt = Some(v);
    }
    if let Some(v) = f.rejoin {
        cfg.rejoin_after_leave = v;
    }
    if let Some(v) = f.retry_interval {
        cfg.retry_interval = crate::api::duration::parse_go(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("invalid value \"{v}\" for flag -retry-interval"))?;
    }
    if let Some(v) = f.retry_max {
        cfg.retry_max = v;
    }
    if let Some(v) = f.retry_interval_wan {
        cfg.retry_interval_wan = crate::api::duration::parse_go(&v)
            .filter(|d| !d.is_zero())
            .ok_or_else(|| format!("invalid value \"{v}\" for flag -retry-interval-wan"))?;
    }
    if let Some(v) = f.retry_max_wan {
        cfg.retry_max_wan = v;
    }
    if let Some(v) = f.advertise_wan {
        cfg.advertise_addr_wan = Some(v);
    }
    cfg.start_join.extend(f.join);
    cfg.retry_join.extend(f.retry_join);
    cfg.start_join_wan.extend(f.join_wan);
    cfg.retry_join_wan.extend(f.retry_join_wan);
    for m in f.node_meta {
        let (k, v) = m.split_once(':').ok_or_else(|| {
            format!("invalid value \"{m}\" for flag -node-meta: expected key:value")
        })?;
        cfg.node_meta.insert(k.to_string(), v.to_string());
    }
    if dev {
        // -dev keeps everything in memory whatever the files say.
        cfg.data_dir = None;
        cfg.server = true;
    }
    warnings.extend(cfg.validate().map_err(|e| e.to_string())?);
    Ok((cfg, warnings))
}

/// Parse `disco agent` arguments into a configuration plus the warnings to log once the
/// log is set up.
pub fn parse_agent_args(args: &[String]) -> Result<(AgentConfig, Vec<String>), AgentArgsError> {
    let f: AgentFlags = goflag::parse("disco agent", args)?;
    build_config(f).map_err(AgentArgsError::Invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<AgentConfig, String> {
        let args: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        parse_agent_args(&args)
            .map(|(cfg, _)| cfg)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn ui_flags_turn_the_ui_on_and_move_it() {
        assert!(parse(&["-dev"]).unwrap().ui.served(), "-dev serves the UI");
        assert!(!parse(&["-data-dir", "/tmp/x"]).unwrap().ui.served());
        let cfg = parse(&["-dev", "-ui=false"]).unwrap();
        assert!(!cfg.ui.served());
        assert_eq!(cfg.ui.content_path, "/ui/");
        let cfg = parse(&["-dev", "-ui=false", "-ui-dir", "/srv/ui"]).unwrap();
        assert!(cfg.ui.served(), "a directory turns the UI on");
        assert_eq!(cfg.ui.dir.as_deref(), Some(std::path::Path::new("/srv/ui")));
        let cfg = parse(&["-dev", "-ui-content-path", "console"]).unwrap();
        assert_eq!(cfg.ui.content_path, "/console/");
        for bad in ["/", "/v1/ui", "v1"] {
            let e = parse(&["-dev", "-ui-content-path", bad]).unwrap_err();
            assert!(e.contains("-ui-content-path"), "{bad}: {e}");
        }
    }
}
