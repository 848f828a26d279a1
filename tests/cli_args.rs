//! The tools' command lines: caproto's flags parse to the right meaning, and
//! bad flags are clap errors (exit status 2) with a clear message.

use caproto::cli::args::argv::normalize;
use caproto::cli::args::dtype::TypeRequest;
use caproto::cli::args::get::GetArgs;
use caproto::cli::args::monitor::MonitorArgs;
use caproto::cli::args::put::PutArgs;
use caproto::cli::args::repeater::RepeaterArgs;
use caproto::cli::output::format::{FloatStyle, Mode};
use caproto::cli::output::numfmt::Radix;
use caproto::log::AddressSpec;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType};
use caproto::proto::Role;
use clap::{CommandFactory, Parser};
use std::net::{IpAddr, SocketAddr};

fn get(args: &[&str]) -> Result<GetArgs, clap::Error> {
    let mut v = vec!["caproto-get"];
    v.extend_from_slice(args);
    GetArgs::try_parse_from(normalize(v))
}

fn put(args: &[&str]) -> Result<PutArgs, clap::Error> {
    let mut v = vec!["caproto-put"];
    v.extend_from_slice(args);
    PutArgs::try_parse_from(normalize(v))
}

fn monitor(args: &[&str]) -> Result<MonitorArgs, clap::Error> {
    let mut v = vec!["caproto-monitor"];
    v.extend_from_slice(args);
    MonitorArgs::try_parse_from(normalize(v))
}

#[test]
fn definitions_are_consistent() {
    GetArgs::command().debug_assert();
    PutArgs::command().debug_assert();
    MonitorArgs::command().debug_assert();
    RepeaterArgs::command().debug_assert();
    caproto::cli::args::ioc::IocArgs::command().debug_assert();
}

#[test]
fn get_defaults_follow_caproto() {
    let a = get(&["pv1", "pv2"]).unwrap();
    assert_eq!(a.pv_names, ["pv1", "pv2"]);
    assert_eq!(a.channel.timeout, None);
    assert_eq!(a.channel.priority, 0);
    assert_eq!(a.mode(), Mode::Default);
    assert_eq!(a.type_request(), None);
    assert_eq!(a.values.float.style(), FloatStyle::General);
}

#[test]
fn get_modes_and_types() {
    assert_eq!(get(&["-t", "x"]).unwrap().mode(), Mode::Terse);
    for wide in ["-a", "-l", "--wide"] {
        let a = get(&[wide, "x"]).unwrap();
        assert_eq!(a.mode(), Mode::Wide);
        assert_eq!(a.type_request(), Some(TypeRequest::Class(DbrClass::Time)));
    }
    let a = get(&["--format", "{pv_name}", "-t", "x"]).unwrap();
    assert_eq!(a.mode(), Mode::Custom("{pv_name}".into()));
    let a = get(&["-d", "DBR_CTRL_DOUBLE", "x"]).unwrap();
    assert_eq!(
        a.type_request(),
        Some(TypeRequest::Specific(DbrType::Value(
            DbrClass::Ctrl,
            NativeType::Double
        )))
    );
    assert_eq!(
        get(&["-d", "control", "x"]).unwrap().type_request(),
        Some(TypeRequest::Class(DbrClass::Ctrl))
    );
    assert_eq!(
        get(&["-d20", "x"]).unwrap().type_request(),
        Some(TypeRequest::Specific(DbrType::Value(
            DbrClass::Time,
            NativeType::Double
        )))
    );
    let a = get(&["-w", "0.5", "-p", "10", "--no-repeater", "-c", "x"]).unwrap();
    assert_eq!((a.channel.timeout, a.channel.priority), (Some(0.5), 10));
    assert!(a.channel.no_repeater && a.notify);
    // --list-types needs no PV.
    assert!(get(&["--list-types"]).unwrap().list_types);
}

#[test]
fn get_format_options_last_one_wins() {
    let style = |args: &[&str]| get(args).unwrap().values.float.style();
    assert_eq!(style(&["-e5", "-lx", "-f5", "x"]), FloatStyle::Fixed(5));
    assert_eq!(style(&["-f5", "-lx", "-e5", "x"]), FloatStyle::Exp(5));
    assert_eq!(
        style(&["-f5", "-e5", "-lx", "x"]),
        FloatStyle::Rounded(Radix::Hex)
    );
    assert_eq!(style(&["-g", "3", "x"]), FloatStyle::GeneralPrec(3));
    assert_eq!(style(&["-s", "x"]), FloatStyle::ServerString);
    assert_eq!(style(&["-lb", "x"]), FloatStyle::Rounded(Radix::Binary));
    assert_eq!(style(&["--lo", "x"]), FloatStyle::Rounded(Radix::Octal));
    let radix = |args: &[&str]| get(args).unwrap().values.int.radix();
    assert_eq!(radix(&["-0x", "-0b", "x"]), Some(Radix::Binary));
    assert_eq!(radix(&["-0b", "-0o", "x"]), Some(Radix::Octal));
    let a = get(&["-#", "5", "-S", "-n", "-F*", "x"]).unwrap();
    assert_eq!(a.values.count, Some(5));
    assert!(a.values.char_as_string && a.values.enum_as_number);
    assert_eq!(a.values.separator.as_deref(), Some("*"));
    assert_eq!(
        get(&["-F", " ** ", "x"])
            .unwrap()
            .values
            .separator
            .as_deref(),
        Some(" ** ")
    );
    assert_eq!(get(&["-#3", "x"]).unwrap().values.count, Some(3));
}

