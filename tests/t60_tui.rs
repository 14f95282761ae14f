//! The console end to end: `disco tui` in a real terminal (tmux) attached to a cluster of
//! three servers and one client, driven by keystrokes exactly as the help lists them; every
//! effect is checked through the HTTP API, not on the screen.

mod support;

use std::process::Command;
use std::time::Duration;

use support::{Agent, wait_for};

const DEADLINE: Duration = Duration::from_secs(60);

/// A tmux session running one command, killed when dropped.
struct Tmux {
    session: String,
}

impl Tmux {
    fn start(session: &str, command: &[String]) -> Tmux {
        let status = Command::new("tmux")
            .args(["new-session", "-d", "-s", session, "-x", "160", "-y", "45"])
            .args(command)
            .status()
            .expect("tmux must be installed (scripts/test.sh installs it)");
        assert!(status.success(), "tmux new-session failed");
        Tmux {
            session: session.to_string(),
        }
    }

    /// Send tmux key names (`Enter`, `Tab`, `Escape`) or single characters.
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let ok = Command::new("tmux")
                .args(["send-keys", "-t", &self.session, k])
                .status()
                .is_ok_and(|s| s.success());
            assert!(ok, "tmux send-keys {k}");
            // One keystroke at a time, as a person types, so no key lands mid-redraw.
            std::thread::sleep(Duration::from_millis(40));
        }
    }

    /// Type text literally.
    fn text(&self, s: &str) {
        let ok = Command::new("tmux")
            .args(["send-keys", "-t", &self.session, "-l", s])
            .status()
            .is_ok_and(|s| s.success());
        assert!(ok, "tmux send-keys -l {s}");
        std::thread::sleep(Duration::from_millis(60));
    }

    fn screen(&self) -> String {
        Command::new("tmux")
            .args(["capture-pane", "-p", "-t", &self.session])
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    fn wait_screen(&self, what: &str, f: impl Fn(&str) -> bool) {
        wait_for(what, DEADLINE, || f(&self.screen()).then_some(()));
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

fn cluster() -> Vec<Agent> {
    let base = [
        "-server",
        "-bootstrap-expect",
        "3",
        "-data-dir",
        "{dir}/data",
    ];
    let first = Agent::launch("tui1", &base);
    let join = format!("127.0.0.1:{}", first.serf_port());
    let mut rest: Vec<&str> = base.to_vec();
    rest.extend(["-retry-join", &join, "-retry-interval", "200ms"]);
    let mut all = vec![first];
    for i in 2..=3 {
        all.push(Agent::launch(&format!("tui{i}"), &rest));
    }
    for a in all.iter_mut() {
        a.wait_ready();
    }
    all
}

fn leader_node(a: &Agent) -> Option<String> {
    let v = a.get("/v1/operator/raft/configuration").json();
    v["Servers"]
        .as_array()?
        .iter()
        .find(|s| s["Leader"] == true)
        .and_then(|s| s["Node"].as_str().map(String::from))
}

#[test]
fn console_drives_a_real_cluster() {
    let servers = cluster();
    let mut client = Agent::client("tui-client", servers[0].serf_port(), &[]);
    wait_for("four members alive", DEADLINE, || {
        (servers[0]
            .member_statuses()
            .values()
            .filter(|s| **s == 1)
            .count()
            == 4)
            .then_some(())
    });
    let console = Tmux::start(
        &format!("disco-tui-test-{}", std::process::id()),
        &[
            support::bin().display().to_string(),
            "tui".into(),
            format!("-http-addr=127.0.0.1:{}", servers[0].http),
        ],
    );
    console.wait_screen("header with 3 servers", |s| {
        s.contains("3 servers, 4 members")
    });

    // r: the register form, fields in order Name, ID, Address, Port, Tags, Meta, Check, Interval.
    console.keys(&["r"]);
    console.wait_screen("register form", |s| s.contains("Register a service"));
    console.text("payments");
    console.keys(&["Tab"]);
    console.text("payments-1");
    console.keys(&["Tab"]);
    console.text("127.0.0.1");
    console.keys(&["Tab"]);
    console.text("9090");
    console.keys(&["Tab"]);
    console.text("v3,canary");
    console.keys(&["Tab"]);
    console.text("team=billing");
    console.keys(&["Tab"]);
    console.text("30s");
    console.keys(&["Enter"]);
    let svc = wait_for(
        "payments registered on the attached agent",
        DEADLINE,
        || {
            servers[0]
                .get("/v1/agent/services")
                .json()
                .get("payments-1")
                .cloned()
        },
    );
    assert_eq!(svc["Service"], "payments");
    assert_eq!(svc["Port"], 9090);
    assert_eq!(svc["Tags"], serde_json::json!(["v3", "canary"]));
    assert_eq!(svc["Meta"]["team"], "billing");
    let checks = servers[0].get("/v1/agent/checks").json();
    assert!(
        checks["service:payments-1"]["Definition"]["TTL"] == "30s"
            || checks["service:payments-1"]["Type"] == "ttl",
        "{checks}"
    );

    // d: deregister the instance (filter to the service, open it, d, y).
    // The status line names the service at once; wait for its row in the list itself.
    console.wait_screen("payments listed", |s| {
        s.lines()
            .any(|l| l.trim_start_matches('│').starts_with("payments "))
    });
    console.keys(&["/"]);
    console.text("payments");
    console.keys(&["Enter"]);
    console.wait_screen("filtered to payments", |s| s.contains("Services (1 of"));
    console.keys(&["Enter"]);
    console.wait_screen("instances of payments", |s| s.contains("payments-1"));
    console.keys(&["d"]);
    console.wait_screen("confirm dialog", |s| s.contains("Deregister payments-1"));
    console.keys(&["y"]);
    wait_for("payments deregistered", DEADLINE, || {
        servers[0]
            .get("/v1/agent/services")
            .json()
            .get("payments-1")
            .is_none()
            .then_some(())
    });
    console.keys(&["BSpace", "/", "Escape"]);

    // f: force-leave the killed client.
    client.kill9();
    wait_for("client failed", DEADLINE, || {
        (servers[0].member_statuses().get("tui-client") == Some(&4)).then_some(())
    });
    console.keys(&["2", "/"]);
    console.text("tui-client");
    console.keys(&["Enter"]);
    console.wait_screen("client shown failed", |s| {
        s.contains("Members (1)")
            && s.lines()
                .any(|l| l.contains("tui-client") && l.contains("failed"))
    });
    console.keys(&["f"]);
    console.wait_screen("force-leave dialog", |s| {
        s.contains("Force-leave member tui-client")
    });
    console.keys(&["y"]);
    wait_for("client left", DEADLINE, || {
        (servers[0].member_statuses().get("tui-client") == Some(&3)).then_some(())
    });

    // t: transfer leadership to a follower picked in the Raft view.
    let before = wait_for("a leader", DEADLINE, || leader_node(&servers[0]));
    let target = ["tui1", "tui2", "tui3"]
        .into_iter()
        .find(|n| *n != before)
        .unwrap();
    console.keys(&["3", "/"]);
    console.text(target);
    console.keys(&["Enter"]);
    console.wait_screen("raft view filtered", |s| s.contains("Raft peers (1)"));
    console.keys(&["t"]);
    console.wait_screen("transfer dialog", |s| {
        s.contains(&format!("Transfer leadership to {target}"))
    });
    console.keys(&["y"]);
    wait_for("leadership moved to the chosen server", DEADLINE, || {
        (leader_node(&servers[0]).as_deref() == Some(target)).then_some(())
    });

    // Sessions: a lock taken with curl-style calls shows with its key; an event shows in
    // the events pane; destroying the session from the console (confirmed) releases it.
    let r = servers[1].put("/v1/session/create", br#"{"Name": "tui-holder"}"#);
    assert_eq!(r.status, 200, "{}", r.text());
    let sid = r.json()["ID"].as_str().expect("ID").to_string();
    let r = servers[1].put(&format!("/v1/kv/tui/leader?acquire={sid}"), b"me");
    assert_eq!(r.text().trim(), "true");
    let r = servers[2].put("/v1/event/fire/tui-deploy", b"v9");
    assert_eq!(r.status, 200, "{}", r.text());
    console.keys(&["6"]);
    console.wait_screen("session with its key, and the event", |s| {
        s.contains("tui-holder") && s.contains("holds   tui/leader") && s.contains("tui-deploy")
    });
    console.keys(&["/"]);
    console.text("tui-holder");
    console.keys(&["Enter", "x"]);
    console.wait_screen("destroy dialog", |s| {
        s.contains("Destroy session tui-holder") && s.contains("It holds 1 key(s)")
    });
    console.keys(&["y"]);
    wait_for("the lock released", DEADLINE, || {
        let e = servers[0].get("/v1/kv/tui/leader?consistent").json();
        e[0]["Session"].is_null().then_some(())
    });

    // q quits and gives the terminal back.
    console.keys(&["q"]);
    wait_for("console exited", DEADLINE, || {
        let alive = Command::new("tmux")
            .args(["has-session", "-t", &console.session])
            .status()
            .is_ok_and(|s| s.success());
        (!alive).then_some(())
    });
}

/// `:dc NAME` in the palette shows another datacenter's services through the attached
/// agent, the header says so, and `:dc` goes back.
#[test]
fn console_shows_another_datacenter_and_comes_back() {
    let dc_server = |name: &str, dc: &str| {
        let wan = support::free_port().to_string();
        let mut a = Agent::launch(name, &["-dev", "-datacenter", dc, "-serf-wan-port", &wan]);
        a.wait_ready();
        (a, wan)
    };
    let (a, _) = dc_server("tui-dc1", "dc1");
    let (b, b_wan) = dc_server("tui-dc2", "dc2");
    let (code, out, err) = support::cli(a.http, &["join", "-wan", &format!("127.0.0.1:{b_wan}")]);
    assert_eq!(code, 0, "join -wan: {out}{err}");
    for (agent, svc) in [(&a, "only-in-dc1"), (&b, "only-in-dc2")] {
        let body = format!(
            r#"{{"Node":"ext-{svc}","Address":"10.0.0.9","Service":{{"Service":"{svc}","Port":80}}}}"#
        );
        assert_eq!(
            agent.put("/v1/catalog/register", body.as_bytes()).status,
            200
        );
    }
    wait_for("dc2 listed by dc1", DEADLINE, || {
        a.get("/v1/catalog/datacenters")
            .text()
            .contains("dc2")
            .then_some(())
    });
    let console = Tmux::start(
        &format!("disco-tui-dc-test-{}", std::process::id()),
        &[
            support::bin().display().to_string(),
            "tui".into(),
            format!("-http-addr=127.0.0.1:{}", a.http),
        ],
    );
    console.wait_screen("dc1's services", |s| {
        s.contains("dc dc1") && s.contains("only-in-dc1")
    });
    console.keys(&[":"]);
    console.text("dc dc2");
    console.keys(&["Enter"]);
    console.wait_screen("dc2's services through dc1", |s| {
        s.contains("dc2 (through dc1)") && s.contains("only-in-dc2") && !s.contains("only-in-dc1")
    });
    console.keys(&[":"]);
    console.text("dc");
    console.keys(&["Enter"]);
    console.wait_screen("back in dc1", |s| {
        s.contains("only-in-dc1") && !s.contains("only-in-dc2") && !s.contains("through")
    });
}
