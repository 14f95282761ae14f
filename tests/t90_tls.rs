//! TLS on the wire: HTTPS with client certificates, the server RPC in mutual TLS between
//! three servers (plaintext refused once `verify_incoming` is on, Raft only from a server's
//! certificate), the CLI over HTTPS with Consul's variables, `ports.http = -1`, per-client
//! connection limits and the handshake timeout. Certificates come from `disco tls`; curl and
//! OpenSSL are the independent clients.

mod support;

use std::io::Read;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use support::{Agent, free_port, wait_for};

/// A CA and server, client and CLI certificates made by `disco tls` in `dir`.
struct Certs {
    dir: PathBuf,
}

impl Certs {
    fn make(name: &str) -> Certs {
        let dir = std::env::temp_dir().join(format!("disco-test-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        for args in [
            &["tls", "ca", "create"][..],
            &["tls", "cert", "create", "-server"],
            &["tls", "cert", "create", "-client"],
            &["tls", "cert", "create", "-cli"],
        ] {
            let out = Command::new(support::bin())
                .args(args)
                .current_dir(&dir)
                .output()
                .unwrap();
            assert!(out.status.success(), "{args:?}: {out:?}");
        }
        Certs { dir }
    }

    fn path(&self, file: &str) -> String {
        self.dir.join(file).display().to_string()
    }

    fn ca(&self) -> String {
        self.path("consul-agent-ca.pem")
    }

    /// (cert, key) of `kind`: server, client or cli.
    fn pair(&self, kind: &str) -> (String, String) {
        (
            self.path(&format!("dc1-{kind}-consul-0.pem")),
            self.path(&format!("dc1-{kind}-consul-0-key.pem")),
        )
    }

    /// A config file with full TLS for an agent holding the `kind` certificate.
    fn config(&self, name: &str, kind: &str, extra: &str) -> PathBuf {
        let (cert, key) = self.pair(kind);
        self.config_with(name, &cert, &key, extra)
    }

    /// A config file with full TLS for an agent holding `cert` and `key`.
    fn config_with(&self, name: &str, cert: &str, key: &str, extra: &str) -> PathBuf {
        let json = format!(
            r#"{{"tls": {{"defaults": {{"ca_file": "{}", "cert_file": "{cert}", "key_file": "{key}",
                "verify_incoming": true, "verify_outgoing": true}},
              "internal_rpc": {{"verify_server_hostname": true}}}}{extra}}}"#,
            self.ca()
        );
        support::config_file(name, &json)
    }
}

impl Drop for Certs {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// curl over HTTPS; returns (exit code, body).
fn curl(port: u16, path: &str, args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "--max-time", "20"])
        .args(args)
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .expect("curl must be installed");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
    )
}

/// Wait up to `limit` for `child` to exit by itself; whether it did (else it is killed).
fn wait_for_exit(child: &mut std::process::Child, limit: Duration) -> bool {
    let end = std::time::Instant::now() + limit;
    while std::time::Instant::now() < end {
        if let Ok(Some(_)) = child.try_wait() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(25));
    }
    let _ = child.kill();
    false
}

