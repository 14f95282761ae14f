//! `disco catalog services|nodes|datacenters`.

use std::collections::BTreeMap;

use clap::Args;
use serde_json::Value;

use super::exec::{CmdResult, NoFlags, client_command};
use super::table::columns;
use crate::client::Client;

/// Flags of `disco catalog services`.
#[derive(Args, Debug)]
pub struct ServicesFlags {
    /// Show each service's tags.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    tags: Option<bool>,
}

/// `disco catalog services`.
pub fn services(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_services)
}

async fn run_services(cl: Client, c: ServicesFlags, _args: Vec<String>) -> CmdResult {
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

/// Flags of `disco catalog nodes`.
#[derive(Args, Debug)]
pub struct NodesFlags {
    /// Show full IDs, tagged addresses and metadata.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    detailed: Option<bool>,
}

/// `disco catalog nodes`.
pub fn nodes(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_nodes)
}

async fn run_nodes(cl: Client, c: NodesFlags, _args: Vec<String>) -> CmdResult {
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

/// `disco catalog datacenters`.
pub fn datacenters(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_datacenters)
}

async fn run_datacenters(cl: Client, _c: NoFlags, _args: Vec<String>) -> CmdResult {
    let v = cl
        .get_json("/v1/catalog/datacenters")
        .await
        .map_err(|e| format!("Error listing datacenters: {e}"))?;
    for d in v.as_ref().and_then(Value::as_array).into_iter().flatten() {
        println!("{}", d.as_str().unwrap_or(""));
    }
    Ok(0)
}
