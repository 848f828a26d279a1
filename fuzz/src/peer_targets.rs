//! The client side of a circuit and the UDP broadcaster (search, beacon,
//! repeater) as fuzz targets. Like [`crate::targets`], each is a function of
//! arbitrary bytes that panics when a property breaks.
//!
//! Kept free of `crate::` paths (it uses only `caproto` and `super::`) so
//! that `tests/fuzz_corpus.rs` in the main crate can include it with
//! `#[path]` and replay the committed corpus under `cargo test`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use caproto::proto::broadcaster::{Broadcaster, Event, Repeater, MAX_REPEATER_CLIENTS};
use caproto::proto::circuit::{CircuitError, VirtualCircuit};
use caproto::proto::command::Command;
use caproto::proto::dbr::DbrType;
use caproto::proto::header::EXTENDED_HEADER_LEN;
use caproto::proto::{Role, DEFAULT_MAX_ARRAY_BYTES};

/// Names the client-side targets have pending (cids 1..=4), matching the
/// PVs of the golden EPICS capture so its replies find them.
const NAMES: [&str; 4] = ["gold:ai", "gold:si", "gold:wf", "no:such:pv"];

/// A client-role [`VirtualCircuit`] that has opened the handshake, created
/// four channels and has a read, a write and a subscription outstanding on
/// the first, fed the input (server-to-client bytes) in chunks: the first
/// byte picks the chunk size. Every command it accepts is answered the way a
/// client would (reads on new channels, cancels), so its tables move too.
pub fn circuit_client(data: &[u8]) {
    let Some((&ctl, stream)) = data.split_first() else {
        return;
    };
    let ours: SocketAddr = ([127, 0, 0, 1], 40000).into();
    let theirs: SocketAddr = ([127, 0, 0, 1], 5064).into();
    let mut circ = VirtualCircuit::new(Role::Client, ours, theirs, 0, DEFAULT_MAX_ARRAY_BYTES);
    let mut out = Vec::new();
    let opening = [
        Command::VersionRequest {
            priority: 0,
            version: 13,
            sequence: 0,
        },
        Command::HostNameRequest {
            name: "fuzz".into(),
        },
        Command::ClientNameRequest {
            name: "fuzz".into(),
        },
    ];
    for cmd in opening {
        circ.send(&cmd, &mut out).expect("opening accepted");
    }
    for (i, name) in NAMES.iter().enumerate() {
        let cmd = Command::CreateChanRequest {
            name: (*name).into(),
            cid: i as u32 + 1,
            version: 13,
        };
        circ.send(&cmd, &mut out).expect("create accepted");
    }
    let chunk = match ctl & 0x3F {
        0 => stream.len().max(1),
        n => usize::from(n),
    };
    let limit = EXTENDED_HEADER_LEN + circ.max_payload();
    for piece in stream.chunks(chunk) {
        circ.recv(piece);
        let mut budget = circ.buffered() + 2;
        while let Some(result) = circ.next_command() {
            budget -= 1;
            assert!(budget > 0, "next_command keeps returning without consuming");
            match result {
                Ok(cmd) => client_reacts(&mut circ, &cmd, ctl & 0x40 != 0),
                Err(CircuitError::Remote(_)) => {}
                Err(e) => {
                    assert!(e.is_fatal(), "non-fatal error from next_command: {e}");
                    assert!(circ.next_command().is_none(), "commands after fatal {e}");
                    return;
                }
            }
        }
        assert!(
            circ.buffered() <= limit,
            "circuit buffers {} bytes, above one maximum command ({limit})",
            circ.buffered()
        );
    }
    circ.disconnect();
    assert!(circ.next_command().is_none());
    assert_eq!(circ.channels().count(), 0, "channels left after disconnect");
}

/// What our client does after `cmd`: on a new channel, a read, a write with
/// notify and a subscription; on an update, sometimes a cancel or a clear.
fn client_reacts(circ: &mut VirtualCircuit, cmd: &Command, clear: bool) {
    let mut out = Vec::new();
    let mut send = |circ: &mut VirtualCircuit, c: Command| {
        let before = out.len();
        match circ.send(&c, &mut out) {
            Ok(n) => assert_eq!(out.len() - before, n, "send wrote a different length"),
            Err(_) => assert_eq!(out.len(), before, "failed send left bytes behind"),
        }
    };
    match cmd {
        Command::CreateChanResponse { sid, .. } => {
            let sid = *sid;
            let ioid = circ.new_ioid();
            send(
                circ,
                Command::ReadNotifyRequest {
                    data_type: DbrType::DOUBLE,
                    data_count: 1,
                    sid,
                    ioid,
                },
            );
            let ioid = circ.new_ioid();
            send(
                circ,
                Command::WriteNotifyRequest {
                    data: 1.5f64.to_be_bytes().to_vec(),
                    data_type: DbrType::DOUBLE,
                    data_count: 1,
                    sid,
                    ioid,
                },
            );
            let subscriptionid = circ.new_subscription_id();
            send(
                circ,
                Command::EventAddRequest {
                    data_type: DbrType::DOUBLE,
                    data_count: 1,
                    sid,
                    subscriptionid,
                    low: 0.0,
                    high: 0.0,
                    to: 0.0,
                    mask: 5,
                },
            );
        }
        Command::EventAddResponse { subscriptionid, .. } if clear => {
            if let Some(sub) = circ.subscription(*subscriptionid) {
                let sid = sub.sid;
                send(
                    circ,
                    Command::EventCancelRequest {
                        data_type: DbrType::DOUBLE,
                        data_count: 1,
                        sid,
                        subscriptionid: *subscriptionid,
                    },
                );
            }
        }
        Command::ServerDisconnResponse { cid } => {
            assert!(
                circ.channel(*cid).is_none(),
                "channel {cid} kept after SERVER_DISCONN"
            );
        }
        _ => {}
    }
}

