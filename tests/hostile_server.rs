//! Hostile clients against our `caproto-ioc simple`: raw TCP/UDP sockets on
//! 127.0.0.1 send truncated, oversized, unknown and garbage commands, floods
//! of channel creations and searches. After each, the server must still be
//! running, still serve our `caproto-get`, and keep its resident memory under
//! a generous bound (no allocation driven by a hostile length field).

mod common;

use std::io::{ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream, UdpSocket};
use std::process::Command;
use std::time::{Duration, Instant};

use common::raw::{header, padded};
use common::{CaEnv, ChildGuard};

const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");

/// Hang guard for any one socket read or client run (not a timing assertion).
const IO_TIMEOUT: Duration = Duration::from_secs(20);
/// Resident-memory ceiling for the server after an attack: far above what
/// the simple IOC needs, far below what a hostile length field could make it
/// allocate (up to 4 GiB).
const MAX_RSS_KB: u64 = 256 * 1024;

/// VERSION (priority 0, minor 13) + HOST_NAME + CLIENT_NAME: a client's
/// normal opening of a circuit.
fn handshake() -> Vec<u8> {
    let mut m = header(0, 0, 0, 13, 0, 0);
    for (cmd, name) in [(21u16, "localhost"), (20u16, "hostile")] {
        let p = padded(name);
        m.extend(header(cmd, p.len() as u16, 0, 0, 0, 0));
        m.extend(p);
    }
    m
}

/// CREATE_CHAN for `name` with client id `cid`, protocol minor 13.
fn create_chan(name: &str, cid: u32) -> Vec<u8> {
    let p = padded(name);
    let mut m = header(18, p.len() as u16, 0, 0, cid, 13);
    m.extend(p);
    m
}

/// A deterministic pseudo-random byte stream (xorshift), for garbage.
fn garbage(len: usize, mut seed: u64) -> Vec<u8> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

struct Ioc {
    env: CaEnv,
    server: ChildGuard,
    prefix: String,
}

/// `<prefix>A` read with our own caproto-get.
fn get_a(env: &CaEnv, prefix: &str) -> common::RunOutput {
    let mut cmd: Command = env.own(GET_EXE);
    cmd.args(["--no-repeater", "--timeout", "10", &format!("{prefix}A")]);
    env.run(&mut cmd, IO_TIMEOUT)
}

impl Ioc {
    /// Starts `caproto-ioc simple` on fresh loopback ports and waits (with our
    /// own caproto-get, so no peer is needed) until `<prefix>A` answers.
    fn start(prefix: &str) -> Ioc {
        let env = CaEnv::new();
        let mut cmd = common::servers::our_ioc_command(&env);
        cmd.args(["simple", "--prefix", prefix]);
        let mut server = common::servers::spawn_our_ioc(&env, "caproto-ioc-simple", &mut cmd);
        let mut last = None;
        let answered = server.wait_for(Duration::from_secs(60), |_| {
            let out = get_a(&env, prefix);
            let ok = out.success();
            last = Some(out);
            ok.then_some(())
        });
        if answered.is_none() {
            panic!("caproto-ioc never answered:\n{}", last.unwrap());
        }
        Ioc {
            env,
            server,
            prefix: prefix.to_owned(),
        }
    }

    fn get_a(&self) -> common::RunOutput {
        get_a(&self.env, &self.prefix)
    }

    fn tcp(&self) -> TcpStream {
        let s = TcpStream::connect(("127.0.0.1", self.env.server_port()))
            .unwrap_or_else(|e| panic!("connect to the IOC: {e}"));
        s.set_read_timeout(Some(IO_TIMEOUT)).unwrap();
        s.set_write_timeout(Some(IO_TIMEOUT)).unwrap();
        s
    }

