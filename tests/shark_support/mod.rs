//! Hand-built captures for the capture decoder's tests: CA messages (encoded by hand from
//! headers, not by the code under test) inside TCP/UDP inside IPv4/IPv6 inside each link type,
//! written as legacy pcap (either byte order, micro- or nanosecond) or pcapng.
#![allow(dead_code)]

use std::net::{IpAddr, SocketAddr};

use caproto::capture::{Config, Decoder, Event, Problem};

/// One CA message: a 16-byte header (or the 24-byte extended form) and a payload padded to 8.
pub fn ca(cmd: u16, dtype: u16, count: u32, p1: u32, p2: u32, payload: &[u8]) -> Vec<u8> {
    let mut padded = payload.to_vec();
    while !padded.len().is_multiple_of(8) {
        padded.push(0);
    }
    let size = padded.len() as u32;
    let mut v = Vec::new();
    v.extend_from_slice(&cmd.to_be_bytes());
    if size >= 0xFFFF || count >= 0xFFFF {
        v.extend_from_slice(&0xFFFFu16.to_be_bytes());
        v.extend_from_slice(&dtype.to_be_bytes());
        v.extend_from_slice(&0u16.to_be_bytes());
        v.extend_from_slice(&p1.to_be_bytes());
        v.extend_from_slice(&p2.to_be_bytes());
        v.extend_from_slice(&size.to_be_bytes());
        v.extend_from_slice(&count.to_be_bytes());
    } else {
        v.extend_from_slice(&(size as u16).to_be_bytes());
        v.extend_from_slice(&dtype.to_be_bytes());
        v.extend_from_slice(&(count as u16).to_be_bytes());
        v.extend_from_slice(&p1.to_be_bytes());
        v.extend_from_slice(&p2.to_be_bytes());
    }
    v.extend_from_slice(&padded);
    v
}

fn name(n: &str) -> Vec<u8> {
    let mut v = n.as_bytes().to_vec();
    v.push(0);
    v
}

/// VERSION request (priority 0, minor 13).
pub fn version() -> Vec<u8> {
    ca(0, 0, 13, 0, 0, &[])
}
/// CREATE_CHAN request for `pv` with `cid`.
pub fn create_req(pv: &str, cid: u32) -> Vec<u8> {
    ca(18, 0, 0, cid, 13, &name(pv))
}
/// CREATE_CHAN response binding `cid` to `sid` (DOUBLE, 1 element).
pub fn create_resp(cid: u32, sid: u32) -> Vec<u8> {
    ca(18, 6, 1, cid, sid, &[])
}
/// READ_NOTIFY request of DOUBLE.
pub fn read_req(sid: u32, ioid: u32) -> Vec<u8> {
    ca(15, 6, 1, sid, ioid, &[])
}
/// READ_NOTIFY response with a DOUBLE value.
pub fn read_resp(ioid: u32, value: f64) -> Vec<u8> {
    ca(15, 6, 1, 1, ioid, &value.to_be_bytes())
}
/// EVENT_ADD request (mask VALUE|ALARM).
pub fn event_req(sid: u32, subid: u32) -> Vec<u8> {
    let mut p = vec![0u8; 12];
    p.extend_from_slice(&5u16.to_be_bytes());
    p.extend_from_slice(&[0, 0]);
    ca(1, 6, 1, sid, subid, &p)
}
/// EVENT_ADD response (an update).
pub fn event_resp(subid: u32, value: f64) -> Vec<u8> {
    ca(1, 6, 1, 1, subid, &value.to_be_bytes())
}
/// SEARCH request.
pub fn search_req(pv: &str, cid: u32) -> Vec<u8> {
    ca(6, 5, 13, cid, cid, &name(pv))
}
/// SEARCH reply from a server on `port`.
pub fn search_resp(port: u16, cid: u32) -> Vec<u8> {
    ca(6, port, 0, u32::MAX, cid, &13u16.to_be_bytes())
}

/// TCP flags.
pub const SYN: u8 = 0x02;
pub const ACK: u8 = 0x10;
pub const FIN: u8 = 0x01;
pub const RST: u8 = 0x04;
pub const PSH: u8 = 0x08;

fn tcp_header(src: u16, dst: u16, seq: u32, flags: u8) -> Vec<u8> {
    let mut t = Vec::new();
    t.extend_from_slice(&src.to_be_bytes());
    t.extend_from_slice(&dst.to_be_bytes());
    t.extend_from_slice(&seq.to_be_bytes());
    t.extend_from_slice(&0u32.to_be_bytes()); // ack number
    t.push(5 << 4); // data offset: 20 bytes
    t.push(flags);
    t.extend_from_slice(&65535u16.to_be_bytes());
    t.extend_from_slice(&[0, 0, 0, 0]); // checksum, urgent
    t
}

