//! The Channel Access repeater used by `caproto-repeater`.
//!
//! Clients on this host register with REPEATER_REGISTER (or, in old clients,
//! an empty datagram) and are answered with REPEATER_CONFIRM. Every other
//! datagram (server beacons above all) is forwarded to every registered client
//! except its sender; a beacon whose address field is 0 gets the sender's
//! address filled in. Clients that have gone away are dropped: whenever a new
//! client registers (and on a timer) each client's port is probed by trying to
//! bind it; if the bind succeeds nobody holds the port any more.
//!
//! [`Registry`] is the sans-I/O core; [`serve`] runs it on a tokio socket.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;

use crate::proto::command::id;
use crate::proto::header::Header;

/// Largest datagram the repeater reads (as EPICS' `MAX_UDP_RECV`).
pub const MAX_DATAGRAM: usize = 0xffff + 16;
/// How often registered clients are probed for liveness besides at registrations.
pub const PRUNE_INTERVAL: Duration = Duration::from_secs(60);

/// A datagram to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Destination.
    pub to: SocketAddr,
    /// Bytes.
    pub bytes: Vec<u8>,
}

/// What handling one datagram produced.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Handled {
    /// Datagrams to send.
    pub send: Vec<Outgoing>,
    /// A client registered: the caller should probe the others for liveness.
    pub registered: bool,
    /// The datagram was malformed and dropped.
    pub malformed: bool,
}

/// The registered clients and the forwarding rules.
#[derive(Debug, Default, Clone)]
pub struct Registry {
    clients: BTreeSet<SocketAddr>,
}

fn confirm_for(client: SocketAddr) -> Vec<u8> {
    let ip = match client.ip() {
        IpAddr::V4(ip) => ip,
        IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
    };
    let header = Header {
        command: id::REPEATER_CONFIRM,
        parameter2: u32::from(ip),
        ..Header::default()
    };
    let mut out = Vec::with_capacity(16);
    header.encode(&mut out);
    out
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Registry {
        Registry::default()
    }

    /// The registered clients.
    pub fn clients(&self) -> impl Iterator<Item = &SocketAddr> {
        self.clients.iter()
    }

    /// Number of registered clients.
    pub fn len(&self) -> usize {
        self.clients.len()
    }

    /// Whether no client is registered.
    pub fn is_empty(&self) -> bool {
        self.clients.is_empty()
    }

    /// Forget a client (it went away).
    pub fn remove(&mut self, client: &SocketAddr) -> bool {
        self.clients.remove(client)
    }

    fn register(&mut self, from: SocketAddr, handled: &mut Handled) {
        if self.clients.insert(from) {
            tracing::debug!(target: "caproto::repeater", their_addr = %from, "New client {from}");
        }
        handled.send.push(Outgoing {
            to: from,
            bytes: confirm_for(from),
        });
        handled.registered = true;
    }

    /// Handle one datagram from `from`. `is_local` tells whether an address
    /// belongs to this host; registrations from elsewhere are ignored.
    pub fn handle(
        &mut self,
        data: &[u8],
        from: SocketAddr,
        is_local: &dyn Fn(IpAddr) -> bool,
    ) -> Handled {
        let mut handled = Handled::default();
        if data.is_empty() {
            if is_local(from.ip()) {
                self.register(from, &mut handled);
            }
            return handled;
        }
        let mut forward = Vec::with_capacity(data.len());
        let mut rest = data;
        while !rest.is_empty() {
            let Ok((mut header, header_len)) = Header::decode(rest) else {
                handled.malformed = true;
                break;
            };
            let total = usize::try_from(header.payload_size)
                .ok()
                .and_then(|p| p.checked_add(header_len))
                .filter(|&t| t <= rest.len());
            let Some(total) = total else {
                handled.malformed = true;
                break;
            };
            match header.command {
                id::REPEATER_REGISTER => {
                    if is_local(from.ip()) {
                        self.register(from, &mut handled);
                    }
                }
                id::RSRV_IS_UP if header.parameter2 == 0 => {
                    if let IpAddr::V4(ip) = from.ip() {
                        header.parameter2 = u32::from(ip);
                    }
                    header.encode(&mut forward);
                    forward.extend_from_slice(&rest[header_len..total]);
                }
                _ => forward.extend_from_slice(&rest[..total]),
            }
            rest = &rest[total..];
        }
        if handled.malformed {
            tracing::debug!(target: "caproto::repeater", their_addr = %from, bytes = data.len() as u64,
                "dropping malformed datagram");
            forward.clear();
        }
        if !forward.is_empty() {
            for client in self.clients.iter().filter(|c| **c != from) {
                handled.send.push(Outgoing {
                    to: *client,
                    bytes: forward.clone(),
                });
            }
        }
        handled
    }
}

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

