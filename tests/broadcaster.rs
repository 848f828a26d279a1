//! UDP state machines: search datagrams and replies, beacons, the repeater.

use std::net::{Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use caproto::proto::broadcaster::{
    BeaconAnomaly, BroadcastError, Broadcaster, Event, Repeater, RepeaterAction,
    MAX_SEARCH_DATAGRAM,
};
use caproto::proto::command::{Decoded, SEARCH_DO_REPLY};
use caproto::proto::header::Header;
use caproto::proto::{Command, Direction, Role};

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
            .add_search(cid, &format!("some:rather:long:pv:name:{cid:05}"))
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

#[test]
fn repeater_registers_confirms_and_fans_out() {
    let repeater_addr: SocketAddr = "127.0.0.1:5065".parse().unwrap();
    let mut repeater = Repeater::new(repeater_addr);
    let mut c1 = Broadcaster::new(Role::Client, client_addr());
    let c2_addr: SocketAddr = "127.0.0.1:40001".parse().unwrap();

    let mut register = Vec::new();
    c1.register_with_repeater(repeater_addr, &mut register)
        .unwrap();
    let mut confirm = Vec::new();
    assert_eq!(
        repeater
            .recv(&register, client_addr(), &mut confirm)
            .unwrap(),
        RepeaterAction::Confirm {
            client: client_addr()
        }
    );
    let mut events = Vec::new();
    c1.recv(&confirm, repeater_addr, Instant::now(), &mut events)
        .unwrap();
    assert_eq!(
        events,
        [Event::RepeaterConfirmed {
            repeater_address: Ipv4Addr::LOCALHOST
        }]
    );
    assert!(c1.registered());
    // Old clients register with an empty datagram; re-registering does not duplicate.
    let mut out = Vec::new();
    repeater.recv(&[], c2_addr, &mut out).unwrap();
    repeater.recv(&register, client_addr(), &mut out).unwrap();
    assert_eq!(repeater.clients(), [client_addr(), c2_addr]);

    // A beacon is fanned out to every client but its sender.
    let mut server = Broadcaster::new(Role::Server, server_udp());
    let mut beacon = Vec::new();
    server
        .beacon(5064, Ipv4Addr::LOCALHOST, repeater_addr, &mut beacon)
        .unwrap();
    assert_eq!(
        repeater.recv(&beacon, server_udp(), &mut out).unwrap(),
        RepeaterAction::FanOut {
            targets: vec![client_addr(), c2_addr]
        }
    );
    assert_eq!(
        repeater.recv(&beacon, c2_addr, &mut out).unwrap(),
        RepeaterAction::FanOut {
            targets: vec![client_addr()]
        }
    );
    assert!(repeater.unregister(c2_addr));
    assert!(repeater.recv(&[1, 2, 3], c2_addr, &mut out).is_err());
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
