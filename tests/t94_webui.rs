//! The web UI as a browser and an operator meet it on a real agent: `/` sends the browser
//! to the UI, every file and deep link comes with the security headers and an ETag, the
//! content path moves it, a directory replaces the built-in files, and an agent without
//! the UI keeps Consul's answers. Also the two endpoints the UI's node pages read
//! (`/v1/internal/ui/nodes`, `/v1/internal/ui/node/<name>`), filtered by the caller's
//! token, and a bad `ui_config`.

mod support;

use std::time::Duration;

use serde_json::{Value, json};
use support::{Agent, Resp, config_file, http_full, raw_agent, wait_for};

const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; font-src 'self'; manifest-src 'self'; base-uri 'self'; form-action 'none'; frame-ancestors 'none'";
const NOT_API: &str =
    "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'";
const WAIT: Duration = Duration::from_secs(30);

fn call(a: &Agent, method: &str, path: &str, headers: &[(&str, &str)]) -> Resp {
    http_full(a.http, method, path, b"", headers, WAIT).expect("HTTP call")
}

/// A single server with a data dir and the given extra flags.
fn server(name: &str, extra: &[&str]) -> Agent {
    let mut args = vec!["-server", "-bootstrap", "-data-dir", "{dir}/data"];
    args.extend_from_slice(extra);
    Agent::start(name, &args)
}

fn assert_secured(r: &Resp, what: &str) {
    assert_eq!(r.header("Content-Security-Policy"), Some(CSP), "{what}");
    assert_eq!(
        r.header("X-Content-Type-Options"),
        Some("nosniff"),
        "{what}"
    );
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"), "{what}");
    assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"), "{what}");
    assert_eq!(r.header("Cache-Control"), Some("no-cache"), "{what}");
    assert_eq!(r.header("Access-Control-Allow-Origin"), None, "{what}");
}

fn assert_redirect(a: &Agent, path: &str, to: &str) {
    let r = a.get(path);
    assert_eq!(r.status, 301, "{path}: {}", r.text());
    assert_eq!(r.header("Location"), Some(to), "{path}");
}

#[test]
fn the_ui_is_served_with_its_headers_deep_links_and_etags() {
    let a = server("t94ui", &["-ui"]);
    assert_redirect(&a, "/", "/ui/");
    assert_redirect(&a, "/ui", "/ui/");
    for page in ["/ui/", "/ui/services/web", "/ui/kv/app/config"] {
        let r = a.get(page);
        assert_eq!(r.status, 200, "{page}");
        assert_eq!(
            r.header("Content-Type"),
            Some("text/html; charset=utf-8"),
            "{page}"
        );
        assert!(
            r.text().contains("<base href=\"/ui/\">"),
            "{page}: {}",
            r.text()
        );
        assert_secured(&r, page);
    }
    let js = a.get("/ui/app.js");
    assert_eq!(js.status, 200);
    assert!(
        js.header("Content-Type")
            .is_some_and(|t| t.starts_with("text/javascript")),
        "{:?}",
        js.header("Content-Type")
    );
    assert_secured(&js, "app.js");
    let css = a.get("/ui/theme.css");
    assert_eq!(css.status, 200);
    assert!(css.text().contains("--critical:"), "{}", css.text());
    assert!(css.text().contains(":root[data-theme=\"high-contrast\"]"));

    // An unchanged file is not sent again.
    let etag = js.header("ETag").expect("an ETag").to_string();
    let r = call(&a, "GET", "/ui/app.js", &[("If-None-Match", &etag)]);
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    assert_eq!(r.header("ETag"), Some(etag.as_str()));
    assert_secured(&r, "304");
    let r = call(&a, "GET", "/ui/app.js", &[("If-None-Match", "\"other\"")]);
    assert_eq!(r.status, 200);
    assert_eq!(r.body, js.body);

    // Files take GET and HEAD only.
    let r = call(&a, "HEAD", "/ui/app.js", &[]);
    assert_eq!(r.status, 200);
    assert!(r.body.is_empty());
    let r = call(&a, "POST", "/ui/app.js", &[]);
    assert_eq!(r.status, 405);
    assert_eq!(r.header("Allow"), Some("OPTIONS,GET,HEAD"));
    // Outside the UI and the API: Consul's 404.
    let r = a.get("/elsewhere");
    assert_eq!((r.status, r.text().trim()), (404, NOT_API));
}

