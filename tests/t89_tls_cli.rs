//! `disco tls ca create` and `disco tls cert create`: Consul's file names, subject
//! alternative names and usages, checked with OpenSSL; a CA key in Consul's own format
//! (SEC1, made here by OpenSSL) signs too.

mod support;

use std::path::Path;
use std::process::Command;

fn disco(dir: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(support::bin())
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run disco");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn openssl(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("openssl must be installed (scripts/test.sh installs it)");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("disco-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

#[test]
fn a_ca_and_agent_certificates_in_consul_s_layout() {
    let d = temp_dir("tls-layout");
    let (code, out, err) = disco(&d, &["tls", "ca", "create"]);
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("==> Saved consul-agent-ca.pem"), "{out}");
    // An existing CA is never overwritten.
    let (code, _, err) = disco(&d, &["tls", "ca", "create"]);
    assert_eq!(code, 1);
    assert!(err.contains("already exists"), "{err}");

    let (code, out, err) = disco(&d, &["tls", "cert", "create", "-server", "-node", "n1"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        out.contains("WARNING: Server Certificates grants authority"),
        "{out}"
    );
    for args in [&["-client"][..], &["-cli"], &["-server"]] {
        let mut a = vec!["tls", "cert", "create"];
        a.extend_from_slice(args);
        assert_eq!(disco(&d, &a).0, 0, "{args:?}");
    }
    for f in [
        "dc1-server-consul-0.pem",
        "dc1-server-consul-1.pem",
        "dc1-client-consul-0.pem",
        "dc1-cli-consul-0.pem",
    ] {
        let ok = openssl(&d, &["verify", "-CAfile", "consul-agent-ca.pem", f]);
        assert!(ok.contains(": OK"), "{f}: {ok}");
    }
    let server = openssl(
        &d,
        &[
            "x509",
            "-in",
            "dc1-server-consul-0.pem",
            "-noout",
            "-subject",
            "-ext",
            "subjectAltName,extendedKeyUsage",
        ],
    );
    assert!(server.contains("CN = server.dc1.consul"), "{server}");
    for san in [
        "DNS:server.dc1.consul",
        "DNS:n1.server.dc1.consul",
        "DNS:localhost",
        "IP Address:127.0.0.1",
    ] {
        assert!(server.contains(san), "{san} missing: {server}");
    }
    assert!(
        server.contains("TLS Web Server Authentication, TLS Web Client Authentication"),
        "{server}"
    );
    let cli = openssl(
        &d,
        &[
            "x509",
            "-in",
            "dc1-cli-consul-0.pem",
            "-noout",
            "-ext",
            "subjectAltName",
        ],
    );
    assert!(
        cli.contains("DNS:cli.dc1.consul") && !cli.contains("127.0.0.1"),
        "{cli}"
    );
    let ca = openssl(
        &d,
        &[
            "x509",
            "-in",
            "consul-agent-ca.pem",
            "-noout",
            "-subject",
            "-ext",
            "basicConstraints",
        ],
    );
    assert!(
        ca.contains("CN = Consul Agent CA ") && ca.contains("CA:TRUE"),
        "{ca}"
    );
    // Keys are readable by their owner only.
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(d.join("dc1-server-consul-0-key.pem"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "key mode {mode:o}");

    // Bad requests name what is wrong.
    let (code, _, err) = disco(&d, &["tls", "cert", "create"]);
    assert_eq!(code, 1);
    assert!(err.contains("-server, -client, or -cli"), "{err}");
    let (code, _, err) = disco(&d, &["tls", "cert", "create", "-client", "-node", "x"]);
    assert_eq!(code, 1);
    assert!(err.contains("-server"), "{err}");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn a_ca_key_in_consul_s_own_format_signs() {
    let d = temp_dir("tls-sec1");
    // SEC1 ("EC PRIVATE KEY"), the format `consul tls ca create` writes.
    openssl(
        &d,
        &[
            "ecparam",
            "-name",
            "prime256v1",
            "-genkey",
            "-noout",
            "-out",
            "ca-key.pem",
        ],
    );
    let key = std::fs::read_to_string(d.join("ca-key.pem")).unwrap();
    assert!(key.contains("BEGIN EC PRIVATE KEY"), "{key}");
    openssl(
        &d,
        &[
            "req",
            "-x509",
            "-new",
            "-key",
            "ca-key.pem",
            "-subj",
            "/CN=Consul Agent CA 1",
            "-days",
            "30",
            "-out",
            "ca.pem",
        ],
    );
    let (code, _, err) = disco(
        &d,
        &[
            "tls",
            "cert",
            "create",
            "-client",
            "-dc",
            "east",
            "-ca",
            "ca.pem",
            "-key",
            "ca-key.pem",
            "-additional-dnsname",
            "agent.example.internal",
            "-additional-ipaddress",
            "10.1.2.3",
        ],
    );
    assert_eq!(code, 0, "{err}");
    let ok = openssl(
        &d,
        &["verify", "-CAfile", "ca.pem", "east-client-consul-0.pem"],
    );
    assert!(ok.contains(": OK"), "{ok}");
    let sans = openssl(
        &d,
        &[
            "x509",
            "-in",
            "east-client-consul-0.pem",
            "-noout",
            "-ext",
            "subjectAltName",
        ],
    );
    for san in [
        "DNS:client.east.consul",
        "DNS:agent.example.internal",
        "IP Address:10.1.2.3",
    ] {
        assert!(sans.contains(san), "{san} missing: {sans}");
    }
    let _ = std::fs::remove_dir_all(&d);
}
