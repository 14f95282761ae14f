//! The web UI's settings: Consul's `ui_config` block, its older top-level keys (`ui`,
//! `ui_dir`, `ui_content_path`) and the `-ui*` flags all land here.

use std::path::PathBuf;

/// Where the UI is mounted unless `content_path` says otherwise.
pub const DEFAULT_CONTENT_PATH: &str = "/ui/";

/// Whether and how the agent serves its web UI.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UiConfig {
    /// `ui_config.enabled` (also `ui` and `-ui`).
    pub enabled: bool,
    /// Serve this directory's files instead of the built-in UI (`ui_config.dir`, `ui_dir`,
    /// `-ui-dir`); setting it turns the UI on, as in Consul.
    pub dir: Option<PathBuf>,
    /// The path the UI lives under: begins and ends with `/`, never `/` alone and never
    /// under `/v1/` (see [`content_path`]).
    pub content_path: String,
}

impl Default for UiConfig {
    fn default() -> Self {
        UiConfig {
            enabled: false,
            dir: None,
            content_path: DEFAULT_CONTENT_PATH.into(),
        }
    }
}

impl UiConfig {
    /// Whether the UI is served: enabled, or given a directory.
    pub fn served(&self) -> bool {
        self.enabled || self.dir.is_some()
    }
}

/// Normalise a configured content path the way Consul does (`ui` → `/ui/`, empty → the
/// default), refusing what would shadow the API or could not be written into the page's
/// `<base href>` and a `Location` header unescaped. The error says what is wrong; the
/// caller names the key or flag.
pub fn content_path(raw: &str) -> Result<String, String> {
    let trimmed = raw.trim().trim_matches('/');
    if raw.trim().is_empty() {
        return Ok(DEFAULT_CONTENT_PATH.into());
    }
    if trimmed.is_empty() {
        return Err(format!(
            "{raw:?} would put the UI over the whole HTTP API; use a path such as \"/ui/\""
        ));
    }
    let path = format!("/{trimmed}/");
    if path.starts_with("/v1/") {
        return Err(format!(
            "{raw:?} is under /v1/, which belongs to the HTTP API"
        ));
    }
    if let Some(c) = trimmed
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || "-._~/".contains(*c)))
    {
        return Err(format!(
            "{raw:?} contains {c:?}; use letters, digits, '-', '.', '_', '~' and '/'"
        ));
    }
    if trimmed
        .split('/')
        .any(|seg| seg.is_empty() || seg == "." || seg == "..")
    {
        return Err(format!("{raw:?} has an empty, '.' or '..' segment"));
    }
    Ok(path)
}
