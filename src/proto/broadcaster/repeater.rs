//! The CA repeater's state: the clients registered on this host, which get a
//! copy of every beacon (and other datagram) the repeater receives, so that
//! several clients on one host can all hear beacons sent to one port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::datagram;
use super::error::BroadcastError;
use crate::proto::trace::{self, Endpoints, Flow, Target};
use crate::proto::{Command, Direction, Role};

/// Most clients one repeater keeps; registrations beyond it are refused, so
/// memory stays bounded whatever arrives.
pub const MAX_REPEATER_CLIENTS: usize = 4096;

/// What the shell must do with a datagram the repeater received.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RepeaterAction {
    /// A client registered (or re-registered): send the bytes appended to
    /// `out` (a REPEATER_CONFIRM) to `client`.
    Confirm {
        /// The registering client.
        client: SocketAddr,
    },
    /// Forward the datagram unchanged to every address in `targets`
    /// (all registered clients except the sender).
    FanOut {
        /// Where to send copies.
        targets: Vec<SocketAddr>,
    },
    /// Nothing to do (registration refused because the table is full, or
    /// nobody to forward to).
    Ignore,
}

/// A repeater's registered clients. Logged with role "server".
#[derive(Debug)]
pub struct Repeater {
    our_addr: SocketAddr,
    clients: Vec<SocketAddr>,
}

impl Repeater {
    /// A repeater whose UDP socket is bound to `our_addr`.
    pub fn new(our_addr: SocketAddr) -> Self {
        Repeater {
            our_addr,
            clients: Vec::new(),
        }
    }

    /// The registered clients.
    pub fn clients(&self) -> &[SocketAddr] {
        &self.clients
    }

    /// Drop a client, e.g. after sending to it failed (the client exited).
    pub fn unregister(&mut self, client: SocketAddr) -> bool {
        let before = self.clients.len();
        self.clients.retain(|c| *c != client);
        before != self.clients.len()
    }

    /// Handle a datagram from `from`. A REPEATER_REGISTER (or, as old clients
    /// send, an empty datagram) registers `from` and appends the confirmation
    /// to `out`; anything else (beacons) is to be fanned out verbatim.
    pub fn recv(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Result<RepeaterAction, BroadcastError> {
        let ends = Endpoints {
            our_addr: self.our_addr,
            their_addr: from,
            role: Role::Server,
        };
        let mut commands = Vec::new();
        let mut rest = datagram;
        let mut register = datagram.is_empty();
        while !rest.is_empty() {
            let (cmd, used) = datagram::next_command(rest, Direction::Request)?;
            rest = &rest[used..];
            trace::command(
                Target::for_datagram(&cmd),
                &ends,
                Flow::Recv,
                None,
                used,
                &cmd,
            );
            register |= matches!(cmd, Command::RepeaterRegisterRequest { .. });
            commands.push((cmd, used));
        }
        if register {
            return self.register(from, out);
        }
        let targets: Vec<SocketAddr> = self
            .clients
            .iter()
            .copied()
            .filter(|c| *c != from)
            .collect();
        if targets.is_empty() {
            return Ok(RepeaterAction::Ignore);
        }
        for target in &targets {
            let ends = Endpoints {
                their_addr: *target,
                ..ends
            };
            for (cmd, used) in &commands {
                trace::command(
                    Target::for_datagram(cmd),
                    &ends,
                    Flow::Send,
                    None,
                    *used,
                    cmd,
                );
            }
        }
        Ok(RepeaterAction::FanOut { targets })
    }

    fn register(
        &mut self,
        client: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Result<RepeaterAction, BroadcastError> {
        if !self.clients.contains(&client) {
            if self.clients.len() >= MAX_REPEATER_CLIENTS {
                return Ok(RepeaterAction::Ignore);
            }
            self.clients.push(client);
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
        let ends = Endpoints {
            our_addr: self.our_addr,
            their_addr: client,
            role: Role::Server,
        };
        trace::command(Target::Bcast, &ends, Flow::Send, None, written, &cmd);
        Ok(RepeaterAction::Confirm { client })
    }
}
