//! In-process server and client configurations that keep CA on loopback:
//! the server binds 127.0.0.1 only, on an ephemeral port unless told
//! otherwise, and sends no beacons; the client searches only one
//! 127.0.0.1 port and uses no repeater.

use std::net::{Ipv4Addr, SocketAddr};

use caproto::client::Config;
use caproto::server::ServerConfig;

/// `ServerConfig::default()` on 127.0.0.1, ephemeral port, no beacons.
pub fn server_config() -> ServerConfig {
    ServerConfig {
        interfaces: vec![Ipv4Addr::LOCALHOST],
        port: 0,
        beacon_addrs: Vec::new(),
        ..ServerConfig::default()
    }
}

/// A client that searches only 127.0.0.1:`port` and uses no repeater.
pub fn client_config(port: u16) -> Config {
    Config {
        search_addrs: vec![SocketAddr::from((Ipv4Addr::LOCALHOST, port))],
        server_port: port,
        use_repeater: false,
        ..Config::default()
    }
}
