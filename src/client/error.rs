//! The client's error type: everything a [`crate::client`] call can fail with.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::net::ConfigError;
use crate::proto::circuit::CircuitError;
use crate::proto::command::CommandError;
use crate::proto::dbr::DbrError;
use crate::proto::status::{eca_msg_no, ECA_CODES};
use crate::proto::text::escape_control;

/// Why a client call failed.
///
/// Variants say what the caller can do about it: retry later (`Disconnected`,
/// `Timeout`), fix the request (`InvalidName`, `NoReadAccess`, ...), or report
/// what the server said (`Server`). New variants may be added: match with
/// a wildcard arm.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum ClientError {
    /// An environment variable could not be parsed.
    Config(ConfigError),
    /// A socket operation failed (binding the search socket, connecting a circuit, ...).
    Io {
        /// What we were doing.
        context: &'static str,
        /// The OS error's kind, for callers that branch on it (the error
        /// itself is not `Clone`, so it is kept as its kind and text).
        kind: std::io::ErrorKind,
        /// The OS error, rendered.
        message: String,
    },
    /// The PV name is empty or longer than [`crate::proto::MAX_PV_NAME_LEN`] bytes.
    InvalidName(String),
    /// No server answered the search for `pv` (or the channel did not come back
    /// after a disconnect) within `timeout`.
    Timeout {
        /// The PV name.
        pv: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The server refused to create the channel (CREATE_CH_FAIL).
    CreateFailed {
        /// The PV name.
        pv: String,
    },
    /// The channel is not connected right now (its circuit was lost, or it was
    /// never connected); the context keeps searching for it.
    Disconnected {
        /// The PV name.
        pv: String,
    },
    /// The server does not grant read access on this channel.
    NoReadAccess {
        /// The PV name.
        pv: String,
    },
    /// The server does not grant write access on this channel.
    NoWriteAccess {
        /// The PV name.
        pv: String,
    },
    /// The server answered with a failing ECA status (in an ERROR response, or
    /// in the status field of a READ_NOTIFY / WRITE_NOTIFY / EVENT_ADD reply).
    Server {
        /// The PV name.
        pv: String,
        /// The raw ECA status code (message number << 3 | severity).
        status: u32,
        /// The server's message, or our description of the status.
        message: String,
    },
    /// A value could not be encoded (replies that cannot be decoded are
    /// [`ClientError::BadReply`], which names the PV).
    Dbr(DbrError),
    /// A command could not be encoded or decoded.
    Protocol(CommandError),
    /// The circuit state machine refused a command (a bug on one side, or a
    /// request on a channel that is going away).
    Circuit(CircuitError),
    /// The reply would exceed `EPICS_CA_MAX_ARRAY_BYTES`.
    TooLarge {
        /// The PV name.
        pv: String,
        /// Bytes the request would need.
        bytes: usize,
        /// The configured limit.
        limit: usize,
    },
    /// The context was closed.
    Closed,
    /// The circuit to `server` failed (protocol error, reset, echo timeout).
    CircuitLost {
        /// The server's address.
        server: SocketAddr,
    },
    /// A server answered the search for `pv`, but the circuit to it ended (or
    /// could not be opened) and no connection was made within the timeout.
    CircuitFailed {
        /// The PV name.
        pv: String,
        /// The server's TCP address.
        server: SocketAddr,
        /// Why the circuit ended, e.g. `protocol error: ...`.
        reason: String,
    },
    /// The server disconnected the channel (SERVER_DISCONN) and no connection
    /// was made again within the timeout.
    ServerDisconnected {
        /// The PV name.
        pv: String,
        /// The server's TCP address.
        server: SocketAddr,
    },
    /// A server answered the search and the circuit to it is open, but it did
    /// not answer the channel creation within the timeout.
    NoCreateReply {
        /// The PV name.
        pv: String,
        /// The server's TCP address.
        server: SocketAddr,
        /// How long we waited.
        timeout: Duration,
    },
    /// The server sent a reply larger than the request allows (see
    /// [`crate::proto::circuit::Oversized`]); the circuit was closed.
    OversizedReply {
        /// The PV name.
        pv: String,
        /// What was refused, e.g. `reply of 25000000 elements for a 1-element channel`.
        reason: String,
    },
    /// A reply for `pv` could not be decoded as the DBR type it announced.
    BadReply {
        /// The PV name.
        pv: String,
        /// The decoder's complaint.
        error: DbrError,
    },
    /// The channel was connected but the server did not answer a read
    /// within `timeout` ([`crate::client::Context::get_many`]).
    NoReply {
        /// The PV name.
        pv: String,
        /// How long we waited.
        timeout: Duration,
    },
}

