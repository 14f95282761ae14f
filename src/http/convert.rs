//! Between API shapes and state rows.

use std::collections::BTreeMap;

use base64::Engine;

pub use crate::api::definition::{check_from, service_from, tagged_in};
use crate::api::duration::format_ns;
use crate::api::output::*;
use crate::state::{Check, KvEntry, Node, Service, TaggedAddress, Weights, status};

/// Node row → output.
pub fn node_out(n: &Node) -> NodeOut<'_> {
    NodeOut {
        id: &n.id,
        node: &n.node,
        address: &n.address,
        datacenter: &n.datacenter,
        tagged_addresses: &n.tagged_addresses,
        meta: &n.meta,
        create_index: n.create_index,
        modify_index: n.modify_index,
    }
}

fn tagged_out(t: &BTreeMap<String, TaggedAddress>) -> BTreeMap<&str, TaggedAddressOut<'_>> {
    t.iter()
        .map(|(k, v)| {
            (
                k.as_str(),
                TaggedAddressOut {
                    address: &v.address,
                    port: v.port,
                },
            )
        })
        .collect()
}

fn weights_out(w: Weights) -> WeightsOut {
    WeightsOut {
        passing: w.passing,
        warning: w.warning,
    }
}

/// Service row → catalog entry.
pub fn service_node_out<'a>(n: &'a Node, s: &'a Service) -> ServiceNodeOut<'a> {
    ServiceNodeOut {
        id: &n.id,
        node: &n.node,
        address: &n.address,
        datacenter: &n.datacenter,
        tagged_addresses: &n.tagged_addresses,
        node_meta: &n.meta,
        service_kind: &s.kind,
        service_id: &s.id,
        service_name: &s.service,
        service_tags: &s.tags,
        service_address: &s.address,
        service_tagged_addresses: tagged_out(&s.tagged_addresses),
        service_weights: weights_out(s.weights),
        service_meta: &s.meta,
        service_port: s.port,
        service_socket_path: "",
        service_enable_tag_override: s.enable_tag_override,
        service_proxy: ProxyOut::default(),
        service_connect: Empty {},
        create_index: s.create_index,
        modify_index: s.modify_index,
    }
}

/// Service row → node service.
pub fn node_service_out(s: &Service) -> NodeServiceOut<'_> {
    NodeServiceOut {
        kind: &s.kind,
        id: &s.id,
        service: &s.service,
        tags: &s.tags,
        address: &s.address,
        tagged_addresses: tagged_out(&s.tagged_addresses),
        meta: &s.meta,
        port: s.port,
        weights: weights_out(s.weights),
        enable_tag_override: s.enable_tag_override,
        proxy: ProxyOut::default(),
        connect: Empty {},
        peer_name: "",
        create_index: s.create_index,
        modify_index: s.modify_index,
    }
}

/// Service row → agent service.
pub fn agent_service_out<'a>(s: &'a Service, dc: &'a str) -> AgentServiceOut<'a> {
    AgentServiceOut {
        kind: &s.kind,
        id: &s.id,
        service: &s.service,
        tags: &s.tags,
        meta: &s.meta,
        port: s.port,
        address: &s.address,
        tagged_addresses: tagged_out(&s.tagged_addresses),
        weights: weights_out(s.weights),
        enable_tag_override: s.enable_tag_override,
        datacenter: dc,
        content_hash: None,
    }
}

/// Check row → output.
pub fn check_out(c: &Check) -> HealthCheckOut<'_> {
    let d = &c.definition;
    let interval = if d.interval_ns > 0 {
        format_ns(d.interval_ns)
    } else {
        String::new()
    };
    let timeout = if d.timeout_ns > 0 {
        format_ns(d.timeout_ns)
    } else {
        String::new()
    };
    HealthCheckOut {
        node: &c.node,
        check_id: &c.check_id,
        name: &c.name,
        status: &c.status,
        notes: &c.notes,
        output: &c.output,
        service_id: &c.service_id,
        service_name: &c.service_name,
        service_tags: &c.service_tags,
        r#type: &c.check_type,
        interval,
        timeout,
        exposed_port: 0,
        definition: DefinitionOut {
            interval: format_ns(d.interval_ns),
            timeout: format_ns(d.timeout_ns),
            deregister_critical_service_after: format_ns(d.deregister_critical_service_after_ns),
            http: &d.http,
            header: if d.header.is_empty() {
                None
            } else {
                Some(&d.header)
            },
            method: &d.method,
            body: &d.body,
            tls_server_name: &d.tls_server_name,
            tls_skip_verify: d.tls_skip_verify,
            tcp: &d.tcp,
            tcp_use_tls: false,
            udp: "",
            grpc: "",
            os_service: "",
            grpc_use_tls: false,
        },
        create_index: c.create_index,
        modify_index: c.modify_index,
    }
}

/// KV row → output.
pub fn dir_entry_out(e: &KvEntry) -> DirEntryOut<'_> {
    DirEntryOut {
        lock_index: e.lock_index,
        key: e.key(),
        flags: e.flags,
        value: if e.value().is_empty() {
            None
        } else {
            Some(base64::engine::general_purpose::STANDARD.encode(e.value()))
        },
        session: e.session.as_deref().unwrap_or(""),
        create_index: e.create_index,
        modify_index: e.modify_index,
    }
}

/// Aggregate status of a set of checks, as Go's `HealthChecks.AggregatedStatus`.
pub fn aggregate<'a>(checks: impl IntoIterator<Item = &'a Check>) -> &'static str {
    let (mut warn, mut crit, mut maint) = (false, false, false);
    for c in checks {
        if c.check_id == "_node_maintenance" || c.check_id.starts_with("_service_maintenance:") {
            maint = true;
        }
        match c.status.as_str() {
            status::CRITICAL => crit = true,
            status::WARNING => warn = true,
            _ => {}
        }
    }
    if maint {
        status::MAINTENANCE
    } else if crit {
        status::CRITICAL
    } else if warn {
        status::WARNING
    } else {
        status::PASSING
    }
}
