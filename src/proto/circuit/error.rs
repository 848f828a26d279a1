//! Typed errors of the virtual-circuit state machine.

use std::fmt;

use super::ChannelState;
use crate::proto::header::Header;
use crate::proto::{command::Command, command::CommandError, Role};

/// A command that the protocol does not allow in the current state.
///
/// Raised by [`VirtualCircuit::send`](super::VirtualCircuit::send) (our own
/// mistake: nothing was written) and by
/// [`VirtualCircuit::next_command`](super::VirtualCircuit::next_command) (the
/// peer's mistake: the command was consumed and the stream stays in sync, so
/// the circuit remains usable; a server typically answers with an
/// `ErrorResponse`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// The command can only be sent by the other role (e.g. a client sending a response).
    WrongSender {
        /// Who may send this command.
        sender: Role,
    },
    /// The command belongs on UDP (beacons, repeater messages) or is obsolete; not valid on a circuit.
    NotOnCircuit,
    /// Only version messages are allowed before the version handshake started.
    BeforeVersion,
    /// The circuit was disconnected; nothing more can be sent or received.
    Disconnected,
    /// We tried to send a second VersionRequest with a different priority
    /// (one received from a peer is accepted and keeps the first priority).
    PriorityMismatch {
        /// Priority fixed by the first VersionRequest.
        current: u16,
        /// Priority in the offending request.
        requested: u16,
    },
    /// CreateChanRequest for a cid that is already in use.
    DuplicateCid(u32),
    /// No channel with this cid.
    UnknownCid(u32),
    /// CreateChanResponse assigning a sid already used by another channel.
    DuplicateSid(u32),
    /// No connected channel with this sid.
    UnknownSid(u32),
    /// The channel exists but is not in a state that allows this command.
    BadChannelState {
        /// The channel's cid.
        cid: u32,
        /// Its current state.
        state: ChannelState,
    },
    /// A read/write request reused an ioid that is still awaiting its response.
    DuplicateIoid(u32),
    /// A response for an ioid with no pending request (or of the wrong kind).
    UnknownIoid(u32),
    /// EventAddRequest reused a subscription id that is still active.
    DuplicateSubscription(u32),
    /// No active subscription with this id.
    UnknownSubscription(u32),
    /// A subscription command whose sid or data type differs from the original EventAddRequest.
    SubscriptionMismatch(u32),
}

impl fmt::Display for Violation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Violation::WrongSender { sender } => {
                write!(f, "only the {} side may send this command", sender.as_str())
            }
            Violation::NotOnCircuit => f.write_str("command not valid on a TCP circuit"),
            Violation::BeforeVersion => f.write_str("command before the version handshake"),
            Violation::Disconnected => f.write_str("circuit is disconnected"),
            Violation::PriorityMismatch { current, requested } => write!(
                f,
                "priority {requested} does not match the circuit's priority {current}"
            ),
            Violation::DuplicateCid(cid) => write!(f, "cid {cid} is already in use"),
            Violation::UnknownCid(cid) => write!(f, "unknown cid {cid}"),
            Violation::DuplicateSid(sid) => write!(f, "sid {sid} is already in use"),
            Violation::UnknownSid(sid) => write!(f, "unknown sid {sid}"),
            Violation::BadChannelState { cid, state } => {
                write!(f, "channel cid {cid} is {state:?}: command not allowed")
            }
            Violation::DuplicateIoid(ioid) => write!(f, "ioid {ioid} is already pending"),
            Violation::UnknownIoid(ioid) => write!(f, "no pending request with ioid {ioid}"),
            Violation::DuplicateSubscription(id) => {
                write!(f, "subscription id {id} is already active")
            }
            Violation::UnknownSubscription(id) => write!(f, "unknown subscription id {id}"),
            Violation::SubscriptionMismatch(id) => {
                write!(f, "sid or data type differs from subscription {id}")
            }
        }
    }
}

/// A command received from the peer and refused by the state machine. The
/// command was consumed; `header` is its wire header, handy for building an
/// `ErrorResponse` (whose `original_request` it is).
#[derive(Debug, Clone, PartialEq)]
pub struct Refused {
    /// What rule the command broke.
    pub violation: Violation,
    /// The refused command.
    pub command: Command,
    /// Its header as received.
    pub header: Header,
}

/// Errors of [`VirtualCircuit`](super::VirtualCircuit).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum CircuitError {
    /// We tried to send a command the protocol does not allow now; nothing was written.
    Local(Violation),
    /// The peer sent a command the protocol does not allow now. Not fatal: the
    /// stream is still in sync.
    Remote(Box<Refused>),
    /// A received header announced a payload above the circuit's maximum.
    /// Fatal: the circuit stops parsing (nothing of that size is buffered).
    PayloadTooLarge {
        /// Announced payload size.
        size: u32,
        /// The circuit's maximum (`EPICS_CA_MAX_ARRAY_BYTES` plus header room).
        max: usize,
    },
    /// A read reply or subscription update announced more elements (or
    /// bytes) than its request allows (client role). Fatal: detected from the
    /// header, before the payload is buffered.
    OversizedReply(Box<super::Oversized>),
    /// Received bytes are not a valid command. Fatal: the stream is out of sync.
    Decode(CommandError),
    /// A command we tried to send could not be encoded; nothing was written.
    Encode(CommandError),
}

impl CircuitError {
    /// Whether the circuit is unusable after this error (the shell should close the socket).
    pub fn is_fatal(&self) -> bool {
        matches!(
            self,
            CircuitError::PayloadTooLarge { .. }
                | CircuitError::OversizedReply(_)
                | CircuitError::Decode(_)
        )
    }

    /// The violated rule, for `Local` and `Remote` errors.
    pub fn violation(&self) -> Option<&Violation> {
        match self {
            CircuitError::Local(v) => Some(v),
            CircuitError::Remote(r) => Some(&r.violation),
            _ => None,
        }
    }
}

impl fmt::Display for CircuitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CircuitError::Local(v) => write!(f, "refused to send: {v}"),
            CircuitError::Remote(r) => write!(f, "peer protocol violation: {}", r.violation),
            CircuitError::PayloadTooLarge { size, max } => {
                write!(f, "payload of {size} bytes exceeds the maximum of {max}")
            }
            CircuitError::OversizedReply(o) => write!(f, "{o}"),
            CircuitError::Decode(e) => write!(f, "malformed command received: {e}"),
            CircuitError::Encode(e) => write!(f, "command cannot be encoded: {e}"),
        }
    }
}

impl std::error::Error for CircuitError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            CircuitError::Decode(e) | CircuitError::Encode(e) => Some(e),
            _ => None,
        }
    }
}
