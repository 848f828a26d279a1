//! Client configuration, read from the standard `EPICS_CA_*` environment
//! variables (or built by hand in tests and embedding programs).

use std::net::SocketAddr;
use std::time::Duration;

use super::error::ClientError;
use crate::net::{self, AddrList, InterfaceSource, SystemInterfaces};
use crate::net::{ConfigError, HostPort};
use crate::proto::{DEFAULT_MAX_ARRAY_BYTES, DEFAULT_REPEATER_PORT, DEFAULT_SERVER_PORT};

/// Everything a [`crate::client::Context`] needs to know about its network
/// surroundings. [`Config::from_env`] reads it the way EPICS base does.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where UDP searches go: with `EPICS_CA_AUTO_ADDR_LIST` not `NO`, the
    /// broadcast address of every up, broadcast-capable IPv4 interface (or
    /// 127.0.0.1 on a host with no such interface), then the
    /// `EPICS_CA_ADDR_LIST` entries (port defaulting to `server_port`); see
    /// [`crate::net::search_list`].
    pub search_addrs: Vec<SocketAddr>,
    /// How `search_addrs` was chosen (logged once at DEBUG when a context
    /// starts); `None` for a hand-built configuration.
    pub search_report: Option<AddrList>,
    /// `EPICS_CA_NAME_SERVERS`: servers searched over TCP instead of UDP.
    pub name_servers: Vec<SocketAddr>,
    /// `EPICS_CA_SERVER_PORT` (default 5064).
    pub server_port: u16,
    /// `EPICS_CA_REPEATER_PORT` (default 5065): where we register for beacons.
    pub repeater_port: u16,
    /// Whether to register with the repeater at all (beacons speed up
    /// reconnection after a server restart; one-shot tools can skip it).
    pub use_repeater: bool,
    /// `EPICS_CA_CONN_TMO` (default 30 s): after this much silence on a circuit
    /// we send an echo; if that is not answered within another
    /// `echo_timeout`, the circuit is declared dead.
    pub conn_timeout: Duration,
    /// How long an echo may go unanswered (5 s, as in EPICS base).
    pub echo_timeout: Duration,
    /// `EPICS_CA_BEACON_PERIOD` (default 15 s), used to judge beacon anomalies.
    pub beacon_period: Duration,
    /// `EPICS_CA_MAX_SEARCH_PERIOD` (default 300 s, at least 60 s): the longest
    /// back-off between two searches for the same name.
    pub max_search_period: Duration,
    /// The first back-off between searches for an unanswered name; it doubles
    /// each round up to `max_search_period`.
    pub min_search_period: Duration,
    /// `EPICS_CA_MAX_ARRAY_BYTES` (default 16384): largest payload we accept.
    pub max_array_bytes: usize,
    /// Circuit priority (0..=99) sent in VERSION; channels of different
    /// priorities to the same server use different circuits.
    pub priority: u16,
    /// User name sent in CLIENT_NAME: `$USER`, else `$LOGNAME`, else the
    /// account name of the real user id, as EPICS (see [`crate::net::user_name`]).
    pub client_name: String,
    /// Host name sent in HOST_NAME: `gethostname()`, as EPICS (see
    /// [`crate::net::host_name`]).
    pub host_name: String,
}

impl Default for Config {
    /// EPICS defaults with an empty search list and the repeater enabled.
    fn default() -> Self {
        Config {
            search_addrs: Vec::new(),
            search_report: None,
            name_servers: Vec::new(),
            server_port: DEFAULT_SERVER_PORT,
            repeater_port: DEFAULT_REPEATER_PORT,
            use_repeater: true,
            conn_timeout: Duration::from_secs(30),
            echo_timeout: Duration::from_secs(5),
            beacon_period: Duration::from_secs(15),
            max_search_period: Duration::from_secs(300),
            min_search_period: Duration::from_millis(30),
            max_array_bytes: DEFAULT_MAX_ARRAY_BYTES,
            priority: 0,
            client_name: "unknown".into(),
            host_name: "localhost".into(),
        }
    }
}

impl Config {
    /// Read the configuration from the process environment.
    pub fn from_env() -> Result<Config, ClientError> {
        Config::from_lookup(|var| std::env::var(var).ok())
    }

