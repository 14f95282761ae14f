//! The palette's completion list, above the status line where the command is typed.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::App;
use crate::tui::palette::args_of;
use crate::tui::view::widgets::dialog_block;

/// Up to eight candidates for the word being typed, commands with their arguments.
pub fn draw(f: &mut Frame, app: &App, text: &str, area: Rect) {
    let cands = app.completions(text);
    if cands.is_empty() {
        return;
    }
    let h = (cands.len().min(8) + 2) as u16;
    let r = Rect::new(
        area.x,
        area.bottom().saturating_sub(h + 2),
        44.min(area.width),
        h,
    );
    f.render_widget(Clear, r);
    let lines: Vec<Line> = cands
        .iter()
        .take(8)
        .map(|c| {
            Line::from(vec![
                Span::raw(c.clone()),
                Span::styled(
                    format!(" {}", args_of(c)),
                    Style::default().fg(app.theme.dim),
                ),
            ])
        })
        .collect();
    f.render_widget(
        Paragraph::new(lines).block(dialog_block(app, "Tab completes")),
        r,
    );
}
