//! Our tools against a misbehaving server: a fake CA server in the test (UDP
//! search + TCP circuits on 127.0.0.1) that counts the circuits and searches
//! it receives, per scenario. The client must be a good network citizen:
//! a server that breaks every circuit, or drops the channel it just created,
//! gets a handful of circuits and searches, not thousands; a flood of
//! beacons and stray replies does not turn into outgoing searches; a reply
//! larger than what was asked for is refused from its header (memory stays
//! small) with an error naming the PV; server text is escaped.
//!
//! (`hostile_client.rs` sends one attack per circuit and checks the error;
//! this file checks what the client sends back, and how often.)

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{mpsc, Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::raw::header;
use common::CaEnv;

const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
const PUT_EXE: &str = env!("CARGO_BIN_EXE_caproto-put");
const MONITOR_EXE: &str = env!("CARGO_BIN_EXE_caproto-monitor");

/// Hang guard for one tool run (not a timing assertion).
const RUN: Duration = Duration::from_secs(60);
/// The acceptance bounds for a one-shot tool with `-w 2`.
const MAX_CIRCUITS: usize = 5;
const MAX_SEARCHES: usize = 20;

/// What the fake server does with a circuit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum Mode {
    /// Serves `fake:pv` as one DBR_DOUBLE, with an update every 100 ms.
    Healthy = 0,
    /// Answers VERSION, then closes the circuit.
    CloseAfterVersion,
    /// Closes the circuit when CREATE_CHAN arrives.
    CloseOnCreate,
    /// Creates the channel, then closes the circuit.
    CloseAfterCreate,
    /// Answers CREATE_CHAN with SERVER_DISCONN; the circuit stays open.
    DisconnAfterCreate,
    /// Answers READ_NOTIFY and EVENT_ADD with a header announcing
    /// 25 000 000 doubles, then streams the payload.
    Oversized,
    /// Answers READ_NOTIFY with an ERROR whose text holds control characters.
    ErrorWithControls,
    /// Does not answer searches at all.
    Mute,
    /// Answers VERSION, never CREATE_CHAN; the circuit stays open.
    Silent,
    /// Answers CREATE_CHAN with 4 KiB of pseudo-random bytes.
    GarbageOnCreate,
    /// Answers CREATE_CHAN with a header announcing a 2 GiB payload.
    HugeHeaderOnCreate,
}

impl Mode {
    fn from_u8(v: u8) -> Mode {
        [
            Mode::Healthy,
            Mode::CloseAfterVersion,
            Mode::CloseOnCreate,
            Mode::CloseAfterCreate,
            Mode::DisconnAfterCreate,
            Mode::Oversized,
            Mode::ErrorWithControls,
            Mode::Mute,
            Mode::Silent,
            Mode::GarbageOnCreate,
            Mode::HugeHeaderOnCreate,
        ][v as usize]
    }
}

const HUGE_COUNT: u32 = 25_000_000;
/// A PV whose creation the fake server never answers (keeps a tool alive
/// until its timeout, so its memory can be sampled).
const SILENT_PV: &str = "fake:silent";
const CONTROL_TEXT: &str = "bad\x1b[31mred\x07 thing";

/// One whole message: header fields and the header bytes.
#[derive(Clone, Debug)]
struct Msg {
    cmd: u16,
    dtype: u16,
    p1: u32,
    p2: u32,
    raw_header: Vec<u8>,
    payload: Vec<u8>,
}

/// Whole messages at the front of `bytes`, and how many bytes they take.
fn parse(bytes: &[u8]) -> (Vec<Msg>, usize) {
    let mut out = Vec::new();
    let mut at = 0;
    loop {
        let b = &bytes[at..];
        if b.len() < 16 {
            break;
        }
        let u16at = |i: usize| u16::from_be_bytes([b[i], b[i + 1]]);
        let u32at = |i: usize| u32::from_be_bytes([b[i], b[i + 1], b[i + 2], b[i + 3]]);
        let (mut size, mut hlen) = (u16at(2) as usize, 16);
        if size == 0xFFFF && u16at(6) == 0 {
            if b.len() < 24 {
                break;
            }
            size = u32at(16) as usize;
            hlen = 24;
        }
        if b.len() < hlen + size {
            break;
        }
        out.push(Msg {
            cmd: u16at(0),
            dtype: u16at(4),
            p1: u32at(8),
            p2: u32at(12),
            raw_header: b[..16].to_vec(),
            payload: b[hlen..hlen + size].to_vec(),
        });
        at += hlen + size;
    }
    (out, at)
}

