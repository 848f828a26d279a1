//! A client and a server `VirtualCircuit` talking through byte buffers:
//! handshake, channel life cycle, I/O, subscriptions, refusals, framing.

use std::net::SocketAddr;

use caproto::proto::circuit::{
    ChannelState, CircuitError, CircuitState, IoKind, IoOp, IoReply, IoRequest, SubscriptionState,
    Violation, VirtualCircuit,
};
use caproto::proto::command::{mask, AccessRights};
use caproto::proto::dbr::DbrType;
use caproto::proto::header::Header;
use caproto::proto::{command::Command, Role, DEFAULT_MAX_ARRAY_BYTES};

fn client_addr() -> SocketAddr {
    "127.0.0.1:40000".parse().unwrap()
}

fn server_addr() -> SocketAddr {
    "127.0.0.1:5064".parse().unwrap()
}

fn pair() -> (VirtualCircuit, VirtualCircuit) {
    let client = VirtualCircuit::new(
        Role::Client,
        client_addr(),
        server_addr(),
        0,
        DEFAULT_MAX_ARRAY_BYTES,
    );
    let server = VirtualCircuit::new(
        Role::Server,
        server_addr(),
        client_addr(),
        0,
        DEFAULT_MAX_ARRAY_BYTES,
    );
    (client, server)
}

/// Send `cmds` through `from` in one batch and feed the bytes to `to` in
/// chunks of `chunk` bytes; return everything `to` produced.
fn transfer(
    from: &mut VirtualCircuit,
    to: &mut VirtualCircuit,
    cmds: &[Command],
    chunk: usize,
) -> Vec<Result<Command, CircuitError>> {
    let mut wire = Vec::new();
    for cmd in cmds {
        from.send(cmd, &mut wire).expect("send accepted");
    }
    let mut got = Vec::new();
    for piece in wire.chunks(chunk) {
        to.recv(piece);
        while let Some(item) = to.next_command() {
            got.push(item);
        }
    }
    assert_eq!(to.buffered(), 0, "all bytes consumed");
    got
}

/// Like [`transfer`] with one read, expecting every command accepted unchanged.
fn deliver(from: &mut VirtualCircuit, to: &mut VirtualCircuit, cmds: &[Command]) {
    let got = transfer(from, to, cmds, usize::MAX);
    let got: Vec<Command> = got.into_iter().map(|r| r.expect("accepted")).collect();
    assert_eq!(got, cmds);
}

const CID: u32 = 7;
const SID: u32 = 70;

fn handshake(client: &mut VirtualCircuit, server: &mut VirtualCircuit) {
    deliver(
        client,
        server,
        &[
            Command::VersionRequest {
                priority: 5,
                version: 13,
                sequence: 0,
            },
            Command::HostNameRequest {
                name: "host".into(),
            },
            Command::ClientNameRequest {
                name: "user".into(),
            },
        ],
    );
    assert_eq!(server.state(), CircuitState::VersionRequested);
    assert_eq!(server.priority(), 5);
    assert_eq!(server.client_hostname(), Some("host"));
    assert_eq!(server.client_username(), Some("user"));
    deliver(
        server,
        client,
        &[Command::VersionResponse {
            version: 13,
            sequence: None,
        }],
    );
    assert_eq!(client.state(), CircuitState::Connected);
    assert_eq!(server.state(), CircuitState::Connected);
}

