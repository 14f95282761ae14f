//! Any HTTP call through the agent's handler: routing, the query string, body decoding and
//! the endpoint itself, on a live dev agent. Byte 0 picks the method, byte 1 an API prefix
//! (so the fuzzer starts inside the API); the rest up to a newline is appended to the path,
//! and what follows is the body.
#![no_main]

use libfuzzer_sys::fuzz_target;

const METHODS: [&str; 4] = ["GET", "PUT", "POST", "DELETE"];
const PREFIXES: [&str; 24] = [
    "/v1/kv/",
    "/v1/txn",
    "/v1/catalog/register",
    "/v1/catalog/deregister",
    "/v1/catalog/service/",
    "/v1/catalog/nodes",
    "/v1/health/service/",
    "/v1/health/state/",
    "/v1/agent/service/register",
    "/v1/agent/check/register",
    "/v1/agent/check/update/",
    "/v1/agent/services",
    "/v1/session/create",
    "/v1/session/renew/",
    "/v1/event/fire/",
    "/v1/acl/token",
    "/v1/acl/policy",
    "/v1/acl/role",
    "/v1/acl/authorize",
    "/v1/operator/keyring",
    "/v1/operator/autopilot/configuration",
    "/v1/status/leader",
    "/v1/agent/maintenance",
    "/",
];

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let method = METHODS[data[0] as usize % METHODS.len()];
    let prefix = PREFIXES[data[1] as usize % PREFIXES.len()];
    let rest = &data[2..];
    let (tail, body) = match rest.iter().position(|b| *b == b'\n') {
        Some(i) => (&rest[..i], rest[i + 1..].to_vec()),
        None => (rest, Vec::new()),
    };
    let Ok(tail) = std::str::from_utf8(tail) else {
        return;
    };
    let target = format!("{prefix}{tail}");
    // A panic anywhere in the handler ends the run; Consul answers 500 for some bad input
    // (an unknown session on acquire), so the status itself is not judged here.
    let _ = disco::fuzzing::dev_agent().http(method, &target, body);
});
