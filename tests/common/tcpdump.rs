//! tcpdump on `lo` for the caproto-shark tests: finding the binary (a
//! missing peer under the usual rules) and starting a capture of one test's
//! ports into a file, and stopping it once every TCP flow in the file has
//! closed, with nothing dropped by the kernel.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::env::CaEnv;
use super::process::ChildGuard;

/// How long tcpdump gets to say it listens (a hang guard, not a timing).
const START: Duration = Duration::from_secs(30);

/// The tcpdump binary, or `None` after SKIPPED (a failure under `CI`).
pub fn tcpdump() -> Option<PathBuf> {
    for dir in ["/usr/bin", "/usr/sbin", "/bin", "/sbin"] {
        let p = Path::new(dir).join("tcpdump");
        if p.exists() {
            return Some(p);
        }
    }
    super::peers::missing("tcpdump", Path::new("/usr/sbin/tcpdump"))
}

/// tcpdump on `lo`, only `env`'s server and repeater ports, unbuffered, full
/// packets, writing `file`, with a 64 MiB kernel buffer (`-B 65536`): the
/// shark tests require that nothing is dropped, and drops were seen with the
/// default buffer while a loaded machine (the whole suite on 2 cores) kept
/// tcpdump off the CPU. Returns once tcpdump says it listens.
pub fn start_capture(env: &CaEnv, file: &Path) -> Option<ChildGuard> {
    let mut cmd = Command::new(tcpdump()?);
    cmd.args([
        "-i",
        "lo",
        "--immediate-mode",
        "-U",
        "-s",
        "0",
        "-B",
        "65536",
        "-w",
    ])
    .arg(file)
    .arg(format!(
        "port {} or port {}",
        env.server_port(),
        env.repeater_port()
    ));
    let mut guard = env.spawn("tcpdump", &mut cmd);
    guard.wait_until("tcpdump listening", START, |g| {
        g.log_contents().contains("listening on")
    });
    Some(guard)
}

/// Stops tcpdump with SIGTERM (by its pid) once the capture holds the end of every TCP
/// flow in it (FIN from both sides or a reset: the server's last answers come before its FIN),
/// waits for it to exit and checks that the kernel dropped nothing.
pub fn stop_capture(mut guard: ChildGuard, file: &Path) {
    guard.wait_until(
        &format!("every TCP flow in {} closed", file.display()),
        START,
        |_| all_flows_closed(&std::fs::read(file).unwrap_or_default()),
    );
    let _ = Command::new("kill")
        .args(["-TERM", &guard.pid().to_string()])
        .status();
    let deadline = Instant::now() + Duration::from_secs(10);
    while guard.is_running() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    let log = guard.log_contents();
    guard.kill();
    assert!(
        log.lines()
            .any(|l| l.trim() == "0 packets dropped by kernel"),
        "{log}"
    );
}

/// Whether every TCP flow of a (possibly still growing) legacy pcap has been closed (a FIN
/// from both ends, or a reset); a cut-off last record is ignored.
fn all_flows_closed(b: &[u8]) -> bool {
    if b.len() < 24 {
        return false;
    }
    // (lower end, higher end) -> which ends sent FIN or RST
    let mut flows: BTreeMap<(Vec<u8>, Vec<u8>), [bool; 2]> = BTreeMap::new();
    let mut off = 24;
    while off + 16 <= b.len() {
        let caplen = u32::from_le_bytes(b[off + 8..off + 12].try_into().unwrap()) as usize;
        let Some(f) = b.get(off + 16..off + 16 + caplen) else {
            break;
        };
        off += 16 + caplen;
        if f.len() < 34 || f[12..14] != [8, 0] || f[14 + 9] != 6 {
            continue;
        }
        let ip = &f[14..];
        let l4 = &ip[usize::from(ip[0] & 15) * 4..];
        let (from, to) = (
            [&ip[12..16], &l4[..2]].concat(),
            [&ip[16..20], &l4[2..4]].concat(),
        );
        let side = usize::from(from > to);
        let key = if from < to { (from, to) } else { (to, from) };
        let ends = flows.entry(key).or_default();
        if l4[13] & 0x04 != 0 {
            // A reset ends the flow for both sides.
            *ends = [true, true];
        } else if l4[13] & 0x01 != 0 {
            ends[side] = true;
        }
    }
    !flows.is_empty() && flows.values().all(|e| e[0] && e[1])
}
