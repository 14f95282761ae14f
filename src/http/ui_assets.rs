//! The web UI's files, compiled into the binary so the agent serves its UI with nothing
//! installed beside it, and the stylesheet of theme colours built from the console's own
//! theme files (one palette for both front ends).

use std::fmt::Write as _;

use crate::theme::{self, Colour, Named, Role};

/// `text/javascript` for every module.
const JS: &str = "text/javascript; charset=utf-8";

/// Every file of `src/webui/`: name under the content path, bytes, `Content-Type`. A test
/// checks it against the folder both ways.
pub const ASSETS: &[(&str, &[u8], &str)] = &[
    (
        "index.html",
        include_bytes!("../webui/index.html"),
        "text/html; charset=utf-8",
    ),
    (
        "style.css",
        include_bytes!("../webui/style.css"),
        "text/css; charset=utf-8",
    ),
    ("app.js", include_bytes!("../webui/app.js"), JS),
    ("api.js", include_bytes!("../webui/api.js"), JS),
    ("dom.js", include_bytes!("../webui/dom.js"), JS),
    ("views.js", include_bytes!("../webui/views.js"), JS),
    ("kv.js", include_bytes!("../webui/kv.js"), JS),
    ("cluster.js", include_bytes!("../webui/cluster.js"), JS),
    (
        "favicon.svg",
        include_bytes!("../webui/favicon.svg"),
        "image/svg+xml",
    ),
];

/// The name the generated stylesheet is served under.
pub const THEME_CSS: &str = "theme.css";

/// What a page-level `reset` becomes in one theme: the page colour for surfaces and its
/// opposite for text (a browser has no "terminal's own colour" to fall back on).
struct Resets {
    surface: &'static str,
    text: &'static str,
}

fn resets(theme: &str) -> Resets {
    match theme {
        "light" => Resets {
            surface: "#ffffff",
            text: "#1a1d24",
        },
        "high-contrast" => Resets {
            surface: "#000000",
            text: "#ffffff",
        },
        _ => Resets {
            surface: "#1a1d24",
            text: "#ffffff",
        },
    }
}

/// Fixed values of the terminal colour names (xterm's default palette).
fn named_hex(n: Named) -> &'static str {
    match n {
        Named::Black => "#000000",
        Named::Red => "#cd0000",
        Named::Green => "#00cd00",
        Named::Yellow => "#cdcd00",
        Named::Blue => "#0000ee",
        Named::Magenta => "#cd00cd",
        Named::Cyan => "#00cdcd",
        Named::Gray => "#e5e5e5",
        Named::DarkGray => "#7f7f7f",
        Named::LightRed => "#ff0000",
        Named::LightGreen => "#00ff00",
        Named::LightYellow => "#ffff00",
        Named::LightBlue => "#5c5cff",
        Named::LightMagenta => "#ff00ff",
        Named::LightCyan => "#00ffff",
        Named::White => "#ffffff",
    }
}

fn css_value(c: Colour, role: Role, r: &Resets) -> String {
    match c {
        Colour::Reset if role.is_surface() => r.surface.to_string(),
        Colour::Reset => r.text.to_string(),
        Colour::Named(n) => named_hex(n).to_string(),
        Colour::Rgb(red, green, blue) => format!("#{red:02x}{green:02x}{blue:02x}"),
    }
}

/// One theme's declarations: `--background:#…;--text:#…;…`, every role in file order.
/// A role the file leaves out takes the built-in dark theme's value, as in the console.
fn declarations(name: &str, text: &str, fallback: &[(Role, Colour)]) -> Result<String, String> {
    let file = theme::parse(text).map_err(|e| format!("theme {name}: {e}"))?;
    let r = resets(name);
    let mut out = String::new();
    for role in Role::ALL {
        let c = file
            .colours
            .iter()
            .chain(fallback)
            .find(|(x, _)| *x == role)
            .map_or(Colour::Reset, |(_, c)| *c);
        let var = role.key().replace('_', "-");
        let _ = write!(out, "--{var}:{};", css_value(c, role, &r));
    }
    Ok(out)
}

