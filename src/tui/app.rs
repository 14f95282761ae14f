//! The console's state and what keys and updates do to it. Nothing here talks to the
//! agent: keys and [`Update`]s change the state and return [`Effect`]s for the runtime to
//! carry out, which keeps every binding unit-testable. The one exception is `:theme PATH`,
//! which reads the theme file.

use std::collections::VecDeque;

use crossterm::event::{Event, KeyEventKind};
use tui_input::Input;

use super::confirm;
use super::form::RegisterForm;
use super::keymap::{self, Command, Scope};
use super::model::Overview;
use super::msg::{Effect, Feed, Peer, Write};
// Re-exported: callers that drive an App (the frame benchmark) find its messages here.
pub use super::msg::{Update, View};
use super::theme::Theme;
use super::views::checks::ChecksView;
use super::views::kv::KvView;
use super::views::members::MembersView;
use super::views::raft::RaftView;
use super::views::services::ServicesView;
use super::views::sessions::SessionsView;

/// The `:` palette's text and which completion Tab offers next.
#[derive(Clone, Debug, Default)]
pub struct PaletteInput {
    /// What is typed after the `:`.
    pub input: Input,
    /// How many times Tab cycled through several candidates.
    pub pick: usize,
}

/// The field of the KV editor that has the focus.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KvField {
    /// The key.
    Key,
    /// The value.
    Value,
}

/// The KV editor: a key and its value.
#[derive(Clone, Debug)]
pub struct KvEditor {
    /// Key.
    pub key: Input,
    /// Value.
    pub value: Input,
    /// Focused field.
    pub focus: KvField,
}

/// What keys currently go to.
#[derive(Clone, Debug)]
pub enum Mode {
    /// Navigation.
    Normal,
    /// Typing a `/` filter.
    Filter(Input),
    /// The `:` command palette.
    Palette(PaletteInput),
    /// The register form.
    Register(Box<RegisterForm>),
    /// A yes/no question before this write.
    Confirm(Write),
    /// Editing a KV entry.
    KvEdit(KvEditor),
    /// The key help overlay.
    Help,
}

/// The last result or error, for the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// What to say.
    pub text: String,
    /// Shown as an error.
    pub error: bool,
}

