//! `disco tls ca create` and `disco tls cert create -server|-client|-cli`: a private CA and
//! agent certificates in Consul's layout (file names, subject alternative names, key
//! usages, validity), so the files `consul tls` makes and these are interchangeable.
//!
//! Keys are ECDSA P-256; new keys are written as PKCS#8 (which Go, OpenSSL and rustls all
//! read), and a CA key written by Consul (SEC1, `EC PRIVATE KEY`) signs as well.

use std::net::IpAddr;
use std::path::Path;

use clap::Args;
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, GeneralSubtree, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, NameConstraints, PKCS_ECDSA_P256_SHA256, SanType,
    SerialNumber,
};

use crate::goflag;

/// Flags of `disco tls ca create`.
#[derive(Args, Debug)]
pub struct CaFlags {
    /// Days the CA is valid for.
    #[arg(long, default_value_t = 1825)]
    days: i64,
    /// The domain the agents use (`consul`).
    #[arg(long, default_value = "consul")]
    domain: String,
    /// Limit the CA to the domain, `localhost` and the additional constraints.
    #[arg(long = "name-constraint", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    name_constraint: Option<bool>,
    /// A further DNS name the constrained CA may sign (repeatable).
    #[arg(long = "additional-name-constraint")]
    additional_name_constraint: Vec<String>,
    /// The CA's common name (default `Consul Agent CA <serial>`).
    #[arg(long = "common-name")]
    common_name: Option<String>,
}

/// Flags of `disco tls cert create`.
#[derive(Args, Debug)]
pub struct CertFlags {
    /// A server certificate (`server.<dc>.<domain>`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    server: Option<bool>,
    /// A client agent certificate (`client.<dc>.<domain>`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    client: Option<bool>,
    /// A certificate for the command line (`cli.<dc>.<domain>`).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    cli: Option<bool>,
    /// Datacenter.
    #[arg(long, default_value = "dc1")]
    dc: String,
    /// Domain.
    #[arg(long, default_value = "consul")]
    domain: String,
    /// Node name, added as `<node>.server.<dc>.<domain>` (servers only).
    #[arg(long)]
    node: Option<String>,
    /// Days the certificate is valid for.
    #[arg(long, default_value_t = 365)]
    days: i64,
    /// A further DNS name (repeatable).
    #[arg(long = "additional-dnsname")]
    additional_dnsname: Vec<String>,
    /// A further IP address (repeatable).
    #[arg(long = "additional-ipaddress")]
    additional_ipaddress: Vec<String>,
    /// The CA certificate (default `<domain>-agent-ca.pem`).
    #[arg(long)]
    ca: Option<String>,
    /// The CA key (default `<domain>-agent-ca-key.pem`).
    #[arg(long)]
    key: Option<String>,
}

fn run<F: Args + clap::FromArgMatches + std::fmt::Debug>(
    bin: &str,
    args: &[String],
    body: impl FnOnce(F) -> Result<(), String>,
) -> i32 {
    #[derive(clap::Parser, Debug)]
    #[command(disable_version_flag = true, args_override_self = true)]
    struct Only<F: Args> {
        #[command(flatten)]
        flags: F,
    }
    let parsed: Only<F> = match goflag::parse(bin, args) {
        Ok(p) => p,
        Err(e) => return e.report(),
    };
    match body(parsed.flags) {
        Ok(()) => 0,
        Err(e) => {
            eprintln!("{e}");
            1
        }
    }
}

/// A random positive 128-bit serial, as Consul's.
fn serial() -> (SerialNumber, u128) {
    let mut b = [0u8; 16];
    rand::fill(&mut b);
    b[0] &= 0x7f;
    (SerialNumber::from_slice(&b), u128::from_be_bytes(b))
}

/// Validity from a minute ago (clock skew) for `days`.
fn validity(p: &mut CertificateParams, days: i64) -> Result<(), String> {
    if days <= 0 {
        return Err("==> -days must be greater than 0".into());
    }
    let now = time::OffsetDateTime::now_utc();
    p.not_before = now - time::Duration::minutes(1);
    p.not_after = now + time::Duration::days(days);
    Ok(())
}

fn write_new(path: &Path, text: &str, private: bool) -> Result<(), String> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(if private { 0o600 } else { 0o644 })
        .open(path)
        .map_err(|e| format!("==> Failed to write {}: {e}", path.display()))?;
    f.write_all(text.as_bytes())
        .map_err(|e| format!("==> Failed to write {}: {e}", path.display()))?;
    println!("==> Saved {}", path.display());
    Ok(())
}

fn dns(name: &str) -> Result<SanType, String> {
    Ok(SanType::DnsName(name.try_into().map_err(|e| {
        format!("==> Invalid DNS name {name:?}: {e}")
    })?))
}

