use std::net::SocketAddr;
use std::rc::Rc;

use super::*;
use crate::proto::header::Header;

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// A message of `size` bytes at capture time `t` seconds.
#[allow(clippy::too_many_arguments)]
fn msg<'b>(
    t: f64,
    transport: TransportKind,
    (from, to): (&str, &str),
    sender: Role,
    header: Header,
    size: usize,
    pv: Option<&str>,
    bytes: &'b [u8],
) -> Message<'b> {
    Message {
        packet: 1,
        time: Timestamp {
            secs: t as i64,
            nanos: ((t.fract()) * 1e9) as u32,
        },
        transport,
        from: addr(from),
        to: addr(to),
        from_text: Rc::from(from),
        to_text: Rc::from(to),
        sender,
        header,
        header_len: 16,
        bytes: &bytes[..size],
        pv: pv.map_or(PvRef::None, |n| PvRef::Name(Rc::from(n))),
    }
}

fn header(command: u16, p1: u32, p2: u32) -> Header {
    Header {
        command,
        payload_size: 8,
        data_type: 0,
        data_count: 1,
        parameter1: p1,
        parameter2: p2,
    }
}

const CLIENT: &str = "10.0.0.2:40000";
const SERVER: &str = "10.0.0.1:5064";
static BYTES: [u8; 4096] = [0; 4096];

/// `n` reads of `pv` (request and reply of `size` bytes each) in capture second `t`.
fn reads(model: &mut TopModel, t: f64, pv: &str, n: usize, size: usize) {
    for _ in 0..n {
        model.handle_message(&msg(
            t,
            TransportKind::Tcp,
            (CLIENT, SERVER),
            Role::Client,
            header(id::READ_NOTIFY, 7, 1),
            16,
            Some(pv),
            &BYTES,
        ));
        model.handle_message(&msg(
            t,
            TransportKind::Tcp,
            (SERVER, CLIENT),
            Role::Server,
            header(id::READ_NOTIFY, ECA_NORMAL, 1),
            size,
            Some(pv),
            &BYTES,
        ));
    }
}

#[test]
fn the_busiest_pv_comes_first_by_rate_and_by_bytes() {
    let mut m = TopModel::default();
    reads(&mut m, 100.2, "quiet", 2, 1000);
    reads(&mut m, 100.5, "busy", 50, 24);
    let s = m.snapshot(Basis::LastSecond { now: 101 }, SortKey::MessageRate, 10);
    assert_eq!(s.pvs[0].label, "busy");
    assert_eq!(s.pvs[0].msg_rate, 100.0);
    assert_eq!(s.pvs[0].byte_rate, 50.0 * (16.0 + 24.0));
    assert_eq!(s.pvs[1].label, "quiet");
    let s = m.snapshot(Basis::LastSecond { now: 101 }, SortKey::ByteRate, 10);
    assert_eq!(s.pvs[0].label, "quiet", "2016 B/s against 2000 B/s");
    let s = m.snapshot(Basis::LastSecond { now: 101 }, SortKey::Name, 10);
    assert_eq!(s.pvs[0].label, "busy");
    assert_eq!(s.pvs[1].label, "quiet");
    // Rows are cut to the screen.
    assert_eq!(m.snapshot(Basis::Whole, SortKey::Messages, 1).pvs.len(), 1);
    assert_eq!(s.pv_count, 2);
}

#[test]
fn rates_follow_the_last_complete_second() {
    let mut m = TopModel::default();
    reads(&mut m, 10.0, "a", 5, 24);
    reads(&mut m, 11.0, "b", 7, 24);
    // During second 11: a's second 10 is the rate; b has not completed one.
    let s = m.snapshot(Basis::LastSecond { now: 11 }, SortKey::MessageRate, 10);
    assert_eq!(s.pvs[0].label, "a");
    assert_eq!(s.pvs[0].msg_rate, 10.0);
    assert_eq!(s.pvs[1].msg_rate, 0.0);
    let s = m.snapshot(Basis::LastSecond { now: 12 }, SortKey::MessageRate, 10);
    assert_eq!(s.pvs[0].label, "b");
    assert_eq!(s.pvs[0].msg_rate, 14.0);
    assert_eq!(s.pvs[1].msg_rate, 0.0, "a was quiet in second 11");
    assert_eq!(s.total.msg_rate, 14.0);
    // The whole capture: 24 messages over 1 s (the span is at least a second).
    let s = m.snapshot(Basis::Whole, SortKey::MessageRate, 10);
    assert_eq!(s.pvs[0].label, "b");
    assert_eq!(s.total.msg_rate, 24.0);
    assert_eq!(s.total.total.messages, 24);
}

#[test]
fn clients_and_servers_count_both_ways_on_a_circuit() {
    let mut m = TopModel::default();
    reads(&mut m, 5.0, "a", 3, 24);
    let s = m.snapshot(Basis::Whole, SortKey::Messages, 10);
    assert_eq!(s.clients.len(), 1);
    assert_eq!(s.clients[0].label, "10.0.0.2");
    assert_eq!(s.clients[0].total.messages, 6);
    assert_eq!(s.servers[0].label, SERVER);
    assert_eq!(s.servers[0].total.messages, 6);
}

