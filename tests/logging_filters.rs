//! caproto's filter semantics on live handlers: PV, address and role filters, the barrier level,
//! `exclusive`, AND composition, several handlers, and filters added at run time.
//! All tests share one process-wide subscriber, so they run one at a time (see `serial`).

mod logging_support;

use caproto::log::{
    self, AddressFilter, ColorMode, FieldFilter, LogConfig, LogError, PvFilter, RoleFilter,
};
use caproto::proto::Role;
use logging_support::*;
use tracing::level_filters::LevelFilter;

/// Installs a fresh global handler at DEBUG writing into a capture, with the given filters.
fn debug_handler(filters: Vec<FieldFilter>) -> (log::Handler, Capture) {
    let cap = Capture::new();
    let mut cfg = LogConfig::writer(cap.writer())
        .level(LevelFilter::DEBUG)
        .color(ColorMode::Never);
    for f in filters {
        cfg = cfg.filter(f);
    }
    (log::config_logging(cfg).unwrap(), cap)
}

fn has(lines: &[String], needle: &str) -> bool {
    lines.iter().any(|l| l.contains(needle))
}

#[test]
fn pv_filter_several_names_and_wildcards() {
    let _s = serial();
    let f = PvFilter::new(["random_walk:*", "simple:B", "te?t:ai"]).unwrap();
    let (_h, cap) = debug_handler(vec![f.into()]);
    let cmd = Cmd::new("ReadNotifyRequest()");
    for pv in [
        "random_walk:x",
        "simple:B",
        "simple:A",
        "test:ai",
        "teest:ai",
        "random_walk",
    ] {
        client_send(pv, &cmd);
    }
    let lines = cap.lines();
    assert_eq!(lines.len(), 3, "{lines:#?}");
    assert!(has(&lines, " random_walk:x "));
    assert!(has(&lines, " simple:B "));
    assert!(has(&lines, " test:ai "));
    // Rejected records never format their command.
    assert_eq!(cmd.count(), 3);
}

#[test]
fn pv_filter_barrier_and_exclusive() {
    let _s = serial();
    let f = PvFilter::new(["keep:*"]).unwrap();
    let (_h, cap) = debug_handler(vec![f.into()]);
    plain_debug("no pv here");
    pv_warn("other:pv", "warning about another PV");
    pv_debug("other:pv", "debug about another PV");
    let lines = cap.lines();
    assert!(
        has(&lines, "no pv here"),
        "not exclusive: pv-less records pass"
    );
    assert!(
        has(&lines, "warning about another PV"),
        "WARN is at the default barrier"
    );
    assert!(!has(&lines, "debug about another PV"));

    let f = PvFilter::new(["keep:*"])
        .unwrap()
        .exclusive(true)
        .level(LevelFilter::ERROR);
    let (_h, cap) = debug_handler(vec![f.into()]);
    plain_debug("no pv here");
    pv_warn("other:pv", "warning about another PV");
    pv_warn("keep:1", "warning about a kept PV");
    tracing::error!(target: "caproto::ctx", "an error passes the ERROR barrier");
    let lines = cap.lines();
    assert!(
        !has(&lines, "no pv here"),
        "exclusive blocks pv-less records"
    );
    assert!(!has(&lines, "another PV"), "WARN is below an ERROR barrier");
    assert!(has(&lines, "kept PV"));
    assert!(has(&lines, "an error passes"));

    let f = PvFilter::new(["keep:*"]).unwrap().level(LevelFilter::OFF);
    let (_h, cap) = debug_handler(vec![f.into()]);
    tracing::error!(target: "caproto::ch", pv = "other", "error about other");
    assert!(
        cap.take().is_empty(),
        "barrier OFF lets nothing through by level"
    );
}

#[test]
fn address_filter_host_and_host_port_either_side() {
    let _s = serial();
    let f = AddressFilter::parse(["10.1.1.1", "127.0.0.1:5064"]).unwrap();
    let (_h, cap) = debug_handler(vec![f.into()]);
    let cmd = Cmd::new("EchoRequest()");
    let send = |our: &str, their: &str| {
        command(
            Some("x"),
            addr(our),
            addr(their),
            "send",
            "client",
            16,
            &cmd,
        )
    };
    send("127.0.0.1:40000", "127.0.0.1:5064"); // their exact match
    send("127.0.0.1:5064", "127.0.0.1:40001"); // our exact match
    send("10.1.1.1:7", "127.0.0.1:40002"); // host, any port (ours)
    send("127.0.0.1:40003", "10.1.1.1:65000"); // host, any port (theirs)
    send("127.0.0.1:40004", "127.0.0.1:5065"); // neither
    plain_debug("no address at all");
    let lines = cap.lines();
    for p in ["40000", "40001", "40002", "40003"] {
        assert!(has(&lines, p), "{p} missing: {lines:#?}");
    }
    assert!(!has(&lines, "40004"));
    assert!(has(&lines, "no address at all"));

    let f = AddressFilter::parse(["127.0.0.1:5064"])
        .unwrap()
        .exclusive(true);
    let (_h, cap) = debug_handler(vec![f.into()]);
    plain_debug("no address at all");
    assert!(cap.take().is_empty());
}

