//! Drawing: the screen's layout here, the chrome around the lists, one file per view and
//! one per overlay. Drawing only reads the state. Only the rows that fit are built, and
//! the filtered index comes from the view's state (computed when its rows or filter
//! change), so a frame's cost follows the screen size, not the cluster's.

mod checks;
mod chrome;
mod kv;
mod logs;
mod members;
mod popup;
mod raft;
mod services;
mod sessions;
pub mod widgets;

#[cfg(test)]
mod tests;

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::widgets::Block;

use super::app::App;
use super::msg::View;

/// Where each part of the screen goes.
struct Areas {
    header: Rect,
    tabs: Rect,
    banner: Option<Rect>,
    body: Rect,
    logs: Option<Rect>,
    status: Rect,
    footer: Rect,
}

fn areas(app: &App, area: Rect) -> Areas {
    let banner = !app.connected;
    let mut constraints = vec![Constraint::Length(1), Constraint::Length(1)];
    if banner {
        constraints.push(Constraint::Length(1));
    }
    constraints.push(Constraint::Min(3));
    if app.show_logs {
        constraints.push(Constraint::Length(10));
    }
    constraints.push(Constraint::Length(1));
    constraints.push(Constraint::Length(1));
    let rows = Layout::vertical(constraints).split(area);
    let mut next = rows.iter().copied();
    let mut take = || next.next().unwrap_or_default();
    Areas {
        header: take(),
        tabs: take(),
        banner: banner.then(&mut take),
        body: take(),
        logs: app.show_logs.then(&mut take),
        status: take(),
        footer: take(),
    }
}

/// How many list rows fit on a screen of `area`, for PageUp/PageDown.
pub fn page_rows(app: &App, area: Rect) -> usize {
    // A bordered table with a header line.
    areas(app, area).body.height.saturating_sub(3) as usize
}

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &App) {
    let t = &app.theme;
    let area = f.area();
    f.render_widget(
        Block::default().style(Style::default().bg(t.background).fg(t.text)),
        area,
    );
    let a = areas(app, area);
    chrome::header(f, app, a.header);
    chrome::tabs(f, app, a.tabs);
    if let Some(r) = a.banner {
        chrome::banner(f, app, r);
    }
    let page = page_rows(app, area);
    let body = a.body;
    match app.view {
        View::Services => match &app.services.detail {
            None => services::list(f, app, body, page),
            Some(d) => services::instances(f, app, d, body),
        },
        View::Members => members::list(f, app, body, page),
        View::Raft => raft::list(f, app, body, page),
        View::Kv => kv::tree(f, app, body, page),
        View::Checks => checks::list(f, app, body, page),
        View::Sessions => sessions::list(f, app, body, page),
    }
    if let Some(r) = a.logs {
        logs::draw(f, app, r);
    }
    chrome::status_line(f, app, a.status);
    chrome::footer(f, app, a.footer);
    popup::draw(f, app, area);
}
