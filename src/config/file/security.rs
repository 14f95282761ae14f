//! The security keys of a config file: the `acl` block, the legacy top-level `acl_*` keys
//! mapped onto it, and the security keys disco does not serve yet.
//!
//! These keys fail closed: an operator who writes `auto_encrypt { tls = true }` believes the
//! RPC is encrypted, so a setting disco cannot honour stops the agent with its name
//! instead of being accepted and ignored. A value that asks for nothing (`false`, an empty
//! string or object) is accepted. Unknown keys inside `acl` are errors too: a typo there
//! must not silently leave a deny out.

use serde_json::Value;

use super::reader::Reader;
use crate::acl::DefaultPolicy;
use crate::config::acl::DownPolicy;
use crate::config::{AgentConfig, ConfigError};

/// Why a key is refused until it is honoured.
const NOT_SERVED: &str =
    "is not supported yet, and disco will not start with a security setting it would ignore";

/// Top-level keys that configure security disco does not provide (auto-encrypt, TLS for
/// HTTP checks, gossip-encryption migration, write allow-lists), refused unless they ask
/// for nothing.
pub(super) const FAIL_CLOSED: &[&str] = &[
    "auto_encrypt",
    "auto_config",
    "enable_agent_tls_for_checks",
    "encrypt_verify_incoming",
    "encrypt_verify_outgoing",
    "http_config",
];

/// Whether `v` asks for nothing: false, null, an empty string, list or object, or (for the
/// gossip migration keys, whose default is on) `true`.
fn asks_nothing(key: &str, v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Bool(b) => {
            if key.starts_with("encrypt_verify_") {
                *b
            } else {
                !*b
            }
        }
        Value::String(s) => s.is_empty(),
        Value::Array(a) => a.is_empty(),
        Value::Object(o) => o.iter().all(|(k, v)| asks_nothing(k, v)),
        Value::Number(_) => false,
    }
}

