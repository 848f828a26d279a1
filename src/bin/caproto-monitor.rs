//! `caproto-monitor`: print a line per update of one or more PVs until
//! Ctrl-C, `--duration` or `--maximum` (see `caproto::cli::tools::monitor`).

use std::process::ExitCode;

use caproto::cli::args::monitor::MonitorArgs;
use caproto::cli::tools::monitor::run_monitor_threaded;
use caproto::cli::tools::tool_main::{parse_names, run_tool};

fn main() -> ExitCode {
    let args: MonitorArgs = match parse_names(std::env::args_os()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let args = &args;
    run_tool(
        "caproto-monitor",
        &args.log,
        &args.channel,
        true,
        |backend, ctrl_c| async move {
            // Lines are written by a thread of their own and flushed whenever
            // no further update waits, so updates appear at once.
            // Not `.lock()`: holding stderr's lock for the whole run would block every
            // other thread that logs to the terminal (log shipping notices, SIGHUP).
            let mut err = std::io::stderr();
            run_monitor_threaded(args, &backend, std::io::stdout(), &mut err, ctrl_c).await
        },
    )
}
