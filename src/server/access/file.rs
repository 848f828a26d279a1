//! The thin I/O wrapper around the parser: read an ACF file and, in
//! client-IP mode, resolve HAG host names.

use std::net::{Ipv4Addr, SocketAddr, ToSocketAddrs};
use std::path::Path;

use super::error::AcfFileError;
use super::parse::parse;
use super::rules::{AccessRules, HostCheck};

/// Read and parse the ACF file at `path` and build its rules.
///
/// With [`HostCheck::ClientIp`], every HAG member is resolved now (a DNS or
/// `/etc/hosts` lookup); members that do not resolve are logged and never
/// match. Errors name the file, and for a refused text the line and reason.
pub fn load_file(path: &Path, check: HostCheck) -> Result<AccessRules, AcfFileError> {
    let text = std::fs::read_to_string(path).map_err(|source| AcfFileError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let acf = parse(&text).map_err(|error| AcfFileError::Parse {
        path: path.to_path_buf(),
        error,
    })?;
    tracing::info!(target: "caproto::access",
    "access security file {}: {} UAG, {} HAG, {} ASG; hosts matched by {}",
    path.display(), acf.uags.len(), acf.hags.len(), acf.asgs.len(),
    match check {
        HostCheck::Name => "the name clients send",
        HostCheck::ClientIp => "client IP address",
    });
    Ok(match check {
        HostCheck::Name => AccessRules::new(acf),
        HostCheck::ClientIp => AccessRules::with_client_ip(acf, |host| {
            let ip = resolve_ipv4(host);
            if ip.is_none() {
                tracing::warn!(target: "caproto::access",
                    "{}: unable to resolve host {host:?}; it will match no client",
                    path.display());
            }
            ip
        }),
    })
}

/// The first IPv4 address of `host` (a dotted address or a name).
pub fn resolve_ipv4(host: &str) -> Option<Ipv4Addr> {
    if let Ok(ip) = host.parse() {
        return Some(ip);
    }
    (host, 0u16).to_socket_addrs().ok()?.find_map(|a| match a {
        SocketAddr::V4(v4) => Some(*v4.ip()),
        SocketAddr::V6(_) => None,
    })
}
