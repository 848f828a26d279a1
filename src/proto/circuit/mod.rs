//! Virtual-circuit (TCP) state machine for both roles: bytes in, typed
//! commands out, typed commands in, bytes out, with the channel, I/O and
//! subscription state of the circuit checked on every command.
//!
//! A [`VirtualCircuit`] never touches a socket. The async shell owns the
//! `TcpStream` and:
//! - after each read, calls [`VirtualCircuit::recv`] with the bytes, then
//!   drains [`VirtualCircuit::next_command`] until it returns `None`
//!   (partial commands stay buffered; one read may carry many commands);
//! - to write, calls [`VirtualCircuit::send`] for each command, which checks
//!   it against the state and appends its bytes to a buffer the shell
//!   writes in one go (batching many commands per write);
//! - when the socket closes, calls [`VirtualCircuit::disconnect`].
//!
//! Errors are typed ([`CircuitError`]): a [`CircuitError::Remote`] refusal
//! consumed the offending command and the circuit stays usable (a server
//! answers with an `ErrorResponse`), while [`CircuitError::is_fatal`] errors
//! (oversized payload, a reply larger than its request, undecodable bytes)
//! mean the shell should close the socket. Receiving arbitrary bytes never
//! panics and never buffers more than one maximum-size command.
//!
//! Each command sent or received emits exactly one DEBUG record on target
//! `caproto::circ` (see [`crate::proto::trace`]).

mod error;
mod event;
mod io;
mod limits;
mod tables;

use std::net::SocketAddr;
use std::sync::Arc;

pub use error::{CircuitError, Refused, Violation};
pub use event::{ClientEvent, RefusedRequest};
pub use io::{IoOp, IoReply, IoRequest};
pub use limits::{Oversized, ReplyTo};
pub use tables::{Channel, ChannelState, IoKind, PendingIo, Subscription, SubscriptionState};

use self::tables::{sender_of, Tables};
use super::command::Decoded;
use super::command::{encode_create_chan_request, Command};
use super::header::{Header, EXTENDED_HEADER_LEN};
use super::trace::{self, Endpoints, Flow, Target};
use super::{Role, PROTOCOL_VERSION};

/// Where the circuit is in its version handshake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CircuitState {
    /// No VersionRequest yet. Only version messages may pass (EPICS' RSRV
    /// sends a VersionResponse unprompted on connect).
    Initial,
    /// VersionRequest sent (client) / received (server); other commands may
    /// already flow (EPICS clients pipeline them behind the request).
    VersionRequested,
    /// VersionResponse received (client) / sent (server).
    Connected,
    /// [`VirtualCircuit::disconnect`] was called or a fatal error occurred.
    Disconnected,
}

/// Receive buffer capacity kept between commands; a buffer grown beyond
/// this for one large command is released once that command is parsed.
const KEEP_BUFFER_BYTES: usize = 1024 * 1024;

/// The state of one CA TCP connection, for either role. See the module docs.
#[derive(Debug)]
pub struct VirtualCircuit {
    ends: Endpoints,
    priority: u16,
    max_payload: usize,
    state: CircuitState,
    protocol_version: u16,
    /// Received bytes not yet parsed are `buf[pos..]`.
    buf: Vec<u8>,
    pos: usize,
    /// Where the payload of the last [`IoRequest`] sits in `buf`.
    last_io: std::ops::Range<usize>,
    tables: Tables,
    client_hostname: Option<String>,
    client_username: Option<String>,
    next_channel_id: u32,
    next_ioid: u32,
    next_subscription_id: u32,
}

