//! From a captured frame to addresses and a TCP or UDP payload.
//!
//! Ethernet (with VLAN tags), IPv4, IPv6, TCP and UDP are parsed by `etherparse`, in its lax
//! mode so that a packet cut short by the snapshot length still yields its addresses, sequence
//! number and the bytes that were captured (the rest is reported as missing). The link headers
//! etherparse does not cover in lax mode are fixed-size and stripped here: Linux cooked
//! capture v1 (SLL, 16 bytes) and v2 (SLL2, 20 bytes, what `tcpdump -i any` writes today),
//! BSD loopback (NULL, host byte order; LOOP, network order) and raw IP.

use std::net::{IpAddr, SocketAddr};

use etherparse::{
    EtherType, Ipv6ExtensionSlice, LaxNetSlice, LaxSlicedPacket, LenSource, TcpSlice,
    TransportSlice, UdpSlice,
};

use super::fragments::{FragKey, Fragment};

/// `LINKTYPE_*` values read here.
pub mod linktype {
    /// BSD loopback, address family in host byte order.
    pub const NULL: i32 = 0;
    /// Ethernet II (also what Linux `lo` captures are).
    pub const ETHERNET: i32 = 1;
    /// Raw IP as some systems number it.
    pub const RAW_OLD: i32 = 12;
    /// Raw IP as OpenBSD numbers it.
    pub const RAW_OPENBSD: i32 = 14;
    /// Raw IPv4 or IPv6.
    pub const RAW: i32 = 101;
    /// OpenBSD loopback, address family in network byte order.
    pub const LOOP: i32 = 108;
    /// Linux cooked capture v1.
    pub const LINUX_SLL: i32 = 113;
    /// Raw IPv4.
    pub const IPV4: i32 = 228;
    /// Raw IPv6.
    pub const IPV6: i32 = 229;
    /// Linux cooked capture v2.
    pub const LINUX_SLL2: i32 = 276;
}

/// The transport part of a packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport<'a> {
    /// A TCP segment.
    Tcp {
        /// Sequence number of the first payload byte (of the SYN itself for a SYN).
        seq: u32,
        /// SYN flag.
        syn: bool,
        /// ACK flag.
        ack: bool,
        /// FIN flag.
        fin: bool,
        /// RST flag.
        rst: bool,
        /// Captured payload.
        payload: &'a [u8],
        /// Payload bytes on the wire but not in the capture.
        missing: usize,
    },
    /// A UDP datagram.
    Udp {
        /// Captured payload.
        payload: &'a [u8],
        /// Payload bytes on the wire but not in the capture.
        missing: usize,
    },
}

/// Addresses and transport payload of one packet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packet<'a> {
    /// Sender.
    pub src: SocketAddr,
    /// Receiver.
    pub dst: SocketAddr,
    /// TCP or UDP.
    pub transport: Transport<'a>,
}

/// Why a frame yields no packet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LinkError {
    /// Not a link type we read.
    Unsupported(i32),
    /// Headers that do not parse.
    Malformed(String),
}

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LinkError::Unsupported(linktype) => write!(f, "unsupported link type {linktype}"),
            LinkError::Malformed(reason) => write!(f, "malformed frame: {reason}"),
        }
    }
}

impl std::error::Error for LinkError {}

/// What one frame carries.
#[derive(Debug, Clone, Copy)]
pub enum Frame<'a> {
    /// A whole TCP segment or UDP datagram.
    Packet(Packet<'a>),
    /// A fragment of an IP datagram (for [`super::fragments::Defrag`]).
    Fragment(Fragment<'a>),
}

/// Parses one frame of link type `linktype`. `Ok(None)` for frames that carry no TCP or UDP
/// (ARP, ICMP).
pub fn parse(linktype: i32, frame: &[u8]) -> Result<Option<Frame<'_>>, LinkError> {
    let sliced = match linktype {
        linktype::ETHERNET => LaxSlicedPacket::from_ethernet(frame)
            .map_err(|e| LinkError::Malformed(e.to_string()))?,
        linktype::LINUX_SLL => {
            let b = frame
                .get(..16)
                .ok_or_else(|| LinkError::Malformed("short Linux cooked header".into()))?;
            let proto = u16::from_be_bytes([b[14], b[15]]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), &frame[16..])
        }
        linktype::LINUX_SLL2 => {
            let b = frame
                .get(..20)
                .ok_or_else(|| LinkError::Malformed("short Linux cooked v2 header".into()))?;
            let proto = u16::from_be_bytes([b[0], b[1]]);
            LaxSlicedPacket::from_ether_type(EtherType(proto), &frame[20..])
        }
        linktype::NULL | linktype::LOOP => {
            if frame.len() < 4 {
                return Err(LinkError::Malformed("short loopback header".into()));
            }
            // The family is 2 (IPv4) or 24/28/30 (IPv6 on the BSDs); the IP version nibble
            // says the same thing whatever the byte order, so trust that.
            from_ip(&frame[4..])?
        }
        linktype::RAW
        | linktype::RAW_OLD
        | linktype::RAW_OPENBSD
        | linktype::IPV4
        | linktype::IPV6 => from_ip(frame)?,
        other => return Err(LinkError::Unsupported(other)),
    };
    Ok(frame_of(&sliced))
}