/// Failing checks across the cluster, for the header.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Problems {
    /// Checks critical.
    pub critical: usize,
    /// Checks warning.
    pub warning: usize,
}

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
    /// Services view.
    pub services: ServicesView,
    /// Members view.
    pub members: MembersView,
    /// Raft view.
    pub raft: RaftView,
    /// KV view.
    pub kv: KvView,
    /// Checks view (filled while it is shown).
    pub checks: ChecksView,
    /// Sessions view (the held keys filled while it is shown) and recent events.
    pub sessions: SessionsView,
    /// Critical and warning checks in the cluster.
    pub problems: Problems,
    /// Last result or error.
    pub status: Option<Status>,
    /// Embedded agent's log.
    pub logs: VecDeque<String>,
    /// Show the log pane.
    pub show_logs: bool,
    /// Rows that fit in the list on the last frame, for PageUp/PageDown.
    pub page: usize,
    /// Set once the user quits; the runtime then stops.
    pub quit: bool,
    /// Who the console's token is and what it may not do.
    pub rights: super::rights::Rights,
    /// The datacenter shown when it is not the agent's own (`:dc NAME`).
    pub datacenter: Option<String>,
    /// The datacenters the agent knows, for `:dc` completion.
    pub datacenters: Vec<String>,
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
            services: ServicesView::default(),
            members: MembersView::default(),
            raft: RaftView::default(),
            kv: KvView::default(),
            checks: ChecksView::default(),
            sessions: SessionsView::default(),
            problems: Problems::default(),
            status: None,
            logs: VecDeque::new(),
            show_logs: false,
            page: 20,
            quit: false,
            rights: Default::default(),
            datacenter: None,
            datacenters: Vec::new(),
        }
    }

    /// Show datacenter `dc` (`None` or the agent's own: that one): the replicated lists
    /// start over from the other datacenter's servers, through this agent.
    pub fn show_datacenter(&mut self, dc: Option<String>) -> Vec<Effect> {
        let dc = dc.filter(|d| !d.is_empty() && *d != self.overview.datacenter);
        self.datacenter = dc.clone();
        self.services = ServicesView::default();
        self.raft = RaftView::default();
        self.kv = KvView::default();
        self.checks = ChecksView::default();
        self.sessions = SessionsView::default();
        self.problems = Problems::default();
        let mut effects = vec![Effect::Datacenter(dc.clone())];
        // The shown view's own lists follow again, from the new source.
        let view = self.view;
        self.view = View::Services;
        effects.extend(self.switch(view));
        self.say(
            format!(
                "showing datacenter {}",
                dc.as_deref().unwrap_or(&self.overview.datacenter)
            ),
            false,
        );
        effects
    }

    /// The keymap scope of navigation in the current view.
    pub fn scope(&self) -> Scope {
        match self.view {
            View::Services if self.services.detail.is_some() => Scope::Instances,
            View::Services => Scope::Services,
            View::Members => Scope::Members,
            View::Raft => Scope::Raft,
            View::Kv => Scope::Kv,
            View::Checks => Scope::Checks,
            View::Sessions => Scope::Sessions,
        }
    }

    /// The current view's filter.
    pub fn filter(&self) -> &str {
        match self.view {
            View::Services => self.services.list.filter(),
            View::Members => self.members.list.filter(),
            View::Raft => self.raft.list.filter(),
            View::Kv => self.kv.list.filter(),
            View::Checks => self.checks.list.filter(),
            View::Sessions => self.sessions.list.filter(),
        }
    }

    fn set_filter(&mut self, filter: String) {
        match self.view {
            View::Services => self.services.set_filter(filter),
            View::Members => self.members.set_filter(filter),
            View::Raft => self.raft.set_filter(filter),
            View::Kv => self.kv.set_filter(filter),
            View::Checks => self.checks.set_filter(filter),
            View::Sessions => self.sessions.set_filter(filter),
        }
    }

    /// Rows of the list on screen after its filter (the instances while one is open).
    pub fn list_len(&self) -> usize {
        match self.view {
            View::Services => match &self.services.detail {
                Some(d) => d.instances.len(),
                None => self.services.list.shown().len(),
            },
            View::Members => self.members.list.shown().len(),
            View::Raft => self.raft.list.shown().len(),
            View::Kv => self.kv.list.shown().len(),
            View::Checks => self.checks.list.shown().len(),
            View::Sessions => self.sessions.list.shown().len(),
        }
    }

    /// The selected row of the list on screen.
    pub fn selected(&self) -> usize {
        match self.view {
            View::Services => self.services.cursor(),
            View::Members => self.members.list.cursor(),
            View::Raft => self.raft.list.cursor(),
            View::Kv => self.kv.list.cursor(),
            View::Checks => self.checks.list.cursor(),
            View::Sessions => self.sessions.list.cursor(),
        }
    }

    fn move_cursor(&mut self, delta: isize) -> Vec<Effect> {
        match self.view {
            View::Services => self.services.move_by(delta),
            View::Members => self.members.list.move_by(delta),
            View::Raft => self.raft.list.move_by(delta),
            View::Kv => self.kv.list.move_by(delta),
            View::Checks => self.checks.list.move_by(delta),
            View::Sessions => self.sessions.list.move_by(delta),
        }
        self.preview().into_iter().collect()
    }

    fn cursor_to_top(&mut self) {
        match self.view {
            View::Services => self.services.set_cursor(0),
            View::Members => self.members.list.set_cursor(0),
            View::Raft => self.raft.list.set_cursor(0),
            View::Kv => self.kv.list.set_cursor(0),
            View::Checks => self.checks.list.set_cursor(0),
            View::Sessions => self.sessions.list.set_cursor(0),
        }
    }

    pub(super) fn say(&mut self, text: impl Into<String>, error: bool) {
        self.status = Some(Status {
            text: text.into(),
            error,
        });
    }

    // ---- updates ----

    /// Take in what the runtime learnt; what to do next (a KV preview to load).
    pub fn apply(&mut self, u: Update) -> Vec<Effect> {
        let mut effects = Vec::new();
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
            Update::Rights(r) => self.rights = r,
            Update::Denied(why) => {
                let who = self
                    .rights
                    .token
                    .as_deref()
                    .unwrap_or("the console's token");
                let text = format!("{who} may not read {why}");
                if self.status.as_ref().map(|s| &s.text) != Some(&text) {
                    self.say(text, true);
                }
            }
            Update::Services(s) => {
                self.mark_reachable();
                self.services.set_rows(s);
            }
            Update::Checks(c) => {
                self.mark_reachable();
                self.checks.set_rows(c);
            }
            Update::CriticalCount(n) => {
                self.mark_reachable();
                self.problems.critical = n;
            }
            Update::WarningCount(n) => {
                self.mark_reachable();
                self.problems.warning = n;
            }
            Update::Members(m) => {
                self.mark_reachable();
                self.members.set_rows(m);
            }
            Update::Datacenters(d) => self.datacenters = d,
            Update::Raft(r) => {
                self.mark_reachable();
                self.raft.set_rows(r);
            }
            Update::Instances(name, list) => self.services.set_instances(&name, list),
            Update::KvKeys(prefix, items) => {
                let before = self.kv.list.selected().map(|k| k.key.clone());
                self.kv.set_rows(&prefix, items);
                let after = self.kv.list.selected().map(|k| k.key.clone());
                if after != before {
                    effects.extend(self.preview());
                }
            }
            Update::KvValue(p) => self.kv.preview = Some(p),
            Update::Sessions(rows) => {
                self.mark_reachable();
                self.sessions.set_rows(rows);
            }
            Update::Locks(keys) => self.sessions.set_held(keys),
            Update::Events(events) => self.sessions.events = events,
            Update::Done { ok, message } => self.say(message, !ok),
            Update::Log(line) => {
                if self.logs.len() == LOG_LINES {
                    self.logs.pop_front();
                }
                self.logs.push_back(line);
            }
        }
        effects
    }

    /// Any answer from the agent means it is reachable again.
    fn mark_reachable(&mut self) {
        if !self.connected && !self.overview.node.is_empty() {
            self.connected = true;
            self.disconnect_reason.clear();
        }
    }

    /// Load the selected key's value, when the KV view shows a key.
    fn preview(&self) -> Option<Effect> {
        if self.view != View::Kv {
            return None;
        }
        match self.kv.list.selected() {
            Some(k) if !k.is_dir() => Some(Effect::LoadValue(k.key.clone())),
            _ => None,
        }
    }

    // ---- keys ----

    /// Handle one terminal event; the effects to carry out. Only key presses count: paste,
    /// mouse and resize events change nothing (a resize redraws anyway).
    pub fn on_event(&mut self, ev: &Event) -> Vec<Effect> {
        let Event::Key(key) = ev else {
            return Vec::new();
        };
        if key.kind != KeyEventKind::Press {
            return Vec::new();
        }
        let navigation = [self.scope(), Scope::Global];
        let scopes: &[Scope] = match &self.mode {
            Mode::Normal => &navigation,
            Mode::Help => &[],
            Mode::Filter(_) => &[Scope::Filter],
            Mode::Palette(_) => &[Scope::Palette],
            Mode::Register(_) => &[Scope::Register],
            Mode::Confirm(_) => &[Scope::Confirm],
            Mode::KvEdit(_) => &[Scope::KvEdit],
        };
        let command = keymap::lookup(scopes, key).map(|b| b.command);
        if command == Some(Command::Quit) {
            return self.run(Command::Quit);
        }
        let mode = std::mem::replace(&mut self.mode, Mode::Normal);
        match mode {
            Mode::Normal => command.map(|c| self.run(c)).unwrap_or_default(),
            // Any key closes the help.
            Mode::Help => Vec::new(),
            Mode::Filter(input) => self.on_filter(input, command, ev),
            Mode::Palette(p) => self.on_palette(p, command, ev),
            Mode::Register(form) => self.on_form(form, command, ev),
            Mode::Confirm(write) => self.on_confirm(write, command),
            Mode::KvEdit(editor) => self.on_kv_edit(editor, command, ev),
        }
    }

    /// Run a navigation command (a key, or a palette command without arguments).
    pub fn run(&mut self, command: Command) -> Vec<Effect> {
        if let Some(right) = command.needs()
            && !self.rights.allows(right)
        {
            let who = self
                .rights
                .token
                .as_deref()
                .unwrap_or("the console's token");
            self.say(
                format!("{who} may not do this: it lacks {}", right.as_str()),
                true,
            );
            return Vec::new();
        }
        let page = self.page.max(1) as isize;
        match command {
            Command::Show(v) => self.switch(v),
            Command::NextView => self.switch(self.view.next()),
            Command::PrevView => self.switch(self.view.prev()),
            Command::Down => self.move_cursor(1),
            Command::Up => self.move_cursor(-1),
            Command::PageDown => self.move_cursor(page),
            Command::PageUp => self.move_cursor(-page),
            Command::First => self.move_cursor(isize::MIN / 2),
            Command::Last => self.move_cursor(isize::MAX / 2),
            Command::Filter => {
                self.mode = Mode::Filter(Input::new(self.filter().to_string()));
                Vec::new()
            }
            Command::Palette => {
                self.mode = Mode::Palette(PaletteInput::default());
                Vec::new()
            }
            Command::Help => {
                self.mode = Mode::Help;
                Vec::new()
            }
            Command::ToggleLog => {
                self.show_logs = !self.show_logs;
                Vec::new()
            }
            Command::Register => {
                self.mode = Mode::Register(Box::default());
                Vec::new()
            }
            Command::Quit => {
                self.quit = true;
                Vec::new()
            }
            Command::OpenService => match self.services.open() {
                Some(name) => vec![Effect::Follow(Feed::Instances(Some(name)))],
                None => Vec::new(),
            },
            Command::OpenKv => self.open_kv(),
            Command::Back => self.back(),
            Command::Deregister => {
                let w = self.selected_deregistration();
                self.ask(command, w)
            }
            Command::ForceLeave => {
                let w = self
                    .members
                    .list
                    .selected()
                    .map(|m| Write::ForceLeave(m.name.clone()));
                self.ask(command, w)
            }
            Command::TransferLeader => {
                let w = match self.raft.list.selected() {
                    Some(r) if r.leader => {
                        self.say(format!("{} already leads", r.node), true);
                        None
                    }
                    Some(r) => Some(Write::TransferLeader(Some(Peer {
                        id: r.id.clone(),
                        node: r.node.clone(),
                    }))),
                    None => None,
                };
                self.ask(command, w)
            }
            Command::KvEdit => {
                if let Some(k) = self.kv.list.selected().filter(|k| !k.is_dir()) {
                    let value = self
                        .kv
                        .selected_value()
                        .map(|v| String::from_utf8_lossy(v).into_owned())
                        .unwrap_or_default();
                    self.mode = Mode::KvEdit(KvEditor {
                        key: Input::new(k.key.clone()),
                        value: Input::new(value),
                        focus: KvField::Value,
                    });
                }
                Vec::new()
            }
            Command::KvNew => {
                self.mode = Mode::KvEdit(KvEditor {
                    key: Input::new(self.kv.prefix.clone()),
                    value: Input::default(),
                    focus: KvField::Key,
                });
                Vec::new()
            }
            Command::KvDelete => {
                let w = self
                    .kv
                    .list
                    .selected()
                    .map(|k| Write::KvDelete(k.key.clone()));
                self.ask(command, w)
            }
            Command::DestroySession => {
                let w = self
                    .sessions
                    .list
                    .selected()
                    .map(|s| Write::SessionDestroy {
                        id: s.id.clone(),
                        name: s.name.clone(),
                        keys: self
                            .sessions
                            .held_known
                            .then(|| self.sessions.keys_of(&s.id).len()),
                    });
                self.ask(command, w)
            }
            // Palette commands (they need arguments) and dialog keys do nothing here.
            Command::KvPut
            | Command::Theme
            | Command::Datacenter
            | Command::Cancel
            | Command::Accept
            | Command::NextField
            | Command::PrevField
            | Command::Yes
            | Command::No => Vec::new(),
        }
    }

    /// Ask before `write` when the keymap marks `command` destructive, else send it.
    pub(super) fn ask(&mut self, command: Command, write: Option<Write>) -> Vec<Effect> {
        let Some(write) = write else {
            return Vec::new();
        };
        if keymap::KEYMAP
            .iter()
            .any(|b| b.command == command && b.confirm)
        {
            self.mode = Mode::Confirm(write);
            Vec::new()
        } else {
            vec![Effect::Write(write)]
        }
    }

    fn switch(&mut self, v: View) -> Vec<Effect> {
        let was = self.view;
        self.view = v;
        let mut effects = Vec::new();
        if was == View::Checks && v != View::Checks {
            effects.push(Effect::Follow(Feed::Checks(false)));
        }
        if was == View::Sessions && v != View::Sessions {
            effects.push(Effect::Follow(Feed::Locks(false)));
        }
        match v {
            View::Kv => {
                effects.push(Effect::Follow(Feed::Kv(self.kv.prefix.clone())));
                effects.extend(self.preview());
            }
            View::Checks if was != View::Checks => effects.push(Effect::Follow(Feed::Checks(true))),
            View::Sessions if was != View::Sessions => {
                effects.push(Effect::Follow(Feed::Locks(true)))
            }
            _ => {}
        }
        effects
    }

    fn open_kv(&mut self) -> Vec<Effect> {
        match self.kv.list.selected() {
            Some(k) if k.is_dir() => {
                let prefix = k.key.clone();
                self.kv.open(prefix.clone());
                vec![Effect::Follow(Feed::Kv(prefix))]
            }
            Some(k) => vec![Effect::LoadValue(k.key.clone())],
            None => Vec::new(),
        }
    }

    fn back(&mut self) -> Vec<Effect> {
        match self.view {
            View::Services if self.services.detail.is_some() => {
                self.services.detail = None;
                vec![Effect::Follow(Feed::Instances(None))]
            }
            View::Kv if !self.kv.prefix.is_empty() => {
                self.kv.up();
                vec![Effect::Follow(Feed::Kv(self.kv.prefix.clone()))]
            }
            _ => {
                self.set_filter(String::new());
                Vec::new()
            }
        }
    }

    /// The deregistration of the selected instance (the service list only explains how).
    fn selected_deregistration(&mut self) -> Option<Write> {
        let Some(detail) = &self.services.detail else {
            self.say(
                "open a service with Enter, then pick the instance to deregister",
                true,
            );
            return None;
        };
        let i = detail.selected()?;
        Some(Write::Deregister {
            local: i.node == self.overview.node,
            node: i.node.clone(),
            id: i.id.clone(),
        })
    }

    /// The prompt of the pending confirmation, if one is open.
    pub fn prompt(&self) -> Option<String> {
        match &self.mode {
            Mode::Confirm(w) => Some(confirm::prompt(w)),
            _ => None,
        }
    }
}

mod dialogs;
#[cfg(test)]
mod tests;
