//! The hickory side of a query: its request in, the checks hickory leaves to us (malformed,
//! non-query opcodes, zone transfers), the UDP bounds, and the response out. What a name
//! means is `answer.rs`'s.

use std::sync::Arc;

use hickory_proto::op::{MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_proto::serialize::binary::BinDecoder;
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder, Queries};

use super::{Handler, Origin, truncate};

#[async_trait::async_trait]
impl RequestHandler for Handler {
    async fn handle_request<R: ResponseHandler, T: Time>(
        &self,
        request: &Request,
        mut response_handle: R,
    ) -> ResponseInfo {
        self.agent.metrics.incr("consul.dns.queries");
        let mut meta = Metadata::response_from_request(&request.metadata);
        if question_points_into_header(request.as_slice()) {
            // hickory echoes the question's original bytes, so the pointer would land on
            // the response's own header: answer FORMERR without a question instead.
            self.agent.metrics.incr("consul.dns.malformed");
            meta.response_code = ResponseCode::FormErr;
            let Ok(none) = Queries::read(&mut BinDecoder::new(&[]), 0) else {
                return hickory_proto::op::Header {
                    metadata: meta,
                    counts: Default::default(),
                }
                .into();
            };
            let builder = MessageResponseBuilder::new(&none, None);
            return send(&mut response_handle, builder.build_no_records(meta)).await;
        }
        let builder = MessageResponseBuilder::from_message_request(request);
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
        let relayed = reply.origin == Origin::Recursor;
        // UDP: at most `udp_answer_limit` answers, then whatever fits the client's buffer
        // (512 bytes without EDNS). The TC bit only with `enable_truncate`, as Consul.
        // A recursor's answer is passed on as it came.
        if info.protocol == Protocol::Udp && !relayed {
            let max = usize::from(request.max_payload());
            let cut =
                truncate::fit_udp(&mut reply, &meta, &query, self.dns().udp_answer_limit, max);
            if cut {
                self.agent.metrics.incr("consul.dns.udp_trimmed");
            }
            reply.truncated = cut && self.dns().enable_truncate;
        }
        meta.response_code = reply.code;
        meta.authoritative = !relayed;
        meta.recursion_available = relayed;
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

/// Send `response`; a failed send is logged and reported to hickory as SERVFAIL (the client
/// got nothing and retries).
async fn send<'a, R: ResponseHandler>(
    handle: &mut R,
    response: MessageResponse<
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
pub(super) struct SharedHandler(pub(super) Arc<Handler>);

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

/// Does a name in the question section use a compression pointer into the 12-byte header?
/// No name can live there, so the query is malformed; hickory's decoder accepts it (the
/// pointer points backwards) and would copy it into the response, where the header bytes
/// differ and the answer becomes unreadable. Found by the `dns_request` fuzz target.
pub(crate) fn question_points_into_header(raw: &[u8]) -> bool {
    const HEADER: usize = 12;
    let Some(count) = raw.get(4..6).map(|c| u16::from_be_bytes([c[0], c[1]])) else {
        return false;
    };
    let mut i = HEADER;
    for _ in 0..count {
        loop {
            let Some(&len) = raw.get(i) else {
                return false;
            };
            if len == 0 {
                i += 1;
                break;
            }
            if len & 0xC0 == 0xC0 {
                let Some(&low) = raw.get(i + 1) else {
                    return false;
                };
                let target = (usize::from(len & 0x3F) << 8) | usize::from(low);
                if target < HEADER {
                    return true;
                }
                i += 2;
                break;
            }
            i += 1 + usize::from(len);
        }
        // Type and class.
        i += 4;
    }
    false
}

#[cfg(test)]
mod tests {
    use super::question_points_into_header;

    fn query(name: &[u8]) -> Vec<u8> {
        let mut q = vec![0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        q.extend_from_slice(name);
        q.extend_from_slice(&[0, 1, 0, 1]);
        q
    }

    #[test]
    fn dns_question_pointing_into_the_header_is_malformed() {
        // "1.0" then a pointer to offset 2 (the flags), as the fuzzer sent it.
        assert!(question_points_into_header(&query(&[
            1, b'1', 1, b'0', 0xC0, 2
        ])));
        assert!(!question_points_into_header(&query(
            b"\x03web\x07service\x06consul\x00"
        )));
        // A second question may point at the first one's name.
        let mut two = query(b"\x03web\x00");
        two[5] = 2;
        two.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1]);
        assert!(!question_points_into_header(&two));
        // Truncated junk is left to the decoder.
        assert!(!question_points_into_header(&[0x12, 0x34, 1, 0, 0, 1]));
    }
}
