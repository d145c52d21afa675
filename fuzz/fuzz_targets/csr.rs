//! cargo-fuzz target `csr`: see `gatepassd::fuzzing`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| gatepassd::fuzzing::csr(data));
