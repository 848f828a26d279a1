//! The port allocator of the test harness (`tests/common/ports.rs`) never
//! hands one port to two processes: a child process (this binary re-run)
//! claims ports and stays alive while this process claims its own.

mod common;

use std::collections::HashSet;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Ports each side claims. Drawn at random from ~12 000 ports, two sets of
/// 300 would share several numbers without the cross-process claims.
const N: usize = 300;
const CHILD_VAR: &str = "CAPROTO_PORTS_CHILD_OUT";

/// Run only as the child of `two_processes_never_share_a_port`: claims `N`
/// ports, writes them to the file named by `CHILD_VAR`, then waits to be
/// killed (a claim lasts as long as its process).
#[test]
#[ignore = "runs only as a child of two_processes_never_share_a_port"]
fn child_claims_ports() {
    let out = common::peers::child_var(CHILD_VAR);
    let ports: Vec<String> = (0..N)
        .map(|i| {
            if i % 2 == 0 {
                common::ports::free_tcp_udp_port()
            } else {
                common::ports::free_udp_port()
            }
            .to_string()
        })
        .collect();
    let tmp = format!("{out}.tmp");
    std::fs::write(&tmp, ports.join("\n")).unwrap();
    std::fs::rename(&tmp, &out).unwrap();
    std::thread::sleep(Duration::from_secs(120));
}

#[test]
fn two_processes_never_share_a_port() {
    let dir = common::TempDir::new("ports");
    let out = dir.join("child-ports");
    let child = Command::new(std::env::current_exe().unwrap())
        .args([
            "child_claims_ports",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_VAR, &out)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the child");
    let mut child = KillOnDrop(child);
    let deadline = Instant::now() + Duration::from_secs(60);
    let theirs: HashSet<u16> = loop {
        if let Ok(text) = std::fs::read_to_string(&out) {
            break text.lines().map(|l| l.parse().unwrap()).collect();
        }
        if let Ok(Some(st)) = child.0.try_wait() {
            panic!("the child exited early: {st}");
        }
        assert!(Instant::now() < deadline, "the child never wrote its ports");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(theirs.len(), N, "the child was handed a port twice");
    let ours: HashSet<u16> = (0..N)
        .map(|i| {
            if i % 2 == 0 {
                common::ports::free_tcp_udp_port()
            } else {
                common::ports::free_udp_port()
            }
        })
        .collect();
    assert_eq!(ours.len(), N, "this process was handed a port twice");
    let shared: Vec<&u16> = ours.intersection(&theirs).collect();
    assert!(
        shared.is_empty(),
        "ports handed to both processes: {shared:?}"
    );
    // Below the ephemeral range, so no OS-chosen source port can take one.
    let low: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_local_port_range")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(32768);
    assert!(ours.iter().all(|p| *p < low), "{ours:?}");
}

/// Kills the child by its handle when the test ends, pass or fail.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
