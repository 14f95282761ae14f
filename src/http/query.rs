//! Query-string handling with Consul's conventions: flags count by presence.

use std::time::Duration;

use axum::http::StatusCode;

use super::ApiError;
use crate::api::duration::parse_go;

/// Parsed query parameters, in order.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// Decode `%XX` escapes (and, in queries, `+`).
pub fn percent_decode(s: &str) -> String {
    decode(s, false)
}

fn decode(s: &str, plus: bool) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' if plus => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// How a read is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Consistency {
    /// By the leader without a quorum round.
    Leader,
    /// Leadership confirmed by a quorum first.
    Consistent,
    /// By any server from local state.
    Stale,
}

impl Consistency {
    /// Header value of `X-Consul-Effective-Consistency`.
    pub fn as_str(self) -> &'static str {
        match self {
            Consistency::Leader => "leader",
            Consistency::Consistent => "consistent",
            Consistency::Stale => "stale",
        }
    }
}

impl Query {
    /// Parse a raw query string.
    pub fn parse(raw: &str) -> Self {
        let pairs = raw
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| match p.split_once('=') {
                Some((k, v)) => (decode(k, true), decode(v, true)),
                None => (decode(p, true), String::new()),
            })
            .collect();
        Query { pairs }
    }

    /// Whether a flag is present (any value).
    pub fn has(&self, key: &str) -> bool {
        self.pairs.iter().any(|(k, _)| k == key)
    }

    /// First value of a parameter.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Every value of a repeatable parameter.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// A boolean flag where `false`/`0` switch it off (`?passing=false`).
    pub fn flag(&self, key: &str) -> Result<bool, ApiError> {
        match self.get(key) {
            None => Ok(false),
            Some("" | "1" | "true" | "True" | "TRUE") => Ok(true),
            Some("0" | "false" | "False" | "FALSE") => Ok(false),
            Some(_) => Err(ApiError::bad(format!("Invalid value for ?{key}"))),
        }
    }

    /// Consistency mode; conflicting flags are a 400.
    pub fn consistency(&self) -> Result<Consistency, ApiError> {
        let stale = self.has("stale") || self.has("max_stale");
        let consistent = self.has("consistent");
        match (stale, consistent) {
            (true, true) => Err(ApiError::bad(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            )),
            (true, false) => Ok(Consistency::Stale),
            (false, true) => Ok(Consistency::Consistent),
            _ => Ok(Consistency::Leader),
        }
    }

    /// `?index=` (0 when absent) and `?wait=` (default 5 min, capped at 10 min).
    pub fn blocking(&self) -> Result<(u64, Duration), ApiError> {
        let index = match self.get("index") {
            None | Some("") => 0,
            Some(v) => v
                .parse::<u64>()
                .map_err(|_| ApiError::bad("Invalid index"))?,
        };
        let wait = match self.get("wait") {
            None | Some("") => Duration::from_secs(300),
            Some(v) => parse_go(v).ok_or_else(|| ApiError::bad("Invalid wait time"))?,
        };
        let wait = if wait.is_zero() {
            Duration::from_secs(300)
        } else {
            wait.min(Duration::from_secs(600))
        };
        Ok((index, wait))
    }

    /// `?dc=`: only the local datacenter exists.
    pub fn check_dc(&self, local: &str) -> Result<(), ApiError> {
        match self.get("dc") {
            Some(dc) if !dc.is_empty() && dc != local => Err(ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "No path to datacenter",
            )),
            _ => Ok(()),
        }
    }
}
