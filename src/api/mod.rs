//! Consul's HTTP API shapes: request bodies (decoded case-insensitively, unknown keys
//! rejected, as Consul does) and response bodies (PascalCase, empty collections never null).

pub mod acl;
pub mod cluster;
pub mod decode;
pub mod definition;
pub mod duration;
pub mod health;
pub mod input;
pub mod kv;
pub mod output;

/// `path` (which may already carry a query) with `params` (encoded `k=v&...`) added.
pub fn with_query(path: &str, params: &str) -> String {
    let sep = if path.contains('?') { '&' } else { '?' };
    format!("{path}{sep}{params}")
}

/// Percent-encode a URL path segment (keys and names may hold any byte; `/` stays a
/// separator), for clients that build request paths.
pub fn path_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'/' | b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}
