//! Sans-I/O decoding of captured Channel Access traffic, for `caproto-shark`: the bytes of a
//! pcap or pcapng file in, one typed [`Message`] per CA message out, with the same PV names,
//! addresses and roles as the live per-command records.
//!
//! A [`Decoder`] never reads a file or a clock. The shell (`caproto-shark`'s run loop):
//! - reads the capture in chunks of any size (a pipe from `tcpdump -U -w -` works: records are
//!   decoded as soon as they are complete) and calls [`Decoder::handle_bytes`] with each;
//! - at the end of input calls [`Decoder::handle_eof`], which flushes every connection;
//! - receives [`Event`]s through the callback: a [`Message`] (emit it with [`emit::emit`] to get
//!   the live logging's record with the capture time, or fold it into a [`Summary`]) or a
//!   [`Problem`] (print it; decoding always goes on with the next packet).
//!
//! The pipeline, one file per stage: [`mod@file`] (pcap/pcapng records, via `pcap-parser`) ->
//! [`link`] (Ethernet/VLAN, Linux cooked v1/v2, BSD loopback, raw IP; IPv4/IPv6; TCP/UDP, via
//! `etherparse`; IP fragments put together by [`fragments`]) -> [`tcp`] (per-direction reassembly by sequence number) -> [`framer`] (CA
//! messages out of the byte stream: a loss inside a message skips that message by its size,
//! a loss across a boundary re-synchronises only on the strong [`evidence`] of a run of
//! believable headers, so no message is ever invented) -> `network` (connections,
//! roles, and `names`: cid/sid/subscription/ioid to PV name).
//!
//! Problems are values, not errors: a corrupt record, a packet cut by the snapshot length or a
//! CA header announcing 2 GiB is reported with its packet number and skipped. Memory is
//! bounded, for captures that run for days: one capture record, per flow at most
//! [`Config::max_flow_buffer`] bytes waiting out of order plus one message of at most
//! [`Config::max_message`] bytes, at most [`Config::max_flows`] flows (each forgotten after its
//! FIN/RST or [`Config::flow_idle`] without a packet), id tables capped per circuit
//! (2^20 ids per table), the search-name table capped, and the fragment caps.

pub mod beacons;
pub mod emit;
pub mod evidence;
pub mod file;
pub mod fragments;
pub mod framer;
pub mod link;
mod names;
mod network;
mod problem;
mod summary;
pub mod tcp;
pub mod top;

use std::net::SocketAddr;
use std::rc::Rc;

pub use names::{IdKind, PvRef};
pub use problem::Problem;
pub use summary::{CircuitStats, LossStats, PvStats, SearchStats, Summary};

use self::file::{CaptureReader, Item};
use self::fragments::{Defrag, FragDrop};
use self::link::Frame;
use self::network::{At, Network};
use crate::proto::header::Header;
use crate::proto::{command::Command, command::CommandError, Direction, Role};

/// A capture timestamp (seconds and nanoseconds since the Unix epoch, UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp {
    /// Whole seconds.
    pub secs: i64,
    /// Nanoseconds, below 1e9.
    pub nanos: u32,
}

impl Timestamp {
    /// Nanoseconds since the epoch (0 before it), for comparing capture times.
    pub fn as_nanos(self) -> u64 {
        (self.secs.max(0) as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(self.nanos))
    }

    /// From pcapng ticks at `resolution` ticks per second, plus the interface's second offset.
    pub fn from_ticks(ticks: u64, resolution: u64, offset: i64) -> Self {
        let secs = (ticks / resolution) as i64 + offset;
        let frac = ticks % resolution;
        let nanos = (u128::from(frac) * 1_000_000_000 / u128::from(resolution)) as u32;
        Timestamp { secs, nanos }
    }

    /// As floating-point seconds.
    pub fn as_secs_f64(self) -> f64 {
        self.secs as f64 + f64::from(self.nanos) / 1e9
    }
}

/// Which transport a message travelled on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TransportKind {
    /// A virtual circuit.
    Tcp,
    /// A datagram (search, beacon, repeater).
    Udp,
}

/// One CA message found in the capture.
#[derive(Debug, Clone)]
pub struct Message<'a> {
    /// Number (1-based) of the packet that completed it.
    pub packet: u64,
    /// That packet's capture time.
    pub time: Timestamp,
    /// TCP or UDP.
    pub transport: TransportKind,
    /// Sender.
    pub from: SocketAddr,
    /// Receiver.
    pub to: SocketAddr,
    /// `from` as text, formatted once per flow.
    pub from_text: Rc<str>,
    /// `to` as text, formatted once per flow.
    pub to_text: Rc<str>,
    /// The sender's role (client: requests, server: responses).
    pub sender: Role,
    /// The header, with real sizes.
    pub header: Header,
    /// Bytes of header (16, or 24 for the extended form).
    pub header_len: usize,
    /// The whole message as on the wire.
    pub bytes: &'a [u8],
    /// The PV it is about.
    pub pv: PvRef,
}

impl Message<'_> {
    /// The direction its command travels (requests from clients).
    pub fn direction(&self) -> Direction {
        self.sender.outgoing()
    }

    /// The payload after the header.
    pub fn payload(&self) -> &[u8] {
        &self.bytes[self.header_len..]
    }

    /// Decodes the command (allocates for data-carrying commands; only do it when needed).
    pub fn command(&self) -> Result<Command, CommandError> {
        Command::decode(&self.header, self.payload(), self.direction())
    }
}

/// What the decoder reports.
#[derive(Debug)]
pub enum Event<'a> {
    /// A CA message.
    Message(Message<'a>),
    /// Something wrong with the input; decoding goes on.
    Problem(Problem),
}

