//! caproto's text line:
//! `[D 03:50:28.086      circuit:  177] 127.0.0.1:51782 --->>> 127.0.0.1:5064 16B test:ai VersionRequest(...)`.
//!
//! The bracket holds the level letter, the time, the module (source file stem, right-aligned to
//! 12 like caproto's `%(module)12s`) and the line (`%(lineno)5d`). After it come, when present:
//! our address, the direction arrow (`--->>>` send, `<<<---` recv), their address, the size
//! `NB`, the PV, the message, the command, and any other fields as `name=value`. The role is not
//! printed (caproto does not either; JSON carries it). Only the bracket is coloured, by level.

use std::fmt::Write as _;

use tracing::{Level, Metadata};

use super::record::RecordFields;

/// ANSI colour of the bracket for each level (caproto: debug blue, info green, warning yellow,
/// error red; trace, which caproto lacks, magenta).
fn colour(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "\x1b[35m",
        Level::DEBUG => "\x1b[34m",
        Level::INFO => "\x1b[32m",
        Level::WARN => "\x1b[33m",
        Level::ERROR => "\x1b[31m",
    }
}

const RESET: &str = "\x1b[0m";

/// caproto's one-letter level name.
pub(crate) fn level_letter(level: &Level) -> char {
    match *level {
        Level::TRACE => 'T',
        Level::DEBUG => 'D',
        Level::INFO => 'I',
        Level::WARN => 'W',
        Level::ERROR => 'E',
    }
}

/// caproto's "module": the source file stem (`src/proto/circuit.rs` -> `circuit`; a `mod.rs`
/// is named after its directory), falling back to the last module path segment or the target.
///
/// Per-command records are all emitted from one function (`proto::trace`), so for them the
/// file says nothing: they are named after the protocol layer instead, as caproto's lines
/// name `_circuit` or `_broadcaster`.
pub(crate) fn module_name<'a>(meta: &'a Metadata<'a>) -> &'a str {
    match meta.target() {
        "caproto::circ" => return "circuit",
        "caproto::bcast" | "caproto::bcast::search" | "caproto::bcast::beacon" => {
            return "broadcaster"
        }
        _ => {}
    }
    if let Some(file) = meta.file() {
        let mut parts = file.rsplit(['/', '\\']);
        let name = parts.next().unwrap_or(file);
        let stem = name.strip_suffix(".rs").unwrap_or(name);
        if stem == "mod" || stem == "lib" || stem == "main" {
            if let Some(dir) = parts.next() {
                if !dir.is_empty() && dir != "src" {
                    return dir;
                }
            }
        }
        if !stem.is_empty() {
            return stem;
        }
    }
    let path = meta.module_path().unwrap_or(meta.target());
    path.rsplit("::").next().unwrap_or(path)
}

/// Appends one complete line (with trailing newline) to `out`.
pub(crate) fn write_line(
    out: &mut String,
    meta: &Metadata<'_>,
    time: &str,
    f: &RecordFields,
    color: bool,
) {
    let level = meta.level();
    if color {
        out.push_str(colour(level));
    }
    // `[D 12:00:00.000      circuit:  123]`, padded by hand: `write!` with widths went
    // through the formatter's padding for every record.
    out.push('[');
    out.push(level_letter(level));
    out.push(' ');
    out.push_str(time);
    out.push(' ');
    let module = module_name(meta);
    pad_left(out, module.chars().count(), 12);
    out.push_str(module);
    out.push(':');
    push_padded(out, meta.line().unwrap_or(0), 5);
    out.push(']');
    if color {
        out.push_str(RESET);
    }
    let start = out.len();
    let part = |out: &mut String, s: &str| {
        if !s.is_empty() {
            out.push(' ');
            push_indented(out, s);
        }
    };
    part(out, &f.our_addr);
    part(
        out,
        match f.direction.as_str() {
            "send" => "--->>>",
            "recv" => "<<<---",
            other => other,
        },
    );
    part(out, &f.their_addr);
    if let Some(b) = f.bytes {
        let _ = write!(out, " {b}B");
    }
    part(out, &f.pv);
    part(out, &f.message);
    part(out, &f.command);
    for (name, value, _) in f.extras() {
        let _ = write!(out, " {name}=");
        push_indented(out, value);
    }
    if out.len() == start {
        // Keep the line shape stable even for an empty record.
        out.push(' ');
    }
    out.push('\n');
}

/// Spaces before a text of `len` characters right-aligned in `width`.
fn pad_left(out: &mut String, len: usize, width: usize) {
    for _ in len..width {
        out.push(' ');
    }
}

/// Appends `n` in decimal, right-aligned in `width`.
fn push_padded(out: &mut String, mut n: u32, width: usize) {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    pad_left(out, buf.len() - i, width);
    for &d in &buf[i..] {
        out.push(char::from(d));
    }
}

/// Appends `s`, indenting continuation lines by four spaces as caproto does.
fn push_indented(out: &mut String, s: &str) {
    // Nearly every record is one line: a plain byte scan is cheaper than `split`'s searcher.
    if !s.as_bytes().contains(&b'\n') {
        out.push_str(s);
        return;
    }
    let mut lines = s.split('\n');
    if let Some(first) = lines.next() {
        out.push_str(first);
    }
    for l in lines {
        out.push_str("\n    ");
        out.push_str(l);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_padding_matches_the_formatter() {
        for n in [0u32, 7, 42, 12345, 123_456, u32::MAX] {
            let mut s = String::new();
            push_padded(&mut s, n, 5);
            assert_eq!(s, format!("{n:>5}"));
        }
        for text in ["", "circuit", "broadcaster", "a_very_long_module_name", "é"] {
            let mut s = String::new();
            pad_left(&mut s, text.chars().count(), 12);
            s.push_str(text);
            assert_eq!(s, format!("{text:>12}"));
        }
    }
}