#[test]
fn a_content_path_moves_the_ui() {
    let cfg = config_file(
        "t94path",
        &json!({"ui_config": {"enabled": true, "content_path": "/console-ui/"}}).to_string(),
    );
    let a = server("t94path", &["-config-file", &cfg.display().to_string()]);
    assert_redirect(&a, "/", "/console-ui/");
    assert_redirect(&a, "/console-ui", "/console-ui/");
    let r = a.get("/console-ui/nodes/t94path");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("<base href=\"/console-ui/\">"));
    assert_secured(&r, "moved page");
    assert_eq!(a.get("/console-ui/style.css").status, 200);
    let r = a.get("/ui/");
    assert_eq!((r.status, r.text().trim()), (404, NOT_API));
    let _ = std::fs::remove_file(cfg);
}

#[test]
fn without_the_ui_consuls_answers_stay() {
    let a = server("t94off", &[]);
    let r = a.get("/");
    assert_eq!(r.status, 200);
    assert!(
        r.text().starts_with("Consul Agent: UI disabled."),
        "{}",
        r.text()
    );
    for path in ["/ui/", "/ui", "/ui/app.js"] {
        let r = a.get(path);
        assert_eq!((r.status, r.text().trim()), (404, NOT_API), "{path}");
    }
}

#[test]
fn a_ui_directory_replaces_the_built_in_files() {
    let base = std::env::temp_dir().join(format!("disco-t94-uidir-{}", std::process::id()));
    let dir = base.join("ui");
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&dir).expect("ui dir");
    std::fs::write(base.join("outside.txt"), "not for the UI").expect("file");
    std::fs::write(dir.join("hello.txt"), "hello from the directory").expect("file");
    std::fs::write(
        dir.join("index.html"),
        "<base href=\"__DISCO_CONTENT_PATH__\"><p>custom</p>",
    )
    .expect("index");
    let cfg = config_file(
        "t94dir",
        &json!({"ui_config": {"dir": dir.display().to_string()}}).to_string(),
    );
    let a = server("t94dir", &["-config-file", &cfg.display().to_string()]);
    // The directory alone turns the UI on.
    assert_redirect(&a, "/", "/ui/");
    let r = a.get("/ui/hello.txt");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "hello from the directory");
    assert_eq!(r.header("Content-Type"), Some("text/plain; charset=utf-8"));
    assert_secured(&r, "dir file");
    let r = a.get("/ui/nodes/x");
    assert_eq!(r.status, 200);
    assert_eq!(r.text(), "<base href=\"/ui/\"><p>custom</p>");
    // The built-in files are not there, and nothing above the directory is reachable.
    assert_eq!(
        a.get("/ui/app.js").text(),
        "<base href=\"/ui/\"><p>custom</p>"
    );
    // The console's colours are still there for the page to use.
    let r = a.get("/ui/theme.css");
    assert_eq!(r.status, 200);
    assert!(r.text().contains("--critical"), "{}", r.text());
    for escape in [
        "/ui/../outside.txt",
        "/ui/%2e%2e/outside.txt",
        "/ui/sub/../../outside.txt",
    ] {
        let r = a.get(escape);
        assert_eq!(r.status, 404, "{escape}: {}", r.text());
    }
    let _ = std::fs::remove_file(cfg);
    let _ = std::fs::remove_dir_all(&base);
}

/// The entry of `name` in a `ui/nodes` answer.
fn entry<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|n| n["Node"] == name)
}

/// The entry of service `name` in a `ui/services` answer.
fn service<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|s| s["Name"] == name)
}

