//! The console's state and its keyboard handling. No I/O here: keys turn into state changes
//! and [`Action`]s for the runtime to carry out, and the runtime's [`Update`]s come back in.
//! That keeps every key binding unit-testable.

use std::collections::VecDeque;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use serde_json::Value;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::form::RegisterForm;
use super::model::*;
use super::theme::{BUILTIN, Theme};

/// The five views, in key order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum View {
    /// Services (1).
    Services,
    /// Gossip members (2).
    Members,
    /// Raft peers (3).
    Raft,
    /// KV tree (4).
    Kv,
    /// All checks (5).
    Checks,
}

impl View {
    /// All views in order.
    pub const ALL: [View; 5] = [
        View::Services,
        View::Members,
        View::Raft,
        View::Kv,
        View::Checks,
    ];

    /// Position (0-based).
    pub fn index(self) -> usize {
        self as usize
    }

    /// Tab title.
    pub fn title(self) -> &'static str {
        match self {
            View::Services => "Services",
            View::Members => "Members",
            View::Raft => "Raft",
            View::Kv => "KV",
            View::Checks => "Checks",
        }
    }
}

/// Something the runtime must do.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// `PUT /v1/agent/service/register` with this body.
    Register(Value),
    /// Remove an instance: through the attached agent when it owns it (`local`), else from
    /// the catalog.
    Deregister {
        /// Node of the instance.
        node: String,
        /// Service ID.
        id: String,
        /// Registered on the attached agent.
        local: bool,
    },
    /// `PUT /v1/agent/force-leave/<node>`.
    ForceLeave(String),
    /// `POST /v1/operator/raft/transfer-leader[?id=]`.
    TransferLeader(Option<String>),
    /// `PUT /v1/kv/<key>`.
    KvPut {
        /// Key.
        key: String,
        /// Value.
        value: String,
    },
    /// `DELETE /v1/kv/<key>` (`?recurse` for a folder).
    KvDelete(String),
    /// Follow this service's instances (or stop following).
    WatchInstances(Option<String>),
    /// Follow this KV folder.
    WatchKv(String),
    /// Follow every check (only while the Checks view shows them).
    WatchChecks(bool),
    /// Fetch one key's value for the preview.
    LoadKvValue(String),
    /// Leave the console.
    Quit,
}

/// Something the runtime learnt.
#[derive(Clone, Debug, PartialEq)]
pub enum Update {
    /// Reached the agent.
    Connected(Overview),
    /// Lost it; the runtime keeps retrying.
    Disconnected(String),
    /// Service summaries.
    Services(Vec<ServiceRow>),
    /// Every check (followed while the Checks view is open).
    Checks(Vec<CheckRow>),
    /// How many checks are critical (always followed, for the header).
    CriticalCount(usize),
    /// How many checks are warning (always followed, for the header).
    WarningCount(usize),
    /// Gossip members.
    Members(Vec<MemberRow>),
    /// Raft peers.
    Raft(Vec<RaftRow>),
    /// Instances of a service.
    Instances(String, Vec<Instance>),
    /// A KV folder listing.
    KvKeys(String, Vec<KvItem>),
    /// A key's value (`None`: gone).
    KvValue(String, Option<Vec<u8>>),
    /// The outcome of an action, for the status line.
    Done {
        /// It worked.
        ok: bool,
        /// What to say.
        message: String,
    },
    /// A log line of the embedded agent.
    Log(String),
}

/// What keys currently go to.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Navigation.
    Normal,
    /// Typing a `/` filter.
    Filter(Input),
    /// The `:` command palette.
    Palette(Input, usize),
    /// The register form.
    Register(Box<RegisterForm>),
    /// A yes/no question before a destructive action.
    Confirm(String, Action),
    /// Editing a KV entry: key, value, focused field (0 key, 1 value).
    KvEdit(Input, Input, usize),
    /// The key help overlay.
    Help,
}

/// Commands of the palette, with their argument hint.
pub const COMMANDS: [(&str, &str); 7] = [
    ("register", "[NAME]"),
    ("deregister", "ID"),
    ("force-leave", "NODE"),
    ("transfer-leader", "[ID]"),
    ("kv", "put KEY VALUE"),
    ("theme", "NAME"),
    ("quit", ""),
];

/// How many log lines are kept.
const LOG_LINES: usize = 500;

