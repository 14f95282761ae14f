//! Between API shapes and state rows.

use std::collections::BTreeMap;

use base64::Engine;

use super::ApiError;
use crate::api::duration::format_ns;
use crate::api::input::{CheckTypeIn, ServiceDefinitionIn, TaggedAddressIn, WeightsIn};
use crate::api::output::*;
use crate::state::{
    Check, CheckDefinition, KvEntry, Node, Service, TaggedAddress, Weights, status,
};

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
        key: &e.key,
        flags: e.flags,
        value: if e.value.is_empty() {
            None
        } else {
            Some(base64::engine::general_purpose::STANDARD.encode(&e.value))
        },
        session: &e.session,
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

fn weights_in(w: Option<&WeightsIn>) -> Result<Weights, ApiError> {
    match w {
        None => Ok(Weights::default()),
        Some(w) if w.passing <= 0 => Err(ApiError::bad(format!(
            "Invalid Weights: Passing must be greater than 0, got {}",
            w.passing
        ))),
        Some(w) if w.warning < 0 => Err(ApiError::bad(format!(
            "Invalid Weights: Warning must be greater or equal than 0, got {}",
            w.warning
        ))),
        Some(w) => Ok(Weights {
            passing: w.passing,
            warning: w.warning,
        }),
    }
}

/// Service tagged addresses from input.
pub fn tagged_in(t: &BTreeMap<String, TaggedAddressIn>) -> BTreeMap<String, TaggedAddress> {
    t.iter()
        .map(|(k, v)| {
            (
                k.clone(),
                TaggedAddress {
                    address: v.address.clone(),
                    port: v.port,
                },
            )
        })
        .collect()
}

fn validate_meta(meta: &BTreeMap<String, String>) -> Result<(), ApiError> {
    if meta.len() > 64 {
        return Err(ApiError::bad(
            "Invalid Service Meta: Node metadata cannot contain more than 64 key/value pairs"
                .to_string(),
        ));
    }
    for (k, v) in meta {
        if k.is_empty()
            || k.len() > 128
            || !k
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Err(ApiError::bad(format!(
                "Invalid Service Meta: Key contains invalid characters or is too long: {k:?}"
            )));
        }
        if k.starts_with("consul-") {
            return Err(ApiError::bad(format!(
                "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use: {k:?}"
            )));
        }
        if v.len() > 512 {
            return Err(ApiError::bad(format!(
                "Invalid Service Meta: Value is too long (limit: 512 characters): {k:?}"
            )));
        }
    }
    Ok(())
}

/// Build a check row from a check type; `prefix` messages as Consul does.
pub fn check_from(
    c: &CheckTypeIn,
    id: String,
    default_name: String,
    service: Option<&Service>,
    script_allowed: bool,
) -> Result<Check, ApiError> {
    if !c.status.is_empty() && !status::is_valid(&c.status) {
        return Err(ApiError::bad(
            "Invalid check: Status for checks must 'passing', 'warning', 'critical'",
        ));
    }
    if c.interval > 0 && c.ttl > 0 {
        return Err(ApiError::bad(
            "Invalid check: Interval and TTL cannot both be specified",
        ));
    }
    let kind = c.kind();
    if matches!(
        kind,
        "http" | "tcp" | "script" | "udp" | "h2ping" | "os_service"
    ) && c.interval == 0
    {
        return Err(ApiError::bad(
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ));
    }
    if kind.is_empty() {
        return Err(ApiError::bad(
            "Invalid check: TTL must be > 0 for TTL checks",
        ));
    }
    if kind == "script" && !script_allowed {
        return Err(ApiError::bad(
            "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' to true",
        ));
    }
    if c.failures_before_warning > c.failures_before_critical && c.failures_before_critical > 0 {
        return Err(ApiError::bad(
            "Invalid check: FailuresBeforeWarning can't be higher than FailuresBeforeCritical",
        ));
    }
    let name = if c.name.is_empty() {
        default_name
    } else {
        c.name.clone()
    };
    let method = if c.http.is_empty() {
        String::new()
    } else if c.method.is_empty() {
        "GET".into()
    } else {
        c.method.clone()
    };
    Ok(Check {
        node: String::new(),
        check_id: id,
        name,
        status: if c.status.is_empty() {
            status::CRITICAL.into()
        } else {
            c.status.clone()
        },
        notes: c.notes.clone(),
        output: c.output.clone(),
        service_id: service
            .map(|s| s.id.clone())
            .unwrap_or_else(|| c.service_id.clone()),
        service_name: service.map(|s| s.service.clone()).unwrap_or_default(),
        service_tags: service.map(|s| s.tags.clone()).unwrap_or_default(),
        check_type: kind.into(),
        definition: CheckDefinition {
            http: c.http.clone(),
            method,
            header: c.header.clone(),
            body: c.body.clone(),
            tls_skip_verify: c.tls_skip_verify,
            tls_server_name: c.tls_server_name.clone(),
            tcp: c.tcp.clone(),
            script_args: c.script_args.clone(),
            interval_ns: c.interval,
            timeout_ns: c.timeout,
            ttl_ns: c.ttl,
            deregister_critical_service_after_ns: c.deregister_critical_service_after,
        },
        create_index: 0,
        modify_index: 0,
    })
}

/// Validate a service definition and turn it into rows (service + its checks).
pub fn service_from(
    def: &ServiceDefinitionIn,
    dc_node: &str,
    script_allowed: bool,
) -> Result<(Service, Vec<Check>), ApiError> {
    if def.name.is_empty() {
        return Err(ApiError::bad("Missing service name"));
    }
    if def.address == "0.0.0.0" || def.address == "::" || def.address == "[::]" {
        return Err(ApiError::bad(format!(
            "Invalid service address {:?}",
            def.address
        )));
    }
    let meta = def.meta.clone().unwrap_or_default();
    validate_meta(&meta)?;
    let id = if def.id.is_empty() {
        def.name.clone()
    } else {
        def.id.clone()
    };
    let svc = Service {
        node: dc_node.to_string(),
        id: id.clone(),
        service: def.name.clone(),
        tags: def.tags.clone().unwrap_or_default(),
        address: def.address.clone(),
        tagged_addresses: tagged_in(&def.tagged_addresses),
        meta,
        port: def.port,
        weights: weights_in(def.weights.as_ref())?,
        enable_tag_override: def.enable_tag_override,
        kind: def.kind.clone(),
        create_index: 0,
        modify_index: 0,
    };
    let mut types: Vec<&CheckTypeIn> = Vec::new();
    if let Some(c) = &def.check
        && !c.is_empty()
    {
        types.push(c);
    }
    if let Some(cs) = &def.checks {
        types.extend(cs.iter().filter(|c| !c.is_empty()));
    }
    let many = types.len() > 1;
    let mut checks = Vec::with_capacity(types.len());
    for (i, c) in types.into_iter().enumerate() {
        let explicit = if !c.check_id.is_empty() {
            c.check_id.clone()
        } else {
            c.id.clone()
        };
        let cid = if !explicit.is_empty() {
            explicit
        } else if many {
            format!("service:{id}:{}", i + 1)
        } else {
            format!("service:{id}")
        };
        checks.push(check_from(
            c,
            cid,
            format!("Service '{}' check", def.name),
            Some(&svc),
            script_allowed,
        )?);
    }
    Ok((svc, checks))
}
