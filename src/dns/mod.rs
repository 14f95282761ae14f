//! The DNS interface: `<service>.service.<domain>`, `<node>.node.<domain>`,
//! `<hex>.addr.<domain>` and reverse lookups, answered from the catalog with critical
//! instances left out, on `client_addr:ports.dns` over UDP and TCP. Built on hickory (its
//! wire format, TCP transport and request-handler trait; UDP has its own loop in `udp.rs`);
//! what a name means and which records answer it is ours.
//!
//! Servers answer from their own state store (DNS reads are stale within `max_stale` by
//! default, as Consul's; otherwise the leader answers);
//! client agents ask a server through the server RPC (keeping answers only with `use_cache`).

pub mod names;
mod udp;

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, NS, PTR, SOA, SRV, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo, Server};
use hickory_server::zone_handler::MessageResponseBuilder;
use parking_lot::Mutex;
use rand::seq::SliceRandom;

use crate::agent::Agent;
use crate::config::DnsConfig;
use names::Lookup;

/// One service instance as DNS sees it.
#[derive(Clone, Debug)]
struct Instance {
    node: String,
    node_address: String,
    address: String,
    port: u16,
    weight: u16,
    /// The node's meta (only gathered for SRV answers, which carry it as TXT).
    node_meta: Vec<(String, String)>,
}

/// A node as DNS sees it.
#[derive(Clone, Debug)]
struct NodeInfo {
    name: String,
    address: String,
    meta: Vec<(String, String)>,
}

/// What one query produced.
#[derive(Debug, Default)]
struct Reply {
    code: ResponseCode,
    answers: Vec<Record>,
    authority: Vec<Record>,
    additional: Vec<Record>,
    truncated: bool,
    recursion_available: bool,
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

/// Answers DNS queries for one agent.
pub struct Handler {
    agent: Arc<Agent>,
    /// Lowercase domains with a trailing dot (`consul.`, the alt domain).
    domains: Vec<String>,
    /// Client agents: path → (fetched at, JSON).
    cache: Mutex<HashMap<String, (Instant, serde_json::Value)>>,
}

fn fqdn(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    if s.ends_with('.') { s } else { format!("{s}.") }
}

fn name(s: &str) -> Option<Name> {
    Name::from_ascii(s).ok()
}

impl Handler {
    /// A handler for `agent`'s configured domains.
    pub fn new(agent: Arc<Agent>) -> Handler {
        let mut domains = vec![fqdn(&agent.cfg.domain)];
        if let Some(alt) = &agent.cfg.alt_domain {
            domains.push(fqdn(alt));
        }
        Handler {
            agent,
            domains,
            cache: Mutex::new(HashMap::new()),
        }
    }

    fn dns(&self) -> &DnsConfig {
        &self.agent.cfg.dns
    }

    fn soa(&self, domain: &str) -> Option<Record> {
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let dns = self.dns();
        Handler::soa_record(domain, dns.soa_min_ttl, dns.soa_timers, serial)
    }

    /// The SOA of `domain`, whose minimum TTL is also the negative-answer TTL; `timers` are
    /// refresh, retry and expire.
    fn soa_record(domain: &str, min_ttl: u32, timers: [u32; 3], serial: u32) -> Option<Record> {
        let [refresh, retry, expire] = timers;
        let rdata = SOA::new(
            name(&format!("ns.{domain}"))?,
            name(&format!("hostmaster.{domain}"))?,
            serial,
            refresh as i32,
            retry as i32,
            expire as i32,
            min_ttl,
        );
        Some(Record::from_rdata(
            name(domain)?,
            min_ttl,
            RData::SOA(rdata),
        ))
    }

