//! cargo-fuzz entry point for `caproto_fuzz::targets::capture_decode`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caproto_fuzz::targets::capture_decode(data));
