//! The `tls` block, the legacy top-level TLS keys mapped onto it (with Consul's deprecation
//! warnings), and the connection limits of `limits`.
//!
//! Every key inside `tls` is known or an error: a misspelt `verify_incomng` must not leave
//! a port open that the operator believes is closed.

use std::path::PathBuf;

use serde_json::Value;

use super::reader::Reader;
use crate::config::tls::{TlsBlock, TlsVersion, parse_cipher_suites};
use crate::config::{AgentConfig, ConfigError};

/// Which block of `tls` a key belongs to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Block {
    Defaults,
    Https,
    InternalRpc,
}

fn block_mut(cfg: &mut AgentConfig, b: Block) -> &mut TlsBlock {
    match b {
        Block::Defaults => &mut cfg.tls.defaults,
        Block::Https => &mut cfg.tls.https,
        Block::InternalRpc => &mut cfg.tls.internal_rpc,
    }
}

impl Reader<'_> {
    /// The `tls` block.
    pub(super) fn tls(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, bv) in obj {
            let full = format!("{key}.{k}");
            let block = match k.as_str() {
                "defaults" => Block::Defaults,
                "https" => Block::Https,
                "internal_rpc" => Block::InternalRpc,
                // disco serves no gRPC port, so there is nothing for these to secure; one
                // that asks for something is refused rather than taken as protection.
                "grpc" => {
                    let g = self.object(&full, bv)?;
                    if let Some((gk, _)) = g.iter().find(|(_, x)| !matches!(x, Value::Null)) {
                        return Err(self.err(
                            &format!("{full}.{gk}"),
                            "is not supported: disco serves no gRPC port",
                        ));
                    }
                    continue;
                }
                _ => {
                    return Err(self.err(
                        &full,
                        "unknown block in tls (defaults, https, internal_rpc or grpc)",
                    ));
                }
            };
            let fields = self.object(&full, bv)?;
            for (f, fv) in fields {
                self.tls_field(cfg, block, &format!("{full}.{f}"), f, fv)?;
            }
        }
        Ok(())
    }

    /// One key of a `tls` block.
    fn tls_field(
        &mut self,
        cfg: &mut AgentConfig,
        block: Block,
        full: &str,
        field: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let path = |r: &Self| -> Result<Option<PathBuf>, ConfigError> {
            let s = r.string(full, v)?;
            Ok((!s.is_empty()).then(|| PathBuf::from(s)))
        };
        match field {
            "ca_file" => block_mut(cfg, block).ca_file = path(self)?,
            "ca_path" => block_mut(cfg, block).ca_path = path(self)?,
            "cert_file" => block_mut(cfg, block).cert_file = path(self)?,
            "key_file" => block_mut(cfg, block).key_file = path(self)?,
            "verify_incoming" => block_mut(cfg, block).verify_incoming = Some(self.bool(full, v)?),
            "verify_outgoing" => block_mut(cfg, block).verify_outgoing = Some(self.bool(full, v)?),
            "verify_server_hostname" if block == Block::InternalRpc => {
                block_mut(cfg, block).verify_server_hostname = Some(self.bool(full, v)?)
            }
            "tls_min_version" => {
                let s = self.string(full, v)?;
                let (ver, deprecated) = TlsVersion::parse(&s).map_err(|m| self.err(full, m))?;
                if deprecated {
                    self.warn(format!(
                        "{}: {full}: '{s}' is deprecated, use 'TLSv1_{}'",
                        self.source,
                        if ver == TlsVersion::Tls12 { 2 } else { 3 }
                    ));
                }
                block_mut(cfg, block).tls_min_version = Some(ver);
            }
            "tls_cipher_suites" => {
                let s = self.string(full, v)?;
                let suites = parse_cipher_suites(&s).map_err(|m| self.err(full, m))?;
                block_mut(cfg, block).tls_cipher_suites = (!suites.is_empty()).then_some(suites);
            }
            "use_auto_cert" => {
                if self.bool(full, v)? {
                    return Err(self.err(full, "is not supported: disco has no auto-encrypt"));
                }
            }
            _ => {
                let hint = if field == "verify_server_hostname" {
                    "belongs in tls.internal_rpc"
                } else {
                    "unknown key (refused: a security setting is never ignored)"
                };
                return Err(self.err(full, hint));
            }
        }
        Ok(())
    }

    /// A legacy top-level TLS key, mapped onto `tls` with Consul's deprecation warning;
    /// `false` when `key` is not one of them.
    pub(super) fn legacy_tls(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<bool, ConfigError> {
        let (block, field, new) = match key {
            "ca_file" | "ca_path" | "cert_file" | "key_file" | "tls_min_version"
            | "tls_cipher_suites" | "verify_outgoing" | "verify_incoming" => {
                (Block::Defaults, key, format!("tls.defaults.{key}"))
            }
            "verify_incoming_https" => (
                Block::Https,
                "verify_incoming",
                "tls.https.verify_incoming".into(),
            ),
            "verify_incoming_rpc" => (
                Block::InternalRpc,
                "verify_incoming",
                "tls.internal_rpc.verify_incoming".into(),
            ),
            "verify_server_hostname" => (
                Block::InternalRpc,
                key,
                "tls.internal_rpc.verify_server_hostname".into(),
            ),
            "tls_prefer_server_cipher_suites" => {
                self.bool(key, v)?;
                self.warn(format!(
                    "{}: The 'tls_prefer_server_cipher_suites' field is deprecated and ignored.",
                    self.source
                ));
                return Ok(true);
            }
            _ => return Ok(false),
        };
        self.tls_field(cfg, block, key, field, v)?;
        self.warn(format!(
            "{}: The '{key}' field is deprecated. Use the '{new}' field instead.",
            self.source
        ));
        Ok(true)
    }

    /// The connection keys of `limits`.
    pub(super) fn conn_limit(
        &mut self,
        cfg: &mut AgentConfig,
        full: &str,
        field: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let l = &mut cfg.limits;
        match field {
            "http_max_conns_per_client" => {
                l.http_max_conns_per_client = self.uint(full, v, 0, 1 << 20)? as usize
            }
            "rpc_max_conns_per_client" => {
                l.rpc_max_conns_per_client = self.uint(full, v, 0, 1 << 20)? as usize
            }
            "https_handshake_timeout" => l.https_handshake_timeout = self.positive(full, v)?,
            "rpc_handshake_timeout" => l.rpc_handshake_timeout = self.positive(full, v)?,
            "rpc_client_timeout" => l.rpc_client_timeout = self.positive(full, v)?,
            _ => {}
        }
        Ok(())
    }
}
