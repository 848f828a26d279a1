//! Memory of the capture decoder over a long capture: a generator streams 100 000 short
//! circuits (search, handshake, channel creation, reads, then FIN, RST, or silence) with 2.3
//! million CA messages through one decoder, and the process's resident memory at the end must
//! be within 10% of what it was after warm-up. `SHARK_SOAK_CIRCUITS` makes the run longer
//! (bench/shark_soak.sh runs a million circuits in release).

mod shark_support;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use caproto::capture::{Config, Decoder, Event};
use shark_support::*;

/// Resident set size of this process, in bytes.
fn rss() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").expect("/proc/self/statm");
    let pages: u64 = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

/// Appends one legacy-pcap record (microseconds) to `out`.
fn record(out: &mut Vec<u8>, micros: u64, ip: &[u8]) {
    let frame = Link::Ethernet.frame(ip);
    out.extend_from_slice(&((micros / 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&((micros % 1_000_000) as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&(frame.len() as u32).to_le_bytes());
    out.extend_from_slice(&frame);
}

const READS: u32 = 8;

/// Messages one circuit carries (search and reply included).
const MESSAGES_PER_CIRCUIT: u64 = 2 + 3 + 3 + 2 * READS as u64;

/// Appends circuit `i`'s packets, starting at capture time `t` (µs); one in ten is never
/// closed (left for the idle timeout), one in ten ends with RST, the rest with FINs.
fn circuit(out: &mut Vec<u8>, i: u32, t: u64) {
    let ip = IpAddr::V4(Ipv4Addr::from(0x0A00_0000 | (i & 0x00FF_FFFF)));
    let c = SocketAddr::new(ip, 40_000 + (i % 20_000) as u16);
    let s: SocketAddr = "127.0.0.1:5064".parse().unwrap();
    let pv = format!("soak:{i}:value");
    let sid = 1000 + i;
    let mut t = t;
    let mut rec = |out: &mut Vec<u8>, ip: Vec<u8>| {
        t += 5;
        record(out, t, &ip);
    };
    rec(out, udp(SocketAddr::new(ip, 5065), s, &search_req(&pv, i)));
    rec(
        out,
        udp(s, SocketAddr::new(ip, 5065), &search_resp(5064, i)),
    );
    let (mut cs, mut ss) = (1_000u32, 50_000u32);
    rec(out, tcp(c, s, cs, SYN, &[]));
    rec(out, tcp(s, c, ss, SYN | ACK, &[]));
    cs += 1;
    ss += 1;
    let hello = [
        version(),
        ca(21, 0, 0, 0, 0, b"soakhost"),
        create_req(&pv, 1),
    ]
    .concat();
    rec(out, tcp(c, s, cs, ACK | PSH, &hello));
    cs += hello.len() as u32;
    let answer = [
        ca(0, 0, 13, 0, 0, &[]),
        ca(22, 0, 0, 1, 3, &[]),
        create_resp(1, sid),
    ]
    .concat();
    rec(out, tcp(s, c, ss, ACK | PSH, &answer));
    ss += answer.len() as u32;
    for k in 0..READS {
        let req = read_req(sid, k + 1);
        rec(out, tcp(c, s, cs, ACK | PSH, &req));
        cs += req.len() as u32;
        let resp = read_resp(k + 1, f64::from(k));
        rec(out, tcp(s, c, ss, ACK | PSH, &resp));
        ss += resp.len() as u32;
    }
    match i % 10 {
        0 => {}
        1 => rec(out, tcp(c, s, cs, RST, &[])),
        _ => {
            rec(out, tcp(c, s, cs, FIN | ACK, &[]));
            rec(out, tcp(s, c, ss, FIN | ACK, &[]));
        }
    }
}

#[test]
fn memory_stays_flat_over_100_000_short_circuits() {
    let circuits: u32 = std::env::var("SHARK_SOAK_CIRCUITS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let warm_up = circuits / 5;
    let mut decoder = Decoder::new(Config {
        // Circuits left open are forgotten 5 s (of capture time) after their last packet.
        flow_idle: Duration::from_secs(5),
        ..Config::default()
    });
    let mut messages = 0u64;
    let mut problems = Vec::new();
    let mut on = |e: Event<'_>| match e {
        Event::Message(_) => messages += 1,
        Event::Problem(p) => {
            if problems.len() < 10 {
                problems.push(p)
            }
        }
    };
    let mut buf = pcap(1, &[], false, false);
    let mut rss_warm = 0;
    let mut peak_flows = 0;
    for i in 0..circuits {
        // One circuit per millisecond of capture time.
        circuit(&mut buf, i, 1_700_000_000_000_000 + u64::from(i) * 1_000);
        if buf.len() > 256 * 1024 {
            decoder.handle_bytes(&buf, &mut on);
            buf.clear();
            peak_flows = peak_flows.max(decoder.open_flows());
        }
        if i + 1 == warm_up {
            decoder.handle_bytes(&buf, &mut on);
            buf.clear();
            rss_warm = rss();
        }
    }
    decoder.handle_bytes(&buf, &mut on);
    let rss_end = rss();
    let open_at_end = decoder.open_flows();
    decoder.handle_eof(&mut on);
    assert!(problems.is_empty(), "{problems:?}");
    assert_eq!(messages, u64::from(circuits) * MESSAGES_PER_CIRCUIT);
    // Only the circuits left open in the last idle period (one in ten of 5000, and a few
    // whose closing packets are in the current chunk) are still tracked.
    assert!(peak_flows < 1_000, "{peak_flows} flows open at once");
    assert!(open_at_end < 1_000, "{open_at_end} flows open at the end");
    eprintln!(
        "{circuits} circuits, {messages} messages: RSS {} KiB after warm-up, {} KiB at the end",
        rss_warm / 1024,
        rss_end / 1024
    );
    assert!(
        rss_end <= rss_warm + rss_warm / 10,
        "RSS grew from {} KiB after warm-up to {} KiB",
        rss_warm / 1024,
        rss_end / 1024
    );
}
