//! Network partitions simulated with SIGSTOP / SIGCONT on loopback.
//!
//! Client side: our `caproto-monitor` and a library `Context`, both with
//! `EPICS_CA_CONN_TMO=2`, monitor a PV of `caproto-ioc ticker`; the server is
//! stopped long enough for the echo check (2 s of silence, then an unanswered
//! echo for 5 s) to declare the circuit dead. Both must report the channel
//! disconnected, reconnect once the server continues, and resume updates.
//!
//! Server side: a `caproto-monitor` process is stopped while subscribed to a
//! fast waveform, so the server's circuit to it backs up. The server must stay
//! responsive, keep its memory bounded, keep serving another client, and the
//! stopped client must resume when continued.

mod client_support;
mod common;
mod faults_support;

use std::time::{Duration, Instant};

use caproto::client::{ClientError, Context};
use caproto::proto::command::mask;
use caproto::proto::dbr::{DbrClass, DbrType, NativeType, Value};

use common::CaEnv;
use faults_support::{
    get, lines_for, printed, rss_kib, start_ioc, tail, Proc, MONITOR_EXE, PATIENCE,
};

/// The connection timeout given to the clients.
const CONN_TMO: &str = "2";

fn monitor(env: &CaEnv, pvs: &[&str], name: &str, log: Option<&std::path::Path>) -> Proc {
    let mut cmd = env.own(MONITOR_EXE);
    cmd.env("EPICS_CA_CONN_TMO", CONN_TMO).arg("--no-repeater");
    if let Some(log) = log {
        cmd.arg("--log-file").arg(log);
    }
    cmd.args(pvs);
    Proc::spawn(&mut cmd, env.dir(), name)
}

fn first_long(v: &Value) -> i64 {
    match v {
        Value::Long(x) => i64::from(x[0]),
        other => panic!("expected a LONG value, got {other:?}"),
    }
}

#[test]
fn clients_detect_a_stopped_server_and_recover() {
    let env = CaEnv::new();
    let pv = "pt1:count";
    let ioc = start_ioc(
        &env,
        &["ticker", "--prefix", "pt1:", "--rate", "20"],
        pv,
        "ioc",
    );
    let mon_log = env.dir().join("monitor.log");
    let mut mon = monitor(&env, &[pv], "monitor", Some(&mon_log));

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let mut cfg = client_support::config(&env, false);
    cfg.conn_timeout = Duration::from_secs(2);
    let (ctx, mut sub) = rt.block_on(async {
        let ctx = Context::new(cfg).expect("context");
        let ch = ctx
            .connect_one(pv, Duration::from_secs(20))
            .await
            .expect("connect");
        let sub = ch.subscribe(
            DbrType::Value(DbrClass::Time, NativeType::Long),
            None,
            mask::VALUE,
        );
        (ctx, sub)
    });
    // Updates flow to both.
    rt.block_on(async {
        for _ in 0..3 {
            client_support::next(&mut sub).await.expect("update");
        }
    });
    mon.wait_until("monitor before the stop", |out, _| {
        printed(out, pv).len() >= 5
    });

    ioc.signal("STOP");
    let stopped_at = Instant::now();
    // The library context: the subscription reports the disconnection.
    let lib_err = rt.block_on(async {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            match tokio::time::timeout_at(deadline, sub.recv()).await {
                Ok(Some(Err(e))) => break e,
                Ok(Some(Ok(_))) => {} // updates already on their way
                Ok(None) => panic!("subscription ended"),
                Err(_) => panic!("no disconnection reported within {PATIENCE:?}"),
            }
        }
    });
    assert!(
        matches!(&lib_err, ClientError::Disconnected { pv: p } if p == pv),
        "library context: {lib_err:?}"
    );
    // The tool: camonitor's line on stdout (`PV TIME *** disconnected`).
    mon.wait_until("monitor reporting the disconnection", |out, _| {
        out.lines()
            .any(|l| l.starts_with(pv) && l.ends_with(" *** disconnected"))
    });
    let detected_after = stopped_at.elapsed();
    let printed_while_down = printed(&mon.stdout(), pv);

    ioc.signal("CONT");
    // Both reconnect and get new values again.
    let resumed = rt.block_on(async {
        let (r, _) = client_support::next_ok(&mut sub).await;
        let (r2, _) = client_support::next_ok(&mut sub).await;
        (first_long(&r.value), first_long(&r2.value))
    });
    assert!(resumed.1 > resumed.0, "library updates resume: {resumed:?}");
    let n = printed_while_down.len();
    mon.wait_until("monitor resuming after SIGCONT", |out, _| {
        printed(out, pv).len() >= n + 5
    });
    let after = printed(&mon.stdout(), pv);
    let new = &after[n..];
    assert!(
        new.windows(2).all(|w| w[1] > w[0]),
        "monitor values after the partition not increasing: {new:?}"
    );
    assert!(
        new[0] > *printed_while_down.last().unwrap(),
        "monitor did not move on after the partition: before {:?}, after {new:?}",
        printed_while_down.last()
    );
    // It found out through the echo check.
    let log = std::fs::read_to_string(&mon_log).unwrap_or_default();
    assert!(
        log.contains("EchoRequest"),
        "no echo request in the monitor's log:\n{}",
        tail(&log, 20)
    );
    assert!(
        log.contains("echo not answered"),
        "the monitor's log does not say why the circuit was dropped:\n{}",
        tail(&log, 20)
    );
    eprintln!(
        "stopped server: disconnection reported after {detected_after:.1?}; \
         library resumed with {resumed:?}; monitor resumed with {:?}",
        &new[..new.len().min(5)]
    );
    mon.assert_running("monitor");
    drop(sub);
    rt.block_on(ctx.close());
}

