//! Error types at the server's boundaries and the ECA status codes it sends.
//!
//! A put hook rejects a write with a [`PutError`], which carries the ECA code
//! the client sees; binding and configuration problems are [`ServerError`]s.

use std::fmt;
use std::net::SocketAddr;

/// The ECA status codes the server puts in replies and ERROR messages, under
/// short names; the one table of codes is [`crate::proto::status`].
pub(crate) mod eca {
    pub use crate::proto::status::{
        ECA_ADDFAIL as ADDFAIL, ECA_BADCHID as BADCHID, ECA_BADCOUNT as BADCOUNT,
        ECA_BADMASK as BADMASK, ECA_BADTYPE as BADTYPE, ECA_GETFAIL as GETFAIL,
        ECA_INTERNAL as INTERNAL, ECA_NOCONVERT as NOCONVERT, ECA_NORDACCESS as NORDACCESS,
        ECA_NORMAL as NORMAL, ECA_NOSUPPORT as NOSUPPORT, ECA_NOWTACCESS as NOWTACCESS,
        ECA_PUTFAIL as PUTFAIL,
    };
}

/// Why a write to a PV was refused. Each kind maps to the ECA code the
/// client receives (see [`PutError::eca`]).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum PutError {
    /// The PV is read-only (`ECA_NOWTACCESS`).
    ReadOnly,
    /// Access security gives this client no write access (`ECA_NOWTACCESS`).
    AccessDenied,
    /// The value cannot be converted to the PV's type (`ECA_NOCONVERT`).
    NoConvert(String),
    /// The value is out of the range the PV accepts (`ECA_PUTFAIL`).
    OutOfRange(String),
    /// The put hook refused the value for another reason (`ECA_PUTFAIL`).
    Rejected(String),
    /// A specific ECA code chosen by the hook, with a message.
    Status(u32, String),
}

impl PutError {
    /// The ECA status code sent to the client.
    pub fn eca(&self) -> u32 {
        match self {
            PutError::ReadOnly | PutError::AccessDenied => eca::NOWTACCESS,
            PutError::NoConvert(_) => eca::NOCONVERT,
            PutError::OutOfRange(_) | PutError::Rejected(_) => eca::PUTFAIL,
            PutError::Status(code, _) => *code,
        }
    }
}

impl fmt::Display for PutError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PutError::ReadOnly => f.write_str("write access denied (read-only PV)"),
            PutError::AccessDenied => f.write_str("write access denied by access security"),
            PutError::NoConvert(m) => write!(f, "no conversion: {m}"),
            PutError::OutOfRange(m) => write!(f, "out of range: {m}"),
            PutError::Rejected(m) => write!(f, "put rejected: {m}"),
            PutError::Status(code, m) => write!(f, "put failed (ECA {code}): {m}"),
        }
    }
}

impl std::error::Error for PutError {}

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum ServerError {
    /// A socket could not be bound.
    Bind {
        /// What we tried to bind.
        addr: SocketAddr,
        /// Whether it was the TCP listener or the UDP search socket.
        what: &'static str,
        /// The OS error.
        source: std::io::Error,
    },
    /// Another socket-level failure (option setting, local address lookup).
    Io(std::io::Error),
    /// The configuration is invalid.
    Config(crate::net::ConfigError),
    /// Two PVs with one name were added to a database.
    DuplicatePv(String),
}

impl fmt::Display for ServerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServerError::Bind { addr, what, source } => {
                write!(f, "could not bind {what} socket to {addr}: {source}")
            }
            ServerError::Io(e) => write!(f, "socket error: {e}"),
            ServerError::Config(e) => write!(f, "configuration error: {e}"),
            ServerError::DuplicatePv(name) => write!(f, "PV {name:?} is defined twice"),
        }
    }
}

impl std::error::Error for ServerError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            ServerError::Bind { source, .. } => Some(source),
            ServerError::Io(e) => Some(e),
            ServerError::Config(e) => Some(e),
            ServerError::DuplicatePv(_) => None,
        }
    }
}

impl From<std::io::Error> for ServerError {
    fn from(e: std::io::Error) -> Self {
        ServerError::Io(e)
    }
}

impl From<crate::net::ConfigError> for ServerError {
    fn from(e: crate::net::ConfigError) -> Self {
        ServerError::Config(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eca_codes_follow_caerr_h() {
        // code << 3 | severity, severities WARNING=0, SUCCESS=1, ERROR=2, FATAL=6.
        assert_eq!(eca::NORMAL, 1);
        assert_eq!(eca::BADTYPE, (14 << 3) | 2);
        assert_eq!(eca::BADCOUNT, 22 << 3);
        assert_eq!(eca::PUTFAIL, 20 << 3);
        assert_eq!(eca::NOWTACCESS, 47 << 3);
        assert_eq!(eca::NORDACCESS, 46 << 3);
        assert_eq!(eca::BADCHID, (51 << 3) | 2);
        assert_eq!(eca::NOCONVERT, 50 << 3);
        assert_eq!(eca::INTERNAL, (17 << 3) | 6);
        assert_eq!(PutError::ReadOnly.eca(), eca::NOWTACCESS);
    }
}