fn udp_header(src: u16, dst: u16, len: usize) -> Vec<u8> {
    let mut u = Vec::new();
    u.extend_from_slice(&src.to_be_bytes());
    u.extend_from_slice(&dst.to_be_bytes());
    u.extend_from_slice(&((8 + len) as u16).to_be_bytes());
    u.extend_from_slice(&[0, 0]);
    u
}

fn ip(src: IpAddr, dst: IpAddr, proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut v = Vec::new();
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            v.push(0x45);
            v.push(0);
            v.extend_from_slice(&((20 + l4.len()) as u16).to_be_bytes());
            v.extend_from_slice(&[0, 0, 0x40, 0]); // id, don't fragment
            v.push(64);
            v.push(proto);
            v.extend_from_slice(&[0, 0]);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            v.extend_from_slice(&[0x60, 0, 0, 0]);
            v.extend_from_slice(&(l4.len() as u16).to_be_bytes());
            v.push(proto);
            v.push(64);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
        }
        _ => panic!("mixed address families"),
    }
    v.extend_from_slice(l4);
    v
}

/// An IP packet with a TCP segment.
pub fn tcp(src: SocketAddr, dst: SocketAddr, seq: u32, flags: u8, payload: &[u8]) -> Vec<u8> {
    let mut l4 = tcp_header(src.port(), dst.port(), seq, flags);
    l4.extend_from_slice(payload);
    ip(src.ip(), dst.ip(), 6, &l4)
}

/// An IP packet with a UDP datagram.
pub fn udp(src: SocketAddr, dst: SocketAddr, payload: &[u8]) -> Vec<u8> {
    let mut l4 = udp_header(src.port(), dst.port(), payload.len());
    l4.extend_from_slice(payload);
    ip(src.ip(), dst.ip(), 17, &l4)
}

fn ethertype(ip: &[u8]) -> [u8; 2] {
    if ip[0] >> 4 == 6 {
        [0x86, 0xDD]
    } else {
        [0x08, 0x00]
    }
}

/// Link layers a test can wrap packets in, with their `LINKTYPE_*`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    Ethernet,
    EthernetVlan,
    Sll,
    Sll2,
    Null,
    Loop,
    Raw,
    Ipv4,
    Ipv6,
}

impl Link {
    pub fn linktype(self) -> u32 {
        match self {
            Link::Ethernet | Link::EthernetVlan => 1,
            Link::Sll => 113,
            Link::Sll2 => 276,
            Link::Null => 0,
            Link::Loop => 108,
            Link::Raw => 101,
            Link::Ipv4 => 228,
            Link::Ipv6 => 229,
        }
    }

    /// Wraps an IP packet in this link layer's header.
    pub fn frame(self, ip: &[u8]) -> Vec<u8> {
        let et = ethertype(ip);
        let v6 = ip[0] >> 4 == 6;
        let mut f = Vec::new();
        match self {
            Link::Ethernet => {
                f.extend_from_slice(&[0; 12]);
                f.extend_from_slice(&et);
            }
            Link::EthernetVlan => {
                f.extend_from_slice(&[0; 12]);
                f.extend_from_slice(&[0x81, 0x00, 0x00, 0x2A]); // VLAN 42
                f.extend_from_slice(&et);
            }
            Link::Sll => {
                f.extend_from_slice(&[0, 0, 3, 4, 0, 6]); // packet type, ARPHRD, addr len
                f.extend_from_slice(&[0; 8]);
                f.extend_from_slice(&et);
            }
            Link::Sll2 => {
                f.extend_from_slice(&et);
                f.extend_from_slice(&[0, 0]); // reserved
                f.extend_from_slice(&1u32.to_be_bytes()); // interface index
                f.extend_from_slice(&[3, 4, 0, 6]); // ARPHRD, packet type, addr len
                f.extend_from_slice(&[0; 8]);
            }
            Link::Null => f.extend_from_slice(&(if v6 { 30u32 } else { 2 }).to_le_bytes()),
            Link::Loop => f.extend_from_slice(&(if v6 { 30u32 } else { 2 }).to_be_bytes()),
            Link::Raw | Link::Ipv4 | Link::Ipv6 => {}
        }
        f.extend_from_slice(ip);
        f
    }
}

/// One packet of a capture: time in microseconds, captured bytes, length on the wire.
#[derive(Clone, Debug)]
pub struct Pkt {
    pub micros: u64,
    pub data: Vec<u8>,
    pub orig_len: u32,
}

impl Pkt {
    pub fn new(micros: u64, data: Vec<u8>) -> Pkt {
        let orig_len = data.len() as u32;
        Pkt {
            micros,
            data,
            orig_len,
        }
    }
}

