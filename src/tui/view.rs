//! Drawing: one function per view plus the overlays. Only the rows that fit are built, so a
//! frame costs the same with 50 services or 5,000.

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Clear, Paragraph, Row, Table, Wrap};

use super::app::{App, COMMANDS, Mode, View};
use super::form::{HINTS, LABELS};

/// First row of the window that keeps `selected` visible in `height` rows.
fn window(len: usize, selected: usize, height: usize) -> std::ops::Range<usize> {
    let height = height.max(1);
    let start = if selected < height {
        0
    } else {
        selected + 1 - height
    };
    start..len.min(start + height)
}

fn dot(app: &App, status: &str) -> Span<'static> {
    Span::styled("●", Style::default().fg(app.theme.status(status)))
}

/// Draw the whole screen.
pub fn draw(f: &mut Frame, app: &mut App) {
    let t = &app.theme;
    let area = f.area();
    f.render_widget(
        Block::default().style(Style::default().bg(t.background).fg(t.text)),
        area,
    );
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
    let mut i = 0;
    header(f, app, rows[i]);
    i += 1;
    tabs(f, app, rows[i]);
    i += 1;
    if banner {
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
            rows[i],
        );
        i += 1;
    }
    let body = rows[i];
    i += 1;
    // Rows that fit in a bordered table with a header line.
    app.page = body.height.saturating_sub(3) as usize;
    match app.view {
        View::Services => match app.detail.is_some() {
            false => services(f, app, body),
            true => instances(f, app, body),
        },
        View::Members => members(f, app, body),
        View::Raft => raft(f, app, body),
        View::Kv => kv(f, app, body),
        View::Checks => checks(f, app, body),
    }
    if app.show_logs {
        logs(f, app, rows[i]);
        i += 1;
    }
    status_line(f, app, rows[i]);
    footer(f, app, rows[i + 1]);
    overlay(f, app, area);
}

fn header(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let servers = app.members.iter().filter(|m| m.kind == "server").count();
    let failed = app.members.iter().filter(|m| m.status == "failed").count();
    let (critical, warning) = app.problems;
    let leader = match app.leader() {
        Some(l) => format!("{} ({})", l.node, l.address),
        None if app.raft.is_empty() => "…".into(),
        None => "none".into(),
    };
    let o = &app.overview;
    let role = if o.server { "server" } else { "client" };
    let mut spans = vec![
        Span::styled(
            " disco ",
            Style::default()
                .fg(t.header_bg)
                .bg(t.accent)
                .add_modifier(Modifier::BOLD),
        ),
        Span::raw(format!(
            " dc {} │ agent {} ({role}) │ leader {leader} │ {servers} servers, {} members",
            if o.datacenter.is_empty() {
                "?"
            } else {
                &o.datacenter
            },
            if o.node.is_empty() { "?" } else { &o.node },
            app.members.len()
        )),
    ];
    if failed > 0 {
        spans.push(Span::styled(
            format!(", {failed} failed"),
            Style::default().fg(t.critical),
        ));
    }
    spans.push(Span::raw(format!(" │ {} services │ ", app.services.len())));
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
        Paragraph::new(Line::from(spans)).style(Style::default().bg(t.header_bg).fg(t.header_fg)),
        area,
    );
}

fn tabs(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for v in View::ALL {
        let label = format!(" {} {} ", v.index() + 1, v.title());
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

fn block<'a>(app: &App, title: String) -> Block<'a> {
    let t = &app.theme;
    let filter = &app.filters[app.view.index()];
    let mut title_spans = vec![Span::styled(
        format!(" {title} "),
        Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
    )];
    if !filter.is_empty() {
        title_spans.push(Span::styled(
            format!("/{filter} "),
            Style::default().fg(t.warning),
        ));
    }
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(t.border))
        .title(Line::from(title_spans))
}

/// A table of `rows` (already windowed) with the header style and the selected row marked.
fn table<'a>(
    app: &App,
    head: &[&'a str],
    rows: Vec<Row<'a>>,
    widths: Vec<Constraint>,
    title: String,
) -> Table<'a> {
    let t = &app.theme;
    Table::new(rows, widths)
        .header(
            Row::new(head.iter().map(|h| Cell::from(*h)))
                .style(Style::default().fg(t.dim).add_modifier(Modifier::BOLD)),
        )
        .block(block(app, title))
        .column_spacing(2)
}

fn selected_style(app: &App, on: bool) -> Style {
    if on {
        Style::default()
            .fg(app.theme.selected_fg)
            .bg(app.theme.selected_bg)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    }
}