#[test]
fn get_logging_flags_are_present() {
    let a = get(&[
        "-vvv",
        "--log-pv",
        "x*",
        "--log-role",
        "client",
        "--no-color",
        "x",
    ])
    .unwrap();
    assert_eq!(a.log.verbose, 3);
    assert_eq!(a.log.log_pv, ["x*"]);
    assert_eq!(a.log.log_role, Some(Role::Client));
    assert!(a.log.no_color);
    let a = get(&[
        "--log-role",
        "server",
        "--log-addr",
        "127.0.0.1:5064",
        "--log-addr",
        "10.0.0.2",
        "x",
    ])
    .unwrap();
    assert_eq!(a.log.log_role, Some(Role::Server));
    let exact: SocketAddr = "127.0.0.1:5064".parse().unwrap();
    let host: IpAddr = "10.0.0.2".parse().unwrap();
    assert_eq!(
        a.log.log_addr,
        [
            AddressSpec::Exact(vec![exact]),
            AddressSpec::Host(vec![host])
        ]
    );
}

fn error_text(e: clap::Error) -> (clap::error::ErrorKind, String) {
    (e.kind(), e.to_string())
}

#[test]
fn bad_get_flags_are_clear_errors() {
    use clap::error::ErrorKind;
    let (kind, msg) = error_text(get(&["-a", "-d", "time", "x"]).unwrap_err());
    assert_eq!(kind, ErrorKind::ArgumentConflict);
    assert!(msg.contains("cannot be used with"), "{msg}");
    let (kind, msg) = error_text(get(&["-d", "doubel", "x"]).unwrap_err());
    assert_eq!(kind, ErrorKind::ValueValidation);
    assert!(msg.contains("unknown data type \"doubel\""), "{msg}");
    let (kind, _) = error_text(get(&[]).unwrap_err());
    assert_eq!(kind, ErrorKind::MissingRequiredArgument);
    let (_, msg) = error_text(get(&["-w", "0", "x"]).unwrap_err());
    assert!(msg.contains("timeout"), "{msg}");
    let (_, msg) = error_text(get(&["-w", "abc", "x"]).unwrap_err());
    assert!(msg.contains("not a number of seconds"), "{msg}");
    let (kind, _) = error_text(get(&["-p", "100", "x"]).unwrap_err());
    assert_eq!(kind, ErrorKind::ValueValidation);
    let (kind, _) = error_text(get(&["-e", "x", "pv"]).unwrap_err());
    assert_eq!(kind, ErrorKind::ValueValidation);
    let (kind, _) = error_text(get(&["--bogus", "x"]).unwrap_err());
    assert_eq!(kind, ErrorKind::UnknownArgument);
    assert_eq!(
        get(&["-v", "-q", "x"]).unwrap_err().kind(),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn put_flags() {
    let a = put(&["t:ao", "2.5"]).unwrap();
    assert_eq!(
        (a.pv_name.as_str(), a.data_text().unwrap().as_str()),
        ("t:ao", "2.5")
    );
    assert_eq!(a.mode(), Mode::Default);
    // Negative numbers are data, not flags.
    assert_eq!(put(&["t:ao", "-3"]).unwrap().data, ["-3"]);
    assert_eq!(put(&["t:ao", "--", "-3"]).unwrap().data, ["-3"]);
    // caput's forms: several values joined; -a with a count first.
    assert_eq!(put(&["t:s", "a", "b"]).unwrap().data_text().unwrap(), "a b");
    let a = put(&["-a", "t:wf", "3", "1", "2.5", "-4"]).unwrap();
    assert_eq!(a.data_text().unwrap(), "1 2.5 -4");
    assert_eq!(
        put(&["-a", "t:wf", "1 2"]).unwrap().data_text().unwrap(),
        "1 2"
    );
    let e = put(&["-a", "t:wf", "3", "1", "2"])
        .unwrap()
        .data_text()
        .unwrap_err();
    assert!(e.contains("count says 3 values, 2 given"), "{e}");
    assert!(put(&["-s", "t:mbbo", "1"]).unwrap().force_string);
    assert!(put(&["-s", "-S", "t:mbbo", "1"]).is_err());
    let a = put(&["-a", "--array-pad", "5", "t:wf", "1 2 3"]).unwrap();
    assert!(a.array);
    assert_eq!(a.array_pad, Some(5));
    assert_eq!(put(&["-l", "x", "1"]).unwrap().mode(), Mode::Wide);
    assert_eq!(put(&["-t", "x", "1"]).unwrap().mode(), Mode::Terse);
    let a = put(&["-c", "-S", "-n", "--file", "x", "path"]).unwrap();
    assert!(a.notify && a.as_string && a.enum_as_number);
    assert_eq!(a.data_file(), Some("path".into()));
    use clap::error::ErrorKind;
    assert_eq!(
        put(&["-t", "-l", "x", "1"]).unwrap_err().kind(),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        put(&["--format", "{which}", "-t", "x", "1"])
            .unwrap_err()
            .kind(),
        ErrorKind::ArgumentConflict
    );
    assert_eq!(
        put(&["x"]).unwrap_err().kind(),
        ErrorKind::MissingRequiredArgument
    );
    assert_eq!(
        put(&["--array-pad", "3", "x", "1"]).unwrap_err().kind(),
        ErrorKind::MissingRequiredArgument
    );
}

#[test]
fn monitor_flags() {
    let a = monitor(&["a", "b"]).unwrap();
    assert_eq!(a.mask, 5);
    assert_eq!((a.duration, a.maximum), (None, None));
    let a = monitor(&["-m", "vlap", "--maximum", "3", "-e2", "a"]).unwrap();
    assert_eq!(a.mask, 15);
    assert_eq!(a.maximum, Some(3));
    assert_eq!(a.values.float.style(), FloatStyle::Exp(2));
    assert_eq!(
        monitor(&["--duration", "0.5", "a"]).unwrap().duration,
        Some(0.5)
    );
    use clap::error::ErrorKind;
    assert_eq!(
        monitor(&["--duration", "1", "--maximum", "2", "a"])
            .unwrap_err()
            .kind(),
        ErrorKind::ArgumentConflict
    );
    let (_, msg) = error_text(monitor(&["-m", "vz", "a"]).unwrap_err());
    assert!(msg.contains("unknown mask letter 'z'"), "{msg}");
    assert_eq!(
        monitor(&["--maximum", "0", "a"]).unwrap_err().kind(),
        ErrorKind::ValueValidation
    );
    // -t is camonitor's timestamp key (caproto-monitor has no terse mode).
    assert_eq!(
        monitor(&["-t", "a", "pv"]).unwrap_err().kind(),
        ErrorKind::ValueValidation
    );
    assert!(monitor(&["-t", "sc", "pv"]).unwrap().timestamps.is_some());
    assert_eq!(
        monitor(&["-t", "s", "--format", "{pv_name}", "pv"])
            .unwrap_err()
            .kind(),
        ErrorKind::ArgumentConflict
    );
}

#[test]
fn repeater_flags() {
    let a =
        RepeaterArgs::try_parse_from(["caproto-repeater", "-q", "--bind", "127.0.0.1"]).unwrap();
    assert_eq!(a.log.quiet, 1);
    assert_eq!(a.bind, Some(std::net::Ipv4Addr::LOCALHOST));
    assert!(RepeaterArgs::try_parse_from(["caproto-repeater", "--bind", "nowhere"]).is_err());
}

#[test]
fn timeout_default_comes_from_epics_then_caproto_env() {
    use caproto::cli::args::common::resolve_timeout;
    let env = |pairs: &'static [(&'static str, &'static str)]| {
        move |k: &str| {
            pairs
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| v.to_string())
        }
    };
    assert_eq!(resolve_timeout(None, env(&[])), (2.0, None));
    assert_eq!(
        resolve_timeout(None, env(&[("CAPROTO_DEFAULT_TIMEOUT", "3.5")])),
        (3.5, None)
    );
    assert_eq!(
        resolve_timeout(
            None,
            env(&[
                ("CAPROTO_DEFAULT_TIMEOUT", "3.5"),
                ("EPICS_CLI_TIMEOUT", "7")
            ])
        ),
        (7.0, None)
    );
    // -w wins over both.
    assert_eq!(
        resolve_timeout(Some(0.25), env(&[("EPICS_CLI_TIMEOUT", "7")])),
        (0.25, None)
    );
    // An invalid value is skipped with a warning naming it.
    let (t, warning) = resolve_timeout(
        None,
        env(&[
            ("EPICS_CLI_TIMEOUT", "soon"),
            ("CAPROTO_DEFAULT_TIMEOUT", "4"),
        ]),
    );
    assert_eq!(t, 4.0);
    assert!(warning.unwrap().contains("EPICS_CLI_TIMEOUT"));
    let (t, warning) = resolve_timeout(None, env(&[("EPICS_CLI_TIMEOUT", "-1")]));
    assert_eq!((t, warning.is_some()), (2.0, true));
}
