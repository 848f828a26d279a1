//! Our `caproto-get` against a fake server written in the test: it answers
//! the UDP search honestly, then, on the TCP circuit, sends garbage, an
//! oversized header, an unknown command or a truncated header. The tool must
//! exit non-zero with a message on stderr, never panic and never hang.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use common::raw::header;
use common::{CaEnv, RunOutput};

const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
/// Hang guard for one tool run (not a timing assertion).
const RUN: Duration = Duration::from_secs(60);

/// Extended header: payload size and count as u32 after the 16 bytes.
fn ext_header(cmd: u16, dtype: u16, p1: u32, p2: u32, size: u32, count: u32) -> Vec<u8> {
    let mut h = header(cmd, 0xFFFF, dtype, 0, p1, p2);
    h.extend_from_slice(&size.to_be_bytes());
    h.extend_from_slice(&count.to_be_bytes());
    h
}

/// (command, data_type, param1, param2) of each whole message in `bytes`.
fn messages(mut bytes: &[u8]) -> Vec<(u16, u16, u32, u32)> {
    let mut out = Vec::new();
    while bytes.len() >= 16 {
        let u16at = |i: usize| u16::from_be_bytes([bytes[i], bytes[i + 1]]);
        let u32at =
            |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        let (mut size, mut hlen) = (u16at(2) as usize, 16);
        if size == 0xFFFF && u16at(6) == 0 {
            if bytes.len() < 24 {
                break;
            }
            size = u32at(16) as usize;
            hlen = 24;
        }
        if bytes.len() < hlen + size {
            break;
        }
        out.push((u16at(0), u16at(4), u32at(8), u32at(12)));
        bytes = &bytes[hlen + size..];
    }
    out
}

/// What the fake server sends once the client has asked for its channel.
#[derive(Clone, Copy, Debug)]
enum Attack {
    /// VERSION then 4 KiB of random bytes.
    Garbage,
    /// VERSION then a header announcing a 2 GiB payload.
    OversizedHeader,
    /// A proper channel creation, then a 2 GiB READ_NOTIFY reply header.
    OversizedReadReply,
    /// VERSION then a command id no protocol version defines.
    UnknownCommand,
    /// VERSION then half a header, then the circuit is closed.
    TruncatedThenClose,
}

struct FakeServer {
    stop: Arc<AtomicBool>,
    /// Circuits on which the attack was written in full.
    delivered: Arc<AtomicUsize>,
    threads: Vec<JoinHandle<()>>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// Listens on the env's server port (UDP, bound by the kernel) and an ephemeral TCP port.
fn fake_server(env: &CaEnv, attack: Attack) -> FakeServer {
    let udp = env.bind_fake_server_udp();
    let tcp = TcpListener::bind(("127.0.0.1", 0)).expect("bind fake TCP");
    let tcp_port = tcp.local_addr().unwrap().port();
    let stop = Arc::new(AtomicBool::new(false));
    let delivered = Arc::new(AtomicUsize::new(0));

    udp.set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    let s = stop.clone();
    let udp_thread = std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while !s.load(Ordering::SeqCst) {
            let Ok((n, from)) = udp.recv_from(&mut buf) else {
                continue;
            };
            for (cmd, _, cid, _) in messages(&buf[..n]) {
                if cmd == 6 {
                    let mut reply = header(0, 0, 0, 13, 0, 0);
                    reply.extend(header(6, 8, tcp_port, 0, 0xFFFF_FFFF, cid));
                    reply.extend([0, 13, 0, 0, 0, 0, 0, 0]);
                    let _ = udp.send_to(&reply, from);
                }
            }
        }
    });

    tcp.set_nonblocking(true).unwrap();
    let s = stop.clone();
    let d = delivered.clone();
    let tcp_thread = std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        while !s.load(Ordering::SeqCst) {
            match tcp.accept() {
                Ok((conn, _)) => {
                    if let Some(c) = serve(conn, attack, &s, &d) {
                        held.push(c);
                    }
                }
                Err(_) => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    });
    FakeServer {
        stop,
        delivered,
        threads: vec![udp_thread, tcp_thread],
    }
}

/// Reads until a message with command `want` arrives; returns it.
fn wait_for(
    conn: &mut TcpStream,
    got: &mut Vec<u8>,
    want: u16,
    stop: &AtomicBool,
) -> Option<(u16, u16, u32, u32)> {
    let mut buf = [0u8; 4096];
    loop {
        if let Some(m) = messages(got).into_iter().find(|m| m.0 == want) {
            return Some(m);
        }
        if stop.load(Ordering::SeqCst) {
            return None;
        }
        match conn.read(&mut buf) {
            Ok(0) => return None,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(_) => return None,
        }
    }
}