    /// Answer one query.
    async fn answer(&self, qname: &str, qtype: RecordType, raw: &[u8]) -> Reply {
        let lower = qname.to_ascii_lowercase();
        let Some(domain) = self
            .domains
            .iter()
            .find(|d| {
                lower == **d
                    || (lower.ends_with(d.as_str())
                        && lower[..lower.len() - d.len()].ends_with('.'))
            })
            .cloned()
        else {
            if qtype == RecordType::PTR
                && let Some(ip) = names::reverse_ip(&lower)
            {
                let r = self.ptr(qname, ip).await;
                // An address the catalog does not know is the recursors' to answer.
                if r.code != ResponseCode::NXDomain || self.agent.cfg.recursors.is_empty() {
                    return r;
                }
            }
            return self.recurse(raw).await;
        };
        self.agent.metrics.incr("consul.dns.domain_query");
        let rest = lower[..lower.len() - domain.len()].trim_end_matches('.');
        let labels: Vec<&str> = if rest.is_empty() {
            Vec::new()
        } else {
            rest.split('.').collect()
        };
        let Some((lookup, dc)) = names::parse(&labels) else {
            return self.negative(&domain, ResponseCode::NXDomain);
        };
        if let Some(dc) = dc
            && dc != self.agent.cfg.datacenter.to_ascii_lowercase()
        {
            return self.negative(&domain, ResponseCode::NXDomain);
        }
        let result = match lookup {
            Lookup::Apex => Ok(self.apex(qname, qtype, &domain)),
            Lookup::Service { name, tag } => self.service(qname, qtype, &domain, &name, tag).await,
            Lookup::Node(node) => self.node(qname, qtype, &domain, &node).await,
            Lookup::Addr(ip) => Ok(self.addr(qname, qtype, &domain, ip)),
        };
        match result {
            Ok(r) => r,
            Err(e) => {
                self.agent.metrics.incr("consul.dns.servfail");
                tracing::debug!("dns: {qname}: {e}");
                Reply {
                    code: ResponseCode::ServFail,
                    ..Default::default()
                }
            }
        }
    }

    fn negative(&self, domain: &str, code: ResponseCode) -> Reply {
        if code == ResponseCode::NXDomain {
            self.agent.metrics.incr("consul.dns.nxdomain");
        }
        Reply {
            code,
            authority: self.soa(domain).into_iter().collect(),
            ..Default::default()
        }
    }

    fn apex(&self, qname: &str, qtype: RecordType, domain: &str) -> Reply {
        let mut r = Reply::default();
        match qtype {
            RecordType::SOA | RecordType::ANY => r.answers.extend(self.soa(domain)),
            RecordType::NS => {
                let ttl = self.dns().node_ttl.as_secs() as u32;
                let dc = &self.agent.cfg.datacenter;
                for (node, addr) in self.name_servers() {
                    let (Some(owner), Some(target)) =
                        (name(qname), name(&format!("{node}.node.{dc}.{domain}")))
                    else {
                        continue;
                    };
                    r.answers.push(Record::from_rdata(
                        owner,
                        ttl,
                        RData::NS(NS(target.clone())),
                    ));
                    r.additional.extend(addr_record(target, &addr, ttl));
                }
                if r.answers.is_empty() {
                    r.authority.extend(self.soa(domain));
                }
            }
            _ => r.authority.extend(self.soa(domain)),
        }
        r
    }

    /// The domain's name servers as Consul names them: up to three of the datacenter's
    /// alive servers, in a fresh order per query (this agent alone without gossip).
    fn name_servers(&self) -> Vec<(String, String)> {
        let Some(g) = &self.agent.gossip else {
            return vec![(
                self.agent.node_name().to_string(),
                self.agent.advertise.to_string(),
            )];
        };
        let dc = &self.agent.cfg.datacenter;
        let mut servers: Vec<(String, String)> = g
            .members()
            .into_iter()
            .filter(|m| {
                m.status == crate::gossip::Status::Alive
                    && m.id.tags.get("role").map(String::as_str) == Some("consul")
                    && m.id.tags.get("dc") == Some(dc)
            })
            .map(|m| (m.id.name, m.id.addr.ip().to_string()))
            .collect();
        servers.shuffle(&mut rand::rng());
        servers.truncate(3);
        servers
    }

    fn addr(&self, qname: &str, qtype: RecordType, domain: &str, ip: IpAddr) -> Reply {
        let wanted = matches!(
            (qtype, ip),
            (RecordType::A | RecordType::ANY, IpAddr::V4(_))
                | (RecordType::AAAA | RecordType::ANY, IpAddr::V6(_))
        );
        let mut r = Reply::default();
        match name(qname).and_then(|n| addr_record(n, &ip.to_string(), 0)) {
            Some(rec) if wanted => r.answers.push(rec),
            _ => r.authority.extend(self.soa(domain)),
        }
        r
    }

