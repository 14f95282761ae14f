//! The yes/no question before a destructive write.

use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::App;
use crate::tui::confirm::prompt;
use crate::tui::msg::Write;
use crate::tui::view::widgets::{centered, dialog_block};

/// The question about `write`, with the y (danger) and n buttons.
pub fn draw(f: &mut Frame, app: &App, write: &Write, area: Rect) {
    let prompt = prompt(write);
    let w = (prompt.chars().count() as u16 + 6).clamp(30, area.width);
    let r = centered(area, w, 5);
    f.render_widget(Clear, r);
    f.render_widget(
        Paragraph::new(vec![
            Line::from(prompt),
            Line::from(""),
            Line::from(vec![
                Span::styled(
                    " y ",
                    Style::default()
                        .fg(app.theme.on_accent)
                        .bg(app.theme.critical),
                ),
                Span::raw(" yes   "),
                Span::styled(
                    " n ",
                    Style::default()
                        .fg(app.theme.on_accent)
                        .bg(app.theme.accent),
                ),
                Span::raw(" no"),
            ]),
        ])
        .alignment(Alignment::Center)
        .block(dialog_block(app, "Confirm")),
        r,
    );
}
