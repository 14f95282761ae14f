//! HTTP client for the CLI (and the console): talks to any agent's Consul-compatible API.

pub mod lock;
mod tls;

pub use tls::TlsOptions;

use std::time::Duration;

use crate::api::cluster::{Member, RaftConfiguration};

/// Client errors, worded for a one-line CLI message.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The agent could not be reached, worded as Go's HTTP client words it.
    #[error("Get \"{url}\": dial tcp {addr}: {reason} ({cause})")]
    Unreachable {
        /// URL tried.
        url: String,
        /// Address tried.
        addr: String,
        /// Go's words for what happened: `connect: connection refused` or `i/o timeout`.
        reason: &'static str,
        /// Underlying error.
        cause: String,
    },
    /// The agent answered with an error status.
    #[error("Unexpected response code: {code} ({body})")]
    Status {
        /// HTTP status.
        code: u16,
        /// Body text.
        body: String,
    },
    /// Anything else.
    #[error("{0}")]
    Other(String),
}

/// A client bound to one agent address.
#[derive(Clone)]
pub struct Client {
    base: String,
    addr: String,
    http: reqwest::Client,
    /// ACL token sent as `X-Consul-Token` on every request (none when `None`).
    token: Option<String>,
    /// `?dc=` added to every request (the CLI's `-datacenter`; none when `None`).
    datacenter: Option<String>,
}

/// The ACL token a command acts with, as Consul's CLI finds it: `-token`, then
/// `-token-file`, then `CONSUL_HTTP_TOKEN`, then the file named by `CONSUL_HTTP_TOKEN_FILE`
/// (`DISCO_HTTP_TOKEN` and `DISCO_HTTP_TOKEN_FILE` first among the variables).
pub fn resolve_token(
    flag: Option<&str>,
    file_flag: Option<&str>,
) -> Result<Option<String>, String> {
    let read = |path: &str| {
        std::fs::read_to_string(path)
            .map(|s| s.trim().to_string())
            .map_err(|e| format!("Error loading token file: {e}"))
    };
    if let Some(t) = flag.filter(|t| !t.is_empty()) {
        return Ok(Some(t.to_string()));
    }
    if let Some(f) = file_flag.filter(|f| !f.is_empty()) {
        return read(f).map(Some);
    }
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    if let Some(t) = env("DISCO_HTTP_TOKEN").or_else(|| env("CONSUL_HTTP_TOKEN")) {
        return Ok(Some(t));
    }
    if let Some(f) = env("DISCO_HTTP_TOKEN_FILE").or_else(|| env("CONSUL_HTTP_TOKEN_FILE")) {
        return read(&f).map(Some);
    }
    Ok(None)
}

/// Resolve the agent address: flag, then `DISCO_HTTP_ADDR`, then `CONSUL_HTTP_ADDR`, then
/// the default.
pub fn resolve_addr(flag: Option<&str>) -> String {
    flag.map(str::to_string)
        .or_else(|| std::env::var("DISCO_HTTP_ADDR").ok())
        .or_else(|| std::env::var("CONSUL_HTTP_ADDR").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "127.0.0.1:8500".into())
}

impl Client {
    /// A client for `addr` (`host:port`, optionally with `http://`).
    pub fn new(addr: &str) -> Result<Self, ClientError> {
        Client::with_tls(addr, &TlsOptions::default())
    }