fn connect_channel(client: &mut VirtualCircuit, server: &mut VirtualCircuit) {
    deliver(
        client,
        server,
        &[Command::CreateChanRequest {
            name: "test:ai".into(),
            cid: CID,
            version: 13,
        }],
    );
    assert_eq!(
        server.channel(CID).map(|c| c.state),
        Some(ChannelState::CreateRequested)
    );
    assert_eq!(
        client.channel(CID).map(|c| &*c.name),
        Some("test:ai"),
        "client knows the name too"
    );
    deliver(
        server,
        client,
        &[
            Command::AccessRightsResponse {
                cid: CID,
                access_rights: AccessRights::READ_WRITE,
            },
            Command::CreateChanResponse {
                data_type: DbrType::DOUBLE,
                data_count: 1,
                cid: CID,
                sid: SID,
            },
        ],
    );
    for circuit in [&*client, &*server] {
        let chan = circuit.channel_by_sid(SID).expect("indexed by sid");
        assert_eq!(chan.cid, CID);
        assert_eq!(chan.state, ChannelState::Connected);
        assert_eq!(chan.native_type, Some(DbrType::DOUBLE));
        assert_eq!(chan.access_rights, Some(AccessRights::READ_WRITE));
    }
}

fn connected_pair() -> (VirtualCircuit, VirtualCircuit) {
    let (mut client, mut server) = pair();
    handshake(&mut client, &mut server);
    connect_channel(&mut client, &mut server);
    (client, server)
}

fn read_request(ioid: u32) -> Command {
    Command::ReadNotifyRequest {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        ioid,
    }
}

fn read_response(ioid: u32) -> Command {
    Command::ReadNotifyResponse {
        data: 1.5f64.to_be_bytes().to_vec(),
        data_type: DbrType::DOUBLE,
        data_count: 1,
        status: 1,
        ioid,
    }
}

fn event_add(subscriptionid: u32) -> Command {
    Command::EventAddRequest {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        subscriptionid,
        low: 0.0,
        high: 0.0,
        to: 0.0,
        mask: mask::VALUE | mask::ALARM,
    }
}

fn event(subscriptionid: u32, value: f64) -> Command {
    Command::EventAddResponse {
        data: value.to_be_bytes().to_vec(),
        data_type: DbrType::DOUBLE,
        data_count: 1,
        status: 1,
        subscriptionid,
    }
}

fn local(err: CircuitError) -> Violation {
    match err {
        CircuitError::Local(v) => v,
        other => panic!("expected a local refusal, got {other:?}"),
    }
}

#[test]
fn read_and_write_notify_round_trip() {
    let (mut client, mut server) = connected_pair();
    deliver(&mut client, &mut server, &[read_request(1)]);
    assert_eq!(server.pending_io(1).map(|p| p.kind), Some(IoKind::Read));
    deliver(&mut server, &mut client, &[read_response(1)]);
    assert!(server.pending_io(1).is_none());
    assert!(client.pending_io(1).is_none());

    let write = Command::WriteNotifyRequest {
        data: 2.5f64.to_be_bytes().to_vec(),
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        ioid: 2,
    };
    deliver(&mut client, &mut server, &[write]);
    assert_eq!(client.pending_io(2).map(|p| p.kind), Some(IoKind::Write));
    // A write's ioid cannot be answered with a read response.
    let mut out = Vec::new();
    assert_eq!(
        local(server.send(&read_response(2), &mut out).unwrap_err()),
        Violation::UnknownIoid(2)
    );
    assert!(out.is_empty(), "a refused send writes nothing");
    deliver(
        &mut server,
        &mut client,
        &[Command::WriteNotifyResponse {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            status: 1,
            ioid: 2,
        }],
    );
    assert!(client.pending_io(2).is_none());
}

#[test]
fn subscribe_update_cancel() {
    let (mut client, mut server) = connected_pair();
    deliver(&mut client, &mut server, &[event_add(3)]);
    deliver(&mut server, &mut client, &[event(3, 1.0), event(3, 2.0)]);
    deliver(
        &mut client,
        &mut server,
        &[Command::EventCancelRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid: SID,
            subscriptionid: 3,
        }],
    );
    assert_eq!(
        client.subscription(3).map(|s| s.state),
        Some(SubscriptionState::CancelRequested)
    );
    // Updates already in flight are still accepted while the cancel is pending.
    deliver(&mut server, &mut client, &[event(3, 3.0)]);
    let cancel = Command::EventCancelResponse {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        subscriptionid: 3,
    };
    deliver(&mut server, &mut client, &[cancel]);
    assert!(client.subscription(3).is_none());
    assert!(server.subscription(3).is_none());
    // Cancelling again is refused.
    let mut out = Vec::new();
    let again = Command::EventCancelRequest {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        subscriptionid: 3,
    };
    assert_eq!(
        local(client.send(&again, &mut out).unwrap_err()),
        Violation::UnknownSubscription(3)
    );
}

