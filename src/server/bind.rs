//! Binding a server's sockets: a TCP listener and a UDP search socket (plus
//! the broadcast address's) per interface, all on one port number, as CA
//! clients expect (they search the port they then connect to, unless the
//! search reply names another).
//!
//! Two ways to choose the number, both taken from what EPICS servers do:
//!
//! - A configured port (`EPICS_CAS_SERVER_PORT`, 5064 by default): UDP binds
//!   it shared with other servers on the host (SO_REUSEADDR). If the TCP port
//!   is taken, TCP falls back to an ephemeral port, as rsrv does; search
//!   replies name that port, so clients still connect.
//! - Port 0: the kernel picks an ephemeral TCP port and UDP binds the same
//!   number. That UDP port may already be some other socket's (the kernel
//!   hands out TCP and UDP ports independently); then every socket is let go
//!   and a new TCP port is drawn, up to [`EPHEMERAL_TRIES`] times. This is
//!   how a test harness, or several servers on one host, gets a port no one
//!   else uses without guessing: start on 0 and read back
//!   [`Bound::tcp_port`] (`caproto-ioc --port-file`).
//!
//! Driven once by [`super::Server::bind`]; nothing here runs afterwards.

use crate::log::fields::ROLE_SERVER;
use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};

use tokio::net::{TcpListener, TcpSocket};

use super::config::ServerConfig;
use super::error::ServerError;
use super::udp::SearchSocket;

/// How many ephemeral TCP ports port 0 tries before giving up because the
/// same UDP number was always taken (each try takes microseconds; a clash
/// is rare, ten in a row means something else is wrong).
pub(super) const EPHEMERAL_TRIES: usize = 10;

/// The sockets of one server, bound and not yet served.
pub(super) struct Bound {
    pub listeners: Vec<TcpListener>,
    pub udp: Vec<SearchSocket>,
    /// The TCP port search replies and beacons advertise.
    pub tcp_port: u16,
}

/// Bind every socket `config` asks for on `interfaces` (the wildcard if
/// none is listed). See the module docs for how the port is chosen.
pub(super) fn bind_all(
    config: &ServerConfig,
    interfaces: &[Ipv4Addr],
) -> Result<Bound, ServerError> {
    if config.port != 0 {
        return bind_on(config, interfaces, config.port);
    }
    retry_taken(EPHEMERAL_TRIES, || bind_on(config, interfaces, 0))
}

/// Runs `attempt` until it succeeds, fails for a reason other than a taken
/// address, or has failed `tries` times because an address was taken; then
/// returns its last result.
fn retry_taken<T>(
    tries: usize,
    mut attempt: impl FnMut() -> Result<T, ServerError>,
) -> Result<T, ServerError> {
    let mut tried = 1;
    loop {
        match attempt() {
            Err(ServerError::Bind { addr, what, source })
                if source.kind() == ErrorKind::AddrInUse && tried < tries =>
            {
                tracing::debug!(target: "caproto::serv", role = ROLE_SERVER,
                    "{what} {addr} is taken ({source}); drawing another ephemeral port");
                tried += 1;
            }
            other => return other,
        }
    }
}

