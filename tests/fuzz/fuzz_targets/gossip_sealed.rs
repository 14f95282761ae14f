//! Gossip datagrams of an encrypted cluster: the envelope, and the payload past decryption.
#![no_main]

use std::sync::{Mutex, OnceLock};

use disco::fuzzing::GossipTarget;
use libfuzzer_sys::fuzz_target;

static ENGINE: OnceLock<Mutex<GossipTarget>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| Mutex::new(GossipTarget::new()));
    if let Ok(mut e) = engine.lock() {
        e.datagram(data);
    }
});
