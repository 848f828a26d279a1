//! Helpers shared by the logging test binaries: an in-memory log destination, a command stand-in
//! that counts how often it is formatted, and emitters with the logging-contract fields.
#![allow(dead_code)]

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use caproto::log::SharedWriter;

/// Serialises the tests of one binary: the subscriber and its interest cache are process-wide.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// A log destination in memory.
#[derive(Clone, Default)]
pub struct Capture(Arc<Mutex<Vec<u8>>>);

impl Capture {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn writer(&self) -> SharedWriter {
        self.0.clone()
    }

    /// Everything written so far, emptying the buffer.
    pub fn take(&self) -> String {
        let mut v = self.0.lock().unwrap();
        String::from_utf8(std::mem::take(&mut *v)).expect("log output is UTF-8")
    }

    pub fn lines(&self) -> Vec<String> {
        self.take().lines().map(str::to_owned).collect()
    }
}

/// Stands in for a proto command: caproto-style Display, counting how often it is formatted.
pub struct Cmd {
    pub text: &'static str,
    pub formatted: AtomicUsize,
}

impl Cmd {
    pub const fn new(text: &'static str) -> Self {
        Cmd {
            text,
            formatted: AtomicUsize::new(0),
        }
    }

    pub fn count(&self) -> usize {
        self.formatted.load(Ordering::SeqCst)
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.formatted.fetch_add(1, Ordering::SeqCst);
        f.write_str(self.text)
    }
}

pub fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// One per-command record as the circuit emits it (one callsite for all calls, DEBUG).
pub fn command(
    pv: Option<&str>,
    our: SocketAddr,
    their: SocketAddr,
    direction: &str,
    role: &str,
    bytes: u64,
    cmd: &Cmd,
) {
    tracing::debug!(
        target: "caproto::circ",
        pv,
        our_addr = %our,
        their_addr = %their,
        direction,
        role,
        bytes,
        command = %cmd
    );
}

/// A client-side send of `cmd` about `pv` on the usual loopback circuit.
pub fn client_send(pv: &str, cmd: &Cmd) {
    command(
        Some(pv),
        addr("127.0.0.1:51782"),
        addr("127.0.0.1:5064"),
        "send",
        "client",
        16,
        cmd,
    );
}

/// A DEBUG record with no pv/address/role (context-level chatter).
pub fn plain_debug(msg: &str) {
    tracing::debug!(target: "caproto::ctx", "{msg}");
}

/// A WARN record about a PV (no addresses).
pub fn pv_warn(pv: &str, msg: &str) {
    tracing::warn!(target: "caproto::ch", pv, "{msg}");
}

/// A DEBUG record about a PV only.
pub fn pv_debug(pv: &str, msg: &str) {
    tracing::debug!(target: "caproto::ch", pv, "{msg}");
}

/// An INFO record with a role only.
pub fn role_info(role: &str, msg: &str) {
    tracing::info!(target: "caproto::serv", role, "{msg}");
}
