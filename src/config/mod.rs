//! Agent configuration: defaults, JSON config files and directories, and command-line flags,
//! merged in Consul's order (defaults < files in the order given < flags).

pub mod acl;
mod file;
pub mod flags;
mod net;
pub mod tls;
pub mod ui;

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::time::Duration;

#[cfg(any(test, feature = "fuzzing"))]
pub(crate) use file::apply_json;
pub use file::{ConfigWarning, load_definitions, load_path, parse_log_level};
pub use ui::UiConfig;

/// Configuration errors, each naming the key or flag and where it came from.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A file could not be read.
    #[error("Error reading '{path}': {err}")]
    Read {
        /// Path.
        path: String,
        /// Cause.
        err: String,
    },
    /// A file could not be parsed: not JSON, not a JSON object, or HCL.
    #[error("Error parsing {path}: {err}")]
    Parse {
        /// Path.
        path: String,
        /// Cause.
        err: String,
    },
    /// A key has the wrong type or an invalid value.
    #[error("Error parsing {path}: {key}: {msg}")]
    Invalid {
        /// Source (file path or `command line`).
        path: String,
        /// Key.
        key: String,
        /// What is wrong.
        msg: String,
    },
    /// The merged configuration is inconsistent.
    #[error("{0}")]
    Conflict(String),
}

/// Listener ports; a negative value disables the listener.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Ports {
    /// HTTP API.
    pub http: i64,
    /// HTTPS API (needs a certificate in `tls`).
    pub https: i64,
    /// DNS interface.
    pub dns: i64,
    /// Server RPC (Raft and forwarding).
    pub server: i64,
    /// LAN gossip.
    pub serf_lan: i64,
    /// WAN gossip.
    pub serf_wan: i64,
    /// gRPC (unsupported).
    pub grpc: i64,
}

impl Default for Ports {
    fn default() -> Self {
        Ports {
            http: 8500,
            https: -1,
            dns: 8600,
            server: 8300,
            serf_lan: 8301,
            serf_wan: 8302,
            grpc: -1,
        }
    }
}

