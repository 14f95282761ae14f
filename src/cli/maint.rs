//! `disco maint|reload|info`: the local agent's maintenance mode, configuration reload and
//! debugging statistics.

use clap::Args;
use reqwest::Method;
use serde_json::Value;

use super::exec::{CmdResult, NoFlags, client_command};
use crate::api::path_escape;
use crate::client::Client;

/// Flags of `disco maint`.
#[derive(Args, Debug)]
pub struct MaintFlags {
    /// Enable maintenance mode.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable: Option<bool>,
    /// Disable maintenance mode.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    disable: Option<bool>,
    /// Why maintenance mode is on (with -enable).
    #[arg(long)]
    reason: Option<String>,
    /// Service ID to put in maintenance instead of the node.
    #[arg(long)]
    service: Option<String>,
}

/// `disco maint [options]`.
pub fn maint(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_maint)
}

/// `disco maint`: list, enable or disable node or service maintenance mode.
async fn run_maint(cl: Client, c: MaintFlags, _args: Vec<String>) -> CmdResult {
    let enable = c.enable.unwrap_or(false);
    let disable = c.disable.unwrap_or(false);
    if enable && disable {
        return Err("Only one of -enable or -disable may be provided".into());
    }
    if !enable && c.reason.is_some() {
        return Err("Reason may only be provided with -enable".into());
    }
    if !enable && !disable {
        if c.service.is_some() {
            return Err("Service requires either -enable or -disable".into());
        }
        let checks = cl
            .get_json("/v1/agent/checks")
            .await
            .map_err(|e| format!("Error getting checks: {e}"))?
            .unwrap_or_default();
        let Some(map) = checks.as_object() else {
            return Ok(0);
        };
        let str_of =
            |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        for (id, chk) in map {
            if id == "_node_maintenance" {
                println!("Node:");
                println!("  Name:   {}", str_of(chk, "Node"));
                println!("  Reason: {}", str_of(chk, "Notes"));
                println!();
            } else if let Some(sid) = id.strip_prefix("_service_maintenance:") {
                println!("Service:");
                println!("  ID:     {sid}");
                println!("  Reason: {}", str_of(chk, "Notes"));
                println!();
            }
        }
        return Ok(0);
    }
    let mut query = format!("enable={enable}");
    if let Some(r) = &c.reason {
        query.push_str("&reason=");
        query.push_str(&path_escape(r));
    }
    let state = if enable { "enabled" } else { "disabled" };
    match &c.service {
        Some(id) => {
            let path = format!("/v1/agent/service/maintenance/{}?{query}", path_escape(id));
            cl.send(Method::PUT, &path, None).await.map_err(|e| {
                format!(
                    "Error {} service maintenance: {e}",
                    if enable { "enabling" } else { "disabling" }
                )
            })?;
            println!("Service maintenance is now {state} for \"{id}\"");
        }
        None => {
            cl.send(Method::PUT, &format!("/v1/agent/maintenance?{query}"), None)
                .await
                .map_err(|e| {
                    format!(
                        "Error {} node maintenance: {e}",
                        if enable { "enabling" } else { "disabling" }
                    )
                })?;
            println!("Node maintenance is now {state}");
        }
    }
    Ok(0)
}

/// `disco reload`.
pub fn reload(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_reload)
}

async fn run_reload(cl: Client, _c: NoFlags, _args: Vec<String>) -> CmdResult {
    cl.send(Method::PUT, "/v1/agent/reload", None)
        .await
        .map_err(|e| format!("Error reloading: {e}"))?;
    println!("Configuration reload triggered");
    Ok(0)
}

/// `disco info`.
pub fn info(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_info)
}

async fn run_info(cl: Client, _c: NoFlags, _args: Vec<String>) -> CmdResult {
    let v = cl
        .get_json("/v1/agent/self")
        .await
        .map_err(|e| format!("Error querying agent: {e}"))?;
    let stats = v
        .as_ref()
        .and_then(|v| v["Stats"].as_object().cloned())
        .unwrap_or_default();
    for (section, vals) in stats {
        println!("{section}:");
        for (k, val) in vals.as_object().into_iter().flatten() {
            let s = val
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| val.to_string());
            println!("\t{k} = {s}");
        }
    }
    Ok(0)
}
