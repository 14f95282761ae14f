//! Service and check definitions (the agent register bodies and the `service`/`check`
//! blocks of config files) validated and turned into state rows. Shared by the HTTP API and
//! config loading, so both accept and refuse exactly the same definitions.

use std::collections::BTreeMap;

use crate::api::input::{CheckTypeIn, ServiceDefinitionIn, TaggedAddressIn, WeightsIn};
use crate::state::{
    Check, CheckDefinition, CheckTuning, Name, Service, TaggedAddress, Weights, status,
};

/// A definition Consul would refuse, with its message (answered as `400`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

fn bad(msg: impl Into<String>) -> Invalid {
    Invalid(msg.into())
}

fn weights_in(w: Option<&WeightsIn>) -> Result<Weights, Invalid> {
    match w {
        None => Ok(Weights::default()),
        Some(w) if w.passing <= 0 => Err(bad(format!(
            "Invalid Weights: Passing must be greater than 0, got {}",
            w.passing
        ))),
        Some(w) if w.warning < 0 => Err(bad(format!(
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

fn validate_meta(meta: &BTreeMap<String, String>) -> Result<(), Invalid> {
    if meta.len() > 64 {
        return Err(bad(
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
            return Err(bad(format!(
                "Invalid Service Meta: Key contains invalid characters or is too long: {k:?}"
            )));
        }
        if k.starts_with("consul-") {
            return Err(bad(format!(
                "Invalid Service Meta: Key prefix 'consul-' is reserved for internal use: {k:?}"
            )));
        }
        if v.len() > 512 {
            return Err(bad(format!(
                "Invalid Service Meta: Value is too long (limit: 512 characters): {k:?}"
            )));
        }
    }
    Ok(())
}

/// The ID of a standalone check (`agent/check/register`, a config file's `check` block):
/// `CheckID`, else `ID`, else the required name.
pub fn standalone_check_id(c: &CheckTypeIn) -> Result<String, Invalid> {
    if c.name.is_empty() {
        return Err(bad("Missing check name"));
    }
    Ok([&c.check_id, &c.id]
        .into_iter()
        .find(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| c.name.clone()))
}

/// Build a check row from a check type; `prefix` messages as Consul does.
pub fn check_from(
    c: &CheckTypeIn,
    id: String,
    default_name: String,
    service: Option<&Service>,
    script_allowed: bool,
) -> Result<(Check, CheckTuning), Invalid> {
    if !c.status.is_empty() && !status::is_valid(&c.status) {
        return Err(bad(
            "Invalid check: Status for checks must 'passing', 'warning', 'critical'",
        ));
    }
    if c.interval > 0 && c.ttl > 0 {
        return Err(bad(
            "Invalid check: Interval and TTL cannot both be specified",
        ));
    }
    let kind = c.kind();
    if matches!(
        kind,
        "http" | "tcp" | "script" | "udp" | "h2ping" | "os_service"
    ) && c.interval == 0
    {
        return Err(bad(
            "Invalid check: Interval must be > 0 for Script, HTTP, H2PING, TCP, UDP or OSService checks",
        ));
    }
    if kind.is_empty() {
        return Err(bad("Invalid check: TTL must be > 0 for TTL checks"));
    }
    if kind == "script" && !script_allowed {
        return Err(bad(
            "Scripts are disabled on this agent; to enable, configure 'enable_script_checks' to true",
        ));
    }
    if c.failures_before_warning > c.failures_before_critical && c.failures_before_critical > 0 {
        return Err(bad(
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
    let tuning = CheckTuning {
        disable_redirects: c.disable_redirects,
        output_max_size: u64::try_from(c.output_max_size).unwrap_or(0),
        success_before_passing: c.success_before_passing,
        failures_before_warning: c.failures_before_warning,
        failures_before_critical: c.failures_before_critical,
    };
    let check = Check {
        node: String::new().into(),
        check_id: id.into(),
        name,
        status: Name::status_or_critical(&c.status),
        notes: c.notes.clone(),
        output: c.output.clone(),
        service_id: service
            .map(|s| s.id.clone())
            .unwrap_or_else(|| c.service_id.as_str().into()),
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
    };
    Ok((check, tuning))
}

/// Validate a service definition and turn it into rows (service + its checks).
pub fn service_from(
    def: &ServiceDefinitionIn,
    dc_node: &str,
    script_allowed: bool,
) -> Result<(Service, Vec<(Check, CheckTuning)>), Invalid> {
    if def.name.is_empty() {
        return Err(bad("Missing service name"));
    }
    if def.address == "0.0.0.0" || def.address == "::" || def.address == "[::]" {
        return Err(bad(format!("Invalid service address {:?}", def.address)));
    }
    let meta = def.meta.clone().unwrap_or_default();
    validate_meta(&meta)?;
    let id = if def.id.is_empty() {
        def.name.clone()
    } else {
        def.id.clone()
    };
    let svc = Service {
        node: dc_node.to_string().into(),
        id: id.clone().into(),
        service: def.name.clone().into(),
        tags: def.tags.clone().unwrap_or_default().into(),
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