/// Extended header: payload size and count as u32 after the 16 bytes.
fn ext_header(cmd: u16, dtype: u16, p1: u32, p2: u32, size: u32, count: u32) -> Vec<u8> {
    let mut h = header(cmd, 0xFFFF, dtype, 0, p1, p2);
    h.extend_from_slice(&size.to_be_bytes());
    h.extend_from_slice(&count.to_be_bytes());
    h
}

/// A one-element double payload of DBR type `dtype` (plain, STS or TIME;
/// metadata zeroed), padded to 8 bytes.
fn double_payload(dtype: u16, value: f64) -> Vec<u8> {
    let meta = match dtype {
        6 => 0,
        13 => 8,
        20 => 16,
        _ => 0,
    };
    let mut p = vec![0u8; meta];
    p.extend_from_slice(&value.to_be_bytes());
    p
}

struct FakeServer {
    stop: Arc<AtomicBool>,
    mode: Arc<AtomicU8>,
    circuits: Arc<AtomicUsize>,
    searches: Arc<AtomicUsize>,
    /// Where the client's searches come from (its UDP socket).
    client_udp: Arc<Mutex<Option<SocketAddr>>>,
    tcp_port: u16,
    threads: Arc<Mutex<Vec<JoinHandle<()>>>>,
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        loop {
            let t = self.threads.lock().unwrap().pop();
            match t {
                Some(t) => {
                    let _ = t.join();
                }
                None => break,
            }
        }
    }
}

