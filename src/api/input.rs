//! Request bodies.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::decode::{Field, Schema, dur};

/// `{"Passing":N,"Warning":N}`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct WeightsIn {
    /// Weight while passing.
    #[serde(default)]
    pub passing: i64,
    /// Weight while warning.
    #[serde(default)]
    pub warning: i64,
}

/// Service tagged address input.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TaggedAddressIn {
    /// Address.
    #[serde(default)]
    pub address: String,
    /// Port.
    #[serde(default)]
    pub port: i64,
}

/// A check inside a service definition, or the body of `agent/check/register`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct CheckTypeIn {
    #[serde(rename = "CheckID")]
    pub check_id: String,
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub status: String,
    pub notes: String,
    pub output: String,
    pub script_args: Vec<String>,
    #[serde(rename = "HTTP")]
    pub http: String,
    pub method: String,
    pub header: BTreeMap<String, Vec<String>>,
    pub body: String,
    pub disable_redirects: bool,
    #[serde(rename = "TLSServerName")]
    pub tls_server_name: String,
    #[serde(rename = "TLSSkipVerify")]
    pub tls_skip_verify: bool,
    #[serde(rename = "TCP")]
    pub tcp: String,
    #[serde(rename = "UDP")]
    pub udp: String,
    #[serde(rename = "GRPC")]
    pub grpc: String,
    #[serde(rename = "GRPCUseTLS")]
    pub grpc_use_tls: bool,
    #[serde(rename = "H2PING")]
    pub h2ping: String,
    #[serde(rename = "H2PingUseTLS")]
    pub h2ping_use_tls: bool,
    #[serde(rename = "OSService")]
    pub os_service: String,
    pub alias_node: String,
    pub alias_service: String,
    #[serde(rename = "DockerContainerID")]
    pub docker_container_id: String,
    pub shell: String,
    #[serde(deserialize_with = "dur::deserialize")]
    pub interval: u64,
    #[serde(deserialize_with = "dur::deserialize")]
    pub timeout: u64,
    #[serde(rename = "TTL", deserialize_with = "dur::deserialize")]
    pub ttl: u64,
    #[serde(deserialize_with = "dur::deserialize")]
    pub deregister_critical_service_after: u64,
    pub success_before_passing: i64,
    pub failures_before_warning: i64,
    pub failures_before_critical: i64,
    pub output_max_size: i64,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub namespace: String,
    pub partition: String,
}

impl CheckTypeIn {
    /// An all-empty `Check` object in a service definition is ignored, as Consul does.
    pub fn is_empty(&self) -> bool {
        self.http.is_empty()
            && self.tcp.is_empty()
            && self.ttl == 0
            && self.script_args.is_empty()
            && self.udp.is_empty()
            && self.grpc.is_empty()
            && self.h2ping.is_empty()
            && self.alias_service.is_empty()
            && self.os_service.is_empty()
            && self.docker_container_id.is_empty()
            && self.name.is_empty()
            && self.check_id.is_empty()
            && self.id.is_empty()
    }

    /// The check type Consul reports (`http`, `tcp`, `ttl`, `script`...).
    pub fn kind(&self) -> &'static str {
        if !self.script_args.is_empty() {
            "script"
        } else if !self.http.is_empty() {
            "http"
        } else if !self.tcp.is_empty() {
            "tcp"
        } else if !self.udp.is_empty() {
            "udp"
        } else if !self.grpc.is_empty() {
            "grpc"
        } else if !self.h2ping.is_empty() {
            "h2ping"
        } else if !self.alias_service.is_empty() || !self.alias_node.is_empty() {
            "alias"
        } else if !self.docker_container_id.is_empty() {
            "docker"
        } else if !self.os_service.is_empty() {
            "os_service"
        } else if self.ttl > 0 {
            "ttl"
        } else {
            ""
        }
    }
}

