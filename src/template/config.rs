//! What `disco template` renders and how: consul-template's `-template in:out:cmd`
//! strings and its configuration file (HCL or JSON, the same keys), merged left to right
//! with the command line winning.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

/// Quiescence: render only once changes stop for `min`, but never later than `max` after
/// the first one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Wait {
    /// Quiet time needed.
    pub min: Duration,
    /// The longest a render is put off.
    pub max: Duration,
}

impl Wait {
    /// `min(:max)`; `max` defaults to 4×`min`, as consul-template's.
    pub fn parse(s: &str) -> Result<Wait, String> {
        let (min, max) = match s.split_once(':') {
            Some((a, b)) => (dur(a)?, Some(dur(b)?)),
            None => (dur(s)?, None),
        };
        let max = max.unwrap_or(min * 4);
        if max < min {
            return Err(format!("wait: max ({max:?}) is less than min ({min:?})"));
        }
        Ok(Wait { min, max })
    }
}

fn dur(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    // A bare number is seconds, as consul-template reads it.
    if let Ok(n) = s.parse::<u64>() {
        return Ok(Duration::from_secs(n));
    }
    crate::api::duration::parse_go(s).ok_or_else(|| format!("invalid duration {s:?}"))
}

/// One template: where it comes from, where it goes, what runs after.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TemplateSpec {
    /// The template file (empty when `contents` is given inline).
    pub source: Option<PathBuf>,
    /// Inline template text.
    pub contents: Option<String>,
    /// The file written.
    pub destination: PathBuf,
    /// Run after the file changed on disk: one string for `sh -c`, or argv.
    pub command: Vec<String>,
    /// How long the command may run.
    pub command_timeout: Duration,
    /// The destination's mode; `None` keeps an existing file's, or 0644.
    pub perms: Option<u32>,
    /// Keep the previous file as `<dest>.bak`.
    pub backup: bool,
    /// Per-template quiescence.
    pub wait: Option<Wait>,
    /// Action delimiters.
    pub left_delimiter: String,
    /// Action delimiters.
    pub right_delimiter: String,
    /// Create missing parent directories (0755).
    pub create_dest_dirs: bool,
    /// A missing map key is an error rather than `<no value>`.
    pub error_on_missing_key: bool,
}

impl TemplateSpec {
    fn new() -> TemplateSpec {
        TemplateSpec {
            command_timeout: Duration::from_secs(30),
            left_delimiter: "{{".into(),
            right_delimiter: "}}".into(),
            create_dest_dirs: true,
            ..Default::default()
        }
    }

    /// `in:out(:command)`: a Windows drive letter would survive as consul-template's
    /// does, and parts after the third are the command's (joined back with `:`).
    pub fn from_flag(s: &str) -> Result<TemplateSpec, String> {
        let parts: Vec<&str> = s.split(':').collect();
        if parts.len() < 2 || parts[0].is_empty() || parts[1].is_empty() {
            return Err(format!(
                "invalid template declaration format {s:?}: want \"in.ctmpl:out.conf[:command]\""
            ));
        }
        let mut t = TemplateSpec::new();
        t.source = Some(PathBuf::from(parts[0]));
        t.destination = PathBuf::from(parts[1]);
        if parts.len() > 2 {
            let cmd = parts[2..].join(":");
            let cmd = strip_quotes(&cmd);
            if !cmd.trim().is_empty() {
                t.command = vec![cmd.to_string()];
            }
        }
        Ok(t)
    }

    /// A short name for messages: the source file, or the destination of inline text.
    pub fn name(&self) -> String {
        match &self.source {
            Some(p) => p.display().to_string(),
            None => format!("(inline) {}", self.destination.display()),
        }
    }
}

fn strip_quotes(s: &str) -> &str {
    let t = s.trim();
    for q in ['"', '\''] {
        if let Some(inner) = t.strip_prefix(q).and_then(|x| x.strip_suffix(q)) {
            return inner;
        }
    }
    t
}

/// Everything a run needs, from the flags and config files.
#[derive(Debug, Clone, PartialEq)]
pub struct RunConfig {
    /// `host:port` or a URL of the agent's HTTP API.
    pub address: Option<String>,
    /// ACL token.
    pub token: Option<String>,
    /// Global quiescence (templates without their own).
    pub wait: Option<Wait>,
    /// Blocking queries wait this long on the server.
    pub block_query_wait: Duration,
    /// Reads may be this stale (0 turns stale reads off).
    pub max_stale: Duration,
    /// Attempts per dependency before the run fails (0: forever).
    pub retry_attempts: u32,
    /// First retry delay, doubled per attempt.
    pub retry_backoff: Duration,
    /// Longest retry delay.
    pub retry_max_backoff: Duration,
    /// Where to write our PID.
    pub pid_file: Option<PathBuf>,
    /// The templates, in order.
    pub templates: Vec<TemplateSpec>,
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            address: None,
            token: None,
            wait: None,
            block_query_wait: Duration::from_secs(60),
            max_stale: Duration::from_secs(2),
            retry_attempts: 12,
            retry_backoff: Duration::from_millis(250),
            retry_max_backoff: Duration::from_secs(60),
            pid_file: None,
            templates: Vec::new(),
        }
    }
}

