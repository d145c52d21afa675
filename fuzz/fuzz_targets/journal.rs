//! cargo-fuzz target `journal`: see `gatepassd::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatepassd::fuzzing::journal(data));