/// The whole console state.
#[derive(Debug)]
pub struct App {
    /// Current view.
    pub view: View,
    /// Where keys go.
    pub mode: Mode,
    /// Colours.
    pub theme: Theme,
    /// Address of the agent, for messages.
    pub agent_addr: String,
    /// Agent identity (empty until connected).
    pub overview: Overview,
    /// Whether the last request reached the agent.
    pub connected: bool,
    /// Why it did not.
    pub disconnect_reason: String,
    /// Service summaries.
    pub services: Vec<ServiceRow>,
    /// Every check, critical first (filled while the Checks view is open).
    pub checks: Vec<CheckRow>,
    /// Critical and warning checks in the cluster.
    pub problems: (usize, usize),
    /// Members, servers first.
    pub members: Vec<MemberRow>,
    /// Raft peers.
    pub raft: Vec<RaftRow>,
    /// The service whose instances are shown, and them.
    pub detail: Option<(String, Vec<Instance>)>,
    /// Current KV folder (`""` is the root; otherwise ends in `/`).
    pub kv_prefix: String,
    /// Its entries.
    pub kv_items: Vec<KvItem>,
    /// The previewed key and its value.
    pub kv_value: Option<(String, Option<Vec<u8>>)>,
    /// Selected row per view, and in the instance list.
    pub cursor: [usize; 5],
    /// Selected instance in the detail list.
    pub detail_cursor: usize,
    /// Filter per view.
    pub filters: [String; 5],
    /// Last result or error: (text, is error).
    pub status: Option<(String, bool)>,
    /// Embedded agent's log.
    pub logs: VecDeque<String>,
    /// Show the log pane.
    pub show_logs: bool,
    /// Rows that fit in the list (set while drawing), for PageUp/PageDown.
    pub page: usize,
    /// Set once the user quits.
    pub quit: bool,
}

/// A `/` filter, lowercased once per list instead of once per row.
struct Needle(String);

impl Needle {
    fn new(filter: &str) -> Needle {
        Needle(filter.to_lowercase())
    }

    /// Whether any field contains the filter, ignoring case. ASCII text (nearly all of it)
    /// is compared in place; anything else is lowercased first.
    fn matches(&self, fields: &[&str]) -> bool {
        let n = self.0.as_bytes();
        n.is_empty()
            || fields.iter().any(|x| {
                if self.0.is_ascii() && x.is_ascii() {
                    x.len() >= n.len()
                        && x.as_bytes()
                            .windows(n.len())
                            .any(|w| w.eq_ignore_ascii_case(n))
                } else {
                    x.to_lowercase().contains(&self.0)
                }
            })
    }
}

impl App {
    /// A console for the agent at `agent_addr`.
    pub fn new(agent_addr: &str, theme: Theme) -> App {
        App {
            view: View::Services,
            mode: Mode::Normal,
            theme,
            agent_addr: agent_addr.to_string(),
            overview: Overview::default(),
            connected: false,
            disconnect_reason: String::new(),
            services: Vec::new(),
            checks: Vec::new(),
            problems: (0, 0),
            members: Vec::new(),
            raft: Vec::new(),
            detail: None,
            kv_prefix: String::new(),
            kv_items: Vec::new(),
            kv_value: None,
            cursor: [0; 5],
            detail_cursor: 0,
            filters: Default::default(),
            status: None,
            logs: VecDeque::new(),
            show_logs: false,
            page: 20,
            quit: false,
        }
    }

    // ---- what is listed ----

    /// Indices of the services that pass the filter.
    pub fn visible_services(&self) -> Vec<usize> {
        let f = Needle::new(&self.filters[View::Services.index()]);
        (0..self.services.len())
            .filter(|&i| {
                let s = &self.services[i];
                f.matches(&[&s.name])
                    || s.tags.iter().any(|t| f.matches(&[t]))
                    // A filter spanning tags ("a,b") matches their joined list.
                    || (f.0.contains(',') && f.matches(&[&s.tags.join(",")]))
            })
            .collect()
    }

    /// Indices of the members that pass the filter.
    pub fn visible_members(&self) -> Vec<usize> {
        let f = Needle::new(&self.filters[View::Members.index()]);
        (0..self.members.len())
            .filter(|&i| {
                let m = &self.members[i];
                f.matches(&[&m.name, &m.address, &m.status, &m.kind])
            })
            .collect()
    }

    /// Indices of the Raft peers that pass the filter.
    pub fn visible_raft(&self) -> Vec<usize> {
        let f = Needle::new(&self.filters[View::Raft.index()]);
        (0..self.raft.len())
            .filter(|&i| {
                let r = &self.raft[i];
                f.matches(&[&r.node, &r.id, &r.address])
            })
            .collect()
    }

    /// Indices of the KV entries that pass the filter.
    pub fn visible_kv(&self) -> Vec<usize> {
        let f = Needle::new(&self.filters[View::Kv.index()]);
        (0..self.kv_items.len())
            .filter(|&i| f.matches(&[self.kv_items[i].label(&self.kv_prefix)]))
            .collect()
    }

    /// Indices of the checks that pass the filter.
    pub fn visible_checks(&self) -> Vec<usize> {
        let f = Needle::new(&self.filters[View::Checks.index()]);
        (0..self.checks.len())
            .filter(|&i| {
                let c = &self.checks[i];
                f.matches(&[
                    &c.node,
                    &c.id,
                    &c.name,
                    &c.status,
                    &c.service_name,
                    &c.output,
                ])
            })
            .collect()
    }

