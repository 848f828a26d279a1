//! Peer clients on our server's large-payload paths: `caproto-ioc
//! big_arrays` serves `wave` (1 000 000 doubles, 8 MB), `chars` (100 000
//! chars) and `strings` (100 000 strings). EPICS `caget`, `caput -a`,
//! `caput -S` and `camonitor`, and caproto's Python client, read and write
//! them; every element is compared. `EPICS_CA_MAX_ARRAY_BYTES` is set on both
//! sides (the server above its 16 MiB floor; the EPICS clients with
//! `EPICS_CA_AUTO_ARRAY_BYTES=NO`, so the limit is really applied), and a
//! client limit too small for the array gives EPICS's own error, in bounded
//! time, not a hang.

mod common;
mod server_support;

use std::process::Command;
use std::time::{Duration, Instant};

use common::{CaEnv, ChildGuard, RunOutput};

/// Elements of `wave` and of `chars`/`strings` (see src/ioc_examples/big_arrays.rs).
const WAVE_LEN: usize = 1_000_000;
const TEXT_LEN: usize = 100_000;
/// The server's limit: above the 16 MiB floor, so the variable is the one
/// in force.
const SERVER_MAX_BYTES: &str = "20000000";
/// Enough for `wave` as DBR_TIME_DOUBLE (8 000 000 bytes + metadata).
const CLIENT_MAX_BYTES: &str = "8000100";
/// Hang guard for one client run (not a timing assertion).
const RUN: Duration = Duration::from_secs(120);

fn start(env: &CaEnv, prefix: &str) -> Option<ChildGuard> {
    let mut cmd = common::servers::our_ioc_command(env);
    cmd.args(["big_arrays", "--prefix", prefix])
        .env("EPICS_CA_MAX_ARRAY_BYTES", SERVER_MAX_BYTES);
    let mut server = common::servers::spawn_our_ioc(env, "caproto-ioc-big_arrays", &mut cmd);
    if !common::peers::has_epics() && !common::peers::has_caproto() {
        return common::peers::missing("EPICS base or caproto", &common::peers::peers_dir());
    }
    common::wait_for_server(env, &mut server, &format!("{prefix}chars"));
    Some(server)
}

/// An EPICS tool whose client limit is `max_bytes`, applied for real.
fn epics(env: &CaEnv, tool: &str, max_bytes: &str) -> Option<Command> {
    let mut cmd = env.epics(tool)?;
    cmd.env("EPICS_CA_AUTO_ARRAY_BYTES", "NO")
        .env("EPICS_CA_MAX_ARRAY_BYTES", max_bytes);
    Some(cmd)
}

fn run(env: &CaEnv, mut cmd: Command, args: &[&str]) -> RunOutput {
    cmd.args(args);
    let out = env.run(&mut cmd, RUN);
    assert!(!out.timed_out, "hung:\n{}", short(&out));
    out
}

/// A run's description with long output cut (8 MB lines do not help).
fn short(out: &RunOutput) -> String {
    let cut = |s: &str| s.chars().take(2000).collect::<String>();
    format!(
        "command: {}\nstatus: {:?}\nstdout: {}\nstderr: {}",
        out.command.chars().take(300).collect::<String>(),
        out.status,
        cut(&out.stdout),
        cut(&out.stderr)
    )
}

/// `caget` output `PV COUNT v0 v1 ...`: the count and the values.
fn caget_array(line: &str, pv: &str) -> (usize, Vec<f64>) {
    let mut words = line.split_whitespace();
    assert_eq!(words.next(), Some(pv), "{}", &line[..line.len().min(200)]);
    let count = words.next().and_then(|c| c.parse().ok()).expect("count");
    let values = words.map(|w| w.parse().expect("a number")).collect();
    (count, values)
}

/// Asserts `got` holds exactly `want(i)` for i in 0..n (first mismatch named).
fn assert_elements(what: &str, got: &[f64], n: usize, want: impl Fn(usize) -> f64) {
    assert!(
        got.len() >= n,
        "{what}: {} elements, expected {n}",
        got.len()
    );
    if let Some(i) = (0..n).find(|&i| got[i] != want(i)) {
        panic!("{what}: element {i} is {}, expected {}", got[i], want(i));
    }
}

