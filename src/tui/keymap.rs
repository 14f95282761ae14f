//! Every key binding of the console, as one table. Key handling looks keys up here, and
//! the footer hints, the help overlay, the dialogs' hint lines and the palette's command
//! list are all filters over the same table, so they cannot disagree with what a key does.
//!
//! To add a binding: add a [`Command`] (if it is new), a row to [`KEYMAP`], and the
//! command's arm in `App::run`.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::msg::View;

/// One key: a code, plus modifiers that must be held. A key without modifiers matches
/// whatever is held, as the console always has (Shift-G arrives as `G` with Shift).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Key {
    /// The key.
    pub code: KeyCode,
    /// Modifiers it needs (empty: any).
    pub mods: KeyModifiers,
}

const fn key(code: KeyCode) -> Key {
    Key {
        code,
        mods: KeyModifiers::NONE,
    }
}

const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}

impl Key {
    /// Whether a pressed key is this one.
    pub fn matches(&self, ev: &KeyEvent) -> bool {
        ev.code == self.code && ev.modifiers.contains(self.mods)
    }

    /// How the footer writes it.
    pub fn symbol(&self) -> String {
        match self.code {
            KeyCode::Enter => "⏎".into(),
            KeyCode::Backspace => "⌫".into(),
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        }
    }
}

/// Where a binding applies. In navigation the current view's scope is tried before
/// [`Scope::Global`]; each dialog has only its own; [`Scope::Anywhere`] is tried first in
/// every mode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// Every mode, dialogs and text fields included.
    Anywhere,
    /// Navigation, in every view.
    Global,
    /// The service list.
    Services,
    /// The instances of one service.
    Instances,
    /// The members list.
    Members,
    /// The Raft peers.
    Raft,
    /// The KV tree.
    Kv,
    /// The checks list.
    Checks,
    /// The sessions list.
    Sessions,
    /// Typing a `/` filter.
    Filter,
    /// The `:` palette.
    Palette,
    /// The register form.
    Register,
    /// The KV editor.
    KvEdit,
    /// A yes/no question.
    Confirm,
}

impl Scope {
    /// Scopes of navigation, whose bindings the help overlay lists.
    pub fn navigates(self) -> bool {
        matches!(
            self,
            Scope::Anywhere
                | Scope::Global
                | Scope::Services
                | Scope::Instances
                | Scope::Members
                | Scope::Raft
                | Scope::Kv
                | Scope::Checks
                | Scope::Sessions
        )
    }
}

/// What a binding does; `App::run` carries it out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Command {
    /// Show a view.
    Show(View),
    /// The next tab.
    NextView,
    /// The previous tab.
    PrevView,
    /// Cursor up one row.
    Up,
    /// Cursor down one row.
    Down,
    /// Cursor up one page.
    PageUp,
    /// Cursor down one page.
    PageDown,
    /// First row.
    First,
    /// Last row.
    Last,
    /// Open the selected service's instances.
    OpenService,
    /// Open the selected KV folder, or load the selected key.
    OpenKv,
    /// Close the instances, go up a KV folder, or clear the filter.
    Back,
    /// Start typing a filter.
    Filter,
    /// Open the command palette.
    Palette,
    /// Open the register form.
    Register,
    /// Deregister the selected instance.
    Deregister,
    /// Force the selected member to leave.
    ForceLeave,
    /// Hand leadership to the selected peer.
    TransferLeader,
    /// Edit the selected key.
    KvEdit,
    /// Create a key in this folder.
    KvNew,
    /// Delete the selected key or folder.
    KvDelete,
    /// Destroy the selected session (its locks are released).
    DestroySession,
    /// Write a key (palette only).
    KvPut,
    /// Switch theme (palette only).
    Theme,
    /// Show another datacenter (palette only).
    Datacenter,
    /// Show or hide the log pane.
    ToggleLog,
    /// The key help.
    Help,
    /// Leave the console.
    Quit,
    /// A dialog's cancel.
    Cancel,
    /// A dialog's submit (Enter).
    Accept,
    /// Next field of a form (or complete, in the palette).
    NextField,
    /// Previous field of a form.
    PrevField,
    /// Yes, in a confirmation.
    Yes,
    /// No, in a confirmation.
    No,
}

/// Whether a binding shows in the footer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Footer {
    /// Never.
    No,
    /// Whenever its scope is active, with this label.
    Yes(&'static str),
    /// Only in these scopes (for a global binding that matters in a few views).
    In(&'static [Scope], &'static str),
}

