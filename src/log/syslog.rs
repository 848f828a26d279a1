//! RFC 5424 syslog messages for shipping, with every record field as structured data:
//!
//! ```text
//! <15>1 2026-11-28T03:50:28.086+00:00 host caproto-get 4242 caproto::circ [caproto@32473 level="DEBUG" module="circuit" line="177" our_addr="127.0.0.1:51782" ... command="VersionRequest(priority=0, version=13)"] VersionRequest(priority=0, version=13)
//! ```
//!
//! PRI is facility × 8 + severity (ERROR err(3), WARN warning(4), INFO info(6), DEBUG and TRACE
//! debug(7)); MSGID is the record's target; the SD-ID `caproto@32473` uses the private
//! enterprise number RFC 5612 reserves for documentation, as no number is registered for us.
//! MSG is the record's message, or its command when it has none. Framing (octet counting on
//! TCP, one per datagram otherwise) is added by the writer, not here.

use std::fmt::Write as _;

use tracing::{Level, Metadata};

use super::record::RecordFields;
use super::text::module_name;

/// The structured-data ID of our parameters.
pub const SD_ID: &str = "caproto@32473";

/// Syslog facility `user` (1), the default for programs.
pub const FACILITY_USER: u8 = 1;

/// Who sends: the HOSTNAME, APP-NAME and PROCID header fields (also added to shipped JSON as
/// `host`, `app`, `pid`, so a central store can tell processes apart).
#[derive(Clone, Debug)]
pub(crate) struct Origin {
    pub host: String,
    pub app: String,
    pub pid: u32,
}

impl Origin {
    /// The machine's host name and this program's name and pid.
    pub fn detect() -> Origin {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_owned())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "-".to_owned());
        let app = std::env::current_exe()
            .ok()
            .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
            .unwrap_or_else(|| "caproto".to_owned());
        Origin {
            host: header_token(&host, 255),
            app: header_token(&app, 48),
            pid: std::process::id(),
        }
    }
}

/// A header field: printable US-ASCII without spaces, at most `max` characters, `-` if empty.
fn header_token(s: &str, max: usize) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(max)
        .collect();
    if t.is_empty() {
        "-".to_owned()
    } else {
        t
    }
}

fn severity(level: &Level) -> u8 {
    match *level {
        Level::ERROR => 3,
        Level::WARN => 4,
        Level::INFO => 6,
        Level::DEBUG | Level::TRACE => 7,
    }
}

/// Appends one RFC 5424 message (no framing) and a newline to `out`.
pub(crate) fn write_message(
    out: &mut String,
    meta: &Metadata<'_>,
    time: &str,
    f: &RecordFields,
    origin: &Origin,
    facility: u8,
) {
    let pri = u16::from(facility.min(23)) * 8 + u16::from(severity(meta.level()));
    let _ = write!(
        out,
        "<{pri}>1 {time} {} {} {} ",
        origin.host, origin.app, origin.pid
    );
    let msgid: String = meta
        .target()
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(32)
        .collect();
    out.push_str(if msgid.is_empty() { "-" } else { &msgid });
    let _ = write!(out, " [{SD_ID}");
    param(out, "level", meta.level().as_str());
    param(out, "module", module_name(meta));
    if let Some(line) = meta.line() {
        let _ = write!(out, " line=\"{line}\"");
    }
    let opt = |out: &mut String, name: &str, value: &str, present: bool| {
        if present {
            param(out, name, value);
        }
    };
    opt(out, "our_addr", &f.our_addr, !f.our_addr.is_empty());
    opt(out, "their_addr", &f.their_addr, !f.their_addr.is_empty());
    opt(out, "direction", &f.direction, !f.direction.is_empty());
    opt(out, "role", &f.role, !f.role.is_empty());
    if let Some(b) = f.bytes {
        let _ = write!(out, " bytes=\"{b}\"");
    }
    opt(out, "pv", &f.pv, f.has_pv);
    opt(out, "command", &f.command, f.has_command);
    for (name, value, _) in f.extras() {
        param(out, name, value);
    }
    out.push(']');
    let msg = if !f.message.is_empty() {
        &f.message
    } else {
        &f.command
    };
    if !msg.is_empty() {
        out.push(' ');
        // A newline would end the record for line-based receivers; keep it on one line.
        for c in msg.chars() {
            out.push(if c == '\n' || c == '\r' { ' ' } else { c });
        }
    }
    out.push('\n');
}

/// Appends ` NAME="VALUE"` with the name reduced to legal characters and the value escaped
/// (`"`, `\` and `]` take a backslash, RFC 5424 §6.3.3).
fn param(out: &mut String, name: &str, value: &str) {
    out.push(' ');
    let mut n = 0;
    for c in name.chars() {
        if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') && n < 32 {
            out.push(c);
            n += 1;
        }
    }
    if n == 0 {
        out.push('_');
    }
    out.push_str("=\"");
    for c in value.chars() {
        match c {
            '"' | '\\' | ']' => {
                out.push('\\');
                out.push(c);
            }
            '\n' | '\r' => out.push(' '),
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_escaped() {
        let mut s = String::new();
        param(&mut s, "command", "a\"b]c\\d\ne");
        assert_eq!(s, r#" command="a\"b\]c\\d e""#);
        let mut s = String::new();
        param(&mut s, "", "x");
        assert_eq!(s, " _=\"x\"");
    }

    #[test]
    fn header_tokens() {
        assert_eq!(header_token("my host", 255), "myhost");
        assert_eq!(header_token("", 5), "-");
        assert_eq!(header_token("abcdefgh", 3), "abc");
    }
}
