//! The tokio shell of `caproto-repeater` around the sans-I/O
//! [`Repeater`], which holds every rule
//! (registration, confirmation, forwarding, beacon address fill-in, which
//! clients to check). This shell owns the socket and the clock and answers
//! the one question the state machine cannot: whether a client's port is
//! still held, found out by trying to bind it.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;

use crate::net::HostPort;
use crate::proto::broadcaster::Repeater;

/// Largest datagram the repeater reads (as EPICS' `MAX_UDP_RECV`).
pub const MAX_DATAGRAM: usize = 0xffff + 16;

/// Whether some process still holds UDP `addr`: we try to bind it ourselves.
pub fn port_in_use(addr: SocketAddr) -> bool {
    std::net::UdpSocket::bind(addr).is_err()
}

/// Whether `ip` is an address of this host (loopback, or one we can bind).
pub fn is_local_address(ip: IpAddr) -> bool {
    ip.is_loopback() || std::net::UdpSocket::bind(SocketAddr::new(ip, 0)).is_ok()
}

/// Live figures of a running repeater, for monitoring and tests.
#[derive(Debug, Default)]
pub struct RepeaterStats {
    /// Registered clients right now.
    pub clients: AtomicUsize,
    /// Datagrams handled so far.
    pub datagrams: AtomicUsize,
}

/// Probe `clients` and drop those whose port nobody holds any more.
fn prune(repeater: &mut Repeater, clients: &[SocketAddr]) {
    for &c in clients {
        if !port_in_use(c) {
            repeater.unregister(c);
        }
    }
}

/// Run the repeater on `socket` until `shutdown` resolves. Errors receiving
/// are logged and skipped; a client whose send fails is probed and dropped
/// if its port is free.
pub async fn serve(
    socket: UdpSocket,
    stats: Arc<RepeaterStats>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let our_addr = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)));
    let mut repeater = Repeater::new(our_addr);
    repeater.poll(Instant::now());
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut out = Vec::new();
    tokio::pin!(shutdown);
    loop {
        let wake = repeater.next_probe().unwrap_or_else(Instant::now);
        let (n, from) = tokio::select! {
            _ = &mut shutdown => break,
            _ = tokio::time::sleep_until(wake.into()) => {
                let due = repeater.poll(Instant::now());
                prune(&mut repeater, &due);
                stats.clients.store(repeater.clients().len(), Ordering::Relaxed);
                continue;
            }
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    tracing::debug!(target: "caproto::repeater", "receive failed: {e}");
                    continue;
                }
            },
        };
        out.clear();
        let output = match repeater.recv(&buf[..n], from, &is_local_address, &mut out) {
            Ok(output) => output,
            Err(e) => {
                tracing::debug!(target: "caproto::repeater", their_addr = %from, bytes = n as u64,
                    "dropping datagram: {e}");
                stats.datagrams.fetch_add(1, Ordering::Relaxed);
                continue;
            }
        };
        prune(&mut repeater, &output.probe);
        // Published before sending, so whoever receives our datagrams sees
        // figures at least this fresh.
        stats
            .clients
            .store(repeater.clients().len(), Ordering::Relaxed);
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        for sent in output.sends() {
            if let Err(e) = socket.send_to(&out[sent.bytes.clone()], sent.to).await {
                tracing::debug!(target: "caproto::repeater", their_addr = %sent.to,
                    "send failed ({e}); checking the client");
                prune(&mut repeater, &[sent.to]);
                stats
                    .clients
                    .store(repeater.clients().len(), Ordering::Relaxed);
            }
        }
    }
}

/// Where the repeater listens: `EPICS_CA_REPEATER_PORT` (default 5065) on
/// `bind`, else on the single address in `EPICS_CAS_INTF_ADDR_LIST` (read as
/// [`HostPort`], like the server: `127.0.0.1:5064` is 127.0.0.1), else on all
/// interfaces.
pub fn listen_addr(
    bind: Option<Ipv4Addr>,
    env: impl Fn(&str) -> Option<String>,
) -> Result<SocketAddr, String> {
    let port = match env("EPICS_CA_REPEATER_PORT") {
        Some(p) if !p.trim().is_empty() => p
            .trim()
            .parse::<u16>()
            .ok()
            .filter(|&p| p != 0)
            .ok_or_else(|| format!("bad EPICS_CA_REPEATER_PORT={p:?}: expected a port 1-65535"))?,
        _ => crate::proto::DEFAULT_REPEATER_PORT,
    };
    let ip = bind.unwrap_or_else(|| {
        env("EPICS_CAS_INTF_ADDR_LIST")
            .and_then(|list| {
                let mut words = list.split_whitespace();
                match (words.next(), words.next()) {
                    // As the server reads it: an IPv4 literal, a port allowed and unused.
                    (Some(one), None) => one.parse::<HostPort>().ok()?.ipv4().ok(),
                    _ => None,
                }
            })
            .unwrap_or(Ipv4Addr::UNSPECIFIED)
    });
    Ok(SocketAddr::new(IpAddr::V4(ip), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_owned(intf: &'static str) -> impl Fn(&str) -> Option<String> {
        move |k: &str| (k == "EPICS_CAS_INTF_ADDR_LIST").then(|| intf.to_string())
    }

    #[test]
    fn listen_address_from_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |k: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == k)
                    .map(|(_, v)| v.to_string())
            }
        };
        assert_eq!(
            listen_addr(None, env(&[])).unwrap(),
            "0.0.0.0:5065".parse().unwrap()
        );
        assert_eq!(
            listen_addr(
                None,
                env(&[
                    ("EPICS_CA_REPEATER_PORT", "47065"),
                    ("EPICS_CAS_INTF_ADDR_LIST", "127.0.0.1")
                ])
            )
            .unwrap(),
            "127.0.0.1:47065".parse().unwrap()
        );
        assert_eq!(
            listen_addr(
                Some(Ipv4Addr::LOCALHOST),
                env(&[("EPICS_CAS_INTF_ADDR_LIST", "10.0.0.1 10.0.0.2")])
            )
            .unwrap(),
            "127.0.0.1:5065".parse().unwrap()
        );
        assert!(listen_addr(None, env(&[("EPICS_CA_REPEATER_PORT", "x")])).is_err());
        // The interface is read as the server reads it: a port is allowed and unused; what
        // the server would refuse (port 0, a name) leaves the repeater on every interface.
        for (intf, ip) in [
            ("127.0.0.1:5064", "127.0.0.1"),
            (" 127.0.0.1 ", "127.0.0.1"),
            ("127.0.0.1:0", "0.0.0.0"),
            ("localhost", "0.0.0.0"),
        ] {
            let got = listen_addr(None, env_owned(intf)).unwrap();
            assert_eq!(got.ip().to_string(), ip, "{intf:?}");
        }
    }
}