/// Help sections, in the order the help lists them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Group {
    /// Moving around.
    Navigation,
    /// Changing the cluster.
    Actions,
    /// The console itself.
    General,
}

/// A palette command: its name and the arguments it takes, as the palette shows them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PaletteEntry {
    /// The word typed after `:`.
    pub name: &'static str,
    /// Argument hint (`[NAME]`, `ID`).
    pub args: &'static str,
}

/// One row of the keymap.
#[derive(Clone, Copy, Debug)]
pub struct Binding {
    /// Keys that run it (empty: palette only).
    pub keys: &'static [Key],
    /// How the help writes the keys; bindings of one help line share it.
    pub keys_label: &'static str,
    /// Where it applies.
    pub scope: Scope,
    /// What it runs.
    pub command: Command,
    /// What it does, as help and dialog hint lines say it; bindings with the same label
    /// share one help line.
    pub label: &'static str,
    /// Help section.
    pub group: Group,
    /// Footer hint.
    pub footer: Footer,
    /// Destructive: the write it makes is confirmed first.
    pub confirm: bool,
    /// Its palette command, if it has one.
    pub palette: Option<PaletteEntry>,
}

const NONE: &[Key] = &[];

const fn bind(
    keys: &'static [Key],
    keys_label: &'static str,
    scope: Scope,
    command: Command,
    label: &'static str,
    group: Group,
) -> Binding {
    Binding {
        keys,
        keys_label,
        scope,
        command,
        label,
        group,
        footer: Footer::No,
        confirm: false,
        palette: None,
    }
}

impl Binding {
    const fn footer(mut self, label: &'static str) -> Binding {
        self.footer = Footer::Yes(label);
        self
    }

    const fn footer_in(mut self, scopes: &'static [Scope], label: &'static str) -> Binding {
        self.footer = Footer::In(scopes, label);
        self
    }

    const fn confirmed(mut self) -> Binding {
        self.confirm = true;
        self
    }

    const fn palette(mut self, name: &'static str, args: &'static str) -> Binding {
        self.palette = Some(PaletteEntry { name, args });
        self
    }

    /// Its hint in `scope`'s footer, if it has one there.
    fn hint_in(&self, scope: Scope) -> Option<&'static str> {
        match self.footer {
            Footer::No => None,
            Footer::Yes(label) => Some(label),
            Footer::In(scopes, label) => scopes.contains(&scope).then_some(label),
        }
    }
}

use Command as C;
use Group::{Actions, General, Navigation};
use Scope as S;

