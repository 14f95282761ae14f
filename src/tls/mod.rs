//! TLS for the HTTPS API and the server RPC: certificates loaded once at start, the rustls
//! configurations built from the `tls` block, and the accept side (`listener.rs`) that keeps
//! handshakes off the accept loop and caps connections per client (`limit.rs`).
//!
//! rustls on aws-lc-rs throughout (no OpenSSL). Every configuration is built with an
//! explicit provider, so another crypto backend appearing in the dependency graph cannot
//! make a builder panic.

mod limit;
mod listener;
mod verify;

use std::path::Path;
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig, SupportedCipherSuite};

pub use limit::{ConnGuard, ConnLimiter, Limited};
pub use listener::{ApiListener, HttpsStream};

use crate::config::AgentConfig;
use crate::config::tls::{TlsSettings, TlsVersion};

/// Why the TLS material could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A certificate, key or CA file could not be read or holds nothing usable.
    #[error("Failed to load {what} from {path}: {err}")]
    File {
        /// Which kind of file.
        what: &'static str,
        /// Its path.
        path: String,
        /// Why.
        err: String,
    },
    /// rustls refused the combination (a key that does not match the certificate, say).
    #[error("TLS configuration for {listener}: {err}")]
    Config {
        /// `https` or `internal_rpc`.
        listener: &'static str,
        /// rustls's reason.
        err: String,
    },
}

/// The TLS side of an agent, built once at start.
#[derive(Clone, Default)]
pub struct AgentTls {
    /// The HTTPS listener's configuration (`None`: no HTTPS port).
    pub https: Option<Arc<ServerConfig>>,
    /// The RPC port's TLS configuration (`None`: no certificate, plaintext only).
    pub rpc_accept: Option<Arc<ServerConfig>>,
    /// Refuse plaintext RPC connections and TLS ones without a CA-signed certificate.
    pub rpc_verify_incoming: bool,
    /// The name a peer's certificate must hold before it may send Raft messages
    /// (`server.<dc>.<domain>`, with `verify_server_hostname`), so a client agent's
    /// certificate cannot make it a server (CVE-2021-37219).
    pub rpc_server_name: Option<ServerName<'static>>,
    /// How this agent dials servers (`None`: plaintext).
    pub rpc_dial: Option<RpcDial>,
}

impl std::fmt::Debug for AgentTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentTls")
            .field("https", &self.https.is_some())
            .field("rpc_accept", &self.rpc_accept.is_some())
            .field("rpc_verify_incoming", &self.rpc_verify_incoming)
            .field("rpc_dial", &self.rpc_dial.is_some())
            .finish()
    }
}

/// The dialling side of the server RPC.
#[derive(Clone)]
pub struct RpcDial {
    /// rustls client configuration (CA, this agent's certificate, the name policy).
    pub config: Arc<ClientConfig>,
    /// The name sent and (with `verify_server_hostname`) checked: `server.<dc>.<domain>`,
    /// whatever address is dialled.
    pub server_name: ServerName<'static>,
    /// `<domain>` of that name, for dialling another datacenter's servers, whose
    /// certificates name their own datacenter.
    pub domain: String,
}

impl RpcDial {
    /// The name a server of datacenter `dc` is dialled and checked by.
    pub fn name_in(&self, dc: &str) -> Result<ServerName<'static>, String> {
        let name = format!("server.{dc}.{}", self.domain);
        ServerName::try_from(name.clone())
            .map_err(|e| format!("{name} is not a valid server name: {e}"))
    }
}

/// The name every server's certificate holds: `server.<datacenter>.<domain>`.
pub fn server_name(cfg: &AgentConfig) -> String {
    format!(
        "server.{}.{}",
        cfg.datacenter,
        cfg.domain.trim_end_matches('.')
    )
}

impl AgentTls {
    /// Load what `cfg` asks for; an agent with no TLS settings gets an empty value.
    pub fn load(cfg: &AgentConfig) -> Result<AgentTls, TlsError> {
        let mut out = AgentTls::default();
        if cfg.ports.https >= 0 {
            let s = cfg.tls.https();
            out.https = Some(server_config(&s, "https")?);
        }
        let rpc = cfg.tls.internal_rpc();
        let name = server_name(cfg);
        let sni = ServerName::try_from(name.clone()).map_err(|e| TlsError::Config {
            listener: "internal_rpc",
            err: format!("{name} is not a valid server name: {e}"),
        })?;
        if cfg.server && rpc.has_cert() {
            out.rpc_accept = Some(server_config(&rpc, "internal_rpc")?);
            out.rpc_verify_incoming = rpc.verify_incoming;
            if rpc.verify_server_hostname {
                out.rpc_server_name = Some(sni.clone());
            }
        }
        if rpc.verify_outgoing {
            out.rpc_dial = Some(RpcDial {
                config: client_config(&rpc)?,
                server_name: sni,
                domain: cfg.domain.trim_end_matches('.').to_string(),
            });
        }
        Ok(out)
    }
}

fn file_err(what: &'static str, path: &Path, err: impl ToString) -> TlsError {
    TlsError::File {
        what,
        path: path.display().to_string(),
        err: err.to_string(),
    }
}

/// Every certificate in a PEM file.
pub fn load_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_err("certificate", path, e))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| file_err("certificate", path, e))?;
    if certs.is_empty() {
        return Err(file_err(
            "certificate",
            path,
            "no PEM CERTIFICATE block in it",
        ));
    }
    Ok(certs)
}

/// The private key of a PEM file (PKCS#8, SEC1 or PKCS#1).
pub fn load_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    PrivateKeyDer::from_pem_file(path).map_err(|e| file_err("private key", path, e))
}

