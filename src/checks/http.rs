//! HTTP checks.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::Duration;

use super::Outcome;
use crate::state::status;

/// An HTTP check as Consul runs it: a fresh connection each time (no keep-alive), its
/// `User-Agent` and `Accept` headers, redirects followed unless disabled.
#[derive(Clone, Debug)]
pub struct HttpProbe {
    /// Target URL.
    pub url: String,
    /// Request method.
    pub method: String,
    /// Extra headers (a `Host` entry sets the virtual host).
    pub header: BTreeMap<String, Vec<String>>,
    /// Request body.
    pub body: String,
    /// Whole-request deadline.
    pub timeout: Duration,
    /// Accept any certificate.
    pub tls_skip_verify: bool,
    /// Report a 3xx instead of following it.
    pub disable_redirects: bool,
    /// Bytes of the response body kept in the output.
    pub output_max: usize,
}

/// One client per (skip-verify, follow-redirects) pair, shared by every check: clients are
/// costly to build, and with pooling off they hold no connection state anyway.
fn client(skip_verify: bool, disable_redirects: bool) -> Option<&'static reqwest::Client> {
    static CLIENTS: [OnceLock<Option<reqwest::Client>>; 4] = [
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
        OnceLock::new(),
    ];
    let i = usize::from(skip_verify) * 2 + usize::from(disable_redirects);
    CLIENTS[i]
        .get_or_init(|| {
            reqwest::Client::builder()
                .user_agent("Consul Health Check")
                .pool_max_idle_per_host(0)
                // Backends are reached directly; a proxy from the environment would make
                // the check measure the proxy.
                .no_proxy()
                .tls_danger_accept_invalid_certs(skip_verify)
                .redirect(if disable_redirects {
                    reqwest::redirect::Policy::none()
                } else {
                    reqwest::redirect::Policy::limited(10)
                })
                .build()
                .ok()
        })
        .as_ref()
}

/// Go's spelling of a method in client errors (`Get "url": ...`).
fn go_op(method: &str) -> String {
    let mut c = method.chars();
    match c.next() {
        Some(f) => f.to_ascii_uppercase().to_string() + &c.as_str().to_ascii_lowercase(),
        None => String::new(),
    }
}

/// The innermost cause of an error: the part an operator can act on.
fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}

impl HttpProbe {
    /// Run the request once.
    pub async fn run(&self) -> Outcome {
        let fail = |why: String| Outcome {
            status: status::CRITICAL,
            output: format!("{} \"{}\": {}", go_op(&self.method), self.url, why),
        };
        let Some(client) = client(self.tls_skip_verify, self.disable_redirects) else {
            return fail("HTTP client unavailable".into());
        };
        let method = match reqwest::Method::from_bytes(self.method.as_bytes()) {
            Ok(m) => m,
            Err(_) => return fail(format!("net/http: invalid method {:?}", self.method)),
        };
        let mut req = client
            .request(method, &self.url)
            .timeout(self.timeout)
            .header("Accept", "text/plain, text/*, */*");
        for (k, vs) in &self.header {
            for v in vs {
                req = req.header(k.as_str(), v.as_str());
            }
        }
        if !self.body.is_empty() {
            req = req.body(self.body.clone());
        }
        let mut resp = match req.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => {
                return fail(
                    "context deadline exceeded (Client.Timeout exceeded while awaiting headers)"
                        .into(),
                );
            }
            Err(e) if e.is_builder() => return fail(e.to_string()),
            Err(e) => return fail(root_cause(&e)),
        };
        let code = resp.status();
        let mut body = Vec::new();
        while body.len() < self.output_max {
            match resp.chunk().await {
                Ok(Some(c)) => {
                    let room = self.output_max - body.len();
                    body.extend_from_slice(&c[..c.len().min(room)]);
                }
                Ok(None) => break,
                // A body cut short still leaves the status code to judge by.
                Err(_) => break,
            }
        }
        let st = if code.is_success() {
            status::PASSING
        } else if code.as_u16() == 429 {
            status::WARNING
        } else {
            status::CRITICAL
        };
        Outcome {
            status: st,
            output: format!(
                "HTTP {} {}: {} {} Output: {}",
                self.method,
                self.url,
                code.as_u16(),
                code.canonical_reason().unwrap_or(""),
                String::from_utf8_lossy(&body)
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_spells_methods_in_title_case() {
        assert_eq!(go_op("GET"), "Get");
        assert_eq!(go_op("post"), "Post");
    }
}
