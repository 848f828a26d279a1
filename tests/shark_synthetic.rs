//! The capture decoder on hand-built captures: every link type and file format, each TCP
//! reassembly case, roles and names, and bad input. Each capture's CA bytes are written by
//! `shark_support` from raw headers, independently of the code under test.

mod shark_support;

use caproto::capture::{Config, Problem};
use shark_support::*;

const C: &str = "127.0.0.1:40001";
const S: &str = "127.0.0.1:5064";

/// (role, command, pv) of one expected record.
type Expected = (&'static str, &'static str, &'static str);

/// One circuit's conversation in four parts (client, server, client, server), and the
/// records it must decode to.
fn conversation() -> (Vec<Vec<u8>>, Vec<Expected>) {
    let parts = vec![
        [version(), create_req("a:x", 1), create_req("b:y", 2)].concat(),
        [
            ca(0, 0, 13, 0, 0, &[]),
            create_resp(1, 100),
            create_resp(2, 200),
        ]
        .concat(),
        [read_req(100, 7), event_req(200, 9)].concat(),
        [read_resp(7, 1.5), event_resp(9, 2.5), event_resp(9, 3.5)].concat(),
    ];
    let expected = vec![
        ("client", "VersionRequest", ""),
        ("client", "CreateChanRequest", "a:x"),
        ("client", "CreateChanRequest", "b:y"),
        ("server", "VersionResponse", ""),
        ("server", "CreateChanResponse", "a:x"),
        ("server", "CreateChanResponse", "b:y"),
        ("client", "ReadNotifyRequest", "a:x"),
        ("client", "EventAddRequest", "b:y"),
        ("server", "ReadNotifyResponse", "a:x"),
        ("server", "EventAddResponse", "b:y"),
        ("server", "EventAddResponse", "b:y"),
    ];
    (parts, expected)
}

const CISN: u32 = 0xFFFF_FF00; // wraps inside the conversation
const SISN: u32 = 7_000;

/// IP packets of the conversation: a handshake (if `syn`), then each part cut into segments
/// by `cut`, which returns (offset, length) pieces of a part in the order to send them.
fn packets(
    c: &str,
    s: &str,
    syn: bool,
    cut: &dyn Fn(usize, usize) -> Vec<(usize, usize)>,
) -> Vec<Vec<u8>> {
    let (c, s) = (addr(c), addr(s));
    let (parts, _) = conversation();
    let mut out = Vec::new();
    if syn {
        out.push(tcp(c, s, CISN, SYN, &[]));
        out.push(tcp(s, c, SISN, SYN | ACK, &[]));
        out.push(tcp(c, s, CISN.wrapping_add(1), ACK, &[]));
    }
    let mut offs = [0usize; 2];
    for (i, part) in parts.iter().enumerate() {
        let side = i % 2;
        let (src, dst, isn) = if side == 0 {
            (c, s, CISN)
        } else {
            (s, c, SISN)
        };
        for (o, l) in cut(i, part.len()) {
            let seq = isn.wrapping_add(1).wrapping_add((offs[side] + o) as u32);
            out.push(tcp(src, dst, seq, ACK | PSH, &part[o..o + l]));
        }
        offs[side] += part.len();
    }
    out
}

fn capture(link: Link, ips: &[Vec<u8>]) -> Vec<u8> {
    let pkts: Vec<Pkt> = ips
        .iter()
        .enumerate()
        .map(|(i, p)| Pkt::new(1_700_000_000_000_000 + i as u64 * 1000, link.frame(p)))
        .collect();
    pcap(link.linktype(), &pkts, false, false)
}

fn whole(_: usize, len: usize) -> Vec<(usize, usize)> {
    vec![(0, len)]
}

fn check(recs: &[Rec]) {
    let (_, expected) = conversation();
    let got: Vec<(&str, &str, &str)> = recs
        .iter()
        .map(|r| (r.role, r.command.as_str(), r.pv.as_str()))
        .collect();
    assert_eq!(got, expected);
    for r in recs {
        let client = r.role == "client";
        assert_eq!(r.from, addr(if client { C } else { S }), "{r:?}");
        assert_eq!(r.to, addr(if client { S } else { C }), "{r:?}");
    }
}

#[test]
fn every_link_type_decodes_the_same_conversation() {
    for link in [
        Link::Ethernet,
        Link::EthernetVlan,
        Link::Sll,
        Link::Sll2,
        Link::Null,
        Link::Loop,
        Link::Raw,
        Link::Ipv4,
    ] {
        let (recs, problems) = decode(
            &capture(link, &packets(C, S, true, &whole)),
            Config::default(),
        );
        assert!(problems.is_empty(), "{link:?}: {problems:?}");
        check(&recs);
    }
}

#[test]
fn ipv6_over_ethernet_and_raw() {
    let (c6, s6) = ("[::1]:40001", "[::1]:5064");
    for link in [Link::Ethernet, Link::Ipv6, Link::Sll2] {
        let (recs, problems) = decode(
            &capture(link, &packets(c6, s6, true, &whole)),
            Config::default(),
        );
        assert!(problems.is_empty(), "{link:?}: {problems:?}");
        assert_eq!(recs.len(), 11, "{link:?}");
        assert_eq!(recs[1].pv, "a:x");
        assert_eq!(recs[1].from, addr(c6));
    }
}

#[test]
fn file_formats_and_streaming_chunk_sizes() {
    let ips = packets(C, S, true, &whole);
    let pkts: Vec<Pkt> = ips
        .iter()
        .enumerate()
        .map(|(i, p)| Pkt::new(1_700_000_000_123_456 + i as u64, Link::Ethernet.frame(p)))
        .collect();
    let files = [
        ("pcap le", pcap(1, &pkts, false, false)),
        ("pcap be", pcap(1, &pkts, true, false)),
        ("pcap ns", pcap(1, &pkts, false, true)),
        ("pcapng le", pcapng(1, &pkts, false)),
        ("pcapng be", pcapng(1, &pkts, true)),
    ];
    for (what, bytes) in &files {
        for chunk in [1, 7, 100, 1 << 20] {
            let (recs, problems) = decode_chunked(bytes, Config::default(), chunk);
            assert!(problems.is_empty(), "{what} chunk {chunk}: {problems:?}");
            check(&recs);
            // Timestamps survive every format (first data packet is number 4).
            assert_eq!(recs[0].micros, 1_700_000_000_123_456 + 3, "{what}");
        }
    }
}

#[test]
fn messages_split_across_segments_and_several_per_segment() {
    // Every part cut into 5-byte segments (headers and payloads split everywhere).
    let small = |_: usize, len: usize| -> Vec<(usize, usize)> {
        (0..len).step_by(5).map(|o| (o, 5.min(len - o))).collect()
    };
    let (recs, problems) = decode(
        &capture(Link::Ethernet, &packets(C, S, true, &small)),
        Config::default(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    check(&recs);
}

#[test]
fn out_of_order_retransmitted_and_overlapping_segments() {
    // Each part: second half first, then the first half twice, then an overlapping middle.
    let shuffled = |_: usize, len: usize| -> Vec<(usize, usize)> {
        let h = len / 2;
        vec![(h, len - h), (0, h), (0, h), (h / 2, h)]
    };
    let (recs, problems) = decode(
        &capture(Link::Ethernet, &packets(C, S, true, &shuffled)),
        Config::default(),
    );
    assert!(problems.is_empty(), "{problems:?}");
    check(&recs);
}

#[test]
fn extended_header_across_segments() {
    let big = vec![0x42u8; 70_000];
    let msg = ca(15, 6, 8_750, 1, 7, &big);
    assert_eq!(&msg[2..4], &[0xFF, 0xFF], "must use the 24-byte header");
    let (c, s) = (addr(C), addr(S));
    let mut ips = vec![
        tcp(c, s, 99, SYN, &[]),
        tcp(s, c, 499, SYN | ACK, &[]),
        tcp(c, s, 100, ACK, &[version(), create_req("wave", 1)].concat()),
        tcp(
            s,
            c,
            500,
            ACK,
            &[ca(0, 0, 13, 0, 0, &[]), create_resp(1, 3)].concat(),
        ),
        // The read goes out once the channel is connected, as clients do.
        tcp(c, s, 140, ACK, &read_req(3, 7)),
    ];
    let base = 500 + 32;
    // 20 bytes (inside the extended header), then 1400-byte segments.
    let mut o = 0;
    for len in std::iter::once(20).chain(std::iter::repeat(1400)) {
        if o >= msg.len() {
            break;
        }
        let l = len.min(msg.len() - o);
        ips.push(tcp(s, c, base + o as u32, ACK, &msg[o..o + l]));
        o += l;
    }
    let (recs, problems) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert!(problems.is_empty(), "{problems:?}");
    let last = recs.last().unwrap();
    assert_eq!(
        (last.command.as_str(), last.pv.as_str(), last.bytes),
        ("ReadNotifyResponse", "wave", 24 + 70_000)
    );
}

#[test]
fn capture_started_mid_connection_resynchronises() {
    // No handshake; the first captured client segment starts 5 bytes into a message.
    let late = |part: usize, len: usize| -> Vec<(usize, usize)> {
        if part == 0 {
            vec![(5, len - 5)]
        } else {
            vec![(0, len)]
        }
    };
    let (recs, problems) = decode(
        &capture(Link::Ethernet, &packets(C, S, false, &late)),
        Config::default(),
    );
    // VERSION (16 bytes) is lost; the resync lands on the first CREATE_CHAN.
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::Resynchronised { skipped: 11, .. })),
        "{problems:?}"
    );
    let (_, expected) = conversation();
    assert_eq!(recs.len(), expected.len() - 1);
    assert_eq!(recs[0].command, "CreateChanRequest");
    assert_eq!(recs[0].pv, "a:x");
}

