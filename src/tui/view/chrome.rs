//! What surrounds the list: the header, the tabs, the disconnected banner, the status line
//! and the footer of key hints.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use crate::tui::app::{App, Mode, Status};
use crate::tui::keymap;
use crate::tui::msg::View;

/// Cluster summary: datacenter, agent, leader, member and service counts, check health.
pub fn header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let servers = app.members.servers();
    let failed = app.members.failed();
    let leader = match app.raft.leader() {
        Some(l) => format!("{} ({})", l.node, l.address),
        None if app.raft.list.rows().is_empty() => "…".into(),
        None => "none".into(),
    };
    let o = &app.overview;
    let role = if o.server { "server" } else { "client" };
    let mut spans = vec![
        Span::styled(
            " disco ",
            Style::default()
                .fg(t.on_accent)
                .bg(t.accent)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " dc {} │ agent {} ({role}) │ leader {leader} │ {servers} servers, {} members",
            match (&app.datacenter, o.datacenter.is_empty()) {
                (Some(dc), _) => format!("{dc} (through {})", o.datacenter),
                (None, true) => "?".to_string(),
                (None, false) => o.datacenter.clone(),
            },
            if o.node.is_empty() { "?" } else { &o.node },
            app.members.list.rows().len()
        )),
    ];
    if failed > 0 {
        spans.push(Span::styled(
            format!(", {failed} failed"),
            Style::default().fg(t.critical),
        ));
    }
    spans.push(Span::raw(format!(
        " │ {} services │ ",
        app.services.list.rows().len()
    )));
    if let Some(token) = &app.rights.token {
        spans.push(Span::styled(
            format!("token {token} │ "),
            Style::default().fg(t.dim),
        ));
    }
    let (critical, warning) = (app.problems.critical, app.problems.warning);
    if critical == 0 && warning == 0 {
        spans.push(Span::styled(
            "● all checks passing",
            Style::default().fg(t.passing),
        ));
    } else {
        if critical > 0 {
            spans.push(Span::styled(
                format!("● {critical} critical "),
                Style::default().fg(t.critical),
            ));
        }
        if warning > 0 {
            spans.push(Span::styled(
                format!("● {warning} warning"),
                Style::default().fg(t.warning),
            ));
        }
    }
    f.render_widget(
        Paragraph::new(Line::from(spans)).style(Style::default().bg(t.on_accent).fg(t.header_fg)),
        area,
    );
}

/// The view tabs, the current one highlighted.
pub fn tabs(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for v in View::ALL {
        let label = format!(" {} {} ", v.number(), v.title());
        let style = if v == app.view {
            Style::default()
                .fg(t.selected_fg)
                .bg(t.selected_bg)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default().fg(t.dim)
        };
        spans.push(Span::styled(label, style));
        spans.push(Span::raw(" "));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The line saying the agent is not reachable (the rows below are the last known).
pub fn banner(f: &mut Frame, app: &App, area: Rect) {
    let why = if app.disconnect_reason.is_empty() {
        "connecting…".to_string()
    } else {
        format!("unreachable: {} — reconnecting", app.disconnect_reason)
    };
    f.render_widget(
        Paragraph::new(format!(" ⚠ agent {} {why}", app.agent_addr)).style(
            Style::default()
                .fg(app.theme.header_fg)
                .bg(app.theme.error)
                .add_modifier(Modifier::BOLD),
        ),
        area,
    );
}

/// The filter or palette being typed, else the last result or error.
pub fn status_line(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let (text, style) = match (&app.mode, &app.status) {
        (Mode::Filter(input), _) => (
            format!("/{}", input.value()),
            Style::default().fg(t.warning),
        ),
        (Mode::Palette(p), _) => (
            format!(":{}", p.input.value()),
            Style::default().fg(t.accent),
        ),
        (_, Some(Status { text, error: true })) => (
            format!(" ✗ {text}"),
            Style::default().fg(t.error).add_modifier(Modifier::BOLD),
        ),
        (_, Some(Status { text, error: false })) => {
            (format!(" ✓ {text}"), Style::default().fg(t.status_fg))
        }
        _ => (String::new(), Style::default()),
    };
    f.render_widget(Paragraph::new(text).style(style.bg(t.status_bg)), area);
    let input = match &app.mode {
        Mode::Filter(input) => Some(input),
        Mode::Palette(p) => Some(&p.input),
        _ => None,
    };
    if let Some(input) = input {
        let x = area.x + 1 + input.visual_cursor() as u16;
        f.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

/// Key hints of the current view, from the keymap.
pub fn footer(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (k, what, command) in keymap::hint_commands(app.scope()) {
        // An action the token may not take stays listed, greyed and struck through.
        let allowed = command.needs().is_none_or(|r| app.rights.allows(r));
        let key_style = if allowed {
            Style::default().fg(t.on_accent).bg(t.accent)
        } else {
            Style::default()
                .fg(t.dim)
                .add_modifier(Modifier::CROSSED_OUT)
        };
        spans.push(Span::styled(format!(" {k} "), key_style));
        let label_style = if allowed {
            Style::default().fg(t.dim)
        } else {
            Style::default()
                .fg(t.dim)
                .add_modifier(Modifier::CROSSED_OUT)
        };
        spans.push(Span::styled(format!(" {what}  "), label_style));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}
