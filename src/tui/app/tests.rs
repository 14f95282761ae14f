//! Key-level tests: a key, what it does to the state, and the effects it asks for.

use super::*;
use crate::tui::model::*;
use crate::tui::views::kv::Preview;
use crossterm::event::{KeyCode, KeyEvent, KeyEventState, KeyModifiers};

fn key(code: KeyCode) -> Event {
    Event::Key(KeyEvent {
        code,
        modifiers: KeyModifiers::NONE,
        kind: KeyEventKind::Press,
        state: KeyEventState::NONE,
    })
}

fn typed(app: &mut App, text: &str) -> Vec<Effect> {
    let mut out = Vec::new();
    for c in text.chars() {
        out.extend(app.on_event(&key(KeyCode::Char(c))));
    }
    out
}

fn app() -> App {
    let mut a = App::new("127.0.0.1:8500", Theme::dark());
    a.overview.node = "node1".into();
    a.services.set_rows(
        ["api", "db", "web"]
            .iter()
            .map(|n| ServiceRow {
                name: n.to_string(),
                instances: 1,
                ..Default::default()
            })
            .collect(),
    );
    a.members.set_rows(vec![
        MemberRow {
            name: "node1".into(),
            kind: "server".into(),
            status: "alive".into(),
            ..Default::default()
        },
        MemberRow {
            name: "client9".into(),
            kind: "client".into(),
            status: "failed".into(),
            ..Default::default()
        },
    ]);
    a.raft.set_rows(vec![
        RaftRow {
            node: "node1".into(),
            id: "id-1".into(),
            leader: true,
            voter: true,
            ..Default::default()
        },
        RaftRow {
            node: "node2".into(),
            id: "id-2".into(),
            voter: true,
            ..Default::default()
        },
    ]);
    a
}

fn error(a: &App) -> Option<&str> {
    a.status
        .as_ref()
        .filter(|s| s.error)
        .map(|s| s.text.as_str())
}

#[test]
fn number_keys_and_tab_switch_views() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('3')));
    assert_eq!(a.view, View::Raft);
    a.on_event(&key(KeyCode::Tab));
    assert_eq!(a.view, View::Kv);
    a.on_event(&key(KeyCode::BackTab));
    a.on_event(&key(KeyCode::BackTab));
    assert_eq!(a.view, View::Members);
}

#[test]
fn all_checks_are_followed_only_while_shown() {
    let mut a = app();
    assert_eq!(
        a.on_event(&key(KeyCode::Char('5'))),
        vec![Effect::Follow(Feed::Checks(true))]
    );
    assert!(a.on_event(&key(KeyCode::Char('5'))).is_empty());
    assert_eq!(
        a.on_event(&key(KeyCode::Char('1'))),
        vec![Effect::Follow(Feed::Checks(false))]
    );
}

#[test]
fn navigation_is_clamped() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('j')));
    a.on_event(&key(KeyCode::Down));
    a.on_event(&key(KeyCode::Down));
    assert_eq!(a.selected(), 2);
    a.on_event(&key(KeyCode::Char('g')));
    assert_eq!(a.selected(), 0);
    a.on_event(&key(KeyCode::Char('G')));
    assert_eq!(a.selected(), 2);
    a.on_event(&key(KeyCode::Char('k')));
    assert_eq!(a.selected(), 1);
    a.on_event(&key(KeyCode::Home));
    assert_eq!(a.selected(), 0);
    a.on_event(&key(KeyCode::End));
    assert_eq!(a.selected(), 2);
}

#[test]
fn filter_keeps_on_enter_and_clears_on_esc() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('/')));
    typed(&mut a, "we");
    assert_eq!(a.services.list.shown(), &[2]);
    a.on_event(&key(KeyCode::Enter));
    assert!(matches!(a.mode, Mode::Normal));
    assert_eq!(a.services.list.filter(), "we");
    assert_eq!(a.selected(), 0);
    a.on_event(&key(KeyCode::Char('/')));
    a.on_event(&key(KeyCode::Esc));
    assert_eq!(a.services.list.filter(), "");
    assert_eq!(a.services.list.shown().len(), 3);
}