/// The keymap, one binding a line. Order matters: it is the order of the footer (view bindings first, then
/// global ones), of the help within each group, and of the palette's commands.
#[rustfmt::skip]
pub const KEYMAP: &[Binding] = &[
    // Navigation.
    bind(&[ch('1')], "1-6", S::Global, C::Show(View::Services), "show a view (the numbers on the tabs)", Navigation),
    bind(&[ch('2')], "1-6", S::Global, C::Show(View::Members), "show a view (the numbers on the tabs)", Navigation),
    bind(&[ch('3')], "1-6", S::Global, C::Show(View::Raft), "show a view (the numbers on the tabs)", Navigation),
    bind(&[ch('4')], "1-6", S::Global, C::Show(View::Kv), "show a view (the numbers on the tabs)", Navigation),
    bind(&[ch('5')], "1-6", S::Global, C::Show(View::Checks), "show a view (the numbers on the tabs)", Navigation),
    bind(&[ch('6')], "1-6", S::Global, C::Show(View::Sessions), "show a view (the numbers on the tabs)", Navigation),
    bind(&[key(KeyCode::Tab)], "Tab Shift-Tab", S::Global, C::NextView, "next, previous view", Navigation),
    bind(&[key(KeyCode::BackTab)], "Tab Shift-Tab", S::Global, C::PrevView, "next, previous view", Navigation),
    bind(&[key(KeyCode::Up), ch('k')], "↑↓ j k", S::Global, C::Up, "move", Navigation),
    bind(&[key(KeyCode::Down), ch('j')], "↑↓ j k", S::Global, C::Down, "move", Navigation),
    bind(&[key(KeyCode::Home), ch('g')], "g G Home End", S::Global, C::First, "first, last", Navigation),
    bind(&[key(KeyCode::End), ch('G')], "g G Home End", S::Global, C::Last, "first, last", Navigation),
    bind(&[key(KeyCode::PageUp)], "PgUp PgDn", S::Global, C::PageUp, "page", Navigation),
    bind(&[key(KeyCode::PageDown)], "PgUp PgDn", S::Global, C::PageDown, "page", Navigation),
    bind(&[key(KeyCode::Enter)], "Enter", S::Services, C::OpenService, "open (service instances, KV folder)", Navigation).footer("instances"),
    bind(&[key(KeyCode::Enter)], "Enter", S::Kv, C::OpenKv, "open (service instances, KV folder)", Navigation).footer("open"),
    bind(BACK, "Backspace Esc ← h", S::Global, C::Back, "back / up", Navigation).footer_in(&[S::Instances], "back"),
    bind(BACK, "Backspace Esc ← h", S::Kv, C::Back, "back / up", Navigation).footer("up"),
    bind(&[ch('r')], "r", S::Global, C::Register, "register a service", Actions)
        .footer_in(&[S::Services, S::Instances], "register")
        .palette("register", "[NAME]"),
    bind(&[ch('/')], "/", S::Global, C::Filter, "filter (Enter keeps, Esc clears)", Navigation).footer("filter"),
    bind(&[ch(':')], ":", S::Global, C::Palette, "command palette (Tab completes)", Navigation).footer("command"),
    // Actions.
    bind(&[ch('d')], "d", S::Services, C::Deregister, "deregister the selected instance", Actions).confirmed(),
    bind(&[ch('d')], "d", S::Instances, C::Deregister, "deregister the selected instance", Actions)
        .footer("deregister")
        .confirmed()
        .palette("deregister", "ID"),
    bind(&[ch('f')], "f", S::Members, C::ForceLeave, "force-leave the selected member", Actions)
        .footer("force-leave")
        .confirmed()
        .palette("force-leave", "NODE"),
    bind(&[ch('t')], "t", S::Raft, C::TransferLeader, "transfer leadership to the selected peer", Actions)
        .footer("transfer leadership")
        .confirmed()
        .palette("transfer-leader", "[ID]"),
    bind(&[ch('e')], "e n x", S::Kv, C::KvEdit, "KV: edit, new, delete", Actions).footer("edit"),
    bind(&[ch('n')], "e n x", S::Kv, C::KvNew, "KV: edit, new, delete", Actions).footer("new"),
    bind(&[ch('x')], "e n x", S::Kv, C::KvDelete, "KV: edit, new, delete", Actions)
        .footer("delete")
        .confirmed(),
    bind(&[ch('x')], "x", S::Sessions, C::DestroySession, "destroy the selected session", Actions)
        .footer("destroy")
        .confirmed(),
    bind(NONE, "", S::Global, C::KvPut, "write a key", Actions).palette("kv", "put KEY VALUE"),
    // The console.
    bind(NONE, "", S::Global, C::Theme, "switch theme", General).palette("theme", "NAME"),
    bind(NONE, "", S::Global, C::Datacenter, "show another datacenter", General)
        .palette("dc", "[NAME]"),
    bind(&[ch('l')], "l", S::Global, C::ToggleLog, "show or hide the log", General).footer("log"),
    bind(&[ch('?')], "?", S::Global, C::Help, "this help", General).footer("help"),
    bind(&[ch('q')], "q Ctrl-C", S::Global, C::Quit, "quit", General)
        .footer("quit")
        .palette("quit", ""),
    bind(&[CTRL_C], "q Ctrl-C", S::Anywhere, C::Quit, "quit", General),
    // Dialogs: keys not listed here go to the focused text field.
    bind(&[key(KeyCode::Esc)], "Esc", S::Filter, C::Cancel, "clears", Navigation),
    bind(&[key(KeyCode::Enter)], "Enter", S::Filter, C::Accept, "keeps", Navigation),
    bind(&[key(KeyCode::Esc)], "Esc", S::Palette, C::Cancel, "cancel", Navigation),
    bind(&[key(KeyCode::Tab)], "Tab", S::Palette, C::NextField, "complete", Navigation),
    bind(&[key(KeyCode::Enter)], "Enter", S::Palette, C::Accept, "run", Navigation),
    bind(&[key(KeyCode::Tab), key(KeyCode::Down)], "Tab/Shift-Tab", S::Register, C::NextField, "move", Actions),
    bind(&[key(KeyCode::BackTab), key(KeyCode::Up)], "Tab/Shift-Tab", S::Register, C::PrevField, "move", Actions),
    bind(&[key(KeyCode::Enter)], "Enter", S::Register, C::Accept, "register", Actions),
    bind(&[key(KeyCode::Esc)], "Esc", S::Register, C::Cancel, "cancel", Actions),
    bind(
        &[key(KeyCode::Tab), key(KeyCode::BackTab), key(KeyCode::Up), key(KeyCode::Down)],
        "Tab",
        S::KvEdit,
        C::NextField,
        "switch",
        Actions,
    ),
    bind(&[key(KeyCode::Enter)], "Enter", S::KvEdit, C::Accept, "save", Actions),
    bind(&[key(KeyCode::Esc)], "Esc", S::KvEdit, C::Cancel, "cancel", Actions),
    bind(&[ch('y'), ch('Y')], "y", S::Confirm, C::Yes, "yes", Actions),
    bind(&[ch('n'), ch('N'), key(KeyCode::Esc)], "n", S::Confirm, C::No, "no", Actions),
];

