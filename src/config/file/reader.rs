//! The typed value readers of config keys: each checks one JSON value and names the key and
//! the file when it is wrong, and unknown keys become warnings (as Consul's are).

use std::net::IpAddr;

use serde_json::{Map, Value};

use super::ConfigWarning;
use crate::config::ConfigError;

/// Reads the values of one file (`source`), collecting its warnings.
pub(super) struct Reader<'a> {
    /// The file (or other source) named in errors and warnings.
    pub(super) source: &'a str,
    /// Remarks so far (unknown keys).
    pub(super) warnings: Vec<ConfigWarning>,
}

impl Reader<'_> {
    pub(super) fn err(&self, key: &str, msg: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: self.source.into(),
            key: key.into(),
            msg: msg.into(),
        }
    }

    pub(super) fn warn(&mut self, msg: String) {
        self.warnings.push(ConfigWarning(msg));
    }

    pub(super) fn string(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        v.as_str()
            .map(str::to_string)
            .ok_or_else(|| self.err(key, format!("expected a string, got {}", kind(v))))
    }

    /// A `service`/`check` block: an object, labelled for later errors.
    pub(super) fn object_block(
        &self,
        key: &str,
        v: &Value,
    ) -> Result<(String, Value), ConfigError> {
        if !v.is_object() {
            return Err(self.err(key, format!("expected an object, got {}", kind(v))));
        }
        Ok((format!("{}: {key}", self.source), v.clone()))
    }

    /// A `services`/`checks` list of objects, each labelled `key[i]`.
    pub(super) fn object_blocks(
        &self,
        key: &str,
        v: &Value,
    ) -> Result<Vec<(String, Value)>, ConfigError> {
        let Some(items) = v.as_array() else {
            return Err(self.err(key, format!("expected a list, got {}", kind(v))));
        };
        items
            .iter()
            .enumerate()
            .map(|(i, item)| self.object_block(&format!("{key}[{i}]"), item))
            .collect()
    }

    pub(super) fn bool(&self, key: &str, v: &Value) -> Result<bool, ConfigError> {
        v.as_bool()
            .ok_or_else(|| self.err(key, format!("expected a boolean, got {}", kind(v))))
    }

    pub(super) fn int(&self, key: &str, v: &Value, min: i64, max: i64) -> Result<i64, ConfigError> {
        let n = v
            .as_i64()
            .ok_or_else(|| self.err(key, format!("expected an integer, got {}", kind(v))))?;
        if n < min || n > max {
            return Err(self.err(key, format!("{n} is out of range {min}..={max}")));
        }
        Ok(n)
    }

    pub(super) fn uint(
        &self,
        key: &str,
        v: &Value,
        min: u64,
        max: u64,
    ) -> Result<u64, ConfigError> {
        Ok(self.int(key, v, min as i64, max as i64)? as u64)
    }

    pub(super) fn ip(&self, key: &str, v: &Value) -> Result<IpAddr, ConfigError> {
        let s = self.string(key, v)?;
        s.trim()
            .parse()
            .map_err(|_| self.err(key, format!("invalid IP address {s:?}")))
    }

    pub(super) fn ip_list(&self, key: &str, v: &Value) -> Result<Vec<IpAddr>, ConfigError> {
        let s = self.string(key, v)?;
        let ips: Result<Vec<IpAddr>, _> =
            s.split_whitespace().map(|p| p.parse::<IpAddr>()).collect();
        match ips {
            Ok(ips) if !ips.is_empty() => Ok(ips),
            _ => Err(self.err(key, format!("invalid IP address list {s:?}"))),
        }
    }

    pub(super) fn uuid(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        let s = self.string(key, v)?;
        uuid::Uuid::parse_str(&s)
            .map_err(|_| self.err(key, format!("{s:?} is not a valid UUID")))?;
        Ok(s.to_lowercase())
    }

    pub(super) fn log_level(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        let s = self.string(key, v)?;
        parse_log_level(&s).ok_or_else(|| {
            self.err(
                key,
                format!("invalid log level {s:?} (trace, debug, info, warn, error)"),
            )
        })
    }

    pub(super) fn string_list(&self, key: &str, v: &Value) -> Result<Vec<String>, ConfigError> {
        match v {
            Value::Array(items) => items.iter().map(|i| self.string(key, i)).collect(),
            Value::String(s) => Ok(vec![s.clone()]),
            _ => Err(self.err(key, format!("expected a list of strings, got {}", kind(v)))),
        }
    }

    pub(super) fn string_map(
        &self,
        key: &str,
        v: &Value,
    ) -> Result<std::collections::BTreeMap<String, String>, ConfigError> {
        let obj = self.object(key, v)?;
        obj.iter()
            .map(|(k, val)| Ok((k.clone(), self.string(&format!("{key}.{k}"), val)?)))
            .collect()
    }

    pub(super) fn object<'v>(
        &self,
        key: &str,
        v: &'v Value,
    ) -> Result<&'v Map<String, Value>, ConfigError> {
        v.as_object()
            .ok_or_else(|| self.err(key, format!("expected an object, got {}", kind(v))))
    }

    /// The UI's content path, normalised (`ui` → `/ui/`); `/` and `/v1/...` are refused.
    pub(super) fn content_path(&self, key: &str, v: &Value) -> Result<String, ConfigError> {
        let s = self.string(key, v)?;
        crate::config::ui::content_path(&s).map_err(|msg| self.err(key, msg))
    }

    pub(super) fn duration(
        &self,
        key: &str,
        v: &Value,
    ) -> Result<std::time::Duration, ConfigError> {
        let s = self.string(key, v)?;
        crate::api::duration::parse_go(&s)
            .ok_or_else(|| self.err(key, format!("invalid duration {s:?}")))
    }

    pub(super) fn positive(
        &self,
        key: &str,
        v: &Value,
    ) -> Result<std::time::Duration, ConfigError> {
        let d = self.duration(key, v)?;
        if d.is_zero() {
            return Err(self.err(key, "must be greater than zero"));
        }
        Ok(d)
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
