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

use std::cell::RefCell;
use std::fmt::{self, Write as _};
use std::rc::Rc;

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
    // With field filters (--log-pv, --log-addr, --log-role) set, most records of a busy
    // capture are often dropped: asking the filters first skips the `tracing` dispatch (and
    // its per-field visits) for those.
    if crate::log::field_filters_active() && !wanted_cached(m, pv) {
        return;
    }
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

/// Verdicts remembered per (PV, sender, target): the filters' answer is the same for every
/// message of a channel in one direction of a circuit.
const VERDICTS: usize = 256;

/// One remembered verdict. The `Rc`s it holds keep their addresses from being reused, so
/// comparing pointers is comparing the name and the circuit end.
struct Verdict {
    pv: Rc<str>,
    from: Rc<str>,
    sender: crate::proto::Role,
    target: Target,
    generation: u64,
    keep: bool,
}

thread_local! {
    static VERDICT_CACHE: RefCell<Vec<Option<Verdict>>> =
        RefCell::new((0..VERDICTS).map(|_| None).collect());
}

/// [`wanted`], remembered for messages that name their PV.
fn wanted_cached(m: &Message<'_>, pv: Option<&str>) -> bool {
    let PvRef::Name(name) = &m.pv else {
        return wanted(m, pv);
    };
    let generation = crate::log::filters_generation();
    let t = target(m);
    let slot = {
        let a = Rc::as_ptr(name) as *const u8 as usize;
        let b = Rc::as_ptr(&m.from_text) as *const u8 as usize;
        (a.wrapping_mul(0x9e37_79b9_7f4a_7c15) ^ b.rotate_left(17) ^ m.sender as usize)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15)
            >> (usize::BITS - VERDICTS.trailing_zeros())
    };
    let hit = VERDICT_CACHE.with(|c| {
        let c = c.borrow();
        c[slot].as_ref().and_then(|v| {
            (Rc::ptr_eq(&v.pv, name)
                && Rc::ptr_eq(&v.from, &m.from_text)
                && v.sender == m.sender
                && v.target == t
                && v.generation == generation)
                .then_some(v.keep)
        })
    });
    if let Some(keep) = hit {
        return keep;
    }
    let keep = wanted(m, pv);
    VERDICT_CACHE.with(|c| {
        c.borrow_mut()[slot] = Some(Verdict {
            pv: Rc::clone(name),
            from: Rc::clone(&m.from_text),
            sender: m.sender,
            target: t,
            generation,
            keep,
        })
    });
    keep
}

/// Whether any handler keeps this message's record.
fn wanted(m: &Message<'_>, pv: Option<&str>) -> bool {
    crate::log::record_wanted(&crate::log::Probe {
        target: target(m).as_str(),
        level: tracing::Level::DEBUG,
        pv,
        our_addr: m.from,
        their_addr: m.to,
        role: m.sender,
    })
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
