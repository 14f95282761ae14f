//! Server-RPC frames: decoded as request and reply, round-tripped, and run on a dev agent.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    disco::fuzzing::dev_agent().rpc(data);
});