#[test]
fn back_keys_clear_the_filter() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('/')));
    typed(&mut a, "db");
    a.on_event(&key(KeyCode::Enter));
    for k in [KeyCode::Char('h'), KeyCode::Left, KeyCode::Esc] {
        a.services.set_filter("db".into());
        a.on_event(&key(k));
        assert_eq!(a.services.list.filter(), "", "{k:?}");
    }
}

#[test]
fn enter_opens_instances_and_d_asks_before_deregistering() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('d')));
    assert!(error(&a).is_some_and(|m| m.contains("open a service")));
    a.on_event(&key(KeyCode::Char('j')));
    let effects = a.on_event(&key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::Follow(Feed::Instances(Some("db".into())))]
    );
    a.apply(Update::Instances(
        "db".into(),
        vec![Instance {
            node: "node1".into(),
            id: "db-1".into(),
            ..Default::default()
        }],
    ));
    assert!(a.on_event(&key(KeyCode::Char('d'))).is_empty());
    assert_eq!(
        a.prompt().as_deref(),
        Some("Deregister db-1 from this agent?")
    );
    let effects = a.on_event(&key(KeyCode::Char('y')));
    assert_eq!(
        effects,
        vec![Effect::Write(Write::Deregister {
            node: "node1".into(),
            id: "db-1".into(),
            local: true
        })]
    );
    let effects = a.on_event(&key(KeyCode::Backspace));
    assert_eq!(effects, vec![Effect::Follow(Feed::Instances(None))]);
    assert!(a.services.detail.is_none());
}

#[test]
fn destructive_actions_need_yes() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('2')));
    a.on_event(&key(KeyCode::Char('j')));
    a.on_event(&key(KeyCode::Char('f')));
    assert!(a.on_event(&key(KeyCode::Char('n'))).is_empty());
    a.on_event(&key(KeyCode::Char('f')));
    assert_eq!(
        a.on_event(&key(KeyCode::Char('y'))),
        vec![Effect::Write(Write::ForceLeave("client9".into()))]
    );
    a.on_event(&key(KeyCode::Char('3')));
    a.on_event(&key(KeyCode::Char('t')));
    assert!(error(&a).is_some_and(|m| m.contains("already leads")));
    a.on_event(&key(KeyCode::Char('j')));
    a.on_event(&key(KeyCode::Char('t')));
    assert_eq!(a.prompt().as_deref(), Some("Transfer leadership to node2?"));
    assert_eq!(
        a.on_event(&key(KeyCode::Char('y'))),
        vec![Effect::Write(Write::TransferLeader(Some(Peer {
            id: "id-2".into(),
            node: "node2".into()
        })))]
    );
}

#[test]
fn register_form_submits_on_enter_and_esc_cancels() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('r')));
    assert!(matches!(a.mode, Mode::Register(_)));
    // Enter with an empty name marks it and stays in the form.
    assert!(a.on_event(&key(KeyCode::Enter)).is_empty());
    assert!(matches!(a.mode, Mode::Register(_)));
    typed(&mut a, "cache");
    a.on_event(&key(KeyCode::Tab));
    a.on_event(&key(KeyCode::Tab));
    a.on_event(&key(KeyCode::Tab));
    typed(&mut a, "6379");
    let effects = a.on_event(&key(KeyCode::Enter));
    assert_eq!(
        effects,
        vec![Effect::Write(Write::Register(
            serde_json::json!({"Name":"cache","Port":6379})
        ))]
    );
    a.on_event(&key(KeyCode::Char('r')));
    a.on_event(&key(KeyCode::Esc));
    assert!(matches!(a.mode, Mode::Normal));
}

