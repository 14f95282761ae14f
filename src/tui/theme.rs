//! Console colours: `themes/*.toml` (the shipped ones are embedded by [`crate::theme`],
//! which the web UI reads too), resolved to terminal colours.

use ratatui::style::Color;

use crate::theme::{Colour, Named, Role};

pub use crate::theme::BUILTIN;

/// Resolved colours of one theme.
#[derive(Clone, Debug, PartialEq)]
pub struct Theme {
    /// Theme name.
    pub name: String,
    /// Screen background.
    pub background: Color,
    /// Body text.
    pub text: Color,
    /// Secondary text.
    pub dim: Color,
    /// Titles, keys in hints, the active tab.
    pub accent: Color,
    /// Text on accent-coloured chips and buttons (the header's name, footer keys, dialog
    /// buttons), and the background of the header bar and of dialogs, so the chips read as
    /// cut out of them. Theme files call it `on_accent` (or `header_bg`, its older name).
    pub on_accent: Color,
    /// Header foreground.
    pub header_fg: Color,
    /// Borders.
    pub border: Color,
    /// Selected row background.
    pub selected_bg: Color,
    /// Selected row foreground.
    pub selected_fg: Color,
    /// Passing / alive.
    pub passing: Color,
    /// Warning / leaving.
    pub warning: Color,
    /// Critical / failed.
    pub critical: Color,
    /// The Raft leader.
    pub leader: Color,
    /// Status line background.
    pub status_bg: Color,
    /// Status line foreground.
    pub status_fg: Color,
    /// Error messages.
    pub error: Color,
}

/// The terminal colour of a theme colour (`reset` keeps the terminal's own).
fn terminal(c: Colour) -> Color {
    match c {
        Colour::Reset => Color::Reset,
        Colour::Rgb(r, g, b) => Color::Rgb(r, g, b),
        Colour::Named(n) => match n {
            Named::Black => Color::Black,
            Named::Red => Color::Red,
            Named::Green => Color::Green,
            Named::Yellow => Color::Yellow,
            Named::Blue => Color::Blue,
            Named::Magenta => Color::Magenta,
            Named::Cyan => Color::Cyan,
            Named::Gray => Color::Gray,
            Named::DarkGray => Color::DarkGray,
            Named::LightRed => Color::LightRed,
            Named::LightGreen => Color::LightGreen,
            Named::LightYellow => Color::LightYellow,
            Named::LightBlue => Color::LightBlue,
            Named::LightMagenta => Color::LightMagenta,
            Named::LightCyan => Color::LightCyan,
            Named::White => Color::White,
        },
    }
}

/// Parse `#rrggbb`, a colour name, or `reset`.
pub fn parse_color(s: &str) -> Option<Color> {
    crate::theme::parse_colour(s).map(terminal)
}

impl Theme {
    /// Parse a theme file; `fallback_name` names it when the file does not.
    pub fn parse(text: &str, fallback_name: &str) -> Result<Theme, String> {
        let f = crate::theme::parse(text)?;
        let mut t = Theme::dark();
        t.name = f.name.unwrap_or_else(|| fallback_name.to_string());
        for (role, c) in f.colours {
            *t.slot(role) = terminal(c);
        }
        Ok(t)
    }

    /// The colour a role sets.
    fn slot(&mut self, role: Role) -> &mut Color {
        match role {
            Role::Background => &mut self.background,
            Role::Text => &mut self.text,
            Role::Dim => &mut self.dim,
            Role::Accent => &mut self.accent,
            Role::OnAccent => &mut self.on_accent,
            Role::HeaderFg => &mut self.header_fg,
            Role::Border => &mut self.border,
            Role::SelectedBg => &mut self.selected_bg,
            Role::SelectedFg => &mut self.selected_fg,
            Role::Passing => &mut self.passing,
            Role::Warning => &mut self.warning,
            Role::Critical => &mut self.critical,
            Role::Leader => &mut self.leader,
            Role::StatusBg => &mut self.status_bg,
            Role::StatusFg => &mut self.status_fg,
            Role::Error => &mut self.error,
        }
    }

    /// A built-in theme by name, or a theme file by path.
    pub fn load(name_or_path: &str) -> Result<Theme, String> {
        if let Some((name, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Theme::parse(text, name);
        }
        let path = std::path::Path::new(name_or_path);
        if path.exists() {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or(name_or_path);
            return Theme::parse(&text, stem).map_err(|e| format!("{}: {e}", path.display()));
        }
        Err(format!(
            "unknown theme {name_or_path:?} (built in: {}; or a path to a .toml file)",
            BUILTIN
                .iter()
                .map(|(n, _)| *n)
                .collect::<Vec<_>>()
                .join(", ")
        ))
    }

    /// The default theme (hard-coded too, so a broken embedded file cannot leave us without).
    pub fn dark() -> Theme {
        Theme {
            name: "dark".into(),
            background: Color::Reset,
            text: Color::Rgb(0xd0, 0xd4, 0xdc),
            dim: Color::Rgb(0x7a, 0x82, 0x94),
            accent: Color::Rgb(0x6c, 0xb6, 0xff),
            on_accent: Color::Rgb(0x1f, 0x24, 0x30),
            header_fg: Color::Rgb(0xe6, 0xe9, 0xef),
            border: Color::Rgb(0x3b, 0x42, 0x52),
            selected_bg: Color::Rgb(0x2f, 0x3b, 0x54),
            selected_fg: Color::Rgb(0xff, 0xff, 0xff),
            passing: Color::Rgb(0x7c, 0xcf, 0x7c),
            warning: Color::Rgb(0xf0, 0xc0, 0x5a),
            critical: Color::Rgb(0xf0, 0x71, 0x78),
            leader: Color::Rgb(0xc7, 0x92, 0xea),
            status_bg: Color::Rgb(0x1f, 0x24, 0x30),
            status_fg: Color::Rgb(0xc0, 0xc5, 0xce),
            error: Color::Rgb(0xff, 0x6b, 0x6b),
        }
    }

    /// Colour for a check status or health summary.
    pub fn status(&self, status: &str) -> Color {
        match status {
            "passing" | "alive" => self.passing,
            "warning" | "leaving" => self.warning,
            "critical" | "failed" | "maintenance" => self.critical,
            _ => self.dim,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_parse_and_dark_matches_its_file() {
        for (name, text) in BUILTIN {
            let t = Theme::parse(text, name).unwrap();
            assert_eq!(t.name, *name);
        }
        assert_eq!(Theme::load("dark").unwrap(), Theme::dark());
    }

    #[test]
    fn bad_themes_name_the_key() {
        let e = Theme::parse("[colors]\npassing = \"#12\"\n", "x").unwrap_err();
        assert!(e.contains("colors.passing"), "{e}");
        let e = Theme::parse("[colors]\nsparkle = \"red\"\n", "x").unwrap_err();
        assert!(e.contains("colors.sparkle"), "{e}");
        assert!(Theme::load("no-such-theme").is_err());
        assert_eq!(parse_color("#ff0000"), Some(Color::Rgb(255, 0, 0)));
        assert_eq!(parse_color("light-red"), Some(Color::LightRed));
    }

    #[test]
    fn on_accent_is_also_read_under_its_older_name() {
        let old = Theme::parse("[colors]\nheader_bg = \"red\"\n", "x").unwrap();
        let new = Theme::parse("[colors]\non_accent = \"red\"\n", "x").unwrap();
        assert_eq!(old.on_accent, Color::Red);
        assert_eq!(new, old);
    }
}
