//! DNS datagrams answered by a live dev agent's handler, as the UDP path answers them.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(answer) = disco::fuzzing::dev_agent().dns(data) {
        // Whatever is answered must be a message a resolver can read.
        assert!(
            hickory_proto::op::Message::from_vec(&answer).is_ok(),
            "unreadable answer to {data:?}"
        );
    }
});
