//! caget and caproto accept a few single-dash options with two-letter names
//! (`-lx`, `-lo`, `-lb`, `-0x`, `-0o`, `-0b`). clap's short options are one
//! character, so these are defined as long options (`--lx`, `--0x`) and the
//! single-dash spellings are rewritten before parsing.

use std::ffi::OsString;

/// The two-letter single-dash options the tools accept.
pub const TWO_LETTER_FLAGS: [&str; 6] = ["-lx", "-lo", "-lb", "-0x", "-0o", "-0b"];

/// Rewrite `-lx` to `--lx` (and the like) up to a `--` separator, leaving
/// every other argument untouched. The first element (program name) is kept.
pub fn normalize<I, T>(args: I) -> Vec<OsString>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args = args.into_iter();
    let mut out = Vec::with_capacity(args.size_hint().0);
    let mut after_separator = false;
    for (i, arg) in args.enumerate() {
        let arg: OsString = arg.into();
        // Only a flag can be rewritten (PV names, 100 000 of them, are not
        // looked at further).
        if i == 0 || after_separator || arg.as_encoded_bytes().first() != Some(&b'-') {
            out.push(arg);
            continue;
        }
        if arg == "--" {
            after_separator = true;
            out.push(arg);
            continue;
        }
        match arg.to_str() {
            Some(s) if TWO_LETTER_FLAGS.contains(&s) => out.push(format!("-{s}").into()),
            _ => out.push(arg),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_only_exact_flags_before_separator() {
        let got = normalize(["caproto-get", "-lx", "pv", "-0b", "-l", "--", "-lx"]);
        let want: Vec<OsString> = ["caproto-get", "--lx", "pv", "--0b", "-l", "--", "-lx"]
            .iter()
            .map(OsString::from)
            .collect();
        assert_eq!(got, want);
        assert_eq!(normalize(["-lx"]), vec![OsString::from("-lx")]);
    }
}
