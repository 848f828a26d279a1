//! UDP state machines: search datagrams and replies, beacons, the repeater.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use caproto::proto::broadcaster::{
    BeaconAnomaly, BroadcastError, Broadcaster, Event, Repeater, RepeaterOutput,
    MAX_REPEATER_CLIENTS, MAX_SEARCH_DATAGRAM, PROBE_INTERVAL,
};
use caproto::proto::command::{Decoded, SEARCH_DO_REPLY};
use caproto::proto::header::Header;
use caproto::proto::{command::Command, Direction, Role};

fn client_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn server_udp() -> SocketAddr {
    "127.0.0.1:5064".parse().unwrap()
}

fn decode_all(mut bytes: &[u8], direction: Direction) -> Vec<Command> {
    let mut out = Vec::new();
    while !bytes.is_empty() {
        match Command::decode_from(bytes, direction, bytes.len()).unwrap() {
            Decoded::Command(cmd, used) => {
                out.push(cmd);
                bytes = &bytes[used..];
            }
            Decoded::Incomplete { needed } => panic!("incomplete, need {needed}"),
        }
    }
    out
}

#[test]
fn search_round_trip_matches_by_cid() {
    let mut client = Broadcaster::new(Role::Client, client_addr());
    let mut server = Broadcaster::new(Role::Server, server_udp());
    client.add_search(1, "a").unwrap();
    client.add_search(2, "b").unwrap();
    client.add_search(3, "c").unwrap();
    let mut dgram = Vec::new();
    let used = client
        .fill_search_datagram(&[1, 2, 3], false, server_udp(), &mut dgram)
        .unwrap();
    assert_eq!(used, 3);
    let sent = decode_all(&dgram, Direction::Request);
    assert!(matches!(sent[0], Command::VersionRequest { .. }));
    assert_eq!(sent.len(), 4);

    let mut events = Vec::new();
    server
        .recv(&dgram, client_addr(), Instant::now(), &mut events)
        .unwrap();
    let names: Vec<(String, u32, bool)> = events
        .iter()
        .map(|e| match e {
            Event::Search {
                name, cid, reply, ..
            } => (name.clone(), *cid, *reply),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(
        names,
        [
            ("a".into(), 1, false),
            ("b".into(), 2, false),
            ("c".into(), 3, false)
        ]
    );

    // Server has "a" (explicit IP) and "b" (IP = datagram source); not "c".
    let mut reply = Vec::new();
    server
        .send(
            &Command::VersionResponse {
                version: 13,
                sequence: Some(1),
            },
            client_addr(),
            &mut reply,
        )
        .unwrap();
    for (cid, ip) in [(1, Some(Ipv4Addr::new(127, 0, 0, 2))), (2, None)] {
        server
            .send(
                &Command::SearchResponse {
                    port: 6000,
                    ip,
                    cid,
                    version: 13,
                },
                client_addr(),
                &mut reply,
            )
            .unwrap();
    }
    server
        .send(
            &Command::NotFoundResponse {
                version: 13,
                cid: 3,
            },
            client_addr(),
            &mut reply,
        )
        .unwrap();
    let mut events = Vec::new();
    client
        .recv(&reply, server_udp(), Instant::now(), &mut events)
        .unwrap();
    assert_eq!(
        events,
        [
            Event::Found {
                cid: 1,
                name: "a".into(),
                server: "127.0.0.2:6000".parse().unwrap(),
                version: 13
            },
            Event::Found {
                cid: 2,
                name: "b".into(),
                server: "127.0.0.1:6000".parse().unwrap(),
                version: 13
            },
            Event::NotFound { cid: 3 },
        ]
    );
    assert_eq!(client.pending_search(1), None);
    assert_eq!(
        client.pending_search(3),
        Some("c"),
        "NotFound keeps searching"
    );
    // A second server answering for "a" is reported, not matched.
    let mut events = Vec::new();
    client
        .recv(&reply, server_udp(), Instant::now(), &mut events)
        .unwrap();
    assert!(matches!(events[0], Event::Unmatched { cid: 1, .. }));
}

#[test]
fn search_datagrams_are_bounded() {
    let mut client = Broadcaster::new(Role::Client, client_addr());
    let cids: Vec<u32> = (0..200).collect();
    for &cid in &cids {
        client
            .add_search(cid, format!("some:rather:long:pv:name:{cid:05}"))
            .unwrap();
    }
    let mut rest = &cids[..];
    let mut total = 0;
    let mut datagrams = 0;
    while !rest.is_empty() {
        let mut dgram = Vec::new();
        let used = client
            .fill_search_datagram(rest, true, server_udp(), &mut dgram)
            .unwrap();
        assert!(used > 0);
        assert!(dgram.len() <= MAX_SEARCH_DATAGRAM);
        let cmds = decode_all(&dgram, Direction::Request);
        assert!(matches!(cmds[0], Command::VersionRequest { .. }));
        total += cmds.len() - 1;
        datagrams += 1;
        rest = &rest[used..];
    }
    assert_eq!(total, 200);
    assert!(datagrams > 1);

    // Cids not pending are skipped; nothing is written when none is pending.
    let mut dgram = Vec::new();
    assert_eq!(
        client
            .fill_search_datagram(&[1000, 1001], true, server_udp(), &mut dgram)
            .unwrap(),
        2
    );
    assert!(dgram.is_empty());
    // The reply flag reaches the wire.
    client
        .fill_search_datagram(&[5], true, server_udp(), &mut dgram)
        .unwrap();
    let (h, _) = Header::decode(&dgram[16..]).unwrap();
    assert_eq!(h.data_type, SEARCH_DO_REPLY);
}

#[test]
fn search_bookkeeping_errors() {
    let mut client = Broadcaster::new(Role::Client, client_addr());
    client.add_search(1, "a").unwrap();
    client.add_search(1, "a").unwrap();
    assert_eq!(
        client.add_search(1, "b"),
        Err(BroadcastError::DuplicateSearch(1))
    );
    assert_eq!(client.cancel_search(1).as_deref(), Some("a"));
    assert_eq!(client.pending_searches(), 0);
    // Roles only send their own commands.
    let mut out = Vec::new();
    assert_eq!(
        client.send(
            &Command::VersionResponse {
                version: 13,
                sequence: Some(1),
            },
            server_udp(),
            &mut out
        ),
        Err(BroadcastError::NotOurs { role: Role::Client })
    );
    let mut server = Broadcaster::new(Role::Server, server_udp());
    assert!(server
        .send(
            &Command::SearchRequest {
                name: "x".into(),
                cid: 1,
                version: 13,
                reply: false
            },
            client_addr(),
            &mut out
        )
        .is_err());
    assert!(out.is_empty());
}

#[test]
fn beacons_flag_new_and_restarted_servers() {
    let mut server = Broadcaster::new(Role::Server, server_udp());
    let mut client = Broadcaster::new(Role::Client, client_addr());
    let t0 = Instant::now();
    let mut anomalies = Vec::new();
    for i in 0..3u64 {
        let mut dgram = Vec::new();
        server
            .beacon(5064, Ipv4Addr::UNSPECIFIED, client_addr(), &mut dgram)
            .unwrap();
        let mut events = Vec::new();
        client
            .recv(
                &dgram,
                server_udp(),
                t0 + Duration::from_secs(15 * i),
                &mut events,
            )
            .unwrap();
        match &events[..] {
            [Event::Beacon {
                server,
                anomaly,
                beacon_id,
            }] => {
                assert_eq!(*server, "127.0.0.1:5064".parse().unwrap());
                assert_eq!(u64::from(*beacon_id), i);
                anomalies.push(*anomaly);
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(anomalies, [Some(BeaconAnomaly::NewServer), None, None]);
    // The server restarts: its beacon ids start again.
    let mut restarted = Broadcaster::new(Role::Server, server_udp());
    let mut dgram = Vec::new();
    restarted
        .beacon(5064, Ipv4Addr::UNSPECIFIED, client_addr(), &mut dgram)
        .unwrap();
    let mut events = Vec::new();
    client
        .recv(
            &dgram,
            server_udp(),
            t0 + Duration::from_secs(46),
            &mut events,
        )
        .unwrap();
    assert!(matches!(
        events[0],
        Event::Beacon {
            anomaly: Some(BeaconAnomaly::IdJump {
                expected: 3,
                got: 0
            }),
            ..
        }
    ));
}

#[test]
fn malformed_datagrams_are_errors_and_keep_earlier_events() {
    let mut server = Broadcaster::new(Role::Server, server_udp());
    let mut client = Broadcaster::new(Role::Client, client_addr());
    client.add_search(1, "a").unwrap();
    let mut dgram = Vec::new();
    client
        .fill_search_datagram(&[1], false, server_udp(), &mut dgram)
        .unwrap();
    dgram.extend_from_slice(&[0, 6, 0]); // a truncated header
    let mut events = Vec::new();
    let err = server
        .recv(&dgram, client_addr(), Instant::now(), &mut events)
        .unwrap_err();
    assert!(matches!(err, BroadcastError::Truncated { .. }));
    assert_eq!(
        events.len(),
        1,
        "the complete search before it still counts"
    );

    // Arbitrary bytes never panic.
    let mut seed: u32 = 12345;
    for _ in 0..2000 {
        let len = (seed % 80) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
                (seed >> 16) as u8 % 32
            })
            .collect();
        let _ = server.recv(&bytes, client_addr(), Instant::now(), &mut events);
        let _ = client.recv(&bytes, server_udp(), Instant::now(), &mut events);
    }
}

/// Every address is local (a loopback test).
fn local(_: IpAddr) -> bool {
    true
}

/// One raw message: a header (with `p2` in parameter2) and its payload.
fn raw(command: u16, payload: &[u8], p2: u32) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        command,
        payload_size: payload.len() as u32,
        parameter2: p2,
        ..Header::default()
    }
    .encode(&mut out);
    out.extend_from_slice(payload);
    out
}

/// Where each of `output`'s copies goes, after checking they all carry `bytes`.
fn forwarded(output: &RepeaterOutput, out: &[u8], bytes: &[u8]) -> Vec<SocketAddr> {
    for o in &output.forward {
        assert_eq!(&out[o.bytes.clone()], bytes, "copy to {}", o.to);
    }
    output.forward.iter().map(|o| o.to).collect()
}

#[test]
fn repeater_registers_confirms_and_fans_out() {
    let repeater_addr: SocketAddr = "127.0.0.1:5065".parse().unwrap();
    let mut repeater = Repeater::new(repeater_addr);
    let mut c1 = Broadcaster::new(Role::Client, client_addr());
    let c2_addr: SocketAddr = "127.0.0.1:40001".parse().unwrap();

    let mut register = Vec::new();
    c1.register_with_repeater(repeater_addr, &mut register)
        .unwrap();
    let mut out = Vec::new();
    let output = repeater
        .recv(&register, client_addr(), &local, &mut out)
        .unwrap();
    let confirm = output.confirm.clone().expect("a confirmation");
    assert_eq!(confirm.to, client_addr());
    assert!(output.forward.is_empty() && output.probe.is_empty());
    let mut events = Vec::new();
    c1.recv(
        &out[confirm.bytes],
        repeater_addr,
        Instant::now(),
        &mut events,
    )
    .unwrap();
    assert_eq!(
        events,
        [Event::RepeaterConfirmed {
            repeater_address: Ipv4Addr::LOCALHOST
        }]
    );
    assert!(c1.registered());
    // Old clients register with an empty datagram; a new client makes the
    // repeater ask for the others to be probed; re-registering does not
    // duplicate, is confirmed again and asks for no probes.
    out.clear();
    let output = repeater.recv(&[], c2_addr, &local, &mut out).unwrap();
    assert_eq!(output.confirm.map(|c| c.to), Some(c2_addr));
    assert_eq!(output.probe, [client_addr()]);
    let output = repeater
        .recv(&register, client_addr(), &local, &mut out)
        .unwrap();
    assert_eq!(output.confirm.map(|c| c.to), Some(client_addr()));
    assert!(output.probe.is_empty() && output.forward.is_empty());
    assert_eq!(repeater.clients(), [client_addr(), c2_addr]);

    // A beacon is fanned out, unchanged, to every client but its sender.
    let mut server = Broadcaster::new(Role::Server, server_udp());
    let mut beacon = Vec::new();
    server
        .beacon(5064, Ipv4Addr::LOCALHOST, repeater_addr, &mut beacon)
        .unwrap();
    out.clear();
    let output = repeater
        .recv(&beacon, server_udp(), &local, &mut out)
        .unwrap();
    assert_eq!(output.confirm, None);
    assert_eq!(forwarded(&output, &out, &beacon), [client_addr(), c2_addr]);
    out.clear();
    let output = repeater.recv(&beacon, c2_addr, &local, &mut out).unwrap();
    assert_eq!(forwarded(&output, &out, &beacon), [client_addr()]);
    assert!(repeater.unregister(c2_addr));
    assert!(!repeater.unregister(c2_addr));
    assert!(repeater
        .recv(&[1, 2, 3], c2_addr, &local, &mut out)
        .is_err());
    // With nobody but the sender registered there is nothing to do.
    out.clear();
    let output = repeater
        .recv(&beacon, client_addr(), &local, &mut out)
        .unwrap();
    assert_eq!(output, RepeaterOutput::default());
    assert!(out.is_empty());
}

#[test]
fn repeater_fills_in_beacon_addresses() {
    let mut repeater = Repeater::new("0.0.0.0:5065".parse().unwrap());
    let mut out = Vec::new();
    repeater.recv(&[], client_addr(), &local, &mut out).unwrap();
    // Beacons from a server that leaves the address to the repeater.
    let server: SocketAddr = "10.1.2.3:5065".parse().unwrap();
    let mut sender = Broadcaster::new(Role::Server, server);
    let mut beacons = Vec::new();
    for _ in 0..2 {
        sender
            .beacon(5064, Ipv4Addr::UNSPECIFIED, server, &mut beacons)
            .unwrap();
    }
    out.clear();
    let output = repeater.recv(&beacons, server, &local, &mut out).unwrap();
    let copy = &out[output.forward[0].bytes.clone()];
    assert_eq!(copy.len(), beacons.len());
    let filled: Vec<Command> = decode_all(copy, Direction::Response);
    assert_eq!(
        filled,
        (0..2)
            .map(|beacon_id| Command::Beacon {
                version: 13,
                server_port: 5064,
                beacon_id,
                address: Ipv4Addr::new(10, 1, 2, 3),
            })
            .collect::<Vec<_>>()
    );
    // A beacon that names its server keeps its address.
    let named = raw(caproto::proto::command::id::RSRV_IS_UP, &[], 0x0a00_0009);
    out.clear();
    let output = repeater.recv(&named, server, &local, &mut out).unwrap();
    assert_eq!(forwarded(&output, &out, &named), [client_addr()]);
}

#[test]
fn repeater_forwards_any_framed_message_but_registrations() {
    use caproto::proto::command::id;
    let mut repeater = Repeater::new("127.0.0.1:5065".parse().unwrap());
    let c2: SocketAddr = "127.0.0.1:40001".parse().unwrap();
    let mut out = Vec::new();
    repeater.recv(&[], c2, &local, &mut out).unwrap();
    // An echo, a registration and a message no decoder knows (id 99) with a
    // payload, in one datagram from a client.
    let echo = raw(id::ECHO, &[], 0);
    let unknown = raw(99, &[1, 2, 3, 4, 5, 6, 7, 8], 7);
    let mut dgram = echo.clone();
    dgram.extend(raw(id::REPEATER_REGISTER, &[], 0x7f00_0001));
    dgram.extend(&unknown);
    out.clear();
    let output = repeater
        .recv(&dgram, client_addr(), &local, &mut out)
        .unwrap();
    // The sender is registered and confirmed; the rest goes to the other client.
    let confirm = output.confirm.clone().unwrap();
    assert_eq!(
        decode_all(&out[confirm.bytes], Direction::Response),
        [Command::RepeaterConfirmResponse {
            repeater_address: Ipv4Addr::LOCALHOST
        }]
    );
    let mut rest = echo;
    rest.extend(&unknown);
    assert_eq!(forwarded(&output, &out, &rest), [c2]);
    let order: Vec<SocketAddr> = output.sends().map(|o| o.to).collect();
    assert_eq!(order, [client_addr(), c2], "confirmation first");
    assert_eq!(repeater.clients(), [c2, client_addr()]);
}

#[test]
fn repeater_refuses_foreign_and_malformed_datagrams() {
    let mut repeater = Repeater::new("127.0.0.1:5065".parse().unwrap());
    let mut out = Vec::new();
    repeater.recv(&[], client_addr(), &local, &mut out).unwrap();
    out.clear();
    // Registrations from another host are ignored, and not forwarded.
    let remote: SocketAddr = "192.0.2.7:40000".parse().unwrap();
    let register = raw(caproto::proto::command::id::REPEATER_REGISTER, &[], 0);
    for dgram in [&register[..], &[]] {
        let output = repeater.recv(dgram, remote, &|_| false, &mut out).unwrap();
        assert_eq!(output, RepeaterOutput::default());
    }
    assert_eq!(repeater.clients(), [client_addr()]);
    // Datagrams that do not frame are errors and nothing of them is sent,
    // not even their well-formed first message.
    let beacon = raw(caproto::proto::command::id::RSRV_IS_UP, &[], 0);
    let mut lying = beacon.clone();
    lying[2..4].copy_from_slice(&64u16.to_be_bytes());
    let mut tail = beacon.clone();
    tail.extend([0, 13, 0]);
    for bad in [&[1u8, 2, 3][..], &lying, &tail] {
        assert!(matches!(
            repeater.recv(bad, server_udp(), &local, &mut out),
            Err(BroadcastError::Truncated { .. })
        ));
    }
    assert!(out.is_empty());
    assert_eq!(repeater.clients(), [client_addr()]);
}

#[test]
fn repeater_table_is_bounded() {
    let mut repeater = Repeater::new("127.0.0.1:5065".parse().unwrap());
    let mut out = Vec::new();
    for i in 0..MAX_REPEATER_CLIENTS {
        let client = SocketAddr::from(([127, 0, 0, 1], 1024 + i as u16));
        out.clear();
        assert!(repeater
            .recv(&[], client, &local, &mut out)
            .unwrap()
            .confirm
            .is_some());
    }
    let late = SocketAddr::from(([127, 0, 0, 2], 9));
    let output = repeater.recv(&[], late, &local, &mut out).unwrap();
    assert_eq!(output, RepeaterOutput::default());
    assert_eq!(repeater.clients().len(), MAX_REPEATER_CLIENTS);
    // Once one goes, there is room again.
    assert!(repeater.unregister(repeater.clients()[0]));
    let output = repeater.recv(&[], late, &local, &mut out).unwrap();
    assert_eq!(output.probe.len(), MAX_REPEATER_CLIENTS - 1);
}

#[test]
fn repeater_asks_for_periodic_probes() {
    let mut repeater = Repeater::new("127.0.0.1:5065".parse().unwrap());
    let mut out = Vec::new();
    repeater.recv(&[], client_addr(), &local, &mut out).unwrap();
    let start = Instant::now();
    assert_eq!(repeater.next_probe(), None);
    assert!(
        repeater.poll(start).is_empty(),
        "the first poll only schedules"
    );
    let due = repeater.next_probe().unwrap();
    assert_eq!(due, start + PROBE_INTERVAL);
    assert!(repeater.poll(due - Duration::from_millis(1)).is_empty());
    assert_eq!(repeater.poll(due), [client_addr()]);
    assert_eq!(repeater.next_probe(), Some(due + PROBE_INTERVAL));
    assert!(repeater.poll(due).is_empty());
}

#[test]
fn server_search_events_carry_the_datagram_sequence_number() {
    let mut server = Broadcaster::new(Role::Server, server_udp());
    let mut dgram = Vec::new();
    for (sequence, cid) in [(7u32, 1u32), (8, 2)] {
        let version = Command::VersionRequest {
            priority: 1,
            version: 13,
            sequence,
        };
        let search = Command::SearchRequest {
            name: format!("pv{cid}"),
            cid,
            version: 13,
            reply: false,
        };
        version.encode(&mut dgram).unwrap();
        search.encode(&mut dgram).unwrap();
    }
    let mut events = Vec::new();
    server
        .recv(&dgram, client_addr(), Instant::now(), &mut events)
        .unwrap();
    let seen: Vec<(u32, u32)> = events
        .iter()
        .map(|e| match e {
            Event::Search { cid, sequence, .. } => (*cid, *sequence),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    assert_eq!(seen, [(1, 7), (2, 8)]);

    // A datagram without a VERSION does not inherit the previous one's number.
    let mut bare = Vec::new();
    Command::SearchRequest {
        name: "pv3".into(),
        cid: 3,
        version: 13,
        reply: false,
    }
    .encode(&mut bare)
    .unwrap();
    events.clear();
    server
        .recv(&bare, client_addr(), Instant::now(), &mut events)
        .unwrap();
    assert!(matches!(events[..], [Event::Search { sequence: 0, .. }]));
}
