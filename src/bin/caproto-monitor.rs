//! `caproto-monitor`: print a line per update of one or more PVs until
//! Ctrl-C, `--duration` or `--maximum` (see `caproto::cli::run_monitor`).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use caproto::cli::monitor_args::MonitorArgs;
use caproto::cli::run_monitor::run_monitor;
use caproto::cli::tool_main::{parse, run_tool};

fn main() -> ExitCode {
    let args: MonitorArgs = match parse(std::env::args_os()) {
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
            // run_monitor flushes after every line, so updates appear at once.
            let mut out = BufWriter::new(std::io::stdout().lock());
            let mut err = std::io::stderr().lock();
            let status = run_monitor(args, &backend, &mut out, &mut err, ctrl_c).await;
            let _ = out.flush();
            status
        },
    )
}
