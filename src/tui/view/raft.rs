//! The Raft view: each peer's state, vote, commit index and how far it trails the leader.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row};

use super::widgets::{selected_style, table, window};
use crate::tui::app::App;

/// The peer list, `page` rows of it.
pub fn list(f: &mut Frame, app: &App, area: Rect, page: usize) {
    let list = &app.raft.list;
    let shown = list.shown();
    let sel = list.cursor();
    let leader_index = app.raft.leader().map(|l| l.last_index).unwrap_or(0);
    let rows: Vec<Row> = window(shown.len(), sel, page)
        .map(|i| {
            let r = &list.rows()[shown[i]];
            let state = if r.leader {
                Span::styled(
                    "★ leader",
                    Style::default()
                        .fg(app.theme.leader)
                        .add_modifier(Modifier::BOLD),
                )
            } else {
                Span::raw("  follower")
            };
            let trails = if r.leader {
                "-".to_string()
            } else {
                crate::api::cluster::trails(leader_index, r.last_index).to_string()
            };
            Row::new(vec![
                Cell::from(r.node.clone()),
                Cell::from(r.id.clone()),
                Cell::from(r.address.clone()),
                Cell::from(Line::from(state)),
                Cell::from(r.voter.to_string()),
                Cell::from(r.last_index.to_string()),
                Cell::from(trails),
            ])
            .style(selected_style(app, i == sel))
        })
        .collect();
    f.render_widget(
        table(
            app,
            &[
                "NODE",
                "ID",
                "ADDRESS",
                "STATE",
                "VOTER",
                "COMMIT INDEX",
                "TRAILS BY",
            ],
            rows,
            vec![
                Constraint::Percentage(15),
                Constraint::Length(36),
                Constraint::Length(21),
                Constraint::Length(10),
                Constraint::Length(5),
                Constraint::Length(12),
                Constraint::Fill(1),
            ],
            format!("Raft peers ({})", shown.len()),
        ),
        area,
    );
}
