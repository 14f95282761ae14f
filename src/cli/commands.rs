//! Client commands: each is one or a few HTTP calls and Consul-shaped output.

use std::collections::BTreeMap;

use base64::Engine;
use clap::Parser;
use reqwest::Method;
use serde_json::Value;

use super::flags;
use super::table::columns;
use crate::client::{Client, resolve_addr};

#[derive(Parser, Debug)]
#[command(disable_version_flag = true, args_override_self = true)]
struct Common {
    /// Agent HTTP address.
    #[arg(long = "http-addr")]
    http_addr: Option<String>,
    /// Use stale reads.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    stale: Option<bool>,
    /// Recurse.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    recurse: Option<bool>,
    /// List keys.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    keys: Option<bool>,
    /// Key separator.
    #[arg(long)]
    separator: Option<String>,
    /// Check-and-set.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cas: Option<bool>,
    /// Modify index for -cas.
    #[arg(long = "modify-index")]
    modify_index: Option<u64>,
    /// Flags value.
    #[arg(long)]
    flags: Option<u64>,
    /// Show tags.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tags: Option<bool>,
    /// Detailed output.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    detailed: Option<bool>,
    /// Import prefix.
    #[arg(long)]
    prefix: Option<String>,
    /// Service ID.
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
    /// Service meta k=v (repeatable).
    #[arg(long)]
    meta: Vec<String>,
    /// Member status filter (regular expression).
    #[arg(long)]
    status: Option<String>,
    /// Remove the node from the member list at once (force-leave).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    prune: Option<bool>,
    /// Use the WAN pool.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    wan: Option<bool>,
    /// Enable maintenance mode (maint).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    enable: Option<bool>,
    /// Disable maintenance mode (maint).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    disable: Option<bool>,
    /// Why maintenance mode is on (maint -enable).
    #[arg(long)]
    reason: Option<String>,
    /// Service ID for maintenance mode instead of the node (maint).
    #[arg(long)]
    service: Option<String>,
    /// Positional arguments.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    args: Vec<String>,
}

type CmdResult = Result<i32, String>;

