//! Proves the interop harness (tests/common) against the two reference
//! implementations, before any of our own code is involved:
//! EPICS softIoc <- EPICS caget and caproto-get; caproto server <- EPICS caget.
//! Everything on loopback with per-test ports; every process has a timeout.

mod common;

use std::time::Duration;

use common::CaEnv;

const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// `caget -t` (value only) of `pv` through EPICS base.
fn epics_caget(env: &CaEnv, args: &[&str]) -> Option<String> {
    let mut cmd = env.epics("caget")?;
    cmd.args(["-w", "5"]).args(args);
    let out = env.run(&mut cmd, CLIENT_TIMEOUT);
    Some(out.expect_success("EPICS caget").to_owned())
}

#[test]
fn epics_caget_reads_softioc_fixture() {
    let env = CaEnv::new();
    let Some(_ioc) = common::softioc_fixture(&env, "smk1:") else {
        return;
    };
    let Some(out) = epics_caget(&env, &["-t", "smk1:ai"]) else {
        return;
    };
    assert_eq!(out.trim(), "3.5");

    let out = epics_caget(&env, &["-t", "smk1:mbbi", "smk1:stringin", "smk1:longin"])
        .expect("caget was found a moment ago");
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["two", "hello", "42"]);

    let out = epics_caget(&env, &["-t", "-S", "smk1:wave_c"]).expect("caget present");
    assert_eq!(
        out.trim(),
        "a long string that does not fit in forty characters"
    );

    let out = epics_caget(&env, &["-a", "smk1:ai_alarm"]).expect("caget present");
    assert!(out.contains("HIHI") && out.contains("MAJOR"), "{out}");
}

#[test]
fn caproto_get_reads_softioc_fixture() {
    let env = CaEnv::new();
    let Some(_ioc) = common::softioc_fixture(&env, "smk2:") else {
        return;
    };
    let Some(mut cmd) = env.caproto("caproto-get") else {
        return;
    };
    cmd.args([
        "--no-repeater",
        "--timeout",
        "5",
        "smk2:ai",
        "smk2:longout",
        "smk2:wave_s",
    ]);
    let out = env.run(&mut cmd, CLIENT_TIMEOUT);
    let stdout = out.expect_success("caproto-get");
    let lines: Vec<Vec<&str>> = stdout
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(lines.len(), 3, "{out}");
    // caproto-get prints every value as a list and asks for the dynamic
    // length (count 0), so the waveform shows only its 3 valid elements.
    assert_eq!(lines[0], ["smk2:ai", "[3.5]"], "{out}");
    assert_eq!(lines[1], ["smk2:longout", "[-7]"], "{out}");
    assert_eq!(lines[2], ["smk2:wave_s", "[1", "-2", "3]"], "{out}");
}

#[test]
fn epics_caget_reads_caproto_simple_server() {
    let env = CaEnv::new();
    let Some(_server) = common::caproto_example(&env, "simple", "smk3:", "A") else {
        return;
    };
    let Some(out) = epics_caget(&env, &["-t", "smk3:A", "smk3:B"]) else {
        return;
    };
    let lines: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(lines, ["1", "2"], "caproto simple serves A=1, B=2");
}

#[test]
fn servers_on_separate_envs_do_not_see_each_other() {
    let a = CaEnv::new();
    let b = CaEnv::new();
    assert_ne!(a.server_port(), b.server_port());
    let Some(_ioc) = common::softioc_fixture(&a, "smk4:") else {
        return;
    };
    // Env b has no server on its port: the search must fail, quickly and cleanly.
    let Some(mut cmd) = b.epics("caget") else {
        return;
    };
    cmd.args(["-w", "1", "smk4:ai"]);
    let out = b.run(&mut cmd, CLIENT_TIMEOUT);
    assert!(!out.timed_out, "{out}");
    assert!(
        !out.success(),
        "caget on another port must not find smk4:ai\n{out}"
    );
}

#[test]
fn run_with_timeout_kills_a_hung_client() {
    let env = CaEnv::new();
    let Some(mut cmd) = env.epics("camonitor") else {
        return;
    };
    // camonitor never exits on its own.
    cmd.args(["-w", "1", "nobody:home"]);
    let out = env.run(&mut cmd, Duration::from_millis(1500));
    assert!(out.timed_out, "{out}");
    assert!(!out.success());
}
