//! One connection to a collector, owned by the background writer thread: connect, write a batch
//! in the protocol's framing, notice a collector that went away.

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

use super::target::{Endpoint, ShipProtocol, ShipTarget};

/// How long one connection attempt to one resolved address may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);

/// How long one blocking write may stall before the collector counts as stuck and the
/// connection is dropped (a collector that accepts but never reads).
pub(crate) const WRITE_TIMEOUT: Duration = Duration::from_secs(2);

/// An open connection.
pub(crate) enum Conn {
    Tcp { stream: TcpStream, syslog: bool },
    Udp(UdpSocket),
    Unix(UnixDatagram),
}

fn resolve(host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
    let addrs: Vec<SocketAddr> = (host, port).to_socket_addrs()?.collect();
    if addrs.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{host} has no address"),
        ));
    }
    Ok(addrs)
}

impl Conn {
    /// Connects (TCP) or binds and connects (UDP, Unix datagram) to `target`.
    pub fn open(target: &ShipTarget) -> io::Result<Conn> {
        match (target.protocol(), target.endpoint()) {
            (ShipProtocol::SyslogUnix, Endpoint::Path(path)) => {
                let s = UnixDatagram::unbound()?;
                s.connect(path)?;
                s.set_write_timeout(Some(WRITE_TIMEOUT))?;
                Ok(Conn::Unix(s))
            }
            (ShipProtocol::SyslogUdp, Endpoint::Host { host, port }) => {
                let mut last = None;
                for addr in resolve(host, *port)? {
                    let bind: SocketAddr = if addr.is_ipv4() {
                        "0.0.0.0:0".parse().expect("literal")
                    } else {
                        "[::]:0".parse().expect("literal")
                    };
                    match UdpSocket::bind(bind).and_then(|s| s.connect(addr).map(|()| s)) {
                        Ok(s) => return Ok(Conn::Udp(s)),
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| io::Error::other("no address")))
            }
            (proto, Endpoint::Host { host, port }) => {
                let mut last = None;
                for addr in resolve(host, *port)? {
                    match TcpStream::connect_timeout(&addr, CONNECT_TIMEOUT) {
                        Ok(stream) => {
                            stream.set_write_timeout(Some(WRITE_TIMEOUT))?;
                            let _ = stream.set_nodelay(true);
                            return Ok(Conn::Tcp {
                                stream,
                                syslog: proto == ShipProtocol::SyslogTcp,
                            });
                        }
                        Err(e) => last = Some(e),
                    }
                }
                Err(last.unwrap_or_else(|| io::Error::other("no address")))
            }
            (_, Endpoint::Path(_)) => Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a socket path needs unixgram://",
            )),
        }
    }

    /// For TCP: true if the collector has closed its end (a non-blocking peek sees EOF or an
    /// error), so the next batch goes to a fresh connection instead of into a dead socket.
    pub fn peer_closed(&self) -> bool {
        let Conn::Tcp { stream, .. } = self else {
            return false;
        };
        if stream.set_nonblocking(true).is_err() {
            return true;
        }
        let mut b = [0u8; 64];
        let closed = loop {
            match (&*stream).read(&mut b) {
                Ok(0) => break true,
                // A collector has nothing to say to us; discard whatever it sent.
                Ok(_) => continue,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => break true,
            }
        };
        stream.set_nonblocking(false).is_err() || closed
    }

    /// Sends every record of `batch`; `scratch` is reused to frame TCP writes into one buffer.
    ///
    /// TCP: the whole batch in one write; an error means the connection is unusable and the
    /// batch is retried on the next one. Datagrams: one per record; datagrams are lossy by
    /// nature, so a record the socket refuses is counted as lost, and a refusal that means
    /// nobody listens (the daemon is restarting) asks for the socket to be reopened.
    pub fn send(&mut self, batch: &[Vec<u8>], scratch: &mut Vec<u8>) -> io::Result<Sent> {
        match self {
            Conn::Tcp { stream, syslog } => {
                scratch.clear();
                for rec in batch {
                    if *syslog {
                        // RFC 6587 octet counting: "MSG-LEN SP SYSLOG-MSG", no trailer.
                        let body = rec.strip_suffix(b"\n").unwrap_or(rec);
                        let _ = write!(scratch, "{} ", body.len());
                        scratch.extend_from_slice(body);
                    } else {
                        scratch.extend_from_slice(rec);
                    }
                }
                stream.write_all(scratch)?;
                Ok(Sent::default())
            }
            Conn::Udp(s) => Ok(datagrams(batch, |b| s.send(b))),
            Conn::Unix(s) => Ok(datagrams(batch, |b| s.send(b))),
        }
    }
}

/// What a datagram batch left behind.
#[derive(Default, Debug)]
pub(crate) struct Sent {
    /// Records the socket refused.
    pub lost: u64,
    /// Nobody listened: reopen the socket before the next batch.
    pub reopen: bool,
}

fn datagrams(batch: &[Vec<u8>], mut send: impl FnMut(&[u8]) -> io::Result<usize>) -> Sent {
    let mut out = Sent::default();
    for rec in batch {
        let body = rec.strip_suffix(b"\n").unwrap_or(rec);
        if let Err(e) = send(body) {
            out.lost += 1;
            if matches!(
                e.kind(),
                io::ErrorKind::ConnectionRefused | io::ErrorKind::NotFound
            ) {
                out.reopen = true;
            }
        }
    }
    out
}