#[test]
fn node_pages_read_one_query_each() {
    let a = server("t94nodes", &[]);
    let svc = json!({"Name": "web", "ID": "web1", "Port": 8080, "Tags": ["prod"],
                     "Check": {"CheckID": "web-ttl", "TTL": "60s"}});
    assert_eq!(
        a.put("/v1/agent/service/register", svc.to_string().as_bytes())
            .status,
        200
    );
    let bare = json!({"Node": "bare", "Address": "10.0.0.9"});
    assert_eq!(
        a.put("/v1/catalog/register", bare.to_string().as_bytes())
            .status,
        200
    );
    let list = wait_for("the service in ui/nodes", WAIT, || {
        let r = a.get("/v1/internal/ui/nodes");
        let v = r.json();
        let me = entry(&v, "t94nodes")?;
        let has = me["Services"].as_array()?.iter().any(|s| s["ID"] == "web1");
        let checked = me["Checks"]
            .as_array()?
            .iter()
            .any(|c| c["CheckID"] == "web-ttl");
        (has && checked && entry(&v, "bare").is_some()).then_some(r)
    });
    assert!(list.header("X-Consul-Index").is_some());
    let v = list.json();
    let names: Vec<&str> = v
        .as_array()
        .expect("a list")
        .iter()
        .filter_map(|n| n["Node"].as_str())
        .collect();
    assert_eq!(names, ["bare", "t94nodes"], "sorted by name");
    let me = entry(&v, "t94nodes").expect("own node");
    for key in [
        "ID",
        "Node",
        "Address",
        "Datacenter",
        "TaggedAddresses",
        "Meta",
    ] {
        assert!(me.get(key).is_some(), "{key} missing: {me}");
    }
    assert_eq!(me["Datacenter"], "dc1");
    let web = me["Services"]
        .as_array()
        .and_then(|s| s.iter().find(|s| s["ID"] == "web1"))
        .expect("web1");
    assert_eq!(
        (&web["Service"], &web["Port"], &web["Tags"]),
        (&json!("web"), &json!(8080), &json!(["prod"]))
    );
    let ttl = me["Checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["CheckID"] == "web-ttl"))
        .expect("web-ttl");
    assert_eq!(ttl["ServiceID"], "web1");
    assert_eq!(ttl["Status"], "critical");
    assert!(
        me["Checks"]
            .as_array()
            .expect("checks")
            .iter()
            .any(|c| c["CheckID"] == "serfHealth")
    );
    // Empty lists are lists.
    let bare = entry(&v, "bare").expect("bare");
    assert_eq!(
        (&bare["Services"], &bare["Checks"]),
        (&json!([]), &json!([]))
    );

    // One node.
    let r = a.get("/v1/internal/ui/node/t94nodes");
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["Node"], "t94nodes");
    assert_eq!(r.json()["Services"], me["Services"]);
    let r = a.get("/v1/internal/ui/node/nobody");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty(), "{}", r.text());

    // `?filter=` on the entries.
    let r = a.get("/v1/internal/ui/nodes?filter=Node%20%3D%3D%20bare");
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json().as_array().map(Vec::len), Some(1));
    assert_eq!(r.json()[0]["Node"], "bare");
    let r = a.get("/v1/internal/ui/nodes?filter=Services.Service%20%3D%3D%20web");
    assert_eq!(r.status, 200, "{}", r.text());
    let names: Vec<Value> = r
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|n| n["Node"].clone())
        .collect();
    assert_eq!(names, [json!("t94nodes")]);
    let r = a.get("/v1/internal/ui/nodes?filter=Bogus%20%3D%3D%201");
    assert_eq!(r.status, 500, "{}", r.text());

    // It blocks until a node, a service or a check changes.
    let index: u64 = list
        .header("X-Consul-Index")
        .and_then(|i| i.parse().ok())
        .expect("an index");
    let index = index.max(
        a.get("/v1/internal/ui/nodes")
            .header("X-Consul-Index")
            .and_then(|i| i.parse().ok())
            .unwrap_or(0),
    );
    let port = a.http;
    let waiter = std::thread::spawn(move || {
        let path = format!("/v1/internal/ui/nodes?index={index}&wait=30s");
        http_full(port, "GET", &path, b"", &[], WAIT).expect("blocking read")
    });
    let late = json!({"Node": "late", "Address": "10.0.0.10"});
    assert_eq!(
        a.put("/v1/catalog/register", late.to_string().as_bytes())
            .status,
        200
    );
    let r = waiter.join().expect("waiter");
    assert_eq!(r.status, 200);
    assert!(entry(&r.json(), "late").is_some(), "{}", r.text());
}

