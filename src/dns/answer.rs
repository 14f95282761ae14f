//! Answers by name: which lookup a query name under the domain asks for (the apex, a
//! service, a node, a hex address, a reverse address) and the records that answer it, with
//! the SOA in the authority section of every empty or negative answer.

use std::collections::HashSet;
use std::net::IpAddr;

use hickory_proto::op::ResponseCode;
use hickory_proto::rr::rdata::{NS, PTR, SRV};
use hickory_proto::rr::{RData, Record, RecordType};
use rand::seq::SliceRandom;

use super::names::{self, Lookup};
use super::records::{addr_record, address_records, meta_txt, name, soa_record};
use super::{Handler, Reply};

impl Handler {
    /// This agent's SOA of `domain`, its serial the current time in seconds.
    fn soa(&self, domain: &str) -> Option<Record> {
        let serial = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(0);
        let dns = self.dns();
        soa_record(domain, dns.soa_min_ttl, dns.soa_timers, serial)
    }

    /// Answer one query (`raw` is its wire form, for a recursor).
    pub(super) async fn answer(&self, qname: &str, qtype: RecordType, raw: &[u8]) -> Reply {
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
            return self.nxdomain(&domain);
        };
        // Another datacenter's names are answered from its servers, through the WAN; one
        // with no path is NXDOMAIN, as Consul answers (a client agent asks a server).
        let remote = dc.filter(|d| *d != self.agent.cfg.datacenter.to_ascii_lowercase());
        if let Some(dc) = &remote
            && self.agent.wan.is_some()
            && !self
                .agent
                .datacenters()
                .iter()
                .any(|d| d.eq_ignore_ascii_case(dc))
        {
            return self.nxdomain(&domain);
        }
        let remote = remote.as_deref();
        let result = match lookup {
            Lookup::Apex => Ok(self.apex(qname, qtype, &domain)),
            Lookup::Service { name, tag } => {
                self.service(qname, qtype, &domain, &name, tag, remote)
                    .await
            }
            Lookup::Node(node) => self.node(qname, qtype, &domain, &node, remote).await,
            Lookup::Query(query) => self.query(qname, qtype, &domain, &query, remote).await,
            Lookup::Addr(ip) => Ok(self.addr(qname, qtype, &domain, ip)),
        };
        match result {
            Ok(r) => r,
            Err(e) if e == crate::agent::AgentError::NoPathToDatacenter.to_string() => {
                self.nxdomain(&domain)
            }
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

    /// NXDOMAIN with the SOA, whose minimum TTL says how long to keep the answer.
    fn nxdomain(&self, domain: &str) -> Reply {
        self.agent.metrics.incr("consul.dns.nxdomain");
        Reply {
            code: ResponseCode::NXDomain,
            authority: self.soa(domain).into_iter().collect(),
            ..Default::default()
        }
    }

    /// The domain itself: its SOA, and its name servers with their addresses.
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

    /// `<hex>.addr`: the address the name encodes, when the query type matches its family.
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

    /// `<node>.node`: its address, and its meta as TXT records (in the answer for TXT and ANY,
    /// as additional records with `enable_additional_node_meta_txt`).
    async fn node(
        &self,
        qname: &str,
        qtype: RecordType,
        domain: &str,
        node: &str,
        remote: Option<&str>,
    ) -> Result<Reply, String> {
        let Some(n) = self.lookup_node(node, remote).await? else {
            return Ok(self.nxdomain(domain));
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

    /// `<service>.service` and RFC 2782 names: the healthy instances in a fresh order, as SRV
    /// records with their targets' addresses, or as addresses (at most `a_record_limit`).
    async fn service(
        &self,
        qname: &str,
        qtype: RecordType,
        domain: &str,
        service: &str,
        tag: Option<String>,
        remote: Option<&str>,
    ) -> Result<Reply, String> {
        let with_meta = qtype == RecordType::SRV && self.dns().enable_additional_node_meta_txt;
        let mut instances = self
            .healthy_instances(service, tag.as_deref(), with_meta, remote)
            .await?;
        // A fresh order per query spreads the load over the instances.
        instances.shuffle(&mut rand::rng());
        let ttl = self.dns().service_ttl(service).as_secs() as u32;
        let dc = remote.unwrap_or(&self.agent.cfg.datacenter);
        self.instance_records(qname, qtype, domain, &instances, ttl, dc)
    }

    /// `<query>.query`: the prepared query run through the agent's own API (so a client
    /// agent's goes to a server, and `.<dc>` runs it there); its instances answered as a
    /// service's, in the order the query gave, with the query's DNS TTL when it has one.
    async fn query(
        &self,
        qname: &str,
        qtype: RecordType,
        domain: &str,
        query: &str,
        remote: Option<&str>,
    ) -> Result<Reply, String> {
        let Some(api) = &self.api else {
            return Err("prepared queries need the agent's API".into());
        };
        let mut uri = format!("/v1/query/{}/execute", crate::api::path_escape(query));
        if let Some(dc) = remote {
            uri = crate::api::with_query(&uri, &format!("dc={}", crate::api::path_escape(dc)));
        }
        let token = if self.agent.cfg.acl.enabled {
            self.agent.effective_secret("")
        } else {
            String::new()
        };
        let reply = api.call("GET".into(), uri, Vec::new(), false, token).await;
        let crate::rpc::Reply::Http { status, body, .. } = reply else {
            return Err(format!("query {query}: {reply:?}"));
        };
        if status == 404 {
            return Ok(self.nxdomain(domain));
        }
        if status >= 400 {
            return Err(String::from_utf8_lossy(&body).into_owned());
        }
        let v: serde_json::Value = serde_json::from_slice(&body).map_err(|e| e.to_string())?;
        let with_meta = qtype == RecordType::SRV && self.dns().enable_additional_node_meta_txt;
        let instances = super::catalog::instances_from_json(&v["Nodes"], with_meta);
        let service = v["Service"].as_str().unwrap_or_default();
        let ttl = v["DNS"]["TTL"]
            .as_str()
            .and_then(crate::api::duration::parse_go)
            .unwrap_or_else(|| self.dns().service_ttl(service))
            .as_secs() as u32;
        let dc = v["Datacenter"]
            .as_str()
            .filter(|d| !d.is_empty())
            .unwrap_or(&self.agent.cfg.datacenter)
            .to_string();
        self.instance_records(qname, qtype, domain, &instances, ttl, &dc)
    }

    /// The records answering with `instances` (in this order): SRV with their targets'
    /// addresses, or addresses (at most `a_record_limit`); NXDOMAIN when there are none.
    #[allow(clippy::too_many_arguments)]
    fn instance_records(
        &self,
        qname: &str,
        qtype: RecordType,
        domain: &str,
        instances: &[super::catalog::Instance],
        ttl: u32,
        dc: &str,
    ) -> Result<Reply, String> {
        if instances.is_empty() {
            return Ok(self.nxdomain(domain));
        }
        let owner = name(qname).ok_or("bad name")?;
        let mut r = Reply::default();
        match qtype {
            RecordType::SRV => {
                // Instances sharing a target (one node, several ports) share its records.
                let mut described = HashSet::new();
                for i in instances {
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
                        RData::SRV(SRV::new(1, i.weight(), i.port, target.clone())),
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
                let mut seen = HashSet::new();
                for i in instances {
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

    /// A reverse lookup: the nodes with this address, by their name under the first domain.
    async fn ptr(&self, qname: &str, ip: IpAddr) -> Reply {
        let domain = self.domains[0].clone();
        let dc = self.agent.cfg.datacenter.clone();
        let ip = ip.to_string();
        let nodes = match self.nodes_where(|_, addr| addr == ip, None).await {
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
            return self.nxdomain(&domain);
        }
        r
    }
}
