//! In-process checks of how the server binds its sockets: the configured
//! port, the EPICS fallback to an ephemeral TCP port when it is taken, and a
//! clean shutdown. Loopback only.

use std::net::{Ipv4Addr, TcpListener};
use std::time::Duration;

use caproto::server::{Pv, PvDatabase, PvGroup, Server, ServerConfig};

fn config(port: u16) -> ServerConfig {
    ServerConfig {
        interfaces: vec![Ipv4Addr::LOCALHOST],
        port,
        beacon_period: Duration::from_secs(15),
        beacon_addrs: Vec::new(),
        ..ServerConfig::default()
    }
}

fn db() -> PvDatabase {
    let mut g = PvGroup::new("bind:");
    g.add(Pv::new("x", 1.0));
    let mut db = PvDatabase::new();
    db.add_group(g).unwrap();
    db
}

#[tokio::test]
async fn port_zero_uses_one_ephemeral_port_for_tcp_and_udp() {
    let server = Server::bind(db(), config(0)).await.unwrap();
    let port = server.tcp_port();
    assert_ne!(port, 0);
    assert_eq!(server.tcp_addrs()[0].port(), port);
    assert_eq!(server.udp_addrs()[0].port(), port);
    assert!(server.tcp_addrs()[0].ip().is_loopback());
}

#[tokio::test]
async fn busy_tcp_port_falls_back_to_ephemeral() {
    let squatter = TcpListener::bind("127.0.0.1:0").unwrap();
    let busy = squatter.local_addr().unwrap().port();
    let server = Server::bind(db(), config(busy)).await.unwrap();
    assert_ne!(server.tcp_port(), busy);
    // Searches are still answered on the configured port.
    assert_eq!(server.udp_addrs()[0].port(), busy);
}

#[tokio::test]
async fn two_servers_share_the_udp_search_port() {
    let a = Server::bind(db(), config(0)).await.unwrap();
    let port = a.tcp_port();
    let b = Server::bind(db(), config(port)).await.unwrap();
    assert_ne!(b.tcp_port(), port);
    assert_eq!(b.udp_addrs()[0].port(), port);
}

#[tokio::test]
async fn shutdown_returns_promptly() {
    let server = Server::bind(db(), config(0)).await.unwrap();
    let run = server.run_until(tokio::time::sleep(Duration::from_millis(50)));
    tokio::time::timeout(Duration::from_secs(10), run)
        .await
        .expect("shutdown hung")
        .unwrap();
}
