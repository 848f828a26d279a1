//! Structure-aware mutation of CA byte streams for the bounded driver.
//!
//! Inputs after a target's control prefix are treated as a sequence of CA
//! commands: mutations hit header fields with boundary values (0, 1, 0xFFFF,
//! the extended-header marker, sizes around EPICS_CA_MAX_ARRAY_BYTES), fix up
//! or break payload sizes, truncate, splice commands from other inputs, and
//! flip plain bits, so both deep (valid framing) and shallow (garbage) paths
//! get exercised.

use crate::rng::Rng;
use caproto::proto::header::Header;

const U16_EDGES: [u16; 9] = [0, 1, 7, 8, 0x7FFF, 0x8000, 0xFFFE, 0xFFFF, 38];
const U32_EDGES: [u32; 12] = [
    0,
    1,
    8,
    16_384,
    16_392,
    16_640,
    0xFFFF,
    0x1_0000,
    0x7FFF_FFFF,
    0x8000_0000,
    0xFFFF_FFF8,
    0xFFFF_FFFF,
];

/// Offsets of command boundaries in `stream` (best effort: stops at the
/// first header that does not fit).
fn boundaries(stream: &[u8]) -> Vec<usize> {
    let mut at = Vec::new();
    let mut pos = 0;
    while pos < stream.len() && at.len() < 256 {
        at.push(pos);
        match Header::decode(&stream[pos..]) {
            Ok((h, hl)) => {
                let next = pos
                    .saturating_add(hl)
                    .saturating_add(h.payload_size as usize);
                if next > stream.len() {
                    break;
                }
                pos = next.max(pos + 1);
            }
            Err(_) => break,
        }
    }
    at
}

fn put_u16(buf: &mut [u8], at: usize, v: u16) {
    if at + 2 <= buf.len() {
        buf[at..at + 2].copy_from_slice(&v.to_be_bytes());
    }
}

fn put_u32(buf: &mut [u8], at: usize, v: u32) {
    if at + 4 <= buf.len() {
        buf[at..at + 4].copy_from_slice(&v.to_be_bytes());
    }
}

/// Mutate `input` in place (1-4 stacked mutations). `prefix` bytes at the
/// front are control fields; `others` supplies material for splicing.
pub fn mutate(rng: &mut Rng, input: &mut Vec<u8>, prefix: usize, others: &[Vec<u8>]) {
    for _ in 0..1 + rng.below(4) {
        mutate_once(rng, input, prefix, others);
    }
    if input.len() > 1 << 20 {
        input.truncate(1 << 20);
    }
}

fn mutate_once(rng: &mut Rng, input: &mut Vec<u8>, prefix: usize, others: &[Vec<u8>]) {
    if input.len() < prefix {
        input.resize(prefix, 0);
    }
    if prefix > 0 && rng.one_in(8) {
        // Control prefix: random bytes or count edges (DBR count is bytes 1..5).
        if prefix >= 5 && rng.one_in(2) {
            put_u32(input, 1, *rng.pick(&U32_EDGES));
        } else {
            let i = rng.below(prefix);
            input[i] = rng.next_u64() as u8;
        }
        return;
    }
    let (head, stream) = input.split_at(prefix);
    let mut stream = stream.to_vec();
    let cuts = boundaries(&stream);
    let at = if cuts.is_empty() { 0 } else { *rng.pick(&cuts) };
    match rng.below(12) {
        0 => {
            // Command id: any, or one of the known ones.
            let v = if rng.one_in(2) {
                rng.below(30) as u16
            } else {
                rng.next_u64() as u16
            };
            put_u16(&mut stream, at, v);
        }
        1 => put_u16(&mut stream, at + 2, *rng.pick(&U16_EDGES)), // payload size / ext marker
        2 => put_u16(
            &mut stream,
            at + 4 + 2 * rng.below(2),
            *rng.pick(&U16_EDGES),
        ), // type / count
        3 => put_u32(
            &mut stream,
            at + 8 + 4 * rng.below(2),
            *rng.pick(&U32_EDGES),
        ), // p1 / p2
        4 => {
            // Turn into an extended header with edge sizes.
            if at + 16 <= stream.len() {
                put_u16(&mut stream, at + 2, 0xFFFF);
                put_u16(&mut stream, at + 6, 0);
                let ext: Vec<u8> = [*rng.pick(&U32_EDGES), *rng.pick(&U32_EDGES)]
                    .iter()
                    .flat_map(|v| v.to_be_bytes())
                    .collect();
                stream.splice(at + 16..at + 16, ext);
            }
        }
        5 => {
            // Truncate anywhere.
            let n = rng.below(stream.len() + 1);
            stream.truncate(n);
        }
        6 => {
            // Splice a command (or the tail) of another input after this one.
            if let Some(other) = others.get(rng.below(others.len().max(1))) {
                let other = &other[prefix.min(other.len())..];
                let oc = boundaries(other);
                if !oc.is_empty() {
                    let from = *rng.pick(&oc);
                    let to = (from + 16 + rng.below(64)).min(other.len());
                    let end = if rng.one_in(2) { other.len() } else { to };
                    let insert = at.min(stream.len());
                    stream.splice(insert..insert, other[from..end].iter().copied());
                }
            }
        }
        7 => {
            // Duplicate a command many times (table growth, id reuse).
            if let Some(&next) = cuts.iter().find(|&&c| c > at) {
                let one = stream[at..next].to_vec();
                for _ in 0..1 + rng.below(16) {
                    stream.extend_from_slice(&one);
                }
            }
        }
        8 => {
            // Append random bytes.
            for _ in 0..1 + rng.below(32) {
                stream.push(rng.next_u64() as u8);
            }
        }
        9 => {
            // Fix up the first payload size to match what follows (8-aligned).
            if at + 16 <= stream.len() {
                let rest = (stream.len() - at - 16) & !7;
                put_u16(&mut stream, at + 2, rest.min(0xFFF8) as u16);
            }
        }
        10 => {
            // Replace payload bytes with non-UTF-8 / no NUL / all NUL.
            if at + 16 < stream.len() {
                let fill = *rng.pick(&[0u8, 0xFF, b'A', 0xC3]);
                let n = rng.below(stream.len() - at - 16) + 1;
                for b in &mut stream[at + 16..at + 16 + n] {
                    *b = fill;
                }
            }
        }
        _ => {
            // Bit flips.
            for _ in 0..1 + rng.below(4) {
                if !stream.is_empty() {
                    let i = rng.below(stream.len());
                    stream[i] ^= 1 << rng.below(8);
                }
            }
        }
    }
    let mut rebuilt = head.to_vec();
    rebuilt.extend(stream);
    *input = rebuilt;
}
