//! What can be wrong with a capture, as typed values: each names the packet it was found in,
//! so a message on standard error points at the packet to open in Wireshark. None of them
//! stops decoding (except [`Problem::NotACapture`], after which there is nothing to decode).

use std::fmt;
use std::net::SocketAddr;

/// One thing wrong with the input, found while decoding.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Problem {
    /// The input does not start with a pcap or pcapng magic number.
    NotACapture {
        /// The first four bytes, little-endian.
        magic: u32,
    },
    /// The input was empty.
    EmptyInput,
    /// The input ended inside a record.
    TruncatedCapture {
        /// The packet that would have come next.
        packet: u64,
        /// Bytes of the incomplete record that were present.
        bytes: usize,
    },
    /// A record or block header is corrupt; the reader skipped to the next plausible one.
    CorruptRecord {
        /// The packet number the record would have had.
        packet: u64,
        /// What was wrong.
        reason: String,
    },
    /// A pcapng packet refers to an interface that was never described.
    UnknownInterface {
        /// The packet.
        packet: u64,
        /// Its interface id.
        interface: u32,
    },
    /// A link type this decoder does not read.
    UnsupportedLinkType {
        /// The packet.
        packet: u64,
        /// Its `LINKTYPE_*` value.
        linktype: i32,
    },
    /// Link, IP, TCP or UDP headers could not be parsed.
    BadPacket {
        /// The packet.
        packet: u64,
        /// What was wrong.
        reason: String,
    },
    /// The snapshot length cut the packet short: CA bytes are missing.
    Snapped {
        /// The packet.
        packet: u64,
        /// Bytes on the wire.
        orig_len: u32,
        /// Bytes captured.
        captured: usize,
    },
    /// A CA header that cannot be right (unknown command, payload over the cap): the flow
    /// skips ahead to the next plausible header.
    BadMessage {
        /// The packet the header arrived in.
        packet: u64,
        /// Sender of the bytes.
        from: SocketAddr,
        /// Receiver of the bytes.
        to: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// Bytes skipped in a TCP flow before a plausible CA header was found (capture started
    /// mid-connection, lost segments, or not CA at all).
    Resynchronised {
        /// The packet where decoding resumed.
        packet: u64,
        /// Sender of the bytes.
        from: SocketAddr,
        /// Receiver of the bytes.
        to: SocketAddr,
        /// Bytes skipped.
        skipped: u64,
    },
    /// Bytes of a TCP flow never captured (lost, or cut by the snapshot length).
    Gap {
        /// The first packet after the missing bytes (where the stream resumes).
        packet: u64,
        /// Sender of the bytes.
        from: SocketAddr,
        /// Receiver of the bytes.
        to: SocketAddr,
        /// Missing bytes.
        bytes: u64,
    },
    /// Bytes were lost inside a CA message whose header was seen: the message is not
    /// decoded (never guessed at); decoding goes on after its end, found by its declared size.
    Damaged {
        /// The packet after which the loss was noticed.
        packet: u64,
        /// Sender of the bytes.
        from: SocketAddr,
        /// Receiver of the bytes.
        to: SocketAddr,
        /// The message's command (`READ_NOTIFY`).
        command: &'static str,
        /// The PV it was about, as in a record's `pv` field (empty when none).
        pv: String,
        /// Its declared size, header included.
        size: u64,
        /// Bytes of it that were lost.
        lost: u64,
    },
    /// A flow's out-of-order buffer reached its cap; the missing bytes were given up on.
    BufferCap {
        /// The packet that hit the cap.
        packet: u64,
        /// Sender of the bytes.
        from: SocketAddr,
        /// Receiver of the bytes.
        to: SocketAddr,
        /// The cap, in bytes.
        cap: usize,
    },
    /// IP fragments that could not be put together (do not fit, not complete in time, or
    /// over the reassembly caps): their datagram is lost.
    Fragments {
        /// The packet.
        packet: u64,
        /// What happened.
        reason: String,
    },
    /// Too many TCP flows open at once: the new one is ignored.
    TooManyFlows {
        /// The packet.
        packet: u64,
        /// The cap.
        cap: usize,
    },
}

