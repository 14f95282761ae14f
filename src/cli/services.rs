//! `disco services register|deregister`: the local agent's services, from flags or from
//! config-format files.

use clap::Args;
use reqwest::Method;
use serde_json::Value;

use super::exec::{CmdResult, client_command};
use crate::api::path_escape;
use crate::client::Client;

/// Service definitions from a config-format file: `{"service":{..}}` or `{"services":[..]}`.
fn services_from_file(path: &str) -> Result<Vec<Value>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("Error reading {path}: {e}"))?;
    let v: Value = serde_json::from_str(&text).map_err(|e| format!("Error parsing {path}: {e}"))?;
    let obj = v
        .as_object()
        .ok_or_else(|| format!("Error parsing {path}: expected an object"))?;
    let mut out = Vec::new();
    for (k, val) in obj {
        match k.to_ascii_lowercase().as_str() {
            "service" => out.push(val.clone()),
            "services" => out.extend(val.as_array().cloned().unwrap_or_default()),
            other => return Err(format!("Error parsing {path}: invalid config key {other}")),
        }
    }
    Ok(out)
}

/// Flags of `disco services register`.
#[derive(Args, Debug)]
pub struct RegisterFlags {
    /// Service ID (default: the name).
    #[arg(long)]
    id: Option<String>,
    /// Service name.
    #[arg(long)]
    name: Option<String>,
    /// Service address.
    #[arg(long)]
    address: Option<String>,
    /// Service port.
    #[arg(long)]
    port: Option<i64>,
    /// Service tag (repeatable).
    #[arg(long)]
    tag: Vec<String>,
    /// Service metadata `key=value` (repeatable).
    #[arg(long)]
    meta: Vec<String>,
}

/// `disco services register [options] [FILE...]`.
pub fn register(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_register)
}

async fn run_register(cl: Client, c: RegisterFlags, args: Vec<String>) -> CmdResult {
    let mut defs = Vec::new();
    if let Some(name) = &c.name {
        let mut meta = serde_json::Map::new();
        for m in &c.meta {
            let (k, v) = m.split_once('=').ok_or_else(|| {
                format!("invalid value \"{m}\" for flag -meta: expected key=value")
            })?;
            meta.insert(k.into(), Value::String(v.into()));
        }
        defs.push(serde_json::json!({
            "ID": c.id.clone().unwrap_or_default(), "Name": name, "Address": c.address.clone().unwrap_or_default(),
            "Port": c.port.unwrap_or(0), "Tags": c.tag, "Meta": meta,
        }));
    }
    for f in &args {
        defs.extend(services_from_file(f)?);
    }
    if defs.is_empty() {
        return Err("Service registration requires at least one argument or flags.".into());
    }
    for d in defs {
        let name = d
            .as_object()
            .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case("name")))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("")
            .to_string();
        let body = serde_json::to_vec(&d).map_err(|e| e.to_string())?;
        cl.send(Method::PUT, "/v1/agent/service/register", Some(body))
            .await
            .map_err(|e| format!("Error registering service \"{name}\": {e}"))?;
        println!("Registered service: {name}");
    }
    Ok(0)
}

/// Flags of `disco services deregister`.
#[derive(Args, Debug)]
pub struct DeregisterFlags {
    /// ID of the service to deregister.
    #[arg(long)]
    id: Option<String>,
}

/// `disco services deregister [-id ID] [FILE...]`.
pub fn deregister(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_deregister)
}

async fn run_deregister(cl: Client, c: DeregisterFlags, args: Vec<String>) -> CmdResult {
    let mut ids = Vec::new();
    if let Some(id) = &c.id {
        ids.push(id.clone());
    }
    for f in &args {
        for d in services_from_file(f)? {
            let o = d.as_object().cloned().unwrap_or_default();
            let get = |k: &str| {
                o.iter()
                    .find(|(kk, _)| kk.eq_ignore_ascii_case(k))
                    .and_then(|(_, v)| v.as_str())
                    .map(String::from)
            };
            if let Some(id) = get("id").or_else(|| get("name")) {
                ids.push(id);
            }
        }
    }
    if ids.is_empty() {
        return Err("Service deregistration requires at least one argument or -id.".into());
    }
    for id in ids {
        cl.send(
            Method::PUT,
            &format!("/v1/agent/service/deregister/{}", path_escape(&id)),
            None,
        )
        .await
        .map_err(|e| format!("Error deregistering service \"{id}\": {e}"))?;
        println!("Deregistered service: {id}");
    }
    Ok(0)
}
