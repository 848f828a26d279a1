//! In-process checks of how the server binds its sockets: the configured
//! port, the EPICS fallback to an ephemeral TCP port when it is taken, and a
//! clean shutdown. Loopback only.

mod common;

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};
use common::raw::{header, messages, padded, read_created_sid};

fn config(port: u16) -> ServerConfig {
    ServerConfig {
        interfaces: vec![Ipv4Addr::LOCALHOST],
        port,
        beacon_period: Duration::from_secs(15),
        beacon_addrs: Vec::new(),
        ..ServerConfig::default()
    }
}

fn db() -> PvDatabase {
    let mut g = PvGroup::new("bind:");
    g.add(Pv::new("x", 1.0));
    let mut db = PvDatabase::new();
    db.add_group(g).unwrap();
    db
}

#[tokio::test]
async fn port_zero_uses_one_ephemeral_port_for_tcp_and_udp() {
    let server = Server::bind(db(), config(0)).await.unwrap();
    let port = server.tcp_port();
    assert_ne!(port, 0);
    assert_eq!(server.tcp_addrs()[0].port(), port);
    assert_eq!(server.udp_addrs()[0].port(), port);
    assert!(server.tcp_addrs()[0].ip().is_loopback());
}

#[tokio::test]
async fn busy_tcp_port_falls_back_to_ephemeral() {
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = squatter.local_addr().unwrap().port();
    let server = Server::bind(db(), config(busy)).await.unwrap();
    assert_ne!(server.tcp_port(), busy);
    // Searches are still answered on the configured port.
    assert_eq!(server.udp_addrs()[0].port(), busy);
}

#[tokio::test]
async fn two_servers_share_the_udp_search_port() {
    let a = Server::bind(db(), config(0)).await.unwrap();
    let port = a.tcp_port();
    let b = Server::bind(db(), config(port)).await.unwrap();
    assert_ne!(b.tcp_port(), port);
    assert_eq!(b.udp_addrs()[0].port(), port);
}

#[tokio::test]
async fn shutdown_returns_promptly() {
    let server = Server::bind(db(), config(0)).await.unwrap();
    let run = server.run_until(tokio::time::sleep(Duration::from_millis(50)));
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("shutdown hung")
        .unwrap();
}

/// A client that never stops sending reads (and reading the answers) keeps
/// its circuit busy every turn; shutdown must still reach that circuit's
/// loop: it sends SERVER_DISCONN and closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_ends_a_circuit_flooded_with_reads() {
    use std::io::{Read, Write};
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;

    let server = Server::bind(db(), config(0)).await.unwrap();
    let port = server.tcp_port();
    // Answer bytes read so far: shutdown comes once the flood is being answered.
    let answered = Arc::new(AtomicUsize::new(0));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let running = tokio::spawn(server.run_until(async move {
        let _ = stopped.await;
    }));

    let mut tcp = std::net::TcpStream::connect((Ipv4Addr::LOCALHOST, port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut hello = header(0, 0, 0, 13, 0, 0);
    let name = padded("bind:x");
    hello.extend(header(18, name.len() as u16, 0, 0, 1, 13));
    hello.extend(name);
    tcp.write_all(&hello).unwrap();
    let sid = read_created_sid(&mut tcp);

    // Flood: batches of 64 READ_NOTIFY, as fast as the socket takes them,
    // while another thread reads every answer until the connection ends.
    let flooding = Arc::new(AtomicBool::new(true));
    let mut writer = tcp.try_clone().unwrap();
    let writing = {
        let flooding = Arc::clone(&flooding);
        std::thread::spawn(move || {
            let mut batch = Vec::new();
            for ioid in 0..64 {
                batch.extend(header(15, 0, 6, 1, sid, ioid));
            }
            while flooding.load(Ordering::Relaxed) && writer.write_all(&batch).is_ok() {}
        })
    };
    // Ok(whether SERVER_DISCONN came, answer bytes) once the connection ends.
    let seen = Arc::clone(&answered);
    let reading = std::thread::spawn(move || {
        let mut buf = vec![0u8; 1 << 16];
        let mut pending: Vec<u8> = Vec::new();
        let (mut total, mut disconn) = (0usize, false);
        loop {
            match tcp.read(&mut buf) {
                Ok(0) => return Ok((disconn, total)),
                Ok(n) => {
                    total += n;
                    seen.store(total, Ordering::Relaxed);
                    pending.extend_from_slice(&buf[..n]);
                    let (msgs, used) = messages(&pending);
                    disconn |= msgs.iter().any(|m| m.cmd == 27);
                    pending.drain(..used);
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                    return Err(format!("no end of the connection after {total} bytes"));
                }
                Err(_) => return Ok((disconn, total)),
            }
        }
    });
    // The flood is answered (a thousand-odd 24-byte answers) before shutdown starts.
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while answered.load(Ordering::Relaxed) <= 24 * 1000 {
        assert!(
            std::time::Instant::now() < deadline,
            "the flood was not answered: {} bytes",
            answered.load(Ordering::Relaxed)
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let _ = stop.send(());
    tokio::time::timeout(Duration::from_secs(10), running)
        .await
        .expect("server stops")
        .unwrap()
        .unwrap();
    let read = tokio::task::spawn_blocking(move || reading.join().unwrap())
        .await
        .unwrap();
    flooding.store(false, Ordering::Relaxed);
    let _ = writing.join();
    let (disconn, total) = read.expect("the flooded circuit closed at shutdown");
    assert!(total > 24 * 1000, "the flood was answered ({total} bytes)");
    // Said goodbye from the circuit's own loop, not dropped with its thread.
    assert!(disconn, "no SERVER_DISCONN before the connection ended");
}
