//! The data a template reads: one dependency per distinct query, named the way
//! consul-template names them, with the request it sends and the shape its answer takes
//! in the template (sorted, with consul-template's field names).

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use gotmpl::Value;
use serde_json::Value as Json;

use crate::api::path_escape;

/// Which instances `service` returns, by their aggregated check status.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum HealthFilter {
    /// The default: the server drops any instance with a non-passing check
    /// (`?passing`), and the aggregated status must be passing.
    Passing,
    /// `|any`: every instance.
    Any,
    /// `|passing,warning`: fetched unfiltered, kept when the aggregated status is one of
    /// these.
    Statuses(Vec<String>),
}

/// One query a template depends on.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dep {
    /// `service "[tag.]name[@dc][~near][|filter]"`.
    Service {
        /// Service name.
        name: String,
        /// Only instances with this tag.
        tag: Option<String>,
        /// Another datacenter.
        dc: Option<String>,
        /// Sort by distance from this node.
        near: Option<String>,
        /// Which health states.
        filter: HealthFilter,
    },
    /// `services "[@dc]"`.
    Services {
        /// Another datacenter.
        dc: Option<String>,
    },
    /// `node "[name][@dc]"` (no name: the agent's own node).
    Node {
        /// Node name; empty for the agent's.
        name: String,
        /// Another datacenter.
        dc: Option<String>,
    },
    /// `nodes "[@dc][~near]"`.
    Nodes {
        /// Another datacenter.
        dc: Option<String>,
        /// Sort by distance from this node.
        near: Option<String>,
    },
    /// `key`, `keyOrDefault`, `keyExists`.
    Key {
        /// The key.
        key: String,
        /// Another datacenter.
        dc: Option<String>,
    },
    /// `ls`, `tree`.
    Tree {
        /// The prefix.
        prefix: String,
        /// Another datacenter.
        dc: Option<String>,
    },
}

impl fmt::Display for Dep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = |dc: &Option<String>| dc.as_ref().map(|d| format!("@{d}")).unwrap_or_default();
        match self {
            Dep::Service {
                name,
                tag,
                dc,
                near,
                filter,
            } => {
                write!(f, "health.service(")?;
                if let Some(t) = tag {
                    write!(f, "{t}.")?;
                }
                write!(f, "{name}{}", at(dc))?;
                if let Some(n) = near {
                    write!(f, "~{n}")?;
                }
                match filter {
                    HealthFilter::Passing => write!(f, "|passing)"),
                    HealthFilter::Any => write!(f, "|any)"),
                    HealthFilter::Statuses(s) => write!(f, "|{})", s.join(",")),
                }
            }
            Dep::Services { dc } => write!(f, "catalog.services({})", at(dc)),
            Dep::Node { name, dc } => write!(f, "catalog.node({name}{})", at(dc)),
            Dep::Nodes { dc, near } => write!(
                f,
                "catalog.nodes({}{})",
                at(dc),
                near.as_ref().map(|n| format!("~{n}")).unwrap_or_default()
            ),
            Dep::Key { key, dc } => write!(f, "kv.block({key}{})", at(dc)),
            Dep::Tree { prefix, dc } => write!(f, "kv.list({prefix}{})", at(dc)),
        }
    }
}

/// Split `text@dc` (and `~near`) off a query string.
fn split_suffixes(s: &str) -> (String, Option<String>, Option<String>) {
    let (s, near) = match s.split_once('~') {
        Some((a, n)) => (a, Some(n.to_string()).filter(|n| !n.is_empty())),
        None => (s, None),
    };
    let (s, dc) = match s.rsplit_once('@') {
        Some((a, d)) => (a, Some(d.to_string()).filter(|d| !d.is_empty())),
        None => (s, None),
    };
    (s.to_string(), dc, near)
}