/// Plays `attack` on one circuit; returns the stream to keep it open (so the
/// client must notice the bad input itself, not just an end of file).
fn serve(
    mut conn: TcpStream,
    attack: Attack,
    stop: &AtomicBool,
    delivered: &AtomicUsize,
) -> Option<TcpStream> {
    conn.set_nonblocking(false).ok()?;
    conn.set_read_timeout(Some(Duration::from_millis(50)))
        .ok()?;
    let mut got = Vec::new();
    let (_, _, cid, _) = wait_for(&mut conn, &mut got, 18, stop)?;
    let mut out = header(0, 0, 0, 13, 0, 0);
    match attack {
        Attack::Garbage => {
            let mut x = 0x2545_F491_4F6C_DD1Du64;
            out.extend((0..4096).map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                (x >> 32) as u8
            }));
        }
        Attack::OversizedHeader => out.extend(ext_header(1, 5, 1, cid, 0x8000_0000, 1)),
        Attack::UnknownCommand => out.extend(header(0x7777, 0, 0, 0, cid, 0)),
        Attack::TruncatedThenClose => {
            out.extend(&header(22, 0, 0, 0, cid, 3)[..8]);
            if conn.write_all(&out).is_ok() {
                delivered.fetch_add(1, Ordering::SeqCst);
            }
            return None; // dropped: closed
        }
        Attack::OversizedReadReply => {
            out.extend(header(22, 0, 0, 0, cid, 3)); // ACCESS_RIGHTS read+write
            out.extend(header(18, 0, 5, 1, cid, 1)); // CREATE_CHAN: DBR_LONG x1, sid 1
            conn.write_all(&out).ok()?;
            got.clear();
            let (_, dtype, _, ioid) = wait_for(&mut conn, &mut got, 15, stop)?;
            out = ext_header(15, dtype, 1, ioid, 0x8000_0000, 0x2000_0000);
        }
    }
    if conn.write_all(&out).is_ok() {
        delivered.fetch_add(1, Ordering::SeqCst);
    }
    Some(conn)
}

fn get(env: &CaEnv, pv: &str) -> RunOutput {
    let mut cmd = env.own(GET_EXE);
    cmd.args(["--no-repeater", "--timeout", "5", pv]);
    env.run(&mut cmd, RUN)
}

/// Runs `caproto-get fake:pv` against `attack` and checks the failure is
/// clean and that stderr names the PV and contains every one of `expect`.
fn assert_clean_failure(attack: Attack, expect: &[&str]) -> RunOutput {
    let env = CaEnv::new();
    let server = fake_server(&env, attack);
    let out = get(&env, "fake:pv");
    assert!(
        server.delivered.load(Ordering::SeqCst) >= 1,
        "{attack:?}: the client never reached the point of the attack\n{out}"
    );
    assert!(!out.timed_out, "{attack:?}: caproto-get hung\n{out}");
    let code = out.status.and_then(|s| s.code());
    assert!(
        matches!(code, Some(c) if c != 0),
        "{attack:?}: expected a non-zero exit (not a signal)\n{out}"
    );
    assert!(
        !out.stderr.contains("panicked"),
        "{attack:?}: caproto-get panicked\n{out}"
    );
    assert!(
        out.stderr.contains("fake:pv"),
        "{attack:?}: the error message does not name the PV\n{out}"
    );
    assert!(
        out.stdout.trim().is_empty(),
        "{attack:?}: printed a value from a hostile server\n{out}"
    );
    for needle in expect {
        assert!(
            out.stderr.contains(needle),
            "{attack:?}: the error message does not say {needle:?}\n{out}"
        );
    }
    eprintln!("{attack:?}: {}", out.stderr.trim());
    out
}

/// What the message must say when the circuit died before the channel
/// existed: the server's address and why, not a search timeout.
const CIRCUIT_CLOSED: &str = "fake:pv: circuit to 127.0.0.1:";

#[test]
fn garbage_after_handshake() {
    let out = assert_clean_failure(
        Attack::Garbage,
        &[CIRCUIT_CLOSED, "closed: protocol error: "],
    );
    assert!(!out.stderr.contains("Timed out"), "{out}");
}

#[test]
fn oversized_header_after_handshake() {
    assert_clean_failure(
        Attack::OversizedHeader,
        &[
            CIRCUIT_CLOSED,
            "protocol error: payload of 2147483648 bytes exceeds",
        ],
    );
}

#[test]
fn oversized_read_reply() {
    // The channel existed: the pending read fails with the circuit's reason.
    assert_clean_failure(
        Attack::OversizedReadReply,
        &[
            CIRCUIT_CLOSED,
            "protocol error: payload of 2147483648 bytes exceeds",
        ],
    );
}

#[test]
fn unknown_command_after_handshake() {
    assert_clean_failure(
        Attack::UnknownCommand,
        &[CIRCUIT_CLOSED, "unknown CA command id 30583 (0x7777)"],
    );
}

#[test]
fn truncated_header_then_close() {
    assert_clean_failure(
        Attack::TruncatedThenClose,
        &[CIRCUIT_CLOSED, "closed: server closed the connection"],
    );
}