impl fmt::Display for ClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ClientError::Config(e) => write!(f, "bad environment variable {e}"),
            ClientError::Io {
                context, message, ..
            } => write!(f, "{context}: {message}"),
            ClientError::InvalidName(name) => write!(f, "invalid PV name {name:?}"),
            ClientError::Timeout { pv, timeout } => {
                write!(
                    f,
                    "{pv}: no connection within {:.3} s",
                    timeout.as_secs_f64()
                )
            }
            ClientError::CreateFailed { pv } => write!(f, "{pv}: server refused to create channel"),
            ClientError::NoReply { pv, timeout } => write!(
                f,
                "{pv}: no reply to the read within {:.3} s",
                timeout.as_secs_f64()
            ),
            ClientError::Disconnected { pv } => write!(f, "{pv}: channel disconnected"),
            ClientError::NoReadAccess { pv } => write!(f, "{pv}: no read access"),
            ClientError::NoWriteAccess { pv } => write!(f, "{pv}: no write access"),
            ClientError::Server {
                pv,
                status,
                message,
            } => write!(
                f,
                "{pv}: server error (ECA status {status:#x}): {}",
                escape_control(message)
            ),
            ClientError::Dbr(e) => write!(f, "DBR error: {e}"),
            ClientError::Protocol(e) => write!(f, "protocol error: {e}"),
            ClientError::Circuit(e) => write!(f, "circuit error: {e}"),
            ClientError::TooLarge { pv, bytes, limit } => write!(
                f,
                "{pv}: {bytes} bytes exceed EPICS_CA_MAX_ARRAY_BYTES ({limit})"
            ),
            ClientError::Closed => f.write_str("client context closed"),
            ClientError::CircuitLost { server } => write!(f, "circuit to {server} lost"),
            ClientError::CircuitFailed { pv, server, reason } => {
                write!(
                    f,
                    "{pv}: circuit to {server} closed: {}",
                    escape_control(reason)
                )
            }
            ClientError::ServerDisconnected { pv, server } => {
                write!(f, "server {server} disconnected channel {pv}")
            }
            ClientError::NoCreateReply {
                pv,
                server,
                timeout,
            } => write!(
                f,
                "{pv}: server {server} did not answer the channel creation within {:.3} s",
                timeout.as_secs_f64()
            ),
            ClientError::OversizedReply { pv, reason } => write!(f, "{pv}: {reason}"),
            ClientError::BadReply { pv, error } => {
                write!(f, "{pv}: cannot decode the reply: {error}")
            }
        }
    }
}

impl std::error::Error for ClientError {
    /// The configuration, codec or state machine error a `Config`, `Dbr`,
    /// `Protocol`, `Circuit` or `BadReply` failure wraps.
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ClientError::Config(e) => Some(e),
            ClientError::BadReply { error, .. } => Some(error),
            ClientError::Dbr(e) => Some(e),
            ClientError::Protocol(e) => Some(e),
            ClientError::Circuit(e) => Some(e),
            _ => None,
        }
    }
}

impl From<DbrError> for ClientError {
    fn from(e: DbrError) -> Self {
        ClientError::Dbr(e)
    }
}

impl From<CommandError> for ClientError {
    fn from(e: CommandError) -> Self {
        ClientError::Protocol(e)
    }
}

impl ClientError {
    /// Wrap an I/O error with a note of what we were doing.
    pub(crate) fn io(context: &'static str, err: std::io::Error) -> Self {
        ClientError::Io {
            context,
            kind: err.kind(),
            message: err.to_string(),
        }
    }

    /// The kind of the I/O error this is, if it is one.
    pub fn io_kind(&self) -> Option<std::io::ErrorKind> {
        match self {
            ClientError::Io { kind, .. } => Some(*kind),
            _ => None,
        }
    }
}

pub(crate) use crate::proto::status::eca_is_success;

/// A short description of an ECA status code, for errors that arrive without
/// a server message: EPICS's message from [`crate::proto::status::ECA_CODES`]
/// with a lower-case first letter ("write access denied"), or "request failed"
/// for a message number the table does not know.
pub(crate) fn eca_description(status: u32) -> String {
    let Some(info) = ECA_CODES.get(eca_msg_no(status) as usize) else {
        return "request failed".to_string();
    };
    let mut chars = info.message.chars();
    match chars.next() {
        Some(first) => first.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn wrapped_errors_are_the_source() {
        let dbr = ClientError::Dbr(DbrError::BadType(999));
        let source = dbr.source().expect("a DBR error has its source");
        assert_eq!(source.to_string(), DbrError::BadType(999).to_string());
        assert!(ClientError::Closed.source().is_none());
    }

    #[test]
    fn io_errors_keep_their_kind() {
        let refused = std::io::Error::from(std::io::ErrorKind::ConnectionRefused);
        let err = ClientError::io("connecting", refused);
        assert_eq!(err.io_kind(), Some(std::io::ErrorKind::ConnectionRefused));
        assert!(err.to_string().starts_with("connecting: "), "{err}");
        assert_eq!(ClientError::Closed.io_kind(), None);
    }

    #[test]
    fn eca_descriptions_come_from_the_one_table() {
        use crate::proto::status::{ECA_BADCHID, ECA_NORDACCESS, ECA_NOWTACCESS};
        assert_eq!(eca_description(ECA_NOWTACCESS), "write access denied");
        assert_eq!(eca_description(ECA_NORDACCESS), "read access denied");
        assert_eq!(eca_description(ECA_BADCHID), "invalid channel identifier");
        assert_eq!(eca_description(200 << 3), "request failed");
    }
}