    async fn node(
        &self,
        qname: &str,
        qtype: RecordType,
        domain: &str,
        node: &str,
    ) -> Result<Reply, String> {
        let Some(n) = self.lookup_node(node).await? else {
            return Ok(self.negative(domain, ResponseCode::NXDomain));
        };
        let ttl = self.dns().node_ttl.as_secs() as u32;
        let owner = name(qname).ok_or("bad name")?;
        let mut r = Reply::default();
        let txt = || meta_txt(&owner, ttl, &n.meta);
        match qtype {
            RecordType::TXT => r.answers.extend(txt()),
            RecordType::A | RecordType::AAAA | RecordType::ANY | RecordType::CNAME => {
                if let Some(rec) = address_records(&owner, &n.address, ttl, qtype) {
                    r.answers.push(rec);
                }
                if qtype == RecordType::ANY {
                    r.answers.extend(txt());
                } else if self.dns().enable_additional_node_meta_txt {
                    r.additional.extend(txt());
                }
            }
            _ => {}
        }
        if r.answers.is_empty() {
            r.authority.extend(self.soa(domain));
        }
        Ok(r)
    }

    async fn service(
        &self,
        qname: &str,
        qtype: RecordType,
        domain: &str,
        service: &str,
        tag: Option<String>,
    ) -> Result<Reply, String> {
        let with_meta = qtype == RecordType::SRV && self.dns().enable_additional_node_meta_txt;
        let mut instances = self
            .healthy_instances(service, tag.as_deref(), with_meta)
            .await?;
        if instances.is_empty() {
            return Ok(self.negative(domain, ResponseCode::NXDomain));
        }
        // A fresh order per query spreads the load over the instances.
        instances.shuffle(&mut rand::rng());
        let ttl = self.dns().service_ttl(service).as_secs() as u32;
        let owner = name(qname).ok_or("bad name")?;
        let dc = &self.agent.cfg.datacenter;
        let mut r = Reply::default();
        match qtype {
            RecordType::SRV => {
                // Instances sharing a target (one node, several ports) share its records.
                let mut described = std::collections::HashSet::new();
                for i in &instances {
                    let (target, addr) = if !i.address.is_empty()
                        && i.address != i.node_address
                        && let Ok(ip) = i.address.parse::<IpAddr>()
                    {
                        (
                            format!("{}.addr.{dc}.{domain}", names::ip_hex(ip)),
                            i.address.clone(),
                        )
                    } else {
                        (
                            format!("{}.node.{dc}.{domain}", i.node),
                            i.node_address.clone(),
                        )
                    };
                    let Some(target) = name(&target) else {
                        continue;
                    };
                    r.answers.push(Record::from_rdata(
                        owner.clone(),
                        ttl,
                        RData::SRV(SRV::new(1, i.weight, i.port, target.clone())),
                    ));
                    if !described.insert(target.clone()) {
                        continue;
                    }
                    if let Some(a) = address_records(&target, &addr, ttl, RecordType::ANY) {
                        r.additional.push(a);
                    }
                    r.additional.extend(meta_txt(&target, ttl, &i.node_meta));
                }
            }
            RecordType::A | RecordType::AAAA | RecordType::ANY | RecordType::CNAME => {
                let mut seen = std::collections::HashSet::new();
                for i in &instances {
                    let addr = if i.address.is_empty() {
                        &i.node_address
                    } else {
                        &i.address
                    };
                    if !seen.insert(addr.clone()) {
                        continue;
                    }
                    if let Some(rec) = address_records(&owner, addr, ttl, qtype) {
                        r.answers.push(rec);
                    }
                }
                let limit = self.dns().a_record_limit;
                if limit > 0 && r.answers.len() > limit {
                    r.answers.truncate(limit);
                }
            }
            _ => {}
        }
        if r.answers.is_empty() {
            r.authority.extend(self.soa(domain));
        }
        Ok(r)
    }