#[test]
fn epics_tools_on_a_million_doubles() {
    let env = CaEnv::new();
    let Some(_ioc) = start(&env, "bg1:") else {
        return;
    };
    let Some(caget) = epics(&env, "caget", CLIENT_MAX_BYTES) else {
        return;
    };
    // Read: every element.
    let out = run(&env, caget, &["-f", "2", "-w", "30", "bg1:wave"]);
    assert!(out.success(), "{}", short(&out));
    let (count, values) = caget_array(out.stdout.trim(), "bg1:wave");
    assert_eq!(count, WAVE_LEN);
    assert_eq!(values.len(), WAVE_LEN);
    assert_elements("caget bg1:wave", &values, WAVE_LEN, |i| i as f64 / 4.0);

    // Monitor: the initial value, then the update a write causes.
    let mut mon = epics(&env, "camonitor", CLIENT_MAX_BYTES).unwrap();
    mon.args(["-f", "2", "-w", "30", "bg1:wave"]);
    let mut camonitor = env.spawn("camonitor", &mut mon);
    let lines = |m: &ChildGuard| -> Vec<String> {
        m.log_contents()
            .lines()
            .filter(|l| l.starts_with("bg1:wave "))
            .map(str::to_string)
            .collect()
    };
    wait(&mut camonitor, "camonitor's first update", |m| {
        !lines(m).is_empty()
    });

    // Write 100 000 elements with caput -a (the command line cannot carry a
    // million); the server stores the shorter array.
    let n = 100_000;
    let written: Vec<String> = (0..n).map(|i| (2 * i + 1).to_string()).collect();
    let mut caput = epics(&env, "caput", CLIENT_MAX_BYTES).unwrap();
    caput.args(["-a", "-w", "30", "bg1:wave", &n.to_string()]);
    caput.args(&written);
    let out = env.run(&mut caput, RUN);
    assert!(out.success(), "{}", short(&out));
    let caget = epics(&env, "caget", CLIENT_MAX_BYTES).unwrap();
    let out = run(&env, caget, &["-f", "2", "-w", "30", "bg1:wave"]);
    let (_, values) = caget_array(out.stdout.trim(), "bg1:wave");
    assert_elements("caget after caput -a", &values, n, |i| (2 * i + 1) as f64);

    wait(&mut camonitor, "camonitor's second update", |m| {
        lines(m).len() >= 2
    });
    let second = lines(&camonitor)[1].clone();
    // camonitor: PV DATE TIME COUNT values...
    let words: Vec<&str> = second.split_whitespace().collect();
    let values: Vec<f64> = words[4..].iter().map(|w| w.parse().unwrap()).collect();
    assert_elements("camonitor update", &values, n, |i| (2 * i + 1) as f64);
    camonitor.kill();

    // A client limit too small for the array: EPICS's own message, and the
    // run ends (by caget's -w) instead of hanging.
    let caget = epics(&env, "caget", "100000").unwrap();
    let started = Instant::now();
    let out = run(&env, caget, &["-w", "5", "bg1:wave"]);
    assert!(
        out.stderr.contains("> EPICS_CA_MAX_ARRAY_BYTES ignored"),
        "{}",
        short(&out)
    );
    assert!(
        !out.stdout.contains(" 3.00 5.00 7.00 "),
        "the array arrived despite the limit: {}",
        short(&out)
    );
    eprintln!(
        "caget with a 100 000-byte limit ended after {:?}: {}",
        started.elapsed(),
        out.stderr
            .lines()
            .find(|l| l.contains("EPICS_CA_MAX_ARRAY_BYTES"))
            .unwrap_or("")
    );
}

