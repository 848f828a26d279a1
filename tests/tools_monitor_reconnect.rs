//! caproto-monitor as camonitor behaves when PVs come and go: started before
//! its IOC it reports the PV not connected and keeps searching; when the IOC
//! stops it reports the disconnect; when an IOC serves the name again, with
//! a different native type, it subscribes afresh and prints the new type's
//! values. `--strict` keeps the exit-on-timeout of earlier versions.

mod common;
mod tools_support;

use std::time::{Duration, Instant};

use common::{CaEnv, ChildGuard};
use tools_support::{ours, ours_cmd, Tool};

/// Hang guard for each awaited line (not a timing assertion).
const WAIT: Duration = Duration::from_secs(60);

/// Wait until `monitor`'s output has `n` lines matching `pred`; the output.
fn wait_for(monitor: &mut ChildGuard, what: &str, pred: impl Fn(&str) -> bool, n: usize) -> String {
    let start = Instant::now();
    loop {
        let out = monitor.log_contents();
        if out.lines().filter(|l| pred(l)).count() >= n {
            return out;
        }
        if start.elapsed() > WAIT {
            panic!("no {what} after {WAIT:?}; output so far:\n{out}");
        }
        monitor.assert_running();
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn softioc(env: &CaEnv, name: &str, record: &str) -> Option<ChildGuard> {
    let db = env.write_file(&format!("{name}.db"), record);
    let mut ioc = common::start_softioc(env, &db, "")?;
    common::wait_for_server(env, &mut ioc, "tr1:A");
    Some(ioc)
}

#[test]
fn follows_a_pv_across_not_found_disconnect_and_type_change() {
    let env = CaEnv::new();
    if !common::peers::has_epics() {
        common::peers::missing::<()>("EPICS base", &common::peers::peers_dir());
        return;
    }
    let mut monitor = env.spawn(
        "caproto-monitor",
        &mut ours_cmd(&env, Tool::Monitor, &["-w", "0.5", "tr1:A"]),
    );
    let pad = format!("{:<40}  ", "tr1:A");
    wait_for(
        &mut monitor,
        "not-connected line",
        |l| l == format!("{pad}*** Not connected (PV not found)"),
        1,
    );
    // The IOC comes up: a double.
    let Some(mut ioc) = softioc(
        &env,
        "double",
        "record(ao, \"tr1:A\") { field(VAL, \"1.5\") field(PINI, \"YES\") }\n",
    ) else {
        return;
    };
    wait_for(&mut monitor, "first value", |l| l.ends_with(" [1.5]"), 1);
    ioc.send_line("dbpf tr1:A 2.5").unwrap();
    wait_for(&mut monitor, "second value", |l| l.ends_with(" [2.5]"), 1);
    ioc.kill();
    wait_for(
        &mut monitor,
        "disconnect line",
        |l| l.starts_with(&pad) && l.ends_with(" *** disconnected"),
        1,
    );
    // The same name comes back as a string.
    let Some(mut ioc) = softioc(
        &env,
        "string",
        "record(stringout, \"tr1:A\") { field(VAL, \"hello\") field(PINI, \"YES\") }\n",
    ) else {
        return;
    };
    wait_for(&mut monitor, "string value", |l| l.ends_with(" [hello]"), 1);
    ioc.send_line("dbpf tr1:A world").unwrap();
    let out = wait_for(
        &mut monitor,
        "second string",
        |l| l.ends_with(" [world]"),
        1,
    );
    ioc.kill();
    monitor.kill();
    // In order, each once: not connected, the double's values, the
    // disconnect, the string's values.
    let keys = [
        "*** Not connected (PV not found)",
        " [1.5]",
        " [2.5]",
        "*** disconnected",
        " [hello]",
        " [world]",
    ];
    let lines: Vec<&str> = out
        .lines()
        .filter(|l| keys.iter().any(|k| l.ends_with(k)))
        .collect();
    assert_eq!(lines.len(), keys.len(), "{out}");
    for (line, key) in lines.iter().zip(keys) {
        assert!(
            line.starts_with(&pad) && line.ends_with(key),
            "{line:?} vs {key:?}\n{out}"
        );
    }
}

#[test]
fn strict_exits_on_timeout_and_duration_still_ends_it() {
    let env = CaEnv::new();
    let run = ours(&env, Tool::Monitor, &["--strict", "-w", "0.3", "tr2:none"]);
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{run:?}");
    assert!(
        run.stderr.contains("search for 'tr2:none'"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty(), "{}", run.stdout);
    // Without --strict: reported, searched for until --duration ends it, status 1.
    let run = ours(
        &env,
        Tool::Monitor,
        &["-w", "0.3", "--duration", "1", "tr2:none"],
    );
    assert_eq!(run.status.and_then(|s| s.code()), Some(1), "{run:?}");
    assert_eq!(
        run.stdout,
        format!("{:<40}  *** Not connected (PV not found)\n", "tr2:none")
    );
}

/// `--strict`: a PV whose IOC goes away is reported (`channel disconnected` on stderr) and
/// not followed again: with no PV left the monitor ends, although the IOC is back and its
/// PV changes.
#[test]
fn strict_does_not_follow_a_lost_pv_again() {
    let env = CaEnv::new();
    let ioc_cmd = || {
        let mut cmd = env.own(env!("CARGO_BIN_EXE_caproto-ioc"));
        cmd.args(["simple", "--prefix", "tr4:"]);
        cmd
    };
    let mut ioc = env.spawn("caproto-ioc", &mut ioc_cmd());
    common::wait_for_server(&env, &mut ioc, "tr4:A");
    let mut monitor = env.spawn_stderr_apart(
        "caproto-monitor",
        &mut ours_cmd(&env, Tool::Monitor, &["--strict", "-w", "5", "tr4:A"]),
    );
    wait_for(&mut monitor, "first value", |l| l.ends_with(" [1]"), 1);
    ioc.kill();
    // Back on the same port, with a new value the monitor must not print.
    let mut ioc = env.spawn("caproto-ioc", &mut ioc_cmd());
    common::wait_for_server(&env, &mut ioc, "tr4:A");
    let mut put = ours_cmd(&env, Tool::Put, &["tr4:A", "7"]);
    env.run(&mut put, WAIT)
        .expect_success("caproto-put tr4:A 7");
    let start = Instant::now();
    while monitor.is_running() {
        assert!(
            start.elapsed() < WAIT,
            "the --strict monitor is still running:\n{}",
            monitor.log_contents()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = monitor.log_contents();
    let stderr =
        std::fs::read_to_string(monitor.log_path().with_extension("stderr")).unwrap_or_default();
    assert!(stderr.contains("tr4:A: channel disconnected"), "{stderr}");
    assert!(!out.contains("[7]"), "followed again:\n{out}");
    assert_eq!(
        out.lines().filter(|l| l.ends_with(" [1]")).count(),
        1,
        "{out}"
    );
}

/// The same with our own IOC: `caproto-ioc defaultdict` serving the name as
/// a double array, then (restarted on the same port) as a string.
#[test]
fn follows_a_pv_across_our_ioc_restart_with_another_type() {
    const IOC_EXE: &str = env!("CARGO_BIN_EXE_caproto-ioc");
    let env = CaEnv::new();
    let mut monitor = env.spawn(
        "caproto-monitor",
        &mut ours_cmd(&env, Tool::Monitor, &["-w", "0.5", "tr3:X"]),
    );
    let pad = format!("{:<40}  ", "tr3:X");
    wait_for(
        &mut monitor,
        "not-connected line",
        |l| l == format!("{pad}*** Not connected (PV not found)"),
        1,
    );
    let ioc = |args: &[&str]| {
        let mut cmd = env.own(IOC_EXE);
        cmd.args(["defaultdict", "--prefix", "tr3:"]).args(args);
        env.spawn("caproto-ioc", &mut cmd)
    };
    let mut first = ioc(&["--type", "double", "--count", "3"]);
    wait_for(
        &mut monitor,
        "array value",
        |l| l.starts_with(&pad) && l.ends_with(" [0 0 0]"),
        1,
    );
    first.kill();
    wait_for(
        &mut monitor,
        "disconnect line",
        |l| l.starts_with(&pad) && l.ends_with(" *** disconnected"),
        1,
    );
    let mut second = ioc(&["--type", "string"]);
    let out = wait_for(
        &mut monitor,
        "string value",
        |l| l.starts_with(&pad) && l.ends_with(" []"),
        1,
    );
    second.kill();
    monitor.kill();
    let not_found = out.find("*** Not connected").unwrap();
    let disconnected = out.find("*** disconnected").unwrap();
    assert!(not_found < disconnected, "{out}");
}