/// `theme.css`: each built-in theme under `:root[data-theme="<name>"]`, and with no
/// `data-theme` the light one when the browser prefers light, else the dark one.
pub fn theme_css() -> Result<String, String> {
    let dark_file = theme::BUILTIN
        .iter()
        .find(|(n, _)| *n == "dark")
        .map(|(_, t)| theme::parse(t))
        .transpose()?
        .map(|f| f.colours)
        .unwrap_or_default();
    let mut by_name = Vec::new();
    for (name, text) in theme::BUILTIN {
        by_name.push((*name, declarations(name, text, &dark_file)?));
    }
    let find = |n: &str| {
        by_name
            .iter()
            .find(|(name, _)| *name == n)
            .map(|(_, d)| d.as_str())
            .unwrap_or_default()
    };
    let mut css = String::from("/* disco theme colours, generated from the console themes */\n");
    for (name, decls) in &by_name {
        let _ = writeln!(css, ":root[data-theme=\"{name}\"]{{{decls}}}");
    }
    let _ = writeln!(css, ":root:not([data-theme]){{{}}}", find("dark"));
    let _ = writeln!(
        css,
        "@media (prefers-color-scheme: light){{:root:not([data-theme]){{{}}}}}",
        find("light")
    );
    Ok(css)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every file under `src/webui/`, relative, with `/` between folders.
    fn files_on_disk() -> Vec<String> {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/webui");
        let mut out = Vec::new();
        let mut dirs = vec![root.clone()];
        while let Some(d) = dirs.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    dirs.push(p);
                } else {
                    let rel = p.strip_prefix(&root).unwrap();
                    out.push(rel.to_string_lossy().replace('\\', "/"));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn the_table_and_the_folder_agree_and_stay_small() {
        let disk = files_on_disk();
        let mut table: Vec<String> = ASSETS.iter().map(|(n, _, _)| n.to_string()).collect();
        table.sort();
        for f in &disk {
            assert!(table.contains(f), "src/webui/{f} is not in ASSETS");
        }
        for f in &table {
            assert!(disk.contains(f), "ASSETS lists {f}, which src/webui/ lacks");
        }
        let css = theme_css().unwrap();
        let total: usize = ASSETS.iter().map(|(_, b, _)| b.len()).sum::<usize>() + css.len();
        assert!(total < 204_800, "the embedded UI is {total} bytes");
        assert!(!ASSETS.iter().any(|(n, _, _)| *n == THEME_CSS));
    }

    #[test]
    fn theme_css_sets_every_role_of_every_theme() {
        let css = theme_css().unwrap();
        for sel in [
            r#":root[data-theme="dark"]{"#,
            r#":root[data-theme="light"]{"#,
            r#":root[data-theme="high-contrast"]{"#,
            ":root:not([data-theme]){",
            "@media (prefers-color-scheme: light){:root:not([data-theme]){",
        ] {
            let start = css.find(sel).unwrap_or_else(|| panic!("{sel} missing"));
            let block = &css[start + sel.len()..];
            let block = &block[..block.find('}').unwrap()];
            for role in Role::ALL {
                let var = format!("--{}:#", role.key().replace('_', "-"));
                assert!(block.contains(&var), "{sel} lacks {var}: {block}");
            }
        }
        // `reset` backgrounds become page colours; names become fixed values.
        assert!(css.contains(r#":root[data-theme="dark"]{--background:#1a1d24;--text:#d0d4dc;"#));
        assert!(css.contains(r#":root[data-theme="light"]{--background:#ffffff;"#));
        assert!(
            css.contains(
                r#":root[data-theme="high-contrast"]{--background:#000000;--text:#ffffff;"#
            )
        );
        assert!(css.contains("--critical:#ff0000;"));
    }

    #[test]
    fn a_reset_text_colour_is_the_opposite_of_the_page() {
        let d = declarations("light", "[colors]\ntext = \"reset\"\n", &[]).unwrap();
        assert!(
            d.contains("--text:#1a1d24;") && d.contains("--background:#ffffff;"),
            "{d}"
        );
        let d = declarations("dark", "[colors]\ntext = \"reset\"\n", &[]).unwrap();
        assert!(
            d.contains("--text:#ffffff;") && d.contains("--background:#1a1d24;"),
            "{d}"
        );
    }
}
