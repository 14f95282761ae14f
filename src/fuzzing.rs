//! Entry points for the fuzz targets under `tests/fuzz` and for the property tests: each one
//! feeds untrusted bytes through the code a real datagram, frame, request or file meets, so
//! the fuzzer exercises what an attacker reaches, not a copy of it. Built with the
//! `fuzzing` feature (the fuzz crate) and for unit tests, where the same properties run as
//! property tests; never part of the agent binary.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use axum::body::Body;
use axum::http::{Method, Request};
use hickory_proto::rr::Record;
use hickory_proto::serialize::binary::BinEncoder;
use hickory_server::net::NetError;
use hickory_server::net::runtime::TokioTime;
use hickory_server::net::xfer::Protocol;
use hickory_server::server::{RequestHandler, ResponseHandler, ResponseInfo};
use hickory_server::zone_handler::MessageResponse;
use parking_lot::Mutex;

use crate::agent::Agent;
use crate::agent::launch::{LaunchOptions, RunningAgent, launch};
use crate::config::AgentConfig;
use crate::http::Endpoint;

/// A `-dev` server agent on loopback (every port chosen by the system), started once per
/// process and shared by every input.
pub struct DevAgent {
    runtime: tokio::runtime::Runtime,
    running: RunningAgent,
    http: crate::http::Handler,
    dns: Arc<crate::dns::Handler>,
    rpc: Arc<crate::rpc::Dispatcher>,
}

/// The process's dev agent, started on first use.
pub fn dev_agent() -> &'static DevAgent {
    static AGENT: OnceLock<DevAgent> = OnceLock::new();
    AGENT.get_or_init(|| {
        let runtime = crate::agent::launch::runtime().expect("a runtime for the dev agent");
        let lo = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let mut cfg = AgentConfig {
            dev: true,
            server: true,
            bind_addr: lo,
            client_addr: vec![lo],
            log_level: "error".into(),
            ..AgentConfig::default()
        };
        // The web UI's routes are fuzzed too.
        cfg.ui.enabled = true;
        cfg.ports.http = 0;
        cfg.ports.dns = 0;
        cfg.ports.server = 0;
        cfg.ports.serf_lan = 0;
        let running = runtime
            .block_on(launch(cfg, LaunchOptions::default()))
            .expect("the dev agent starts");
        let agent = running.agent.clone();
        runtime.block_on(async {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
            while agent.require_leader().is_err() && tokio::time::Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        });
        let http = crate::http::Handler::new(agent.clone());
        let dns = Arc::new(crate::dns::Handler::new(agent.clone()));
        let rpc = crate::rpc::Dispatcher::new(agent.clone(), crate::http::Router::new(agent));
        DevAgent {
            runtime,
            running,
            http,
            dns,
            rpc,
        }
    })
}

/// Longest one fuzzed call may take: a blocking query (`?index=` with `?wait=`) is cut here.
const CALL_LIMIT: Duration = Duration::from_millis(500);

impl DevAgent {
    /// The agent.
    pub fn agent(&self) -> &Arc<Agent> {
        &self.running.agent
    }

    /// Run one HTTP call through the agent's request handler (routing, query parsing, body
    /// decoding, the endpoint). Calls that would stop the agent or change its cluster are
    /// not run. The status, or `None` when the call was skipped or cut off.
    pub fn http(&self, method: &str, target: &str, body: Vec<u8>) -> Option<u16> {
        let method = Method::from_bytes(method.as_bytes()).ok()?;
        let uri: axum::http::Uri = target.parse().ok()?;
        if !harmless(&method, uri.path()) {
            return None;
        }
        let req = Request::builder()
            .method(method)
            .uri(uri)
            .body(Body::from(body))
            .ok()?;
        let handler = self.http.clone();
        self.runtime.block_on(async move {
            let resp = tokio::time::timeout(CALL_LIMIT, crate::http::handle_request(handler, req))
                .await
                .ok()?;
            // Draining the body runs the serializer.
            let status = resp.status().as_u16();
            let _ = axum::body::to_bytes(resp.into_body(), usize::MAX).await;
            Some(status)
        })
    }

    /// One server-RPC frame as the server decodes and runs it (Raft messages are decoded
    /// only: a fuzzed vote would depose the dev server for every later input).
    pub fn rpc(&self, frame: &[u8]) {
        use crate::rpc::{Handler, Request as Rpc};
        let Some(req) = crate::rpc::fuzz_frames(frame) else {
            return;
        };
        match &req {
            Rpc::Raft { .. } => return,
            Rpc::Http { method, uri, .. } => {
                let Ok(m) = Method::from_bytes(method.as_bytes()) else {
                    return;
                };
                let path = uri.split('?').next().unwrap_or_default();
                if !harmless(&m, path) {
                    return;
                }
            }
            _ => {}
        }
        let rpc = self.rpc.clone();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(CALL_LIMIT, rpc.handle(req)).await;
        });
    }
    /// Answer one DNS datagram as the UDP path does; the encoded answer, if any.
    pub fn dns(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let src = SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 53000);
        let request =
            hickory_server::server::Request::from_bytes(packet.to_vec(), src, Protocol::Udp)
                .ok()?;
        let out = Arc::new(Mutex::new(None));
        let responder = Capture(out.clone());
        let handler = self.dns.clone();
        self.runtime.block_on(async move {
            let _ = tokio::time::timeout(
                CALL_LIMIT,
                handler.handle_request::<_, TokioTime>(&request, responder),
            )
            .await;
        });
        out.lock().take()
    }
}

