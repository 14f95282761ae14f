//! The web UI: the page at `/`, the files under the content path, and what the UI reads
//! that the public API lacks (`/v1/internal/ui/services`, `nodes`, `node/<name>`).
//!
//! The files are compiled in (`ui_assets.rs`) or read from `ui_config.dir`. Each answer
//! carries a strict Content-Security-Policy and an ETag, and no CORS headers, so another
//! site's page can neither frame the UI nor script the API through it.

use std::path::{Component, Path, PathBuf};
use std::sync::OnceLock;

use axum::body::{Body, Bytes};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;

use super::ApiError;
use super::blocking::{read, to_json};
use super::convert::{check_out, node_service_out};
use super::query::{Query, filter_error};
use super::respond::text;
use super::ui_assets::{ASSETS, THEME_CSS, theme_css};
use crate::acl;
use crate::agent::Agent;
use crate::api::output::NodeInfoOut;
use crate::config::UiConfig;
use crate::state::{Node, Store, Table, Watch};

/// `GET /v1/internal/ui/services`: one summary per service name (instances, nodes, check
/// counts), the list Consul's web UI and `disco tui` show. Blocking on every catalog table.
pub async fn services(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let dc = agent.cfg.datacenter.clone();
    let filter = q.filter()?;
    read(
        agent,
        q,
        Watch::Tables(&[Table::Services, Table::Checks, Table::Nodes]),
        |s| {
            let mut list: Vec<UiService<'_>> = s
                // Only the instances the token may see count, node and service both (Consul
                // filters the instances before it sums them).
                .service_summaries(|svc| q.authz.keep_instance(&svc.node, &svc.service))
                .into_iter()
                .map(|x| UiService {
                    kind: (!x.kind.is_empty()).then_some(x.kind),
                    name: x.name,
                    datacenter: &dc,
                    tags: x.tags,
                    nodes: x.nodes,
                    external_sources: [],
                    instance_count: x.instances,
                    checks_passing: x.passing,
                    checks_warning: x.warning,
                    checks_critical: x.critical,
                })
                .collect();
            if let Some(f) = &filter {
                f.retain(&mut list).map_err(filter_error)?;
            }
            Ok((StatusCode::OK, to_json(&list)?))
        },
    )
    .await
}

/// One entry of `/v1/internal/ui/services`, serialized straight from the summary (a
/// `serde_json::Value` per row cost four times the time of the whole answer).
#[derive(serde::Serialize)]
#[serde(rename_all = "PascalCase")]
struct UiService<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    kind: Option<&'a str>,
    name: &'a str,
    datacenter: &'a str,
    tags: std::collections::BTreeSet<&'a str>,
    nodes: std::collections::BTreeSet<&'a str>,
    external_sources: [&'a str; 0],
    instance_count: u64,
    checks_passing: u64,
    checks_warning: u64,
    checks_critical: u64,
}

/// The tables a node's page depends on.
const NODE_TABLES: &[Table] = &[Table::Nodes, Table::Services, Table::Checks];

/// A node with the services and checks the caller may read (Consul's `filterNodeDump`).
fn node_info<'s>(s: &'s Store, n: &'s Node, q: &Query) -> NodeInfoOut<'s> {
    NodeInfoOut {
        id: &n.id,
        node: &n.node,
        address: &n.address,
        datacenter: &n.datacenter,
        tagged_addresses: &n.tagged_addresses,
        meta: &n.meta,
        services: s
            .node_services(&n.node)
            .into_iter()
            .filter(|svc| q.authz.keep(acl::Resource::Service, &svc.service))
            .map(node_service_out)
            .collect(),
        checks: s
            .node_checks(&n.node)
            .into_iter()
            .filter(|c| q.authz.keep_check(&c.node, &c.service_name))
            .map(check_out)
            .collect(),
    }
}

/// `GET /v1/internal/ui/nodes`: every node with its services and checks, by name, so the
/// UI's node list is one blocking query. `?filter=` applies to each entry.
pub async fn nodes(agent: &Agent, q: &Query) -> Result<Response, ApiError> {
    let filter = q.filter()?;
    read(agent, q, Watch::Tables(NODE_TABLES), |s| {
        let mut list: Vec<_> = s
            .nodes()
            .into_iter()
            .filter(|n| q.authz.keep(acl::Resource::Node, &n.node))
            .map(|n| node_info(s, n, q))
            .collect();
        if let Some(f) = &filter {
            f.retain(&mut list).map_err(filter_error)?;
        }
        Ok((StatusCode::OK, to_json(&list)?))
    })
    .await
}