    async fn ptr(&self, qname: &str, ip: IpAddr) -> Reply {
        let domain = self.domains[0].clone();
        let dc = self.agent.cfg.datacenter.clone();
        let ip = ip.to_string();
        let nodes = match self.nodes_where(|_, addr| addr == ip).await {
            Ok(n) => n,
            Err(_) => {
                return Reply {
                    code: ResponseCode::ServFail,
                    ..Default::default()
                };
            }
        };
        let mut r = Reply::default();
        if let Some(owner) = name(qname) {
            for n in &nodes {
                if let Some(target) = name(&format!("{}.node.{dc}.{domain}", n.name)) {
                    r.answers.push(Record::from_rdata(
                        owner.clone(),
                        0,
                        RData::PTR(PTR(target)),
                    ));
                }
            }
        }
        if r.answers.is_empty() {
            return self.negative(&domain, ResponseCode::NXDomain);
        }
        r
    }

    /// Forward a query outside the domain to the recursors, or refuse it.
    async fn recurse(&self, raw: &[u8]) -> Reply {
        if self.agent.cfg.recursors.is_empty() {
            self.agent.metrics.incr("consul.dns.refused");
            return Reply {
                code: ResponseCode::Refused,
                ..Default::default()
            };
        }
        let mut order: Vec<&String> = self.agent.cfg.recursors.iter().collect();
        if self.dns().recursor_random {
            order.shuffle(&mut rand::rng());
        }
        for upstream in order {
            let addr = if upstream.parse::<SocketAddr>().is_ok() {
                upstream.clone()
            } else {
                format!("{upstream}:53")
            };
            let Ok(sock) = tokio::net::UdpSocket::bind(("0.0.0.0", 0)).await else {
                continue;
            };
            if sock.send_to(raw, &addr).await.is_err() {
                continue;
            }
            let mut buf = vec![0u8; 65535];
            let got = tokio::time::timeout(self.dns().recursor_timeout, sock.recv(&mut buf)).await;
            let Ok(Ok(n)) = got else { continue };
            let Ok(msg) = Message::from_vec(&buf[..n]) else {
                continue;
            };
            return Reply {
                code: msg.metadata.response_code,
                answers: msg.answers.clone(),
                authority: msg.authorities.clone(),
                additional: msg.additionals.clone(),
                truncated: msg.metadata.truncation,
                recursion_available: true,
            };
        }
        self.agent.metrics.incr("consul.dns.recursor_failed");
        Reply {
            code: ResponseCode::ServFail,
            recursion_available: true,
            ..Default::default()
        }
    }

    // ---- data: the local store on servers, a server through the RPC on clients ----

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

    async fn healthy_instances(
        &self,
        service: &str,
        tag: Option<&str>,
        with_meta: bool,
    ) -> Result<Vec<Instance>, String> {
        let only_passing = self.dns().only_passing;
        let keep = |statuses: &mut dyn Iterator<Item = &str>| {
            let mut ok = true;
            for s in statuses {
                if s == "critical" || (only_passing && s != "passing") {
                    ok = false;
                }
            }
            ok
        };
        let source = self.source();
        if source == Source::Local {
            let store = self.agent.store.read();
            let tags: Vec<String> = tag.map(|t| vec![t.to_string()]).unwrap_or_default();
            let mut out = Vec::new();
            for (node, svc) in store.service_instances(service, &tags) {
                let checks = store.instance_checks(&node.node, &svc.id);
                let warning = checks.iter().any(|c| c.status == "warning");
                if !keep(&mut checks.iter().map(|c| c.status.as_str())) {
                    continue;
                }
                out.push(Instance {
                    node: node.node.clone(),
                    node_address: node.address.clone(),
                    address: svc.address.clone(),
                    port: u16::try_from(svc.port).unwrap_or(0),
                    weight: weight(if warning {
                        svc.weights.warning
                    } else {
                        svc.weights.passing
                    }),
                    node_meta: if with_meta {
                        node.meta
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect()
                    } else {
                        Vec::new()
                    },
                });
            }
            return Ok(out);
        }
        let mut path = format!("/v1/health/service/{}", crate::api::path_escape(service));
        if let Some(t) = tag {
            path.push_str("?tag=");
            path.push_str(&crate::api::path_escape(t));
        }
        let v = self
            .remote(&self.consistent_path(&path, source), source)
            .await?;
        let mut out = Vec::new();
        for e in v.as_array().into_iter().flatten() {
            let statuses: Vec<&str> = e["Checks"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|c| c["Status"].as_str())
                .collect();
            if !keep(&mut statuses.iter().copied()) {
                continue;
            }
            let warning = statuses.contains(&"warning");
            let s = &e["Service"];
            let w = if warning {
                &s["Weights"]["Warning"]
            } else {
                &s["Weights"]["Passing"]
            };
            out.push(Instance {
                node: e["Node"]["Node"].as_str().unwrap_or_default().into(),
                node_address: e["Node"]["Address"].as_str().unwrap_or_default().into(),
                address: s["Address"].as_str().unwrap_or_default().into(),
                port: s["Port"]
                    .as_u64()
                    .and_then(|p| u16::try_from(p).ok())
                    .unwrap_or(0),
                weight: weight(w.as_i64().unwrap_or(1)),
                node_meta: if with_meta {
                    json_meta(&e["Node"]["Meta"])
                } else {
                    Vec::new()
                },
            });
        }
        Ok(out)
    }