/// One attempt: TCP on `port` (0: ephemeral) on the first interface, then
/// every other socket on the number TCP got.
fn bind_on(
    config: &ServerConfig,
    interfaces: &[Ipv4Addr],
    port: u16,
) -> Result<Bound, ServerError> {
    let mut listeners = Vec::new();
    let mut tcp_port = port;
    for (i, ip) in interfaces.iter().enumerate() {
        let listener = match bind_tcp(SocketAddrV4::new(*ip, tcp_port)) {
            Ok(l) => l,
            Err(e) if i == 0 && tcp_port != 0 && e.kind() == ErrorKind::AddrInUse => {
                tracing::info!(target: "caproto::serv", role = ROLE_SERVER,
                    "TCP port {tcp_port} in use on {ip}; using an ephemeral port");
                bind_tcp(SocketAddrV4::new(*ip, 0)).map_err(|source| ServerError::Bind {
                    addr: SocketAddr::from((*ip, 0)),
                    what: "TCP",
                    source,
                })?
            }
            Err(source) => {
                return Err(ServerError::Bind {
                    addr: SocketAddr::from((*ip, tcp_port)),
                    what: "TCP",
                    source,
                })
            }
        };
        tcp_port = listener.local_addr()?.port();
        listeners.push(listener);
    }
    // A configured port is the search port even when TCP fell back; port 0
    // searches on the number TCP was given.
    let udp_port = if port == 0 { tcp_port } else { port };
    let mut udp = Vec::new();
    for ip in interfaces {
        let addr = SocketAddrV4::new(*ip, udp_port);
        let socket = bind_udp(addr, true).map_err(|source| ServerError::Bind {
            addr: SocketAddr::V4(addr),
            what: "UDP",
            source,
        })?;
        // A socket bound to an interface address gets no broadcasts:
        // listen on the interface's broadcast address too (as rsrv),
        // replying from the interface address.
        let broadcast = match config.interface_broadcasts.iter().find(|(i, _)| i == ip) {
            Some((_, bcast)) => {
                let addr = SocketAddrV4::new(*bcast, udp_port);
                let bsocket = bind_udp(addr, true).map_err(|source| ServerError::Bind {
                    addr: SocketAddr::V4(addr),
                    what: "UDP (broadcast)",
                    source,
                })?;
                Some(SearchSocket {
                    recv: bsocket,
                    reply: socket.try_clone()?,
                    ip: *ip,
                })
            }
            None => None,
        };
        udp.push(SearchSocket {
            reply: socket.try_clone()?,
            recv: socket,
            ip: *ip,
        });
        udp.extend(broadcast);
    }
    Ok(Bound {
        listeners,
        udp,
        tcp_port,
    })
}

fn bind_tcp(addr: SocketAddrV4) -> std::io::Result<TcpListener> {
    let socket = TcpSocket::new_v4()?;
    // Lets a restarted server reuse its port while old connections sit in TIME_WAIT.
    socket.set_reuseaddr(true)?;
    socket.bind(SocketAddr::V4(addr))?;
    socket.listen(1024)
}

/// A non-blocking UDP socket on `addr`; `reuse` shares the port with other
/// servers that set it too (the search port, as with EPICS).
pub(super) fn bind_udp(addr: SocketAddrV4, reuse: bool) -> std::io::Result<std::net::UdpSocket> {
    use socket2::{Domain, Protocol, Socket, Type};
    let socket = Socket::new(Domain::IPV4, Type::DGRAM, Some(Protocol::UDP))?;
    if reuse {
        socket.set_reuse_address(true)?;
    }
    socket.set_nonblocking(true)?;
    socket.bind(&SocketAddr::V4(addr).into())?;
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn taken() -> ServerError {
        ServerError::Bind {
            addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
            what: "UDP",
            source: std::io::Error::from(ErrorKind::AddrInUse),
        }
    }

    #[test]
    fn a_taken_udp_number_draws_again_until_one_is_free() {
        let mut calls = 0;
        let got = retry_taken(EPHEMERAL_TRIES, || {
            calls += 1;
            if calls < 3 {
                Err(taken())
            } else {
                Ok(calls)
            }
        });
        assert_eq!(got.unwrap(), 3);
    }

    #[test]
    fn retries_are_bounded_and_other_errors_are_not_retried() {
        let mut calls = 0;
        let got: Result<(), _> = retry_taken(EPHEMERAL_TRIES, || {
            calls += 1;
            Err(taken())
        });
        assert!(matches!(got, Err(ServerError::Bind { .. })));
        assert_eq!(calls, EPHEMERAL_TRIES);

        let mut calls = 0;
        let got: Result<(), _> = retry_taken(EPHEMERAL_TRIES, || {
            calls += 1;
            Err(ServerError::Bind {
                addr: SocketAddr::from((Ipv4Addr::LOCALHOST, 40000)),
                what: "TCP",
                source: std::io::Error::from(ErrorKind::PermissionDenied),
            })
        });
        assert!(got.is_err());
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn port_zero_binds_tcp_and_udp_on_one_number() {
        let config = ServerConfig {
            interfaces: vec![Ipv4Addr::LOCALHOST],
            port: 0,
            ..ServerConfig::default()
        };
        let bound = bind_all(&config, &config.interfaces).unwrap();
        assert_ne!(bound.tcp_port, 0);
        let tcp = bound.listeners[0].local_addr().unwrap();
        let udp = bound.udp[0].recv.local_addr().unwrap();
        assert_eq!((tcp.port(), udp.port()), (bound.tcp_port, bound.tcp_port));
    }
}
