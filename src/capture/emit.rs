//! A captured [`Message`] as the live logging's per-command record.
//!
//! The record goes through [`crate::proto::trace::record`], the same `tracing` event with the
//! same fields the circuits and broadcasters emit, so the `log` module's handlers format it
//! (caproto text line or JSON) and its PV, address and role filters decide it, unchanged.
//! What differs for a capture: the record is told from the sender's side (`our_addr` is the
//! sender, `direction` is `send`, `role` is the sender's role), so the text line reads
//! `sender --->>> receiver`, `--log-role client` keeps requests and `--log-role server`
//! responses; and its time is the capture time (see [`crate::log::with_record_time`]).
//!
//! The command is decoded only when a handler formats the record: a record that a `--log-pv`
//! filter rejects costs the filter's string match and nothing more.

use std::fmt::{self, Write as _};

use super::{Message, PvRef, TransportKind};
use crate::proto::command::id;
use crate::proto::trace::{self, Flow, Target, Undecoded};

/// The `command` field of a captured message: decoded and displayed on demand.
struct Shown<'m, 'a>(&'m Message<'a>);

impl fmt::Display for Shown<'_, '_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0.command() {
            Ok(cmd) => fmt::Display::fmt(&cmd, f),
            Err(e) => write!(f, "{} ({e})", Undecoded(&self.0.header)),
        }
    }
}

/// The logger a message's record goes to.
pub fn target(m: &Message<'_>) -> Target {
    match m.transport {
        TransportKind::Tcp => Target::Circ,
        TransportKind::Udp => match m.header.command {
            id::SEARCH | id::NOT_FOUND => Target::Search,
            id::RSRV_IS_UP => Target::Beacon,
            _ => Target::Bcast,
        },
    }
}

/// Emits the DEBUG record of one captured message, stamped with its capture time.
#[inline]
pub fn emit(m: &Message<'_>) {
    if !trace::debug_enabled() {
        return;
    }
    let mut unknown = StackText::default();
    let pv = match &m.pv {
        PvRef::None => None,
        PvRef::Name(n) => Some(&**n),
        PvRef::Unknown(..) => {
            let _ = write!(unknown, "{}", m.pv);
            Some(unknown.as_str())
        }
    };
    crate::log::with_record_time(m.time.secs, m.time.nanos, || {
        trace::record_text(
            target(m),
            &m.from_text,
            &m.to_text,
            m.sender,
            Flow::Send,
            pv,
            m.bytes.len(),
            &Shown(m),
        )
    });
}

/// Room for an unknown-id PV text (`?subscriptionid=4294967295`) without allocating.
struct StackText {
    buf: [u8; 48],
    len: usize,
}

impl Default for StackText {
    fn default() -> Self {
        StackText {
            buf: [0; 48],
            len: 0,
        }
    }
}

impl StackText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).unwrap_or("?")
    }
}

impl fmt::Write for StackText {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let end = self.len + s.len();
        if end > self.buf.len() {
            return Err(fmt::Error);
        }
        self.buf[self.len..end].copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
