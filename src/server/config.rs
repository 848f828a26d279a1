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
//! | `EPICS_CAS_IGNORE_ADDR_LIST` | hosts whose searches are ignored | empty |
//! | `EPICS_CA_MAX_ARRAY_BYTES` | largest request payload accepted | 16 MiB floor |
//!
//! The automatic beacon list is rsrv's (see [`crate::net::beacon_list`]): the
//! broadcast address of each listed interface, or of every up, non-loopback
//! interface when serving on the wildcard; a server on 127.0.0.1 beacons to
//! 127.0.0.1 and never beyond the host.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

use crate::net::{self, AddrList, ConfigError, HostPort, InterfaceSource, SystemInterfaces};
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
    /// How `beacon_addrs` was chosen (logged once at DEBUG when the server
    /// starts); `None` for a hand-built configuration.
    pub beacon_report: Option<AddrList>,
    /// For each listed interface that has one, its broadcast address: a
    /// socket bound to an interface address does not receive broadcasts, so
    /// the server also binds this address (as rsrv does) and answers those
    /// searches with the interface's address. Empty for the wildcard.
    pub interface_broadcasts: Vec<(Ipv4Addr, Ipv4Addr)>,
    /// `EPICS_CAS_IGNORE_ADDR_LIST`: searches from these hosts get no answer.
    pub ignore_addrs: Vec<Ipv4Addr>,
    /// Largest request payload (bytes) a client may send; larger ones close the circuit.
    pub max_request_bytes: usize,
    /// Threads that run circuits, each with its own current-thread runtime
    /// (a new circuit goes to the one with the fewest); 0 runs circuits as
    /// tasks on the runtime that runs the server. Default: one per CPU
    /// core. At normal priority they serve one client and 100 clients as
    /// fast as tasks on a multi-thread runtime do (`cargo bench --bench
    /// server_clients`), and, unlike the shared runtime's workers, they can
    /// be given real-time priority ([`circuit_rt_priority`](Self::circuit_rt_priority))
    /// without changing the rest of the program. Put hooks then run on
    /// these threads' runtimes. With circuit threads, the UDP search
    /// responders get a thread of their own as well.
    pub circuit_threads: usize,
    /// Real-time (`SCHED_FIFO`) priority, 1-99, for the circuit threads, as
    /// an EPICS IOC gives its CA server threads (rsrv's per-client threads
    /// run at 20) when the process may: as root, with `CAP_SYS_NICE`, or
    /// under an `RLIMIT_RTPRIO` that allows it. Otherwise, or with `None`,
    /// they run at normal priority. The search responders' thread asks for
    /// 8 less (at least 1), as rsrv's "CAS-UDP" runs below its clients: a
    /// prompt search reply is what paces a client connecting many
    /// channels. Only with `circuit_threads` > 0.
    pub circuit_rt_priority: Option<u8>,
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
            beacon_report: None,
            interface_broadcasts: Vec::new(),
            ignore_addrs: Vec::new(),
            max_request_bytes: MIN_REQUEST_BYTES,
            circuit_threads: std::thread::available_parallelism()
                .map_or(1, std::num::NonZeroUsize::get),
            circuit_rt_priority: None,
        }
    }
}

