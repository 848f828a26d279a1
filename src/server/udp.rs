//! UDP search responder: answers SEARCH requests for names this server hosts.
//!
//! Names we do not host get no answer over UDP, whatever the DO_REPLY flag
//! says (EPICS servers only send NOT_FOUND on TCP name-server searches;
//! answering every broadcast search with NOT_FOUND would flood clients).

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;

use tokio::net::UdpSocket;
use tokio::sync::watch;

use super::server::Shared;
use crate::proto::command::{Command, Decoded};
use crate::proto::{Direction, PROTOCOL_VERSION};

/// Largest reply datagram we build; more replies go in further datagrams.
const MAX_REPLY_DATAGRAM: usize = 1400;
/// Largest datagram we read (CA search datagrams are at most ~16 KiB).
const MAX_DATAGRAM: usize = 65536;

/// Answer searches on `socket` until shutdown. `reply_ip` goes in the replies
/// (`None` = "use the datagram's source address", for wildcard binds).
pub(crate) async fn run(
    socket: UdpSocket,
    shared: Arc<Shared>,
    reply_ip: Option<Ipv4Addr>,
    mut shutdown: watch::Receiver<bool>,
) {
    let local = socket
        .local_addr()
        .unwrap_or_else(|_| SocketAddr::from(([0, 0, 0, 0], 0)));
    let mut buf = vec![0u8; MAX_DATAGRAM];
    let mut replies = Vec::new();
    loop {
        let (n, from) = tokio::select! {
            _ = shutdown.changed() => return,
            r = socket.recv_from(&mut buf) => match r {
                Ok(x) => x,
                Err(e) => {
                    // ICMP port-unreachable from an earlier reply shows up here on some systems.
                    tracing::debug!(target: "caproto::bcast", our_addr = %local, role = "server",
                        "UDP receive error: {e}");
                    continue;
                }
            },
        };
        replies.clear();
        answer(&shared, &buf[..n], local, from, reply_ip, &mut replies);
        for datagram in &replies {
            if let Err(e) = socket.send_to(datagram, from).await {
                tracing::debug!(target: "caproto::bcast", our_addr = %local, their_addr = %from,
                    role = "server", "could not send search reply: {e}");
            }
        }
    }
}

/// Build the reply datagrams (each starting with a VERSION) for one request datagram.
fn answer(
    shared: &Shared,
    mut data: &[u8],
    local: SocketAddr,
    from: SocketAddr,
    reply_ip: Option<Ipv4Addr>,
    out: &mut Vec<Vec<u8>>,
) {
    let mut current: Vec<u8> = Vec::new();
    while !data.is_empty() {
        let (cmd, used) = match Command::decode_from(data, Direction::Request, MAX_DATAGRAM) {
            Ok(Decoded::Command(cmd, used)) => (cmd, used),
            Ok(Decoded::Incomplete { .. }) => break,
            Err(e) => {
                tracing::debug!(target: "caproto::bcast", our_addr = %local, their_addr = %from,
                    role = "server", "dropping malformed datagram: {e}");
                break;
            }
        };
        data = &data[used..];
        let Command::SearchRequest { name, cid, .. } = &cmd else {
            log(local, from, "recv", &cmd, used, None);
            continue;
        };
        log(local, from, "recv", &cmd, used, Some(name));
        if shared.db.get(name).is_none() {
            continue;
        }
        if current.len() >= MAX_REPLY_DATAGRAM {
            out.push(std::mem::take(&mut current));
        }
        if current.is_empty() {
            push(
                &mut current,
                &Command::VersionResponse {
                    version: PROTOCOL_VERSION,
                },
                local,
                from,
                None,
            );
        }
        let reply = Command::SearchResponse {
            port: shared.tcp_port,
            ip: reply_ip,
            cid: *cid,
            version: PROTOCOL_VERSION,
        };
        push(&mut current, &reply, local, from, Some(name));
    }
    if !current.is_empty() {
        out.push(current);
    }
}

fn push(buf: &mut Vec<u8>, cmd: &Command, local: SocketAddr, from: SocketAddr, pv: Option<&str>) {
    match cmd.encode(buf) {
        Ok(n) => log(local, from, "send", cmd, n, pv),
        Err(e) => tracing::error!(target: "caproto::bcast", role = "server",
            "could not encode search reply: {e}"),
    }
}

fn log(
    our: SocketAddr,
    their: SocketAddr,
    direction: &'static str,
    cmd: &Command,
    bytes: usize,
    pv: Option<&str>,
) {
    tracing::debug!(target: "caproto::bcast::search", pv, our_addr = %our, their_addr = %their,
        direction, role = "server", bytes = bytes as u64, command = ?cmd);
}
