//! The register form: one text field per definition field, its error or hint below.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::App;
use crate::tui::form::{HINTS, LABELS, RegisterForm};
use crate::tui::keymap::{Scope, dialog_hint};
use crate::tui::view::widgets::{TextField, centered, dialog_block};

/// Columns of the field labels.
const LABEL_WIDTH: usize = 10;

/// The form, with the terminal cursor in the focused field.
pub fn draw(f: &mut Frame, app: &App, form: &RegisterForm, area: Rect) {
    let r = centered(area, 76, LABELS.len() as u16 * 2 + 3);
    f.render_widget(Clear, r);
    let b = dialog_block(app, "Register a service");
    let inner = b.inner(r);
    f.render_widget(b, r);
    let field = |i: usize| TextField {
        label: LABELS[i],
        label_width: LABEL_WIDTH,
        input: &form.inputs[i],
        width: inner.width.saturating_sub(LABEL_WIDTH as u16 + 2) as usize,
        focused: form.focus == i,
    };
    let mut lines = Vec::new();
    for (i, hint) in HINTS.iter().enumerate() {
        lines.push(field(i).line(&app.theme));
        let note = match &form.errors[i] {
            Some(e) => Span::styled(
                format!("{:w$}✗ {e}", "", w = LABEL_WIDTH + 1),
                Style::default().fg(app.theme.error),
            ),
            None if form.focus == i => Span::styled(
                format!("{:w$}{hint}", "", w = LABEL_WIDTH + 1),
                Style::default().fg(app.theme.dim),
            ),
            None => Span::raw(""),
        };
        lines.push(Line::from(note));
    }
    lines.push(Line::from(Span::styled(
        dialog_hint(Scope::Register),
        Style::default().fg(app.theme.dim),
    )));
    f.render_widget(Paragraph::new(lines), inner);
    let x = inner.x + field(form.focus).cursor_column();
    f.set_cursor_position((
        x.min(inner.right().saturating_sub(1)),
        inner.y + form.focus as u16 * 2,
    ));
}
