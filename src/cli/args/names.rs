//! Long lists of PV names on the command line, set aside before clap.
//!
//! `caproto-get $(cat 100000-names)` hands clap 100 000 positional values;
//! clap spends about 2 000 instructions and three allocations on each (a
//! value parser, a type-erased box, a copy), as much as reading the PV.
//! [`set_aside_names`] walks the arguments once with the command's own
//! option table, keeps every option (and its value) and the first PV name
//! for clap, and hands back the other names in order; the caller appends
//! them to what clap parsed. Clap therefore still sees, checks and reports
//! everything but the repeated names.

use std::collections::HashSet;
use std::ffi::OsString;

use clap::{ArgAction, Command};

/// Below this many names clap parses them all itself.
const SET_ASIDE_FROM: usize = 64;

/// Arguments whose positional list is the PV names.
pub trait PvNames {
    /// The parsed PV names, for the set-aside ones to be appended.
    fn pv_names_mut(&mut self) -> &mut Vec<String>;
}

impl PvNames for super::get::GetArgs {
    fn pv_names_mut(&mut self) -> &mut Vec<String> {
        &mut self.pv_names
    }
}

impl PvNames for super::monitor::MonitorArgs {
    fn pv_names_mut(&mut self) -> &mut Vec<String> {
        &mut self.pv_names
    }
}

/// The option names of `cmd` that take a value, and whether every option
/// takes at most one value per occurrence (else nothing is set aside).
struct ValueOptions {
    shorts: HashSet<char>,
    longs: HashSet<String>,
}

impl ValueOptions {
    fn of(cmd: &mut Command) -> Option<ValueOptions> {
        cmd.build();
        let mut shorts = HashSet::new();
        let mut longs = HashSet::new();
        for arg in cmd.get_arguments() {
            if arg.is_positional() {
                continue;
            }
            let takes_value = match arg.get_action() {
                ArgAction::Set | ArgAction::Append => true,
                ArgAction::SetTrue
                | ArgAction::SetFalse
                | ArgAction::Count
                | ArgAction::Help
                | ArgAction::HelpShort
                | ArgAction::HelpLong
                | ArgAction::Version => false,
                _ => return None,
            };
            if !takes_value {
                continue;
            }
            // An option that takes several values per occurrence would eat
            // the names after it: leave such commands to clap.
            if arg.get_num_args().is_none_or(|n| n.max_values() != 1) {
                return None;
            }
            shorts.extend(arg.get_short());
            shorts.extend(arg.get_all_short_aliases().into_iter().flatten());
            longs.extend(arg.get_long().map(str::to_string));
            longs.extend(
                arg.get_all_aliases()
                    .into_iter()
                    .flatten()
                    .map(str::to_string),
            );
        }
        Some(ValueOptions { shorts, longs })
    }
}

/// Split `args` (program name first, already [`super::argv::normalize`]d)
/// into what clap should parse and the PV names after the first, in order.
/// With few names, an argument that is not UTF-8, a `--` separator, or an
/// option clap would let take several values, nothing is set aside.
pub fn set_aside_names(cmd: &mut Command, args: Vec<OsString>) -> (Vec<OsString>, Vec<String>) {
    let plain = args
        .iter()
        .skip(1)
        .filter(|a| a.as_encoded_bytes().first() != Some(&b'-'))
        .count();
    if plain < SET_ASIDE_FROM {
        return (args, Vec::new());
    }
    let Some(options) = ValueOptions::of(cmd) else {
        return (args, Vec::new());
    };
    if args.iter().any(|a| a.to_str().is_none_or(|s| s == "--")) {
        return (args, Vec::new());
    }
    let mut kept = Vec::with_capacity(args.len() - plain + 1);
    let mut names = Vec::with_capacity(plain);
    let mut first_kept = false;
    let mut args = args.into_iter();
    kept.extend(args.next());
    while let Some(arg) = args.next() {
        // Every argument is UTF-8 (checked above): taken as a `String`
        // without a copy, a name moves into `names` as it is.
        let s = match arg.into_string() {
            Ok(s) => s,
            Err(arg) => {
                kept.push(arg);
                continue;
            }
        };
        let value_follows = if let Some(long) = s.strip_prefix("--") {
            !long.contains('=') && options.longs.contains(long)
        } else if let Some(cluster) = s.strip_prefix('-').filter(|c| !c.is_empty()) {
            // `-tn`, `-w5`, `-w 5`: the first short that takes a value takes
            // the rest of the cluster, or the next argument if none is left.
            match cluster
                .char_indices()
                .find(|(_, c)| options.shorts.contains(c))
            {
                Some((at, c)) => at + c.len_utf8() == cluster.len(),
                None => false,
            }
        } else {
            // A PV name (or a lone `-`): the first one stays for clap, which
            // checks it is there; the rest are set aside.
            if first_kept {
                names.push(s);
            } else {
                first_kept = true;
                kept.push(s.into());
            }
            continue;
        };
        kept.push(s.into());
        if value_follows {
            kept.extend(args.next());
        }
    }
    (kept, names)
}