/// `GET /v1/internal/ui/node/<name>`: one node as in [`nodes`]; an unknown node (or one the
/// caller may not read) is a 404 with an empty body, as in Consul.
pub async fn node(agent: &Agent, name: &str, q: &Query) -> Result<Response, ApiError> {
    read(agent, q, Watch::Tables(NODE_TABLES), |s| {
        match s
            .node(name)
            .filter(|_| q.authz.keep(acl::Resource::Node, name))
        {
            Some(n) => Ok((StatusCode::OK, to_json(&node_info(s, n, q))?)),
            None => Ok((StatusCode::NOT_FOUND, Vec::new())),
        }
    })
    .await
}

/// What an `index.html` (the built-in one, or one in `ui_config.dir`) carries where the
/// content path goes (`<base href>`).
const PLACEHOLDER: &[u8] = b"__DISCO_CONTENT_PATH__";

/// The policy of every UI answer: the UI's own files only, no inline script or style, no
/// framing, no form posts elsewhere.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";

/// One file as served: its bytes, type and entity tag, computed once.
#[derive(Clone, Debug)]
struct Asset {
    bytes: Bytes,
    content_type: &'static str,
    etag: HeaderValue,
}

impl Asset {
    fn new(bytes: Bytes, content_type: &'static str) -> Asset {
        use std::hash::{Hash, Hasher};
        // Fixed keys: the same bytes get the same tag on every agent of one build.
        let mut h = std::hash::DefaultHasher::new();
        bytes.hash(&mut h);
        let tag = format!("\"{:016x}-{:x}\"", h.finish(), bytes.len());
        Asset {
            bytes,
            content_type,
            etag: HeaderValue::from_str(&tag).unwrap_or(HeaderValue::from_static("\"0\"")),
        }
    }

    fn response(&self) -> Response {
        let mut r = Response::new(Body::from(self.bytes.clone()));
        let h = r.headers_mut();
        h.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        h.insert(header::ETAG, self.etag.clone());
        secure(r)
    }
}