#[test]
fn epics_tools_on_100k_strings_and_chars() {
    let env = CaEnv::new();
    let Some(_ioc) = start(&env, "bg2:") else {
        return;
    };
    let Some(caget) = epics(&env, "caget", "5000000") else {
        return;
    };
    let out = run(&env, caget, &["-w", "30", "bg2:strings"]);
    assert!(out.success(), "{}", short(&out));
    let mut words = out.stdout.split_whitespace();
    assert_eq!(words.next(), Some("bg2:strings"));
    assert_eq!(words.next(), Some("100000"));
    let strings: Vec<&str> = words.collect();
    assert_eq!(strings.len(), TEXT_LEN);
    if let Some(i) = (0..TEXT_LEN).find(|&i| strings[i] != format!("s{i}")) {
        panic!("string {i} is {:?}", strings[i]);
    }
    // chars as a long string: read, write 99 999 chars (+ NUL = 100 000
    // elements) with caput -S, read back.
    let caget = epics(&env, "caget", "200000").unwrap();
    let out = run(&env, caget, &["-S", "-w", "30", "bg2:chars"]);
    let text = out.stdout.trim().strip_prefix("bg2:chars ").unwrap_or("");
    let want: String = (0..TEXT_LEN)
        .map(|i| (b'a' + (i % 26) as u8) as char)
        .collect();
    assert!(text == want, "caget -S bg2:chars: {}", short(&out));
    let new: String = (0..TEXT_LEN - 1)
        .map(|i| (b'A' + (i % 26) as u8) as char)
        .collect();
    let caput = epics(&env, "caput", "200000").unwrap();
    let out = run(&env, caput, &["-S", "-w", "30", "bg2:chars", &new]);
    assert!(out.success(), "{}", short(&out));
    let caget = epics(&env, "caget", "200000").unwrap();
    let out = run(&env, caget, &["-S", "-w", "30", "bg2:chars"]);
    let text = out.stdout.trim().strip_prefix("bg2:chars ").unwrap_or("");
    assert!(text == new, "caget -S after caput -S: {}", short(&out));
}

/// caproto's client (sync API) reads every element of `wave` and `chars`,
/// writes new ones, and reads them back; EPICS caget (when installed) then
/// sees caproto's write, peer to peer through our server.
const CAPROTO_SCRIPT: &str = r#"
import sys
import numpy as np
from caproto.sync.client import read, write
p = sys.argv[1]
r = read(p + 'wave', timeout=60)
assert len(r.data) == 1000000, len(r.data)
assert np.array_equal(r.data, np.arange(1000000) / 4.0), 'wave differs'
write(p + 'wave', np.arange(1000000) * -0.5, notify=True, timeout=60)
r = read(p + 'wave', timeout=60)
assert np.array_equal(r.data, np.arange(1000000) * -0.5), 'wave after write differs'
r = read(p + 'chars', timeout=60)
want = bytes(ord('a') + i % 26 for i in range(100000))
assert bytes(r.data) == want, 'chars differ'
new = bytes(ord('0') + i % 10 for i in range(100000))
write(p + 'chars', np.frombuffer(new, dtype=np.uint8), notify=True, timeout=60)
r = read(p + 'chars', timeout=60)
assert bytes(r.data) == new, 'chars after write differ'
print('caproto: all elements equal')
"#;

#[test]
fn caproto_client_on_a_million_doubles_and_100k_chars() {
    let env = CaEnv::new();
    let Some(_ioc) = start(&env, "bg3:") else {
        return;
    };
    let Some(python) = common::caproto_python() else {
        return;
    };
    let mut cmd = Command::new(python);
    env.apply(&mut cmd);
    cmd.env("EPICS_CA_MAX_ARRAY_BYTES", CLIENT_MAX_BYTES)
        .args(["-c", CAPROTO_SCRIPT, "bg3:"]);
    let out = env.run(&mut cmd, RUN);
    assert!(out.success(), "{}", short(&out));
    assert!(
        out.stdout.contains("caproto: all elements equal"),
        "{}",
        short(&out)
    );
    if let Some(caget) = epics(&env, "caget", CLIENT_MAX_BYTES) {
        let out = run(&env, caget, &["-f", "2", "-w", "30", "bg3:wave"]);
        let (count, values) = caget_array(out.stdout.trim(), "bg3:wave");
        assert_eq!(count, WAVE_LEN);
        assert_elements("caget after caproto's write", &values, WAVE_LEN, |i| {
            i as f64 * -0.5
        });
    }
}

