//! The overlays, one file each, drawn over the screen for the current [`Mode`].

mod confirm;
mod help;
mod kv_edit;
mod palette;
mod register;

use ratatui::Frame;
use ratatui::layout::Rect;

use crate::tui::app::{App, Mode};

/// The overlay of the current mode, if it has one.
pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    match &app.mode {
        Mode::Register(form) => register::draw(f, app, form, area),
        Mode::Confirm(write) => confirm::draw(f, app, write, area),
        Mode::KvEdit(editor) => kv_edit::draw(f, app, editor, area),
        Mode::Palette(p) => palette::draw(f, app, p.input.value(), area),
        Mode::Help => help::draw(f, app, area),
        Mode::Normal | Mode::Filter(_) => {}
    }
}