#[test]
fn role_filter() {
    let _s = serial();
    let (_h, cap) = debug_handler(vec![RoleFilter::new(Role::Server).into()]);
    let cmd = Cmd::new("EchoResponse()");
    let c = |role| {
        command(
            None,
            addr("127.0.0.1:1"),
            addr("127.0.0.1:2"),
            "recv",
            role,
            16,
            &cmd,
        )
    };
    c("client");
    c("server");
    role_info("server", "server chatter");
    role_info("client", "client chatter");
    plain_debug("no role");
    let lines = cap.lines();
    assert_eq!(
        lines.iter().filter(|l| l.contains("EchoResponse")).count(),
        1
    );
    assert!(has(&lines, "server chatter"));
    assert!(!has(&lines, "client chatter"));
    assert!(has(&lines, "no role"));

    // Exclusive: records without a role no longer pass; the role's own do,
    // and the barrier (ERROR here) still lets anything at or above it by.
    let f = RoleFilter::new(Role::Server)
        .exclusive(true)
        .level(LevelFilter::ERROR);
    let (_h, cap) = debug_handler(vec![f.into()]);
    c("client");
    c("server");
    role_info("server", "server chatter");
    role_info("client", "client chatter");
    plain_debug("no role");
    tracing::warn!(target: "caproto::ctx", "roleless warning");
    tracing::error!(target: "caproto::ctx", "roleless error");
    let lines = cap.lines();
    assert_eq!(
        lines.iter().filter(|l| l.contains("EchoResponse")).count(),
        1,
        "{lines:#?}"
    );
    assert!(has(&lines, "server chatter"));
    assert!(!has(&lines, "client chatter"));
    assert!(
        !has(&lines, "no role"),
        "exclusive blocks role-less records"
    );
    assert!(
        !has(&lines, "roleless warning"),
        "WARN is below an ERROR barrier"
    );
    assert!(has(&lines, "roleless error"), "ERROR passes the barrier");
}

#[test]
fn filters_compose_with_and() {
    let _s = serial();
    let (_h, cap) = debug_handler(vec![
        PvFilter::new(["a:*"]).unwrap().into(),
        RoleFilter::new(Role::Client).into(),
    ]);
    let cmd = Cmd::new("WriteRequest()");
    let c = |pv, role| {
        command(
            Some(pv),
            addr("127.0.0.1:1"),
            addr("127.0.0.1:2"),
            "send",
            role,
            8,
            &cmd,
        )
    };
    c("a:1", "client");
    c("a:2", "server");
    c("b:3", "client");
    c("b:4", "server");
    let lines = cap.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(has(&lines, " a:1 "));
}

#[test]
fn runtime_filter_via_get_handler() {
    let _s = serial();
    let (h, cap) = debug_handler(vec![]);
    assert_eq!(log::get_handler(), Some(h));
    let cmd = Cmd::new("ReadNotifyRequest()");
    // The same callsite first accepts everything, then is filtered per record: its interest
    // must be re-evaluated when the filter arrives.
    client_send("a:1", &cmd);
    client_send("b:1", &cmd);
    assert_eq!(cap.lines().len(), 2);

    let current = log::get_handler().expect("a global handler is configured");
    current.add_filter(PvFilter::new(["a:*"]).unwrap()).unwrap();
    assert_eq!(current.filters().unwrap().len(), 1);
    client_send("a:2", &cmd);
    client_send("b:2", &cmd);
    let lines = cap.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(has(&lines, " a:2 "));

    current.clear_filters().unwrap();
    current.set_level(LevelFilter::INFO).unwrap();
    assert_eq!(current.level().unwrap(), LevelFilter::INFO);
    client_send("b:3", &cmd);
    role_info("server", "info still shows");
    let lines = cap.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(has(&lines, "info still shows"));
}

#[test]
fn two_handlers_with_their_own_levels_and_filters() {
    let _s = serial();
    let term = Capture::new();
    let file = Capture::new();
    let t = log::config_logging(
        LogConfig::writer(term.writer())
            .level(LevelFilter::WARN)
            .color(ColorMode::Never),
    )
    .unwrap();
    let f = log::add_handler(
        LogConfig::writer(file.writer())
            .level(LevelFilter::DEBUG)
            .color(ColorMode::Never)
            .filter(PvFilter::new(["xyz*"]).unwrap()),
    )
    .unwrap();
    assert_ne!(t, f);
    let cmd = Cmd::new("ReadNotifyRequest()");
    client_send("xyz:1", &cmd);
    client_send("abc:1", &cmd);
    pv_warn("abc:1", "a warning");
    let term_lines = term.lines();
    let file_lines = file.lines();
    assert_eq!(term_lines.len(), 1, "{term_lines:#?}");
    assert!(has(&term_lines, "a warning"));
    assert_eq!(file_lines.len(), 2, "{file_lines:#?}");
    assert!(has(&file_lines, " xyz:1 "));
    assert!(has(&file_lines, "a warning"));
    // The file's PV filter does not hide anything from the terminal handler and vice versa.
    f.remove().unwrap();
    assert!(matches!(
        f.add_filter(RoleFilter::new(Role::Client)),
        Err(LogError::HandlerGone)
    ));
    client_send("xyz:2", &cmd);
    assert!(file.take().is_empty(), "removed handler gets nothing");
}

