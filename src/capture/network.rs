//! Packets to CA messages: TCP connections (reassembly, framing, roles, names) and UDP
//! datagrams (every message of each, roles from content, search names).
//!
//! Roles come from what the traffic says. For TCP, in order of trust: the SYN (its sender is
//! the client), then the commands themselves (only a client sends HOST_NAME, CLIENT_NAME or a
//! CREATE_CHAN with a name; only a server sends ACCESS_RIGHTS, CREATE_CH_FAIL, ERROR, ...),
//! then the configured server ports, and last a guess (the higher port is the client) that the
//! first telling command corrects. For UDP, per datagram: a search reply, not-found, beacon or
//! repeater confirmation makes it a response, a repeater registration or a search request (a
//! SEARCH with a name) a request; otherwise the server ports decide.

mod datagrams;
mod flows;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::rc::Rc;

use self::flows::{Circuit, Segment};
use super::link::{Packet, Transport};
use super::{Config, Event, Timestamp};

/// Everything the decoder keeps about the network.
#[derive(Debug)]
pub(crate) struct Network {
    config: Config,
    circuits: HashMap<(SocketAddr, SocketAddr), Circuit>,
    searches: HashMap<(SocketAddr, u32), Rc<str>>,
    too_many_reported: bool,
    /// Capture time (ns) of the last sweep for idle circuits.
    last_sweep: u64,
}

/// Search requests remembered (to name their replies) before the table starts over: replies
/// come within milliseconds, so this is thousands of searches' worth.
pub const MAX_SEARCHES: usize = 16_384;

/// Current packet's number and time, passed down instead of many arguments.
#[derive(Debug, Clone, Copy)]
pub(crate) struct At {
    pub packet: u64,
    pub time: Timestamp,
}

impl Network {
    pub fn new(config: Config) -> Self {
        Network {
            config,
            circuits: HashMap::new(),
            searches: HashMap::new(),
            too_many_reported: false,
            last_sweep: 0,
        }
    }

    /// Open TCP connections being tracked.
    pub fn open_circuits(&self) -> usize {
        self.circuits.len()
    }

    fn is_server_port(&self, port: u16) -> bool {
        self.config.server_ports.contains(&port)
    }

    fn is_ca_port(&self, port: u16) -> bool {
        self.is_server_port(port) || self.config.repeater_ports.contains(&port)
    }

    /// Ends circuits idle for longer than the configured idle time, at most once per
    /// second of capture time: their held bytes are flushed (as at a FIN) and their state is
    /// dropped, so a capture running for days keeps only live circuits.
    pub fn sweep_idle(&mut self, at: At, out: &mut impl FnMut(Event<'_>)) {
        let now = at.time.as_nanos();
        if self.circuits.is_empty() || now.saturating_sub(self.last_sweep) < 1_000_000_000 {
            return;
        }
        self.last_sweep = now;
        let idle = u64::try_from(self.config.flow_idle.as_nanos()).unwrap_or(u64::MAX);
        let stale: Vec<_> = self
            .circuits
            .iter()
            .filter(|(_, c)| now.saturating_sub(c.last_seen) > idle)
            .map(|(k, _)| *k)
            .collect();
        for key in stale {
            self.close_half(key, 0, at, out);
            self.close_half(key, 1, at, out);
            self.circuits.remove(&key);
        }
    }

    pub fn handle_packet(&mut self, at: At, p: &Packet<'_>, out: &mut impl FnMut(Event<'_>)) {
        match p.transport {
            Transport::Tcp {
                seq,
                syn,
                ack,
                fin,
                rst,
                payload,
                missing,
            } => {
                let seg = Segment {
                    seq,
                    syn,
                    ack,
                    fin,
                    rst,
                    payload,
                    missing,
                };
                self.tcp(at, p, seg, out)
            }
            Transport::Udp { payload, missing } => self.udp(at, p, payload, missing, out),
        }
    }

    /// End of input: flush every connection.
    pub fn finish(&mut self, at: At, out: &mut impl FnMut(Event<'_>)) {
        let keys: Vec<_> = self.circuits.keys().copied().collect();
        for key in keys {
            self.close_half(key, 0, at, out);
            self.close_half(key, 1, at, out);
        }
        self.circuits.clear();
    }
}
