//! Gossip datagrams and push-pull frames of a plaintext cluster.
#![no_main]

use std::sync::{Mutex, OnceLock};

use disco::fuzzing::GossipTarget;
use libfuzzer_sys::fuzz_target;

static ENGINE: OnceLock<Mutex<GossipTarget>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| Mutex::new(GossipTarget::new()));
    if let Ok(mut e) = engine.lock() {
        match data.split_first() {
            Some((0, rest)) => e.stream_frame(rest),
            Some((_, rest)) => e.plain(rest),
            None => {}
        }
    }
});
