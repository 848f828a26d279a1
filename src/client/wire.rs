//! Small wire helpers shared by the client tasks: per-command log records
//! for UDP traffic and search datagram assembly.

use std::net::SocketAddr;

use crate::proto::command::Command;
use crate::proto::trace::{self, Endpoints, Flow, Target};
use crate::proto::{Role, PROTOCOL_VERSION};

/// Largest search datagram we send (an Ethernet MTU's worth of UDP payload).
pub(crate) const MAX_DATAGRAM: usize = 1472;

/// Emit the per-command DEBUG record for a UDP command we sent or received
/// (until the broadcaster state machine does it for us).
pub(crate) fn log_bcast(
    cmd: &Command,
    pv: Option<&str>,
    our: SocketAddr,
    their: SocketAddr,
    flow: Flow,
    bytes: usize,
) {
    let target = Target::for_datagram(cmd);
    if trace::enabled(target) {
        let ends = Endpoints {
            our_addr: our,
            their_addr: their,
            role: Role::Client,
        };
        trace::command(target, &ends, flow, pv, bytes, cmd);
    }
}

/// One search datagram, and the commands in it with their wire sizes (for logging).
pub(crate) struct Datagram {
    pub bytes: Vec<u8>,
    pub cmds: Vec<(Command, usize)>,
}

/// Pack search requests for `names` into as few datagrams as fit in
/// [`MAX_DATAGRAM`] bytes, each starting with a VERSION command.
pub(crate) fn search_datagrams(
    names: &[(u32, String)],
    priority: u16,
    reply: bool,
) -> Vec<Datagram> {
    let mut out = Vec::new();
    let mut current: Option<Datagram> = None;
    for (cid, name) in names {
        let cmd = Command::SearchRequest {
            name: name.clone(),
            cid: *cid,
            version: PROTOCOL_VERSION,
            reply,
        };
        let mut one = Vec::new();
        let Ok(len) = cmd.encode(&mut one) else {
            tracing::warn!(target: "caproto::bcast::search", pv = %name, role = "client",
                "cannot encode search request");
            continue;
        };
        if current
            .as_ref()
            .is_some_and(|d| d.bytes.len() + len > MAX_DATAGRAM)
        {
            out.extend(current.take());
        }
        let d = current.get_or_insert_with(|| {
            let version = Command::VersionRequest {
                priority,
                version: PROTOCOL_VERSION,
            };
            let mut bytes = Vec::with_capacity(MAX_DATAGRAM);
            let vlen = version.encode(&mut bytes).unwrap_or(0);
            Datagram {
                bytes,
                cmds: vec![(version, vlen)],
            }
        });
        d.bytes.extend_from_slice(&one);
        d.cmds.push((cmd, len));
    }
    out.extend(current);
    out
}