    /// Read the configuration through `lookup` (an environment stand-in), so
    /// tests can exercise parsing without touching the process environment.
    /// The host's interfaces are read only if the automatic list is on.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Config, ClientError> {
        Config::from_lookup_with(lookup, &SystemInterfaces)
    }

    /// Like [`Config::from_lookup`], with the interfaces taken from
    /// `interfaces` instead of the host (for tests and embedders).
    pub fn from_lookup_with(
        lookup: impl Fn(&str) -> Option<String>,
        interfaces: &dyn InterfaceSource,
    ) -> Result<Config, ClientError> {
        let defaults = Config::default();
        let server_port = port_var(&lookup, "EPICS_CA_SERVER_PORT", defaults.server_port)?;
        let repeater_port = port_var(&lookup, "EPICS_CA_REPEATER_PORT", defaults.repeater_port)?;
        let listed = addr_list(&lookup, "EPICS_CA_ADDR_LIST", server_port)?;
        let auto = net::is_auto_on(lookup("EPICS_CA_AUTO_ADDR_LIST").as_deref());
        let report = net::search_list(interfaces, auto, &listed, server_port);
        let search_addrs = report.addrs();
        let name_servers = addr_list(&lookup, "EPICS_CA_NAME_SERVERS", server_port)?;
        let conn_timeout = secs_var(&lookup, "EPICS_CA_CONN_TMO", defaults.conn_timeout)?;
        let beacon_period = secs_var(&lookup, "EPICS_CA_BEACON_PERIOD", defaults.beacon_period)?;
        let max_search_period = secs_var(
            &lookup,
            "EPICS_CA_MAX_SEARCH_PERIOD",
            defaults.max_search_period,
        )?
        .max(Duration::from_secs(60));
        let max_array_bytes = match lookup("EPICS_CA_MAX_ARRAY_BYTES") {
            None => defaults.max_array_bytes,
            Some(v) => v
                .trim()
                .parse::<usize>()
                .map_err(|e| bad("EPICS_CA_MAX_ARRAY_BYTES", &v, e.to_string()))?
                .max(DEFAULT_MAX_ARRAY_BYTES),
        };
        let client_name = net::user_name(&lookup);
        let host_name = net::host_name();
        Ok(Config {
            search_addrs,
            search_report: Some(report),
            name_servers,
            server_port,
            repeater_port,
            conn_timeout,
            beacon_period,
            max_search_period,
            max_array_bytes,
            client_name,
            host_name,
            ..defaults
        })
    }

    /// Largest command payload we accept: the array limit plus room for the
    /// biggest DBR metadata block, so a full-size CTRL array still fits.
    pub fn max_payload(&self) -> usize {
        self.max_array_bytes.saturating_add(1024)
    }
}

fn bad(var: &'static str, value: &str, reason: impl Into<String>) -> ClientError {
    ClientError::Config(ConfigError::new(var, value, reason))
}

fn port_var(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: u16,
) -> Result<u16, ClientError> {
    match lookup(var) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => net::destination_port(&v).map_err(|e| bad(var, &v, e.to_string())),
    }
}

fn secs_var(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default: Duration,
) -> Result<Duration, ClientError> {
    match lookup(var) {
        None => Ok(default),
        Some(v) if v.trim().is_empty() => Ok(default),
        Some(v) => {
            let secs: f64 = v
                .trim()
                .parse()
                .map_err(|e: std::num::ParseFloatError| bad(var, &v, e.to_string()))?;
            Duration::try_from_secs_f64(secs)
                .ok()
                .filter(|d| !d.is_zero())
                .ok_or_else(|| bad(var, &v, "must be a positive number of seconds"))
        }
    }
}

