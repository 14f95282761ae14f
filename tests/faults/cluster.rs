//! A cluster for fault tests: each agent in its own network namespace, on a bridge in the
//! root namespace where the test (the control node, as in Jepsen) talks to every agent on
//! its own address. The nemesis acts on the namespaces: nftables rules for partitions and
//! packet loss, a token-bucket qdisc for a slow link, signals for kills and pauses.
//!
//! Without namespaces (not root, no `ip`/`nft`) the agents run on 127.0.0.x addresses
//! instead; partitions and loss are then impossible and the run says so.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How agents are separated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Isolation {
    /// One network namespace per agent on a bridge: every fault can be injected.
    Namespaces,
    /// Agents on loopback addresses: kills and pauses only.
    Loopback,
}

/// One agent of the cluster.
pub struct Node {
    pub name: String,
    /// Its datacenter (`dc1` unless the cluster was started with several).
    pub dc: String,
    pub ip: Ipv4Addr,
    pub server: bool,
    pub netns: Option<String>,
    /// Host side of the veth pair (the slow-link qdisc goes here).
    pub veth: Option<String>,
    pub child: Option<Child>,
    pub paused: bool,
    args: Vec<String>,
    log: PathBuf,
}

impl Node {
    pub fn http(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.ip), 8500)
    }

    pub fn rpc(&self) -> String {
        format!("{}:8300", self.ip)
    }

    fn spawn(&mut self, bin: &Path) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .expect("agent log");
        let mut cmd = match &self.netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns]).arg(bin);
                c
            }
            None => Command::new(bin),
        };
        cmd.args(&self.args)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log.try_clone().expect("log")))
            .stderr(Stdio::from(log));
        // Its own process group, so a stop reaches `ip netns exec`'s child too.
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
        self.child = Some(cmd.spawn().expect("spawn disco"));
        self.paused = false;
    }

    fn signal(&self, sig: i32) {
        if let Some(c) = &self.child {
            // SAFETY: kill(2) with a negative pid signals the process group we created.
            unsafe {
                libc::kill(-(c.id() as i32), sig);
            }
        }
    }

    /// `kill -9` the agent (its whole process group) and reap it.
    pub fn kill9(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: as in `signal`.
            unsafe {
                libc::kill(-(c.id() as i32), libc::SIGKILL);
            }
            let _ = c.wait();
        }
        self.paused = false;
    }

    /// SIGSTOP: the process stops answering, its sockets stay open (a GC pause, a VM
    /// stall).
    pub fn pause(&mut self) {
        self.signal(libc::SIGSTOP);
        self.paused = true;
    }

    pub fn resume(&mut self) {
        self.signal(libc::SIGCONT);
        self.paused = false;
    }

    pub fn running(&self) -> bool {
        self.child.is_some()
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

/// The agents plus the network they live on; dropping it stops every process and removes
/// every namespace and link it made, even when the test failed.
pub struct Cluster {
    pub nodes: Vec<Node>,
    pub isolation: Isolation,
    pub dir: PathBuf,
    bin: PathBuf,
    bridge: Option<String>,
    /// Subnet's third octet (loopback: second), unique per process.
    net: u8,
}

fn run(args: &[&str]) -> Result<(), String> {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .map_err(|e| format!("{}: {e}", args.join(" ")))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "{}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn in_ns(ns: &str, args: &[&str]) -> Result<(), String> {
    let mut all = vec!["ip", "netns", "exec", ns];
    all.extend_from_slice(args);
    run(&all)
}

/// Remove namespaces and bridges left by runs whose process is gone.
fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or_default();
        let Some(rest) = name.strip_prefix("dfault-") else {
            continue;
        };
        let pid: u32 = rest
            .split('-')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        if pid != 0 && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = run(&["ip", "netns", "del", name]);
        }
    }
}

/// Can this process make namespaces, veths, a bridge and nftables rules?
pub fn namespaces_available() -> bool {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return false;
    }
    static PROBE: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = PROBE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let probe = format!("dfault-{}-probe{n}", std::process::id());
    let ok = run(&["ip", "netns", "add", &probe]).is_ok()
        && in_ns(&probe, &["nft", "add", "table", "inet", "probe"]).is_ok();
    let _ = run(&["ip", "netns", "del", &probe]);
    ok
}

/// One datacenter of a federated fault cluster.
#[derive(Clone, Debug)]
pub struct Datacenter {
    pub name: &'static str,
    pub servers: usize,
    pub clients: usize,
}

