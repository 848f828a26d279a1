//! Log shipping against a real collector (syslog-ng from Debian, started by the test on
//! loopback ports with its own configuration), plus the daemon-side logging features a
//! long-running `caproto-ioc` needs: SIGHUP reopen after a logrotate-style rename, size
//! rotation, and the `--log-control` PVs.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::collector::Collector;
use common::{CaEnv, ChildGuard};
use serde_json::Value as Json;

const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
const PUT_EXE: &str = env!("CARGO_BIN_EXE_caproto-put");
const MONITOR_EXE: &str = env!("CARGO_BIN_EXE_caproto-monitor");

/// Hang guard for waits (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

fn start_ioc(env: &CaEnv, args: &[&str], probe: &str) -> ChildGuard {
    let mut cmd = common::servers::our_ioc_command(env);
    cmd.args(args);
    let mut server = common::servers::spawn_our_ioc(env, "caproto-ioc", &mut cmd);
    server.wait_until(&format!("{args:?} serving {probe}"), PATIENCE, |_| {
        let mut get = env.own(GET_EXE);
        get.args(["--no-repeater", "--timeout", "5", probe]);
        env.run(&mut get, PATIENCE).success()
    });
    server
}

fn wait_until(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn signal(pid: u32, sig: &str) {
    let st = Command::new("kill")
        .args([sig, &pid.to_string()])
        .status()
        .expect("kill");
    assert!(st.success(), "kill {sig} {pid}");
}

/// The fields a record must keep end to end, as comparable text.
type Key = BTreeMap<&'static str, String>;

const FIELDS: [&str; 8] = [
    "pv",
    "our_addr",
    "their_addr",
    "direction",
    "role",
    "bytes",
    "command",
    "message",
];

fn text(v: &Json) -> String {
    match v {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// A record from our own JSON lines (the file, or what the collector got over `tcp://`).
fn key_of_json(j: &Json) -> Key {
    let mut k = Key::new();
    k.insert("level", text(&j["level"]));
    k.insert("target", text(&j["target"]));
    for f in FIELDS {
        if let Some(v) = j.get(f) {
            k.insert(f, text(v));
        }
    }
    k
}

/// A record as syslog-ng parsed it from RFC 5424: header fields and structured data.
fn key_of_syslog(j: &Json) -> Key {
    let sd = &j["_SDATA"]["caproto@32473"];
    let mut k = Key::new();
    k.insert("level", text(&sd["level"]));
    k.insert("target", text(&j["MSGID"]));
    for f in FIELDS {
        if let Some(v) = sd.get(f) {
            k.insert(f, text(v));
        }
    }
    // MSG is the message, or the command for records without one.
    let msg = j.get("MESSAGE").map(text).unwrap_or_default();
    if k.get("command") != Some(&msg) && !msg.is_empty() {
        k.insert("message", msg);
    }
    k
}

fn parse_lines(path: &Path) -> Vec<Json> {
    Collector::lines(path)
        .iter()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect()
}

fn sorted(mut v: Vec<Key>) -> Vec<Key> {
    v.sort();
    v
}

#[test]
fn records_from_caproto_get_arrive_at_syslog_ng_with_their_fields() {
    let env = CaEnv::new();
    let Some(collector) = Collector::start(env.dir()) else {
        return;
    };
    let _ioc = start_ioc(&env, &["simple", "--interfaces", "127.0.0.1"], "simple:A");
    let file = env.dir().join("get.jsonl");
    let mut get = env.own(GET_EXE);
    get.args([
        "--no-repeater",
        "-vvv",
        "--log-format",
        "json",
        "--log-file",
    ])
    .arg(&file);
    for url in collector.urls() {
        get.args(["--log-ship", &url]);
    }
    get.arg("simple:A")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let child = get.spawn().expect("caproto-get");
    let pid = child.id();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");

    // What the file handler wrote is the reference: the same records, same level.
    let reference: Vec<Key> = parse_lines(&file).iter().map(key_of_json).collect();
    let commands = reference
        .iter()
        .filter(|k| {
            k.get("pv").map(String::as_str) == Some("simple:A") && k.contains_key("command")
        })
        .count();
    assert!(
        commands >= 4,
        "expected per-command records about simple:A: {reference:?}"
    );
    let want = sorted(reference.clone());

    // NDJSON over TCP: every record, every field, plus who sent it.
    wait_until("all JSON lines at the collector", || {
        Collector::lines(&collector.json_out()).len() >= reference.len()
    });
    let shipped = parse_lines(&collector.json_out());
    for j in &shipped {
        assert_eq!(j["app"], "caproto-get", "{j}");
        assert_eq!(j["pid"], pid, "{j}");
        assert!(j["host"].as_str().is_some_and(|h| !h.is_empty()), "{j}");
    }
    assert_eq!(sorted(shipped.iter().map(key_of_json).collect()), want);

    // RFC 5424 over TCP (octet counting), UDP and the Unix datagram socket, parsed by
    // syslog-ng: each source delivers the same records with the fields as structured data.
    let by_source = |src: &str| -> Vec<Json> {
        parse_lines(&collector.syslog_out())
            .into_iter()
            .filter(|j| j["SOURCE"] == src)
            .collect()
    };
    for src in ["s_sys", "s_udp", "s_unix"] {
        wait_until(&format!("all syslog messages from {src}"), || {
            by_source(src).len() >= reference.len()
        });
        let got = by_source(src);
        for j in &got {
            assert_eq!(j["PROGRAM"], "caproto-get", "{j}");
            assert_eq!(j["PID"], pid.to_string(), "{j}");
        }
        assert_eq!(
            sorted(got.iter().map(key_of_syslog).collect()),
            want,
            "source {src}"
        );
    }
}

fn count_values(log: &str) -> usize {
    log.lines()
        .filter(|l| l.starts_with("ticker:count "))
        .count()
}

#[test]
fn collector_restart_the_tool_keeps_going_reconnects_and_reports_drops() {
    let env = CaEnv::new();
    let Some(mut collector) = Collector::start(env.dir()) else {
        return;
    };
    let _ioc = start_ioc(
        &env,
        &["ticker", "--interfaces", "127.0.0.1", "--rate", "200"],
        "ticker:count",
    );
    let url = format!(
        "tcp://127.0.0.1:{}?level=debug&queue=50",
        collector.json_port
    );
    let mut mon = env.own(MONITOR_EXE);
    mon.args(["--no-repeater", "--log-ship", &url, "ticker:count"]);
    let mut mon = env.spawn("caproto-monitor", &mut mon);

    let json = collector.json_out();
    collector.wait_for(&json, PATIENCE, |l| l.contains("EventAddResponse"));
    collector.stop();
    let before = Collector::lines(&json).len();

    // While the collector is down the tool keeps monitoring (values keep coming).
    let at_stop = count_values(&mon.log_contents());
    wait_until("monitor values during the outage", || {
        count_values(&mon.log_contents()) >= at_stop + 200
    });
    mon.assert_running();
    wait_until("the outage to be noticed", || {
        mon.log_contents().contains("collector unreachable")
    });

    collector.restart();
    // The collector itself learns about the outage and the drops (notices may exceed the
    // queue's capacity a little for this)...
    collector.wait_for(&json, PATIENCE, |l| l.contains("log shipping reconnected"));
    let after: Vec<Json> = parse_lines(&json)[before..].to_vec();
    assert!(after.iter().any(|j| j["message"]
        .as_str()
        .is_some_and(|m| m.contains("collector unreachable"))));
    let report = after
        .iter()
        .find(|j| {
            j["message"]
                .as_str()
                .is_some_and(|m| m.contains("reconnected"))
        })
        .unwrap();
    let dropped = report["dropped"].as_u64().expect("dropped is a number");
    assert!(
        dropped > 0,
        "a 50-record queue must overflow during the outage: {report}"
    );
    // ... and so does the terminal, and records flow again.
    assert!(mon.log_contents().contains("log shipping reconnected"));
    let n = Collector::lines(&json).len();
    wait_until("records after the reconnection", || {
        Collector::lines(&json)[n..]
            .iter()
            .any(|l| l.contains("EventAddResponse"))
    });

    // At exit the tool reports the total dropped.
    signal(mon.pid(), "-TERM");
    wait_until("caproto-monitor to exit", || !mon.is_running());
    let log = mon.log_contents();
    assert!(
        log.contains(&format!(
            "{dropped} records dropped while the collector was unreachable"
        )),
        "{log}"
    );
    assert!(
        log.contains("records dropped, "),
        "exit report missing:\n{log}"
    );
}

#[test]
fn sighup_reopens_the_log_file_after_a_logrotate_style_rename() {
    let env = CaEnv::new();
    let file = env.dir().join("ioc.log");
    let file_arg = file.to_str().unwrap().to_owned();
    let mut ioc = start_ioc(
        &env,
        &[
            "simple",
            "--interfaces",
            "127.0.0.1",
            "--log-file",
            &file_arg,
        ],
        "simple:A",
    );
    let get = |pv: &str| {
        let mut g = env.own(GET_EXE);
        g.args(["--no-repeater", pv]);
        assert!(env.run(&mut g, PATIENCE).success());
    };
    get("simple:B");
    wait_until("simple:B in the log", || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("simple:B")
    });
    // logrotate: rename, then SIGHUP.
    let rotated = env.dir().join("ioc.log.1");
    std::fs::rename(&file, &rotated).unwrap();
    signal(ioc.pid(), "-HUP");
    wait_until("the reopened file", || file.exists());
    get("simple:C");
    wait_until("simple:C in the new file", || {
        std::fs::read_to_string(&file)
            .unwrap_or_default()
            .contains("simple:C")
    });
    ioc.assert_running();
    let old = std::fs::read_to_string(&rotated).unwrap();
    let new = std::fs::read_to_string(&file).unwrap();
    assert!(
        old.contains("simple:B") && !old.contains("simple:C"),
        "{old}"
    );
    assert!(!new.contains("simple:B"), "{new}");
}

#[test]
fn log_file_rotates_by_size_and_keeps_n_files() {
    let env = CaEnv::new();
    let file = env.dir().join("ioc.log");
    let file_arg = file.to_str().unwrap().to_owned();
    let _ioc = start_ioc(
        &env,
        &[
            "simple",
            "--interfaces",
            "127.0.0.1",
            "--log-file",
            &file_arg,
            "--log-file-max-size",
            "4K",
            "--log-file-keep",
            "2",
        ],
        "simple:A",
    );
    let numbered = |i: u32| env.dir().join(format!("ioc.log.{i}"));
    for _ in 0..60 {
        let mut g = env.own(GET_EXE);
        g.args(["--no-repeater", "simple:A", "simple:B"]);
        assert!(env.run(&mut g, PATIENCE).success());
        if numbered(2).exists() {
            break;
        }
    }
    assert!(
        numbered(1).exists() && numbered(2).exists(),
        "no rotation happened"
    );
    assert!(!numbered(3).exists(), "keep 2 means two rotated files");
    for p in [file.clone(), numbered(1), numbered(2)] {
        let len = std::fs::metadata(&p).unwrap().len();
        assert!(len <= 4096, "{} is {len} bytes", p.display());
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.lines().all(|l| l.starts_with('[')),
            "whole lines only: {text}"
        );
    }
}

/// Lines of `text` after the first line containing `marker` (all of them if `marker` is "").
fn after<'a>(text: &'a str, marker: &str) -> Vec<&'a str> {
    let mut lines = text.lines();
    if !marker.is_empty() {
        lines.find(|l| l.contains(marker)).expect(marker);
    }
    lines.collect()
}

