//! Our caproto-monitor against EPICS softIoc (tests/fixtures/ioc.db) and a
//! caproto example server: the scanning calc, several PVs, updates caused
//! by puts, --maximum / --duration / -m / --format, unknown PVs, and the
//! per-command log; caproto's caproto-monitor run alongside for comparison.

mod common;
mod tools_support;

use std::time::{Duration, Instant};

use common::{CaEnv, ChildGuard};
use tools_support::{count_commands, default_line, ours, ours_ok, theirs, Tool};

fn ioc(env: &CaEnv, prefix: &str) -> Option<ChildGuard> {
    common::softioc_fixture(env, prefix)
}

/// One default-format monitor line: PV name, server timestamp, data.
#[derive(Debug, Clone, PartialEq)]
struct Update {
    pv: String,
    date: String,
    time: String,
    data: String,
}

/// Parse caproto-monitor's default line
/// `{pv_name: <40}  {timestamp:%Y-%m-%d %H:%M:%S.%f} {data}`.
fn parse(line: &str) -> Update {
    let (pv, rest) = line.split_at(line.len().min(40));
    let pv = pv.trim_end();
    let rest = rest
        .strip_prefix("  ")
        .unwrap_or_else(|| panic!("no two-space gap after a 40-column name: {line:?}"));
    assert_eq!(line, default_line(pv, rest), "name column: {line:?}");
    let mut words = rest.splitn(3, ' ');
    let date = words.next().unwrap_or_default();
    let time = words.next().unwrap_or_default();
    let data = words.next().unwrap_or_default();
    let digits = |s: &str, seps: &[usize], sep: char| {
        s.char_indices().all(|(i, c)| {
            if seps.contains(&i) {
                c == sep
            } else {
                c.is_ascii_digit()
            }
        })
    };
    assert!(
        date.len() == 10 && digits(date, &[4, 7], '-'),
        "date in {line:?}"
    );
    assert!(
        time.len() == 15
            && digits(&time[..8], &[2, 5], ':')
            && time.as_bytes()[8] == b'.'
            && time[9..].bytes().all(|b| b.is_ascii_digit()),
        "time in {line:?}"
    );
    Update {
        pv: pv.to_string(),
        date: date.to_string(),
        time: time.to_string(),
        data: data.to_string(),
    }
}

/// caproto-monitor's update lines: when it stops at --maximum it also
/// prints a `<VirtualCircuit ...>` repr to standard output, which is dropped.
fn their_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().filter(|l| !l.starts_with('<')).collect()
}

/// The number in a scalar's data, e.g. `[42]` -> 42.0.
fn scalar(data: &str) -> f64 {
    data.trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .unwrap_or_else(|e| panic!("{data:?}: {e}"))
}

#[test]
fn scanning_calc_until_maximum() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tm1:") else {
        return;
    };
    let out = ours_ok(&env, Tool::Monitor, &["--maximum", "5", "tm1:calc"]);
    let updates: Vec<Update> = out.lines().map(parse).collect();
    assert_eq!(updates.len(), 5, "{out}");
    for pair in updates.windows(2) {
        assert_eq!(pair[1].pv, "tm1:calc");
        assert!(scalar(&pair[1].data) > scalar(&pair[0].data), "{out}");
        assert!(
            (&pair[1].date, &pair[1].time) >= (&pair[0].date, &pair[0].time),
            "{out}"
        );
        assert_eq!(scalar(&pair[1].data).fract(), 0.0, "{out}");
    }
    // caproto's monitor prints the same layout.
    if let Some(theirs) = theirs(&env, Tool::Monitor, &["--maximum", "3", "tm1:calc"]) {
        let theirs = theirs.expect_success("caproto-monitor --maximum 3");
        let t: Vec<Update> = their_lines(theirs).into_iter().map(parse).collect();
        assert_eq!(t.len(), 3, "{theirs}");
        assert!(t.iter().all(|u| u.pv == "tm1:calc"));
    }
}

