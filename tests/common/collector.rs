//! A real log collector for the shipping tests: syslog-ng from Debian (installed by
//! `scripts/install-collector.sh`, which `scripts/install-peers.sh` calls), run in the
//! foreground as a child of the test with a configuration written into the test's temp dir,
//! listening on loopback ports only. It writes what it receives to files the test parses:
//!
//! * `json.out`: each NDJSON line received on the `tcp://` port, verbatim;
//! * `syslog.out`: each RFC 5424 message received on the `syslog://` (TCP, octet counting),
//!   `syslog+udp://` and `unixgram://` sources, as one JSON object with the header fields and
//!   the structured data (`_SDATA`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::peers;
use super::ports;
use super::process::ChildGuard;

/// The syslog-ng binary, or `None` after the peer-missing message.
pub fn syslog_ng() -> Option<PathBuf> {
    for p in [
        "/usr/sbin/syslog-ng",
        "/usr/bin/syslog-ng",
        "/sbin/syslog-ng",
    ] {
        if Path::new(p).is_file() {
            return Some(PathBuf::from(p));
        }
    }
    peers::missing(
        "syslog-ng (scripts/install-collector.sh)",
        Path::new("/usr/sbin/syslog-ng"),
    )
}

/// A running (or stopped, to be restarted) syslog-ng with fixed ports.
pub struct Collector {
    exe: PathBuf,
    dir: PathBuf,
    /// `tcp://` NDJSON port.
    pub json_port: u16,
    /// `syslog://` (TCP) port.
    pub syslog_tcp_port: u16,
    /// `syslog+udp://` port.
    pub syslog_udp_port: u16,
    child: Option<ChildGuard>,
    starts: u32,
}

impl Collector {
    /// Writes the configuration into `dir` and starts syslog-ng; `None` if it is not
    /// installed.
    pub fn start(dir: &Path) -> Option<Collector> {
        let exe = syslog_ng()?;
        let mut c = Collector {
            exe,
            dir: dir.to_owned(),
            json_port: ports::free_tcp_udp_port(),
            syslog_tcp_port: ports::free_tcp_udp_port(),
            syslog_udp_port: ports::free_tcp_udp_port(),
            child: None,
            starts: 0,
        };
        std::fs::write(c.dir.join("syslog-ng.conf"), c.config()).expect("write syslog-ng.conf");
        c.restart();
        Some(c)
    }

    /// `unixgram://` socket path.
    pub fn unix_socket(&self) -> PathBuf {
        self.dir.join("log.sock")
    }

    /// Where NDJSON lines land.
    pub fn json_out(&self) -> PathBuf {
        self.dir.join("json.out")
    }

    /// Where syslog messages land (as JSON).
    pub fn syslog_out(&self) -> PathBuf {
        self.dir.join("syslog.out")
    }

    /// The four `--log-ship` URLs of this collector.
    pub fn urls(&self) -> [String; 4] {
        [
            format!("tcp://127.0.0.1:{}", self.json_port),
            format!("syslog://127.0.0.1:{}", self.syslog_tcp_port),
            format!("syslog+udp://127.0.0.1:{}", self.syslog_udp_port),
            format!("unixgram://{}", self.unix_socket().display()),
        ]
    }

    fn config(&self) -> String {
        let d = self.dir.display();
        format!(
            r#"@version: 3.38
options {{ keep-hostname(yes); use-dns(no); use-fqdn(no); stats-freq(0); log-msg-size(65536); }};
source s_json {{ network(ip("127.0.0.1") port({json}) transport("tcp") flags(no-parse) log-msg-size(65536)); }};
source s_sys {{ syslog(ip("127.0.0.1") port({tcp}) transport("tcp")); }};
source s_udp {{ syslog(ip("127.0.0.1") port({udp}) transport("udp")); }};
source s_unix {{ unix-dgram("{d}/log.sock" flags(syslog-protocol)); }};
destination d_json {{ file("{d}/json.out" template("${{MSG}}\n") flush-lines(1)); }};
destination d_sys {{ file("{d}/syslog.out" template("$(format-json --scope rfc5424 --scope sdata --key ISODATE --key HOST --key PROGRAM --key PID --key MSGID --key SOURCE)\n") flush-lines(1)); }};
log {{ source(s_json); destination(d_json); }};
log {{ source(s_sys); source(s_udp); source(s_unix); destination(d_sys); }};
"#,
            json = self.json_port,
            tcp = self.syslog_tcp_port,
            udp = self.syslog_udp_port,
        )
    }

    /// Starts syslog-ng (again) with the same configuration and ports, and waits until it
    /// accepts connections.
    pub fn restart(&mut self) {
        assert!(self.child.is_none(), "stop it first");
        self.starts += 1;
        let d = &self.dir;
        let mut cmd = Command::new(&self.exe);
        cmd.arg("--foreground")
            .arg("--stderr")
            .arg("--no-caps")
            .arg("--cfgfile")
            .arg(d.join("syslog-ng.conf"))
            .arg("--pidfile")
            .arg(d.join("syslog-ng.pid"))
            .arg("--persist-file")
            .arg(d.join("syslog-ng.persist"))
            .arg("--control")
            .arg(d.join("syslog-ng.ctl"));
        let mut child = ChildGuard::spawn(&format!("syslog-ng-{}", self.starts), &mut cmd, d);
        child.wait_until("syslog-ng started", Duration::from_secs(30), |c| {
            c.log_contents().contains("syslog-ng starting up")
        });
        self.child = Some(child);
    }

    /// Kills syslog-ng (by its handle), as a crashed or restarted collector.
    pub fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            c.kill();
        }
    }

    /// The lines of `file` so far.
    pub fn lines(file: &Path) -> Vec<String> {
        std::fs::read_to_string(file)
            .unwrap_or_default()
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// Waits until `file` has a line for which `pred` holds; panics after `timeout`.
    pub fn wait_for(&self, file: &Path, timeout: Duration, pred: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        loop {
            if Self::lines(file).iter().any(|l| pred(l)) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "no matching line in {} within {timeout:?}; it has:\n{}",
                file.display(),
                Self::lines(file).join("\n")
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.stop();
    }
}