    /// Rows in the current list.
    pub fn list_len(&self) -> usize {
        if self.view == View::Services
            && let Some((_, inst)) = &self.detail
        {
            return inst.len();
        }
        self.filtered_len(self.view)
    }

    /// Rows of `view`'s own list after its filter (the instance list aside).
    fn filtered_len(&self, view: View) -> usize {
        match view {
            View::Services => self.visible_services().len(),
            View::Members => self.visible_members().len(),
            View::Raft => self.visible_raft().len(),
            View::Kv => self.visible_kv().len(),
            View::Checks => self.visible_checks().len(),
        }
    }

    fn cursor_mut(&mut self) -> &mut usize {
        if self.view == View::Services && self.detail.is_some() {
            &mut self.detail_cursor
        } else {
            &mut self.cursor[self.view.index()]
        }
    }

    /// The selected row of the current list.
    pub fn selected(&self) -> usize {
        if self.view == View::Services && self.detail.is_some() {
            self.detail_cursor
        } else {
            self.cursor[self.view.index()]
        }
    }

    fn clamp_cursors(&mut self) {
        for v in View::ALL {
            let len = self.filtered_len(v);
            let c = &mut self.cursor[v.index()];
            *c = (*c).min(len.saturating_sub(1));
        }
        if let Some((_, inst)) = &self.detail {
            self.detail_cursor = self.detail_cursor.min(inst.len().saturating_sub(1));
        }
    }

    fn selected_service(&self) -> Option<&ServiceRow> {
        self.visible_services()
            .get(self.cursor[View::Services.index()])
            .map(|&i| &self.services[i])
    }

    fn selected_member(&self) -> Option<&MemberRow> {
        self.visible_members()
            .get(self.cursor[View::Members.index()])
            .map(|&i| &self.members[i])
    }

    fn selected_raft(&self) -> Option<&RaftRow> {
        self.visible_raft()
            .get(self.cursor[View::Raft.index()])
            .map(|&i| &self.raft[i])
    }

    /// The KV entry under the cursor.
    pub fn selected_kv(&self) -> Option<&KvItem> {
        self.visible_kv()
            .get(self.cursor[View::Kv.index()])
            .map(|&i| &self.kv_items[i])
    }

    /// The current leader's node name, from the Raft view.
    pub fn leader(&self) -> Option<&RaftRow> {
        self.raft.iter().find(|r| r.leader)
    }

    fn say(&mut self, msg: impl Into<String>, error: bool) {
        self.status = Some((msg.into(), error));
    }

    // ---- updates ----

    /// Take in what the runtime learnt.
    pub fn apply(&mut self, u: Update) -> Vec<Action> {
        let mut actions = Vec::new();
        match u {
            Update::Connected(o) => {
                if !self.connected && !self.disconnect_reason.is_empty() {
                    self.say(format!("reconnected to {}", self.agent_addr), false);
                }
                self.connected = true;
                self.disconnect_reason.clear();
                self.overview = o;
            }
            Update::Disconnected(why) => {
                self.connected = false;
                self.disconnect_reason = why;
            }
            Update::Services(s) => {
                self.mark_reachable();
                self.services = s;
            }
            Update::Checks(c) => {
                self.mark_reachable();
                self.checks = c;
            }
            Update::CriticalCount(n) => {
                self.mark_reachable();
                self.problems.0 = n;
            }
            Update::WarningCount(n) => {
                self.mark_reachable();
                self.problems.1 = n;
            }
            Update::Members(m) => {
                self.mark_reachable();
                self.members = m;
            }
            Update::Raft(r) => {
                self.mark_reachable();
                self.raft = r;
            }
            Update::Instances(name, list) => {
                if let Some((shown, inst)) = &mut self.detail
                    && *shown == name
                {
                    *inst = list;
                }
            }
            Update::KvKeys(prefix, items) => {
                if prefix == self.kv_prefix {
                    let before = self.selected_kv().map(|k| k.key.clone());
                    self.kv_items = items;
                    self.clamp_cursors();
                    let after = self.selected_kv().map(|k| k.key.clone());
                    if after != before {
                        actions.extend(self.preview_action());
                    }
                }
            }
            Update::KvValue(key, v) => self.kv_value = Some((key, v)),
            Update::Done { ok, message } => self.say(message, !ok),
            Update::Log(line) => {
                if self.logs.len() == LOG_LINES {
                    self.logs.pop_front();
                }
                self.logs.push_back(line);
            }
        }
        self.clamp_cursors();
        actions
    }

    /// Any answer from the agent means it is reachable again.
    fn mark_reachable(&mut self) {
        if !self.connected && !self.overview.node.is_empty() {
            self.connected = true;
            self.disconnect_reason.clear();
        }
    }