/// Whether any per-command line (they carry a byte count) mentions `pv` as a whole word.
fn mentions(lines: &[&str], pv: &str) -> bool {
    lines
        .iter()
        .any(|l| l.contains("B ") && l.split_whitespace().any(|w| w == pv))
}

#[test]
fn log_control_pv_changes_what_the_running_iocs_file_handler_records() {
    let env = CaEnv::new();
    let file = env.dir().join("ioc.log");
    let file_arg = file.to_str().unwrap().to_owned();
    let mut ioc = start_ioc(
        &env,
        &[
            "simple",
            "--interfaces",
            "127.0.0.1",
            "--log-file",
            &file_arg,
            "--log-control",
            "ctl",
            "--log-pv",
            "simple:A",
        ],
        "simple:A",
    );
    let get_both = || {
        let mut g = env.own(GET_EXE);
        g.args(["--no-repeater", "simple:A", "simple:B"]);
        assert!(env.run(&mut g, PATIENCE).success());
    };
    let read = || std::fs::read_to_string(&file).unwrap_or_default();

    get_both();
    wait_until("records about simple:A", || {
        mentions(&after(&read(), ""), "simple:A")
    });
    let before = read();
    assert!(!mentions(&after(&before, ""), "simple:B"), "{before}");

    // The operator moves the filter to simple:B on the running IOC.
    let mut put = env.own(PUT_EXE);
    put.args(["--no-repeater", "ctl:pv", "simple:B"]);
    let out = env.run(&mut put, PATIENCE);
    assert!(out.success(), "{out}");
    wait_until("the change to be logged", || {
        read().contains("log control: ctl:pv set to \"simple:B\"")
    });

    get_both();
    wait_until("records about simple:B", || {
        mentions(&after(&read(), "log control: ctl:pv"), "simple:B")
    });
    let text = read();
    let since = after(&text, "log control: ctl:pv");
    assert!(
        !mentions(&since, "simple:A"),
        "simple:A still logged:\n{text}"
    );

    // A bad address is refused: the put itself fails (ECA_PUTFAIL).
    let mut put = env.own(PUT_EXE);
    put.args(["--no-repeater", "-c", "ctl:addr", "127.0.0.1:99999"]);
    let out = env.run(&mut put, PATIENCE);
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stderr.contains("ctl:addr"), "{out}");
    // A good value put after it is applied and logged; by the time its line is in the
    // file, the refused one would be too if it had been applied.
    let mut put = env.own(PUT_EXE);
    put.args(["--no-repeater", "ctl:addr", "127.0.0.1"]);
    let out = env.run(&mut put, PATIENCE);
    assert!(out.success(), "{out}");
    wait_until("the good address to be logged", || {
        read().contains("log control: ctl:addr set to \"127.0.0.1\"")
    });
    let text = read();
    assert_eq!(text.matches("ctl:addr set to").count(), 1, "{text}");
    assert!(
        !text.contains("99999"),
        "a refused value was applied:\n{text}"
    );
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "-t", "ctl:addr"]);
    let out = env.run(&mut get, PATIENCE);
    assert_eq!(
        out.expect_success("caproto-get ctl:addr").trim(),
        "127.0.0.1"
    );
    ioc.assert_running();
}

