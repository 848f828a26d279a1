//! caproto-repeater on real loopback sockets (an ephemeral port per test):
//! registration is confirmed, beacons fan out with the sender's address
//! filled in, a client's own datagrams are not echoed back to it, malformed
//! datagrams are survived, and clients that went away are pruned. The
//! binary logs one record per command, and EPICS clients register with it
//! and hear beacons through it.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use caproto::cli::tools::repeater::{serve, RepeaterStats};
use caproto::proto::command::id;
use caproto::proto::header::Header;
use common::{CaEnv, ChildGuard};
use tokio::net::UdpSocket;

const REPEATER_EXE: &str = env!("CARGO_BIN_EXE_caproto-repeater");
/// Hang guard for waits (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

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
    client_on(repeater, 0).await
}

/// A registered client on 127.0.0.1:`port` (0: an ephemeral port).
async fn client_on(repeater: SocketAddr, port: u16) -> UdpSocket {
    let sock = UdpSocket::bind(("127.0.0.1", port)).await.unwrap();
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
    let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let a = client(rep).await;
    // A client that goes away. The repeater judges by whether its port is
    // still bound, so the port comes from the harness's allocator: claimed
    // across processes and below the kernel's ephemeral range, no other test
    // or socket is handed it after we let it go.
    let gone = client_on(rep, common::ports::free_udp_port()).await;
    drop(gone);
    let alive = 1;
    // A new registration makes the repeater probe the others.
    let c = client(rep).await;
    server.send_to(&cmd(id::RSRV_IS_UP, 0), rep).await.unwrap();
    for sock in [&a, &c] {
        assert_eq!(recv(sock).await.0.command, id::RSRV_IS_UP);
    }
    assert_eq!(stats.clients.load(Ordering::Relaxed), alive + 1);
}

#[tokio::test]
async fn old_style_empty_registration() {
    let (rep, stats, _stop) = start().await;
    let sock = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    sock.send_to(&[], rep).await.unwrap();
    assert_eq!(recv(&sock).await.0.command, id::REPEATER_CONFIRM);
    assert_eq!(stats.clients.load(Ordering::Relaxed), 1);
}

#[tokio::test]
async fn any_framed_message_is_forwarded() {
    let (rep, _stats, _stop) = start().await;
    let a = client(rep).await;
    let b = client(rep).await;
    // A message no decoder knows (id 99), with a payload, comes out as it went in.
    let mut odd = Vec::new();
    Header {
        command: 99,
        payload_size: 8,
        parameter1: 5,
        ..Header::default()
    }
    .encode(&mut odd);
    odd.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7, 8]);
    a.send_to(&odd, rep).await.unwrap();
    assert_eq!(recv(&b).await.1, odd);
}

/// Starts our repeater binary (`-vvv`) on `env`'s repeater port and waits
/// until it holds the port.
fn spawn_repeater(env: &CaEnv) -> ChildGuard {
    let mut cmd = env.own(REPEATER_EXE);
    cmd.arg("-vvv");
    let mut rep = env.spawn("caproto-repeater", &mut cmd);
    rep.wait_until("repeater port bound", PATIENCE, |_| {
        common::ports::udp_port_in_use(env.repeater_port())
    });
    rep
}

/// Waits until `child`'s log has a line for which `found` gives a value.
fn wait_line<T>(child: &mut ChildGuard, what: &str, found: impl Fn(&str) -> Option<T>) -> T {
    child
        .wait_for(PATIENCE, |c| c.log_contents().lines().find_map(&found))
        .unwrap_or_else(|| panic!("no {what} in the repeater log:\n{}", child.log_contents()))
}

#[test]
fn binary_logs_one_record_per_command() {
    let env = CaEnv::new();
    let mut rep = spawn_repeater(&env);
    let to = SocketAddr::from(([127, 0, 0, 1], env.repeater_port()));
    let timeout = Some(Duration::from_secs(10));
    let client = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    client.set_read_timeout(timeout).unwrap();
    let server = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let mut buf = [0u8; 64];
    client.send_to(&cmd(id::REPEATER_REGISTER, 0), to).unwrap();
    client.recv_from(&mut buf).expect("no confirmation");
    server.send_to(&cmd(id::RSRV_IS_UP, 0), to).unwrap();
    let (n, _) = client.recv_from(&mut buf).expect("no beacon");
    assert_eq!(
        Header::decode(&buf[..n]).unwrap().0.parameter2,
        0x7f00_0001,
        "address filled in"
    );
    let c = client.local_addr().unwrap();
    let s = server.local_addr().unwrap();
    let expected = [
        format!("<<<--- {c} 16B RepeaterRegisterRequest(client_address='0.0.0.0')"),
        format!("--->>> {c} 16B RepeaterConfirmResponse(repeater_address='127.0.0.1')"),
        format!("<<<--- {s} 16B Beacon(version=0, server_port=0, beacon_id=0, address='0.0.0.0')"),
        format!(
            "--->>> {c} 16B Beacon(version=0, server_port=0, beacon_id=0, address='127.0.0.1')"
        ),
    ];
    wait_line(&mut rep, "forwarded beacon", |l| {
        l.ends_with(&expected[3]).then_some(())
    });
    let log = rep.log_contents();
    let records: Vec<&str> = log.lines().filter(|l| l.contains("16B")).collect();
    assert_eq!(records.len(), expected.len(), "{log}");
    for (line, want) in records.iter().zip(&expected) {
        assert!(
            line.ends_with(want.as_str()),
            "{line:?} should end with {want:?}"
        );
        assert!(line.starts_with("[D "), "{line}");
    }
}

#[test]
fn epics_clients_register_and_hear_beacons() {
    let env = CaEnv::new();
    let Some(mut cam) = common::epics_command("camonitor") else {
        return;
    };
    let mut rep = spawn_repeater(&env);
    env.apply(&mut cam).arg("rep:nothing");
    let _camonitor = env.spawn("camonitor", &mut cam);
    // EPICS clients register (with an empty datagram) about 10 s after start.
    let client = wait_line(&mut rep, "registration", |l| {
        let (_, addr) = l.split_once("New client ")?;
        addr.trim().parse::<SocketAddr>().ok()
    });
    wait_line(&mut rep, "confirmation", |l| {
        l.contains(&format!("--->>> {client} 16B RepeaterConfirmResponse"))
            .then_some(())
    });
    // Beacons of a server on this host reach the client through us.
    let mut ioc = common::servers::our_ioc_command(&env);
    ioc.args(["ticker", "--prefix", "rep:"]);
    let _ioc = common::servers::spawn_our_ioc(&env, "caproto-ioc", &mut ioc);
    let port = env.server_port();
    wait_line(&mut rep, "beacon relayed to camonitor", |l| {
        (l.contains(&format!(
            "--->>> {client} 16B Beacon(version=13, server_port={port},"
        )))
        .then_some(())
    });
}