fn prune(registry: &mut Registry) {
    let gone: Vec<SocketAddr> = registry
        .clients()
        .copied()
        .filter(|c| !port_in_use(*c))
        .collect();
    for c in gone {
        registry.remove(&c);
        tracing::debug!(target: "caproto::repeater", their_addr = %c, "Removing client {c}");
    }
}

/// Run the repeater on `socket` until `shutdown` resolves. Errors receiving
/// are logged and skipped; a send that fails drops that client.
pub async fn serve(
    socket: UdpSocket,
    stats: Arc<RepeaterStats>,
    shutdown: impl std::future::Future<Output = ()>,
) {
    let mut registry = Registry::new();
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut timer = tokio::time::interval(PRUNE_INTERVAL);
    timer.tick().await;
    tokio::pin!(shutdown);
    loop {
        let (n, from) = tokio::select! {
            _ = &mut shutdown => break,
            _ = timer.tick() => {
                prune(&mut registry);
                stats.clients.store(registry.len(), Ordering::Relaxed);
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
        let handled = registry.handle(&buf[..n], from, &is_local_address);
        if handled.registered {
            // Probe the others; never the one that just registered.
            let others: Vec<SocketAddr> =
                registry.clients().copied().filter(|c| *c != from).collect();
            for c in others {
                if !port_in_use(c) {
                    registry.remove(&c);
                    tracing::debug!(target: "caproto::repeater", their_addr = %c, "Removing client {c}");
                }
            }
        }
        // Published before sending, so whoever receives our datagrams sees
        // figures at least this fresh.
        stats.clients.store(registry.len(), Ordering::Relaxed);
        stats.datagrams.fetch_add(1, Ordering::Relaxed);
        for out in handled.send {
            if let Err(e) = socket.send_to(&out.bytes, out.to).await {
                tracing::debug!(target: "caproto::repeater", their_addr = %out.to,
                    "send failed ({e}); removing client");
                registry.remove(&out.to);
                stats.clients.store(registry.len(), Ordering::Relaxed);
            }
        }
    }
}

/// Where the repeater listens: `EPICS_CA_REPEATER_PORT` (default 5065) on
/// `bind`, else on the single address in `EPICS_CAS_INTF_ADDR_LIST`, else on
/// all interfaces.
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
                    (Some(one), None) => one.parse::<Ipv4Addr>().ok(),
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

    fn cmd(command: u16, payload: &[u8], p2: u32) -> Vec<u8> {
        let mut out = Vec::new();
        Header {
            command,
            payload_size: payload.len() as u32,
            parameter2: p2,
            ..Header::default()
        }
        .encode(&mut out);
        out.extend_from_slice(payload);
        out
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn registration_and_fan_out() {
        let local = |_: IpAddr| true;
        let mut r = Registry::new();
        let h = r.handle(&cmd(id::REPEATER_REGISTER, &[], 0), addr(1000), &local);
        assert!(h.registered);
        assert_eq!(
            h.send,
            vec![Outgoing {
                to: addr(1000),
                bytes: cmd(id::REPEATER_CONFIRM, &[], 0x7f00_0001)
            }]
        );
        r.handle(&[], addr(1001), &local);
        assert_eq!(r.len(), 2);
        // A beacon without address gets the sender's; it goes to both clients.
        let h = r.handle(&cmd(id::RSRV_IS_UP, &[], 0), addr(5064), &local);
        let filled = cmd(id::RSRV_IS_UP, &[], 0x7f00_0001);
        assert_eq!(h.send.len(), 2);
        assert!(h.send.iter().all(|o| o.bytes == filled));
        // Anything from a client goes to the others only, registrations are not forwarded.
        let mut two = cmd(id::ECHO, &[], 0);
        two.extend(cmd(id::REPEATER_REGISTER, &[], 0));
        let h = r.handle(&two, addr(1000), &local);
        let to: Vec<SocketAddr> = h.send.iter().map(|o| o.to).collect();
        assert_eq!(to, [addr(1000), addr(1001)]);
        assert_eq!(h.send[0].bytes, cmd(id::REPEATER_CONFIRM, &[], 0x7f00_0001));
        assert_eq!(h.send[1].bytes, cmd(id::ECHO, &[], 0));
    }

    #[test]
    fn malformed_and_foreign_datagrams() {
        let mut r = Registry::new();
        r.handle(&[], addr(1000), &|_| true);
        let h = r.handle(&[1, 2, 3], addr(5064), &|_| true);
        assert!(h.malformed && h.send.is_empty());
        // Claims 64 payload bytes it does not have.
        let mut lying = cmd(id::RSRV_IS_UP, &[], 0);
        lying[2..4].copy_from_slice(&64u16.to_be_bytes());
        assert!(r.handle(&lying, addr(5064), &|_| true).malformed);
        // Registrations from other hosts are ignored.
        let h = r.handle(&cmd(id::REPEATER_REGISTER, &[], 0), addr(2000), &|_| false);
        assert!(!h.registered && h.send.is_empty());
        assert_eq!(r.len(), 1);
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
    }
}