#[test]
fn a_destination_can_route_one_target_only() {
    let env = CaEnv::new();
    let Some(collector) = Collector::start(env.dir()) else {
        return;
    };
    let _ioc = start_ioc(&env, &["simple", "--interfaces", "127.0.0.1"], "simple:A");
    // As a put-log destination would take `caproto::putlog`: here the search records.
    let url = format!(
        "tcp://127.0.0.1:{}?level=trace&target=caproto::bcast",
        collector.json_port
    );
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "-vvv", "--log-ship", &url, "simple:A"]);
    let out = env.run(&mut get, PATIENCE);
    assert!(out.success(), "{out}");
    wait_until("search records at the collector", || {
        Collector::lines(&collector.json_out())
            .iter()
            .any(|l| l.contains("SearchRequest"))
    });
    let got = parse_lines(&collector.json_out());
    for j in &got {
        let t = j["target"].as_str().unwrap();
        assert!(
            t == "caproto::bcast" || t.starts_with("caproto::bcast::"),
            "{j}"
        );
    }
}

#[test]
fn log_disable_drops_debug_and_trace_whatever_the_handlers_want() {
    let env = CaEnv::new();
    let _ioc = start_ioc(&env, &["simple", "--interfaces", "127.0.0.1"], "simple:A");
    let run = |extra: &[&str], name: &str| {
        let file = env.dir().join(name);
        let mut get = env.own(GET_EXE);
        get.args(["--no-repeater", "-vvv", "--log-file"])
            .arg(&file)
            .args(extra)
            .arg("simple:A");
        let out = env.run(&mut get, PATIENCE);
        assert!(out.success(), "{out}");
        std::fs::read_to_string(&file).unwrap()
    };
    let all = run(&[], "all.log");
    assert!(all.lines().any(|l| l.starts_with("[D ")), "{all}");
    let disabled = run(&["--log-disable", "debug"], "disabled.log");
    assert!(
        !disabled
            .lines()
            .any(|l| l.starts_with("[D ") || l.starts_with("[T ")),
        "{disabled}"
    );
}