/// The merged agent configuration.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// Datacenter name.
    pub datacenter: String,
    /// Primary datacenter (accepted for compatibility).
    pub primary_datacenter: String,
    /// Where Raft, snapshots and agent-local state live. `None` only with `-dev`.
    pub data_dir: Option<PathBuf>,
    /// trace|debug|info|warn|error.
    pub log_level: String,
    /// Run as a server (Raft member).
    pub server: bool,
    /// Node name.
    pub node_name: String,
    /// Node UUID; generated and persisted when absent.
    pub node_id: Option<String>,
    /// Node metadata.
    pub node_meta: BTreeMap<String, String>,
    /// The web UI (`ui`, `ui_config`, `ui_dir`, `-ui`, `-ui-dir`, `-ui-content-path`).
    pub ui: UiConfig,
    /// Cluster (gossip/RPC) bind address.
    pub bind_addr: IpAddr,
    /// HTTP/DNS bind addresses.
    pub client_addr: Vec<IpAddr>,
    /// Address advertised to peers.
    pub advertise_addr: Option<IpAddr>,
    /// Address advertised to the WAN pool (`advertise_addr_wan`; default `advertise_addr`).
    pub advertise_addr_wan: Option<IpAddr>,
    /// Elect itself leader alone.
    pub bootstrap: bool,
    /// Servers to wait for before bootstrapping.
    pub bootstrap_expect: u32,
    /// Ports.
    pub ports: Ports,
    /// Allow script checks registered over HTTP.
    pub enable_script_checks: bool,
    /// Allow script checks from config files.
    pub enable_local_script_checks: bool,
    /// ACLs (`acl` and the legacy `acl_*` keys).
    pub acl: acl::AclConfig,
    /// TLS (`tls` and the legacy top-level keys).
    pub tls: tls::TlsConfig,
    /// Connection limits and handshake timeouts (`limits`).
    pub limits: tls::ConnLimits,
    /// Write the PID here.
    pub pid_file: Option<PathBuf>,
    /// In-memory single server.
    pub dev: bool,
    /// DNS domain.
    pub domain: String,
    /// Gossip addresses to join at start.
    pub start_join: Vec<String>,
    /// Gossip addresses to join with retries.
    pub retry_join: Vec<String>,
    /// WAN gossip addresses (other datacenters' servers) to join at start (`start_join_wan`).
    pub start_join_wan: Vec<String>,
    /// WAN gossip addresses to join with retries (`retry_join_wan`).
    pub retry_join_wan: Vec<String>,
    /// Pause between `retry_join_wan` attempts.
    pub retry_interval_wan: Duration,
    /// Give up `retry_join_wan` after this many attempts (0: never).
    pub retry_max_wan: u32,
    /// Gossip key.
    pub encrypt: Option<String>,
    /// Largest KV value accepted.
    pub kv_max_value_size: u64,
    /// Leave the cluster on SIGTERM.
    pub leave_on_terminate: Option<bool>,
    /// Do not leave on SIGINT.
    pub skip_leave_on_interrupt: Option<bool>,
    /// Files and directories the configuration was read from, for `reload`.
    pub sources: Vec<PathBuf>,
    /// Rejoin remembered peers on restart even after a graceful leave.
    pub rejoin_after_leave: bool,
    /// Pause between `retry_join` attempts.
    pub retry_interval: Duration,
    /// Give up `retry_join` after this many attempts (0: never).
    pub retry_max: u32,
    /// Overrides of the LAN gossip timings (`gossip_lan`).
    pub gossip_lan: GossipLan,
    /// Overrides of the WAN gossip timings (`gossip_wan`).
    pub gossip_wan: GossipLan,
    /// Raft entries between snapshots (`raft_snapshot_threshold`).
    pub raft_snapshot_threshold: u64,
    /// Raft entries kept after a snapshot (`raft_trailing_logs`).
    pub raft_trailing_logs: u64,
    /// Server health and dead-server cleanup (`autopilot`).
    pub autopilot: Autopilot,
    /// How often the snapshot threshold is checked (`raft_snapshot_interval`).
    pub raft_snapshot_interval: Duration,
    /// Raft timing scale (`performance.raft_multiplier`, 1–10; 0: disco's default).
    pub raft_multiplier: u32,
    /// Bytes of check output kept by default (`check_output_max_size`).
    pub check_output_max_size: usize,
    /// Least time between catalog updates of a check whose output changed but whose
    /// status did not (`check_update_interval`; 0 pushes every change).
    pub check_update_interval: Duration,
    /// Full anti-entropy sync period (`ae_interval`).
    pub ae_interval: Duration,
    /// Catalog and health reads that name no consistency mode are stale reads bounded by
    /// this (`discovery_max_stale`; zero keeps them on the leader).
    pub discovery_max_stale: Duration,
    /// How often services critical for too long are looked for (`check_reap_interval`).
    pub check_reap_interval: Duration,
    /// Floor of `DeregisterCriticalServiceAfter` (`check_deregister_interval_min`).
    pub check_deregister_interval_min: Duration,
    /// Shortest session TTL accepted (`session_ttl_min`, Consul's default 10 s).
    pub session_ttl_min: Duration,
    /// `service`/`services`/`check`/`checks` blocks of the config files.
    pub definitions: Definitions,
    /// A second DNS domain answered like `domain` (`alt_domain`).
    pub alt_domain: Option<String>,
    /// Upstream DNS servers for names outside the domain (`recursors`, `ip[:port]`).
    pub recursors: Vec<String>,
    /// DNS behaviour (`dns_config`).
    pub dns: DnsConfig,
}

/// Consul's `dns_config`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DnsConfig {
    /// Answer from any server's data, not only the leader's (`allow_stale`).
    pub allow_stale: bool,
    /// Staleness accepted (`max_stale`).
    pub max_stale: Duration,
    /// TTL of node records (`node_ttl`).
    pub node_ttl: Duration,
    /// TTL per service name: exact names, `prefix*`, or `*` (`service_ttl`).
    pub service_ttl: Vec<(String, Duration)>,
    /// Set the TC bit when a UDP answer was cut (`enable_truncate`).
    pub enable_truncate: bool,
    /// Leave out warning instances too (`only_passing`).
    pub only_passing: bool,
    /// Answers in one UDP response (`udp_answer_limit`).
    pub udp_answer_limit: usize,
    /// Cap on A/AAAA records on any transport (`a_record_limit`, 0: none).
    pub a_record_limit: usize,
    /// Node meta as TXT in the additional section (`enable_additional_node_meta_txt`).
    pub enable_additional_node_meta_txt: bool,
    /// Negative-answer TTL of the SOA (`soa.min_ttl`).
    pub soa_min_ttl: u32,
    /// The SOA's refresh, retry and expire fields (`soa.refresh`, `soa.retry`, `soa.expire`).
    pub soa_timers: [u32; 3],
    /// How long one recursor has to answer (`recursor_timeout`).
    pub recursor_timeout: Duration,
    /// Ask recursors in random order rather than as listed (`recursor_strategy = "random"`).
    pub recursor_random: bool,
    /// Client agents keep a server's answers (`use_cache`) for `cache_max_age` (0: 1 s).
    pub use_cache: bool,
    /// Longest a cached answer is used (`cache_max_age`).
    pub cache_max_age: Duration,
}

