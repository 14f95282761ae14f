//! What registrator registers for a container: one service per published port, named
//! and tagged from the image and the container's `SERVICE_*` environment (and labels),
//! with registrator's rules, as agent service definitions.

use std::collections::BTreeMap;

use serde_json::{Value, json};

/// How services are derived.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// The registering host's name: the first part of every service ID.
    pub hostname: String,
    /// Use the container's own address and exposed ports, published or not.
    pub internal: bool,
    /// Address to register instead of each binding's host IP.
    pub ip: Option<String>,
    /// Tags added to every service.
    pub tags: Vec<String>,
    /// Only containers that set `SERVICE_NAME` (or a port's name).
    pub explicit: bool,
}

/// One port of a container, as Docker reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Port {
    /// The container's port ("80").
    exposed: String,
    /// "tcp" or "udp".
    proto: String,
    host_ip: String,
    host_port: String,
}

/// The `SERVICE_*` settings of a container: environment first, labels over it.
fn settings(c: &Value) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    if let Some(env) = c["Config"]["Env"].as_array() {
        for kv in env.iter().filter_map(Value::as_str) {
            if let Some((k, v)) = kv.split_once('=')
                && let Some(k) = k.strip_prefix("SERVICE_")
            {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    if let Some(labels) = c["Config"]["Labels"].as_object() {
        for (k, v) in labels {
            if let (Some(k), Some(v)) = (k.strip_prefix("SERVICE_"), v.as_str()) {
                out.insert(k.to_string(), v.to_string());
            }
        }
    }
    out
}

fn ports(c: &Value, internal: bool) -> Vec<Port> {
    let mut out = Vec::new();
    let split = |key: &str| {
        let (p, proto) = key.split_once('/').unwrap_or((key, "tcp"));
        (p.to_string(), proto.to_string())
    };
    if internal {
        if let Some(exposed) = c["Config"]["ExposedPorts"].as_object() {
            let ip = c["NetworkSettings"]["IPAddress"].as_str().unwrap_or("");
            for key in exposed.keys() {
                let (p, proto) = split(key);
                out.push(Port {
                    host_ip: ip.to_string(),
                    host_port: p.clone(),
                    exposed: p,
                    proto,
                });
            }
        }
    } else if let Some(bound) = c["NetworkSettings"]["Ports"].as_object() {
        for (key, bindings) in bound {
            let (p, proto) = split(key);
            // The first binding of each port, as registrator takes it.
            if let Some(b) = bindings.as_array().and_then(|a| a.first()) {
                out.push(Port {
                    exposed: p,
                    proto,
                    host_ip: b["HostIp"].as_str().unwrap_or("").to_string(),
                    host_port: b["HostPort"].as_str().unwrap_or("").to_string(),
                });
            }
        }
    }
    out.sort_by(|a, b| {
        (a.exposed.parse::<u32>().unwrap_or(0), &a.proto)
            .cmp(&(b.exposed.parse::<u32>().unwrap_or(0), &b.proto))
    });
    out
}

/// The image's name without registry, path or tag: `repo/team/web:1.2` → `web`.
pub fn image_base(image: &str) -> String {
    let last = image.rsplit('/').next().unwrap_or(image);
    let last = last.split('@').next().unwrap_or(last);
    last.split(':').next().unwrap_or(last).to_string()
}

/// A comma-separated tag list, blanks dropped (`SERVICE_TAGS`, `-tags`).
pub fn split_tags(s: &str) -> Vec<String> {
    s.split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(String::from)
        .collect()
}

fn is_true(v: Option<&String>) -> bool {
    matches!(v.map(String::as_str), Some("true" | "1" | "yes"))
}

/// The agent service definitions for a running container (empty when it publishes
/// nothing, asks to be ignored, or `explicit` is set and it names no service).
pub fn services_for(c: &Value, opts: &Options) -> Vec<Value> {
    let all = settings(c);
    if is_true(all.get("IGNORE")) {
        return Vec::new();
    }
    let container_name = c["Name"]
        .as_str()
        .unwrap_or("")
        .trim_start_matches('/')
        .to_string();
    let image = c["Config"]["Image"].as_str().unwrap_or("");
    let ports = ports(c, opts.internal);
    let many = ports.len() > 1;
    let mut out = Vec::new();
    for p in &ports {
        // Port-specific settings (SERVICE_80_NAME) over the container's (SERVICE_NAME).
        let mut s: BTreeMap<String, String> = all
            .iter()
            .filter(|(k, _)| !k.starts_with(|ch: char| ch.is_ascii_digit()))
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone()))
            .collect();
        let prefix = format!("{}_", p.exposed);
        for (k, v) in &all {
            if let Some(rest) = k.strip_prefix(&prefix) {
                s.insert(rest.to_ascii_lowercase(), v.clone());
            }
        }
        if is_true(s.get("ignore")) {
            continue;
        }
        let port_named = all.contains_key(&format!("{}_NAME", p.exposed));
        let name = match s.remove("name") {
            Some(n) if port_named || !many => n,
            Some(n) => format!("{n}-{}", p.exposed),
            None if opts.explicit => continue,
            None if many => format!("{}-{}", image_base(image), p.exposed),
            None => image_base(image),
        };
        let mut id = s
            .remove("id")
            .unwrap_or_else(|| format!("{}:{}:{}", opts.hostname, container_name, p.exposed));
        if p.proto == "udp"
            && !all.contains_key(&format!("{}_ID", p.exposed))
            && !id.ends_with(":udp")
        {
            id.push_str(":udp");
        }
        let mut tags = s.remove("tags").map(|t| split_tags(&t)).unwrap_or_default();
        tags.extend(opts.tags.iter().cloned());
        let address = match &opts.ip {
            Some(ip) if !opts.internal => ip.clone(),
            // A wildcard binding means "this host": the agent's address.
            _ if matches!(p.host_ip.as_str(), "0.0.0.0" | "::" | "") => String::new(),
            _ => p.host_ip.clone(),
        };
        let port: i64 = p.host_port.parse().unwrap_or(0);
        let check_addr = if address.is_empty() {
            "127.0.0.1".to_string()
        } else {
            address.clone()
        };
        let check = check_for(&mut s, &check_addr, port);
        let meta: BTreeMap<String, String> = s
            .into_iter()
            .filter(|(k, _)| !k.starts_with("check_"))
            .collect();
        let mut def = json!({
            "ID": id,
            "Name": name,
            "Tags": tags,
            "Port": port,
            "Address": address,
            "Meta": meta,
        });
        if let Some(check) = check {
            def["Check"] = check;
        }
        out.push(def);
    }
    out
}

