//! JSON config files and directories: loading them, and the table of top-level keys.
//!
//! Keys are checked by hand rather than through a derived deserializer so each error can
//! name the key and the file, and unknown keys can be warnings (as Consul's are) instead of
//! failures. `reader.rs` reads single values, `sections.rs` the nested objects.

mod reader;
mod sections;
mod security;
#[cfg(test)]
mod tests;
mod tls;

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{AgentConfig, ConfigError};
use reader::Reader;

pub use reader::parse_log_level;

/// A non-fatal remark about a config file (an unknown key, an ignored setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

/// Keys accepted and ignored because they configure features outside disco's scope or whose
/// defaults are the only supported value.
const IGNORED: &[&str] = &[
    "telemetry",
    "addresses",
    "disable_update_check",
    "disable_anonymous_signature",
    "disable_remote_exec",
    "enable_debug",
    "enable_syslog",
    "syslog_facility",
    "log_json",
    "log_file",
    "connect",
    "reconnect_timeout",
    "watches",
    "protocol",
    "raft_protocol",
    "server_name",
    "segment",
    "license_path",
    "default_query_time",
    "max_query_time",
    "statsd_addr",
    "statsite_addr",
    "enable_central_service_config",
    "translate_wan_addrs",
];

/// Load a config file, or every `*.json` file of a directory in name order, on top of `cfg`.
pub fn load_path(cfg: &mut AgentConfig, path: &Path) -> Result<Vec<ConfigWarning>, ConfigError> {
    let meta = std::fs::metadata(path).map_err(|e| ConfigError::Read {
        path: path.display().to_string(),
        err: e.to_string(),
    })?;
    let mut warnings = Vec::new();
    if meta.is_dir() {
        let mut files: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| ConfigError::Read {
                path: path.display().to_string(),
                err: e.to_string(),
            })?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        files.sort();
        for f in files {
            match f.extension().and_then(|e| e.to_str()) {
                Some("json") => warnings.extend(load_file(cfg, &f)?),
                Some("hcl") => warnings.push(ConfigWarning(format!(
                    "skipping {}: HCL is not supported, use JSON",
                    f.display()
                ))),
                _ => {}
            }
        }
    } else {
        warnings.extend(load_file(cfg, path)?);
    }
    cfg.sources.push(path.to_path_buf());
    Ok(warnings)
}

/// Read the service and check definitions of `sources` again (for `reload`). The whole
/// files are parsed and checked, so a file broken since start is reported, not half-read.
pub fn load_definitions(sources: &[PathBuf]) -> Result<super::Definitions, ConfigError> {
    let mut scratch = AgentConfig::default();
    for p in sources {
        load_path(&mut scratch, p)?;
    }
    Ok(scratch.definitions)
}

/// Load one JSON file (an HCL one is refused by name).
fn load_file(cfg: &mut AgentConfig, path: &Path) -> Result<Vec<ConfigWarning>, ConfigError> {
    let p = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| ConfigError::Read {
        path: p.clone(),
        err: e.to_string(),
    })?;
    if path.extension().and_then(|e| e.to_str()) == Some("hcl") {
        return Err(ConfigError::Parse {
            path: p,
            err: "HCL config files are not supported, use JSON".into(),
        });
    }
    let value: Value = serde_json::from_str(&text).map_err(|e| ConfigError::Parse {
        path: p.clone(),
        err: e.to_string(),
    })?;
    apply_json(cfg, &value, &p)
}

/// Whether `obj.section` is an object that has `key`.
fn sets(obj: &serde_json::Map<String, Value>, section: &str, key: &str) -> bool {
    obj.get(section)
        .and_then(Value::as_object)
        .is_some_and(|o| o.contains_key(key))
}