/// `disco tls ca create`.
pub fn ca_create(bin: &str, args: &[String]) -> i32 {
    run(bin, args, |f: CaFlags| {
        let cert_file = format!("{}-agent-ca.pem", f.domain);
        let key_file = format!("{}-agent-ca-key.pem", f.domain);
        for file in [&cert_file, &key_file] {
            if Path::new(file).exists() {
                return Err(format!("==> CA file {file} already exists"));
            }
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("==> Error generating the CA key: {e}"))?;
        let (serial, n) = serial();
        let mut p = CertificateParams::default();
        p.serial_number = Some(serial);
        p.distinguished_name = rcgen::DistinguishedName::new();
        let cn = f
            .common_name
            .clone()
            .unwrap_or_else(|| format!("Consul Agent CA {n}"));
        p.distinguished_name.push(DnType::CommonName, cn);
        p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
        ];
        p.subject_alt_names = vec![dns(&f.domain)?];
        if f.name_constraint.unwrap_or(false) {
            let mut permitted = vec![
                GeneralSubtree::DnsName(f.domain.clone()),
                GeneralSubtree::DnsName("localhost".into()),
            ];
            permitted.extend(
                f.additional_name_constraint
                    .iter()
                    .map(|n| GeneralSubtree::DnsName(n.clone())),
            );
            p.name_constraints = Some(NameConstraints {
                permitted_subtrees: permitted,
                excluded_subtrees: Vec::new(),
            });
        }
        validity(&mut p, f.days)?;
        let cert = p
            .self_signed(&key)
            .map_err(|e| format!("==> Error creating the CA: {e}"))?;
        write_new(Path::new(&cert_file), &cert.pem(), false)?;
        write_new(Path::new(&key_file), &key.serialize_pem(), true)
    })
}

/// The first `<dc>-<kind>-<domain>-<n>.pem` (and its `-key.pem`) not yet on disk.
fn free_names(prefix: &str) -> (String, String) {
    let mut n = 0;
    loop {
        let cert = format!("{prefix}-{n}.pem");
        let key = format!("{prefix}-{n}-key.pem");
        if !Path::new(&cert).exists() && !Path::new(&key).exists() {
            return (cert, key);
        }
        n += 1;
    }
}

/// `disco tls cert create -server|-client|-cli`.
pub fn cert_create(bin: &str, args: &[String]) -> i32 {
    run(bin, args, |f: CertFlags| {
        let kinds = [
            ("server", f.server.unwrap_or(false)),
            ("client", f.client.unwrap_or(false)),
            ("cli", f.cli.unwrap_or(false)),
        ];
        let chosen: Vec<&str> = kinds
            .iter()
            .filter(|(_, on)| *on)
            .map(|(k, _)| *k)
            .collect();
        let [kind] = chosen.as_slice() else {
            return Err("==> Please provide either -server, -client, or -cli".into());
        };
        if f.node.is_some() && *kind != "server" {
            return Err("==> Node name can only be set for server certificates (-server)".into());
        }
        let ca_file =
            f.ca.clone()
                .unwrap_or_else(|| format!("{}-agent-ca.pem", f.domain));
        let key_file = f
            .key
            .clone()
            .unwrap_or_else(|| format!("{}-agent-ca-key.pem", f.domain));
        let ca_pem = std::fs::read_to_string(&ca_file)
            .map_err(|e| format!("==> Error reading CA file {ca_file}: {e}"))?;
        let ca_key_pem = std::fs::read_to_string(&key_file)
            .map_err(|e| format!("==> Error reading CA key file {key_file}: {e}"))?;
        let ca_key = KeyPair::from_pem(&ca_key_pem)
            .map_err(|e| format!("==> Error reading CA key file {key_file}: {e}"))?;
        let issuer = Issuer::from_ca_cert_pem(&ca_pem, ca_key)
            .map_err(|e| format!("==> Error reading CA file {ca_file}: {e}"))?;

        let name = format!("{kind}.{}.{}", f.dc, f.domain);
        let mut sans = vec![dns(&name)?];
        if let Some(node) = &f.node {
            sans.push(dns(&format!("{node}.server.{}.{}", f.dc, f.domain))?);
        }
        sans.push(dns("localhost")?);
        for n in &f.additional_dnsname {
            sans.push(dns(n)?);
        }
        if *kind != "cli" {
            sans.push(SanType::IpAddress(IpAddr::from([127, 0, 0, 1])));
        }
        for ip in &f.additional_ipaddress {
            let ip: IpAddr = ip
                .parse()
                .map_err(|_| format!("==> Invalid IP address {ip:?}"))?;
            sans.push(SanType::IpAddress(ip));
        }
        let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256)
            .map_err(|e| format!("==> Error generating the key: {e}"))?;
        let mut p = CertificateParams::default();
        p.serial_number = Some(serial().0);
        p.distinguished_name = rcgen::DistinguishedName::new();
        p.distinguished_name.push(DnType::CommonName, name.clone());
        p.subject_alt_names = sans;
        p.key_usages = vec![
            KeyUsagePurpose::DigitalSignature,
            KeyUsagePurpose::KeyEncipherment,
        ];
        if *kind != "cli" {
            // One pair serves both ways: an agent is a TLS server to some peers and a
            // client to others.
            p.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
        }
        p.use_authority_key_identifier_extension = true;
        validity(&mut p, f.days)?;
        let cert = p
            .signed_by(&key, &issuer)
            .map_err(|e| format!("==> Error signing the certificate: {e}"))?;
        if *kind == "server" {
            println!(
                "==> WARNING: Server Certificates grants authority to become a\n    server and access all state in the cluster including root keys\n    and all ACL tokens. Do not distribute them to production hosts\n    that are not server nodes. Store them as securely as CA keys."
            );
        }
        println!("==> Using {ca_file} and {key_file}");
        let (cert_out, key_out) = free_names(&format!("{}-{kind}-{}", f.dc, f.domain));
        write_new(Path::new(&cert_out), &cert.pem(), false)?;
        write_new(Path::new(&key_out), &key.serialize_pem(), true)
    })
}
