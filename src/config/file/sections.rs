//! The config file's nested sections (`ports`, `dns_config`, `gossip_lan`, `autopilot`,
//! `performance`, `limits`, `ui_config`; `acl` is in `security.rs`): each key of a section checked and applied to the
//! config, unknown ones warned about.

use serde_json::Value;

use super::reader::Reader;
use crate::config::{AgentConfig, ConfigError};

impl Reader<'_> {
    /// Run `apply` on every key of the section `key` (`full` is `section.key`); a key it
    /// does not know (it returns `false`) is warned about, as Consul warns.
    fn each_key(
        &mut self,
        key: &str,
        v: &Value,
        mut apply: impl FnMut(&mut Self, &str, &str, &Value) -> Result<bool, ConfigError>,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, kv) in obj {
            let full = format!("{key}.{k}");
            if !apply(self, &full, k.as_str(), kv)? {
                self.warn(format!("{}: invalid config key {full}", self.source));
            }
        }
        Ok(())
    }

    /// `ports`: listener ports (-1 disables one); ports of features disco lacks are checked only.
    pub(super) fn ports(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        self.each_key(key, v, |r, full, k, pv| {
            let port = |r: &Self| r.int(full, pv, -1, 65535);
            match k {
                "http" => cfg.ports.http = port(r)?,
                "https" => cfg.ports.https = port(r)?,
                "dns" => cfg.ports.dns = port(r)?,
                "server" => cfg.ports.server = port(r)?,
                "serf_lan" => cfg.ports.serf_lan = port(r)?,
                "serf_wan" => cfg.ports.serf_wan = port(r)?,
                "grpc" => cfg.ports.grpc = port(r)?,
                "grpc_tls" | "sidecar_min_port" | "sidecar_max_port" | "expose_min_port"
                | "expose_max_port" => {
                    port(r)?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `dns_config`: Consul's DNS settings.
    pub(super) fn dns_config(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        self.each_key(key, v, |r, full, k, dv| {
            let d = &mut cfg.dns;
            match k {
                "allow_stale" => d.allow_stale = r.bool(full, dv)?,
                "max_stale" => d.max_stale = r.duration(full, dv)?,
                "node_ttl" => d.node_ttl = r.duration(full, dv)?,
                "service_ttl" => {
                    let map = r.object(full, dv)?;
                    d.service_ttl.clear();
                    for (name, tv) in map {
                        let t = r.duration(&format!("{full}.{name}"), tv)?;
                        d.service_ttl.push((name.clone(), t));
                    }
                }
                "enable_truncate" => d.enable_truncate = r.bool(full, dv)?,
                "only_passing" => d.only_passing = r.bool(full, dv)?,
                "udp_answer_limit" => d.udp_answer_limit = r.uint(full, dv, 1, 4096)? as usize,
                "a_record_limit" => d.a_record_limit = r.uint(full, dv, 0, 1 << 16)? as usize,
                "enable_additional_node_meta_txt" => {
                    d.enable_additional_node_meta_txt = r.bool(full, dv)?
                }
                "soa" => {
                    for (sk, sv) in r.object(full, dv)? {
                        let sfull = format!("{full}.{sk}");
                        match sk.as_str() {
                            "min_ttl" => {
                                d.soa_min_ttl = r.uint(&sfull, sv, 0, u32::MAX as u64)? as u32
                            }
                            "refresh" | "retry" | "expire" => {
                                let i = ["refresh", "retry", "expire"]
                                    .iter()
                                    .position(|n| n == sk)
                                    .unwrap_or(0);
                                d.soa_timers[i] = r.uint(&sfull, sv, 0, i32::MAX as u64)? as u32
                            }
                            other => {
                                r.warn(format!("{}: invalid config key {full}.{other}", r.source))
                            }
                        }
                    }
                }
                "recursor_timeout" => d.recursor_timeout = r.duration(full, dv)?,
                "recursor_strategy" => match dv.as_str() {
                    Some("sequential") | Some("") => d.recursor_random = false,
                    Some("random") => d.recursor_random = true,
                    _ => {
                        return Err(r.err(full, "must be \"sequential\" or \"random\"".to_string()));
                    }
                },
                "use_cache" => d.use_cache = r.bool(full, dv)?,
                "cache_max_age" => d.cache_max_age = r.duration(full, dv)?,
                "enable_truncate_tcp" | "disable_compression" | "prefer_namespace" => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `gossip_lan` / `gossip_wan`: overrides of the gossip timings.
    pub(super) fn gossip(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
        wan: bool,
    ) -> Result<(), ConfigError> {
        self.each_key(key, v, |r, full, k, gv| {
            let g = if wan {
                &mut cfg.gossip_wan
            } else {
                &mut cfg.gossip_lan
            };
            match k {
                "gossip_nodes" => g.gossip_nodes = Some(r.uint(full, gv, 1, 64)? as usize),
                "gossip_interval" => g.gossip_interval = Some(r.positive(full, gv)?),
                "probe_interval" => g.probe_interval = Some(r.positive(full, gv)?),
                "probe_timeout" => g.probe_timeout = Some(r.positive(full, gv)?),
                "suspicion_mult" => g.suspicion_mult = Some(r.uint(full, gv, 1, 100)? as u32),
                "retransmit_mult" => {
                    r.uint(full, gv, 1, 100)?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `autopilot`: server health and dead-server cleanup.
    pub(super) fn autopilot(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        self.each_key(key, v, |r, full, k, av| {
            let a = &mut cfg.autopilot;
            match k {
                "cleanup_dead_servers" => a.cleanup_dead_servers = r.bool(full, av)?,
                "min_quorum" => a.min_quorum = r.uint(full, av, 0, 1000)? as u32,
                "last_contact_threshold" => a.last_contact_threshold = r.positive(full, av)?,
                "max_trailing_logs" => {
                    a.max_trailing_logs = r.uint(full, av, 0, u32::MAX as u64)?
                }
                "server_stabilization_time" => {
                    a.server_stabilization_time = r.duration(full, av)?
                }
                "disable_upgrade_migration" | "redundancy_zone_tag" | "upgrade_version_tag" => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `performance`: the Raft timing scale; drain and hold timeouts are checked only.
    pub(super) fn performance(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        self.each_key(key, v, |r, full, k, pv| {
            match k {
                "raft_multiplier" => cfg.raft_multiplier = r.uint(full, pv, 1, 10)? as u32,
                "leave_drain_time" | "rpc_hold_timeout" => {
                    r.duration(full, pv)?;
                }
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `ui_config`: whether the web UI is served, from where and under which path; the
    /// metrics and dashboard settings of Consul's UI are accepted and ignored.
    pub(super) fn ui_config(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        self.each_key(key, v, |r, full, k, uv| {
            match k {
                "enabled" => cfg.ui.enabled = r.bool(full, uv)?,
                "dir" => {
                    let dir = r.string(full, uv)?;
                    cfg.ui.dir = (!dir.is_empty()).then(|| dir.into());
                }
                "content_path" => cfg.ui.content_path = r.content_path(full, uv)?,
                "metrics_provider"
                | "metrics_provider_files"
                | "metrics_provider_options_json"
                | "metrics_proxy"
                | "dashboard_url_templates"
                | "hcp_enabled" => {}
                _ => return Ok(false),
            }
            Ok(true)
        })
    }

    /// `limits`: only `kv_max_value_size` is read.
    pub(super) fn limits(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        if let Some(size) = obj.get("kv_max_value_size") {
            cfg.kv_max_value_size = self.uint(
                &format!("{key}.kv_max_value_size"),
                size,
                1,
                u32::MAX as u64,
            )?;
        }
        for (k, lv) in obj {
            self.conn_limit(cfg, &format!("{key}.{k}"), k, lv)?;
        }
        Ok(())
    }
}
