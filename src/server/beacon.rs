//! Beacons (RSRV_IS_UP): tell clients this server is up, so they reconnect
//! quickly after a restart and notice when it goes away.
//!
//! Like EPICS servers, the interval starts short (20 ms) and doubles up to
//! the configured period, so a freshly started server is noticed at once.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::time::Duration;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use crate::proto::command::Command;
use crate::proto::PROTOCOL_VERSION;

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
    mut shutdown: watch::Receiver<bool>,
) {
    if targets.is_empty() {
        return;
    }
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut interval = FIRST_INTERVAL.min(period);
    let mut beacon_id: u32 = 0;
    let mut buf = Vec::with_capacity(16);
    loop {
        let cmd = Command::Beacon {
            version: PROTOCOL_VERSION,
            server_port,
            beacon_id,
            address,
        };
        buf.clear();
        match cmd.encode(&mut buf) {
            Ok(n) => {
                for t in &targets {
                    let to = SocketAddr::V4(*t);
                    match socket.send_to(&buf, to).await {
                        Ok(_) => {
                            tracing::debug!(target: "caproto::bcast::beacon", our_addr = %local,
                            their_addr = %to, direction = "send", role = "server", bytes = n as u64,
                            command = ?cmd)
                        }
                        Err(e) => {
                            tracing::debug!(target: "caproto::bcast::beacon", our_addr = %local,
                            their_addr = %to, role = "server", "beacon not sent: {e}")
                        }
                    }
                }
            }
            Err(e) => {
                tracing::error!(target: "caproto::serv", role = "server", "could not encode beacon: {e}");
                return;
            }
        }
        beacon_id = beacon_id.wrapping_add(1);
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(interval) => {}
        }
        interval = (interval * 2).min(period);
    }
}
