//! Helpers shared by the tool interop tests (`tests/tools_*.rs`): our
//! binaries and caproto's, run side by side in one test's [`CaEnv`], with
//! bounded run times and output comparison.
#![allow(dead_code)]

use std::process::Command;
use std::time::Duration;

use crate::common::{CaEnv, RunOutput};

/// Bound on any one tool run; a run that takes this long has hung (this is
/// a hang guard, not a timing assertion).
pub const RUN: Duration = Duration::from_secs(60);

/// `--timeout` given to every tool run whose arguments set none, ours and
/// caproto's alike: the tools' 1 s default is too short for a search,
/// connection and read when many test binaries share two cores. Only runs
/// that must fail (unknown PVs) pay for it, and those pass `-w` themselves.
pub const TOOL_TIMEOUT: &str = "10";

/// `args` with `--timeout` [`TOOL_TIMEOUT`] in front unless they set one.
fn with_timeout<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let sets_timeout = args
        .iter()
        .any(|a| *a == "-w" || *a == "--timeout" || a.starts_with("--timeout="));
    let mut all = Vec::with_capacity(args.len() + 2);
    if !sets_timeout {
        all.extend(["--timeout", TOOL_TIMEOUT]);
    }
    all.extend_from_slice(args);
    all
}

/// Our executables, as cargo built them for this test.
#[derive(Debug, Clone, Copy)]
pub enum Tool {
    /// caproto-get
    Get,
    /// caproto-put
    Put,
    /// caproto-monitor
    Monitor,
    /// caproto-info (no caproto counterpart: compared with EPICS cainfo)
    Info,
}

impl Tool {
    /// The console script / binary name (the same for ours and caproto's).
    pub fn name(self) -> &'static str {
        match self {
            Tool::Get => "caproto-get",
            Tool::Put => "caproto-put",
            Tool::Monitor => "caproto-monitor",
            Tool::Info => "caproto-info",
        }
    }

    /// The path of our binary for this tool.
    pub fn our_exe(self) -> &'static str {
        match self {
            Tool::Get => env!("CARGO_BIN_EXE_caproto-get"),
            Tool::Put => env!("CARGO_BIN_EXE_caproto-put"),
            Tool::Monitor => env!("CARGO_BIN_EXE_caproto-monitor"),
            Tool::Info => env!("CARGO_BIN_EXE_caproto-info"),
        }
    }
}

/// Our tool with `--no-repeater` and `args` (plus a generous `--timeout`
/// if they set none), in `env`.
pub fn ours_cmd(env: &CaEnv, tool: Tool, args: &[&str]) -> Command {
    let mut cmd = env.own(tool.our_exe());
    cmd.arg("--no-repeater").args(with_timeout(args));
    cmd
}

/// caproto's tool with `--no-repeater` and `args` (plus a generous
/// `--timeout` if they set none), in `env`; `None` (after SKIPPED) if
/// caproto is not installed.
pub fn theirs_cmd(env: &CaEnv, tool: Tool, args: &[&str]) -> Option<Command> {
    let mut cmd = env.caproto(tool.name())?;
    cmd.arg("--no-repeater").args(with_timeout(args));
    Some(cmd)
}

/// Run our tool to completion (bounded by [`RUN`]).
pub fn ours(env: &CaEnv, tool: Tool, args: &[&str]) -> RunOutput {
    env.run(&mut ours_cmd(env, tool, args), RUN)
}

/// Run caproto's tool to completion (bounded by [`RUN`]).
pub fn theirs(env: &CaEnv, tool: Tool, args: &[&str]) -> Option<RunOutput> {
    Some(env.run(&mut theirs_cmd(env, tool, args)?, RUN))
}

/// Run ours, which must succeed; returns its standard output.
pub fn ours_ok(env: &CaEnv, tool: Tool, args: &[&str]) -> String {
    ours(env, tool, args)
        .expect_success(&format!("our {} {args:?}", tool.name()))
        .to_string()
}

/// Run our tool and caproto's with the same arguments; both must succeed
/// and print exactly the same standard output. Returns ours (caproto's is
/// skipped, after SKIPPED, when caproto is not installed).
pub fn same_as_caproto(env: &CaEnv, tool: Tool, args: &[&str]) -> String {
    let ours = ours_ok(env, tool, args);
    if let Some(theirs) = theirs(env, tool, args) {
        let theirs = theirs.expect_success(&format!("caproto's {} {args:?}", tool.name()));
        assert_lines_eq(&ours, theirs, &format!("{} {args:?}", tool.name()));
    }
    ours
}

/// Line-by-line equality with a readable diff on failure.
pub fn assert_lines_eq(ours: &str, theirs: &str, what: &str) {
    if ours == theirs {
        return;
    }
    let mut report = format!("output differs from caproto's for {what}\n");
    let (a, b): (Vec<&str>, Vec<&str>) = (ours.lines().collect(), theirs.lines().collect());
    for i in 0..a.len().max(b.len()) {
        let (x, y) = (a.get(i), b.get(i));
        if x != y {
            report.push_str(&format!("line {i}:\n  ours:   {x:?}\n  theirs: {y:?}\n"));
        }
    }
    if a.len() == b.len() && report.lines().count() == 1 {
        report.push_str(&format!(
            "(line endings differ)\n ours: {ours:?}\n theirs: {theirs:?}\n"
        ));
    }
    panic!("{report}");
}

/// caproto's default layout: the PV name padded to 40 columns, two spaces, the data.
pub fn default_line(pv: &str, data: &str) -> String {
    format!("{pv:<40}  {data}")
}

/// Lines of a tool's log output (standard error) that record one command:
/// those with a direction arrow.
pub fn command_lines(stderr: &str) -> Vec<&str> {
    stderr
        .lines()
        .filter(|l| l.contains(" --->>> ") || l.contains(" <<<--- "))
        .collect()
}

/// How many command records show `command` (e.g. `"CreateChanRequest"`)
/// travelling in `direction` (`"--->>>"` or `"<<<---"`).
pub fn count_commands(stderr: &str, direction: &str, command: &str) -> usize {
    let needle = format!("{command}(");
    command_lines(stderr)
        .into_iter()
        .filter(|l| l.contains(direction))
        .filter(|l| {
            l.split_once(direction)
                .is_some_and(|(_, rest)| rest.contains(&needle))
        })
        .count()
}

/// EPICS `caput` (quiet, waiting for completion) to set up or restore a
/// record; `None` (after SKIPPED) if EPICS is missing. Panics if it fails.
pub fn epics_caput(env: &CaEnv, args: &[&str]) -> Option<()> {
    let mut cmd = env.epics("caput")?;
    cmd.args(["-c", "-w", "10"]).args(args);
    env.run(&mut cmd, RUN)
        .expect_success(&format!("caput {args:?}"));
    Some(())
}

/// EPICS `caget -t` of one PV (extra flags first); `None` if EPICS is missing.
pub fn epics_caget(env: &CaEnv, flags: &[&str], pv: &str) -> Option<String> {
    let mut cmd = env.epics("caget")?;
    cmd.args(["-w", "10", "-t"]).args(flags).arg(pv);
    let out = env.run(&mut cmd, RUN);
    Some(
        out.expect_success(&format!("caget {pv}"))
            .trim()
            .to_string(),
    )
}