/// Parse a space-separated list of `host[:port]` entries ([`HostPort`]: port 0
/// refused, a missing port is `default_port`), resolving host names to their
/// IPv4 addresses.
fn addr_list(
    lookup: &impl Fn(&str) -> Option<String>,
    var: &'static str,
    default_port: u16,
) -> Result<Vec<SocketAddr>, ClientError> {
    let Some(raw) = lookup(var) else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for entry in raw.split_whitespace() {
        let addr = entry
            .parse::<HostPort>()
            .and_then(|hp| hp.resolve_v4(default_port))
            .map(SocketAddr::V4)
            .map_err(|e| bad(var, entry, e.to_string()))?;
        if !out.contains(&addr) {
            out.push(addr);
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn cfg(vars: &[(&str, &str)]) -> Result<Config, ClientError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Config::from_lookup(|k| map.get(k).cloned())
    }

    #[test]
    fn loopback_env_gives_one_search_address_with_the_server_port() {
        let c = cfg(&[
            ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
            ("EPICS_CA_ADDR_LIST", "127.0.0.1 127.0.0.2:7000 127.0.0.1"),
            ("EPICS_CA_SERVER_PORT", "6064"),
            ("EPICS_CA_REPEATER_PORT", "6065"),
        ])
        .unwrap();
        assert_eq!(
            c.search_addrs,
            vec![
                "127.0.0.1:6064".parse().unwrap(),
                "127.0.0.2:7000".parse().unwrap()
            ]
        );
        assert_eq!(c.server_port, 6064);
        assert_eq!(c.repeater_port, 6065);
    }

    #[test]
    fn auto_addr_list_searches_interface_broadcasts_then_the_env_list() {
        let host = vec![
            crate::net::Interface {
                name: "eth0".into(),
                addr: [10, 77, 0, 1].into(),
                up: true,
                loopback: false,
                broadcast: Some([10, 77, 0, 255].into()),
                point_to_point: None,
            },
            crate::net::Interface {
                name: "eth1".into(),
                addr: [10, 78, 0, 1].into(),
                up: true,
                loopback: false,
                broadcast: Some([10, 78, 0, 255].into()),
                point_to_point: None,
            },
        ];
        let with = |vars: &[(&str, &str)]| {
            let map: HashMap<String, String> = vars
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            Config::from_lookup_with(|k| map.get(k).cloned(), &host).unwrap()
        };
        let c = with(&[("EPICS_CA_ADDR_LIST", "10.0.0.9")]);
        assert_eq!(
            c.search_addrs,
            vec![
                "10.77.0.255:5064".parse().unwrap(),
                "10.78.0.255:5064".parse().unwrap(),
                "10.0.0.9:5064".parse().unwrap()
            ]
        );
        assert!(!c
            .search_addrs
            .iter()
            .any(|a| a.ip().to_string() == "255.255.255.255"));
        let report = c.search_report.unwrap().to_string();
        assert!(
            report.contains("10.78.0.255:5064 (broadcast of eth1)"),
            "{report}"
        );
        let c = with(&[("EPICS_CA_AUTO_ADDR_LIST", "no")]);
        assert!(c.search_addrs.is_empty());
    }

    #[test]
    fn numbers_and_limits() {
        let c = cfg(&[
            ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
            ("EPICS_CA_CONN_TMO", "2.5"),
            ("EPICS_CA_MAX_ARRAY_BYTES", "100000000"),
            ("EPICS_CA_MAX_SEARCH_PERIOD", "10"),
            ("EPICS_CA_NAME_SERVERS", "127.0.0.1:5999 127.0.0.1"),
        ])
        .unwrap();
        assert_eq!(c.conn_timeout, Duration::from_millis(2500));
        assert_eq!(c.max_array_bytes, 100_000_000);
        assert_eq!(c.max_search_period, Duration::from_secs(60));
        assert_eq!(
            c.name_servers,
            vec![
                "127.0.0.1:5999".parse().unwrap(),
                "127.0.0.1:5064".parse().unwrap()
            ]
        );
    }

    #[test]
    fn bad_values_are_typed_errors() {
        for (var, val) in [
            ("EPICS_CA_SERVER_PORT", "70000"),
            ("EPICS_CA_SERVER_PORT", "0"),
            ("EPICS_CA_CONN_TMO", "-1"),
            ("EPICS_CA_CONN_TMO", "soon"),
            ("EPICS_CA_ADDR_LIST", "127.0.0.1:x"),
            ("EPICS_CA_ADDR_LIST", "127.0.0.1:0"),
            ("EPICS_CA_ADDR_LIST", "127.0.0.1 localhost:0"),
            ("EPICS_CA_NAME_SERVERS", "127.0.0.1:0"),
            ("EPICS_CA_MAX_ARRAY_BYTES", "lots"),
        ] {
            match cfg(&[("EPICS_CA_AUTO_ADDR_LIST", "NO"), (var, val)]) {
                Err(ClientError::Config(e)) => assert_eq!(e.var, var),
                other => panic!("{var}={val}: {other:?}"),
            }
        }
    }
}
