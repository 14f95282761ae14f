//! The hickory side of a query: its request in, the checks hickory leaves to us (malformed,
//! non-query opcodes, zone transfers), the UDP bounds, and the response out. What a name
//! means is `answer.rs`'s.

use std::sync::Arc;

use hickory_proto::op::{MessageType, Metadata, OpCode, ResponseCode};
use hickory_proto::rr::{Record, RecordType};
use hickory_server::net::runtime::Time;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{Request, RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::{MessageResponse, MessageResponseBuilder};

use super::{Handler, Origin, truncate};

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
