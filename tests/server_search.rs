//! The server's UDP search replies, checked at the byte level from a raw
//! socket on loopback: the reply datagram opens with a VERSION that echoes
//! the search sequence number EPICS clients send (libca paces its search
//! passes on it), and answers each known name with its cid.

mod common;

use std::net::SocketAddr;
use std::time::Duration;

use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};
use common::inproc::server_config;
use common::raw::{header, padded};
use tokio::net::UdpSocket;
use tokio::sync::oneshot;

/// Hang guard for one reply (not a timing assertion).
const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// An EPICS-style search datagram: VERSION with `sequenceNoIsValid` (data
/// type 1) and the pass number in parameter1, then one SEARCH per name.
fn search_datagram(sequence: u32, names: &[(&str, u32)]) -> Vec<u8> {
    let mut d = header(0, 0, 1, 13, sequence, 0);
    for (name, cid) in names {
        let name = padded(name);
        d.extend(header(6, name.len() as u16, 5, 13, *cid, *cid));
        d.extend(name);
    }
    d
}

/// (command, data_type, parameter1, parameter2) of each command in a datagram.
fn commands(mut bytes: &[u8]) -> Vec<(u16, u16, u32, u32)> {
    let mut out = Vec::new();
    while bytes.len() >= 16 {
        let u16_at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let u32_at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        out.push((u16_at(0), u16_at(4), u32_at(8), u32_at(12)));
        let size = 16 + usize::from(u16_at(2));
        bytes = &bytes[size.min(bytes.len())..];
    }
    out
}

async fn start() -> (SocketAddr, oneshot::Sender<()>) {
    let mut group = PvGroup::new("seq:");
    group.add(Pv::new("a", 1.0));
    group.add(Pv::new("b", 2.0));
    let mut db = PvDatabase::new();
    db.add_group(group).unwrap();
    let config = ServerConfig {
        beacon_period: Duration::from_secs(15),
        ..server_config()
    };
    let server = Server::bind(db, config).await.unwrap();
    let udp = server.udp_addrs()[0];
    let (stop, stopped) = oneshot::channel::<()>();
    tokio::spawn(server.run_until(async {
        let _ = stopped.await;
    }));
    (udp, stop)
}

async fn ask(sock: &UdpSocket, to: SocketAddr, datagram: &[u8]) -> Vec<(u16, u16, u32, u32)> {
    sock.send_to(datagram, to).await.unwrap();
    let mut buf = [0u8; 2048];
    let (n, _) = tokio::time::timeout(REPLY_TIMEOUT, sock.recv_from(&mut buf))
        .await
        .expect("no search reply")
        .unwrap();
    commands(&buf[..n])
}

#[tokio::test]
async fn search_reply_echoes_the_sequence_number() {
    let (udp, _stop) = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    for sequence in [1u32, 2, 77, 0xDEAD_BEEF] {
        let reply = ask(
            &sock,
            udp,
            &search_datagram(
                sequence,
                &[("seq:a", 10), ("seq:nothere", 11), ("seq:b", 12)],
            ),
        )
        .await;
        assert_eq!(
            reply[0],
            (0, 1, sequence, 0),
            "VERSION must flag and echo sequence {sequence}: {reply:?}"
        );
        let answered: Vec<u32> = reply[1..]
            .iter()
            .filter(|c| c.0 == 6)
            .map(|c| c.3)
            .collect();
        assert_eq!(answered, [10, 12], "cids answered: {reply:?}");
    }
}

#[tokio::test]
async fn caproto_style_search_without_sequence_gets_zero() {
    let (udp, _stop) = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    // caproto heads its searches with VERSION(priority 0, parameter1 0).
    let mut d = header(0, 0, 0, 13, 0, 0);
    d.extend(search_datagram(0, &[("seq:a", 5)])[16..].iter());
    let reply = ask(&sock, udp, &d).await;
    assert_eq!(reply[0], (0, 1, 0, 0));
    assert_eq!(reply[1].0, 6);
    assert_eq!(reply[1].3, 5);
}
