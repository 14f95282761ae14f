//! Pieces every view and overlay draws with: the list window, tables with the selected
//! row marked, bordered blocks, dialogs and the one text field.

use ratatui::layout::{Constraint, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Cell, Row, Table};
use tui_input::Input;

use crate::tui::app::App;
use crate::tui::theme::Theme;

/// The rows of a `len`-row list to draw in `height` rows so that `selected` is visible.
pub fn window(len: usize, selected: usize, height: usize) -> std::ops::Range<usize> {
    let height = height.max(1);
    let start = if selected < height {
        0
    } else {
        selected + 1 - height
    };
    start..len.min(start + height)
}

/// A status dot in the status's colour.
pub fn dot(app: &App, status: &str) -> Span<'static> {
    Span::styled("●", Style::default().fg(app.theme.status(status)))
}

/// A bordered list block titled `title`, with the view's filter after it.
pub fn block<'a>(app: &App, title: String) -> Block<'a> {
    let t = &app.theme;
    let filter = app.filter();
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

/// A bordered block with a plain accent title (panes that are not filtered lists).
pub fn pane<'a>(app: &App, title: String) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(app.theme.border))
        .title(Span::styled(title, Style::default().fg(app.theme.accent)))
}

/// A table of `rows` (already windowed) with the header style and the view's block.
pub fn table<'a>(
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

/// The selected row's style when `on`.
pub fn selected_style(app: &App, on: bool) -> Style {
    if on {
        Style::default()
            .fg(app.theme.selected_fg)
            .bg(app.theme.selected_bg)
            .add_modifier(Modifier::BOLD)
    } else {
        Style::default()
    }
}

/// A `width`×`height` rectangle in the middle of `area`.
pub fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect::new(
        area.x + (area.width - w) / 2,
        area.y + (area.height - h) / 2,
        w,
        h,
    )
}

/// The frame of an overlay.
pub fn dialog_block<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_style(Style::default().fg(app.theme.accent))
        .title(Span::styled(
            format!(" {title} "),
            Style::default()
                .fg(app.theme.accent)
                .add_modifier(Modifier::BOLD),
        ))
        .style(Style::default().bg(app.theme.on_accent).fg(app.theme.text))
}

/// A labelled one-line text input, as the register form and the KV editor draw it.
pub struct TextField<'a> {
    /// Label, right-aligned before the field.
    pub label: &'a str,
    /// Columns of the label (the label and one space).
    pub label_width: usize,
    /// The text.
    pub input: &'a Input,
    /// Columns of the field's text.
    pub width: usize,
    /// Has the focus (highlighted, and the terminal cursor sits in it).
    pub focused: bool,
}

impl TextField<'_> {
    /// How far the text is scrolled so the cursor stays in view.
    fn scroll(&self) -> usize {
        self.input.visual_scroll(self.width.saturating_sub(1))
    }

    /// The field as one line.
    pub fn line(&self, t: &Theme) -> Line<'static> {
        let shown: String = self
            .input
            .value()
            .chars()
            .skip(self.scroll())
            .take(self.width)
            .collect();
        let (label_style, field_style) = if self.focused {
            (
                Style::default().fg(t.accent).add_modifier(Modifier::BOLD),
                Style::default().bg(t.selected_bg).fg(t.selected_fg),
            )
        } else {
            (
                Style::default().fg(t.dim),
                Style::default().bg(t.background).fg(t.text),
            )
        };
        Line::from(vec![
            Span::styled(
                format!("{:>w$} ", self.label, w = self.label_width - 1),
                label_style,
            ),
            Span::styled(format!(" {shown:<w$}", w = self.width), field_style),
        ])
    }

    /// Column of the terminal cursor, counted from the line's start.
    pub fn cursor_column(&self) -> u16 {
        (self.label_width + 1 + self.input.visual_cursor().saturating_sub(self.scroll())) as u16
    }
}
