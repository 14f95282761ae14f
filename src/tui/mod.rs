//! `disco tui`: the operator console. It attaches to a running agent over its HTTP API, or
//! runs one inside the same process (`disco tui -dev`, or `disco tui` followed by agent
//! flags) and attaches to that, with the agent's log in the console's log pane.

pub mod app;
pub mod confirm;
mod embed;
pub mod feed;
pub mod form;
pub mod keymap;
pub mod model;
pub mod msg;
pub mod palette;
pub mod rights;
pub mod theme;
pub mod view;
pub mod views;

use crossterm::event::EventStream;
use futures::StreamExt;
use tokio::sync::mpsc;

use app::App;
use msg::Update;
use theme::Theme;

/// The console's HTTPS flags, named as the CLI's.
#[derive(Debug, Default, PartialEq)]
pub struct TlsFlags {
    /// `-ca-file`.
    pub ca_file: Option<String>,
    /// `-ca-path`.
    pub ca_path: Option<String>,
    /// `-client-cert`.
    pub client_cert: Option<String>,
    /// `-client-key`.
    pub client_key: Option<String>,
    /// `-tls-server-name`.
    pub server_name: Option<String>,
}

/// Console options; everything else on the command line is an agent flag.
#[derive(Debug, Default, PartialEq)]
pub struct Options {
    /// Agent to attach to.
    pub http_addr: Option<String>,
    /// Theme name or path.
    pub theme: Option<String>,
    /// ACL token (`-token`), else `-token-file`, else the CLI's environment variables.
    pub token: Option<String>,
    /// File holding the ACL token.
    pub token_file: Option<String>,
    /// HTTPS: `-ca-file`, `-ca-path`, `-client-cert`, `-client-key`, `-tls-server-name`
    /// (default as the CLI: `$CONSUL_CACERT` and the rest).
    pub tls: TlsFlags,
    /// Agent flags: non-empty means run an agent inside.
    pub agent_args: Vec<String>,
}

const USAGE: &str = "Usage: disco tui [-http-addr=ADDR] [-token=TOKEN|-token-file=PATH] [-ca-file=PEM ...] [-theme=NAME|PATH] [agent flags]

  Attaches to the agent at -http-addr (default as the CLI: $CONSUL_HTTP_ADDR or
  127.0.0.1:8500). With agent flags (e.g. -dev, or -server -bootstrap-expect 3 -join ...)
  it runs that agent inside the console and attaches to it; its log shows in the log pane.

  -token, -token-file: the ACL token to act with (default as the CLI: $CONSUL_HTTP_TOKEN
  or $CONSUL_HTTP_TOKEN_FILE).

  -ca-file, -ca-path, -client-cert, -client-key, -tls-server-name: HTTPS to the agent
  (-http-addr=https://...), as the CLI (default: $CONSUL_CACERT, $CONSUL_CAPATH,
  $CONSUL_CLIENT_CERT, $CONSUL_CLIENT_KEY, $CONSUL_TLS_SERVER_NAME).

  -theme: dark (default), light, high-contrast, or a path to a theme .toml file.";

/// Split console options from agent flags (`-flag=v`, `-flag v`, `--flag` all accepted).
pub fn parse_options(args: &[String]) -> Result<Options, String> {
    let mut o = Options::default();
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        let bare = a.trim_start_matches('-');
        let (name, inline) = match bare.split_once('=') {
            Some((n, v)) => (n, Some(v.to_string())),
            None => (bare, None),
        };
        if a.starts_with('-')
            && matches!(
                name,
                "http-addr"
                    | "theme"
                    | "token"
                    | "token-file"
                    | "ca-file"
                    | "ca-path"
                    | "client-cert"
                    | "client-key"
                    | "tls-server-name"
            )
        {
            let value = match inline {
                Some(v) => v,
                None => {
                    i += 1;
                    args.get(i)
                        .cloned()
                        .ok_or_else(|| format!("flag needs an argument: -{name}"))?
                }
            };
            match name {
                "http-addr" => o.http_addr = Some(value),
                "token" => o.token = Some(value),
                "token-file" => o.token_file = Some(value),
                "ca-file" => o.tls.ca_file = Some(value),
                "ca-path" => o.tls.ca_path = Some(value),
                "client-cert" => o.tls.client_cert = Some(value),
                "client-key" => o.tls.client_key = Some(value),
                "tls-server-name" => o.tls.server_name = Some(value),
                _ => o.theme = Some(value),
            }
        } else if a.starts_with('-') && matches!(name, "h" | "help") {
            return Err(USAGE.to_string());
        } else {
            o.agent_args.push(a.clone());
        }
        i += 1;
    }
    Ok(o)
}

