//! JSON config files and directories.
//!
//! Keys are checked by hand rather than through a derived deserializer so each error can
//! name the key and the file, and unknown keys can be warnings (as Consul's are) instead of
//! failures.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use super::{AgentConfig, ConfigError};

/// A non-fatal remark about a config file (an unknown key, an ignored setting).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigWarning(pub String);

/// Keys accepted and ignored because they configure features outside disco's scope or whose
/// defaults are the only supported value.
const IGNORED: &[&str] = &[
    "telemetry",
    "addresses",
    "advertise_addr_wan",
    "disable_update_check",
    "disable_anonymous_signature",
    "disable_remote_exec",
    "enable_debug",
    "enable_syslog",
    "syslog_facility",
    "log_json",
    "log_file",
    "ui_dir",
    "ui_config",
    "verify_incoming",
    "verify_outgoing",
    "verify_server_hostname",
    "ca_file",
    "cert_file",
    "key_file",
    "connect",
    "reconnect_timeout",
    "session_ttl_min",
    "limits",
    "watches",
    "protocol",
    "raft_protocol",
    "server_name",
    "segment",
    "license_path",
    "default_query_time",
    "max_query_time",
    "http_config",
    "auto_encrypt",
    "tls",
    "statsd_addr",
    "statsite_addr",
    "enable_central_service_config",
    "translate_wan_addrs",
    "acl_datacenter",
    "acl_default_policy",
    "acl_down_policy",
    "acl_master_token",
    "acl_token",
    "acl_ttl",
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
            "ui" => cfg.ui = r.bool(key, v)?,
            "bind_addr" => cfg.bind_addr = r.ip(key, v)?,
            "client_addr" => cfg.client_addr = r.ip_list(key, v)?,
            "advertise_addr" => cfg.advertise_addr = Some(r.ip(key, v)?),
            "bootstrap" => cfg.bootstrap = r.bool(key, v)?,
            "bootstrap_expect" => cfg.bootstrap_expect = r.uint(key, v, 0, 1 << 16)? as u32,
            "enable_script_checks" => cfg.enable_script_checks = r.bool(key, v)?,
            "enable_local_script_checks" => cfg.enable_local_script_checks = r.bool(key, v)?,
            "pid_file" => cfg.pid_file = Some(PathBuf::from(r.string(key, v)?)),
            "domain" => cfg.domain = r.string(key, v)?,
            "encrypt" => cfg.encrypt = Some(r.string(key, v)?),
            "start_join" => cfg.start_join = r.string_list(key, v)?,
            "retry_join" => cfg.retry_join = r.string_list(key, v)?,
            "leave_on_terminate" => cfg.leave_on_terminate = Some(r.bool(key, v)?),
            "skip_leave_on_interrupt" => cfg.skip_leave_on_interrupt = Some(r.bool(key, v)?),
            "kv_max_value_size" => cfg.kv_max_value_size = r.uint(key, v, 1, u32::MAX as u64)?,
            "ports" => r.ports(cfg, key, v)?,
            "rejoin_after_leave" => cfg.rejoin_after_leave = r.bool(key, v)?,
            "retry_interval" => cfg.retry_interval = r.duration(key, v)?,
            "retry_max" => cfg.retry_max = r.uint(key, v, 0, u32::MAX as u64)? as u32,
            "gossip_lan" => r.gossip_lan(cfg, key, v)?,
            "raft_snapshot_threshold" => {
                cfg.raft_snapshot_threshold = r.uint(key, v, 1, u32::MAX as u64)?
            }
            "raft_trailing_logs" => cfg.raft_trailing_logs = r.uint(key, v, 0, u32::MAX as u64)?,
            "autopilot" => r.autopilot(cfg, key, v)?,
            "raft_snapshot_interval" => cfg.raft_snapshot_interval = r.positive(key, v)?,
            "performance" => r.performance(cfg, key, v)?,
            "acl" => r.acl(cfg, key, v)?,
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
            k => r.warn(format!("{source}: invalid config key {k}")),
        }
    }
    Ok(r.warnings)
}