impl VirtualCircuit {
    /// A new circuit between `our_addr` and `their_addr`.
    ///
    /// `priority` (0..=99) is what a client puts in its VersionRequest; a server
    /// passes 0 and learns the real value from the client's VersionRequest.
    /// `max_array_bytes` is `EPICS_CA_MAX_ARRAY_BYTES`: received payloads larger
    /// than that (plus room for the largest DBR metadata) are refused before any
    /// buffering.
    pub fn new(
        role: Role,
        our_addr: SocketAddr,
        their_addr: SocketAddr,
        priority: u16,
        max_array_bytes: usize,
    ) -> Self {
        VirtualCircuit {
            ends: Endpoints {
                our_addr,
                their_addr,
                role,
            },
            priority,
            // Payloads carry DBR metadata (a CTRL_DOUBLE header is 56 bytes)
            // on top of the array, plus padding.
            max_payload: max_array_bytes.saturating_add(METADATA_ROOM),
            state: CircuitState::Initial,
            protocol_version: PROTOCOL_VERSION,
            buf: Vec::new(),
            pos: 0,
            last_io: 0..0,
            tables: Tables::default(),
            client_hostname: None,
            client_username: None,
            next_channel_id: 1,
            next_ioid: 1,
            next_subscription_id: 1,
        }
    }

    /// Our role on this circuit.
    pub fn role(&self) -> Role {
        self.ends.role
    }

    /// Our socket address.
    pub fn our_addr(&self) -> SocketAddr {
        self.ends.our_addr
    }

    /// The peer's socket address.
    pub fn their_addr(&self) -> SocketAddr {
        self.ends.their_addr
    }

    /// The circuit priority (for a server, as set by the client's VersionRequest).
    pub fn priority(&self) -> u16 {
        self.priority
    }

    /// Largest payload accepted from the peer, in bytes.
    pub fn max_payload(&self) -> usize {
        self.max_payload
    }

    /// Handshake state.
    pub fn state(&self) -> CircuitState {
        self.state
    }

    /// Negotiated minor protocol version (the lower of ours and the peer's).
    pub fn protocol_version(&self) -> u16 {
        self.protocol_version
    }

    /// Host name from the client's HostNameRequest, if any.
    pub fn client_hostname(&self) -> Option<&str> {
        self.client_hostname.as_deref()
    }

    /// User name from the client's ClientNameRequest, if any.
    pub fn client_username(&self) -> Option<&str> {
        self.client_username.as_deref()
    }

    /// The channel with this cid.
    pub fn channel(&self, cid: u32) -> Option<&Channel> {
        self.tables.channels.get(&cid)
    }

    /// The channel with this sid (connected channels only).
    pub fn channel_by_sid(&self, sid: u32) -> Option<&Channel> {
        let cid = self.tables.sids.get(&sid)?;
        self.tables.channels.get(cid)
    }

    /// All channels on the circuit (any order).
    pub fn channels(&self) -> impl Iterator<Item = &Channel> {
        self.tables.channels.values()
    }

    /// The PV a command concerns, if the circuit knows the channel (for log
    /// records written outside the per-command trace).
    pub fn pv_of(&self, cmd: &Command) -> Option<Arc<str>> {
        self.tables.pv_of(cmd)
    }

    /// The read/write request awaiting a response under this ioid.
    pub fn pending_io(&self, ioid: u32) -> Option<&PendingIo> {
        self.tables.ioids.get(&ioid)
    }

    /// The subscription with this id.
    pub fn subscription(&self, subscriptionid: u32) -> Option<&Subscription> {
        self.tables.subs.get(&subscriptionid)
    }

    /// All subscriptions with their ids (any order).
    pub fn subscriptions(&self) -> impl Iterator<Item = (u32, &Subscription)> {
        self.tables.subs.iter().map(|(id, s)| (*id, s))
    }

    /// An unused channel id: a cid for a client, a sid for a server.
    pub fn new_channel_id(&mut self) -> u32 {
        let tables = &self.tables;
        let in_use = |id: &u32| match self.ends.role {
            Role::Client => tables.channels.contains_key(id),
            Role::Server => tables.sids.contains_key(id),
        };
        next_free(&mut self.next_channel_id, in_use)
    }

