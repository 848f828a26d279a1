//! JSON lines: one object per record with the same fields as the text line, typed where the
//! contract says so (`bytes` and `line` are numbers).
//!
//! Keys: `time` (RFC 3339, local, ms), `capture_time` (decoded captures only), `level` (`TRACE`..`ERROR`), `target`, `module`, `line`,
//! then when present `our_addr`, `their_addr`, `direction`, `role`, `bytes`, `pv`, `message`,
//! `command`, and every other field under its own name.

use std::fmt::Write as _;

use tracing::Metadata;

use super::record::{RecordFields, ValueKind};
use super::text::module_name;

/// Appends one JSON object and a newline to `out`. `captured` (a capture's Unix time) adds
/// `capture_time` as seconds with microseconds.
pub(crate) fn write_line(
    out: &mut String,
    meta: &Metadata<'_>,
    time: &str,
    f: &RecordFields,
    captured: Option<(i64, u32)>,
) {
    out.push_str("{\"time\":");
    push_string(out, time);
    if let Some((secs, nanos)) = captured {
        let _ = write!(out, ",\"capture_time\":{secs}.{:06}", nanos / 1000);
    }
    let _ = write!(out, ",\"level\":\"{}\",\"target\":", meta.level());
    push_string(out, meta.target());
    out.push_str(",\"module\":");
    push_string(out, module_name(meta));
    let _ = write!(out, ",\"line\":{}", meta.line().unwrap_or(0));
    let field = |out: &mut String, name: &str, value: &str, present: bool| {
        if present {
            let _ = write!(out, ",\"{name}\":");
            push_string(out, value);
        }
    };
    field(out, "our_addr", &f.our_addr, !f.our_addr.is_empty());
    field(out, "their_addr", &f.their_addr, !f.their_addr.is_empty());
    field(out, "direction", &f.direction, !f.direction.is_empty());
    field(out, "role", &f.role, !f.role.is_empty());
    if let Some(b) = f.bytes {
        let _ = write!(out, ",\"bytes\":{b}");
    }
    field(out, "pv", &f.pv, f.has_pv);
    field(out, "message", &f.message, !f.message.is_empty());
    field(out, "command", &f.command, f.has_command);
    for (name, value, kind) in f.extras() {
        out.push(',');
        push_string(out, name);
        out.push(':');
        match kind {
            ValueKind::Bare => out.push_str(value),
            ValueKind::Text => push_string(out, value),
        }
    }
    out.push_str("}\n");
}

/// Adds `host`, `app` and `pid` to the object `write_line` just ended, for shipped records.
pub(crate) fn append_origin(out: &mut String, origin: &super::syslog::Origin) {
    if out.ends_with("}\n") {
        out.truncate(out.len() - 2);
        out.push_str(",\"host\":");
        push_string(out, &origin.host);
        out.push_str(",\"app\":");
        push_string(out, &origin.app);
        let _ = writeln!(out, ",\"pid\":{}}}", origin.pid);
    }
}

/// Appends `s` as a JSON string literal (the crate's one JSON string escaper).
pub(crate) fn push_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::push_string;

    #[test]
    fn escapes() {
        let mut s = String::new();
        push_string(&mut s, "a\"b\\c\nd\u{1}é");
        assert_eq!(s, "\"a\\\"b\\\\c\\nd\\u0001é\"");
    }
}
