//! The table checked against itself and against `docs/compatibility.md`.

use std::collections::BTreeSet;

use axum::http::{Method, StatusCode};

use super::{Endpoint, Level, Methods, Resource};

/// One sample request per route: (method, decoded path, variant name).
const SAMPLES: &[(&str, &str, &str)] = &[
    ("GET", "/v1/kv/a/b/c", "KvGet"),
    ("GET", "/v1/kv", "KvGet"),
    ("PUT", "/v1/kv/a/b", "KvPut"),
    ("DELETE", "/v1/kv/a/", "KvDelete"),
    ("PUT", "/v1/catalog/register", "CatalogRegister"),
    ("PUT", "/v1/catalog/deregister", "CatalogDeregister"),
    ("GET", "/v1/catalog/datacenters", "CatalogDatacenters"),
    ("GET", "/v1/catalog/nodes", "CatalogNodes"),
    ("GET", "/v1/catalog/services", "CatalogServices"),
    ("GET", "/v1/catalog/service/web/v2", "CatalogService"),
    ("GET", "/v1/catalog/connect/web", "CatalogConnect"),
    ("GET", "/v1/catalog/node/n1", "CatalogNode"),
    ("GET", "/v1/health/service/web", "HealthService"),
    ("GET", "/v1/health/checks/web", "HealthChecks"),
    ("GET", "/v1/health/node/n1", "HealthNode"),
    ("GET", "/v1/health/state/critical", "HealthState"),
    ("GET", "/v1/health/connect/web", "HealthConnect"),
    ("GET", "/v1/health/ingress/web", "HealthIngress"),
    ("GET", "/v1/internal/ui/services", "UiServices"),
    ("GET", "/v1/internal/ui/nodes", "UiNodes"),
    ("GET", "/v1/internal/ui/node/n1", "UiNode"),
    ("POST", "/v1/internal/acl/authorize", "AclAuthorize"),
    (
        "GET",
        "/v1/operator/raft/configuration",
        "RaftConfiguration",
    ),
    (
        "POST",
        "/v1/operator/raft/transfer-leader",
        "RaftTransferLeader",
    ),
    (
        "PUT",
        "/v1/operator/raft/transfer-leader",
        "RaftTransferLeader",
    ),
    ("DELETE", "/v1/operator/raft/peer", "RaftPeer"),
    ("GET", "/v1/operator/autopilot/health", "AutopilotHealth"),
    (
        "GET",
        "/v1/operator/autopilot/configuration",
        "AutopilotConfiguration",
    ),
    ("GET", "/v1/operator/keyring", "KeyringList"),
    ("POST", "/v1/operator/keyring", "KeyringInstall"),
    ("PUT", "/v1/operator/keyring", "KeyringUse"),
    ("DELETE", "/v1/operator/keyring", "KeyringRemove"),
    ("GET", "/v1/agent/self", "AgentSelf"),
    ("GET", "/v1/agent/members", "AgentMembers"),
    ("GET", "/v1/agent/services", "AgentServices"),
    ("GET", "/v1/agent/checks", "AgentChecks"),
    ("PUT", "/v1/agent/service/register", "AgentServiceRegister"),
    ("PUT", "/v1/agent/check/register", "AgentCheckRegister"),
    ("GET", "/v1/agent/metrics", "AgentMetrics"),
    ("PUT", "/v1/agent/leave", "AgentLeave"),
    ("PUT", "/v1/agent/reload", "AgentReload"),
    ("PUT", "/v1/agent/maintenance", "AgentMaintenance"),
    (
        "PUT",
        "/v1/agent/service/deregister/a/b",
        "AgentServiceDeregister",
    ),
    (
        "PUT",
        "/v1/agent/service/maintenance/a",
        "AgentServiceMaintenance",
    ),
    (
        "PUT",
        "/v1/agent/check/deregister/c/1",
        "AgentCheckDeregister",
    ),
    ("PUT", "/v1/agent/check/pass/c", "AgentCheckPass"),
    ("PUT", "/v1/agent/check/warn/c", "AgentCheckWarn"),
    ("PUT", "/v1/agent/check/fail/c", "AgentCheckFail"),
    ("PUT", "/v1/agent/check/update/c", "AgentCheckUpdate"),
    ("GET", "/v1/agent/service/web/1", "AgentService"),
    ("GET", "/v1/agent/service/deregister", "AgentService"),
    ("GET", "/v1/agent/health/service/id/web", "AgentHealthById"),
    (
        "GET",
        "/v1/agent/health/service/name/web",
        "AgentHealthByName",
    ),
    ("PUT", "/v1/agent/token/default", "AgentToken"),
    ("PUT", "/v1/agent/join/127.0.0.1:8301", "AgentJoin"),
    ("PUT", "/v1/agent/force-leave/n1", "AgentForceLeave"),
    ("PUT", "/v1/session/create", "SessionCreate"),
    ("PUT", "/v1/session/destroy/abc", "SessionDestroy"),
    ("PUT", "/v1/session/renew/abc", "SessionRenew"),
    ("GET", "/v1/session/info/abc", "SessionInfo"),
    ("GET", "/v1/session/node/n1", "SessionNode"),
    ("GET", "/v1/session/list", "SessionList"),
    ("GET", "/v1/query", "QueryList"),
    ("POST", "/v1/query", "QueryCreate"),
    ("GET", "/v1/query/abc", "QueryRead"),
    ("PUT", "/v1/query/abc", "QueryUpdate"),
    ("DELETE", "/v1/query/abc", "QueryDelete"),
    ("GET", "/v1/query/web-near/execute", "QueryExecute"),
    ("GET", "/v1/query/abc/explain", "QueryExplain"),
    ("PUT", "/v1/txn", "Txn"),
    ("PUT", "/v1/event/fire/deploy", "EventFire"),
    ("GET", "/v1/event/list", "EventList"),
    ("PUT", "/v1/acl/bootstrap", "AclBootstrap"),
    ("GET", "/v1/acl/replication", "AclReplication"),
    ("PUT", "/v1/acl/token", "AclTokenCreate"),
    ("GET", "/v1/acl/token/self", "AclTokenSelf"),
    (
        "GET",
        "/v1/acl/token/5d1d3b0e-6c1c-4a4e-9c1a-1c2b3d4e5f60",
        "AclTokenRead",
    ),
    (
        "PUT",
        "/v1/acl/token/5d1d3b0e-6c1c-4a4e-9c1a-1c2b3d4e5f60",
        "AclTokenUpdate",
    ),
    (
        "DELETE",
        "/v1/acl/token/5d1d3b0e-6c1c-4a4e-9c1a-1c2b3d4e5f60",
        "AclTokenDelete",
    ),
    (
        "PUT",
        "/v1/acl/token/5d1d3b0e-6c1c-4a4e-9c1a-1c2b3d4e5f60/clone",
        "AclTokenClone",
    ),
    ("GET", "/v1/acl/tokens", "AclTokens"),
    ("PUT", "/v1/acl/policy", "AclPolicyCreate"),
    ("GET", "/v1/acl/policy/p1", "AclPolicyRead"),
    ("PUT", "/v1/acl/policy/p1", "AclPolicyUpdate"),
    ("DELETE", "/v1/acl/policy/p1", "AclPolicyDelete"),
    ("GET", "/v1/acl/policy/name/readers", "AclPolicyByName"),
    ("GET", "/v1/acl/policies", "AclPolicies"),
    ("PUT", "/v1/acl/role", "AclRoleCreate"),
    ("GET", "/v1/acl/role/r1", "AclRoleRead"),
    ("PUT", "/v1/acl/role/r1", "AclRoleUpdate"),
    ("DELETE", "/v1/acl/role/r1", "AclRoleDelete"),
    ("GET", "/v1/acl/role/name/ops", "AclRoleByName"),
    ("GET", "/v1/acl/roles", "AclRoles"),
    ("POST", "/v1/acl/login", "AclLogin"),
    ("POST", "/v1/acl/logout", "AclLogout"),
    ("GET", "/v1/status/leader", "StatusLeader"),
    ("GET", "/v1/status/peers", "StatusPeers"),
    ("GET", "/", "Root"),
    ("POST", "/", "Root"),
    ("GET", "/ui", "UiRedirect"),
    ("PUT", "/ui", "UiRedirect"),
    ("GET", "/ui/", "Ui"),
    ("HEAD", "/ui/app.js", "Ui"),
    ("GET", "/ui/services/web", "Ui"),
    ("OPTIONS", "/v1/kv/a", "Options"),
];

