//! `caproto-ioc defaultdict`: EPICS caget, caput and camonitor (and our
//! caproto-info) on names the server has never seen; names outside the
//! prefix unanswered; the PVs made listed at exit (SIGTERM); --type/--count.

mod common;
mod faults_support;

use std::time::Duration;

use common::CaEnv;
use faults_support::{start_ioc, Proc};

const INFO_EXE: &str = env!("CARGO_BIN_EXE_caproto-info");

fn epics(env: &CaEnv, tool: &str, args: &[&str]) -> Option<common::RunOutput> {
    let mut cmd = env.epics(tool)?;
    cmd.args(args);
    Some(env.run(&mut cmd, Duration::from_secs(30)))
}

fn stop(mut ioc: Proc) -> String {
    ioc.signal("TERM");
    let status = ioc.wait("caproto-ioc after SIGTERM");
    assert!(status.success(), "{status}: {}", ioc.stderr());
    ioc.stdout()
}

#[test]
fn epics_tools_on_names_never_seen() {
    let env = CaEnv::new();
    if !common::peers::has_epics() {
        common::peers::missing::<()>("EPICS base", &common::peers::peers_dir());
        return;
    }
    let ioc = start_ioc(
        &env,
        &["defaultdict", "--prefix", "dd1:", "--list-pvs"],
        "dd1:probe",
        "defaultdict",
    );
    let get = epics(&env, "caget", &["-w", "10", "dd1:fresh"]).unwrap();
    assert_eq!(
        get.expect_success("caget")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["dd1:fresh", "0"]
    );
    let put = epics(&env, "caput", &["-w", "10", "dd1:written", "4.25"]).unwrap();
    let put = put.expect_success("caput");
    assert!(
        put.contains("New : dd1:written") && put.trim_end().ends_with("4.25"),
        "{put}"
    );
    let again = epics(&env, "caget", &["-w", "10", "-t", "dd1:written"]).unwrap();
    assert_eq!(again.expect_success("caget").trim(), "4.25");
    // camonitor on a new name: its first update, then cut off by the bound.
    let mut cmd = env.epics("camonitor").unwrap();
    cmd.args(["-w", "10", "dd1:watched"]);
    let mut mon = Proc::spawn(&mut cmd, env.dir(), "camonitor");
    mon.wait_until("camonitor's first update", |out, _| {
        out.lines()
            .any(|l| l.starts_with("dd1:watched") && l.split_whitespace().nth(3) == Some("0"))
    });
    drop(mon);
    // Outside the prefix: not found (caget's own verdict, exit 1; not a run that timed out).
    let other = epics(&env, "caget", &["-w", "0.5", "elsewhere:x"]).unwrap();
    assert!(!other.timed_out, "{other:?}");
    assert_eq!(other.status.and_then(|s| s.code()), Some(1), "{other:?}");
    assert!(
        format!("{}{}", other.stdout, other.stderr)
            .contains("Channel connect timed out: 'elsewhere:x' not found."),
        "{other:?}"
    );
    // A search alone is answered but creates nothing (the list below stays as it was).
    let sock = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let name = common::raw::padded("dd1:searched");
    let mut search = common::raw::header(0, 0, 0, 13, 0, 0);
    search.extend(common::raw::header(6, name.len() as u16, 10, 13, 77, 77));
    search.extend(name);
    sock.send_to(&search, ("127.0.0.1", env.server_port()))
        .unwrap();
    let mut buf = [0u8; 1024];
    let n = sock
        .recv(&mut buf)
        .expect("a search reply for dd1:searched");
    let (msgs, _) = common::raw::messages(&buf[..n]);
    assert!(
        msgs.iter().any(|m| m.cmd == 6 && m.p2 == 77),
        "{:?}",
        &buf[..n]
    );
    let listed = stop(ioc);
    assert_eq!(
        listed,
        "PVs:\n    dd1:probe\n    dd1:fresh\n    dd1:written\n    dd1:watched\n"
    );
}

#[test]
fn type_count_and_any_name() {
    let env = CaEnv::new();
    let ioc = start_ioc(
        &env,
        &[
            "defaultdict",
            "--any-name",
            "--type",
            "long",
            "--count",
            "4",
        ],
        "whatever:probe",
        "defaultdict-any",
    );
    let mut cmd = env.own(INFO_EXE);
    cmd.args(["--no-repeater", "-w", "10", "x", "y:z"]);
    let out = env.run(&mut cmd, Duration::from_secs(30));
    let out = out.expect_success("caproto-info");
    assert_eq!(
        out.matches("Native data type: DBF_LONG").count(),
        2,
        "{out}"
    );
    assert_eq!(out.matches("Element count:    4").count(), 2, "{out}");
    stop(ioc);
}

#[test]
fn defaultdict_needs_a_prefix_or_any_name() {
    let env = CaEnv::new();
    let mut cmd = env.own(faults_support::IOC_EXE);
    cmd.arg("defaultdict");
    let out = env.run(&mut cmd, Duration::from_secs(30));
    assert_eq!(out.status.and_then(|s| s.code()), Some(2), "{out:?}");
    assert!(out.stderr.contains("--prefix"), "{}", out.stderr);
}
