//! Beacons (RSRV_IS_UP): tell clients this server is up, so they reconnect
//! quickly after a restart and notice when it goes away.
//!
//! Like EPICS servers, the interval starts short (20 ms) and doubles up to
//! the configured period, so a freshly started server is noticed at once.

use crate::log::fields::ROLE_SERVER;
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::metrics::ServerMetrics;
use crate::proto::broadcaster::Broadcaster;
use crate::proto::command::Command;
use crate::proto::{Role, PROTOCOL_VERSION};

/// First interval of the start-up ramp.
const FIRST_INTERVAL: Duration = Duration::from_millis(20);

/// Send beacons to `targets` until shutdown. `address` is what the beacon
/// says the server's address is (0.0.0.0 = "the datagram's source").
pub(crate) async fn run(
    socket: UdpSocket,
    targets: Vec<SocketAddrV4>,
    period: Duration,
    server_port: u16,
    address: Ipv4Addr,
    metrics: Arc<ServerMetrics>,
    mut shutdown: watch::Receiver<bool>,
) {
    if targets.is_empty() {
        return;
    }
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut interval = FIRST_INTERVAL.min(period);
    let mut bcast = Broadcaster::new(Role::Server, local);
    let mut buf = Vec::with_capacity(16);
    let mut beacon_id: u32 = 0;
    loop {
        // One id per period, the same for every destination.
        let beacon = Command::Beacon {
            version: PROTOCOL_VERSION,
            server_port,
            beacon_id,
            address,
        };
        beacon_id = beacon_id.wrapping_add(1);
        for t in &targets {
            let to = SocketAddr::V4(*t);
            buf.clear();
            if let Err(e) = bcast.send(&beacon, to, &mut buf) {
                tracing::error!(target: "caproto::serv", role = ROLE_SERVER, "could not encode beacon: {e}");
                return;
            }
            match socket.send_to(&buf, to).await {
                Ok(n) => {
                    metrics.beacon_sent();
                    metrics.udp_sent(n);
                }
                Err(e) => tracing::debug!(target: "caproto::bcast::beacon", our_addr = %local,
                    their_addr = %to, role = ROLE_SERVER, "beacon not sent: {e}"),
            }
        }
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        interval = (interval * 2).min(period);
    }
}
