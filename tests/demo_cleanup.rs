//! Nothing keeps running after `scripts/demo`: every process that carries
//! this test's unique CA ports in its environment (the IOC, the tools, and
//! any repeater they might have started, which inherits the environment) is
//! looked up by pid in /proc once the script has ended.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::CaEnv;

/// Pids (other than ours) whose environment has `needle` (`VAR=value`).
fn pids_with_env(needle: &str) -> Vec<(u32, String)> {
    let me = std::process::id();
    let mut found = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if pid == me {
            continue;
        }
        let Ok(environ) = std::fs::read(entry.path().join("environ")) else {
            continue;
        };
        if environ.split(|b| *b == 0).any(|v| v == needle.as_bytes()) {
            let cmdline = std::fs::read(entry.path().join("cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
                .unwrap_or_default();
            found.push((pid, cmdline));
        }
    }
    found
}

#[test]
fn demo_leaves_no_process_behind() {
    let env = CaEnv::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut cmd = Command::new("bash");
    cmd.arg(root.join("scripts/demo")).current_dir(root);
    env.apply(&mut cmd);
    let out = env.run(&mut cmd, Duration::from_secs(600));
    let stdout = out.expect_success("scripts/demo").to_string();
    assert!(
        stdout.contains("demo:A") && stdout.contains("demo:B"),
        "{stdout}"
    );
    let needle = format!("EPICS_CA_REPEATER_PORT={}", env.repeater_port());
    // The script waited for its IOC; give a just-killed process a moment to be reaped.
    let mut left = pids_with_env(&needle);
    for _ in 0..50 {
        if left.is_empty() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
        left = pids_with_env(&needle);
    }
    for (pid, _) in &left {
        // Clean up by pid so a failure does not leak either.
        let _ = Command::new("kill").arg(pid.to_string()).status();
    }
    assert!(
        left.is_empty(),
        "still running after scripts/demo: {left:?}"
    );
}
