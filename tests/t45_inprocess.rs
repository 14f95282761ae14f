//! Agents in the test's own process through `disco::agent::launch`: three servers form a
//! cluster with `bootstrap_expect = 3` on ports the system picks, a client agent joins and
//! forwards, and a write through one member reads back through every other.

mod support;

use std::time::Duration;

use reqwest::Method;
use support::inprocess::{TempDir, client, config, eventually, start};

const DEADLINE: Duration = Duration::from_secs(60);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_servers_and_a_client_in_one_process() {
    let dir = TempDir::new("cluster");
    let mut agents = Vec::new();
    for i in 1..=3 {
        let mut cfg = config(&format!("ip-s{i}"), &dir.0);
        cfg.server = true;
        cfg.bootstrap_expect = 3;
        if let Some(first) = agents.first() {
            let first: &disco::agent::launch::RunningAgent = first;
            cfg.retry_join = vec![first.serf_addr().to_string()];
        }
        agents.push(start(cfg).await);
    }
    let mut cfg = config("ip-c1", &dir.0);
    cfg.retry_join = vec![agents[0].serf_addr().to_string()];
    agents.push(start(cfg).await);

    // Every port of 0 was replaced by the one bound, so the members advertise real ports.
    let ports: std::collections::HashSet<i64> = agents.iter().map(|a| a.cfg.ports.http).collect();
    assert_eq!(ports.len(), 4, "each agent has its own HTTP port");
    assert!(
        agents
            .iter()
            .all(|a| a.cfg.ports.serf_lan > 0 && a.cfg.ports.dns > 0)
    );

    let clients: Vec<_> = agents.iter().map(client).collect();
    let leader = eventually("a Raft leader with three voters", DEADLINE, || async {
        let conf = clients[0].raft_configuration(false).await.ok()?;
        let voters = conf.servers.iter().filter(|s| s.voter).count();
        (voters == 3).then(|| conf.leader().map(|l| l.node.clone()))?
    })
    .await;
    assert!(leader.starts_with("ip-s"), "leader {leader}");

    for c in &clients {
        eventually("four alive members on every agent", DEADLINE, || async {
            let m = c.members(false).await.ok()?;
            (m.iter().filter(|m| m.status_name() == "alive").count() == 4).then_some(())
        })
        .await;
    }

    // A write through the client agent (forwarded to a server, then to the leader) reads
    // back consistently through each server. The server the client picks may not have
    // heard from the new leader yet (`500 No cluster leader`, as Consul answers then), so
    // the write is retried until one is known everywhere.
    let (_, body) = eventually("a write through the client agent", DEADLINE, || async {
        clients[3]
            .send(Method::PUT, "/v1/kv/inproc/key", Some(b"value".to_vec()))
            .await
            .ok()
    })
    .await;
    assert_eq!(String::from_utf8_lossy(&body).trim(), "true");
    for c in &clients[..3] {
        let (code, raw) = c
            .send(Method::GET, "/v1/kv/inproc/key?raw&consistent", None)
            .await
            .expect("consistent read");
        assert_eq!((code, raw.as_slice()), (200, b"value".as_slice()));
    }

    for a in agents.into_iter().rev() {
        let leave = !a.cfg.server;
        if let Err(e) = a.stop(leave).await {
            panic!("stop: {e}");
        }
    }
}