    /// The server is running, serves a normal client, and is not bloated.
    fn assert_healthy(&mut self, after: &str) {
        self.server.assert_running();
        let out = self.get_a();
        assert!(
            out.success(),
            "after {after}: caproto-get failed:\n{out}\n--- server log ---\n{}",
            self.server.log_contents()
        );
        let line = out.stdout.trim();
        assert!(
            line.starts_with(&format!("{}A", self.prefix))
                && (line.ends_with(" 1") || line.ends_with("[1]")),
            "after {after}: unexpected caproto-get output {line:?}"
        );
        let rss = vm_rss_kb(self.server.pid());
        assert!(
            rss < MAX_RSS_KB,
            "after {after}: server VmRSS {rss} kB >= {MAX_RSS_KB} kB"
        );
    }
}

/// VmRSS of `pid` in kB from /proc/PID/status.
fn vm_rss_kb(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))
        .unwrap_or_else(|e| panic!("read /proc/{pid}/status: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no VmRSS in /proc/{pid}/status"))
}

/// Reads until the server closes the circuit (EOF or reset); panics if it is
/// still open after [`IO_TIMEOUT`] of silence. Returns the bytes received.
fn read_until_closed(s: &mut TcpStream, what: &str) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return got,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(e) if matches!(e.kind(), ErrorKind::ConnectionReset | ErrorKind::BrokenPipe) => {
                return got
            }
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                panic!("{what}: server kept the circuit open for {IO_TIMEOUT:?}")
            }
            Err(e) => panic!("{what}: read error {e}"),
        }
    }
}

/// (command id, parameter 1) of each whole message in a byte stream.
fn messages(mut bytes: &[u8]) -> Vec<(u16, u32)> {
    let mut out = Vec::new();
    while bytes.len() >= 16 {
        let cmd = u16::from_be_bytes([bytes[0], bytes[1]]);
        let p1 = u32::from_be_bytes([bytes[8], bytes[9], bytes[10], bytes[11]]);
        let mut size = u16::from_be_bytes([bytes[2], bytes[3]]) as usize;
        let count = u16::from_be_bytes([bytes[6], bytes[7]]);
        let mut hlen = 16;
        if size == 0xFFFF && count == 0 {
            if bytes.len() < 24 {
                break;
            }
            size = u32::from_be_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]) as usize;
            hlen = 24;
        }
        if bytes.len() < hlen + size {
            break;
        }
        out.push((cmd, p1));
        bytes = &bytes[hlen + size..];
    }
    out
}

/// Commands (id) in a byte stream of standard/extended CA messages.
fn command_ids(bytes: &[u8]) -> Vec<u16> {
    messages(bytes).into_iter().map(|(cmd, _)| cmd).collect()
}

/// Write `msg` on `s` while a thread reads the replies (so neither side
/// blocks on a full socket buffer) until `n` commands with id `until` have
/// arrived or the circuit ends. Returns the write's result and the bytes read.
fn write_and_collect(
    s: &mut TcpStream,
    msg: &[u8],
    until: u16,
    n: usize,
) -> (std::io::Result<()>, Vec<u8>) {
    let mut reader = s.try_clone().unwrap();
    let collect = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        loop {
            match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
            }
            if command_ids(&got).iter().filter(|c| **c == until).count() >= n {
                break;
            }
        }
        got
    });
    let wrote = s.write_all(msg);
    (wrote, collect.join().expect("reader thread"))
}

#[test]
fn truncated_header_then_close() {
    let mut ioc = Ioc::start("hs1:");
    for cut in [1usize, 7, 15] {
        let mut s = ioc.tcp();
        let mut msg = handshake();
        msg.extend(&create_chan("hs1:A", 1)[..cut]);
        s.write_all(&msg).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        // The server answers the VERSION, then must drop the circuit at EOF
        // rather than wait forever for the rest of the header.
        let got = read_until_closed(&mut s, "truncated header");
        assert_eq!(
            command_ids(&got).first(),
            Some(&0),
            "expected a VERSION reply first"
        );
        ioc.assert_healthy(&format!("a header cut at {cut} bytes"));
    }
}

