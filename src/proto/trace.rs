//! The per-command log records of the logging contract, emitted in one place.
//!
//! Every command that the [`circuit`](super::circuit) or
//! [`broadcaster`](super::broadcaster) state machines send or receive produces
//! exactly one `tracing` DEBUG event through [`command`], with the fields
//! `pv` (only when known), `our_addr`, `their_addr` (both `%`), `direction`
//! (`"send"`/`"recv"`), `role` (`"client"`/`"server"`), `bytes` (wire size)
//! and `command` (the command's caproto-style `Display`, recorded with `%` so
//! it is formatted only if a subscriber actually records the event).

use std::fmt;
use std::net::SocketAddr;

use super::{Command, Role};

/// Which logger (tracing target) a record goes to, mirroring caproto's loggers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Target {
    /// `caproto::circ`: commands on a TCP virtual circuit.
    Circ,
    /// `caproto::bcast::search`: UDP search requests and replies.
    Search,
    /// `caproto::bcast::beacon`: UDP beacons.
    Beacon,
    /// `caproto::bcast`: other UDP commands (version, repeater messages).
    Bcast,
}

impl Target {
    /// The tracing target string.
    pub fn as_str(self) -> &'static str {
        match self {
            Target::Circ => "caproto::circ",
            Target::Search => "caproto::bcast::search",
            Target::Beacon => "caproto::bcast::beacon",
            Target::Bcast => "caproto::bcast",
        }
    }

    /// The UDP target a command belongs to (search commands, beacons, the rest).
    pub fn for_datagram(cmd: &Command) -> Target {
        match cmd {
            Command::SearchRequest { .. }
            | Command::SearchResponse { .. }
            | Command::NotFoundResponse { .. } => Target::Search,
            Command::Beacon { .. } => Target::Beacon,
            _ => Target::Bcast,
        }
    }
}

/// Whether we sent or received the command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Flow {
    /// We wrote it (`direction = "send"`, rendered `--->>>`).
    Send,
    /// We read it (`direction = "recv"`, rendered `<<<---`).
    Recv,
}

impl Flow {
    /// The `direction` field value.
    pub fn as_str(self) -> &'static str {
        match self {
            Flow::Send => "send",
            Flow::Recv => "recv",
        }
    }
}

/// Where a record comes from: the endpoint pair and our role.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Endpoints {
    /// Our socket address.
    pub our_addr: SocketAddr,
    /// The peer's socket address.
    pub their_addr: SocketAddr,
    /// Our role.
    pub role: Role,
}

/// Lazily displays a command; formatting runs only when a subscriber records
/// the `command` field.
struct Shown<'a>(&'a Command);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Until the codec branch gives `Command` its caproto-style Display.
        fmt::Debug::fmt(self.0, f)
    }
}

/// Whether any subscriber may want a DEBUG record for `target`; lets callers skip
/// preparing the `pv` field when nobody listens.
#[inline]
pub fn enabled(target: Target) -> bool {
    match target {
        Target::Circ => tracing::enabled!(target: "caproto::circ", tracing::Level::DEBUG),
        Target::Search => {
            tracing::enabled!(target: "caproto::bcast::search", tracing::Level::DEBUG)
        }
        Target::Beacon => {
            tracing::enabled!(target: "caproto::bcast::beacon", tracing::Level::DEBUG)
        }
        Target::Bcast => tracing::enabled!(target: "caproto::bcast", tracing::Level::DEBUG),
    }
}

/// Emit the one DEBUG record for one command sent or received.
///
/// `pv` is recorded only when `Some`; `bytes` is the command's wire size.
#[inline]
pub fn command(
    target: Target,
    ends: &Endpoints,
    flow: Flow,
    pv: Option<&str>,
    bytes: usize,
    cmd: &Command,
) {
    // One callsite per target: tracing targets must be constants.
    macro_rules! emit {
        ($target:literal) => {
            tracing::debug!(
                target: $target,
                pv = pv,
                our_addr = %ends.our_addr,
                their_addr = %ends.their_addr,
                direction = flow.as_str(),
                role = ends.role.as_str(),
                bytes = bytes as u64,
                command = %Shown(cmd),
            )
        };
    }
    match target {
        Target::Circ => emit!("caproto::circ"),
        Target::Search => emit!("caproto::bcast::search"),
        Target::Beacon => emit!("caproto::bcast::beacon"),
        Target::Bcast => emit!("caproto::bcast"),
    }
}