#[test]
fn log_control_pvs_follow_their_own_access_group() {
    let env = CaEnv::new();
    // Everything writable, except the log-control group: read only.
    let acf = env.write_file(
        "ioc.acf",
        "ASG(DEFAULT) { RULE(1, READ) RULE(1, WRITE) }\nASG(CAPROTO_LOG) { RULE(1, READ) }\n",
    );
    let mut ioc = start_ioc(
        &env,
        &[
            "simple",
            "--interfaces",
            "127.0.0.1",
            "--log-control",
            "ctl",
            "--acf",
            acf.to_str().unwrap(),
        ],
        "simple:A",
    );
    let put = |pv: &str, v: &str| {
        let mut p = env.own(PUT_EXE);
        p.args(["--no-repeater", "-c", pv, v]);
        env.run(&mut p, PATIENCE)
    };
    let get = |pv: &str| {
        let mut g = env.own(GET_EXE);
        g.args(["--no-repeater", pv]);
        let out = env.run(&mut g, PATIENCE);
        out.expect_success(pv).to_owned()
    };
    let out = put("simple:A", "7");
    assert!(out.success(), "{out}");
    let out = get("simple:A");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["simple:A", "[7]"],
        "DEFAULT group stays writable"
    );
    // The refusal is the put's own result, not the absence of a change.
    let out = put("ctl:pv", "simple:B");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stderr.contains("ctl:pv"), "{out}");
    let out = get("ctl:pv");
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["ctl:pv", "[]"],
        "CAPROTO_LOG is read-only in this ACF (the filter stays empty)"
    );
    ioc.assert_running();
    assert!(!ioc.log_contents().contains("log control: ctl:pv set"));
}