/// Run a client command; returns the exit code.
pub fn run(cmd: &str, rest: &[String]) -> i32 {
    let (sub, args) = match cmd {
        "operator" => match (rest.first().map(String::as_str), rest.get(1)) {
            (Some("raft"), Some(s)) if !s.starts_with('-') => (
                match s.as_str() {
                    "list-peers" => Some("raft list-peers"),
                    "transfer-leader" => Some("raft transfer-leader"),
                    "remove-peer" => Some("raft remove-peer"),
                    other => {
                        eprintln!("Unknown command: operator raft {other}");
                        return 1;
                    }
                },
                &rest[2..],
            ),
            _ => {
                eprintln!(
                    "Usage: disco operator raft <list-peers|transfer-leader|remove-peer> [options]"
                );
                return 1;
            }
        },
        "kv" | "catalog" | "services" => match rest.first() {
            Some(s) if !s.starts_with('-') => (Some(s.as_str()), &rest[1..]),
            _ => {
                eprintln!("Usage: disco {cmd} <subcommand> [options] [args]");
                return 1;
            }
        },
        _ => (None, rest),
    };
    let bin = match sub {
        Some(s) => format!("disco {cmd} {s}"),
        None => format!("disco {cmd}"),
    };
    let c: Common = match flags::parse(&bin, args) {
        Ok(c) => c,
        Err(e) => {
            if e.0.contains("Usage:") {
                println!("{}", e.0);
                return 0;
            }
            eprintln!("{}", e.0);
            return 1;
        }
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
    let client = match Client::new(&resolve_addr(c.http_addr.as_deref())) {
        Ok(cl) => cl,
        Err(e) => {
            eprintln!("{e}");
            return 1;
        }
    };
    let res = rt.block_on(async {
        match (cmd, sub) {
            ("kv", Some("get")) => kv_get(&client, &c).await,
            ("kv", Some("put")) => kv_put(&client, &c).await,
            ("kv", Some("delete")) => kv_delete(&client, &c).await,
            ("kv", Some("export")) => kv_export(&client, &c).await,
            ("kv", Some("import")) => kv_import(&client, &c).await,
            ("catalog", Some("services")) => catalog_services(&client, &c).await,
            ("catalog", Some("nodes")) => catalog_nodes(&client, &c).await,
            ("catalog", Some("datacenters")) => catalog_dcs(&client).await,
            ("services", Some("register")) => services_register(&client, &c).await,
            ("services", Some("deregister")) => services_deregister(&client, &c).await,
            ("info", None) => info(&client).await,
            ("leave", None) => leave(&client).await,
            ("reload", None) => reload(&client).await,
            ("maint", None) => maint(&client, &c).await,
            ("members", None) => members(&client, &c).await,
            ("operator", Some("raft list-peers")) => list_peers(&client, &c).await,
            ("operator", Some("raft transfer-leader")) => transfer_leader(&client, &c).await,
            ("operator", Some("raft remove-peer")) => remove_peer(&client, &c).await,
            ("join", None) => join(&client, &c).await,
            ("force-leave", None) => force_leave(&client, &c).await,
            _ => Err(format!(
                "Unknown command: {}",
                [Some(cmd), sub]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" ")
            )),
        }
    });
    match res {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

use crate::api::path_escape as enc;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

async fn kv_get(cl: &Client, c: &Common) -> CmdResult {
    let key = c
        .args
        .first()
        .map(|k| k.trim_start_matches('/').to_string())
        .unwrap_or_default();
    let stale = if c.stale.unwrap_or(false) {
        "&stale"
    } else {
        ""
    };
    if c.keys.unwrap_or(false) {
        let sep = c.separator.clone().unwrap_or_else(|| "/".into());
        let v = cl
            .get_json(&format!(
                "/v1/kv/{}?keys&separator={}{stale}",
                enc(&key),
                enc(&sep)
            ))
            .await
            .map_err(|e| format!("Error querying Consul agent: {e}"))?;
        for k in v.as_ref().and_then(Value::as_array).into_iter().flatten() {
            println!("{}", k.as_str().unwrap_or(""));
        }
        return Ok(0);
    }
    if c.recurse.unwrap_or(false) {
        let v = cl
            .get_json(&format!("/v1/kv/{}?recurse{stale}", enc(&key)))
            .await
            .map_err(|e| format!("Error querying Consul agent: {e}"))?;
        for e in v.as_ref().and_then(Value::as_array).into_iter().flatten() {
            let val = e["Value"].as_str().map(b64).unwrap_or_default();
            println!(
                "{}:{}",
                e["Key"].as_str().unwrap_or(""),
                String::from_utf8_lossy(&val)
            );
        }
        return Ok(0);
    }
    if key.is_empty() {
        return Err("Error! Missing KEY argument".into());
    }
    let v = cl
        .get_json(&format!("/v1/kv/{}?{stale}", enc(&key)))
        .await
        .map_err(|e| format!("Error querying Consul agent: {e}"))?;
    let Some(e) = v.as_ref().and_then(|v| v.get(0)) else {
        return Err(format!("Error! No key exists at: {key}"));
    };
    let val = e["Value"].as_str().map(b64).unwrap_or_default();
    if c.detailed.unwrap_or(false) {
        let session = e["Session"].as_str().unwrap_or("-");
        let rows = vec![
            vec!["CreateIndex".into(), e["CreateIndex"].to_string()],
            vec!["Flags".into(), e["Flags"].to_string()],
            vec!["Key".into(), key.clone()],
            vec!["LockIndex".into(), e["LockIndex"].to_string()],
            vec!["ModifyIndex".into(), e["ModifyIndex"].to_string()],
            vec!["Session".into(), session.to_string()],
            vec!["Value".into(), String::from_utf8_lossy(&val).into_owned()],
        ];
        print!("{}", columns(&rows));
    } else {
        println!("{}", String::from_utf8_lossy(&val));
    }
    Ok(0)
}

async fn kv_put(cl: &Client, c: &Common) -> CmdResult {
    let Some(key) = c
        .args
        .first()
        .map(|k| k.trim_start_matches('/').to_string())
    else {
        return Err("Error! Missing KEY argument".into());
    };
    let data = match c.args.get(1).map(String::as_str) {
        None => Vec::new(),
        Some("-") => {
            let mut buf = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut buf)
                .map_err(|e| format!("Error! Failed to read stdin: {e}"))?;
            buf
        }
        Some(s) if s.starts_with('@') => {
            std::fs::read(&s[1..]).map_err(|e| format!("Failed to read file: {e}"))?
        }
        Some(s) => s.as_bytes().to_vec(),
    };
    let mut q = Vec::new();
    if let Some(f) = c.flags {
        q.push(format!("flags={f}"));
    }
    if c.cas.unwrap_or(false) {
        q.push(format!("cas={}", c.modify_index.unwrap_or(0)));
    }
    let (_, body) = cl
        .send(
            Method::PUT,
            &format!("/v1/kv/{}?{}", enc(&key), q.join("&")),
            Some(data),
        )
        .await
        .map_err(|e| format!("Error! Failed writing data: {e}"))?;
    if String::from_utf8_lossy(&body).trim() != "true" {
        if c.cas.unwrap_or(false) && c.modify_index.unwrap_or(0) == 0 {
            return Err(format!(
                "Error! Did not write to {key}: CAS performed with index=0 and key already exists."
            ));
        }
        return Err(format!("Error! Did not write to {key}: CAS failed"));
    }
    println!("Success! Data written to: {key}");
    Ok(0)
}

async fn kv_delete(cl: &Client, c: &Common) -> CmdResult {
    let key = c
        .args
        .first()
        .map(|k| k.trim_start_matches('/').to_string())
        .unwrap_or_default();
    if c.modify_index.is_some() && !c.cas.unwrap_or(false) {
        return Err("Cannot specify -modify-index without -cas!".into());
    }
    let recurse = c.recurse.unwrap_or(false);
    if key.is_empty() && !recurse {
        return Err("Error! Missing KEY argument".into());
    }
    let q = if recurse {
        "recurse".to_string()
    } else if c.cas.unwrap_or(false) {
        format!("cas={}", c.modify_index.unwrap_or(0))
    } else {
        String::new()
    };
    let (_, body) = cl
        .send(Method::DELETE, &format!("/v1/kv/{}?{q}", enc(&key)), None)
        .await
        .map_err(|e| format!("Error! Did not delete key {key}: {e}"))?;
    if String::from_utf8_lossy(&body).trim() != "true" {
        return Err(format!("Error! Did not delete key {key}: CAS failed"));
    }
    if recurse {
        println!("Success! Deleted keys with prefix: {key}");
    } else {
        println!("Success! Deleted key: {key}");
    }
    Ok(0)
}

async fn kv_export(cl: &Client, c: &Common) -> CmdResult {
    let prefix = c.args.first().cloned().unwrap_or_default();
    let v = cl
        .get_json(&format!("/v1/kv/{}?recurse", enc(&prefix)))
        .await
        .map_err(|e| format!("Error querying Consul agent: {e}"))?;
    let list: Vec<Value> = v
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|e| serde_json::json!({"key": e["Key"], "flags": e["Flags"], "value": e["Value"].as_str().unwrap_or("")}))
        .collect();
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"\t");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(&list, &mut ser).map_err(|e| e.to_string())?;
    println!("{}", String::from_utf8_lossy(&out));
    Ok(0)
}

