//! What the console shows, decoded from the agent's API answers. Decoding is lenient: a
//! missing field becomes empty rather than failing the whole list.

use serde::Deserialize;
use serde_json::Value;

use crate::api::cluster::{Member, RaftConfiguration, sort_members};
use crate::api::health::{self as api, status_rank, worst_status};

fn s(v: &Value, k: &str) -> String {
    v.get(k)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// One service name with totals over its instances (`/v1/internal/ui/services`). It
/// serializes with that endpoint's field names, which the console's filter box selects.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ServiceRow {
    /// Service name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Union of the instances' tags.
    #[serde(rename = "Tags")]
    pub tags: Vec<String>,
    /// Instances.
    #[serde(rename = "InstanceCount")]
    pub instances: u64,
    /// Checks passing.
    #[serde(rename = "ChecksPassing")]
    pub passing: u64,
    /// Checks warning.
    #[serde(rename = "ChecksWarning")]
    pub warning: u64,
    /// Checks critical.
    #[serde(rename = "ChecksCritical")]
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

/// A health check row; serializes with Consul's HealthCheck field names for the filter
/// box.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct CheckRow {
    /// Node.
    #[serde(rename = "Node")]
    pub node: String,
    /// Check ID.
    #[serde(rename = "CheckID")]
    pub id: String,
    /// Check name.
    #[serde(rename = "Name")]
    pub name: String,
    /// Status.
    #[serde(rename = "Status")]
    pub status: String,
    /// Last output.
    #[serde(rename = "Output")]
    pub output: String,
    /// Service ID (empty for node checks).
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name.
    #[serde(rename = "ServiceName")]
    pub service_name: String,
    /// Check type.
    #[serde(rename = "Type")]
    pub kind: String,
}

fn check(c: api::Check) -> CheckRow {
    CheckRow {
        node: c.node,
        id: c.check_id,
        name: c.name,
        status: c.status,
        output: c.output,
        service_id: c.service_id,
        service_name: c.service_name,
        kind: c.kind,
    }
}

/// Decode `/v1/health/state/any`, critical first, then warning, then passing.
pub fn checks(v: &Value) -> Vec<CheckRow> {
    let mut out: Vec<CheckRow> = Vec::<api::Check>::deserialize(v)
        .unwrap_or_default()
        .into_iter()
        .map(check)
        .collect();
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
        worst_status(self.checks.iter().map(|c| c.status.as_str()))
    }
}

/// Decode `/v1/health/service/<name>`.
pub fn instances(v: &Value) -> Vec<Instance> {
    Vec::<api::ServiceEntry>::deserialize(v)
        .unwrap_or_default()
        .into_iter()
        .map(|e| Instance {
            node: e.node.node,
            node_address: e.node.address,
            id: e.service.id,
            address: e.service.address,
            port: e.service.port,
            tags: e.service.tags,
            checks: e.checks.into_iter().map(check).collect(),
        })
        .collect()
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
    let mut list = Vec::<Member>::deserialize(v).unwrap_or_default();
    sort_members(&mut list);
    list.into_iter()
        .map(|m| MemberRow {
            address: m.address(),
            status: m.status_name().into(),
            kind: if m.is_server() { "server" } else { "client" }.into(),
            build: m.build().to_string(),
            dc: m.tag("dc").to_string(),
            name: m.name,
        })
        .collect()
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
    RaftConfiguration::deserialize(v)
        .unwrap_or_default()
        .servers
        .into_iter()
        .map(|x| RaftRow {
            node: x.node,
            id: x.id,
            address: x.address,
            leader: x.leader,
            voter: x.voter,
            last_index: x.last_index,
        })
        .collect()
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

/// A session (`/v1/session/list`), with the keys it holds once the KV tree was read.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionRow {
    /// Session ID.
    pub id: String,
    /// Name given at creation.
    pub name: String,
    /// Node it belongs to.
    pub node: String,
    /// TTL as given (`""`: none).
    pub ttl: String,
    /// `release` or `delete`.
    pub behavior: String,
    /// Lock-delay in whole seconds.
    pub lock_delay_s: u64,
    /// Checks it is bound to (node and service checks).
    pub checks: Vec<String>,
}

/// Decode `/v1/session/list`.
pub fn sessions(v: &Value) -> Vec<SessionRow> {
    let Some(list) = v.as_array() else {
        return Vec::new();
    };
    let mut rows: Vec<SessionRow> = list
        .iter()
        .map(|x| {
            let mut checks: Vec<String> = ["NodeChecks", "Checks"]
                .iter()
                .flat_map(|k| x[*k].as_array().into_iter().flatten())
                .filter_map(|c| c.as_str().map(str::to_string))
                .collect();
            checks.extend(
                x["ServiceChecks"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|c| c["ID"].as_str().map(str::to_string)),
            );
            SessionRow {
                id: s(x, "ID"),
                name: s(x, "Name"),
                node: s(x, "Node"),
                ttl: s(x, "TTL"),
                behavior: s(x, "Behavior"),
                lock_delay_s: x["LockDelay"].as_u64().unwrap_or(0) / 1_000_000_000,
                checks,
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.node, &a.name, &a.id).cmp(&(&b.node, &b.name, &b.id)));
    rows
}

/// Keys held by a session, from `/v1/kv/?recurse`: (key, session), by key.
pub fn held_keys(entries: Vec<crate::api::kv::KvPair>) -> Vec<(String, String)> {
    entries
        .into_iter()
        .filter_map(|e| e.holder().map(str::to_string).map(|s| (e.key, s)))
        .collect()
}

/// A user event this agent received (`/v1/event/list`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EventRow {
    /// Event ID.
    pub id: String,
    /// Name.
    pub name: String,
    /// Payload as text (lossy), empty without one.
    pub payload: String,
    /// The gossip event clock's time.
    pub ltime: u64,
}

/// Decode `/v1/event/list`, newest first.
pub fn events(v: &Value) -> Vec<EventRow> {
    use base64::Engine as _;
    let mut rows: Vec<EventRow> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| EventRow {
            id: s(e, "ID"),
            name: s(e, "Name"),
            payload: e["Payload"]
                .as_str()
                .and_then(|p| base64::engine::general_purpose::STANDARD.decode(p).ok())
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default(),
            ltime: e["LTime"].as_u64().unwrap_or(0),
        })
        .collect();
    rows.reverse();
    rows
}
