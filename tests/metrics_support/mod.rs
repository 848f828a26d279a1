//! Helpers for the metrics tests: a real Prometheus (the Debian package,
//! installed by `scripts/install-prometheus.sh`) run in the foreground as a
//! child of the test, on a loopback port, with its own configuration and data
//! directory in the test's temp dir; a tiny HTTP GET; `promtool check metrics`.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::common::{peers, ports, CaEnv, ChildGuard};

/// How often the test's Prometheus scrapes.
pub const SCRAPE_INTERVAL: &str = "1s";
/// How long to wait for Prometheus to see a change.
pub const SEEN_WITHIN: Duration = Duration::from_secs(30);

fn tool(name: &str) -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/local/bin", "/bin"] {
        let p = Path::new(dir).join(name);
        if p.is_file() {
            return Some(p);
        }
    }
    peers::missing(
        &format!("{name} (scripts/install-prometheus.sh)"),
        Path::new("/usr/bin").join(name).as_path(),
    )
}

/// `promtool`, or `None` after the peer-missing message.
pub fn promtool() -> Option<PathBuf> {
    tool("promtool")
}

/// GET `path` from `addr` with an `Accept` header; the body, or panics.
pub fn http_get(addr: SocketAddr, path: &str, accept: &str) -> String {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connect {addr}: {e}"));
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {accept}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let text = String::from_utf8(raw).expect("UTF-8 answer");
    let (head, body) = text.split_once("\r\n\r\n").expect("HTTP head");
    assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
    body.to_string()
}

/// The status code of a GET of `path` from `addr`; `None` when nothing answers (yet).
pub fn http_status(addr: SocketAddr, path: &str) -> Option<u16> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).ok()?;
    let head = String::from_utf8_lossy(&raw);
    head.split_whitespace().nth(1)?.parse().ok()
}

/// `promtool check metrics` on `text`: panics with promtool's words unless it passes.
pub fn promtool_check(promtool: &Path, text: &str) {
    let mut child = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run promtool");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "promtool check metrics failed ({}):\n{}{}\non:\n{text}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A Prometheus server scraping one target.
pub struct Prometheus {
    pub addr: SocketAddr,
    child: ChildGuard,
}

impl Prometheus {
    /// Start Prometheus on a free loopback port, scraping `target` every
    /// [`SCRAPE_INTERVAL`]; `None` when it is not installed.
    pub fn start(env: &CaEnv, target: SocketAddr) -> Option<Prometheus> {
        let exe = tool("prometheus")?;
        let port = ports::free_tcp_udp_port();
        let addr = SocketAddr::from(([127, 0, 0, 1], port));
        let config = env.write_file(
            "prometheus.yml",
            &format!(
                "global:\n  scrape_interval: {SCRAPE_INTERVAL}\n  scrape_timeout: {SCRAPE_INTERVAL}\n\
                 scrape_configs:\n  - job_name: caproto\n    static_configs:\n      \
                 - targets: ['{target}']\n"
            ),
        );
        let data = env.dir().join("prometheus-data");
        let mut cmd = Command::new(exe);
        cmd.arg(format!("--config.file={}", config.display()))
            .arg(format!("--storage.tsdb.path={}", data.display()))
            .arg(format!("--web.listen-address={addr}"))
            .arg("--log.level=warn")
            .current_dir(env.dir());
        let child = env.spawn("prometheus", &mut cmd);
        let p = Prometheus { addr, child };
        // Listening is not enough: until its storage is open, Prometheus answers every query
        // with 503. /-/ready says 200 once it serves queries.
        let deadline = Instant::now() + SEEN_WITHIN;
        while http_status(addr, "/-/ready") != Some(200) {
            assert!(
                Instant::now() < deadline,
                "prometheus on {addr} not ready:\n{}",
                p.child.log_contents()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        Some(p)
    }

    /// The samples of an instant query: (labels as JSON, sample time in
    /// seconds since the epoch, value).
    pub fn query(&self, promql: &str) -> Vec<(serde_json::Value, f64, f64)> {
        let body = http_get(
            self.addr,
            &format!("/api/v1/query?query={}", url_encode(promql)),
            "application/json",
        );
        let v: serde_json::Value = serde_json::from_str(&body).expect("JSON from Prometheus");
        assert_eq!(v["status"], "success", "{body}");
        v["data"]["result"]
            .as_array()
            .expect("vector result")
            .iter()
            .map(|r| {
                let t = r["value"][0].as_f64().unwrap();
                let x: f64 = r["value"][1].as_str().unwrap().parse().unwrap();
                (r["metric"].clone(), t, x)
            })
            .collect()
    }

    /// The value of the single series `selector` in a sample scraped
    /// after `after` (waits for the next scrapes); panics after [`SEEN_WITHIN`].
    pub fn fresh_value(&self, selector: &str, after: SystemTime) -> f64 {
        self.wait_value(selector, after, |_| true)
    }

    /// Wait until a sample of `selector` scraped after `after` satisfies `ok`.
    pub fn wait_value(&self, selector: &str, after: SystemTime, ok: impl Fn(f64) -> bool) -> f64 {
        let after = after.duration_since(UNIX_EPOCH).unwrap().as_secs_f64();
        let deadline = Instant::now() + SEEN_WITHIN;
        let mut last = None;
        loop {
            // timestamp() gives the scrape time of the sample the query sees.
            let stamp = self.query(&format!("timestamp({selector})"));
            let value = self.query(selector);
            if let ([(_, _, when)], [(_, _, v)]) = (stamp.as_slice(), value.as_slice()) {
                if *when > after && ok(*v) {
                    return *v;
                }
                last = Some((*when, *v));
            }
            assert!(
                Instant::now() < deadline,
                "Prometheus never had a fitting sample of {selector} after {after} \
                 (last seen: {last:?})"
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

fn url_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}
