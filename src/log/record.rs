//! The fields of one accepted record, collected once and shared by the text and JSON formats.
//!
//! The buffers live in a thread-local and are cleared, not freed, between records, so steady
//! state formatting does not allocate.

use std::fmt::{self, Write as _};
use std::ops::Range;

use tracing::field::{Field, Visit};

/// Kind of an extra (non-contract) field value, so JSON can keep numbers and booleans typed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ValueKind {
    /// Text to be quoted in JSON.
    Text,
    /// A number or boolean, emitted bare in JSON.
    Bare,
}

/// Contract fields plus any others, as text.
#[derive(Default, Debug)]
pub(crate) struct RecordFields {
    pub message: String,
    pub pv: String,
    pub has_pv: bool,
    pub our_addr: String,
    pub their_addr: String,
    pub direction: String,
    pub role: String,
    pub command: String,
    pub has_command: bool,
    pub bytes: Option<u64>,
    /// Extra field values, concatenated; `extras` holds slices into it.
    pub extra_text: String,
    pub extras: Vec<(&'static str, Range<usize>, ValueKind)>,
}

impl RecordFields {
    /// Empties every buffer, keeping capacity.
    pub fn clear(&mut self) {
        self.message.clear();
        self.pv.clear();
        self.has_pv = false;
        self.our_addr.clear();
        self.their_addr.clear();
        self.direction.clear();
        self.role.clear();
        self.command.clear();
        self.has_command = false;
        self.bytes = None;
        self.extra_text.clear();
        self.extras.clear();
    }

    /// Iterates the extra fields as (name, value text, kind).
    pub fn extras(&self) -> impl Iterator<Item = (&'static str, &str, ValueKind)> {
        self.extras
            .iter()
            .map(|(n, r, k)| (*n, &self.extra_text[r.clone()], *k))
    }

    fn slot(&mut self, name: &'static str) -> Option<&mut String> {
        Some(match name {
            "message" => &mut self.message,
            "pv" => {
                self.has_pv = true;
                &mut self.pv
            }
            "our_addr" => &mut self.our_addr,
            "their_addr" => &mut self.their_addr,
            "direction" => &mut self.direction,
            "role" => &mut self.role,
            "command" => {
                self.has_command = true;
                &mut self.command
            }
            _ => return None,
        })
    }

    fn extra(&mut self, name: &'static str, kind: ValueKind, value: fmt::Arguments<'_>) {
        let start = self.extra_text.len();
        let _ = self.extra_text.write_fmt(value);
        let end = self.extra_text.len();
        self.extras.push((name, start..end, kind));
    }
}

impl Visit for RecordFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        match self.slot(field.name()) {
            Some(s) => s.push_str(value),
            None => self.extra(field.name(), ValueKind::Text, format_args!("{value}")),
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "bytes" {
            self.bytes = Some(value);
        } else {
            self.extra(field.name(), ValueKind::Bare, format_args!("{value}"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        match (field.name(), u64::try_from(value)) {
            ("bytes", Ok(v)) => self.bytes = Some(v),
            _ => self.extra(field.name(), ValueKind::Bare, format_args!("{value}")),
        }
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.extra(field.name(), ValueKind::Bare, format_args!("{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        if value.is_finite() {
            self.extra(field.name(), ValueKind::Bare, format_args!("{value}"));
        } else {
            self.extra(field.name(), ValueKind::Text, format_args!("{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match self.slot(field.name()) {
            Some(s) => {
                let _ = write!(s, "{value:?}");
            }
            None => self.extra(field.name(), ValueKind::Text, format_args!("{value:?}")),
        }
    }
}