    /// A client for `addr` (`host:port`, `http://…` or `https://…`) with `tls` (HTTPS when
    /// the address says so or `tls.https` is set).
    pub fn with_tls(addr: &str, tls: &TlsOptions) -> Result<Self, ClientError> {
        let addr = addr.trim_end_matches('/');
        let (scheme, hostport) = match addr.split_once("://") {
            Some((s, rest)) => (s.to_string(), rest.to_string()),
            None if tls.https => ("https".to_string(), addr.to_string()),
            None => ("http".to_string(), addr.to_string()),
        };
        let mut builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(660))
            .no_proxy();
        let mut url_host = hostport.clone();
        if scheme == "https" {
            (builder, url_host) = tls.apply(builder, &hostport)?;
        }
        let http = builder
            .build()
            .map_err(|e| ClientError::Other(e.to_string()))?;
        Ok(Client {
            base: format!("{scheme}://{url_host}"),
            addr: hostport,
            http,
            token: None,
            datacenter: None,
        })
    }

    /// This client acting with `token` (none when `None` or empty).
    pub fn with_token(mut self, token: Option<String>) -> Self {
        self.token = token.filter(|t| !t.is_empty());
        self
    }

    /// This client asking datacenter `dc` (`?dc=`; the agent's own when `None` or empty).
    pub fn with_datacenter(mut self, dc: Option<String>) -> Self {
        self.datacenter = dc.filter(|d| !d.is_empty());
        self
    }

    /// The URL of `path` (a path and query), with `?dc=` when a datacenter is set.
    fn url(&self, path: &str) -> String {
        // The agent's own endpoints and the datacenter list answer for this agent.
        let local = ["/v1/agent/", "/v1/catalog/datacenters", "/v1/event/list"]
            .iter()
            .any(|p| path.starts_with(p));
        match &self.datacenter {
            Some(dc) if !local => format!(
                "{}{}",
                self.base,
                crate::api::with_query(path, &format!("dc={}", crate::api::path_escape(dc)))
            ),
            _ => format!("{}{path}", self.base),
        }
    }

    /// The token this client sends.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    fn authorize(&self, req: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(t) => req.header("X-Consul-Token", t),
            None => req,
        }
    }

    /// A failed request as the CLI words it: unreachable agents get Go's dial message.
    fn transport_error(&self, url: &str, e: reqwest::Error) -> ClientError {
        // reqwest's own text says only "error sending request"; the reason (refused, a
        // TLS alert, a certificate for another name) is down the source chain.
        let mut chain = String::new();
        let mut src: Option<&dyn std::error::Error> = std::error::Error::source(&e);
        while let Some(c) = src {
            let text = c.to_string();
            if !chain.contains(&text) {
                if !chain.is_empty() {
                    chain.push_str(": ");
                }
                chain.push_str(&text);
            }
            src = c.source();
        }
        let refused = chain.to_ascii_lowercase().contains("refused");
        if e.is_timeout() || (e.is_connect() && refused) {
            ClientError::Unreachable {
                url: url.to_string(),
                addr: self.addr.clone(),
                reason: if e.is_timeout() {
                    "i/o timeout"
                } else {
                    "connect: connection refused"
                },
                cause: e.to_string(),
            }
        } else if chain.is_empty() {
            ClientError::Other(e.to_string())
        } else {
            ClientError::Other(format!("Get \"{url}\": {chain}"))
        }
    }

    /// Send a request; non-2xx answers become [`ClientError::Status`] (404 is returned as is).
    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(u16, Vec<u8>), ClientError> {
        let url = self.url(path);
        let mut req = self.authorize(self.http.request(method, &url));
        if let Some(b) = body {
            req = req.body(b);
        }
        let resp = req
            .send()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        let code = resp.status().as_u16();
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?
            .to_vec();
        if code >= 400 && code != 404 {
            return Err(ClientError::Status {
                code,
                body: String::from_utf8_lossy(&bytes).trim().to_string(),
            });
        }
        Ok((code, bytes))
    }

    /// A blocking-query GET: `path` with `index` and `wait` added when `index` > 0. Returns
    /// the decoded body (`Null` on 404) and the `X-Consul-Index` to pass next time.
    pub async fn get_indexed(
        &self,
        path: &str,
        index: u64,
        wait: &str,
    ) -> Result<(serde_json::Value, u64), ClientError> {
        self.get_indexed_as(path, index, wait).await
    }

    /// [`Client::get_indexed`] decoding straight into `T` (`T::default()` on 404): large
    /// lists skip the intermediate JSON tree.
    pub async fn get_indexed_as<T: serde::de::DeserializeOwned + Default>(
        &self,
        path: &str,
        index: u64,
        wait: &str,
    ) -> Result<(T, u64), ClientError> {
        let url = if index > 0 {
            let path = crate::api::with_query(path, &format!("index={index}&wait={wait}"));
            self.url(&path)
        } else {
            self.url(path)
        };
        let resp = self
            .authorize(self.http.get(&url))
            .send()
            .await
            .map_err(|e| self.transport_error(&url, e))?;
        let code = resp.status().as_u16();
        let next = resp
            .headers()
            .get("X-Consul-Index")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let bytes = resp
            .bytes()
            .await
            .map_err(|e| ClientError::Other(e.to_string()))?;
        if code == 404 {
            return Ok((T::default(), next));
        }
        if code >= 400 {
            return Err(ClientError::Status {
                code,
                body: String::from_utf8_lossy(&bytes).trim().to_string(),
            });
        }
        let v = serde_json::from_slice(&bytes)
            .map_err(|e| ClientError::Other(format!("decoding response: {e}")))?;
        Ok((v, next))
    }

    /// The agent address this client talks to.
    pub fn addr(&self) -> &str {
        &self.addr
    }

    /// GET and decode into `T` (`T::default()` on 404).
    pub async fn get_as<T: serde::de::DeserializeOwned + Default>(
        &self,
        path: &str,
    ) -> Result<T, ClientError> {
        let (code, body) = self.send(reqwest::Method::GET, path, None).await?;
        if code == 404 {
            return Ok(T::default());
        }
        serde_json::from_slice(&body)
            .map_err(|e| ClientError::Other(format!("decoding response: {e}")))
    }

    /// `/v1/agent/members` (the LAN pool of every segment, or the WAN pool), in the order
    /// the server sent them.
    pub async fn members(&self, wan: bool) -> Result<Vec<Member>, ClientError> {
        let path = if wan {
            "/v1/agent/members?wan=1"
        } else {
            "/v1/agent/members?segment=_all"
        };
        self.get_as(path).await
    }

    /// `/v1/operator/raft/configuration`, from any server with `stale`, else the leader.
    pub async fn raft_configuration(&self, stale: bool) -> Result<RaftConfiguration, ClientError> {
        let path = if stale {
            "/v1/operator/raft/configuration?stale"
        } else {
            "/v1/operator/raft/configuration"
        };
        self.get_as(path).await
    }

    /// GET and decode JSON (None on 404 and on a `null` body).
    pub async fn get_json(&self, path: &str) -> Result<Option<serde_json::Value>, ClientError> {
        self.get_as(path).await
    }
}
