//! `disco members|join|force-leave|leave`: the gossip pool.

use clap::Args;
use reqwest::Method;

use super::exec::{CmdResult, NoFlags, client_command};
use super::table::columns;
use crate::api::cluster::sort_members;
use crate::client::Client;

/// Flags of `disco members`.
#[derive(Args, Debug)]
pub struct MembersFlags {
    /// Only members whose status matches this regular expression.
    #[arg(long)]
    status: Option<String>,
    /// List the WAN pool.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    wan: Option<bool>,
    /// Show every tag.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    detailed: Option<bool>,
}

/// `disco members`.
pub fn members(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_members)
}

async fn run_members(cl: Client, c: MembersFlags, _args: Vec<String>) -> CmdResult {
    let filter = match &c.status {
        Some(re) => Some(
            regex::Regex::new(re).map_err(|e| format!("Failed to compile status regexp: {e}"))?,
        ),
        None => None,
    };
    let mut list = cl
        .members(c.wan == Some(true))
        .await
        .map_err(|e| format!("Error retrieving members: {e}"))?;
    list.retain(|m| {
        filter
            .as_ref()
            .is_none_or(|re| re.is_match(m.status_name()))
    });
    if list.is_empty() {
        return Ok(2);
    }
    sort_members(&mut list);
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
    for m in &list {
        let (name, addr, status) = (m.name.clone(), m.address(), m.status_name().to_string());
        if detailed {
            let pairs: Vec<String> = m.tags.iter().map(|(k, v)| format!("{k}={v}")).collect();
            rows.push(vec![name, addr, status, pairs.join(",")]);
            continue;
        }
        let kind = m.kind();
        if kind == "unknown" {
            rows.push(vec![name, addr, status, kind.into()]);
            continue;
        }
        rows.push(vec![
            name,
            addr,
            status,
            kind.into(),
            m.build().into(),
            m.tag("vsn").into(),
            m.tag("dc").into(),
            "default".into(),
            if m.is_server() { "<all>" } else { "<default>" }.into(),
        ]);
    }
    print!("{}", columns(&rows));
    Ok(0)
}

/// Flags of `disco join`.
#[derive(Args, Debug)]
pub struct JoinFlags {
    /// Join the WAN pool.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    wan: Option<bool>,
}

/// `disco join ADDRESS...`.
pub fn join(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_join)
}

async fn run_join(cl: Client, c: JoinFlags, args: Vec<String>) -> CmdResult {
    if args.is_empty() {
        return Err("At least one address to join must be specified.".into());
    }
    let wan = if c.wan == Some(true) { "?wan=1" } else { "" };
    let mut joined = 0;
    for a in &args {
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

/// Flags of `disco force-leave`.
#[derive(Args, Debug)]
pub struct ForceLeaveFlags {
    /// Remove the node from the member list at once.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    prune: Option<bool>,
    /// Act on the WAN pool.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    wan: Option<bool>,
}

/// `disco force-leave NODE`.
pub fn force_leave(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_force_leave)
}

async fn run_force_leave(cl: Client, c: ForceLeaveFlags, args: Vec<String>) -> CmdResult {
    if args.len() != 1 {
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
        &format!("/v1/agent/force-leave/{}{qs}", args[0]),
        None,
    )
    .await
    .map_err(|e| format!("Error force leaving: {e}"))?;
    Ok(0)
}

/// `disco leave`.
pub fn leave(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_leave)
}

async fn run_leave(cl: Client, _c: NoFlags, _args: Vec<String>) -> CmdResult {
    cl.send(Method::PUT, "/v1/agent/leave", None)
        .await
        .map_err(|e| format!("Error leaving: {e}"))?;
    println!("Graceful leave complete");
    Ok(0)
}
