//! UDP side of CA: search requests and replies, beacons, repeater
//! registration, and their state. No sockets here: the shells hand in
//! datagrams and get [`Event`]s out, and hand in commands to get datagram
//! bytes out.
//!
//! - Client: register names with [`Broadcaster::add_search`], then build
//!   search datagrams with [`Broadcaster::fill_search_datagram`] (VersionRequest
//!   followed by as many SearchRequests as fit) on each back-off tick.
//!   [`Broadcaster::recv`] matches SearchResponses to pending searches by cid
//!   ([`Event::Found`] carries the name and the server's TCP address) and
//!   tracks beacons, flagging restarts and new servers ([`Event::Beacon`] with
//!   a [`BeaconAnomaly`]) so the client can re-search at once.
//!   [`Broadcaster::register_with_repeater`] builds the REPEATER_REGISTER.
//! - Server: [`Broadcaster::recv`] yields [`Event::Search`]; answer with
//!   [`Broadcaster::send`] of a `VersionResponse` followed by the
//!   `SearchResponse`s (or `NotFoundResponse`s when the request asked for a
//!   reply), all appended to one datagram buffer. [`Broadcaster::beacon`]
//!   builds beacons with consecutive ids.
//! - Repeater: see [`Repeater`].
//!
//! Every command sent or received emits exactly one DEBUG record on
//! `caproto::bcast::search`, `caproto::bcast::beacon` or `caproto::bcast`.

mod beacon;
mod datagram;
mod error;
mod repeater;

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Instant;

pub use beacon::{BeaconAnomaly, BeaconTracker};
pub use error::BroadcastError;
pub use repeater::{Outgoing, Repeater, RepeaterOutput, MAX_REPEATER_CLIENTS, PROBE_INTERVAL};

use super::command::{encode_search_request, Command};
use super::ids::IdMap;
use super::trace::{self, Endpoints, Flow, Target};
use super::{Role, PROTOCOL_VERSION};

/// Largest search datagram we build, as EPICS base and caproto do (Ethernet MTU
/// minus IP and UDP headers).
pub const MAX_SEARCH_DATAGRAM: usize = 1472;

/// Something a received datagram means for the shell.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// Client: a server has the PV of a pending search (now no longer pending).
    Found {
        /// The search's cid.
        cid: u32,
        /// The PV name searched for (the one given to
        /// [`Broadcaster::add_search`], shared, not copied).
        name: Arc<str>,
        /// The server's TCP address to open a circuit to.
        server: SocketAddr,
        /// The server's minor protocol version.
        version: u16,
    },
    /// Client: a server that was asked to reply does not have the PV. The
    /// search stays pending (another server may have it).
    NotFound {
        /// The search's cid.
        cid: u32,
    },
    /// Client: a search reply for a cid not (or no longer) pending, e.g. a
    /// second server answering for the same name.
    Unmatched {
        /// The reply's cid.
        cid: u32,
        /// The answering server's TCP address.
        server: SocketAddr,
    },
    /// Client: a server beacon. `anomaly` says whether to re-search now.
    Beacon {
        /// The server's TCP address.
        server: SocketAddr,
        /// The beacon's sequence number.
        beacon_id: u32,
        /// Why this beacon calls for a re-search, if it does.
        anomaly: Option<BeaconAnomaly>,
    },
    /// Client: the repeater confirmed our registration.
    RepeaterConfirmed {
        /// Address the repeater reported.
        repeater_address: Ipv4Addr,
    },
    /// Server: a client searches for a PV.
    Search {
        /// The PV name.
        name: String,
        /// The client's search id, to echo in the reply.
        cid: u32,
        /// The client's minor protocol version.
        version: u16,
        /// Whether the client wants a NotFoundResponse if we lack the PV.
        reply: bool,
        /// The search sequence number of the VersionRequest heading the
        /// datagram (0 if none): echo it in the reply's VersionResponse, or
        /// EPICS clients take the reply as stale and slow their searches.
        sequence: u32,
    },
}

/// The UDP state machine of a client or a server. See the module docs.
#[derive(Debug)]
pub struct Broadcaster {
    role: Role,
    our_addr: SocketAddr,
    searches: IdMap<Arc<str>>,
    beacons: BeaconTracker,
    registered: bool,
    next_beacon_id: u32,
    /// Server: sequence number of the last VersionRequest in the datagram being parsed.
    datagram_sequence: u32,
}

impl Broadcaster {
    /// A broadcaster for `role` whose UDP socket is bound to `our_addr`.
    pub fn new(role: Role, our_addr: SocketAddr) -> Self {
        Broadcaster {
            role,
            our_addr,
            searches: IdMap::default(),
            beacons: BeaconTracker::new(),
            registered: false,
            next_beacon_id: 0,
            datagram_sequence: 0,
        }
    }

    /// Our role.
    pub fn role(&self) -> Role {
        self.role
    }

    /// Our socket address.
    pub fn our_addr(&self) -> SocketAddr {
        self.our_addr
    }

