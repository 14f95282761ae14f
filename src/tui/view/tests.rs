//! Snapshots of every view and overlay on a fixed cluster, as text (colours are not part
//! of a snapshot).

use super::widgets::window;
use super::*;
use crate::tui::app::{App, KvEditor, KvField, Mode, PaletteInput, Status};
use crate::tui::form::RegisterForm;
use crate::tui::model::*;
use crate::tui::msg::{Update, View, Write};
use crate::tui::theme::Theme;
use crate::tui::views::kv::Preview;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

/// The screen as text, one line per row (colours are not part of the snapshot).
fn render(app: &mut App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, app)).unwrap();
    let buf = t.backend().buffer().clone();
    let mut out = String::new();
    for y in 0..h {
        let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

fn fixture() -> App {
    let mut a = App::new("127.0.0.1:8500", Theme::dark());
    a.apply(Update::Connected(Overview {
        datacenter: "dc1".into(),
        node: "node1".into(),
        server: true,
        version: "1.21.0".into(),
    }));
    let svc = |name: &str, n, p, w, c, tags: &[&str]| ServiceRow {
        name: name.into(),
        instances: n,
        passing: p,
        warning: w,
        critical: c,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    a.services.set_rows(vec![
        svc("api", 3, 6, 0, 0, &["v2", "public"]),
        svc("consul", 3, 3, 0, 0, &[]),
        svc("db", 2, 3, 0, 1, &["primary"]),
        svc("web", 2, 3, 1, 0, &["v1"]),
    ]);
    let m = |name: &str, addr: &str, status: &str, kind: &str| MemberRow {
        name: name.into(),
        address: addr.into(),
        status: status.into(),
        kind: kind.into(),
        build: "1.21.0".into(),
        dc: "dc1".into(),
    };
    a.members.set_rows(vec![
        m("node1", "127.0.0.1:8301", "alive", "server"),
        m("node2", "127.0.0.1:8311", "alive", "server"),
        m("node3", "127.0.0.1:8321", "alive", "server"),
        m("client1", "127.0.0.1:8331", "failed", "client"),
        m("client2", "127.0.0.1:8341", "left", "client"),
    ]);
    let r = |node: &str, id: &str, port: u16, leader: bool, idx: u64| RaftRow {
        node: node.into(),
        id: id.into(),
        address: format!("127.0.0.1:{port}"),
        leader,
        voter: true,
        last_index: idx,
    };
    a.raft.set_rows(vec![
        r(
            "node1",
            "6a1f0c52-0000-4000-8000-000000000001",
            8300,
            true,
            1042,
        ),
        r(
            "node2",
            "6a1f0c52-0000-4000-8000-000000000002",
            8310,
            false,
            1042,
        ),
        r(
            "node3",
            "6a1f0c52-0000-4000-8000-000000000003",
            8320,
            false,
            1039,
        ),
    ]);
    let c = |node: &str, id: &str, name: &str, status: &str, svc: &str, kind: &str, out: &str| {
        CheckRow {
            node: node.into(),
            id: id.into(),
            name: name.into(),
            status: status.into(),
            output: out.into(),
            service_id: svc.into(),
            service_name: svc.into(),
            kind: kind.into(),
        }
    };
    a.checks.set_rows(vec![
        c(
            "node2",
            "service:db",
            "Service 'db' check",
            "critical",
            "db",
            "tcp",
            "dial tcp 127.0.0.1:5432: connect: connection refused",
        ),
        c(
            "node1",
            "service:web",
            "Service 'web' check",
            "warning",
            "web",
            "http",
            "HTTP GET http://127.0.0.1:8080/health: 429 Too Many Requests Output: slow down",
        ),
        c(
            "node1",
            "serfHealth",
            "Serf Health Status",
            "passing",
            "",
            "",
            "Agent alive and reachable",
        ),
        c(
            "node1",
            "service:api",
            "Service 'api' check",
            "passing",
            "api",
            "http",
            "HTTP GET http://127.0.0.1:9000/health: 200 OK Output: ok",
        ),
    ]);
    a.kv.set_rows(
        "",
        kv_keys(&serde_json::json!(["app/", "config/", "feature-flags"])),
    );
    a.kv.preview = Some(Preview {
        key: "feature-flags".into(),
        value: Some(b"{\"dark_mode\": true}".to_vec()),
        holder: Some("5f1c3a2e-7b7d-4c1e-9a51-2b8f0f6c1d11".into()),
    });
    a.sessions.set_rows(vec![SessionRow {
        id: "5f1c3a2e-7b7d-4c1e-9a51-2b8f0f6c1d11".into(),
        name: "flag writer".into(),
        node: "node2".into(),
        ttl: "15s".into(),
        behavior: "release".into(),
        lock_delay_s: 15,
        checks: vec!["serfHealth".into()],
    }]);
    a.sessions.set_held(vec![(
        "feature-flags".into(),
        "5f1c3a2e-7b7d-4c1e-9a51-2b8f0f6c1d11".into(),
    )]);
    a.sessions.events = vec![EventRow {
        id: "0a1b2c3d-0000-0000-0000-000000000000".into(),
        name: "deploy".into(),
        payload: "v2".into(),
        ltime: 7,
    }];
    a.problems.critical = 1;
    a.problems.warning = 1;
    a.status = Some(Status {
        text: "registered web".into(),
        error: false,
    });
    a
}

#[test]
fn services_view() {
    let mut a = fixture();
    insta::assert_snapshot!(render(&mut a, 110, 16));
}

#[test]
fn instances_view() {
    let mut a = fixture();
    a.services.list.set_cursor(2);
    a.on_event(&crossterm::event::Event::Key(
        crossterm::event::KeyCode::Enter.into(),
    ));
    a.apply(Update::Instances("db".into(), crate::tui::model::instances(&serde_json::json!([
        {"Node": {"Node": "node2", "Address": "127.0.0.1"},
         "Service": {"ID": "db-1", "Service": "db", "Port": 5432, "Tags": ["primary"]},
         "Checks": [
            {"Node": "node2", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing", "Output": "Agent alive and reachable"},
            {"Node": "node2", "CheckID": "service:db-1", "Name": "Service 'db' check", "Status": "critical", "Type": "tcp", "Output": "dial tcp 127.0.0.1:5432: connect: connection refused"}]},
        {"Node": {"Node": "node3", "Address": "127.0.0.1"},
         "Service": {"ID": "db-2", "Service": "db", "Address": "10.0.0.7", "Port": 5432, "Tags": []},
         "Checks": [{"Node": "node3", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing"}]}
    ]))));
    insta::assert_snapshot!(render(&mut a, 110, 20));
}

#[test]
fn members_view() {
    let mut a = fixture();
    a.view = View::Members;
    a.members.list.set_cursor(3);
    insta::assert_snapshot!(render(&mut a, 100, 14));
}

#[test]
fn raft_view() {
    let mut a = fixture();
    a.view = View::Raft;
    insta::assert_snapshot!(render(&mut a, 120, 12));
}

#[test]
fn kv_view() {
    let mut a = fixture();
    a.view = View::Kv;
    a.kv.list.set_cursor(2);
    insta::assert_snapshot!(render(&mut a, 100, 12));
}

#[test]
fn sessions_view() {
    let mut a = fixture();
    a.view = View::Sessions;
    insta::assert_snapshot!(render(&mut a, 110, 16));
}

#[test]
fn checks_view_lists_critical_first() {
    let mut a = fixture();
    a.view = View::Checks;
    insta::assert_snapshot!(render(&mut a, 130, 13));
}

#[test]
fn register_form_marks_invalid_fields() {
    let mut a = fixture();
    let mut form = RegisterForm::new();
    form.set(3, "eighty");
    form.set(6, "sometimes");
    assert!(form.submit().is_none());
    a.mode = Mode::Register(Box::new(form));
    insta::assert_snapshot!(render(&mut a, 100, 28));
}

#[test]
fn confirm_dialog() {
    let mut a = fixture();
    a.view = View::Members;
    a.mode = Mode::Confirm(Write::ForceLeave("client1".into()));
    insta::assert_snapshot!(render(&mut a, 100, 14));
}

#[test]
fn help_overlay() {
    let mut a = fixture();
    a.mode = Mode::Help;
    insta::assert_snapshot!(render(&mut a, 100, 30));
}

#[test]
fn palette_with_completions() {
    let mut a = fixture();
    a.mode = Mode::Palette(PaletteInput {
        input: tui_input::Input::new("tr".into()),
        pick: 0,
    });
    insta::assert_snapshot!(render(&mut a, 100, 14));
}

#[test]
fn disconnected_banner_and_filter() {
    let mut a = fixture();
    a.apply(Update::Disconnected("connection refused".into()));
    a.services.set_filter("db".into());
    insta::assert_snapshot!(render(&mut a, 100, 12));
}

#[test]
fn kv_edit_overlay() {
    let mut a = fixture();
    a.view = View::Kv;
    a.kv.list.set_cursor(2);
    a.mode = Mode::KvEdit(KvEditor {
        key: tui_input::Input::new("feature-flags".into()),
        value: tui_input::Input::new("{\"dark_mode\": false}".into()),
        focus: KvField::Value,
    });
    insta::assert_snapshot!(render(&mut a, 100, 14));
}

#[test]
fn log_pane() {
    let mut a = fixture();
    a.show_logs = true;
    for i in 1..=12 {
        a.apply(Update::Log(format!(
            "2026-01-01T00:00:{i:02}Z [INFO] agent: line {i}"
        )));
    }
    insta::assert_snapshot!(render(&mut a, 100, 22));
}

#[test]
fn the_window_follows_the_selection() {
    assert_eq!(window(100, 0, 10), 0..10);
    assert_eq!(window(100, 9, 10), 0..10);
    assert_eq!(window(100, 10, 10), 1..11);
    assert_eq!(window(5, 4, 10), 0..5);
    assert_eq!(window(0, 0, 10), 0..0);
}
