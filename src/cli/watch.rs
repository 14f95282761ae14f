//! `disco watch -type=TYPE [options] [HANDLER...]`: follow one view of the cluster with
//! blocking queries, as `consul watch` does. Without a handler it prints the first result
//! as JSON and exits; with one it runs the handler (through the shell) on every change,
//! the result's JSON on its standard input and `CONSUL_INDEX` in its environment.

use std::process::Stdio;
use std::time::Duration;

use clap::Args;
use serde_json::Value;
use tokio::io::AsyncWriteExt;
use tokio::signal::unix::{SignalKind, signal};

use super::exec::{CmdResult, client_command, user_command};
use crate::api::path_escape;
use crate::client::Client;

/// First retry after an error; the n-th waits n² times this.
const RETRY_INTERVAL: Duration = Duration::from_secs(5);
/// The longest pause between retries.
const MAX_BACKOFF: Duration = Duration::from_secs(180);

/// Flags of `disco watch`.
#[derive(Args, Debug)]
pub struct WatchFlags {
    /// What to watch: key, keyprefix, services, nodes, service, checks or event.
    #[arg(long = "type")]
    kind: Option<String>,
    /// The key of a `key` watch.
    #[arg(long)]
    key: Option<String>,
    /// The prefix of a `keyprefix` watch.
    #[arg(long)]
    prefix: Option<String>,
    /// The service of a `service` or `checks` watch.
    #[arg(long)]
    service: Option<String>,
    /// Only instances with this tag (repeatable).
    #[arg(long)]
    tag: Vec<String>,
    /// Only passing instances (`service` watches).
    #[arg(long)]
    passingonly: Option<String>,
    /// The check state of a `checks` watch (default any).
    #[arg(long)]
    state: Option<String>,
    /// The event name of an `event` watch.
    #[arg(long)]
    name: Option<String>,
    /// Read from any server (stale reads).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    stale: Option<bool>,
    /// Run the handler through $SHELL -c (default true).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    shell: Option<bool>,
}

/// `disco watch [options] [HANDLER...]`.
pub fn watch(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run)
}

/// What a watch queries, decided once from the flags.
#[derive(Debug, PartialEq, Eq)]
struct Query {
    path: String,
    /// Events: prune what was seen before.
    events: bool,
    /// Single key: the answer is the entry itself (or null), not a list.
    single: bool,
}

fn query(f: &WatchFlags) -> Result<Query, String> {
    let kind = f.kind.as_deref().unwrap_or("");
    if kind.is_empty() {
        return Err("Watch type must be specified".into());
    }
    let given: Vec<(&str, bool)> = vec![
        ("key", f.key.is_some()),
        ("prefix", f.prefix.is_some()),
        ("service", f.service.is_some()),
        ("tag", !f.tag.is_empty()),
        ("passingonly", f.passingonly.is_some()),
        ("state", f.state.is_some()),
        ("name", f.name.is_some()),
    ];
    let allowed: &[&str] = match kind {
        "key" => &["key"],
        "keyprefix" => &["prefix"],
        "services" | "nodes" => &[],
        "service" => &["service", "tag", "passingonly"],
        "checks" => &["service", "state", "tag"],
        "event" => &["name"],
        "connect_roots" | "connect_leaf" | "agent_service" => {
            return Err(format!("Type {kind} is not supported in the CLI tool"));
        }
        _ => return Err(format!("Unsupported watch type: {kind}")),
    };
    let invalid: Vec<&str> = given
        .iter()
        .filter(|(name, set)| *set && !allowed.contains(name))
        .map(|(name, _)| *name)
        .collect();
    if !invalid.is_empty() {
        return Err(format!("Invalid parameters: [{}]", invalid.join(" ")));
    }
    let single = |v: &Option<String>, what: &str| -> Result<String, String> {
        v.clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| format!("Must specify a single {what} to watch"))
    };
    let mut params: Vec<String> = Vec::new();
    let path = match kind {
        "key" => format!("/v1/kv/{}", path_escape(&single(&f.key, "key")?)),
        "keyprefix" => {
            params.push("recurse".into());
            format!("/v1/kv/{}", path_escape(&single(&f.prefix, "prefix")?))
        }
        "services" => "/v1/catalog/services".into(),
        "nodes" => "/v1/catalog/nodes".into(),
        "service" => {
            let name = single(&f.service, "service")?;
            match f.passingonly.as_deref() {
                None | Some("false") => {}
                Some("true") => params.push("passing=1".into()),
                Some(v) => return Err(format!("Failed to parse passingonly: invalid value {v:?}")),
            }
            for t in &f.tag {
                params.push(format!("tag={}", path_escape(t)));
            }
            format!("/v1/health/service/{}", path_escape(&name))
        }
        "checks" => {
            if f.service.is_some() && f.state.is_some() {
                return Err("Cannot specify service and state".into());
            }
            for t in &f.tag {
                params.push(format!("tag={}", path_escape(t)));
            }
            match &f.service {
                Some(s) => format!("/v1/health/checks/{}", path_escape(s)),
                None => format!(
                    "/v1/health/state/{}",
                    path_escape(f.state.as_deref().unwrap_or("any"))
                ),
            }
        }
        _ => {
            if let Some(n) = f.name.as_deref().filter(|n| !n.is_empty()) {
                params.push(format!("name={}", path_escape(n)));
            }
            "/v1/event/list".into()
        }
    };
    if f.stale.unwrap_or(false) {
        params.push("stale".into());
    }
    let path = if params.is_empty() {
        path
    } else {
        format!("{path}?{}", params.join("&"))
    };
    Ok(Query {
        path,
        events: kind == "event",
        single: kind == "key",
    })
}