    async fn lookup_node(&self, node: &str) -> Result<Option<NodeInfo>, String> {
        Ok(self
            .nodes_where(|name, _| name.eq_ignore_ascii_case(node))
            .await?
            .into_iter()
            .next())
    }

    /// The nodes `keep(name, address)` selects; only those are copied out of the store.
    async fn nodes_where(
        &self,
        keep: impl Fn(&str, &str) -> bool,
    ) -> Result<Vec<NodeInfo>, String> {
        let source = self.source();
        if source == Source::Local {
            let store = self.agent.store.read();
            return Ok(store
                .nodes()
                .into_iter()
                .filter(|n| keep(&n.node, &n.address))
                .map(|n| NodeInfo {
                    name: n.node.clone(),
                    address: n.address.clone(),
                    meta: n.meta.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                })
                .collect());
        }
        let v = self
            .remote(&self.consistent_path("/v1/catalog/nodes", source), source)
            .await?;
        Ok(v.as_array()
            .into_iter()
            .flatten()
            .filter(|n| {
                keep(
                    n["Node"].as_str().unwrap_or_default(),
                    n["Address"].as_str().unwrap_or_default(),
                )
            })
            .map(|n| NodeInfo {
                name: n["Node"].as_str().unwrap_or_default().into(),
                address: n["Address"].as_str().unwrap_or_default().into(),
                meta: json_meta(&n["Meta"]),
            })
            .collect())
    }

    /// A read through a server (`source` says which), kept for `cache_max_age` when a client
    /// agent has `use_cache`.
    async fn remote(&self, path: &str, source: Source) -> Result<serde_json::Value, String> {
        // Only client agents cache, and only with `use_cache`; reads the leader must answer
        // never come from a cache.
        let dns = self.dns();
        let cached = source == Source::Server && dns.use_cache;
        let max_age = if dns.cache_max_age.is_zero() {
            Duration::from_secs(1)
        } else {
            dns.cache_max_age
        };
        if cached {
            let hit = self
                .cache
                .lock()
                .get(path)
                .filter(|(at, _)| at.elapsed() < max_age)
                .map(|(_, v)| v.clone());
            if let Some(v) = hit {
                return Ok(v);
            }
        }
        let req = crate::rpc::Request::Http {
            method: "GET".into(),
            uri: path.to_string(),
            body: Vec::new(),
            from_server: source == Source::Leader,
        };
        let timeout = Duration::from_secs(5);
        let reply = if source == Source::Leader {
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
        let v: serde_json::Value = if status == 404 {
            serde_json::Value::Null
        } else if status >= 400 {
            return Err(String::from_utf8_lossy(&body).into_owned());
        } else {
            serde_json::from_slice(&body).map_err(|e| e.to_string())?
        };
        if cached {
            let mut c = self.cache.lock();
            if c.len() > 4096 {
                c.clear();
            }
            c.insert(path.to_string(), (Instant::now(), v.clone()));
        }
        Ok(v)
    }
}

/// Node meta as TXT records at `owner`: `key=value`, or the bare value for `rfc1035-` keys.
fn meta_txt<'a>(
    owner: &'a Name,
    ttl: u32,
    meta: &'a [(String, String)],
) -> impl Iterator<Item = Record> + 'a {
    meta.iter().map(move |(k, v)| {
        let text = if k.starts_with("rfc1035-") {
            v.clone()
        } else {
            format!("{k}={v}")
        };
        Record::from_rdata(owner.clone(), ttl, RData::TXT(TXT::new(vec![text])))
    })
}