/// Routes that are not API endpoints and so are not listed in the compatibility table.
const NOT_API: &[&str] = &["Root", "UiRedirect", "Ui", "Options"];

/// The web UI's content path the samples are parsed with (the default).
const UI: Option<&str> = Some("/ui/");

fn method(m: &str) -> Method {
    Method::from_bytes(m.as_bytes()).expect("sample method")
}

/// The variants the samples cover.
fn every_name() -> BTreeSet<&'static str> {
    SAMPLES.iter().map(|(_, _, n)| *n).collect()
}

#[test]
fn every_sample_parses_to_its_route() {
    for (m, path, name) in SAMPLES {
        let e =
            Endpoint::parse(&method(m), path, UI).unwrap_or_else(|e| panic!("{m} {path}: {e:?}"));
        assert_eq!(e.name(), *name, "{m} {path}");
        assert!(e.methods().allows(&method(m)) || e.name() == "Options");
    }
    // 97 routes plus OPTIONS: a variant added to the enum (and to `name()`) needs a
    // sample here.
    assert_eq!(every_name().len(), 98);
}

#[test]
fn names_and_keys_keep_their_slashes() {
    let get = Method::GET;
    assert_eq!(
        Endpoint::parse(&get, "/v1/kv/a/b/c", UI),
        Ok(Endpoint::KvGet { key: "a/b/c" })
    );
    assert_eq!(
        Endpoint::parse(&Method::PUT, "/v1/agent/service/deregister/x/y", UI),
        Ok(Endpoint::AgentServiceDeregister { id: "x/y" })
    );
    assert_eq!(
        Endpoint::parse(&get, "/v1/catalog/service/a/b", UI),
        Ok(Endpoint::CatalogService { name: "a/b" })
    );
    assert_eq!(
        Endpoint::parse(&get, "/v1/kv/", UI),
        Ok(Endpoint::KvGet { key: "" })
    );
}

