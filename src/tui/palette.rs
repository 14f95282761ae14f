//! The `:` command palette: completion and the command parser. Its commands are the
//! keymap's bindings that have a palette entry, so `:deregister ID` and `d` make the same
//! write and ask the same question.

use crossterm::event::Event;
use tui_input::Input;
use tui_input::backend::crossterm::EventHandler;

use super::app::{App, Mode, PaletteInput};
use super::form::RegisterForm;
use super::keymap::{self, Command};
use super::msg::{Effect, Peer, Write};
use super::theme::{BUILTIN, Theme};

/// The argument hint of palette command `name` (`[NAME]`, `ID`).
pub fn args_of(name: &str) -> &'static str {
    keymap::palette()
        .find(|(_, p)| p.name == name)
        .map_or("", |(_, p)| p.args)
}

impl App {
    /// Completions for the palette's text: the candidates for the word being typed.
    pub fn completions(&self, text: &str) -> Vec<String> {
        let words: Vec<&str> = text.split_whitespace().collect();
        let typing_new_word = text.ends_with(' ') || text.is_empty();
        let (done, partial) = match words.split_last() {
            Some((last, rest)) if !typing_new_word => (rest, *last),
            _ => (&words[..], ""),
        };
        let pool: Vec<String> = match done {
            [] => keymap::palette().map(|(_, p)| p.name.to_string()).collect(),
            ["deregister"] => {
                let mut ids: Vec<String> = self
                    .services
                    .detail
                    .iter()
                    .flat_map(|d| d.instances.iter().map(|i| i.id.clone()))
                    .collect();
                ids.extend(
                    self.checks
                        .list
                        .rows()
                        .iter()
                        .filter(|c| c.node == self.overview.node && !c.service_id.is_empty())
                        .map(|c| c.service_id.clone()),
                );
                ids.sort();
                ids.dedup();
                ids
            }
            ["force-leave"] => self
                .members
                .list
                .rows()
                .iter()
                .map(|m| m.name.clone())
                .collect(),
            ["transfer-leader"] => self
                .raft
                .list
                .rows()
                .iter()
                .filter(|r| !r.leader)
                .map(|r| r.id.clone())
                .collect(),
            ["theme"] => BUILTIN.iter().map(|(n, _)| n.to_string()).collect(),
            ["dc"] => self.datacenters.clone(),
            ["kv"] => vec!["put".into()],
            _ => Vec::new(),
        };
        pool.into_iter()
            .filter(|c| c.starts_with(partial))
            .collect()
    }

    pub(super) fn on_palette(
        &mut self,
        mut p: PaletteInput,
        command: Option<Command>,
        ev: &Event,
    ) -> Vec<Effect> {
        match command {
            Some(Command::Cancel) => return Vec::new(),
            Some(Command::Accept) => {
                let text = p.input.value().to_string();
                return self.run_command(&text);
            }
            Some(Command::NextField) => {
                let text = p.input.value().to_string();
                let cands = self.completions(&text);
                match cands.get(p.pick % cands.len().max(1)) {
                    // A single candidate is taken; several cycle on further Tabs.
                    Some(c) if cands.len() == 1 => {
                        let base = match text.rfind(' ') {
                            _ if text.ends_with(' ') || text.is_empty() => text.clone(),
                            Some(i) => text[..=i].to_string(),
                            None => String::new(),
                        };
                        p = PaletteInput {
                            input: Input::new(format!("{base}{c} ")),
                            pick: 0,
                        };
                    }
                    Some(_) => p.pick += 1,
                    None => p.pick = 0,
                }
            }
            _ => {
                p.input.handle_event(ev);
                p.pick = 0;
            }
        }
        self.mode = Mode::Palette(p);
        Vec::new()
    }

    /// Run a palette command line (without the `:`).
    pub fn run_command(&mut self, line: &str) -> Vec<Effect> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let Some((&name, args)) = words.split_first() else {
            return Vec::new();
        };
        let command = match name {
            "q" => Some(Command::Quit),
            _ => keymap::palette()
                .find(|(_, p)| p.name == name)
                .map(|(b, _)| b.command),
        };
        match (command, args) {
            (Some(Command::Quit), []) => self.run(Command::Quit),
            (Some(Command::Register), []) => self.run(Command::Register),
            (Some(Command::Register), [name]) => {
                let mut f = RegisterForm::new();
                f.set(0, name);
                f.focus = 1;
                self.mode = Mode::Register(Box::new(f));
                Vec::new()
            }
            (Some(c @ Command::Deregister), [id]) => {
                let node = self
                    .services
                    .detail
                    .iter()
                    .flat_map(|d| d.instances.iter())
                    .find(|i| i.id == *id)
                    .map(|i| i.node.clone())
                    .unwrap_or_else(|| self.overview.node.clone());
                let w = Write::Deregister {
                    local: node == self.overview.node,
                    node,
                    id: id.to_string(),
                };
                self.ask(c, Some(w))
            }
            (Some(c @ Command::ForceLeave), [node]) => {
                self.ask(c, Some(Write::ForceLeave(node.to_string())))
            }
            (Some(c @ Command::TransferLeader), []) => {
                self.ask(c, Some(Write::TransferLeader(None)))
            }
            (Some(c @ Command::TransferLeader), [id]) => {
                let peer = self
                    .raft
                    .list
                    .rows()
                    .iter()
                    .find(|r| r.id == *id || r.node == *id)
                    .map(|r| Peer {
                        id: r.id.clone(),
                        node: r.node.clone(),
                    })
                    .unwrap_or_else(|| Peer {
                        id: id.to_string(),
                        node: id.to_string(),
                    });
                self.ask(c, Some(Write::TransferLeader(Some(peer))))
            }
            (Some(c @ Command::KvPut), ["put", key, rest @ ..]) => {
                let value = line
                    .split_once(key)
                    .map(|(_, v)| v.trim().to_string())
                    .unwrap_or_else(|| rest.join(" "));
                self.ask(
                    c,
                    Some(Write::KvPut {
                        key: key.to_string(),
                        value,
                    }),
                )
            }
            (Some(Command::Datacenter), []) => self.show_datacenter(None),
            (Some(Command::Datacenter), [name]) => self.show_datacenter(Some(name.to_string())),
            (Some(Command::Theme), [name]) => {
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
                let names: Vec<&str> = keymap::palette().map(|(_, p)| p.name).collect();
                self.say(
                    format!("unknown command {line:?}; commands: {}", names.join(", ")),
                    true,
                );
                Vec::new()
            }
        }
    }
}