/// The CAs of `ca_file` and every PEM file in `ca_path`.
pub fn load_roots(s: &TlsSettings) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    let mut add = |path: &Path, certs: Vec<CertificateDer<'static>>| {
        for c in certs {
            roots
                .add(c)
                .map_err(|e| file_err("CA certificate", path, e))?;
        }
        Ok::<_, TlsError>(())
    };
    if let Some(f) = &s.ca_file {
        add(f, load_certs(f)?)?;
    }
    if let Some(dir) = &s.ca_path {
        let entries = std::fs::read_dir(dir).map_err(|e| file_err("CA directory", dir, e))?;
        let mut paths: Vec<_> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for p in paths.iter().filter(|p| p.is_file()) {
            // A directory of CAs may hold other files (a README, a key); only files
            // that are PEM certificates count.
            if let Ok(certs) = load_certs(p) {
                add(p, certs)?;
            }
        }
    }
    if roots.is_empty() {
        let path = s.ca_file.as_deref().or(s.ca_path.as_deref());
        return Err(file_err(
            "CA certificate",
            path.unwrap_or(Path::new("(none)")),
            "no CA certificate found",
        ));
    }
    Ok(roots)
}

/// The crypto provider of one listener: aws-lc-rs with the TLS 1.2 suites `s` allows.
fn provider(s: &TlsSettings) -> Arc<CryptoProvider> {
    use rustls::CipherSuite as C;
    let mut p = rustls::crypto::aws_lc_rs::default_provider();
    if !s.cipher_suites.is_empty() {
        let wanted: Vec<C> = s
            .cipher_suites
            .iter()
            .filter_map(|n| {
                Some(match n.as_str() {
                    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256" => {
                        C::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
                    }
                    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384" => {
                        C::TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384
                    }
                    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305" => {
                        C::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
                    }
                    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256" => {
                        C::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256
                    }
                    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384" => {
                        C::TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384
                    }
                    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305" => {
                        C::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256
                    }
                    _ => return None,
                })
            })
            .collect();
        p.cipher_suites.retain(|cs| match cs {
            SupportedCipherSuite::Tls13(_) => true,
            SupportedCipherSuite::Tls12(_) => wanted.contains(&cs.suite()),
        });
    }
    Arc::new(p)
}

static TLS12_UP: &[&rustls::SupportedProtocolVersion] =
    &[&rustls::version::TLS13, &rustls::version::TLS12];
static TLS13_ONLY: &[&rustls::SupportedProtocolVersion] = &[&rustls::version::TLS13];

fn versions(s: &TlsSettings) -> &'static [&'static rustls::SupportedProtocolVersion] {
    match s.min_version {
        TlsVersion::Tls12 => TLS12_UP,
        TlsVersion::Tls13 => TLS13_ONLY,
    }
}

/// A listener's configuration: its certificate, and client certificates required
/// (`verify_incoming`), accepted and checked (a CA but no requirement: the RPC port uses
/// them to tell servers apart), or not asked for.
fn server_config(s: &TlsSettings, listener: &'static str) -> Result<Arc<ServerConfig>, TlsError> {
    let cfg_err = |e: rustls::Error| TlsError::Config {
        listener,
        err: e.to_string(),
    };
    let (Some(cert), Some(key)) = (&s.cert_file, &s.key_file) else {
        return Err(TlsError::Config {
            listener,
            err: "cert_file and key_file are required".into(),
        });
    };
    let certs = load_certs(cert)?;
    let key = load_key(key)?;
    let provider = provider(s);
    let builder = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions(s))
        .map_err(cfg_err)?;
    let builder = if s.has_ca() {
        let roots = Arc::new(load_roots(s)?);
        let v = WebPkiClientVerifier::builder_with_provider(roots, provider);
        let v = if s.verify_incoming {
            v
        } else {
            v.allow_unauthenticated()
        };
        let v = v.build().map_err(|e| TlsError::Config {
            listener,
            err: e.to_string(),
        })?;
        builder.with_client_cert_verifier(v)
    } else {
        builder.with_no_client_auth()
    };
    let mut config = builder.with_single_cert(certs, key).map_err(cfg_err)?;
    config.alpn_protocols = if listener == "https" {
        vec![b"http/1.1".to_vec()]
    } else {
        Vec::new()
    };
    Ok(Arc::new(config))
}

/// How this agent dials servers: their chain checked against the CA, their name too with
/// `verify_server_hostname`, and this agent's certificate offered when it has one.
fn client_config(s: &TlsSettings) -> Result<Arc<ClientConfig>, TlsError> {
    let listener = "internal_rpc";
    let cfg_err = |e: rustls::Error| TlsError::Config {
        listener,
        err: e.to_string(),
    };
    let provider = provider(s);
    let roots = Arc::new(load_roots(s)?);
    let verifier = verify::ServerVerifier::new(roots, provider.clone(), s.verify_server_hostname)
        .map_err(|e| TlsError::Config {
        listener,
        err: e.to_string(),
    })?;
    let builder = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions(s))
        .map_err(cfg_err)?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier));
    let config = match (&s.cert_file, &s.key_file) {
        (Some(cert), Some(key)) => builder
            .with_client_auth_cert(load_certs(cert)?, load_key(key)?)
            .map_err(cfg_err)?,
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

/// Whether a peer's leaf certificate is valid for `name` (chain already verified by the
/// handshake).
pub fn cert_is_for(cert: &CertificateDer<'_>, name: &ServerName<'_>) -> bool {
    webpki::EndEntityCert::try_from(cert)
        .and_then(|c| c.verify_is_valid_for_subject_name(name))
        .is_ok()
}
