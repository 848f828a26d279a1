//! Faults a client must survive or report: the server is killed and restarted
//! on the same port under a running `caproto-monitor`, and a write is sent to
//! a PV the server serves read-only.

mod common;

use std::time::Duration;

use common::{CaEnv, ChildGuard};

const IOC_EXE: &str = env!("CARGO_BIN_EXE_caproto-ioc");
const GET_EXE: &str = env!("CARGO_BIN_EXE_caproto-get");
const PUT_EXE: &str = env!("CARGO_BIN_EXE_caproto-put");
const MONITOR_EXE: &str = env!("CARGO_BIN_EXE_caproto-monitor");
const REPEATER_EXE: &str = env!("CARGO_BIN_EXE_caproto-repeater");

/// Hang guard for waits and client runs (not a timing assertion).
const PATIENCE: Duration = Duration::from_secs(60);

fn start_ioc(env: &CaEnv, args: &[&str], probe: &str) -> ChildGuard {
    let mut cmd = env.own(IOC_EXE);
    cmd.args(args);
    let mut server = env.spawn("caproto-ioc", &mut cmd);
    let mut last = None;
    let served = server.wait_for(PATIENCE, |_| {
        let mut get = env.own(GET_EXE);
        get.args(["--no-repeater", "--timeout", "5", probe]);
        let out = env.run(&mut get, PATIENCE);
        let ok = out.success();
        last = Some(out);
        ok.then_some(())
    });
    if served.is_none() {
        panic!("{args:?} never served {probe}:\n{}", last.unwrap());
    }
    server
}

/// Values (last word) of the monitor's lines for `pv`, in order.
fn values(log: &str, pv: &str) -> Vec<i64> {
    log.lines()
        .filter(|l| l.split_whitespace().next() == Some(pv))
        .filter_map(|l| {
            let last = l.split_whitespace().last()?;
            last.trim_matches(|c| c == '[' || c == ']').parse().ok()
        })
        .collect()
}

/// Waits until the monitor log holds at least `n` values for `pv`.
fn wait_values(monitor: &mut ChildGuard, pv: &str, n: usize, what: &str) -> Vec<i64> {
    monitor
        .wait_for(PATIENCE, |m| {
            Some(values(&m.log_contents(), pv)).filter(|v| v.len() >= n)
        })
        .unwrap_or_else(|| {
            let log = monitor.log_contents();
            panic!(
                "{what}: only {} values of {pv} in {PATIENCE:?}\n--- monitor log ---\n{log}",
                values(&log, pv).len()
            )
        })
}

#[test]
fn monitor_survives_server_restart_on_same_port() {
    let env = CaEnv::new();
    // A repeater on the test's port relays the restarted server's beacons,
    // as in a real deployment (the monitor registers with it).
    let mut rep = env.own(REPEATER_EXE);
    let _repeater = env.spawn("caproto-repeater", &mut rep);
    let pv = "fr1:count";
    let ioc_args = ["ticker", "--prefix", "fr1:", "--rate", "20"];
    let mut ioc = start_ioc(&env, &ioc_args, pv);

    let mut mon = env.own(MONITOR_EXE);
    mon.arg(pv);
    let mut monitor = env.spawn("caproto-monitor", &mut mon);
    let before = wait_values(&mut monitor, pv, 5, "before restart");
    assert!(
        before.windows(2).all(|w| w[1] > w[0]),
        "ticker values not increasing: {before:?}"
    );

    ioc.kill();
    // The monitor reports the lost circuit before the server returns.
    let seen = values(&monitor.log_contents(), pv).len();
    // camonitor's line: `PV  TIME *** disconnected`, on stdout.
    let reported_lost = |log: &str| {
        log.lines()
            .any(|l| l.starts_with(pv) && l.ends_with("*** disconnected"))
    };
    monitor.wait_until("the dead server reported", PATIENCE, |m| {
        reported_lost(&m.log_contents())
    });
    let during = values(&monitor.log_contents(), pv).len();
    assert!(
        during <= seen + 1,
        "values kept arriving with the server dead"
    );

    let _ioc2 = start_ioc(&env, &ioc_args, pv);
    let after = wait_values(&mut monitor, pv, during + 5, "after restart");
    let new = &after[during..];
    assert!(
        new.windows(2).filter(|w| w[1] > w[0]).count() >= 3,
        "monitor did not resume a live stream after restart: {new:?}\n{}",
        monitor.log_contents()
    );
    eprintln!("values after restart: {new:?}");
    monitor.assert_running();
}

#[test]
fn put_to_read_only_pv_is_refused() {
    let env = CaEnv::new();
    let pv = "fr2:ro_double";
    let _ioc = start_ioc(&env, &["type_varieties", "--prefix", "fr2:"], pv);

    let mut put = env.own(PUT_EXE);
    put.args(["--no-repeater", "--timeout", "10", pv, "1.5"]);
    let out = env.run(&mut put, PATIENCE);
    assert!(!out.timed_out, "caproto-put hung\n{out}");
    assert_eq!(
        out.status.and_then(|s| s.code()),
        Some(1),
        "caproto-put to a read-only PV must exit 1\n{out}"
    );
    let msg = format!("{}{}", out.stdout, out.stderr).to_lowercase();
    assert!(
        msg.contains("write access") && msg.contains(pv),
        "message does not say the write was refused for lack of write access\n{out}"
    );

    eprintln!("caproto-put: {}", out.stderr.trim());
    // The value is unchanged.
    let mut get = env.own(GET_EXE);
    get.args(["--no-repeater", "--timeout", "10", pv]);
    let got = env.run(&mut get, PATIENCE);
    let line = got.expect_success("caproto-get after refused put").trim();
    assert!(
        line.trim_end_matches(']').ends_with("9.75"),
        "value changed: {line:?}"
    );

    // EPICS cainfo reports the access rights the server granted: read only.
    if let Some(mut cainfo) = env.epics("cainfo") {
        cainfo.arg(pv);
        let info = env.run(&mut cainfo, PATIENCE);
        let text = info.expect_success("cainfo");
        let access = text
            .lines()
            .find(|l| l.contains("Access:"))
            .unwrap_or_else(|| panic!("no Access line in cainfo output:\n{text}"));
        eprintln!("cainfo: {}", access.trim());
        assert!(
            access.contains("read") && access.contains("no write"),
            "cainfo access rights: {access:?}"
        );
    }
}
