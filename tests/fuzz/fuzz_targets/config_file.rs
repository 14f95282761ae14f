//! Config files as `-config-file` reads them: any bytes end in a config or an error.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = disco::fuzzing::config_file(data);
});