#[test]
fn several_pvs_one_initial_update_each() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tm2:") else {
        return;
    };
    let pvs = ["tm2:mbbi", "tm2:bo", "tm2:ai", "tm2:stringin", "tm2:wave_s"];
    // Static records: exactly one (initial) update each; their timestamps
    // are the records' own, so caproto must print the very same lines.
    for (flag, expect) in [
        (None, ["[two]", "[Closed]", "[3.5]", "[hello]", "[1 -2 3]"]),
        (Some("-n"), ["[2]", "[0]", "[3.5]", "[hello]", "[1 -2 3]"]),
    ] {
        let mut args: Vec<&str> = flag.into_iter().collect();
        args.extend(["--maximum", "5"]);
        args.extend(pvs);
        let out = ours_ok(&env, Tool::Monitor, &args);
        let mut got: Vec<Update> = out.lines().map(parse).collect();
        got.sort_by(|a, b| a.pv.cmp(&b.pv));
        let mut want: Vec<(&str, &str)> = pvs.iter().copied().zip(expect).collect();
        want.sort();
        let got_pairs: Vec<(&str, &str)> = got
            .iter()
            .map(|u| (u.pv.as_str(), u.data.as_str()))
            .collect();
        assert_eq!(got_pairs, want, "{args:?}\n{out}");
        if let Some(theirs) = theirs(&env, Tool::Monitor, &args) {
            let theirs = theirs.expect_success("caproto-monitor");
            let mut t: Vec<&str> = their_lines(theirs);
            let mut o: Vec<&str> = out.lines().collect();
            t.sort();
            o.sort();
            assert_eq!(o, t, "{args:?}");
        }
    }
}

#[test]
fn updates_from_puts_arrive_while_monitoring() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tm3:") else {
        return;
    };
    // longout: no drive limits below 500 (tm3:ao would clip at 8).
    let written: Vec<f64> = (10..400).map(f64::from).collect();
    let out = std::thread::scope(|s| {
        let monitor = s.spawn(|| ours(&env, Tool::Monitor, &["--maximum", "3", "tm3:longout"]));
        // Keep writing new values until the monitor has seen enough.
        let deadline = Instant::now() + tools_support::RUN;
        for v in &written {
            if monitor.is_finished() || Instant::now() > deadline {
                break;
            }
            ours_ok(&env, Tool::Put, &["tm3:longout", &v.to_string()]);
            std::thread::sleep(Duration::from_millis(100));
        }
        monitor.join().expect("monitor thread")
    });
    let stdout = out.expect_success("caproto-monitor --maximum 3");
    let values: Vec<f64> = stdout
        .lines()
        .map(parse)
        .map(|u| {
            assert_eq!(u.pv, "tm3:longout");
            scalar(&u.data)
        })
        .collect();
    assert_eq!(values.len(), 3, "{stdout}");
    for v in &values {
        assert!(
            *v == -7.0 || written.contains(v),
            "unexpected {v}: {stdout}"
        );
    }
    assert!(values.windows(2).all(|w| w[1] > w[0]), "{stdout}");
    assert!(written.contains(&values[2]), "{stdout}");
}

#[test]
fn duration_mask_and_format() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tm4:") else {
        return;
    };
    // A static record gives its initial update, then nothing until --duration.
    let out = ours_ok(&env, Tool::Monitor, &["--duration", "3", "tm4:ai"]);
    let updates: Vec<Update> = out.lines().map(parse).collect();
    assert_eq!(updates.len(), 1, "{out}");
    assert_eq!(updates[0].data, "[3.5]");
    // Alarm-only mask on the scanning calc: the calc never alarms, so only
    // the initial update arrives although its value changes 10 times a second.
    let out = ours_ok(
        &env,
        Tool::Monitor,
        &["-m", "a", "--duration", "3", "tm4:calc"],
    );
    assert_eq!(out.lines().count(), 1, "{out}");
    // --format with the callback count.
    let out = ours_ok(
        &env,
        Tool::Monitor,
        &[
            "--format",
            "{pv_name}|{callback_count}|{response.data}",
            "--maximum",
            "3",
            "tm4:calc",
        ],
    );
    let lines: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(lines.len(), 3, "{out}");
    for (i, l) in lines.iter().enumerate() {
        assert_eq!(l.len(), 3, "{out}");
        assert_eq!(l[0], "tm4:calc");
        assert_eq!(l[1], (i + 1).to_string());
        scalar(l[2]);
    }
    if let Some(theirs) = theirs(
        &env,
        Tool::Monitor,
        &[
            "--format",
            "{pv_name}|{callback_count}|{response.data}",
            "--maximum",
            "3",
            "tm4:calc",
        ],
    ) {
        let theirs = theirs.expect_success("caproto-monitor --format");
        let counts: Vec<&str> = theirs.lines().filter_map(|l| l.split('|').nth(1)).collect();
        assert_eq!(counts, ["1", "2", "3"], "{theirs}");
    }
}