#[test]
fn ids_bound_before_the_capture_are_shown_as_unknown() {
    let (c, s) = (addr(C), addr(S));
    let ips = vec![
        tcp(c, s, 1000, ACK, &read_req(40, 1)),
        tcp(s, c, 9000, ACK, &read_resp(1, 2.0)),
    ];
    let (recs, _) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert_eq!(
        names(&recs),
        [
            ("ReadNotifyRequest".to_owned(), "?sid=40".to_owned()),
            ("ReadNotifyResponse".to_owned(), "?ioid=1".to_owned())
        ]
    );
}

#[test]
fn roles_from_commands_on_unlisted_ports_without_syn() {
    // Neither port is a server port and there is no SYN: CREATE_CHAN with a name
    // tells which side is the client, even though the server has the higher port.
    let (c, s) = ("127.0.0.1:2000", "127.0.0.1:60000");
    let (recs, problems) = decode(
        &capture(Link::Ethernet, &packets(c, s, false, &whole)),
        Config {
            server_ports: vec![5064],
            ..Config::default()
        },
    );
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(recs.len(), 11);
    assert!(recs
        .iter()
        .all(|r| (r.role == "client") == (r.from == addr(c))));
    assert_eq!(recs[4].pv, "a:x");
}

#[test]
fn fin_and_rst_end_the_flow() {
    let (c, s) = (addr(C), addr(S));
    for end in [FIN, RST] {
        let ips = vec![
            tcp(c, s, 99, SYN, &[]),
            tcp(c, s, 100, ACK, &[version(), create_req("p", 1)].concat()),
            tcp(c, s, 132, end | ACK, &[]),
            tcp(s, c, 500, end | ACK, &[]),
            // After the end, a new connection on the same ports starts fresh.
            tcp(c, s, 7000, SYN, &[]),
            tcp(c, s, 7001, ACK, &create_req("q", 1)),
        ];
        let mut d = caproto::capture::Decoder::new(Config::default());
        let bytes = capture(Link::Ethernet, &ips);
        let mut n = 0;
        d.handle_bytes(&bytes, &mut |_| n += 1);
        assert_eq!(n, 3, "end flag {end}");
        assert_eq!(d.open_flows(), 1, "end flag {end}: the first flow is gone");
    }
}

