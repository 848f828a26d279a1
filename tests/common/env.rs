//! `CaEnv`: the loopback-only Channel Access environment of one test.
//!
//! Every process a test starts gets the loopback variables required by the
//! project rules plus ports unique to the test, so tests run in parallel and
//! no packet leaves 127.0.0.1. The env also owns a temp dir (logs, database
//! files) and, once an EPICS tool is run, an EPICS `caRepeater` on the test's
//! repeater port: without it every EPICS client would spawn a detached
//! repeater that outlives the test.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::peers;
use super::ports;
use super::process::{run_with_timeout, ChildGuard, RunOutput};
use super::tempdir::TempDir;

/// The fixed loopback settings from the project rules.
pub const LOOPBACK_VARS: [(&str, &str); 5] = [
    ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
    ("EPICS_CA_ADDR_LIST", "127.0.0.1"),
    ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1"),
    ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO"),
    ("EPICS_CAS_BEACON_ADDR_LIST", "127.0.0.1"),
];

/// Variables removed from children because they could send traffic elsewhere.
/// (A test of name servers sets it again after `apply`, pointing at loopback.)
pub const REMOVED_VARS: [&str; 1] = ["EPICS_CA_NAME_SERVERS"];

/// One test's CA environment: unique ports, temp dir, optional repeater.
///
/// The server port is fixed lazily: by our own IOC reporting the ephemeral
/// port it bound ([`super::servers::spawn_our_ioc`]), or, the first time
/// anything else asks for it, by the claim-file allocator ([`ports`]).
#[derive(Debug)]
pub struct CaEnv {
    server_port: Mutex<Option<u16>>,
    repeater_port: u16,
    dir: TempDir,
    repeater: Mutex<Option<ChildGuard>>,
}

impl Default for CaEnv {
    fn default() -> Self {
        CaEnv::new()
    }
}

impl CaEnv {
    /// Picks a free repeater port; the server port is picked when first
    /// needed (see the type's docs).
    pub fn new() -> CaEnv {
        CaEnv {
            server_port: Mutex::new(None),
            repeater_port: ports::free_udp_port(),
            dir: TempDir::new("ca"),
            repeater: Mutex::new(None),
        }
    }

    /// EPICS_CA_SERVER_PORT = EPICS_CAS_SERVER_PORT for this test: the
    /// port our IOC reported, else one claimed from the allocator now.
    pub fn server_port(&self) -> u16 {
        let mut port = self.server_port.lock().unwrap_or_else(|e| e.into_inner());
        *port.get_or_insert_with(ports::free_tcp_udp_port)
    }

