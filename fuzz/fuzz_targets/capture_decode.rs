//! cargo-fuzz entry point for `caproto_fuzz::targets::capture_decode`: two control bytes
//! (chunking and link type; file format: legacy pcap or pcapng, either byte order, or a whole
//! capture file as seeded from real captures), then the records.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| caproto_fuzz::targets::capture_decode(data));