    /// Client: whether a repeater confirmed our registration.
    pub fn registered(&self) -> bool {
        self.registered
    }

    /// Client: the beacon tracker (to forget silent servers, or query last contact).
    pub fn beacons(&mut self) -> &mut BeaconTracker {
        &mut self.beacons
    }

    /// Client: start searching for `name` under `cid`. Adding the same pair
    /// again is harmless; a different name for a pending cid is refused.
    /// The name is kept as given: pass an `Arc<str>` the caller also holds
    /// and 100 000 searches hold no copies.
    pub fn add_search(
        &mut self,
        cid: u32,
        name: impl Into<Arc<str>>,
    ) -> Result<(), BroadcastError> {
        let name = name.into();
        match self.searches.get(&cid) {
            Some(pending) if *pending != name => Err(BroadcastError::DuplicateSearch(cid)),
            Some(_) => Ok(()),
            None => {
                self.searches.insert(cid, name);
                Ok(())
            }
        }
    }

    /// Client: make room for `additional` more pending searches at once
    /// (a batch of names is about to be added).
    pub fn reserve_searches(&mut self, additional: usize) {
        self.searches.reserve(additional);
    }

    /// Client: stop searching for `cid` (channel dropped). Returns its name.
    pub fn cancel_search(&mut self, cid: u32) -> Option<Arc<str>> {
        let name = self.searches.remove(&cid);
        crate::proto::ids::shrink_when_sparse(&mut self.searches);
        name
    }

    /// Client: the name of the pending search `cid`.
    pub fn pending_search(&self, cid: u32) -> Option<&str> {
        self.searches.get(&cid).map(|name| &**name)
    }

    /// Client: number of pending searches.
    pub fn pending_searches(&self) -> usize {
        self.searches.len()
    }

