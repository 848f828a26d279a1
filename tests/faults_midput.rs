//! A client that goes away in the middle of a large write.
//!
//! The server (in this process, on loopback) serves `mp:wave`, 200 000
//! doubles all equal. A raw client creates the channel and sends a
//! WRITE_NOTIFY for a new all-equal array, but only half of it, and then
//! closes its socket, resets it, or is killed (a child process, SIGKILL by
//! pid). The server must log the closed circuit, stay up, and the PV must
//! keep its old value; a client that sends the whole write and leaves
//! without waiting for the reply gets its new value stored. Throughout, a
//! monitoring client must never see a torn array (elements not all equal)
//! and must keep receiving updates.

mod client_support;
mod common;

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use caproto::client::{Context, Subscription};
use caproto::log::{config_logging, LogConfig, SharedWriter};
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType, Value};
use caproto::server::{Pv, PvDatabase, PvGroup, PvHandle, Server, ServerConfig};
use tracing::level_filters::LevelFilter;

use common::inproc::server_config;
use common::raw::{header, padded};
use common::CaEnv;

/// Elements of the waveform (1.6 MB on the wire).
const N: usize = 200_000;
/// Hang guard for every wait (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);
/// Set in the child process: the server's TCP port.
const CHILD_PORT_VAR: &str = "CAPROTO_MIDPUT_CHILD_PORT";

// ---- raw CA bytes (hand-encoded so the test does not depend on our codec) ----

/// VERSION, HOST_NAME, CLIENT_NAME, CREATE_CHAN for `name` with cid 1.
fn handshake(name: &str) -> Vec<u8> {
    let mut out = header(0, 0, 0, 13, 0, 0);
    for (cmd, text) in [(21u16, "host"), (20, "user")] {
        let p = padded(text);
        out.extend(header(cmd, p.len() as u16, 0, 0, 0, 0));
        out.extend(p);
    }
    let p = padded(name);
    out.extend(header(18, p.len() as u16, 0, 0, 1, 13));
    out.extend(p);
    out
}

/// A WRITE_NOTIFY (extended header) of N doubles all equal to `value`.
fn write_notify(sid: u32, value: f64) -> Vec<u8> {
    let size = (N * 8) as u32;
    let mut out = header(19, 0xFFFF, 6, 0, sid, 7);
    out.extend_from_slice(&size.to_be_bytes());
    out.extend_from_slice(&(N as u32).to_be_bytes());
    for _ in 0..N {
        out.extend_from_slice(&value.to_be_bytes());
    }
    out
}

/// Connects, creates `mp:wave`, returns the stream and the channel's sid.
fn raw_client(port: u16) -> (TcpStream, u32) {
    let mut s = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    s.set_read_timeout(Some(PATIENCE)).unwrap();
    s.write_all(&handshake("mp:wave")).unwrap();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        // Walk whole messages looking for CREATE_CHAN's reply.
        let mut at = 0;
        while got.len() >= at + 16 {
            let u16at = |i: usize| u16::from_be_bytes([got[i], got[i + 1]]);
            let u32at = |i: usize| u32::from_be_bytes([got[i], got[i + 1], got[i + 2], got[i + 3]]);
            let size = u16at(at + 2) as usize;
            if u16at(at) == 18 {
                return (s, u32at(at + 12));
            }
            at += 16 + size;
        }
        let n = s.read(&mut buf).expect("read the server's replies");
        assert!(n > 0, "server closed before CREATE_CHAN was answered");
        got.extend_from_slice(&buf[..n]);
    }
}

// ---- shared state: one log capture per process ----

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn server_log() -> &'static Captured {
    static LOG: OnceLock<Captured> = OnceLock::new();
    LOG.get_or_init(|| {
        let cap = Captured::default();
        let writer: SharedWriter = Arc::new(Mutex::new(cap.clone()));
        config_logging(LogConfig::writer(writer).level(LevelFilter::INFO)).expect("log capture");
        cap
    })
}

fn log_text() -> String {
    String::from_utf8_lossy(&server_log().0.lock().unwrap()).into_owned()
}

