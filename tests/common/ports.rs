//! Loopback ports that no two tests share, across threads and processes.
//!
//! Every test binary is its own process and `cargo test` runs several at
//! once (other worktrees on the same machine may too), so a per-process list
//! is not enough. The scheme:
//!
//! - Ports come from below the kernel's ephemeral range
//!   (`/proc/sys/net/ipv4/ip_local_port_range`, 32768 and up by default), so
//!   the OS never hands one out as the source port of some client socket
//!   between our probe and the server's bind.
//! - A port is claimed by creating `$TMPDIR/caproto-rs-ports/<port>` with
//!   `create_new` (atomic across processes). The file holds the owner's pid and
//!   process start time; a claim whose owner is gone (or whose pid now belongs
//!   to another process) is stale and is taken over. A claim lasts for the
//!   life of the process that made it, which outlives each of its tests.
//! - The port must also be free right now (TCP and UDP on 127.0.0.1, UDP on
//!   the wildcard): a server started by hand or by older code is respected.
//!   It is claimed before it is probed, so no harness ever binds, even for a
//!   moment, a port another process holds a claim on.
//!
//! Our own servers need none of this: [`super::servers::spawn_our_ioc`] lets
//! caproto-ioc bind port 0 and read back the port it chose. The allocator
//! remains for what cannot do that: EPICS softIoc and caRepeater, caproto's
//! IOCs, repeater ports, and tests that restart a server on the same port.

use std::collections::HashSet;
use std::fs::OpenOptions;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

/// Ports this process holds; checked first, so threads never race on files.
static TAKEN: Mutex<Option<HashSet<u16>>> = Mutex::new(None);

/// Lowest port handed out: above the well-known and common service ports.
const LOW: u16 = 20000;

/// Folder of claim files shared by every process on the machine.
fn claims_dir() -> PathBuf {
    let dir = std::env::temp_dir().join("caproto-rs-ports");
    let _ = std::fs::create_dir_all(&dir);
    dir
}

/// First port of the kernel's ephemeral range (exclusive upper bound for us).
fn ephemeral_low() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .filter(|low: &u16| *low > LOW + 1000)
        .unwrap_or(32768)
}

/// Start time (clock ticks since boot) of process `pid`, field 22 of its
/// /proc stat line; `None` if there is no such process.
fn start_time(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces; fields resume after ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(19)?.parse().ok()
}

/// This process's claim-file contents: "pid start_time".
fn me() -> String {
    let pid = std::process::id();
    format!("{pid} {}", start_time(pid).unwrap_or(0))
}

/// Whether the claim file text names a live process (the same one that
/// wrote it: pid and start time both match).
fn owner_alive(text: &str) -> bool {
    let mut it = text.split_whitespace();
    let (Some(pid), Some(start)) = (it.next(), it.next()) else {
        // Half-written by a claimant that is writing it right now, or junk:
        // treat as alive; another port will do.
        return true;
    };
    match (pid.parse::<u32>(), start.parse::<u64>()) {
        (Ok(pid), Ok(start)) => start_time(pid) == Some(start),
        _ => false,
    }
}

/// Claims `port` for this process through its file; false if another live
/// process holds it.
fn claim_file(port: u16) -> bool {
    let path = claims_dir().join(port.to_string());
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let _ = f.write_all(me().as_bytes());
                return true;
            }
            Err(_) => {
                let text = std::fs::read_to_string(&path).unwrap_or_default();
                if text.is_empty() || owner_alive(&text) {
                    return false;
                }
                // Stale: its owner has exited. Remove and try once more (a
                // racing process may win; then create_new fails again).
                let _ = std::fs::remove_file(&path);
            }
        }
    }
    false
}

/// Claims `port` in this process and across processes.
fn claim(port: u16) -> bool {
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    let taken = taken.get_or_insert_with(HashSet::new);
    if taken.contains(&port) || !claim_file(port) {
        return false;
    }
    taken.insert(port);
    true
}

/// Gives back a claim made a moment ago for a port found busy.
fn unclaim(port: u16) {
    let mut taken = TAKEN.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(taken) = taken.as_mut() {
        taken.remove(&port);
    }
    let _ = std::fs::remove_file(claims_dir().join(port.to_string()));
}

/// Claims `port`, then keeps it if `free` says nobody holds it. Claim first,
/// probe second: a probe binds the port for a moment, and a test that let
/// its claimed port go (to see a repeater prune a client that went away)
/// must not find it held by another process probing it.
fn claim_if(port: u16, free: impl Fn(u16) -> bool) -> bool {
    if !claim(port) {
        return false;
    }
    if free(port) {
        return true;
    }
    unclaim(port);
    false
}

/// A pseudo-random sequence of candidate ports in [LOW, ephemeral_low()).
fn candidates() -> impl Iterator<Item = u16> {
    let span = u64::from(ephemeral_low() - LOW);
    let mut x = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(1)
        ^ (u64::from(std::process::id()) << 32)
        | 1;
    std::iter::repeat_with(move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        LOW + (x % span) as u16
    })
}

fn udp_free(port: u16) -> bool {
    UdpSocket::bind(("127.0.0.1", port)).is_ok() && UdpSocket::bind(("0.0.0.0", port)).is_ok()
}

/// A port free for both TCP and UDP on 127.0.0.1: a CA server needs both
/// (TCP for circuits, UDP for searches) on the same number. No other test,
/// in this process or another, is handed the same port.
pub fn free_tcp_udp_port() -> u16 {
    for port in candidates().take(5000) {
        if claim_if(port, |p| {
            TcpListener::bind(("127.0.0.1", p)).is_ok() && udp_free(p)
        }) {
            return port;
        }
    }
    panic!("no free TCP+UDP port on 127.0.0.1 after 5000 tries");
}

/// A UDP port free on 127.0.0.1 and 0.0.0.0 (a repeater binds the wildcard),
/// handed to no other test.
pub fn free_udp_port() -> u16 {
    for port in candidates().take(5000) {
        if claim_if(port, udp_free) {
            return port;
        }
    }
    panic!("no free UDP port on 127.0.0.1 after 5000 tries");
}

/// Whether something currently holds UDP `port` on the wildcard address.
pub fn udp_port_in_use(port: u16) -> bool {
    UdpSocket::bind(("0.0.0.0", port)).is_err()
}