#[test]
fn clear_channel_drops_its_state() {
    let (mut client, mut server) = connected_pair();
    deliver(&mut client, &mut server, &[event_add(4), read_request(9)]);
    deliver(
        &mut client,
        &mut server,
        &[Command::ClearChannelRequest { sid: SID, cid: CID }],
    );
    assert_eq!(
        client.channel(CID).map(|c| c.state),
        Some(ChannelState::ClearRequested)
    );
    // No new requests on a channel being cleared...
    let mut out = Vec::new();
    assert_eq!(
        local(client.send(&read_request(10), &mut out).unwrap_err()),
        Violation::BadChannelState {
            cid: CID,
            state: ChannelState::ClearRequested
        }
    );
    // ...but responses in flight still arrive.
    deliver(&mut server, &mut client, &[read_response(9), event(4, 1.0)]);
    deliver(
        &mut server,
        &mut client,
        &[Command::ClearChannelResponse { sid: SID, cid: CID }],
    );
    for circuit in [&client, &server] {
        assert!(circuit.channel(CID).is_none());
        assert!(circuit.channel_by_sid(SID).is_none());
        assert!(circuit.subscription(4).is_none());
        assert_eq!(circuit.channels().count(), 0);
    }
    assert_eq!(
        local(client.send(&read_request(11), &mut out).unwrap_err()),
        Violation::UnknownSid(SID)
    );
}

#[test]
fn create_failure_and_server_disconnect() {
    let (mut client, mut server) = pair();
    handshake(&mut client, &mut server);
    let create = |cid| Command::CreateChanRequest {
        name: format!("pv{cid}"),
        cid,
        version: 13,
    };
    deliver(&mut client, &mut server, &[create(1), create(2)]);
    deliver(
        &mut server,
        &mut client,
        &[Command::CreateChFailResponse { cid: 1 }],
    );
    assert!(client.channel(1).is_none());
    deliver(
        &mut server,
        &mut client,
        &[Command::CreateChanResponse {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            cid: 2,
            sid: 20,
        }],
    );
    deliver(
        &mut server,
        &mut client,
        &[Command::ServerDisconnResponse { cid: 2 }],
    );
    assert!(client.channel(2).is_none() && server.channel(2).is_none());
}

#[test]
fn error_response_settles_the_failed_request() {
    let (mut client, mut server) = connected_pair();
    let mut wire = Vec::new();
    client.send(&read_request(5), &mut wire).unwrap();
    server.recv(&wire);
    let _ = server.next_command().unwrap().unwrap();
    let (original_request, _) = Header::decode(&wire).unwrap();
    let error = Command::ErrorResponse {
        original_request,
        cid: CID,
        status: 0x10a, // any ECA code
        error_message: "no read access".into(),
    };
    deliver(&mut server, &mut client, &[error]);
    assert!(client.pending_io(5).is_none());
    assert!(server.pending_io(5).is_none());
    // The ioid is free again.
    deliver(&mut client, &mut server, &[read_request(5)]);
}

