//! What the console shows, decoded from the agent's API answers. Decoding is lenient: a
//! missing field becomes empty rather than failing the whole list.

use serde_json::Value;

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

fn n(v: &Value, k: &str) -> u64 {
    v.get(k).and_then(Value::as_u64).unwrap_or(0)
}

fn strings(v: &Value, k: &str) -> Vec<String> {
    v.get(k)
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default()
}

/// One service name with totals over its instances (`/v1/internal/ui/services`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceRow {
    /// Service name.
    pub name: String,
    /// Union of the instances' tags.
    pub tags: Vec<String>,
    /// Instances.
    pub instances: u64,
    /// Checks passing.
    pub passing: u64,
    /// Checks warning.
    pub warning: u64,
    /// Checks critical.
    pub critical: u64,
}

impl ServiceRow {
    /// Worst status of its checks (`passing` without any).
    pub fn health(&self) -> &'static str {
        if self.critical > 0 {
            "critical"
        } else if self.warning > 0 {
            "warning"
        } else {
            "passing"
        }
    }
}

/// One entry of `/v1/internal/ui/services`, decoded without an intermediate JSON tree
/// (the list is the console's largest and changes often).
#[derive(serde::Deserialize, Default)]
#[serde(rename_all = "PascalCase", default)]
pub struct UiService {
    name: String,
    tags: Option<Vec<String>>,
    instance_count: u64,
    checks_passing: u64,
    checks_warning: u64,
    checks_critical: u64,
}

impl From<UiService> for ServiceRow {
    fn from(u: UiService) -> ServiceRow {
        ServiceRow {
            name: u.name,
            tags: u.tags.unwrap_or_default(),
            instances: u.instance_count,
            passing: u.checks_passing,
            warning: u.checks_warning,
            critical: u.checks_critical,
        }
    }
}

/// A health check row.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CheckRow {
    /// Node.
    pub node: String,
    /// Check ID.
    pub id: String,
    /// Check name.
    pub name: String,
    /// Status.
    pub status: String,
    /// Last output.
    pub output: String,
    /// Service ID (empty for node checks).
    pub service_id: String,
    /// Service name.
    pub service_name: String,
    /// Check type.
    pub kind: String,
}

fn check(x: &Value) -> CheckRow {
    CheckRow {
        node: s(x, "Node"),
        id: s(x, "CheckID"),
        name: s(x, "Name"),
        status: s(x, "Status"),
        output: s(x, "Output"),
        service_id: s(x, "ServiceID"),
        service_name: s(x, "ServiceName"),
        kind: s(x, "Type"),
    }
}

fn status_rank(s: &str) -> u8 {
    match s {
        "critical" => 0,
        "warning" => 1,
        "passing" => 2,
        _ => 3,
    }
}

/// Decode `/v1/health/state/any`, critical first, then warning, then passing.
pub fn checks(v: &Value) -> Vec<CheckRow> {
    let mut out: Vec<CheckRow> = v
        .as_array()
        .map(|a| a.iter().map(check).collect())
        .unwrap_or_default();
    out.sort_by(|a, b| {
        status_rank(&a.status)
            .cmp(&status_rank(&b.status))
            .then_with(|| a.node.cmp(&b.node))
            .then_with(|| a.id.cmp(&b.id))
    });
    out
}

/// One instance of a service with the checks that decide its health.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Instance {
    /// Node.
    pub node: String,
    /// Node address.
    pub node_address: String,
    /// Service ID.
    pub id: String,
    /// Service address (empty: the node's).
    pub address: String,
    /// Port.
    pub port: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// Node and service checks.
    pub checks: Vec<CheckRow>,
}

impl Instance {
    /// Worst status of its checks.
    pub fn health(&self) -> &'static str {
        let worst = self.checks.iter().map(|c| status_rank(&c.status)).min();
        match worst {
            Some(0) | Some(3) => "critical",
            Some(1) => "warning",
            _ => "passing",
        }
    }
}

