//! The queue and writer against in-process listeners (the real-collector tests are in
//! `tests/logging_ship.rs`).

use std::io::{BufRead, BufReader, Read};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use super::*;

fn target(url: &str) -> ShipTarget {
    url.parse().unwrap()
}

/// A port nobody listens on (bound, then released).
fn dead_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn read_lines(stream: TcpStream, n: usize) -> Vec<String> {
    let mut r = BufReader::new(stream);
    (0..n)
        .map(|_| {
            let mut l = String::new();
            r.read_line(&mut l).unwrap();
            l
        })
        .collect()
}

#[test]
fn json_lines_arrive_in_order() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Shipper::start(target(&format!("tcp://127.0.0.1:{port}")), 100).unwrap();
    for i in 0..5 {
        s.push(format!("{{\"i\":{i}}}\n").as_bytes());
    }
    let (conn, _) = l.accept().unwrap();
    let lines = read_lines(conn, 5);
    assert_eq!(lines[0], "{\"i\":0}\n");
    assert_eq!(lines[4], "{\"i\":4}\n");
    assert!(s.flush(Duration::from_secs(5)));
    let st = s.stats();
    assert_eq!((st.sent, st.dropped, st.pending), (5, 0, 0));
    assert!(st.connected);
}

#[test]
fn syslog_tcp_uses_octet_counting() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Shipper::start(target(&format!("syslog://127.0.0.1:{port}")), 100).unwrap();
    s.push(b"<15>1 - - - - - - hello\n");
    s.push(b"<15>1 - - - - - - w\xc3\xb6rld\n");
    let (mut conn, _) = l.accept().unwrap();
    assert!(s.flush(Duration::from_secs(5)));
    drop(s);
    let mut got = Vec::new();
    conn.read_to_end(&mut got).unwrap();
    // Byte counts, not character counts, and no newline trailer.
    assert_eq!(
        got,
        b"23 <15>1 - - - - - - hello24 <15>1 - - - - - - w\xc3\xb6rld".to_vec()
    );
}

#[test]
fn full_queue_drops_and_counts_without_blocking() {
    let s = Shipper::start(target(&format!("tcp://127.0.0.1:{}", dead_port())), 8).unwrap();
    for i in 0..100 {
        s.push(format!("{i}\n").as_bytes());
    }
    let st = s.stats();
    // At most one batch in the writer's hands plus a full queue survive.
    assert!(st.pending <= 16, "{st:?}");
    assert_eq!(st.dropped + st.pending, 100, "{st:?}");
    assert!(!st.connected);
    assert!(!s.flush(Duration::from_millis(50)), "nothing can drain");
}

#[test]
fn reconnects_after_the_collector_restarts_and_retries_the_batch() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    let s = Shipper::start(target(&format!("tcp://{addr}")), 1000).unwrap();
    s.push(b"first\n");
    let (c, _) = l.accept().unwrap();
    assert_eq!(read_lines(c.try_clone().unwrap(), 1), ["first\n"]);
    // The collector goes away entirely.
    drop(c);
    drop(l);
    wait_until("the writer to notice", || {
        s.push(b"during\n");
        std::thread::sleep(Duration::from_millis(20));
        !s.stats().connected
    });
    // ... and comes back on the same port.
    let l = TcpListener::bind(addr).unwrap();
    s.push(b"after\n");
    let (c, _) = l.accept().unwrap();
    c.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut r = BufReader::new(c);
    let mut seen = Vec::new();
    loop {
        let mut line = String::new();
        r.read_line(&mut line).unwrap();
        seen.push(line.clone());
        if line == "after\n" {
            break;
        }
    }
    assert!(
        seen.iter().all(|l| l == "during\n" || l == "after\n"),
        "{seen:?}"
    );
    let st = s.stats();
    assert_eq!(st.reconnects, 1, "{st:?}");
    assert!(st.connected);
}

#[test]
fn a_collector_that_never_reads_costs_drops_not_waiting() {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let s = Shipper::start(target(&format!("tcp://127.0.0.1:{port}")), 64).unwrap();
    let (_held, _) = {
        s.push(b"x\n");
        l.accept().unwrap()
    };
    let line = vec![b'y'; 1000];
    // Far more than the socket buffers hold: if push waited for the socket this would hang.
    for _ in 0..20_000 {
        s.push(&line);
    }
    let st = s.stats();
    assert!(st.dropped > 0, "{st:?}");
    // Exit paths flush several times: a stuck collector costs one timeout, not one per call.
    // Fill the kernel's socket buffers until a flush cannot drain.
    wait_until("the socket buffers to fill", || {
        for _ in 0..64 {
            s.push(&line);
        }
        !s.flush(Duration::from_millis(100))
    });
    let t = Instant::now();
    assert!(!s.flush(Duration::from_secs(30)));
    assert!(
        t.elapsed() < Duration::from_secs(20),
        "second flush waited again"
    );
}

#[test]
fn unix_datagrams_one_record_each_and_reopen_after_restart() {
    use std::os::unix::net::UnixDatagram;
    let dir = std::env::temp_dir().join(format!("caproto-ship-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("log.sock");
    let _ = std::fs::remove_file(&path);
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let s = Shipper::start(target(&format!("unixgram://{}", path.display())), 100).unwrap();
    s.push(b"<15>1 a\n");
    s.push(b"<15>1 b\n");
    let mut buf = [0u8; 100];
    let n = rx.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"<15>1 a");
    let n = rx.recv(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"<15>1 b");
    // The daemon restarts: a new socket at the same path.
    drop(rx);
    std::fs::remove_file(&path).unwrap();
    s.push(b"lost\n");
    s.flush(Duration::from_secs(5));
    let rx = UnixDatagram::bind(&path).unwrap();
    rx.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    wait_until("delivery to the new socket", || {
        s.push(b"<15>1 c\n");
        std::thread::sleep(Duration::from_millis(150));
        let mut b = [0u8; 100];
        rx.set_nonblocking(true).unwrap();
        matches!(rx.recv(&mut b), Ok(n) if &b[..n] == b"<15>1 c")
    });
    assert!(s.stats().dropped >= 1);
    let _ = std::fs::remove_dir_all(&dir);
}