/// A `Meta` object of the HTTP API as pairs.
fn json_meta(v: &serde_json::Value) -> Vec<(String, String)> {
    v.as_object()
        .map(|m| {
            m.iter()
                .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                .collect()
        })
        .unwrap_or_default()
}

fn weight(w: i64) -> u16 {
    u16::try_from(w.max(0)).unwrap_or(u16::MAX)
}

/// An A/AAAA record for an IP address, or a CNAME for a host name, as `qtype` allows.
fn address_records(owner: &Name, addr: &str, ttl: u32, qtype: RecordType) -> Option<Record> {
    match addr.parse::<IpAddr>() {
        Ok(IpAddr::V4(v4)) if matches!(qtype, RecordType::A | RecordType::ANY) => {
            Some(Record::from_rdata(owner.clone(), ttl, RData::A(A(v4))))
        }
        Ok(IpAddr::V6(v6)) if matches!(qtype, RecordType::AAAA | RecordType::ANY) => Some(
            Record::from_rdata(owner.clone(), ttl, RData::AAAA(AAAA(v6))),
        ),
        Ok(_) => None,
        Err(_) if !addr.is_empty() => {
            let target = Name::from_ascii(fqdn(addr)).ok()?;
            Some(Record::from_rdata(
                owner.clone(),
                ttl,
                RData::CNAME(CNAME(target)),
            ))
        }
        Err(_) => None,
    }
}

fn addr_record(owner: Name, addr: &str, ttl: u32) -> Option<Record> {
    address_records(&owner, addr, ttl, RecordType::ANY)
}

/// A name's encoded size, uncompressed (`len()` counts the text form, one byte less).
fn wire_len(n: &Name) -> usize {
    n.len() + 1
}

/// An upper bound of a record's encoded size (names uncompressed), for the types DNS
/// answers here; `None` for others.
fn record_len_bound(r: &Record) -> Option<usize> {
    let rdata = match &r.data {
        RData::A(_) => 4,
        RData::AAAA(_) => 16,
        RData::SRV(s) => 6 + wire_len(&s.target),
        RData::CNAME(CNAME(n)) | RData::PTR(PTR(n)) | RData::NS(NS(n)) => wire_len(n),
        RData::SOA(s) => wire_len(&s.mname) + wire_len(&s.rname) + 20,
        RData::TXT(t) => t.txt_data.iter().map(|d| d.len() + 1).sum(),
        _ => return None,
    };
    Some(wire_len(&r.name) + 10 + rdata)
}

/// Whether a response with these records surely fits in `max` bytes, without encoding it.
fn surely_fits(r: &Reply, query: &hickory_proto::op::Query, max: usize) -> bool {
    // Header, question, and room for an OPT record.
    let mut total = 12 + wire_len(query.name()) + 4 + 11;
    for rec in r.answers.iter().chain(&r.authority).chain(&r.additional) {
        match record_len_bound(rec) {
            Some(n) => total += n,
            None => return false,
        }
    }
    total <= max
}

