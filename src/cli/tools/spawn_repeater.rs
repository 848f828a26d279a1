//! Starting a Channel Access repeater for the client tools, as EPICS'
//! `caget` does: if nothing listens on the repeater port, our
//! `caproto-repeater` (the executable next to the running tool) is started,
//! detached, and left running for later clients.

use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::cli::tools::repeater::listen_addr;

/// The repeater executable's file name.
pub const REPEATER_EXE: &str = "caproto-repeater";

/// What [`ensure_repeater`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum RepeaterStart {
    /// Something already holds the repeater port.
    AlreadyRunning(SocketAddr),
    /// A repeater was started with this process id.
    Started(u32),
}

/// Why no repeater could be started (the tools log this and carry on:
/// without a repeater only beacon-driven reconnection is slower).
#[derive(Debug)]
#[non_exhaustive]
pub enum RepeaterError {
    /// `EPICS_CA_REPEATER_PORT` (or the interface list) is unusable.
    Config(String),
    /// The repeater executable is not next to this one.
    Missing(PathBuf),
    /// Starting it failed.
    Spawn(PathBuf, std::io::Error),
}

impl std::fmt::Display for RepeaterError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RepeaterError::Config(m) => write!(f, "cannot start a repeater: {m}"),
            RepeaterError::Missing(p) => {
                write!(f, "cannot start a repeater: {} not found", p.display())
            }
            RepeaterError::Spawn(p, e) => {
                write!(f, "cannot start a repeater ({}): {e}", p.display())
            }
        }
    }
}

impl std::error::Error for RepeaterError {}

/// Whether some process holds UDP `addr` (or the wildcard address on its
/// port, which is where an EPICS caRepeater binds). Probing briefly binds
/// the port, so it is free again before a repeater we start binds it.
pub fn port_in_use(addr: SocketAddr) -> bool {
    let in_use = |a: SocketAddr| matches!(UdpSocket::bind(a), Err(e) if e.kind() == std::io::ErrorKind::AddrInUse);
    in_use(addr) || in_use(SocketAddr::from((Ipv4Addr::UNSPECIFIED, addr.port())))
}

/// Where the repeater executable is expected: next to `exe`.
pub fn repeater_path(exe: &Path) -> PathBuf {
    exe.with_file_name(REPEATER_EXE)
}

/// Start `caproto-repeater` (found next to the current executable) unless
/// something listens on the repeater port given by `env`. The child gets
/// the same environment, no stdio and its own process group (so a Ctrl-C
/// meant for the tool does not stop it), and is not waited for.
pub fn ensure_repeater(
    env: impl Fn(&str) -> Option<String>,
) -> Result<RepeaterStart, RepeaterError> {
    let addr = listen_addr(None, env).map_err(RepeaterError::Config)?;
    if port_in_use(addr) {
        return Ok(RepeaterStart::AlreadyRunning(addr));
    }
    let exe = std::env::current_exe()
        .map_err(|e| RepeaterError::Spawn(PathBuf::from(REPEATER_EXE), e))?;
    let path = repeater_path(&exe);
    if !path.is_file() {
        return Err(RepeaterError::Missing(path));
    }
    let mut cmd = Command::new(&path);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    #[cfg(unix)]
    {
        use std::os::unix::process::CommandExt;
        cmd.process_group(0);
    }
    let child = cmd.spawn().map_err(|e| RepeaterError::Spawn(path, e))?;
    Ok(RepeaterStart::Started(child.id()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sees_a_bound_port() {
        let sock = UdpSocket::bind("127.0.0.1:0").expect("bind");
        let addr = sock.local_addr().expect("addr");
        assert!(port_in_use(addr));
        drop(sock);
        let wildcard = UdpSocket::bind("0.0.0.0:0").expect("bind");
        let port = wildcard.local_addr().expect("addr").port();
        assert!(port_in_use(SocketAddr::from(([127, 0, 0, 1], port))));
    }

    #[test]
    fn does_not_spawn_when_the_port_is_taken() {
        let sock = UdpSocket::bind("0.0.0.0:0").expect("bind");
        let port = sock.local_addr().expect("addr").port().to_string();
        let vars = [
            ("EPICS_CA_REPEATER_PORT", port.as_str()),
            ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1"),
        ];
        let got = ensure_repeater(|k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        })
        .expect("no error");
        assert!(matches!(got, RepeaterStart::AlreadyRunning(a) if a.port().to_string() == port));
    }

    #[test]
    fn bad_port_is_a_config_error() {
        let got = ensure_repeater(|k| (k == "EPICS_CA_REPEATER_PORT").then(|| "x".to_string()));
        assert!(matches!(got, Err(RepeaterError::Config(_))), "{got:?}");
    }

    #[test]
    fn repeater_lives_next_to_the_tool() {
        assert_eq!(
            repeater_path(Path::new("/opt/ca/bin/caproto-get")),
            PathBuf::from("/opt/ca/bin/caproto-repeater")
        );
    }
}