    /// Client: append to `out` (normally empty) a search datagram for
    /// `their_addr`: a VersionRequest followed by SearchRequests for the
    /// pending cids at the front of `cids`, as many as fit in
    /// [`MAX_SEARCH_DATAGRAM`] (at least one). Cids not pending are skipped.
    /// Returns how many entries of `cids` were used; call again with the rest.
    /// With `reply`, servers lacking the PV answer NotFound (use for unicast).
    pub fn fill_search_datagram(
        &mut self,
        cids: &[u32],
        reply: bool,
        their_addr: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Result<usize, BroadcastError> {
        if !cids.iter().any(|cid| self.searches.contains_key(cid)) {
            return Ok(cids.len());
        }
        let start = out.len();
        let version = Command::VersionRequest {
            priority: 0,
            version: PROTOCOL_VERSION,
            sequence: 0,
        };
        self.send(&version, their_addr, out)?;
        let ends = self.ends(their_addr);
        let mut used = 0;
        let mut searches = 0;
        for &cid in cids {
            let Some(name) = self.searches.get(&cid) else {
                used += 1;
                continue;
            };
            // Encoded from the shared name: no command owning a copy.
            let before = out.len();
            let written =
                encode_search_request(name, cid, PROTOCOL_VERSION, reply, out).map_err(|e| {
                    out.truncate(start);
                    BroadcastError::Encode(e)
                })?;
            if out.len() - start > MAX_SEARCH_DATAGRAM && searches > 0 {
                out.truncate(before);
                break;
            }
            let shown = trace::Built(|| Command::SearchRequest {
                name: name.to_string(),
                cid,
                version: PROTOCOL_VERSION,
                reply,
            });
            trace::record(
                Target::Search,
                &ends,
                Flow::Send,
                Some(name),
                written,
                &shown,
            );
            used += 1;
            searches += 1;
        }
        Ok(used)
    }

    /// Client: a REPEATER_REGISTER for the repeater at `repeater_addr`.
    pub fn register_with_repeater(
        &mut self,
        repeater_addr: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Result<usize, BroadcastError> {
        let client_address = match self.our_addr {
            SocketAddr::V4(a) => *a.ip(),
            SocketAddr::V6(_) => Ipv4Addr::UNSPECIFIED,
        };
        self.send(
            &Command::RepeaterRegisterRequest { client_address },
            repeater_addr,
            out,
        )
    }

    /// Server: append the next beacon (consecutive ids from 0) for a server
    /// listening on TCP `server_port` at `address` (0.0.0.0: "the datagram's
    /// source"). Send the same bytes to every beacon address.
    pub fn beacon(
        &mut self,
        server_port: u16,
        address: Ipv4Addr,
        their_addr: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Result<usize, BroadcastError> {
        let cmd = Command::Beacon {
            version: PROTOCOL_VERSION,
            server_port,
            beacon_id: self.next_beacon_id,
            address,
        };
        let written = self.send(&cmd, their_addr, out)?;
        self.next_beacon_id = self.next_beacon_id.wrapping_add(1);
        Ok(written)
    }

    /// Append `cmd` to the datagram being built in `out` for `their_addr`,
    /// after checking our role sends it over UDP. A client's SearchRequest
    /// also registers the search (as [`add_search`](Self::add_search)).
    pub fn send(
        &mut self,
        cmd: &Command,
        their_addr: SocketAddr,
        out: &mut Vec<u8>,
    ) -> Result<usize, BroadcastError> {
        let ours = match self.role {
            Role::Client => matches!(
                cmd,
                Command::VersionRequest { .. }
                    | Command::SearchRequest { .. }
                    | Command::RepeaterRegisterRequest { .. }
            ),
            Role::Server => matches!(
                cmd,
                Command::VersionResponse { .. }
                    | Command::SearchResponse { .. }
                    | Command::NotFoundResponse { .. }
                    | Command::Beacon { .. }
            ),
        };
        if !ours {
            return Err(BroadcastError::NotOurs { role: self.role });
        }
        if let Command::SearchRequest { name, cid, .. } = cmd {
            self.add_search(*cid, name.as_str())?;
        }
        let start = out.len();
        let written = cmd.encode(out).map_err(|e| {
            out.truncate(start);
            BroadcastError::Encode(e)
        })?;
        let pv = match cmd {
            Command::SearchRequest { name, .. } => Some(name.as_str()),
            _ => None,
        };
        self.trace(Flow::Send, their_addr, pv, written, cmd);
        Ok(written)
    }

    /// Parse a datagram received from `from` at time `now`, pushing what it
    /// means onto `events`. Commands that mean nothing to our role (e.g. the
    /// VersionRequest heading a search datagram) are logged and skipped. A
    /// malformed command ends parsing with an error; events from the commands
    /// before it are kept.
    pub fn recv(
        &mut self,
        datagram: &[u8],
        from: SocketAddr,
        now: Instant,
        events: &mut Vec<Event>,
    ) -> Result<(), BroadcastError> {
        let mut rest = datagram;
        self.datagram_sequence = 0;
        while !rest.is_empty() {
            let (cmd, used) = datagram::next_command(rest, self.role.incoming())?;
            rest = &rest[used..];
            if let Some(event) = self.interpret(cmd, used, from, now) {
                events.push(event);
            }
        }
        Ok(())
    }

    /// Trace one received command and update state; the event it produces, if any.
    fn interpret(
        &mut self,
        cmd: Command,
        bytes: usize,
        from: SocketAddr,
        now: Instant,
    ) -> Option<Event> {
        let pv = match &cmd {
            Command::SearchRequest { name, .. } => Some(name.as_str()),
            Command::SearchResponse { cid, .. } | Command::NotFoundResponse { cid, .. } => {
                self.searches.get(cid).map(|name| &**name)
            }
            _ => None,
        };
        self.trace(Flow::Recv, from, pv, bytes, &cmd);
        match (self.role, cmd) {
            (
                Role::Client,
                Command::SearchResponse {
                    port,
                    ip,
                    cid,
                    version,
                },
            ) => {
                let ip = ip.map_or(from.ip(), std::net::IpAddr::V4);
                let server = SocketAddr::new(ip, port);
                let pending = self.searches.remove(&cid);
                crate::proto::ids::shrink_when_sparse(&mut self.searches);
                Some(match pending {
                    Some(name) => Event::Found {
                        cid,
                        name,
                        server,
                        version,
                    },
                    None => Event::Unmatched { cid, server },
                })
            }
            (Role::Client, Command::NotFoundResponse { cid, .. }) => self
                .searches
                .contains_key(&cid)
                .then_some(Event::NotFound { cid }),
            (
                Role::Client,
                Command::Beacon {
                    server_port,
                    beacon_id,
                    address,
                    ..
                },
            ) => {
                let ip = if address.is_unspecified() {
                    from.ip()
                } else {
                    std::net::IpAddr::V4(address)
                };
                let server = SocketAddr::new(ip, server_port);
                let anomaly = self.beacons.observe(server, beacon_id, now);
                Some(Event::Beacon {
                    server,
                    beacon_id,
                    anomaly,
                })
            }
            (Role::Client, Command::RepeaterConfirmResponse { repeater_address }) => {
                self.registered = true;
                Some(Event::RepeaterConfirmed { repeater_address })
            }
            (
                Role::Server,
                Command::SearchRequest {
                    name,
                    cid,
                    version,
                    reply,
                },
            ) => Some(Event::Search {
                name,
                cid,
                version,
                reply,
                sequence: self.datagram_sequence,
            }),
            (Role::Server, Command::VersionRequest { sequence, .. }) => {
                self.datagram_sequence = sequence;
                None
            }
            _ => None,
        }
    }

    fn trace(
        &self,
        flow: Flow,
        their_addr: SocketAddr,
        pv: Option<&str>,
        bytes: usize,
        cmd: &Command,
    ) {
        let ends = self.ends(their_addr);
        trace::command(Target::for_datagram(cmd), &ends, flow, pv, bytes, cmd);
    }

    /// Our side and `their_addr`, for log records.
    fn ends(&self, their_addr: SocketAddr) -> Endpoints {
        Endpoints {
            our_addr: self.our_addr,
            their_addr,
            role: self.role,
        }
    }
}
