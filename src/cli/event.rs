//! `disco event -name NAME [-node RE] [-service RE] [-tag RE] [PAYLOAD]`: fire a user event
//! into the gossip pool, as `consul event` does.

use clap::Args;
use reqwest::Method;

use super::exec::{CmdResult, client_command};
use crate::api::path_escape;
use crate::client::Client;

/// Flags of `disco event`.
#[derive(Args, Debug)]
pub struct EventFlags {
    /// Name of the event.
    #[arg(long)]
    name: Option<String>,
    /// Regular expression of the node names that keep the event.
    #[arg(long)]
    node: Option<String>,
    /// Regular expression of the service an agent must run to keep the event.
    #[arg(long)]
    service: Option<String>,
    /// Regular expression of a tag of that service (needs -service).
    #[arg(long)]
    tag: Option<String>,
}

/// `disco event [options] [PAYLOAD]`.
pub fn event(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run)
}

async fn run(cl: Client, f: EventFlags, args: Vec<String>) -> CmdResult {
    let name = f.name.clone().unwrap_or_default();
    if name.is_empty() {
        return Err("Event name must be specified".into());
    }
    for (what, re) in [("node", &f.node), ("service", &f.service), ("tag", &f.tag)] {
        if let Some(re) = re.as_deref().filter(|r| !r.is_empty()) {
            regex::Regex::new(re).map_err(|e| {
                // The regex crate's message spans lines (pattern, caret, reason): keep the reason.
                let text = e.to_string();
                let reason = text.lines().last().unwrap_or("").trim().to_string();
                format!("Failed to compile {what} filter regexp: {reason}")
            })?;
        }
    }
    if f.tag.as_deref().is_some_and(|t| !t.is_empty())
        && f.service.as_deref().is_none_or(str::is_empty)
    {
        return Err("Cannot provide tag filter without service filter.".into());
    }
    if args.len() > 1 {
        return Err("Too many command line arguments.".into());
    }
    let payload = args.first().map(|p| p.as_bytes().to_vec());

    cl.send(Method::GET, "/v1/agent/self", None)
        .await
        .map_err(|e| format!("Error querying Consul agent: {e}"))?;

    let mut query = Vec::new();
    for (k, v) in [("node", &f.node), ("service", &f.service), ("tag", &f.tag)] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            query.push(format!("{k}={}", path_escape(v)));
        }
    }
    let mut path = format!("/v1/event/fire/{}", path_escape(&name));
    if !query.is_empty() {
        path = format!("{path}?{}", query.join("&"));
    }
    let (_, body) = cl
        .send(Method::PUT, &path, payload)
        .await
        .map_err(|e| format!("Error firing event: {e}"))?;
    let ev: serde_json::Value =
        serde_json::from_slice(&body).map_err(|e| format!("Error firing event: {e}"))?;
    println!("Event ID: {}", ev["ID"].as_str().unwrap_or(""));
    Ok(0)
}