fn services(f: &mut Frame, app: &App, area: Rect) {
    let vis = app.visible_services();
    let sel = app.selected();
    let rows: Vec<Row> = window(vis.len(), sel, app.page)
        .map(|i| {
            let s = &app.services[vis[i]];
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
    let title = format!(
        "Services ({}{})",
        vis.len(),
        if vis.len() != app.services.len() {
            format!(" of {}", app.services.len())
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

fn instances(f: &mut Frame, app: &App, area: Rect) {
    let Some((name, inst)) = &app.detail else {
        return;
    };
    let [top, bottom] =
        Layout::vertical([Constraint::Percentage(55), Constraint::Percentage(45)]).areas(area);
    let sel = app.detail_cursor;
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
            format!("{name} — {} instances", inst.len()),
        ),
        top,
    );
    let checks = inst.get(sel).map(|i| i.checks.as_slice()).unwrap_or(&[]);
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
    let title = inst
        .get(sel)
        .map(|i| format!("checks of {}", i.id))
        .unwrap_or_else(|| "checks".into());
    let mut t = table(
        app,
        &["STATUS", "CHECK", "TYPE", "OUTPUT"],
        rows,
        vec![
            Constraint::Length(10),
            Constraint::Percentage(25),
            Constraint::Length(6),
            Constraint::Fill(1),
        ],
        title,
    );
    t = t.block(
        Block::default()
            .borders(Borders::ALL)
            .border_style(Style::default().fg(app.theme.border))
            .title(Span::styled(
                " checks ",
                Style::default().fg(app.theme.accent),
            )),
    );
    f.render_widget(t, bottom);
}

fn members(f: &mut Frame, app: &App, area: Rect) {
    let vis = app.visible_members();
    let sel = app.selected();
    let rows: Vec<Row> = window(vis.len(), sel, app.page)
        .map(|i| {
            let m = &app.members[vis[i]];
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
            format!("Members ({})", vis.len()),
        ),
        area,
    );
}

fn raft(f: &mut Frame, app: &App, area: Rect) {
    let vis = app.visible_raft();
    let sel = app.selected();
    let leader_index = app.leader().map(|l| l.last_index).unwrap_or(0);
    let rows: Vec<Row> = window(vis.len(), sel, app.page)
        .map(|i| {
            let r = &app.raft[vis[i]];
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
                leader_index.saturating_sub(r.last_index).to_string()
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
            format!("Raft peers ({})", vis.len()),
        ),
        area,
    );
}

fn kv(f: &mut Frame, app: &App, area: Rect) {
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(45), Constraint::Percentage(55)]).areas(area);
    let vis = app.visible_kv();
    let sel = app.selected();
    let rows: Vec<Row> = window(vis.len(), sel, app.page)
        .map(|i| {
            let item = &app.kv_items[vis[i]];
            let label = item.label(&app.kv_prefix);
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
    let path = if app.kv_prefix.is_empty() {
        "/".to_string()
    } else {
        format!("/{}", app.kv_prefix)
    };
    f.render_widget(
        table(
            app,
            &["KEY"],
            rows,
            vec![Constraint::Fill(1)],
            format!("KV {path} ({})", vis.len()),
        ),
        left,
    );
    let (title, text) = match (app.selected_kv(), &app.kv_value) {
        (Some(k), _) if k.is_dir() => (k.key.clone(), "folder — Enter to open".to_string()),
        (Some(k), Some((key, Some(v)))) if *key == k.key => (
            k.key.clone(),
            String::from_utf8_lossy(&v[..v.len().min(16 * 1024)]).into_owned(),
        ),
        (Some(k), Some((key, None))) if *key == k.key => (k.key.clone(), "(deleted)".into()),
        (Some(k), _) => (k.key.clone(), "…".into()),
        (None, _) => ("value".into(), "(empty folder — n to create a key)".into()),
    };
    f.render_widget(
        Paragraph::new(text).wrap(Wrap { trim: false }).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(app.theme.border))
                .title(Span::styled(
                    format!(" {title} "),
                    Style::default().fg(app.theme.accent),
                )),
        ),
        right,
    );
}

fn checks(f: &mut Frame, app: &App, area: Rect) {
    let vis = app.visible_checks();
    let sel = app.selected();
    let rows: Vec<Row> = window(vis.len(), sel, app.page)
        .map(|i| {
            let c = &app.checks[vis[i]];
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
            format!("Checks ({})", vis.len()),
        ),
        area,
    );
}

fn logs(f: &mut Frame, app: &App, area: Rect) {
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
    f.render_widget(
        Paragraph::new(lines).block(
            Block::default()
                .borders(Borders::ALL)
                .border_style(Style::default().fg(app.theme.border))
                .title(Span::styled(title, Style::default().fg(app.theme.accent))),
        ),
        area,
    );
}

fn status_line(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let (text, style) = match (&app.mode, &app.status) {
        (Mode::Filter(input), _) => (
            format!("/{}", input.value()),
            Style::default().fg(t.warning),
        ),
        (Mode::Palette(input, _), _) => {
            (format!(":{}", input.value()), Style::default().fg(t.accent))
        }
        (_, Some((msg, true))) => (
            format!(" ✗ {msg}"),
            Style::default().fg(t.error).add_modifier(Modifier::BOLD),
        ),
        (_, Some((msg, false))) => (format!(" ✓ {msg}"), Style::default().fg(t.status_fg)),
        _ => (String::new(), Style::default()),
    };
    f.render_widget(Paragraph::new(text).style(style.bg(t.status_bg)), area);
    if let Mode::Filter(input) | Mode::Palette(input, _) = &app.mode {
        let x = area.x + 1 + input.visual_cursor() as u16;
        f.set_cursor_position((x.min(area.right().saturating_sub(1)), area.y));
    }
}

fn footer(f: &mut Frame, app: &App, area: Rect) {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (k, what) in app.hints() {
        spans.push(Span::styled(
            format!(" {k} "),
            Style::default().fg(t.header_bg).bg(t.accent),
        ));
        spans.push(Span::styled(
            format!(" {what}  "),
            Style::default().fg(t.dim),
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

fn dialog_block<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(app.theme.accent))
        .title(Span::styled(
            format!(" {title} "),
            Style::default()
                .fg(app.theme.accent)
                .add_modifier(Modifier::BOLD),
        ))
        .style(Style::default().bg(app.theme.header_bg).fg(app.theme.text))
}

fn overlay(f: &mut Frame, app: &App, area: Rect) {
    match &app.mode {
        Mode::Register(form) => {
            let r = centered(area, 76, LABELS.len() as u16 * 2 + 3);
            f.render_widget(Clear, r);
            let b = dialog_block(app, "Register a service");
            let inner = b.inner(r);
            f.render_widget(b, r);
            let mut lines = Vec::new();
            let label_w = 10usize;
            let field_w = inner.width.saturating_sub(label_w as u16 + 2) as usize;
            for (i, label) in LABELS.iter().enumerate() {
                let focused = form.focus == i;
                let input = &form.inputs[i];
                let scroll = input.visual_scroll(field_w.saturating_sub(1));
                let shown: String = input.value().chars().skip(scroll).take(field_w).collect();
                let label_style = if focused {
                    Style::default()
                        .fg(app.theme.accent)
                        .add_modifier(Modifier::BOLD)
                } else {
                    Style::default().fg(app.theme.dim)
                };
                let field_style = if focused {
                    Style::default()
                        .bg(app.theme.selected_bg)
                        .fg(app.theme.selected_fg)
                } else {
                    Style::default().bg(app.theme.background).fg(app.theme.text)
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{label:>w$} ", w = label_w - 1), label_style),
                    Span::styled(format!(" {shown:<field_w$}"), field_style),
                ]));
                let note = match &form.errors[i] {
                    Some(e) => Span::styled(
                        format!("{:w$}✗ {e}", "", w = label_w + 1),
                        Style::default().fg(app.theme.error),
                    ),
                    None if focused => Span::styled(
                        format!("{:w$}{}", "", HINTS[i], w = label_w + 1),
                        Style::default().fg(app.theme.dim),
                    ),
                    None => Span::raw(""),
                };
                lines.push(Line::from(note));
            }
            lines.push(Line::from(Span::styled(
                "Tab/Shift-Tab move · Enter register · Esc cancel",
                Style::default().fg(app.theme.dim),
            )));
            f.render_widget(Paragraph::new(lines), inner);
            let input = &form.inputs[form.focus];
            let scroll = input.visual_scroll(field_w.saturating_sub(1));
            let x = inner.x
                + label_w as u16
                + 1
                + (input.visual_cursor().saturating_sub(scroll)) as u16;
            f.set_cursor_position((
                x.min(inner.right().saturating_sub(1)),
                inner.y + form.focus as u16 * 2,
            ));
        }
        Mode::Confirm(prompt, _) => {
            let w = (prompt.chars().count() as u16 + 6).clamp(30, area.width);
            let r = centered(area, w, 5);
            f.render_widget(Clear, r);
            f.render_widget(
                Paragraph::new(vec![
                    Line::from(prompt.clone()),
                    Line::from(""),
                    Line::from(vec![
                        Span::styled(
                            " y ",
                            Style::default()
                                .fg(app.theme.header_bg)
                                .bg(app.theme.critical),
                        ),
                        Span::raw(" yes   "),
                        Span::styled(
                            " n ",
                            Style::default()
                                .fg(app.theme.header_bg)
                                .bg(app.theme.accent),
                        ),
                        Span::raw(" no"),
                    ]),
                ])
                .alignment(Alignment::Center)
                .block(dialog_block(app, "Confirm")),
                r,
            );
        }
        Mode::KvEdit(k, v, focus) => {
            let r = centered(area, 70, 8);
            f.render_widget(Clear, r);
            let b = dialog_block(app, "KV entry");
            let inner = b.inner(r);
            f.render_widget(b, r);
            let w = inner.width.saturating_sub(8) as usize;
            let field = |label: &str, input: &tui_input::Input, on: bool| {
                let scroll = input.visual_scroll(w.saturating_sub(1));
                let shown: String = input.value().chars().skip(scroll).take(w).collect();
                Line::from(vec![
                    Span::styled(
                        format!("{label:>6} "),
                        Style::default().fg(if on { app.theme.accent } else { app.theme.dim }),
                    ),
                    Span::styled(
                        format!("{shown:<w$}"),
                        if on {
                            Style::default()
                                .bg(app.theme.selected_bg)
                                .fg(app.theme.selected_fg)
                        } else {
                            Style::default()
                        },
                    ),
                ])
            };
            f.render_widget(
                Paragraph::new(vec![
                    field("Key", k, *focus == 0),
                    Line::from(""),
                    field("Value", v, *focus == 1),
                    Line::from(""),
                    Line::from(Span::styled(
                        "Tab switch · Enter save · Esc cancel",
                        Style::default().fg(app.theme.dim),
                    )),
                ]),
                inner,
            );
            let input = if *focus == 0 { k } else { v };
            let scroll = input.visual_scroll(w.saturating_sub(1));
            f.set_cursor_position((
                inner.x + 7 + (input.visual_cursor() - scroll) as u16,
                inner.y + *focus as u16 * 2,
            ));
        }
        Mode::Palette(input, _) => {
            let cands = app.completions(input.value());
            if !cands.is_empty() {
                let h = (cands.len().min(8) + 2) as u16;
                let r = Rect::new(
                    area.x,
                    area.bottom().saturating_sub(h + 2),
                    44.min(area.width),
                    h,
                );
                f.render_widget(Clear, r);
                let lines: Vec<Line> = cands
                    .iter()
                    .take(8)
                    .map(|c| {
                        let hint = COMMANDS
                            .iter()
                            .find(|(n, _)| n == c)
                            .map(|(_, h)| *h)
                            .unwrap_or("");
                        Line::from(vec![
                            Span::raw(c.clone()),
                            Span::styled(format!(" {hint}"), Style::default().fg(app.theme.dim)),
                        ])
                    })
                    .collect();
                f.render_widget(
                    Paragraph::new(lines).block(dialog_block(app, "Tab completes")),
                    r,
                );
            }
        }
        Mode::Help => {
            let r = centered(area, 64, 24);
            f.render_widget(Clear, r);
            let k = |key: &str, what: &str| {
                Line::from(vec![
                    Span::styled(
                        format!("{key:>14}  "),
                        Style::default().fg(app.theme.accent),
                    ),
                    Span::raw(what.to_string()),
                ])
            };
            f.render_widget(
                Paragraph::new(vec![
                    k("1-5, Tab", "Services, Members, Raft, KV, Checks"),
                    k("↑↓ j k", "move"),
                    k("g G", "first, last"),
                    k("PgUp PgDn", "page"),
                    k("Enter", "open (service instances, KV folder)"),
                    k("Backspace Esc", "back / up"),
                    k("/", "filter (Enter keeps, Esc clears)"),
                    k(":", "command palette (Tab completes)"),
                    k("r", "register a service"),
                    k("d", "deregister the selected instance"),
                    k("f", "force-leave the selected member"),
                    k("t", "transfer leadership to the selected peer"),
                    k("e n x", "KV: edit, new, delete"),
                    k("l", "show or hide the log"),
                    k("?", "this help"),
                    k("q Ctrl-C", "quit"),
                    Line::from(""),
                    Line::from(Span::styled(
                        ":register [NAME]  :deregister ID  :force-leave NODE",
                        Style::default().fg(app.theme.dim),
                    )),
                    Line::from(Span::styled(
                        ":transfer-leader [ID]  :kv put KEY VALUE  :theme NAME  :quit",
                        Style::default().fg(app.theme.dim),
                    )),
                    Line::from(""),
                    Line::from(Span::styled(
                        "any key closes",
                        Style::default().fg(app.theme.dim),
                    )),
                ])
                .block(dialog_block(app, "Keys")),
                r,
            );
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tui::app::{Action, App, Mode, Update};
    use crate::tui::form::RegisterForm;
    use crate::tui::model::*;
    use crate::tui::theme::Theme;
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;

    /// The screen as text, one line per row (colours are not part of the snapshot).
    fn render(app: &mut App, w: u16, h: u16) -> String {
        let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
        t.draw(|f| draw(f, app)).unwrap();
        let buf = t.backend().buffer().clone();
        let mut out = String::new();
        for y in 0..h {
            let line: String = (0..w).map(|x| buf[(x, y)].symbol().to_string()).collect();
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out
    }

    fn fixture() -> App {
        let mut a = App::new("127.0.0.1:8500", Theme::dark());
        a.apply(Update::Connected(Overview {
            datacenter: "dc1".into(),
            node: "node1".into(),
            server: true,
            version: "1.21.0".into(),
        }));
        let svc = |name: &str, n, p, w, c, tags: &[&str]| ServiceRow {
            name: name.into(),
            instances: n,
            passing: p,
            warning: w,
            critical: c,
            tags: tags.iter().map(|t| t.to_string()).collect(),
        };
        a.services = vec![
            svc("api", 3, 6, 0, 0, &["v2", "public"]),
            svc("consul", 3, 3, 0, 0, &[]),
            svc("db", 2, 3, 0, 1, &["primary"]),
            svc("web", 2, 3, 1, 0, &["v1"]),
        ];
        let m = |name: &str, addr: &str, status: &str, kind: &str| MemberRow {
            name: name.into(),
            address: addr.into(),
            status: status.into(),
            kind: kind.into(),
            build: "1.21.0".into(),
            dc: "dc1".into(),
        };
        a.members = vec![
            m("node1", "127.0.0.1:8301", "alive", "server"),
            m("node2", "127.0.0.1:8311", "alive", "server"),
            m("node3", "127.0.0.1:8321", "alive", "server"),
            m("client1", "127.0.0.1:8331", "failed", "client"),
            m("client2", "127.0.0.1:8341", "left", "client"),
        ];
        let r = |node: &str, id: &str, port: u16, leader: bool, idx: u64| RaftRow {
            node: node.into(),
            id: id.into(),
            address: format!("127.0.0.1:{port}"),
            leader,
            voter: true,
            last_index: idx,
        };
        a.raft = vec![
            r(
                "node1",
                "6a1f0c52-0000-4000-8000-000000000001",
                8300,
                true,
                1042,
            ),
            r(
                "node2",
                "6a1f0c52-0000-4000-8000-000000000002",
                8310,
                false,
                1042,
            ),
            r(
                "node3",
                "6a1f0c52-0000-4000-8000-000000000003",
                8320,
                false,
                1039,
            ),
        ];
        let c =
            |node: &str, id: &str, name: &str, status: &str, svc: &str, kind: &str, out: &str| {
                CheckRow {
                    node: node.into(),
                    id: id.into(),
                    name: name.into(),
                    status: status.into(),
                    output: out.into(),
                    service_id: svc.into(),
                    service_name: svc.into(),
                    kind: kind.into(),
                }
            };
        a.checks = Vec::new();
        a.checks.extend([
            c(
                "node2",
                "service:db",
                "Service 'db' check",
                "critical",
                "db",
                "tcp",
                "dial tcp 127.0.0.1:5432: connect: connection refused",
            ),
            c(
                "node1",
                "service:web",
                "Service 'web' check",
                "warning",
                "web",
                "http",
                "HTTP GET http://127.0.0.1:8080/health: 429 Too Many Requests Output: slow down",
            ),
            c(
                "node1",
                "serfHealth",
                "Serf Health Status",
                "passing",
                "",
                "",
                "Agent alive and reachable",
            ),
            c(
                "node1",
                "service:api",
                "Service 'api' check",
                "passing",
                "api",
                "http",
                "HTTP GET http://127.0.0.1:9000/health: 200 OK Output: ok",
            ),
        ]);
        a.kv_items = kv_keys(&serde_json::json!(["app/", "config/", "feature-flags"]));
        a.kv_value = Some((
            "feature-flags".into(),
            Some(b"{\"dark_mode\": true}".to_vec()),
        ));
        a.problems = (1, 1);
        a.status = Some(("registered web".into(), false));
        a
    }

    #[test]
    fn services_view() {
        let mut a = fixture();
        insta::assert_snapshot!(render(&mut a, 110, 16));
    }

    #[test]
    fn instances_view() {
        let mut a = fixture();
        a.cursor[0] = 2;
        a.on_event(&crossterm::event::Event::Key(
            crossterm::event::KeyCode::Enter.into(),
        ));
        a.apply(Update::Instances("db".into(), crate::tui::model::instances(&serde_json::json!([
            {"Node": {"Node": "node2", "Address": "127.0.0.1"},
             "Service": {"ID": "db-1", "Service": "db", "Port": 5432, "Tags": ["primary"]},
             "Checks": [
                {"Node": "node2", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing", "Output": "Agent alive and reachable"},
                {"Node": "node2", "CheckID": "service:db-1", "Name": "Service 'db' check", "Status": "critical", "Type": "tcp", "Output": "dial tcp 127.0.0.1:5432: connect: connection refused"}]},
            {"Node": {"Node": "node3", "Address": "127.0.0.1"},
             "Service": {"ID": "db-2", "Service": "db", "Address": "10.0.0.7", "Port": 5432, "Tags": []},
             "Checks": [{"Node": "node3", "CheckID": "serfHealth", "Name": "Serf Health Status", "Status": "passing"}]}
        ]))));
        insta::assert_snapshot!(render(&mut a, 110, 20));
    }

    #[test]
    fn members_view() {
        let mut a = fixture();
        a.view = View::Members;
        a.cursor[1] = 3;
        insta::assert_snapshot!(render(&mut a, 100, 14));
    }

    #[test]
    fn raft_view() {
        let mut a = fixture();
        a.view = View::Raft;
        insta::assert_snapshot!(render(&mut a, 120, 12));
    }

    #[test]
    fn kv_view() {
        let mut a = fixture();
        a.view = View::Kv;
        a.cursor[3] = 2;
        insta::assert_snapshot!(render(&mut a, 100, 12));
    }

    #[test]
    fn checks_view_lists_critical_first() {
        let mut a = fixture();
        a.view = View::Checks;
        insta::assert_snapshot!(render(&mut a, 130, 13));
    }

    #[test]
    fn register_form_marks_invalid_fields() {
        let mut a = fixture();
        let mut form = RegisterForm::new();
        form.set(3, "eighty");
        form.set(6, "sometimes");
        assert!(form.submit().is_none());
        a.mode = Mode::Register(Box::new(form));
        insta::assert_snapshot!(render(&mut a, 100, 28));
    }

    #[test]
    fn confirm_dialog() {
        let mut a = fixture();
        a.view = View::Members;
        a.mode = Mode::Confirm(
            "Force-leave member client1?".into(),
            Action::ForceLeave("client1".into()),
        );
        insta::assert_snapshot!(render(&mut a, 100, 14));
    }

    #[test]
    fn help_overlay() {
        let mut a = fixture();
        a.mode = Mode::Help;
        insta::assert_snapshot!(render(&mut a, 100, 30));
    }

    #[test]
    fn palette_with_completions() {
        let mut a = fixture();
        a.mode = Mode::Palette(tui_input::Input::new("tr".into()), 0);
        insta::assert_snapshot!(render(&mut a, 100, 14));
    }

    #[test]
    fn disconnected_banner_and_filter() {
        let mut a = fixture();
        a.apply(Update::Disconnected("connection refused".into()));
        a.filters[0] = "db".into();
        insta::assert_snapshot!(render(&mut a, 100, 12));
    }

    #[test]
    fn the_window_follows_the_selection() {
        assert_eq!(window(100, 0, 10), 0..10);
        assert_eq!(window(100, 9, 10), 0..10);
        assert_eq!(window(100, 10, 10), 1..11);
        assert_eq!(window(5, 4, 10), 0..5);
        assert_eq!(window(0, 0, 10), 0..0);
    }
}