/// `SERVICE_CHECK_HTTP=/health`, `_HTTPS`, `_TCP=true`, `_TTL=30s`, `_SCRIPT`, with
/// `_INTERVAL` (10s), `_TIMEOUT`, `_INITIAL_STATUS` and `_DEREGISTER_AFTER`.
fn check_for(s: &mut BTreeMap<String, String>, addr: &str, port: i64) -> Option<Value> {
    let interval = s
        .get("check_interval")
        .cloned()
        .unwrap_or_else(|| "10s".into());
    let mut check = if let Some(path) = s.get("check_http") {
        json!({"HTTP": format!("http://{addr}:{port}{path}"), "Interval": interval})
    } else if let Some(path) = s.get("check_https") {
        json!({"HTTP": format!("https://{addr}:{port}{path}"), "Interval": interval, "TLSSkipVerify": true})
    } else if s.get("check_tcp").is_some_and(|v| v == "true") {
        json!({"TCP": format!("{addr}:{port}"), "Interval": interval})
    } else if let Some(ttl) = s.get("check_ttl") {
        json!({"TTL": ttl})
    } else if let Some(script) = s.get("check_script") {
        let script = script
            .replace("$SERVICE_IP", addr)
            .replace("$SERVICE_PORT", &port.to_string());
        json!({"Args": ["/bin/sh", "-c", script], "Interval": interval})
    } else {
        return None;
    };
    if let Some(t) = s.get("check_timeout") {
        check["Timeout"] = json!(t);
    }
    if let Some(st) = s.get("check_initial_status") {
        check["Status"] = json!(st);
    }
    if let Some(d) = s.get("check_deregister_after") {
        check["DeregisterCriticalServiceAfter"] = json!(d);
    }
    Some(check)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn container(env: &[&str], ports: Value) -> Value {
        json!({
            "Name": "/shop_web_1",
            "Config": {"Image": "registry.local:5000/team/web:1.2", "Env": env, "Labels": {},
                       "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}},
            "NetworkSettings": {"IPAddress": "172.17.0.5", "Ports": ports}
        })
    }

    fn opts() -> Options {
        Options {
            hostname: "host1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn one_published_port_is_the_image_name() {
        let c = container(
            &["SERVICE_TAGS=a, b", "SERVICE_VERSION=2", "PATH=/bin"],
            json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "32768"}], "443/tcp": null}),
        );
        let s = services_for(&c, &opts());
        assert_eq!(s.len(), 1);
        assert_eq!(s[0]["Name"], "web");
        assert_eq!(s[0]["ID"], "host1:shop_web_1:80");
        assert_eq!(s[0]["Port"], 32768);
        assert_eq!(s[0]["Address"], "");
        assert_eq!(s[0]["Tags"], json!(["a", "b"]));
        assert_eq!(s[0]["Meta"], json!({"version": "2"}));
        assert!(s[0].get("Check").is_none());
    }

    #[test]
    fn several_ports_get_a_suffix_unless_named_per_port() {
        let c = container(
            &[
                "SERVICE_443_NAME=web-tls",
                "SERVICE_80_CHECK_HTTP=/health",
                "SERVICE_80_TAGS=plain",
            ],
            json!({"80/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8080"}],
                   "443/tcp": [{"HostIp": "127.0.0.1", "HostPort": "8443"}]}),
        );
        let s = services_for(&c, &opts());
        let names: Vec<_> = s.iter().map(|x| x["Name"].as_str().unwrap()).collect();
        assert_eq!(names, ["web-80", "web-tls"]);
        assert_eq!(s[0]["Address"], "127.0.0.1");
        assert_eq!(s[0]["Tags"], json!(["plain"]));
        assert_eq!(s[0]["Check"]["HTTP"], "http://127.0.0.1:8080/health");
        assert_eq!(s[0]["Check"]["Interval"], "10s");
        assert!(s[1].get("Check").is_none());
    }

    #[test]
    fn ignore_explicit_internal_ids_and_udp() {
        let bound = json!({"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "1"}]});
        assert!(
            services_for(&container(&["SERVICE_IGNORE=true"], bound.clone()), &opts()).is_empty()
        );
        let explicit = Options {
            explicit: true,
            ..opts()
        };
        assert!(services_for(&container(&[], bound.clone()), &explicit).is_empty());
        let s = services_for(
            &container(&["SERVICE_NAME=shop", "SERVICE_ID=shop-1"], bound),
            &explicit,
        );
        assert_eq!(
            (s[0]["Name"].as_str(), s[0]["ID"].as_str()),
            (Some("shop"), Some("shop-1"))
        );
        let internal = Options {
            internal: true,
            ..opts()
        };
        let s = services_for(
            &container(&["SERVICE_CHECK_TCP=true"], json!({})),
            &internal,
        );
        assert_eq!(s.len(), 2);
        assert_eq!(s[0]["Address"], "172.17.0.5");
        assert_eq!(s[0]["Port"], 80);
        assert_eq!(s[0]["Check"]["TCP"], "172.17.0.5:80");
        let udp = container(&[], json!({"53/udp": [{"HostIp": "", "HostPort": "5353"}]}));
        assert_eq!(
            services_for(&udp, &opts())[0]["ID"],
            "host1:shop_web_1:53:udp"
        );
        assert_eq!(image_base("web"), "web");
        assert_eq!(image_base("a/b/c:latest"), "c");
        assert_eq!(image_base("c@sha256:abc"), "c");
    }
}