/// Apply one JSON document (a file's content) to `cfg`. `source` names it in errors.
pub fn apply_json(
    cfg: &mut AgentConfig,
    value: &Value,
    source: &str,
) -> Result<Vec<ConfigWarning>, ConfigError> {
    let Value::Object(obj) = value else {
        return Err(ConfigError::Parse {
            path: source.into(),
            err: "top level must be a JSON object".into(),
        });
    };
    let mut r = Reader {
        source,
        warnings: Vec::new(),
    };
    for (key, v) in obj {
        match key.as_str() {
            "datacenter" => cfg.datacenter = r.string(key, v)?,
            "primary_datacenter" => cfg.primary_datacenter = r.string(key, v)?,
            "data_dir" => cfg.data_dir = Some(PathBuf::from(r.string(key, v)?)),
            "log_level" => cfg.log_level = r.log_level(key, v)?,
            "server" => cfg.server = r.bool(key, v)?,
            "node_name" => cfg.node_name = r.string(key, v)?,
            "node_id" => cfg.node_id = Some(r.uuid(key, v)?),
            "node_meta" => cfg.node_meta = r.string_map(key, v)?,
            "ui_config" => r.ui_config(cfg, key, v)?,
            // The older names give way to `ui_config`'s in the same file, as in Consul.
            "ui" => {
                let on = r.bool(key, v)?;
                if !sets(obj, "ui_config", "enabled") {
                    cfg.ui.enabled = on;
                }
            }
            "ui_dir" => {
                let dir = r.string(key, v)?;
                if !sets(obj, "ui_config", "dir") {
                    cfg.ui.dir = (!dir.is_empty()).then(|| PathBuf::from(dir));
                }
            }
            "ui_content_path" => {
                let path = r.content_path(key, v)?;
                if !sets(obj, "ui_config", "content_path") {
                    cfg.ui.content_path = path;
                }
            }
            "bind_addr" => cfg.bind_addr = r.ip(key, v)?,
            "client_addr" => cfg.client_addr = r.ip_list(key, v)?,
            "advertise_addr" => cfg.advertise_addr = Some(r.ip(key, v)?),
            "advertise_addr_wan" => cfg.advertise_addr_wan = Some(r.ip(key, v)?),
            "bootstrap" => cfg.bootstrap = r.bool(key, v)?,
            "bootstrap_expect" => cfg.bootstrap_expect = r.uint(key, v, 0, 1 << 16)? as u32,
            "enable_script_checks" => cfg.enable_script_checks = r.bool(key, v)?,
            "enable_local_script_checks" => cfg.enable_local_script_checks = r.bool(key, v)?,
            "pid_file" => cfg.pid_file = Some(PathBuf::from(r.string(key, v)?)),
            "domain" => cfg.domain = r.string(key, v)?,
            "encrypt" => cfg.encrypt = Some(r.string(key, v)?),
            "start_join" => cfg.start_join = r.string_list(key, v)?,
            "retry_join" => cfg.retry_join = r.string_list(key, v)?,
            "start_join_wan" => cfg.start_join_wan = r.string_list(key, v)?,
            "retry_join_wan" => cfg.retry_join_wan = r.string_list(key, v)?,
            "retry_interval_wan" => cfg.retry_interval_wan = r.positive(key, v)?,
            "retry_max_wan" => cfg.retry_max_wan = r.uint(key, v, 0, u32::MAX as u64)? as u32,
            "leave_on_terminate" => cfg.leave_on_terminate = Some(r.bool(key, v)?),
            "skip_leave_on_interrupt" => cfg.skip_leave_on_interrupt = Some(r.bool(key, v)?),
            "kv_max_value_size" => cfg.kv_max_value_size = r.uint(key, v, 1, u32::MAX as u64)?,
            "ports" => r.ports(cfg, key, v)?,
            "rejoin_after_leave" => cfg.rejoin_after_leave = r.bool(key, v)?,
            "retry_interval" => cfg.retry_interval = r.duration(key, v)?,
            "retry_max" => cfg.retry_max = r.uint(key, v, 0, u32::MAX as u64)? as u32,
            "gossip_lan" => r.gossip(cfg, key, v, false)?,
            "gossip_wan" => r.gossip(cfg, key, v, true)?,
            "raft_snapshot_threshold" => {
                cfg.raft_snapshot_threshold = r.uint(key, v, 1, u32::MAX as u64)?
            }
            "raft_trailing_logs" => cfg.raft_trailing_logs = r.uint(key, v, 0, u32::MAX as u64)?,
            "autopilot" => r.autopilot(cfg, key, v)?,
            "raft_snapshot_interval" => cfg.raft_snapshot_interval = r.positive(key, v)?,
            "performance" => r.performance(cfg, key, v)?,
            "acl" => r.acl(cfg, key, v)?,
            "tls" => r.tls(cfg, key, v)?,
            "limits" => r.limits(cfg, key, v)?,
            "alt_domain" => cfg.alt_domain = Some(r.string(key, v)?),
            "recursors" => cfg.recursors = r.string_list(key, v)?,
            "dns_config" => r.dns_config(cfg, key, v)?,
            "check_output_max_size" => {
                cfg.check_output_max_size = r.uint(key, v, 1, 64 << 20)? as usize
            }
            "check_update_interval" => cfg.check_update_interval = r.duration(key, v)?,
            "discovery_max_stale" => cfg.discovery_max_stale = r.duration(key, v)?,
            "ae_interval" => cfg.ae_interval = r.positive(key, v)?,
            "check_reap_interval" => cfg.check_reap_interval = r.positive(key, v)?,
            "check_deregister_interval_min" => {
                cfg.check_deregister_interval_min = r.duration(key, v)?
            }
            "session_ttl_min" => cfg.session_ttl_min = r.positive(key, v)?,
            "service" | "check" => {
                let block = r.object_block(key, v)?;
                let list = if key == "service" {
                    &mut cfg.definitions.services
                } else {
                    &mut cfg.definitions.checks
                };
                list.push(block);
            }
            "services" | "checks" => {
                let blocks = r.object_blocks(key, v)?;
                let list = if key == "services" {
                    &mut cfg.definitions.services
                } else {
                    &mut cfg.definitions.checks
                };
                list.extend(blocks);
            }
            k if IGNORED.contains(&k) => {}
            k if r.legacy_tls(cfg, k, v)? => {}
            k if security::FAIL_CLOSED.contains(&k) => r.fail_closed(k, v)?,
            k if r.legacy_acl(cfg, k, v)? => {}
            k => r.warn(format!("{source}: invalid config key {k}")),
        }
    }
    Ok(r.warnings)
}