#[test]
fn reconfiguring_replaces_the_global_handler_only() {
    let _s = serial();
    let first = Capture::new();
    let extra = Capture::new();
    let old = log::config_logging(
        LogConfig::writer(first.writer())
            .level(LevelFilter::DEBUG)
            .color(ColorMode::Never),
    )
    .unwrap();
    let side = log::add_handler(
        LogConfig::writer(extra.writer())
            .level(LevelFilter::INFO)
            .color(ColorMode::Never),
    )
    .unwrap();
    let second = Capture::new();
    let new = log::config_logging(
        LogConfig::writer(second.writer())
            .level(LevelFilter::DEBUG)
            .color(ColorMode::Never),
    )
    .unwrap();
    assert_eq!(log::get_handler(), Some(new));
    assert!(matches!(old.level(), Err(LogError::HandlerGone)));
    role_info("client", "after reconfig");
    assert!(first.take().is_empty());
    assert!(second.take().contains("after reconfig"));
    assert!(
        extra.take().contains("after reconfig"),
        "other handlers stay"
    );
    side.remove().unwrap();
}

#[test]
fn foreign_targets_are_capped_at_warn_and_levels_apply() {
    let _s = serial();
    let (_h, cap) = debug_handler(vec![]);
    tracing::debug!(target: "some_dependency", "dependency internals");
    tracing::warn!(target: "some_dependency", "dependency warning");
    tracing::trace!(target: "caproto::circ", "payload detail");
    tracing::debug!(target: "caproto_get", "binary's own debug");
    let lines = cap.lines();
    assert!(!has(&lines, "dependency internals"));
    assert!(has(&lines, "dependency warning"));
    assert!(
        !has(&lines, "payload detail"),
        "TRACE is above a DEBUG handler"
    );
    assert!(has(&lines, "binary's own debug"));
}

#[test]
fn nothing_is_formatted_when_nobody_listens() {
    let _s = serial();
    let (h, cap) = debug_handler(vec![]);
    h.set_level(LevelFilter::WARN).unwrap();
    let cmd = Cmd::new("EchoRequest()");
    client_send("a", &cmd);
    assert_eq!(cmd.count(), 0);
    assert!(cap.take().is_empty());
}

#[test]
fn bad_configuration_is_reported() {
    let _s = serial();
    let err = log::config_logging(LogConfig::terminal().datefmt("%Q")).unwrap_err();
    assert!(matches!(err, LogError::InvalidDateFormat(_)), "{err}");
    let err = log::add_handler(LogConfig::file("/nonexistent-dir/caproto.log")).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent-dir/caproto.log"),
        "{err}"
    );
    // With a global handler in place, the remaining slots fill up, then adding fails cleanly.
    let (_global, _cap) = debug_handler(vec![]);
    let mut taken = Vec::new();
    let err = loop {
        match log::add_handler(LogConfig::writer(Capture::new().writer())) {
            Ok(h) => taken.push(h),
            Err(e) => break e,
        }
    };
    let n = taken.len();
    for h in taken {
        h.remove().unwrap();
    }
    assert!(matches!(err, LogError::NoFreeSlot), "{err}");
    assert_eq!(n, log::MAX_HANDLERS - 1);
    // Freed slots are usable again.
    log::add_handler(LogConfig::writer(Capture::new().writer()))
        .unwrap()
        .remove()
        .unwrap();
}

/// A target filter with barrier OFF makes a handler of put logs only: the
/// `caproto::putlog` records pass, everything else (warnings included) stays out.
#[test]
fn target_filter_selects_put_logs() {
    let _s = serial();
    let f = log::TargetFilter::new(["caproto::putlog"]).level(LevelFilter::OFF);
    let (_h, cap) = debug_handler(vec![f.into()]);
    tracing::info!(target: "caproto::putlog", pv = "p:x", user = "alice", host = "h",
        old = "[1]", new = "[2]", "put");
    client_send("p:x", &Cmd::new("WriteNotifyRequest()"));
    pv_warn("p:x", "a warning");
    tracing::warn!(target: "caproto::access", pv = "p:x", "write refused");
    let lines = cap.lines();
    assert_eq!(lines.len(), 1, "{lines:#?}");
    assert!(
        has(&lines, "user=alice") || has(&lines, "user=\"alice\""),
        "{lines:#?}"
    );
    assert!(has(&lines, "new="), "{lines:#?}");
}