/// The watch plan's memory: what was last seen, to fire only on change.
#[derive(Default)]
struct Plan {
    index: u64,
    result: Option<Value>,
    /// The newest event handed over, for pruning event lists.
    last_event: Option<String>,
}

impl Plan {
    /// Take an answer; returns what to hand the handler if it is a change. The first
    /// answer always is. An index that went backwards restarts from 0 (the next read does
    /// not block). Event lists are pruned to the events after the last one handed over:
    /// their index is a hash of the newest ID, not a counter, so it is followed as it
    /// is and the list itself says what is new.
    fn observe(&mut self, index: u64, mut result: Value, events: bool) -> Option<Value> {
        let first = self.result.is_none();
        if !first && index == self.index {
            return None;
        }
        if events {
            self.index = index;
            if let Some(list) = result.as_array_mut() {
                if let Some(seen) = self.last_event.as_deref()
                    && let Some(pos) = list.iter().position(|e| e["ID"] == seen)
                {
                    list.drain(..=pos);
                }
                if let Some(id) = list.last().and_then(|e| e["ID"].as_str()) {
                    self.last_event = Some(id.to_string());
                }
                if !first && list.is_empty() {
                    return None;
                }
            }
        } else {
            self.index = if index < self.index { 0 } else { index };
            if self.result.as_ref() == Some(&result) {
                return None;
            }
        }
        self.result = Some(result.clone());
        Some(result)
    }
}

fn backoff(failures: u32) -> Duration {
    (RETRY_INTERVAL * failures.saturating_mul(failures)).min(MAX_BACKOFF)
}

async fn run(cl: Client, f: WatchFlags, args: Vec<String>) -> CmdResult {
    let q = query(&f)?;
    cl.send(reqwest::Method::GET, "/v1/status/leader", None)
        .await
        .map_err(|e| format!("Error querying Consul agent: {e}"))?;
    let handler = (!args.is_empty()).then(|| args.clone());
    let shell = f.shell.unwrap_or(true);

    let mut sigint = signal(SignalKind::interrupt()).map_err(|e| e.to_string())?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(|e| e.to_string())?;
    let mut plan = Plan::default();
    let mut failures = 0u32;
    loop {
        let read = tokio::select! {
            r = cl.get_indexed_as::<Value>(&q.path, plan.index, "300s") => r,
            _ = sigint.recv() => return Ok(0),
            _ = sigterm.recv() => return Ok(0),
        };
        let (mut result, index) = match read {
            Ok(r) => {
                failures = 0;
                r
            }
            Err(e) => {
                failures += 1;
                let wait = backoff(failures);
                eprintln!("Watch errored: {e}; retrying in {}s", wait.as_secs());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => continue,
                    _ = sigint.recv() => return Ok(0),
                    _ = sigterm.recv() => return Ok(0),
                }
            }
        };
        if q.single {
            result = result
                .as_array()
                .and_then(|l| l.first().cloned())
                .unwrap_or(Value::Null);
        }
        let Some(data) = plan.observe(index, result, q.events) else {
            continue;
        };
        let Some(handler) = &handler else {
            let mut out = Vec::new();
            let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
            let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
            serde::Serialize::serialize(&data, &mut ser).map_err(|e| e.to_string())?;
            println!("{}", String::from_utf8_lossy(&out));
            return Ok(0);
        };
        run_handler(handler, shell, &data, index).await?;
    }
}