/// Input layout of the broadcaster target: one control byte, then datagrams
/// each prefixed with its length (u16 BE; a short last one takes the rest).
/// The control byte's bits choose the sender port and how far the clock
/// moves between datagrams.
pub fn broadcaster(data: &[u8]) {
    let Some((&ctl, mut rest)) = data.split_first() else {
        return;
    };
    let local: SocketAddr = ([127, 0, 0, 1], 5064).into();
    let mut client = Broadcaster::new(Role::Client, ([127, 0, 0, 1], 40000).into());
    let mut server = Broadcaster::new(Role::Server, local);
    let mut repeater = Repeater::new(([127, 0, 0, 1], 5065).into());
    for (i, name) in NAMES.iter().enumerate() {
        client
            .add_search(i as u32 + 1, *name)
            .expect("search added");
    }
    let is_local = |ip: IpAddr| ip.is_loopback();
    let step = Duration::from_millis(u64::from(ctl & 0x0F) * 500);
    let mut now = Instant::now();
    let mut n = 0u16;
    while !rest.is_empty() {
        let (datagram, tail) = if rest.len() >= 2 {
            let len = usize::from(u16::from_be_bytes([rest[0], rest[1]]));
            let body = &rest[2..];
            body.split_at(len.min(body.len()))
        } else {
            (rest, &[][..])
        };
        rest = tail;
        n = n.wrapping_add(1);
        let port = if ctl & 0x10 != 0 {
            5064
        } else {
            40000 + (n % 8)
        };
        let from = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        now += step;

        // Client: what it hears must be about its own pending searches.
        let pending_before = client.pending_searches();
        let mut events = Vec::new();
        let _ = client.recv(datagram, from, now, &mut events);
        let mut found = 0;
        for e in &events {
            match e {
                Event::Found { cid, name, .. } => {
                    found += 1;
                    assert!(
                        client.pending_search(*cid).is_none(),
                        "cid {cid} still pending after Found"
                    );
                    assert!(NAMES.contains(&&**name), "found unknown name {name:?}");
                }
                Event::Search { .. } => panic!("a client reported a Search event"),
                _ => {}
            }
        }
        assert_eq!(
            client.pending_searches(),
            pending_before - found,
            "pending searches changed by other than the Found events"
        );

        // Server: every search it reports can be answered.
        let mut events = Vec::new();
        let _ = server.recv(datagram, from, now, &mut events);
        let mut reply = Vec::new();
        for e in &events {
            match e {
                Event::Search { cid, sequence, .. } => {
                    server
                        .send(
                            &Command::VersionResponse {
                                version: 13,
                                sequence: Some(*sequence),
                            },
                            from,
                            &mut reply,
                        )
                        .expect("version reply");
                    server
                        .send(
                            &Command::SearchResponse {
                                port: 5064,
                                ip: None,
                                cid: *cid,
                                version: 13,
                            },
                            from,
                            &mut reply,
                        )
                        .expect("search reply");
                }
                other => panic!("a server reported a client event: {other:?}"),
            }
        }

        // Repeater: what it asks to send lies in the buffer it wrote.
        let mut out = Vec::new();
        match repeater.recv(datagram, from, &is_local, &mut out) {
            Ok(output) => {
                for send in output.sends() {
                    assert!(
                        send.bytes.start <= send.bytes.end && send.bytes.end <= out.len(),
                        "send range {:?} outside {} bytes",
                        send.bytes,
                        out.len()
                    );
                }
                for copy in &output.forward {
                    assert_ne!(copy.to, from, "a datagram forwarded back to its sender");
                }
                assert!(repeater.clients().len() <= MAX_REPEATER_CLIENTS);
            }
            Err(_) => assert!(out.is_empty(), "bytes to send after a refused datagram"),
        }
        let _ = repeater.poll(now);
    }
}