/// The syslog PRI is facility × 8 + severity: WARN warning(4), INFO info(6), DEBUG debug(7);
/// facility `user` (1) by default, `local3` (19) from `?facility=local3`. A UDP socket of the
/// test is the collector.
#[test]
fn syslog_pri_follows_the_level_and_the_url_facility() {
    for (query, facility) in [("", 1u32), ("?facility=local3", 19)] {
        let env = CaEnv::new();
        let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        sock.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let url = format!("syslog+udp://{}{query}", sock.local_addr().unwrap());
        let mut ioc = start_ioc(
            &env,
            &[
                "simple",
                "--interfaces",
                "127.0.0.1",
                "-vv",
                "--log-control",
                "ctl",
                "--log-ship",
                &url,
            ],
            "simple:A",
        );
        // A WARN record: every log-control change is logged at WARN.
        let mut put = env.own(PUT_EXE);
        put.args(["--no-repeater", "-c", "ctl:role", "ANY"]);
        let out = env.run(&mut put, PATIENCE);
        assert!(out.success(), "{out}");
        let mut pris: BTreeMap<String, std::collections::BTreeSet<u32>> = BTreeMap::new();
        let mut buf = vec![0u8; 65536];
        let deadline = Instant::now() + PATIENCE;
        while !["DEBUG", "INFO", "WARN"]
            .iter()
            .all(|l| pris.contains_key(*l))
        {
            assert!(
                Instant::now() < deadline,
                "{query}: levels seen {pris:?}\n{}",
                ioc.log_contents()
            );
            let Ok(n) = sock.recv(&mut buf) else {
                continue;
            };
            let msg = String::from_utf8_lossy(&buf[..n]).into_owned();
            let pri: u32 = msg
                .strip_prefix('<')
                .and_then(|m| m.split_once(">1 "))
                .and_then(|(p, _)| p.parse().ok())
                .unwrap_or_else(|| panic!("not RFC 5424: {msg}"));
            let level = msg
                .split_once(" level=\"")
                .and_then(|(_, r)| r.split_once('"'))
                .map(|(l, _)| l.to_owned())
                .unwrap_or_else(|| panic!("no level: {msg}"));
            pris.entry(level).or_default().insert(pri);
        }
        ioc.assert_running();
        for (level, severity) in [("WARN", 4), ("INFO", 6), ("DEBUG", 7)] {
            assert_eq!(
                pris[level].iter().copied().collect::<Vec<_>>(),
                [facility * 8 + severity],
                "{query}: {level}"
            );
        }
    }
}

