//! One template: parsed once (and again on SIGHUP), rendered against the current answers,
//! and written so a reader never sees half a file.

use std::collections::{BTreeSet, HashMap};
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

use gotmpl::{MissingKey, Template, Value};
use parking_lot::Mutex;

use super::config::TemplateSpec;
use super::deps::Dep;
use super::funcs::{RenderState, register, rewrite_scratch};

/// A parsed template and the state its functions read.
pub struct Renderer {
    /// Where it comes from and goes.
    pub spec: TemplateSpec,
    tmpl: Template,
    state: Arc<Mutex<RenderState>>,
}

/// What one render produced.
#[derive(Debug)]
pub struct Rendered {
    /// The text, when every query it needs has answered.
    pub output: Option<String>,
    /// Every query it read (answered or not).
    pub deps: BTreeSet<Dep>,
}

impl Renderer {
    /// Read and parse the template; the error names the template (and line).
    pub fn load(spec: &TemplateSpec) -> Result<Renderer, String> {
        let text = match (&spec.contents, &spec.source) {
            (Some(c), _) => c.clone(),
            (None, Some(p)) => std::fs::read_to_string(p)
                .map_err(|e| format!("template: {}: failed reading file: {e}", p.display()))?,
            (None, None) => return Err("template: no source or contents".into()),
        };
        let text = rewrite_scratch(&text, &spec.left_delimiter, &spec.right_delimiter);
        let state = Arc::new(Mutex::new(RenderState::default()));
        let mut tmpl =
            Template::new(&spec.name()).delims(&spec.left_delimiter, &spec.right_delimiter);
        if spec.error_on_missing_key {
            tmpl = tmpl.missing_key(MissingKey::Error);
        }
        let tmpl = register(tmpl, &state)
            .parse(&text)
            .map_err(|e| one_line(&e.to_string()))?;
        Ok(Renderer {
            spec: spec.clone(),
            tmpl,
            state,
        })
    }

    /// Render against `data`. `output` is `None` while a query it needs has no answer.
    pub fn render(&self, data: Arc<HashMap<Dep, Value>>) -> Result<Rendered, String> {
        {
            let mut st = self.state.lock();
            st.data = data;
            st.used.clear();
            st.missing.clear();
            st.scratch.clear();
        }
        // The functions take the state's lock themselves; none is held here.
        let out = self.tmpl.execute_to_string(&Value::Nil);
        let (used, missing) = {
            let mut st = self.state.lock();
            st.data = Arc::default();
            (
                std::mem::take(&mut st.used),
                std::mem::take(&mut st.missing),
            )
        };
        let out = out.map_err(|e| {
            // Execution errors do not always carry the template's name; add it.
            let msg = one_line(&e.to_string());
            let name = self.spec.name();
            if msg.contains(&name) {
                msg
            } else {
                format!("template: {name}: {msg}")
            }
        })?;
        let complete = missing.is_empty();
        let mut deps = used;
        deps.extend(missing);
        Ok(Rendered {
            output: complete.then_some(out),
            deps,
        })
    }
}

fn one_line(s: &str) -> String {
    s.replace('\n', " ")
}

