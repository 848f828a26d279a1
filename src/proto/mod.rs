//! The sans-I/O Channel Access protocol core.
//!
//! Nothing in here opens a socket, reads a clock or sleeps: callers hand in
//! bytes and get typed values out, and hand in typed values to get bytes out.
//! The async [`crate::client`] and [`crate::server`] are shells over it, in the
//! manner of quinn-proto under quinn.

pub mod broadcaster;
pub mod calc;
pub mod circuit;
pub mod command;
pub mod dbr;
pub mod header;
pub mod ids;
pub mod status;
pub mod text;
pub mod trace;

/// Default CA server (TCP and UDP search) port, used when `EPICS_CA_SERVER_PORT` is unset.
pub const DEFAULT_SERVER_PORT: u16 = 5064;
/// Default CA repeater port, used when `EPICS_CA_REPEATER_PORT` is unset.
pub const DEFAULT_REPEATER_PORT: u16 = 5065;
/// The minor protocol version this implementation speaks (EPICS base 3.14+ / 7 speak 13).
pub const PROTOCOL_VERSION: u16 = 13;
/// Maximum length of a PV name in bytes, not counting the terminating NUL.
pub const MAX_PV_NAME_LEN: usize = 1023;
/// Default `EPICS_CA_MAX_ARRAY_BYTES` of EPICS base.
pub const DEFAULT_MAX_ARRAY_BYTES: usize = 16384;

/// Which way a command travels relative to us. Requests go client -> server,
/// responses server -> client; the same command id can mean different things
/// in each direction, so decoding needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Client to server.
    Request,
    /// Server to client.
    Response,
}

/// Which end of the conversation we are. Recorded in every log record so that
/// a process acting as both (tests, gateways) can filter one side.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    /// We initiated the circuit / sent the search.
    Client,
    /// We host the PVs.
    Server,
}

impl Role {
    /// The direction of commands that this role *sends*.
    pub fn outgoing(self) -> Direction {
        match self {
            Role::Client => Direction::Request,
            Role::Server => Direction::Response,
        }
    }

    /// The direction of commands that this role *receives*.
    pub fn incoming(self) -> Direction {
        match self {
            Role::Client => Direction::Response,
            Role::Server => Direction::Request,
        }
    }

    /// Lower-case name as used by `--log-role` and in JSON log records.
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Client => "client",
            Role::Server => "server",
        }
    }

    /// Parses a recorded `role` field value; case-insensitive so caproto's
    /// `CLIENT` works too.
    pub fn from_field(value: &str) -> Option<Role> {
        if value.eq_ignore_ascii_case(Role::Client.as_str()) {
            Some(Role::Client)
        } else if value.eq_ignore_ascii_case(Role::Server.as_str()) {
            Some(Role::Server)
        } else {
            None
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Role::Client => "CLIENT",
            Role::Server => "SERVER",
        })
    }
}

/// Round `n` up to the next multiple of 8, the alignment every CA payload keeps.
pub const fn padded_len(n: usize) -> usize {
    (n + 7) & !7
}
