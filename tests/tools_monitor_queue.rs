//! The monitor's bound on pending updates (README: "`caproto-monitor` keeps at most 128
//! pending updates per PV ... the oldest give way to the newest"): a client context with the
//! tools' queue capacity (`TOOL_SUB_QUEUE`, what `caproto-monitor` builds its context with)
//! whose subscription is not read while a scripted server sends 1000 updates in one burst.
//! The server is a raw loopback socket pair of this test, so exactly 1000 updates arrive
//! (a real server would coalesce some): 872 are dropped, and the 128 kept are the newest, in
//! order.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, UdpSocket};
use std::time::{Duration, Instant};

use caproto::cli::tools::client_backend::TOOL_SUB_QUEUE;
use caproto::client::Context;
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrType, Value};
use common::inproc::client_config;
use common::raw::{header, messages};

const WAIT: Duration = Duration::from_secs(20);
const UPDATES: u32 = 1000;

/// Answers one search over UDP, then on the circuit: the channel (DBR_DOUBLE x 1, read and
/// write), and, when the subscription arrives, `UPDATES` updates 1.0 ..= 1000.0 in one write.
fn scripted_server(udp: UdpSocket, tcp: TcpListener) {
    let tcp_port = tcp.local_addr().unwrap().port();
    let mut buf = [0u8; 2048];
    let (n, from) = udp.recv_from(&mut buf).expect("a search");
    let (msgs, _) = messages(&buf[..n]);
    let search = msgs.iter().find(|m| m.cmd == 6).expect("SEARCH");
    let mut reply = header(0, 0, 0, 13, 0, 0);
    reply.extend(header(6, 8, tcp_port, 0, 0xFFFF_FFFF, search.p1));
    reply.extend([0, 13, 0, 0, 0, 0, 0, 0]);
    udp.send_to(&reply, from).unwrap();

    let (mut conn, _) = tcp.accept().expect("the circuit");
    conn.set_read_timeout(Some(WAIT)).unwrap();
    let mut pending = Vec::new();
    loop {
        let n = conn.read(&mut buf).expect("client bytes");
        assert!(n > 0, "the client closed the circuit");
        pending.extend_from_slice(&buf[..n]);
        let (msgs, used) = messages(&pending);
        pending.drain(..used);
        let mut out = Vec::new();
        for m in msgs {
            match m.cmd {
                0 => out.extend(header(0, 0, 0, 13, 0, 0)),
                18 => {
                    out.extend(header(22, 0, 0, 0, m.p1, 3));
                    out.extend(header(18, 0, 6, 1, m.p1, m.p1));
                }
                1 => {
                    for v in 1..=UPDATES {
                        // ECA_NORMAL, DBR_DOUBLE x 1, the subscription's id.
                        out.extend(header(1, 8, 6, 1, 1, m.p2));
                        out.extend(f64::from(v).to_be_bytes());
                    }
                    conn.write_all(&out).unwrap();
                    // Hold the circuit open until the client goes.
                    while conn.read(&mut buf).is_ok_and(|n| n > 0) {}
                    return;
                }
                _ => {}
            }
        }
        conn.write_all(&out).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tools_queue_keeps_the_newest_128_updates_per_pv() {
    assert_eq!(TOOL_SUB_QUEUE, 128, "the documented bound");
    // The kernel picks the port: nothing can take it between a probe and the bind.
    let udp = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = udp.local_addr().unwrap().port();
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let server = std::thread::spawn(move || scripted_server(udp, tcp));

    let ctx = Context::with_queue_capacity(client_config(port), TOOL_SUB_QUEUE).unwrap();
    let ch = ctx.connect_one("q:x", WAIT).await.expect("connect q:x");
    let mut sub = ch.subscribe(DbrType::DOUBLE, None, mask::VALUE);
    // Nothing is read while the burst arrives: once all 1000 are in, 872 were dropped.
    let want_dropped = u64::from(UPDATES) - TOOL_SUB_QUEUE as u64;
    let deadline = Instant::now() + WAIT;
    while sub.dropped() < want_dropped {
        assert!(
            Instant::now() < deadline,
            "dropped {} of {UPDATES}, expected {want_dropped}",
            sub.dropped()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(sub.dropped(), want_dropped);
    let mut kept = Vec::new();
    for _ in 0..TOOL_SUB_QUEUE {
        let update = tokio::time::timeout(WAIT, sub.recv())
            .await
            .expect("a queued update")
            .expect("subscription open")
            .expect("an update, not an error");
        match update.value {
            Value::Double(v) => kept.push(v[0]),
            other => panic!("{other:?}"),
        }
    }
    let newest: Vec<f64> = (UPDATES - TOOL_SUB_QUEUE as u32 + 1..=UPDATES)
        .map(f64::from)
        .collect();
    assert_eq!(kept, newest, "the oldest are dropped first");
    assert_eq!(sub.dropped(), want_dropped, "nothing more was dropped");
    drop(sub);
    ctx.close().await;
    server.join().expect("scripted server");
}