#[test]
fn palette_completes_and_runs_commands() {
    let mut a = app();
    assert_eq!(a.completions("tr"), vec!["transfer-leader"]);
    assert_eq!(a.completions("transfer-leader "), vec!["id-2"]);
    assert_eq!(a.completions("force-leave c"), vec!["client9"]);
    assert_eq!(
        a.completions("theme "),
        vec!["dark", "light", "high-contrast"]
    );
    a.on_event(&key(KeyCode::Char(':')));
    typed(&mut a, "th");
    a.on_event(&key(KeyCode::Tab));
    typed(&mut a, "light");
    a.on_event(&key(KeyCode::Enter));
    assert_eq!(a.theme.name, "light");
    let effects = a.run_command("kv put app/config some value");
    assert_eq!(
        effects,
        vec![Effect::Write(Write::KvPut {
            key: "app/config".into(),
            value: "some value".into()
        })]
    );
    a.run_command("transfer-leader node2");
    assert!(matches!(&a.mode, Mode::Confirm(Write::TransferLeader(Some(p))) if p.id == "id-2"));
    a.mode = Mode::Normal;
    a.run_command("bogus");
    assert!(error(&a).is_some());
    assert!(a.run_command("quit").is_empty());
    assert!(a.quit);
}

#[test]
fn a_key_and_its_palette_command_ask_the_same_question() {
    let mut a = app();
    a.on_event(&key(KeyCode::Char('2')));
    a.on_event(&key(KeyCode::Char('j')));
    a.on_event(&key(KeyCode::Char('f')));
    let by_key = a.prompt();
    a.mode = Mode::Normal;
    a.run_command("force-leave client9");
    assert_eq!(a.prompt(), by_key);
    a.mode = Mode::Normal;
    a.on_event(&key(KeyCode::Char('3')));
    a.on_event(&key(KeyCode::Char('j')));
    a.on_event(&key(KeyCode::Char('t')));
    let by_key = a.prompt();
    a.mode = Mode::Normal;
    a.run_command("transfer-leader id-2");
    assert_eq!(a.prompt(), by_key);
}

#[test]
fn kv_tree_descends_and_goes_up() {
    let mut a = app();
    let effects = a.on_event(&key(KeyCode::Char('4')));
    assert_eq!(effects, vec![Effect::Follow(Feed::Kv(String::new()))]);
    a.apply(Update::KvKeys(
        String::new(),
        kv_keys(&serde_json::json!(["top", "app/"])),
    ));
    assert_eq!(a.kv.list.selected().unwrap().key, "app/");
    assert_eq!(
        a.on_event(&key(KeyCode::Enter)),
        vec![Effect::Follow(Feed::Kv("app/".into()))]
    );
    assert_eq!(a.kv.prefix, "app/");
    let effects = a.apply(Update::KvKeys(
        "app/".into(),
        kv_keys(&serde_json::json!(["app/a"])),
    ));
    assert_eq!(effects, vec![Effect::LoadValue("app/a".into())]);
    a.apply(Update::KvValue(Preview {
        key: "app/a".into(),
        value: Some(b"hello".to_vec()),
        holder: None,
    }));
    a.on_event(&key(KeyCode::Char('e')));
    match &a.mode {
        Mode::KvEdit(e) if e.focus == KvField::Value => {
            assert_eq!(e.key.value(), "app/a");
            assert_eq!(e.value.value(), "hello");
        }
        m => panic!("{m:?}"),
    }
    typed(&mut a, "!");
    assert_eq!(
        a.on_event(&key(KeyCode::Enter)),
        vec![Effect::Write(Write::KvPut {
            key: "app/a".into(),
            value: "hello!".into()
        })]
    );
    a.on_event(&key(KeyCode::Char('x')));
    assert_eq!(a.prompt().as_deref(), Some("Delete key app/a?"));
    assert_eq!(
        a.on_event(&key(KeyCode::Char('y'))),
        vec![Effect::Write(Write::KvDelete("app/a".into()))]
    );
    assert_eq!(
        a.on_event(&key(KeyCode::Backspace)),
        vec![Effect::Follow(Feed::Kv(String::new()))]
    );
    assert_eq!(a.kv.prefix, "");
}

#[test]
fn quit_keys() {
    let mut a = app();
    assert!(a.on_event(&key(KeyCode::Char('q'))).is_empty());
    assert!(a.quit);
    let mut a = app();
    a.on_event(&key(KeyCode::Char('r')));
    typed(&mut a, "q");
    assert!(!a.quit, "q types into the form");
    let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
    assert!(a.on_event(&ctrl_c).is_empty());
    assert!(a.quit);
}