/// Waits until the captured log has a line containing every one of `needles`.
fn wait_for_log(needles: &[&str]) -> String {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let text = log_text();
        if let Some(line) = text.lines().find(|l| needles.iter().all(|n| l.contains(n))) {
            return line.to_string();
        }
        assert!(
            Instant::now() < deadline,
            "no log line with {needles:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---- the server and the observing client ----

struct Setup {
    rt: tokio::runtime::Runtime,
    env: CaEnv,
    tcp_port: u16,
    wave: PvHandle,
    ctx: Context,
    /// Values (first element) of every update the monitor saw; torn arrays
    /// are recorded as NaN.
    updates: Arc<Mutex<Vec<f64>>>,
    /// Every error the monitor's subscription yielded (and its end, if it
    /// ended): the attacks on other circuits must cause none.
    errors: Arc<Mutex<Vec<String>>>,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl Setup {
    fn new() -> Setup {
        server_log();
        let env = CaEnv::new();
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        let mut g = PvGroup::new("mp:");
        let wave = g.add(Pv::new("wave", vec![1.0f64; N]));
        let mut db = PvDatabase::new();
        db.add_group(g).unwrap();
        let config = ServerConfig {
            port: env.server_port(),
            ..server_config()
        };
        let (tx, rx) = tokio::sync::oneshot::channel();
        let (tcp_port, ctx, updates, errors) = rt.block_on(async {
            let server = Server::bind(db, config).await.expect("bind");
            let tcp_port = server.tcp_port();
            tokio::spawn(server.run_until(async move {
                let _ = rx.await;
            }));
            let mut cfg = client_support::config(&env, false);
            cfg.max_array_bytes = 4 * N * 8;
            let ctx = Context::new(cfg).expect("context");
            let ch = ctx
                .connect_one("mp:wave", PATIENCE)
                .await
                .expect("monitor connects");
            let sub = ch.subscribe(
                DbrType::Value(DbrClass::Time, NativeType::Double),
                None,
                mask::VALUE,
            );
            let updates = Arc::new(Mutex::new(Vec::new()));
            let errors = Arc::new(Mutex::new(Vec::new()));
            tokio::spawn(watch(sub, Arc::clone(&updates), Arc::clone(&errors)));
            (tcp_port, ctx, updates, errors)
        });
        let s = Setup {
            rt,
            env,
            tcp_port,
            wave,
            ctx,
            updates,
            errors,
            _stop: tx,
        };
        s.wait_update(1.0);
        s
    }

    /// Waits until the monitor has seen an update with value `v`.
    fn wait_update(&self, v: f64) {
        let deadline = Instant::now() + PATIENCE;
        while !self.updates.lock().unwrap().contains(&v) {
            assert!(
                Instant::now() < deadline,
                "the monitor never saw {v}: {:?}",
                self.updates.lock().unwrap()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Reads the PV over CA (a fresh client) and returns its single value,
    /// panicking if the elements are not all equal.
    fn read_all_equal(&self) -> f64 {
        let value = self.rt.block_on(async {
            let ch = self
                .ctx
                .connect_one("mp:wave", PATIENCE)
                .await
                .expect("connect for a read");
            tokio::time::timeout(PATIENCE, ch.get(DbrType::plain(NativeType::Double), None))
                .await
                .expect("read hung")
                .expect("read")
        });
        let Value::Double(v) = value.value else {
            panic!("not doubles")
        };
        assert_eq!(v.len(), N, "element count changed");
        assert!(
            v.iter().all(|x| *x == v[0]),
            "torn value: first {} differs from others",
            v[0]
        );
        v[0]
    }

    /// After an attack: the value is `expect` both on the server and over
    /// CA, the server still takes a put, and the monitor never saw a torn
    /// array and gets the new update.
    fn check_after(&self, expect: f64, next: f64) {
        assert_eq!(self.read_all_equal(), expect);
        assert!(matches!(self.wave.value(), Value::Double(ref v) if v[0] == expect));
        // Other clients are unaffected: a put through the library works and
        // reaches the monitor.
        self.rt.block_on(async {
            let ch = self
                .ctx
                .connect_one("mp:wave", PATIENCE)
                .await
                .expect("connect for a put");
            tokio::time::timeout(PATIENCE, ch.put(&Value::Double(vec![next; N]), true))
                .await
                .expect("put hung")
                .expect("put");
        });
        self.wait_update(next);
        let seen = self.updates.lock().unwrap().clone();
        assert!(
            seen.iter().all(|v| !v.is_nan()),
            "the monitor saw a torn array: {seen:?}"
        );
        let errors = self.errors.lock().unwrap().clone();
        assert!(
            errors.is_empty(),
            "the monitoring client's subscription reported errors: {errors:?}"
        );
    }
}

async fn watch(
    mut sub: Subscription,
    updates: Arc<Mutex<Vec<f64>>>,
    errors: Arc<Mutex<Vec<String>>>,
) {
    while let Some(item) = sub.recv().await {
        match item {
            Ok(r) => match r.value {
                Value::Double(v) => {
                    let first = v[0];
                    let whole = v.len() == N && v.iter().all(|x| *x == first);
                    updates
                        .lock()
                        .unwrap()
                        .push(if whole { first } else { f64::NAN });
                }
                other => errors.lock().unwrap().push(format!(
                    "update of the wrong type: {:?}",
                    other.native_type()
                )),
            },
            Err(e) => errors.lock().unwrap().push(e.to_string()),
        }
    }
    errors.lock().unwrap().push("the subscription ended".into());
}

/// `(tx_queue, rx_queue)` of the IPv4 TCP socket bound to 127.0.0.1:`local`
/// and connected to 127.0.0.1:`remote`, from /proc/net/tcp.
fn tcp_queues(local: u16, remote: u16) -> Option<(u64, u64)> {
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    let want_local = format!("0100007F:{local:04X}");
    let want_remote = format!("0100007F:{remote:04X}");
    table.lines().skip(1).find_map(|line| {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 5 || f[1] != want_local || f[2] != want_remote {
            return None;
        }
        let (tx, rx) = f[4].split_once(':')?;
        Some((
            u64::from_str_radix(tx, 16).ok()?,
            u64::from_str_radix(rx, 16).ok()?,
        ))
    })
}

/// Waits until every byte the client on port `client` sent has been read by
/// the server's circuit task: the client's send queue and the server side's
/// receive queue are both empty (the kernel's counts, not a guess in time).
fn wait_server_read_all(server: u16, client: u16) {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let sent = tcp_queues(client, server);
        let received = tcp_queues(server, client);
        if let (Some((0, _)), Some((_, 0))) = (sent, received) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the server never read the partial write: client (tx, rx) {sent:?}, server {received:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Sends the header and half of a WRITE_NOTIFY of 2.0s; returns the stream.
fn half_put(port: u16) -> (TcpStream, u16) {
    let (mut s, sid) = raw_client(port);
    let local = s.local_addr().unwrap().port();
    let msg = write_notify(sid, 2.0);
    s.write_all(&msg[..msg.len() / 2]).unwrap();
    s.flush().unwrap();
    (s, local)
}

#[test]
fn half_put_then_close() {
    let s = Setup::new();
    let (stream, local) = half_put(s.tcp_port);
    // The server has taken in the partial message before the close.
    wait_server_read_all(s.tcp_port, local);
    drop(stream);
    let line = wait_for_log(&["client disconnected", &format!("127.0.0.1:{local}")]);
    eprintln!("server: {line}");
    s.check_after(1.0, 5.0);
}

#[test]
fn half_put_then_reset() {
    let s = Setup::new();
    let (stream, local) = half_put(s.tcp_port);
    wait_server_read_all(s.tcp_port, local);
    // SO_LINGER 0: close sends RST, as when unread data is discarded.
    socket2::SockRef::from(&stream)
        .set_linger(Some(Duration::ZERO))
        .unwrap();
    drop(stream);
    let line = wait_for_log(&["client disconnected", &format!("127.0.0.1:{local}")]);
    eprintln!("server: {line}");
    s.check_after(1.0, 6.0);
}

#[test]
fn full_put_then_close_without_waiting() {
    let s = Setup::new();
    let (mut stream, sid) = raw_client(s.tcp_port);
    let local = stream.local_addr().unwrap().port();
    stream.write_all(&write_notify(sid, 3.0)).unwrap();
    drop(stream);
    let line = wait_for_log(&["client disconnected", &format!("127.0.0.1:{local}")]);
    eprintln!("server: {line}");
    // The whole message arrived before the close: the write is applied
    // (its reply just has nowhere to go).
    s.wait_update(3.0);
    s.check_after(3.0, 7.0);
}

/// The child of [`client_killed_mid_put`]: sends half a write, says so on
/// stdout and waits to be killed. Ignored so it only runs when launched.
#[test]
#[ignore = "runs only as a child of client_killed_mid_put"]
fn child_half_put() {
    let port = common::peers::child_var(CHILD_PORT_VAR);
    let (_stream, local) = half_put(port.parse().unwrap());
    let mut out = std::io::stdout();
    let _ = writeln!(out, "sent from port {local} .");
    let _ = out.flush();
    std::thread::sleep(PATIENCE);
}

#[test]
fn client_killed_mid_put() {
    let s = Setup::new();
    let out_path = s.env.dir().join("child.out");
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_half_put",
            "--exact",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_PORT_VAR, s.tcp_port.to_string())
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let deadline = Instant::now() + PATIENCE;
    let local: u16 = loop {
        let text = std::fs::read_to_string(&out_path).unwrap_or_default();
        if let Some(p) = text
            .lines()
            // libtest may print "test child_half_put ... " on the same line.
            .find_map(|l| l.split("sent from port ").nth(1))
            .and_then(|p| p.split_whitespace().next()?.parse().ok())
        {
            break p;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("child exited early ({st}): {text}");
        }
        assert!(Instant::now() < deadline, "child never sent its half put");
        std::thread::sleep(Duration::from_millis(20));
    };
    wait_server_read_all(s.tcp_port, local);
    child.kill().expect("SIGKILL the child");
    let _ = child.wait();
    let line = wait_for_log(&["client disconnected", &format!("127.0.0.1:{local}")]);
    eprintln!("server: {line}");
    s.check_after(1.0, 8.0);
}
