//! caproto's client tools (caproto-get, caproto-put, caproto-monitor) against
//! our `caproto-ioc`. Loopback only, per-test ports.

mod common;
mod server_support;

use common::CaEnv;
use server_support::{caproto, normalized, start_ioc, wait_for_output, CLIENT_TIMEOUT};

#[test]
fn caproto_get_reads_simple_example() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "simple", "cg1:", "A") else {
        return;
    };
    let Some(out) = caproto(
        &env,
        "caproto-get",
        &["--timeout", "5", "cg1:A", "cg1:B", "cg1:C"],
    ) else {
        return;
    };
    // caproto-get prints numbers with `{:g}` (as caget's %g): B, a DOUBLE 2.0,
    // is "[2]", exactly as against caproto's own simple IOC.
    assert_eq!(
        normalized(out.expect_success("caproto-get")),
        ["cg1:A [1]", "cg1:B [2]", "cg1:C [1 2 3]"]
    );
}

#[test]
fn caproto_get_metadata_and_strings() {
    let env = CaEnv::new();
    let p = "cg2:";
    let Some(_ioc) = start_ioc(&env, "type_varieties", p, "ai") else {
        return;
    };
    let Some(out) = caproto(
        &env,
        "caproto-get",
        &["--timeout", "5", &format!("{p}string"), &format!("{p}enum")],
    ) else {
        return;
    };
    // caproto-get decodes strings (and enum state strings) before printing:
    // no Python quotes, e.g. "[One Value]" from caproto's own enums IOC.
    assert_eq!(
        normalized(out.expect_success("caproto-get")),
        [format!("{p}string [hello]"), format!("{p}enum [On]")]
    );
    let out = caproto(
        &env,
        "caproto-get",
        // caproto-get prints only the data unless told to format the metadata.
        &[
            "--timeout",
            "5",
            "-d",
            "CTRL_DOUBLE",
            "--format",
            "{response.metadata}",
            &format!("{p}ai"),
        ],
    )
    .unwrap();
    let text = out.expect_success("caproto-get").to_string();
    for needle in [
        "units=b'mm'",
        "precision=3",
        "upper_disp_limit=100.0",
        "lower_alarm_limit=-90.0",
    ] {
        assert!(text.contains(needle), "{needle} missing from {text}");
    }
}

#[test]
fn caproto_put_writes() {
    let env = CaEnv::new();
    let p = "cp1:";
    let Some(_ioc) = start_ioc(&env, "simple", p, "B") else {
        return;
    };
    let Some(out) = caproto(
        &env,
        "caproto-put",
        &["--timeout", "5", &format!("{p}B"), "4.5"],
    ) else {
        return;
    };
    assert_eq!(
        normalized(out.expect_success("caproto-put")),
        [format!("Old : {p}B [2.]"), format!("New : {p}B [4.5]")]
    );
    let out = caproto(&env, "caproto-get", &["--timeout", "5", &format!("{p}B")]).unwrap();
    assert_eq!(
        normalized(out.expect_success("caproto-get")),
        [format!("{p}B [4.5]")]
    );
}

#[test]
fn caproto_monitor_sees_updates() {
    let env = CaEnv::new();
    let p = "cm1:";
    let Some(_ioc) = start_ioc(&env, "simple", p, "A") else {
        return;
    };
    let Some(mut cmd) = env.caproto("caproto-monitor") else {
        return;
    };
    let a = format!("{p}A");
    cmd.args(["--no-repeater", &a]);
    let mut mon = env.spawn("caproto-monitor", &mut cmd);
    wait_for_output(&mut mon, CLIENT_TIMEOUT, "initial value", |l| {
        l.contains("[1]")
    });
    caproto(&env, "caproto-put", &["--timeout", "5", &a, "42"])
        .unwrap()
        .expect_success("caproto-put");
    let log = wait_for_output(&mut mon, CLIENT_TIMEOUT, "update", |l| l.contains("[42]"));
    mon.kill();
    let values: Vec<String> = normalized(&log)
        .iter()
        .filter(|l| l.starts_with(&a))
        .filter_map(|l| l.rsplit(' ').next().map(str::to_string))
        .collect();
    assert_eq!(values, ["[1]", "[42]"], "{log}");
}