#[test]
fn the_sessions_view_follows_locks_only_while_shown_and_destroy_asks_first() {
    let mut a = App::new("127.0.0.1:8500", Theme::dark());
    let effects = a.on_event(&key(KeyCode::Char('6')));
    assert_eq!(a.view, View::Sessions);
    assert_eq!(effects, vec![Effect::Follow(Feed::Locks(true))]);
    a.apply(Update::Sessions(crate::tui::model::sessions(
        &serde_json::json!([
            {"ID": "s-1", "Name": "leader", "Node": "n1", "TTL": "15s", "Behavior": "release",
             "LockDelay": 15000000000u64, "NodeChecks": ["serfHealth"]},
        ]),
    )));
    // Before the tree was read, the prompt does not claim a count.
    a.on_event(&key(KeyCode::Char('x')));
    assert_eq!(
        a.prompt().as_deref(),
        Some("Destroy session leader (s-1)? Any key it holds is released")
    );
    a.on_event(&key(KeyCode::Char('n')));
    a.apply(Update::Locks(vec![("svc/leader".into(), "s-1".into())]));
    assert_eq!(a.sessions.keys_of("s-1"), ["svc/leader".to_string()]);
    a.on_event(&key(KeyCode::Char('x')));
    assert!(a.prompt().is_some_and(|p| p.contains("It holds 1 key(s)")));
    let effects = a.on_event(&key(KeyCode::Char('y')));
    assert_eq!(
        effects,
        vec![Effect::Write(Write::SessionDestroy {
            id: "s-1".into(),
            name: "leader".into(),
            keys: Some(1),
        })]
    );
    let effects = a.on_event(&key(KeyCode::Char('1')));
    assert_eq!(effects, vec![Effect::Follow(Feed::Locks(false))]);
}

#[test]
fn actions_the_token_may_not_take_are_refused_with_a_clear_line() {
    use crate::tui::rights::{Right, Rights};
    let mut app = App::new("127.0.0.1:8500", crate::tui::theme::Theme::dark());
    app.apply(Update::Rights(Rights {
        token: Some("read-only ops".into()),
        denied: [Right::OperatorWrite].into_iter().collect(),
    }));
    let effects = app.run(Command::ForceLeave);
    assert!(effects.is_empty());
    let status = app.status.clone().expect("a status line");
    assert!(status.error);
    assert_eq!(
        status.text,
        "read-only ops may not do this: it lacks operator:write"
    );
    // A refused read reads as the token's rights, not a lost agent.
    app.apply(Update::Denied(
        "/v1/agent/members: Permission denied: token lacks node:read".into(),
    ));
    assert!(
        app.status
            .as_ref()
            .unwrap()
            .text
            .starts_with("read-only ops may not read /v1/agent/members")
    );
    assert!(app.disconnect_reason.is_empty());
}

#[test]
fn dc_in_the_palette_shows_another_datacenter_and_back() {
    let mut app = App::new("127.0.0.1:8500", Theme::dark());
    app.overview.datacenter = "dc1".into();
    app.datacenters = vec!["dc1".into(), "dc2".into()];
    assert_eq!(
        app.completions("dc d"),
        vec!["dc1".to_string(), "dc2".to_string()]
    );
    app.view = View::Kv;
    let effects = app.run_command("dc dc2");
    assert_eq!(effects[0], Effect::Datacenter(Some("dc2".into())));
    assert!(
        effects.contains(&Effect::Follow(Feed::Kv(String::new()))),
        "the shown view follows again: {effects:?}"
    );
    assert_eq!(app.datacenter.as_deref(), Some("dc2"));
    assert!(
        app.services.list.rows().is_empty(),
        "no rows of the old datacenter"
    );
    // The agent's own name, or none, goes back.
    assert_eq!(app.run_command("dc dc1")[0], Effect::Datacenter(None));
    assert_eq!(app.datacenter, None);
    app.run_command("dc dc2");
    assert_eq!(app.run_command("dc")[0], Effect::Datacenter(None));
}
