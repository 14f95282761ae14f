//! `disco keyring -list|-install KEY|-use KEY|-remove KEY`: the gossip keyring of every
//! member, through `/v1/operator/keyring`, printed as `consul keyring` prints it.

use clap::Args;
use reqwest::Method;
use serde_json::{Value, json};

use super::exec::{CmdResult, client_command};
use crate::client::Client;

/// Flags of `disco keyring`.
#[derive(Args, Debug)]
pub struct KeyringFlags {
    /// List the installed keys and how many members hold each.
    #[arg(long)]
    list: bool,
    /// List the primary keys instead.
    #[arg(long = "list-primary")]
    list_primary: bool,
    /// Install a new key (base64) on every member.
    #[arg(long)]
    install: Option<String>,
    /// Make an installed key primary on every member.
    #[arg(long = "use")]
    use_key: Option<String>,
    /// Remove a key from every member.
    #[arg(long)]
    remove: Option<String>,
    /// With -list: this agent's keys only.
    #[arg(long = "local-only")]
    local_only: bool,
    /// Members that relay each answer (0-5).
    #[arg(long = "relay-factor", default_value_t = 0)]
    relay_factor: u8,
}

/// `disco keyring [options]`.
pub fn keyring(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run)
}

/// Consul's layout of one pool's answer: `dc1 (LAN):` then `  KEY [held/members]`.
fn format_pool(resp: &Value, field: &str, primary: bool) -> String {
    let mut out = String::from("\n");
    let pool = if resp["WAN"].as_bool() == Some(true) {
        "WAN".to_string()
    } else {
        format!("{} (LAN)", resp["Datacenter"].as_str().unwrap_or(""))
    };
    out.push_str(&pool);
    if primary {
        out.push_str(" [primary]");
    }
    out.push_str(":\n");
    if let Some(m) = resp["Messages"].as_object() {
        for (from, msg) in m {
            out.push_str(&format!("  ===> {from}: {}\n", msg.as_str().unwrap_or("")));
        }
    }
    let total = resp["NumNodes"].as_u64().unwrap_or(0);
    if let Some(keys) = resp[field].as_object() {
        for (key, n) in keys {
            out.push_str(&format!("  {key} [{}/{total}]\n", n.as_u64().unwrap_or(0)));
        }
    }
    out.trim_end_matches('\n').to_string()
}

async fn run(cl: Client, f: KeyringFlags, args: Vec<String>) -> CmdResult {
    if !args.is_empty() {
        return Err("Too many arguments".into());
    }
    if f.relay_factor > 5 {
        return Err("Error parsing relay factor: Relay factor must be in range: [0, 5]".into());
    }
    let actions = [
        f.list || f.list_primary,
        f.install.is_some(),
        f.use_key.is_some(),
        f.remove.is_some(),
    ]
    .iter()
    .filter(|a| **a)
    .count();
    if actions > 1 {
        return Err("Only a single action is allowed".into());
    }
    if actions == 0 {
        return Err("Must specify exactly one action".into());
    }
    if f.local_only && !(f.list || f.list_primary) {
        return Err("Cannot use -local-only with install, use or remove".into());
    }
    let relay = format!("relay-factor={}", f.relay_factor);
    if f.list || f.list_primary {
        println!("==> Gathering installed encryption keys...");
        let local = if f.local_only { "&local-only=1" } else { "" };
        let (_, body) = cl
            .send(
                Method::GET,
                &format!("/v1/operator/keyring?{relay}{local}"),
                None,
            )
            .await
            .map_err(|e| format!("error: {e}"))?;
        let list: Vec<Value> = serde_json::from_slice(&body).map_err(|e| format!("error: {e}"))?;
        for resp in &list {
            if f.list_primary {
                println!("{}", format_pool(resp, "PrimaryKeys", true));
            } else {
                println!("{}", format_pool(resp, "Keys", false));
            }
        }
        return Ok(0);
    }
    let (method, key, say) = if let Some(k) = f.install {
        (Method::POST, k, "Installing new gossip encryption key...")
    } else if let Some(k) = f.use_key {
        (Method::PUT, k, "Changing primary gossip encryption key...")
    } else if let Some(k) = f.remove {
        (Method::DELETE, k, "Removing gossip encryption key...")
    } else {
        return Err("Must specify exactly one action".into());
    };
    println!("==> {say}");
    let body = serde_json::to_vec(&json!({ "Key": key })).map_err(|e| e.to_string())?;
    cl.send(method, &format!("/v1/operator/keyring?{relay}"), Some(body))
        .await
        .map_err(|e| format!("error: {e}"))?;
    Ok(0)
}
