//! The one parser for `host[:port]` text, and the one rule for port 0.
//!
//! See [`HostPort`]: the syntax and the port rule are documented there, where
//! `cargo doc` shows them.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, ToSocketAddrs};
use std::str::FromStr;

/// The host part of a [`HostPort`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Host {
    /// An IPv4 or IPv6 literal.
    Ip(IpAddr),
    /// A host name, to be resolved by the caller when it needs addresses.
    Name(String),
}

impl fmt::Display for Host {
    /// The IP literal (IPv6 without brackets) or the name.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// A parsed `host[:port]`.
///
/// Every address a user writes as text goes through [`HostPort`]: the client's
/// `EPICS_CA_ADDR_LIST` and `EPICS_CA_NAME_SERVERS`, the server's
/// `EPICS_CAS_INTF_ADDR_LIST`, `EPICS_CAS_BEACON_ADDR_LIST` and
/// `EPICS_CAS_IGNORE_ADDR_LIST`, the repeater's interface, `--log-addr`, and the
/// host part of a `--log-ship` URL. Parsing is pure; looking a name up is a
/// separate, explicit step ([`HostPort::resolve_v4`], [`HostPort::resolve`]), so
/// a caller that only takes IP literals ([`HostPort::ipv4`]) never asks DNS.
///
/// # Syntax
///
/// Surrounding whitespace is ignored. HOST is an IPv4 literal, an IPv6 literal
/// (in brackets when a port follows: `[::1]:5064`), or a host name made of
/// letters, digits, `-`, `_` and `.`. `:PORT` is optional; a missing port takes
/// the caller's default ([`HostPort::port_or`]), or is an error where the caller
/// needs one ([`HostPort::require_port`]).
///
/// # The rule for port 0
///
/// A port is a decimal number from 1 to 65535: **port 0 is refused**, with
/// [`AddrError::PortZero`]. Every address written this way is one we send to
/// (search and beacon lists, name servers, log collectors), one we match real
/// peers against (`--log-addr`, `EPICS_CAS_IGNORE_ADDR_LIST`), or an interface
/// whose port is not used (`EPICS_CAS_INTF_ADDR_LIST`); no datagram can be sent
/// to port 0 and no peer has it, so a `:0` there is always a mistake. EPICS
/// base's `aToIPAddr` accepts `:0` and libca then fails every send to it; we
/// refuse it when the setting is read, naming the setting.
///
/// "Any free port" is asked for only through the bind settings that document
/// it: `EPICS_CAS_SERVER_PORT=0` / `caproto-ioc --port 0` and the metrics
/// endpoint (`--metrics 127.0.0.1:0`). Those are not parsed here.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct HostPort {
    /// The IP literal or host name.
    pub host: Host,
    /// The port, if one was written; never 0.
    pub port: Option<u16>,
}

/// Why a `host[:port]` was refused, or could not be resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AddrError {
    /// Nothing but whitespace.
    Empty,
    /// The port was 0 (see the rule on [`HostPort`]).
    PortZero,
    /// The port is not a number from 1 to 65535.
    BadPort(String),
    /// The caller needs a port and none was written.
    MissingPort,
    /// The host is not an IP literal nor a well-formed host name.
    BadHost(String),
    /// The caller takes IPv4 literals only.
    NotIpv4(String),
    /// Looking the name up failed.
    Resolve {
        /// The name.
        host: String,
        /// The resolver's message.
        reason: String,
    },
    /// The name has no address of the kind the caller needs.
    NoAddress {
        /// The name.
        host: String,
        /// What was wanted: "IPv4" or "IP".
        wanted: &'static str,
    },
}

impl fmt::Display for AddrError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AddrError::Empty => f.write_str("empty address"),
            AddrError::PortZero => f.write_str(
                "port 0 is not a port to send to or match: give a port from 1 to 65535, \
                 or none for the default",
            ),
            AddrError::BadPort(p) => {
                write!(
                    f,
                    "invalid port {p:?}: port must be a number from 1 to 65535"
                )
            }
            AddrError::MissingPort => f.write_str("expected HOST:PORT (the port is required)"),
            AddrError::BadHost(h) if h.is_empty() => f.write_str("empty host"),
            AddrError::BadHost(h) => write!(
                f,
                "invalid host {h:?}: expected an IP address or a host name"
            ),
            AddrError::NotIpv4(h) => write!(
                f,
                "expected an IPv4 address (optionally with :port), not {h:?}"
            ),
            AddrError::Resolve { host, reason } => write!(f, "cannot resolve {host:?}: {reason}"),
            AddrError::NoAddress { host, wanted } => {
                write!(f, "{host:?} has no {wanted} address")
            }
        }
    }
}

impl std::error::Error for AddrError {}

impl HostPort {
    /// The written port, else `default`.
    pub fn port_or(&self, default: u16) -> u16 {
        self.port.unwrap_or(default)
    }

    /// The written port; [`AddrError::MissingPort`] when there is none.
    pub fn require_port(&self) -> Result<u16, AddrError> {
        self.port.ok_or(AddrError::MissingPort)
    }

