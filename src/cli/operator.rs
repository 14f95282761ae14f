//! `disco operator raft list-peers|transfer-leader|remove-peer`.

use clap::Args;
use reqwest::Method;

use super::exec::{CmdResult, client_command};
use super::table::columns;
use crate::api::cluster::commits;
use crate::client::Client;

/// Flags of `disco operator raft list-peers`.
#[derive(Args, Debug)]
pub struct ListPeersFlags {
    /// Ask any server, not only the leader.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    stale: Option<bool>,
}

/// `disco operator raft list-peers`.
pub fn list_peers(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_list_peers)
}

async fn run_list_peers(cl: Client, c: ListPeersFlags, _args: Vec<String>) -> CmdResult {
    let conf = cl
        .raft_configuration(c.stale == Some(true))
        .await
        .map_err(|e| format!("Error getting peers: Failed to retrieve raft configuration: {e}"))?;
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
    for s in &conf.servers {
        let protocol = if s.protocol_version.is_empty() {
            "<=1"
        } else {
            &s.protocol_version
        };
        rows.push(vec![
            s.node.clone(),
            s.id.clone(),
            s.address.clone(),
            if s.leader { "leader" } else { "follower" }.into(),
            s.voter.to_string(),
            protocol.into(),
            s.last_index.to_string(),
            conf.trails_by(s).map_or_else(|| "-".to_string(), commits),
        ]);
    }
    print!("{}", columns(&rows));
    Ok(0)
}

/// Flags of `disco operator raft transfer-leader`.
#[derive(Args, Debug)]
pub struct TransferLeaderFlags {
    /// Node ID of the server to hand leadership to (default: any).
    #[arg(long)]
    id: Option<String>,
}

/// `disco operator raft transfer-leader`.
pub fn transfer_leader(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_transfer_leader)
}

async fn run_transfer_leader(cl: Client, c: TransferLeaderFlags, _args: Vec<String>) -> CmdResult {
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

/// Flags of `disco operator raft remove-peer`.
#[derive(Args, Debug)]
pub struct RemovePeerFlags {
    /// Node ID of the peer to remove.
    #[arg(long)]
    id: Option<String>,
    /// Server RPC address of the peer to remove.
    #[arg(long)]
    address: Option<String>,
}

/// `disco operator raft remove-peer`.
pub fn remove_peer(bin: &str, args: &[String]) -> i32 {
    client_command(bin, args, run_remove_peer)
}

async fn run_remove_peer(cl: Client, c: RemovePeerFlags, _args: Vec<String>) -> CmdResult {
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
