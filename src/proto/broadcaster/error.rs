//! Typed errors of the UDP state machines.

use std::fmt;

use crate::proto::{command::CommandError, Role};

/// Errors of [`Broadcaster`](super::Broadcaster) and [`Repeater`](super::Repeater).
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum BroadcastError {
    /// A datagram ended in the middle of a command; the rest of it was dropped.
    Truncated {
        /// Bytes the last command needed.
        needed: usize,
        /// Bytes that were left.
        available: usize,
    },
    /// A datagram holds bytes that are not a valid command; the rest of it was dropped.
    Decode(CommandError),
    /// A command we tried to send could not be encoded; nothing was written.
    Encode(CommandError),
    /// We tried to send a command our role does not send over UDP.
    NotOurs {
        /// Our role.
        role: Role,
    },
    /// A search for this cid is already pending under a different name.
    DuplicateSearch(u32),
}

impl fmt::Display for BroadcastError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BroadcastError::Truncated { needed, available } => write!(
                f,
                "truncated datagram: command needs {needed} bytes, {available} left"
            ),
            BroadcastError::Decode(e) => write!(f, "malformed datagram: {e}"),
            BroadcastError::Encode(e) => write!(f, "command cannot be encoded: {e}"),
            BroadcastError::NotOurs { role } => {
                write!(f, "a {} does not send this command over UDP", role.as_str())
            }
            BroadcastError::DuplicateSearch(cid) => {
                write!(
                    f,
                    "a search for cid {cid} is already pending under another name"
                )
            }
        }
    }
}

impl std::error::Error for BroadcastError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BroadcastError::Decode(e) | BroadcastError::Encode(e) => Some(e),
            _ => None,
        }
    }
}