fn search(m: &mut TopModel, t: f64, from: &str, name: &str) {
    m.handle_message(&msg(
        t,
        TransportKind::Udp,
        (from, "10.0.0.255:5064"),
        Role::Client,
        header(id::SEARCH, 1, 1),
        24,
        Some(name),
        &BYTES,
    ));
}

#[test]
fn unanswered_searches_and_storms() {
    let mut m = TopModel::default();
    for i in 0..150 {
        search(
            &mut m,
            20.0 + i as f64 / 1000.0,
            "10.0.0.9:5555",
            "missing:pv",
        );
    }
    search(&mut m, 20.5, "10.0.0.3:6000", "there:pv");
    search(&mut m, 20.5, "10.0.0.3:6000", "gone:pv");
    m.handle_message(&msg(
        20.6,
        TransportKind::Udp,
        (SERVER, "10.0.0.3:6000"),
        Role::Server,
        header(id::SEARCH, 0, 1),
        24,
        Some("there:pv"),
        &BYTES,
    ));
    let s = m.snapshot(Basis::LastSecond { now: 21 }, SortKey::MessageRate, 10);
    let names: Vec<_> = s.unanswered.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        ["missing:pv", "gone:pv"],
        "answered names are left out"
    );
    assert_eq!(s.unanswered[0].rate, 150.0);
    assert_eq!(s.unanswered_count, 2);
    assert_eq!(s.searchers[0].label, "10.0.0.9:5555");
    assert_eq!(s.storming, 1, "150 searches/s is a storm, 2/s is not");
    assert_eq!(s.searches.msg_rate, 152.0);
    // The search reply counts for the server, not the broadcast address searched.
    let servers: Vec<_> = s.servers.iter().map(|r| r.label.as_str()).collect();
    assert_eq!(servers, [SERVER]);
}

fn beacon(m: &mut TopModel, t: f64, id: u32) {
    let mut h = header(id::RSRV_IS_UP, id, 0);
    h.data_count = 5064;
    h.payload_size = 0;
    m.handle_message(&msg(
        t,
        TransportKind::Udp,
        ("10.0.0.1:5065", "10.0.0.255:5065"),
        Role::Server,
        h,
        16,
        None,
        &BYTES,
    ));
}

#[test]
fn a_beacon_id_jump_is_an_anomaly() {
    let mut m = TopModel::default();
    beacon(&mut m, 1.0, 10);
    beacon(&mut m, 16.0, 11);
    assert_eq!(m.snapshot(Basis::Whole, SortKey::Name, 5).anomaly_count, 0);
    beacon(&mut m, 31.0, 1);
    let s = m.snapshot(Basis::Whole, SortKey::Name, 5);
    assert_eq!(s.anomaly_count, 1);
    assert_eq!(s.beacon_servers, 1);
    assert!(
        s.anomalies[0].contains("jumped from 11 to 1"),
        "{:?}",
        s.anomalies
    );
}

#[test]
fn errors_are_counted_per_pv_and_listed_newest_first() {
    let mut m = TopModel::default();
    m.handle_message(&msg(
        3.0,
        TransportKind::Tcp,
        (SERVER, CLIENT),
        Role::Server,
        header(id::WRITE_NOTIFY, 0x0a, 1),
        16,
        Some("locked:pv"),
        &BYTES,
    ));
    m.handle_problem(&Problem::EmptyInput);
    let s = m.snapshot(Basis::Whole, SortKey::MessageRate, 5);
    assert_eq!(s.pvs[0].errors, 1);
    assert_eq!(s.ca_errors, 1);
    assert_eq!(s.errors.len(), 2);
    assert_eq!(s.errors[0], "input is empty");
    assert!(
        s.errors[1].contains("WRITE_NOTIFY status 10 locked:pv"),
        "{}",
        s.errors[1]
    );
    assert_eq!(s.problems, [("empty input", 1)]);
}

#[test]
fn memory_stays_within_the_caps() {
    let caps = Caps {
        pvs: 64,
        clients: 8,
        servers: 8,
        searches: 32,
        searchers: 8,
    };
    let mut m = TopModel::new(caps);
    let bytes = [0u8; 16];
    for i in 0..10_000u32 {
        let pv = format!("pv:{i}");
        let client = format!("10.0.{}.{}:4000", i / 250 % 250, i % 250);
        let t = f64::from(i) / 100.0;
        m.handle_message(&msg(
            t,
            TransportKind::Tcp,
            (&client, SERVER),
            Role::Client,
            header(id::READ_NOTIFY, 1, 1),
            16,
            Some(&pv),
            &bytes,
        ));
        search(&mut m, t, &client, &pv);
    }
    for _ in 0..RECENT * 2 {
        m.handle_problem(&Problem::EmptyInput);
    }
    assert!(m.pvs.len() <= 64);
    assert!(m.clients.len() <= 8);
    assert!(m.searches.len() <= 32);
    assert!(m.searchers.len() <= 8);
    assert_eq!(m.errors.len(), RECENT);
    let s = m.snapshot(Basis::LastSecond { now: 100 }, SortKey::MessageRate, 5);
    assert!(s.dropped > 9_000);
    // The newest PV survived the pruning and leads by recency of activity.
    assert!(m.pvs.get("pv:9999").is_some());
}
