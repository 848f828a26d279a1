//! Fuzz targets for the caproto-rs protocol core, shared by the cargo-fuzz
//! binaries in `fuzz_targets/` and the plain-Rust [`bounded`](../bounded)
//! driver that runs on a stable toolchain without libFuzzer.
//!
//! Each target takes arbitrary bytes and checks properties that must hold for
//! *any* input: no panic, no unbounded allocation, consumed lengths inside the
//! buffer, and re-encoding a decoded value is stable (decode . encode is the
//! identity on encoder output).

pub mod mutate;
pub mod peer_targets;
pub mod rng;
pub mod seeds;
pub mod targets;

pub use targets::{Target, TARGETS};