    /// The server port if it is fixed already, without fixing it.
    pub fn server_port_if_known(&self) -> Option<u16> {
        *self.server_port.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Fixes the server port to the one a server reported binding. Panics if
    /// another port was fixed before (clients would look elsewhere).
    pub fn set_server_port(&self, reported: u16) {
        let mut port = self.server_port.lock().unwrap_or_else(|e| e.into_inner());
        match *port {
            Some(p) if p != reported => {
                panic!("the server reported port {reported}, but the test uses {p}")
            }
            _ => *port = Some(reported),
        }
    }

    /// The UDP socket of an in-process fake server, on 127.0.0.1 at this test's
    /// server port. A port not fixed yet is chosen by the kernel (port 0) and
    /// becomes the test's server port: nothing can bind it between a probe and
    /// the fake's bind, as it could with a port from the allocator.
    pub fn bind_fake_server_udp(&self) -> std::net::UdpSocket {
        let wanted = self.server_port_if_known().unwrap_or(0);
        let udp = std::net::UdpSocket::bind(("127.0.0.1", wanted)).expect("bind fake UDP");
        self.set_server_port(udp.local_addr().expect("fake UDP address").port());
        udp
    }

    /// EPICS_CA_REPEATER_PORT (and beacon port) for this test.
    pub fn repeater_port(&self) -> u16 {
        self.repeater_port
    }

    /// This test's temp dir (server logs, generated database files).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// All variables this env sets, in order.
    pub fn vars(&self) -> Vec<(&'static str, String)> {
        let mut v: Vec<(&'static str, String)> = LOOPBACK_VARS
            .iter()
            .map(|(k, val)| (*k, (*val).to_owned()))
            .collect();
        let server = self.server_port().to_string();
        let repeater = self.repeater_port.to_string();
        v.push(("EPICS_CA_SERVER_PORT", server.clone()));
        v.push(("EPICS_CAS_SERVER_PORT", server));
        v.push(("EPICS_CA_REPEATER_PORT", repeater.clone()));
        // caproto does not derive the beacon port from the repeater port.
        v.push(("EPICS_CAS_BEACON_PORT", repeater));
        v
    }

    /// Sets this env on `cmd` (and removes variables that could leak traffic).
    pub fn apply<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        for var in REMOVED_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in self.vars() {
            cmd.env(k, v);
        }
        cmd
    }

    /// [`apply`](Self::apply) for one of our own servers: while the server
    /// port is not fixed yet, EPICS_CAS_SERVER_PORT is 0 (bind an ephemeral
    /// port, to be read back) and EPICS_CA_SERVER_PORT is unset (there is no
    /// number for the server's own client side to use yet); afterwards, as
    /// `apply`.
    pub fn apply_server<'a>(&self, cmd: &'a mut Command) -> &'a mut Command {
        if self.server_port_if_known().is_some() {
            return self.apply(cmd);
        }
        for var in REMOVED_VARS {
            cmd.env_remove(var);
        }
        for (k, v) in LOOPBACK_VARS {
            cmd.env(k, v);
        }
        let repeater = self.repeater_port.to_string();
        cmd.env_remove("EPICS_CA_SERVER_PORT")
            .env("EPICS_CAS_SERVER_PORT", "0")
            .env("EPICS_CA_REPEATER_PORT", &repeater)
            .env("EPICS_CAS_BEACON_PORT", &repeater)
    }

    /// Starts an EPICS `caRepeater` on this env's repeater port unless one is
    /// already running; returns false (after SKIPPED/panic per peer rules) if
    /// EPICS is not installed. EPICS clients then register with it instead of
    /// spawning their own detached repeater.
    pub fn ensure_repeater(&self) -> bool {
        let mut slot = self.repeater.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(rep) = slot.as_mut() {
            if rep.is_running() {
                return true;
            }
        }
        let Some(mut cmd) = peers::epics_command("caRepeater") else {
            return false;
        };
        self.apply(&mut cmd);
        let mut guard = ChildGuard::spawn("caRepeater", &mut cmd, self.dir());
        let port = self.repeater_port;
        guard.wait_until(
            &format!("caRepeater on port {port}"),
            Duration::from_secs(10),
            |_| ports::udp_port_in_use(port),
        );
        *slot = Some(guard);
        true
    }

    /// An EPICS base tool (`caget`, `caput`, `camonitor`, `cainfo`, `softIoc`,
    /// `acctst`, ...) with this env applied and the test's repeater running.
    pub fn epics(&self, tool: &str) -> Option<Command> {
        let mut cmd = peers::epics_command(tool)?;
        if !self.ensure_repeater() {
            return None;
        }
        self.apply(&mut cmd);
        Some(cmd)
    }

    /// A caproto console script (`caproto-get`, `caproto-put`,
    /// `caproto-monitor`, `caproto-repeater`) with this env applied. Pass
    /// `--no-repeater` to clients, or call [`CaEnv::ensure_repeater`].
    pub fn caproto(&self, tool: &str) -> Option<Command> {
        let mut cmd = Command::new(peers::caproto_bin(tool)?);
        self.apply(&mut cmd);
        Some(cmd)
    }

    /// `python -m <module>` in caproto's environment with this env applied,
    /// e.g. `caproto.ioc_examples.simple`.
    pub fn caproto_module(&self, module: &str) -> Option<Command> {
        let mut cmd = Command::new(peers::caproto_python()?);
        cmd.arg("-m").arg(module);
        self.apply(&mut cmd);
        Some(cmd)
    }

    /// One of our own binaries (built by cargo for integration tests), with
    /// this env applied. Pass the path from `env!("CARGO_BIN_EXE_<name>")`.
    pub fn own(&self, exe: impl AsRef<Path>) -> Command {
        let mut cmd = Command::new(exe.as_ref());
        self.apply(&mut cmd);
        cmd
    }

    /// Spawns `cmd` as a guarded server with its log in this env's temp dir.
    /// The caller must have applied the env (all constructors above do).
    pub fn spawn(&self, name: &str, cmd: &mut Command) -> ChildGuard {
        ChildGuard::spawn(name, cmd, self.dir())
    }

    /// [`spawn`](Self::spawn) with stderr kept out of the log
    /// ([`ChildGuard::spawn_stderr_apart`]).
    pub fn spawn_stderr_apart(&self, name: &str, cmd: &mut Command) -> ChildGuard {
        ChildGuard::spawn_stderr_apart(name, cmd, self.dir())
    }

    /// Runs a client command to completion, killed after `timeout`.
    pub fn run(&self, cmd: &mut Command, timeout: Duration) -> RunOutput {
        run_with_timeout(cmd, timeout)
    }

    /// Writes `contents` to a file in this env's temp dir and returns its path.
    pub fn write_file(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.dir.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        path
    }
}

/// Creates a fresh [`CaEnv`] and applies it to `cmd`; keep the returned env
/// alive (and use it for every other process of the test) so all share ports.
pub fn loopback_env(cmd: &mut Command) -> CaEnv {
    let env = CaEnv::new();
    env.apply(cmd);
    env
}