impl Dep {
    /// `service`'s argument(s): `[tag.]name[@dc][~near][|filter]`, extra arguments joined
    /// with `|` (`service "web" "any"`).
    pub fn service(args: &[String]) -> Result<Dep, String> {
        let joined = args.join("|");
        let (query, filters) = match joined.split_once('|') {
            Some((q, f)) => (q, Some(f)),
            None => (joined.as_str(), None),
        };
        let (body, dc, near) = split_suffixes(query.trim());
        let (tag, name) = match body.split_once('.') {
            Some((t, n)) => (Some(t.to_string()), n.to_string()),
            None => (None, body.clone()),
        };
        if name.is_empty() || name.contains('.') {
            return Err(format!("service: invalid format: {joined:?}"));
        }
        let filter = match filters {
            None => HealthFilter::Passing,
            Some(f) => {
                let mut words: Vec<String> = Vec::new();
                for w in f.split([',', '|']).map(str::trim).filter(|w| !w.is_empty()) {
                    match w {
                        "any" | "passing" | "warning" | "critical" | "maintenance" => {
                            words.push(w.to_string())
                        }
                        _ => return Err(format!("service: invalid health status {w:?}")),
                    }
                }
                if words.iter().any(|w| w == "any") {
                    HealthFilter::Any
                } else if words == ["passing"] {
                    // Fetched unfiltered and filtered here, as consul-template does.
                    HealthFilter::Statuses(words)
                } else if words.is_empty() {
                    HealthFilter::Passing
                } else {
                    words.sort();
                    words.dedup();
                    HealthFilter::Statuses(words)
                }
            }
        };
        Ok(Dep::Service {
            name,
            tag,
            dc,
            near,
            filter,
        })
    }

    /// The request path (without `index`/`wait`).
    pub fn path(&self, stale: bool) -> String {
        let mut q: Vec<String> = Vec::new();
        let path = match self {
            Dep::Service {
                name,
                tag,
                dc,
                near,
                filter,
            } => {
                if let Some(t) = tag {
                    q.push(format!("tag={}", path_escape(t)));
                }
                if *filter == HealthFilter::Passing {
                    q.push("passing=1".into());
                }
                push_dc_near(&mut q, dc, near);
                format!("/v1/health/service/{}", path_escape(name))
            }
            Dep::Services { dc } => {
                push_dc_near(&mut q, dc, &None);
                "/v1/catalog/services".into()
            }
            Dep::Node { name, dc } => {
                push_dc_near(&mut q, dc, &None);
                format!("/v1/catalog/node/{}", path_escape(name))
            }
            Dep::Nodes { dc, near } => {
                push_dc_near(&mut q, dc, near);
                "/v1/catalog/nodes".into()
            }
            Dep::Key { key, dc } => {
                push_dc_near(&mut q, dc, &None);
                format!("/v1/kv/{}", key_path(key))
            }
            Dep::Tree { prefix, dc } => {
                q.push("recurse".into());
                push_dc_near(&mut q, dc, &None);
                format!("/v1/kv/{}", key_path(prefix))
            }
        };
        if stale {
            q.push("stale".into());
        }
        if q.is_empty() {
            path
        } else {
            format!("{path}?{}", q.join("&"))
        }
    }

