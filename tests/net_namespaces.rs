//! Two (or three) simulated hosts in private network namespaces, with the
//! EPICS defaults: `EPICS_CA_AUTO_ADDR_LIST=YES`, no address lists, the
//! standard ports. Nothing here reaches the machine's real network.
//!
//! Layout (each test builds what it needs; see `common::netns`):
//!
//! ```text
//!   host A 10.77.0.1 ---veth--- 10.77.0.2 host B      (subnet 10.77.0.0/24)
//!   host A 10.78.0.1 ---veth--- 10.78.0.2 host C/B    (subnet 10.78.0.0/24)
//! ```
//!
//! Skipped with a message where namespaces cannot be created; under CI they
//! must run.

mod common;

use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use common::netns::{Host, Lab};
use common::{ioc_db, ChildGuard, RunOutput};

const GET: &str = env!("CARGO_BIN_EXE_caproto-get");
const PUT: &str = env!("CARGO_BIN_EXE_caproto-put");
const MONITOR: &str = env!("CARGO_BIN_EXE_caproto-monitor");
const IOC: &str = env!("CARGO_BIN_EXE_caproto-ioc");

const A1: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 1);
const B1: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 2);
const A2: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 1);
const X2: Ipv4Addr = Ipv4Addr::new(10, 78, 0, 2);

/// Bound for anything waited on; never a timing assertion.
const WAIT: Duration = Duration::from_secs(30);
const RUN: Duration = Duration::from_secs(20);

/// Our IOC (`simple` example) on `host` with prefix `prefix`, plus `extra`
/// environment variables.
fn our_ioc(lab: &Lab, host: &Host, prefix: &str, extra: &[(&str, &str)]) -> ChildGuard {
    our_ioc_with(lab, host, prefix, &[], extra)
}

/// [`our_ioc`] with extra command-line arguments.
fn our_ioc_with(
    lab: &Lab,
    host: &Host,
    prefix: &str,
    args: &[&str],
    extra: &[(&str, &str)],
) -> ChildGuard {
    let mut cmd = lab.own(host, IOC);
    cmd.args(["simple", "--prefix", prefix, "-vv"]).args(args);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    lab.spawn(&format!("caproto-ioc-{prefix}"), &mut cmd)
}

/// caproto-get on `host` (no repeater, 5 s timeout per attempt: two busy cores can
/// take more than 2 s to start a tool in a namespace and connect).
fn get(lab: &Lab, host: &Host, pvs: &[&str], extra: &[(&str, &str)]) -> RunOutput {
    let mut cmd = lab.own(host, GET);
    cmd.args(["--no-repeater", "-w", "5"]).args(pvs);
    for (k, v) in extra {
        cmd.env(k, v);
    }
    lab.run(&mut cmd, RUN)
}

/// Retry a caproto-get from `host` until it succeeds (servers take a moment
/// to start), panicking with the last attempt and the server log otherwise.
fn wait_get(lab: &Lab, host: &Host, pv: &str, server: &mut ChildGuard) -> String {
    let mut last = None;
    let answered = server.wait_for(WAIT, |_| {
        let out = get(lab, host, &[pv], &[]);
        let stdout = out.success().then(|| out.stdout.clone());
        last = Some(out);
        stdout
    });
    answered.unwrap_or_else(|| panic!("{pv} never answered from {host:?}:\n{}", last.unwrap()))
}

fn two_hosts() -> Option<(Lab, Host, Host)> {
    let mut lab = Lab::new()?;
    let a = lab.host("a");
    let b = lab.host("b");
    lab.link(&a, A1, &b, B1);
    Some((lab, a, b))
}

fn softioc(lab: &Lab, host: &Host, prefix: &str) -> Option<ChildGuard> {
    let mut cmd = lab.epics(host, "softIoc")?;
    cmd.args(["-S", "-m", &format!("P={prefix}"), "-d"])
        .arg(ioc_db());
    Some(lab.spawn("softIoc", &mut cmd))
}