/// Calls that would stop the dev agent or change its cluster are not run.
fn harmless(method: &Method, raw_path: &str) -> bool {
    let path = crate::http::query::percent_decode(raw_path);
    !matches!(
        Endpoint::parse(method, &path, None),
        Ok(Endpoint::AgentLeave
            | Endpoint::AgentReload
            | Endpoint::RaftPeer
            | Endpoint::RaftTransferLeader
            | Endpoint::AgentForceLeave { .. }
            | Endpoint::AgentJoin { .. })
    )
}

/// Keeps the encoded answer instead of sending it.
#[derive(Clone)]
struct Capture(Arc<Mutex<Option<Vec<u8>>>>);

#[async_trait::async_trait]
impl ResponseHandler for Capture {
    async fn send_response<'a>(
        &mut self,
        response: MessageResponse<
            '_,
            'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
            impl Iterator<Item = &'a Record> + Send + 'a,
        >,
    ) -> Result<ResponseInfo, NetError> {
        let max = response.edns().map_or(512, |e| e.max_payload().max(512));
        let mut bytes = Vec::with_capacity(512);
        let mut encoder = BinEncoder::new(&mut bytes);
        encoder.set_max_size(max);
        let info = response.destructive_emit(&mut encoder)?;
        *self.0.lock() = Some(bytes);
        Ok(info)
    }
}

/// The gossip key the sealed-packet target seals with (any 32 bytes).
pub const GOSSIP_KEY: [u8; 32] = [7; 32];

/// A SWIM engine on loopback with [`GOSSIP_KEY`] installed, fed datagrams directly.
pub struct GossipTarget {
    runtime: tokio::runtime::Runtime,
    engine: crate::gossip::FuzzEngine,
}

impl GossipTarget {
    /// A fresh engine.
    pub fn new() -> GossipTarget {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("a runtime for the gossip engine");
        let engine = runtime
            .block_on(crate::gossip::FuzzEngine::new(&GOSSIP_KEY))
            .expect("a gossip engine on loopback");
        GossipTarget { runtime, engine }
    }

    /// One datagram as the receive loop hands it on: opened with the keyring (sealed, or
    /// refused when plain), then decoded and applied by SWIM.
    pub fn datagram(&mut self, data: &[u8]) {
        let _guard = self.runtime.enter();
        self.engine.datagram(data);
    }

    /// The same bytes as a plaintext cluster would take them (no keyring).
    pub fn plain(&mut self, data: &[u8]) {
        let _guard = self.runtime.enter();
        self.engine.plain(data);
    }

    /// One push-pull (TCP) frame as the accept loop decodes it.
    pub fn stream_frame(&mut self, data: &[u8]) {
        let _guard = self.runtime.enter();
        self.engine.stream_frame(data);
    }
}

impl Default for GossipTarget {
    fn default() -> Self {
        GossipTarget::new()
    }
}

/// One server-RPC frame as a server decodes it, and the same bytes as a reply a client
/// decodes. What decodes must encode again to the same value.
pub fn rpc_frame(data: &[u8]) {
    let _ = crate::rpc::fuzz_frames(data);
}

/// A config file's bytes as `-config-file` reads them: JSON, then every key applied and
/// the result validated. Must end in a config or an error, never a panic.
pub fn config_file(data: &[u8]) -> Result<(), String> {
    let text = std::str::from_utf8(data).map_err(|e| e.to_string())?;
    let value: serde_json::Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let mut cfg = AgentConfig::default();
    crate::config::apply_json(&mut cfg, &value, "fuzz.json").map_err(|e| e.to_string())?;
    cfg.validate().map_err(|e| e.to_string())?;
    Ok(())
}

/// A query string through every accessor the endpoints call.
pub fn query_string(raw: &str) {
    let q = crate::http::query::Query::parse(raw);
    let _ = q.flag("pretty");
    let _ = q.max_stale();
    let _ = q.mode();
    let _ = q.consistency();
    let _ = q.blocking();
    let _ = q.check_dc("dc1");
    let _ = q.all("tag");
    let _ = q.answer_locally(Some(Duration::from_millis(5)));
}

/// A Go duration: what parses must format and parse back to itself.
pub fn duration(s: &str) {
    if let Some(d) = crate::api::duration::parse_go(s) {
        let text = crate::api::duration::format_go(d);
        let back = crate::api::duration::parse_go(&text);
        assert_eq!(
            back,
            Some(d),
            "{s:?} parsed to {d:?}, formatted as {text:?}"
        );
    }
}

