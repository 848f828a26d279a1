//! The one error type of the logging module.

use std::fmt;
use std::path::PathBuf;

/// Everything that can go wrong while configuring logging.
///
/// Logging never fails *after* start-up: write errors at run time (closed pipe, full disk) stop
/// the affected destination instead of surfacing here.
#[derive(Debug)]
#[non_exhaustive]
pub enum LogError {
    /// The log file could not be opened for appending.
    OpenFile {
        /// The path as given by the user.
        path: PathBuf,
        /// The operating-system error.
        source: std::io::Error,
    },
    /// Another global `tracing` subscriber was installed before ours, so our handlers can never
    /// receive records.
    ForeignSubscriber,
    /// All handler slots are in use (see [`crate::log::MAX_HANDLERS`]).
    NoFreeSlot,
    /// The handler was removed or replaced by a later configuration call.
    HandlerGone,
    /// A handler carries at most [`crate::log::MAX_FILTERS`] filters.
    TooManyFilters,
    /// A level name that is none of trace, debug, info, warn(ing), error, critical, off.
    InvalidLevel(String),
    /// A `strftime`-style date format with an unknown or malformed `%` specifier.
    InvalidDateFormat(String),
    /// An address filter entry that is neither `HOST` nor `HOST:PORT`, or whose host does not
    /// resolve.
    InvalidAddress {
        /// The text as given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A role that is neither `client` nor `server`.
    InvalidRole(String),
    /// A PV pattern that is empty.
    InvalidPvPattern(String),
    /// A shipping destination that is not `tcp://HOST:PORT`, `syslog://HOST:PORT`,
    /// `syslog+udp://HOST:PORT` or `unixgram:///PATH` (or carries an unknown option).
    InvalidShipUrl {
        /// The text as given.
        input: String,
        /// Why it was rejected.
        reason: String,
    },
    /// The background writer thread of a shipping handler could not be started.
    StartShipper(std::io::Error),
}

impl fmt::Display for LogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LogError::OpenFile { path, source } => {
                write!(f, "cannot open log file {}: {source}", path.display())
            }
            LogError::ForeignSubscriber => {
                f.write_str("another global tracing subscriber is already installed")
            }
            LogError::NoFreeSlot => write!(
                f,
                "all {} log handler slots are in use",
                crate::log::MAX_HANDLERS
            ),
            LogError::HandlerGone => f.write_str("this log handler was removed or replaced"),
            LogError::TooManyFilters => write!(
                f,
                "a log handler carries at most {} filters",
                crate::log::MAX_FILTERS
            ),
            LogError::InvalidLevel(s) => write!(
                f,
                "invalid log level {s:?} (expected trace, debug, info, warning, error or off)"
            ),
            LogError::InvalidDateFormat(s) => write!(f, "invalid date format {s:?}"),
            LogError::InvalidAddress { input, reason } => {
                write!(f, "invalid address {input:?}: {reason}")
            }
            LogError::InvalidRole(s) => {
                write!(f, "invalid role {s:?} (expected client or server)")
            }
            LogError::InvalidPvPattern(s) => write!(f, "invalid PV pattern {s:?}"),
            LogError::InvalidShipUrl { input, reason } => {
                write!(f, "invalid log shipping destination {input:?}: {reason}")
            }
            LogError::StartShipper(e) => write!(f, "cannot start the log shipping thread: {e}"),
        }
    }
}

impl std::error::Error for LogError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            LogError::OpenFile { source, .. } => Some(source),
            LogError::StartShipper(e) => Some(e),
            _ => None,
        }
    }
}
