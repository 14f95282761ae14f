//! Query names as Consul reads them: labels before the domain, parsed right to left for a
//! keyword (`service`, `node`, `addr`, `query`), with an optional datacenter label after it.

use std::net::IpAddr;

/// What a name under the domain asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// The domain itself (SOA, NS).
    Apex,
    /// Instances of a service, optionally with a tag.
    Service {
        /// Service name.
        name: String,
        /// Required tag.
        tag: Option<String>,
    },
    /// A node by name.
    Node(String),
    /// An address encoded in hex (`<hex>.addr`).
    Addr(IpAddr),
    /// A prepared query by name or ID (`<query>.query`, `_<query>._tcp.query`).
    Query(String),
}

/// Parse `labels` (the query name without the domain, lowercased, left to right). `None`
/// when the name has no meaning here. The datacenter label, if present, is returned too.
pub fn parse(labels: &[&str]) -> Option<(Lookup, Option<String>)> {
    if labels.is_empty() {
        return Some((Lookup::Apex, None));
    }
    // RFC 2782 without the `service` keyword: `_web._tcp[.dc]`.
    let keyword_at = labels
        .iter()
        .rposition(|l| matches!(*l, "service" | "node" | "addr" | "query"))
        .filter(|&i| labels.len() - i <= 2);
    let Some(k) = keyword_at else {
        return match labels {
            [svc, proto] | [svc, proto, _] if svc.starts_with('_') && proto.starts_with('_') => {
                let dc = labels.get(2).map(|s| s.to_string());
                Some((rfc2782(svc, proto), dc))
            }
            _ => None,
        };
    };
    let dc = labels.get(k + 1).map(|s| s.to_string());
    let prefix = &labels[..k];
    let lookup = match labels[k] {
        "service" => match prefix {
            [] => return None,
            [svc, proto] if svc.starts_with('_') && proto.starts_with('_') => rfc2782(svc, proto),
            [.., name] => Lookup::Service {
                name: name.to_string(),
                tag: (prefix.len() > 1).then(|| prefix[..prefix.len() - 1].join(".")),
            },
        },
        "node" if !prefix.is_empty() => Lookup::Node(prefix.join(".")),
        "query" => match prefix {
            [name] => Lookup::Query(name.to_string()),
            [name, proto] if name.starts_with('_') && proto.starts_with('_') => {
                Lookup::Query(name[1..].to_string())
            }
            _ => return None,
        },
        "addr" => match prefix {
            [hex] => Lookup::Addr(hex_ip(hex)?),
            _ => return None,
        },
        _ => return None,
    };
    Some((lookup, dc))
}

fn rfc2782(svc: &str, proto: &str) -> Lookup {
    let tag = &proto[1..];
    Lookup::Service {
        name: svc[1..].to_string(),
        tag: (!matches!(tag, "tcp" | "udp")).then(|| tag.to_string()),
    }
}

/// `0a000001` → 10.0.0.1; 32 hex digits → an IPv6 address.
pub fn hex_ip(hex: &str) -> Option<IpAddr> {
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| {
            hex.get(i..i + 2)
                .and_then(|b| u8::from_str_radix(b, 16).ok())
        })
        .collect();
    match bytes?.as_slice() {
        b if b.len() == 4 && hex.len() == 8 => Some(IpAddr::from([b[0], b[1], b[2], b[3]])),
        b if b.len() == 16 && hex.len() == 32 => {
            let mut a = [0u8; 16];
            a.copy_from_slice(b);
            Some(IpAddr::from(a))
        }
        _ => None,
    }
}

/// The hex form of an address for `<hex>.addr` names.
pub fn ip_hex(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.octets().iter().map(|b| format!("{b:02x}")).collect(),
        IpAddr::V6(v6) => v6.octets().iter().map(|b| format!("{b:02x}")).collect(),
    }
}

/// The address a reverse name (`4.3.2.1.in-addr.arpa.`, nibbles under `ip6.arpa.`) asks for.
pub fn reverse_ip(name: &str) -> Option<IpAddr> {
    let name = name.trim_end_matches('.');
    if let Some(v4) = name.strip_suffix(".in-addr.arpa") {
        let parts: Vec<u8> = v4
            .split('.')
            .map(|p| p.parse().ok())
            .collect::<Option<_>>()?;
        if parts.len() != 4 {
            return None;
        }
        return Some(IpAddr::from([parts[3], parts[2], parts[1], parts[0]]));
    }
    if let Some(v6) = name.strip_suffix(".ip6.arpa") {
        let nibbles: Vec<&str> = v6.split('.').collect();
        if nibbles.len() != 32 {
            return None;
        }
        let hex: String = nibbles.iter().rev().copied().collect();
        return hex_ip(&hex);
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str) -> Option<(Lookup, Option<String>)> {
        let labels: Vec<&str> = if name.is_empty() {
            vec![]
        } else {
            name.split('.').collect()
        };
        parse(&labels)
    }

    fn svc(name: &str, tag: Option<&str>) -> Lookup {
        Lookup::Service {
            name: name.into(),
            tag: tag.map(String::from),
        }
    }

    #[test]
    fn consul_name_forms() {
        assert_eq!(p("web.service"), Some((svc("web", None), None)));
        assert_eq!(
            p("web.service.dc1"),
            Some((svc("web", None), Some("dc1".into())))
        );
        assert_eq!(p("v1.web.service"), Some((svc("web", Some("v1")), None)));
        assert_eq!(p("a.b.web.service"), Some((svc("web", Some("a.b")), None)));
        assert_eq!(p("_web._tcp.service"), Some((svc("web", None), None)));
        assert_eq!(
            p("_web._v2.service.dc1"),
            Some((svc("web", Some("v2")), Some("dc1".into())))
        );
        assert_eq!(p("_web._tcp"), Some((svc("web", None), None)));
        assert_eq!(p("db.node"), Some((Lookup::Node("db".into()), None)));
        assert_eq!(
            p("web-near.query"),
            Some((Lookup::Query("web-near".into()), None))
        );
        assert_eq!(
            p("_web-near._tcp.query.dc2"),
            Some((Lookup::Query("web-near".into()), Some("dc2".into())))
        );
        assert_eq!(p("a.b.query"), None);
        assert_eq!(
            p("db.example.node.dc1"),
            Some((Lookup::Node("db.example".into()), Some("dc1".into())))
        );
        assert_eq!(
            p("0a000001.addr.dc1"),
            Some((
                Lookup::Addr("10.0.0.1".parse().unwrap()),
                Some("dc1".into())
            ))
        );
        assert_eq!(p(""), Some((Lookup::Apex, None)));
        assert_eq!(p("service"), None);
        assert_eq!(p("nothing.here"), None);
        assert_eq!(p("zz.addr"), None);
    }

    #[test]
    fn addresses_round_trip() {
        let v4: IpAddr = "192.168.1.20".parse().unwrap();
        assert_eq!(hex_ip(&ip_hex(v4)), Some(v4));
        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        assert_eq!(hex_ip(&ip_hex(v6)), Some(v6));
        assert_eq!(reverse_ip("20.1.168.192.in-addr.arpa."), Some(v4));
        assert_eq!(reverse_ip("1.2.3.in-addr.arpa."), None);
    }
}