impl FakeServer {
    /// Listens on the env's server port (UDP) and an ephemeral TCP port.
    fn start(env: &CaEnv, mode: Mode) -> FakeServer {
        let udp = env.bind_fake_server_udp();
        let tcp = TcpListener::bind(("127.0.0.1", 0)).expect("bind fake TCP");
        let tcp_port = tcp.local_addr().unwrap().port();
        let server = FakeServer {
            stop: Arc::new(AtomicBool::new(false)),
            mode: Arc::new(AtomicU8::new(mode as u8)),
            circuits: Arc::new(AtomicUsize::new(0)),
            searches: Arc::new(AtomicUsize::new(0)),
            client_udp: Arc::new(Mutex::new(None)),
            tcp_port,
            threads: Arc::new(Mutex::new(Vec::new())),
        };
        udp.set_read_timeout(Some(Duration::from_millis(50)))
            .unwrap();
        let (stop, mode, searches, client) = (
            server.stop.clone(),
            server.mode.clone(),
            server.searches.clone(),
            server.client_udp.clone(),
        );
        let udp_thread = std::thread::spawn(move || {
            let mut buf = [0u8; 2048];
            while !stop.load(Ordering::SeqCst) {
                let Ok((n, from)) = udp.recv_from(&mut buf) else {
                    continue;
                };
                for m in parse(&buf[..n]).0.into_iter().filter(|m| m.cmd == 6) {
                    searches.fetch_add(1, Ordering::SeqCst);
                    client.lock().unwrap().get_or_insert(from);
                    if Mode::from_u8(mode.load(Ordering::SeqCst)) == Mode::Mute {
                        continue;
                    }
                    let mut reply = header(0, 0, 0, 13, 0, 0);
                    reply.extend(header(6, 8, tcp_port, 0, 0xFFFF_FFFF, m.p1));
                    reply.extend([0, 13, 0, 0, 0, 0, 0, 0]);
                    let _ = udp.send_to(&reply, from);
                }
            }
        });
        tcp.set_nonblocking(true).unwrap();
        let (stop, mode, circuits, threads) = (
            server.stop.clone(),
            server.mode.clone(),
            server.circuits.clone(),
            server.threads.clone(),
        );
        let tcp_thread = std::thread::spawn(move || {
            while !stop.load(Ordering::SeqCst) {
                match tcp.accept() {
                    Ok((conn, _)) => {
                        circuits.fetch_add(1, Ordering::SeqCst);
                        let (stop, mode) = (stop.clone(), mode.clone());
                        let t = std::thread::spawn(move || serve(conn, &mode, &stop));
                        threads.lock().unwrap().push(t);
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        {
            let mut t = server.threads.lock().unwrap();
            t.push(udp_thread);
            t.push(tcp_thread);
        }
        server
    }

    fn set_mode(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
    }

    fn circuits(&self) -> usize {
        self.circuits.load(Ordering::SeqCst)
    }

    fn searches(&self) -> usize {
        self.searches.load(Ordering::SeqCst)
    }
}

/// Plays the mode of the moment on one circuit. A circuit that began healthy
/// is closed as soon as the mode changes (the server "breaks").
fn serve(mut conn: TcpStream, mode: &AtomicU8, stop: &AtomicBool) {
    let started = Mode::from_u8(mode.load(Ordering::SeqCst));
    let _ = conn.set_nonblocking(false);
    let _ = conn.set_read_timeout(Some(Duration::from_millis(20)));
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    // subscription id -> data type, for the healthy updates.
    let mut subs: Vec<(u32, u16)> = Vec::new();
    let mut value = 0.0f64;
    let mut next_update = Instant::now();
    while !stop.load(Ordering::SeqCst) {
        if started == Mode::Healthy && Mode::from_u8(mode.load(Ordering::SeqCst)) != started {
            return; // broken from now on: this circuit is closed
        }
        match conn.read(&mut buf) {
            Ok(0) => return,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(_) => return,
        }
        let (msgs, used) = parse(&got);
        got.drain(..used);
        let mut out = Vec::new();
        for m in msgs {
            match (m.cmd, started) {
                (0, _) => {
                    out.extend(header(0, 0, 0, 13, 0, 0));
                    if started == Mode::CloseAfterVersion {
                        let _ = conn.write_all(&out);
                        return;
                    }
                }
                (18, Mode::CloseOnCreate) => return,
                (18, Mode::Silent) => {}
                (18, Mode::GarbageOnCreate) => {
                    let mut x = 0x2545_F491_4F6C_DD1Du64 ^ u64::from(m.p1);
                    out.extend((0..4096).map(|_| {
                        x ^= x << 13;
                        x ^= x >> 7;
                        x ^= x << 17;
                        (x >> 32) as u8
                    }));
                }
                (18, Mode::HugeHeaderOnCreate) => {
                    out.extend(ext_header(1, 6, 1, m.p1, 0x8000_0000, 1));
                }
                // A PV that is never created, whatever the mode.
                (18, _) if m.payload.starts_with(SILENT_PV.as_bytes()) => {}
                (18, Mode::DisconnAfterCreate) => out.extend(header(27, 0, 0, 0, m.p1, 0)),
                (18, _) => {
                    out.extend(header(22, 0, 0, 0, m.p1, 3)); // read + write
                    out.extend(header(18, 0, 6, 1, m.p1, m.p1)); // DBR_DOUBLE x1, sid = cid
                    if started == Mode::CloseAfterCreate {
                        let _ = conn.write_all(&out);
                        return;
                    }
                }
                (15, Mode::ErrorWithControls) => {
                    let mut text = CONTROL_TEXT.as_bytes().to_vec();
                    text.push(0);
                    text.resize(text.len().div_ceil(8) * 8, 0);
                    // ECA_GETFAIL (19 << 3, warning severity).
                    out.extend(header(11, (16 + text.len()) as u16, 0, 0, m.p1, 19 << 3));
                    out.extend(&m.raw_header);
                    out.extend(text);
                }
                (15 | 1, Mode::Oversized) => {
                    let _ = conn.write_all(&out);
                    out.clear();
                    let size = HUGE_COUNT * 8;
                    let h = ext_header(m.cmd, m.dtype, 1, m.p2, size, HUGE_COUNT);
                    if conn.write_all(&h).is_err() {
                        return;
                    }
                    // Stream the payload until the client hangs up.
                    let chunk = vec![0u8; 1 << 20];
                    let _ = conn.set_write_timeout(Some(Duration::from_secs(5)));
                    for _ in 0..(size as usize).div_ceil(chunk.len()) {
                        if stop.load(Ordering::SeqCst) || conn.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                }
                (15, _) => {
                    let p = double_payload(m.dtype, 1.0);
                    out.extend(header(15, p.len() as u16, m.dtype, 1, 1, m.p2));
                    out.extend(p);
                }
                (1, _) => subs.push((m.p2, m.dtype)),
                _ => {}
            }
        }
        if started == Mode::Healthy && !subs.is_empty() && Instant::now() >= next_update {
            next_update = Instant::now() + Duration::from_millis(100);
            value += 1.0;
            for (subid, dtype) in &subs {
                let p = double_payload(*dtype, value);
                out.extend(header(1, p.len() as u16, *dtype, 1, 1, *subid));
                out.extend(p);
            }
        }
        if !out.is_empty() && conn.write_all(&out).is_err() {
            return;
        }
    }
}

/// A finished tool run with the peak resident memory seen.
struct Run {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    /// Largest VmHWM (kB) read from /proc while the tool ran.
    vm_hwm_kb: u64,
}

impl std::fmt::Display for Run {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "exit {:?}, VmHWM {} kB\n--- stdout ---\n{}\n--- stderr ---\n{}",
            self.code,
            self.vm_hwm_kb,
            self.stdout,
            truncate(&self.stderr)
        )
    }
}

fn truncate(s: &str) -> &str {
    match s.char_indices().nth(4000) {
        Some((i, _)) => &s[..i],
        None => s,
    }
}

fn vm_hwm_kb(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

/// Runs `cmd` to completion (killed after [`RUN`]), sampling its VmHWM.
fn run(cmd: &mut Command) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("spawn tool");
    let pid = child.id();
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let out_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = so.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let err_t = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = se.read_to_end(&mut s);
        String::from_utf8_lossy(&s).into_owned()
    });
    let deadline = Instant::now() + RUN;
    let mut hwm = 0;
    let status = loop {
        if let Some(kb) = vm_hwm_kb(pid) {
            hwm = hwm.max(kb);
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status);
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    Run {
        code: status.and_then(|s| s.code()),
        stdout: out_t.join().unwrap(),
        stderr: err_t.join().unwrap(),
        vm_hwm_kb: hwm,
    }
}

fn get(env: &CaEnv, extra: &[&str]) -> Run {
    let mut cmd = env.own(GET_EXE);
    cmd.args(["--no-repeater", "-w", "2"]).args(extra);
    cmd.arg("fake:pv");
    run(&mut cmd)
}

/// Runs the one-shot `tool` against `mode` and checks the acceptance bounds:
/// at most 5 circuits and 20 searches within its 2 s timeout, exit 1.
fn one_shot(mode: Mode, tool: &str) -> (Run, FakeServer) {
    let env = CaEnv::new();
    let server = FakeServer::start(&env, mode);
    let out = match tool {
        "get" => get(&env, &[]),
        _ => run(env
            .own(PUT_EXE)
            .args(["--no-repeater", "-w", "2", "fake:pv", "1"])),
    };
    let (circuits, searches) = (server.circuits(), server.searches());
    eprintln!(
        "{mode:?} {tool}: {circuits} circuits, {searches} searches: {}",
        out.stderr.trim()
    );
    assert_eq!(out.code, Some(1), "{mode:?} {tool}: {out}");
    assert!(
        circuits >= 1,
        "{mode:?} {tool}: never reached the server\n{out}"
    );
    assert!(
        circuits <= MAX_CIRCUITS,
        "{mode:?} {tool}: {circuits} circuits in 2 s (at most {MAX_CIRCUITS})\n{out}"
    );
    assert!(
        searches <= MAX_SEARCHES,
        "{mode:?} {tool}: {searches} searches in 2 s (at most {MAX_SEARCHES})\n{out}"
    );
    assert!(!out.stderr.contains("panicked"), "{out}");
    (out, server)
}

#[test]
fn a_server_closing_every_circuit_after_version_gets_a_few_circuits() {
    let (out, server) = one_shot(Mode::CloseAfterVersion, "get");
    let want = format!(
        "fake:pv: circuit to 127.0.0.1:{} closed: server closed the connection",
        server.tcp_port
    );
    assert_eq!(out.stderr.trim(), want, "{out}");
}

#[test]
fn a_server_closing_on_create_gets_a_few_circuits_from_get_and_put() {
    one_shot(Mode::CloseOnCreate, "get");
    one_shot(Mode::CloseOnCreate, "put");
}

#[test]
fn a_server_answering_garbage_or_a_huge_header_gets_a_few_circuits() {
    let (out, _) = one_shot(Mode::GarbageOnCreate, "get");
    assert!(out.stderr.contains("closed: protocol error: "), "{out}");
    let (out, _) = one_shot(Mode::HugeHeaderOnCreate, "get");
    assert!(
        out.stderr
            .contains("protocol error: payload of 2147483648 bytes exceeds"),
        "{out}"
    );
}

#[test]
fn a_server_closing_after_create_gets_a_few_circuits() {
    one_shot(Mode::CloseAfterCreate, "get");
}

#[test]
fn server_disconn_after_create_gets_a_few_searches_and_says_so() {
    let (out, server) = one_shot(Mode::DisconnAfterCreate, "get");
    let want = format!(
        "server 127.0.0.1:{} disconnected channel fake:pv",
        server.tcp_port
    );
    assert_eq!(out.stderr.trim(), want, "{out}");
}

/// 100 000 datagrams at the client's search socket (beacons from ever new
/// servers and ids, search replies for unknown cids) while it searches for a
/// name nobody has: it sends no more searches than without the flood.
#[test]
fn a_udp_flood_does_not_multiply_into_searches() {
    let quiet = {
        let env = CaEnv::new();
        let server = FakeServer::start(&env, Mode::Mute);
        let out = get(&env, &[]);
        assert_eq!(out.code, Some(1), "{out}");
        server.searches()
    };
    let env = CaEnv::new();
    let server = FakeServer::start(&env, Mode::Mute);
    let client_udp = server.client_udp.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let stop2 = stop.clone();
    let sent = Arc::new(AtomicUsize::new(0));
    let sent2 = sent.clone();
    let flood = std::thread::spawn(move || {
        let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
        let dest = loop {
            if let Some(a) = *client_udp.lock().unwrap() {
                break a;
            }
            if stop2.load(Ordering::SeqCst) {
                return;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        for i in 0..100_000u32 {
            if stop2.load(Ordering::SeqCst) {
                break;
            }
            let d = if i % 2 == 0 {
                // Beacon: minor 13, server port varies, id jumps.
                header(
                    13,
                    0,
                    13,
                    (i % 60_000) as u16 + 1,
                    i.wrapping_mul(7919),
                    0x7F00_0001,
                )
            } else {
                let mut d = header(0, 0, 0, 13, 0, 0);
                d.extend(header(6, 8, 5064, 0, 0xFFFF_FFFF, 1_000_000 + i));
                d.extend([0, 13, 0, 0, 0, 0, 0, 0]);
                d
            };
            if sock.send_to(&d, dest).is_ok() {
                sent2.fetch_add(1, Ordering::SeqCst);
            }
        }
    });
    let out = get(&env, &["-vv"]);
    stop.store(true, Ordering::SeqCst);
    flood.join().unwrap();
    let searches = server.searches();
    let sent = sent.load(Ordering::SeqCst);
    eprintln!("flood: {sent} datagrams in, {searches} searches out (quiet run: {quiet})");
    assert_eq!(out.code, Some(1), "{out}");
    assert!(sent >= 10_000, "the flood hardly started ({sent})");
    // At most one extra round per accepted beacon anomaly (one per 2 s).
    assert!(
        searches <= quiet + 3 && searches <= MAX_SEARCHES,
        "{searches} searches with the flood, {quiet} without\n{out}"
    );
    assert!(
        out.stderr.contains("search replies for unknown ids"),
        "-vv does not explain the drops\n{out}"
    );
}

/// `-vv` explains the behaviour: each hold is a DEBUG record.
#[test]
fn every_back_off_decision_is_logged_at_vv() {
    let env = CaEnv::new();
    let _server = FakeServer::start(&env, Mode::CloseAfterVersion);
    let out = get(&env, &["-vv"]);
    assert_eq!(out.code, Some(1), "{out}");
    for needle in [
        "circuit failed 2 times in a row: holding the server off for 0.500 s",
        "circuit failed 3 times in a row: holding the server off for 1.000 s",
        "connection lost 2 times in a row: searching again in 0.500 s",
    ] {
        assert!(out.stderr.contains(needle), "-vv lacks {needle:?}\n{out}");
    }
    let env = CaEnv::new();
    let _server = FakeServer::start(&env, Mode::DisconnAfterCreate);
    let out = get(&env, &["-vv"]);
    for needle in [
        "server disconnected channel",
        "connection lost 2 times in a row: searching again in 0.500 s",
    ] {
        assert!(out.stderr.contains(needle), "-vv lacks {needle:?}\n{out}");
    }
}

#[test]
fn a_silent_server_is_named_in_the_timeout() {
    let env = CaEnv::new();
    let server = FakeServer::start(&env, Mode::Silent);
    let out = get(&env, &[]);
    assert_eq!(out.code, Some(1), "{out}");
    let want = format!(
        "fake:pv: server 127.0.0.1:{} did not answer the channel creation within 2.000 s",
        server.tcp_port
    );
    assert_eq!(out.stderr.trim(), want, "{out}");
    assert_eq!(server.circuits(), 1, "{out}");
}

fn assert_refused_oversized(out: &Run, what: &str) {
    eprintln!("{what}: peak RSS {} kB", out.vm_hwm_kb);
    assert!(
        out.stderr
            .lines()
            .any(|l| l == "fake:pv: reply of 25000000 elements for a 1-element channel"),
        "{what}: missing the refusal\n{out}"
    );
    assert!(
        out.vm_hwm_kb > 1024,
        "{what}: the tool's memory was never sampled\n{out}"
    );
    assert!(
        out.vm_hwm_kb < 64 * 1024,
        "{what}: peak RSS {} kB (>= 64 MiB)\n{out}",
        out.vm_hwm_kb
    );
    assert_eq!(out.code, Some(1), "{what}: {out}");
    // A monitor reports the broken circuit (`*** disconnected`) and retries;
    // no line may carry a value.
    assert!(
        !out.stdout
            .lines()
            .any(|l| l.contains("fake:pv") && !l.ends_with("*** disconnected")),
        "{what}: printed a value\n{out}"
    );
}

#[test]
fn an_oversized_get_reply_is_refused_from_its_header() {
    let env = CaEnv::new();
    let _server = FakeServer::start(&env, Mode::Oversized);
    // The second PV keeps the tool running to its timeout, so its memory is
    // sampled after the refusal too.
    let out = get(&env, &[SILENT_PV]);
    assert_refused_oversized(&out, "get");
}

#[test]
fn an_oversized_monitor_update_is_refused_from_its_header() {
    let env = CaEnv::new();
    let server = FakeServer::start(&env, Mode::Oversized);
    let out =
        run(env
            .own(MONITOR_EXE)
            .args(["--no-repeater", "-w", "2", "--duration", "3", "fake:pv"]));
    assert_refused_oversized(&out, "monitor");
    assert!(server.circuits() <= MAX_CIRCUITS + 1, "{out}");
}

/// A PV whose server answers the search and then sends garbage never connects; when
/// `--duration` ends before the connection timeout (here 1 s against `-w 5`), the monitor
/// still reports it as not connected and exits 1, as it does when the timeout comes first.
#[test]
fn a_monitor_reports_a_pv_that_never_connected_when_its_duration_ends_first() {
    let env = CaEnv::new();
    let server = FakeServer::start(&env, Mode::GarbageOnCreate);
    let out =
        run(env
            .own(MONITOR_EXE)
            .args(["--no-repeater", "-w", "5", "--duration", "1", "fake:pv"]));
    assert_eq!(out.code, Some(1), "{out}");
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), 1, "{out}");
    let words: Vec<&str> = lines[0].split_whitespace().collect();
    assert_eq!(
        words,
        ["fake:pv", "***", "Not", "connected", "(PV", "not", "found)"],
        "{out}"
    );
    assert!(
        server.circuits() >= 1,
        "the search was never answered: {out}"
    );
}

#[test]
fn server_error_text_is_escaped() {
    let env = CaEnv::new();
    let _server = FakeServer::start(&env, Mode::ErrorWithControls);
    let out = get(&env, &[]);
    assert_eq!(out.code, Some(1), "{out}");
    assert_eq!(
        out.stderr.trim(),
        "fake:pv: bad\\x1b[31mred\\x07 thing",
        "{out}"
    );
    assert!(!out.stderr.contains('\x1b') && !out.stderr.contains('\x07'));
}

/// A long-running monitor: the server breaks every circuit for 30 s, then
/// behaves. Fewer than 100 circuits in those 30 s; once the server behaves,
/// the monitor's next circuit brings the updates back (counted in circuits,
/// not seconds: two busy cores stretch the back-off's timers, not its count).
#[test]
fn a_monitor_backs_off_while_the_server_breaks_circuits_and_recovers() {
    let env = CaEnv::new();
    let server = FakeServer::start(&env, Mode::Healthy);
    let mut cmd = env.own(MONITOR_EXE);
    // No --duration: the test's own windows decide, and it kills the monitor.
    cmd.args(["--no-repeater", "-w", "2", "fake:pv"])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().expect("spawn caproto-monitor");
    let stdout = child.stdout.take().unwrap();
    let (tx, rx) = mpsc::channel::<Instant>();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if line.starts_with("fake:pv") && tx.send(Instant::now()).is_err() {
                break;
            }
        }
    });
    let first = rx.recv_timeout(Duration::from_secs(20));
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        assert!(first.is_ok(), "no first update from the healthy server");
        server.set_mode(Mode::CloseAfterCreate);
        let before = server.circuits();
        std::thread::sleep(Duration::from_secs(30));
        let broken = server.circuits() - before;
        while rx.try_recv().is_ok() {}
        server.set_mode(Mode::Healthy);
        let recovered = Instant::now();
        let at_recovery = server.circuits();
        // Hang guard only: the back-off's longest pause is far shorter.
        let resumed = rx.recv_timeout(Duration::from_secs(60));
        let after = server.circuits() - at_recovery;
        eprintln!(
            "{broken} circuits in 30 s of breakage; resumed after {:?} and {after} circuits",
            resumed.map(|t| t - recovered)
        );
        assert!(
            broken >= 2,
            "the monitor stopped retrying ({broken} circuits)"
        );
        assert!(broken < 100, "{broken} circuits in 30 s");
        assert!(resumed.is_ok(), "no update within 60 s of the recovery");
        // The circuit that brought the updates back, plus at most one that was
        // already being broken when the server recovered.
        assert!(
            (1..=2).contains(&after),
            "{after} circuits after the recovery before the first update"
        );
    }));
    let _ = child.kill();
    let _ = child.wait();
    let _ = reader.join();
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}