    fn preview_action(&self) -> Option<Action> {
        if self.view != View::Kv {
            return None;
        }
        match self.selected_kv() {
            Some(k) if !k.is_dir() => Some(Action::LoadKvValue(k.key.clone())),
            _ => None,
        }
    }

    // ---- keys ----

    /// Handle one terminal event (keys, paste); the actions to carry out.
    pub fn on_event(&mut self, ev: &Event) -> Vec<Action> {
        let Event::Key(key) = ev else {
            return Vec::new();
        };
        if key.kind != crossterm::event::KeyEventKind::Press {
            return Vec::new();
        }
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return vec![Action::Quit];
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Normal);
        match mode {
            Mode::Normal => self.on_normal(key),
            Mode::Help => Vec::new(),
            Mode::Filter(input) => self.on_filter(input, key, ev),
            Mode::Palette(input, pick) => self.on_palette(input, pick, key, ev),
            Mode::Register(form) => self.on_form(form, key, ev),
            Mode::Confirm(prompt, action) => match key.code {
                KeyCode::Char('y') | KeyCode::Char('Y') => {
                    self.say("working…", false);
                    vec![action]
                }
                KeyCode::Char('n') | KeyCode::Char('N') | KeyCode::Esc => {
                    self.say("cancelled", false);
                    Vec::new()
                }
                _ => {
                    self.mode = Mode::Confirm(prompt, action);
                    Vec::new()
                }
            },
            Mode::KvEdit(k, v, focus) => self.on_kv_edit(k, v, focus, key, ev),
        }
    }

    fn move_cursor(&mut self, delta: isize) -> Vec<Action> {
        let len = self.list_len();
        let c = self.cursor_mut();
        let next = (*c as isize + delta).clamp(0, len.saturating_sub(1) as isize);
        *c = next as usize;
        self.preview_action().into_iter().collect()
    }

    fn switch(&mut self, v: View) -> Vec<Action> {
        let was = self.view;
        self.view = v;
        let mut a = Vec::new();
        if was == View::Checks && v != View::Checks {
            a.push(Action::WatchChecks(false));
        }
        match v {
            View::Kv => {
                a.push(Action::WatchKv(self.kv_prefix.clone()));
                a.extend(self.preview_action());
            }
            View::Checks if was != View::Checks => a.push(Action::WatchChecks(true)),
            _ => {}
        }
        a
    }

    fn on_normal(&mut self, key: &KeyEvent) -> Vec<Action> {
        let page = self.page.max(1) as isize;
        match key.code {
            KeyCode::Char('q') => {
                self.quit = true;
                vec![Action::Quit]
            }
            KeyCode::Char(c @ '1'..='5') => {
                let v = View::ALL[(c as u8 - b'1') as usize];
                self.switch(v)
            }
            KeyCode::Tab => self.switch(View::ALL[(self.view.index() + 1) % 5]),
            KeyCode::BackTab => self.switch(View::ALL[(self.view.index() + 4) % 5]),
            KeyCode::Down | KeyCode::Char('j') => self.move_cursor(1),
            KeyCode::Up | KeyCode::Char('k') => self.move_cursor(-1),
            KeyCode::PageDown => self.move_cursor(page),
            KeyCode::PageUp => self.move_cursor(-page),
            KeyCode::Home | KeyCode::Char('g') => self.move_cursor(isize::MIN / 2),
            KeyCode::End | KeyCode::Char('G') => self.move_cursor(isize::MAX / 2),
            KeyCode::Char('/') => {
                let current = self.filters[self.view.index()].clone();
                self.mode = Mode::Filter(Input::new(current));
                Vec::new()
            }
            KeyCode::Char(':') => {
                self.mode = Mode::Palette(Input::default(), 0);
                Vec::new()
            }
            KeyCode::Char('?') => {
                self.mode = Mode::Help;
                Vec::new()
            }
            KeyCode::Char('l') => {
                self.show_logs = !self.show_logs;
                Vec::new()
            }
            KeyCode::Char('r') => {
                self.mode = Mode::Register(Box::default());
                Vec::new()
            }
            KeyCode::Enter => self.enter(),
            KeyCode::Backspace | KeyCode::Esc | KeyCode::Left | KeyCode::Char('h') => self.back(),
            KeyCode::Char('d') => self.ask_deregister(),
            KeyCode::Char('f') if self.view == View::Members => {
                if let Some(m) = self.selected_member() {
                    let name = m.name.clone();
                    self.mode = Mode::Confirm(
                        format!("Force-leave member {name}?"),
                        Action::ForceLeave(name),
                    );
                }
                Vec::new()
            }
            KeyCode::Char('t') if self.view == View::Raft => {
                if let Some(r) = self.selected_raft() {
                    if r.leader {
                        self.say(format!("{} already leads", r.node), true);
                    } else {
                        let (node, id) = (r.node.clone(), r.id.clone());
                        self.mode = Mode::Confirm(
                            format!("Transfer leadership to {node}?"),
                            Action::TransferLeader(Some(id)),
                        );
                    }
                }
                Vec::new()
            }
            KeyCode::Char('e') if self.view == View::Kv => {
                if let Some(k) = self.selected_kv().filter(|k| !k.is_dir()) {
                    let key = k.key.clone();
                    let value = match &self.kv_value {
                        Some((kk, Some(v))) if *kk == key => {
                            String::from_utf8_lossy(v).into_owned()
                        }
                        _ => String::new(),
                    };
                    self.mode = Mode::KvEdit(Input::new(key), Input::new(value), 1);
                }
                Vec::new()
            }
            KeyCode::Char('n') if self.view == View::Kv => {
                self.mode = Mode::KvEdit(Input::new(self.kv_prefix.clone()), Input::default(), 0);
                Vec::new()
            }
            KeyCode::Char('x') if self.view == View::Kv => {
                if let Some(k) = self.selected_kv() {
                    let key = k.key.clone();
                    let what = if k.is_dir() { "folder" } else { "key" };
                    self.mode =
                        Mode::Confirm(format!("Delete {what} {key}?"), Action::KvDelete(key));
                }
                Vec::new()
            }
            _ => Vec::new(),
        }
    }

    fn enter(&mut self) -> Vec<Action> {
        match self.view {
            View::Services if self.detail.is_none() => {
                let Some(s) = self.selected_service() else {
                    return Vec::new();
                };
                let name = s.name.clone();
                self.detail = Some((name.clone(), Vec::new()));
                self.detail_cursor = 0;
                vec![Action::WatchInstances(Some(name))]
            }
            View::Kv => match self.selected_kv() {
                Some(k) if k.is_dir() => {
                    self.kv_prefix = k.key.clone();
                    self.kv_items.clear();
                    self.cursor[View::Kv.index()] = 0;
                    self.filters[View::Kv.index()].clear();
                    vec![Action::WatchKv(self.kv_prefix.clone())]
                }
                Some(k) => vec![Action::LoadKvValue(k.key.clone())],
                None => Vec::new(),
            },
            _ => Vec::new(),
        }
    }

    fn back(&mut self) -> Vec<Action> {
        match self.view {
            View::Services if self.detail.is_some() => {
                self.detail = None;
                vec![Action::WatchInstances(None)]
            }
            View::Kv if !self.kv_prefix.is_empty() => {
                let trimmed = self.kv_prefix.trim_end_matches('/');
                let child = self.kv_prefix.clone();
                self.kv_prefix = match trimmed.rfind('/') {
                    Some(i) => trimmed[..=i].to_string(),
                    None => String::new(),
                };
                self.kv_items.clear();
                self.filters[View::Kv.index()].clear();
                // Land on the folder we came from once the listing arrives.
                self.kv_items.push(KvItem { key: child });
                self.cursor[View::Kv.index()] = 0;
                vec![Action::WatchKv(self.kv_prefix.clone())]
            }
            _ => {
                if !self.filters[self.view.index()].is_empty() {
                    self.filters[self.view.index()].clear();
                }
                Vec::new()
            }
        }
    }

    fn ask_deregister(&mut self) -> Vec<Action> {
        if self.view != View::Services {
            return Vec::new();
        }
        let Some((_, inst)) = &self.detail else {
            self.say(
                "open a service with Enter, then pick the instance to deregister",
                true,
            );
            return Vec::new();
        };
        let Some(i) = inst.get(self.detail_cursor) else {
            return Vec::new();
        };
        let local = i.node == self.overview.node;
        let (node, id) = (i.node.clone(), i.id.clone());
        let prompt = if local {
            format!("Deregister {id} from this agent?")
        } else {
            format!(
                "Deregister {id} on {node} from the catalog? (its own agent may register it again)"
            )
        };
        self.mode = Mode::Confirm(prompt, Action::Deregister { node, id, local });
        Vec::new()
    }

    fn on_filter(&mut self, mut input: Input, key: &KeyEvent, ev: &Event) -> Vec<Action> {
        match key.code {
            KeyCode::Esc => {
                self.filters[self.view.index()].clear();
                Vec::new()
            }
            KeyCode::Enter => {
                *self.cursor_mut() = 0;
                self.preview_action().into_iter().collect()
            }
            _ => {
                input.handle_event(ev);
                self.filters[self.view.index()] = input.value().to_string();
                *self.cursor_mut() = 0;
                self.mode = Mode::Filter(input);
                Vec::new()
            }
        }
    }

    fn on_form(&mut self, mut form: Box<RegisterForm>, key: &KeyEvent, ev: &Event) -> Vec<Action> {
        match key.code {
            KeyCode::Esc => {
                self.say("registration cancelled", false);
                Vec::new()
            }
            KeyCode::Tab | KeyCode::Down => {
                form.next();
                self.mode = Mode::Register(form);
                Vec::new()
            }
            KeyCode::BackTab | KeyCode::Up => {
                form.prev();
                self.mode = Mode::Register(form);
                Vec::new()
            }
            KeyCode::Enter => match form.submit() {
                Some(body) => {
                    self.say("registering…", false);
                    vec![Action::Register(body)]
                }
                None => {
                    self.mode = Mode::Register(form);
                    Vec::new()
                }
            },
            _ => {
                form.handle(ev);
                self.mode = Mode::Register(form);
                Vec::new()
            }
        }
    }

    fn on_kv_edit(
        &mut self,
        mut k: Input,
        mut v: Input,
        mut focus: usize,
        key: &KeyEvent,
        ev: &Event,
    ) -> Vec<Action> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                focus = 1 - focus.min(1);
                self.mode = Mode::KvEdit(k, v, focus);
                Vec::new()
            }
            KeyCode::Enter => {
                let keyname = k.value().trim().to_string();
                if keyname.is_empty() || keyname.ends_with('/') {
                    self.say("the key needs a name (not ending in /)", true);
                    self.mode = Mode::KvEdit(k, v, 0);
                    return Vec::new();
                }
                vec![Action::KvPut {
                    key: keyname,
                    value: v.value().to_string(),
                }]
            }
            _ => {
                if focus == 0 {
                    k.handle_event(ev);
                } else {
                    v.handle_event(ev);
                }
                self.mode = Mode::KvEdit(k, v, focus);
                Vec::new()
            }
        }
    }

    // ---- palette ----

    /// Completions for the palette's text: the candidates for the word being typed.
    pub fn completions(&self, text: &str) -> Vec<String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let typing_new_word = text.ends_with(' ') || text.is_empty();
        let (done, partial) = if typing_new_word {
            (&words[..], "")
        } else {
            (&words[..words.len() - 1], words[words.len() - 1])
        };
        let pool: Vec<String> = match done {
            [] => COMMANDS.iter().map(|(c, _)| c.to_string()).collect(),
            ["deregister"] => {
                let mut ids: Vec<String> = self
                    .detail
                    .iter()
                    .flat_map(|(_, inst)| inst.iter().map(|i| i.id.clone()))
                    .collect();
                ids.extend(
                    self.checks
                        .iter()
                        .filter(|c| c.node == self.overview.node && !c.service_id.is_empty())
                        .map(|c| c.service_id.clone()),
                );
                ids.sort();
                ids.dedup();
                ids
            }
            ["force-leave"] => self.members.iter().map(|m| m.name.clone()).collect(),
            ["transfer-leader"] => self
                .raft
                .iter()
                .filter(|r| !r.leader)
                .map(|r| r.id.clone())
                .collect(),
            ["theme"] => BUILTIN.iter().map(|(n, _)| n.to_string()).collect(),
            ["kv"] => vec!["put".into()],
            _ => Vec::new(),
        };
        pool.into_iter()
            .filter(|c| c.starts_with(partial))
            .collect()
    }

    fn on_palette(
        &mut self,
        mut input: Input,
        pick: usize,
        key: &KeyEvent,
        ev: &Event,
    ) -> Vec<Action> {
        match key.code {
            KeyCode::Esc => Vec::new(),
            KeyCode::Tab => {
                let text = input.value().to_string();
                let cands = self.completions(&text);
                if let Some(c) = cands.get(pick % cands.len().max(1)) {
                    let base = if text.ends_with(' ') || text.is_empty() {
                        text.clone()
                    } else {
                        match text.rfind(' ') {
                            Some(i) => text[..=i].to_string(),
                            None => String::new(),
                        }
                    };
                    let completed = format!("{base}{c} ");
                    // A single candidate is taken; several cycle on further Tabs.
                    if cands.len() == 1 {
                        input = Input::new(completed);
                        self.mode = Mode::Palette(input, 0);
                    } else {
                        self.mode = Mode::Palette(input, pick + 1);
                        if let Mode::Palette(i, _) = &mut self.mode {
                            *i = Input::new(text);
                        }
                    }
                } else {
                    self.mode = Mode::Palette(input, 0);
                }
                Vec::new()
            }
            KeyCode::Enter => {
                let text = input.value().to_string();
                self.run_command(&text)
            }
            _ => {
                input.handle_event(ev);
                self.mode = Mode::Palette(input, 0);
                Vec::new()
            }
        }
    }

    /// Run a palette command line (without the `:`).
    pub fn run_command(&mut self, line: &str) -> Vec<Action> {
        let words: Vec<&str> = line.split_whitespace().collect();
        match words.as_slice() {
            [] => Vec::new(),
            ["quit"] | ["q"] => {
                self.quit = true;
                vec![Action::Quit]
            }
            ["register"] => {
                self.mode = Mode::Register(Box::default());
                Vec::new()
            }
            ["register", name] => {
                let mut f = RegisterForm::new();
                f.set(0, name);
                f.focus = 1;
                self.mode = Mode::Register(Box::new(f));
                Vec::new()
            }
            ["deregister", id] => {
                let node = self
                    .detail
                    .iter()
                    .flat_map(|(_, i)| i.iter())
                    .find(|i| i.id == *id)
                    .map(|i| i.node.clone())
                    .unwrap_or_else(|| self.overview.node.clone());
                let local = node == self.overview.node;
                self.mode = Mode::Confirm(
                    format!("Deregister {id}?"),
                    Action::Deregister {
                        node,
                        id: id.to_string(),
                        local,
                    },
                );
                Vec::new()
            }
            ["force-leave", node] => {
                self.mode = Mode::Confirm(
                    format!("Force-leave member {node}?"),
                    Action::ForceLeave(node.to_string()),
                );
                Vec::new()
            }
            ["transfer-leader"] => {
                self.mode = Mode::Confirm(
                    "Transfer leadership to another server?".into(),
                    Action::TransferLeader(None),
                );
                Vec::new()
            }
            ["transfer-leader", id] => {
                let target = self
                    .raft
                    .iter()
                    .find(|r| r.id == *id || r.node == *id)
                    .map(|r| r.id.clone())
                    .unwrap_or_else(|| id.to_string());
                self.mode = Mode::Confirm(
                    format!("Transfer leadership to {id}?"),
                    Action::TransferLeader(Some(target)),
                );
                Vec::new()
            }
            ["kv", "put", key, rest @ ..] => {
                let value = line
                    .split_once(key)
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_else(|| rest.join(" "));
                vec![Action::KvPut {
                    key: key.to_string(),
                    value,
                }]
            }
            ["theme", name] => {
                match Theme::load(name) {
                    Ok(t) => {
                        self.theme = t;
                        self.say(format!("theme {name}"), false);
                    }
                    Err(e) => self.say(e, true),
                }
                Vec::new()
            }
            _ => {
                self.say(
                    format!(
                        "unknown command {line:?}; commands: {}",
                        COMMANDS
                            .iter()
                            .map(|(c, _)| *c)
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                    true,
                );
                Vec::new()
            }
        }
    }

    /// Key hints for the footer of the current view.
    pub fn hints(&self) -> Vec<(&'static str, &'static str)> {
        let mut h: Vec<(&str, &str)> = match (self.view, self.detail.is_some()) {
            (View::Services, false) => vec![("⏎", "instances"), ("r", "register")],
            (View::Services, true) => vec![("d", "deregister"), ("⌫", "back"), ("r", "register")],
            (View::Members, _) => vec![("f", "force-leave")],
            (View::Raft, _) => vec![("t", "transfer leadership")],
            (View::Kv, _) => vec![
                ("⏎", "open"),
                ("⌫", "up"),
                ("e", "edit"),
                ("n", "new"),
                ("x", "delete"),
            ],
            (View::Checks, _) => vec![],
        };
        h.extend([
            ("/", "filter"),
            (":", "command"),
            ("l", "log"),
            ("?", "help"),
            ("q", "quit"),
        ]);
        h
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossterm::event::{KeyEventKind, KeyEventState};

    fn key(code: KeyCode) -> Event {
        Event::Key(KeyEvent {
            code,
            modifiers: KeyModifiers::NONE,
            kind: KeyEventKind::Press,
            state: KeyEventState::NONE,
        })
    }

    fn typed(app: &mut App, text: &str) -> Vec<Action> {
        let mut out = Vec::new();
        for c in text.chars() {
            out.extend(app.on_event(&key(KeyCode::Char(c))));
        }
        out
    }

    fn app() -> App {
        let mut a = App::new("127.0.0.1:8500", Theme::dark());
        a.overview.node = "node1".into();
        a.services = ["api", "db", "web"]
            .iter()
            .map(|n| ServiceRow {
                name: n.to_string(),
                instances: 1,
                ..Default::default()
            })
            .collect();
        a.members = vec![
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
        ];
        a.raft = vec![
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
        ];
        a
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
            vec![Action::WatchChecks(true)]
        );
        assert!(a.on_event(&key(KeyCode::Char('5'))).is_empty());
        assert_eq!(
            a.on_event(&key(KeyCode::Char('1'))),
            vec![Action::WatchChecks(false)]
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
    }

    #[test]
    fn filter_keeps_on_enter_and_clears_on_esc() {
        let mut a = app();
        a.on_event(&key(KeyCode::Char('/')));
        typed(&mut a, "we");
        assert_eq!(a.visible_services(), vec![2]);
        a.on_event(&key(KeyCode::Enter));
        assert!(matches!(a.mode, Mode::Normal));
        assert_eq!(a.filters[0], "we");
        assert_eq!(a.selected(), 0);
        a.on_event(&key(KeyCode::Char('/')));
        a.on_event(&key(KeyCode::Esc));
        assert_eq!(a.filters[0], "");
        assert_eq!(a.visible_services().len(), 3);
    }

    #[test]
    fn enter_opens_instances_and_d_asks_before_deregistering() {
        let mut a = app();
        a.on_event(&key(KeyCode::Char('j')));
        let acts = a.on_event(&key(KeyCode::Enter));
        assert_eq!(acts, vec![Action::WatchInstances(Some("db".into()))]);
        a.apply(Update::Instances(
            "db".into(),
            vec![Instance {
                node: "node1".into(),
                id: "db-1".into(),
                ..Default::default()
            }],
        ));
        assert!(a.on_event(&key(KeyCode::Char('d'))).is_empty());
        assert!(matches!(a.mode, Mode::Confirm(..)));
        let acts = a.on_event(&key(KeyCode::Char('y')));
        assert_eq!(
            acts,
            vec![Action::Deregister {
                node: "node1".into(),
                id: "db-1".into(),
                local: true
            }]
        );
        let acts = a.on_event(&key(KeyCode::Backspace));
        assert_eq!(acts, vec![Action::WatchInstances(None)]);
        assert!(a.detail.is_none());
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
            vec![Action::ForceLeave("client9".into())]
        );
        a.on_event(&key(KeyCode::Char('3')));
        a.on_event(&key(KeyCode::Char('t')));
        assert!(
            a.status
                .as_ref()
                .is_some_and(|(m, e)| *e && m.contains("already leads"))
        );
        a.on_event(&key(KeyCode::Char('j')));
        a.on_event(&key(KeyCode::Char('t')));
        assert_eq!(
            a.on_event(&key(KeyCode::Char('y'))),
            vec![Action::TransferLeader(Some("id-2".into()))]
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
        let acts = a.on_event(&key(KeyCode::Enter));
        assert_eq!(
            acts,
            vec![Action::Register(
                serde_json::json!({"Name":"cache","Port":6379})
            )]
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
        let acts = a.run_command("kv put app/config some value");
        assert_eq!(
            acts,
            vec![Action::KvPut {
                key: "app/config".into(),
                value: "some value".into()
            }]
        );
        a.run_command("transfer-leader node2");
        assert!(
            matches!(&a.mode, Mode::Confirm(_, Action::TransferLeader(Some(id))) if id == "id-2")
        );
        a.mode = Mode::Normal;
        a.run_command("bogus");
        assert!(a.status.as_ref().is_some_and(|(_, e)| *e));
        assert_eq!(a.run_command("quit"), vec![Action::Quit]);
    }

    #[test]
    fn kv_tree_descends_and_goes_up() {
        let mut a = app();
        let acts = a.on_event(&key(KeyCode::Char('4')));
        assert_eq!(acts, vec![Action::WatchKv(String::new())]);
        a.apply(Update::KvKeys(
            String::new(),
            kv_keys(&serde_json::json!(["top", "app/"])),
        ));
        assert_eq!(a.selected_kv().unwrap().key, "app/");
        assert_eq!(
            a.on_event(&key(KeyCode::Enter)),
            vec![Action::WatchKv("app/".into())]
        );
        assert_eq!(a.kv_prefix, "app/");
        let acts = a.apply(Update::KvKeys(
            "app/".into(),
            kv_keys(&serde_json::json!(["app/a"])),
        ));
        assert_eq!(acts, vec![Action::LoadKvValue("app/a".into())]);
        a.apply(Update::KvValue("app/a".into(), Some(b"hello".to_vec())));
        a.on_event(&key(KeyCode::Char('e')));
        match &a.mode {
            Mode::KvEdit(k, v, 1) => {
                assert_eq!(k.value(), "app/a");
                assert_eq!(v.value(), "hello");
            }
            m => panic!("{m:?}"),
        }
        typed(&mut a, "!");
        assert_eq!(
            a.on_event(&key(KeyCode::Enter)),
            vec![Action::KvPut {
                key: "app/a".into(),
                value: "hello!".into()
            }]
        );
        a.on_event(&key(KeyCode::Char('x')));
        assert_eq!(
            a.on_event(&key(KeyCode::Char('y'))),
            vec![Action::KvDelete("app/a".into())]
        );
        assert_eq!(
            a.on_event(&key(KeyCode::Backspace)),
            vec![Action::WatchKv(String::new())]
        );
        assert_eq!(a.kv_prefix, "");
    }

    #[test]
    fn quit_keys() {
        let mut a = app();
        assert_eq!(a.on_event(&key(KeyCode::Char('q'))), vec![Action::Quit]);
        let mut a = app();
        a.on_event(&key(KeyCode::Char('r')));
        let ctrl_c = Event::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL));
        assert_eq!(a.on_event(&ctrl_c), vec![Action::Quit]);
        assert!(a.quit);
    }
}
