//! Response bodies, borrowed from the store rows they are built from so reads allocate
//! little beyond the JSON itself.

use std::collections::BTreeMap;

use serde::Serialize;

/// A service tagged address.
#[derive(Debug, Serialize, Clone)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct TaggedAddressOut<'a> {
    pub address: &'a str,
    pub port: i64,
}

/// SRV weights.
#[derive(Debug, Serialize, Clone, Copy)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct WeightsOut {
    pub passing: i64,
    pub warning: i64,
}

/// A catalog node.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NodeOut<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
    pub node: &'a str,
    pub address: &'a str,
    pub datacenter: &'a str,
    pub tagged_addresses: &'a BTreeMap<String, String>,
    pub meta: &'a BTreeMap<String, String>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// Placeholder proxy object Consul includes on every service.
#[derive(Debug, Serialize, Default)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ProxyOut {
    pub mode: &'static str,
    pub mesh_gateway: Empty,
    pub expose: Empty,
}

/// `{}`.
#[derive(Debug, Serialize, Default)]
pub struct Empty {}

/// An entry of `catalog/service/:name`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ServiceNodeOut<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
    pub node: &'a str,
    pub address: &'a str,
    pub datacenter: &'a str,
    pub tagged_addresses: &'a BTreeMap<String, String>,
    pub node_meta: &'a BTreeMap<String, String>,
    pub service_kind: &'a str,
    #[serde(rename = "ServiceID")]
    pub service_id: &'a str,
    pub service_name: &'a str,
    pub service_tags: &'a [String],
    pub service_address: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub service_tagged_addresses: BTreeMap<&'a str, TaggedAddressOut<'a>>,
    pub service_weights: WeightsOut,
    pub service_meta: &'a BTreeMap<String, String>,
    pub service_port: i64,
    pub service_socket_path: &'a str,
    pub service_enable_tag_override: bool,
    pub service_proxy: ProxyOut,
    pub service_connect: Empty,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A service as seen inside a node (`catalog/node`, `health/service`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NodeServiceOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub kind: &'a str,
    #[serde(rename = "ID")]
    pub id: &'a str,
    pub service: &'a str,
    pub tags: &'a [String],
    pub address: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<&'a str, TaggedAddressOut<'a>>,
    pub meta: &'a BTreeMap<String, String>,
    pub port: i64,
    pub weights: WeightsOut,
    pub enable_tag_override: bool,
    pub proxy: ProxyOut,
    pub connect: Empty,
    pub peer_name: &'a str,
    pub create_index: u64,
    pub modify_index: u64,
}

/// A service as the local agent knows it (`agent/services`).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct AgentServiceOut<'a> {
    #[serde(skip_serializing_if = "str::is_empty")]
    pub kind: &'a str,
    #[serde(rename = "ID")]
    pub id: &'a str,
    pub service: &'a str,
    pub tags: &'a [String],
    pub meta: &'a BTreeMap<String, String>,
    pub port: i64,
    pub address: &'a str,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub tagged_addresses: BTreeMap<&'a str, TaggedAddressOut<'a>>,
    pub weights: WeightsOut,
    pub enable_tag_override: bool,
    pub datacenter: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub content_hash: Option<String>,
}

/// How a check probes, as Consul reports it (durations as strings).
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct DefinitionOut<'a> {
    pub interval: String,
    pub timeout: String,
    pub deregister_critical_service_after: String,
    #[serde(rename = "HTTP")]
    pub http: &'a str,
    pub header: Option<&'a BTreeMap<String, Vec<String>>>,
    pub method: &'a str,
    pub body: &'a str,
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: &'a str,
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    #[serde(rename = "TCP")]
    pub tcp: &'a str,
    #[serde(rename = "TCPUseTLS")]
    pub tcp_use_tls: bool,
    #[serde(rename = "UDP")]
    pub udp: &'a str,
    #[serde(rename = "GRPC")]
    pub grpc: &'a str,
    #[serde(rename = "OSService")]
    pub os_service: &'a str,
    #[serde(rename = "GRPCUseTLS")]
    pub grpc_use_tls: bool,
}

/// A health check.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct HealthCheckOut<'a> {
    pub node: &'a str,
    #[serde(rename = "CheckID")]
    pub check_id: &'a str,
    pub name: &'a str,
    pub status: &'a str,
    pub notes: &'a str,
    pub output: &'a str,
    #[serde(rename = "ServiceID")]
    pub service_id: &'a str,
    pub service_name: &'a str,
    pub service_tags: &'a [String],
    pub r#type: &'a str,
    pub interval: String,
    pub timeout: String,
    pub exposed_port: i64,
    pub definition: DefinitionOut<'a>,
    pub create_index: u64,
    pub modify_index: u64,
}

/// An entry of `health/service/:name`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct ServiceEntryOut<'a> {
    pub node: NodeOut<'a>,
    pub service: NodeServiceOut<'a>,
    pub checks: Vec<HealthCheckOut<'a>>,
}

/// `catalog/node/:node`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NodeServicesOut<'a> {
    pub node: NodeOut<'a>,
    pub services: BTreeMap<&'a str, NodeServiceOut<'a>>,
}

/// An entry of `internal/ui/nodes` and the answer of `internal/ui/node/:node` (Consul's
/// `NodeInfo`): the node with its services and checks, so a UI page needs one query.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct NodeInfoOut<'a> {
    #[serde(rename = "ID")]
    pub id: &'a str,
    pub node: &'a str,
    pub address: &'a str,
    pub datacenter: &'a str,
    pub tagged_addresses: &'a BTreeMap<String, String>,
    pub meta: &'a BTreeMap<String, String>,
    pub services: Vec<NodeServiceOut<'a>>,
    pub checks: Vec<HealthCheckOut<'a>>,
}

/// A KV entry.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct DirEntryOut<'a> {
    pub lock_index: u64,
    pub key: &'a str,
    pub flags: u64,
    pub value: Option<String>,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub session: &'a str,
    pub create_index: u64,
    pub modify_index: u64,
}

/// `agent/health/service/...`.
#[derive(Debug, Serialize)]
#[serde(rename_all = "PascalCase")]
#[allow(missing_docs)]
pub struct AgentHealthOut<'a> {
    pub aggregated_status: &'a str,
    pub service: AgentServiceOut<'a>,
    pub checks: Vec<HealthCheckOut<'a>>,
}