#[test]
fn stopped_client_does_not_hold_up_the_server() {
    let env = CaEnv::new();
    let wave = "pt2:wave";
    let count = "pt2:count";
    let mut ioc = start_ioc(
        &env,
        &["ticker", "--prefix", "pt2:", "--rate", "1000"],
        count,
        "ioc",
    );
    let pid = ioc.pid();
    // A client that will stop reading: 1000 waveforms of 100 doubles a second
    // (about 8 MB in the 9 s it is stopped: more than the socket buffers hold).
    let mut stopped = monitor(&env, &[wave, count], "stopped-monitor", None);
    let mut live = monitor(&env, &[count], "live-monitor", None);
    stopped.wait_until("the client to be stopped", |out, _| {
        lines_for(out, wave) >= 10
    });
    live.wait_until("the live client", |out, _| lines_for(out, count) >= 10);
    let rss_before = rss_kib(pid).expect("server RSS");

    stopped.signal("STOP");
    let stopped_lines = lines_for(&stopped.stdout(), wave);
    // Longer than the clients' echo timing (2 s + 5 s), so a server-side
    // check of that kind, if there were one, would have acted.
    let until = Instant::now() + Duration::from_secs(9);
    let mut rss_max = rss_before;
    let mut gets = 0;
    while Instant::now() < until {
        ioc.assert_running("caproto-ioc");
        let got = get(&env, count);
        assert!(got.is_some(), "server stopped answering reads");
        gets += 1;
        rss_max = rss_max.max(rss_kib(pid).expect("server RSS"));
        std::thread::sleep(Duration::from_millis(300));
    }
    let live_before = lines_for(&live.stdout(), count);
    live.wait_until("the live client while the other is stopped", |out, _| {
        lines_for(out, count) >= live_before + 20
    });
    assert!(
        rss_max < rss_before + 64 * 1024 && rss_max < 256 * 1024,
        "server RSS grew from {rss_before} KiB to {rss_max} KiB"
    );

    stopped.signal("CONT");
    stopped.wait_until("the stopped client after SIGCONT", |out, _| {
        lines_for(out, wave) >= stopped_lines + 50
    });
    assert!(
        !stopped.stdout().contains("*** disconnected"),
        "the server dropped the stopped client:\n{}",
        stopped.stdout()
    );
    // Not asserted (it depends on the socket buffers): the largest jump in
    // the counter the stopped client saw shows the server coalesced updates
    // for it instead of queueing them all.
    let seen = printed(&stopped.stdout(), count);
    let jump = seen.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);
    eprintln!(
        "stopped client for 9 s: server RSS {rss_before} KiB before, at most {rss_max} KiB \
         while stopped; {gets} gets answered meanwhile; live monitor kept printing; \
         largest counter jump seen by the stopped client after SIGCONT: {jump}"
    );
}