    /// An unused ioid for a read or write request.
    pub fn new_ioid(&mut self) -> u32 {
        let ioids = &self.tables.ioids;
        next_free(&mut self.next_ioid, |id| ioids.contains_key(id))
    }

    /// An unused subscription id.
    pub fn new_subscription_id(&mut self) -> u32 {
        let subs = &self.tables.subs;
        next_free(&mut self.next_subscription_id, |id| subs.contains_key(id))
    }

    /// Hand in bytes read from the socket. Nothing is parsed until
    /// [`next_command`](Self::next_command) is called. After a fatal error or
    /// [`disconnect`](Self::disconnect), bytes are dropped.
    pub fn recv(&mut self, bytes: &[u8]) {
        self.last_io = 0..0;
        if self.state == CircuitState::Disconnected {
            return;
        }
        if self.pos == self.buf.len() {
            self.buf.clear();
            self.pos = 0;
        } else if self.pos > 0 && self.pos >= self.buf.len() / 2 {
            // Keep the unparsed tail at the front so the buffer never grows
            // beyond one command plus one read.
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        self.buf.extend_from_slice(bytes);
    }

    /// Number of received bytes not yet parsed into commands.
    pub fn buffered(&self) -> usize {
        self.buf.len() - self.pos
    }

    /// The next complete command from the received bytes, checked against the
    /// state, or `None` when more bytes are needed.
    ///
    /// A [`CircuitError::Remote`] refusal consumed the command (the circuit
    /// remains usable); a fatal error disconnects the circuit and later calls
    /// return `None`. An empty update confirming a cancelled subscription is
    /// returned as `EventCancelResponse`.
    pub fn next_command(&mut self) -> Option<Result<Command, CircuitError>> {
        self.next_resolved().map(|r| r.map(|(cmd, _)| cmd))
    }

    /// Like [`next_command`](Self::next_command), for a client: the command
    /// as a [`ClientEvent`], with the channel that its ioid or subscription id
    /// belonged to resolved before the tables retire the id.
    pub fn next_client_event(&mut self) -> Option<Result<ClientEvent, CircuitError>> {
        self.next_resolved()
            .map(|r| r.map(|(cmd, owner)| ClientEvent::from_command(cmd, owner)))
    }

    /// The pending ioids and subscription ids of channel `cid` (empty when
    /// it has none, or is unknown).
    pub fn owned_by(&self, cid: u32) -> (&[u32], &[u32]) {
        self.tables.owned_by(cid)
    }

    /// The next command and the channel its ioid or subscription id belonged to.
    fn next_resolved(&mut self) -> Option<Result<(Command, Option<u32>), CircuitError>> {
        self.release_spent_buffer();
        if self.state == CircuitState::Disconnected {
            return None;
        }
        let pending = &self.buf[self.pos..];
        // Check the announced size ourselves before waiting for the payload,
        // so a hostile header can never make us buffer more than the maximum.
        let header = match Header::decode(pending) {
            Ok((header, _)) => header,
            Err(_) => return None,
        };
        if header.payload_size as usize > self.max_payload {
            return Some(Err(self.fail(CircuitError::PayloadTooLarge {
                size: header.payload_size,
                max: self.max_payload,
            })));
        }
        // A reply may not carry more than its request asked for: refused
        // from the header, before any of the payload is waited for.
        if self.ends.role == Role::Client {
            if let Some(over) = limits::check_reply(&self.tables, &header) {
                return Some(Err(self.fail(CircuitError::OversizedReply(Box::new(over)))));
            }
        }
        let incoming = self.ends.role.incoming();
        let (cmd, used) = match Command::decode_from(pending, incoming, self.max_payload) {
            Ok(Decoded::Incomplete { .. }) => return None,
            Ok(Decoded::Command(cmd, used)) => (cmd, used),
            Err(e) => return Some(Err(self.fail(CircuitError::Decode(e)))),
        };
        // Always make progress, whatever the codec reports.
        let used = used.clamp(1, self.buffered());
        self.pos += used;
        self.release_spent_buffer();
        let cmd = self.confirm_cancel(cmd);
        self.trace(Flow::Recv, used, &cmd);
        let owner = self.tables.owner_of(&cmd);
        Some(match self.apply(&cmd, true) {
            Ok(()) => Ok((cmd, owner)),
            Err(violation) => Err(CircuitError::Remote(Box::new(Refused {
                violation,
                command: cmd,
                header,
            }))),
        })
    }

    /// Check `cmd` against the state, append its wire form to `out` and
    /// update the state. Returns the number of bytes appended. On error
    /// nothing is appended and the state is unchanged.
    pub fn send(&mut self, cmd: &Command, out: &mut Vec<u8>) -> Result<usize, CircuitError> {
        let start = out.len();
        let written = cmd.encode(out).map_err(|e| {
            out.truncate(start);
            CircuitError::Encode(e)
        })?;
        let pv = self.pv_for_trace(cmd);
        if let Err(v) = self.apply(cmd, false) {
            out.truncate(start);
            return Err(CircuitError::Local(v));
        }
        trace::command(
            Target::Circ,
            &self.ends,
            Flow::Send,
            pv.as_deref(),
            written,
            cmd,
        );
        Ok(written)
    }

    /// Client: [`send`](Self::send) a CREATE_CHAN for `name` under `cid`,
    /// with the circuit's table keeping `name` itself rather than a copy
    /// (the caller's record of the channel holds the same name). Same
    /// bytes, checks and log record as sending `Command::CreateChanRequest`.
    pub fn send_create_channel(
        &mut self,
        name: &Arc<str>,
        cid: u32,
        out: &mut Vec<u8>,
    ) -> Result<usize, CircuitError> {
        let refused = |v| Err(CircuitError::Local(v));
        if let Err(v) = self.check_sender(Some(Role::Client), false) {
            return refused(v);
        }
        if self.state == CircuitState::Initial {
            return refused(Violation::BeforeVersion);
        }
        let start = out.len();
        let written = encode_create_chan_request(name, cid, PROTOCOL_VERSION, out)
            .map_err(CircuitError::Encode)?;
        if let Err(v) = self.tables.add_channel(Arc::clone(name), cid) {
            out.truncate(start);
            return refused(v);
        }
        let shown = trace::Built(|| Command::CreateChanRequest {
            name: name.to_string(),
            cid,
            version: PROTOCOL_VERSION,
        });
        trace::record(
            Target::Circ,
            &self.ends,
            Flow::Send,
            Some(name),
            written,
            &shown,
        );
        Ok(written)
    }

    /// The connection is gone: every channel is closed and nothing more is
    /// accepted. Call when the socket closes or errors.
    pub fn disconnect(&mut self) {
        self.state = CircuitState::Disconnected;
        self.tables = Tables::default();
        self.buf = Vec::new();
        self.pos = 0;
        self.last_io = 0..0;
    }

    /// A large payload (a big array) went through: give its memory back
    /// now rather than keep it for the life of the circuit, so it is not
    /// held beside the copy the caller is decoding. (Not while the last
    /// [`IoRequest`]'s payload is still lent out.)
    fn release_spent_buffer(&mut self) {
        self.last_io = 0..0;
        if self.pos == self.buf.len() && self.buf.capacity() > KEEP_BUFFER_BYTES {
            self.buf = Vec::new();
            self.pos = 0;
        }
    }

    /// Disconnect after a fatal error, returning it.
    fn fail(&mut self, err: CircuitError) -> CircuitError {
        self.disconnect();
        err
    }

    /// An empty EventAddResponse for a subscription being cancelled is the
    /// server's confirmation of the cancel; give it its proper type.
    fn confirm_cancel(&self, cmd: Command) -> Command {
        if let Command::EventAddResponse {
            data,
            data_type,
            data_count,
            subscriptionid,
            ..
        } = &cmd
        {
            if let Some(sub) = self.tables.subs.get(subscriptionid) {
                if data.is_empty() && sub.state == SubscriptionState::CancelRequested {
                    return Command::EventCancelResponse {
                        data_type: *data_type,
                        data_count: *data_count,
                        sid: sub.sid,
                        subscriptionid: *subscriptionid,
                    };
                }
            }
        }
        cmd
    }

    fn pv_for_trace(&self, cmd: &Command) -> Option<Arc<str>> {
        if trace::debug_enabled() {
            self.tables.pv_of(cmd)
        } else {
            None
        }
    }

    fn trace(&self, flow: Flow, bytes: usize, cmd: &Command) {
        let pv = self.pv_for_trace(cmd);
        trace::command(Target::Circ, &self.ends, flow, pv.as_deref(), bytes, cmd);
    }

    /// Whether a command that `sender` sends (`None`: not a circuit command)
    /// may travel now, sent by us or received when `received`.
    fn check_sender(&self, sender: Option<Role>, received: bool) -> Result<(), Violation> {
        if self.state == CircuitState::Disconnected {
            return Err(Violation::Disconnected);
        }
        let role = self.ends.role;
        let expected_sender = if received {
            match role {
                Role::Client => Role::Server,
                Role::Server => Role::Client,
            }
        } else {
            role
        };
        match sender {
            None => Err(Violation::NotOnCircuit),
            Some(sender) if sender != expected_sender => Err(Violation::WrongSender { sender }),
            Some(_) => Ok(()),
        }
    }

    /// Validate `cmd` (sent by us, or received when `received`) and update the state.
    fn apply(&mut self, cmd: &Command, received: bool) -> Result<(), Violation> {
        self.check_sender(sender_of(cmd), received)?;
        match cmd {
            Command::VersionRequest {
                priority, version, ..
            } => {
                if self.state == CircuitState::Initial {
                    self.priority = *priority;
                    self.state = CircuitState::VersionRequested;
                } else if self.priority != *priority && !received {
                    // We never change our own priority mid-circuit. A peer
                    // may: EPICS clients head every batch of searches sent
                    // to a TCP name server with a VERSION whose priority
                    // field holds the "sequence number valid" flag (1), and
                    // RSRV accepts any later VERSION. The circuit keeps its
                    // first priority.
                    return Err(Violation::PriorityMismatch {
                        current: self.priority,
                        requested: *priority,
                    });
                }
                self.negotiate(*version);
                return Ok(());
            }
            Command::VersionResponse { version, .. } => {
                if self.state == CircuitState::VersionRequested {
                    self.state = CircuitState::Connected;
                }
                self.negotiate(*version);
                return Ok(());
            }
            _ => {}
        }
        if self.state == CircuitState::Initial {
            return Err(Violation::BeforeVersion);
        }
        match cmd {
            Command::HostNameRequest { name } => self.client_hostname = Some(name.clone()),
            Command::ClientNameRequest { name } => self.client_username = Some(name.clone()),
            _ => self.tables.apply(cmd, received)?,
        }
        Ok(())
    }

    /// Settle on the lower protocol version. Version 0 (pre-4.11 peers) carries none.
    fn negotiate(&mut self, version: u16) {
        if version != 0 {
            self.protocol_version = self.protocol_version.min(version);
        }
    }
}

/// Extra payload allowed on top of `EPICS_CA_MAX_ARRAY_BYTES` for DBR
/// metadata, padding and the longest string payloads (PV names).
const METADATA_ROOM: usize = 2048 + EXTENDED_HEADER_LEN;

/// Next id from `counter` (skipping 0 and ids in use), advancing the counter.
fn next_free(counter: &mut u32, in_use: impl Fn(&u32) -> bool) -> u32 {
    loop {
        let id = *counter;
        *counter = counter.wrapping_add(1);
        if id != 0 && !in_use(&id) {
            return id;
        }
    }
}

#[cfg(test)]
mod buffer_tests {
    use super::*;
    use crate::proto::header::Header;

