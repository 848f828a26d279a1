//! `LogArgs::init` end to end in child processes (this test binary re-runs itself with
//! `child_main` and the arguments in an environment variable): the file after the child exits,
//! the terminal keeping its own level, -vvv, unopenable files, and a closed stderr pipe.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use caproto::cli::args::LogArgs;
use clap::Parser;

const ARGS_VAR: &str = "CAPROTO_LOG_TEST_CHILD_ARGS";
const SEP: char = '\u{1f}';

#[derive(Parser, Debug)]
struct Cli {
    #[command(flatten)]
    log: LogArgs,
    /// How many filler records to emit (for the closed-pipe test).
    #[arg(long, default_value_t = 0)]
    filler: u32,
}

/// The child: parses its arguments like a tool, initialises logging and emits contract records.
/// Ignored so it only runs when a test launches it.
#[test]
#[ignore = "runs only as a child of the other tests"]
fn child_main() {
    // Launched alone (no variable), this must fail rather than pass having run nothing.
    let raw = std::env::var(ARGS_VAR)
        .unwrap_or_else(|_| panic!("{ARGS_VAR} is not set: this test only runs as a child"));
    let args = std::iter::once("child").chain(raw.split(SEP).filter(|s| !s.is_empty()));
    let cli = Cli::try_parse_from(args).unwrap_or_else(|e| e.exit());
    let guard = match cli.log.init() {
        Ok(g) => g,
        Err(e) => {
            // Not eprintln!: the test harness would capture it.
            use std::io::Write as _;
            let _ = writeln!(std::io::stderr(), "error: {e}");
            std::process::exit(2);
        }
    };
    let our: std::net::SocketAddr = "127.0.0.1:51782".parse().unwrap();
    let their: std::net::SocketAddr = "127.0.0.1:5064".parse().unwrap();
    for pv in ["keep:a", "drop:b"] {
        tracing::debug!(target: "caproto::circ", pv, our_addr = %our, their_addr = %their,
            direction = "send", role = "client", bytes = 16u64,
            command = %format_args!("ReadNotifyRequest(pv={pv})"));
    }
    // The same command seen by a server on another circuit: role and
    // addresses differ, for --log-role and --log-addr.
    let srv_our: std::net::SocketAddr = "127.0.0.1:5070".parse().unwrap();
    let srv_their: std::net::SocketAddr = "127.0.0.1:40123".parse().unwrap();
    tracing::debug!(target: "caproto::circ", pv = "keep:srv", our_addr = %srv_our,
        their_addr = %srv_their, direction = "recv", role = "server", bytes = 16u64,
        command = %format_args!("ReadNotifyRequest(pv=keep:srv)"));
    tracing::trace!(target: "caproto::circ", pv = "keep:a", "payload bytes 00 01 02");
    tracing::info!(target: "caproto::ctx", "context info");
    tracing::warn!(target: "caproto::ch", pv = "drop:b", "warning about drop:b");
    for i in 0..cli.filler {
        tracing::warn!(target: "caproto::ctx", i, "filler record to a closed pipe");
    }
    guard.flush();
    // Leave through the normal path so the guard drops, as a tool's main would.
}

fn run_child(args: &[&str], close_stderr: bool) -> Output {
    let exe = std::env::current_exe().unwrap();
    let mut cmd = Command::new(exe);
    cmd.args([
        "child_main",
        "--exact",
        "--ignored",
        "--test-threads=1",
        "--quiet",
    ])
    .env(ARGS_VAR, args.join(&SEP.to_string()))
    .env_remove("NO_COLOR")
    .stdin(Stdio::null())
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    if close_stderr {
        let mut child = cmd.spawn().unwrap();
        drop(child.stderr.take()); // the reader goes away: writes get EPIPE
        return child.wait_with_output().unwrap();
    }
    cmd.output().unwrap()
}

fn temp_path(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("caproto-log-test-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let p = dir.join(name);
    let _ = std::fs::remove_file(&p);
    p
}

#[test]
fn log_file_gets_debug_filtered_by_pv_while_terminal_shows_warnings() {
    let path = temp_path("pv.log");
    let out = run_child(
        &[
            "--log-file",
            path.to_str().unwrap(),
            "--log-pv",
            "keep:*",
            "--no-color",
        ],
        false,
    );
    assert!(out.status.success(), "{out:?}");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(
        file.contains(
            "127.0.0.1:51782 --->>> 127.0.0.1:5064 16B keep:a ReadNotifyRequest(pv=keep:a)\n"
        ),
        "{file}"
    );
    assert!(!file.contains("ReadNotifyRequest(pv=drop:b)"), "{file}");
    assert!(!file.contains("payload bytes"), "TRACE needs -vvv: {file}");
    assert!(
        file.contains("context info"),
        "no pv: not exclusive: {file}"
    );
    assert!(
        file.contains("warning about drop:b"),
        "barrier WARN: {file}"
    );
    assert!(!file.contains('\x1b'));

    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("warning about drop:b"), "{stderr}");
    assert!(
        !stderr.contains("ReadNotifyRequest"),
        "terminal stays at WARN: {stderr}"
    );
    assert!(!stderr.contains("context info"), "{stderr}");
    assert!(
        !stderr.contains('\x1b'),
        "stderr is a pipe here: {stderr:?}"
    );
}

