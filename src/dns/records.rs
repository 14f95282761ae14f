//! Record builders: the few shapes every answer is made of (A/AAAA or CNAME for an
//! address, TXT for node meta, the SOA), with names that fail to parse skipped rather than
//! answered wrongly.

use std::net::IpAddr;

use hickory_proto::rr::rdata::{A, AAAA, CNAME, SOA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};

/// `s` lowercased with a trailing dot, the form domains are compared in.
pub(super) fn fqdn(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    if s.ends_with('.') { s } else { format!("{s}.") }
}

/// `s` as a DNS name; `None` when it is not one (the record is then left out).
pub(super) fn name(s: &str) -> Option<Name> {
    Name::from_ascii(s).ok()
}

/// The SOA of `domain`, whose minimum TTL is also the negative-answer TTL; `timers` are
/// refresh, retry and expire.
pub(super) fn soa_record(
    domain: &str,
    min_ttl: u32,
    timers: [u32; 3],
    serial: u32,
) -> Option<Record> {
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

/// Node meta as TXT records at `owner`: `key=value`, or the bare value for `rfc1035-` keys.
pub(super) fn meta_txt<'a>(
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

/// An A/AAAA record for an IP address, or a CNAME for a host name, as `qtype` allows.
pub(super) fn address_records(
    owner: &Name,
    addr: &str,
    ttl: u32,
    qtype: RecordType,
) -> Option<Record> {
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

/// The address record of any type for `addr` at `owner` (the additional records of NS
/// and SRV answers).
pub(super) fn addr_record(owner: Name, addr: &str, ttl: u32) -> Option<Record> {
    address_records(&owner, addr, ttl, RecordType::ANY)
}