/// The fuzz targets' properties as property tests, so the ordinary `cargo test` on stable
/// checks them too (with far fewer inputs than a fuzzing run).
#[cfg(test)]
mod tests {
    use std::sync::OnceLock;

    use proptest::prelude::*;

    use super::*;

    fn gossip() -> &'static Mutex<GossipTarget> {
        static G: OnceLock<Mutex<GossipTarget>> = OnceLock::new();
        G.get_or_init(|| Mutex::new(GossipTarget::new()))
    }

    fn duration_text() -> impl Strategy<Value = String> {
        let part = (
            0u64..100_000,
            prop::sample::select(vec!["ns", "us", "µs", "ms", "s", "m", "h"]),
        );
        proptest::collection::vec(part, 1..4).prop_map(|parts| {
            parts
                .into_iter()
                .map(|(n, u)| format!("{n}{u}"))
                .collect::<String>()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn query_strings_never_panic(raw in ".{0,120}", key in "[a-z_]{1,12}", v in "[^&]{0,20}") {
            query_string(&raw);
            query_string(&format!("{key}={v}&{raw}"));
        }

        #[test]
        fn durations_format_and_parse_back(s in duration_text(), junk in ".{0,12}") {
            duration(&s);
            duration(&junk);
            prop_assert!(crate::api::duration::parse_go(&s).is_some(), "{s} parses");
        }

        #[test]
        fn config_files_end_in_a_config_or_an_error(
            key in prop::sample::select(vec![
                "datacenter", "server", "bootstrap_expect", "ports", "retry_join", "acl",
                "tls", "limits", "gossip_lan", "dns_config", "services", "checks", "encrypt",
                "node_meta", "performance", "autopilot", "telemetry", "unknown_key",
            ]),
            value in prop_oneof![
                Just(serde_json::json!(null)),
                any::<bool>().prop_map(serde_json::Value::from),
                any::<i64>().prop_map(serde_json::Value::from),
                ".{0,16}".prop_map(serde_json::Value::from),
                Just(serde_json::json!({"http": -5, "enabled": "yes", "x": [1, {}]})),
                Just(serde_json::json!([{"name": 7}, "a", null])),
            ],
            bytes in proptest::collection::vec(any::<u8>(), 0..200),
        ) {
            let doc = serde_json::json!({ key: value });
            let _ = config_file(doc.to_string().as_bytes());
            let _ = config_file(&bytes);
        }

        #[test]
        fn rpc_frames_decode_or_are_refused(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
            rpc_frame(&bytes);
        }

        #[test]
        fn gossip_packets_change_nothing_they_should_not(
            bytes in proptest::collection::vec(any::<u8>(), 0..600),
            first in 0u8..3,
        ) {
            let mut g = gossip().lock();
            g.datagram(&bytes);
            let mut plain = vec![first];
            plain.extend_from_slice(&bytes);
            g.plain(&plain);
            g.stream_frame(&plain);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn dns_answers_are_readable(
            id in any::<u16>(),
            labels in proptest::collection::vec("[a-z0-9-]{0,12}", 0..6),
            qtype in any::<u16>(),
            tail in proptest::collection::vec(any::<u8>(), 0..24),
            junk in proptest::collection::vec(any::<u8>(), 0..64),
        ) {
            let mut q = id.to_be_bytes().to_vec();
            q.extend_from_slice(&[1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
            for l in labels.iter().chain(["service".to_string(), "consul".to_string()].iter()) {
                q.push(l.len() as u8);
                q.extend_from_slice(l.as_bytes());
            }
            q.push(0);
            q.extend_from_slice(&qtype.to_be_bytes());
            q.extend_from_slice(&[0, 1]);
            q.extend_from_slice(&tail);
            for packet in [q, junk] {
                if let Some(answer) = dev_agent().dns(&packet) {
                    prop_assert!(
                        hickory_proto::op::Message::from_vec(&answer).is_ok(),
                        "unreadable answer to {packet:?}"
                    );
                }
            }
        }

        #[test]
        fn http_calls_never_take_the_agent_down(
            method in prop::sample::select(vec!["GET", "PUT", "POST", "DELETE"]),
            path in prop::sample::select(vec![
                "/v1/kv/", "/v1/txn", "/v1/catalog/register", "/v1/agent/service/register",
                "/v1/session/create", "/v1/acl/token", "/v1/health/service/", "/v1/event/fire/",
            ]),
            tail in "[a-z0-9/?=&%._-]{0,24}",
            body in prop_oneof![
                ".{0,64}".prop_map(String::into_bytes),
                Just(br#"{"Name":"web","Port":"80"}"#.to_vec()),
                Just(br#"[{"KV":{"Verb":"cas","Key":"a"}}]"#.to_vec()),
                Just(br#"{"TTL":"-5s","Behavior":"burn"}"#.to_vec()),
            ],
        ) {
            let _ = dev_agent().http(method, &format!("{path}{tail}"), body);
            prop_assert_eq!(dev_agent().http("GET", "/v1/status/leader", Vec::new()), Some(200));
        }
    }
}
