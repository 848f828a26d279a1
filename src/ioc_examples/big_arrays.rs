//! `big_arrays`: arrays far beyond one TCP segment and the 16 KiB default of
//! `EPICS_CA_MAX_ARRAY_BYTES`, for testing the server's large-payload paths
//! with peer clients (EPICS `caget`/`caput -a`/`camonitor`, caproto).
//!
//! - `wave`: 1 000 000 doubles (8 MB), element i = i / 4 (exact in binary,
//!   short in `%g`), writable.
//! - `chars`: 100 000 chars `abc…zabc…` (a long string as a char array).
//! - `strings`: 100 000 strings `s0`, `s1`, … (4 MB as DBR_STRING).
//!
//! Clients need `EPICS_CA_MAX_ARRAY_BYTES` of at least 8 000 016 for `wave`.

use super::ExampleOptions;
use crate::server::{Pv, PvGroup};

/// Elements of `wave`.
pub const WAVE_LEN: usize = 1_000_000;
/// Elements of `chars` and of `strings`.
pub const TEXT_LEN: usize = 100_000;

/// Build the group.
pub fn build(prefix: &str, _: &ExampleOptions) -> PvGroup {
    let mut g = PvGroup::new(prefix);
    let wave: Vec<f64> = (0..WAVE_LEN).map(|i| i as f64 / 4.0).collect();
    g.add(Pv::new("wave", wave).max_count(WAVE_LEN));
    let chars: Vec<u8> = (0..TEXT_LEN).map(|i| b'a' + (i % 26) as u8).collect();
    g.add(Pv::new("chars", chars).max_count(TEXT_LEN));
    let strings: Vec<String> = (0..TEXT_LEN).map(|i| format!("s{i}")).collect();
    g.add(Pv::new("strings", strings).max_count(TEXT_LEN));
    g
}