impl ServerConfig {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|k| std::env::var(k).ok())
    }

    /// Read the configuration from the process environment, with `interfaces`
    /// (when not empty) standing in for `EPICS_CAS_INTF_ADDR_LIST`, so a
    /// command-line `--interfaces` also decides the beacon list and the
    /// broadcast sockets, exactly as the variable would.
    pub fn from_env_with_interfaces(interfaces: &[Ipv4Addr]) -> Result<Self, ConfigError> {
        let listed = interfaces
            .iter()
            .map(Ipv4Addr::to_string)
            .collect::<Vec<_>>()
            .join(" ");
        Self::from_lookup(|k| {
            if k == "EPICS_CAS_INTF_ADDR_LIST" && !listed.is_empty() {
                Some(listed.clone())
            } else {
                std::env::var(k).ok()
            }
        })
    }

    /// Read the configuration through `get` (a variable name -> value lookup),
    /// so tests need not touch the process environment. The host's
    /// interfaces are read when the beacon list or a listed interface needs them.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        Self::from_lookup_with(get, &SystemInterfaces)
    }

    /// Like [`ServerConfig::from_lookup`], with the interfaces taken from
    /// `interfaces` instead of the host (for tests and embedders).
    pub fn from_lookup_with(
        get: impl Fn(&str) -> Option<String>,
        interfaces: &dyn InterfaceSource,
    ) -> Result<Self, ConfigError> {
        let get = |k: &str| get(k).filter(|v| !v.trim().is_empty());
        let first = |a: &'static str, b: &'static str| {
            get(a).map(|v| (a, v)).or_else(|| get(b).map(|v| (b, v)))
        };

        let ifaces = interfaces_list(&get)?;
        if ifaces.len() > 1 && ifaces.iter().any(|a| a.is_unspecified()) {
            return Err(ConfigError {
                var: "EPICS_CAS_INTF_ADDR_LIST",
                value: get("EPICS_CAS_INTF_ADDR_LIST").unwrap_or_default(),
                reason: "0.0.0.0 cannot be listed with other interface addresses".into(),
            });
        }

        let port = match first("EPICS_CAS_SERVER_PORT", "EPICS_CA_SERVER_PORT") {
            Some((var, v)) => parse_port(var, &v)?,
            None => DEFAULT_SERVER_PORT,
        };
        // Beacons are sent to this port: 0 is refused, as in address lists.
        let beacon_port = match first("EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT") {
            Some((var, v)) => {
                net::destination_port(&v).map_err(|e| ConfigError::new(var, &v, e.to_string()))?
            }
            None => DEFAULT_REPEATER_PORT,
        };

        let beacon_period = match first("EPICS_CAS_BEACON_PERIOD", "EPICS_CA_BEACON_PERIOD") {
            Some((var, v)) => match v.trim().parse::<f64>() {
                Ok(s) if s.is_finite() && s > 0.0 => Duration::from_secs_f64(s.max(0.01)),
                _ => {
                    return Err(ConfigError {
                        var,
                        value: v,
                        reason: "expected a positive number of seconds".into(),
                    })
                }
            },
            None => Duration::from_secs_f64(DEFAULT_BEACON_PERIOD),
        };

        let mut listed = Vec::new();
        let mut listed_var = "EPICS_CAS_BEACON_ADDR_LIST";
        if let Some((var, v)) = first("EPICS_CAS_BEACON_ADDR_LIST", "EPICS_CA_ADDR_LIST") {
            listed_var = var;
            for item in v.split_whitespace() {
                listed.push(parse_addr(var, &v, item, beacon_port)?);
            }
        }
        let auto = match first("EPICS_CAS_AUTO_BEACON_ADDR_LIST", "EPICS_CA_AUTO_ADDR_LIST") {
            Some((var, v)) => (var, net::is_auto_on(Some(&v))),
            None => ("EPICS_CAS_AUTO_BEACON_ADDR_LIST", true),
        };
        // Read the host once, and only if something needs it.
        let specific_non_lo = interfaces_needing_lookup(&ifaces);
        let host = if auto.1 || specific_non_lo {
            interfaces.interfaces()
        } else {
            Vec::new()
        };
        let beacon_report =
            net::beacon_list(&host, auto, &ifaces, &listed, listed_var, beacon_port);
        let beacon_addrs = beacon_report
            .entries
            .iter()
            .filter_map(|e| match e.addr {
                std::net::SocketAddr::V4(a) => Some(a),
                std::net::SocketAddr::V6(_) => None,
            })
            .collect();
        let interface_broadcasts = ifaces
            .iter()
            .filter(|a| !a.is_unspecified() && !a.is_loopback())
            .filter_map(|a| {
                // A point-to-point peer is not ours to bind: broadcasts only.
                let (found, _) = net::broadcast_addresses(&host, Some(*a));
                found.iter().find_map(|(b, origin)| {
                    matches!(origin, net::Origin::Broadcast(_)).then_some((*a, *b))
                })
            })
            .collect();

        let mut ignore_addrs = Vec::new();
        if let Some(v) = get("EPICS_CAS_IGNORE_ADDR_LIST") {
            for item in v.split_whitespace() {
                let ip = parse_ip("EPICS_CAS_IGNORE_ADDR_LIST", &v, item)?;
                if !ignore_addrs.contains(&ip) {
                    ignore_addrs.push(ip);
                }
            }
        }

        let max_request_bytes = match get("EPICS_CA_MAX_ARRAY_BYTES") {
            Some(v) => match v.trim().parse::<usize>() {
                Ok(n) => n.max(MIN_REQUEST_BYTES),
                Err(_) => {
                    return Err(ConfigError {
                        var: "EPICS_CA_MAX_ARRAY_BYTES",
                        value: v,
                        reason: "expected a byte count".into(),
                    })
                }
            },
            None => MIN_REQUEST_BYTES,
        };

        Ok(ServerConfig {
            interfaces: ifaces,
            port,
            beacon_period,
            beacon_addrs,
            beacon_report: Some(beacon_report),
            interface_broadcasts,
            ignore_addrs,
            max_request_bytes,
            ..ServerConfig::default()
        })
    }
}