/// `PREFIX:level` sets the level of the controlled handlers and `PREFIX:role` their role
/// filter, each change marked in the file by its WARN record; string values hold at most 39
/// characters (a longer put is refused and changes nothing).
#[test]
fn log_control_level_and_role_pvs_and_the_39_character_limit() {
    let env = CaEnv::new();
    let file = env.dir().join("ioc.log");
    let file_arg = file.to_str().unwrap().to_owned();
    let mut ioc = start_ioc(
        &env,
        &[
            "simple",
            "--interfaces",
            "127.0.0.1",
            "--log-file",
            &file_arg,
            "--log-control",
            "ctl",
        ],
        "simple:A",
    );
    let read = || std::fs::read_to_string(&file).unwrap_or_default();
    let get_a = || {
        let mut g = env.own(GET_EXE);
        g.args(["--no-repeater", "simple:A"]);
        let out = env.run(&mut g, PATIENCE);
        assert!(out.success(), "{out}");
    };
    let put = |pv: &str, v: &str| {
        let mut p = env.own(PUT_EXE);
        p.args(["--no-repeater", "-c", pv, v]);
        env.run(&mut p, PATIENCE)
    };
    // Sets `pv` and waits for the WARN record that marks the change in the file.
    let change = |pv: &str, v: &str| {
        let out = put(pv, v);
        assert!(out.success(), "{out}");
        let marker = format!("log control: {pv} set to \"{v}\"");
        wait_until(&marker, || read().contains(&marker));
        marker
    };
    // Per-command lines about simple:A between two markers ("" = end of file).
    let lines_between = |from: &str, to: &str| -> usize {
        let text = read();
        let since = after(&text, from);
        let upto: Vec<&str> = if to.is_empty() {
            since
        } else {
            since.into_iter().take_while(|l| !l.contains(to)).collect()
        };
        upto.iter()
            .filter(|l| l.contains("B ") && l.split_whitespace().any(|w| w == "simple:A"))
            .count()
    };

    // The file starts with per-command (DEBUG) lines.
    get_a();
    wait_until("records about simple:A", || lines_between("", "") > 0);
    // WARNING: the next get leaves no per-command line.
    let warning = change("ctl:level", "WARNING");
    get_a();
    let debug = change("ctl:level", "DEBUG");
    assert_eq!(lines_between(&warning, &debug), 0, "{}", read());
    get_a();
    wait_until("records at DEBUG again", || lines_between(&debug, "") > 0);
    // Role CLIENT: the server's own records (role server) are dropped; SERVER: kept.
    let client = change("ctl:role", "CLIENT");
    get_a();
    let server = change("ctl:role", "SERVER");
    assert_eq!(lines_between(&client, &server), 0, "{}", read());
    get_a();
    wait_until("server records again", || lines_between(&server, "") > 0);

    // 39 characters fit; 40 do not.
    let fits = "simple:A,simple:B,simple:C,simple:D,s*x";
    assert_eq!(fits.len(), 39);
    change("ctl:pv", fits);
    let mut g = env.own(GET_EXE);
    g.args(["--no-repeater", "-t", "ctl:pv"]);
    assert_eq!(env.run(&mut g, PATIENCE).expect_success("get").trim(), fits);
    let too_long = format!("{fits}y");
    let out = put("ctl:pv", &too_long);
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    let mut g = env.own(GET_EXE);
    g.args(["--no-repeater", "-t", "ctl:pv"]);
    assert_eq!(env.run(&mut g, PATIENCE).expect_success("get").trim(), fits);
    assert!(!read().contains(&too_long), "{}", read());
    ioc.assert_running();
}

