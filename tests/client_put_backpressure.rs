//! Writes without callback against a server that stops reading: the client
//! library queues a bounded amount (libca's 256 KiB, plus what the kernel's
//! socket buffers hold), then `put(&v, false)` waits for room instead of
//! queueing without limit; once the server reads again, the writes go on.
//! The server is a fake in this test (UDP search + one TCP circuit on
//! 127.0.0.1) so that it can stop reading at will. Loopback only.

mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, UdpSocket};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use caproto::client::Context;
use caproto::proto::dbr::Value;
use common::inproc::client_config;
use common::raw::{header, messages};

const WAIT: Duration = Duration::from_secs(10);
/// Elements per write: 64 KiB of doubles.
const ELEMENTS: usize = 8192;
const WRITE_BYTES: usize = ELEMENTS * 8;
/// Past this, the client queued without bound (the test stops writing).
const RUNAWAY: usize = 64 << 20;
/// The fake server's receive buffer: keeps what the kernel holds small.
const SERVER_RCVBUF: usize = 64 * 1024;

/// Answers every SEARCH for `bp:x` with our TCP port, until the socket closes.
fn answer_searches(udp: UdpSocket, tcp_port: u16, stop: Arc<AtomicBool>) {
    udp.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let mut buf = [0u8; 2048];
    while !stop.load(Ordering::Relaxed) {
        let Ok((n, from)) = udp.recv_from(&mut buf) else {
            continue;
        };
        for msg in messages(&buf[..n]).0 {
            if msg.cmd == 6 && msg.payload.starts_with(b"bp:x\0") {
                let cid = msg.p1;
                let mut reply = header(0, 0, 0, 13, 0, 0);
                reply.extend(header(6, 8, tcp_port, 0, u32::MAX, cid));
                reply.extend_from_slice(&[0, 13, 0, 0, 0, 0, 0, 0]);
                let _ = udp.send_to(&reply, from);
            }
        }
    }
}

/// Serves one circuit: answers the handshake and CREATE_CHAN for `bp:x`
/// (a read-write array of doubles), then reads nothing until `reading` is
/// set, then reads and drops everything, counting WRITE bytes in `taken`.
fn serve_circuit(listener: TcpListener, reading: Arc<AtomicBool>, taken: Arc<AtomicUsize>) {
    let (mut tcp, _) = listener.accept().unwrap();
    tcp.set_read_timeout(Some(WAIT)).unwrap();
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let created = loop {
        let n = tcp.read(&mut chunk).expect("handshake from the client");
        assert!(n > 0, "client closed during the handshake");
        buf.extend_from_slice(&chunk[..n]);
        let (msgs, used) = messages(&buf);
        if let Some(create) = msgs.iter().find(|m| m.cmd == 18) {
            break create.p1;
        }
        buf.drain(..used);
    };
    let mut reply = header(0, 0, 0, 13, 0, 0);
    reply.extend(header(22, 0, 0, 0, created, 3));
    reply.extend(header(18, 0, 6, ELEMENTS as u16, created, 1));
    tcp.write_all(&reply).unwrap();
    while !reading.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(10));
    }
    tcp.set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let mut big = vec![0u8; 1 << 20];
    loop {
        match tcp.read(&mut big) {
            Ok(0) => return,
            Ok(n) => {
                taken.fetch_add(n, Ordering::Relaxed);
            }
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => continue,
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => continue,
            Err(_) => return,
        }
    }
}

/// The most a TCP send buffer may grow to here (tcp_wmem's maximum).
fn send_buffer_max() -> usize {
    std::fs::read_to_string("/proc/sys/net/ipv4/tcp_wmem")
        .ok()
        .and_then(|s| s.split_whitespace().nth(2)?.parse().ok())
        .unwrap_or(4 << 20)
}

/// A listener whose accepted sockets have a small receive buffer.
fn small_buffer_listener() -> TcpListener {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP)).unwrap();
    socket.set_recv_buffer_size(SERVER_RCVBUF).unwrap();
    socket
        .bind(&SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())
        .unwrap();
    socket.listen(4).unwrap();
    socket.into()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_wait_for_a_server_that_does_not_read_then_go_on() {
    let listener = small_buffer_listener();
    let tcp_port = listener.local_addr().unwrap().port();
    let udp = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let udp_port = udp.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let reading = Arc::new(AtomicBool::new(false));
    let taken = Arc::new(AtomicUsize::new(0));
    let searcher = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || answer_searches(udp, tcp_port, stop))
    };
    let server = {
        let (reading, taken) = (Arc::clone(&reading), Arc::clone(&taken));
        std::thread::spawn(move || serve_circuit(listener, reading, taken))
    };

    let ctx = Context::new(client_config(udp_port)).unwrap();
    let ch = ctx.connect_one("bp:x", WAIT).await.unwrap();
    let accepted = Arc::new(AtomicUsize::new(0));
    let writer = {
        let (ch, accepted) = (ch.clone(), Arc::clone(&accepted));
        tokio::spawn(async move {
            let value = Value::Double(vec![1.5; ELEMENTS]);
            while accepted.load(Ordering::Relaxed) < RUNAWAY {
                if ch.put(&value, false).await.is_err() {
                    return;
                }
                accepted.fetch_add(WRITE_BYTES, Ordering::Relaxed);
            }
        })
    };

    // The server reads nothing: the writes must stall, well short of runaway.
    let deadline = Instant::now() + WAIT;
    let mut last = (accepted.load(Ordering::Relaxed), Instant::now());
    let stalled_at = loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let now = accepted.load(Ordering::Relaxed);
        assert!(
            now < RUNAWAY,
            "{now} bytes of writes accepted while the server read nothing"
        );
        if now != last.0 {
            last = (now, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(1) {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "writes neither stalled nor ran away"
        );
    };
    // Queued in the library: at most the backlog plus one write; the rest
    // is in the kernel's socket buffers (the client's send buffer grows to
    // tcp_wmem's maximum, 4 MiB by default; the server's is small).
    let bound = send_buffer_max() + (4 << 20);
    assert!(
        stalled_at <= bound,
        "{stalled_at} bytes accepted before the writes stalled (bound {bound})"
    );
    assert!(
        !writer.is_finished(),
        "the writer gave up instead of waiting"
    );

    // The server reads again: the waiting write completes and more follow.
    reading.store(true, Ordering::Relaxed);
    let deadline = Instant::now() + WAIT;
    while accepted.load(Ordering::Relaxed) < stalled_at + 8 * WRITE_BYTES {
        assert!(
            Instant::now() < deadline,
            "writes did not resume once the server read again"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(taken.load(Ordering::Relaxed) > 0);

    writer.abort();
    ctx.close().await;
    stop.store(true, Ordering::Relaxed);
    let _ = searcher.join();
    let _ = server.join();
}