/// `EPICS_CAS_INTF_ADDR_LIST` as addresses (port suffixes allowed and
/// ignored, as rsrv reads it), or the wildcard when unset.
fn interfaces_list(get: &impl Fn(&str) -> Option<String>) -> Result<Vec<Ipv4Addr>, ConfigError> {
    let Some(v) = get("EPICS_CAS_INTF_ADDR_LIST") else {
        return Ok(vec![Ipv4Addr::UNSPECIFIED]);
    };
    let mut out = Vec::new();
    for item in v.split_whitespace() {
        let ip = parse_ip("EPICS_CAS_INTF_ADDR_LIST", &v, item)?;
        if !out.contains(&ip) {
            out.push(ip);
        }
    }
    if out.is_empty() {
        out.push(Ipv4Addr::UNSPECIFIED);
    }
    Ok(out)
}

/// Whether some listed interface needs the host's interface list (to find
/// its broadcast address).
fn interfaces_needing_lookup(ifaces: &[Ipv4Addr]) -> bool {
    ifaces
        .iter()
        .any(|a| !a.is_unspecified() && !a.is_loopback())
}

fn parse_port(var: &'static str, v: &str) -> Result<u16, ConfigError> {
    v.trim().parse::<u16>().map_err(|_| ConfigError {
        var,
        value: v.to_string(),
        reason: "expected a port number 0..=65535".into(),
    })
}

/// One `host[:port]` entry of `var` (whose whole value is `whole`): an IPv4
/// literal (rsrv takes no names here), port 0 refused and a missing port
/// `default_port`; see [`HostPort`].
fn parse_addr(
    var: &'static str,
    whole: &str,
    item: &str,
    default_port: u16,
) -> Result<SocketAddrV4, ConfigError> {
    item.parse::<HostPort>()
        .and_then(|hp| Ok(SocketAddrV4::new(hp.ipv4()?, hp.port_or(default_port))))
        .map_err(|e| ConfigError::new(var, whole, e.to_string()))
}

