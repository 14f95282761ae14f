//! Gossip key rotation with `disco keyring`: install a new key everywhere, make it primary,
//! remove the old one — with no member ever seen other than alive — then a restart that
//! keeps the rotated key (the keyring file wins over `-encrypt`), an agent holding only the
//! old key kept out, and Consul's refusals (the primary, an uninstalled key, no encryption).

mod support;

use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use support::{Agent, cli, wait_for};

fn keygen() -> String {
    let (code, out, err) = cli(1, &["keygen"]);
    assert_eq!(code, 0, "{err}");
    out.trim().to_string()
}

/// `disco keyring ARGS` against `port`; (exit code, stdout + stderr).
fn keyring(port: u16, args: &[&str]) -> (i32, String) {
    let mut all = vec!["keyring"];
    all.extend_from_slice(args);
    let (code, out, err) = cli(port, &all);
    (code, out + &err)
}

fn all_alive(agents: &[&Agent]) -> bool {
    agents.iter().all(|a| {
        let st: BTreeMap<String, i64> = a.member_statuses();
        st.len() == 3 && st.values().all(|s| *s == 1)
    })
}

#[test]
fn a_key_rotates_across_the_pool_and_survives_a_restart() {
    let (old, new) = (keygen(), keygen());
    let server = Agent::start(
        "kr1",
        &[
            "-server",
            "-bootstrap",
            "-data-dir",
            "{dir}/data",
            "-encrypt",
            &old,
        ],
    );
    let serf = server.serf_port();
    let c1 = Agent::client("kr2", serf, &["-encrypt", &old]);
    let mut c2 = Agent::client("kr3", serf, &["-encrypt", &old]);
    wait_for("three alive members", Duration::from_secs(30), || {
        all_alive(&[&server, &c1, &c2]).then_some(())
    });

    let (code, out) = keyring(c1.http, &["-list"]);
    assert_eq!(code, 0, "{out}");
    assert!(
        out.contains("==> Gathering installed encryption keys..."),
        "{out}"
    );
    assert!(out.contains("dc1 (LAN):"), "{out}");
    assert!(out.contains(&format!("{old} [3/3]")), "{out}");

    // Rotation: install, use, remove; every member stays alive through each step.
    for (args, say) in [
        (
            vec!["-install", new.as_str()],
            "Installing new gossip encryption key",
        ),
        (
            vec!["-use", new.as_str()],
            "Changing primary gossip encryption key",
        ),
        (
            vec!["-remove", old.as_str()],
            "Removing gossip encryption key",
        ),
    ] {
        let (code, out) = keyring(server.http, &args);
        assert_eq!(code, 0, "{args:?}: {out}");
        assert!(out.contains(say), "{out}");
        assert!(
            all_alive(&[&server, &c1, &c2]),
            "a member flapped after {args:?}"
        );
    }
    let (code, out) = keyring(c2.http, &["-list"]);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains(&format!("{new} [3/3]")), "{out}");
    assert!(!out.contains(&old), "the old key is gone everywhere: {out}");
    let (_, out) = keyring(c2.http, &["-list-primary"]);
    assert!(out.contains("dc1 (LAN) [primary]:"), "{out}");
    assert!(out.contains(&format!("{new} [3/3]")), "{out}");
    // Gossip still carries news under the new key: a KV write through a client agent.
    assert_eq!(c1.put("/v1/kv/rotated", b"yes").status, 200);

    // Consul's refusals, each naming its reason.
    let (code, out) = keyring(server.http, &["-remove", &new]);
    assert_eq!(code, 1);
    assert!(
        out.contains("Removing the primary key is not allowed"),
        "{out}"
    );
    let (code, out) = keyring(server.http, &["-use", &old]);
    assert_eq!(code, 1);
    assert!(out.contains("Requested key is not in the keyring"), "{out}");
    let (code, out) = keyring(server.http, &["-install", "not-base64!"]);
    assert_eq!(code, 1, "{out}");
    let (code, out) = keyring(server.http, &["-list", "-install", &new]);
    assert_eq!(code, 1);
    assert!(out.contains("Only a single action is allowed"), "{out}");

    // Each member keeps the rotated keyring in its data dir, readable by it alone.
    let file = c2.dir().join("data/serf/local.keyring");
    let text = std::fs::read_to_string(&file).expect("keyring file");
    assert_eq!(
        serde_json::from_str::<Vec<String>>(&text).unwrap(),
        vec![new.clone()]
    );
    let mode = std::fs::metadata(&file).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // A restart with the old -encrypt flag uses the keyring file and rejoins.
    c2.terminate();
    c2.restart();
    wait_for(
        "the restarted member alive again",
        Duration::from_secs(30),
        || all_alive(&[&server, &c1, &c2]).then_some(()),
    );
    assert!(
        c2.log_text()
            .contains("LAN keyring exists but -encrypt given"),
        "{}",
        c2.log_text()
    );

    // An agent holding only the old key is kept out.
    let (mut cmd, dir) = support::raw_agent(
        "kr-outsider",
        &["-encrypt", &old, "-join", &format!("127.0.0.1:{serf}")],
    );
    let out = cmd.output().expect("run agent");
    let _ = std::fs::remove_dir_all(dir);
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("Failed to join"), "{text}");
}

#[test]
fn keyring_operations_fail_without_gossip_encryption() {
    let a = Agent::dev("kr-plain");
    let r = a.get("/v1/operator/keyring");
    assert_eq!(r.status, 500);
    assert!(r.text().contains("encryption not enabled"), "{}", r.text());
    let r = a.call("POST", "/v1/operator/keyring", br#"{"Key": "x"}"#, "");
    assert_eq!(r.status, 400, "a key that is not base64: {}", r.text());
    let r = a.call("DELETE", "/v1/operator/keyring?local-only=1", b"{}", "");
    assert_eq!(r.status, 400);
    assert!(r.text().contains("Local-only"), "{}", r.text());
    let r = a.call("PATCH", "/v1/operator/keyring", b"", "");
    assert_eq!(r.status, 405);
}