#[test]
fn unknown_pvs_are_reported_and_the_others_monitored() {
    let env = CaEnv::new();
    // No server at all. --strict: the old exit on timeout.
    let out = ours(&env, Tool::Monitor, &["--strict", "-w", "1", "tm5:nope"]);
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stderr.contains("tm5:nope"), "{out}");
    assert!(out.stdout.is_empty(), "{out}");
    // By default, as camonitor: reported on stdout, searched for until --duration.
    let out = ours(
        &env,
        Tool::Monitor,
        &["-w", "1", "--duration", "2", "tm5:nope"],
    );
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert_eq!(
        out.stdout,
        format!("{:<40}  *** Not connected (PV not found)\n", "tm5:nope")
    );
    assert!(out.stderr.is_empty(), "{out}");
    let Some(_ioc) = ioc(&env, "tm5:") else {
        return;
    };
    // 5 s: long enough for tm5:ai on a loaded machine.
    let out = ours(
        &env,
        Tool::Monitor,
        &[
            "--strict",
            "-w",
            "5",
            "--maximum",
            "1",
            "tm5:nope",
            "tm5:ai",
        ],
    );
    assert!(!out.timed_out, "{out}");
    assert_eq!(out.status.and_then(|s| s.code()), Some(1), "{out}");
    assert!(out.stderr.contains("tm5:nope"), "{out}");
    let updates: Vec<Update> = out.stdout.lines().map(parse).collect();
    assert_eq!(updates.len(), 1, "{out}");
    assert_eq!(
        (updates[0].pv.as_str(), updates[0].data.as_str()),
        ("tm5:ai", "[3.5]")
    );
}

#[test]
fn vvv_logs_the_subscription_commands() {
    let env = CaEnv::new();
    let Some(_ioc) = ioc(&env, "tm6:") else {
        return;
    };
    let args = ["-vvv", "--maximum", "3", "tm6:calc"];
    let out = ours(&env, Tool::Monitor, &args);
    out.expect_success("caproto-monitor -vvv");
    assert_eq!(out.stdout.lines().count(), 3, "{out}");
    let send = "--->>>";
    let recv = "<<<---";
    assert_eq!(
        count_commands(&out.stderr, send, "CreateChanRequest"),
        1,
        "{}",
        out.stderr
    );
    assert_eq!(
        count_commands(&out.stderr, send, "EventAddRequest"),
        1,
        "{}",
        out.stderr
    );
    assert!(
        count_commands(&out.stderr, recv, "EventAddResponse") >= 3,
        "{}",
        out.stderr
    );
    if let Some(theirs) = theirs(&env, Tool::Monitor, &args) {
        // caproto's tools write their log to standard output.
        let log = theirs.expect_success("caproto-monitor -vvv");
        assert_eq!(count_commands(log, send, "EventAddRequest"), 1, "{log}");
    }
}

#[test]
fn monitor_a_caproto_server() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "random_walk", "tm7:", "x") else {
        return;
    };
    // Make it step quickly (our put against caproto's server).
    ours_ok(&env, Tool::Put, &["-c", "tm7:dt", "0.1"]);
    let out = ours_ok(&env, Tool::Monitor, &["--maximum", "3", "tm7:x", "tm7:dt"]);
    let updates: Vec<Update> = out.lines().map(parse).collect();
    assert_eq!(updates.len(), 3, "{out}");
    assert!(updates.iter().any(|u| u.pv == "tm7:x"), "{out}");
    for u in &updates {
        scalar(&u.data);
        if u.pv == "tm7:dt" {
            assert_eq!(u.data, "[0.1]", "{out}");
        }
    }
    if let Some(theirs) = theirs(&env, Tool::Monitor, &["--maximum", "3", "tm7:x"]) {
        let theirs = theirs.expect_success("caproto-monitor on random_walk");
        let t: Vec<Update> = their_lines(theirs).into_iter().map(parse).collect();
        assert_eq!(t.len(), 3, "{theirs}");
    }
}