/// Encoded size of a response with these records (to fit UDP's limit).
fn encoded_len(meta: &Metadata, r: &Reply, query: &hickory_proto::op::Query) -> usize {
    let mut m = Message::new(meta.id, MessageType::Response, OpCode::Query);
    m.add_query(query.clone());
    m.add_answers(r.answers.iter().cloned());
    m.add_authorities(r.authority.iter().cloned());
    m.add_additionals(r.additional.iter().cloned());
    m.to_vec().map(|v| v.len()).unwrap_or(usize::MAX)
}

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.agent.metrics.incr("consul.dns.queries");
        let builder = MessageResponseBuilder::from_message_request(request);
        let mut meta = Metadata::response_from_request(&request.metadata);
        let info = match request.request_info() {
            Ok(i) => i,
            Err(_) => {
                self.agent.metrics.incr("consul.dns.malformed");
                meta.response_code = ResponseCode::FormErr;
                return send(&mut response_handle, builder.build_no_records(meta)).await;
            }
        };
        if request.metadata.op_code != OpCode::Query {
            meta.response_code = ResponseCode::NotImp;
            return send(&mut response_handle, builder.build_no_records(meta)).await;
        }
        let query = info.query.original().clone();
        let qtype = query.query_type();
        if matches!(qtype, RecordType::AXFR | RecordType::IXFR) {
            meta.response_code = ResponseCode::NotImp;
            return send(&mut response_handle, builder.build_no_records(meta)).await;
        }
        let qname = query.name().to_ascii();
        let mut reply = self.answer(&qname, qtype, request.as_slice()).await;
        let in_domain = !reply.recursion_available;
        // UDP: at most `udp_answer_limit` answers, then whatever fits the client's buffer
        // (512 bytes without EDNS). The TC bit only with `enable_truncate`, as Consul.
        if info.protocol == Protocol::Udp && in_domain {
            let mut cut = false;
            let limit = self.dns().udp_answer_limit.max(1);
            if reply.answers.len() > limit {
                let dropped: Vec<Record> = reply.answers.drain(limit..).collect();
                drop_additionals_for(&mut reply, &dropped);
                cut = true;
            }
            let max = usize::from(request.max_payload());
            while !surely_fits(&reply, &query, max)
                && reply.answers.len() > 1
                && encoded_len(&meta, &reply, &query) > max
            {
                if let Some(last) = reply.answers.pop() {
                    drop_additionals_for(&mut reply, &[last]);
                }
                cut = true;
            }
            if !surely_fits(&reply, &query, max) && encoded_len(&meta, &reply, &query) > max {
                reply.additional.clear();
            }
            if cut {
                self.agent.metrics.incr("consul.dns.udp_trimmed");
            }
            reply.truncated = cut && self.dns().enable_truncate;
        }
        meta.response_code = reply.code;
        meta.authoritative = in_domain;
        meta.recursion_available = reply.recursion_available;
        meta.truncation = reply.truncated;
        let response = builder.build(
            meta,
            reply.answers.iter(),
            std::iter::empty(),
            reply.authority.iter(),
            reply.additional.iter(),
        );
        send(&mut response_handle, response).await
    }
}

/// Drop additional records that only served the removed SRV answers (a target that a kept
/// answer still names keeps its records).
fn drop_additionals_for(reply: &mut Reply, dropped: &[Record]) {
    let srv_target = |r: &Record| match &r.data {
        RData::SRV(s) => Some(s.target.clone()),
        _ => None,
    };
    let kept: Vec<Name> = reply.answers.iter().filter_map(srv_target).collect();
    let targets: Vec<Name> = dropped
        .iter()
        .filter_map(srv_target)
        .filter(|t| !kept.contains(t))
        .collect();
    reply.additional.retain(|a| !targets.contains(&a.name));
}

async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: hickory_server::zone_handler::MessageResponse<
        '_,
        'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
        impl Iterator<Item = &'a Record> + Send + 'a,
    >,
) -> ResponseInfo {
    let id = response.metadata().id;
    let op = response.metadata().op_code;
    match handle.send_response(response).await {
        Ok(info) => info,
        Err(e) => {
            tracing::debug!("dns: sending a response failed: {e}");
            let mut m = Metadata::new(id, MessageType::Response, op);
            m.response_code = ResponseCode::ServFail;
            hickory_proto::op::Header {
                metadata: m,
                counts: Default::default(),
            }
            .into()
        }
    }
}

/// The handler as hickory-server's TCP transport holds it, shared with the UDP threads.
struct SharedHandler(Arc<Handler>);

#[async_trait::async_trait]
impl RequestHandler for SharedHandler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        response_handle: R,
    ) -> ResponseInfo {
        self.0
            .handle_request::<R, T>(request, response_handle)
            .await
    }
}