/// The TCP segment or UDP datagram of a reassembled datagram's transport bytes.
pub fn reassembled<'a>(key: &FragKey, bytes: &'a [u8]) -> Option<Packet<'a>> {
    match key.proto {
        6 => {
            let tcp = TcpSlice::from_slice(bytes).ok()?;
            Some(tcp_packet(key.src, key.dst, &tcp, 0))
        }
        17 => {
            let udp = UdpSlice::from_slice_lax(bytes).ok()?;
            Some(udp_packet(key.src, key.dst, &udp))
        }
        _ => None,
    }
}

/// A TCP segment from `src` to `dst` (addresses), `missing` bytes short of what the IP
/// header announced.
fn tcp_packet<'a>(src: IpAddr, dst: IpAddr, tcp: &TcpSlice<'a>, missing: usize) -> Packet<'a> {
    Packet {
        src: SocketAddr::new(src, tcp.source_port()),
        dst: SocketAddr::new(dst, tcp.destination_port()),
        transport: Transport::Tcp {
            seq: tcp.sequence_number(),
            syn: tcp.syn(),
            ack: tcp.ack(),
            fin: tcp.fin(),
            rst: tcp.rst(),
            payload: tcp.payload(),
            missing,
        },
    }
}

/// A UDP datagram from `src` to `dst`; `missing` is what its own length field announced
/// beyond the bytes captured.
fn udp_packet<'a>(src: IpAddr, dst: IpAddr, udp: &UdpSlice<'a>) -> Packet<'a> {
    let payload = udp.payload();
    let declared = usize::from(udp.length()).saturating_sub(8);
    Packet {
        src: SocketAddr::new(src, udp.source_port()),
        dst: SocketAddr::new(dst, udp.destination_port()),
        transport: Transport::Udp {
            payload,
            missing: declared.saturating_sub(payload.len()),
        },
    }
}

/// The fragment a fragmented IP packet carries, if it carries TCP or UDP.
fn fragment_of<'a>(net: &LaxNetSlice<'a>) -> Option<Fragment<'a>> {
    let (src, dst, id, offset, more, payload) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                u32::from(h.identification()),
                h.fragments_offset().value(),
                h.more_fragments(),
                v4.payload(),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let frag = v6.extensions().clone().into_iter().find_map(|e| match e {
                Ipv6ExtensionSlice::Fragment(f) => Some(f),
                _ => None,
            })?;
            let h = v6.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                frag.identification(),
                frag.fragment_offset().value(),
                frag.more_fragments(),
                v6.payload(),
            )
        }
        _ => return None,
    };
    let proto = payload.ip_number.0;
    if payload.incomplete || !(proto == 6 || proto == 17) {
        return None; // a fragment cut by the snapshot length cannot complete a datagram
    }
    Some(Fragment {
        key: FragKey {
            src,
            dst,
            id,
            proto,
        },
        offset,
        more,
        payload: payload.payload,
    })
}

fn frame_of<'a>(p: &LaxSlicedPacket<'a>) -> Option<Frame<'a>> {
    let net = p.net.as_ref()?;
    let fragmented = match net {
        LaxNetSlice::Ipv4(v4) => v4.payload().fragmented,
        LaxNetSlice::Ipv6(v6) => v6.payload().fragmented,
        _ => false,
    };
    if fragmented {
        return fragment_of(net).map(Frame::Fragment);
    }
    packet_of(p).map(Frame::Packet)
}

fn from_ip(data: &[u8]) -> Result<LaxSlicedPacket<'_>, LinkError> {
    LaxSlicedPacket::from_ip(data).map_err(|e| LinkError::Malformed(e.to_string()))
}

fn packet_of<'a>(p: &LaxSlicedPacket<'a>) -> Option<Packet<'a>> {
    let net = p.net.as_ref()?;
    let (src, dst, payload) = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                v4.payload(),
            )
        }
        LaxNetSlice::Ipv6(v6) => {
            let h = v6.header();
            (
                IpAddr::from(h.source_addr()),
                IpAddr::from(h.destination_addr()),
                v6.payload(),
            )
        }
        _ => return None,
    };
    if payload.fragmented {
        return None;
    }
    // Payload bytes the IP header announces beyond those captured.
    let declared = match net {
        LaxNetSlice::Ipv4(v4) => {
            let h = v4.header();
            usize::from(h.total_len()).saturating_sub(usize::from(h.ihl()) * 4)
        }
        LaxNetSlice::Ipv6(v6) => {
            let ext = v6.extensions().slice().len();
            usize::from(v6.header().payload_length()).saturating_sub(ext)
        }
        _ => 0,
    };
    let ip_missing = if payload.incomplete || payload.len_source == LenSource::Slice {
        declared.saturating_sub(payload.payload.len())
    } else {
        0
    };
    match p.transport.as_ref()? {
        TransportSlice::Tcp(tcp) => Some(tcp_packet(src, dst, tcp, ip_missing)),
        TransportSlice::Udp(udp) => Some(udp_packet(src, dst, udp)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refusals_say_why_as_errors() {
        let e = parse(147, &[0; 64]).unwrap_err();
        assert_eq!(e, LinkError::Unsupported(147));
        assert_eq!(e.to_string(), "unsupported link type 147");
        let short = parse(linktype::LINUX_SLL, &[0; 3]).unwrap_err();
        assert_eq!(
            short.to_string(),
            "malformed frame: short Linux cooked header"
        );
        let boxed: Box<dyn std::error::Error> = Box::new(short);
        assert!(boxed.source().is_none());
    }
}
