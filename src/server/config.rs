//! Server configuration from the standard EPICS environment variables.
//!
//! | variable | meaning | default |
//! |---|---|---|
//! | `EPICS_CAS_INTF_ADDR_LIST` | interfaces to serve on | `0.0.0.0` |
//! | `EPICS_CAS_SERVER_PORT` (else `EPICS_CA_SERVER_PORT`) | TCP and UDP port | 5064 |
//! | `EPICS_CAS_BEACON_PERIOD` (else `EPICS_CA_BEACON_PERIOD`) | seconds between beacons | 15 |
//! | `EPICS_CAS_BEACON_ADDR_LIST` (else `EPICS_CA_ADDR_LIST`) | where beacons go | empty |
//! | `EPICS_CAS_AUTO_BEACON_ADDR_LIST` (else `EPICS_CA_AUTO_ADDR_LIST`) | also broadcast beacons | YES |
//! | `EPICS_CAS_BEACON_PORT` (else `EPICS_CA_REPEATER_PORT`) | beacon destination port | 5065 |
//! | `EPICS_CA_MAX_ARRAY_BYTES` | largest request payload accepted | 16 MiB floor |
//!
//! The automatic beacon list adds the limited broadcast address only when some
//! served interface is not loopback, so a server bound to 127.0.0.1 never
//! sends beyond the host.

use std::fmt;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::proto::{DEFAULT_REPEATER_PORT, DEFAULT_SERVER_PORT};

/// Everything the server needs to know about its network setup.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerConfig {
    /// Interfaces to bind (TCP listener and UDP search socket on each).
    pub interfaces: Vec<Ipv4Addr>,
    /// Port for TCP and UDP. 0 picks an ephemeral TCP port and uses it for UDP too.
    /// If the TCP port is taken, an ephemeral TCP port is used instead (as EPICS does).
    pub port: u16,
    /// Steady-state interval between beacons.
    pub beacon_period: Duration,
    /// Where beacons are sent.
    pub beacon_addrs: Vec<SocketAddrV4>,
    /// Largest request payload (bytes) a client may send; larger ones close the circuit.
    pub max_request_bytes: usize,
}

/// Floor on the request size limit, so large array writes work without tuning.
const MIN_REQUEST_BYTES: usize = 16 * 1024 * 1024;
/// Default beacon period of EPICS base.
const DEFAULT_BEACON_PERIOD: f64 = 15.0;

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            interfaces: vec![Ipv4Addr::UNSPECIFIED],
            port: DEFAULT_SERVER_PORT,
            beacon_period: Duration::from_secs_f64(DEFAULT_BEACON_PERIOD),
            beacon_addrs: Vec::new(),
            max_request_bytes: MIN_REQUEST_BYTES,
        }
    }
}

/// A malformed environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable's name.
    pub var: &'static str,
    /// Its value.
    pub value: String,
    /// What was wrong.
    pub reason: &'static str,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}={:?}: {}", self.var, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}

impl ServerConfig {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read the configuration through `get` (a variable name -> value lookup),
    /// so tests need not touch the process environment.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let first = |a: &'static str, b: &'static str| {
            get(a).map(|v| (a, v)).or_else(|| get(b).map(|v| (b, v)))
        };

        let interfaces = match get("EPICS_CAS_INTF_ADDR_LIST") {
            Some(v) => v
                .split_whitespace()
                .map(|s| {
                    s.parse::<Ipv4Addr>().map_err(|_| ConfigError {
                        var: "EPICS_CAS_INTF_ADDR_LIST",
                        value: v.clone(),
                        reason: "expected IPv4 addresses separated by spaces",
                    })
                })
                .collect::<Result<Vec<_>, _>>()?,
            None => vec![Ipv4Addr::UNSPECIFIED],
        };

        let port = match first("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT") {
            Some((var, v)) => parse_port(var, &v)?,
            None => DEFAULT_SERVER_PORT,
        };
        let beacon_port = match first("EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT") {
            Some((var, v)) => parse_port(var, &v)?,
            None => DEFAULT_REPEATER_PORT,
        };

        let beacon_period = match first("EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD") {
            Some((var, v)) => match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s.max(0.01)),
                _ => {
                    return Err(ConfigError {
                        var,
                        value: v,
                        reason: "expected a positive number of seconds",
                    })
                }
            },
            None => Duration::from_secs_f64(DEFAULT_BEACON_PERIOD),
        };

        let mut beacon_addrs = Vec::new();
        if let Some((var, v)) = first("EPICS_CAS_BEACON_ADDR_LIST", "EPICS_CA_ADDR_LIST") {
            for item in v.split_whitespace() {
                beacon_addrs.push(parse_addr(var, &v, item, beacon_port)?);
            }
        }
        let auto = match first("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST") {
            Some((_, v)) => !v.trim().eq_ignore_ascii_case("no"),
            None => true,
        };
        if auto && interfaces.iter().any(|i| !i.is_loopback()) {
            beacon_addrs.push(SocketAddrV4::new(Ipv4Addr::BROADCAST, beacon_port));
        }

        let max_request_bytes = match get("EPICS_CA_MAX_ARRAY_BYTES") {
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) => n.max(MIN_REQUEST_BYTES),
                Err(_) => {
                    return Err(ConfigError {
                        var: "EPICS_CA_MAX_ARRAY_BYTES",
                        value: v,
                        reason: "expected a byte count",
                    })
                }
            },
            None => MIN_REQUEST_BYTES,
        };

        Ok(ServerConfig {
            interfaces,
            port,
            beacon_period,
            beacon_addrs,
            max_request_bytes,
        })
    }
}