/// Schema of [`CheckTypeIn`].
pub static CHECK_SCHEMA: Schema = Schema {
    fields: &[
        ("CheckID", Field::Value),
        ("ID", Field::Value),
        ("Name", Field::Value),
        ("Status", Field::Value),
        ("Notes", Field::Value),
        ("Output", Field::Value),
        ("ScriptArgs", Field::Value),
        ("HTTP", Field::Value),
        ("Method", Field::Value),
        ("Header", Field::Map),
        ("Body", Field::Value),
        ("DisableRedirects", Field::Value),
        ("TLSServerName", Field::Value),
        ("TLSSkipVerify", Field::Value),
        ("TCP", Field::Value),
        ("UDP", Field::Value),
        ("GRPC", Field::Value),
        ("GRPCUseTLS", Field::Value),
        ("H2PING", Field::Value),
        ("H2PingUseTLS", Field::Value),
        ("OSService", Field::Value),
        ("AliasNode", Field::Value),
        ("AliasService", Field::Value),
        ("DockerContainerID", Field::Value),
        ("Shell", Field::Value),
        ("Interval", Field::Value),
        ("Timeout", Field::Value),
        ("TTL", Field::Value),
        ("DeregisterCriticalServiceAfter", Field::Value),
        ("SuccessBeforePassing", Field::Value),
        ("FailuresBeforeWarning", Field::Value),
        ("FailuresBeforeCritical", Field::Value),
        ("OutputMaxSize", Field::Value),
        ("ServiceID", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
    ],
    aliases: &[("args", "ScriptArgs")],
};

static WEIGHTS_SCHEMA: Schema = Schema {
    fields: &[("Passing", Field::Value), ("Warning", Field::Value)],
    aliases: &[],
};
static TAGGED_SCHEMA: Schema = Schema {
    fields: &[("Address", Field::Value), ("Port", Field::Value)],
    aliases: &[],
};

/// Body of `agent/service/register` and a `service` block of a config file.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct ServiceDefinitionIn {
    #[serde(rename = "ID")]
    pub id: String,
    pub name: String,
    pub tags: Option<Vec<String>>,
    pub address: String,
    pub tagged_addresses: BTreeMap<String, TaggedAddressIn>,
    pub meta: Option<BTreeMap<String, String>>,
    pub port: i64,
    pub socket_path: String,
    pub kind: String,
    pub weights: Option<WeightsIn>,
    pub token: String,
    pub enable_tag_override: bool,
    pub check: Option<CheckTypeIn>,
    pub checks: Option<Vec<CheckTypeIn>>,
    pub namespace: String,
    pub partition: String,
    pub proxy: Option<serde_json::Value>,
    pub connect: Option<serde_json::Value>,
    pub locality: Option<serde_json::Value>,
}

/// Schema of [`ServiceDefinitionIn`].
pub static SERVICE_SCHEMA: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Name", Field::Value),
        ("Tags", Field::Value),
        ("Address", Field::Value),
        ("TaggedAddresses", Field::MapOf(&TAGGED_SCHEMA)),
        ("Meta", Field::Map),
        ("Port", Field::Value),
        ("SocketPath", Field::Value),
        ("Kind", Field::Value),
        ("Weights", Field::Struct(&WEIGHTS_SCHEMA)),
        ("Token", Field::Value),
        ("EnableTagOverride", Field::Value),
        ("Check", Field::Struct(&CHECK_SCHEMA)),
        ("Checks", Field::List(&CHECK_SCHEMA)),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("Proxy", Field::Map),
        ("Connect", Field::Map),
        ("Locality", Field::Map),
    ],
    aliases: &[],
};

/// `Service` inside a catalog register request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct CatalogServiceIn {
    #[serde(rename = "ID")]
    pub id: String,
    pub service: String,
    pub tags: Option<Vec<String>>,
    pub address: String,
    pub tagged_addresses: BTreeMap<String, TaggedAddressIn>,
    pub meta: Option<BTreeMap<String, String>>,
    pub port: i64,
    pub weights: Option<WeightsIn>,
    pub enable_tag_override: bool,
    pub kind: String,
    pub proxy: Option<serde_json::Value>,
    pub connect: Option<serde_json::Value>,
    pub namespace: String,
    pub partition: String,
    pub socket_path: String,
    pub locality: Option<serde_json::Value>,
    /// For `cas` in a transaction.
    pub modify_index: u64,
}

