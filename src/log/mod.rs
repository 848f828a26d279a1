//! Logging in caproto's model, on `tracing`.
//!
//! The protocol core emits one DEBUG event per CA command (targets `caproto::circ`,
//! `caproto::bcast::*`, ...; fields `pv`, `our_addr`, `their_addr`, `direction`, `role`,
//! `bytes`, `command`). This module decides who sees them:
//!
//! * a **handler** is a destination (stderr, a file, any writer) with its own level, format
//!   (caproto's text line or JSON lines) and filters. [`config_logging`] sets up the global
//!   handler and replaces the previous one; [`add_handler`] adds more; [`get_handler`] returns the
//!   global one later so filters can be added at run time ([`Handler::add_filter`]).
//! * **filters** ([`PvFilter`], [`AddressFilter`], [`RoleFilter`], and [`TargetFilter`] on the
//!   record's target, e.g. `caproto::putlog` for put logs) look at field values, have a
//!   barrier level above which everything passes, an `exclusive` switch, and compose with AND.
//!   They sit on handlers only, never on the global level, so one handler's filter cannot hide
//!   records from another.
//! * a **shipping handler** ([`LogConfig::ship`]) sends records to a collector (JSON lines over
//!   TCP, or RFC 5424 syslog over TCP, UDP or a Unix datagram socket) through a bounded queue
//!   and a background thread, so logging never waits for the network.
//!
//! The command-line tools set this up from their logging flags (the hidden
//! `cli::args::LogArgs`) instead of calling it directly.
//!
//! Cost: a record below every handler's level is rejected by tracing's static max level (a
//! couple of ns); a record rejected by a PV filter is decided on borrowed `&str`s without
//! formatting the command. Accepted records are formatted into per-thread buffers and written
//! whole, unbuffered, so nothing is lost at exit.

mod config;
mod disable;
mod error;
pub(crate) mod fields;
mod file;
mod filter;
pub(crate) mod glob;
mod global;
mod guard;
mod handler;
mod handler_filter;
pub(crate) mod json;
mod layer;
mod level;
mod record;
mod ship;
mod sighup;
mod sink;
mod stackbuf;
mod syslog;
mod target_filter;
mod text;
mod time;

pub use config::{ColorMode, Format, LogConfig};
pub use disable::{disable, enable_all};
pub use error::LogError;
pub use file::Rotation;
pub use filter::{AddressFilter, AddressSpec, FieldFilter, Gate, PvFilter, RoleFilter};
pub(crate) use global::ship_report;
pub use global::{
    add_handler, config_logging, field_filters_active, filters_generation, finish, flush,
    get_handler, record_wanted, reopen_files,
};
pub use guard::LogGuard;
pub use handler::Handler;
pub use handler_filter::{Probe, FOREIGN_CAP};
pub use layer::with_record_time;
pub use level::{parse_level, verbosity_level};
pub use ship::{
    Endpoint, ShipProtocol, ShipStats, ShipTarget, DEFAULT_FLUSH_TIMEOUT, DEFAULT_QUEUE_CAPACITY,
};
pub use sighup::reopen_on_sighup;
pub use sink::{Destination, SharedWriter};
pub use syslog::SD_ID as SYSLOG_SD_ID;
pub use target_filter::TargetFilter;
pub use time::DEFAULT_DATEFMT;

/// Number of handler slots created at start-up (handlers that can exist at once).
pub const MAX_HANDLERS: usize = 8;

/// Most filters one handler carries.
pub const MAX_FILTERS: usize = 16;

/// Compiles the examples in `docs/logging.md` as doc tests, so the user guide stays correct.
#[cfg(doctest)]
#[doc = include_str!("../../docs/logging.md")]
pub struct LoggingGuide;