const BACK: &[Key] = &[
    key(KeyCode::Backspace),
    key(KeyCode::Esc),
    key(KeyCode::Left),
    ch('h'),
];

const CTRL_C: Key = Key {
    code: KeyCode::Char('c'),
    mods: KeyModifiers::CONTROL,
};

/// The binding a key runs in these scopes (tried in order, after [`Scope::Anywhere`]).
pub fn lookup(scopes: &[Scope], ev: &KeyEvent) -> Option<&'static Binding> {
    std::iter::once(&Scope::Anywhere)
        .chain(scopes)
        .find_map(|s| {
            KEYMAP
                .iter()
                .find(|b| b.scope == *s && b.keys.iter().any(|k| k.matches(ev)))
        })
}

/// Footer hints (key symbol, label) for navigation in `scope`: its own bindings, then the
/// global ones.
pub fn hints(scope: Scope) -> Vec<(String, &'static str)> {
    hint_commands(scope)
        .into_iter()
        .map(|(k, label, _)| (k, label))
        .collect()
}

/// [`hints`] with the command each runs (the footer greys out what the token may not do).
pub fn hint_commands(scope: Scope) -> Vec<(String, &'static str, Command)> {
    [scope, Scope::Global]
        .iter()
        .flat_map(|s| KEYMAP.iter().filter(move |b| b.scope == *s))
        .filter_map(|b| Some((b.keys.first()?.symbol(), b.hint_in(scope)?, b.command)))
        .collect()
}

impl Command {
    /// The ACL right the command's write needs (`None`: it reads or changes the console).
    pub fn needs(self) -> Option<super::rights::Right> {
        use super::rights::Right;
        match self {
            Command::Register | Command::Deregister => Some(Right::ServiceWrite),
            Command::ForceLeave | Command::TransferLeader => Some(Right::OperatorWrite),
            Command::KvEdit | Command::KvNew | Command::KvDelete | Command::KvPut => {
                Some(Right::KeyWrite)
            }
            Command::DestroySession => Some(Right::SessionWrite),
            _ => None,
        }
    }
}

/// One line of a key listing: the keys as written and what they do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HelpLine {
    /// Keys, as the bindings' `keys_label`s joined.
    pub keys: String,
    /// What they do.
    pub label: &'static str,
}

/// Bindings with keys in `scopes`, one line per label (sections in [`Group`] order when
/// `grouped`), keys joined in table order.
fn lines(pick: impl Fn(&Binding) -> bool, grouped: bool) -> Vec<HelpLine> {
    let mut rows: Vec<&Binding> = KEYMAP
        .iter()
        .filter(|b| !b.keys.is_empty() && pick(b))
        .collect();
    if grouped {
        rows.sort_by_key(|b| b.group);
    }
    let mut out: Vec<HelpLine> = Vec::new();
    for b in rows {
        match out.iter_mut().find(|l| l.label == b.label) {
            Some(l) => {
                if !l.keys.contains(b.keys_label) {
                    l.keys = format!("{} {}", l.keys, b.keys_label);
                }
            }
            None => out.push(HelpLine {
                keys: b.keys_label.to_string(),
                label: b.label,
            }),
        }
    }
    out
}

/// The help overlay's key lines: every navigation binding, by section.
pub fn help() -> Vec<HelpLine> {
    lines(|b| b.scope.navigates(), true)
}

/// A dialog's hint line (`Tab/Shift-Tab move · Enter register · Esc cancel`).
pub fn dialog_hint(scope: Scope) -> String {
    lines(|b| b.scope == scope, false)
        .iter()
        .map(|l| format!("{} {}", l.keys, l.label))
        .collect::<Vec<_>>()
        .join(" · ")
}

