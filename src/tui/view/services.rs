//! The Services view: the service list, and one service's instances with the checks of
//! the selected one.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use super::widgets::{dot, pane, selected_style, table, window};
use crate::tui::app::App;
use crate::tui::views::services::Detail;

/// The service list, `page` rows of it.
pub fn list(f: &mut Frame, app: &App, area: Rect, page: usize) {
    let list = &app.services.list;
    let shown = list.shown();
    let sel = list.cursor();
    let rows: Vec<Row> = window(shown.len(), sel, page)
        .map(|i| {
            let s = &list.rows()[shown[i]];
            let mut health = vec![dot(app, s.health()), Span::raw(" ")];
            let mut parts = Vec::new();
            if s.passing > 0 {
                parts.push(Span::styled(
                    format!("{} passing ", s.passing),
                    Style::default().fg(app.theme.passing),
                ));
            }
            if s.warning > 0 {
                parts.push(Span::styled(
                    format!("{} warning ", s.warning),
                    Style::default().fg(app.theme.warning),
                ));
            }
            if s.critical > 0 {
                parts.push(Span::styled(
                    format!("{} critical", s.critical),
                    Style::default().fg(app.theme.critical),
                ));
            }
            if parts.is_empty() {
                parts.push(Span::styled(
                    "no checks",
                    Style::default().fg(app.theme.dim),
                ));
            }
            health.extend(parts);
            Row::new(vec![
                Cell::from(s.name.clone()),
                Cell::from(s.instances.to_string()),
                Cell::from(Line::from(health)),
                Cell::from(s.tags.join(", ")),
            ])
            .style(selected_style(app, i == sel))
        })
        .collect();
    let total = list.rows().len();
    let title = format!(
        "Services ({}{})",
        shown.len(),
        if shown.len() != total {
            format!(" of {total}")
        } else {
            String::new()
        }
    );
    f.render_widget(
        table(
            app,
            &["SERVICE", "INSTANCES", "HEALTH", "TAGS"],
            rows,
            vec![
                Constraint::Percentage(30),
                Constraint::Length(9),
                Constraint::Length(34),
                Constraint::Fill(1),
            ],
            title,
        ),
        area,
    );
}

/// The instances of the opened service above, the selected one's checks below.
pub fn instances(f: &mut Frame, app: &App, detail: &Detail, area: Rect) {
    let inst = &detail.instances;
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let sel = detail.cursor;
    let height = top.height.saturating_sub(3) as usize;
    let rows: Vec<Row> = window(inst.len(), sel, height)
        .map(|i| {
            let x = &inst[i];
            let addr = if x.address.is_empty() {
                &x.node_address
            } else {
                &x.address
            };
            let passing = x.checks.iter().filter(|c| c.status == "passing").count();
            Row::new(vec![
                Cell::from(Line::from(vec![
                    dot(app, x.health()),
                    Span::raw(format!(" {}", x.health())),
                ])),
                Cell::from(x.id.clone()),
                Cell::from(x.node.clone()),
                Cell::from(format!("{addr}:{}", x.port)),
                Cell::from(format!("{passing}/{} passing", x.checks.len())),
                Cell::from(x.tags.join(", ")),
            ])
            .style(selected_style(app, i == sel))
        })
        .collect();
    f.render_widget(
        table(
            app,
            &["HEALTH", "ID", "NODE", "ADDRESS", "CHECKS", "TAGS"],
            rows,
            vec![
                Constraint::Length(10),
                Constraint::Percentage(20),
                Constraint::Percentage(15),
                Constraint::Length(22),
                Constraint::Length(12),
                Constraint::Fill(1),
            ],
            format!("{} — {} instances", detail.name, inst.len()),
        ),
        top,
    );
    let checks = detail
        .selected()
        .map(|i| i.checks.as_slice())
        .unwrap_or(&[]);
    let rows: Vec<Row> = checks
        .iter()
        .take(bottom.height.saturating_sub(3) as usize)
        .map(|c| {
            Row::new(vec![
                Cell::from(Line::from(vec![
                    dot(app, &c.status),
                    Span::raw(format!(" {}", c.status)),
                ])),
                Cell::from(c.name.clone()),
                Cell::from(if c.kind.is_empty() {
                    "-".to_string()
                } else {
                    c.kind.clone()
                }),
                Cell::from(c.output.lines().next().unwrap_or("").to_string()),
            ])
        })
        .collect();
    let t = table(
        app,
        &["STATUS", "CHECK", "TYPE", "OUTPUT"],
        rows,
        vec![
            Constraint::Length(10),
            Constraint::Percentage(25),
            Constraint::Length(6),
            Constraint::Fill(1),
        ],
        String::new(),
    )
    .block(pane(app, " checks ".into()));
    f.render_widget(t, bottom);
}