/// The compiled-in files but `index.html` (which depends on the content path), and the
/// generated `theme.css`; built on first use, shared by every agent in the process.
fn embedded() -> &'static [(&'static str, Asset)] {
    static FILES: OnceLock<Vec<(&'static str, Asset)>> = OnceLock::new();
    FILES.get_or_init(|| {
        let css = theme_css().unwrap_or_else(|e| {
            tracing::warn!("web UI: no theme colours: {e}");
            format!("/* {e} */\n")
        });
        ASSETS
            .iter()
            .filter(|(name, _, _)| *name != "index.html")
            .map(|(name, bytes, ct)| (*name, Asset::new(Bytes::from_static(bytes), ct)))
            .chain([(
                THEME_CSS,
                Asset::new(Bytes::from(css), "text/css; charset=utf-8"),
            )])
            .collect()
    })
}

/// `index.html` with the content path written in.
fn render_index(raw: &[u8], content_path: &str) -> Bytes {
    let mut out = Vec::with_capacity(raw.len() + 16);
    let mut rest = raw;
    while let Some(at) = rest
        .windows(PLACEHOLDER.len())
        .position(|w| w == PLACEHOLDER)
    {
        out.extend_from_slice(&rest[..at]);
        out.extend_from_slice(content_path.as_bytes());
        rest = &rest[at + PLACEHOLDER.len()..];
    }
    out.extend_from_slice(rest);
    Bytes::from(out)
}

/// Where the UI's files come from.
#[derive(Debug)]
enum Files {
    /// The compiled-in ones; `index.html` already rendered for the content path.
    Embedded { index: Asset },
    /// `ui_config.dir`, read at each request so edits show without a restart.
    Dir(PathBuf),
}

/// The web UI as one agent serves it, prepared once at start.
#[derive(Debug)]
pub struct Site {
    /// `None` when the UI is off.
    mount: Option<(String, Files)>,
}

impl Site {
    /// The UI `cfg` describes.
    pub fn new(cfg: &UiConfig) -> Site {
        if !cfg.served() {
            return Site::off();
        }
        let files = match &cfg.dir {
            Some(dir) => Files::Dir(dir.clone()),
            None => {
                let raw = ASSETS
                    .iter()
                    .find(|(name, _, _)| *name == "index.html")
                    .map_or(&[][..], |(_, bytes, _)| *bytes);
                Files::Embedded {
                    index: Asset::new(
                        render_index(raw, &cfg.content_path),
                        "text/html; charset=utf-8",
                    ),
                }
            }
        };
        Site {
            mount: Some((cfg.content_path.clone(), files)),
        }
    }

    /// No UI (calls that arrive over the server RPC never ask for one).
    pub fn off() -> Site {
        Site { mount: None }
    }

    /// The content path, when the UI is on (`/ui/` unless configured).
    pub fn mount(&self) -> Option<&str> {
        self.mount.as_ref().map(|(path, _)| path.as_str())
    }
}

/// Add the headers every UI answer carries.
fn secure(mut r: Response) -> Response {
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    r
}

/// A 301 to the content path.
fn moved(to: &str) -> Response {
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::MOVED_PERMANENTLY;
    if let Ok(v) = HeaderValue::from_str(to) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    secure(r)
}

/// `/`, any method: to the UI when it is on, else Consul's "UI disabled" text, which tools
/// probe for.
pub fn root(site: &Site) -> Response {
    match site.mount() {
        Some(path) => moved(path),
        None => text(
            StatusCode::OK,
            "Consul Agent: UI disabled. To enable, set ui_config.enabled=true in the agent configuration and restart.",
        ),
    }
}

/// The content path without its final `/`: to the content path, as Go's mux does.
pub fn redirect(site: &Site) -> Response {
    match site.mount() {
        Some(path) => moved(path),
        None => text(StatusCode::NOT_FOUND, "404 page not found"),
    }
}

/// `GET`/`HEAD` of `file` under the content path: the named file, else `index.html`, so a
/// deep link (`/ui/services/web`) opens the app on that page.
pub async fn page(site: &Site, file: &str) -> Response {
    match &site.mount {
        None => text(StatusCode::NOT_FOUND, "404 page not found"),
        Some((_, Files::Embedded { index })) => embedded()
            .iter()
            .find(|(name, _)| *name == file)
            .map_or(index, |(_, a)| a)
            .response(),
        Some((path, Files::Dir(dir))) => from_dir(dir, path, file).await,
    }
}

/// 404 under the content path.
fn missing() -> Response {
    secure(text(StatusCode::NOT_FOUND, "404 page not found"))
}

/// What a path in `ui_config.dir` turned out to be.
enum Found {
    /// A regular file inside the directory (its real path).
    File(PathBuf),
    /// Something that resolves outside the directory (a symbolic link out of it).
    Outside,
    /// Nothing, or not a regular file.
    Nothing,
}

async fn find(root: &Path, p: &Path) -> Found {
    match tokio::fs::canonicalize(p).await {
        Err(_) => Found::Nothing,
        Ok(real) if !real.starts_with(root) => Found::Outside,
        Ok(real) => match tokio::fs::metadata(&real).await {
            Ok(m) if m.is_file() => Found::File(real),
            _ => Found::Nothing,
        },
    }
}

/// A file of `ui_config.dir`; an `index.html` gets the content path written in.
async fn serve_file(real: &Path, content_path: &str) -> Response {
    let Ok(bytes) = tokio::fs::read(real).await else {
        return missing();
    };
    let bytes = if real.file_name().is_some_and(|n| n == "index.html") {
        render_index(&bytes, content_path)
    } else {
        Bytes::from(bytes)
    };
    Asset::new(bytes, content_type(real)).response()
}

/// `file` from `ui_config.dir`. Nothing outside the directory is served, symbolic links
/// included; without an `index.html` there the files are served as they are and anything
/// else is a 404.
async fn from_dir(dir: &Path, content_path: &str, file: &str) -> Response {
    let Ok(root) = tokio::fs::canonicalize(dir).await else {
        return missing();
    };
    let rel = Path::new(file);
    if rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return missing();
    }
    if !file.is_empty() {
        match find(&root, &root.join(rel)).await {
            Found::Outside => return missing(),
            Found::File(real) => return serve_file(&real, content_path).await,
            Found::Nothing => {}
        }
    }
    // The console's colours stay available to a page of one's own (and to the built-in
    // page served from its source folder) unless the directory brings its own.
    if file == THEME_CSS
        && let Some((_, css)) = embedded().iter().find(|(name, _)| *name == THEME_CSS)
    {
        return css.response();
    }
    match find(&root, &root.join("index.html")).await {
        Found::File(real) => serve_file(&real, content_path).await,
        _ => missing(),
    }
}

