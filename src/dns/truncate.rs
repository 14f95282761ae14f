//! Size bounds of a UDP answer: at most `udp_answer_limit` answers, then whatever fits the
//! client's buffer. A cheap upper bound of the encoded size skips the exact encoding for
//! the common answer that surely fits; trimming an SRV answer drops the additional
//! records that only it needed.

use hickory_proto::op::{Message, MessageType, Metadata, OpCode, Query};
use hickory_proto::rr::rdata::{CNAME, NS, PTR};
use hickory_proto::rr::{Name, RData, Record};

use super::Reply;

/// Trim `reply` to at most `answer_limit` answers and to `max` encoded bytes (dropping
/// answers from the end, then the additional records if still too long); whether any
/// answer was cut.
pub(super) fn fit_udp(
    reply: &mut Reply,
    meta: &Metadata,
    query: &Query,
    answer_limit: usize,
    max: usize,
) -> bool {
    let mut cut = false;
    let limit = answer_limit.max(1);
    if reply.answers.len() > limit {
        let dropped: Vec<Record> = reply.answers.drain(limit..).collect();
        drop_additionals_for(reply, &dropped);
        cut = true;
    }
    while !surely_fits(reply, query, max)
        && reply.answers.len() > 1
        && encoded_len(meta, reply, query) > max
    {
        if let Some(last) = reply.answers.pop() {
            drop_additionals_for(reply, &[last]);
        }
        cut = true;
    }
    if !surely_fits(reply, query, max) && encoded_len(meta, reply, query) > max {
        reply.additional.clear();
    }
    cut
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
fn surely_fits(r: &Reply, query: &Query, max: usize) -> bool {
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
fn encoded_len(meta: &Metadata, r: &Reply, query: &Query) -> usize {
    let mut m = Message::new(meta.id, MessageType::Response, OpCode::Query);
    m.add_query(query.clone());
    m.add_answers(r.answers.iter().cloned());
    m.add_authorities(r.authority.iter().cloned());
    m.add_additionals(r.additional.iter().cloned());
    m.to_vec().map(|v| v.len()).unwrap_or(usize::MAX)
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

#[cfg(test)]
mod tests {
    use super::super::records::{name, soa_record};
    use super::*;
    use hickory_proto::rr::RecordType;
    use hickory_proto::rr::rdata::{A, AAAA, SRV, TXT};

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
            soa_record("consul.", 0, [3600, 600, 86400], 0)
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
