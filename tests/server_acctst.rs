//! EPICS base's own CA conformance suite, `acctst PV 1 20 1`, against our
//! server. Part-way acctst asks for the channel to be disconnected: the test
//! kills our server (by handle) and starts it again on the same port. Success
//! ends with "Test Complete". Kept alone in this file so it runs in parallel
//! with the other test binaries (it takes a couple of minutes).
//!
//! A failing check in acctst does not exit: EPICS's `verify()` prints
//! `A call to 'assert(EXPR)'` / `by thread 'NAME' failed in FILE line N.` and
//! suspends the thread, so the process stays alive and silent. The waits
//! below look for that text on every poll, and fail at once if acctst has
//! exited without finishing, instead of running into their hang guards.

mod common;
mod server_support;

use std::time::{Duration, Instant};

use common::{CaEnv, ChildGuard};
use server_support::start_ioc;

/// What acctst has printed so far means.
#[derive(Debug, PartialEq)]
enum Progress {
    /// Still running its checks.
    Running,
    /// The line the waiter is looking for has appeared.
    Reached,
    /// A `verify()` failed (EPICS's assertion text), or an error was printed.
    Failed(String),
}

/// Reads acctst's output: `want` is the line a waiter needs next.
fn progress(log: &str, want: &str) -> Progress {
    // epicsAssert's report: "A call to 'assert(...)'\n    by thread ... failed in ..."
    if let Some(at) = log.find("A call to 'assert(") {
        let what: Vec<&str> = log[at..].lines().take(2).map(str::trim).collect();
        return Progress::Failed(what.join(" "));
    }
    if let Some(line) = log.lines().find(|l| l.contains("Assertion")) {
        return Progress::Failed(line.to_string());
    }
    if log.contains(want) {
        Progress::Reached
    } else {
        Progress::Running
    }
}

/// Polls acctst until `want` appears; panics with its log as soon as a check
/// fails or the process exits without printing it. `guard` bounds a hang.
fn wait_for(acctst: &mut ChildGuard, want: &str, guard: Duration) -> String {
    let deadline = Instant::now() + guard;
    loop {
        let log = acctst.log_contents();
        match progress(&log, want) {
            Progress::Reached => return log,
            Progress::Failed(what) => panic!("acctst failed a check: {what}\n--- log ---\n{log}"),
            Progress::Running => {}
        }
        if !acctst.is_running() {
            // Read once more: the last lines may have landed after the poll.
            let log = acctst.log_contents();
            if progress(&log, want) == Progress::Reached {
                return log;
            }
            panic!("acctst exited before printing {want:?}\n--- log ---\n{log}");
        }
        assert!(
            Instant::now() < deadline,
            "acctst still running but silent on {want:?} after {guard:?}\n--- log ---\n{log}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn acctst_failure_text_is_recognised() {
    // The text EPICS 7.0.8.1's epicsAssert prints for a failed verify().
    let log = "Performing CA tests\n\
               A call to 'assert(status == ECA_NORMAL)'\n    by thread 'acctst' failed in \
               ../acctst.c line 1234.\nEPICS Release EPICS 7.0.8.1.\n";
    match progress(log, "Test Complete") {
        Progress::Failed(what) => assert!(what.contains("acctst.c line 1234"), "{what}"),
        other => panic!("not recognised as a failure: {other:?}"),
    }
    assert_eq!(
        progress("ok\nTest Complete\n", "Test Complete"),
        Progress::Reached
    );
    assert_eq!(progress("ok\n", "Test Complete"), Progress::Running);
}

#[test]
fn acctst_passes_against_our_server() {
    let env = CaEnv::new();
    let p = "act:";
    let Some(mut ioc) = start_ioc(&env, "simple", p, "B") else {
        return;
    };
    let Some(mut cmd) = env.epics("acctst") else {
        return;
    };
    cmd.args([&format!("{p}B"), "1", "20", "1"]);
    let mut acctst = env.spawn("acctst", &mut cmd);
    wait_for(
        &mut acctst,
        "Please force test channel to disconnect",
        Duration::from_secs(300),
    );
    ioc.kill();
    drop(ioc);
    let _ioc2 = start_ioc(&env, "simple", p, "B").expect("peers were found a moment ago");
    let log = wait_for(&mut acctst, "Test Complete", Duration::from_secs(400));
    acctst.kill();
    assert!(log.contains("Test Complete"), "{log}");
}