#[test]
fn oversized_payload_closes_circuit_without_allocating() {
    let mut ioc = Ioc::start("hs2:");
    let before = vm_rss_kb(ioc.server.pid());
    for (payload, count) in [(0x7FFF_FFF0u32, 1u32), (0xFFFF_FFF8, 0x1000_0000)] {
        let mut s = ioc.tcp();
        let mut msg = handshake();
        // WRITE_NOTIFY (19) with an extended header announcing ~2-4 GiB.
        msg.extend(header(19, 0xFFFF, 5, 0, 1, 1));
        msg.extend(payload.to_be_bytes());
        msg.extend(count.to_be_bytes());
        msg.extend(garbage(4096, 7));
        s.write_all(&msg).unwrap();
        // No shutdown: the server must close on the header alone.
        read_until_closed(&mut s, "oversized payload header");
        ioc.assert_healthy(&format!("a {payload:#x}-byte payload header"));
    }
    let after = vm_rss_kb(ioc.server.pid());
    assert!(
        after < before + 64 * 1024,
        "VmRSS grew from {before} kB to {after} kB after oversized headers"
    );
}

#[test]
fn unknown_command_ids() {
    let mut ioc = Ioc::start("hs3:");
    for cmd in [33u16, 0x00FF, 0x7777, 0xFFFE] {
        let mut s = ioc.tcp();
        let mut msg = handshake();
        msg.extend(header(cmd, 8, 0, 0, 0, 0));
        msg.extend([0u8; 8]);
        s.write_all(&msg).unwrap();
        s.shutdown(Shutdown::Write).unwrap();
        read_until_closed(&mut s, "unknown command");
        ioc.assert_healthy(&format!("unknown command {cmd:#x}"));
    }
}

#[test]
fn pure_garbage() {
    let mut ioc = Ioc::start("hs4:");
    for seed in 1..=4u64 {
        let mut s = ioc.tcp();
        // Without a handshake first: random bytes from byte 0.
        let junk = garbage(64 * 1024, seed * 0x9E37_79B9);
        // The server may close mid-write: a reset is fine, a hang is not.
        let _ = s.write_all(&junk);
        let _ = s.shutdown(Shutdown::Write);
        read_until_closed(&mut s, "garbage");
        ioc.assert_healthy(&format!("64 KiB of garbage (seed {seed})"));
    }
}

#[test]
fn two_thousand_create_chan_for_unknown_names() {
    let mut ioc = Ioc::start("hs5:");
    const N: u32 = 2000;
    let mut s = ioc.tcp();
    let mut msg = handshake();
    for cid in 1..=N {
        msg.extend(create_chan(&format!("hs5:nope{cid}"), cid));
    }
    let (wrote, got) = write_and_collect(&mut s, &msg, 26, N as usize);
    wrote.expect("the server read all the creates (the circuit stayed open)");
    let ids = command_ids(&got);
    let creates = ids.iter().filter(|c| **c == 18).count();
    assert_eq!(creates, 0, "server created channels for unknown names");
    // Every create is refused with a CREATE_CH_FAIL that names its own cid
    // (parameter 1), once: a server that ignores them, answers some, or
    // answers with the wrong ids fails here.
    let mut refused: Vec<u32> = messages(&got)
        .into_iter()
        .filter(|(cmd, _)| *cmd == 26)
        .map(|(_, p1)| p1)
        .collect();
    let fails = refused.len();
    refused.sort_unstable();
    let expected: Vec<u32> = (1..=N).collect();
    assert!(
        refused == expected,
        "{fails} CREATE_CH_FAIL replies for {N} creates; cids answered: first {:?}, last {:?}",
        refused.first(),
        refused.last()
    );
    eprintln!("{fails} of {N} CREATE_CHAN refused with CREATE_CH_FAIL");
    drop(s);
    ioc.assert_healthy(&format!(
        "{N} CREATE_CHAN for unknown names ({fails} refused)"
    ));
}