#[test]
fn lost_segment_is_a_gap_then_decoding_resumes() {
    let (c, s) = (addr(C), addr(S));
    let a = [version(), create_req("a", 1)].concat();
    let lost = read_req(9, 1);
    let after = [read_req(9, 2), read_req(9, 3)].concat();
    let ips = vec![
        tcp(c, s, 99, SYN, &[]),
        tcp(c, s, 100, ACK, &a),
        // The server binds sid 9: the requests after the gap name a live channel, which
        // is what lets the framer believe them.
        tcp(s, c, 5000, SYN | ACK, &[]),
        tcp(s, c, 5001, ACK, &create_resp(1, 9)),
        // `lost` never captured.
        tcp(c, s, 100 + (a.len() + lost.len()) as u32, ACK, &after),
    ];
    let (recs, problems) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert_eq!(recs.len(), 5, "{recs:?}");
    assert!(recs[3..].iter().all(|r| r.pv == "a"), "{recs:?}");
    assert!(problems
        .iter()
        .any(|p| matches!(p, Problem::Gap { bytes: 16, .. })));
    // The out-of-order cap turns waiting into a gap without waiting for the end.
    let (recs, problems) = decode(
        &capture(Link::Ethernet, &ips),
        Config {
            max_flow_buffer: 8,
            ..Config::default()
        },
    );
    assert_eq!(recs.len(), 5);
    assert!(problems
        .iter()
        .any(|p| matches!(p, Problem::BufferCap { cap: 8, .. })));
}

