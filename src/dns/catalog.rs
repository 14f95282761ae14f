//! Where answers come from: this server's own state store, or a server (the leader, or any
//! server for a client agent) through the server RPC, with a client agent's cache. Both
//! paths produce the same [`Instance`] and [`NodeInfo`], so the health filter and
//! everything after it is written once; a server's JSON is decoded in one place
//! ([`instances_from_json`], [`nodes_from_json`]).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::Value;

use crate::acl;

use crate::api::health::{Node, ServiceEntry};

use super::Handler;

/// One service instance as DNS sees it, whichever source it came from.
#[derive(Clone, Debug)]
pub(super) struct Instance {
    pub(super) node: String,
    pub(super) node_address: String,
    pub(super) address: String,
    pub(super) port: u16,
    /// SRV weight while its checks pass.
    passing_weight: u16,
    /// SRV weight while a check warns.
    warning_weight: u16,
    /// The node's meta (only gathered for SRV answers, which carry it as TXT).
    pub(super) node_meta: Vec<(String, String)>,
    /// What its checks (the node's and its own) say.
    health: Health,
}

impl Instance {
    /// The SRV weight its current health calls for (Consul's `Weights`).
    pub(super) fn weight(&self) -> u16 {
        if self.health.warning {
            self.warning_weight
        } else {
            self.passing_weight
        }
    }
}

/// An instance's checks summed up as far as DNS cares.
#[derive(Clone, Copy, Debug, Default)]
struct Health {
    /// A check is critical: never answered.
    critical: bool,
    /// A check is not passing: left out with `only_passing`.
    not_passing: bool,
    /// A check warns: answered with the warning weight.
    warning: bool,
}

impl Health {
    fn of<'a>(statuses: impl IntoIterator<Item = &'a str>) -> Health {
        let mut h = Health::default();
        for s in statuses {
            h.critical |= s == "critical";
            h.not_passing |= s != "passing";
            h.warning |= s == "warning";
        }
        h
    }

    /// The health filter: whether DNS answers with this instance.
    fn admits(&self, only_passing: bool) -> bool {
        !(self.critical || (only_passing && self.not_passing))
    }
}

/// A node as DNS sees it.
#[derive(Clone, Debug)]
pub(super) struct NodeInfo {
    pub(super) name: String,
    pub(super) address: String,
    pub(super) meta: Vec<(String, String)>,
}

/// Where a lookup reads the catalog.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// This server's own state: the leader's, or a follower's while stale reads are allowed
    /// and it heard from the leader within `max_stale`.
    Local,
    /// The leader's, through the server RPC (a follower that may not answer itself).
    Leader,
    /// A server's, through the server RPC (client agents).
    Server,
}

/// Client agents' answers from a server by path, kept with `use_cache` for
/// `cache_max_age`.
#[derive(Default)]
pub(super) struct RemoteCache(Mutex<HashMap<String, (Instant, Value)>>);

impl RemoteCache {
    /// Most paths kept; past this the cache starts over rather than grow without end.
    const MAX_ENTRIES: usize = 4096;

    fn get(&self, path: &str, max_age: Duration) -> Option<Value> {
        self.0
            .lock()
            .get(path)
            .filter(|(at, _)| at.elapsed() < max_age)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, path: &str, v: Value) {
        let mut c = self.0.lock();
        if c.len() > Self::MAX_ENTRIES {
            c.clear();
        }
        c.insert(path.to_string(), (Instant::now(), v));
    }
}

impl Handler {
    /// Where lookups read now (Consul's `allow_stale` and `max_stale`).
    fn source(&self) -> Source {
        let Some(c) = &self.agent.consensus else {
            return Source::Server;
        };
        let dns = self.dns();
        if c.is_leader()
            || (dns.allow_stale && c.last_contact().is_some_and(|d| d <= dns.max_stale))
        {
            Source::Local
        } else {
            Source::Leader
        }
    }

    /// `path` with the consistency a read from `source` asks for: a client agent's reads are
    /// stale within `max_stale` when allowed; the leader answers in its default mode.
    fn consistent_path(&self, path: &str, source: Source) -> String {
        let dns = self.dns();
        if source == Source::Leader || !dns.allow_stale {
            return path.to_string();
        }
        crate::api::with_query(
            path,
            &format!(
                "stale&max_stale={}",
                crate::api::duration::format_go(dns.max_stale)
            ),
        )
    }

