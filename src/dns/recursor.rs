//! Names outside the domain: forwarded as they came to the configured recursors, in order
//! or at random, each given `recursor_timeout`, or refused when there are none.

use std::net::SocketAddr;

use hickory_proto::op::{Message, ResponseCode};
use rand::seq::SliceRandom;

use super::{Handler, Origin, Reply};

impl Handler {
    /// Forward a query outside the domain to the recursors, or refuse it.
    pub(super) async fn recurse(&self, raw: &[u8]) -> Reply {
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
                origin: Origin::Recursor,
            };
        }
        self.agent.metrics.incr("consul.dns.recursor_failed");
        Reply {
            code: ResponseCode::ServFail,
            origin: Origin::Recursor,
            ..Default::default()
        }
    }
}
