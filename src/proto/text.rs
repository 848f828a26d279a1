//! Text that came from the network (a server's ERROR message, a PV name
//! echoed back) may hold control characters: an escape sequence can
//! rewrite a terminal, a newline can forge a log line. [`escape_control`]
//! shows them as escapes before such text is printed or logged.

use std::borrow::Cow;
use std::fmt::Write;

/// `s` with every control character (C0, DEL and C1) written as an escape:
/// `\n`, `\r`, `\t`, others as `\x1b` (C0, DEL) or `\u{85}` (C1). Other
/// characters, backslashes included, are kept. Borrowed when there is
/// nothing to escape, so the common case costs one scan.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(char::is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x80 && c.is_control() => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if c.is_control() => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_become_escapes_and_the_rest_is_untouched() {
        assert!(matches!(escape_control("plain é text"), Cow::Borrowed(_)));
        assert_eq!(
            escape_control("bad\x1b[31mred\x07\nnext\r\t\u{7f}\u{85}ü"),
            "bad\\x1b[31mred\\x07\\nnext\\r\\t\\x7f\\u{85}ü"
        );
    }
}