async fn kv_import(cl: &Client, c: &Common) -> CmdResult {
    let data = match c.args.first().map(String::as_str) {
        None | Some("-") => {
            let mut buf = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut buf)
                .map_err(|e| e.to_string())?;
            buf
        }
        Some(s) if s.starts_with('@') => {
            std::fs::read_to_string(&s[1..]).map_err(|e| format!("Failed to read file: {e}"))?
        }
        Some(s) => s.to_string(),
    };
    let entries: Vec<Value> =
        serde_json::from_str(&data).map_err(|e| format!("Cannot unmarshal data: {e}"))?;
    let prefix = c.prefix.clone().unwrap_or_default();
    for e in entries {
        let key = format!("{prefix}{}", e["key"].as_str().unwrap_or(""));
        let val = e["value"].as_str().map(b64).unwrap_or_default();
        let flags = e["flags"].as_u64().unwrap_or(0);
        cl.send(
            Method::PUT,
            &format!("/v1/kv/{}?flags={flags}", enc(&key)),
            Some(val),
        )
        .await
        .map_err(|e| format!("Error! Failed writing data for key {key}: {e}"))?;
        println!("Imported: {key}");
    }
    Ok(0)
}

async fn catalog_services(cl: &Client, c: &Common) -> CmdResult {
    let v = cl
        .get_json("/v1/catalog/services")
        .await
        .map_err(|e| format!("Error listing services: {e}"))?;
    let map = v
        .as_ref()
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default();
    if map.is_empty() {
        eprintln!("No services match the given query - try expanding your search.");
        return Ok(0);
    }
    let names: Vec<&String> = map.keys().collect();
    if c.tags.unwrap_or(false) {
        let width = names.iter().map(|n| n.len()).max().unwrap_or(0) + 6;
        for n in names {
            let mut tags: Vec<&str> = map[n]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .collect();
            tags.sort();
            println!("{}", format!("{n:<width$}{}", tags.join(",")).trim_end());
        }
    } else {
        for n in names {
            println!("{n}");
        }
    }
    Ok(0)
}

