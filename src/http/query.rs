//! Query-string handling with Consul's conventions: flags count by presence.

use std::time::Duration;

use axum::http::StatusCode;

use super::ApiError;
use crate::api::duration::parse_go;

/// Parsed query parameters, in order, and the caller's rights.
#[derive(Debug, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
    /// `discovery_max_stale`, for a catalog or health read; applies when the call names no
    /// consistency mode.
    pub discovery_max_stale: Option<Duration>,
    /// The call came from another server (over the server RPC): it was already sent on
    /// wherever it had to go, so it is answered here alone.
    pub from_server: bool,
    /// The caller's ACL rights (everything allowed when ACLs are off). Carried with the
    /// parameters because every handler that filters a list already takes them.
    pub authz: super::authz::Authz,
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
        Query {
            pairs,
            discovery_max_stale: None,
            from_server: false,
            authz: Default::default(),
        }
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

    /// `?filter=`: parsed once per request; a bad expression is Consul's 500 with
    /// go-bexpr's reason.
    pub fn filter(&self) -> Result<Option<crate::filter::Filter>, ApiError> {
        crate::filter::optional(self.get("filter")).map_err(filter_error)
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

    /// `?max_stale=`: a bound on a stale read's age; empty or zero is none, as Consul.
    pub fn max_stale(&self) -> Result<Option<Duration>, ApiError> {
        match self.get("max_stale") {
            None | Some("") => Ok(None),
            Some(v) => parse_go(v)
                .map(|d| (!d.is_zero()).then_some(d))
                .ok_or_else(|| ApiError::bad(format!("Invalid max_stale value {v:?}"))),
        }
    }

    /// The `discovery_max_stale` bound this call takes, when it names no mode itself
    /// (`stale`, `consistent`, `leader`, `cached` or a `max_stale`); a client agent passes
    /// it on to the server as `max_stale`.
    pub fn implied_max_stale(&self) -> Option<Duration> {
        let named = ["stale", "consistent", "leader", "cached"]
            .iter()
            .any(|k| self.has(k))
            || !matches!(self.max_stale(), Ok(None));
        self.discovery_max_stale.filter(|_| !named)
    }

    /// Consistency mode, with how old a stale read may be before it goes to the leader
    /// (`None`: any age); conflicting flags are a 400.
    pub fn mode(&self) -> Result<(Consistency, Option<Duration>), ApiError> {
        let bound = self.max_stale()?.or_else(|| self.implied_max_stale());
        let stale = self.has("stale") || bound.is_some();
        match (stale, self.has("consistent")) {
            (true, true) => Err(ApiError::bad(
                "Cannot specify ?stale with ?consistent, conflicting semantics.",
            )),
            (true, false) => Ok((Consistency::Stale, bound)),
            (false, true) => Ok((Consistency::Consistent, None)),
            _ => Ok((Consistency::Leader, None)),
        }
    }

    /// Consistency mode; conflicting flags are a 400.
    pub fn consistency(&self) -> Result<Consistency, ApiError> {
        self.mode().map(|(c, _)| c)
    }

    /// Whether a server answers this read from its own state rather than the leader's:
    /// stale reads, while the leader was heard from within their bound. A malformed mode
    /// is answered here too, where the route reports it.
    pub fn answer_locally(&self, last_contact: Option<Duration>) -> bool {
        match self.mode() {
            Err(_) => true,
            Ok((Consistency::Stale, None)) => true,
            Ok((Consistency::Stale, Some(max))) => last_contact.is_some_and(|d| d <= max),
            Ok(_) => false,
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

/// A filter that failed to parse or to evaluate: HTTP 500, as Consul answers both.
pub fn filter_error(e: crate::filter::FilterError) -> ApiError {
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mode(q: &str) -> Result<Consistency, String> {
        Query::parse(q).consistency().map_err(|e| format!("{e:?}"))
    }

    #[test]
    fn max_stale_follows_consul() {
        assert_eq!(mode("max_stale=5s"), Ok(Consistency::Stale));
        // Zero or empty is no bound and no stale read.
        assert_eq!(mode("max_stale=0s"), Ok(Consistency::Leader));
        assert_eq!(mode("max_stale="), Ok(Consistency::Leader));
        let err = mode("max_stale=soon").unwrap_err();
        assert!(
            err.contains("Invalid max_stale value") && err.contains("soon"),
            "{err}"
        );
        assert!(mode("max_stale=5s&consistent").is_err());
    }

    #[test]
    fn stale_reads_stay_local_within_their_bound() {
        let s = |n| Some(Duration::from_secs(n));
        assert!(Query::parse("stale").answer_locally(None));
        assert!(Query::parse("stale").answer_locally(s(3600)));
        assert!(Query::parse("max_stale=10s").answer_locally(s(2)));
        assert!(!Query::parse("max_stale=10s").answer_locally(s(11)));
        assert!(!Query::parse("stale&max_stale=10s").answer_locally(None));
        assert!(!Query::parse("").answer_locally(s(0)));
        assert!(!Query::parse("consistent").answer_locally(s(0)));
        // A malformed mode is answered (with its 400) where it arrived.
        assert!(Query::parse("max_stale=x").answer_locally(None));
    }

    #[test]
    fn discovery_max_stale_applies_only_without_a_mode() {
        let with = |q: &str| {
            let mut q = Query::parse(q);
            q.discovery_max_stale = Some(Duration::from_secs(30));
            q
        };
        assert_eq!(with("").consistency().ok(), Some(Consistency::Stale));
        assert_eq!(with("").implied_max_stale(), Some(Duration::from_secs(30)));
        assert!(with("index=4").answer_locally(Some(Duration::from_secs(29))));
        assert!(!with("").answer_locally(Some(Duration::from_secs(31))));
        assert_eq!(with("leader").consistency().ok(), Some(Consistency::Leader));
        assert_eq!(with("consistent").implied_max_stale(), None);
        assert_eq!(with("stale").mode().ok(), Some((Consistency::Stale, None)));
    }
}