/// Schema of [`CatalogServiceIn`].
pub static CATALOG_SERVICE_SCHEMA: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Service", Field::Value),
        ("Tags", Field::Value),
        ("Address", Field::Value),
        ("TaggedAddresses", Field::MapOf(&TAGGED_SCHEMA)),
        ("Meta", Field::Map),
        ("Port", Field::Value),
        ("Weights", Field::Struct(&WEIGHTS_SCHEMA)),
        ("EnableTagOverride", Field::Value),
        ("Kind", Field::Value),
        ("Proxy", Field::Map),
        ("Connect", Field::Map),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("SocketPath", Field::Value),
        ("Locality", Field::Map),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
        ("PeerName", Field::Value),
    ],
    aliases: &[],
};

/// A check inside a catalog register request.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct CatalogCheckIn {
    pub node: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub name: String,
    pub status: String,
    pub notes: String,
    pub output: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    pub service_name: String,
    pub r#type: String,
    pub definition: Option<serde_json::Value>,
    pub namespace: String,
    pub partition: String,
    /// For `cas` in a transaction.
    pub modify_index: u64,
}

/// Schema of [`CatalogCheckIn`].
pub static CATALOG_CHECK_SCHEMA: Schema = Schema {
    fields: &[
        ("Node", Field::Value),
        ("CheckID", Field::Value),
        ("Name", Field::Value),
        ("Status", Field::Value),
        ("Notes", Field::Value),
        ("Output", Field::Value),
        ("ServiceID", Field::Value),
        ("ServiceName", Field::Value),
        ("ServiceTags", Field::Value),
        ("Type", Field::Value),
        ("Definition", Field::Map),
        ("Interval", Field::Value),
        ("Timeout", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("CreateIndex", Field::Value),
        ("ModifyIndex", Field::Value),
        ("ExposedPort", Field::Value),
    ],
    aliases: &[],
};

/// Body of `catalog/register`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct RegisterIn {
    #[serde(rename = "ID")]
    pub id: String,
    pub node: String,
    pub address: String,
    pub datacenter: String,
    pub tagged_addresses: Option<BTreeMap<String, String>>,
    pub node_meta: Option<BTreeMap<String, String>>,
    pub service: Option<CatalogServiceIn>,
    pub check: Option<CatalogCheckIn>,
    pub checks: Option<Vec<CatalogCheckIn>>,
    pub skip_node_update: bool,
    pub namespace: String,
    pub partition: String,
}

/// Schema of [`RegisterIn`].
pub static REGISTER_SCHEMA: Schema = Schema {
    fields: &[
        ("ID", Field::Value),
        ("Node", Field::Value),
        ("Address", Field::Value),
        ("Datacenter", Field::Value),
        ("TaggedAddresses", Field::Map),
        ("NodeMeta", Field::Map),
        ("Service", Field::Struct(&CATALOG_SERVICE_SCHEMA)),
        ("Check", Field::Struct(&CATALOG_CHECK_SCHEMA)),
        ("Checks", Field::List(&CATALOG_CHECK_SCHEMA)),
        ("SkipNodeUpdate", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("Token", Field::Value),
        ("WriteRequest", Field::Map),
    ],
    aliases: &[],
};

/// Body of `catalog/deregister`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct DeregisterIn {
    pub node: String,
    pub datacenter: String,
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    #[serde(rename = "CheckID")]
    pub check_id: String,
    pub namespace: String,
    pub partition: String,
}

/// Schema of [`DeregisterIn`].
pub static DEREGISTER_SCHEMA: Schema = Schema {
    fields: &[
        ("Node", Field::Value),
        ("Datacenter", Field::Value),
        ("ServiceID", Field::Value),
        ("CheckID", Field::Value),
        ("Namespace", Field::Value),
        ("Partition", Field::Value),
        ("Token", Field::Value),
    ],
    aliases: &[],
};

/// Body of `agent/check/update/:id`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
#[allow(missing_docs)]
pub struct CheckUpdateIn {
    pub status: String,
    pub output: String,
}

/// Schema of [`CheckUpdateIn`].
pub static CHECK_UPDATE_SCHEMA: Schema = Schema {
    fields: &[("Status", Field::Value), ("Output", Field::Value)],
    aliases: &[],
};