/// A config file that cannot be used: the file and the key or reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{path}: {reason}")]
pub struct ConfigError {
    /// The file (or directory entry) read.
    pub path: String,
    /// What is wrong, naming the key.
    pub reason: String,
}

/// Read a config path (a file, or every `.hcl`/`.json` file of a directory in name
/// order) into `cfg`.
pub fn load_path(cfg: &mut RunConfig, path: &Path) -> Result<(), ConfigError> {
    let err = |reason: String| ConfigError {
        path: path.display().to_string(),
        reason,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| err(e.to_string()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| matches!(p.extension().and_then(|x| x.to_str()), Some("hcl" | "json")))
            .collect();
        files.sort();
        for f in files {
            load_path(cfg, &f)?;
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| err(e.to_string()))?;
    load_text(
        cfg,
        &text,
        path.extension().and_then(|x| x.to_str()) == Some("json"),
    )
    .map_err(err)
}

/// Apply one document (JSON when `json`, else HCL, which JSON also parses as).
pub fn load_text(cfg: &mut RunConfig, text: &str, json: bool) -> Result<(), String> {
    let doc: Value = if json {
        serde_json::from_str(text).map_err(|e| e.to_string())?
    } else {
        hcl::from_str(text).map_err(|e| first_line(&e.to_string()))?
    };
    apply(cfg, &doc)
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or(s).trim().to_string()
}

fn obj<'a>(v: &'a Value, key: &str) -> Result<&'a serde_json::Map<String, Value>, String> {
    v.as_object()
        .ok_or_else(|| format!("{key}: expected a block or object"))
}

/// HCL gives one block as an object and repeated blocks as a list of them.
fn blocks<'a>(v: &'a Value, key: &str) -> Result<Vec<&'a Value>, String> {
    match v {
        Value::Array(a) => Ok(a.iter().collect()),
        Value::Object(_) => Ok(vec![v]),
        _ => Err(format!("{key}: expected a block")),
    }
}

fn string(v: &Value, key: &str) -> Result<String, String> {
    v.as_str()
        .map(str::to_string)
        .ok_or_else(|| format!("{key}: expected a string"))
}

fn boolean(v: &Value, key: &str) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| format!("{key}: expected true or false"))
}

fn duration(v: &Value, key: &str) -> Result<Duration, String> {
    match v {
        Value::String(s) => dur(s).map_err(|e| format!("{key}: {e}")),
        Value::Number(n) => n
            .as_u64()
            .map(Duration::from_secs)
            .ok_or_else(|| format!("{key}: expected a duration")),
        _ => Err(format!("{key}: expected a duration")),
    }
}

fn wait(v: &Value, key: &str) -> Result<Wait, String> {
    match v {
        Value::String(s) => Wait::parse(s).map_err(|e| format!("{key}: {e}")),
        Value::Object(o) => {
            let mut min = None;
            let mut max = None;
            for (k, x) in o {
                match k.as_str() {
                    "min" => min = Some(duration(x, &format!("{key}.min"))?),
                    "max" => max = Some(duration(x, &format!("{key}.max"))?),
                    "enabled" => {}
                    other => return Err(format!("{key}.{other}: unknown key")),
                }
            }
            let min = min.ok_or_else(|| format!("{key}.min: required"))?;
            let max = max.unwrap_or(min * 4);
            if max < min {
                return Err(format!("{key}: max is less than min"));
            }
            Ok(Wait { min, max })
        }
        Value::Array(a) if a.len() == 1 => wait(&a[0], key),
        _ => Err(format!("{key}: expected \"min:max\" or a block")),
    }
}

fn command(v: &Value, key: &str) -> Result<Vec<String>, String> {
    match v {
        Value::String(s) if s.trim().is_empty() => Ok(Vec::new()),
        Value::String(s) => Ok(vec![s.clone()]),
        Value::Array(a) => a.iter().map(|x| string(x, key)).collect(),
        _ => Err(format!("{key}: expected a string or a list of strings")),
    }
}