#[test]
fn our_tools_on_a_reach_softioc_and_our_ioc_on_b_with_epics_defaults() {
    let Some((lab, a, b)) = two_hosts() else {
        return;
    };
    let Some(mut soft) = softioc(&lab, &b, "nsB:") else {
        return;
    };
    let mut ours = our_ioc(&lab, &b, "rsB:", &[]);

    let soft_value = wait_get(&lab, &a, "nsB:ai", &mut soft);
    assert!(soft_value.contains("3.5"), "{soft_value}");
    wait_get(&lab, &a, "rsB:A", &mut ours);

    // put, then get sees it (both servers).
    let mut put = lab.own(&a, PUT);
    put.args(["--no-repeater", "-w", "5", "rsB:A", "42"]);
    lab.run(&mut put, RUN)
        .expect_success("caproto-put to our IOC");
    let mut put = lab.own(&a, PUT);
    put.args(["--no-repeater", "-w", "5", "nsB:ao", "7.25"]);
    lab.run(&mut put, RUN)
        .expect_success("caproto-put to softIoc");
    let out = get(&lab, &a, &["rsB:A", "nsB:ao"], &[]);
    let text = out.expect_success("caproto-get after put");
    assert!(text.contains("42"), "{text}");
    assert!(text.contains("7.25"), "{text}");

    // monitor: the first update of each PV arrives.
    let mut mon = lab.own(&a, MONITOR);
    mon.args([
        "--no-repeater",
        "-w",
        "5",
        "--maximum",
        "2",
        "rsB:A",
        "nsB:ai",
    ]);
    let out = lab.run(&mut mon, RUN);
    let text = out.expect_success("caproto-monitor");
    assert!(text.contains("rsB:A") && text.contains("42"), "{text}");
    assert!(text.contains("nsB:ai") && text.contains("3.5"), "{text}");
}