/// Threads answering each UDP socket. With two, a lookup does not wait behind another: at 2
/// closed-loop clients on two cores they answer over twice dnsmasq's rate, where one thread
/// matches it (docs/benchmarks.md).
const UDP_THREADS: usize = 2;

/// Serve DNS for `agent` on UDP and TCP at each address, until the agent shuts down.
pub async fn serve(agent: Arc<Agent>, addrs: &[SocketAddr]) -> std::io::Result<()> {
    let handler = Arc::new(Handler::new(agent.clone()));
    let mut server = Server::new(SharedHandler(handler.clone()));
    for a in addrs {
        let udp = std::net::UdpSocket::bind(a)?;
        let tcp = tokio::net::TcpListener::bind(a).await?;
        udp::serve(
            handler.clone(),
            udp,
            UDP_THREADS,
            tokio::runtime::Handle::current(),
        )?;
        server.register_listener(tcp, Duration::from_secs(5), 64 * 1024);
    }
    let mut shutdown = agent.shutdown_signal();
    tokio::spawn(async move {
        let _ = shutdown.wait_for(|v| *v).await;
        if let Err(e) = server.shutdown_gracefully().await {
            tracing::debug!("dns server: {e}");
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use hickory_proto::op::Query;

    /// Trimming an SRV answer drops its target's additional records, unless a kept answer
    /// names the same target.
    #[test]
    fn trimming_keeps_records_of_shared_targets() {
        let owner = name("web.service.consul.").unwrap();
        let shared = name("n1.node.dc1.consul.").unwrap();
        let alone = name("n2.node.dc1.consul.").unwrap();
        let srv = |port, t: &Name| {
            Record::from_rdata(
                owner.clone(),
                0,
                RData::SRV(SRV::new(1, 1, port, t.clone())),
            )
        };
        let a = |t: &Name| Record::from_rdata(t.clone(), 0, RData::A(A::new(10, 0, 0, 1)));
        let mut reply = Reply {
            answers: vec![srv(80, &shared), srv(81, &shared), srv(82, &alone)],
            additional: vec![a(&shared), a(&alone)],
            ..Default::default()
        };
        let dropped: Vec<Record> = reply.answers.drain(1..).collect();
        drop_additionals_for(&mut reply, &dropped);
        let names: Vec<&Name> = reply.additional.iter().map(|r| &r.name).collect();
        assert_eq!(names, [&shared]);
    }

    /// `surely_fits` skips the exact encoding only when the bound covers it: for every
    /// record type answered here, the bound is at least the real encoded size.
    #[test]
    fn size_bound_covers_the_encoding() {
        let owner = name("web.service.consul.").unwrap();
        let target = name("0a000001.addr.dc1.consul.").unwrap();
        let mut reply = Reply::default();
        for i in 0..5u8 {
            reply.answers.push(Record::from_rdata(
                owner.clone(),
                0,
                RData::SRV(SRV::new(1, 1, 80 + u16::from(i), target.clone())),
            ));
            reply.additional.push(Record::from_rdata(
                target.clone(),
                0,
                RData::A(A::new(10, 0, 0, i)),
            ));
        }
        reply.additional.push(Record::from_rdata(
            target.clone(),
            0,
            RData::TXT(TXT::new(vec!["rack=r1".into(), "zone=a".into()])),
        ));
        reply.authority.push(Record::from_rdata(
            owner.clone(),
            0,
            RData::AAAA(AAAA::new(0xfd00, 0, 0, 0, 0, 0, 0, 1)),
        ));
        reply.authority.extend(
            Handler::soa_record("consul.", 0, [3600, 600, 86400], 0)
                .into_iter()
                .chain([Record::from_rdata(
                    owner.clone(),
                    0,
                    RData::CNAME(CNAME(target.clone())),
                )]),
        );
        let query = Query::query(owner, RecordType::SRV);
        let meta = Metadata::new(7, MessageType::Response, OpCode::Query);
        let exact = encoded_len(&meta, &reply, &query);
        assert!(surely_fits(&reply, &query, usize::from(u16::MAX)));
        // Never claims a fit the encoding would break.
        for max in 0..exact {
            assert!(
                !surely_fits(&reply, &query, max),
                "bound below {exact} at {max}"
            );
        }
    }
}
