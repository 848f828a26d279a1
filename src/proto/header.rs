//! The 16-byte CA message header and its extended (24-byte) form.
//!
//! Every CA message starts with a header. When the payload size or element
//! count does not fit the 16-bit fields, the sender writes 0xFFFF and 0 there
//! and appends two 32-bit fields with the real values ("extended header",
//! protocol 4.9+).

/// Length of the standard header.
pub const HEADER_LEN: usize = 16;
/// Length of an extended header (standard + two u32).
pub const EXTENDED_HEADER_LEN: usize = 24;
/// Marker in the 16-bit payload-size field that an extended header follows.
pub const EXTENDED_MARKER: u16 = 0xFFFF;

/// A decoded CA header. Sizes are always the real values, whichever form was on the wire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Header {
    /// Command id (`CA_PROTO_*`).
    pub command: u16,
    /// Bytes of payload following the header (a multiple of 8 for well-formed senders).
    pub payload_size: u32,
    /// Data type field (meaning depends on the command).
    pub data_type: u16,
    /// Element count field (meaning depends on the command).
    pub data_count: u32,
    /// First parameter (often a channel or server id).
    pub parameter1: u32,
    /// Second parameter (often an I/O or subscription id).
    pub parameter2: u32,
}

/// Why header bytes could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HeaderError {
    /// Fewer bytes than the header needs; `needed` is the full header length.
    Incomplete {
        /// Total bytes the header occupies.
        needed: usize,
    },
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Incomplete { needed } => {
                write!(f, "incomplete header: need {needed} bytes")
            }
        }
    }
}

impl std::error::Error for HeaderError {}

impl Header {
    /// Whether this header must be sent in the extended form.
    pub fn is_extended(&self) -> bool {
        self.payload_size >= u32::from(EXTENDED_MARKER)
            || self.data_count >= u32::from(EXTENDED_MARKER)
    }

    /// Bytes this header occupies on the wire.
    pub fn encoded_len(&self) -> usize {
        if self.is_extended() {
            EXTENDED_HEADER_LEN
        } else {
            HEADER_LEN
        }
    }

    /// Append the big-endian wire form to `out`, choosing the extended form when needed.
    pub fn encode(&self, out: &mut Vec<u8>) {
        let mut wire = [0u8; EXTENDED_HEADER_LEN];
        let n = self.encode_into(&mut wire);
        out.extend_from_slice(&wire[..n]);
    }

    /// Write the big-endian wire form to the front of `wire` (the extended
    /// form when needed) and return its length, 16 or 24: for writers that
    /// put the header in front of a payload already in place.
    pub fn encode_into(&self, wire: &mut [u8; EXTENDED_HEADER_LEN]) -> usize {
        wire[0..2].copy_from_slice(&self.command.to_be_bytes());
        wire[4..6].copy_from_slice(&self.data_type.to_be_bytes());
        wire[8..12].copy_from_slice(&self.parameter1.to_be_bytes());
        wire[12..16].copy_from_slice(&self.parameter2.to_be_bytes());
        if self.is_extended() {
            wire[2..4].copy_from_slice(&EXTENDED_MARKER.to_be_bytes());
            wire[6..8].copy_from_slice(&0u16.to_be_bytes());
            wire[16..20].copy_from_slice(&self.payload_size.to_be_bytes());
            wire[20..24].copy_from_slice(&self.data_count.to_be_bytes());
            EXTENDED_HEADER_LEN
        } else {
            wire[2..4].copy_from_slice(&(self.payload_size as u16).to_be_bytes());
            wire[6..8].copy_from_slice(&(self.data_count as u16).to_be_bytes());
            HEADER_LEN
        }
    }

    /// Decode a header from the start of `buf`, returning it and the bytes it used.
    pub fn decode(buf: &[u8]) -> Result<(Header, usize), HeaderError> {
        if buf.len() < HEADER_LEN {
            return Err(HeaderError::Incomplete { needed: HEADER_LEN });
        }
        let u16_at = |i: usize| u16::from_be_bytes([buf[i], buf[i + 1]]);
        let u32_at = |i: usize| u32::from_be_bytes([buf[i], buf[i + 1], buf[i + 2], buf[i + 3]]);
        let mut header = Header {
            command: u16_at(0),
            payload_size: u32::from(u16_at(2)),
            data_type: u16_at(4),
            data_count: u32::from(u16_at(6)),
            parameter1: u32_at(8),
            parameter2: u32_at(12),
        };
        if header.payload_size == u32::from(EXTENDED_MARKER) {
            // Extended form: the real sizes follow. (A plain header with exactly
            // 0xFFFF payload bytes cannot exist: payloads are 8-aligned.)
            if buf.len() < EXTENDED_HEADER_LEN {
                return Err(HeaderError::Incomplete {
                    needed: EXTENDED_HEADER_LEN,
                });
            }
            header.payload_size = u32_at(16);
            header.data_count = u32_at(20);
            return Ok((header, EXTENDED_HEADER_LEN));
        }
        Ok((header, HEADER_LEN))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_round_trip() {
        let h = Header {
            command: 15,
            payload_size: 8,
            data_type: 6,
            data_count: 1,
            parameter1: 7,
            parameter2: 9,
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out, [0, 15, 0, 8, 0, 6, 0, 1, 0, 0, 0, 7, 0, 0, 0, 9]);
        assert_eq!(Header::decode(&out).unwrap(), (h, 16));
    }

    #[test]
    fn extended_round_trip() {
        let h = Header {
            command: 1,
            payload_size: 800_000,
            data_type: 6,
            data_count: 100_000,
            parameter1: 1,
            parameter2: 2,
        };
        let mut out = Vec::new();
        h.encode(&mut out);
        assert_eq!(out.len(), EXTENDED_HEADER_LEN);
        assert_eq!(&out[2..4], &[0xFF, 0xFF]);
        assert_eq!(&out[6..8], &[0, 0]);
        assert_eq!(Header::decode(&out).unwrap(), (h, 24));
        assert_eq!(
            Header::decode(&out[..20]),
            Err(HeaderError::Incomplete { needed: 24 })
        );
    }

    #[test]
    fn truncated() {
        assert_eq!(
            Header::decode(&[0; 15]),
            Err(HeaderError::Incomplete { needed: 16 })
        );
    }
}