#[test]
fn other_methods_are_405_with_the_routes_allow_list() {
    let all = ["GET", "PUT", "POST", "DELETE", "PATCH"];
    for (m, path, _) in SAMPLES {
        let e = Endpoint::parse(&method(m), path, UI).expect("sample");
        let methods = e.methods();
        if methods == Methods::Any || e.name() == "Options" {
            continue;
        }
        for other in all.iter().map(|o| method(o)) {
            if methods.allows(&other) {
                continue;
            }
            let err = Endpoint::parse(&other, path, UI).expect_err("405");
            assert_eq!(
                err.status(),
                StatusCode::METHOD_NOT_ALLOWED,
                "{other} {path}"
            );
            assert_eq!(err.allow(), Some(methods.allow_header()), "{other} {path}");
        }
        assert_eq!(
            Endpoint::parse(&Method::OPTIONS, path, UI),
            Ok(Endpoint::Options(methods)),
            "OPTIONS {path}"
        );
    }
}

#[test]
fn consul_answers_are_kept_for_unknown_and_incomplete_paths() {
    let status = |m: &Method, p: &str| {
        Endpoint::parse(m, p, UI)
            .map(|e| e.name())
            .map_err(|e| e.status())
    };
    let nf = Err(StatusCode::NOT_FOUND);
    assert_eq!(status(&Method::GET, "/v1/catalog/bogus"), nf);
    assert_eq!(status(&Method::GET, "/v1/kvx"), nf);
    assert_eq!(status(&Method::GET, "/v1/session/bogus"), nf);
    assert_eq!(status(&Method::GET, "/v1/agent/check/passx/a"), nf);
    assert_eq!(status(&Method::PUT, "/v1/operator/bogus"), nf);
    // The method is checked first across catalog reads and health.
    let na = Err(StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(status(&Method::PUT, "/v1/catalog/bogus"), na);
    assert_eq!(status(&Method::PUT, "/v1/catalog/service/"), na);
    assert_eq!(status(&Method::PUT, "/v1/health/bogus"), na);
    assert_eq!(status(&Method::GET, "/v1/session/create"), na);
    let bad = Err(StatusCode::BAD_REQUEST);
    assert_eq!(status(&Method::GET, "/v1/catalog/service/"), bad);
    assert_eq!(status(&Method::PUT, "/v1/session/destroy/"), bad);
    assert_eq!(status(&Method::PUT, "/v1/event/fire/"), bad);
    assert_eq!(status(&Method::GET, "/v1/event/fire/x"), na);
    assert_eq!(status(&Method::GET, "/v1/event/bogus"), nf);
    assert_eq!(status(&Method::GET, "/v1/health/state/"), bad);
    assert_eq!(status(&Method::GET, "/v1/catalog/node/"), bad);
    assert_eq!(status(&Method::GET, "/v1/internal/ui/node/"), bad);
    assert_eq!(status(&Method::GET, "/v1/internal/bogus"), nf);
    assert_eq!(status(&Method::PUT, "/v1/internal/ui/nodes"), na);
}

#[test]
fn the_web_ui_lives_at_its_content_path_only() {
    fn at<'a>(
        ui: Option<&str>,
        m: &Method,
        p: &'a str,
    ) -> Result<Endpoint<'a>, (StatusCode, String)> {
        Endpoint::parse(m, p, ui).map_err(|e| (e.status(), e.message().to_string()))
    }
    let not_api = Err((
        StatusCode::NOT_FOUND,
        "Invalid URL path: if attempting to use the HTTP API, ensure the path starts with '/v1/'"
            .to_string(),
    ));
    // Off: `/` still answers, the UI's paths are Consul's non-API 404.
    assert_eq!(at(None, &Method::GET, "/"), Ok(Endpoint::Root));
    assert_eq!(at(None, &Method::GET, "/ui/"), not_api);
    assert_eq!(at(None, &Method::GET, "/ui"), not_api);
    assert_eq!(at(None, &Method::POST, "/ui/x"), not_api);
    assert_eq!(at(None, &Method::GET, "/favicon.ico"), not_api);
    assert_eq!(
        at(None, &Method::GET, "/v1/nope").map_err(|e| e.1),
        Err("Invalid URL path: not a recognized HTTP API endpoint".to_string())
    );
    // Moved: the old prefix is no longer the UI.
    let c = Some("/console-ui/");
    assert_eq!(
        at(c, &Method::GET, "/console-ui/services/web"),
        Ok(Endpoint::Ui {
            file: "services/web"
        })
    );
    assert_eq!(
        at(c, &Method::GET, "/console-ui/"),
        Ok(Endpoint::Ui { file: "" })
    );
    assert_eq!(at(c, &Method::GET, "/console-ui"), Ok(Endpoint::UiRedirect));
    assert_eq!(at(c, &Method::GET, "/ui/"), not_api);
    assert_eq!(at(c, &Method::GET, "/console-uix"), not_api);
    // Files take GET and HEAD only.
    let e = Endpoint::parse(&Method::POST, "/console-ui/app.js", c).expect_err("405");
    assert_eq!(e.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(e.allow(), Some("OPTIONS,GET,HEAD"));
    // The API is never shadowed.
    assert_eq!(
        at(c, &Method::GET, "/v1/internal/ui/nodes"),
        Ok(Endpoint::UiNodes)
    );
}

