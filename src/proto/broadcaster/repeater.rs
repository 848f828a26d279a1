//! The CA repeater's state machine: the clients registered on this host, which
//! get a copy of every beacon (and other datagram) the repeater receives, so
//! that several clients on one host can all hear beacons sent to one port.
//!
//! Behaviour follows EPICS base's `caRepeater`:
//! - A REPEATER_REGISTER (or, from old clients, an empty datagram) from an
//!   address of this host registers the sender and is answered with a
//!   REPEATER_CONFIRM carrying the client's address. Registrations are not
//!   forwarded; registrations from other hosts are ignored.
//! - Every other message is forwarded, as received, to every registered
//!   client except the sender, except that a beacon whose address field is
//!   0.0.0.0 gets the sender's IPv4 address filled in (so the server need not
//!   guess which of its interfaces the client sees). Messages we cannot decode
//!   are forwarded too, as long as the datagram frames into whole messages; a
//!   datagram that does not is dropped entirely.
//! - Clients that went away are pruned. Whether a client's port is still held
//!   is a question only the shell can answer (by trying to bind it), so the
//!   state machine names clients to probe in [`RepeaterOutput::probe`] (the
//!   others when a new client registers) and in [`Repeater::poll`] (all of
//!   them every [`PROBE_INTERVAL`]); the shell reports dead ones with
//!   [`Repeater::unregister`]. A failed send is a reason to probe, not proof of
//!   death: Linux reports an earlier datagram's ICMP error on the next send.
//!
//! No I/O and no clock: the shell passes in datagrams, whether an address is
//! local, and the time. Every command received or relayed emits its DEBUG
//! record (role "server") on the `caproto::bcast*` targets; registrations and
//! removals are also logged on `caproto::repeater`.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::ops::Range;
use std::time::{Duration, Instant};

use super::datagram;
use super::error::BroadcastError;
use crate::proto::command::{id, Frame};
use crate::proto::header::Header;
use crate::proto::trace::{self, Endpoints, Flow, Target};
use crate::proto::{command::Command, Direction, Role};

/// Most clients one repeater keeps; registrations beyond it are refused, so
/// memory stays bounded whatever arrives.
pub const MAX_REPEATER_CLIENTS: usize = 4096;

/// How often [`Repeater::poll`] asks for every client to be probed, besides
/// the probes a new registration asks for.
pub const PROBE_INTERVAL: Duration = Duration::from_secs(60);

/// One datagram for the shell to send: the bytes `out[bytes]` (of the buffer
/// passed to [`Repeater::recv`]) to `to`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outgoing {
    /// Destination.
    pub to: SocketAddr,
    /// Where the datagram sits in the output buffer.
    pub bytes: Range<usize>,
}

/// What the shell must do about one datagram the repeater received.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RepeaterOutput {
    /// The sender (re-)registered: send it this REPEATER_CONFIRM, first.
    pub confirm: Option<Outgoing>,
    /// Copies of the datagram for every client but the sender, in
    /// registration order; they all share one byte range.
    pub forward: Vec<Outgoing>,
    /// A new client registered: probe these others, and report each whose
    /// port is free with [`Repeater::unregister`].
    pub probe: Vec<SocketAddr>,
}

impl RepeaterOutput {
    /// Every datagram to send, in order: the confirmation, then the copies.
    pub fn sends(&self) -> impl Iterator<Item = &Outgoing> {
        self.confirm.iter().chain(&self.forward)
    }
}

/// A repeater's registered clients. Logged with role "server".
#[derive(Debug)]
pub struct Repeater {
    our_addr: SocketAddr,
    /// In registration order (the order copies go out in).
    clients: Vec<SocketAddr>,
    next_probe: Option<Instant>,
}

/// One message of a received datagram: where it is, and what it is if it decodes.
struct Part {
    frame: Frame,
    at: usize,
    cmd: Option<Command>,
}

impl Repeater {
    /// A repeater whose UDP socket is bound to `our_addr`.
    pub fn new(our_addr: SocketAddr) -> Self {
        Repeater {
            our_addr,
            clients: Vec::new(),
            next_probe: None,
        }
    }

    /// The registered clients, in registration order.
    pub fn clients(&self) -> &[SocketAddr] {
        &self.clients
    }

    /// Drop a client whose port the shell found free (it exited). Returns
    /// whether it was registered.
    pub fn unregister(&mut self, client: SocketAddr) -> bool {
        let before = self.clients.len();
        self.clients.retain(|c| *c != client);
        let removed = before != self.clients.len();
        if removed {
            tracing::debug!(target: "caproto::repeater", their_addr = %client, "Removing client {client}");
        }
        removed
    }

    /// The periodic liveness check: at the first call this starts the
    /// schedule and returns nothing; afterwards, once [`PROBE_INTERVAL`] has
    /// passed, it returns every client to probe and schedules the next check.
    pub fn poll(&mut self, now: Instant) -> Vec<SocketAddr> {
        match self.next_probe {
            Some(due) if now < due => Vec::new(),
            Some(_) => {
                self.next_probe = Some(now + PROBE_INTERVAL);
                self.clients.clone()
            }
            None => {
                self.next_probe = Some(now + PROBE_INTERVAL);
                Vec::new()
            }
        }
    }

