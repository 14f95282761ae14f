//! Keys inside the dialogs: the filter being typed, the register form, the KV editor and
//! the confirmation. A key the dialog's keymap scope does not bind goes to its text field.

use crossterm::event::Event;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::{App, KvEditor, KvField, Mode};
use crate::tui::form::RegisterForm;
use crate::tui::keymap::Command;
use crate::tui::msg::{Effect, Write};

impl App {
    pub(super) fn on_confirm(&mut self, write: Write, command: Option<Command>) -> Vec<Effect> {
        match command {
            Some(Command::Yes) => {
                self.say("working…", false);
                vec![Effect::Write(write)]
            }
            Some(Command::No) => {
                self.say("cancelled", false);
                Vec::new()
            }
            _ => {
                self.mode = Mode::Confirm(write);
                Vec::new()
            }
        }
    }

    pub(super) fn on_filter(
        &mut self,
        mut input: Input,
        command: Option<Command>,
        ev: &Event,
    ) -> Vec<Effect> {
        match command {
            Some(Command::Cancel) => {
                self.set_filter(String::new());
                Vec::new()
            }
            Some(Command::Accept) => {
                self.cursor_to_top();
                self.preview().into_iter().collect()
            }
            _ => {
                input.handle_event(ev);
                self.set_filter(input.value().to_string());
                self.cursor_to_top();
                self.mode = Mode::Filter(input);
                Vec::new()
            }
        }
    }

    pub(super) fn on_form(
        &mut self,
        mut form: Box<RegisterForm>,
        command: Option<Command>,
        ev: &Event,
    ) -> Vec<Effect> {
        match command {
            Some(Command::Cancel) => {
                self.say("registration cancelled", false);
                return Vec::new();
            }
            Some(Command::NextField) => form.next(),
            Some(Command::PrevField) => form.prev(),
            Some(Command::Accept) => {
                if let Some(body) = form.submit() {
                    self.say("registering…", false);
                    return vec![Effect::Write(Write::Register(body))];
                }
            }
            _ => form.handle(ev),
        }
        self.mode = Mode::Register(form);
        Vec::new()
    }

    pub(super) fn on_kv_edit(
        &mut self,
        mut e: KvEditor,
        command: Option<Command>,
        ev: &Event,
    ) -> Vec<Effect> {
        match command {
            Some(Command::Cancel) => return Vec::new(),
            Some(Command::NextField) => {
                e.focus = match e.focus {
                    KvField::Key => KvField::Value,
                    KvField::Value => KvField::Key,
                }
            }
            Some(Command::Accept) => {
                let key = e.key.value().trim().to_string();
                if !key.is_empty() && !key.ends_with('/') {
                    return vec![Effect::Write(Write::KvPut {
                        key,
                        value: e.value.value().to_string(),
                    })];
                }
                self.say("the key needs a name (not ending in /)", true);
                e.focus = KvField::Key;
            }
            _ => {
                match e.focus {
                    KvField::Key => e.key.handle_event(ev),
                    KvField::Value => e.value.handle_event(ev),
                };
            }
        }
        self.mode = Mode::KvEdit(e);
        Vec::new()
    }
}