    /// The template's view of an answer (`body` is `Null` for a 404).
    pub fn shape(&self, body: &Json) -> Value {
        match self {
            Dep::Service { filter, .. } => shape_service(body, filter),
            Dep::Services { .. } => {
                let mut list: Vec<(String, Value)> = body
                    .as_object()
                    .map(|o| {
                        o.iter()
                            .map(|(name, tags)| {
                                let mut m = BTreeMap::new();
                                m.insert("Name".to_string(), Value::from(name.as_str()));
                                m.insert("Tags".to_string(), sorted_strings(tags));
                                (name.clone(), Value::from(m))
                            })
                            .collect()
                    })
                    .unwrap_or_default();
                list.sort_by(|a, b| a.0.cmp(&b.0));
                Value::from(list.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
            }
            Dep::Node { .. } => match body {
                Json::Object(o) => {
                    let mut services: Vec<Json> = o
                        .get("Services")
                        .and_then(Json::as_object)
                        .map(|m| m.values().cloned().collect())
                        .unwrap_or_default();
                    services.sort_by(|a, b| {
                        (str_of(a, "Service"), str_of(a, "ID"))
                            .cmp(&(str_of(b, "Service"), str_of(b, "ID")))
                    });
                    let mut m = BTreeMap::new();
                    m.insert(
                        "Node".to_string(),
                        o.get("Node").map(node_value).unwrap_or(Value::Nil),
                    );
                    m.insert(
                        "Services".to_string(),
                        Value::from(
                            services
                                .iter()
                                .map(|s| {
                                    pick(
                                        s,
                                        &[
                                            "ID",
                                            "Service",
                                            "Tags",
                                            "Meta",
                                            "Port",
                                            "Address",
                                            "EnableTagOverride",
                                        ],
                                    )
                                })
                                .collect::<Vec<_>>(),
                        ),
                    );
                    Value::from(m)
                }
                _ => Value::Nil,
            },
            Dep::Nodes { .. } => {
                let mut nodes: Vec<&Json> = body
                    .as_array()
                    .map(|a| a.iter().collect())
                    .unwrap_or_default();
                nodes.sort_by(|a, b| str_of(a, "Node").cmp(str_of(b, "Node")));
                Value::from(nodes.into_iter().map(node_value).collect::<Vec<_>>())
            }
            Dep::Key { .. } => match body.as_array().and_then(|a| a.first()) {
                Some(e) => decoded_value(e),
                None => Value::Nil,
            },
            Dep::Tree { .. } => {
                let list = body
                    .as_array()
                    .map(|a| a.iter().map(key_pair).collect::<Vec<_>>())
                    .unwrap_or_default();
                Value::from(list)
            }
        }
    }
}

fn push_dc_near(q: &mut Vec<String>, dc: &Option<String>, near: &Option<String>) {
    if let Some(d) = dc {
        q.push(format!("dc={}", path_escape(d)));
    }
    if let Some(n) = near {
        q.push(format!("near={}", path_escape(n)));
    }
}

/// A KV path: each segment escaped, slashes kept.
fn key_path(key: &str) -> String {
    key.trim_start_matches('/')
        .split('/')
        .map(path_escape)
        .collect::<Vec<_>>()
        .join("/")
}

fn str_of<'a>(v: &'a Json, k: &str) -> &'a str {
    v.get(k).and_then(Json::as_str).unwrap_or("")
}

/// JSON to a template value, maps sorted (gotmpl's maps are ordered).
pub fn json_value(v: &Json) -> Value {
    match v {
        Json::Null => Value::Nil,
        Json::Bool(b) => Value::Bool(*b),
        Json::Number(n) => {
            if let Some(i) = n.as_i64() {
                Value::Int(i)
            } else if let Some(u) = n.as_u64() {
                Value::Uint(u)
            } else {
                Value::Float(n.as_f64().unwrap_or(0.0))
            }
        }
        Json::String(s) => Value::from(s.as_str()),
        Json::Array(a) => Value::from(a.iter().map(json_value).collect::<Vec<_>>()),
        Json::Object(o) => Value::from(
            o.iter()
                .map(|(k, v)| (k.clone(), json_value(v)))
                .collect::<BTreeMap<String, Value>>(),
        ),
    }
}

fn pick(v: &Json, keys: &[&str]) -> Value {
    let mut m = BTreeMap::new();
    for k in keys {
        let x = v.get(*k).cloned().unwrap_or(Json::Null);
        let val = match (*k, &x) {
            ("Tags", _) => sorted_strings(&x),
            ("Meta" | "TaggedAddresses", Json::Null) => {
                Value::from(BTreeMap::<String, Value>::new())
            }
            _ => json_value(&x),
        };
        m.insert(k.to_string(), val);
    }
    Value::from(m)
}

