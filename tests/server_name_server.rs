//! Our server as a TCP name server (`EPICS_CA_NAME_SERVERS`) for EPICS
//! `caget`: the client's UDP search list points at a port where nothing
//! listens, so the PV can only be found through a SEARCH sent over a TCP
//! circuit to our server.

mod common;
mod server_support;

use std::time::Duration;

use common::CaEnv;
use server_support::start_ioc;

#[test]
fn epics_caget_finds_pvs_through_our_tcp_name_server() {
    let env = CaEnv::new();
    let Some(_ioc) = start_ioc(&env, "simple", "ns:", "A") else {
        return;
    };
    // A UDP port nobody answers on: UDP searches go nowhere.
    let dead = common::ports::free_udp_port();
    let caget = |name_servers: Option<String>, pv: &str| {
        let mut cmd = env.epics("caget")?;
        cmd.env("EPICS_CA_ADDR_LIST", format!("127.0.0.1:{dead}"));
        if let Some(ns) = name_servers {
            cmd.env("EPICS_CA_NAME_SERVERS", ns);
        }
        cmd.args(["-w", "3", pv]);
        Some(env.run(&mut cmd, Duration::from_secs(30)))
    };
    let ns = format!("127.0.0.1:{}", env.server_port());
    // Without the name server, the PV is not found: the UDP path is dead.
    let Some(out) = caget(None, "ns:A") else {
        return;
    };
    assert!(!out.stdout.contains("ns:A 1"), "found over UDP:\n{out}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("'ns:A' not found"),
        "{out}"
    );
    // With it: found, and the value read over the circuit.
    let out = caget(Some(ns.clone()), "ns:A").unwrap();
    assert!(out.success(), "{out}");
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["ns:A", "1"],
        "{out}"
    );
    let out = caget(Some(ns.clone()), "ns:C").unwrap();
    assert_eq!(
        out.stdout.split_whitespace().collect::<Vec<_>>(),
        ["ns:C", "3", "1", "2", "3"],
        "{out}"
    );
    // A name the server does not have: not found (the name server stays quiet).
    let out = caget(Some(ns), "ns:nope").unwrap();
    assert!(!out.timed_out, "{out}");
    assert!(
        format!("{}{}", out.stdout, out.stderr).contains("'ns:nope' not found"),
        "{out}"
    );
}