/// Shipping at exit. A collector that is unreachable from the start is not an error: the tool
/// does its work and exits 0, then reports what it lost (`N records dropped, M still queued at
/// exit (0 sent)`). A collector that takes the records gets every one before the tool exits,
/// and nothing is reported as lost.
#[test]
fn shipping_at_exit_reports_what_is_left_and_an_unreachable_collector_is_no_error() {
    let env = CaEnv::new();
    let mut ioc = start_ioc(&env, &["simple", "--interfaces", "127.0.0.1"], "simple:A");
    // A port of the harness's allocator that nothing listens on (and nothing else is given).
    let closed = common::ports::free_tcp_udp_port();
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "-vvv", "--log-ship"])
        .arg(format!("tcp://127.0.0.1:{closed}?queue=2"))
        .arg("simple:A");
    let out = env.run(&mut get, PATIENCE);
    let stdout = out.expect_success("caproto-get with an unreachable collector");
    assert!(stdout.starts_with("simple:A"), "{out}");
    let report = out
        .stderr
        .lines()
        .find(|l| l.contains("still queued at exit"))
        .unwrap_or_else(|| panic!("no exit report:\n{out}"));
    let numbers: Vec<u64> = report
        .split("log shipping: ")
        .nth(1)
        .unwrap()
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .take(3)
        .collect();
    assert!(
        numbers.len() == 3 && numbers[0] > 0 && numbers[1] > 0 && numbers[2] == 0,
        "dropped, still queued, sent: {report}"
    );

    // A collector that reads: every record arrives, none is reported lost.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let reader = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        s.set_read_timeout(Some(PATIENCE)).unwrap();
        let mut text = String::new();
        let _ = std::io::Read::read_to_string(&mut s, &mut text);
        text
    });
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "-vvv", "--log-ship"])
        .arg(format!("tcp://127.0.0.1:{port}"))
        .arg("simple:A");
    let out = env.run(&mut get, PATIENCE);
    out.expect_success("caproto-get with a collector");
    assert!(!out.stderr.contains("still queued"), "{out}");
    assert!(!out.stderr.contains("records dropped"), "{out}");
    let shipped = reader.join().unwrap();
    let records: Vec<Json> = shipped
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(
        records.iter().any(|r| r["command"]
            .as_str()
            .is_some_and(|c| c.starts_with("ReadNotifyResponse"))),
        "{shipped}"
    );
    // The run's last command record is the read's reply: caproto-get exits
    // once the value is printed, leaving its circuit to the OS as caget
    // does, and records made that late still reach the collector.
    let last_command = records
        .iter()
        .rev()
        .find_map(|r| r["command"].as_str())
        .unwrap_or_default();
    assert!(
        last_command.starts_with("ReadNotifyResponse"),
        "the last records of the run were shipped too: {shipped}"
    );
    ioc.assert_running();
}
