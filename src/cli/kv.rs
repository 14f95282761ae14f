//! `disco kv get|put|delete|export|import`: the KV store, as `consul kv` prints it.

use base64::Engine;
use clap::Args;
use reqwest::Method;
use serde_json::Value;

use super::exec::{CmdResult, NoFlags, client_command};
use super::table::columns;
use crate::api::path_escape;
use crate::client::Client;

fn b64(s: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(s)
        .unwrap_or_default()
}

/// Flags of `disco kv get`.
#[derive(Args, Debug)]
pub struct GetFlags {
    /// Read from any server, even a follower (stale read).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    stale: Option<bool>,
    /// Print every key under the prefix with its value.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    recurse: Option<bool>,
    /// List keys (up to -separator) instead of values.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    keys: Option<bool>,
    /// Separator for -keys (default "/").
    #[arg(long)]
    separator: Option<String>,
    /// Print the entry's metadata too.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    detailed: Option<bool>,
}

/// `disco kv get [options] KEY`.
pub fn get(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_get)
}

async fn run_get(cl: Client, c: GetFlags, args: Vec<String>) -> CmdResult {
    let key = args
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
                path_escape(&key),
                path_escape(&sep)
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
            .get_json(&format!("/v1/kv/{}?recurse{stale}", path_escape(&key)))
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
        .get_json(&format!("/v1/kv/{}?{stale}", path_escape(&key)))
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

/// Flags of `disco kv put`.
#[derive(Args, Debug)]
pub struct PutFlags {
    /// Opaque flags stored with the value.
    #[arg(long)]
    flags: Option<u64>,
    /// Write only if the key's modify index is -modify-index (check-and-set).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cas: Option<bool>,
    /// Modify index for -cas (0: only if the key does not exist).
    #[arg(long = "modify-index")]
    modify_index: Option<u64>,
}

/// `disco kv put [options] KEY [VALUE|-|@FILE]`.
pub fn put(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_put)
}

async fn run_put(cl: Client, c: PutFlags, args: Vec<String>) -> CmdResult {
    let Some(key) = args.first().map(|k| k.trim_start_matches('/').to_string()) else {
        return Err("Error! Missing KEY argument".into());
    };
    let data = match args.get(1).map(String::as_str) {
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
            &format!("/v1/kv/{}?{}", path_escape(&key), q.join("&")),
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

/// Flags of `disco kv delete`.
#[derive(Args, Debug)]
pub struct DeleteFlags {
    /// Delete every key under the prefix.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    recurse: Option<bool>,
    /// Delete only if the key's modify index is -modify-index.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cas: Option<bool>,
    /// Modify index for -cas.
    #[arg(long = "modify-index")]
    modify_index: Option<u64>,
}

/// `disco kv delete [options] KEY`.
pub fn delete(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_delete)
}

async fn run_delete(cl: Client, c: DeleteFlags, args: Vec<String>) -> CmdResult {
    let key = args
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
        .send(
            Method::DELETE,
            &format!("/v1/kv/{}?{q}", path_escape(&key)),
            None,
        )
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

/// `disco kv export [PREFIX]`.
pub fn export(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_export)
}

async fn run_export(cl: Client, _c: NoFlags, args: Vec<String>) -> CmdResult {
    let prefix = args.first().cloned().unwrap_or_default();
    let v = cl
        .get_json(&format!("/v1/kv/{}?recurse", path_escape(&prefix)))
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

/// Flags of `disco kv import`.
#[derive(Args, Debug)]
pub struct ImportFlags {
    /// Prefix added to every imported key.
    #[arg(long)]
    prefix: Option<String>,
}

/// `disco kv import [-|@FILE|DATA]`.
pub fn import(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_import)
}

async fn run_import(cl: Client, c: ImportFlags, args: Vec<String>) -> CmdResult {
    let data = match args.first().map(String::as_str) {
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
            &format!("/v1/kv/{}?flags={flags}", path_escape(&key)),
            Some(val),
        )
        .await
        .map_err(|e| format!("Error! Failed writing data for key {key}: {e}"))?;
        println!("Imported: {key}");
    }
    Ok(0)
}