#[test]
fn log_file_is_appended_not_truncated() {
    let path = temp_path("append.log");
    std::fs::write(&path, "earlier run\n").unwrap();
    let out = run_child(&["-q", "--log-file", path.to_str().unwrap()], false);
    assert!(out.status.success(), "{out:?}");
    let file = std::fs::read_to_string(&path).unwrap();
    assert!(file.starts_with("earlier run\n"), "{file}");
    assert!(file.contains("ReadNotifyRequest(pv=drop:b)"), "{file}");
    assert!(out.stderr.is_empty(), "-q hides warnings: {:?}", out.stderr);
}

#[test]
fn vvv_prints_every_command_and_payload_detail() {
    let out = run_child(&["-vvv"], false);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    for needle in [
        "ReadNotifyRequest(pv=keep:a)",
        "ReadNotifyRequest(pv=drop:b)",
        "payload bytes 00 01 02",
        "context info",
        "warning about drop:b",
    ] {
        assert!(stderr.contains(needle), "{needle} missing:\n{stderr}");
    }
    assert!(stderr.lines().any(|l| l.starts_with("[T ")), "{stderr}");
}

#[test]
fn json_to_the_terminal() {
    let out = run_child(
        &["-vv", "--log-format", "json", "--log-role", "server"],
        false,
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    let values: Vec<serde_json::Value> = stderr
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(values.iter().all(|v| v["role"] != "client"), "{stderr}");
    // The filter keeps the server's record (not merely drops everything with a role).
    assert!(
        values.iter().any(|v| v["role"] == "server"
            && v["pv"] == "keep:srv"
            && v["our_addr"] == "127.0.0.1:5070"),
        "{stderr}"
    );
    assert!(
        values.iter().any(|v| v["message"] == "context info"),
        "{stderr}"
    );
}

#[test]
fn unopenable_log_file_fails_at_start_up() {
    let out = run_child(&["--log-file", "/nonexistent-dir/sub/caproto.log"], false);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("cannot open log file /nonexistent-dir/sub/caproto.log"),
        "{stderr}"
    );
}

#[test]
fn invalid_flag_values_are_rejected_by_clap() {
    let out = run_child(&["--log-addr", "127.0.0.1:notaport"], false);
    assert_eq!(out.status.code(), Some(2), "clap's usage error: {out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("--log-addr"), "{stderr}");
    assert!(stderr.contains("port must be a number"), "{stderr}");
}

#[test]
fn closed_stderr_pipe_does_not_crash() {
    let path = temp_path("closed.log");
    let out = run_child(
        &["--filler", "2000", "--log-file", path.to_str().unwrap()],
        true,
    );
    assert!(out.status.success(), "{out:?}");
    // The file handler keeps working while the terminal's pipe is gone.
    let file = std::fs::read_to_string(&path).unwrap();
    assert_eq!(
        file.matches("filler record to a closed pipe").count(),
        2000,
        "every record reached the file"
    );
}

#[cfg(target_os = "linux")]
#[test]
fn full_disk_stops_the_file_once_and_keeps_the_terminal() {
    // Every write to /dev/full fails with ENOSPC.
    let out = run_child(&["--filler", "50", "--log-file", "/dev/full"], false);
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert_eq!(
        stderr.matches("writing log file /dev/full failed").count(),
        1,
        "{stderr}"
    );
    assert_eq!(stderr.matches("filler record").count(), 50, "{stderr}");
}

#[test]
fn log_role_from_the_command_line_keeps_one_role() {
    for (role, kept, dropped) in [
        ("client", "pv=keep:a", "pv=keep:srv"),
        ("server", "pv=keep:srv", "pv=keep:a"),
    ] {
        let out = run_child(&["-vv", "--no-color", "--log-role", role], false);
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert!(
            stderr.contains(kept),
            "--log-role {role}: {kept} dropped:\n{stderr}"
        );
        assert!(
            !stderr.contains(dropped),
            "--log-role {role}: {dropped} kept:\n{stderr}"
        );
        assert!(
            stderr.contains("context info"),
            "role-less records pass:\n{stderr}"
        );
    }
}

#[test]
fn log_addr_from_the_command_line_keeps_matching_records() {
    // Exact host:port on our side of the server's circuit.
    let out = run_child(
        &["-vv", "--no-color", "--log-addr", "127.0.0.1:5070"],
        false,
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(stderr.contains("pv=keep:srv"), "{stderr}");
    assert!(!stderr.contains("pv=keep:a"), "{stderr}");
    assert!(!stderr.contains("pv=drop:b"), "{stderr}");
    assert!(
        stderr.contains("context info"),
        "address-less records pass:\n{stderr}"
    );
    // The client's peer, given twice (two flags): both client records, not the server's.
    let out = run_child(
        &[
            "-vv",
            "--no-color",
            "--log-addr",
            "127.0.0.1:5064",
            "--log-addr",
            "10.9.9.9",
        ],
        false,
    );
    assert!(out.status.success(), "{out:?}");
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.contains("pv=keep:a") && stderr.contains("pv=drop:b"),
        "{stderr}"
    );
    assert!(!stderr.contains("pv=keep:srv"), "{stderr}");
    // Another port of the same host matches nothing exact.
    let out = run_child(
        &["-vv", "--no-color", "--log-addr", "127.0.0.1:5999"],
        false,
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(!stderr.contains("ReadNotifyRequest"), "{stderr}");
}
