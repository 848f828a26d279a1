//! cargo-fuzz entry point for `caproto_fuzz::peer_targets::broadcaster`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caproto_fuzz::peer_targets::broadcaster(data));