    /// The host as an IPv4 literal, for settings that take no names
    /// (the server's interface, beacon and ignore lists).
    pub fn ipv4(&self) -> Result<Ipv4Addr, AddrError> {
        match &self.host {
            Host::Ip(IpAddr::V4(ip)) => Ok(*ip),
            other => Err(AddrError::NotIpv4(other.to_string())),
        }
    }

    /// The IPv4 address to send to (CA speaks IPv4): the literal, or the
    /// first IPv4 address the name resolves to; the port is the written one
    /// or `default_port`.
    pub fn resolve_v4(&self, default_port: u16) -> Result<SocketAddrV4, AddrError> {
        let port = self.port_or(default_port);
        let name = match &self.host {
            Host::Ip(IpAddr::V4(ip)) => return Ok(SocketAddrV4::new(*ip, port)),
            Host::Ip(ip) => return Err(AddrError::NotIpv4(ip.to_string())),
            Host::Name(name) => name,
        };
        lookup(name, port)?
            .into_iter()
            .find_map(|a| match a {
                SocketAddr::V4(v4) => Some(v4),
                SocketAddr::V6(_) => None,
            })
            .ok_or_else(|| AddrError::NoAddress {
                host: name.clone(),
                wanted: "IPv4",
            })
    }

    /// Every address (IPv4 and IPv6) the host stands for, with `port`.
    pub fn resolve(&self, port: u16) -> Result<Vec<SocketAddr>, AddrError> {
        match &self.host {
            Host::Ip(ip) => Ok(vec![SocketAddr::new(*ip, port)]),
            Host::Name(name) => {
                let found = lookup(name, port)?;
                if found.is_empty() {
                    return Err(AddrError::NoAddress {
                        host: name.clone(),
                        wanted: "IP",
                    });
                }
                Ok(found)
            }
        }
    }
}

fn lookup(name: &str, port: u16) -> Result<Vec<SocketAddr>, AddrError> {
    (name, port)
        .to_socket_addrs()
        .map(Iterator::collect)
        .map_err(|e| AddrError::Resolve {
            host: name.to_owned(),
            reason: e.to_string(),
        })
}

/// A port we send to, written on its own (`EPICS_CA_SERVER_PORT` and
/// `EPICS_CA_REPEATER_PORT` in the client, `EPICS_CAS_BEACON_PORT` in the
/// server): surrounding whitespace ignored, and port 0 refused as in
/// [`HostPort`], since nothing listens there.
pub(crate) fn destination_port(text: &str) -> Result<u16, AddrError> {
    let text = text.trim();
    match text.parse::<u16>() {
        Ok(0) => Err(AddrError::PortZero),
        Ok(p) => Ok(p),
        Err(_) => Err(AddrError::BadPort(text.to_owned())),
    }
}

/// A port as written after the colon: 1..=65535, digits only.
fn port(text: &str) -> Result<u16, AddrError> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(AddrError::BadPort(text.to_owned()));
    }
    match text.parse::<u16>() {
        Ok(0) => Err(AddrError::PortZero),
        Ok(p) => Ok(p),
        Err(_) => Err(AddrError::BadPort(text.to_owned())),
    }
}

