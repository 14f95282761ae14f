//! The config file's nested sections (`ports`, `dns_config`, `gossip_lan`, `autopilot`,
//! `performance`, `acl`, `limits`): each key of a section checked and applied to the
//! config, unknown ones warned about.

use serde_json::Value;

use super::reader::Reader;
use crate::config::{AgentConfig, ConfigError};

impl Reader<'_> {
    /// `ports`: listener ports (-1 disables one); ports of features disco lacks are checked only.
    pub(super) fn ports(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
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

    /// `dns_config`: Consul's DNS settings.
    pub(super) fn dns_config(
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

    /// `gossip_lan`: overrides of the LAN gossip timings.
    pub(super) fn gossip_lan(
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

    /// `autopilot`: server health and dead-server cleanup.
    pub(super) fn autopilot(
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

    /// `performance`: the Raft timing scale; drain and hold timeouts are checked only.
    pub(super) fn performance(
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

    /// `acl`: only `enabled` is read (and must stay off, see `validate`).
    pub(super) fn acl(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, av) in obj {
            if k.as_str() == "enabled" {
                cfg.acl_enabled = self.bool(&format!("{key}.{k}"), av)?
            }
        }
        Ok(())
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
        Ok(())
    }
}
