//! Log files survive termination signals: `caproto-monitor -vvv --log-file F`
//! is stopped with SIGINT or SIGTERM after some updates; it must exit with
//! 130 / 143, and F must hold the record of every update it printed. The
//! server (`caproto-ioc --log-file`) is stopped with SIGINT at the end and
//! its file must hold the records of the events it sent and its shutdown.

mod common;
mod faults_support;

use std::process::ExitStatus;
use std::time::{Duration, Instant};

use common::CaEnv;
use faults_support::{printed, start_ioc, Proc, MONITOR_EXE, PATIENCE};

/// Values of the EventAddResponse records in a log file.
fn logged_events(log: &str, pv: &str) -> Vec<i64> {
    log.lines()
        .filter(|l| l.contains(&format!(" {pv} EventAddResponse(data=[")))
        .filter_map(|l| {
            let rest = l.split("EventAddResponse(data=[").nth(1)?;
            rest.split(']').next()?.trim().parse().ok()
        })
        .collect()
}

/// Runs the monitor until it printed 20 values, sends `sig`, returns
/// (exit status, printed values, log file contents).
fn monitor_then_signal(env: &CaEnv, pv: &str, sig: &str) -> (ExitStatus, Vec<i64>, String) {
    let log = env.dir().join(format!("monitor-{sig}.log"));
    let mut cmd = env.own(MONITOR_EXE);
    cmd.args(["--no-repeater", "-vvv", "--log-file"])
        .arg(&log)
        .arg(pv);
    let mut mon = Proc::spawn(&mut cmd, env.dir(), &format!("monitor-{sig}"));
    let deadline = Instant::now() + PATIENCE;
    while printed(&mon.stdout(), pv).len() < 20 {
        if let Some(st) = mon.child.try_wait().unwrap() {
            panic!("monitor exited early ({st}):\n{}", mon.stderr());
        }
        assert!(Instant::now() < deadline, "monitor printed < 20 values");
        std::thread::sleep(Duration::from_millis(20));
    }
    mon.signal(sig);
    let status = mon.wait(&format!("caproto-monitor after SIG{sig}"));
    let values = printed(&mon.stdout(), pv);
    let file = std::fs::read_to_string(&log).unwrap_or_default();
    (status, values, file)
}

/// The monitor's own address, from the CLEAR_CHANNEL of `pv` it logged sending (panics if it
/// sent none: a tool stopped by a signal clears its channels first).
fn cleared_from(log: &str, pv: &str) -> String {
    let line = log
        .lines()
        .find(|l| l.contains(" --->>> ") && l.contains(&format!(" {pv} ClearChannelRequest(")))
        .unwrap_or_else(|| panic!("no CLEAR_CHANNEL sent for {pv}:\n{log}"));
    line.split(" --->>> ")
        .next()
        .and_then(|l| l.split_whitespace().last())
        .expect("our address")
        .to_owned()
}

/// The values of `printed` that `logged` lacks.
fn not_in(printed: &[i64], logged: &[i64]) -> Vec<i64> {
    printed
        .iter()
        .copied()
        .filter(|v| !logged.contains(v))
        .collect()
}

fn check_log_covers(sig: &str, values: &[i64], file: &str, pv: &str) {
    let logged = logged_events(file, pv);
    let missing = not_in(values, &logged);
    assert!(
        missing.is_empty(),
        "SIG{sig}: updates printed but not in the log file: {missing:?}\nprinted {values:?}\nlogged {logged:?}"
    );
    eprintln!(
        "SIG{sig}: {} updates printed, {} EventAddResponse records in the file, last printed {:?}",
        values.len(),
        logged.len(),
        values.last()
    );
}

#[test]
fn log_files_survive_sigint_and_sigterm() {
    let env = CaEnv::new();
    let pv = "sg1:count";
    let ioc_log = env.dir().join("ioc.log");
    let log_arg = ioc_log.to_str().expect("utf-8 temp path");
    let args = [
        "ticker",
        "--prefix",
        "sg1:",
        "--rate",
        "50",
        "--log-file",
        log_arg,
    ];
    let mut ioc = start_ioc(&env, &args, pv, "ioc");

    let (status, values, file) = monitor_then_signal(&env, pv, "INT");
    assert_eq!(status.code(), Some(130), "exit after SIGINT: {status}");
    check_log_covers("INT", &values, &file, pv);
    let int_client = cleared_from(&file, pv);

    let (status, values, file) = monitor_then_signal(&env, pv, "TERM");
    assert_eq!(status.code(), Some(143), "exit after SIGTERM: {status}");
    check_log_covers("TERM", &values, &file, pv);
    let term_client = cleared_from(&file, pv);

    // The server: it shuts down cleanly on SIGINT (status 0, as caproto's
    // IOCs do), and its file has the events it sent the last monitor and the
    // shutdown record written after the signal.
    ioc.signal("INT");
    let status = ioc.wait("caproto-ioc after SIGINT");
    assert!(status.success(), "caproto-ioc after SIGINT: {status}");
    let server_file = std::fs::read_to_string(&ioc_log).unwrap_or_default();
    // Each monitor cleared its channel before it exited: the server received it.
    for (sig, client) in [("INT", &int_client), ("TERM", &term_client)] {
        assert!(
            server_file.lines().any(|l| l.contains(client.as_str())
                && l.contains(&format!(" {pv} ClearChannelRequest("))),
            "SIG{sig}: the server never received CLEAR_CHANNEL from {client}"
        );
    }
    let sent = logged_events(&server_file, pv);
    let missing = not_in(&values, &sent);
    assert!(
        missing.is_empty(),
        "server log lacks sent events {missing:?}"
    );
    assert!(
        server_file.contains("server shutting down"),
        "server log lacks the shutdown record:\n{}",
        server_file
            .lines()
            .rev()
            .take(5)
            .collect::<Vec<_>>()
            .join("\n")
    );
}
