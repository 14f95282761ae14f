//! What every client command shares: the `-http-addr` flag, positional arguments, a small
//! runtime, the client, and how an error reaches the terminal.

use std::future::Future;

use clap::{Args, Parser};

use crate::client::{Client, resolve_addr, resolve_token};
use crate::goflag;

/// A command's result: its exit code, or the one-line message to print on stderr (exit 1).
pub type CmdResult = Result<i32, String>;

/// Flags every client command takes.
#[derive(Args, Debug, Clone)]
pub struct HttpFlags {
    /// Address of the agent's HTTP API (default: $DISCO_HTTP_ADDR, $CONSUL_HTTP_ADDR, then
    /// 127.0.0.1:8500).
    #[arg(long = "http-addr")]
    pub http_addr: Option<String>,
    /// ACL token to use in the request (default: $CONSUL_HTTP_TOKEN).
    #[arg(long = "token")]
    pub token: Option<String>,
    /// File holding the ACL token (default: $CONSUL_HTTP_TOKEN_FILE).
    #[arg(long = "token-file")]
    pub token_file: Option<String>,
    /// CA file to verify the agent's HTTPS certificate (default: $CONSUL_CACERT).
    #[arg(long = "ca-file")]
    pub ca_file: Option<String>,
    /// Directory of CA files (default: $CONSUL_CAPATH).
    #[arg(long = "ca-path")]
    pub ca_path: Option<String>,
    /// Client certificate for an agent with verify_incoming (default: $CONSUL_CLIENT_CERT).
    #[arg(long = "client-cert")]
    pub client_cert: Option<String>,
    /// Its key (default: $CONSUL_CLIENT_KEY).
    #[arg(long = "client-key")]
    pub client_key: Option<String>,
    /// Name to verify the agent's certificate against (default: $CONSUL_TLS_SERVER_NAME).
    #[arg(long = "tls-server-name")]
    pub tls_server_name: Option<String>,
    /// Datacenter to ask (default: the agent's own); its servers answer through the WAN.
    #[arg(long = "datacenter")]
    pub datacenter: Option<String>,
}

impl HttpFlags {
    /// The TLS settings these flags and the environment give.
    pub fn tls(&self) -> Result<crate::client::TlsOptions, String> {
        crate::client::TlsOptions::resolve(
            self.ca_file.as_deref(),
            self.ca_path.as_deref(),
            self.client_cert.as_deref(),
            self.client_key.as_deref(),
            self.tls_server_name.as_deref(),
        )
    }
}

// One invocation: the shared flags, the command's own flags `F`, and the positional
// arguments (Go's flag package stops at the first one; everything after it is positional).
// A plain comment: clap would show a doc comment as every command's description.
#[derive(Parser, Debug)]
#[command(disable_version_flag = true, args_override_self = true)]
struct Invocation<F: Args> {
    #[command(flatten)]
    http: HttpFlags,
    #[command(flatten)]
    flags: F,
    /// Positional arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

/// The command a user's handler or child runs as, Consul's way: the arguments joined and
/// run through `$SHELL -c` (`/bin/sh` when unset), or with `shell` off the first argument
/// run directly with the rest. `args` is never empty (callers check).
pub fn user_command(args: &[String], shell: bool) -> tokio::process::Command {
    if shell {
        let sh = std::env::var("SHELL")
            .ok()
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "/bin/sh".into());
        let mut c = tokio::process::Command::new(sh);
        c.arg("-c").arg(args.join(" "));
        c
    } else {
        let mut c = tokio::process::Command::new(&args[0]);
        c.args(&args[1..]);
        c
    }
}

/// Flags of a command that has none of its own.
#[derive(Args, Debug)]
pub struct NoFlags {}

/// Parse `args` into the shared flags and `F`, then run `body` with a client for the agent
/// on a current-thread runtime; prints its error and returns the exit code.
pub fn client_command<F, Fut>(
    bin: &str,
    args: &[String],
    body: impl FnOnce(Client, F, Vec<String>) -> Fut,
) -> i32
where
    F: Args + clap::FromArgMatches + std::fmt::Debug,
    Fut: Future<Output = CmdResult>,
{
    let inv: Invocation<F> = match goflag::parse(bin, args) {
        Ok(inv) => inv,
        Err(e) => return e.report(),
    };
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let token = match resolve_token(inv.http.token.as_deref(), inv.http.token_file.as_deref()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let tls = match inv.http.tls() {
        Ok(t) => t,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let client = match Client::with_tls(&resolve_addr(inv.http.http_addr.as_deref()), &tls) {
        Ok(cl) => cl
            .with_token(token)
            .with_datacenter(inv.http.datacenter.clone()),
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    match rt.block_on(body(client, inv.flags, inv.args)) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}
