//! Echo / heartbeat (EPICS_CA_CONN_TMO) against a scripted in-process server
//! on loopback: echoes keep a quiet circuit alive, and a server that stops
//! answering is detected and dropped.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caproto::client::{ClientError, Config, Context};
use caproto::proto::broadcaster::{Broadcaster, Event};
use caproto::proto::circuit::VirtualCircuit;
use caproto::proto::command::mask;
use caproto::proto::command::AccessRights;
use caproto::proto::dbr::DbrType;
use caproto::proto::{command::Command, Role, PROTOCOL_VERSION};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, UdpSocket};

const WAIT: Duration = Duration::from_secs(20);

/// What the scripted server has seen.
#[derive(Default)]
struct Seen {
    connections: AtomicUsize,
    echoes: AtomicUsize,
}

/// A server with one DOUBLE PV `hb:pv` (any name is answered) that answers
/// echoes only if `answer_echo`. Returns its UDP search address.
async fn scripted_server(answer_echo: bool, seen: Arc<Seen>) -> SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let tcp_port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind("127.0.0.1:0").await.unwrap();
    let udp_addr = udp.local_addr().unwrap();
    tokio::spawn(async move {
        let mut bc = Broadcaster::new(Role::Server, udp_addr);
        let mut buf = vec![0u8; 2048];
        loop {
            let Ok((n, from)) = udp.recv_from(&mut buf).await else {
                return;
            };
            let mut events = Vec::new();
            let _ = bc.recv(&buf[..n], from, Instant::now(), &mut events);
            let mut out = Vec::new();
            for event in events {
                if let Event::Search { cid, sequence, .. } = event {
                    if out.is_empty() {
                        let v = Command::VersionResponse {
                            version: PROTOCOL_VERSION,
                            sequence: Some(sequence),
                        };
                        bc.send(&v, from, &mut out).unwrap();
                    }
                    let reply = Command::SearchResponse {
                        port: tcp_port,
                        ip: None,
                        cid,
                        version: PROTOCOL_VERSION,
                    };
                    bc.send(&reply, from, &mut out).unwrap();
                }
            }
            if !out.is_empty() {
                let _ = udp.send_to(&out, from).await;
            }
        }
    });
    tokio::spawn(async move {
        loop {
            let Ok((mut stream, peer)) = tcp.accept().await else {
                return;
            };
            seen.connections.fetch_add(1, Ordering::SeqCst);
            let seen = seen.clone();
            tokio::spawn(async move {
                let ours = stream.local_addr().unwrap();
                let mut vc = VirtualCircuit::new(Role::Server, ours, peer, 0, 16384);
                let mut buf = vec![0u8; 4096];
                let mut next_sid = 1;
                loop {
                    let n = match stream.read(&mut buf).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => n,
                    };
                    vc.recv(&buf[..n]);
                    let mut out = Vec::new();
                    while let Some(cmd) = vc.next_command() {
                        let Ok(cmd) = cmd else { return };
                        let replies = match cmd {
                            Command::VersionRequest { .. } => vec![Command::VersionResponse {
                                version: PROTOCOL_VERSION,
                                sequence: None,
                            }],
                            Command::CreateChanRequest { cid, .. } => {
                                next_sid += 1;
                                vec![
                                    Command::AccessRightsResponse {
                                        cid,
                                        access_rights: AccessRights::READ_WRITE,
                                    },
                                    Command::CreateChanResponse {
                                        data_type: DbrType::DOUBLE,
                                        data_count: 1,
                                        cid,
                                        sid: next_sid,
                                    },
                                ]
                            }
                            Command::EchoRequest => {
                                seen.echoes.fetch_add(1, Ordering::SeqCst);
                                if answer_echo {
                                    vec![Command::EchoResponse]
                                } else {
                                    vec![]
                                }
                            }
                            // Subscriptions are accepted and never updated:
                            // the circuit stays quiet.
                            _ => vec![],
                        };
                        for reply in replies {
                            vc.send(&reply, &mut out).unwrap();
                        }
                    }
                    if !out.is_empty() && stream.write_all(&out).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    udp_addr
}

/// A client that sends an echo after `conn_timeout` of silence and drops the
/// circuit if it is not answered within `echo_timeout`.
fn config(search: SocketAddr, conn_timeout: Duration, echo_timeout: Duration) -> Config {
    Config {
        search_addrs: vec![search],
        use_repeater: false,
        conn_timeout,
        echo_timeout,
        ..Config::default()
    }
}

// Each test gets its own multi-threaded runtime, so the scripted server's
// tasks are not starved by the client's on a loaded machine.

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn echoes_keep_a_quiet_circuit_alive() {
    // Echoes every 0.1 s of silence; an unanswered one would drop the
    // circuit after 1.5 s. The test watches for three times that long, so a
    // client that ignored the answers would have replaced the circuit, while
    // an answer delayed by a busy machine has 1.5 s to arrive.
    const ECHO_TIMEOUT: Duration = Duration::from_millis(1500);
    let seen = Arc::new(Seen::default());
    let search = scripted_server(true, seen.clone()).await;
    let ctx = Context::new(config(search, Duration::from_millis(100), ECHO_TIMEOUT)).unwrap();
    let ch = ctx.connect_one("hb:pv", WAIT).await.unwrap();
    let start = tokio::time::Instant::now();
    let deadline = start + WAIT;
    while seen.echoes.load(Ordering::SeqCst) < 5 || start.elapsed() < 3 * ECHO_TIMEOUT {
        assert!(tokio::time::Instant::now() < deadline, "no echoes sent");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(ch.is_connected());
    // Every echo was answered, so the one circuit was never replaced.
    assert_eq!(seen.connections.load(Ordering::SeqCst), 1);
    ctx.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unanswered_echo_drops_the_circuit() {
    // The server never answers, so any timings drop the circuit; short ones
    // keep the test quick.
    let seen = Arc::new(Seen::default());
    let search = scripted_server(false, seen.clone()).await;
    let ctx = Context::new(config(
        search,
        Duration::from_millis(300),
        Duration::from_millis(500),
    ))
    .unwrap();
    let ch = ctx.connect_one("hb:pv", WAIT).await.unwrap();
    let mut sub = ch.subscribe(DbrType::DOUBLE, None, mask::VALUE);
    match tokio::time::timeout(WAIT, sub.recv()).await {
        Ok(Some(Err(ClientError::Disconnected { pv }))) => assert_eq!(pv, "hb:pv"),
        other => panic!("expected a disconnect, got {other:?}"),
    }
    assert!(seen.echoes.load(Ordering::SeqCst) >= 1);
    // The channel is searched for again and comes back on a new circuit.
    ch.wait_connected(WAIT).await.unwrap();
    assert!(seen.connections.load(Ordering::SeqCst) >= 2);
    ctx.close().await;
}
