//! The key help, generated from the keymap: every navigation binding by section, then the
//! palette's commands.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};

use crate::tui::app::App;
use crate::tui::keymap;
use crate::tui::view::widgets::{centered, dialog_block};

/// Width of the overlay.
const WIDTH: u16 = 64;
/// Columns of the key column.
const KEYS_WIDTH: usize = 17;

/// `items` joined by two spaces, in lines of at most `width` columns.
fn wrap(items: &[String], width: usize) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for item in items {
        match out.last_mut() {
            Some(line) if line.chars().count() + 2 + item.chars().count() <= width => {
                line.push_str("  ");
                line.push_str(item);
            }
            _ => out.push(item.clone()),
        }
    }
    out
}

/// The help overlay.
pub fn draw(f: &mut Frame, app: &App, area: Rect) {
    let dim = Style::default().fg(app.theme.dim);
    let mut lines: Vec<Line> = keymap::help()
        .into_iter()
        .map(|l| {
            Line::from(vec![
                Span::styled(
                    format!("{:>KEYS_WIDTH$}  ", l.keys),
                    Style::default().fg(app.theme.accent),
                ),
                Span::raw(l.label),
            ])
        })
        .collect();
    lines.push(Line::from(""));
    let commands: Vec<String> = keymap::palette()
        .map(|(_, p)| match p.args {
            "" => format!(":{}", p.name),
            args => format!(":{} {args}", p.name),
        })
        .collect();
    for l in wrap(&commands, WIDTH as usize - 2) {
        lines.push(Line::from(Span::styled(l, dim)));
    }
    lines.push(Line::from(Span::styled("any key closes", dim)));
    let r = centered(area, WIDTH, lines.len() as u16 + 2);
    f.render_widget(Clear, r);
    f.render_widget(Paragraph::new(lines).block(dialog_block(app, "Keys")), r);
}