#[test]
fn one_byte_at_a_time_and_many_per_read() {
    let (mut client, mut server) = connected_pair();
    let requests: Vec<Command> = (100..120).map(read_request).collect();
    for (chunk, expect) in [(1, &requests[..10]), (usize::MAX, &requests[10..])] {
        let got = transfer(&mut client, &mut server, expect, chunk);
        let got: Vec<Command> = got.into_iter().map(Result::unwrap).collect();
        assert_eq!(got, expect);
    }
    // Each response carries its own value, so a reordered, duplicated or
    // corrupted response cannot pass as another.
    let responses: Vec<Command> = (100..120u32)
        .map(|ioid| Command::ReadNotifyResponse {
            data: (f64::from(ioid) * 0.5).to_be_bytes().to_vec(),
            data_type: DbrType::DOUBLE,
            data_count: 1,
            status: 1,
            ioid,
        })
        .collect();
    for ioid in 100..120 {
        assert!(client.pending_io(ioid).is_some(), "read {ioid} pending");
    }
    let got = transfer(&mut server, &mut client, &responses, 3);
    let got: Vec<Command> = got
        .into_iter()
        .map(|r| r.expect("response accepted"))
        .collect();
    assert_eq!(got, responses);
    for ioid in 100..120 {
        assert!(client.pending_io(ioid).is_none(), "read {ioid} settled");
    }
    assert_eq!(client.channels().count(), 1);
}

#[test]
fn commands_before_version_are_refused() {
    let (mut client, mut server) = pair();
    let create = Command::CreateChanRequest {
        name: "x".into(),
        cid: 1,
        version: 13,
    };
    let mut out = Vec::new();
    assert_eq!(
        local(client.send(&create, &mut out).unwrap_err()),
        Violation::BeforeVersion
    );
    // RSRV's unprompted VersionResponse is fine before our VersionRequest.
    deliver(
        &mut server,
        &mut client,
        &[Command::VersionResponse {
            version: 13,
            sequence: None,
        }],
    );
    assert_eq!(client.state(), CircuitState::Initial);
    // A client that skips the version exchange is refused by the server, which keeps going.
    let mut raw = VirtualCircuit::new(
        Role::Client,
        client_addr(),
        server_addr(),
        0,
        DEFAULT_MAX_ARRAY_BYTES,
    );
    raw.send(
        &Command::VersionRequest {
            priority: 0,
            version: 13,
            sequence: 0,
        },
        &mut Vec::new(),
    )
    .unwrap();
    let mut wire = Vec::new();
    raw.send(&create, &mut wire).unwrap();
    server.recv(&wire);
    match server.next_command() {
        Some(Err(CircuitError::Remote(refused))) => {
            assert_eq!(refused.violation, Violation::BeforeVersion);
            assert_eq!(refused.command, create);
            assert_eq!(refused.header.parameter1, 1);
        }
        other => panic!("expected a remote refusal, got {other:?}"),
    }
    assert!(server.next_command().is_none());
    assert_ne!(server.state(), CircuitState::Disconnected);
}

