//! Query strings through every accessor the endpoints call, and Go durations, which must
//! format and parse back to themselves.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(s) = std::str::from_utf8(data) else {
        return;
    };
    disco::fuzzing::query_string(s);
    disco::fuzzing::duration(s);
});
