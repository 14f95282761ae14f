//! The KV view: the current folder on the left, the selected key's value on the right.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::Span;
use ratatui::widgets::{Cell, Paragraph, Row, Wrap};

use super::widgets::{pane, selected_style, table, window};
use crate::tui::app::App;
use crate::tui::views::kv::Preview;

/// The folder listing (`page` rows) and the preview.
pub fn tree(f: &mut Frame, app: &App, area: Rect, page: usize) {
    let kv = &app.kv;
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let shown = kv.list.shown();
    let sel = kv.list.cursor();
    let rows: Vec<Row> = window(shown.len(), sel, page)
        .map(|i| {
            let item = &kv.list.rows()[shown[i]];
            let label = item.label(&kv.prefix);
            let cell = if item.is_dir() {
                Cell::from(Span::styled(
                    format!("▸ {label}"),
                    Style::default().fg(app.theme.accent),
                ))
            } else {
                Cell::from(format!("  {label}"))
            };
            Row::new(vec![cell]).style(selected_style(app, i == sel))
        })
        .collect();
    let path = if kv.prefix.is_empty() {
        "/".to_string()
    } else {
        format!("/{}", kv.prefix)
    };
    f.render_widget(
        table(
            app,
            &["KEY"],
            rows,
            vec![Constraint::Fill(1)],
            format!("KV {path} ({})", shown.len()),
        ),
        left,
    );
    let (title, text) = match (kv.list.selected(), &kv.preview) {
        (Some(k), _) if k.is_dir() => (k.key.clone(), "folder — Enter to open".to_string()),
        (
            Some(k),
            Some(Preview {
                key,
                value: Some(v),
                holder,
            }),
        ) if *key == k.key => {
            let text = String::from_utf8_lossy(&v[..v.len().min(16 * 1024)]).into_owned();
            match holder {
                // A locked key names its holder above the value.
                Some(h) => (
                    format!("🔒 {} — held by {}", k.key, app.sessions.label(h)),
                    text,
                ),
                None => (k.key.clone(), text),
            }
        }
        (
            Some(k),
            Some(Preview {
                key, value: None, ..
            }),
        ) if *key == k.key => (k.key.clone(), "(deleted)".into()),
        (Some(k), _) => (k.key.clone(), "…".into()),
        (None, _) => ("value".into(), "(empty folder — n to create a key)".into()),
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(pane(app, format!(" {title} "))),
        right,
    );
}
