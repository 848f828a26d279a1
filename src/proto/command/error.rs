//! Why bytes could not be turned into a [`super::Command`] (or a command into bytes).

use super::id;
use crate::proto::Direction;

/// Why bytes could not be turned into a [`super::Command`] (or a command into bytes).
///
/// `command` fields name the command (`"READ_NOTIFY"`) so that messages read well in logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum CommandError {
    /// The header's command id is not one EPICS defines.
    UnknownCommand(u16),
    /// The command id exists but cannot travel this way (e.g. a NOT_FOUND sent to a server).
    WrongDirection {
        /// Command id from the header.
        command: u16,
        /// The direction it was received in.
        direction: Direction,
    },
    /// The header announces (or the command would need) a payload above the allowed maximum.
    PayloadTooLarge {
        /// Payload bytes announced by the header or needed by the command.
        size: u64,
        /// The limit in force.
        max: u64,
    },
    /// A fixed-layout payload is shorter than its structure.
    Truncated {
        /// Command name, e.g. `"EVENT_ADD"`.
        command: &'static str,
        /// Bytes the structure needs.
        needed: usize,
        /// Bytes the payload has.
        got: usize,
    },
    /// The payload or a header field is malformed in some other way.
    BadPayload {
        /// Command name, e.g. `"ERROR"`.
        command: &'static str,
        /// What is wrong.
        reason: &'static str,
    },
    /// A `data_type` field holds a code that is not a DBR type (above 38).
    UnknownDbrType(u16),
    /// A string payload (PV, client or host name, error message) has no terminating NUL.
    UnterminatedString {
        /// Command name, e.g. `"SEARCH"`.
        command: &'static str,
    },
    /// A header field does not fit the command's field type (e.g. a version above 65535).
    FieldOutOfRange {
        /// Command name.
        command: &'static str,
        /// Field name.
        field: &'static str,
        /// The value found.
        value: u32,
    },
    /// A string to encode contains a NUL byte, which would end it early on the wire.
    InteriorNul {
        /// Command name.
        command: &'static str,
    },
}

impl std::fmt::Display for CommandError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CommandError::UnknownCommand(command) => {
                write!(f, "unknown CA command id {command} (0x{command:04x})")
            }
            CommandError::WrongDirection { command, direction } => {
                let name = id::name(*command).unwrap_or("?");
                let way = match direction {
                    Direction::Request => "client to server (request)",
                    Direction::Response => "server to client (response)",
                };
                write!(f, "CA command {name} ({command}) cannot travel {way}")
            }
            CommandError::PayloadTooLarge { size, max } => {
                write!(
                    f,
                    "payload of {size} bytes exceeds the limit of {max} bytes"
                )
            }
            CommandError::Truncated {
                command,
                needed,
                got,
            } => write!(
                f,
                "{command} payload too short: needs {needed} bytes, has {got}"
            ),
            CommandError::BadPayload { command, reason } => {
                write!(f, "malformed {command}: {reason}")
            }
            CommandError::UnknownDbrType(code) => {
                write!(f, "unknown DBR type code {code} (valid: 0..=38)")
            }
            CommandError::UnterminatedString { command } => {
                write!(f, "{command} string payload is not NUL-terminated")
            }
            CommandError::FieldOutOfRange {
                command,
                field,
                value,
            } => write!(f, "{command} field {field}={value} is out of range"),
            CommandError::InteriorNul { command } => {
                write!(f, "{command} string contains a NUL byte")
            }
        }
    }
}

impl std::error::Error for CommandError {}
