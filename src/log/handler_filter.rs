//! The per-layer `Filter` of one handler: its level plus caproto field filters (AND).
//!
//! Levels are decided from metadata alone (cached per callsite); the PV/address/role checks need
//! field values, which tracing only shows in `event_enabled`. Whenever a field check could reject
//! a record at some callsite, that callsite's interest is reported as "sometimes" so the check is
//! asked per record (pitfall 2 in LOGGING-NOTES).

use std::fmt;
use std::net::SocketAddr;

use tracing::field::{Field, Visit};
use tracing::level_filters::LevelFilter;
use tracing::subscriber::Interest;
use tracing::{Event, Metadata};
use tracing_subscriber::layer::{Context, Filter};

use super::filter::{FieldFilter, SeenFields};
use super::stackbuf::StackBuf;
use super::MAX_FILTERS;
use crate::proto::Role;

/// Targets whose records follow the handler level; all others are capped at [`FOREIGN_CAP`].
/// A string prefix, so the binaries' own targets (`caproto_get`, ...) count as ours.
const OUR_PREFIX: &str = "caproto";

/// The most verbose level shown for targets outside this crate (dependencies), so `-vvv` does
/// not drown CA traffic in other libraries' internals.
pub const FOREIGN_CAP: LevelFilter = LevelFilter::WARN;

/// Level and filters of one handler slot. An inactive slot rejects everything.
#[derive(Clone, Debug)]
pub(crate) struct HandlerFilter {
    pub active: bool,
    pub level: LevelFilter,
    pub filters: Vec<FieldFilter>,
}

impl HandlerFilter {
    /// The filter of an unused slot.
    pub fn inactive() -> Self {
        HandlerFilter {
            active: false,
            level: LevelFilter::OFF,
            filters: Vec::new(),
        }
    }

    fn level_for(&self, target: &str) -> LevelFilter {
        if target.starts_with(OUR_PREFIX) {
            self.level
        } else {
            self.level.min(FOREIGN_CAP)
        }
    }

    fn level_enabled(&self, meta: &Metadata<'_>) -> bool {
        self.active && *meta.level() <= self.level_for(meta.target()).min(super::disable::ceiling())
    }

    /// True if some filter may reject a record at this level (it is below a barrier).
    fn needs_fields(&self, meta: &Metadata<'_>) -> bool {
        meta.is_event()
            && self
                .filters
                .iter()
                .any(|f| !f.gate().passes_by_level(meta.level()))
    }

    /// Runs the field filters on one event. Public to the crate for tests and benchmarks.
    pub fn check_event(&self, event: &Event<'_>) -> bool {
        let level = event.metadata().level();
        if !self
            .filters
            .iter()
            .any(|f| !f.gate().passes_by_level(level))
        {
            return true;
        }
        let mut v = FilterVisitor {
            filters: &self.filters,
            seen: SeenFields::default(),
            pv_matches: 0,
            want_addr: self
                .filters
                .iter()
                .any(|f| matches!(f, FieldFilter::Address(_))),
            want_role: self
                .filters
                .iter()
                .any(|f| matches!(f, FieldFilter::Role(_))),
        };
        event.record(&mut v);
        self.filters.iter().enumerate().all(|(i, f)| {
            f.gate().passes_by_level(level)
                || f.decide(
                    event.metadata().target(),
                    &v.seen,
                    v.pv_matches & (1 << i) != 0,
                )
        })
    }
}

/// The fields of a record that is not built yet, for [`crate::log::record_wanted`]: a
/// producer of records in bulk (caproto-shark) asks whether any handler would keep one before
/// paying for the `tracing` dispatch.
#[derive(Debug, Clone, Copy)]
pub struct Probe<'a> {
    /// The record's target (`caproto::circ`, ...).
    pub target: &'a str,
    /// Its level.
    pub level: tracing::Level,
    /// Its `pv` field, if it has one.
    pub pv: Option<&'a str>,
    /// Its `our_addr` field.
    pub our_addr: SocketAddr,
    /// Its `their_addr` field.
    pub their_addr: SocketAddr,
    /// Its `role` field.
    pub role: Role,
}