fn perms(v: &Value, key: &str) -> Result<u32, String> {
    let mode = match v {
        Value::String(s) => u32::from_str_radix(s.trim_start_matches("0o"), 8)
            .map_err(|_| format!("{key}: expected an octal mode such as \"0644\""))?,
        // HCL and JSON numbers: written 0640 they read as decimal 640; take the digits
        // as octal, which is what the writer meant.
        Value::Number(n) => {
            let d = n
                .as_u64()
                .ok_or_else(|| format!("{key}: expected an octal mode"))?;
            u32::from_str_radix(&d.to_string(), 8)
                .map_err(|_| format!("{key}: expected an octal mode such as 0644"))?
        }
        _ => return Err(format!("{key}: expected an octal mode")),
    };
    if mode > 0o7777 {
        return Err(format!("{key}: mode {mode:o} out of range"));
    }
    Ok(mode)
}

fn apply(cfg: &mut RunConfig, doc: &Value) -> Result<(), String> {
    for (k, v) in obj(doc, "config")? {
        match k.as_str() {
            "consul" => {
                for b in blocks(v, "consul")? {
                    for (ck, cv) in obj(b, "consul")? {
                        let key = format!("consul.{ck}");
                        match ck.as_str() {
                            "address" => cfg.address = Some(string(cv, &key)?),
                            "token" => cfg.token = Some(string(cv, &key)?),
                            "retry" => {
                                for rb in blocks(cv, &key)? {
                                    for (rk, rv) in obj(rb, &key)? {
                                        let rkey = format!("{key}.{rk}");
                                        match rk.as_str() {
                                            "attempts" => {
                                                cfg.retry_attempts =
                                                    rv.as_u64().ok_or_else(|| {
                                                        format!("{rkey}: expected a number")
                                                    })?
                                                        as u32
                                            }
                                            "backoff" => cfg.retry_backoff = duration(rv, &rkey)?,
                                            "max_backoff" => {
                                                cfg.retry_max_backoff = duration(rv, &rkey)?
                                            }
                                            "enabled" => {
                                                if !boolean(rv, &rkey)? {
                                                    cfg.retry_attempts = 1;
                                                }
                                            }
                                            _ => return Err(format!("{rkey}: unknown key")),
                                        }
                                    }
                                }
                            }
                            // Accepted and handled by the HTTP client's defaults.
                            "ssl" | "transport" | "auth" => {}
                            _ => return Err(format!("{key}: unknown key")),
                        }
                    }
                }
            }
            "wait" => cfg.wait = Some(wait(v, "wait")?),
            "max_stale" => cfg.max_stale = duration(v, "max_stale")?,
            "block_query_wait" => cfg.block_query_wait = duration(v, "block_query_wait")?,
            "pid_file" => cfg.pid_file = Some(PathBuf::from(string(v, "pid_file")?)),
            // Accepted: logging goes to stderr at the level of RUST_LOG/-log-level.
            "log_level" | "syslog" | "kill_signal" | "reload_signal" => {}
            "template" => {
                for b in blocks(v, "template")? {
                    cfg.templates.push(template_block(b)?);
                }
            }
            "dedup" | "exec" | "vault" | "nomad" => {
                return Err(format!("{k}: not supported by disco template"));
            }
            _ => return Err(format!("{k}: unknown key")),
        }
    }
    Ok(())
}

