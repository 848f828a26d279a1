//! IP fragments in a capture: a search datagram naming many PVs, fragmented over IPv4 and over
//! IPv6 (fragments out of order), is decoded as if it had come whole; a datagram missing a
//! fragment is reported once its time runs out, and nothing of it is decoded. The IP and
//! fragment headers are written here by hand, independently of the code under test.

mod shark_support;

use std::net::{IpAddr, SocketAddr};

use caproto::capture::{fragments, Config, Problem};
use shark_support::*;

/// A search datagram (UDP header included) from `src` to `dst` naming `n` PVs.
fn search_datagram(src: SocketAddr, dst: SocketAddr, n: u32) -> (Vec<u8>, Vec<String>) {
    let names: Vec<String> = (0..n)
        .map(|i| format!("BL7:ring:sector{i:03}:current"))
        .collect();
    let mut ca_bytes = ca(0, 0, 13, 0, 0, &[]);
    for (i, name) in names.iter().enumerate() {
        ca_bytes.extend(search_req(name, i as u32 + 1));
    }
    let mut d = Vec::new();
    d.extend_from_slice(&src.port().to_be_bytes());
    d.extend_from_slice(&dst.port().to_be_bytes());
    d.extend_from_slice(&((8 + ca_bytes.len()) as u16).to_be_bytes());
    d.extend_from_slice(&[0, 0]);
    d.extend_from_slice(&ca_bytes);
    (d, names)
}

/// IPv4 fragments of `datagram` (protocol UDP), `mtu_payload` bytes each (a multiple of 8).
fn ipv4_fragments(src: IpAddr, dst: IpAddr, id: u16, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (IpAddr::V4(s), IpAddr::V4(d)) = (src, dst) else {
        panic!()
    };
    datagram
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = (i * size / 8) as u16;
            let more = (i + 1) * size < datagram.len();
            let flags_offset = offset | if more { 0x2000 } else { 0 };
            let mut v = vec![0x45, 0];
            v.extend_from_slice(&((20 + chunk.len()) as u16).to_be_bytes());
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(&flags_offset.to_be_bytes());
            v.extend_from_slice(&[64, 17, 0, 0]);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            v.extend_from_slice(chunk);
            v
        })
        .collect()
}

/// IPv6 fragments of `datagram` (next header UDP) with a fragment extension header.
fn ipv6_fragments(src: IpAddr, dst: IpAddr, id: u32, datagram: &[u8], size: usize) -> Vec<Vec<u8>> {
    let (IpAddr::V6(s), IpAddr::V6(d)) = (src, dst) else {
        panic!()
    };
    datagram
        .chunks(size)
        .enumerate()
        .map(|(i, chunk)| {
            let offset = (i * size / 8) as u16;
            let more = (i + 1) * size < datagram.len();
            let mut v = vec![0x60, 0, 0, 0];
            v.extend_from_slice(&((8 + chunk.len()) as u16).to_be_bytes());
            v.push(44); // fragment header follows
            v.push(64);
            v.extend_from_slice(&s.octets());
            v.extend_from_slice(&d.octets());
            v.push(17); // then UDP
            v.push(0);
            v.extend_from_slice(&((offset << 3) | u16::from(more)).to_be_bytes());
            v.extend_from_slice(&id.to_be_bytes());
            v.extend_from_slice(chunk);
            v
        })
        .collect()
}

/// A capture of `ips`, 10 µs apart, plus `pause` µs before the last one.
fn capture_of(ips: &[Vec<u8>], pause: u64) -> Vec<u8> {
    let pkts: Vec<Pkt> = ips
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let extra = if i + 1 == ips.len() { pause } else { 0 };
            Pkt::new(
                1_700_000_000_000_000 + i as u64 * 10 + extra,
                Link::Ethernet.frame(p),
            )
        })
        .collect();
    pcap(1, &pkts, false, false)
}

#[test]
fn fragmented_search_datagrams_decode_over_ipv4_and_ipv6() {
    for (client, server) in [
        ("127.0.0.1:45000", "127.0.0.1:5064"),
        ("[::1]:45000", "[::1]:5064"),
    ] {
        let (c, s) = (addr(client), addr(server));
        let (datagram, names) = search_datagram(c, s, 80);
        assert!(datagram.len() > 3000);
        let mut frags = if c.is_ipv4() {
            ipv4_fragments(c.ip(), s.ip(), 4242, &datagram, 1480)
        } else {
            ipv6_fragments(c.ip(), s.ip(), 0x0102_0304, &datagram, 1448)
        };
        assert!(frags.len() >= 3);
        // The last fragment first, as a capture may see them.
        frags.rotate_right(1);
        let (recs, problems) = decode(&capture_of(&frags, 0), Config::default());
        assert!(problems.is_empty(), "{client}: {problems:?}");
        let searched: Vec<&str> = recs
            .iter()
            .filter(|r| r.command == "SearchRequest")
            .map(|r| r.pv.as_str())
            .collect();
        assert_eq!(searched, names, "{client}");
        assert!(recs
            .iter()
            .all(|r| r.from == c && r.to == s && r.role == "client"));
        // Every record names the packet that completed the datagram.
        assert!(recs.iter().all(|r| r.packet == frags.len() as u64));
    }
}

#[test]
fn a_datagram_missing_a_fragment_times_out_and_decodes_nothing() {
    let (c, s) = (addr("127.0.0.1:45000"), addr("127.0.0.1:5064"));
    let (datagram, _) = search_datagram(c, s, 80);
    let mut frags = ipv4_fragments(c.ip(), s.ip(), 7, &datagram, 1480);
    frags.remove(1);
    // A later, whole datagram, after the reassembly timeout.
    frags.push(udp(c, s, &search_req("after", 1)));
    let config = Config {
        fragments: fragments::Limits {
            timeout: 1_000_000_000,
            ..fragments::Limits::default()
        },
        ..Config::default()
    };
    let (recs, problems) = decode(&capture_of(&frags, 2_000_000), config);
    assert_eq!(
        names(&recs),
        [("SearchRequest".to_owned(), "after".to_owned())]
    );
    assert!(
        matches!(&problems[..], [Problem::Fragments { reason, .. }] if reason.contains("not complete in time")),
        "{problems:?}"
    );
}