/// Channel ids chosen to collide in the low bits, where the id maps put
/// consecutive ids side by side (`proto::ids`): each lookup on this circuit
/// scans the run, so the server slows down on it, but it must still answer
/// every create and stay healthy for others.
#[test]
fn colliding_channel_ids() {
    let mut ioc = Ioc::start("hs7:");
    const N: u32 = 4000;
    let mut s = ioc.tcp();
    let mut msg = handshake();
    for i in 1..=N {
        // Same low 20 bits for every cid.
        msg.extend(create_chan("hs7:A", i << 20));
    }
    let (wrote, got) = write_and_collect(&mut s, &msg, 18, N as usize);
    wrote.expect("server read every create");
    let creates = command_ids(&got).iter().filter(|c| **c == 18).count();
    assert_eq!(creates, N as usize, "CREATE_CHAN replies");
    drop(s);
    ioc.assert_healthy(&format!("{N} channels with colliding cids"));
}

#[test]
fn bounded_udp_search_flood() {
    let mut ioc = Ioc::start("hs6:");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_millis(1)))
        .unwrap();
    let to = ("127.0.0.1", ioc.env.server_port());
    let mut sink = [0u8; 2048];
    let rss_before = vm_rss_kb(ioc.server.pid());
    // Nothing in the flood deserves an answer: unknown names with DONT_REPLY, a
    // search whose size lies, noise. Every datagram that comes back is counted.
    let mut replies = 0usize;
    for i in 0..5000u32 {
        let datagram = match i % 4 {
            // Well-formed VERSION + SEARCH (DO_REPLY) for an unknown name.
            0 | 1 => {
                let name = padded(&format!("hs6:flood{i}"));
                let mut d = header(0, 0, 0, 13, 0, 0);
                d.extend(header(6, name.len() as u16, 5, 13, i, i));
                d.extend(name);
                d
            }
            // SEARCH whose payload size lies (longer than the datagram).
            2 => {
                let mut d = header(6, 4000, 5, 13, i, i);
                d.extend(b"hs6:A\0\0\0");
                d
            }
            // Random bytes.
            _ => garbage(1 + (i as usize % 1400), u64::from(i) + 1),
        };
        // A full socket buffer may drop datagrams: that is part of a flood.
        let _ = sock.send_to(&datagram, to);
        // Drain replies now and then so our socket never backs up.
        if i % 64 == 0 {
            while sock.recv_from(&mut sink).is_ok() {
                replies += 1;
            }
        }
    }
    // The server has read the whole flood once it answers a search sent after it (the
    // socket is FIFO); drain what came back before that answer.
    // A valid search for a known name still gets an answer over UDP.
    sock.set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let name = padded("hs6:A");
    let mut d = header(0, 0, 0, 13, 0, 0);
    d.extend(header(6, name.len() as u16, 5, 13, 0xABCD, 0xABCD));
    d.extend(name);
    let deadline = Instant::now() + IO_TIMEOUT;
    let mut answered = false;
    while !answered && Instant::now() < deadline {
        sock.send_to(&d, to).unwrap();
        let until = Instant::now() + Duration::from_millis(500);
        while Instant::now() < until {
            let Ok((n, _)) = sock.recv_from(&mut sink) else {
                break;
            };
            let bytes = &sink[..n];
            let mut at = 0;
            while at + 16 <= n {
                let cmd = u16::from_be_bytes([bytes[at], bytes[at + 1]]);
                let size = u16::from_be_bytes([bytes[at + 2], bytes[at + 3]]) as usize;
                let p2 = u32::from_be_bytes([
                    bytes[at + 12],
                    bytes[at + 13],
                    bytes[at + 14],
                    bytes[at + 15],
                ]);
                if cmd == 6 && p2 == 0xABCD {
                    answered = true;
                } else if cmd != 0 {
                    // VERSION headers come with every reply; anything else answered the flood.
                    replies += 1;
                }
                at += 16 + size;
            }
        }
    }
    assert!(answered, "no search reply for hs6:A after the flood");
    assert_eq!(replies, 0, "the server answered {replies} flood datagrams");
    let rss_after = vm_rss_kb(ioc.server.pid());
    assert!(
        rss_after < rss_before + 16 * 1024,
        "VmRSS grew from {rss_before} kB to {rss_after} kB during the flood"
    );
    ioc.assert_healthy("a 5000-datagram UDP flood");
}