/// Entry point of `disco tui`.
pub fn run(args: &[String]) -> i32 {
    let opts = match parse_options(args) {
        Ok(o) => o,
        Err(e) if e == USAGE => {
            println!("{e}");
            return 0;
        }
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let theme = match opts.theme.as_deref().map(Theme::load).transpose() {
        Ok(t) => t.unwrap_or_else(Theme::dark),
        Err(e) => {
            eprintln!("-theme: {e}");
            return 1;
        }
    };
    let embedded = if opts.agent_args.is_empty() {
        None
    } else {
        match embed::parse(&opts.agent_args) {
            Ok(e) => Some(e),
            Err(crate::config::flags::AgentArgsError::Flags(e)) => return e.report(),
            Err(e) => {
                eprintln!("{e}");
                return 1;
            }
        }
    };
    let rt = match embed::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("runtime: {e}");
            return 1;
        }
    };
    match rt.block_on(console(opts, theme, embedded)) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

async fn console(
    opts: Options,
    theme: Theme,
    embedded: Option<embed::Parsed>,
) -> Result<(), String> {
    let (tx, mut rx) = mpsc::unbounded_channel::<Update>();
    // An embedded agent starts before the screen is taken, so a startup error reads like
    // `disco agent`'s.
    let running = match embedded {
        Some(parsed) => Some(embed::start(parsed, tx.clone()).await?),
        None => None,
    };
    let addr = match (&running, &opts.http_addr) {
        (_, Some(a)) => a.clone(),
        (Some(r), None) => embed::http_addr(r)?,
        (None, None) => crate::client::resolve_addr(None),
    };
    let token = crate::client::resolve_token(opts.token.as_deref(), opts.token_file.as_deref())?;
    let t = &opts.tls;
    let tls = crate::client::TlsOptions::resolve(
        t.ca_file.as_deref(),
        t.ca_path.as_deref(),
        t.client_cert.as_deref(),
        t.client_key.as_deref(),
        t.server_name.as_deref(),
    )?;
    let client = crate::client::Client::with_tls(&addr, &tls)
        .map_err(|e| e.to_string())?
        .with_token(token);
    let mut app = App::new(client.addr(), theme);
    app.show_logs = running.is_some();
    let mut feeds = feed::Feeds::start(client, tx.clone());

    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, &mut app, &mut feeds, &mut rx).await;
    ratatui::restore();
    drop(feeds);
    if let Some(r) = running {
        embed::stop(r).await?;
    }
    result
}

async fn event_loop(
    terminal: &mut ratatui::DefaultTerminal,
    app: &mut App,
    feeds: &mut feed::Feeds,
    rx: &mut mpsc::UnboundedReceiver<Update>,
) -> Result<(), String> {
    let mut events = EventStream::new();
    // Every wake-up is a key or an update, so every turn draws once.
    loop {
        let mut page = app.page;
        terminal
            .draw(|f| {
                page = view::page_rows(app, f.area());
                view::draw(f, app);
            })
            .map_err(|e| e.to_string())?;
        app.page = page;
        tokio::select! {
            ev = events.next() => {
                match ev {
                    Some(Ok(ev)) => {
                        for e in app.on_event(&ev) {
                            feeds.run(e);
                        }
                    }
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Ok(()),
                }
            }
            Some(u) = rx.recv() => {
                for e in app.apply(u) {
                    feeds.run(e);
                }
                // Take whatever else arrived in the same breath before drawing once.
                while let Ok(u) = rx.try_recv() {
                    for e in app.apply(u) {
                        feeds.run(e);
                    }
                }
            }
        }
        if app.quit {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn console_flags_are_split_from_agent_flags() {
        let o = parse_options(&args("-http-addr=127.0.0.1:8510 --theme light")).unwrap();
        assert_eq!(o.http_addr.as_deref(), Some("127.0.0.1:8510"));
        assert_eq!(o.theme.as_deref(), Some("light"));
        assert!(o.agent_args.is_empty());
        let o = parse_options(&args("-dev -theme=high-contrast")).unwrap();
        assert_eq!(o.agent_args, args("-dev"));
        let o = parse_options(&args("-server -bootstrap-expect 3 -join 127.0.0.1:8301")).unwrap();
        assert_eq!(o.agent_args.len(), 5);
        assert!(parse_options(&args("-theme")).is_err());
    }
}
