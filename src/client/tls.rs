//! How the CLI and the console reach an agent over HTTPS, with Consul's flags and
//! environment: `-ca-file`/`CONSUL_CACERT`, `-ca-path`/`CONSUL_CAPATH`,
//! `-client-cert`/`CONSUL_CLIENT_CERT`, `-client-key`/`CONSUL_CLIENT_KEY`,
//! `-tls-server-name`/`CONSUL_TLS_SERVER_NAME`, `CONSUL_HTTP_SSL` and
//! `CONSUL_HTTP_SSL_VERIFY`. A flag wins over its variable.

use std::net::{SocketAddr, ToSocketAddrs};

use super::ClientError;

/// TLS settings of a client.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsOptions {
    /// Speak HTTPS even to an address without a scheme (`CONSUL_HTTP_SSL=true`).
    pub https: bool,
    /// PEM file of the CA that signed the agent's certificate.
    pub ca_file: Option<String>,
    /// Directory of PEM CA files.
    pub ca_path: Option<String>,
    /// Certificate shown to an agent with `verify_incoming`.
    pub client_cert: Option<String>,
    /// Its key.
    pub client_key: Option<String>,
    /// The name the agent's certificate must hold, whatever address is dialled.
    pub server_name: Option<String>,
    /// Skip verifying the agent's certificate (`CONSUL_HTTP_SSL_VERIFY=false`).
    pub insecure: bool,
}

fn env(k: &str) -> Option<String> {
    std::env::var(k).ok().filter(|v| !v.is_empty())
}

fn env_bool(k: &str) -> Result<Option<bool>, String> {
    match env(k) {
        None => Ok(None),
        Some(v) => match v.to_ascii_lowercase().as_str() {
            "1" | "t" | "true" => Ok(Some(true)),
            "0" | "f" | "false" => Ok(Some(false)),
            _ => Err(format!("Error parsing {k}: invalid boolean value {v:?}")),
        },
    }
}

impl TlsOptions {
    /// The flags given, completed from the environment.
    pub fn resolve(
        ca_file: Option<&str>,
        ca_path: Option<&str>,
        client_cert: Option<&str>,
        client_key: Option<&str>,
        server_name: Option<&str>,
    ) -> Result<TlsOptions, String> {
        let pick = |flag: Option<&str>, var: &str| {
            flag.filter(|f| !f.is_empty())
                .map(str::to_string)
                .or_else(|| env(var))
        };
        Ok(TlsOptions {
            https: env_bool("CONSUL_HTTP_SSL")?.unwrap_or(false),
            ca_file: pick(ca_file, "CONSUL_CACERT"),
            ca_path: pick(ca_path, "CONSUL_CAPATH"),
            client_cert: pick(client_cert, "CONSUL_CLIENT_CERT"),
            client_key: pick(client_key, "CONSUL_CLIENT_KEY"),
            server_name: pick(server_name, "CONSUL_TLS_SERVER_NAME"),
            insecure: env_bool("CONSUL_HTTP_SSL_VERIFY")? == Some(false),
        })
    }

    /// Apply these settings to a reqwest builder for `hostport`; returns the host to put in
    /// URLs (the server name when one is set, so it is the name verified).
    pub(super) fn apply(
        &self,
        mut b: reqwest::ClientBuilder,
        hostport: &str,
    ) -> Result<(reqwest::ClientBuilder, String), ClientError> {
        let read = |what: &str, path: &str| {
            std::fs::read(path)
                .map_err(|e| ClientError::Other(format!("Error loading {what} {path}: {e}")))
        };
        let mut roots = Vec::new();
        if let Some(f) = &self.ca_file {
            roots.extend(
                reqwest::Certificate::from_pem_bundle(&read("CA file", f)?)
                    .map_err(|e| ClientError::Other(format!("Error loading CA file {f}: {e}")))?,
            );
        }
        if let Some(dir) = &self.ca_path {
            let entries = std::fs::read_dir(dir)
                .map_err(|e| ClientError::Other(format!("Error loading CA path {dir}: {e}")))?;
            for e in entries.flatten() {
                let p = e.path();
                if let Ok(certs) = std::fs::read(&p)
                    .map_err(|_| ())
                    .and_then(|pem| reqwest::Certificate::from_pem_bundle(&pem).map_err(|_| ()))
                {
                    roots.extend(certs);
                }
            }
        }
        if !roots.is_empty() {
            b = b.tls_certs_only(roots);
        }
        match (&self.client_cert, &self.client_key) {
            (Some(c), Some(k)) => {
                let mut pem = read("client certificate", c)?;
                pem.push(b'\n');
                pem.extend(read("client key", k)?);
                let id = reqwest::Identity::from_pem(&pem).map_err(|e| {
                    ClientError::Other(format!("Error loading client certificate {c}: {e}"))
                })?;
                b = b.identity(id);
            }
            (None, None) => {}
            _ => {
                return Err(ClientError::Other(
                    "Both client cert and client key must be provided".into(),
                ));
            }
        }
        if self.insecure {
            b = b.tls_danger_accept_invalid_certs(true);
        }
        let Some(name) = &self.server_name else {
            return Ok((b, hostport.to_string()));
        };
        // The URL names the server name (the name checked), and the connection goes to the
        // address given.
        let port = hostport.rsplit_once(':').map_or("443", |(_, p)| p);
        let addr: SocketAddr = hostport
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next())
            .ok_or_else(|| ClientError::Other(format!("cannot resolve {hostport}")))?;
        b = b.resolve(name, addr);
        Ok((b, format!("{name}:{port}")))
    }
}