/// Write `contents` to the spec's destination unless it already holds exactly that:
/// a temporary file in the same directory, synced, given the mode, then renamed over
/// the old one (kept as `.bak` first when asked). True when the file changed.
pub fn write_atomic(spec: &TemplateSpec, contents: &str) -> Result<bool, String> {
    let dest = &spec.destination;
    let fail = |what: &str, e: std::io::Error| format!("{}: {what}: {e}", dest.display());
    let old_mode = match std::fs::metadata(dest) {
        Ok(m) => {
            if std::fs::read(dest).ok().as_deref() == Some(contents.as_bytes()) {
                return Ok(false);
            }
            Some(m.permissions().mode() & 0o7777)
        }
        Err(_) => None,
    };
    let parent = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => Path::new(".").to_path_buf(),
    };
    if !parent.exists() {
        if !spec.create_dest_dirs {
            return Err(format!("{}: parent directory is missing", dest.display()));
        }
        std::fs::create_dir_all(&parent).map_err(|e| fail("creating parent directory", e))?;
    }
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    let tmp = parent.join(format!(".{name}.{}.tmp", std::process::id()));
    let result = (|| {
        let mut f = std::fs::File::create(&tmp).map_err(|e| fail("creating temporary file", e))?;
        f.write_all(contents.as_bytes())
            .map_err(|e| fail("writing temporary file", e))?;
        f.sync_all()
            .map_err(|e| fail("syncing temporary file", e))?;
        drop(f);
        let mode = spec.perms.or(old_mode).unwrap_or(0o644);
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(mode))
            .map_err(|e| fail("setting permissions", e))?;
        if spec.backup && old_mode.is_some() {
            let bak = parent.join(format!("{name}.bak"));
            let _ = std::fs::remove_file(&bak);
            std::fs::hard_link(dest, &bak).map_err(|e| fail("backing up", e))?;
        }
        std::fs::rename(&tmp, dest).map_err(|e| fail("renaming into place", e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result.map(|()| true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::deps::HealthFilter;

    fn spec(src: &str, dest: &Path) -> TemplateSpec {
        let mut s = TemplateSpec::from_flag("in.ctmpl:out").unwrap();
        s.source = None;
        s.contents = Some(src.into());
        s.destination = dest.to_path_buf();
        s
    }

    #[test]
    fn a_render_waits_for_every_query_then_matches_go_output() {
        let dir = std::env::temp_dir().join(format!("disco-render-{}", std::process::id()));
        let src = "upstream app {\n{{- range service \"web\" }}\n  server {{ .Address }}:{{ .Port }};\n{{- else }}\n  server 127.0.0.1:65535 down;\n{{- end }}\n}\n{{ range $tag, $s := service \"web|any\" | byTag }}{{ $tag }}={{ len $s }} {{ end }}\n{{ keyOrDefault \"lb/maxconns\" \"512\" }}";
        let r = Renderer::load(&spec(src, &dir.join("out"))).unwrap();
        let first = r.render(Arc::default()).unwrap();
        assert!(first.output.is_none(), "nothing answered yet");
        assert_eq!(first.deps.len(), 3);
        let mut data: HashMap<Dep, Value> = HashMap::new();
        let body = serde_json::json!([
            {"Node": {"Node": "n1", "Address": "10.0.0.1"}, "Service": {"ID": "a", "Service": "web", "Tags": ["b", "a"], "Port": 80}, "Checks": []},
            {"Node": {"Node": "n2", "Address": "10.0.0.2"}, "Service": {"ID": "b", "Service": "web", "Tags": ["a"], "Port": 81}, "Checks": []}
        ]);
        for d in first.deps {
            let v = match &d {
                Dep::Key { .. } => Value::Nil,
                _ => d.shape(&body),
            };
            data.insert(d, v);
        }
        let out = r.render(Arc::new(data.clone())).unwrap().output.unwrap();
        assert_eq!(
            out,
            "upstream app {\n  server 10.0.0.1:80;\n  server 10.0.0.2:81;\n}\na=2 b=1 \n512"
        );
        // No instance: the else branch, once.
        let passing = Dep::Service {
            name: "web".into(),
            tag: None,
            dc: None,
            near: None,
            filter: HealthFilter::Passing,
        };
        data.insert(passing, Value::from(Vec::<Value>::new()));
        let out = r.render(Arc::new(data)).unwrap().output.unwrap();
        assert!(
            out.starts_with("upstream app {\n  server 127.0.0.1:65535 down;\n}"),
            "{out}"
        );
    }

    #[test]
    fn parse_errors_name_the_template_and_line() {
        let mut s = spec("", Path::new("/tmp/x"));
        s.contents = None;
        let dir = std::env::temp_dir().join(format!("disco-parse-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let src = dir.join("broken.ctmpl");
        std::fs::write(&src, "ok\n{{ if }}").unwrap();
        s.source = Some(src);
        let e = Renderer::load(&s).err().unwrap();
        assert!(e.contains("broken.ctmpl:2"), "{e}");
        // An unknown function shows on the first render, before anything is written.
        let r = Renderer::load(&spec("{{ nosuchfunc }}", Path::new("/tmp/x"))).unwrap();
        let e = r.render(Arc::default()).unwrap_err();
        assert!(e.contains("nosuchfunc") && e.contains("(inline)"), "{e}");
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn writes_are_atomic_keep_the_mode_and_skip_identical_output() {
        let dir = std::env::temp_dir().join(format!("disco-write-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let dest = dir.join("sub/out.conf");
        let mut s = spec("", &dest);
        assert!(write_atomic(&s, "one").unwrap());
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&dest), 0o644);
        std::fs::set_permissions(&dest, std::fs::Permissions::from_mode(0o600)).unwrap();
        assert!(
            !write_atomic(&s, "one").unwrap(),
            "identical output is not rewritten"
        );
        s.backup = true;
        assert!(write_atomic(&s, "two").unwrap());
        assert_eq!(mode(&dest), 0o600, "the old file's mode is kept");
        assert_eq!(
            std::fs::read_to_string(dir.join("sub/out.conf.bak")).unwrap(),
            "one"
        );
        s.perms = Some(0o640);
        assert!(write_atomic(&s, "three").unwrap());
        assert_eq!(mode(&dest), 0o640);
        s.create_dest_dirs = false;
        s.destination = dir.join("missing/out");
        assert!(
            write_atomic(&s, "x")
                .unwrap_err()
                .contains("parent directory is missing")
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