#[test]
fn udp_search_beacon_and_repeater_messages() {
    let cl = addr("127.0.0.1:45000");
    let srv = addr("127.0.0.1:5064");
    let rep = addr("127.0.0.1:5065");
    let beacon = ca(13, 13, 5064, 7, 0, &[]);
    let ips = vec![
        udp(
            cl,
            srv,
            &[
                ca(0, 1, 13, 1, 0, &[]),
                search_req("a:x", 5),
                search_req("nobody", 6),
            ]
            .concat(),
        ),
        udp(
            srv,
            cl,
            &[ca(0, 1, 13, 1, 0, &[]), search_resp(5064, 5)].concat(),
        ),
        udp(addr("127.0.0.1:39999"), rep, &beacon),
        udp(cl, rep, &ca(24, 0, 0, 0, 0x7F00_0001, &[])),
        udp(rep, cl, &ca(17, 0, 0, 0, 0x7F00_0001, &[])),
        udp(rep, cl, &beacon),
    ];
    let (recs, problems) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert!(problems.is_empty(), "{problems:?}");
    let got: Vec<(&str, &str, &str)> = recs
        .iter()
        .map(|r| (r.role, r.command.as_str(), r.pv.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("client", "VersionRequest", ""),
            ("client", "SearchRequest", "a:x"),
            ("client", "SearchRequest", "nobody"),
            ("server", "VersionResponse", ""),
            ("server", "SearchResponse", "a:x"),
            ("server", "Beacon", ""),
            ("client", "RepeaterRegisterRequest", ""),
            ("server", "RepeaterConfirmResponse", ""),
            ("server", "Beacon", ""),
        ]
    );
    // A search reply is a response from its content, on ports nobody configured.
    let (a, b) = (addr("127.0.0.1:7000"), addr("127.0.0.1:7001"));
    let ips = vec![
        udp(a, b, &search_req("z", 1)),
        udp(b, a, &search_resp(7001, 1)),
    ];
    let (recs, _) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert_eq!(
        names(&recs),
        [
            ("SearchRequest".to_owned(), "z".to_owned()),
            ("SearchResponse".to_owned(), "z".to_owned())
        ]
    );
    assert_eq!(recs[1].role, "server");
}

#[test]
fn truncated_capture_reports_the_packet_and_keeps_what_came_before() {
    let bytes = capture(Link::Ethernet, &packets(C, S, true, &whole));
    let cut = &bytes[..bytes.len() - 10];
    let (recs, problems) = decode(cut, Config::default());
    assert_eq!(recs.len(), 8, "the last packet (3 messages) is lost");
    assert!(
        matches!(problems[..], [Problem::TruncatedCapture { packet: 7, .. }]),
        "{problems:?}"
    );
}

#[test]
fn corrupt_record_is_skipped_and_the_rest_decoded() {
    let ips = packets(C, S, true, &whole);
    let good = capture(Link::Ethernet, &ips);
    // Overwrite packet 5's caplen (record header after 24 + 4 records) with garbage.
    let mut off = 24;
    for _ in 0..4 {
        let caplen = u32::from_le_bytes(good[off + 8..off + 12].try_into().unwrap()) as usize;
        off += 16 + caplen;
    }
    let mut bad = good.clone();
    bad[off + 8..off + 12].copy_from_slice(&0x7FFF_FFF0u32.to_le_bytes());
    let (recs, problems) = decode(&bad, Config::default());
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::CorruptRecord { packet: 5, .. })),
        "{problems:?}"
    );
    // Packet 5 (server's first part) is lost; the client's parts and the last server
    // part still decode (the server stream reports a gap and resynchronises).
    assert!(
        recs.iter().filter(|r| r.role == "client").count() == 5,
        "{recs:?}"
    );
    assert!(recs.iter().any(|r| r.command == "EventAddResponse"));
}