/// Decoder settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// Ports CA servers listen on (TCP) and answer searches from (UDP).
    pub server_ports: Vec<u16>,
    /// Ports of CA repeaters.
    pub repeater_ports: Vec<u16>,
    /// Largest CA message accepted (header + payload); a header announcing more is bad.
    pub max_message: usize,
    /// Bytes one flow may hold out of order before missing bytes are given up on.
    pub max_flow_buffer: usize,
    /// TCP flows tracked at once.
    pub max_flows: usize,
    /// A TCP flow with no packet for this long (capture time) is ended and forgotten.
    pub flow_idle: std::time::Duration,
    /// Bounds and timeout of IP fragment reassembly.
    pub fragments: fragments::Limits,
    /// How long (capture time) bytes may wait behind a hole in a TCP stream before the
    /// missing bytes are taken as lost.
    pub reorder_wait: std::time::Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            server_ports: vec![crate::proto::DEFAULT_SERVER_PORT],
            repeater_ports: vec![crate::proto::DEFAULT_REPEATER_PORT],
            max_message: 16 * 1024 * 1024 + 24,
            max_flow_buffer: 4 * 1024 * 1024,
            max_flows: 65_536,
            reorder_wait: std::time::Duration::from_millis(500),
            fragments: fragments::Limits::default(),
            flow_idle: std::time::Duration::from_secs(300),
        }
    }
}

/// Counters of what was read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Packets in the capture.
    pub packets: u64,
    /// CA messages decoded.
    pub messages: u64,
    /// Problems reported.
    pub problems: u64,
}

/// The whole pipeline; see the module docs.
#[derive(Debug)]
pub struct Decoder {
    reader: CaptureReader,
    defrag: Defrag,
    network: Network,
    counters: Counters,
    last: At,
}

impl Decoder {
    /// A decoder with `config`.
    pub fn new(config: Config) -> Self {
        Decoder {
            reader: CaptureReader::new(),
            defrag: Defrag::new(config.fragments),
            network: Network::new(config),
            counters: Counters::default(),
            last: At {
                packet: 0,
                time: Timestamp::default(),
            },
        }
    }

    /// What was read so far.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// TCP connections currently tracked.
    pub fn open_flows(&self) -> usize {
        self.network.open_circuits()
    }

    /// Whether the input is not a capture at all (further input is ignored).
    pub fn is_invalid(&self) -> bool {
        self.reader.is_invalid()
    }

    /// Consumes the next bytes of the capture.
    pub fn handle_bytes(&mut self, data: &[u8], out: &mut impl FnMut(Event<'_>)) {
        let Decoder {
            reader,
            defrag,
            network,
            counters,
            last,
        } = self;
        let mut count = |e: Event<'_>| {
            match &e {
                Event::Message(_) => counters.messages += 1,
                Event::Problem(_) => counters.problems += 1,
            }
            out(e)
        };
        reader.handle_bytes(data, &mut |item| match item {
            Item::Packet(p) => {
                let at = At {
                    packet: p.number,
                    time: p.time,
                };
                *last = at;
                defrag.tick(p.time.as_nanos(), &mut |d| {
                    count(Event::Problem(frag_problem(p.number, d)))
                });
                network.sweep_idle(at, &mut count);
                counters.packets = p.number;
                match link::parse(p.linktype, p.data) {
                    Ok(Some(Frame::Packet(packet))) => {
                        network.handle_packet(at, &packet, &mut count)
                    }
                    Ok(Some(Frame::Fragment(f))) => {
                        let key = f.key;
                        let whole = defrag.add(f, p.time.as_nanos(), &mut |d| {
                            count(Event::Problem(frag_problem(p.number, d)))
                        });
                        if let Some(bytes) = whole {
                            if let Some(packet) = link::reassembled(&key, &bytes) {
                                network.handle_packet(at, &packet, &mut count);
                            }
                        }
                    }
                    Ok(None) => {}
                    Err(link::LinkError::Unsupported(linktype)) => {
                        count(Event::Problem(Problem::UnsupportedLinkType {
                            packet: p.number,
                            linktype,
                        }))
                    }
                    Err(link::LinkError::Malformed(reason)) => {
                        count(Event::Problem(Problem::BadPacket {
                            packet: p.number,
                            reason,
                        }))
                    }
                }
            }
            Item::Problem(problem) => count(Event::Problem(problem)),
        });
    }

    /// The input ended: reports an incomplete last record and flushes every connection.
    pub fn handle_eof(&mut self, out: &mut impl FnMut(Event<'_>)) {
        let Decoder {
            reader,
            defrag,
            network,
            counters,
            last,
        } = self;
        let mut count = |e: Event<'_>| {
            match &e {
                Event::Message(_) => counters.messages += 1,
                Event::Problem(_) => counters.problems += 1,
            }
            out(e)
        };
        reader.handle_eof(&mut |item| {
            if let Item::Problem(p) = item {
                count(Event::Problem(p))
            }
        });
        let packet = last.packet;
        defrag.finish(&mut |d| count(Event::Problem(frag_problem(packet, d))));
        network.finish(*last, &mut count);
    }
}

/// The problem to report for dropped fragments.
fn frag_problem(packet: u64, d: FragDrop) -> Problem {
    let reason = match d {
        FragDrop::Invalid(r) => format!("IP fragments do not fit together ({r}); dropped"),
        FragDrop::TimedOut(k) => format!(
            "IP datagram {} from {} to {} not complete in time; its fragments are dropped",
            k.id, k.src, k.dst
        ),
        FragDrop::Cap(k) => format!(
            "IP reassembly cap reached; datagram {} from {} to {} dropped",
            k.id, k.src, k.dst
        ),
    };
    Problem::Fragments { packet, reason }
}