#[test]
fn epics_caget_on_a_reaches_our_ioc_on_b_and_sees_its_beacons() {
    let Some((lab, a, b)) = two_hosts() else {
        return;
    };
    let mut ours = our_ioc(&lab, &b, "rsB:", &[]);
    wait_get(&lab, &a, "rsB:B", &mut ours);

    let Some(mut caget) = lab.epics(&a, "caget") else {
        return;
    };
    caget.args(["-w", "5", "rsB:B"]);
    let out = lab.run(&mut caget, RUN);
    let text = out.expect_success("EPICS caget on A");
    assert!(text.contains("rsB:B") && text.contains('2'), "{text}");

    // casw on A lists the beacon sources it hears: B's address must appear.
    // Our beacons start 20 ms apart and double up to 15 s, so a fresh IOC
    // is heard within a few seconds; restart ours so casw sees a new server.
    let Some(mut casw) = lab.epics(&a, "casw") else {
        return;
    };
    let watcher = lab.spawn("casw", casw.args(["-i", "2"]));
    // Nothing shows when casw is ready to listen, so instead of hoping it is after a
    // sleep, restart our IOC (a new server, fresh fast beacons) every few seconds
    // until casw reports it.
    let deadline = Instant::now() + WAIT;
    let mut ours = Some(ours);
    let mut restarted = Instant::now() - Duration::from_secs(60);
    loop {
        let log = watcher.log_contents();
        if log.contains(&B1.to_string()) {
            break;
        }
        if Instant::now() > deadline {
            panic!("casw on A never heard a beacon from {B1}:\n{log}");
        }
        if restarted.elapsed() > Duration::from_secs(4) {
            drop(ours.take());
            ours = Some(our_ioc(&lab, &b, "rsB:", &[]));
            restarted = Instant::now();
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn a_two_interface_host_searches_both_subnets_and_says_so_at_vv() {
    let Some(mut lab) = Lab::new() else {
        return;
    };
    let a = lab.host("a");
    let b = lab.host("b");
    let c = lab.host("c");
    let (a_to_b, _) = lab.link(&a, A1, &b, B1);
    let (a_to_c, _) = lab.link(&a, A2, &c, X2);
    let mut on_b = our_ioc(&lab, &b, "onB:", &[]);
    let mut on_c = our_ioc(&lab, &c, "onC:", &[]);
    wait_get(&lab, &a, "onB:A", &mut on_b);
    wait_get(&lab, &a, "onC:A", &mut on_c);

    let mut cmd = lab.own(&a, GET);
    cmd.args(["--no-repeater", "-w", "5", "-vv", "onB:B", "onC:B"]);
    let out = lab.run(&mut cmd, RUN);
    let text = out.expect_success("caproto-get of both subnets");
    assert!(text.contains("onB:B") && text.contains("onC:B"), "{text}");
    // -vv explains the list once: both broadcasts, with their interfaces.
    let lines: Vec<&str> = out
        .stderr
        .lines()
        .filter(|l| l.contains("search list (EPICS_CA_AUTO_ADDR_LIST=YES)"))
        .collect();
    assert_eq!(lines.len(), 1, "{}", out.stderr);
    assert!(
        lines[0].contains(&format!("10.77.0.255:5064 (broadcast of {a_to_b})"))
            && lines[0].contains(&format!("10.78.0.255:5064 (broadcast of {a_to_c})"))
            && lines[0].contains("skipped lo (loopback)"),
        "{}",
        lines[0]
    );
}

#[test]
fn intf_addr_list_restricts_the_server_and_ignore_list_is_honoured() {
    let Some(mut lab) = Lab::new() else {
        return;
    };
    // A and B joined on two subnets; our IOC on B serves only 10.77.0.2.
    let a = lab.host("a");
    let b = lab.host("b");
    lab.link(&a, A1, &b, B1);
    lab.link(&a, A2, &b, X2);
    let mut ours = our_ioc(
        &lab,
        &b,
        "only:",
        &[("EPICS_CAS_INTF_ADDR_LIST", "10.77.0.2")],
    );
    wait_get(&lab, &a, "only:A", &mut ours);
    let log = ours.log_contents();
    assert!(
        log.contains("10.77.0.2 (and its broadcast 10.77.0.255)"),
        "{log}"
    );
    assert!(
        log.contains("beacon list (EPICS_CAS_AUTO_BEACON_ADDR_LIST=YES): 10.77.0.255:5065"),
        "{log}"
    );

    let only = |list: &str| {
        get(
            &lab,
            &a,
            &["only:A"],
            &[
                ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
                ("EPICS_CA_ADDR_LIST", list),
            ],
        )
    };
    only("10.77.0.255").expect_success("search by 10.77.0.0/24 broadcast");
    only("10.77.0.2").expect_success("search by unicast to the served interface");
    for list in ["10.78.0.255", "10.78.0.2"] {
        let out = only(list);
        assert!(!out.success(), "the server answered on {list}:\n{out}");
    }

    // EPICS sees the served address in the reply: cainfo names it.
    if let Some(mut cainfo) = lab.epics(&a, "cainfo") {
        cainfo.args(["-w", "5", "only:A"]);
        let text = lab.run(&mut cainfo, RUN);
        let text = text.expect_success("cainfo");
        assert!(text.contains("10.77.0.2"), "{text}");
    }

    // Ignore A's address on the served subnet: A can no longer find it.
    drop(ours);
    let mut ignoring = our_ioc(
        &lab,
        &b,
        "ign:",
        &[("EPICS_CAS_IGNORE_ADDR_LIST", "10.77.0.1")],
    );
    // Reachable from A's other address (10.78.0.1), never from 10.77.0.1.
    let via = |list: &str| {
        get(
            &lab,
            &a,
            &["ign:A"],
            &[
                ("EPICS_CA_AUTO_ADDR_LIST", "NO"),
                ("EPICS_CA_ADDR_LIST", list),
            ],
        )
    };
    ignoring.wait_until("ign:A answering via 10.78.0.0/24", WAIT, |_| {
        via("10.78.0.255").success()
    });
    let out = via("10.77.0.255");
    assert!(
        !out.success(),
        "a search from an ignored address was answered:\n{out}"
    );
}

/// With only loopback, libca searches 127.0.0.1; we do too, so a client and
/// a server on a host with no network still find each other by default.
#[test]
fn a_host_with_only_loopback_finds_its_own_ioc_by_default() {
    let Some(mut lab) = Lab::new() else {
        return;
    };
    let solo = lab.host("solo");
    let mut ours = our_ioc(&lab, &solo, "solo:", &[]);
    let text = wait_get(&lab, &solo, "solo:B", &mut ours);
    assert!(text.contains('2'), "{text}");
    let mut cmd = lab.own(&solo, GET);
    cmd.args(["--no-repeater", "-w", "5", "-vv", "solo:B"]);
    let out = lab.run(&mut cmd, RUN);
    out.expect_success("caproto-get -vv");
    assert!(
        out.stderr
            .contains("search list (EPICS_CA_AUTO_ADDR_LIST=YES): 127.0.0.1:5064 (loopback: no other interface)"),
        "{}",
        out.stderr
    );
    // Nothing to broadcast beacons to, as softIoc's "empty beacon address list".
    let log = ours.log_contents();
    assert!(
        log.contains(
            "beacon list (EPICS_CAS_AUTO_BEACON_ADDR_LIST=YES): empty; skipped lo (loopback)"
        ),
        "{log}"
    );
}
