//! TLS settings: Consul's `tls { defaults, https, internal_rpc }` block (and the legacy
//! top-level keys mapped onto it), resolved per listener, and the connection limits that
//! guard the HTTP and RPC ports.
//!
//! Consul lets each protocol block override `defaults` key by key, so each block keeps
//! `Option`s and [`TlsConfig::https`] / [`TlsConfig::internal_rpc`] fill the gaps.

use std::path::PathBuf;
use std::time::Duration;

use super::ConfigError;

/// Lowest TLS version a listener accepts. rustls speaks 1.2 and 1.3 only, so Consul's
/// `TLSv1_0` and `TLSv1_1` are refused at load rather than silently raised.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TlsVersion {
    /// TLS 1.2 (Consul's default).
    #[default]
    Tls12,
    /// TLS 1.3 only.
    Tls13,
}

impl TlsVersion {
    /// Parse Consul's spelling (`TLSv1_2`) or the deprecated one (`tls12`); the second
    /// value says whether the spelling is deprecated.
    pub fn parse(s: &str) -> Result<(TlsVersion, bool), String> {
        match s {
            "TLSv1_2" => Ok((TlsVersion::Tls12, false)),
            "TLSv1_3" => Ok((TlsVersion::Tls13, false)),
            "tls12" => Ok((TlsVersion::Tls12, true)),
            "tls13" => Ok((TlsVersion::Tls13, true)),
            "TLSv1_0" | "TLSv1_1" | "tls10" | "tls11" => Err(format!(
                "{s} is not supported: disco speaks TLS 1.2 and 1.3 only (TLSv1_2 or TLSv1_3)"
            )),
            _ => Err(format!(
                "invalid TLS version {s:?} (TLSv1_2 or TLSv1_3; TLSv1_0 and TLSv1_1 are not supported)"
            )),
        }
    }
}

/// The TLS 1.2 cipher suites a listener may be limited to, by Consul's (Go's) names. TLS 1.3
/// suites are not configurable, as in Consul.
pub const CIPHER_SUITES: &[&str] = &[
    "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305",
    "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
    "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
    "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305",
];

/// Parse `tls_cipher_suites` (comma-separated, Consul's names) into the names kept.
pub fn parse_cipher_suites(s: &str) -> Result<Vec<String>, String> {
    let mut out = Vec::new();
    for name in s.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        // Go's names for the ChaCha suites also exist with a `_SHA256` tail.
        let canonical = name
            .strip_suffix("_SHA256")
            .filter(|n| n.ends_with("POLY1305"));
        let canonical = canonical.unwrap_or(name);
        if !CIPHER_SUITES.contains(&canonical) {
            return Err(format!(
                "unsupported cipher suite {name:?}: disco offers {} (CBC and RSA key exchange suites are not offered)",
                CIPHER_SUITES.join(", ")
            ));
        }
        out.push(canonical.to_string());
    }
    Ok(out)
}

/// One block of `tls`: every key optional, so a protocol block inherits what it leaves out.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsBlock {
    /// PEM file of the CA(s) that sign peers' certificates.
    pub ca_file: Option<PathBuf>,
    /// Directory of PEM CA files.
    pub ca_path: Option<PathBuf>,
    /// This agent's certificate (PEM, chain allowed).
    pub cert_file: Option<PathBuf>,
    /// Its private key (PEM: PKCS#8, SEC1 or PKCS#1).
    pub key_file: Option<PathBuf>,
    /// Require callers to present a certificate signed by the CA.
    pub verify_incoming: Option<bool>,
    /// Dial servers with TLS and check their chain.
    pub verify_outgoing: Option<bool>,
    /// Demand `server.<dc>.<domain>` of a server's certificate (internal RPC only).
    pub verify_server_hostname: Option<bool>,
    /// Lowest version accepted.
    pub tls_min_version: Option<TlsVersion>,
    /// TLS 1.2 suites offered (empty: all of [`CIPHER_SUITES`]).
    pub tls_cipher_suites: Option<Vec<String>>,
}

/// The `tls` block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsConfig {
    /// Applies to every protocol unless overridden.
    pub defaults: TlsBlock,
    /// The HTTPS API on `ports.https`.
    pub https: TlsBlock,
    /// The server RPC on `ports.server`.
    pub internal_rpc: TlsBlock,
}

/// One listener's settings with the defaults filled in.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsSettings {
    /// See [`TlsBlock::ca_file`].
    pub ca_file: Option<PathBuf>,
    /// See [`TlsBlock::ca_path`].
    pub ca_path: Option<PathBuf>,
    /// See [`TlsBlock::cert_file`].
    pub cert_file: Option<PathBuf>,
    /// See [`TlsBlock::key_file`].
    pub key_file: Option<PathBuf>,
    /// See [`TlsBlock::verify_incoming`].
    pub verify_incoming: bool,
    /// See [`TlsBlock::verify_outgoing`].
    pub verify_outgoing: bool,
    /// See [`TlsBlock::verify_server_hostname`].
    pub verify_server_hostname: bool,
    /// See [`TlsBlock::tls_min_version`].
    pub min_version: TlsVersion,
    /// See [`TlsBlock::tls_cipher_suites`].
    pub cipher_suites: Vec<String>,
}

