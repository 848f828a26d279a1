//! Helpers shared by the fault and load tests (`tests/faults_*.rs`,
//! `tests/server_load.rs`): a child process that can be signalled by its pid
//! (SIGSTOP, SIGCONT, SIGINT, SIGTERM) and waited for, our IOC started and
//! probed, monitor output parsing, and a process's CPU time and resident
//! memory from `/proc`.
#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use crate::common::CaEnv;

/// Hang guard for every wait (not a timing assertion).
pub const PATIENCE: Duration = Duration::from_secs(60);

pub const IOC_EXE: &str = env!("CARGO_BIN_EXE_caproto-ioc");
pub const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
pub const MONITOR_EXE: &str = env!("CARGO_BIN_EXE_caproto-monitor");

/// A child with stdout and stderr in files, killed (by its handle) on drop.
pub struct Proc {
    pub child: Child,
    out: PathBuf,
    err: PathBuf,
}

impl Proc {
    /// Spawns `cmd` with output in `<dir>/<name>.out` and `.err`.
    pub fn spawn(cmd: &mut Command, dir: &Path, name: &str) -> Proc {
        let out = dir.join(format!("{name}.out"));
        let err = dir.join(format!("{name}.err"));
        let child = cmd
            .stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(&err).unwrap())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {name}: {e}"));
        Proc { child, out, err }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(&self.err).unwrap_or_default()
    }

    /// Sends `sig` (e.g. "INT", "STOP", "CONT") to this process, by its pid.
    pub fn signal(&self, sig: &str) {
        let st = Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(self.pid().to_string())
            .status()
            .expect("run kill");
        assert!(st.success(), "kill -{sig} {} failed", self.pid());
    }

    /// Panics with stderr if the process has exited.
    pub fn assert_running(&mut self, what: &str) {
        if let Some(st) = self.child.try_wait().unwrap() {
            panic!("{what} exited ({st}):\n{}", self.stderr());
        }
    }

    /// Waits for the process to exit on its own (bounded).
    pub fn wait(&mut self, what: &str) -> ExitStatus {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if let Some(st) = self.child.try_wait().unwrap() {
                return st;
            }
            if Instant::now() >= deadline {
                panic!(
                    "{what} did not exit within {PATIENCE:?}\n--- stderr ---\n{}",
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Polls `cond` on (stdout, stderr) until it holds (bounded).
    pub fn wait_until(&mut self, what: &str, cond: impl Fn(&str, &str) -> bool) {
        let deadline = Instant::now() + PATIENCE;
        loop {
            if cond(&self.stdout(), &self.stderr()) {
                return;
            }
            self.assert_running(what);
            if Instant::now() >= deadline {
                panic!(
                    "{what}: not reached within {PATIENCE:?}\n--- stdout (tail) ---\n{}\n--- stderr ---\n{}",
                    tail(&self.stdout(), 10),
                    self.stderr()
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // A stopped child cannot die of SIGKILL until it is scheduled, which
        // SIGKILL does by itself; kill by handle, then reap.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last `n` lines of `s`.
pub fn tail(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Starts `caproto-ioc <args>` in `env` and waits until `probe` answers.
pub fn start_ioc(env: &CaEnv, args: &[&str], probe: &str, name: &str) -> Proc {
    let mut cmd = env.own(IOC_EXE);
    cmd.args(args);
    let mut ioc = Proc::spawn(&mut cmd, env.dir(), name);
    let deadline = Instant::now() + PATIENCE;
    loop {
        ioc.assert_running(name);
        if get(env, probe).is_some() {
            return ioc;
        }
        assert!(Instant::now() < deadline, "{name} never served {probe}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `caproto-get --no-repeater --timeout 5 pv`: stdout if it succeeded.
pub fn get(env: &CaEnv, pv: &str) -> Option<String> {
    let mut cmd = env.own(GET_EXE);
    cmd.args(["--no-repeater", "--timeout", "5", pv]);
    let out = env.run(&mut cmd, PATIENCE);
    out.success().then_some(out.stdout)
}

/// Integer values printed by caproto-monitor for `pv` (`pv  date time [n]`).
pub fn printed(stdout: &str, pv: &str) -> Vec<i64> {
    stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(pv))
        .filter_map(|l| {
            let last = l.split_whitespace().last()?;
            last.trim_matches(|c| c == '[' || c == ']').parse().ok()
        })
        .collect()
}

/// Lines printed by caproto-monitor for `pv`.
pub fn lines_for(stdout: &str, pv: &str) -> usize {
    stdout
        .lines()
        .filter(|l| l.split_whitespace().next() == Some(pv))
        .count()
}

/// Resident set size of `pid` in KiB (`VmRSS` in `/proc/PID/status`).
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))?
        .split_whitespace()
        .nth(1)?
        .parse()
        .ok()
}

/// User + system CPU time of `pid` in clock ticks (fields 14 and 15 of
/// `/proc/PID/stat`; the command name in field 2 may contain spaces, so
/// count from the closing parenthesis).
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // `rest` starts at field 3 (state): utime is field 14, stime field 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// Clock ticks per second for [`cpu_ticks`] (`getconf CLK_TCK`, 100 if unknown).
pub fn ticks_per_sec() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100)
}
