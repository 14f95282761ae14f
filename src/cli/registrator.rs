//! `disco registrator [options] [consul://host:port]`: registrator's command line
//! (`-internal`, `-ip`, `-tags`, `-resync`, `-explicit`, `-cleanup`) plus disco's HTTP
//! flags; the engine comes from `-docker-host` or `DOCKER_HOST`.

use std::time::Duration;

use clap::Parser;

use super::exec::HttpFlags;
use crate::client::{Client, resolve_addr, resolve_token};
use crate::goflag;
use crate::registrator::service::split_tags;
use crate::registrator::{Config, Options, run};

/// Flags of `disco registrator`.
#[derive(Parser, Debug)]
#[command(
    name = "registrator",
    disable_version_flag = true,
    args_override_self = true,
    about = "Register the published ports of running containers as services"
)]
struct Flags {
    #[command(flatten)]
    http: HttpFlags,
    /// The container engine (default $DOCKER_HOST, then unix:///var/run/docker.sock).
    #[arg(long = "docker-host")]
    docker_host: Option<String>,
    /// Register the containers' own addresses and exposed ports.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    internal: Option<bool>,
    /// Address to register for published ports (default: the binding's, or the agent's).
    #[arg(long)]
    ip: Option<String>,
    /// Tags added to every service, comma-separated.
    #[arg(long)]
    tags: Option<String>,
    /// Resync every this many seconds (0: only at start and after reconnecting).
    #[arg(long)]
    resync: Option<u64>,
    /// Only containers that set SERVICE_NAME.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    explicit: Option<bool>,
    /// Remove services this host registered whose container is gone (default true).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cleanup: Option<bool>,
    /// The first part of every service ID (default: this host's name).
    #[arg(long)]
    hostname: Option<String>,
    /// Log each registration to stderr.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    verbose: Option<bool>,
    /// The registry: consul://host:port (default: -http-addr).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// `disco registrator`.
pub fn registrator(bin: &str, args: &[String]) -> i32 {
    let f: Flags = match goflag::parse(bin, args) {
        Ok(f) => f,
        Err(e) => return e.report(),
    };
    if f.args.len() > 1 {
        eprintln!(
            "disco registrator: one registry URI at most, got {:?}",
            f.args
        );
        return 1;
    }
    let mut addr = f.http.http_addr.clone();
    if let Some(uri) = f.args.first() {
        match uri.strip_prefix("consul://") {
            Some(a) if !a.is_empty() => addr = Some(a.trim_end_matches('/').to_string()),
            _ => {
                eprintln!(
                    "disco registrator: unsupported registry URI {uri:?}: want consul://host:port"
                );
                return 1;
            }
        }
    }
    let token = match resolve_token(f.http.token.as_deref(), f.http.token_file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("disco registrator: {e}");
            return 1;
        }
    };
    let client = match f.http.tls().and_then(|tls| {
        Client::with_tls(&resolve_addr(addr.as_deref()), &tls).map_err(|e| e.to_string())
    }) {
        Ok(c) => c.with_token(token),
        Err(e) => {
            eprintln!("disco registrator: {e}");
            return 1;
        }
    };
    let cfg = Config {
        docker_host: f
            .docker_host
            .or_else(|| std::env::var("DOCKER_HOST").ok().filter(|h| !h.is_empty()))
            .unwrap_or_else(|| "unix:///var/run/docker.sock".into()),
        options: Options {
            hostname: f.hostname.unwrap_or_else(hostname),
            internal: f.internal.unwrap_or(false),
            ip: f.ip.filter(|ip| !ip.is_empty()),
            tags: f.tags.map(|t| split_tags(&t)).unwrap_or_default(),
            explicit: f.explicit.unwrap_or(false),
        },
        resync: f.resync.filter(|s| *s > 0).map(Duration::from_secs),
        cleanup: f.cleanup.unwrap_or(true),
        verbose: f.verbose.unwrap_or(false),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("disco registrator: {e}");
            return 1;
        }
    };
    let code = rt.block_on(run(cfg, client));
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}