/// The `Content-Type` of a file in `ui_config.dir`, by its extension.
fn content_type(p: &Path) -> &'static str {
    let ext = p
        .extension()
        .and_then(|e| e.to_str())
        .map(str::to_ascii_lowercase)
        .unwrap_or_default();
    match ext.as_str() {
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "json" | "map" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "ico" => "image/x-icon",
        "woff" => "font/woff",
        "woff2" => "font/woff2",
        "ttf" => "font/ttf",
        "otf" => "font/otf",
        "wasm" => "application/wasm",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ui(content_path: &str, dir: Option<PathBuf>) -> Site {
        Site::new(&UiConfig {
            enabled: true,
            dir,
            content_path: content_path.into(),
        })
    }

    async fn body(r: Response) -> String {
        let b = axum::body::to_bytes(r.into_body(), usize::MAX)
            .await
            .unwrap();
        String::from_utf8_lossy(&b).into_owned()
    }

    #[test]
    fn index_gets_the_content_path_once_per_site() {
        let raw = b"<base href=\"__DISCO_CONTENT_PATH__\"><a>__DISCO_CONTENT_PATH__x</a>";
        assert_eq!(
            &render_index(raw, "/c/")[..],
            b"<base href=\"/c/\"><a>/c/x</a>"
        );
        let Some((_, Files::Embedded { index })) = &ui("/console/", None).mount else {
            panic!("embedded");
        };
        let html = String::from_utf8_lossy(&index.bytes);
        assert!(html.contains("<base href=\"/console/\">"), "{html}");
        assert!(!html.contains("__DISCO_CONTENT_PATH__"));
    }

    #[tokio::test]
    async fn embedded_files_deep_links_and_headers() {
        let site = ui("/ui/", None);
        for (file, ct) in [
            ("app.js", "text/javascript; charset=utf-8"),
            ("theme.css", "text/css; charset=utf-8"),
            ("favicon.svg", "image/svg+xml"),
            ("", "text/html; charset=utf-8"),
            ("services/web", "text/html; charset=utf-8"),
            ("no-such.js", "text/html; charset=utf-8"),
        ] {
            let r = page(&site, file).await;
            assert_eq!(r.status(), StatusCode::OK, "{file}");
            let h = r.headers();
            assert_eq!(h[header::CONTENT_TYPE], ct, "{file}");
            assert_eq!(h[header::CONTENT_SECURITY_POLICY], CSP);
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
            assert_eq!(h[header::X_FRAME_OPTIONS], "DENY");
            assert_eq!(h[header::REFERRER_POLICY], "no-referrer");
            assert_eq!(h[header::CACHE_CONTROL], "no-cache");
            assert!(h.contains_key(header::ETAG));
            assert!(!h.contains_key(header::ACCESS_CONTROL_ALLOW_ORIGIN));
        }
        let a = page(&site, "app.js").await.headers()[header::ETAG].clone();
        let b = page(&site, "app.js").await.headers()[header::ETAG].clone();
        let i = page(&site, "").await.headers()[header::ETAG].clone();
        assert_eq!(a, b);
        assert_ne!(a, i);
        let r = root(&site);
        assert_eq!(r.status(), StatusCode::MOVED_PERMANENTLY);
        assert_eq!(r.headers()[header::LOCATION], "/ui/");
        let off = Site::new(&UiConfig::default());
        assert_eq!(off.mount(), None);
        assert!(
            body(root(&off))
                .await
                .starts_with("Consul Agent: UI disabled.")
        );
    }

    #[tokio::test]
    async fn a_directory_is_served_without_escaping_it() {
        let base = std::env::temp_dir().join(format!("disco-ui-dir-{}", std::process::id()));
        let dir = base.join("site");
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(dir.join("css")).unwrap();
        std::fs::write(base.join("secret.txt"), "outside").unwrap();
        std::fs::write(dir.join("css/a.css"), "body{}").unwrap();
        std::os::unix::fs::symlink(base.join("secret.txt"), dir.join("link.txt")).unwrap();
        let site = ui("/x/", Some(dir.clone()));
        // No index.html: files as they are, anything else 404.
        let r = page(&site, "css/a.css").await;
        assert_eq!(r.status(), StatusCode::OK);
        assert_eq!(r.headers()[header::CONTENT_TYPE], "text/css; charset=utf-8");
        assert_eq!(body(r).await, "body{}");
        for bad in [
            "../secret.txt",
            "link.txt",
            "css/../../secret.txt",
            "nope",
            "",
        ] {
            let r = page(&site, bad).await;
            assert_eq!(r.status(), StatusCode::NOT_FOUND, "{bad}");
            assert_eq!(r.headers()[header::CONTENT_SECURITY_POLICY], CSP);
        }
        // With one: the fallback for everything not found, rendered for the path.
        std::fs::write(
            dir.join("index.html"),
            "<base href=\"__DISCO_CONTENT_PATH__\">",
        )
        .unwrap();
        for deep in ["", "nodes/n1", "index.html"] {
            let r = page(&site, deep).await;
            assert_eq!(r.status(), StatusCode::OK, "{deep}");
            assert_eq!(body(r).await, "<base href=\"/x/\">", "{deep}");
        }
        assert_eq!(
            page(&site, "link.txt").await.status(),
            StatusCode::NOT_FOUND
        );
        let _ = std::fs::remove_dir_all(&base);
    }
}
