//! `-p N` end to end: the circuit's VERSION message carries priority N in
//! its data-type field, as EPICS `caget -p N` sends it, and clients of two
//! priorities reach one server over two circuits. The server is a scripted
//! fake in this test (raw sockets): it answers every search with its TCP
//! port and records the first header of each circuit.

mod common;

use std::io::Read;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::raw::header;
use common::CaEnv;

const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
const MONITOR_EXE: &str = env!("CARGO_BIN_EXE_caproto-monitor");

/// First 16 bytes of each accepted circuit, in order.
type Openings = Arc<Mutex<Vec<[u8; 16]>>>;

/// Starts the fake server (UDP search on `env`'s port, which it fixes, and
/// TCP on a port of its own that its search replies name).
fn fake_server(env: &CaEnv) -> Openings {
    let udp = env.bind_fake_server_udp();
    let tcp = TcpListener::bind("127.0.0.1:0").expect("bind tcp");
    let port = tcp.local_addr().expect("tcp address").port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            let mut reply = Vec::new();
            let mut at = 0;
            while at + 16 <= n {
                let cmd = u16::from_be_bytes([buf[at], buf[at + 1]]);
                let size = u16::from_be_bytes([buf[at + 2], buf[at + 3]]) as usize;
                if cmd == 6 {
                    let cid =
                        u32::from_be_bytes([buf[at + 8], buf[at + 9], buf[at + 10], buf[at + 11]]);
                    if reply.is_empty() {
                        reply.extend(header(0, 0, 0, 13, 0, 0));
                    }
                    reply.extend(header(6, 8, port, 0, 0xFFFF_FFFF, cid));
                    reply.extend([0, 13, 0, 0, 0, 0, 0, 0]);
                }
                at += 16 + size;
            }
            if !reply.is_empty() {
                let _ = udp.send_to(&reply, from);
            }
        }
    });
    let openings: Openings = Arc::default();
    let seen = openings.clone();
    std::thread::spawn(move || {
        for stream in tcp.incoming() {
            let Ok(mut stream) = stream else { return };
            let seen = seen.clone();
            std::thread::spawn(move || {
                let mut first = [0u8; 16];
                if stream.read_exact(&mut first).is_ok() {
                    seen.lock().unwrap().push(first);
                }
                // Hold the circuit open a while (no replies) so a client
                // keeps it, then drop it.
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let mut sink = [0u8; 4096];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            });
        }
    });
    openings
}

fn wait_openings(openings: &Openings, n: usize) -> Vec<[u8; 16]> {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let got = openings.lock().unwrap().clone();
        if got.len() >= n {
            return got;
        }
        assert!(
            Instant::now() < deadline,
            "{} circuits opened, expected {n}",
            got.len()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// (command, priority) of a circuit's opening header.
fn version(h: &[u8; 16]) -> (u16, u16) {
    (
        u16::from_be_bytes([h[0], h[1]]),
        u16::from_be_bytes([h[4], h[5]]),
    )
}

#[test]
fn priority_is_on_the_wire_like_epics_caget() {
    let env = CaEnv::new();
    let openings = fake_server(&env);
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "-p", "7", "--timeout", "2", "fake:pv"]);
    let _ = env.run(&mut get, Duration::from_secs(30));
    let ours = wait_openings(&openings, 1)[0];
    assert_eq!(version(&ours), (0, 7), "our VERSION header: {ours:02x?}");
    if let Some(mut caget) = env.epics("caget") {
        caget.args(["-p", "7", "-w", "2", "fake:pv"]);
        let _ = env.run(&mut caget, Duration::from_secs(30));
        let theirs = wait_openings(&openings, 2)[1];
        assert_eq!(
            ours, theirs,
            "VERSION header differs from EPICS caget -p 7's"
        );
    }
}

#[test]
fn get_and_monitor_each_open_a_circuit_at_their_priority() {
    let env = CaEnv::new();
    let openings = fake_server(&env);
    // Two of our clients at once, priorities 3 and 90, to one server.
    let mut mon = env.own(MONITOR_EXE);
    mon.args(["--no-repeater", "-p", "3", "fake:a"]);
    let _monitor = env.spawn("caproto-monitor", &mut mon);
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "-p", "90", "--timeout", "2", "fake:b"]);
    let _ = env.run(&mut get, Duration::from_secs(30));
    let mut priorities: Vec<(u16, u16)> = wait_openings(&openings, 2).iter().map(version).collect();
    priorities.sort_unstable();
    assert_eq!(priorities, [(0, 3), (0, 90)]);
}