struct Reader<'a> {
    source: &'a str,
    warnings: Vec<ConfigWarning>,
}

impl Reader<'_> {
    fn err(&self, key: &str, msg: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.source.into(),
            key: key.into(),
            msg: msg.into(),
        }
    }

    fn warn(&mut self, msg: String) {
        self.warnings.push(ConfigWarning(msg));
    }

    fn string(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.err(key, format!("expected a string, got {}", kind(v))))
    }

    /// A `service`/`check` block: an object, labelled for later errors.
    fn object_block(&self, key: &str, v: &Value) -> Result<(String, Value), ConfigError> {
        if !v.is_object() {
            return Err(self.err(key, format!("expected an object, got {}", kind(v))));
        }
        Ok((format!("{}: {key}", self.source), v.clone()))
    }

    /// A `services`/`checks` list of objects, each labelled `key[i]`.
    fn object_blocks(&self, key: &str, v: &Value) -> Result<Vec<(String, Value)>, ConfigError> {
        let Some(items) = v.as_array() else {
            return Err(self.err(key, format!("expected a list, got {}", kind(v))));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.object_block(&format!("{key}[{i}]"), item))
            .collect()
    }

    fn bool(&self, key: &str, v: &Value) -> Result<bool, ConfigError> {
        v.as_bool()
            .ok_or_else(|| self.err(key, format!("expected a boolean, got {}", kind(v))))
    }

    fn int(&self, key: &str, v: &Value, min: i64, max: i64) -> Result<i64, ConfigError> {
        let n = v
            .as_i64()
            .ok_or_else(|| self.err(key, format!("expected an integer, got {}", kind(v))))?;
        if n < min || n > max {
            return Err(self.err(key, format!("{n} is out of range {min}..={max}")));
        }
        Ok(n)
    }

    fn uint(&self, key: &str, v: &Value, min: u64, max: u64) -> Result<u64, ConfigError> {
        Ok(self.int(key, v, min as i64, max as i64)? as u64)
    }

    fn ip(&self, key: &str, v: &Value) -> Result<IpAddr, ConfigError> {
        let s = self.string(key, v)?;
        s.trim()
            .parse()
            .map_err(|_| self.err(key, format!("invalid IP address {s:?}")))
    }

    fn ip_list(&self, key: &str, v: &Value) -> Result<Vec<IpAddr>, ConfigError> {
        let s = self.string(key, v)?;
        let ips: Result<Vec<IpAddr>, _> =
            s.split_whitespace().map(|p| p.parse::<IpAddr>()).collect();
        match ips {
            Ok(ips) if !ips.is_empty() => Ok(ips),
            _ => Err(self.err(key, format!("invalid IP address list {s:?}"))),
        }
    }

    fn uuid(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        let s = self.string(key, v)?;
        uuid::Uuid::parse_str(&s)
            .map_err(|_| self.err(key, format!("{s:?} is not a valid UUID")))?;
        Ok(s.to_lowercase())
    }

    fn log_level(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        let s = self.string(key, v)?;
        parse_log_level(&s).ok_or_else(|| {
            self.err(
                key,
                format!("invalid log level {s:?} (trace, debug, info, warn, error)"),
            )
        })
    }

    fn string_list(&self, key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
        match v {
            Value::Array(items) => items.iter().map(|i| self.string(key, i)).collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            _ => Err(self.err(key, format!("expected a list of strings, got {}", kind(v)))),
        }
    }

    fn string_map(
        &self,
        key: &str,
        v: &Value,
    ) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
        let obj = self.object(key, v)?;
        obj.iter()
            .map(|(k, val)| Ok((k.clone(), self.string(&format!("{key}.{k}"), val)?)))
            .collect()
    }

    fn object<'v>(&self, key: &str, v: &'v Value) -> Result<&'v Map<String, Value>, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.err(key, format!("expected an object, got {}", kind(v))))
    }

    fn ports(&mut self, cfg: &mut AgentConfig, key: &str, v: &Value) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, pv) in obj {
            let full = format!("{key}.{k}");
            let port = |r: &Self| r.int(&full, pv, -1, 65535);
            match k.as_str() {
                "http" => cfg.ports.http = port(self)?,
                "https" => cfg.ports.https = port(self)?,
                "dns" => cfg.ports.dns = port(self)?,
                "server" => cfg.ports.server = port(self)?,
                "serf_lan" => cfg.ports.serf_lan = port(self)?,
                "serf_wan" => cfg.ports.serf_wan = port(self)?,
                "grpc" => cfg.ports.grpc = port(self)?,
                "grpc_tls" | "sidecar_min_port" | "sidecar_max_port" | "expose_min_port"
                | "expose_max_port" => {
                    port(self)?;
                }
                other => self.warn(format!("{}: invalid config key {key}.{other}", self.source)),
            }
        }
        Ok(())
    }

    fn duration(&self, key: &str, v: &Value) -> Result<std::time::Duration, ConfigError> {
        let s = self.string(key, v)?;
        crate::api::duration::parse_go(&s)
            .ok_or_else(|| self.err(key, format!("invalid duration {s:?}")))
    }

    fn dns_config(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, dv) in obj {
            let full = format!("{key}.{k}");
            let d = &mut cfg.dns;
            match k.as_str() {
                "allow_stale" => d.allow_stale = self.bool(&full, dv)?,
                "max_stale" => d.max_stale = self.duration(&full, dv)?,
                "node_ttl" => d.node_ttl = self.duration(&full, dv)?,
                "service_ttl" => {
                    let map = self.object(&full, dv)?;
                    d.service_ttl.clear();
                    for (name, tv) in map {
                        let t = self.duration(&format!("{full}.{name}"), tv)?;
                        d.service_ttl.push((name.clone(), t));
                    }
                }
                "enable_truncate" => d.enable_truncate = self.bool(&full, dv)?,
                "only_passing" => d.only_passing = self.bool(&full, dv)?,
                "udp_answer_limit" => d.udp_answer_limit = self.uint(&full, dv, 1, 4096)? as usize,
                "a_record_limit" => d.a_record_limit = self.uint(&full, dv, 0, 1 << 16)? as usize,
                "enable_additional_node_meta_txt" => {
                    d.enable_additional_node_meta_txt = self.bool(&full, dv)?
                }
                "soa" => {
                    for (sk, sv) in self.object(&full, dv)? {
                        let sfull = format!("{full}.{sk}");
                        match sk.as_str() {
                            "min_ttl" => {
                                d.soa_min_ttl = self.uint(&sfull, sv, 0, u32::MAX as u64)? as u32
                            }
                            "refresh" | "retry" | "expire" => {
                                let i = ["refresh", "retry", "expire"]
                                    .iter()
                                    .position(|n| n == sk)
                                    .unwrap_or(0);
                                d.soa_timers[i] = self.uint(&sfull, sv, 0, i32::MAX as u64)? as u32
                            }
                            other => self.warn(format!(
                                "{}: invalid config key {full}.{other}",
                                self.source
                            )),
                        }
                    }
                }
                "recursor_timeout" => d.recursor_timeout = self.duration(&full, dv)?,
                "recursor_strategy" => match dv.as_str() {
                    Some("sequential") | Some("") => d.recursor_random = false,
                    Some("random") => d.recursor_random = true,
                    _ => {
                        return Err(
                            self.err(&full, "must be \"sequential\" or \"random\"".to_string())
                        );
                    }
                },
                "use_cache" => d.use_cache = self.bool(&full, dv)?,
                "cache_max_age" => d.cache_max_age = self.duration(&full, dv)?,
                "enable_truncate_tcp" | "disable_compression" | "prefer_namespace" => {}
                other => self.warn(format!("{}: invalid config key {key}.{other}", self.source)),
            }
        }
        Ok(())
    }

    fn gossip_lan(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, gv) in obj {
            let full = format!("{key}.{k}");
            let g = &mut cfg.gossip_lan;
            match k.as_str() {
                "gossip_nodes" => g.gossip_nodes = Some(self.uint(&full, gv, 1, 64)? as usize),
                "gossip_interval" => g.gossip_interval = Some(self.positive(&full, gv)?),
                "probe_interval" => g.probe_interval = Some(self.positive(&full, gv)?),
                "probe_timeout" => g.probe_timeout = Some(self.positive(&full, gv)?),
                "suspicion_mult" => g.suspicion_mult = Some(self.uint(&full, gv, 1, 100)? as u32),
                "retransmit_mult" => {
                    self.uint(&full, gv, 1, 100)?;
                }
                other => self.warn(format!("{}: invalid config key {key}.{other}", self.source)),
            }
        }
        Ok(())
    }

    fn autopilot(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, av) in obj {
            let full = format!("{key}.{k}");
            let a = &mut cfg.autopilot;
            match k.as_str() {
                "cleanup_dead_servers" => a.cleanup_dead_servers = self.bool(&full, av)?,
                "min_quorum" => a.min_quorum = self.uint(&full, av, 0, 1000)? as u32,
                "last_contact_threshold" => a.last_contact_threshold = self.positive(&full, av)?,
                "max_trailing_logs" => {
                    a.max_trailing_logs = self.uint(&full, av, 0, u32::MAX as u64)?
                }
                "server_stabilization_time" => {
                    a.server_stabilization_time = self.duration(&full, av)?
                }
                "disable_upgrade_migration" | "redundancy_zone_tag" | "upgrade_version_tag" => {}
                other => self.warn(format!("{}: invalid config key {key}.{other}", self.source)),
            }
        }
        Ok(())
    }

    fn performance(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, pv) in obj {
            let full = format!("{key}.{k}");
            match k.as_str() {
                "raft_multiplier" => cfg.raft_multiplier = self.uint(&full, pv, 1, 10)? as u32,
                "leave_drain_time" | "rpc_hold_timeout" => {
                    self.duration(&full, pv)?;
                }
                other => self.warn(format!("{}: invalid config key {key}.{other}", self.source)),
            }
        }
        Ok(())
    }

    fn positive(&self, key: &str, v: &Value) -> Result<std::time::Duration, ConfigError> {
        let d = self.duration(key, v)?;
        if d.is_zero() {
            return Err(self.err(key, "must be greater than zero"));
        }
        Ok(d)
    }

    fn acl(&mut self, cfg: &mut AgentConfig, key: &str, v: &Value) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, av) in obj {
            if k.as_str() == "enabled" {
                cfg.acl_enabled = self.bool(&format!("{key}.{k}"), av)?
            }
        }
        Ok(())
    }

    fn limits(&mut self, cfg: &mut AgentConfig, key: &str, v: &Value) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        if let Some(size) = obj.get("kv_max_value_size") {
            cfg.kv_max_value_size = self.uint(
                &format!("{key}.kv_max_value_size"),
                size,
                1,
                u32::MAX as u64,
            )?;
        }
        Ok(())
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// Normalise a Consul log level (`INFO`, `err`, `warning`...) to a tracing filter level.
pub fn parse_log_level(s: &str) -> Option<String> {
    let l = s.trim().to_ascii_lowercase();
    let lvl = match l.as_str() {
        "trace" => "trace",
        "debug" => "debug",
        "info" => "info",
        "warn" | "warning" => "warn",
        "err" | "error" => "error",
        _ => return None,
    };
    Some(lvl.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tutorial_file_applies() {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(
            r#"{"datacenter":"dc1","data_dir":"/tmp/x","log_level":"INFO","server":true,"node_name":"node1","ui":true,
            "bind_addr":"127.0.0.1","client_addr":"0.0.0.0","advertise_addr":"127.0.0.1","bootstrap_expect":3,
            "ports":{"http":8510,"dns":8610,"server":8310,"serf_lan":8311,"serf_wan":8312}}"#,
        )
        .unwrap();
        let w = apply_json(&mut cfg, &v, "consul02.json").unwrap();
        assert!(w.is_empty());
        assert_eq!(cfg.ports.http, 8510);
        assert_eq!(cfg.bootstrap_expect, 3);
        assert_eq!(cfg.log_level, "info");
        assert!(cfg.server && cfg.ui);
    }

    #[test]
    fn wrong_type_names_key_and_file() {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(r#"{"ports":{"http":"eighty"}}"#).unwrap();
        let e = apply_json(&mut cfg, &v, "a.json").unwrap_err().to_string();
        assert!(e.contains("a.json") && e.contains("ports.http"), "{e}");
    }

    #[test]
    fn unknown_key_warns() {
        let mut cfg = AgentConfig::default();
        let v: Value =
            serde_json::from_str(r#"{"bogus_key":1,"performance":{"raft_multiplier":1}}"#).unwrap();
        let w = apply_json(&mut cfg, &v, "a.json").unwrap();
        assert_eq!(w.len(), 1);
        assert!(w[0].0.contains("bogus_key"));
    }

    #[test]
    fn gossip_keys_apply_and_bad_values_name_the_key() {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(
            r#"{"rejoin_after_leave":true,"retry_interval":"5s","retry_max":3,
            "gossip_lan":{"probe_interval":"2s","probe_timeout":"300ms","suspicion_mult":5,"gossip_nodes":4}}"#,
        )
        .unwrap();
        assert!(apply_json(&mut cfg, &v, "g.json").unwrap().is_empty());
        assert!(cfg.rejoin_after_leave);
        assert_eq!(cfg.retry_interval, std::time::Duration::from_secs(5));
        assert_eq!(cfg.retry_max, 3);
        assert_eq!(cfg.gossip_lan.suspicion_mult, Some(5));
        assert_eq!(
            cfg.gossip_lan.probe_timeout,
            Some(std::time::Duration::from_millis(300))
        );
        let v: Value = serde_json::from_str(r#"{"gossip_lan":{"probe_interval":"soon"}}"#).unwrap();
        let e = apply_json(&mut cfg, &v, "g.json").unwrap_err().to_string();
        assert!(e.contains("gossip_lan.probe_interval"), "{e}");
    }

    #[test]
    fn dns_config_applies_and_bad_values_name_the_key() {
        let mut cfg = AgentConfig::default();
        let v: Value = serde_json::from_str(
            r#"{"discovery_max_stale":"30s","dns_config":{"allow_stale":false,"max_stale":"5s",
            "recursor_timeout":"500ms","recursor_strategy":"random","use_cache":true,
            "cache_max_age":"10s","soa":{"min_ttl":60,"refresh":100,"retry":20,"expire":900}}}"#,
        )
        .unwrap();
        assert!(apply_json(&mut cfg, &v, "d.json").unwrap().is_empty());
        let d = &cfg.dns;
        assert!(!d.allow_stale && d.recursor_random && d.use_cache);
        assert_eq!(d.max_stale, std::time::Duration::from_secs(5));
        assert_eq!(d.recursor_timeout, std::time::Duration::from_millis(500));
        assert_eq!(d.cache_max_age, std::time::Duration::from_secs(10));
        assert_eq!((d.soa_min_ttl, d.soa_timers), (60, [100, 20, 900]));
        assert_eq!(cfg.discovery_max_stale, std::time::Duration::from_secs(30));
        for (bad, key) in [
            (
                r#"{"dns_config":{"recursor_strategy":"fastest"}}"#,
                "dns_config.recursor_strategy",
            ),
            (
                r#"{"dns_config":{"soa":{"expire":-1}}}"#,
                "dns_config.soa.expire",
            ),
            (r#"{"discovery_max_stale":"soon"}"#, "discovery_max_stale"),
        ] {
            let v: Value = serde_json::from_str(bad).unwrap();
            let e = apply_json(&mut cfg, &v, "d.json").unwrap_err().to_string();
            assert!(e.contains(key), "{bad}: {e}");
        }
    }

    #[test]
    fn encrypt_key_is_validated() {
        let mut cfg = AgentConfig {
            dev: true,
            ..AgentConfig::default()
        };
        cfg.encrypt = Some("not a key".into());
        let e = cfg.validate().unwrap_err().to_string();
        assert!(e.contains("encrypt"), "{e}");
        cfg.encrypt = Some("AAAAAAAAAAAAAAAAAAAAAA==".into());
        assert!(cfg.validate().is_ok());
    }
}