/// Decode `/v1/health/service/<name>`.
pub fn instances(v: &Value) -> Vec<Instance> {
    v.as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let node = &x["Node"];
                    let svc = &x["Service"];
                    Instance {
                        node: s(node, "Node"),
                        node_address: s(node, "Address"),
                        id: s(svc, "ID"),
                        address: s(svc, "Address"),
                        port: svc.get("Port").and_then(Value::as_i64).unwrap_or(0),
                        tags: strings(svc, "Tags"),
                        checks: x
                            .get("Checks")
                            .and_then(Value::as_array)
                            .map(|c| c.iter().map(check).collect())
                            .unwrap_or_default(),
                    }
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A gossip member.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemberRow {
    /// Node name.
    pub name: String,
    /// `ip:port` of its gossip endpoint.
    pub address: String,
    /// `alive`, `leaving`, `left`, `failed`.
    pub status: String,
    /// `server` or `client`.
    pub kind: String,
    /// Version from the build tag.
    pub build: String,
    /// Datacenter.
    pub dc: String,
}

/// Decode `/v1/agent/members`: servers first, then by name.
pub fn members(v: &Value) -> Vec<MemberRow> {
    let mut out: Vec<MemberRow> = v
        .as_array()
        .map(|a| {
            a.iter()
                .map(|x| {
                    let tags = &x["Tags"];
                    MemberRow {
                        name: s(x, "Name"),
                        address: format!("{}:{}", s(x, "Addr"), n(x, "Port")),
                        status: match n(x, "Status") {
                            1 => "alive",
                            2 => "leaving",
                            3 => "left",
                            4 => "failed",
                            _ => "none",
                        }
                        .into(),
                        kind: if s(tags, "role") == "consul" {
                            "server".into()
                        } else {
                            "client".into()
                        },
                        build: s(tags, "build")
                            .split(':')
                            .next()
                            .unwrap_or_default()
                            .to_string(),
                        dc: s(tags, "dc"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    out.sort_by(|a, b| (&a.kind != "server", &a.name).cmp(&(&b.kind != "server", &b.name)));
    out
}

/// A Raft peer (`/v1/operator/raft/configuration`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RaftRow {
    /// Node name.
    pub node: String,
    /// Raft ID.
    pub id: String,
    /// Server RPC address.
    pub address: String,
    /// Leads the cluster.
    pub leader: bool,
    /// Votes.
    pub voter: bool,
    /// Last log index the leader knows it has.
    pub last_index: u64,
}

/// Decode `/v1/operator/raft/configuration`.
pub fn raft(v: &Value) -> Vec<RaftRow> {
    v.get("Servers")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .map(|x| RaftRow {
                    node: s(x, "Node"),
                    id: s(x, "ID"),
                    address: s(x, "Address"),
                    leader: x.get("Leader").and_then(Value::as_bool).unwrap_or(false),
                    voter: x.get("Voter").and_then(Value::as_bool).unwrap_or(false),
                    last_index: n(x, "LastIndex"),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// The attached agent.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Overview {
    /// Datacenter.
    pub datacenter: String,
    /// Agent node name.
    pub node: String,
    /// Whether the agent is a server.
    pub server: bool,
    /// Version.
    pub version: String,
}

/// Decode `/v1/agent/self`.
pub fn overview(v: &Value) -> Overview {
    let c = &v["Config"];
    Overview {
        datacenter: s(c, "Datacenter"),
        node: s(c, "NodeName"),
        server: c.get("Server").and_then(Value::as_bool).unwrap_or(false),
        version: s(c, "Version"),
    }
}

/// One entry of a KV folder listing: a key or a sub-folder (ends in `/`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvItem {
    /// Full key.
    pub key: String,
}

impl KvItem {
    /// A folder (its key ends in `/`).
    pub fn is_dir(&self) -> bool {
        self.key.ends_with('/')
    }

    /// The part after `prefix`.
    pub fn label<'a>(&'a self, prefix: &str) -> &'a str {
        self.key.strip_prefix(prefix).unwrap_or(&self.key)
    }
}

/// Decode `/v1/kv/<prefix>?keys&separator=/` (404 → empty).
pub fn kv_keys(v: &Value) -> Vec<KvItem> {
    let mut out: Vec<KvItem> = v
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|x| x.as_str().map(|k| KvItem { key: k.to_string() }))
                .collect()
        })
        .unwrap_or_default();
    // Folders first, as a file browser shows them.
    out.sort_by(|a, b| (!a.is_dir(), &a.key).cmp(&(!b.is_dir(), &b.key)));
    out
}