fn node_value(n: &Json) -> Value {
    pick(
        n,
        &[
            "ID",
            "Node",
            "Address",
            "Datacenter",
            "TaggedAddresses",
            "Meta",
        ],
    )
}

fn sorted_strings(v: &Json) -> Value {
    let mut tags: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Json::as_str).collect())
        .unwrap_or_default();
    tags.sort_unstable();
    Value::from(tags.into_iter().map(Value::from).collect::<Vec<_>>())
}

/// The status an instance shows: maintenance, then critical, warning, passing.
fn aggregate(checks: &[Json]) -> &'static str {
    let mut worst = 0;
    for c in checks {
        let id = str_of(c, "CheckID");
        let rank = if id.starts_with("_service_maintenance:") || id == "_node_maintenance" {
            3
        } else {
            match str_of(c, "Status") {
                "passing" => 0,
                "warning" => 1,
                _ => 2,
            }
        };
        worst = worst.max(rank);
    }
    ["passing", "warning", "critical", "maintenance"][worst]
}

fn shape_service(body: &Json, filter: &HealthFilter) -> Value {
    let Some(entries) = body.as_array() else {
        return Value::from(Vec::<Value>::new());
    };
    let mut out: Vec<((String, String), Value)> = Vec::with_capacity(entries.len());
    for e in entries {
        let node = e.get("Node").unwrap_or(&Json::Null);
        let svc = e.get("Service").unwrap_or(&Json::Null);
        let checks: Vec<Json> = e
            .get("Checks")
            .and_then(Json::as_array)
            .cloned()
            .unwrap_or_default();
        let status = aggregate(&checks);
        let keep = match filter {
            HealthFilter::Any => true,
            HealthFilter::Passing => status == "passing",
            HealthFilter::Statuses(s) => s.iter().any(|x| x == status),
        };
        if !keep {
            continue;
        }
        let mut address = str_of(svc, "Address");
        if address.is_empty() {
            address = str_of(node, "Address");
        }
        let mut m: BTreeMap<String, Value> = BTreeMap::new();
        m.insert("Node".into(), Value::from(str_of(node, "Node")));
        m.insert("NodeID".into(), Value::from(str_of(node, "ID")));
        m.insert("NodeAddress".into(), Value::from(str_of(node, "Address")));
        m.insert(
            "NodeDatacenter".into(),
            Value::from(str_of(node, "Datacenter")),
        );
        m.insert(
            "NodeTaggedAddresses".into(),
            map_or_empty(node.get("TaggedAddresses")),
        );
        m.insert("NodeMeta".into(), map_or_empty(node.get("Meta")));
        m.insert("ServiceMeta".into(), map_or_empty(svc.get("Meta")));
        m.insert("Address".into(), Value::from(address));
        m.insert(
            "ServiceTaggedAddresses".into(),
            map_or_empty(svc.get("TaggedAddresses")),
        );
        m.insert("ID".into(), Value::from(str_of(svc, "ID")));
        m.insert("Name".into(), Value::from(str_of(svc, "Service")));
        m.insert(
            "Tags".into(),
            sorted_strings(svc.get("Tags").unwrap_or(&Json::Null)),
        );
        m.insert(
            "Checks".into(),
            Value::from(checks.iter().map(json_value).collect::<Vec<_>>()),
        );
        m.insert("Status".into(), Value::from(status));
        m.insert(
            "Port".into(),
            Value::Int(svc.get("Port").and_then(Json::as_i64).unwrap_or(0)),
        );
        m.insert(
            "Weights".into(),
            json_value(svc.get("Weights").unwrap_or(&Json::Null)),
        );
        out.push((
            (
                str_of(node, "Node").to_string(),
                str_of(svc, "ID").to_string(),
            ),
            Value::from(m),
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Value::from(out.into_iter().map(|(_, v)| v).collect::<Vec<_>>())
}

fn map_or_empty(v: Option<&Json>) -> Value {
    match v {
        Some(x @ Json::Object(_)) => json_value(x),
        _ => Value::from(BTreeMap::<String, Value>::new()),
    }
}

fn decoded_value(e: &Json) -> Value {
    use base64::Engine;
    let raw = str_of(e, "Value");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(raw)
        .unwrap_or_default();
    Value::String(Arc::from(String::from_utf8_lossy(&bytes).as_ref()))
}

/// A `ls`/`tree` entry: `Key` is filled in relative to the prefix by the caller.
fn key_pair(e: &Json) -> Value {
    let mut m: BTreeMap<String, Value> = BTreeMap::new();
    let key = str_of(e, "Key");
    m.insert("Path".into(), Value::from(key));
    m.insert("Key".into(), Value::from(key));
    m.insert("Value".into(), decoded_value(e));
    for k in ["CreateIndex", "ModifyIndex", "LockIndex", "Flags"] {
        m.insert(
            k.into(),
            Value::Uint(e.get(k).and_then(Json::as_u64).unwrap_or(0)),
        );
    }
    m.insert("Session".into(), Value::from(str_of(e, "Session")));
    Value::from(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn service_queries_parse_like_consul_templates() {
        assert_eq!(
            Dep::service(&s(&["web"])).unwrap().path(true),
            "/v1/health/service/web?passing=1&stale"
        );
        assert_eq!(
            Dep::service(&s(&["prod.web@dc2~n1"])).unwrap().path(false),
            "/v1/health/service/web?tag=prod&passing=1&dc=dc2&near=n1"
        );
        assert_eq!(
            Dep::service(&s(&["web", "any"])).unwrap(),
            Dep::service(&s(&["web|any"])).unwrap()
        );
        match Dep::service(&s(&["web|warning,passing"])).unwrap() {
            Dep::Service {
                filter: HealthFilter::Statuses(v),
                ..
            } => assert_eq!(v, ["passing", "warning"]),
            other => panic!("{other:?}"),
        }
        assert!(
            !Dep::service(&s(&["web|passing"]))
                .unwrap()
                .path(false)
                .contains("passing=1")
        );
        assert!(Dep::service(&s(&["web|bogus"])).is_err());
        assert!(Dep::service(&s(&[""])).is_err());
    }

    #[test]
    fn service_entries_are_sorted_aggregated_and_address_falls_back() {
        let body: Json = serde_json::json!([
            {"Node": {"Node": "n2", "Address": "10.0.0.2"}, "Service": {"ID": "b", "Service": "web", "Tags": ["z", "a"], "Port": 2, "Address": ""},
             "Checks": [{"CheckID": "serfHealth", "Status": "passing"}]},
            {"Node": {"Node": "n1", "Address": "10.0.0.1"}, "Service": {"ID": "a", "Service": "web", "Port": 1, "Address": "192.168.0.1"},
             "Checks": [{"CheckID": "c", "Status": "warning"}]},
            {"Node": {"Node": "n1", "Address": "10.0.0.1"}, "Service": {"ID": "m", "Service": "web", "Port": 3},
             "Checks": [{"CheckID": "_service_maintenance:m", "Status": "critical"}]}
        ]);
        let any = Dep::service(&s(&["web|any"])).unwrap().shape(&body);
        let text = gotmpl::execute(
            "{{range .}}{{.Node}}/{{.ID}} {{.Address}}:{{.Port}} {{.Status}} {{.Tags}}\n{{end}}",
            &any,
        )
        .unwrap();
        assert_eq!(
            text,
            "n1/a 192.168.0.1:1 warning []\nn1/m 10.0.0.1:3 maintenance []\nn2/b 10.0.0.2:2 passing [a z]\n"
        );
        let passing = Dep::service(&s(&["web"])).unwrap().shape(&body);
        assert_eq!(passing.len(), Some(1));
        let pw = Dep::service(&s(&["web|passing,warning"]))
            .unwrap()
            .shape(&body);
        assert_eq!(pw.len(), Some(2));
    }
}