    /// What DNS may show when it reads this server's own store with ACLs on: the rights of
    /// the agent's default token (else the anonymous token's). `None` with ACLs off. A token
    /// that does not resolve shows nothing.
    async fn dns_rights(&self) -> Option<std::sync::Arc<crate::agent::acl::Identity>> {
        if !self.agent.cfg.acl.enabled {
            return None;
        }
        Some(match self.agent.resolve_token("").await {
            Ok((id, _)) => id,
            Err(_) => std::sync::Arc::new(crate::agent::acl::Identity {
                accessor: String::new(),
                description: String::new(),
                authorizer: acl::Authorizer::default_only(acl::DefaultPolicy::Deny),
            }),
        })
    }

    /// The instances of `service` (with `tag`) that DNS answers with: none with a critical
    /// check, and only passing ones with `only_passing`. `with_meta` gathers node meta.
    pub(super) async fn healthy_instances(
        &self,
        service: &str,
        tag: Option<&str>,
        with_meta: bool,
        remote: Option<&str>,
    ) -> Result<Vec<Instance>, String> {
        let source = if remote.is_some() {
            Source::Server
        } else {
            self.source()
        };
        let mut instances = if source == Source::Local {
            let mut list = self.local_instances(service, tag, with_meta);
            if let Some(rights) = self.dns_rights().await {
                let service_ok =
                    rights
                        .authorizer
                        .allows(acl::Resource::Service, service, acl::Level::Read);
                list.retain(|i| {
                    service_ok
                        && rights
                            .authorizer
                            .allows(acl::Resource::Node, &i.node, acl::Level::Read)
                });
            }
            list
        } else {
            let mut path = format!("/v1/health/service/{}", crate::api::path_escape(service));
            if let Some(t) = tag {
                path.push_str("?tag=");
                path.push_str(&crate::api::path_escape(t));
            }
            let v = self
                .remote(&self.consistent_path(&path, source), source, remote)
                .await?;
            instances_from_json(&v, with_meta)
        };
        let only_passing = self.dns().only_passing;
        instances.retain(|i| i.health.admits(only_passing));
        Ok(instances)
    }

    /// Every instance of `service` (with `tag`) in this server's store, copied out under
    /// one read guard.
    fn local_instances(&self, service: &str, tag: Option<&str>, with_meta: bool) -> Vec<Instance> {
        let store = self.agent.store.read();
        let tags: Vec<String> = tag.map(|t| vec![t.to_string()]).unwrap_or_default();
        store
            .service_instances(service, &tags)
            .into_iter()
            .map(|(node, svc)| {
                let checks = store.instance_checks(&node.node, &svc.id);
                Instance {
                    node: node.node.to_string(),
                    node_address: node.address.clone(),
                    address: svc.address.clone(),
                    port: u16::try_from(svc.port).unwrap_or(0),
                    passing_weight: weight(svc.weights.passing),
                    warning_weight: weight(svc.weights.warning),
                    node_meta: if with_meta {
                        node.meta
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    } else {
                        Vec::new()
                    },
                    health: Health::of(checks.iter().map(|c| c.status.as_str())),
                }
            })
            .collect()
    }

    /// The node named `node` (case-insensitively), if the catalog has it.
    pub(super) async fn lookup_node(
        &self,
        node: &str,
        remote: Option<&str>,
    ) -> Result<Option<NodeInfo>, String> {
        Ok(self
            .nodes_where(|name, _| name.eq_ignore_ascii_case(node), remote)
            .await?
            .into_iter()
            .next())
    }

    /// The nodes `keep(name, address)` selects; from the local store only those are copied.
    pub(super) async fn nodes_where(
        &self,
        keep: impl Fn(&str, &str) -> bool,
        remote: Option<&str>,
    ) -> Result<Vec<NodeInfo>, String> {
        let source = if remote.is_some() {
            Source::Server
        } else {
            self.source()
        };
        if source == Source::Local {
            let rights = self.dns_rights().await;
            let store = self.agent.store.read();
            return Ok(store
                .nodes()
                .into_iter()
                .filter(|n| keep(&n.node, &n.address))
                .filter(|n| {
                    rights.as_ref().is_none_or(|r| {
                        r.authorizer
                            .allows(acl::Resource::Node, &n.node, acl::Level::Read)
                    })
                })
                .map(|n| NodeInfo {
                    name: n.node.to_string(),
                    address: n.address.clone(),
                    meta: n.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                })
                .collect());
        }
        let v = self
            .remote(
                &self.consistent_path("/v1/catalog/nodes", source),
                source,
                remote,
            )
            .await?;
        let mut nodes = nodes_from_json(&v);
        nodes.retain(|n| keep(&n.name, &n.address));
        Ok(nodes)
    }