/// The disco CLI with `env` set and no address variables of the caller's.
fn cli_env(args: &[&str], env: &[(&str, String)]) -> (i32, String, String) {
    let mut c = Command::new(support::bin());
    c.args(args)
        .env_remove("CONSUL_HTTP_ADDR")
        .env_remove("DISCO_HTTP_ADDR");
    for (k, v) in env {
        c.env(k, v);
    }
    let out = c.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn three_servers_in_mutual_tls_with_https_and_a_client_agent() {
    let certs = Certs::make("tls-cluster");
    // Three servers, each with an HTTPS port and mutual TLS on the RPC.
    let https: Vec<u16> = (0..3).map(|_| free_port()).collect();
    let mut servers = Vec::new();
    let mut join = String::new();
    for (i, port) in https.iter().enumerate() {
        let name = format!("tls{}", i + 1);
        let cfg = certs.config(
            &name,
            "server",
            &format!(r#", "ports": {{"https": {port}}}"#),
        );
        let cfg = cfg.display().to_string();
        let mut args = vec![
            "-server",
            "-bootstrap-expect",
            "3",
            "-data-dir",
            "{dir}/data",
            "-config-file",
            &cfg,
        ];
        if i > 0 {
            args.extend(["-retry-join", &join, "-retry-interval", "200ms"]);
        }
        let a = Agent::launch(&name, &args);
        if i == 0 {
            join = format!("127.0.0.1:{}", a.serf_port());
        }
        servers.push(a);
    }
    // Formation and a leader mean Raft ran over mutual TLS.
    for s in servers.iter_mut() {
        s.wait_ready();
    }
    let follower = &servers[(support::leader(&servers.iter().collect::<Vec<_>>()) + 1) % 3];
    let r = follower.put("/v1/kv/tls/written", b"through a follower");
    assert_eq!(r.status, 200, "{}", r.text());

    // HTTPS: no client certificate, no answer (verify_incoming); with the CLI's, the API.
    let (code, out) = curl(https[0], "/v1/status/leader", &["--cacert", &certs.ca()]);
    assert_ne!(code, 0, "a caller without a certificate is refused: {out}");
    let (cli_cert, cli_key) = certs.pair("cli");
    let with_cert = [
        "--cacert",
        &certs.ca(),
        "--cert",
        &cli_cert,
        "--key",
        &cli_key,
    ];
    let (code, out) = curl(https[1], "/v1/kv/tls/written?raw", &with_cert);
    assert_eq!((code, out.as_str()), (0, "through a follower"));
    // A certificate from another CA is refused too.
    let other = Certs::make("tls-other-ca");
    let (o_cert, o_key) = other.pair("cli");
    let (code, _) = curl(
        https[1],
        "/v1/status/leader",
        &["--cacert", &certs.ca(), "--cert", &o_cert, "--key", &o_key],
    );
    assert_ne!(code, 0, "a certificate of a foreign CA is refused");

    // The CLI over HTTPS, configured only through Consul's variables.
    let env = vec![
        ("CONSUL_HTTP_ADDR", format!("127.0.0.1:{}", https[2])),
        ("CONSUL_HTTP_SSL", "true".to_string()),
        ("CONSUL_CACERT", certs.ca()),
        ("CONSUL_CLIENT_CERT", cli_cert.clone()),
        ("CONSUL_CLIENT_KEY", cli_key.clone()),
    ];
    let (code, out, err) = cli_env(&["members"], &env);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.matches("server").count(), 3, "{out}");
    let (code, _, err) = cli_env(&["kv", "put", "tls/cli", "over https"], &env);
    assert_eq!(code, 0, "{err}");
    // Without the CA the agent's certificate is not trusted, and the error says why.
    let (code, _, err) = cli_env(
        &["kv", "get", "tls/cli"],
        &[(
            "CONSUL_HTTP_ADDR",
            format!("https://127.0.0.1:{}", https[2]),
        )],
    );
    assert_eq!(code, 1);
    assert!(
        err.contains("UnknownIssuer") || err.contains("certificate"),
        "{err}"
    );

    // OpenSSL sees a server certificate for server.dc1.consul on the RPC port.
    let rpc = support::rpc_addr(&servers[0]);
    let mut s_client = Command::new("openssl")
        .args([
            "s_client",
            "-connect",
            &rpc,
            "-CAfile",
            &certs.ca(),
            "-verify_hostname",
            "server.dc1.consul",
            "-cert",
            &cli_cert,
            "-key",
            &cli_key,
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl must be installed");
    drop(s_client.stdin.take());
    let out = s_client.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Verify return code: 0 (ok)"), "{text}");
    // Without a client certificate the RPC port refuses the handshake (verify_incoming).
    let mut bare = Command::new("openssl")
        .args(["s_client", "-connect", &rpc, "-CAfile", &certs.ca()])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl must be installed");
    // stdin stays open, so s_client ends only when the server closes the connection
    // (after its alert), not on end of input.
    let stdin = bare.stdin.take();
    let closed = wait_for_exit(&mut bare, Duration::from_secs(30));
    drop(stdin);
    let out = bare.wait_with_output().unwrap();
    assert!(
        closed,
        "the server closed the connection of a peer without a certificate"
    );
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert!(
        text.contains("certificate required") || text.contains("alert"),
        "a peer without a certificate is refused: {text}"
    );

    // A client agent with a client certificate forwards over TLS; one without TLS is
    // refused by the servers (verify_incoming), and says so.
    let serf = servers[0].serf_port();
    let ccfg = certs
        .config("tls-client", "client", "")
        .display()
        .to_string();
    let client = Agent::client("tlsc", serf, &["-config-file", &ccfg]);
    let r = client.put("/v1/kv/tls/client", b"via tls");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(servers[2].get("/v1/kv/tls/client?raw").text(), "via tls");

    let plain = Agent::launch(
        "tlsplain",
        &[
            "-data-dir",
            "{dir}/data",
            "-join",
            &format!("127.0.0.1:{serf}"),
        ],
    );
    wait_for("a refused plaintext write", Duration::from_secs(30), || {
        let r = support::http(plain.http, "PUT", "/v1/kv/tls/plain", b"x").ok()?;
        // Before it knows a server it answers "No known Consul servers"; once it does,
        // its plaintext connection is cut by the server.
        (r.status == 500 && r.text().contains("rpc error")).then_some(())
    });
    let refused = servers
        .iter()
        .any(|s| s.log_text().contains("refusing a plaintext connection"));
    assert!(refused, "a server logs the refused plaintext connection");
    assert_eq!(servers[0].get("/v1/kv/tls/plain").status, 404);
}

/// The RPC a client's certificate may use, and the one it may not: a client agent's
/// certificate forwards API calls, but Raft messages need `server.<dc>.<domain>`
/// (CVE-2021-37219).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn raft_messages_need_a_server_certificate() {
    use disco::rpc::{Pool, RaftKind, Request};
    let certs = Certs::make("tls-raft");
    let cfg = certs.config("tls-raft-server", "server", "");
    let cfg = cfg.display().to_string();
    let server = Agent::start(
        "tlsraft",
        &[
            "-server",
            "-bootstrap",
            "-data-dir",
            "{dir}/data",
            "-config-file",
            &cfg,
        ],
    );
    let addr: std::net::SocketAddr = support::rpc_addr(&server).parse().unwrap();
    let dial = |kind: &str| {
        let (cert, key) = certs.pair(kind);
        let mut c = disco::config::AgentConfig::default();
        c.tls.defaults.ca_file = Some(certs.ca().into());
        c.tls.defaults.cert_file = Some(cert.into());
        c.tls.defaults.key_file = Some(key.into());
        c.tls.internal_rpc.verify_server_hostname = Some(true);
        let tls = disco::tls::AgentTls::load(&c).expect("client TLS");
        Pool::with_tls(tls.rpc_dial)
    };
    let vote = || Request::Raft {
        kind: RaftKind::Vote,
        payload: vec![0xff; 8],
    };
    let t = Duration::from_secs(10);
    let err = dial("client")
        .call(addr, vote(), t)
        .await
        .expect_err("a client certificate may not vote");
    assert!(
        err.to_string().contains("need a server certificate"),
        "{err}"
    );
    // A client certificate still forwards API calls.
    let reply = dial("client")
        .call(
            addr,
            Request::Http {
                method: "GET".into(),
                uri: "/v1/status/leader".into(),
                body: Vec::new(),
                from_server: false,
                token: String::new(),
            },
            t,
        )
        .await
        .expect("an API call");
    assert!(matches!(reply, disco::rpc::Reply::Http { status: 200, .. }));
    // A server certificate gets past the check (and this garbage vote is refused by Raft).
    let err = dial("server").call(addr, vote(), t).await.err();
    assert!(
        !err.is_some_and(|e| e.to_string().contains("need a server certificate")),
        "a server certificate may send Raft messages"
    );
}

/// Spawn an agent with `cfg` and no harness ports (so the file's `ports` win); the
/// process is killed on drop.
struct Raw(std::process::Child, PathBuf);

impl Drop for Raw {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
        let _ = std::fs::remove_dir_all(&self.1);
    }
}

fn raw(name: &str, cfg: &Path) -> Raw {
    let dir = std::env::temp_dir().join(format!("disco-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let log = std::fs::File::create(dir.join("agent.log")).unwrap();
    let child = Command::new(support::bin())
        .args(["agent", "-dev", "-node", name, "-bind", "127.0.0.1"])
        .args(["-config-file", &cfg.display().to_string()])
        .stdout(Stdio::from(log.try_clone().unwrap()))
        .stderr(Stdio::from(log))
        .spawn()
        .unwrap();
    Raw(child, dir)
}

#[test]
fn https_only_with_limits_and_a_handshake_timeout() {
    let certs = Certs::make("tls-only");
    let (cert, key) = certs.pair("server");
    let https = free_port();
    let cfg = support::config_file(
        "tls-only",
        &format!(
            r#"{{"ports": {{"http": -1, "https": {https}, "dns": -1, "server": {}, "serf_lan": {}, "serf_wan": -1}},
               "tls": {{"https": {{"cert_file": "{cert}", "key_file": "{key}"}}}},
               "limits": {{"http_max_conns_per_client": 3, "https_handshake_timeout": "3s"}}}}"#,
            free_port(),
            free_port()
        ),
    );
    let _agent = raw("tlsonly", &cfg);
    let ca = certs.ca();
    wait_for("the HTTPS API", Duration::from_secs(60), || {
        let (code, out) = curl(https, "/v1/status/leader", &["--cacert", &ca]);
        (code == 0 && out.contains(':')).then_some(())
    });
    // No certificate asked of callers without verify_incoming.
    let (code, out) = curl(https, "/v1/agent/self", &["--cacert", &ca]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("\"Config\""), "{out}");

    // A connection that never starts its handshake is closed after the timeout.
    let mut idle = TcpStream::connect(("127.0.0.1", https)).unwrap();
    idle.set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut buf = [0u8; 16];
    // Closed by the server (end of stream or a reset), not a read timing out here.
    match idle.read(&mut buf) {
        Ok(n) => assert_eq!(n, 0, "the server closes a silent connection"),
        Err(e) => assert!(
            !matches!(
                e.kind(),
                std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
            ),
            "the server never closed a silent connection: {e}"
        ),
    }

    // Three connections per client: with three TLS sessions held open, a fourth
    // connection is closed, and a freed slot is usable again.
    let hold = || {
        Command::new("openssl")
            .args([
                "s_client",
                "-quiet",
                "-connect",
                &format!("127.0.0.1:{https}"),
            ])
            .args(["-CAfile", &ca])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("openssl must be installed")
    };
    let mut holders: Vec<std::process::Child> = (0..3).map(|_| hold()).collect();
    // On a loaded machine a holder's handshake can outlast the 3 s timeout, and that
    // holder exits: start it again, so the check is of three sessions actually held.
    wait_for("every slot held", Duration::from_secs(60), || {
        for h in holders.iter_mut() {
            if matches!(h.try_wait(), Ok(Some(_))) {
                *h = hold();
            }
        }
        let (code, _) = curl(https, "/v1/status/leader", &["--cacert", &ca]);
        (code != 0).then_some(())
    });
    let mut one = holders.pop().unwrap();
    let _ = one.kill();
    let _ = one.wait();
    wait_for("a freed slot", Duration::from_secs(30), || {
        let (code, _) = curl(https, "/v1/status/leader", &["--cacert", &ca]);
        (code == 0).then_some(())
    });
    for mut h in holders {
        let _ = h.kill();
        let _ = h.wait();
    }
}

#[test]
fn tls_settings_that_cannot_work_stop_the_agent_naming_them() {
    let certs = Certs::make("tls-bad");
    let (cert, key) = certs.pair("server");
    for (json, wanted) in [
        (
            r#"{"ports": {"https": 18999}}"#.to_string(),
            "ports.https is set but no certificate",
        ),
        (
            format!(
                r#"{{"tls": {{"defaults": {{"cert_file": "{cert}", "key_file": "/nonexistent/key.pem", "verify_outgoing": true, "ca_file": "{}"}}}}}}"#,
                certs.ca()
            ),
            "/nonexistent/key.pem",
        ),
        (
            r#"{"verify_outgoing": true}"#.to_string(),
            "VerifyOutgoing set, and no CA certificate provided!",
        ),
        (
            format!(
                r#"{{"tls": {{"defaults": {{"tls_min_version": "TLSv1_0", "cert_file": "{cert}", "key_file": "{key}"}}}}}}"#
            ),
            "TLSv1_0 is not supported",
        ),
        (
            r#"{"tls": {"internal_rpc": {"verify_incomng": true}}}"#.to_string(),
            "tls.internal_rpc.verify_incomng",
        ),
    ] {
        let cfg = support::config_file("tls-bad-cfg", &json);
        let (mut cmd, dir) = support::raw_agent("tlsbad", &["-server", "-bootstrap"]);
        cmd.args(["-config-file", &cfg.display().to_string()]);
        let out = cmd.output().unwrap();
        let _ = std::fs::remove_dir_all(dir);
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{json}: {text}");
        assert!(text.contains(wanted), "{json}: wanted {wanted:?} in {text}");
    }
}

/// Two datacenters whose servers verify each other's names: a server dials another
/// datacenter's servers by `server.<their dc>.<domain>`, the name their certificates hold,
/// so `?dc=` crosses in mutual TLS both ways.
#[test]
fn servers_of_two_datacenters_dial_each_other_by_their_own_names() {
    let certs = Certs::make("tls-wan");
    let out = Command::new(support::bin())
        .args(["tls", "cert", "create", "-server", "-dc", "dc2"])
        .current_dir(&certs.dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let cfg1 = certs.config("tls-wan-dc1", "server", "");
    let cfg2 = certs.config_with(
        "tls-wan-dc2",
        &certs.path("dc2-server-consul-0.pem"),
        &certs.path("dc2-server-consul-0-key.pem"),
        "",
    );
    let (wan1, wan2) = (free_port().to_string(), free_port().to_string());
    let start = |name: &str, dc: &str, wan: &str, cfg: &Path| {
        let cfg = cfg.display().to_string();
        Agent::start(
            name,
            &[
                "-dev",
                "-datacenter",
                dc,
                "-serf-wan-port",
                wan,
                "-config-file",
                &cfg,
            ],
        )
    };
    let a = start("tlswan1", "dc1", &wan1, &cfg1);
    let b = start("tlswan2", "dc2", &wan2, &cfg2);
    let (code, out, err) = support::cli(a.http, &["join", "-wan", &format!("127.0.0.1:{wan2}")]);
    assert_eq!(code, 0, "join -wan: {out}{err}");
    wait_for("dc2 through dc1 in TLS", Duration::from_secs(30), || {
        (a.put("/v1/kv/tls/wan?dc=dc2", b"from-dc1").status == 200).then_some(())
    });
    assert_eq!(b.get("/v1/kv/tls/wan?raw").text(), "from-dc1");
    assert_eq!(a.get("/v1/kv/tls/wan").status, 404, "dc1 has no such key");
    let r = b.get("/v1/catalog/nodes?dc=dc1");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()[0]["Datacenter"], "dc1");
}