impl Default for DnsConfig {
    fn default() -> Self {
        DnsConfig {
            allow_stale: true,
            max_stale: Duration::from_secs(87_600 * 3600),
            node_ttl: Duration::ZERO,
            service_ttl: Vec::new(),
            enable_truncate: false,
            only_passing: false,
            udp_answer_limit: 3,
            a_record_limit: 0,
            enable_additional_node_meta_txt: true,
            soa_min_ttl: 0,
            soa_timers: [3600, 600, 86400],
            recursor_timeout: Duration::from_secs(2),
            recursor_random: false,
            use_cache: false,
            cache_max_age: Duration::ZERO,
        }
    }
}

impl DnsConfig {
    /// TTL of a service's records: an exact entry, else the longest matching `prefix*`,
    /// else `*`, else 0.
    pub fn service_ttl(&self, name: &str) -> Duration {
        if let Some((_, d)) = self.service_ttl.iter().find(|(k, _)| k == name) {
            return *d;
        }
        self.service_ttl
            .iter()
            .filter_map(|(k, d)| {
                let p = k.strip_suffix('*')?;
                name.starts_with(p).then_some((p.len(), *d))
            })
            .max_by_key(|(len, _)| *len)
            .map(|(_, d)| d)
            .unwrap_or(Duration::ZERO)
    }
}

/// Service and check definitions from config files, kept as JSON until the agent validates
/// them, each with a label (file and key) that names it in errors.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Definitions {
    /// Service definitions.
    pub services: Vec<(String, serde_json::Value)>,
    /// Standalone check definitions.
    pub checks: Vec<(String, serde_json::Value)>,
}

/// Consul's `autopilot` settings that disco acts on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Autopilot {
    /// Remove servers gossip marks failed (after [`Autopilot::dead_server_delay`]).
    pub cleanup_dead_servers: bool,
    /// Never shrink the voters below this.
    pub min_quorum: u32,
    /// A server is unhealthy when the leader has not heard from it for longer.
    pub last_contact_threshold: Duration,
    /// A server is unhealthy when it trails the leader by more entries.
    pub max_trailing_logs: u64,
    /// How long a server must be healthy before it counts as stable.
    pub server_stabilization_time: Duration,
    /// How long a server must stay failed before cleanup removes it.
    pub dead_server_delay: Duration,
}

impl Default for Autopilot {
    fn default() -> Self {
        Autopilot {
            cleanup_dead_servers: true,
            min_quorum: 0,
            last_contact_threshold: Duration::from_millis(200),
            max_trailing_logs: 250,
            server_stabilization_time: Duration::from_secs(10),
            dead_server_delay: Duration::from_secs(30),
        }
    }
}

/// `gossip_lan`/`gossip_wan` overrides; unset fields keep Consul's defaults (fast ones with
/// `-dev`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct GossipLan {
    /// Members gossiped to per round.
    pub gossip_nodes: Option<usize>,
    /// Gossip round interval.
    pub gossip_interval: Option<Duration>,
    /// Probe interval.
    pub probe_interval: Option<Duration>,
    /// Direct probe timeout.
    pub probe_timeout: Option<Duration>,
    /// Suspicion multiplier.
    pub suspicion_mult: Option<u32>,
}

impl Default for AgentConfig {
    fn default() -> Self {
        AgentConfig {
            datacenter: "dc1".into(),
            primary_datacenter: String::new(),
            data_dir: None,
            log_level: "info".into(),
            server: false,
            node_name: net::hostname(),
            node_id: None,
            node_meta: BTreeMap::new(),
            ui: UiConfig::default(),
            bind_addr: IpAddr::from([0, 0, 0, 0]),
            client_addr: vec![IpAddr::from([127, 0, 0, 1])],
            advertise_addr: None,
            advertise_addr_wan: None,
            bootstrap: false,
            bootstrap_expect: 0,
            ports: Ports::default(),
            enable_script_checks: false,
            enable_local_script_checks: false,
            acl: acl::AclConfig::default(),
            tls: tls::TlsConfig::default(),
            limits: tls::ConnLimits::default(),
            pid_file: None,
            dev: false,
            domain: "consul.".into(),
            start_join: Vec::new(),
            retry_join: Vec::new(),
            start_join_wan: Vec::new(),
            retry_join_wan: Vec::new(),
            retry_interval_wan: Duration::from_secs(30),
            retry_max_wan: 0,
            encrypt: None,
            kv_max_value_size: 512 * 1024,
            leave_on_terminate: None,
            skip_leave_on_interrupt: None,
            sources: Vec::new(),
            rejoin_after_leave: false,
            retry_interval: Duration::from_secs(30),
            retry_max: 0,
            gossip_lan: GossipLan::default(),
            gossip_wan: GossipLan::default(),
            raft_snapshot_threshold: 16_384,
            raft_trailing_logs: 10_240,
            autopilot: Autopilot::default(),
            raft_snapshot_interval: Duration::from_secs(30),
            raft_multiplier: 0,
            check_output_max_size: 4096,
            check_update_interval: Duration::from_secs(300),
            ae_interval: Duration::from_secs(60),
            discovery_max_stale: Duration::ZERO,
            check_reap_interval: Duration::from_secs(30),
            check_deregister_interval_min: Duration::from_secs(60),
            session_ttl_min: Duration::from_secs(10),
            definitions: Definitions::default(),
            alt_domain: None,
            recursors: Vec::new(),
            dns: DnsConfig::default(),
        }
    }
}

