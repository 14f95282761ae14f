//! `disco template`: consul-template's command line (`-template in:out:cmd`, `-once`,
//! `-dry`, `-wait`, `-config`, `-consul-addr`/`-http-addr`, `-consul-token`/`-token`)
//! and its exit codes (13 for a bad flag, 15 for a bad config file, 14 when a template,
//! a query, a write or a command fails).

use std::path::Path;
use std::time::Duration;

use clap::Parser;

use super::exec::HttpFlags;
use crate::client::{Client, resolve_addr, resolve_token};
use crate::goflag::{self, FlagError};
use crate::template::{Mode, RunConfig, TemplateSpec, Wait, exit, run};

/// Flags of `disco template`.
#[derive(Parser, Debug, Clone)]
#[command(
    name = "template",
    disable_version_flag = true,
    args_override_self = true,
    about = "Render templates from the catalog and KV, and re-render them when it changes"
)]
struct Flags {
    #[command(flatten)]
    http: HttpFlags,
    /// Template to render: "in.ctmpl:out.conf[:command]" (repeatable).
    #[arg(long = "template")]
    template: Vec<String>,
    /// Config file or directory, HCL or JSON (repeatable; later ones win).
    #[arg(long = "config")]
    config: Vec<String>,
    /// Address of the agent (the same as -http-addr).
    #[arg(long = "consul-addr")]
    consul_addr: Option<String>,
    /// ACL token (the same as -token).
    #[arg(long = "consul-token")]
    consul_token: Option<String>,
    /// Render each template once, run the commands, and exit.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    once: Option<bool>,
    /// Print the renders to stdout instead of writing them; run no command.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    dry: Option<bool>,
    /// Quiescence: "min(:max)", e.g. 2s:10s (max defaults to 4×min).
    #[arg(long)]
    wait: Option<String>,
    /// Reads may be this stale (0 for consistent reads from the leader).
    #[arg(long = "max-stale")]
    max_stale: Option<String>,
    /// Attempts per query before the run fails (0: retry forever).
    #[arg(long = "consul-retry-attempts")]
    retry_attempts: Option<u32>,
    /// Write the process ID here.
    #[arg(long = "pid-file")]
    pid_file: Option<String>,
    /// info or debug log each render and command to stderr.
    #[arg(long = "log-level")]
    log_level: Option<String>,
    /// Positional arguments (none are taken).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

/// The configuration: config files in order, then the flags on top.
fn build(f: &Flags) -> Result<RunConfig, (i32, String)> {
    let mut cfg = RunConfig::default();
    for path in &f.config {
        crate::template::config::load_path(&mut cfg, Path::new(path))
            .map_err(|e| (exit::CONFIG, e.to_string()))?;
    }
    let flag_err = |e: String| (exit::PARSE_FLAGS, e);
    for t in &f.template {
        cfg.templates
            .push(TemplateSpec::from_flag(t).map_err(flag_err)?);
    }
    if let Some(w) = &f.wait {
        cfg.wait = Some(Wait::parse(w).map_err(|e| flag_err(format!("-wait: {e}")))?);
    }
    if let Some(s) = &f.max_stale {
        cfg.max_stale = crate::api::duration::parse_go(s)
            .ok_or_else(|| flag_err(format!("-max-stale: invalid duration {s:?}")))?;
    }
    if let Some(n) = f.retry_attempts {
        cfg.retry_attempts = n;
    }
    if let Some(p) = &f.pid_file {
        cfg.pid_file = Some(p.into());
    }
    if let Some(a) = f.consul_addr.as_ref().or(f.http.http_addr.as_ref()) {
        cfg.address = Some(a.clone());
    }
    if let Some(t) = f.consul_token.as_ref().or(f.http.token.as_ref()) {
        cfg.token = Some(t.clone());
    }
    if cfg.templates.is_empty() {
        return Err((
            exit::CONFIG,
            "no templates: give -template \"in.ctmpl:out.conf[:command]\" or a template block in -config"
                .into(),
        ));
    }
    Ok(cfg)
}

/// `disco template [options]`.
pub fn template(bin: &str, args: &[String]) -> i32 {
    let flags: Flags = match goflag::parse(bin, args) {
        Ok(f) => f,
        Err(FlagError::Help(text)) => {
            println!("{text}");
            return 0;
        }
        Err(FlagError::Invalid(msg)) => {
            eprintln!("{msg}");
            return exit::PARSE_FLAGS;
        }
    };
    if let Some(extra) = flags.args.first() {
        eprintln!("disco template: unexpected argument {extra:?} (flags only)");
        return exit::PARSE_FLAGS;
    }
    let mode = Mode {
        once: flags.once.unwrap_or(false),
        dry: flags.dry.unwrap_or(false),
        verbose: matches!(
            flags
                .log_level
                .as_deref()
                .map(str::to_ascii_lowercase)
                .as_deref(),
            Some("info" | "debug" | "trace")
        ),
    };
    let cfg = match build(&flags) {
        Ok(c) => c,
        Err((code, e)) => {
            eprintln!("disco template: {e}");
            return code;
        }
    };
    let token = match resolve_token(cfg.token.as_deref(), flags.http.token_file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("disco template: {e}");
            return exit::CONFIG;
        }
    };
    let tls = match flags.http.tls() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("disco template: {e}");
            return exit::CONFIG;
        }
    };
    let client = match Client::with_tls(&resolve_addr(cfg.address.as_deref()), &tls) {
        Ok(c) => c.with_token(token),
        Err(e) => {
            eprintln!("disco template: {e}");
            return exit::CONFIG;
        }
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("disco template: {e}");
            return exit::ERROR;
        }
    };
    let reload_flags = flags.clone();
    let reload = Box::new(move || build(&reload_flags));
    let code = rt.block_on(run(cfg, client, mode, reload));
    rt.shutdown_timeout(Duration::from_millis(100));
    code
}