#[cfg(test)]
mod tests {
    use clap::{CommandFactory, Parser};

    use super::*;
    use crate::cli::args::argv::normalize;
    use crate::cli::args::get::GetArgs;
    use crate::cli::args::monitor::MonitorArgs;

    fn many(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("pv:{i}")).collect()
    }

    /// Parsing with names set aside gives what clap alone gives.
    fn same_as_clap<A: Parser + CommandFactory + PvNames + std::fmt::Debug>(argv: &[String]) {
        let args = normalize(argv.iter().map(OsString::from));
        let whole = A::try_parse_from(args.clone()).map(|a| format!("{a:?}"));
        let (kept, names) = set_aside_names(&mut A::command(), args);
        assert!(
            !names.is_empty() || whole.is_err(),
            "nothing set aside for {argv:?}"
        );
        let split = A::try_parse_from(kept).map(|mut a| {
            a.pv_names_mut().extend(names);
            format!("{a:?}")
        });
        match (whole, split) {
            (Ok(w), Ok(s)) => assert_eq!(w, s, "for {argv:?}"),
            (Err(w), Err(s)) => assert_eq!(w.kind(), s.kind(), "for {argv:?}"),
            (w, s) => panic!("{argv:?}: {w:?} against {s:?}"),
        }
    }

    fn argv(tool: &str, before: &[&str], names: usize, after: &[&str]) -> Vec<String> {
        let mut v = vec![tool.to_string()];
        v.extend(before.iter().map(|s| s.to_string()));
        v.extend(many(names));
        v.extend(after.iter().map(|s| s.to_string()));
        v
    }

    #[test]
    fn options_anywhere_keep_their_values_and_names_keep_their_order() {
        for (before, after) in [
            (&[][..], &[][..]),
            (&["-w", "5"][..], &["-t"][..]),
            (&["-w5", "-a"][..], &["--wait", "3", "-lx"][..]),
            (&["--wait=2", "-d", "DBR_TIME_DOUBLE"][..], &["-n"][..]),
            (&["-tw", "2"][..], &["-#", "3"][..]),
            (&["-v", "--log-pv", "pv:7"][..], &["--priority", "10"][..]),
        ] {
            same_as_clap::<GetArgs>(&argv("caproto-get", before, 200, after));
        }
        // A name between options.
        let mut mixed = argv("caproto-get", &["-w", "1"], 100, &["-t"]);
        mixed.extend(many(100).into_iter().map(|n| format!("x{n}")));
        same_as_clap::<GetArgs>(&mixed);
        same_as_clap::<MonitorArgs>(&argv("caproto-monitor", &["-m", "va"], 300, &["-n"]));
    }

    #[test]
    fn bad_arguments_fail_as_they_do_with_clap_alone() {
        same_as_clap::<GetArgs>(&argv("caproto-get", &["--no-such-flag"], 100, &[]));
        same_as_clap::<GetArgs>(&argv("caproto-get", &["-w", "soon"], 100, &[]));
        same_as_clap::<GetArgs>(&argv("caproto-get", &[], 100, &["-w"]));
    }

    #[test]
    fn few_names_or_a_separator_are_left_to_clap() {
        let args = normalize(
            argv("caproto-get", &[], 10, &[])
                .into_iter()
                .map(OsString::from),
        );
        let (kept, names) = set_aside_names(&mut GetArgs::command(), args.clone());
        assert_eq!((kept, names.len()), (args, 0));
        let mut sep = argv("caproto-get", &[], 100, &[]);
        sep.insert(1, "--".into());
        let args = normalize(sep.into_iter().map(OsString::from));
        let (kept, names) = set_aside_names(&mut GetArgs::command(), args.clone());
        assert_eq!((kept, names.len()), (args, 0));
    }
}
