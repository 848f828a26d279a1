//! Child processes that can never outlive or hang a test.
//!
//! [`ChildGuard`] owns a long-running server: its output goes to a log file,
//! its stdin stays open (softIoc exits when stdin closes), and dropping the guard
//! kills it by its own handle (never by name). [`run_with_timeout`] runs a
//! short-lived client and kills it if it overruns.
//!
//! Output is captured to files rather than pipes on purpose: EPICS tools may
//! spawn detached helpers (caRepeater) that inherit stdout, and a pipe would
//! then never reach end-of-file.

use std::fmt;
use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Poll interval while waiting for a child.
const POLL: Duration = Duration::from_millis(10);

/// Poll interval of [`ChildGuard::wait_for`]: a port bound, a log line, a
/// probe that answers.
const WAIT_POLL: Duration = Duration::from_millis(20);

fn unique_file(dir: &Path, stem: &str, ext: &str) -> PathBuf {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let safe: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    dir.join(format!("{safe}-{n}.{ext}"))
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// A spawned server process, killed when the guard drops.
pub struct ChildGuard {
    name: String,
    command: String,
    child: Child,
    stdin: Option<ChildStdin>,
    log: PathBuf,
}

impl ChildGuard {
    /// Spawns `cmd` with stdin piped (and held open), stdout and stderr both
    /// appended to a fresh log file in `log_dir`. Panics if it cannot start.
    pub fn spawn(name: &str, cmd: &mut Command, log_dir: &Path) -> ChildGuard {
        Self::spawn_logging(name, cmd, log_dir, false)
    }

    /// [`spawn`](Self::spawn), with stderr in a file of its own beside the
    /// log: for output compared line by line, which a concurrent stderr
    /// message (libca's exception reports) could otherwise split mid-line.
    pub fn spawn_stderr_apart(name: &str, cmd: &mut Command, log_dir: &Path) -> ChildGuard {
        Self::spawn_logging(name, cmd, log_dir, true)
    }

    fn spawn_logging(
        name: &str,
        cmd: &mut Command,
        log_dir: &Path,
        stderr_apart: bool,
    ) -> ChildGuard {
        let log = unique_file(log_dir, name, "log");
        let out = File::create(&log)
            .unwrap_or_else(|e| panic!("cannot create log {}: {e}", log.display()));
        let err = if stderr_apart {
            let path = log.with_extension("stderr");
            File::create(&path).unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()))
        } else {
            out.try_clone()
                .unwrap_or_else(|e| panic!("cannot clone log handle: {e}"))
        };
        let command = describe(cmd);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(err))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name} ({command}): {e}"));
        let stdin = child.stdin.take();
        ChildGuard {
            name: name.to_owned(),
            command,
            child,
            stdin,
            log,
        }
    }

    /// The process id (for diagnostics; killing goes through the handle).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The file that receives the process's stdout (and its stderr, unless
    /// spawned with [`spawn_stderr_apart`](Self::spawn_stderr_apart)).
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// Everything the process has written so far.
    pub fn log_contents(&self) -> String {
        std::fs::read(&self.log)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default()
    }

    /// Whether the process is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Writes one line to the process's stdin, e.g. an IOC shell command such
    /// as `dbpf rec 5`. Returns an error if the process has closed stdin.
    pub fn send_line(&mut self, line: &str) -> std::io::Result<()> {
        match self.stdin.as_mut() {
            Some(stdin) => {
                stdin.write_all(line.as_bytes())?;
                stdin.write_all(b"\n")?;
                stdin.flush()
            }
            None => Err(std::io::Error::other("stdin already closed")),
        }
    }

    /// Writes `bytes` to the process's stdin and closes it (end of input), as
    /// a pipe from another program would.
    pub fn send_and_close(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        let mut stdin = self
            .stdin
            .take()
            .ok_or_else(|| std::io::Error::other("stdin already closed"))?;
        stdin.write_all(bytes)?;
        stdin.flush()
    }

    /// Sends SIGTERM to the process (by its pid) and waits up to `timeout`
    /// for it to exit; returns its status, or `None` if it is still running.
    pub fn terminate(&mut self, timeout: std::time::Duration) -> Option<ExitStatus> {
        let _ = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status();
        let deadline = std::time::Instant::now() + timeout;
        while std::time::Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        None
    }

    /// Kills the process now (by handle) and waits for it; returns its status.
    pub fn kill(&mut self) -> Option<ExitStatus> {
        let _ = self.child.kill();
        self.stdin = None;
        self.child.wait().ok()
    }

    /// Polls `ready` until it gives a value, panicking with the log if the
    /// process exits first. `None` once `patience` has run out, so the
    /// caller can say what it waited for and what it last saw. The one wait
    /// loop of the harness: it waits on what the process does, not for a
    /// fixed time.
    pub fn wait_for<T>(
        &mut self,
        patience: Duration,
        mut ready: impl FnMut(&Self) -> Option<T>,
    ) -> Option<T> {
        let deadline = Instant::now() + patience;
        loop {
            if let Some(v) = ready(self) {
                return Some(v);
            }
            self.assert_running();
            if Instant::now() >= deadline {
                return None;
            }
            std::thread::sleep(WAIT_POLL);
        }
    }

    /// [`ChildGuard::wait_for`] a condition; panics with `what` and the log
    /// when `patience` runs out.
    pub fn wait_until(
        &mut self,
        what: &str,
        patience: Duration,
        mut ready: impl FnMut(&Self) -> bool,
    ) {
        if self
            .wait_for(patience, |c| ready(c).then_some(()))
            .is_none()
        {
            panic!(
                "{}: {what} not within {patience:?}; command: {}\n--- log ---\n{}",
                self.name,
                self.command,
                self.log_contents()
            );
        }
    }

    /// Panics with the log if the process has exited: use after a failed
    /// startup to say why.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited early ({status}); command: {}\n--- log ---\n{}",
                self.name,
                self.command,
                self.log_contents()
            );
        }
    }
}

