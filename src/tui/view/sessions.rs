//! The Sessions view: sessions with their node, TTL, behavior, lock-delay and the keys
//! each holds (upper part), the selected session's details and the agent's recent user
//! events (lower part).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Paragraph, Row, Wrap};

use super::widgets::{pane, selected_style, table, window};
use crate::tui::app::App;
use crate::tui::views::sessions::short;

/// The session list (`page` rows at most), the selection's details and the events.
pub fn list(f: &mut Frame, app: &App, area: Rect, page: usize) {
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(60), Constraint::Percentage(40)]).areas(area);
    let v = &app.sessions;
    let shown = v.list.shown();
    let sel = v.list.cursor();
    let page = page.min(top.height.saturating_sub(3) as usize);
    let rows: Vec<Row> = window(shown.len(), sel, page)
        .map(|i| {
            let s = &v.list.rows()[shown[i]];
            let keys = if v.held_known {
                v.keys_of(&s.id).len().to_string()
            } else {
                "…".into()
            };
            Row::new(vec![
                Cell::from(short(&s.id).to_string()),
                Cell::from(s.name.clone()),
                Cell::from(s.node.clone()),
                Cell::from(if s.ttl.is_empty() {
                    "-".into()
                } else {
                    s.ttl.clone()
                }),
                Cell::from(s.behavior.clone()),
                Cell::from(format!("{}s", s.lock_delay_s)),
                Cell::from(keys),
            ])
            .style(selected_style(app, i == sel))
        })
        .collect();
    f.render_widget(
        table(
            app,
            &[
                "ID",
                "NAME",
                "NODE",
                "TTL",
                "BEHAVIOR",
                "LOCK-DELAY",
                "KEYS",
            ],
            rows,
            vec![
                Constraint::Length(9),
                Constraint::Percentage(28),
                Constraint::Percentage(18),
                Constraint::Length(6),
                Constraint::Length(9),
                Constraint::Length(11),
                Constraint::Fill(1),
            ],
            format!("Sessions ({})", shown.len()),
        ),
        top,
    );
    let [detail, events] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(bottom);
    let text: Vec<Line> = match v.list.selected() {
        None => vec![Line::from("no sessions")],
        Some(s) => {
            let mut lines = vec![
                Line::from(format!("ID      {}", s.id)),
                Line::from(format!("checks  {}", s.checks.join(", "))),
            ];
            let keys = v.keys_of(&s.id);
            if !v.held_known {
                lines.push(Line::from("holds   …"));
            } else if keys.is_empty() {
                lines.push(Line::from("holds   no keys"));
            } else {
                lines.push(Line::from(format!("holds   {}", keys.join(", "))));
            }
            lines
        }
    };
    f.render_widget(
        Paragraph::new(text)
            .wrap(Wrap { trim: false })
            .block(pane(app, " session ".into())),
        detail,
    );
    let lines: Vec<Line> = if v.events.is_empty() {
        vec![Line::from("no events yet (disco event -name NAME)")]
    } else {
        v.events
            .iter()
            .take(events.height.saturating_sub(2) as usize)
            .map(|e| {
                let payload = e.payload.lines().next().unwrap_or("");
                Line::from(format!(
                    "{:>5}  {}  {}  {payload}",
                    e.ltime,
                    short(&e.id),
                    e.name
                ))
            })
            .collect()
    };
    f.render_widget(
        Paragraph::new(lines).block(pane(app, format!(" events ({}) ", v.events.len()))),
        events,
    );
}