/// A host name: labels of letters, digits, `-` and `_`, separated by dots.
fn is_host_name(s: &str) -> bool {
    !s.is_empty()
        && s.split('.').all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

impl FromStr for HostPort {
    type Err = AddrError;

    fn from_str(input: &str) -> Result<Self, AddrError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(AddrError::Empty);
        }
        if let Ok(ip) = s.parse::<IpAddr>() {
            return Ok(HostPort {
                host: Host::Ip(ip),
                port: None,
            });
        }
        // `[v6]` or `[v6]:port`.
        if let Some(inner) = s.strip_prefix('[') {
            let bad = || AddrError::BadHost(s.to_owned());
            let (v6, rest) = inner.split_once(']').ok_or_else(bad)?;
            let ip: Ipv6Addr = v6.parse().map_err(|_| bad())?;
            let port = match rest {
                "" => None,
                _ => Some(port(rest.strip_prefix(':').ok_or_else(bad)?)?),
            };
            return Ok(HostPort {
                host: Host::Ip(IpAddr::V6(ip)),
                port,
            });
        }
        let (host, port) = match s.rsplit_once(':') {
            Some((h, p)) => (h, Some(port(p)?)),
            None => (s, None),
        };
        let host = if let Ok(ip) = host.parse::<Ipv4Addr>() {
            Host::Ip(IpAddr::V4(ip))
        } else if is_host_name(host) {
            Host::Name(host.to_owned())
        } else {
            return Err(AddrError::BadHost(host.to_owned()));
        };
        Ok(HostPort { host, port })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> Host {
        Host::Ip(IpAddr::from(a))
    }

    fn name(n: &str) -> Host {
        Host::Name(n.into())
    }

    #[test]
    fn parses_the_forms_people_write() {
        let v6 = |s: &str| Host::Ip(s.parse().unwrap());
        for (text, host, port) in [
            ("127.0.0.1", v4([127, 0, 0, 1]), None),
            ("127.0.0.1:5064", v4([127, 0, 0, 1]), Some(5064)),
            ("  10.0.0.255:65535 ", v4([10, 0, 0, 255]), Some(65535)),
            ("\t192.168.1.2\n", v4([192, 168, 1, 2]), None),
            ("255.255.255.255:1", v4([255, 255, 255, 255]), Some(1)),
            ("localhost", name("localhost"), None),
            ("localhost:5064", name("localhost"), Some(5064)),
            (
                "ioc-01.beamline_a.example",
                name("ioc-01.beamline_a.example"),
                None,
            ),
            ("collector:5170", name("collector"), Some(5170)),
            ("::1", v6("::1"), None),
            ("[::1]", v6("::1"), None),
            ("[::1]:5064", v6("::1"), Some(5064)),
            ("[fe80::1]:1", v6("fe80::1"), Some(1)),
        ] {
            let got: HostPort = text.parse().unwrap_or_else(|e| panic!("{text:?}: {e}"));
            assert_eq!(got, HostPort { host, port }, "{text:?}");
        }
    }

    #[test]
    fn port_0_is_refused_in_every_form() {
        for text in ["127.0.0.1:0", "localhost:0", "[::1]:0", " 10.0.0.1:00 "] {
            assert_eq!(
                text.parse::<HostPort>(),
                Err(AddrError::PortZero),
                "{text:?}"
            );
        }
        let msg = AddrError::PortZero.to_string();
        assert!(
            msg.contains("port 0") && msg.contains("1 to 65535"),
            "{msg}"
        );
    }

    #[test]
    fn bad_ports_and_hosts_are_typed_errors() {
        let bad_port = |p: &str| Err(AddrError::BadPort(p.into()));
        let bad_host = |h: &str| Err(AddrError::BadHost(h.into()));
        for (text, want) in [
            ("", Err(AddrError::Empty)),
            ("   ", Err(AddrError::Empty)),
            ("127.0.0.1:", bad_port("")),
            ("127.0.0.1:x", bad_port("x")),
            ("127.0.0.1:65536", bad_port("65536")),
            ("127.0.0.1:99999", bad_port("99999")),
            ("127.0.0.1:-1", bad_port("-1")),
            ("127.0.0.1:+5064", bad_port("+5064")),
            ("localhost:5064x", bad_port("5064x")),
            ("[::1]:x", bad_port("x")),
            (":5064", bad_host("")),
            ("a:b:c", bad_port("c")),
            ("a:b:5064", bad_host("a:b")),
            ("[::1", bad_host("[::1")),
            ("[::1]5064", bad_host("[::1]5064")),
            ("[10.0.0.1]:5064", bad_host("[10.0.0.1]:5064")),
            ("host name", bad_host("host name")),
            ("a..b", bad_host("a..b")),
            ("user@host:5064", bad_host("user@host")),
            ("host/path", bad_host("host/path")),
        ] {
            assert_eq!(text.parse::<HostPort>(), want, "{text:?}");
        }
    }

    #[test]
    fn defaults_requirements_and_literal_only_callers() {
        let hp: HostPort = "10.0.0.1".parse().unwrap();
        assert_eq!(hp.port_or(5064), 5064);
        assert_eq!(hp.require_port(), Err(AddrError::MissingPort));
        assert_eq!(hp.ipv4(), Ok(Ipv4Addr::new(10, 0, 0, 1)));
        let hp: HostPort = "10.0.0.1:7000".parse().unwrap();
        assert_eq!((hp.port_or(5064), hp.require_port()), (7000, Ok(7000)));
        let named: HostPort = "localhost".parse().unwrap();
        assert_eq!(named.ipv4(), Err(AddrError::NotIpv4("localhost".into())));
        let v6: HostPort = "[::1]:5064".parse().unwrap();
        assert_eq!(v6.ipv4(), Err(AddrError::NotIpv4("::1".into())));
        assert_eq!(v6.resolve_v4(5064), Err(AddrError::NotIpv4("::1".into())));
    }

    #[test]
    fn resolving_literals_and_localhost() {
        let hp: HostPort = "127.0.0.2".parse().unwrap();
        assert_eq!(hp.resolve_v4(5064), Ok("127.0.0.2:5064".parse().unwrap()));
        assert_eq!(hp.resolve(9), Ok(vec!["127.0.0.2:9".parse().unwrap()]));
        let hp: HostPort = "localhost:6000".parse().unwrap();
        let a = hp.resolve_v4(5064).unwrap();
        assert!(a.ip().is_loopback() && a.port() == 6000, "{a}");
        let all = hp.resolve(6000).unwrap();
        assert!(all.iter().all(|a| a.ip().is_loopback() && a.port() == 6000));
        let hp: HostPort = "no-such-host.invalid".parse().unwrap();
        assert!(matches!(hp.resolve_v4(1), Err(AddrError::Resolve { .. })));
    }
}