fn parse_port(var: &'static str, v: &str) -> Result<u16, ConfigError> {
    v.trim().parse::<u16>().map_err(|_| ConfigError {
        var,
        value: v.to_string(),
        reason: "expected a port number 0..=65535",
    })
}

/// `host` or `host:port`, IPv4 literals only.
fn parse_addr(
    var: &'static str,
    whole: &str,
    item: &str,
    default_port: u16,
) -> Result<SocketAddrV4, ConfigError> {
    let err = || ConfigError {
        var,
        value: whole.to_string(),
        reason: "expected IPv4 addresses (optionally with :port) separated by spaces",
    };
    if let Ok(a) = item.parse::<SocketAddrV4>() {
        return Ok(a);
    }
    item.parse::<Ipv4Addr>()
        .map(|ip| SocketAddrV4::new(ip, default_port))
        .map_err(|_| err())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<ServerConfig, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        ServerConfig::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.interfaces, vec![Ipv4Addr::UNSPECIFIED]);
        assert_eq!(c.port, 5064);
        assert_eq!(c.beacon_period, Duration::from_secs(15));
        assert_eq!(
            c.beacon_addrs,
            vec![SocketAddrV4::new(Ipv4Addr::BROADCAST, 5065)]
        );
    }

    #[test]
    fn loopback_test_setup() {
        let c = cfg(&[
            ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1"),
            ("EPICS_CAS_SERVER_PORT", "40000"),
            ("EPICS_CA_REPEATER_PORT", "40001"),
            ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "NO"),
            ("EPICS_CAS_BEACON_ADDR_LIST", "127.0.0.1 127.0.0.2:7000"),
            ("EPICS_CAS_BEACON_PERIOD", "0.5"),
        ])
        .unwrap();
        assert_eq!(c.interfaces, vec![Ipv4Addr::LOCALHOST]);
        assert_eq!(c.port, 40000);
        assert_eq!(c.beacon_period, Duration::from_millis(500));
        assert_eq!(
            c.beacon_addrs,
            vec![
                SocketAddrV4::new(Ipv4Addr::LOCALHOST, 40001),
                SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 2), 7000)
            ]
        );
    }

    #[test]
    fn cas_port_wins_over_ca_port() {
        let c = cfg(&[
            ("EPICS_CA_SERVER_PORT", "1"),
            ("EPICS_CAS_SERVER_PORT", "2"),
        ])
        .unwrap();
        assert_eq!(c.port, 2);
    }

    #[test]
    fn loopback_interfaces_never_broadcast() {
        let c = cfg(&[("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1")]).unwrap();
        assert!(c.beacon_addrs.is_empty());
    }

    #[test]
    fn bad_values_are_errors() {
        assert_eq!(
            cfg(&[("EPICS_CAS_SERVER_PORT", "70000")]).unwrap_err().var,
            "EPICS_CAS_SERVER_PORT"
        );
        assert!(cfg(&[("EPICS_CAS_INTF_ADDR_LIST", "localhost")]).is_err());
        assert!(cfg(&[("EPICS_CAS_BEACON_PERIOD", "-1")]).is_err());
        assert!(cfg(&[("EPICS_CAS_BEACON_ADDR_LIST", "x.y")]).is_err());
    }
}
