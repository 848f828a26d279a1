//! UDP search responder: answers SEARCH requests for names this server hosts.
//!
//! Names we do not host get no answer over UDP, whatever the DO_REPLY flag
//! says (EPICS servers only send NOT_FOUND on TCP name-server searches;
//! answering every broadcast search with NOT_FOUND would flood clients).

use crate::log::fields::ROLE_SERVER;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::server::Shared;
use crate::proto::broadcaster::{Broadcaster, Event};
use crate::proto::command::Command;
use crate::proto::{Role, PROTOCOL_VERSION};

/// Largest reply datagram we build; more replies go in further datagrams.
const MAX_REPLY_DATAGRAM: usize = 1400;
/// Largest datagram we read (CA search datagrams are at most ~16 KiB).
const MAX_DATAGRAM: usize = 65536;

/// One UDP search socket, not yet tied to a runtime (the responder may run
/// on a thread of its own): it receives on `recv` and replies through
/// `reply`, a handle on the same socket, except for an interface's broadcast
/// socket, whose replies leave from the interface address as rsrv's do.
pub(crate) struct SearchSocket {
    pub recv: std::net::UdpSocket,
    pub reply: std::net::UdpSocket,
    /// The interface address; unspecified for a wildcard bind.
    pub ip: Ipv4Addr,
}

/// Answer searches received on `search.recv` through `search.reply` until
/// shutdown (or its sender is dropped). The replies carry `search.ip`
/// (unspecified: "use the datagram's source address", for wildcard binds).
/// Searches from `EPICS_CAS_IGNORE_ADDR_LIST` hosts are dropped unread.
pub(crate) async fn run(
    search: SearchSocket,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
) {
    let reply_ip = (!search.ip.is_unspecified()).then_some(search.ip);
    let (socket, reply_socket) = match (
        UdpSocket::from_std(search.recv),
        UdpSocket::from_std(search.reply),
    ) {
        (Ok(recv), Ok(reply)) => (recv, reply),
        (Err(e), _) | (_, Err(e)) => {
            tracing::error!(target: "caproto::bcast", role = ROLE_SERVER,
                "cannot answer searches on {}: {e}", search.ip);
            return;
        }
    };
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut bcast = Broadcaster::new(Role::Server, local);
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut events = Vec::new();
    let mut replies = Vec::new();
    loop {
        let (n, from) = tokio::select! {
            _ = shutdown.changed() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP port-unreachable from an earlier reply shows up here on some systems.
                    tracing::debug!(target: "caproto::bcast", our_addr = %local, role = ROLE_SERVER,
                        "UDP receive error: {e}");
                    continue;
                }
            },
        };
        if let SocketAddr::V4(v4) = from {
            if shared.config.ignore_addrs.contains(v4.ip()) {
                tracing::trace!(target: "caproto::bcast", our_addr = %local, their_addr = %from,
                    role = ROLE_SERVER, "ignored (EPICS_CAS_IGNORE_ADDR_LIST)");
                continue;
            }
        }
        shared.metrics.udp_received(n);
        events.clear();
        if let Err(e) = bcast.recv(&buf[..n], from, Instant::now(), &mut events) {
            // Searches before the malformed part are still answered.
            tracing::debug!(target: "caproto::bcast", our_addr = %local, their_addr = %from,
                role = ROLE_SERVER, "malformed datagram: {e}");
        }
        replies.clear();
        answer(&mut bcast, &shared, &events, from, reply_ip, &mut replies);
        for datagram in &replies {
            match reply_socket.send_to(datagram, from).await {
                Ok(n) => shared.metrics.udp_sent(n),
                Err(e) => tracing::debug!(target: "caproto::bcast", our_addr = %local,
                    their_addr = %from, role = ROLE_SERVER, "could not send search reply: {e}"),
            }
        }
    }
}

/// Build the reply datagrams (each starting with a VERSION) for the searches
/// of one request datagram. Names we do not host get no reply.
fn answer(
    bcast: &mut Broadcaster,
    shared: &Shared,
    events: &[Event],
    from: SocketAddr,
    reply_ip: Option<Ipv4Addr>,
    out: &mut Vec<Vec<u8>>,
) {
    let mut current: Vec<u8> = Vec::new();
    let (mut received, mut answered) = (0, 0);
    for event in events {
        let Event::Search {
            name,
            cid,
            sequence,
            ..
        } = event
        else {
            continue;
        };
        received += 1;
        if !shared.db.serves(name) {
            continue;
        }
        answered += 1;
        if current.len() >= MAX_REPLY_DATAGRAM {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            // Echoing the sequence number lets EPICS clients match the reply
            // to their search pass and send the next pass at once.
            let version = Command::VersionResponse {
                version: PROTOCOL_VERSION,
                sequence: Some(*sequence),
            };
            if bcast.send(&version, from, &mut current).is_err() {
                shared.metrics.searched(received, answered - 1);
                return;
            }
        }
        let reply = Command::SearchResponse {
            port: shared.tcp_port,
            ip: reply_ip,
            cid: *cid,
            version: PROTOCOL_VERSION,
        };
        if let Err(e) = bcast.send(&reply, from, &mut current) {
            tracing::error!(target: "caproto::bcast", role = ROLE_SERVER, "could not encode search reply: {e}");
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    shared.metrics.searched(received, answered);
}