#[test]
fn illegal_transitions_are_typed_errors() {
    let (mut client, mut server) = connected_pair();
    let mut out = Vec::new();
    // Wrong role.
    assert_eq!(
        local(client.send(&read_response(1), &mut out).unwrap_err()),
        Violation::WrongSender {
            sender: Role::Server
        }
    );
    // UDP-only command on a circuit.
    let beacon = Command::Beacon {
        version: 13,
        server_port: 5064,
        beacon_id: 0,
        address: "127.0.0.1".parse().unwrap(),
    };
    assert_eq!(
        local(server.send(&beacon, &mut out).unwrap_err()),
        Violation::NotOnCircuit
    );
    // Duplicate cid.
    let dup = Command::CreateChanRequest {
        name: "other".into(),
        cid: CID,
        version: 13,
    };
    assert_eq!(
        local(client.send(&dup, &mut out).unwrap_err()),
        Violation::DuplicateCid(CID)
    );
    // Read on an unconnected channel (created, no response yet).
    client
        .send(
            &Command::CreateChanRequest {
                name: "pending".into(),
                cid: 8,
                version: 13,
            },
            &mut out,
        )
        .unwrap();
    assert_eq!(
        local(
            client
                .send(&read_request(1).with_sid(99), &mut Vec::new())
                .unwrap_err()
        ),
        Violation::UnknownSid(99)
    );
    // Duplicate ioid while pending.
    client.send(&read_request(1), &mut Vec::new()).unwrap();
    assert_eq!(
        local(client.send(&read_request(1), &mut Vec::new()).unwrap_err()),
        Violation::DuplicateIoid(1)
    );
    // Response for an unknown ioid.
    assert_eq!(
        local(
            server
                .send(&read_response(42), &mut Vec::new())
                .unwrap_err()
        ),
        Violation::UnknownIoid(42)
    );
    // Update for an unknown subscription.
    assert_eq!(
        local(server.send(&event(5, 1.0), &mut Vec::new()).unwrap_err()),
        Violation::UnknownSubscription(5)
    );
    // Priority cannot change.
    assert_eq!(
        local(
            client
                .send(
                    &Command::VersionRequest {
                        priority: 9,
                        version: 13,
                        sequence: 0,
                    },
                    &mut Vec::new()
                )
                .unwrap_err()
        ),
        Violation::PriorityMismatch {
            current: 5,
            requested: 9
        }
    );
    // ...but a peer's later VERSION with another priority is accepted, as
    // RSRV does: EPICS clients put the "sequence valid" flag (1) there in
    // the VERSION heading each batch of searches sent to a TCP name server.
    let later_version = Command::VersionRequest {
        priority: 1,
        version: 13,
        sequence: 0,
    };
    let mut wire = Vec::new();
    let mut peer = VirtualCircuit::new(
        Role::Client,
        client_addr(),
        server_addr(),
        1,
        DEFAULT_MAX_ARRAY_BYTES,
    );
    peer.send(&later_version, &mut wire).unwrap();
    server.recv(&wire);
    assert_eq!(
        server.next_command().map(|r| r.expect("accepted")),
        Some(later_version)
    );
    assert_eq!(server.priority(), 5);
    // The server refuses a response to an ioid nobody asked for, as received bytes too.
    let mut rogue = VirtualCircuit::new(
        Role::Server,
        server_addr(),
        client_addr(),
        0,
        DEFAULT_MAX_ARRAY_BYTES,
    );
    let mut wire = Vec::new();
    rogue
        .send(
            &Command::VersionResponse {
                version: 13,
                sequence: None,
            },
            &mut wire,
        )
        .unwrap();
    client.recv(&wire);
    assert!(client.next_command().unwrap().is_ok());
    let mut wire = Vec::new();
    read_response(77).encode(&mut wire).unwrap();
    client.recv(&wire);
    match client.next_command() {
        Some(Err(e @ CircuitError::Remote(_))) => {
            assert!(!e.is_fatal());
            assert_eq!(e.violation(), Some(&Violation::UnknownIoid(77)));
        }
        other => panic!("expected refusal, got {other:?}"),
    }
}

#[test]
fn oversized_payload_is_refused_without_buffering() {
    let (mut client, mut server) = connected_pair();
    let header = Header {
        command: caproto::proto::command::id::WRITE_NOTIFY,
        payload_size: 100_000_000,
        data_type: 6,
        data_count: 12_500_000,
        parameter1: SID,
        parameter2: 1,
    };
    let mut wire = Vec::new();
    header.encode(&mut wire);
    server.recv(&wire);
    match server.next_command() {
        Some(Err(e @ CircuitError::PayloadTooLarge { .. })) => assert!(e.is_fatal()),
        other => panic!("expected PayloadTooLarge, got {other:?}"),
    }
    assert_eq!(server.state(), CircuitState::Disconnected);
    server.recv(&[0; 64]);
    assert_eq!(server.buffered(), 0, "nothing buffered after a fatal error");
    assert!(server.next_command().is_none());
    // The client also refuses to buffer such a response.
    let big = Header {
        command: caproto::proto::command::id::READ_NOTIFY,
        payload_size: (DEFAULT_MAX_ARRAY_BYTES * 2) as u32,
        ..Header::default()
    };
    let mut wire = Vec::new();
    big.encode(&mut wire);
    client.recv(&wire);
    assert!(matches!(
        client.next_command(),
        Some(Err(CircuitError::PayloadTooLarge { .. }))
    ));
}