#[test]
fn forwarding_follows_the_replicated_state() {
    for (m, path, name) in SAMPLES {
        let e = Endpoint::parse(&method(m), path, UI).expect("sample");
        let server = ["/v1/kv", "/v1/catalog/", "/v1/health/", "/v1/status/"]
            .iter()
            .chain(&["/v1/operator/", "/v1/internal/", "/v1/session/", "/v1/txn"])
            .chain(&["/v1/acl/", "/v1/query"])
            .any(|p| path.starts_with(p));
        // A session's default node is the receiving agent's: it answers the create
        // itself and forwards only the write. `acl/authorize` is answered by the agent
        // that resolved the caller's token, the keyring by the agent that asks every
        // member over gossip.
        let expected = server
            && ![
                "Options",
                "SessionCreate",
                "AclAuthorize",
                "KeyringList",
                "KeyringInstall",
                "KeyringUse",
                "KeyringRemove",
            ]
            .contains(name);
        assert_eq!(e.forwarded(), expected, "{m} {path}");
        assert_eq!(
            e.leader_answers(),
            expected && !path.starts_with("/v1/status/") && *name != "AclReplication",
            "{m} {path}"
        );
        assert_eq!(
            e.discovery_read(),
            path.starts_with("/v1/catalog/") || path.starts_with("/v1/health/"),
            "{m} {path}"
        );
    }
}