impl HandlerFilter {
    /// Whether this handler keeps a record with the probe's fields: the level test of
    /// `enabled` and the field filters of [`HandlerFilter::check_event`], without an event.
    pub fn accepts(&self, p: &Probe<'_>) -> bool {
        if !self.active || p.level > self.level_for(p.target).min(super::disable::ceiling()) {
            return false;
        }
        let seen = SeenFields {
            pv_present: p.pv.is_some(),
            our_addr: Some(p.our_addr),
            their_addr: Some(p.their_addr),
            addr_unparsed: false,
            role_present: true,
            role: Some(p.role),
        };
        self.filters.iter().all(|f| {
            if f.gate().passes_by_level(&p.level) {
                return true;
            }
            let pv_match = match (f, p.pv) {
                (FieldFilter::Pv(pf), Some(pv)) => pf.matches(pv),
                _ => false,
            };
            f.decide(p.target, &seen, pv_match)
        })
    }

    /// Whether any field filter is set.
    pub fn has_field_filters(&self) -> bool {
        self.active && !self.filters.is_empty()
    }
}

impl<S> Filter<S> for HandlerFilter {
    fn enabled(&self, meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        self.level_enabled(meta)
    }

    fn callsite_enabled(&self, meta: &'static Metadata<'static>) -> Interest {
        if !self.level_enabled(meta) {
            Interest::never()
        } else if self.needs_fields(meta) {
            Interest::sometimes()
        } else {
            Interest::always()
        }
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        self.check_event(event)
    }

    fn max_level_hint(&self) -> Option<LevelFilter> {
        Some(if self.active {
            self.level.min(super::disable::ceiling())
        } else {
            LevelFilter::OFF
        })
    }
}

/// Collects just what the filters need, matching PV names while the borrowed `&str` is in hand.
struct FilterVisitor<'a> {
    filters: &'a [FieldFilter],
    seen: SeenFields,
    /// Bit `i` set: filter `i` is a PV filter matching this record's PV.
    pv_matches: u64,
    /// Whether any filter looks at addresses / the role (formatting them costs, so skip it).
    want_addr: bool,
    want_role: bool,
}

const _: () = assert!(MAX_FILTERS <= 64, "pv_matches is a u64 bitmask");

impl FilterVisitor<'_> {
    fn pv(&mut self, pv: &str) {
        self.seen.pv_present = true;
        for (i, f) in self.filters.iter().enumerate() {
            if let FieldFilter::Pv(p) = f {
                if p.matches(pv) {
                    self.pv_matches |= 1 << i;
                }
            }
        }
    }

    fn addr(&mut self, name: &str, text: Option<&str>) {
        let parsed = text.and_then(|t| t.parse::<SocketAddr>().ok());
        if parsed.is_none() {
            self.seen.addr_unparsed = true;
        }
        match name {
            "our_addr" => self.seen.our_addr = parsed,
            _ => self.seen.their_addr = parsed,
        }
    }

    fn role(&mut self, text: &str) {
        self.seen.role_present = true;
        self.seen.role = Role::from_field(text);
    }
}

impl Visit for FilterVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "pv" => self.pv(value),
            n @ ("our_addr" | "their_addr") if self.want_addr => self.addr(n, Some(value)),
            "role" if self.want_role => self.role(value),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            // `%` and `?` values reach us here. Addresses always fit 64 bytes; PV names
            // longer than the stack buffer are formatted on the heap (rare).
            "pv" => match StackBuf::<256>::debug_of(value) {
                Some(b) => self.pv(b.as_str()),
                None => self.pv(&format!("{value:?}")),
            },
            n @ ("our_addr" | "their_addr") if self.want_addr => {
                let b = StackBuf::<64>::debug_of(value);
                self.addr(n, b.as_ref().map(StackBuf::as_str))
            }
            "role" if self.want_role => {
                let b = StackBuf::<16>::debug_of(value);
                self.seen.role_present = true;
                self.seen.role = b.and_then(|b| Role::from_field(b.as_str()));
            }
            // Everything else (notably `command`) is never formatted here.
            _ => {}
        }
    }
}