impl AgentConfig {
    /// The address peers and the catalog see for this node.
    pub fn advertise(&self) -> IpAddr {
        if let Some(a) = self.advertise_addr {
            return a;
        }
        if !self.bind_addr.is_unspecified() {
            return self.bind_addr;
        }
        net::private_ipv4().unwrap_or(IpAddr::from([127, 0, 0, 1]))
    }

    /// Check the merged configuration for combinations Consul refuses.
    pub fn validate(&self) -> Result<Vec<String>, ConfigError> {
        let mut warnings = Vec::new();
        if self.bootstrap && self.bootstrap_expect > 0 {
            return Err(ConfigError::Conflict(
                "'bootstrap_expect > 0' and 'bootstrap = true' are mutually exclusive".into(),
            ));
        }
        if !self.server && (self.bootstrap || self.bootstrap_expect > 0) {
            return Err(ConfigError::Conflict(
                "'bootstrap_expect > 0' and 'bootstrap' require 'server = true'".into(),
            ));
        }
        if self.dev && self.bootstrap_expect > 0 {
            return Err(ConfigError::Conflict(
                "'bootstrap_expect > 0' not allowed in dev mode".into(),
            ));
        }
        if self.data_dir.is_none() && !self.dev {
            return Err(ConfigError::Conflict("data_dir cannot be empty".into()));
        }
        self.tls.validate(self.ports.https >= 0, self.server)?;
        if self.enable_script_checks && !self.acl.enabled {
            warnings.push("[SECURITY] Using enable-script-checks without ACLs and without allow_write_http_from is DANGEROUS, use enable-local-script-checks instead, see https://www.hashicorp.com/blog/protecting-consul-from-rce-risk-in-specific-configurations/".into());
        }
        if self.bootstrap_expect == 1 {
            warnings
                .push("BootstrapExpect is set to 1; this is the same as Bootstrap mode.".into());
        } else if self.bootstrap_expect > 1 && self.bootstrap_expect.is_multiple_of(2) {
            warnings.push(format!(
                "bootstrap_expect = {}: A cluster with an even number of servers does not achieve optimum fault tolerance.",
                self.bootstrap_expect
            ));
        }
        if let Some(k) = &self.encrypt
            && let Err(e) = crate::gossip::decode_key(k)
        {
            return Err(ConfigError::Invalid {
                path: "configuration".into(),
                key: "encrypt".into(),
                msg: e.to_string(),
            });
        }
        for (name, g) in [
            ("gossip_lan", &self.gossip_lan),
            ("gossip_wan", &self.gossip_wan),
        ] {
            if g.probe_timeout.unwrap_or(Duration::from_millis(1))
                >= g.probe_interval.unwrap_or(Duration::from_secs(3600))
            {
                return Err(ConfigError::Conflict(format!(
                    "{name}.probe_timeout must be shorter than {name}.probe_interval"
                )));
            }
        }
        if self.node_name.is_empty() {
            return Err(ConfigError::Conflict("node_name cannot be empty".into()));
        }
        for (name, port) in [
            ("http", self.ports.http),
            ("https", self.ports.https),
            ("dns", self.ports.dns),
            ("server", self.ports.server),
            ("serf_lan", self.ports.serf_lan),
            ("serf_wan", self.ports.serf_wan),
        ] {
            if port > 65535 {
                return Err(ConfigError::Invalid {
                    path: "configuration".into(),
                    key: format!("ports.{name}"),
                    msg: format!("invalid port {port}"),
                });
            }
        }
        Ok(warnings)
    }
}
