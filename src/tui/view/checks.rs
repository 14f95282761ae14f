//! The Checks view: every check, critical first, with the first line of its output.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use super::widgets::{dot, selected_style, table, window};
use crate::tui::app::App;

/// The check list, `page` rows of it.
pub fn list(f: &mut Frame, app: &App, area: Rect, page: usize) {
    let list = &app.checks.list;
    let shown = list.shown();
    let sel = list.cursor();
    let rows: Vec<Row> = window(shown.len(), sel, page)
        .map(|i| {
            let c = &list.rows()[shown[i]];
            Row::new(vec![
                Cell::from(Line::from(vec![
                    dot(app, &c.status),
                    Span::styled(
                        format!(" {}", c.status),
                        Style::default().fg(app.theme.status(&c.status)),
                    ),
                ])),
                Cell::from(c.node.clone()),
                Cell::from(c.name.clone()),
                Cell::from(if c.service_name.is_empty() {
                    "(node)".to_string()
                } else {
                    c.service_name.clone()
                }),
                Cell::from(if c.kind.is_empty() {
                    "-".to_string()
                } else {
                    c.kind.clone()
                }),
                Cell::from(c.output.lines().next().unwrap_or("").to_string()),
            ])
            .style(selected_style(app, i == sel))
        })
        .collect();
    f.render_widget(
        table(
            app,
            &["STATUS", "NODE", "CHECK", "SERVICE", "TYPE", "OUTPUT"],
            rows,
            vec![
                Constraint::Length(10),
                Constraint::Percentage(12),
                Constraint::Percentage(20),
                Constraint::Percentage(14),
                Constraint::Length(6),
                Constraint::Fill(1),
            ],
            format!("Checks ({})", shown.len()),
        ),
        area,
    );
}
