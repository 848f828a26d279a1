//! Hand-encoded CA bytes for tests that play a hostile or half-broken peer,
//! so they do not depend on the codec under test.

/// Big-endian CA header (standard 16-byte form).
pub fn header(cmd: u16, payload: u16, dtype: u16, count: u16, p1: u32, p2: u32) -> Vec<u8> {
    let mut h = Vec::with_capacity(16);
    for v in [cmd, payload, dtype, count] {
        h.extend_from_slice(&v.to_be_bytes());
    }
    h.extend_from_slice(&p1.to_be_bytes());
    h.extend_from_slice(&p2.to_be_bytes());
    h
}

/// A NUL-terminated name padded to a multiple of 8 bytes, as CA payloads are.
pub fn padded(name: &str) -> Vec<u8> {
    let mut b = name.as_bytes().to_vec();
    b.push(0);
    b.resize(b.len().div_ceil(8) * 8, 0);
    b
}
