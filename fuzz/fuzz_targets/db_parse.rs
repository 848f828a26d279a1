//! cargo-fuzz entry point for `caproto_fuzz::targets::db_parse`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caproto_fuzz::targets::db_parse(data));