    /// A large command's receive buffer is released once it is parsed; small
    /// ones keep the buffer (no churn).
    #[test]
    fn large_receive_buffer_is_released_after_the_command() {
        let mut vc = VirtualCircuit::new(
            Role::Client,
            "127.0.0.1:40000".parse().unwrap(),
            "127.0.0.1:5064".parse().unwrap(),
            0,
            16 * 1024 * 1024,
        );
        let error = |len: usize| Command::ErrorResponse {
            original_request: Header::default(),
            cid: 1,
            status: 0x0a,
            error_message: "x".repeat(len),
        };
        let big = error(4 * 1024 * 1024).to_bytes().unwrap();
        for piece in big.chunks(64 * 1024) {
            vc.recv(piece);
        }
        assert!(vc.buf.capacity() >= big.len());
        let got = vc.next_command().expect("a complete command");
        assert!(matches!(got, Ok(Command::ErrorResponse { .. }) | Err(_)));
        assert_eq!(vc.buffered(), 0);
        assert_eq!(vc.buf.capacity(), 0, "released");
        let small = error(100).to_bytes().unwrap();
        vc.recv(&small);
        assert!(vc.next_command().is_some());
        assert!(vc.buf.capacity() >= small.len(), "small buffers are kept");
    }

    /// Creating a channel from a shared name is sending its CREATE_CHAN:
    /// same bytes, same table entry, same refusals.
    #[test]
    fn create_from_a_shared_name_is_sending_the_command() {
        let fresh = |role| {
            let (client, server) = ("127.0.0.1:40000", "127.0.0.1:5064");
            let (ours, theirs) = match role {
                Role::Client => (client, server),
                Role::Server => (server, client),
            };
            VirtualCircuit::new(
                role,
                ours.parse().unwrap(),
                theirs.parse().unwrap(),
                0,
                1 << 20,
            )
        };
        let circuit = || {
            let mut vc = fresh(Role::Client);
            let version = Command::VersionRequest {
                priority: 0,
                version: PROTOCOL_VERSION,
                sequence: 0,
            };
            vc.send(&version, &mut Vec::new()).unwrap();
            vc
        };
        let name: Arc<str> = Arc::from("test:ai");
        let (mut shared, mut owned) = (circuit(), circuit());
        let (mut a, mut b) = (Vec::new(), Vec::new());
        shared.send_create_channel(&name, 7, &mut a).unwrap();
        let cmd = Command::CreateChanRequest {
            name: name.to_string(),
            cid: 7,
            version: PROTOCOL_VERSION,
        };
        owned.send(&cmd, &mut b).unwrap();
        assert_eq!(a, b);
        assert_eq!(shared.channel(7), owned.channel(7));
        assert!(
            Arc::ptr_eq(&shared.channel(7).unwrap().name, &name),
            "shared, not copied"
        );
        assert!(matches!(
            shared.send_create_channel(&name, 7, &mut a),
            Err(CircuitError::Local(Violation::DuplicateCid(7)))
        ));
        assert_eq!(a, b, "nothing written on a refusal");
        assert!(matches!(
            fresh(Role::Client).send_create_channel(&name, 1, &mut Vec::new()),
            Err(CircuitError::Local(Violation::BeforeVersion))
        ));
        assert!(matches!(
            fresh(Role::Server).send_create_channel(&name, 1, &mut Vec::new()),
            Err(CircuitError::Local(Violation::WrongSender { .. }))
        ));
        shared.disconnect();
        assert!(matches!(
            shared.send_create_channel(&name, 8, &mut Vec::new()),
            Err(CircuitError::Local(Violation::Disconnected))
        ));
    }
}