impl Reader<'_> {
    /// A TLS key: accepted only when it asks for nothing. `http_config` is let through
    /// unless it restricts writes (`allow_write_http_from`), the one security setting in it.
    pub(super) fn fail_closed(&mut self, key: &str, v: &Value) -> Result<(), ConfigError> {
        if key == "http_config" {
            let obj = self.object(key, v)?;
            return match obj.get("allow_write_http_from") {
                Some(w) if !asks_nothing(key, w) => Err(self.err(
                    &format!("{key}.allow_write_http_from"),
                    "is not supported yet, and will not start with a setting it would ignore",
                )),
                _ => Ok(()),
            };
        }
        if asks_nothing(key, v) {
            return Ok(());
        }
        Err(self.err(key, NOT_SERVED))
    }

    /// A legacy top-level `acl_*` key, mapped onto the `acl` block as Consul's deprecated
    /// keys are; `false` when `key` is not one of them.
    pub(super) fn legacy_acl(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<bool, ConfigError> {
        let acl = &mut cfg.acl;
        let replacement = match key {
            // Naming the ACL datacenter was how ACLs were turned on before the `acl` block.
            "acl_datacenter" => {
                cfg.primary_datacenter = self.string(key, v)?;
                acl.enabled = true;
                "primary_datacenter"
            }
            "acl_default_policy" => {
                acl.default_policy = self.default_policy(key, v)?;
                "acl.default_policy"
            }
            "acl_down_policy" => {
                acl.down_policy = self.down_policy(key, v)?;
                "acl.down_policy"
            }
            "acl_ttl" => {
                acl.token_ttl = self.duration(key, v)?;
                "acl.token_ttl"
            }
            "acl_master_token" => {
                acl.tokens.initial_management = self.token(key, v)?;
                "acl.tokens.initial_management"
            }
            "acl_token" => {
                acl.tokens.default = self.token(key, v)?;
                "acl.tokens.default"
            }
            "acl_agent_token" => {
                acl.tokens.agent = self.token(key, v)?;
                "acl.tokens.agent"
            }
            "acl_agent_master_token" => {
                acl.tokens.agent_recovery = self.token(key, v)?;
                "acl.tokens.agent_recovery"
            }
            "acl_replication_token" => {
                acl.tokens.replication = self.token(key, v)?;
                "acl.tokens.replication"
            }
            "acl_enforce_version_8" => {
                self.bool(key, v)?;
                "nothing (ACLs are always enforced when enabled)"
            }
            _ => return Ok(false),
        };
        self.warn(format!(
            "{}: The '{key}' field is deprecated. Use the '{replacement}' field instead.",
            self.source
        ));
        Ok(true)
    }

    /// The `acl` block. Every key is known or an error.
    pub(super) fn acl(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, av) in obj {
            let full = format!("{key}.{k}");
            let acl = &mut cfg.acl;
            match k.as_str() {
                "enabled" => acl.enabled = self.bool(&full, av)?,
                "default_policy" => acl.default_policy = self.default_policy(&full, av)?,
                "down_policy" => acl.down_policy = self.down_policy(&full, av)?,
                "token_ttl" | "policy_ttl" | "role_ttl" => {
                    let d = self.duration(&full, av)?;
                    if k == "token_ttl" {
                        acl.token_ttl = d;
                    }
                }
                "enable_token_persistence" => {
                    acl.enable_token_persistence = self.bool(&full, av)?
                }
                "enable_key_list_policy" => acl.enable_key_list_policy = self.bool(&full, av)?,
                "token_min_expiration_ttl" => {
                    acl.token_min_expiration_ttl = self.positive(&full, av)?
                }
                "token_max_expiration_ttl" => {
                    acl.token_max_expiration_ttl = self.positive(&full, av)?
                }
                // One datacenter: replication has nothing to copy from, so off is the only
                // value that means what it says.
                "enable_token_replication" => {
                    if self.bool(&full, av)? {
                        return Err(self.err(
                            &full,
                            "is not supported yet: disco runs one datacenter and replicates no tokens",
                        ));
                    }
                }
                "msp_disable_bootstrap" => {
                    if self.bool(&full, av)? {
                        return Err(self.err(&full, "is not supported"));
                    }
                }
                "tokens" => self.acl_tokens(cfg, &full, av)?,
                _ => {
                    return Err(self.err(
                        &full,
                        "unknown key in the acl block (refused: a security setting is never ignored)",
                    ));
                }
            }
        }
        Ok(())
    }

    fn acl_tokens(
        &mut self,
        cfg: &mut AgentConfig,
        key: &str,
        v: &Value,
    ) -> Result<(), ConfigError> {
        let obj = self.object(key, v)?;
        for (k, tv) in obj {
            let full = format!("{key}.{k}");
            let token = self.token(&full, tv)?;
            let t = &mut cfg.acl.tokens;
            let slot = match k.as_str() {
                "initial_management" | "master" => &mut t.initial_management,
                "agent" => &mut t.agent,
                "agent_recovery" | "agent_master" => &mut t.agent_recovery,
                "default" => &mut t.default,
                "replication" => &mut t.replication,
                "config_file_service_registration" => &mut t.config_file_service_registration,
                _ => {
                    return Err(self.err(&full, "unknown token type"));
                }
            };
            *slot = token;
            if k == "master" || k == "agent_master" {
                let new = if k == "master" {
                    "initial_management"
                } else {
                    "agent_recovery"
                };
                self.warn(format!(
                    "{}: The 'acl.tokens.{k}' field is deprecated. Use the 'acl.tokens.{new}' field instead.",
                    self.source
                ));
            }
        }
        Ok(())
    }

    /// A token secret: a string; empty means none.
    fn token(&self, key: &str, v: &Value) -> Result<Option<String>, ConfigError> {
        let s = self.string(key, v)?;
        Ok((!s.is_empty()).then_some(s))
    }

    fn default_policy(&self, key: &str, v: &Value) -> Result<DefaultPolicy, ConfigError> {
        let s = self.string(key, v)?;
        DefaultPolicy::parse(&s)
            .ok_or_else(|| self.err(key, format!("invalid policy {s:?} (allow or deny)")))
    }

    fn down_policy(&self, key: &str, v: &Value) -> Result<DownPolicy, ConfigError> {
        let s = self.string(key, v)?;
        DownPolicy::parse(&s).ok_or_else(|| {
            self.err(
                key,
                format!("invalid policy {s:?} (allow, deny, extend-cache or async-cache)"),
            )
        })
    }
}