    /// A read through a server (`source` says which; `dc`: a server of that datacenter,
    /// through a local server on a client agent), kept for `cache_max_age` when a client
    /// agent has `use_cache`.
    async fn remote(&self, path: &str, source: Source, dc: Option<&str>) -> Result<Value, String> {
        let with_dc;
        let path = match dc {
            Some(dc) => {
                with_dc =
                    crate::api::with_query(path, &format!("dc={}", crate::api::path_escape(dc)));
                with_dc.as_str()
            }
            None => path,
        };
        // Only client agents cache, and only with `use_cache`; reads the leader must answer
        // never come from a cache.
        let dns = self.dns();
        let cached = source == Source::Server && dns.use_cache;
        let max_age = if dns.cache_max_age.is_zero() {
            Duration::from_secs(1)
        } else {
            dns.cache_max_age
        };
        if cached && let Some(v) = self.cache.get(path, max_age) {
            return Ok(v);
        }
        let req = crate::rpc::Request::Http {
            method: "GET".into(),
            uri: path.to_string(),
            body: Vec::new(),
            from_server: source == Source::Leader,
            // DNS acts with the agent's default token (Consul's `dns` use of it).
            token: if self.agent.cfg.acl.enabled {
                self.agent.effective_secret("")
            } else {
                String::new()
            },
        };
        let timeout = Duration::from_secs(5);
        let reply = if let Some(dc) = dc
            && self.agent.consensus.is_some()
        {
            self.agent.forward_dc(dc, req, timeout).await
        } else if source == Source::Leader {
            self.agent
                .forward_to_leader(req, timeout)
                .await
                .ok_or("No cluster leader")?
        } else {
            self.agent.forward(req, timeout).await
        }
        .map_err(|e| e.to_string())?;
        let crate::rpc::Reply::Http { status, body, .. } = reply else {
            return Err("unexpected reply".into());
        };
        let v: Value = if status == 404 {
            Value::Null
        } else if status >= 400 {
            return Err(String::from_utf8_lossy(&body).into_owned());
        } else {
            serde_json::from_slice(&body).map_err(|e| e.to_string())?
        };
        if cached {
            self.cache.put(path, v.clone());
        }
        Ok(v)
    }
}

/// A server's `/v1/health/service/<name>` answer as instances (decoded into the API's
/// shared [`ServiceEntry`]; a body of another shape yields no instance).
pub(super) fn instances_from_json(v: &Value, with_meta: bool) -> Vec<Instance> {
    let entries = Vec::<ServiceEntry>::deserialize(v).unwrap_or_default();
    entries
        .into_iter()
        .map(|e| Instance {
            health: Health::of(e.checks.iter().map(|c| c.status.as_str())),
            node_meta: if with_meta {
                e.node.meta.into_iter().collect()
            } else {
                Vec::new()
            },
            node: e.node.node,
            node_address: e.node.address,
            address: e.service.address,
            port: u16::try_from(e.service.port).unwrap_or(0),
            passing_weight: weight(e.service.weights.passing),
            warning_weight: weight(e.service.weights.warning),
        })
        .collect()
}

/// A server's `/v1/catalog/nodes` answer as nodes.
fn nodes_from_json(v: &Value) -> Vec<NodeInfo> {
    Vec::<Node>::deserialize(v)
        .unwrap_or_default()
        .into_iter()
        .map(|n| NodeInfo {
            name: n.node,
            address: n.address,
            meta: n.meta.into_iter().collect(),
        })
        .collect()
}

/// A catalog weight as an SRV weight (negative ones as 0).
fn weight(w: i64) -> u16 {
    u16::try_from(w.max(0)).unwrap_or(u16::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The local and the remote path agree on the filter: critical never, non-passing only
    /// without `only_passing`, and a warning picks the warning weight.
    #[test]
    fn health_filter_and_weight() {
        let v: Value = serde_json::from_str(
            r#"[
              {"Node":{"Node":"n1","Address":"10.0.0.1"},"Service":{"Port":80,"Weights":{"Passing":5,"Warning":2}},
               "Checks":[{"Status":"passing"},{"Status":"warning"}]},
              {"Node":{"Node":"n2","Address":"10.0.0.2"},"Service":{"Port":80},
               "Checks":[{"Status":"passing"}]},
              {"Node":{"Node":"n3","Address":"10.0.0.3"},"Service":{"Port":80},
               "Checks":[{"Status":"critical"}]}
            ]"#,
        )
        .unwrap();
        let all = instances_from_json(&v, false);
        let admitted = |only_passing| -> Vec<(String, u16)> {
            all.iter()
                .filter(|i| i.health.admits(only_passing))
                .map(|i| (i.node.clone(), i.weight()))
                .collect()
        };
        assert_eq!(admitted(false), [("n1".into(), 2), ("n2".into(), 1)]);
        assert_eq!(admitted(true), [("n2".into(), 1)]);
    }
}