async fn catalog_nodes(cl: &Client, c: &Common) -> CmdResult {
    let v = cl
        .get_json("/v1/catalog/nodes")
        .await
        .map_err(|e| format!("Error listing nodes: {e}"))?;
    let nodes = v
        .as_ref()
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if nodes.is_empty() {
        eprintln!("No nodes match the given query - try expanding your search.");
        return Ok(0);
    }
    let detailed = c.detailed.unwrap_or(false);
    let mut rows = vec![if detailed {
        vec!["Node", "ID", "Address", "DC", "TaggedAddresses", "Meta"]
            .into_iter()
            .map(String::from)
            .collect()
    } else {
        vec!["Node", "ID", "Address", "DC"]
            .into_iter()
            .map(String::from)
            .collect::<Vec<_>>()
    }];
    for n in nodes {
        let id = n["ID"].as_str().unwrap_or("");
        let short = id.split('-').next().unwrap_or("").to_string();
        let mut row = vec![
            n["Node"].as_str().unwrap_or("").to_string(),
            if detailed { id.to_string() } else { short },
            n["Address"].as_str().unwrap_or("").to_string(),
            n["Datacenter"].as_str().unwrap_or("").to_string(),
        ];
        if detailed {
            let kv = |v: &Value| {
                let m: BTreeMap<String, String> = v
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or("").to_string()))
                    .collect();
                m.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            row.push(kv(&n["TaggedAddresses"]));
            row.push(kv(&n["Meta"]));
        }
        rows.push(row);
    }
    print!("{}", columns(&rows));
    Ok(0)
}

async fn catalog_dcs(cl: &Client) -> CmdResult {
    let v = cl
        .get_json("/v1/catalog/datacenters")
        .await
        .map_err(|e| format!("Error listing datacenters: {e}"))?;
    for d in v.as_ref().and_then(Value::as_array).into_iter().flatten() {
        println!("{}", d.as_str().unwrap_or(""));
    }
    Ok(0)
}

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