#[test]
fn corrupt_pcapng_block_is_skipped() {
    let ips = packets(C, S, true, &whole);
    let pkts: Vec<Pkt> = ips
        .iter()
        .map(|p| Pkt::new(1_000, Link::Ethernet.frame(p)))
        .collect();
    let mut bytes = pcapng(1, &pkts, false);
    // The 6th block (4th packet, the client's first data) gets a bogus length.
    let mut off = 0;
    for _ in 0..5 {
        off += u32::from_le_bytes(bytes[off + 4..off + 8].try_into().unwrap()) as usize;
    }
    bytes[off + 4..off + 8].copy_from_slice(&0xFFFF_FFF0u32.to_le_bytes());
    let (recs, problems) = decode(&bytes, Config::default());
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::CorruptRecord { packet: 4, .. })),
        "{problems:?}"
    );
    assert!(recs.len() >= 6, "{recs:?}");
}

#[test]
fn snapped_packet_is_reported_and_the_flow_goes_on() {
    let (c, s) = (addr(C), addr(S));
    let ips = [
        tcp(c, s, 99, SYN, &[]),
        tcp(c, s, 100, ACK, &[version(), create_req("a", 1)].concat()),
        tcp(c, s, 140, ACK, &[read_req(1, 1), read_req(1, 2)].concat()),
        tcp(c, s, 172, ACK, &read_req(1, 3)),
    ];
    let mut pkts: Vec<Pkt> = ips
        .iter()
        .map(|p| Pkt::new(1, Link::Ethernet.frame(p)))
        .collect();
    // Packet 3 cut 10 bytes short: the first READ_NOTIFY survives, the second does not.
    let full = pkts[2].data.len();
    pkts[2].data.truncate(full - 10);
    pkts[2].orig_len = full as u32;
    let (recs, problems) = decode(&pcap(1, &pkts, false, false), Config::default());
    assert!(
        problems
            .iter()
            .any(|p| matches!(p, Problem::Snapped { packet: 3, .. })),
        "{problems:?}"
    );
    let n: Vec<_> = names(&recs).into_iter().map(|(c, _)| c).collect();
    assert_eq!(
        n,
        [
            "VersionRequest",
            "CreateChanRequest",
            "ReadNotifyRequest",
            "ReadNotifyRequest"
        ],
        "{problems:?}"
    );
}

#[test]
fn header_announcing_two_gib_is_refused_without_buffering() {
    let (c, s) = (addr(C), addr(S));
    let mut huge = ca(15, 6, 1, 1, 1, &[]);
    huge[2..4].copy_from_slice(&[0xFF, 0xFF]);
    huge.extend_from_slice(&0x8000_0000u32.to_be_bytes());
    huge.extend_from_slice(&1u32.to_be_bytes());
    let ips = [
        tcp(c, s, 99, SYN, &[]),
        tcp(s, c, 5000, SYN | ACK, &[]),
        tcp(s, c, 5001, ACK, &create_resp(1, 1)),
        tcp(
            c,
            s,
            100,
            ACK,
            &[version(), huge.clone(), read_req(1, 5)].concat(),
        ),
    ];
    let (recs, problems) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert!(
        problems.iter().any(|p| matches!(p, Problem::BadMessage { packet: 4, reason, .. } if reason.contains("2147483648"))),
        "{problems:?}"
    );
    assert_eq!(recs.len(), 3, "{recs:?}");
    assert_eq!(recs[2].command, "ReadNotifyRequest");
}

#[test]
fn non_ca_traffic_on_the_port_and_garbage_never_panic() {
    let (c, s) = (addr(C), addr(S));
    let http = b"GET / HTTP/1.1\r\nHost: x\r\n\r\n".repeat(20);
    let ips = [
        tcp(c, s, 99, SYN, &[]),
        tcp(c, s, 100, ACK, &http),
        udp(c, s, b"hello, not CA"),
    ];
    let (recs, problems) = decode(&capture(Link::Ethernet, &ips), Config::default());
    assert!(recs.is_empty(), "{recs:?}");
    assert!(!problems.is_empty());
    assert!(
        problems.iter().all(|p| p.packet().is_some()),
        "{problems:?}"
    );
    // Not a capture at all.
    let (recs, problems) = decode(b"this is not a pcap file", Config::default());
    assert!(recs.is_empty());
    assert!(matches!(problems[..], [Problem::NotACapture { .. }]));
    // Pseudo-random bytes after a valid header: bounded time, no panic.
    let good = capture(Link::Ethernet, &packets(C, S, true, &whole));
    let mut x: u32 = 12345;
    for round in 0..200 {
        let mut b = good.clone();
        for _ in 0..(round % 16 + 1) {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let i = 24 + (x as usize % (b.len() - 24));
            b[i] = (x >> 8) as u8;
        }
        let _ = decode_chunked(&b, Config::default(), 1 + round % 97);
    }
}