impl fmt::Debug for ChildGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ChildGuard({} pid {})", self.name, self.child.id())
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
        if std::thread::panicking() {
            eprintln!(
                "--- {} (pid {}) log, command: {} ---\n{}--- end of {} log ---",
                self.name,
                self.child.id(),
                self.command,
                self.log_contents(),
                self.name
            );
        }
    }
}

/// What a finished (or killed) client run produced.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The command line, for messages.
    pub command: String,
    /// Exit status; `None` if it had to be killed after the timeout.
    pub status: Option<ExitStatus>,
    /// Whether the timeout expired.
    pub timed_out: bool,
    /// Captured standard output (lossy UTF-8).
    pub stdout: String,
    /// Captured standard error (lossy UTF-8).
    pub stderr: String,
}

impl RunOutput {
    /// Exited on its own with status 0.
    pub fn success(&self) -> bool {
        !self.timed_out && self.status.is_some_and(|s| s.success())
    }

    /// Returns stdout, or panics with the whole run described if it failed.
    pub fn expect_success(&self, what: &str) -> &str {
        if !self.success() {
            panic!("{what} failed:\n{self}");
        }
        &self.stdout
    }
}

impl fmt::Display for RunOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "command: {}", self.command)?;
        match (self.timed_out, self.status) {
            (true, _) => writeln!(f, "status: killed after timeout")?,
            (false, Some(s)) => writeln!(f, "status: {s}")?,
            (false, None) => writeln!(f, "status: unknown")?,
        }
        writeln!(f, "--- stdout ---\n{}", self.stdout)?;
        write!(f, "--- stderr ---\n{}", self.stderr)
    }
}

/// Runs `cmd` to completion with stdin closed, killing it (by handle) if it
/// runs longer than `timeout`. Output is captured through files in the system
/// temp dir, which are removed afterwards. Panics only if it cannot start.
pub fn run_with_timeout(cmd: &mut Command, timeout: Duration) -> RunOutput {
    let dir = std::env::temp_dir();
    let stem = format!("caproto-rs-run-{}", std::process::id());
    let out_path = unique_file(&dir, &stem, "out");
    let err_path = unique_file(&dir, &stem, "err");
    let command = describe(cmd);
    let out = File::create(&out_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", out_path.display()));
    let err = File::create(&err_path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", err_path.display()));
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(out))
        .stderr(Stdio::from(err))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {command}: {e}"));
    let deadline = Instant::now() + timeout;
    let (status, timed_out) = loop {
        match child.try_wait() {
            Ok(Some(status)) => break (Some(status), false),
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break (None, true);
            }
            Ok(None) => std::thread::sleep(POLL),
            Err(_) => {
                let _ = child.kill();
                break (child.wait().ok(), false);
            }
        }
    };
    let read = |p: &Path| {
        let s = std::fs::read(p)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
        let _ = std::fs::remove_file(p);
        s
    };
    RunOutput {
        command,
        status,
        timed_out,
        stdout: read(&out_path),
        stderr: read(&err_path),
    }
}
