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

use super::command::Command;
use super::header::Header;
use super::Role;

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

/// Displays the command its function builds, built only when a subscriber
/// records the `command` field: for a sender that encodes from borrowed
/// parts and holds no [`Command`] (its text is the command's own).
pub(crate) struct Built<F>(pub F);

impl<F: Fn() -> Command> fmt::Display for Built<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&(self.0)(), f)
    }
}

/// Lazily displays a command; formatting runs only when a subscriber records
/// the `command` field.
struct Shown<'a>(&'a Command);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Until the codec branch gives `Command` its caproto-style Display.
        fmt::Display::fmt(self.0, f)
    }
}

/// Whether a per-command DEBUG record can be wanted at all; lets callers
/// skip preparing the `pv` field when logging is below DEBUG.
///
/// Only the global maximum level is consulted (a compare against a static
/// and an atomic), not the subscriber: asking the subscriber here and again
/// in the event itself made every per-command record run the handlers'
/// level and target checks twice, which was a third of the cost of a
/// record that a `--log-pv` filter then rejects. With DEBUG on somewhere,
/// the price of the shortcut is one table lookup for the PV name.
#[inline]
pub fn debug_enabled() -> bool {
    tracing::level_enabled!(tracing::Level::DEBUG)
}

/// One DEBUG record with the contract's fields; `$shown` is what the
/// `command` field displays. One callsite per target: tracing targets must be
/// constants.
macro_rules! emit_record {
    ($target:literal, $ends:expr, $flow:expr, $pv:expr, $bytes:expr, $shown:expr) => {
        tracing::debug!(
            target: $target,
            pv = $pv,
            our_addr = %$ends.our_addr,
            their_addr = %$ends.their_addr,
            direction = $flow.as_str(),
            role = $ends.role.as_str(),
            bytes = $bytes as u64,
            command = %$shown,
        )
    };
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
    record(target, ends, flow, pv, bytes, &Shown(cmd));
}

/// Emit the one DEBUG record for a command whose `command` field is any `Display`: for
/// callers that hold a command's bytes rather than a decoded [`Command`] (the capture
/// decoder), so decoding happens only when a subscriber records the field.
#[inline]
pub fn record(
    target: Target,
    ends: &Endpoints,
    flow: Flow,
    pv: Option<&str>,
    bytes: usize,
    shown: &dyn fmt::Display,
) {
    match target {
        Target::Circ => emit_record!("caproto::circ", ends, flow, pv, bytes, shown),
        Target::Search => emit_record!("caproto::bcast::search", ends, flow, pv, bytes, shown),
        Target::Beacon => emit_record!("caproto::bcast::beacon", ends, flow, pv, bytes, shown),
        Target::Bcast => emit_record!("caproto::bcast", ends, flow, pv, bytes, shown),
    }
}

/// [`record`] with the addresses already formatted: the capture decoder formats each flow's
/// two addresses once instead of once per record (formatting them was a sixth of the cost of
/// a printed record). Same target, fields and values as [`record`].
#[inline]
#[allow(clippy::too_many_arguments)]
pub fn record_text(
    target: Target,
    our_addr: &str,
    their_addr: &str,
    role: Role,
    flow: Flow,
    pv: Option<&str>,
    bytes: usize,
    shown: &dyn fmt::Display,
) {
    macro_rules! emit_text {
        ($target:literal) => {
            tracing::debug!(
                target: $target,
                pv = pv,
                our_addr = our_addr,
                their_addr = their_addr,
                direction = flow.as_str(),
                role = role.as_str(),
                bytes = bytes as u64,
                command = %shown,
            )
        };
    }
    match target {
        Target::Circ => emit_text!("caproto::circ"),
        Target::Search => emit_text!("caproto::bcast::search"),
        Target::Beacon => emit_text!("caproto::bcast::beacon"),
        Target::Bcast => emit_text!("caproto::bcast"),
    }
}

/// Displays a message by its raw header fields, for one that is well framed
/// but not a command we can decode.
pub struct Undecoded<'a>(pub &'a Header);

impl fmt::Display for Undecoded<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let h = self.0;
        write!(
            f,
            "Undecoded(command={}, payload_size={}, data_type={}, data_count={}, \
             parameter1={}, parameter2={})",
            h.command, h.payload_size, h.data_type, h.data_count, h.parameter1, h.parameter2
        )
    }
}

/// Emit the one DEBUG record (target `caproto::bcast`) for a datagram message
/// that is well framed but does not decode as a command (unknown id, bad
/// payload), e.g. one a repeater relays unchanged. `command` shows its raw
/// header: `Undecoded(command=99, payload_size=0, ...)`.
#[inline]
pub fn undecoded(ends: &Endpoints, flow: Flow, bytes: usize, header: &Header) {
    let pv: Option<&str> = None;
    emit_record!("caproto::bcast", ends, flow, pv, bytes, Undecoded(header));
}