#[test]
fn disconnect_closes_everything() {
    let (mut client, _server) = connected_pair();
    client.disconnect();
    assert_eq!(client.state(), CircuitState::Disconnected);
    assert_eq!(client.channels().count(), 0);
    assert_eq!(
        local(client.send(&read_request(1), &mut Vec::new()).unwrap_err()),
        Violation::Disconnected
    );
}

#[test]
fn id_allocation_skips_ids_in_use() {
    let (mut client, _server) = connected_pair();
    let ids: Vec<u32> = (0..10).map(|_| client.new_channel_id()).collect();
    assert!(!ids.contains(&CID), "cid {CID} is in use");
    assert!(!ids.contains(&0));
    let a = client.new_ioid();
    let b = client.new_ioid();
    assert_ne!(a, b);
    assert_ne!(client.new_subscription_id(), 0);
}

/// Server role: arbitrary bytes never panic and never grow the buffer past
/// one maximum command plus one read.
#[test]
fn server_survives_garbage() {
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..200 {
        let (_, mut server) = pair();
        for _ in 0..20 {
            let len = (next() % 64) as usize;
            let mut bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            // Bias towards plausible headers: small command ids.
            if let Some(b) = bytes.get_mut(1) {
                *b %= 30;
            }
            if let Some(b) = bytes.get_mut(0) {
                *b = 0;
            }
            server.recv(&bytes);
            while let Some(item) = server.next_command() {
                if matches!(item, Err(ref e) if e.is_fatal()) {
                    break;
                }
            }
            assert!(server.buffered() <= server.max_payload() + 24 + 64);
        }
    }
}

trait WithSid {
    fn with_sid(self, sid: u32) -> Self;
}

impl WithSid for Command {
    fn with_sid(mut self, new: u32) -> Self {
        if let Command::ReadNotifyRequest { sid, .. } = &mut self {
            *sid = new;
        }
        self
    }
}

/// Servers confirm a cancel with an empty EVENT_ADD; however the codec types
/// it, the circuit hands it out as an `EventCancelResponse`.
#[test]
fn empty_event_add_confirms_cancel() {
    let (mut client, mut server) = connected_pair();
    deliver(&mut client, &mut server, &[event_add(6)]);
    let cancel = Command::EventCancelRequest {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        subscriptionid: 6,
    };
    deliver(&mut client, &mut server, &[cancel]);
    let raw = Header {
        command: caproto::proto::command::id::EVENT_ADD,
        payload_size: 0,
        data_type: DbrType::DOUBLE.code(),
        data_count: 0,
        parameter1: SID,
        parameter2: 6,
    };
    let mut wire = Vec::new();
    raw.encode(&mut wire);
    client.recv(&wire);
    assert_eq!(
        client.next_command().unwrap().unwrap(),
        Command::EventCancelResponse {
            data_type: DbrType::DOUBLE,
            data_count: 0,
            sid: SID,
            subscriptionid: 6
        }
    );
    assert!(client.subscription(6).is_none());
    // A late one (RSRV sends them after clearing) is tolerated.
    client.recv(&wire);
    assert!(client.next_command().unwrap().is_ok());
}

