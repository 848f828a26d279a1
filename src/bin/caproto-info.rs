//! `caproto-info`: show what the server says about PVs, as EPICS `cainfo`
//! does (see `caproto::cli::tools::info`).

use std::io::{BufWriter, Write};
use std::process::ExitCode;

use caproto::cli::args::info::InfoArgs;
use caproto::cli::tools::info::run_info;
use caproto::cli::tools::tool_main::{parse, run_tool};

fn main() -> ExitCode {
    let args: InfoArgs = match parse(std::env::args_os()) {
        Ok(a) => a,
        Err(code) => return code,
    };
    let args = &args;
    // The first -v asks for metadata; the rest raise log verbosity.
    let log = args.log_args();
    run_tool(
        "caproto-info",
        &log,
        &args.channel,
        false,
        |backend, _| async move {
            let mut out = BufWriter::new(std::io::stdout().lock());
            let mut err = std::io::stderr().lock();
            let status = run_info(args, &backend, &mut out, &mut err).await;
            let _ = out.flush();
            status
        },
    )
}