fn template_block(b: &Value) -> Result<TemplateSpec, String> {
    let mut t = TemplateSpec::new();
    for (k, v) in obj(b, "template")? {
        let key = format!("template.{k}");
        match k.as_str() {
            "source" => t.source = Some(PathBuf::from(string(v, &key)?)),
            "contents" => t.contents = Some(string(v, &key)?),
            "destination" => t.destination = PathBuf::from(string(v, &key)?),
            "command" => t.command = command(v, &key)?,
            "command_timeout" => t.command_timeout = duration(v, &key)?,
            "exec" => {
                for eb in blocks(v, &key)? {
                    for (ek, ev) in obj(eb, &key)? {
                        let ekey = format!("{key}.{ek}");
                        match ek.as_str() {
                            "command" => t.command = command(ev, &ekey)?,
                            "timeout" => t.command_timeout = duration(ev, &ekey)?,
                            _ => return Err(format!("{ekey}: unknown key")),
                        }
                    }
                }
            }
            "perms" => t.perms = Some(perms(v, &key)?),
            "backup" => t.backup = boolean(v, &key)?,
            "wait" => t.wait = Some(wait(v, &key)?),
            "left_delimiter" => t.left_delimiter = string(v, &key)?,
            "right_delimiter" => t.right_delimiter = string(v, &key)?,
            "create_dest_dirs" => t.create_dest_dirs = boolean(v, &key)?,
            "error_on_missing_key" => t.error_on_missing_key = boolean(v, &key)?,
            // Execution errors always stop the run, as with the default `true`.
            "error_fatal" => {
                if !boolean(v, &key)? {
                    return Err(format!("{key}: only true is supported"));
                }
            }
            _ => return Err(format!("{key}: unknown key")),
        }
    }
    if t.source.is_none() && t.contents.is_none() {
        return Err("template: one of source or contents is required".into());
    }
    if t.source.is_some() && t.contents.is_some() {
        return Err("template: source and contents cannot both be given".into());
    }
    if t.destination.as_os_str().is_empty() {
        return Err("template.destination: required".into());
    }
    if t.left_delimiter.is_empty() || t.right_delimiter.is_empty() {
        return Err("template: delimiters cannot be empty".into());
    }
    Ok(t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_flags_split_like_consul_templates() {
        let t = TemplateSpec::from_flag("in.ctmpl:out.conf").unwrap();
        assert_eq!(t.source.as_deref(), Some(Path::new("in.ctmpl")));
        assert_eq!(t.destination, PathBuf::from("out.conf"));
        assert!(t.command.is_empty());
        let t = TemplateSpec::from_flag(
            "/consul-tml/nginx.ctmpl:/usr/local/nginx/conf/nginx.conf:\"/usr/local/nginx/sbin/nginx -s reload\"",
        )
        .unwrap();
        assert_eq!(t.command, ["/usr/local/nginx/sbin/nginx -s reload"]);
        let t = TemplateSpec::from_flag("a:b:echo a:b:c").unwrap();
        assert_eq!(t.command, ["echo a:b:c"]);
        assert!(TemplateSpec::from_flag("only-one").is_err());
        assert!(TemplateSpec::from_flag(":out").is_err());
    }

    #[test]
    fn waits_default_max_to_four_times_min() {
        assert_eq!(
            Wait::parse("2s").unwrap(),
            Wait {
                min: Duration::from_secs(2),
                max: Duration::from_secs(8)
            }
        );
        assert_eq!(
            Wait::parse("500ms:10s").unwrap().max,
            Duration::from_secs(10)
        );
        assert!(Wait::parse("10s:1s").is_err());
        assert!(Wait::parse("soon").is_err());
    }

    #[test]
    fn hcl_and_json_config_give_the_same_templates() {
        let hcl = r#"
consul {
  address = "127.0.0.1:8500"
  retry {
    attempts = 3
  }
}
wait {
  min = "1s"
  max = "3s"
}
template {
  source      = "a.ctmpl"
  destination = "a.conf"
  command     = "nginx -s reload"
  perms       = 0640
  backup      = true
}
template {
  contents    = "{{ key \"x\" }}"
  destination = "b.conf"
  command     = ["touch", "/tmp/x"]
  wait        = "2s:5s"
}
"#;
        let json = r#"{
  "consul": {"address": "127.0.0.1:8500", "retry": {"attempts": 3}},
  "wait": {"min": "1s", "max": "3s"},
  "template": [
    {"source": "a.ctmpl", "destination": "a.conf", "command": "nginx -s reload", "perms": "0640", "backup": true},
    {"contents": "{{ key \"x\" }}", "destination": "b.conf", "command": ["touch", "/tmp/x"], "wait": "2s:5s"}
  ]
}"#;
        let mut a = RunConfig::default();
        load_text(&mut a, hcl, false).unwrap();
        let mut b = RunConfig::default();
        load_text(&mut b, json, true).unwrap();
        assert_eq!(a, b);
        assert_eq!(a.templates.len(), 2);
        assert_eq!(a.templates[0].perms, Some(0o640));
        assert_eq!(a.retry_attempts, 3);
        assert_eq!(a.templates[1].command, ["touch", "/tmp/x"]);
    }

    #[test]
    fn unknown_and_mistyped_keys_are_named() {
        for (text, wanted) in [
            (
                "template {\n source = \"a\"\n destination = \"b\"\n sorce = 1\n}",
                "template.sorce",
            ),
            ("consul {\n adress = \"x\"\n}", "consul.adress"),
            ("template {\n destination = \"b\"\n}", "source or contents"),
            (
                "template {\n source = \"a\"\n destination = \"b\"\n backup = \"yes\"\n}",
                "template.backup",
            ),
            ("wait = \"fast\"", "wait"),
            ("nonsense = 1", "nonsense"),
            ("template {", ""),
        ] {
            let mut c = RunConfig::default();
            let err = load_text(&mut c, text, false).expect_err(text);
            assert!(err.contains(wanted), "{text}: {err}");
            assert_eq!(err.lines().count(), 1, "{err}");
        }
    }
}