/// The palette's commands, in table order.
pub fn palette() -> impl Iterator<Item = (&'static Binding, PaletteEntry)> {
    KEYMAP.iter().filter_map(|b| b.palette.map(|p| (b, p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL_SCOPES: [Scope; 14] = [
        Scope::Anywhere,
        Scope::Global,
        Scope::Services,
        Scope::Instances,
        Scope::Members,
        Scope::Raft,
        Scope::Kv,
        Scope::Checks,
        Scope::Sessions,
        Scope::Filter,
        Scope::Palette,
        Scope::Register,
        Scope::KvEdit,
        Scope::Confirm,
    ];

    #[test]
    fn no_key_is_bound_twice_in_one_scope() {
        for scope in ALL_SCOPES {
            let keys: Vec<(Key, Command)> = KEYMAP
                .iter()
                .filter(|b| b.scope == scope)
                .flat_map(|b| b.keys.iter().map(|k| (*k, b.command)))
                .collect();
            for (i, (k, c)) in keys.iter().enumerate() {
                assert!(
                    !keys[i + 1..].iter().any(|(k2, _)| k2 == k),
                    "{k:?} bound twice in {scope:?} ({c:?})"
                );
            }
        }
    }

    #[test]
    fn view_bindings_shadow_global_keys_only_with_the_same_command() {
        for b in KEYMAP
            .iter()
            .filter(|b| b.scope.navigates() && !matches!(b.scope, Scope::Global | Scope::Anywhere))
        {
            for k in b.keys {
                if let Some(g) = KEYMAP
                    .iter()
                    .find(|g| g.scope == Scope::Global && g.keys.contains(k))
                {
                    assert_eq!(g.command, b.command, "{k:?} in {:?}", b.scope);
                }
            }
        }
        // Keys tried in every mode must not hide a binding of any scope.
        for a in KEYMAP.iter().filter(|b| b.scope == Scope::Anywhere) {
            for k in a.keys {
                assert!(
                    !KEYMAP
                        .iter()
                        .any(|b| b.scope != Scope::Anywhere && b.keys.contains(k)),
                    "{k:?}"
                );
            }
        }
    }

    #[test]
    fn footer_hints_and_palette_commands_come_from_the_table() {
        for scope in ALL_SCOPES {
            for (sym, label) in hints(scope) {
                assert!(
                    KEYMAP
                        .iter()
                        .any(|b| b.keys.first().map(Key::symbol) == Some(sym.clone())
                            && b.hint_in(scope) == Some(label)),
                    "{sym} {label} in {scope:?}"
                );
            }
        }
        let names: Vec<&str> = palette().map(|(_, p)| p.name).collect();
        assert_eq!(
            names,
            [
                "register",
                "deregister",
                "force-leave",
                "transfer-leader",
                "kv",
                "theme",
                "dc",
                "quit"
            ]
        );
        // Every binding with keys is in the help or in its dialog's hint line.
        let help = help();
        for b in KEYMAP.iter().filter(|b| !b.keys.is_empty()) {
            let listed = if b.scope.navigates() {
                help.iter()
                    .any(|l| l.label == b.label && l.keys.contains(b.keys_label))
            } else {
                dialog_hint(b.scope).contains(b.label)
            };
            assert!(listed, "{:?}", b.command);
        }
    }

    #[test]
    fn footers_read_as_before() {
        let h = |s| {
            hints(s)
                .into_iter()
                .map(|(k, l)| format!("{k} {l}"))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let tail = "/ filter, : command, l log, ? help, q quit";
        assert_eq!(
            h(Scope::Services),
            format!("⏎ instances, r register, {tail}")
        );
        assert_eq!(
            h(Scope::Instances),
            format!("d deregister, ⌫ back, r register, {tail}")
        );
        assert_eq!(
            h(Scope::Kv),
            format!("⏎ open, ⌫ up, e edit, n new, x delete, {tail}")
        );
        assert_eq!(h(Scope::Members), format!("f force-leave, {tail}"));
        assert_eq!(h(Scope::Raft), format!("t transfer leadership, {tail}"));
        assert_eq!(h(Scope::Checks), tail);
        assert_eq!(h(Scope::Sessions), format!("x destroy, {tail}"));
        assert_eq!(
            dialog_hint(Scope::Register),
            "Tab/Shift-Tab move · Enter register · Esc cancel"
        );
        assert_eq!(
            dialog_hint(Scope::KvEdit),
            "Tab switch · Enter save · Esc cancel"
        );
    }
}
