//! caproto-repeater's core on real loopback sockets (an ephemeral port per
//! test): registration is confirmed, beacons fan out with the sender's
//! address filled in, a client's own datagrams are not echoed back to it,
//! malformed datagrams are survived, and clients that went away are pruned.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use caproto::cli::repeater::{serve, RepeaterStats};
use caproto::proto::command::id;
use caproto::proto::header::Header;
use tokio::net::UdpSocket;

fn cmd(command: u16, p2: u32) -> Vec<u8> {
    let mut out = Vec::new();
    Header {
        command,
        parameter2: p2,
        ..Header::default()
    }
    .encode(&mut out);
    out
}

/// Receive one datagram; the timeout only guards against a hang.
async fn recv(sock: &UdpSocket) -> (Header, Vec<u8>) {
    let mut buf = vec![0; 2048];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), sock.recv_from(&mut buf))
        .await
        .expect("no datagram from the repeater")
        .unwrap();
    buf.truncate(n);
    (Header::decode(&buf).unwrap().0, buf)
}

async fn start() -> (
    SocketAddr,
    Arc<RepeaterStats>,
    tokio::sync::oneshot::Sender<()>,
) {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let addr = sock.local_addr().unwrap();
    let stats = Arc::new(RepeaterStats::default());
    let (tx, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(serve(sock, stats.clone(), async {
        let _ = rx.await;
    }));
    (addr, stats, tx)
}

async fn client(repeater: SocketAddr) -> UdpSocket {
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&cmd(id::REPEATER_REGISTER, 0), repeater)
        .await
        .unwrap();
    let (h, _) = recv(&sock).await;
    assert_eq!(h.command, id::REPEATER_CONFIRM);
    assert_eq!(h.parameter2, u32::from(std::net::Ipv4Addr::LOCALHOST));
    sock
}

#[tokio::test]
async fn beacons_fan_out_to_registered_clients() {
    let (rep, stats, _stop) = start().await;
    let a = client(rep).await;
    let b = client(rep).await;
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let mut beacon = Vec::new();
    Header {
        command: id::RSRV_IS_UP,
        data_type: 13,
        data_count: 5064,
        parameter1: 7,
        ..Header::default()
    }
    .encode(&mut beacon);
    server.send_to(&beacon, rep).await.unwrap();
    for sock in [&a, &b] {
        let (h, _) = recv(sock).await;
        assert_eq!(
            (h.command, h.data_count, h.parameter1),
            (id::RSRV_IS_UP, 5064, 7)
        );
        assert_eq!(h.parameter2, u32::from(std::net::Ipv4Addr::LOCALHOST));
    }
    // From a client: to the other client only. Then a malformed datagram,
    // then a marker beacon that must still arrive at both.
    a.send_to(&cmd(id::ECHO, 0), rep).await.unwrap();
    assert_eq!(recv(&b).await.0.command, id::ECHO);
    server.send_to(&[1, 2, 3], rep).await.unwrap();
    server
        .send_to(&cmd(id::RSRV_IS_UP, 0x0a00_0001), rep)
        .await
        .unwrap();
    for sock in [&a, &b] {
        let (h, _) = recv(sock).await;
        assert_eq!((h.command, h.parameter2), (id::RSRV_IS_UP, 0x0a00_0001));
    }
    assert_eq!(stats.clients.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn clients_that_went_away_are_pruned() {
    let (rep, stats, _stop) = start().await;
    let a = client(rep).await;
    let b = client(rep).await;
    drop(b);
    // A new registration makes the repeater probe the others.
    let c = client(rep).await;
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    server.send_to(&cmd(id::RSRV_IS_UP, 0), rep).await.unwrap();
    for sock in [&a, &c] {
        assert_eq!(recv(sock).await.0.command, id::RSRV_IS_UP);
    }
    assert_eq!(stats.clients.load(Ordering::Relaxed), 2);
}

#[tokio::test]
async fn old_style_empty_registration() {
    let (rep, stats, _stop) = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&[], rep).await.unwrap();
    assert_eq!(recv(&sock).await.0.command, id::REPEATER_CONFIRM);
    assert_eq!(stats.clients.load(Ordering::Relaxed), 1);
}