/// The address of an entry whose port is not used (interfaces, ignored
/// hosts): as [`parse_addr`], and a written port is checked but dropped.
fn parse_ip(var: &'static str, whole: &str, item: &str) -> Result<Ipv4Addr, ConfigError> {
    parse_addr(var, whole, item, DEFAULT_SERVER_PORT).map(|a| *a.ip())
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
        ServerConfig::from_lookup_with(|k| map.get(k).cloned(), &host())
    }

    #[test]
    fn a_point_to_point_interface_gets_no_broadcast_socket() {
        let mut host = host();
        host.push(net::Interface {
            name: "tun0".into(),
            addr: Ipv4Addr::new(10, 8, 0, 6),
            up: true,
            loopback: false,
            broadcast: None,
            point_to_point: Some(Ipv4Addr::new(10, 8, 0, 5)),
        });
        let c = ServerConfig::from_lookup_with(
            |k| (k == "EPICS_CAS_INTF_ADDR_LIST").then(|| "10.8.0.6".to_string()),
            &host,
        )
        .unwrap();
        assert!(c.interface_broadcasts.is_empty());
        // Beacons still reach the peer, as rsrv's discovery gives it.
        assert_eq!(c.beacon_addrs, vec!["10.8.0.5:5065".parse().unwrap()]);
    }

    /// A host with loopback and two broadcast interfaces.
    fn host() -> Vec<net::Interface> {
        let i = |name: &str, addr: [u8; 4], bcast: Option<[u8; 4]>| net::Interface {
            name: name.into(),
            addr: addr.into(),
            up: true,
            loopback: bcast.is_none(),
            broadcast: bcast.map(Ipv4Addr::from),
            point_to_point: None,
        };
        vec![
            i("lo", [127, 0, 0, 1], None),
            i("eth0", [10, 77, 0, 2], Some([10, 77, 0, 255])),
            i("eth1", [10, 78, 0, 2], Some([10, 78, 0, 255])),
        ]
    }

    #[test]
    fn defaults() {
        let c = cfg(&[]).unwrap();
        assert_eq!(c.interfaces, vec![Ipv4Addr::UNSPECIFIED]);
        assert_eq!(c.port, 5064);
        assert_eq!(c.beacon_period, Duration::from_secs(15));
        assert_eq!(
            c.beacon_addrs,
            vec![
                "10.77.0.255:5065".parse().unwrap(),
                "10.78.0.255:5065".parse().unwrap()
            ]
        );
        assert!(c.interface_broadcasts.is_empty());
        assert!(c.ignore_addrs.is_empty());
    }

    #[test]
    fn listed_interfaces_beacon_and_listen_on_their_own_broadcast_address() {
        let c = cfg(&[
            ("EPICS_CAS_INTF_ADDR_LIST", "10.78.0.2"),
            ("EPICS_CAS_BEACON_ADDR_LIST", "10.1.2.3"),
        ])
        .unwrap();
        assert_eq!(c.interfaces, vec![Ipv4Addr::new(10, 78, 0, 2)]);
        assert_eq!(
            c.beacon_addrs,
            vec![
                "10.78.0.255:5065".parse().unwrap(),
                "10.1.2.3:5065".parse().unwrap()
            ]
        );
        assert_eq!(
            c.interface_broadcasts,
            vec![(Ipv4Addr::new(10, 78, 0, 2), Ipv4Addr::new(10, 78, 0, 255))]
        );
        let report = c.beacon_report.unwrap().to_string();
        assert!(
            report.contains("10.1.2.3:5065 (EPICS_CAS_BEACON_ADDR_LIST)"),
            "{report}"
        );
    }

    #[test]
    fn ignore_list_and_wildcard_mixing() {
        let c = cfg(&[(
            "EPICS_CAS_IGNORE_ADDR_LIST",
            "10.77.0.1 10.77.0.9:77 10.77.0.1",
        )])
        .unwrap();
        assert_eq!(
            c.ignore_addrs,
            vec![Ipv4Addr::new(10, 77, 0, 1), Ipv4Addr::new(10, 77, 0, 9)]
        );
        let e = cfg(&[("EPICS_CAS_INTF_ADDR_LIST", "0.0.0.0 10.77.0.2")]).unwrap_err();
        assert_eq!(e.var, "EPICS_CAS_INTF_ADDR_LIST");
        assert!(cfg(&[("EPICS_CAS_IGNORE_ADDR_LIST", "nohost")]).is_err());
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
    fn loopback_interfaces_beacon_to_loopback_only() {
        let c = cfg(&[("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1")]).unwrap();
        assert_eq!(c.beacon_addrs, vec!["127.0.0.1:5065".parse().unwrap()]);
        assert!(c.interface_broadcasts.is_empty());
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
        // Port 0 is refused in every address list (net::HostPort's rule), naming the variable.
        for var in [
            "EPICS_CAS_BEACON_ADDR_LIST",
            "EPICS_CAS_INTF_ADDR_LIST",
            "EPICS_CAS_IGNORE_ADDR_LIST",
        ] {
            let e = cfg(&[(var, "127.0.0.1 127.0.0.2:0")]).unwrap_err();
            assert_eq!(e.var, var);
            assert!(e.reason.contains("port 0"), "{e}");
        }
        for var in ["EPICS_CAS_BEACON_PORT", "EPICS_CA_REPEATER_PORT"] {
            assert_eq!(cfg(&[(var, "0")]).unwrap_err().var, var);
        }
        // The server's own port may be 0: it binds any free port.
        assert_eq!(cfg(&[("EPICS_CAS_SERVER_PORT", "0")]).unwrap().port, 0);
        // A port on an interface is allowed and unused, as rsrv reads it.
        let c = cfg(&[("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1:5064")]).unwrap();
        assert_eq!(c.interfaces, vec![Ipv4Addr::LOCALHOST]);
    }
}