async fn services_register(cl: &Client, c: &Common) -> CmdResult {
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
    for f in &c.args {
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

async fn services_deregister(cl: &Client, c: &Common) -> CmdResult {
    let mut ids = Vec::new();
    if let Some(id) = &c.id {
        ids.push(id.clone());
    }
    for f in &c.args {
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
            &format!("/v1/agent/service/deregister/{}", enc(&id)),
            None,
        )
        .await
        .map_err(|e| format!("Error deregistering service \"{id}\": {e}"))?;
        println!("Deregistered service: {id}");
    }
    Ok(0)
}

async fn reload(cl: &Client) -> CmdResult {
    cl.send(Method::PUT, "/v1/agent/reload", None)
        .await
        .map_err(|e| format!("Error reloading: {e}"))?;
    println!("Configuration reload triggered");
    Ok(0)
}

/// `disco maint`: list, enable or disable node or service maintenance mode.
async fn maint(cl: &Client, c: &Common) -> CmdResult {
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
        query.push_str(&enc(r));
    }
    let state = if enable { "enabled" } else { "disabled" };
    match &c.service {
        Some(id) => {
            let path = format!("/v1/agent/service/maintenance/{}?{query}", enc(id));
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

async fn info(cl: &Client) -> CmdResult {
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

async fn leave(cl: &Client) -> CmdResult {
    cl.send(Method::PUT, "/v1/agent/leave", None)
        .await
        .map_err(|e| format!("Error leaving: {e}"))?;
    println!("Graceful leave complete");
    Ok(0)
}

fn status_name(code: Option<i64>) -> &'static str {
    match code {
        Some(1) => "alive",
        Some(2) => "leaving",
        Some(3) => "left",
        Some(4) => "failed",
        _ => "none",
    }
}

async fn members(cl: &Client, c: &Common) -> CmdResult {
    let filter = match &c.status {
        Some(re) => Some(
            regex::Regex::new(re).map_err(|e| format!("Failed to compile status regexp: {e}"))?,
        ),
        None => None,
    };
    let path = if c.wan == Some(true) {
        "/v1/agent/members?wan=1"
    } else {
        "/v1/agent/members?segment=_all"
    };
    let v = cl
        .get_json(path)
        .await
        .map_err(|e| format!("Error retrieving members: {e}"))?;
    let mut list: Vec<&Value> = v
        .as_ref()
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter(|m| {
            filter
                .as_ref()
                .is_none_or(|re| re.is_match(status_name(m["Status"].as_i64())))
        })
        .collect();
    if list.is_empty() {
        return Ok(2);
    }
    // Servers first, then by name (Consul's order).
    list.sort_by_key(|m| {
        (
            m["Tags"]["role"] != "consul",
            m["Name"].as_str().unwrap_or("").to_string(),
        )
    });
    let detailed = c.detailed == Some(true);
    let header: &[&str] = if detailed {
        &["Node", "Address", "Status", "Tags"]
    } else {
        &[
            "Node",
            "Address",
            "Status",
            "Type",
            "Build",
            "Protocol",
            "DC",
            "Partition",
            "Segment",
        ]
    };
    let mut rows = vec![header.iter().map(|s| s.to_string()).collect::<Vec<_>>()];
    for m in list {
        let tags = &m["Tags"];
        let name = m["Name"].as_str().unwrap_or("").to_string();
        let addr = format!("{}:{}", m["Addr"].as_str().unwrap_or(""), m["Port"]);
        let status = status_name(m["Status"].as_i64()).to_string();
        if detailed {
            let pairs: Vec<String> = tags
                .as_object()
                .map(|o| {
                    o.iter()
                        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
                        .collect()
                })
                .unwrap_or_default();
            rows.push(vec![name, addr, status, pairs.join(",")]);
            continue;
        }
        let kind = match tags["role"].as_str() {
            Some("consul") => "server",
            Some("node") => "client",
            _ => "unknown",
        };
        if kind == "unknown" {
            rows.push(vec![name, addr, status, kind.into()]);
            continue;
        }
        let server = kind == "server";
        rows.push(vec![
            name,
            addr,
            status,
            kind.into(),
            tags["build"]
                .as_str()
                .unwrap_or("")
                .split(':')
                .next()
                .unwrap_or("")
                .into(),
            tags["vsn"].as_str().unwrap_or("").into(),
            tags["dc"].as_str().unwrap_or("").into(),
            "default".into(),
            if server {
                "<all>".into()
            } else {
                "<default>".into()
            },
        ]);
    }
    print!("{}", columns(&rows));
    Ok(0)
}

async fn join(cl: &Client, c: &Common) -> CmdResult {
    if c.args.is_empty() {
        return Err("At least one address to join must be specified.".into());
    }
    let wan = if c.wan == Some(true) { "?wan=1" } else { "" };
    let mut joined = 0;
    for a in &c.args {
        match cl
            .send(Method::PUT, &format!("/v1/agent/join/{a}{wan}"), None)
            .await
        {
            Ok(_) => joined += 1,
            Err(e) => eprintln!("Error joining address '{a}': {e}"),
        }
    }
    if joined == 0 {
        return Err("Failed to join any nodes.".into());
    }
    println!("Successfully joined cluster by contacting {joined} nodes.");
    Ok(0)
}

async fn force_leave(cl: &Client, c: &Common) -> CmdResult {
    if c.args.len() != 1 {
        return Err("A single node name must be specified to force leave.".into());
    }
    let mut q = Vec::new();
    if c.prune == Some(true) {
        q.push("prune=1");
    }
    if c.wan == Some(true) {
        q.push("wan=1");
    }
    let qs = if q.is_empty() {
        String::new()
    } else {
        format!("?{}", q.join("&"))
    };
    cl.send(
        Method::PUT,
        &format!("/v1/agent/force-leave/{}{qs}", c.args[0]),
        None,
    )
    .await
    .map_err(|e| format!("Error force leaving: {e}"))?;
    Ok(0)
}

async fn list_peers(cl: &Client, c: &Common) -> CmdResult {
    let path = if c.stale == Some(true) {
        "/v1/operator/raft/configuration?stale"
    } else {
        "/v1/operator/raft/configuration"
    };
    let v = cl
        .get_json(path)
        .await
        .map_err(|e| format!("Error getting peers: Failed to retrieve raft configuration: {e}"))?
        .unwrap_or_default();
    let servers = v["Servers"].as_array().cloned().unwrap_or_default();
    let leader_index = servers
        .iter()
        .find(|s| s["Leader"] == true)
        .and_then(|s| s["LastIndex"].as_u64())
        .unwrap_or(0);
    let mut rows = vec![
        [
            "Node",
            "ID",
            "Address",
            "State",
            "Voter",
            "RaftProtocol",
            "Commit Index",
            "Trails Leader By",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect::<Vec<_>>(),
    ];
    for s in &servers {
        let leader = s["Leader"] == true;
        let last = s["LastIndex"].as_u64().unwrap_or(0);
        let trails = if leader {
            "-".to_string()
        } else {
            let n = leader_index.saturating_sub(last);
            format!("{n} commit{}", if n == 1 { "" } else { "s" })
        };
        rows.push(vec![
            s["Node"].as_str().unwrap_or("").into(),
            s["ID"].as_str().unwrap_or("").into(),
            s["Address"].as_str().unwrap_or("").into(),
            if leader { "leader" } else { "follower" }.into(),
            s["Voter"].as_bool().unwrap_or(false).to_string(),
            s["ProtocolVersion"].as_str().unwrap_or("<=1").into(),
            last.to_string(),
            trails,
        ]);
    }
    print!("{}", columns(&rows));
    Ok(0)
}

async fn transfer_leader(cl: &Client, c: &Common) -> CmdResult {
    let path = match &c.id {
        Some(id) => format!("/v1/operator/raft/transfer-leader?id={id}"),
        None => "/v1/operator/raft/transfer-leader".to_string(),
    };
    cl.send(Method::POST, &path, None)
        .await
        .map_err(|e| format!("Error transfering leadership: Failed to transfer leadership {e}"))?;
    println!("Success");
    Ok(0)
}

async fn remove_peer(cl: &Client, c: &Common) -> CmdResult {
    let (q, what) = match (&c.id, &c.address) {
        (None, None) => {
            return Err(
                "Error removing peer: an address or id is required for the peer to remove".into(),
            );
        }
        (Some(_), Some(_)) => {
            return Err("Error removing peer: cannot give both an address and id".into());
        }
        (Some(id), None) => (format!("id={id}"), format!("Removed peer with id \"{id}\"")),
        (None, Some(a)) => (
            format!("address={a}"),
            format!("Removed peer with address \"{a}\""),
        ),
    };
    cl.send(Method::DELETE, &format!("/v1/operator/raft/peer?{q}"), None)
        .await
        .map_err(|e| format!("Error removing peer: {e}"))?;
    println!("{what}");
    Ok(0)
}
