//! Where a shipping handler sends records, parsed from a URL:
//!
//! | URL | protocol | framing |
//! | --- | --- | --- |
//! | `tcp://HOST:PORT` | newline-delimited JSON (Logstash `json_lines`, Vector `socket`, Fluent Bit `tcp`) | one object per line |
//! | `syslog://HOST:PORT` (also `syslog+tcp://`) | RFC 5424 over TCP | octet counting (RFC 6587 §3.4.1) |
//! | `syslog+udp://HOST:PORT` | RFC 5424 over UDP (RFC 5426) | one message per datagram |
//! | `unixgram:///PATH` (e.g. `unixgram:///dev/log`) | RFC 5424 to a local datagram socket | one message per datagram |
//!
//! Host names are resolved by the background writer each time it connects, so a collector that
//! moves to another address is found again.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::log::LogError;
use crate::net::HostPort;

/// The wire protocol of a shipping destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShipProtocol {
    /// Newline-delimited JSON over TCP.
    JsonTcp,
    /// RFC 5424 syslog over TCP with octet-counting framing.
    SyslogTcp,
    /// RFC 5424 syslog over UDP, one message per datagram.
    SyslogUdp,
    /// RFC 5424 syslog to a Unix datagram socket (the local syslog daemon's `/dev/log`).
    SyslogUnix,
}

impl ShipProtocol {
    /// True for the three syslog variants (records are formatted as RFC 5424).
    pub fn is_syslog(self) -> bool {
        !matches!(self, ShipProtocol::JsonTcp)
    }
}

/// The address part of a shipping URL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// A host name or IP literal and a port.
    Host {
        /// Host name, IPv4 literal, or IPv6 literal without brackets.
        host: String,
        /// Port number.
        port: u16,
    },
    /// A filesystem path of a Unix datagram socket.
    Path(PathBuf),
}

/// A parsed shipping destination, e.g. `tcp://127.0.0.1:5170` or `unixgram:///dev/log`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ShipTarget {
    protocol: ShipProtocol,
    endpoint: Endpoint,
}

impl ShipTarget {
    /// The wire protocol.
    pub fn protocol(&self) -> ShipProtocol {
        self.protocol
    }

    /// Where records go.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }
}

impl fmt::Display for ShipTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match self.protocol {
            ShipProtocol::JsonTcp => "tcp",
            ShipProtocol::SyslogTcp => "syslog",
            ShipProtocol::SyslogUdp => "syslog+udp",
            ShipProtocol::SyslogUnix => "unixgram",
        };
        match &self.endpoint {
            Endpoint::Host { host, port } if host.contains(':') => {
                write!(f, "{scheme}://[{host}]:{port}")
            }
            Endpoint::Host { host, port } => write!(f, "{scheme}://{host}:{port}"),
            Endpoint::Path(p) => write!(f, "{scheme}://{}", p.display()),
        }
    }
}

fn bad(input: &str, reason: impl Into<String>) -> LogError {
    LogError::InvalidShipUrl {
        input: input.to_owned(),
        reason: reason.into(),
    }
}

/// `HOST:PORT` or `[V6]:PORT` as [`HostPort`] reads it; the port is required and never 0.
/// The name is kept, not resolved: the writer resolves it on each connect.
fn host_port(input: &str, rest: &str) -> Result<Endpoint, LogError> {
    let hp = rest
        .parse::<HostPort>()
        .map_err(|e| bad(input, e.to_string()))?;
    let port = hp.require_port().map_err(|e| bad(input, e.to_string()))?;
    Ok(Endpoint::Host {
        host: hp.host.to_string(),
        port,
    })
}

impl FromStr for ShipTarget {
    type Err = LogError;

    fn from_str(input: &str) -> Result<Self, LogError> {
        let (scheme, rest) = input.split_once("://").ok_or_else(|| {
            bad(
                input,
                "expected tcp://HOST:PORT, syslog://HOST:PORT, syslog+udp://HOST:PORT or unixgram:///PATH",
            )
        })?;
        let protocol = match scheme.to_ascii_lowercase().as_str() {
            "tcp" | "json+tcp" => ShipProtocol::JsonTcp,
            "syslog" | "syslog+tcp" => ShipProtocol::SyslogTcp,
            "syslog+udp" => ShipProtocol::SyslogUdp,
            "unixgram" | "syslog+unixgram" => ShipProtocol::SyslogUnix,
            other => return Err(bad(input, format!("unknown scheme {other:?}"))),
        };
        let endpoint = if protocol == ShipProtocol::SyslogUnix {
            if !rest.starts_with('/') || rest.len() < 2 {
                return Err(bad(
                    input,
                    "expected an absolute socket path: unixgram:///dev/log",
                ));
            }
            Endpoint::Path(PathBuf::from(rest))
        } else {
            host_port(input, rest.trim_end_matches('/'))?
        };
        Ok(ShipTarget { protocol, endpoint })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(s: &str) -> ShipTarget {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn schemes_and_endpoints() {
        let t = ok("tcp://127.0.0.1:5170");
        assert_eq!(t.protocol(), ShipProtocol::JsonTcp);
        assert_eq!(
            t.endpoint(),
            &Endpoint::Host {
                host: "127.0.0.1".into(),
                port: 5170
            }
        );
        assert_eq!(
            ok("syslog://logs.example:601").protocol(),
            ShipProtocol::SyslogTcp
        );
        assert_eq!(ok("SYSLOG+UDP://h:514").protocol(), ShipProtocol::SyslogUdp);
        let u = ok("unixgram:///dev/log");
        assert_eq!(u.endpoint(), &Endpoint::Path("/dev/log".into()));
        let v6 = ok("syslog+tcp://[::1]:6514");
        assert_eq!(v6.to_string(), "syslog://[::1]:6514");
        assert_eq!(ok("tcp://h:1/").to_string(), "tcp://h:1");
    }

    #[test]
    fn bad_urls_say_why() {
        for (s, why) in [
            ("127.0.0.1:5170", "expected tcp://"),
            ("http://h:80", "unknown scheme"),
            ("tcp://h", "port is required"),
            ("tcp://h:99999", "invalid port"),
            ("tcp://:5", "empty host"),
            ("unixgram://dev/log", "absolute"),
            ("tcp://h:0", "port 0"),
        ] {
            let e = s.parse::<ShipTarget>().unwrap_err().to_string();
            assert!(e.contains(why), "{s}: {e}");
        }
    }
}
