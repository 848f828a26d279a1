//! Simulated hosts for broadcast and interface tests: private network
//! namespaces joined by veth pairs, so EPICS defaults (broadcast searches
//! and beacons on every interface) can be tested without one packet
//! reaching the machine's real network.
//!
//! A [`Lab`] owns its namespaces. Names are unique per test (process id and
//! a counter), and dropping the lab kills every process still running in
//! them (by the pids `ip netns pids` lists: EPICS tools leave a detached
//! caRepeater behind) and deletes them, also when the test panics.
//!
//! [`Lab::new`] returns `None` after printing `SKIPPED: ...` when namespaces
//! cannot be created (not root, no `ip`); under `CI` it panics instead, since
//! CI runs as root on a machine where they work.
//!
//! Commands built by [`Lab::exec`] run inside a namespace with every
//! `EPICS_*` variable removed: the EPICS defaults are what is under test.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use super::peers;
use super::process::{run_with_timeout, ChildGuard, RunOutput};
use super::tempdir::TempDir;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// One simulated host: a namespace name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host(pub String);

/// A set of namespaces and the links between them, removed on drop.
#[derive(Debug)]
pub struct Lab {
    id: String,
    hosts: Vec<Host>,
    links: u32,
    dir: TempDir,
}

fn ip(args: &[&str]) -> Result<(), String> {
    let out = Command::new("ip")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run `ip`: {e}"))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ))
    }
}

fn skip(reason: &str) -> Option<Lab> {
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("network namespaces unavailable under CI: {reason}");
    }
    let _ = writeln!(
        std::io::stderr(),
        "SKIPPED: network namespaces unavailable ({reason}); these tests need root and `ip netns`"
    );
    None
}

impl Lab {
    /// An empty lab, or `None` (after printing SKIPPED) when this machine
    /// cannot create network namespaces.
    pub fn new() -> Option<Lab> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        // Hex pid, a separator hex never contains, and the counter: unique
        // across test processes and within one.
        let id = format!("{:x}x{n}", std::process::id());
        let lab = Lab {
            id,
            hosts: Vec::new(),
            links: 0,
            dir: TempDir::new("netns"),
        };
        // Probe by creating (and keeping) nothing: a throw-away namespace.
        let probe = format!("crprobe{}", lab.id);
        match ip(&["netns", "add", &probe]) {
            Ok(()) => {
                let _ = ip(&["netns", "del", &probe]);
                Some(lab)
            }
            Err(e) => skip(&e),
        }
    }

    /// A new host with its loopback interface up.
    pub fn host(&mut self, tag: &str) -> Host {
        let name = format!("cr{}{tag}", self.id);
        ip(&["netns", "add", &name]).unwrap_or_else(|e| panic!("{e}"));
        let host = Host(name);
        self.hosts.push(host.clone());
        ip(&["-n", &host.0, "link", "set", "lo", "up"]).unwrap_or_else(|e| panic!("{e}"));
        host
    }

    /// Join `a` and `b` with a veth pair on a /24: `a` gets `a_ip`, `b` gets
    /// `b_ip`, both with the subnet's broadcast address. Returns the
    /// interface names (in `a`, in `b`).
    pub fn link(&mut self, a: &Host, a_ip: Ipv4Addr, b: &Host, b_ip: Ipv4Addr) -> (String, String) {
        self.links += 1;
        // Interface names are at most 15 bytes and must be unique in the
        // root namespace while the pair is created.
        let stem = format!(
            "v{}{}",
            &self.id[self.id.len().saturating_sub(8)..],
            self.links
        );
        let (va, vb) = (format!("{stem}a"), format!("{stem}b"));
        let must = |args: &[&str]| ip(args).unwrap_or_else(|e| panic!("{e}"));
        must(&["link", "add", &va, "type", "veth", "peer", "name", &vb]);
        must(&["link", "set", &va, "netns", &a.0]);
        must(&["link", "set", &vb, "netns", &b.0]);
        for (host, dev, addr) in [(a, &va, a_ip), (b, &vb, b_ip)] {
            let o = addr.octets();
            let cidr = format!("{addr}/24");
            let brd = format!("{}.{}.{}.255", o[0], o[1], o[2]);
            must(&["-n", &host.0, "addr", "add", &cidr, "brd", &brd, "dev", dev]);
            must(&["-n", &host.0, "link", "set", dev, "up"]);
        }
        (va, vb)
    }

    /// `program` run inside `host`, with no `EPICS_*` variable set.
    pub fn exec(&self, host: &Host, program: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &host.0]).arg(program.as_ref());
        for (k, _) in std::env::vars_os() {
            if k.to_string_lossy().starts_with("EPICS_") {
                cmd.env_remove(k);
            }
        }
        cmd
    }

    /// An EPICS base tool inside `host` (None, after SKIPPED, if missing).
    pub fn epics(&self, host: &Host, tool: &str) -> Option<Command> {
        let bin = peers::epics_bin(tool)?;
        let mut cmd = self.exec(host, bin);
        cmd.env("LD_LIBRARY_PATH", peers::epics_root().join("usr/lib"));
        Some(cmd)
    }

    /// One of our binaries inside `host`.
    pub fn own(&self, host: &Host, exe: impl AsRef<Path>) -> Command {
        self.exec(host, exe)
    }

    /// Start a long-running server (killed on drop of the guard, and with
    /// the namespace at the latest).
    pub fn spawn(&self, name: &str, cmd: &mut Command) -> ChildGuard {
        ChildGuard::spawn(name, cmd, self.dir.path())
    }

    /// Run a client to completion (killed after `timeout`).
    pub fn run(&self, cmd: &mut Command, timeout: Duration) -> RunOutput {
        run_with_timeout(cmd, timeout)
    }

    /// Write a file into the lab's temp dir (a database, say).
    pub fn write_file(&self, name: &str, contents: &str) -> std::path::PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
        path
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for host in &self.hosts {
            // Everything still running inside (servers, detached repeaters).
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &host.0]).output() {
                for pid in String::from_utf8_lossy(&out.stdout).split_whitespace() {
                    let _ = Command::new("kill").args(["-KILL", pid]).status();
                }
            }
        }
        for host in &self.hosts {
            if let Err(e) = ip(&["netns", "del", &host.0]) {
                let _ = writeln!(std::io::stderr(), "warning: {e}");
            }
        }
    }
}
