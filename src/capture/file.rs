//! pcap and pcapng, read incrementally: bytes of a capture file in (any chunking), one
//! [`RawPacket`] out per captured packet, as soon as its record is complete.
//!
//! The block and record layouts are parsed by the `pcap-parser` crate (its streaming nom
//! parsers report "incomplete" instead of failing, which is what a pipe from `tcpdump -U -w -`
//! needs). This file owns the buffering around them and what to do with bad input: a record
//! that announces more than [`MAX_RECORD`] bytes, or that the parser refuses, is reported as a
//! [`Problem`] and the reader re-synchronises on the next plausible record, so one corrupt
//! block costs one packet, not the rest of the file. The buffer never holds more than one
//! record plus one input chunk.

use pcap_parser::nom;
use pcap_parser::{
    parse_block_be, parse_block_le, parse_pcap_frame, parse_pcap_frame_be,
    parse_pcap_frame_modified, parse_pcap_header, Block, PcapError,
};

use super::problem::Problem;
use super::Timestamp;

/// Largest record (pcap) or block (pcapng) accepted. tcpdump's default snapshot length is
/// 262 144 bytes; anything announcing more than this is corrupt.
pub const MAX_RECORD: usize = 16 * 1024 * 1024;

/// Most interfaces one pcapng section may describe before more are ignored.
const MAX_INTERFACES: usize = 4096;

/// One captured packet, borrowed from the reader's buffer.
#[derive(Debug, Clone, Copy)]
pub struct RawPacket<'a> {
    /// 1-based number of the packet in the capture, as Wireshark counts them.
    pub number: u64,
    /// When it was captured.
    pub time: Timestamp,
    /// The `LINKTYPE_*` of its interface.
    pub linktype: i32,
    /// The captured bytes (possibly cut short by the snapshot length).
    pub data: &'a [u8],
    /// The packet's length on the wire.
    pub orig_len: u32,
}

/// What the reader hands its caller.
#[derive(Debug)]
pub enum Item<'a> {
    /// A packet.
    Packet(RawPacket<'a>),
    /// Something wrong with the file itself.
    Problem(Problem),
}

#[derive(Debug, Clone, Copy)]
struct Interface {
    linktype: i32,
    /// Timestamp units per second.
    resolution: u64,
    offset: i64,
}

#[derive(Debug)]
enum Format {
    /// Nothing read yet.
    Unknown,
    /// Legacy pcap.
    Legacy {
        big_endian: bool,
        nanos: bool,
        modified: bool,
        linktype: i32,
        snaplen: u32,
    },
    /// pcapng; the endianness of the current section and its interfaces.
    Ng {
        big_endian: bool,
        interfaces: Vec<Interface>,
    },
    /// Not a capture: everything else is ignored.
    Invalid,
}

/// The incremental capture-file parser. Feed it with [`CaptureReader::handle_bytes`] and
/// finish with [`CaptureReader::handle_eof`].
#[derive(Debug)]
pub struct CaptureReader {
    buf: Vec<u8>,
    /// Bytes before `start` are consumed.
    start: usize,
    format: Format,
    packets: u64,
    last_time: Timestamp,
    /// True while skipping bytes after a corrupt record.
    resyncing: bool,
}

impl Default for CaptureReader {
    fn default() -> Self {
        Self::new()
    }
}

/// Result of trying to parse one record at the front of the buffer.
enum Step {
    /// `n` bytes consumed.
    Consumed(usize),
    /// More input needed.
    NeedMore,
    /// The record here is bad; resynchronise.
    Corrupt(String),
}

impl CaptureReader {
    /// A reader expecting the start of a pcap or pcapng file.
    pub fn new() -> Self {
        CaptureReader {
            buf: Vec::new(),
            start: 0,
            format: Format::Unknown,
            packets: 0,
            last_time: Timestamp::default(),
            resyncing: false,
        }
    }