/// Polls `guard` until `done`, failing if it exits or after [`RUN`].
fn wait(guard: &mut ChildGuard, what: &str, done: impl Fn(&ChildGuard) -> bool) {
    guard.wait_until(what, RUN, done);
}

/// Sends a 17 MiB WRITE_NOTIFY (above the server's 16 MiB floor) for `wave`
/// on a raw circuit; returns the command ids the server sent after it, up to
/// the first WRITE_NOTIFY reply or the end of the circuit.
fn oversized_write(port: u16) -> (Vec<u16>, bool) {
    use common::raw::{header, padded, read_created_sid};
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    s.set_read_timeout(Some(RUN)).unwrap();
    let mut msg = header(0, 0, 0, 13, 0, 0);
    let name = padded("bg4:wave");
    msg.extend(header(18, name.len() as u16, 0, 0, 1, 13));
    msg.extend(name);
    s.write_all(&msg).unwrap();
    let sid = read_created_sid(&mut s);
    // WRITE_NOTIFY, extended header: 17 MiB of doubles.
    let size: u32 = 17 << 20;
    let count = size / 8;
    let mut w = header(19, 0xFFFF, 6, 0, sid, 1);
    w.extend(size.to_be_bytes());
    w.extend(count.to_be_bytes());
    let mut reader = s.try_clone().unwrap();
    let collect = std::thread::spawn(move || {
        let mut got = Vec::new();
        let mut buf = vec![0u8; 65536];
        loop {
            match reader.read(&mut buf) {
                Ok(0) => return (got, true),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => return (got, true),
                Err(e) => panic!("read: {e}"),
            }
            // Whole messages after the handshake replies.
            let mut at = 0;
            while got.len() >= at + 16 {
                let cmd = u16::from_be_bytes([got[at], got[at + 1]]);
                let size = u16::from_be_bytes([got[at + 2], got[at + 3]]) as usize;
                if cmd == 19 || cmd == 11 {
                    return (got, false);
                }
                at += 16 + size;
            }
        }
    });
    let _ = s.write_all(&w);
    let _ = s.write_all(&vec![0u8; size as usize]);
    let (got, closed) = collect.join().unwrap();
    let mut ids = Vec::new();
    let mut at = 0;
    while got.len() >= at + 16 {
        ids.push(u16::from_be_bytes([got[at], got[at + 1]]));
        at += 16 + u16::from_be_bytes([got[at + 2], got[at + 3]]) as usize;
    }
    (ids, closed)
}

/// The server's `EPICS_CA_MAX_ARRAY_BYTES` above its 16 MiB floor: with
/// 20 000 000 a 17 MiB write is read and answered (refused for its count,
/// the circuit stays); with the default, the same write closes the circuit.
#[test]
fn server_array_limit_above_its_floor() {
    for (limit, answered) in [(Some(SERVER_MAX_BYTES), true), (None, false)] {
        let env = CaEnv::new();
        let mut cmd = common::servers::our_ioc_command(&env);
        cmd.args(["big_arrays", "--prefix", "bg4:"]);
        if let Some(limit) = limit {
            cmd.env("EPICS_CA_MAX_ARRAY_BYTES", limit);
        }
        let mut server = common::servers::spawn_our_ioc(&env, "caproto-ioc-big_arrays", &mut cmd);
        server.wait_until("server listening", RUN, |_| {
            std::net::TcpStream::connect(("127.0.0.1", env.server_port())).is_ok()
        });
        let (ids, closed) = oversized_write(env.server_port());
        if answered {
            assert!(
                !closed && ids.iter().any(|c| *c == 19 || *c == 11),
                "limit {limit:?}: the 17 MiB write was not answered: {ids:?} closed={closed}"
            );
        } else {
            assert!(
                closed && !ids.contains(&19),
                "default limit: the 17 MiB write was accepted: {ids:?} closed={closed}"
            );
        }
        server.assert_running();
    }
}
