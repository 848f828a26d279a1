//! EPICS base's own CA conformance suite, `acctst PV 1 20 1`, against our
//! server. Part-way acctst asks for the channel to be disconnected: the test
//! kills our server (by handle) and starts it again on the same port. Success
//! ends with "Test Complete". Kept alone in this file so it runs in parallel
//! with the other test binaries (it takes a couple of minutes).

mod common;
mod server_support;

use std::time::Duration;

use common::CaEnv;
use server_support::{start_ioc, wait_for_output};

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
    wait_for_output(
        &mut acctst,
        Duration::from_secs(300),
        "acctst to ask for a disconnect",
        |l| l.contains("Please force test channel to disconnect") || l.contains("failed"),
    );
    ioc.kill();
    drop(ioc);
    let _ioc2 = start_ioc(&env, "simple", p, "B").expect("peers were found a moment ago");
    let log = wait_for_output(
        &mut acctst,
        Duration::from_secs(400),
        "Test Complete",
        |l| l.contains("Test Complete") || !l.is_empty() && l.contains("Assertion"),
    );
    acctst.kill();
    assert!(log.contains("Test Complete"), "{log}");
    assert!(!log.contains("Assertion"), "{log}");
}
