//! The colour themes shared by the console and the web UI: the shipped `themes/*.toml`
//! embedded, their colour syntax and the roles a theme sets. Pure data, so both front ends
//! read the same files without depending on each other; each turns a [`Colour`] into its
//! own kind (a terminal colour, a CSS value).

use std::collections::BTreeMap;

use serde::Deserialize;

/// Themes built into the binary, by name.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../themes/dark.toml")),
    ("light", include_str!("../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../themes/high-contrast.toml"),
    ),
];

/// A colour as a theme file writes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Colour {
    /// `reset` (or `default`): whatever the surface's own colour is.
    Reset,
    /// One of the sixteen terminal colours, by name.
    Named(Named),
    /// `#rrggbb`.
    Rgb(u8, u8, u8),
}

/// The sixteen terminal colours a theme may name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum Named {
    Black,
    Red,
    Green,
    Yellow,
    Blue,
    Magenta,
    Cyan,
    Gray,
    DarkGray,
    LightRed,
    LightGreen,
    LightYellow,
    LightBlue,
    LightMagenta,
    LightCyan,
    White,
}

/// What a colour is used for. Every theme sets the same roles, so the console and the
/// web UI can both be driven by one file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    /// Screen or page background.
    Background,
    /// Body text.
    Text,
    /// Secondary text.
    Dim,
    /// Titles, keys in hints, the active tab.
    Accent,
    /// Text on accent-coloured chips, and the header bar's background (`on_accent`, or
    /// `header_bg`, its older name).
    OnAccent,
    /// Header foreground.
    HeaderFg,
    /// Borders.
    Border,
    /// Selected row background.
    SelectedBg,
    /// Selected row foreground.
    SelectedFg,
    /// Passing / alive.
    Passing,
    /// Warning / leaving.
    Warning,
    /// Critical / failed.
    Critical,
    /// The Raft leader.
    Leader,
    /// Status line background.
    StatusBg,
    /// Status line foreground.
    StatusFg,
    /// Error messages.
    Error,
}

impl Role {
    /// Every role, in the order theme files list them.
    pub const ALL: [Role; 16] = [
        Role::Background,
        Role::Text,
        Role::Dim,
        Role::Accent,
        Role::OnAccent,
        Role::HeaderFg,
        Role::Border,
        Role::SelectedBg,
        Role::SelectedFg,
        Role::Passing,
        Role::Warning,
        Role::Critical,
        Role::Leader,
        Role::StatusBg,
        Role::StatusFg,
        Role::Error,
    ];

    /// The role's key under `[colors]`.
    pub fn key(self) -> &'static str {
        match self {
            Role::Background => "background",
            Role::Text => "text",
            Role::Dim => "dim",
            Role::Accent => "accent",
            Role::OnAccent => "on_accent",
            Role::HeaderFg => "header_fg",
            Role::Border => "border",
            Role::SelectedBg => "selected_bg",
            Role::SelectedFg => "selected_fg",
            Role::Passing => "passing",
            Role::Warning => "warning",
            Role::Critical => "critical",
            Role::Leader => "leader",
            Role::StatusBg => "status_bg",
            Role::StatusFg => "status_fg",
            Role::Error => "error",
        }
    }

    /// The role a `[colors]` key sets (older names included).
    pub fn from_key(key: &str) -> Option<Role> {
        if key == "header_bg" {
            return Some(Role::OnAccent);
        }
        Role::ALL.into_iter().find(|r| r.key() == key)
    }

    /// Whether the role colours a surface rather than text drawn on one (what `reset`
    /// means depends on it).
    pub fn is_surface(self) -> bool {
        matches!(
            self,
            Role::Background | Role::OnAccent | Role::SelectedBg | Role::StatusBg
        )
    }
}

/// Parse `#rrggbb`, a colour name (case, `-`, `_` and spaces ignored), or `reset`.
pub fn parse_colour(s: &str) -> Option<Colour> {
    let s = s.trim();
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() != 6 {
            return None;
        }
        let v = u32::from_str_radix(hex, 16).ok()?;
        return Some(Colour::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
    }
    let named = match s.to_ascii_lowercase().replace(['-', '_', ' '], "").as_str() {
        "reset" | "default" => return Some(Colour::Reset),
        "black" => Named::Black,
        "red" => Named::Red,
        "green" => Named::Green,
        "yellow" => Named::Yellow,
        "blue" => Named::Blue,
        "magenta" => Named::Magenta,
        "cyan" => Named::Cyan,
        "gray" | "grey" => Named::Gray,
        "darkgray" | "darkgrey" => Named::DarkGray,
        "lightred" => Named::LightRed,
        "lightgreen" => Named::LightGreen,
        "lightyellow" => Named::LightYellow,
        "lightblue" => Named::LightBlue,
        "lightmagenta" => Named::LightMagenta,
        "lightcyan" => Named::LightCyan,
        "white" => Named::White,
        _ => return None,
    };
    Some(Colour::Named(named))
}

/// One theme file as written: its name, if it gives one, and the roles it sets, in key
/// order. Roles it leaves out keep the reader's defaults.
#[derive(Clone, Debug, PartialEq)]
pub struct ThemeFile {
    /// `name = "..."`.
    pub name: Option<String>,
    /// `[colors]`.
    pub colours: Vec<(Role, Colour)>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    name: Option<String>,
    colors: BTreeMap<String, String>,
}

/// Parse a theme file; errors name the key (`colors.<key>`).
pub fn parse(text: &str) -> Result<ThemeFile, String> {
    let f: RawFile = toml::from_str(text).map_err(|e| e.to_string())?;
    let mut colours = Vec::with_capacity(f.colors.len());
    for (key, value) in &f.colors {
        let c = parse_colour(value)
            .ok_or_else(|| format!("colors.{key}: {value:?} is not a colour"))?;
        let role =
            Role::from_key(key).ok_or_else(|| format!("colors.{key}: unknown colour key"))?;
        colours.push((role, c));
    }
    Ok(ThemeFile {
        name: f.name,
        colours,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_themes_set_every_role() {
        for (name, text) in BUILTIN {
            let f = parse(text).unwrap();
            assert_eq!(f.name.as_deref(), Some(*name));
            for role in Role::ALL {
                assert!(
                    f.colours.iter().any(|(r, _)| *r == role),
                    "{name} leaves {} unset",
                    role.key()
                );
            }
        }
    }

    #[test]
    fn colours_and_keys() {
        assert_eq!(parse_colour("#0a0B0c"), Some(Colour::Rgb(10, 11, 12)));
        assert_eq!(
            parse_colour("Light_Cyan"),
            Some(Colour::Named(Named::LightCyan))
        );
        assert_eq!(parse_colour("default"), Some(Colour::Reset));
        assert_eq!(parse_colour("#abc"), None);
        assert_eq!(Role::from_key("header_bg"), Some(Role::OnAccent));
        assert_eq!(Role::from_key("sparkle"), None);
    }
}
