//! cargo-fuzz entry point for `caproto_fuzz::peer_targets::circuit_client`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caproto_fuzz::peer_targets::circuit_client(data));
