//! The text line (caproto's layout, colour off and on) and the JSON-lines fields.

mod logging_support;

use caproto::log::{self, ColorMode, Format, LogConfig};
use logging_support::*;
use tracing::level_filters::LevelFilter;

fn handler(format: Format, color: ColorMode) -> Capture {
    let cap = Capture::new();
    log::config_logging(
        LogConfig::writer(cap.writer())
            .level(LevelFilter::TRACE)
            .format(format)
            .color(color),
    )
    .unwrap();
    cap
}

/// Checks `HH:MM:SS.mmm` and returns the rest of the line after it.
fn strip_time(s: &str) -> &str {
    let (time, rest) = s.split_at(12);
    let b = time.as_bytes();
    for (i, c) in b.iter().enumerate() {
        match i {
            2 | 5 => assert_eq!(*c, b':', "{time}"),
            8 => assert_eq!(*c, b'.', "{time}"),
            _ => assert!(c.is_ascii_digit(), "{time}"),
        }
    }
    rest
}

#[test]
fn per_command_text_line_is_caprotos() {
    let _s = serial();
    let cap = handler(Format::Text, ColorMode::Never);
    let cmd = Cmd::new("VersionRequest(priority=0, version=13)");
    let (our, their) = (addr("127.0.0.1:51782"), addr("127.0.0.1:5064"));
    let line = line!() + 1;
    tracing::debug!(target: "caproto::circ", pv = "test:ai", our_addr = %our, their_addr = %their,
        direction = "send", role = "client", bytes = 16u64, command = %cmd);
    let out = cap.take();
    let time = &out[3..15];
    strip_time(time);
    let expected = format!(
        "[D {time} {:>12}:{:>5}] 127.0.0.1:51782 --->>> 127.0.0.1:5064 16B test:ai \
         VersionRequest(priority=0, version=13)\n",
        "logging_format", line
    );
    assert_eq!(out, expected);
    assert_eq!(cmd.count(), 1, "the command is formatted exactly once");
}

#[test]
fn recv_arrow_and_padding() {
    let _s = serial();
    let cap = handler(Format::Text, ColorMode::Never);
    let cmd = Cmd::new("VersionResponse(version=13)");
    command(
        None,
        addr("127.0.0.1:36110"),
        addr("127.0.0.1:47123"),
        "recv",
        "client",
        16,
        &cmd,
    );
    let line = line!() + 1;
    tracing::info!(target: "caproto::ch", pv = "simple:A", "Channel connected.");
    let out = cap.lines();
    assert!(
        out[0]
            .ends_with("] 127.0.0.1:36110 <<<--- 127.0.0.1:47123 16B VersionResponse(version=13)"),
        "{}",
        out[0]
    );
    let expected = format!(
        " {:>12}:{:>5}] simple:A Channel connected.",
        "logging_format", line
    );
    assert!(out[1].starts_with("[I "), "{}", out[1]);
    assert_eq!(&out[1][15..], expected, "{}", out[1]);
}

#[test]
fn non_command_records_show_message_then_other_fields() {
    let _s = serial();
    let cap = handler(Format::Text, ColorMode::Never);
    tracing::warn!(target: "caproto::serv", role = "server", attempts = 3u64, ok = false,
        "two\nlines");
    let out = cap.take();
    assert!(out.starts_with("[W "), "{out}");
    assert!(
        out.ends_with("] two\n    lines attempts=3 ok=false\n"),
        "continuation lines are indented, role is not printed: {out:?}"
    );
}

#[test]
fn datefmt_is_applied() {
    let _s = serial();
    let cap = Capture::new();
    log::config_logging(
        LogConfig::writer(cap.writer())
            .datefmt("%Y-%m-%d %H:%M:%S")
            .color(ColorMode::Never),
    )
    .unwrap();
    tracing::error!(target: "caproto::ctx", "boom");
    let out = cap.take();
    // "[E 2024-05-06 07:08:09.123 ..."
    let date = &out[3..13];
    assert!(
        date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{out}"
    );
    assert_eq!(&out[13..14], " ");
    strip_time(&out[14..]);
}

#[test]
fn colour_only_wraps_the_bracket_and_follows_level() {
    let _s = serial();
    let cap = handler(Format::Text, ColorMode::Always);
    let cmd = Cmd::new("EchoRequest()");
    client_send("p", &cmd);
    tracing::warn!(target: "caproto::ctx", "careful");
    let out = cap.lines();
    assert!(out[0].starts_with("\x1b[34m[D "), "{:?}", out[0]);
    assert!(out[0].contains("]\x1b[0m 127.0.0.1:51782"), "{:?}", out[0]);
    assert!(out[1].starts_with("\x1b[33m[W "), "{:?}", out[1]);

    // Auto never colours a destination that is not the terminal.
    let cap = handler(Format::Text, ColorMode::Auto);
    tracing::warn!(target: "caproto::ctx", "careful");
    assert!(!cap.take().contains('\x1b'));
}

#[test]
fn json_lines_carry_the_contract_fields() {
    let _s = serial();
    let cap = handler(Format::Json, ColorMode::Always);
    let cmd = Cmd::new("VersionRequest(priority=0, version=13)");
    client_send("test:ai", &cmd);
    tracing::info!(target: "caproto::serv", role = "server", count = 2u64, "quote \" and\nnewline");
    let out = cap.take();
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    let c = &lines[0];
    assert_eq!(c["level"], "DEBUG");
    assert_eq!(c["target"], "caproto::circ");
    assert_eq!(c["module"], "logging_support");
    assert!(c["line"].as_u64().unwrap() > 0);
    assert_eq!(c["pv"], "test:ai");
    assert_eq!(c["our_addr"], "127.0.0.1:51782");
    assert_eq!(c["their_addr"], "127.0.0.1:5064");
    assert_eq!(c["direction"], "send");
    assert_eq!(c["role"], "client");
    assert_eq!(c["bytes"], 16);
    assert_eq!(c["command"], "VersionRequest(priority=0, version=13)");
    let t = c["time"].as_str().unwrap();
    assert!(
        chrono::DateTime::parse_from_rfc3339(t).is_ok(),
        "time is RFC 3339: {t}"
    );
    assert!(!out.contains('\x1b'), "JSON is never coloured");
    let i = &lines[1];
    assert_eq!(i["level"], "INFO");
    assert_eq!(i["message"], "quote \" and\nnewline");
    assert_eq!(i["role"], "server");
    assert_eq!(i["count"], 2);
    assert!(i.get("pv").is_none());
}
