//! What shipping records to a collector costs the program that logs (run:
//! `cargo bench --bench log_ship`; needs syslog-ng, see scripts/install-collector.sh).
//!
//! One per-command DEBUG record (the contract fields) emitted N times with the handler at
//! TRACE (what `-vvv` does), into:
//!
//! * a file (`--log-file`), the reference;
//! * a local syslog-ng as JSON lines (`tcp://`) and as RFC 5424 (`syslog://`), with a queue
//!   large enough that nothing is dropped, the time including the flush that waits until
//!   the last record is handed to the collector;
//! * a collector that accepts the connection but never reads: the logging thread must not
//!   slow down (records beyond the queue are dropped and counted).
//!
//! Reported per record: wall time of the logging loop, and CPU time of the whole process
//! (all threads, from /proc/self/stat, so the background writer is included; the collector's
//! own CPU is not ours and not counted). syslog-ng runs as a child on loopback ports and is
//! killed by its pid at the end.

use std::fmt;
use std::hint::black_box;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use caproto::log::{self, LogConfig, ShipTarget};
use tracing::level_filters::LevelFilter;

struct Cmd(u32);

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "ReadNotifyRequest(data_type=<ChannelType.DOUBLE: 6>, data_count=0, sid={}, ioid={})",
            self.0,
            self.0 + 1
        )
    }
}

#[inline(never)]
fn emit(pv: &str, our: SocketAddr, their: SocketAddr, cmd: &Cmd) {
    tracing::debug!(target: "caproto::circ", pv, our_addr = %our, their_addr = %their,
        direction = "send", role = "client", bytes = 16u64, command = %cmd);
}

/// CPU time of this process (user + system, all threads) in ns.
fn cpu_ns() -> u64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // Fields after the parenthesised command name; utime and stime are 14th and 15th overall.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<u64> = rest
        .split_whitespace()
        .skip(11)
        .take(2)
        .filter_map(|x| x.parse().ok())
        .collect();
    // Linux reports clock ticks of 1/100 s (USER_HZ) on every common configuration.
    f.iter().sum::<u64>() * 10_000_000
}

struct Row {
    name: &'static str,
    wall_ns: f64,
    cpu_ns: f64,
    dropped: u64,
}

fn run(name: &'static str, n: u32, cfg: LogConfig, flush: bool) -> Row {
    let h = log::config_logging(cfg.level(LevelFilter::TRACE)).unwrap();
    let our: SocketAddr = "127.0.0.1:51782".parse().unwrap();
    let their: SocketAddr = "127.0.0.1:5064".parse().unwrap();
    let cmd = Cmd(7);
    // Warm up (connect, first allocations), then measure.
    for _ in 0..1000 {
        emit("warm:x", our, their, &cmd);
    }
    log::flush();
    let c0 = cpu_ns();
    let t0 = Instant::now();
    for _ in 0..n {
        emit(
            black_box("bench:x"),
            black_box(our),
            black_box(their),
            black_box(&cmd),
        );
    }
    let wall = t0.elapsed();
    if flush {
        log::flush();
    }
    let cpu = cpu_ns() - c0;
    let dropped = h.ship_stats().ok().flatten().map_or(0, |s| s.dropped);
    Row {
        name,
        wall_ns: wall.as_nanos() as f64 / f64::from(n),
        cpu_ns: cpu as f64 / f64::from(n),
        dropped,
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn syslog_ng() -> Option<PathBuf> {
    ["/usr/sbin/syslog-ng", "/usr/bin/syslog-ng"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

fn start_collector(exe: &Path, dir: &Path, json: u16, sys: u16) -> Child {
    let conf = format!(
        r#"@version: 3.38
options {{ use-dns(no); stats-freq(0); log-msg-size(65536); }};
source s_json {{ network(ip("127.0.0.1") port({json}) transport("tcp") flags(no-parse) log-iw-size(100000) max-connections(10)); }};
source s_sys {{ syslog(ip("127.0.0.1") port({sys}) transport("tcp") log-iw-size(100000) max-connections(10)); }};
destination d {{ file("{d}/out.log" template("${{MSG}}\n")); }};
log {{ source(s_json); source(s_sys); destination(d); }};
"#,
        d = dir.display()
    );
    std::fs::write(dir.join("sng.conf"), conf).unwrap();
    let mut child = Command::new(exe)
        .arg("-F")
        .arg("--no-caps")
        .arg("-f")
        .arg(dir.join("sng.conf"))
        .arg("-p")
        .arg(dir.join("pid"))
        .arg("-R")
        .arg(dir.join("persist"))
        .arg("-c")
        .arg(dir.join("ctl"))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start syslog-ng");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", json)).is_err() {
        assert!(Instant::now() < deadline, "syslog-ng did not start");
        assert!(child.try_wait().unwrap().is_none(), "syslog-ng exited");
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn main() {
    let n: u32 = std::env::var("LOG_SHIP_N")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let dir = std::env::temp_dir().join(format!("caproto-log-ship-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut rows = Vec::new();

    let file = dir.join("file.log");
    rows.push(run("file (--log-file)", n, LogConfig::file(&file), true));

    if let Some(exe) = syslog_ng() {
        let (json, sys) = (free_port(), free_port());
        let mut collector = start_collector(&exe, &dir, json, sys);
        let big = n as usize + 10_000;
        let target = |s: String| s.parse::<ShipTarget>().unwrap();
        let flushing = |c: LogConfig| {
            c.queue_capacity(big)
                .flush_timeout(Duration::from_secs(120))
        };
        rows.push(run(
            "ship tcp:// JSON lines to syslog-ng",
            n,
            flushing(LogConfig::ship(target(format!("tcp://127.0.0.1:{json}")))),
            true,
        ));
        rows.push(run(
            "ship syslog:// RFC 5424 to syslog-ng",
            n,
            flushing(LogConfig::ship(target(format!("syslog://127.0.0.1:{sys}")))),
            true,
        ));
        let _ = collector.kill();
        let _ = collector.wait();
    } else {
        println!("syslog-ng not found: shipping rows skipped (scripts/install-collector.sh)");
    }

    // A collector that accepts and never reads.
    let stuck = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = stuck.local_addr().unwrap().port();
    let holder = std::thread::spawn(move || {
        let held: Vec<_> = stuck.incoming().take(4).filter_map(Result::ok).collect();
        std::thread::sleep(Duration::from_secs(3600));
        drop(held);
    });
    rows.push(run(
        "ship tcp:// to a collector that never reads",
        n,
        LogConfig::ship(format!("tcp://127.0.0.1:{port}").parse().unwrap()),
        false,
    ));
    drop(holder);

    println!("{n} records, handler at TRACE, one per-command DEBUG record each");
    println!(
        "{:<46} {:>12} {:>12} {:>10} {:>9}",
        "destination", "wall ns/rec", "CPU ns/rec", "CPU ratio", "dropped"
    );
    let base = rows[0].cpu_ns;
    for r in &rows {
        println!(
            "{:<46} {:>12.0} {:>12.0} {:>9.2}x {:>9}",
            r.name,
            r.wall_ns,
            r.cpu_ns,
            r.cpu_ns / base,
            r.dropped
        );
    }
    let _ = std::fs::remove_dir_all(&dir);
}
