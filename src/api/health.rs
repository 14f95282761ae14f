//! Health and catalog answers as their readers decode them: `/v1/health/service/<name>`
//! entries, `/v1/health/state/<state>` checks and `/v1/catalog/nodes` nodes. The console and
//! a client agent's DNS (which asks a server over the RPC) read the same JSON; these owned,
//! deserialisable shapes make them read it the same way. Fields no reader uses are left out,
//! unknown ones ignored, and missing ones take their zero value, as Go's decoder does.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A check in a health answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Check {
    /// Node the check runs on.
    pub node: String,
    /// Check ID.
    #[serde(rename = "CheckID")]
    pub check_id: String,
    /// Check name.
    pub name: String,
    /// `passing`, `warning` or `critical`.
    pub status: String,
    /// Last output.
    pub output: String,
    /// Service ID (empty for a node check).
    #[serde(rename = "ServiceID")]
    pub service_id: String,
    /// Service name.
    pub service_name: String,
    /// Check type (`http`, `tcp`, `ttl`, ...).
    #[serde(rename = "Type")]
    pub kind: String,
}

/// The node of a catalog or health answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Node {
    /// Node name.
    pub node: String,
    /// Node address.
    pub address: String,
    /// Node metadata.
    pub meta: BTreeMap<String, String>,
}

/// A service's SRV weights.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Weights {
    /// While its checks pass.
    pub passing: i64,
    /// While a check warns.
    pub warning: i64,
}

impl Default for Weights {
    /// Consul's default: 1 and 1.
    fn default() -> Self {
        Weights {
            passing: 1,
            warning: 1,
        }
    }
}

/// The service of a health entry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Service {
    /// Service ID.
    #[serde(rename = "ID")]
    pub id: String,
    /// Service name.
    pub service: String,
    /// Service address (empty: the node's).
    pub address: String,
    /// Port.
    pub port: i64,
    /// Tags.
    pub tags: Vec<String>,
    /// SRV weights.
    pub weights: Weights,
}

/// One instance of `/v1/health/service/<name>`: node, service and their checks.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct ServiceEntry {
    /// The node.
    pub node: Node,
    /// The service.
    pub service: Service,
    /// The node's checks and the service's.
    pub checks: Vec<Check>,
}

impl ServiceEntry {
    /// The worst status of its checks (see [`worst_status`]).
    pub fn health(&self) -> &'static str {
        worst_status(self.checks.iter().map(|c| c.status.as_str()))
    }
}

/// How bad a status is, worst first: critical, warning, passing, then anything unknown.
pub fn status_rank(status: &str) -> u8 {
    match status {
        "critical" => 0,
        "warning" => 1,
        "passing" => 2,
        _ => 3,
    }
}

/// The aggregated status of a set of checks: critical if any is critical, else warning if
/// any warns, else passing (also for no checks); statuses that are only unknown count as
/// critical.
pub fn worst_status<'a>(statuses: impl IntoIterator<Item = &'a str>) -> &'static str {
    match statuses.into_iter().map(status_rank).min() {
        Some(0) | Some(3) => "critical",
        Some(1) => "warning",
        _ => "passing",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_decode_with_consul_defaults() {
        let body = r#"[{"Node":{"Node":"n1","Address":"10.0.0.1","Meta":{"k":"v"},"Datacenter":"dc1"},
            "Service":{"ID":"web1","Service":"web","Port":80,"Tags":["a"]},
            "Checks":[{"Node":"n1","CheckID":"serfHealth","Status":"passing"},
                      {"Node":"n1","CheckID":"c","Status":"warning","ServiceID":"web1","Type":"ttl"}]}]"#;
        let e: Vec<ServiceEntry> = serde_json::from_str(body).expect("decodes");
        assert_eq!(e[0].node.meta.get("k").map(String::as_str), Some("v"));
        assert_eq!(e[0].service.weights, Weights::default());
        assert_eq!(e[0].checks[1].kind, "ttl");
        assert_eq!(e[0].health(), "warning");
        assert_eq!(worst_status(["bogus"]), "critical");
        assert_eq!(worst_status(["warning", "critical"]), "critical");
        assert_eq!(worst_status([]), "passing");
    }
}