impl Cluster {
    /// `servers` servers with `-bootstrap-expect servers` and `clients` client agents, all
    /// joined, in one datacenter without a WAN pool; call [`Cluster::wait_healthy`] next.
    pub fn start(bin: &Path, servers: usize, clients: usize, want: Isolation) -> Cluster {
        let dc = Datacenter {
            name: "dc1",
            servers,
            clients,
        };
        Cluster::start_datacenters(bin, &[dc], &[], want)
    }

    /// Several datacenters on one bridge: each forms its own Raft cluster and LAN pool, and
    /// their servers join one WAN pool through the first server. Every agent gets `extra`
    /// arguments too (a `-config-file` with WAN timings, say). With one datacenter the
    /// agents run without a WAN pool.
    pub fn start_datacenters(
        bin: &Path,
        dcs: &[Datacenter],
        extra: &[String],
        want: Isolation,
    ) -> Cluster {
        let federated = dcs.len() > 1;
        // Unique per cluster: tests in one process run their clusters side by side.
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed) % 10;
        let pid = std::process::id();
        let net = ((pid + seq * 37) % 200 + 20) as u8;
        let dir = std::env::temp_dir().join(format!("disco-faults-{pid}-{seq}"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("cluster dir");
        let isolation = if want == Isolation::Namespaces && namespaces_available() {
            Isolation::Namespaces
        } else {
            Isolation::Loopback
        };
        let mut c = Cluster {
            nodes: Vec::new(),
            isolation,
            dir: dir.clone(),
            bin: bin.to_path_buf(),
            bridge: None,
            net,
        };
        if isolation == Isolation::Namespaces {
            sweep_stale();
            let br = format!("dfb{pid}{seq}");
            run(&["ip", "link", "add", &br, "type", "bridge"]).expect("bridge");
            c.bridge = Some(br.clone());
            // Traffic between agents crosses the bridge. A container engine on the host
            // loads br_netfilter and sets iptables' FORWARD policy to DROP, which would
            // cut every agent off: let this bridge's own traffic through (the nemesis
            // filters inside the namespaces), and take the rule out again at the end.
            let _ = run(&[
                "iptables", "-I", "FORWARD", "1", "-i", &br, "-o", &br, "-j", "ACCEPT",
            ]);
            run(&["ip", "addr", "add", &format!("10.{net}.0.1/24"), "dev", &br]).expect("addr");
            run(&["ip", "link", "set", &br, "up"]).expect("bridge up");
        }
        let mut layout = Vec::new();
        for dc in dcs {
            let first = layout.len();
            for k in 0..dc.servers + dc.clients {
                let server = k < dc.servers;
                let name = if server {
                    format!("s{}", k + 1)
                } else {
                    format!("c{}", k + 1 - dc.servers)
                };
                layout.push((dc, name, server, first));
            }
        }
        for (i, (dc, name, server, dc_first)) in layout.into_iter().enumerate() {
            // Namespaces, links and data directories are named for the datacenter too when
            // there are several: node names repeat across datacenters.
            let label = if federated {
                format!("{}-{name}", dc.name)
            } else {
                name.clone()
            };
            let ip = match isolation {
                Isolation::Namespaces => Ipv4Addr::new(10, net, 0, 10 + i as u8),
                Isolation::Loopback => Ipv4Addr::new(127, net, 0, 10 + i as u8),
            };
            let (netns, veth) = if isolation == Isolation::Namespaces {
                let ns = format!("dfault-{pid}-{seq}-{label}");
                let host = format!("dfv{pid}{seq}{i}");
                let _ = run(&["ip", "netns", "del", &ns]);
                run(&["ip", "netns", "add", &ns]).expect("netns");
                run(&[
                    "ip", "link", "add", &host, "type", "veth", "peer", "name", "eth0", "netns",
                    &ns,
                ])
                .expect("veth");
                run(&[
                    "ip",
                    "link",
                    "set",
                    &host,
                    "master",
                    c.bridge.as_deref().unwrap_or_default(),
                ])
                .expect("enslave");
                run(&["ip", "link", "set", &host, "up"]).expect("veth up");
                in_ns(
                    &ns,
                    &["ip", "addr", "add", &format!("{ip}/24"), "dev", "eth0"],
                )
                .expect("ip");
                in_ns(&ns, &["ip", "link", "set", "eth0", "up"]).expect("eth0 up");
                in_ns(&ns, &["ip", "link", "set", "lo", "up"]).expect("lo up");
                in_ns(&ns, &["nft", "add", "table", "inet", "nemesis"]).expect("nft table");
                in_ns(
                    &ns,
                    &[
                        "nft",
                        "add",
                        "chain",
                        "inet",
                        "nemesis",
                        "input",
                        "{ type filter hook input priority 0; }",
                    ],
                )
                .expect("nft chain");
                (Some(ns), Some(host))
            } else {
                (None, None)
            };
            let data = dir.join(&label);
            std::fs::create_dir_all(&data).expect("data dir");
            let first = Ipv4Addr::new(ip.octets()[0], net, 0, 10 + dc_first as u8);
            let mut args: Vec<String> = vec![
                "agent".into(),
                "-node".into(),
                name.clone(),
                "-bind".into(),
                ip.to_string(),
                "-client".into(),
                ip.to_string(),
                "-data-dir".into(),
                data.join("data").display().to_string(),
                "-dns-port".into(),
                "-1".into(),
                "-datacenter".into(),
                dc.name.into(),
                "-retry-join".into(),
                format!("{first}:8301"),
                "-retry-interval".into(),
                "500ms".into(),
                "-log-level".into(),
                "info".into(),
            ];
            if server {
                args.extend([
                    "-server".into(),
                    "-bootstrap-expect".into(),
                    dc.servers.to_string(),
                ]);
            }
            if !federated {
                args.extend(["-serf-wan-port".into(), "-1".into()]);
            } else if server && i > 0 {
                // Through the very first server; flood join brings in the rest.
                let wan = Ipv4Addr::new(ip.octets()[0], net, 0, 10);
                args.extend([
                    "-retry-join-wan".into(),
                    format!("{wan}:8302"),
                    "-retry-interval-wan".into(),
                    "1s".into(),
                ]);
            }
            args.extend(extra.iter().cloned());
            let mut node = Node {
                name: name.clone(),
                dc: dc.name.to_string(),
                ip,
                server,
                netns,
                veth,
                child: None,
                paused: false,
                args,
                log: data.join("agent.log"),
            };
            node.spawn(bin);
            c.nodes.push(node);
        }
        c
    }

    /// Restart a killed agent with its data.
    pub fn restart(&mut self, i: usize) {
        let bin = self.bin.clone();
        let n = &mut self.nodes[i];
        n.kill9();
        n.spawn(&bin);
    }

    /// Drop traffic between agents in different groups (an agent in two groups bridges
    /// them). The control node still reaches everyone.
    pub fn partition(&self, groups: &[Vec<usize>]) -> Result<(), String> {
        self.heal_network()?;
        for (i, n) in self.nodes.iter().enumerate() {
            let Some(ns) = &n.netns else {
                return Err("partitions need network namespaces".into());
            };
            let mine: Vec<&Vec<usize>> = groups.iter().filter(|g| g.contains(&i)).collect();
            let blocked: Vec<String> = (0..self.nodes.len())
                .filter(|j| *j != i && !mine.iter().any(|g| g.contains(j)))
                .map(|j| self.nodes[j].ip.to_string())
                .collect();
            if blocked.is_empty() {
                continue;
            }
            let set = format!("{{ {} }}", blocked.join(", "));
            in_ns(
                ns,
                &[
                    "nft", "add", "rule", "inet", "nemesis", "input", "ip", "saddr", &set, "drop",
                ],
            )?;
        }
        Ok(())
    }

    /// Cut agent `i` off from gossip (serf's port 8301, both ways) while Raft and the API
    /// still pass: gossip soon calls it failed though it is up.
    pub fn cut_gossip(&self, i: usize) -> Result<(), String> {
        let victim = &self.nodes[i];
        let ns = victim
            .netns
            .as_ref()
            .ok_or("cutting gossip needs namespaces")?;
        for proto in ["udp", "tcp"] {
            in_ns(
                ns,
                &[
                    "nft", "add", "rule", "inet", "nemesis", "input", proto, "dport", "8301",
                    "drop",
                ],
            )?;
            for (j, n) in self.nodes.iter().enumerate() {
                if j == i {
                    continue;
                }
                let other = n.netns.as_ref().ok_or("cutting gossip needs namespaces")?;
                in_ns(
                    other,
                    &[
                        "nft",
                        "add",
                        "rule",
                        "inet",
                        "nemesis",
                        "input",
                        "ip",
                        "saddr",
                        &victim.ip.to_string(),
                        proto,
                        "dport",
                        "8301",
                        "drop",
                    ],
                )?;
            }
        }
        Ok(())
    }

    /// Drop `percent`% of the packets each agent receives from other agents.
    pub fn lose(&self, percent: u8) -> Result<(), String> {
        let all: Vec<String> = self.nodes.iter().map(|n| n.ip.to_string()).collect();
        let set = format!("{{ {} }}", all.join(", "));
        for n in &self.nodes {
            let ns = n.netns.as_ref().ok_or("loss needs network namespaces")?;
            in_ns(
                ns,
                &[
                    "nft",
                    "add",
                    "rule",
                    "inet",
                    "nemesis",
                    "input",
                    "ip",
                    "saddr",
                    &set,
                    "numgen",
                    "random",
                    "mod",
                    "100",
                    "<",
                    &percent.to_string(),
                    "drop",
                ],
            )?;
        }
        Ok(())
    }

    /// A slow link on agent `i`: its host-side veth limited to `kbit` (a token bucket; the
    /// kernel here has no netem, so no fixed delay can be added).
    pub fn slow(&self, i: usize, kbit: u32) -> Result<(), String> {
        let veth = self.nodes[i]
            .veth
            .as_ref()
            .ok_or("a slow link needs namespaces")?;
        run(&[
            "tc",
            "qdisc",
            "replace",
            "dev",
            veth,
            "root",
            "tbf",
            "rate",
            &format!("{kbit}kbit"),
            "burst",
            "16kbit",
            "latency",
            "500ms",
        ])
    }

    /// Remove every partition, loss rule and slow link.
    pub fn heal_network(&self) -> Result<(), String> {
        for n in &self.nodes {
            if let Some(ns) = &n.netns {
                in_ns(ns, &["nft", "flush", "chain", "inet", "nemesis", "input"])?;
            }
            if let Some(veth) = &n.veth {
                let _ = run(&["tc", "qdisc", "del", "dev", veth, "root"]);
            }
        }
        Ok(())
    }

    pub fn servers(&self) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].server)
            .collect()
    }

    /// Index of the server the reachable servers of the first datacenter agree leads, if
    /// any.
    pub fn leader(&self) -> Option<usize> {
        self.leader_in(&self.nodes.first()?.dc)
    }

    /// The datacenters' names, in the order they were started.
    pub fn datacenters(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        for n in &self.nodes {
            if !names.contains(&n.dc) {
                names.push(n.dc.clone());
            }
        }
        names
    }

    /// Indexes of the agents of datacenter `dc`.
    pub fn in_datacenter(&self, dc: &str) -> Vec<usize> {
        (0..self.nodes.len())
            .filter(|i| self.nodes[*i].dc == dc)
            .collect()
    }

    /// Index of the server the reachable servers of `dc` agree leads, if any.
    pub fn leader_in(&self, dc: &str) -> Option<usize> {
        let mut views = Vec::new();
        for i in self.servers() {
            if self.nodes[i].dc != dc {
                continue;
            }
            if !self.nodes[i].running() || self.nodes[i].paused {
                continue;
            }
            let r = super::http::call(
                self.nodes[i].http(),
                "GET",
                "/v1/status/leader",
                b"",
                Duration::from_secs(1),
            )
            .ok()?;
            views.push(r.text().trim().trim_matches('"').to_string());
        }
        let first = views.first()?.clone();
        if first.is_empty() || views.iter().any(|v| *v != first) {
            return None;
        }
        self.nodes.iter().position(|n| n.rpc() == first)
    }

    /// Wait until every datacenter has a leader and every running agent can write through
    /// its own API.
    pub fn wait_healthy(&self, limit: Duration) -> Result<(), String> {
        let end = std::time::Instant::now() + limit;
        'outer: loop {
            if std::time::Instant::now() > end {
                return Err("the cluster did not become healthy".into());
            }
            std::thread::sleep(Duration::from_millis(200));
            if self
                .datacenters()
                .iter()
                .any(|dc| self.leader_in(dc).is_none())
            {
                continue;
            }
            for n in &self.nodes {
                if !n.running() || n.paused {
                    continue;
                }
                match super::http::call(
                    n.http(),
                    "PUT",
                    "/v1/kv/faults/ready",
                    b"1",
                    Duration::from_secs(2),
                ) {
                    Ok(r) if r.status == 200 => {}
                    _ => continue 'outer,
                }
            }
            return Ok(());
        }
    }

    pub fn stop(&mut self) {
        for n in &mut self.nodes {
            if n.paused {
                n.resume();
            }
            n.kill9();
        }
        for n in &self.nodes {
            if let Some(ns) = &n.netns {
                let _ = run(&["ip", "netns", "del", ns]);
            }
        }
        if let Some(br) = self.bridge.take() {
            let _ = run(&[
                "iptables", "-D", "FORWARD", "-i", &br, "-o", &br, "-j", "ACCEPT",
            ]);
            let _ = run(&["ip", "link", "del", &br]);
        }
    }

    /// Keep the agents' logs beside the histories.
    pub fn copy_logs(&self, to: &Path) {
        let federated = self.datacenters().len() > 1;
        for n in &self.nodes {
            let file = if federated {
                format!("{}-{}.log", n.dc, n.name)
            } else {
                format!("{}.log", n.name)
            };
            let _ = std::fs::write(to.join(file), n.log_text());
        }
    }

    pub fn net(&self) -> u8 {
        self.net
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.stop();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
