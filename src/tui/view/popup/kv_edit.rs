//! The KV editor: a key and its value.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::{App, KvEditor, KvField};
use crate::tui::keymap::{Scope, dialog_hint};
use crate::tui::view::widgets::{TextField, centered, dialog_block};

/// Columns of the field labels.
const LABEL_WIDTH: usize = 7;

/// The editor, with the terminal cursor in the focused field.
pub fn draw(f: &mut Frame, app: &App, e: &KvEditor, area: Rect) {
    let r = centered(area, 70, 8);
    f.render_widget(Clear, r);
    let b = dialog_block(app, "KV entry");
    let inner = b.inner(r);
    f.render_widget(b, r);
    let width = inner.width.saturating_sub(LABEL_WIDTH as u16 + 2) as usize;
    let key = TextField {
        label: "Key",
        label_width: LABEL_WIDTH,
        input: &e.key,
        width,
        focused: e.focus == KvField::Key,
    };
    let value = TextField {
        label: "Value",
        label_width: LABEL_WIDTH,
        input: &e.value,
        width,
        focused: e.focus == KvField::Value,
    };
    f.render_widget(
        Paragraph::new(vec![
            key.line(&app.theme),
            Line::from(""),
            value.line(&app.theme),
            Line::from(""),
            Line::from(Span::styled(
                dialog_hint(Scope::KvEdit),
                Style::default().fg(app.theme.dim),
            )),
        ]),
        inner,
    );
    let (field, row) = match e.focus {
        KvField::Key => (key, 0),
        KvField::Value => (value, 2),
    };
    let x = inner.x + field.cursor_column();
    f.set_cursor_position((x.min(inner.right().saturating_sub(1)), inner.y + row));
}
