//! The log pane: the embedded agent's latest log lines.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::widgets::pane;
use crate::tui::app::App;

/// The last lines that fit.
pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let height = area.height.saturating_sub(2) as usize;
    let lines: Vec<Line> = app
        .logs
        .iter()
        .skip(app.logs.len().saturating_sub(height))
        .map(|l| Line::from(Span::styled(l.clone(), Style::default().fg(app.theme.dim))))
        .collect();
    let title = if app.logs.is_empty() {
        " log (attached agent: see its own log) "
    } else {
        " log "
    };
    f.render_widget(Paragraph::new(lines).block(pane(app, title.into())), area);
}
