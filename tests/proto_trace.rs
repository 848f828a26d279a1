//! The logging contract: exactly one DEBUG record per command sent or
//! received by the circuit and broadcaster state machines, with the agreed
//! target and fields. (One test in this file: tracing's callsite cache is
//! process-wide.)

mod common;

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Instant;

use caproto::proto::broadcaster::{Broadcaster, Event, Repeater};
use caproto::proto::circuit::{IoReply, VirtualCircuit};
use caproto::proto::dbr::DbrType;
use caproto::proto::header::Header;
use caproto::proto::{command::Command, Role, DEFAULT_MAX_ARRAY_BYTES};
use common::capture::Capture;
use tracing_subscriber::layer::SubscriberExt;

#[test]
fn one_record_per_command_with_contract_fields() {
    let capture = Capture::default();
    let subscriber = tracing_subscriber::registry().with(capture.clone());
    let client_addr: SocketAddr = "127.0.0.1:40000".parse().unwrap();
    let server_addr: SocketAddr = "127.0.0.1:5064".parse().unwrap();

    tracing::subscriber::with_default(subscriber, || {
        // --- TCP ---
        let mut client = VirtualCircuit::new(
            Role::Client,
            client_addr,
            server_addr,
            0,
            DEFAULT_MAX_ARRAY_BYTES,
        );
        let mut server = VirtualCircuit::new(
            Role::Server,
            server_addr,
            client_addr,
            0,
            DEFAULT_MAX_ARRAY_BYTES,
        );
        let mut wire = Vec::new();
        let version = Command::VersionRequest {
            priority: 0,
            version: 13,
            sequence: 0,
        };
        let create = Command::CreateChanRequest {
            name: "test:ai".into(),
            cid: 1,
            version: 13,
        };
        let n_version = client.send(&version, &mut wire).unwrap();
        client.send(&create, &mut wire).unwrap();
        server.recv(&wire);
        while let Some(cmd) = server.next_command() {
            cmd.unwrap();
        }
        let mut back = Vec::new();
        let created = Command::CreateChanResponse {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            cid: 1,
            sid: 9,
        };
        server.send(&created, &mut back).unwrap();
        client.recv(&back);
        client.next_command().unwrap().unwrap();

        let records = capture.take();
        assert_eq!(
            records.len(),
            6,
            "2 sent, 2 received, 1 sent, 1 received: {records:#?}"
        );
        for r in &records {
            assert_eq!(r.target, "caproto::circ");
            assert_eq!(r.level, tracing::Level::DEBUG);
            assert!(r.get("command").is_some());
        }
        let sent_version = &records[0];
        assert_eq!(sent_version.get("direction"), Some("send"));
        assert_eq!(sent_version.get("role"), Some("client"));
        assert_eq!(sent_version.get("our_addr"), Some("127.0.0.1:40000"));
        assert_eq!(sent_version.get("their_addr"), Some("127.0.0.1:5064"));
        assert_eq!(
            sent_version.get("bytes"),
            Some(n_version.to_string().as_str())
        );
        assert_eq!(
            sent_version.get("pv"),
            None,
            "no pv for circuit-level commands"
        );
        assert_eq!(records[1].get("pv"), Some("test:ai"));
        // Received on the server side: the roles and addresses flip.
        let got_create = &records[3];
        assert_eq!(got_create.get("direction"), Some("recv"));
        assert_eq!(got_create.get("role"), Some("server"));
        assert_eq!(got_create.get("our_addr"), Some("127.0.0.1:5064"));
        assert_eq!(got_create.get("pv"), Some("test:ai"));
        assert_eq!(records[2].get("pv"), None);
        // The response carries the pv (looked up by cid) on both sides.
        assert_eq!(records[4].get("direction"), Some("send"));
        assert_eq!(records[4].get("pv"), Some("test:ai"));
        assert_eq!(records[5].get("direction"), Some("recv"));
        assert_eq!(records[5].get("role"), Some("client"));
        assert_eq!(records[5].get("pv"), Some("test:ai"));

        // The server's fast path for reads and writes records what the
        // general path would: the request received, the reply sent, with the
        // pv, the wire size and the command as decoded.
        let read = Command::ReadNotifyRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid: 9,
            ioid: 5,
        };
        let mut wire = Vec::new();
        client.send(&read, &mut wire).unwrap();
        capture.take();
        server.recv(&wire);
        let req = server
            .next_io_request()
            .expect("a read on a connected channel");
        let mut out = Vec::new();
        let n = server.reply_io(&req, &mut out, |out| {
            out.extend_from_slice(&2.5f64.to_be_bytes());
            IoReply {
                status: 1,
                data_count: 1,
            }
        });
        let records = capture.take();
        assert_eq!(records.len(), 2, "one per message: {records:#?}");
        let (got, sent) = (&records[0], &records[1]);
        assert_eq!(got.get("direction"), Some("recv"));
        assert_eq!(got.get("role"), Some("server"));
        assert_eq!(got.get("pv"), Some("test:ai"));
        assert_eq!(got.get("bytes"), Some("16"));
        assert_eq!(got.get("command"), Some(read.to_string().as_str()));
        let reply = Command::ReadNotifyResponse {
            data: 2.5f64.to_be_bytes().to_vec(),
            data_type: DbrType::DOUBLE,
            data_count: 1,
            status: 1,
            ioid: 5,
        };
        assert_eq!(out, reply.to_bytes().unwrap());
        assert_eq!(sent.get("direction"), Some("send"));
        assert_eq!(sent.get("pv"), Some("test:ai"));
        assert_eq!(sent.get("bytes"), Some(n.to_string().as_str()));
        assert_eq!(sent.get("command"), Some(reply.to_string().as_str()));

        // A refused send emits nothing.
        let bad = Command::ReadNotifyRequest {
            data_type: DbrType::DOUBLE,
            data_count: 1,
            sid: 1234,
            ioid: 1,
        };
        assert!(client.send(&bad, &mut Vec::new()).is_err());
        assert!(capture.take().is_empty());

        // --- UDP ---
        let mut searcher = Broadcaster::new(Role::Client, client_addr);
        let mut responder = Broadcaster::new(Role::Server, server_addr);
        searcher.add_search(1, "test:ai").unwrap();
        let mut dgram = Vec::new();
        searcher
            .fill_search_datagram(&[1], false, server_addr, &mut dgram)
            .unwrap();
        let mut events = Vec::new();
        responder
            .recv(&dgram, client_addr, Instant::now(), &mut events)
            .unwrap();
        let mut reply = Vec::new();
        responder
            .send(
                &Command::VersionResponse {
                    version: 13,
                    sequence: Some(0),
                },
                client_addr,
                &mut reply,
            )
            .unwrap();
        responder
            .send(
                &Command::SearchResponse {
                    port: 5064,
                    ip: None,
                    cid: 1,
                    version: 13,
                },
                client_addr,
                &mut reply,
            )
            .unwrap();
        let mut beacon = Vec::new();
        responder
            .beacon(5064, "127.0.0.1".parse().unwrap(), client_addr, &mut beacon)
            .unwrap();
        let mut found = Vec::new();
        searcher
            .recv(&reply, server_addr, Instant::now(), &mut found)
            .unwrap();
        searcher
            .recv(&beacon, server_addr, Instant::now(), &mut found)
            .unwrap();
        assert!(matches!(found[0], Event::Found { .. }));

        let records = capture.take();
        let targets: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r.target.as_str(), r.get("direction").unwrap()))
            .collect();
        assert_eq!(
            targets,
            [
                ("caproto::bcast", "send"),         // VersionRequest
                ("caproto::bcast::search", "send"), // SearchRequest
                ("caproto::bcast", "recv"),
                ("caproto::bcast::search", "recv"),
                ("caproto::bcast", "send"), // VersionResponse
                ("caproto::bcast::search", "send"),
                ("caproto::bcast::beacon", "send"),
                ("caproto::bcast", "recv"),
                ("caproto::bcast::search", "recv"),
                ("caproto::bcast::beacon", "recv"),
            ]
        );
        assert_eq!(records[1].get("pv"), Some("test:ai"));
        assert_eq!(records[3].get("pv"), Some("test:ai"));
        assert_eq!(records[3].get("role"), Some("server"));
        assert_eq!(records[8].get("pv"), Some("test:ai"), "matched by cid");
        assert_eq!(records[9].get("pv"), None);
        for r in &records {
            assert!(r.get("bytes").is_some() && r.get("command").is_some());
            assert!(r.get("our_addr").is_some() && r.get("their_addr").is_some());
        }

        // --- Repeater: every message received, and every copy sent ---
        let repeater_addr: SocketAddr = "127.0.0.1:5065".parse().unwrap();
        let other: SocketAddr = "127.0.0.1:40001".parse().unwrap();
        let mut repeater = Repeater::new(repeater_addr);
        let local = |_: IpAddr| true;
        let mut out = Vec::new();
        let mut register = Vec::new();
        searcher
            .register_with_repeater(repeater_addr, &mut register)
            .unwrap();
        repeater
            .recv(&register, client_addr, &local, &mut out)
            .unwrap();
        repeater.recv(&[], other, &local, &mut out).unwrap();
        let mut dgram = Vec::new();
        responder
            .beacon(5064, Ipv4Addr::UNSPECIFIED, repeater_addr, &mut dgram)
            .unwrap();
        Header {
            command: 99,
            ..Header::default()
        }
        .encode(&mut dgram);
        capture.take();
        repeater
            .recv(&dgram, server_addr, &local, &mut out)
            .unwrap();
        let records = capture.take();
        let seen: Vec<(&str, &str, &str, &str)> = records
            .iter()
            .map(|r| {
                (
                    r.target.as_str(),
                    r.get("direction").unwrap(),
                    r.get("their_addr").unwrap(),
                    r.get("command").unwrap(),
                )
            })
            .collect();
        let beacon = |address: &str| {
            format!("Beacon(version=13, server_port=5064, beacon_id=1, address='{address}')")
        };
        let odd = "Undecoded(command=99, payload_size=0, data_type=0, data_count=0, \
                   parameter1=0, parameter2=0)";
        let (recv_beacon, sent_beacon) = (beacon("0.0.0.0"), beacon("127.0.0.1"));
        assert_eq!(
            seen,
            [
                (
                    "caproto::bcast::beacon",
                    "recv",
                    "127.0.0.1:5064",
                    recv_beacon.as_str()
                ),
                ("caproto::bcast", "recv", "127.0.0.1:5064", odd),
                (
                    "caproto::bcast::beacon",
                    "send",
                    "127.0.0.1:40000",
                    sent_beacon.as_str()
                ),
                ("caproto::bcast", "send", "127.0.0.1:40000", odd),
                (
                    "caproto::bcast::beacon",
                    "send",
                    "127.0.0.1:40001",
                    sent_beacon.as_str()
                ),
                ("caproto::bcast", "send", "127.0.0.1:40001", odd),
            ]
        );
        for r in &records {
            assert_eq!(r.get("role"), Some("server"));
            assert_eq!(r.get("our_addr"), Some("127.0.0.1:5065"));
            assert_eq!(r.get("bytes"), Some("16"));
        }
    });
}