impl Problem {
    /// The packet the problem was found in, if it concerns one.
    pub fn packet(&self) -> Option<u64> {
        use Problem::*;
        match self {
            NotACapture { .. } | EmptyInput => None,
            TruncatedCapture { packet, .. }
            | CorruptRecord { packet, .. }
            | UnknownInterface { packet, .. }
            | UnsupportedLinkType { packet, .. }
            | BadPacket { packet, .. }
            | Snapped { packet, .. }
            | BadMessage { packet, .. }
            | Resynchronised { packet, .. }
            | Gap { packet, .. }
            | Damaged { packet, .. }
            | BufferCap { packet, .. }
            | Fragments { packet, .. }
            | TooManyFlows { packet, .. } => Some(*packet),
        }
    }

    /// The two ends of the TCP flow it concerns, for per-circuit loss counts.
    pub fn flow(&self) -> Option<(SocketAddr, SocketAddr)> {
        use Problem::*;
        match self {
            BadMessage { from, to, .. }
            | Resynchronised { from, to, .. }
            | Gap { from, to, .. }
            | Damaged { from, to, .. }
            | BufferCap { from, to, .. } => Some((*from, *to)),
            _ => None,
        }
    }

    /// A short name of the kind of problem, for counting them.
    pub fn kind(&self) -> &'static str {
        use Problem::*;
        match self {
            NotACapture { .. } => "not a capture",
            EmptyInput => "empty input",
            TruncatedCapture { .. } => "truncated capture",
            CorruptRecord { .. } => "corrupt record",
            UnknownInterface { .. } => "unknown interface",
            UnsupportedLinkType { .. } => "unsupported link type",
            BadPacket { .. } => "bad packet",
            Snapped { .. } => "cut by snapshot length",
            BadMessage { .. } => "bad CA header",
            Resynchronised { .. } => "re-synchronised",
            Gap { .. } => "missing TCP bytes",
            Damaged { .. } => "damaged CA message",
            BufferCap { .. } => "flow buffer cap",
            Fragments { .. } => "IP fragments dropped",
            TooManyFlows { .. } => "too many flows",
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use Problem::*;
        match self {
            NotACapture { magic } => write!(
                f,
                "input is not a pcap or pcapng capture (starts with 0x{magic:08x})"
            ),
            EmptyInput => f.write_str("input is empty"),
            TruncatedCapture { packet, bytes } => write!(
                f,
                "packet {packet}: capture ends inside its record ({bytes} bytes present)"
            ),
            CorruptRecord { packet, reason } => write!(
                f,
                "packet {packet}: corrupt capture record ({reason}); skipped to the next one"
            ),
            UnknownInterface { packet, interface } => write!(
                f,
                "packet {packet}: refers to undescribed interface {interface}; skipped"
            ),
            UnsupportedLinkType { packet, linktype } => {
                write!(
                    f,
                    "packet {packet}: link type {linktype} not supported; skipped"
                )
            }
            BadPacket { packet, reason } => write!(f, "packet {packet}: {reason}; skipped"),
            Snapped {
                packet,
                orig_len,
                captured,
            } => write!(
                f,
                "packet {packet}: only {captured} of {orig_len} bytes captured (snapshot length); \
                 the missing CA bytes are skipped"
            ),
            BadMessage {
                packet,
                from,
                to,
                reason,
            } => write!(
                f,
                "packet {packet}: {from} -> {to}: {reason}; looking for the next CA header"
            ),
            Resynchronised {
                packet,
                from,
                to,
                skipped,
            } => write!(
                f,
                "packet {packet}: {from} -> {to}: skipped {skipped} bytes to the next CA header"
            ),
            Gap {
                packet,
                from,
                to,
                bytes,
            } => write!(
                f,
                "packet {packet}: {from} -> {to}: {bytes} bytes of the TCP stream before this \
                 packet were not captured"
            ),
            Damaged {
                packet,
                from,
                to,
                command,
                pv,
                size,
                lost,
            } => {
                write!(f, "packet {packet}: {from} -> {to}: {command}")?;
                if !pv.is_empty() {
                    write!(f, " ({pv})")?;
                }
                write!(
                    f,
                    " damaged: {lost} of its {size} bytes were not captured; not decoded"
                )
            }
            BufferCap {
                packet,
                from,
                to,
                cap,
            } => write!(
                f,
                "packet {packet}: {from} -> {to}: reassembly buffer cap of {cap} bytes reached; \
                 gave up on missing bytes"
            ),
            Fragments { packet, reason } => write!(f, "packet {packet}: {reason}"),
            TooManyFlows { packet, cap } => write!(
                f,
                "packet {packet}: more than {cap} TCP flows open at once; this one is ignored"
            ),
        }
    }
}

impl std::error::Error for Problem {}