/// Legacy pcap bytes.
pub fn pcap(linktype: u32, pkts: &[Pkt], big_endian: bool, nanos: bool) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    out.extend_from_slice(&u32b(if nanos { 0xa1b2_3c4d } else { 0xa1b2_c3d4 }));
    out.extend_from_slice(&u16b(2));
    out.extend_from_slice(&u16b(4));
    out.extend_from_slice(&u32b(0));
    out.extend_from_slice(&u32b(0));
    out.extend_from_slice(&u32b(262_144));
    out.extend_from_slice(&u32b(linktype));
    for p in pkts {
        out.extend_from_slice(&u32b((p.micros / 1_000_000) as u32));
        let frac = p.micros % 1_000_000;
        out.extend_from_slice(&u32b(if nanos { frac * 1000 } else { frac } as u32));
        out.extend_from_slice(&u32b(p.data.len() as u32));
        out.extend_from_slice(&u32b(p.orig_len));
        out.extend_from_slice(&p.data);
    }
    out
}

/// pcapng bytes: a section header, one interface, enhanced packet blocks.
pub fn pcapng(linktype: u32, pkts: &[Pkt], big_endian: bool) -> Vec<u8> {
    let u32b = |v: u32| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let u16b = |v: u16| {
        if big_endian {
            v.to_be_bytes()
        } else {
            v.to_le_bytes()
        }
    };
    let mut out = Vec::new();
    let block = |out: &mut Vec<u8>, kind: u32, body: &[u8]| {
        let len = 12 + body.len() as u32;
        out.extend_from_slice(&u32b(kind));
        out.extend_from_slice(&u32b(len));
        out.extend_from_slice(body);
        out.extend_from_slice(&u32b(len));
    };
    let mut shb = Vec::new();
    shb.extend_from_slice(&u32b(0x1A2B_3C4D));
    shb.extend_from_slice(&u16b(1));
    shb.extend_from_slice(&u16b(0));
    shb.extend_from_slice(&[0xFF; 8]); // section length unknown
    block(&mut out, 0x0A0D_0D0A, &shb);
    let mut idb = Vec::new();
    idb.extend_from_slice(&u16b(linktype as u16));
    idb.extend_from_slice(&u16b(0));
    idb.extend_from_slice(&u32b(262_144));
    block(&mut out, 1, &idb);
    for p in pkts {
        let mut epb = Vec::new();
        epb.extend_from_slice(&u32b(0));
        epb.extend_from_slice(&u32b((p.micros >> 32) as u32));
        epb.extend_from_slice(&u32b(p.micros as u32));
        epb.extend_from_slice(&u32b(p.data.len() as u32));
        epb.extend_from_slice(&u32b(p.orig_len));
        epb.extend_from_slice(&p.data);
        while !epb.len().is_multiple_of(4) {
            epb.push(0);
        }
        block(&mut out, 6, &epb);
    }
    out
}

/// One decoded message, reduced to what tests compare.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rec {
    pub packet: u64,
    pub from: SocketAddr,
    pub to: SocketAddr,
    pub role: &'static str,
    pub command: String,
    pub pv: String,
    pub bytes: usize,
    pub micros: u64,
}

/// Decodes `capture` fed in chunks of `chunk` bytes.
pub fn decode_chunked(capture: &[u8], config: Config, chunk: usize) -> (Vec<Rec>, Vec<Problem>) {
    let mut d = Decoder::new(config);
    let mut recs = Vec::new();
    let mut problems = Vec::new();
    let mut on = |e: Event<'_>| match e {
        Event::Message(m) => recs.push(Rec {
            packet: m.packet,
            from: m.from,
            to: m.to,
            role: m.sender.as_str(),
            command: m
                .command()
                .map_or_else(|e| format!("Undecodable({e})"), |c| c.name().to_owned()),
            pv: m.pv.to_string(),
            bytes: m.bytes.len(),
            micros: m.time.secs as u64 * 1_000_000 + u64::from(m.time.nanos / 1000),
        }),
        Event::Problem(p) => problems.push(p),
    };
    for c in capture.chunks(chunk.max(1)) {
        d.handle_bytes(c, &mut on);
    }
    d.handle_eof(&mut on);
    (recs, problems)
}

/// Decodes a whole capture in one go.
pub fn decode(capture: &[u8], config: Config) -> (Vec<Rec>, Vec<Problem>) {
    decode_chunked(capture, config, capture.len())
}

/// `(command, pv)` pairs of decoded records, for compact assertions.
pub fn names(recs: &[Rec]) -> Vec<(String, String)> {
    recs.iter()
        .map(|r| (r.command.clone(), r.pv.clone()))
        .collect()
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}
