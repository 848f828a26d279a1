//! Helpers for the `server_*` integration tests: start our `caproto-ioc`
//! binary on the test's loopback ports and run peer clients against it.
#![allow(dead_code)]

use std::process::Command;
use std::time::{Duration, Instant};

use crate::common::{self, CaEnv, ChildGuard, RunOutput};

/// Generous timeout for one client run.
pub const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);

/// Path of our IOC runner.
pub const IOC_EXE: &str = env!("CARGO_BIN_EXE_caproto-ioc");

/// Start `caproto-ioc EXAMPLE --prefix PREFIX` and wait until `PREFIX+probe` answers.
/// `None` when no peer client is installed to probe with (the test is skipped).
pub fn start_ioc(env: &CaEnv, example: &str, prefix: &str, probe: &str) -> Option<ChildGuard> {
    start_ioc_with(env, example, prefix, probe, &[])
}

/// As [`start_ioc`], with extra arguments.
pub fn start_ioc_with(
    env: &CaEnv,
    example: &str,
    prefix: &str,
    probe: &str,
    extra: &[&str],
) -> Option<ChildGuard> {
    if !common::peers::has_epics() && !common::peers::has_caproto() {
        return common::peers::missing("EPICS base or caproto", &common::peers::peers_dir());
    }
    // An ephemeral port the IOC reports, unless the test fixed the port.
    let mut cmd = common::servers::our_ioc_command(env);
    cmd.args([example, "--prefix", prefix, "--list-pvs", "-v"])
        .args(extra);
    let mut server =
        common::servers::spawn_our_ioc(env, &format!("caproto-ioc-{example}"), &mut cmd);
    common::wait_for_server(env, &mut server, &format!("{prefix}{probe}"));
    Some(server)
}

/// Run an EPICS base tool with args; `None` if EPICS base is missing.
pub fn epics(env: &CaEnv, tool: &str, args: &[&str]) -> Option<RunOutput> {
    let mut cmd = env.epics(tool)?;
    cmd.args(args);
    Some(env.run(&mut cmd, CLIENT_TIMEOUT))
}

/// Run a caproto client tool with `--no-repeater` and args; `None` if caproto is missing.
pub fn caproto(env: &CaEnv, tool: &str, args: &[&str]) -> Option<RunOutput> {
    let mut cmd = env.caproto(tool)?;
    cmd.arg("--no-repeater").args(args);
    Some(env.run(&mut cmd, CLIENT_TIMEOUT))
}

/// Lines with runs of whitespace collapsed to one space, trimmed.
pub fn normalized(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .filter(|l| !l.is_empty())
        .collect()
}

/// Spawn a long-running client (camonitor, caproto-monitor, acctst).
pub fn spawn_client(env: &CaEnv, name: &str, cmd: &mut Command) -> ChildGuard {
    env.spawn(name, cmd)
}

/// Wait until `guard`'s output satisfies `done`, or panic with the log after `timeout`.
pub fn wait_for_output(
    guard: &mut ChildGuard,
    timeout: Duration,
    what: &str,
    done: impl Fn(&str) -> bool,
) -> String {
    let deadline = Instant::now() + timeout;
    loop {
        let log = guard.log_contents();
        if done(&log) {
            return log;
        }
        if Instant::now() >= deadline {
            panic!("timed out waiting for {what}\n--- log ---\n{log}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