/// Run the handler once with `data` on its standard input; a failure ends the watch.
async fn run_handler(args: &[String], shell: bool, data: &Value, index: u64) -> Result<(), String> {
    let mut cmd = user_command(args, shell);
    cmd.env("CONSUL_INDEX", index.to_string())
        .stdin(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| format!("Error starting handler: {e}"))?;
    let mut input = serde_json::to_vec(data).map_err(|e| e.to_string())?;
    input.push(b'\n');
    if let Some(mut stdin) = child.stdin.take() {
        // A handler that does not read its input is fine: a closed pipe is not an error.
        let _ = stdin.write_all(&input).await;
    }
    let status = child
        .wait()
        .await
        .map_err(|e| format!("Error executing handler: {e}"))?;
    if !status.success() {
        return Err(format!("Error executing handler: {status}"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::state::id_to_index;
    use serde_json::json;

    fn flags(kind: &str) -> WatchFlags {
        WatchFlags {
            kind: Some(kind.into()),
            key: None,
            prefix: None,
            service: None,
            tag: Vec::new(),
            passingonly: None,
            state: None,
            name: None,
            stale: None,
            shell: None,
        }
    }

    #[test]
    fn each_type_queries_consul_s_endpoint() {
        let mut f = flags("service");
        f.service = Some("web".into());
        f.tag = vec!["v1".into(), "primary".into()];
        f.passingonly = Some("true".into());
        assert_eq!(
            query(&f).unwrap().path,
            "/v1/health/service/web?passing=1&tag=v1&tag=primary"
        );
        let mut f = flags("checks");
        assert_eq!(query(&f).unwrap().path, "/v1/health/state/any");
        f.service = Some("web".into());
        f.state = Some("critical".into());
        assert_eq!(query(&f).unwrap_err(), "Cannot specify service and state");
        let mut f = flags("keyprefix");
        f.prefix = Some("app/".into());
        f.stale = Some(true);
        assert_eq!(query(&f).unwrap().path, "/v1/kv/app/?recurse&stale");
        assert_eq!(
            query(&flags("key")).unwrap_err(),
            "Must specify a single key to watch"
        );
        let mut f = flags("services");
        f.key = Some("x".into());
        assert_eq!(query(&f).unwrap_err(), "Invalid parameters: [key]");
        assert!(
            query(&flags("connect_roots"))
                .unwrap_err()
                .contains("not supported")
        );
        assert_eq!(
            query(&WatchFlags {
                kind: None,
                ..flags("")
            })
            .unwrap_err(),
            "Watch type must be specified"
        );
    }

    #[test]
    fn the_plan_fires_on_change_only_and_events_are_pruned() {
        let mut p = Plan::default();
        assert_eq!(p.observe(5, json!([1]), false), Some(json!([1])));
        assert_eq!(p.observe(5, json!([1]), false), None, "same index");
        assert_eq!(p.observe(6, json!([1]), false), None, "same data");
        assert_eq!(p.observe(7, json!([2]), false), Some(json!([2])));
        assert_eq!(p.observe(3, json!([3]), false), Some(json!([3])));
        assert_eq!(p.index, 0, "an index that went backwards restarts");

        let a = "00000000-0000-0000-0000-00000000000a";
        let b = "00000000-0000-0000-0000-00000000000b";
        let mut p = Plan::default();
        let first = p.observe(id_to_index(a), json!([{"ID": a}]), true);
        assert_eq!(
            first,
            Some(json!([{"ID": a}])),
            "the first call sees everything"
        );
        let next = p.observe(id_to_index(b), json!([{"ID": a}, {"ID": b}]), true);
        assert_eq!(next, Some(json!([{"ID": b}])), "only what is new");
        // The XOR index may go down; the next event is still new and the old ones not.
        let c = "00000000-0000-0000-0000-000000000001";
        let list = json!([{"ID": a}, {"ID": b}, {"ID": c}]);
        assert_eq!(
            p.observe(id_to_index(c), list, true),
            Some(json!([{"ID": c}]))
        );
        assert_eq!(p.index, id_to_index(c));
    }

    #[test]
    fn retries_back_off_quadratically_up_to_three_minutes() {
        assert_eq!(backoff(1), Duration::from_secs(5));
        assert_eq!(backoff(3), Duration::from_secs(45));
        assert_eq!(backoff(100), MAX_BACKOFF);
    }
}