#[test]
fn a_bad_ui_config_stops_the_agent_naming_the_key() {
    for (name, json, key) in [
        (
            "t94bad-type",
            json!({"ui_config": {"enabled": "yes"}}),
            "ui_config.enabled",
        ),
        (
            "t94bad-path",
            json!({"ui_config": {"content_path": "/v1/"}}),
            "ui_config.content_path",
        ),
    ] {
        let cfg = config_file(name, &json.to_string());
        let (mut cmd, dir) = raw_agent(name, &["-config-file", &cfg.display().to_string()]);
        let out = cmd.output().expect("run agent");
        let text = String::from_utf8_lossy(&out.stderr).to_string()
            + &String::from_utf8_lossy(&out.stdout);
        assert_eq!(out.status.code(), Some(1), "{text}");
        assert!(text.contains(key), "{key}: {text}");
        let _ = std::fs::remove_file(cfg);
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[test]
fn node_pages_show_only_what_the_token_may_read() {
    const MGMT: &str = "5b8e2f4c-1d3a-4e6f-9a7b-2c4d6e8f0a1b";
    let cfg = config_file(
        "t94acl",
        &json!({"acl": {"enabled": true, "default_policy": "deny",
                        "tokens": {"initial_management": MGMT}}})
        .to_string(),
    );
    let mut a = Agent::launch(
        "t94acl",
        &["-dev", "-config-file", &cfg.display().to_string()],
    );
    a.token = Some(MGMT.into());
    a.wait_ready();
    let ok = |r: Resp, what: &str| {
        assert_eq!(r.status, 200, "{what}: {}", r.text());
        r
    };
    let svc = json!({"Name": "web", "Port": 80, "Check": {"CheckID": "web-ttl", "TTL": "60s"}});
    ok(
        a.call(
            "PUT",
            "/v1/agent/service/register",
            svc.to_string().as_bytes(),
            MGMT,
        ),
        "register",
    );
    wait_for("web with its check", WAIT, || {
        let v = a
            .call("GET", "/v1/internal/ui/node/t94acl", b"", MGMT)
            .json();
        let checks = v["Checks"].as_array()?;
        checks
            .iter()
            .any(|c| c["CheckID"] == "web-ttl")
            .then_some(())
    });
    // Node read only: the node and its node checks, no service and no service check.
    let policy = json!({"Name": "nodes", "Rules": "node_prefix \"\" { policy = \"read\" }"});
    ok(
        a.call("PUT", "/v1/acl/policy", policy.to_string().as_bytes(), MGMT),
        "policy",
    );
    let token = json!({"Policies": [{"Name": "nodes"}]});
    let r = ok(
        a.call("PUT", "/v1/acl/token", token.to_string().as_bytes(), MGMT),
        "token",
    );
    let secret = r.json()["SecretID"].as_str().expect("SecretID").to_string();
    let r = ok(
        a.call("GET", "/v1/internal/ui/nodes", b"", &secret),
        "nodes",
    );
    let me = entry(&r.json(), "t94acl").cloned().expect("own node");
    assert_eq!(me["Services"], json!([]));
    let checks: Vec<Value> = me["Checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| c["CheckID"].clone())
        .collect();
    assert_eq!(checks, [json!("serfHealth")]);
    assert_eq!(r.header("X-Consul-Results-Filtered-By-ACLs"), Some("true"));
    // The service list counts only instances on nodes the token may read: `web` on a
    // second, unreadable node adds nothing to a token limited to this node.
    let other = json!({"Node": "hidden-node", "Address": "10.9.9.9",
                       "Service": {"Service": "web", "ID": "web-hidden", "Port": 81}});
    ok(
        a.call(
            "PUT",
            "/v1/catalog/register",
            other.to_string().as_bytes(),
            MGMT,
        ),
        "register on another node",
    );
    let rules = "node \"t94acl\" { policy = \"read\" } service \"web\" { policy = \"read\" }";
    let policy = json!({"Name": "one-node", "Rules": rules});
    ok(
        a.call("PUT", "/v1/acl/policy", policy.to_string().as_bytes(), MGMT),
        "policy",
    );
    let token = json!({"Policies": [{"Name": "one-node"}]});
    let r = ok(
        a.call("PUT", "/v1/acl/token", token.to_string().as_bytes(), MGMT),
        "token",
    );
    let one_node = r.json()["SecretID"].as_str().expect("SecretID").to_string();
    let all = a.call("GET", "/v1/internal/ui/services", b"", MGMT).json();
    let web = service(&all, "web").cloned().expect("web for management");
    assert_eq!(web["InstanceCount"], 2);
    let r = ok(
        a.call("GET", "/v1/internal/ui/services", b"", &one_node),
        "services",
    );
    let web = service(&r.json(), "web")
        .cloned()
        .expect("web for one node");
    assert_eq!(web["InstanceCount"], 1, "{web}");
    assert_eq!(web["Nodes"], json!(["t94acl"]), "{web}");
    assert_eq!(r.header("X-Consul-Results-Filtered-By-ACLs"), Some("true"));
    // Anonymous: nothing at all, and the one node is not found.
    let r = a.call("GET", "/v1/internal/ui/nodes", b"", "");
    assert_eq!((r.status, r.json()), (200, json!([])));
    let r = a.call("GET", "/v1/internal/ui/node/t94acl", b"", "");
    assert_eq!(r.status, 404);
    assert!(r.body.is_empty());
    let _ = std::fs::remove_file(cfg);
}