    /// Packets handed out so far.
    pub fn packets(&self) -> u64 {
        self.packets
    }

    /// Whether the input turned out not to be a capture file at all.
    pub fn is_invalid(&self) -> bool {
        matches!(self.format, Format::Invalid)
    }

    /// Consumes `data` and calls `out` for every packet (and problem) it completes.
    pub fn handle_bytes(&mut self, data: &[u8], out: &mut impl FnMut(Item<'_>)) {
        if matches!(self.format, Format::Invalid) {
            return;
        }
        if self.start > 0 && (self.start >= self.buf.len() || self.start > 1 << 20) {
            self.buf.drain(..self.start);
            self.start = 0;
        }
        self.buf.extend_from_slice(data);
        self.parse(out);
    }

    /// The input ended: a record left incomplete is reported.
    pub fn handle_eof(&mut self, out: &mut impl FnMut(Item<'_>)) {
        let left = self.buf.len() - self.start;
        match self.format {
            Format::Invalid => {}
            Format::Unknown if left == 0 => out(Item::Problem(Problem::EmptyInput)),
            _ if left > 0 => out(Item::Problem(Problem::TruncatedCapture {
                packet: self.packets + 1,
                bytes: left,
            })),
            _ => {}
        }
        self.buf.clear();
        self.start = 0;
    }

    fn parse(&mut self, out: &mut impl FnMut(Item<'_>)) {
        loop {
            if matches!(self.format, Format::Unknown) && !self.detect(out) {
                return;
            }
            if self.resyncing && !self.resync() {
                return;
            }
            match self.step(out) {
                Step::Consumed(n) => self.start += n,
                Step::NeedMore => return,
                Step::Corrupt(reason) => {
                    // The bad record still counts, so later packet numbers match Wireshark's.
                    self.packets += 1;
                    out(Item::Problem(Problem::CorruptRecord {
                        packet: self.packets,
                        reason,
                    }));
                    self.start += 1;
                    self.resyncing = true;
                }
            }
        }
    }

    /// Reads the file header. False when more bytes are needed or the input is not a capture.
    fn detect(&mut self, out: &mut impl FnMut(Item<'_>)) -> bool {
        let rest = &self.buf[self.start..];
        if rest.len() < 4 {
            return false;
        }
        let magic = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        if magic == 0x0A0D_0D0A {
            self.format = Format::Ng {
                big_endian: false,
                interfaces: Vec::new(),
            };
            return true;
        }
        match parse_pcap_header(rest) {
            Ok((_, h)) => {
                self.format = Format::Legacy {
                    big_endian: h.is_bigendian(),
                    nanos: h.is_nanosecond_precision(),
                    modified: h.is_modified_format(),
                    linktype: h.network.0,
                    snaplen: h.snaplen,
                };
                self.start += 24;
                true
            }
            Err(nom::Err::Incomplete(_)) => false,
            Err(_) => {
                self.format = Format::Invalid;
                out(Item::Problem(Problem::NotACapture { magic }));
                false
            }
        }
    }

    fn step(&mut self, out: &mut impl FnMut(Item<'_>)) -> Step {
        let rest = &self.buf[self.start..];
        match &mut self.format {
            Format::Legacy {
                big_endian,
                nanos,
                modified,
                linktype,
                snaplen,
            } => {
                if rest.len() < 16 {
                    return Step::NeedMore;
                }
                let caplen = read_u32(rest, 8, *big_endian) as usize;
                let origlen = read_u32(rest, 12, *big_endian) as usize;
                if caplen > MAX_RECORD.max(*snaplen as usize) || caplen > MAX_RECORD {
                    return Step::Corrupt(format!("record announces {caplen} captured bytes"));
                }
                if origlen < caplen {
                    return Step::Corrupt(format!(
                        "record has {caplen} captured bytes of a {origlen}-byte packet"
                    ));
                }
                let parsed = if *modified {
                    parse_pcap_frame_modified(rest)
                } else if *big_endian {
                    parse_pcap_frame_be(rest)
                } else {
                    parse_pcap_frame(rest)
                };
                match parsed {
                    Ok((remaining, frame)) => {
                        let used = rest.len() - remaining.len();
                        let frac = u64::from(frame.ts_usec);
                        let nanos = if *nanos { frac } else { frac * 1000 };
                        if nanos >= 1_000_000_000 {
                            return Step::Corrupt(format!(
                                "record timestamp fraction {frac} out of range"
                            ));
                        }
                        self.packets += 1;
                        let time = Timestamp {
                            secs: i64::from(frame.ts_sec),
                            nanos: nanos as u32,
                        };
                        self.last_time = time;
                        out(Item::Packet(RawPacket {
                            number: self.packets,
                            time,
                            linktype: *linktype,
                            data: frame.data,
                            orig_len: frame.origlen,
                        }));
                        Step::Consumed(used)
                    }
                    Err(nom::Err::Incomplete(_)) => Step::NeedMore,
                    Err(e) => Step::Corrupt(describe(&e)),
                }
            }
            Format::Ng {
                big_endian,
                interfaces,
            } => {
                if rest.len() < 12 {
                    return Step::NeedMore;
                }
                let is_shb = rest[..4] == [0x0A, 0x0D, 0x0D, 0x0A];
                if is_shb {
                    // The byte-order magic of a new section decides its endianness.
                    *big_endian = rest[8..12] == [0x1A, 0x2B, 0x3C, 0x4D];
                }
                let len = read_u32(rest, 4, *big_endian) as usize;
                if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
                    return Step::Corrupt(format!("block announces {len} bytes"));
                }
                if rest.len() < len {
                    return Step::NeedMore;
                }
                let parsed = if *big_endian {
                    parse_block_be(&rest[..len])
                } else {
                    parse_block_le(&rest[..len])
                };
                let block = match parsed {
                    Ok((_, b)) => b,
                    Err(nom::Err::Incomplete(_)) => {
                        return Step::Corrupt("block shorter than its contents".into())
                    }
                    Err(e) => return Step::Corrupt(describe(&e)),
                };
                match block {
                    Block::SectionHeader(_) => interfaces.clear(),
                    Block::InterfaceDescription(idb) if interfaces.len() < MAX_INTERFACES => {
                        interfaces.push(Interface {
                            linktype: idb.linktype.0,
                            resolution: idb.ts_resolution().unwrap_or(1_000_000).max(1),
                            offset: idb.ts_offset(),
                        });
                    }
                    Block::EnhancedPacket(epb) => {
                        self.packets += 1;
                        let Some(iface) = interfaces.get(epb.if_id as usize).copied() else {
                            out(Item::Problem(Problem::UnknownInterface {
                                packet: self.packets,
                                interface: epb.if_id,
                            }));
                            return Step::Consumed(len);
                        };
                        let ticks = (u64::from(epb.ts_high) << 32) | u64::from(epb.ts_low);
                        let time = Timestamp::from_ticks(ticks, iface.resolution, iface.offset);
                        self.last_time = time;
                        let caplen = (epb.caplen as usize).min(epb.data.len());
                        out(Item::Packet(RawPacket {
                            number: self.packets,
                            time,
                            linktype: iface.linktype,
                            data: &epb.data[..caplen],
                            orig_len: epb.origlen,
                        }));
                    }
                    Block::SimplePacket(spb) => {
                        self.packets += 1;
                        let Some(iface) = interfaces.first().copied() else {
                            out(Item::Problem(Problem::UnknownInterface {
                                packet: self.packets,
                                interface: 0,
                            }));
                            return Step::Consumed(len);
                        };
                        let caplen = (spb.origlen as usize).min(spb.data.len());
                        out(Item::Packet(RawPacket {
                            number: self.packets,
                            time: self.last_time,
                            linktype: iface.linktype,
                            data: &spb.data[..caplen],
                            orig_len: spb.origlen,
                        }));
                    }
                    _ => {}
                }
                Step::Consumed(len)
            }
            Format::Unknown | Format::Invalid => Step::NeedMore,
        }
    }

    /// Skips bytes until a plausible record starts at `start`. False if more input is needed.
    fn resync(&mut self) -> bool {
        loop {
            let rest = &self.buf[self.start..];
            let verdict = match &self.format {
                Format::Legacy {
                    big_endian,
                    snaplen,
                    nanos,
                    ..
                } => plausible_pcap_record(rest, *big_endian, *snaplen, *nanos, self.last_time),
                Format::Ng { big_endian, .. } => plausible_ng_block(rest, *big_endian),
                _ => Some(true),
            };
            match verdict {
                Some(true) => {
                    self.resyncing = false;
                    return true;
                }
                Some(false) => self.start += 1,
                None => return false,
            }
        }
    }
}

fn read_u32(b: &[u8], at: usize, big_endian: bool) -> u32 {
    let bytes = [b[at], b[at + 1], b[at + 2], b[at + 3]];
    if big_endian {
        u32::from_be_bytes(bytes)
    } else {
        u32::from_le_bytes(bytes)
    }
}

fn describe(e: &nom::Err<PcapError<&[u8]>>) -> String {
    match e {
        nom::Err::Error(p) | nom::Err::Failure(p) => match p {
            PcapError::NomError(_, kind) => format!("unparsable record ({kind:?})"),
            other => format!("unparsable record ({:?})", other.to_owned_vec()),
        },
        nom::Err::Incomplete(_) => "incomplete record".into(),
    }
}

/// Whether a legacy record header starts `b`: `None` when undecidable yet.
fn plausible_pcap_record(
    b: &[u8],
    big_endian: bool,
    snaplen: u32,
    nanos: bool,
    last: Timestamp,
) -> Option<bool> {
    if b.len() < 16 {
        return None;
    }
    let secs = i64::from(read_u32(b, 0, big_endian));
    let frac = read_u32(b, 4, big_endian);
    let caplen = read_u32(b, 8, big_endian) as usize;
    let origlen = read_u32(b, 12, big_endian) as usize;
    let limit = if snaplen == 0 {
        MAX_RECORD
    } else {
        (snaplen as usize).min(MAX_RECORD)
    };
    let frac_ok = if nanos {
        frac < 1_000_000_000
    } else {
        frac < 1_000_000
    };
    let time_ok = last.secs == 0 || (secs - last.secs).abs() < 86_400;
    if !(frac_ok && time_ok && caplen >= 14 && caplen <= limit && origlen >= caplen) {
        return Some(false);
    }
    // The record after this one, when already here, must look right too.
    let next = 16 + caplen;
    if b.len() >= next + 16 {
        let c2 = read_u32(b, next + 8, big_endian) as usize;
        let o2 = read_u32(b, next + 12, big_endian) as usize;
        let s2 = i64::from(read_u32(b, next, big_endian));
        return Some(c2 <= limit && o2 >= c2 && (s2 - secs).abs() < 86_400);
    }
    Some(true)
}

/// Whether a pcapng block starts `b`: known type, sane length, matching trailing length.
fn plausible_ng_block(b: &[u8], big_endian: bool) -> Option<bool> {
    if b.len() < 12 {
        return None;
    }
    let kind = read_u32(b, 0, big_endian);
    let known = matches!(kind, 1..=6) || kind == 0x0A0D_0D0A;
    if !known {
        return Some(false);
    }
    let len = read_u32(b, 4, big_endian) as usize;
    if len < 12 || !len.is_multiple_of(4) || len > MAX_RECORD {
        return Some(false);
    }
    if b.len() < len {
        return None;
    }
    Some(read_u32(b, len - 4, big_endian) as usize == len)
}
