//! The Members view: node, address, status as colour and word, type, build, datacenter.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use super::widgets::{dot, selected_style, table, window};
use crate::tui::app::App;

/// The member list, `page` rows of it.
pub fn list(f: &mut Frame, app: &App, area: Rect, page: usize) {
    let list = &app.members.list;
    let shown = list.shown();
    let sel = list.cursor();
    let rows: Vec<Row> = window(shown.len(), sel, page)
        .map(|i| {
            let m = &list.rows()[shown[i]];
            Row::new(vec![
                Cell::from(m.name.clone()),
                Cell::from(m.address.clone()),
                Cell::from(Line::from(vec![
                    dot(app, &m.status),
                    Span::styled(
                        format!(" {}", m.status),
                        Style::default().fg(app.theme.status(&m.status)),
                    ),
                ])),
                Cell::from(m.kind.clone()),
                Cell::from(m.build.clone()),
                Cell::from(m.dc.clone()),
            ])
            .style(selected_style(app, i == sel))
        })
        .collect();
    f.render_widget(
        table(
            app,
            &["NODE", "ADDRESS", "STATUS", "TYPE", "BUILD", "DC"],
            rows,
            vec![
                Constraint::Percentage(25),
                Constraint::Length(22),
                Constraint::Length(10),
                Constraint::Length(7),
                Constraint::Length(9),
                Constraint::Fill(1),
            ],
            format!("Members ({})", shown.len()),
        ),
        area,
    );
}