#[test]
fn every_route_declares_its_permission() {
    // The routes anyone may call: each says why in access.rs.
    let open = [
        "CatalogDatacenters",
        "StatusLeader",
        "StatusPeers",
        "AclBootstrap",
        "AclTokenSelf",
        "AclAuthorize",
        "AclLogin",
        "AclLogout",
        "AclReplication",
        "Root",
        "UiRedirect",
        "Ui",
        "Options",
    ];
    for (m, path, name) in SAMPLES {
        let e = Endpoint::parse(&method(m), path, UI).expect("sample");
        let a = e.access();
        assert_eq!(a.resource == Resource::None, open.contains(name), "{name}");
        if a.resource != Resource::None && *m != "GET" {
            // Everything that changes state needs write.
            assert_eq!(a.level, Level::Write, "{name}");
        }
        // A route that filters or checks in its handler is one the enforcement knows;
        // any other falls back to needing rights over the whole kind (never unguarded).
        if matches!(a.subject, super::Subject::EachEntry | super::Subject::Body) {
            assert!(
                crate::http::authz::FILTERS.contains(name),
                "{name} checks in its handler but is not listed in authz::FILTERS"
            );
        }
    }
}

#[test]
fn metric_labels_name_the_path_without_its_names() {
    let mut seen = BTreeSet::new();
    for (m, path, name) in SAMPLES {
        let e = Endpoint::parse(&method(m), path, UI).expect("sample");
        let label = e.metric_path();
        assert!(!label.contains('/'), "{label}");
        if !NOT_API.contains(name) {
            assert!(label.starts_with("v1."), "{label}");
            seen.insert((e.name(), label));
        }
    }
    // KV's three share the path label, as do the read, update and delete of a token, a
    // policy, a role and a prepared query, the keyring's four and the query list and
    // create; every other route has its own.
    let labels: BTreeSet<_> = seen.iter().map(|(_, l)| *l).collect();
    assert_eq!(labels.len(), seen.len() - 14);
}

/// The paths in the "Covered" table of docs/compatibility.md, expanded: a cell's
/// backticked words outside parentheses, `a|b` alternatives per segment, `:x` names.
fn documented_paths() -> Vec<String> {
    let doc = include_str!("../../../docs/compatibility.md");
    let table = doc
        .split("## Covered")
        .nth(1)
        .and_then(|s| s.split("\n## ").next())
        .expect("Covered section");
    let mut out = Vec::new();
    for line in table.lines() {
        let cells: Vec<&str> = line.split('|').map(str::trim).collect();
        // "| area | endpoints |" splits into ["", area, endpoints..., ""].
        if cells.len() < 4 {
            continue;
        }
        let area = cells[1];
        let cell = cells[2..cells.len() - 1].join("|");
        if ![
            "agent", "catalog", "health", "kv", "internal", "status", "operator", "session", "txn",
            "event", "acl", "query",
        ]
        .contains(&area)
        {
            continue;
        }
        if area == "kv" {
            out.push("/v1/kv/some/key".to_string());
            continue;
        }
        if area == "txn" {
            out.push("/v1/txn".to_string());
            continue;
        }
        if area == "query" {
            out.push("/v1/query".to_string());
        }
        let mut depth = 0;
        let mut outside = String::new();
        for c in cell.chars() {
            match c {
                '(' => depth += 1,
                ')' => depth -= 1,
                c if depth == 0 => outside.push(c),
                _ => {}
            }
        }
        for word in outside.split('`').skip(1).step_by(2) {
            let mut paths = vec![format!("/v1/{area}")];
            for seg in word.split('/') {
                let seg = match seg {
                    "*" => "x",
                    s => s.strip_prefix(':').unwrap_or(s),
                };
                paths = paths
                    .iter()
                    .flat_map(|p| seg.split('|').map(move |alt| format!("{p}/{alt}")))
                    .collect();
            }
            out.extend(paths);
        }
    }
    out
}

#[test]
fn the_compatibility_table_and_the_routes_agree() {
    let paths = documented_paths();
    assert!(paths.len() > 40, "{paths:?}");
    let mut documented = BTreeSet::new();
    for path in &paths {
        let names: Vec<_> = ["GET", "PUT", "POST", "DELETE"]
            .iter()
            .filter_map(|m| Endpoint::parse(&method(m), path, UI).ok())
            .map(|e| e.name())
            .collect();
        assert!(!names.is_empty(), "documented but not routed: {path}");
        documented.extend(names);
    }
    for name in every_name() {
        assert!(
            documented.contains(name) || NOT_API.contains(&name),
            "routed but not in docs/compatibility.md: {name}"
        );
    }
}