/// The server's fast path (`next_io_request` / `io_payload` / `reply_io`)
/// takes the reads and writes `next_command` would accept, lends a write's
/// payload, and writes replies byte for byte as the codec encodes them
/// (the extended header included), which the client circuit accepts.
/// Anything else is left for `next_command` to handle or refuse.
#[test]
fn server_fast_path_answers_reads_and_writes_in_place() {
    let (mut client, mut server) = connected_pair();
    let value = 1.5f64.to_be_bytes().to_vec();
    let write = Command::WriteNotifyRequest {
        data: value.clone(),
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        ioid: 1,
    };
    let plain_write = Command::WriteRequest {
        data: value.clone(),
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: SID,
        ioid: 0,
    };
    let mut wire = Vec::new();
    for cmd in [&write, &read_request(2), &plain_write, &event_add(3)] {
        client.send(cmd, &mut wire).unwrap();
    }
    // A read on a sid the server never gave out (the client circuit would
    // refuse to send it, so it is encoded by hand).
    Command::ReadNotifyRequest {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        sid: 999,
        ioid: 4,
    }
    .encode(&mut wire)
    .unwrap();
    // Split mid-message: the fast path waits for the whole message too.
    server.recv(&wire[..30]);
    let w = server.next_io_request().expect("the write-notify");
    assert_eq!(
        (w.op, w.sid, w.ioid, w.data_count),
        (IoOp::WriteNotify, SID, 1, 1)
    );
    assert_eq!(server.io_payload(), value.as_slice());
    assert_eq!(server.next_io_request(), None, "the read is incomplete");
    assert!(server.next_command().is_none());
    server.recv(&wire[30..]);
    assert!(
        server.io_payload().is_empty(),
        "lent only until the next call"
    );

    let mut out = Vec::new();
    let n = server.reply_io(&w, &mut out, |_| IoReply {
        status: 1,
        data_count: 1,
    });
    let write_reply = Command::WriteNotifyResponse {
        data_type: DbrType::DOUBLE,
        data_count: 1,
        status: 1,
        ioid: 1,
    };
    assert_eq!(out, write_reply.to_bytes().unwrap());
    assert_eq!(n, out.len());

    let r = server.next_io_request().expect("the read");
    assert_eq!((r.op, r.ioid), (IoOp::ReadNotify, 2));
    server.reply_io(&r, &mut out, |out| {
        out.extend_from_slice(&1.5f64.to_be_bytes());
        IoReply {
            status: 1,
            data_count: 1,
        }
    });
    client.recv(&out);
    assert_eq!(client.next_command().unwrap().unwrap(), write_reply);
    assert_eq!(client.next_command().unwrap().unwrap(), read_response(2));
    assert_eq!(client.pending_io(1), None);
    assert_eq!(client.pending_io(2), None);

    let p = server.next_io_request().expect("the plain write");
    assert_eq!(p.op, IoOp::Write);
    let mut none = Vec::new();
    assert_eq!(server.reply_io(&p, &mut none, |_| unreachable!()), 0);
    assert!(none.is_empty(), "a WRITE has no reply");

    assert_eq!(server.next_io_request(), None, "EVENT_ADD is not I/O");
    assert_eq!(server.next_command().unwrap().unwrap(), event_add(3));
    assert_eq!(server.next_io_request(), None, "sid 999 is not connected");
    match server.next_command() {
        Some(Err(CircuitError::Remote(refused))) => {
            assert_eq!(refused.violation, Violation::UnknownSid(999))
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(server.buffered(), 0);

    // Reply sizes that need the extended header get it, as the codec writes it.
    let big = IoRequest {
        op: IoOp::ReadNotify,
        header: Header::default(),
        data_type: DbrType::plain(caproto::proto::dbr::NativeType::Char),
        data_count: 70_000,
        sid: SID,
        ioid: 9,
    };
    let mut out = Vec::new();
    server.reply_io(&big, &mut out, |out| {
        out.resize(out.len() + 70_000, 7);
        IoReply {
            status: 1,
            data_count: 70_000,
        }
    });
    let expected = Command::ReadNotifyResponse {
        data: vec![7; 70_000],
        data_type: big.data_type,
        data_count: 70_000,
        status: 1,
        ioid: 9,
    };
    assert_eq!(out, expected.to_bytes().unwrap());
    assert_eq!(out.len(), 24 + 70_000);
}

/// Before the version handshake, the fast path takes nothing: the general
/// path refuses the read as it always did.
#[test]
fn server_fast_path_waits_for_the_version_handshake() {
    let (_, mut server) = pair();
    server.recv(&read_request(1).to_bytes().unwrap());
    assert_eq!(server.next_io_request(), None);
    match server.next_command() {
        Some(Err(CircuitError::Remote(refused))) => {
            assert_eq!(refused.violation, Violation::BeforeVersion)
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
}
