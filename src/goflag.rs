//! Consul-style flag handling on top of clap.
//!
//! Consul (Go's `flag` package) takes `-flag`, `--flag`, `-flag=value` and `-flag value`;
//! boolean flags never consume the next word; parsing stops at the first non-flag argument.
//! We rewrite argv into clap's dialect under those rules, then let clap parse it.
//! Shared by the client commands and by the agent's command line (`config::flags`), which
//! the console parses too, so it sits below both.

use clap::{ArgMatches, Command, FromArgMatches};

/// Why arguments did not parse into flags.
#[derive(Debug, thiserror::Error)]
pub enum FlagError {
    /// `-h`/`-help` was given: the usage text, printed to stdout with exit code 0.
    #[error("{0}")]
    Help(String),
    /// A flag is unknown or its value is bad, worded as Consul words it.
    #[error("{0}")]
    Invalid(String),
}

impl FlagError {
    /// Print the message where Consul prints it and return the exit code (0 for help).
    pub fn report(&self) -> i32 {
        match self {
            FlagError::Help(text) => {
                println!("{text}");
                0
            }
            FlagError::Invalid(msg) => {
                eprintln!("{msg}");
                1
            }
        }
    }
}

/// Rewrite Go-style arguments into clap's long-flag form.
pub fn normalize(cmd: &Command, args: &[String]) -> Result<Vec<String>, FlagError> {
    let mut out = Vec::with_capacity(args.len() + 1);
    let mut i = 0;
    while i < args.len() {
        let a = &args[i];
        if a == "--" {
            out.extend(args[i..].iter().cloned());
            return Ok(out);
        }
        let body = a.strip_prefix("--").or_else(|| a.strip_prefix('-'));
        let Some(body) = body.filter(|b| b.chars().next().is_some_and(|c| c.is_ascii_alphabetic()))
        else {
            // First positional argument: everything after it is positional too.
            out.push("--".into());
            out.extend(args[i..].iter().cloned());
            return Ok(out);
        };
        let (name, has_value) = match body.split_once('=') {
            Some((n, _)) => (n, true),
            None => (body, false),
        };
        if name == "h" || name == "help" {
            let mut c = cmd.clone();
            return Err(FlagError::Help(c.render_long_help().to_string()));
        }
        let arg = cmd.get_arguments().find(|x| x.get_long() == Some(name));
        if arg.is_none() {
            return Err(FlagError::Invalid(format!(
                "flag provided but not defined: -{name}"
            )));
        }
        out.push(format!("--{body}"));
        let takes_value = arg.is_some_and(|x| {
            !matches!(
                x.get_action(),
                clap::ArgAction::SetTrue | clap::ArgAction::Help | clap::ArgAction::Version
            ) && !x.is_require_equals_set()
        });
        if takes_value && !has_value && i + 1 < args.len() {
            out.push(args[i + 1].clone());
            i += 1;
        }
        i += 1;
    }
    Ok(out)
}

/// Parse `args` (after the command words) into `T`.
pub fn parse<T: FromArgMatches + clap::CommandFactory>(
    bin: &str,
    args: &[String],
) -> Result<T, FlagError> {
    let cmd = T::command().bin_name(bin.to_string());
    let norm = normalize(&cmd, args)?;
    let mut argv = vec![bin.to_string()];
    argv.extend(norm);
    let matches: ArgMatches = match cmd.clone().try_get_matches_from(argv) {
        Ok(m) => m,
        Err(e) => return Err(classify(&e)),
    };
    T::from_arg_matches(&matches).map_err(|e| classify(&e))
}

fn classify(e: &clap::Error) -> FlagError {
    use clap::error::ErrorKind;
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => FlagError::Help(e.to_string()),
        _ => FlagError::Invalid(consul_message(e)),
    }
}

fn consul_message(e: &clap::Error) -> String {
    use clap::error::{ContextKind, ContextValue, ErrorKind};
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => e.to_string(),
        ErrorKind::UnknownArgument => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s
                    .split('=')
                    .next()
                    .unwrap_or(s)
                    .trim_start_matches('-')
                    .to_string(),
                _ => String::new(),
            };
            format!("flag provided but not defined: -{arg}")
        }
        ErrorKind::InvalidValue | ErrorKind::ValueValidation => {
            let arg = match e.get(ContextKind::InvalidArg) {
                Some(ContextValue::String(s)) => s
                    .split_whitespace()
                    .next()
                    .unwrap_or("")
                    .trim_start_matches('-')
                    .to_string(),
                _ => String::new(),
            };
            let val = match e.get(ContextKind::InvalidValue) {
                Some(ContextValue::String(s)) => s.clone(),
                _ => String::new(),
            };
            format!("invalid value \"{val}\" for flag -{arg}: {}", e.kind())
        }
        _ => {
            let s = e.render().to_string();
            s.lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ")
                .to_string()
        }
    }
}