impl TlsSettings {
    /// A CA is configured, by file or directory.
    pub fn has_ca(&self) -> bool {
        self.ca_file.is_some() || self.ca_path.is_some()
    }

    /// A certificate and key are configured.
    pub fn has_cert(&self) -> bool {
        self.cert_file.is_some() && self.key_file.is_some()
    }
}

fn pick<T: Clone>(own: &Option<T>, default: &Option<T>) -> Option<T> {
    own.clone().or_else(|| default.clone())
}

impl TlsConfig {
    fn resolve(&self, b: &TlsBlock) -> TlsSettings {
        let d = &self.defaults;
        TlsSettings {
            ca_file: pick(&b.ca_file, &d.ca_file),
            ca_path: pick(&b.ca_path, &d.ca_path),
            cert_file: pick(&b.cert_file, &d.cert_file),
            key_file: pick(&b.key_file, &d.key_file),
            verify_incoming: pick(&b.verify_incoming, &d.verify_incoming).unwrap_or(false),
            verify_outgoing: pick(&b.verify_outgoing, &d.verify_outgoing).unwrap_or(false),
            verify_server_hostname: b.verify_server_hostname.unwrap_or(false),
            min_version: pick(&b.tls_min_version, &d.tls_min_version).unwrap_or_default(),
            cipher_suites: pick(&b.tls_cipher_suites, &d.tls_cipher_suites).unwrap_or_default(),
        }
    }

    /// The HTTPS listener's settings.
    pub fn https(&self) -> TlsSettings {
        self.resolve(&self.https)
    }

    /// The server RPC's settings. `verify_server_hostname` implies `verify_outgoing`, as it
    /// has in Consul since CVE-2018-19653 (a name check that never runs protects nothing).
    pub fn internal_rpc(&self) -> TlsSettings {
        let mut s = self.resolve(&self.internal_rpc);
        if s.verify_server_hostname {
            s.verify_outgoing = true;
        }
        s
    }

    /// Refuse combinations that cannot work, with Consul's texts where it has them.
    pub fn validate(&self, https_port: bool, server: bool) -> Result<(), ConfigError> {
        let conflict = |m: String| Err(ConfigError::Conflict(m));
        let https = self.https();
        if https_port && !https.has_cert() {
            return conflict(
                "ports.https is set but no certificate: set tls.https (or tls.defaults) cert_file and key_file".into(),
            );
        }
        if https.verify_incoming && https_port && !https.has_ca() {
            return conflict("VerifyIncoming set, and no CA certificate provided! (tls.https: set ca_file or ca_path)".into());
        }
        let rpc = self.internal_rpc();
        if rpc.verify_outgoing && !rpc.has_ca() {
            return conflict("VerifyOutgoing set, and no CA certificate provided! (tls.internal_rpc: set ca_file or ca_path)".into());
        }
        if server && rpc.verify_incoming {
            if !rpc.has_ca() {
                return conflict("VerifyIncoming set, and no CA certificate provided! (tls.internal_rpc: set ca_file or ca_path)".into());
            }
            if !rpc.has_cert() {
                return conflict("VerifyIncoming set, and no Cert/Key pair provided! (tls.internal_rpc: set cert_file and key_file)".into());
            }
        }
        for (name, s) in [("https", &https), ("internal_rpc", &rpc)] {
            if s.cert_file.is_some() != s.key_file.is_some() {
                return conflict(format!(
                    "tls.{name}: cert_file and key_file must be set together"
                ));
            }
            if s.min_version == TlsVersion::Tls13 && !s.cipher_suites.is_empty() {
                return conflict(format!(
                    "tls.{name}: tls_cipher_suites cannot be set with tls_min_version TLSv1_3 (TLS 1.3 suites are not configurable)"
                ));
            }
        }
        Ok(())
    }
}

/// Connection limits and handshake timeouts of the `limits` block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnLimits {
    /// Open HTTP(S) connections one client IP may hold (0: no limit).
    pub http_max_conns_per_client: usize,
    /// Open server RPC connections one client IP may hold (0: no limit).
    pub rpc_max_conns_per_client: usize,
    /// Longest a TLS handshake on the HTTPS port may take.
    pub https_handshake_timeout: Duration,
    /// Longest the first bytes (and a TLS handshake) on the RPC port may take.
    pub rpc_handshake_timeout: Duration,
    /// Longest a forwarded call waits for its answer (a blocking query adds its wait), so
    /// a silent server cannot hold a request for good.
    pub rpc_client_timeout: Duration,
}

impl Default for ConnLimits {
    fn default() -> Self {
        ConnLimits {
            http_max_conns_per_client: 200,
            rpc_max_conns_per_client: 100,
            https_handshake_timeout: Duration::from_secs(5),
            rpc_handshake_timeout: Duration::from_secs(5),
            rpc_client_timeout: Duration::from_secs(60),
        }
    }
}