    /// When [`poll`](Self::poll) next has clients to probe (`None` before its
    /// first call): the shell sleeps until then.
    pub fn next_probe(&self) -> Option<Instant> {
        self.next_probe
    }

    /// Handle a datagram from `from`; `is_local` tells whether an address
    /// belongs to this host (asked only for registrations). Appends what is
    /// to be sent to `out` and says where it goes. A datagram that does not
    /// frame into whole messages is an error, and nothing is sent for it.
    pub fn recv(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        is_local: &dyn Fn(IpAddr) -> bool,
        out: &mut Vec<u8>,
    ) -> Result<RepeaterOutput, BroadcastError> {
        let ends = self.ends(from);
        let mut register = datagram.is_empty();
        let mut parts = Vec::new();
        let mut at = 0;
        while at < datagram.len() {
            let rest = &datagram[at..];
            let frame = datagram::next_frame(rest)?;
            let cmd = decode(&frame, rest);
            trace_part(&ends, Flow::Recv, &frame, cmd.as_ref());
            if frame.header.command == id::REPEATER_REGISTER {
                register = true;
            } else {
                parts.push(Part { frame, at, cmd });
            }
            at += frame.total_len;
        }
        let mut output = RepeaterOutput::default();
        if register && is_local(from.ip()) {
            self.register(from, out, &mut output)?;
        }
        self.fan_out(datagram, from, &mut parts, out, &mut output);
        Ok(output)
    }

    fn ends(&self, their_addr: SocketAddr) -> Endpoints {
        Endpoints {
            our_addr: self.our_addr,
            their_addr,
            role: Role::Server,
        }
    }

    /// Register `client` (if there is room) and confirm to it.
    fn register(
        &mut self,
        client: SocketAddr,
        out: &mut Vec<u8>,
        output: &mut RepeaterOutput,
    ) -> Result<(), BroadcastError> {
        if !self.clients.contains(&client) {
            if self.clients.len() >= MAX_REPEATER_CLIENTS {
                tracing::debug!(target: "caproto::repeater", their_addr = %client,
                    "Client table full ({MAX_REPEATER_CLIENTS}); ignoring {client}");
                return Ok(());
            }
            output.probe = self.clients.clone();
            self.clients.push(client);
            tracing::debug!(target: "caproto::repeater", their_addr = %client, "New client {client}");
        }
        let repeater_address = match client.ip() {
            IpAddr::V4(ip) => ip,
            IpAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        let cmd = Command::RepeaterConfirmResponse { repeater_address };
        let start = out.len();
        let written = cmd.encode(out).map_err(|e| {
            out.truncate(start);
            BroadcastError::Encode(e)
        })?;
        trace::command(
            Target::Bcast,
            &self.ends(client),
            Flow::Send,
            None,
            written,
            &cmd,
        );
        output.confirm = Some(Outgoing {
            to: client,
            bytes: start..out.len(),
        });
        Ok(())
    }

    /// Append the copy of `parts` to forward to `out`, and address it to
    /// every client but the sender.
    fn fan_out(
        &self,
        datagram: &[u8],
        from: SocketAddr,
        parts: &mut [Part],
        out: &mut Vec<u8>,
        output: &mut RepeaterOutput,
    ) {
        if parts.is_empty() || self.clients.iter().all(|c| *c == from) {
            return;
        }
        let start = out.len();
        for part in parts.iter_mut() {
            let message = &datagram[part.at..part.at + part.frame.total_len];
            match (&mut part.cmd, from.ip()) {
                (Some(Command::Beacon { address, .. }), IpAddr::V4(ip))
                    if address.is_unspecified() =>
                {
                    *address = ip;
                    let header = Header {
                        parameter2: u32::from(ip),
                        ..part.frame.header
                    };
                    header.encode(out);
                    out.extend_from_slice(&message[part.frame.header_len..]);
                }
                _ => out.extend_from_slice(message),
            }
        }
        let bytes = start..out.len();
        for &client in self.clients.iter().filter(|c| **c != from) {
            let ends = self.ends(client);
            for part in parts.iter() {
                trace_part(&ends, Flow::Send, &part.frame, part.cmd.as_ref());
            }
            output.forward.push(Outgoing {
                to: client,
                bytes: bytes.clone(),
            });
        }
    }
}

/// Decode the framed message at the front of `rest`, in whichever direction
/// it can travel (a repeater hears both clients and servers); `None` if it
/// is not a command we know.
fn decode(frame: &Frame, rest: &[u8]) -> Option<Command> {
    let payload = &rest[frame.header_len..frame.total_len];
    let first = match frame.header.command {
        id::RSRV_IS_UP | id::REPEATER_CONFIRM => Direction::Response,
        _ => Direction::Request,
    };
    let second = match first {
        Direction::Request => Direction::Response,
        Direction::Response => Direction::Request,
    };
    Command::decode(&frame.header, payload, first)
        .or_else(|_| Command::decode(&frame.header, payload, second))
        .ok()
}

/// The DEBUG record for one message, decoded or not.
fn trace_part(ends: &Endpoints, flow: Flow, frame: &Frame, cmd: Option<&Command>) {
    match cmd {
        Some(cmd) => trace::command(
            Target::for_datagram(cmd),
            ends,
            flow,
            None,
            frame.total_len,
            cmd,
        ),
        None => trace::undecoded(ends, flow, frame.total_len, &frame.header),
    }
}
